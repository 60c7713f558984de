//! `--evidence-pcap FILE`: the flows that carry findings, written by a second pass over the
//! file inputs (phonehome_engine::evidence). This module only decides which inputs can be
//! read again and says what happened on stderr.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use phonehome_engine::evidence::{EvidenceFlows, EvidenceInput, MAX_EVIDENCE_FLOWS, MAX_MARKED_FRAMES, write_pcapng};
use phonehome_engine::{Config, Input};
use phonehome_model::event::StatsRecord;

use crate::progress::Progress;

/// The evidence file, created before the run (so a bad path fails at once), and the flows
/// collected during it.
pub struct Evidence {
    path: PathBuf,
    file: File,
    pub flows: EvidenceFlows,
}

impl Evidence {
    /// Creates `path`; refuses to overwrite one of the inputs.
    pub fn create(path: &Path, inputs: &[String]) -> Result<Evidence, String> {
        if let Ok(target) = path.canonicalize() {
            for i in inputs.iter().filter(|i| *i != "-") {
                if Path::new(i).canonicalize().is_ok_and(|p| p == target) {
                    return Err(format!("--evidence-pcap {}: is one of the inputs", path.display()));
                }
            }
        }
        let file = File::create(path).map_err(|e| format!("--evidence-pcap {}: {e}", path.display()))?;
        Ok(Evidence { path: path.to_path_buf(), file, flows: EvidenceFlows::new() })
    }

    /// Removes the file: the run failed, so it would hold nothing.
    pub fn discard(self) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.path);
    }

    /// Reads the inputs of the run again and writes the evidence file. `opened` names the
    /// inputs given to the engine, in order; `stats` is the run's. Notes go to stderr (the
    /// summary line only without `quiet`; inputs that could not be included always, since the
    /// file would otherwise look complete).
    pub fn write(self, opened: &[String], stats: &StatsRecord, config: &Config, quiet: bool) -> Result<(), String> {
        let shown = self.path.display().to_string();
        let mut again = Vec::new();
        for (index, name) in opened.iter().enumerate() {
            let index = index as u64;
            let packets = self.flows.packets_of_input(index);
            let har = self.flows.findings_without_packets(index);
            let format = stats.inputs.get(index as usize).and_then(|i| i.format.as_deref());
            if har > 0 {
                eprintln!(
                    "phonehome: --evidence-pcap: {name}: a HAR holds no packets; its {har} finding{} are not in {shown}",
                    if har == 1 { "" } else { "s" }
                );
            }
            if packets == 0 || format.is_none_or(|f| f == "har") {
                continue;
            }
            let skip = |why: &str| {
                eprintln!(
                    "phonehome: --evidence-pcap: {name}: {why}; the {packets} packets of its flows with findings are not in {shown}"
                )
            };
            if name == "-" {
                skip("standard input cannot be read a second time");
                continue;
            }
            match std::fs::metadata(name) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    skip("not a regular file (a pipe?), so it cannot be read a second time");
                    continue;
                }
                Err(e) => {
                    skip(&e.to_string());
                    continue;
                }
            }
            match Input::open(name) {
                Ok(i) => again.push(EvidenceInput { index, name: name.clone(), reader: i.reader }),
                Err(e) => skip(&e.to_string()),
            }
        }
        let flows = self.flows.flows();
        let over_cap = self.flows.flows_over_cap();
        let unmarked = self.flows.marks_over_cap();
        let progress = Progress::start("evidence", &again.iter().map(|i| i.name.clone()).collect::<Vec<_>>(), quiet);
        let again = again
            .into_iter()
            .enumerate()
            .map(|(n, i)| EvidenceInput { reader: progress.reader(n, i.reader), ..i })
            .collect();
        let out = BufWriter::with_capacity(1 << 16, self.file);
        let result = write_pcapng(self.flows, again, config, out);
        progress.end();
        let outcome = result.map_err(|e| format!("--evidence-pcap {shown}: {e}"))?;
        for p in &outcome.problems {
            eprintln!("phonehome: --evidence-pcap: {p}");
        }
        if over_cap > 0 {
            eprintln!(
                "phonehome: --evidence-pcap: {over_cap} more flows with findings are not in {shown} (at most \
                 {MAX_EVIDENCE_FLOWS} flows are kept)"
            );
        }
        if unmarked > 0 && !quiet {
            eprintln!(
                "phonehome: --evidence-pcap: {unmarked} findings are not named in their packet's comment (at most \
                 {MAX_MARKED_FRAMES} frames get one)"
            );
        }
        if outcome.fragments_dropped > 0 {
            eprintln!(
                "phonehome: --evidence-pcap: {} IP fragments between the hosts of flows with findings were let go \
                 before their datagram completed (the hold's byte cap); some may be missing from {shown}",
                outcome.fragments_dropped
            );
        }
        if !quiet {
            if flows == 0 {
                eprintln!("phonehome: evidence: no flow carried a finding; {shown} holds no packets");
            } else {
                let frags = if outcome.fragments > 0 {
                    format!(" ({} of them IP fragments)", outcome.fragments)
                } else {
                    String::new()
                };
                eprintln!(
                    "phonehome: evidence: {} packet{}{frags} of {} flow{} with findings written to {shown}",
                    outcome.packets,
                    if outcome.packets == 1 { "" } else { "s" },
                    outcome.flows,
                    if outcome.flows == 1 { "" } else { "s" },
                );
            }
        }
        Ok(())
    }
}

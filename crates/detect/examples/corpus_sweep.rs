//! Every byte of every flow of every `../shared/corpus` capture, scanned as raw payload (the
//! harshest setting: TLS handshakes, compressed bodies and binary protocols included) through
//! a `StreamScanner` per flow direction, with the 50-value test profile whose values appear
//! nowhere in the corpus. Prints the declared findings (each is a false positive) and the
//! undeclared ones by kind and key.
//!
//! `cargo run --release -p phonehome-detect --example corpus_sweep [CORPUS_DIR]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use phonehome_detect::{Finding, Location, Options, Scanner, StreamScanner};
use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::Direction;
use phonehome_model::event::EndReason;

struct Sweep<'a> {
    sc: &'a Scanner,
    out: Vec<Finding>,
    bytes: u64,
}

#[derive(Default)]
struct State {
    streams: [Option<StreamScanner>; 2],
}

impl FlowHandler for Sweep<'_> {
    type State = State;

    fn on_payload(&mut self, _flow: &FlowInfo, s: &mut State, dir: Direction, payload: Payload<'_>) {
        let i = usize::from(dir == Direction::ToClient);
        let bytes = match payload {
            Payload::Stream(Chunk::Data { bytes, .. }) => bytes,
            Payload::Stream(Chunk::Gap { .. }) => {
                // A hole: what follows is not adjacent to what came before.
                if let Some(mut st) = s.streams[i].take() {
                    st.finish(self.sc, Location::Payload, &mut self.out);
                }
                return;
            }
            Payload::Datagram { bytes, .. } => {
                self.bytes += bytes.len() as u64;
                self.sc.scan(bytes, Location::Payload, &mut self.out);
                return;
            }
        };
        self.bytes += bytes.len() as u64;
        let sc = self.sc;
        s.streams[i].get_or_insert_with(|| StreamScanner::new(sc)).push(sc, bytes, Location::Payload, &mut self.out);
    }

    fn on_end(&mut self, _flow: FlowInfo, s: State, _reason: EndReason) {
        for mut st in s.streams.into_iter().flatten() {
            st.finish(self.sc, Location::Payload, &mut self.out);
        }
    }
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if let Some(n) = p.file_name().and_then(|n| n.to_str())
            && (n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap") || n.ends_with(".pcap.gz"))
        {
            out.push(p);
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1).map(PathBuf::from).or_else(phonehome_testkit::corpus);
    let Some(dir) = dir else {
        eprintln!("no corpus (../shared/corpus); pass its directory");
        return;
    };
    let mut files = Vec::new();
    captures(&dir, &mut files);
    files.sort();
    let sc = Scanner::new(&common::profile50(), &Options { show_values: true, ..Options::default() });
    let t = std::time::Instant::now();
    let (mut bytes, mut declared) = (0u64, Vec::new());
    let mut undeclared: BTreeMap<(String, String), (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for f in &files {
        let (sweep, _) = phonehome_testkit::run(f, Sweep { sc: &sc, out: Vec::new(), bytes: 0 });
        bytes += sweep.bytes;
        let name = f.strip_prefix(&dir).unwrap_or(f).display().to_string();
        for x in sweep.out {
            if x.declared {
                declared.push(format!("{name}: {x:?}"));
            } else {
                if std::env::var_os("SHOW").is_some() {
                    println!("{name}\t{}\t{:?}\t{:?}\t{:?}", x.kind, x.key, x.value, x.excerpt);
                }
                let e = undeclared.entry((x.kind.to_string(), x.key.clone().unwrap_or_default())).or_default();
                e.0 += 1;
                *e.1.entry(name.clone()).or_default() += 1;
            }
        }
    }
    println!(
        "{} captures, {:.1} MB of payload scanned in {:.1} s",
        files.len(),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    println!("declared findings (false positives): {}", declared.len());
    for d in declared.iter().take(20) {
        println!("  {d}");
    }
    let total: usize = undeclared.values().map(|v| v.0).sum();
    println!("undeclared findings: {total}");
    for ((kind, key), (n, caps)) in &undeclared {
        let top: Vec<String> = caps.iter().take(4).map(|(c, k)| format!("{c} ({k})")).collect();
        println!("  {kind:14} key {key:?}: {n} in {} captures, e.g. {}", caps.len(), top.join(", "));
    }
}

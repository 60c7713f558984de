//! The pipeline: drives each input through the stages and hands events to a sink.
//!
//! `source -> packets -> flows -> messages -> report`: [`run`] reads every input in turn
//! with one reader, one decoder and one flow table (one per worker thread with
//! [`Config::threads`], parallel.rs), so memory is bounded by their caps and not by the size
//! of the capture. Events leave through an [`EventSink`] as soon as they exist (a flow's
//! event when the flow ends; with threads, after the batch of packets that completed them),
//! never collected for the whole run.
#![forbid(unsafe_code)]

mod attribution;
mod dissect;
pub mod evidence;
mod findings;
mod handler;
mod har;
mod parallel;

use std::io::Read;
use std::sync::Arc;

use phonehome_capture::{CaptureError, CaptureReader, ReaderConfig, Record};
use phonehome_decode::{Decoder, DecoderConfig};
use phonehome_flow::{FlowConfig, FlowTable};
use phonehome_model::event::{Event, EventBody, InputStats, StatsRecord};
use phonehome_model::{Counter, Counters, EventSink, LinkType, Timestamp};

pub use attribution::Attribution;
pub use dissect::ProtocolLimits;
pub use findings::Detection;
use handler::Handler;

/// Everything the pipeline can be tuned with; defaults suit a laptop.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub reader: ReaderConfig,
    pub decoder: DecoderConfig,
    pub flow: FlowConfig,
    pub protocols: ProtocolLimits,
    /// The identifier search; the default searches nothing.
    pub detection: Detection,
    /// Who and where destinations are; the default attributes nothing.
    pub attribution: Attribution,
    /// TLS secrets (`--keylog` files); pcapng Decryption Secrets Blocks are added to a copy
    /// as the run reads them. Empty by default: nothing is decrypted unless a capture
    /// carries its own secrets.
    pub keylog: phonehome_decrypt::KeyLog,
    /// Worker threads that flows are shared out to (docs/DESIGN.md, "Threads"); 0 and 1
    /// run everything on the caller's thread, as the default does. At most [`MAX_THREADS`].
    pub threads: usize,
}

/// The most worker threads a run uses.
pub const MAX_THREADS: usize = 64;

/// One capture to read.
pub struct Input {
    /// What the user called it (a path, or "-" for stdin); used in messages and events.
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

impl Input {
    /// Opens a path, or stdin for "-".
    pub fn open(name: &str) -> std::io::Result<Input> {
        let reader: Box<dyn Read + Send> =
            if name == "-" { Box::new(std::io::stdin()) } else { Box::new(std::fs::File::open(name)?) };
        Ok(Input { name: name.to_string(), reader })
    }
}

/// How a run went, for the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Inputs from which at least the header could be read.
    pub readable_inputs: usize,
    /// Problems, one line each, already formatted for stderr ("FILE: ... at byte offset N").
    pub problems: Vec<String>,
    /// The run's totals (also sent as the last event).
    pub stats: StatsRecord,
}

/// Runs every input through the pipeline, sending events to `sink`; the last event is
/// `stats`. Problems with an input (unreadable, truncated, corrupt) are reported in the
/// outcome and the stats event, and reading goes on with the next input. Only an error of
/// the sink itself (e.g. a full disk) stops the run.
///
/// With `config.threads` above 1, flows are processed on that many worker threads and the
/// events come out in an order that does not depend on the number (docs/OUTPUT.md, "Order").
pub fn run(inputs: Vec<Input>, config: &Config, sink: &mut dyn EventSink) -> std::io::Result<Outcome> {
    match config.threads.min(MAX_THREADS) {
        0 | 1 => drive(inputs, config, Single::new(sink, config)),
        n => parallel::run(inputs, config, sink, n),
    }
}

/// Where the input loop sends what it reads: the flow table on this thread ([`Single`]), or
/// the workers of the threaded engine (`parallel::Parallel`).
trait Stage {
    /// Input `index`, called `name`, starts.
    fn start_input(&mut self, index: u64, name: Arc<str>);
    /// One captured frame, numbered `frame` in its input.
    fn packet(&mut self, ts: Timestamp, link_type: LinkType, data: &[u8], frame: u64, counters: &mut Counters);
    /// A pcapng Decryption Secrets Block, in capture order relative to the packets.
    fn secrets(&mut self, secrets_type: u32, data: &[u8]);
    /// The input that started can hold TLS secrets of its own (it is pcapng).
    fn input_carries_secrets(&mut self);
    /// The capture being read ended: every flow still live ends.
    fn flush(&mut self, counters: &mut Counters);
    /// Reads a HAR input (its index was given by `start_input`).
    fn har(
        &mut self,
        bytes: &[u8],
        index: u64,
        counters: &mut Counters,
    ) -> Result<har::HarRead, phonehome_har::HarError>;
    /// The first error of the sink since the last call, if any.
    fn take_error(&mut self) -> std::io::Result<()>;
    /// No more input: the flow totals into `stats`, the stages' counters into `counters`;
    /// returns the sink, for the `stats` event.
    fn finish(&mut self, stats: &mut StatsRecord, counters: &mut Counters) -> std::io::Result<&mut dyn EventSink>;
}

/// The single-threaded pipeline: one decoder and one flow table on the caller's thread.
struct Single<'s> {
    table: FlowTable<Handler<'s>>,
    decoder: Decoder,
    config: &'s Config,
}

impl<'s> Single<'s> {
    fn new(sink: &'s mut dyn EventSink, config: &'s Config) -> Single<'s> {
        Single {
            table: FlowTable::new(config.flow.clone(), Handler::new(sink, config)),
            decoder: Decoder::new(config.decoder.clone()),
            config,
        }
    }
}

impl Stage for Single<'_> {
    fn start_input(&mut self, index: u64, name: Arc<str>) {
        self.table.set_input_index(index);
        self.table.handler_mut().set_input(name);
        self.decoder = Decoder::new(self.config.decoder.clone());
    }

    fn packet(&mut self, ts: Timestamp, link_type: LinkType, data: &[u8], frame: u64, counters: &mut Counters) {
        if let Some(pkt) = self.decoder.decode(ts, link_type, data, counters) {
            self.table.packet(ts, frame, &pkt, counters);
        }
    }

    fn secrets(&mut self, secrets_type: u32, data: &[u8]) {
        self.table.handler_mut().add_secrets(secrets_type, data);
    }

    fn input_carries_secrets(&mut self) {
        self.table.handler_mut().input_carries_secrets();
    }

    fn flush(&mut self, counters: &mut Counters) {
        self.table.flush(counters);
    }

    fn har(
        &mut self,
        bytes: &[u8],
        index: u64,
        counters: &mut Counters,
    ) -> Result<har::HarRead, phonehome_har::HarError> {
        self.table.handler_mut().run_har(bytes, index, counters)
    }

    fn take_error(&mut self) -> std::io::Result<()> {
        self.table.handler_mut().take_error()
    }

    fn finish(&mut self, stats: &mut StatsRecord, counters: &mut Counters) -> std::io::Result<&mut dyn EventSink> {
        let table = &mut self.table;
        stats.tcp_flows = table.flows_tcp;
        stats.udp_flows = table.flows_udp;
        stats.flows = table.flows_tcp + table.flows_udp + table.flows_other;
        stats.icmp_packets = table.icmp_packets;
        counters.merge(&table.handler_mut().counters);
        counters.add(Counter::FindingsCap, table.handler_mut().findings_dropped());
        counters.add(Counter::IdentifierDecoding, table.handler_mut().findings_decode_capped());
        Ok(table.handler_mut().sink())
    }
}

/// The input loop: reads every input in turn into `stage`, then sends the `stats` event.
fn drive(inputs: Vec<Input>, config: &Config, mut stage: impl Stage) -> std::io::Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut counters = Counters::default();
    let mut last_ts = None;

    for (index, input) in inputs.into_iter().enumerate() {
        let name: Arc<str> = Arc::from(input.name.as_str());
        stage.start_input(index as u64, name);
        let mut stats = InputStats {
            name: input.name.clone(),
            format: None,
            packets: 0,
            bytes: 0,
            decryption_secrets: 0,
            name_resolution_entries: 0,
            error: None,
        };

        // A HAR is read whole (the reader is pure over bytes, under its size cap); anything
        // else goes to the capture reader with the bytes peeked here put back in front.
        let mut reader = input.reader;
        let mut head = Vec::with_capacity(16);
        if let Err(e) = (&mut reader).take(16).read_to_end(&mut head) {
            counters.add(Counter::UnreadableFile, 1);
            outcome.problems.push(format!("{}: {e}", input.name));
            stats.error = Some(e.to_string());
            outcome.stats.inputs.push(stats);
            continue;
        }
        if har::looks_like_har(&input.name, &head) {
            read_har(&mut stage, head, reader, index as u64, &mut stats, &mut counters, &mut outcome);
            stage.take_error()?;
            outcome.stats.inputs.push(stats);
            continue;
        }
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(reader));
        match CaptureReader::with_config(reader, config.reader.clone()) {
            Err(e) => {
                counters.add(Counter::UnreadableFile, 1);
                outcome.problems.push(format!("{}: {e}", input.name));
                stats.error = Some(e.to_string());
            }
            Ok(mut reader) => {
                outcome.readable_inputs += 1;
                stats.format = Some(reader.format().to_string());
                // A pcapng file may carry its own TLS secrets.
                if reader.format() == "pcapng" {
                    stage.input_carries_secrets();
                }
                let mut frame = 0u64;
                loop {
                    match reader.next_record() {
                        Ok(Some(Record::Packet(p))) => {
                            frame += 1;
                            stats.packets += 1;
                            stats.bytes += p.data.len() as u64;
                            if (p.data.len() as u64) < u64::from(p.orig_len) {
                                counters.add(Counter::SnapTruncated, 1);
                            }
                            last_ts = Some(p.ts);
                            stage.packet(p.ts, p.link_type, p.data, frame, &mut counters);
                        }
                        Ok(Some(Record::DecryptionSecrets { secrets_type, data })) => {
                            stats.decryption_secrets += 1;
                            stage.secrets(secrets_type, data);
                        }
                        Ok(Some(Record::NameResolution(entries))) => {
                            stats.name_resolution_entries += entries.len() as u64
                        }
                        Ok(None) => break,
                        Err(e) => {
                            counters.add(
                                match e {
                                    CaptureError::Truncated { .. } => Counter::TruncatedFile,
                                    CaptureError::TooLarge { .. } => Counter::CaptureRecord,
                                    _ => Counter::CorruptFile,
                                },
                                1,
                            );
                            outcome.problems.push(format!(
                                "{}: {e} (after {} packets; the flows read so far are reported)",
                                input.name, stats.packets
                            ));
                            stats.error = Some(e.to_string());
                            break;
                        }
                    }
                }
                let rs = reader.stats();
                counters.add(Counter::UndefinedInterface, rs.undefined_interface_packets);
                counters.add(Counter::MalformedBlock, rs.malformed_blocks);
                counters.add(
                    Counter::UnknownBlock,
                    rs.skipped_blocks.saturating_sub(rs.undefined_interface_packets + rs.malformed_blocks),
                );
                stage.flush(&mut counters);
            }
        }
        stage.take_error()?;
        outcome.stats.packets += stats.packets;
        outcome.stats.bytes += stats.bytes;
        outcome.stats.inputs.push(stats);
    }

    let sink = stage.finish(&mut outcome.stats, &mut counters)?;
    outcome.stats.counters = counters;
    let timestamp = last_ts.unwrap_or_else(wall_clock);
    let stats_event =
        Event { timestamp, input: None, flow: None, body: EventBody::Stats(Box::new(outcome.stats.clone())) };
    sink.event(&stats_event)?;
    sink.finish()?;
    Ok(outcome)
}

/// Reads one HAR input through the handler's findings stage.
fn read_har(
    stage: &mut impl Stage,
    head: Vec<u8>,
    mut rest: Box<dyn Read + Send>,
    index: u64,
    stats: &mut InputStats,
    counters: &mut Counters,
    outcome: &mut Outcome,
) {
    let max = phonehome_har::Limits::default().max_input_bytes;
    let mut bytes = head;
    let read = (&mut rest).take(max as u64 + 1 - bytes.len() as u64).read_to_end(&mut bytes);
    stats.bytes = bytes.len() as u64;
    stats.format = Some("har".to_string());
    let result = match read {
        Err(e) => Err(e.to_string()),
        Ok(_) => stage.har(&bytes, index, counters).map_err(|e| e.to_string()),
    };
    match result {
        Ok(read) => {
            outcome.readable_inputs += 1;
            if let Some(stopped) = read.stopped {
                outcome.problems.push(format!(
                    "{}: {stopped} (after {} entries; the entries read so far are reported)",
                    stats.name, read.entries
                ));
                stats.error = Some(stopped);
            }
        }
        Err(e) => {
            counters.add(Counter::CorruptFile, 1);
            outcome.problems.push(format!("{}: not a readable HAR: {e}", stats.name));
            stats.error = Some(e);
            stats.format = None;
        }
    }
}

fn wall_clock() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, d.subsec_nanos())
}

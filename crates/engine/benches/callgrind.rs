//! Instruction counts of the hot paths, under callgrind (gungraun): unlike wall time they do
//! not move when other jobs share the machine, so a regression of a few per cent shows.
//! Inputs are fixtures read into memory by each benchmark's setup, which is not counted.
//!
//! * `capture_read`: the pcap reader over the file's bytes;
//! * `decode_flow`: link/IP/tunnel decoding, defragmentation, the flow table and TCP
//!   reassembly, with a handler that only counts the bytes delivered;
//! * `dissect`: the whole single-threaded pipeline without the identifier search and
//!   attribution (`engine::run` with the default `Config`): decode_flow plus recognition,
//!   DNS/TLS/QUIC/HTTP dissection (JA3/JA4, body decoding) and the events;
//! * `scan`: the identifier search over what the clients of 1kxun.pcap sent, chunk by
//!   chunk as the flow table delivers it, with the 20 values of examples/profile.toml
//!   (`declared`), the detectors for undeclared identifiers (`undeclared`), or both;
//! * `detect`: `dissect` plus the search with both.
//!
//! `cargo bench -p phonehome-engine --bench callgrind` (needs valgrind and
//! `cargo install gungraun-runner --version 0.20.0`); BENCHMARKS.md, "Instruction counts".

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;

use gungraun::{library_benchmark, library_benchmark_group, main};
use phonehome_capture::{CaptureReader, Record};
use phonehome_decode::{Decoder, DecoderConfig};
use phonehome_detect::{Location, Options, Profile, Scanner};
use phonehome_engine::{Config, Detection, Input};
use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowConfig, FlowHandler, FlowInfo, FlowTable, Payload};
use phonehome_model::event::{EndReason, Event, EventSink};
use phonehome_model::{Counters, Direction, LinkType, Timestamp};

const KXUN: &[&str] = &["examples/1kxun.pcap"];
/// TLS handshakes of many shapes: reassembled across records, post-quantum key shares,
/// ECH, after SOCKS and STARTTLS, many cipher suites.
const TLS: &[&str] = &[
    "fixtures/captures/ndpi__tls_2_reasms.pcapng",
    "fixtures/captures/zeek__tls__chrome-1250-tls-x25519-kyber.pcap",
    "fixtures/captures/ndpi__tls_ech.pcapng",
    "fixtures/captures/ja4__socks-https-example.pcap",
    "fixtures/captures/ndpi__smtp-starttls.pcap",
    "fixtures/captures/ndpi__tls_cipher_lens.pcap",
    "fixtures/captures/illustrated-tls13__capture.pcap",
    "fixtures/captures/ndpi__psiphon3.pcap",
];

fn path(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(p)
}

fn bytes(paths: &[&str]) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(path(p)).unwrap()).collect()
}

/// Every frame of the captures, read once.
fn frames(paths: &[&str]) -> Vec<Vec<(Timestamp, LinkType, Vec<u8>)>> {
    bytes(paths)
        .into_iter()
        .map(|b| {
            let mut reader = CaptureReader::new(Cursor::new(b)).unwrap();
            let mut frames = Vec::new();
            while let Ok(Some(r)) = reader.next_record() {
                if let Record::Packet(p) = r {
                    frames.push((p.ts, p.link_type, p.data.to_vec()));
                }
            }
            frames
        })
        .collect()
}

/// Counts what the flow table delivers.
#[derive(Default)]
struct Count(u64);

impl FlowHandler for Count {
    type State = ();

    fn on_payload(&mut self, _: &FlowInfo, _: &mut (), _: Direction, payload: Payload<'_>) {
        self.0 += match payload {
            Payload::Stream(Chunk::Data { bytes, .. }) | Payload::Datagram { bytes, .. } => bytes.len() as u64,
            Payload::Stream(Chunk::Gap { len, .. }) => len,
        };
    }

    fn on_end(&mut self, flow: FlowInfo, _: (), _: EndReason) {
        self.0 += flow.counts.pkts_toserver;
    }
}

#[library_benchmark]
#[bench::kxun(args = (KXUN), setup = bytes)]
fn capture_read(inputs: Vec<Vec<u8>>) -> u64 {
    let mut packets = 0;
    for input in inputs {
        let mut reader = CaptureReader::new(Cursor::new(input)).unwrap();
        while let Ok(Some(r)) = reader.next_record() {
            if let Record::Packet(p) = r {
                packets += p.data.len() as u64;
            }
        }
    }
    black_box(packets)
}

#[library_benchmark]
#[bench::kxun(args = (KXUN), setup = frames)]
#[bench::tls(args = (TLS), setup = frames)]
fn decode_flow(inputs: Vec<Vec<(Timestamp, LinkType, Vec<u8>)>>) -> u64 {
    let mut counters = Counters::default();
    let mut table = FlowTable::new(FlowConfig::default(), Count::default());
    for (index, frames) in inputs.iter().enumerate() {
        table.set_input_index(index as u64);
        let mut decoder = Decoder::new(DecoderConfig::default());
        for (frame, (ts, link, data)) in frames.iter().enumerate() {
            if let Some(pkt) = decoder.decode(*ts, *link, data, &mut counters) {
                table.packet(*ts, frame as u64 + 1, &pkt, &mut counters);
            }
        }
        table.flush(&mut counters);
    }
    black_box(table.handler().0)
}

/// Discards events, after looking at them.
struct Discard(u64);

impl EventSink for Discard {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0 += black_box(event).timestamp.0 as u64 & 1;
        Ok(())
    }
}

fn inputs(paths: &[&str]) -> Vec<Input> {
    bytes(paths)
        .into_iter()
        .zip(paths)
        .map(|(b, p)| Input { name: p.to_string(), reader: Box::new(Cursor::new(b)) })
        .collect()
}

/// The 20 declared values of examples/profile.toml.
fn profile() -> Profile {
    Profile::load(path("examples/profile.toml")).unwrap()
}

/// The scanners' lazily built tables (the phone number metadata) are built here, outside
/// the count, by one scan.
fn warm(scanner: &Scanner) {
    let mut out = Vec::new();
    scanner.scan(b"tel=+6591112222&imei=356938035643809", Location::Payload, &mut out);
}

fn dissect_setup(paths: &[&str]) -> (Vec<Input>, Config) {
    (inputs(paths), Config::default())
}

fn detect_setup(paths: &[&str]) -> (Vec<Input>, Config) {
    let profile = profile();
    let options = Options::default();
    warm(&Scanner::new(&profile, &options));
    (inputs(paths), Config { detection: Detection::new(&profile, &options), ..Config::default() })
}

#[library_benchmark]
#[bench::kxun(args = (KXUN), setup = dissect_setup)]
#[bench::tls(args = (TLS), setup = dissect_setup)]
fn dissect((inputs, config): (Vec<Input>, Config)) -> u64 {
    let mut sink = Discard(0);
    phonehome_engine::run(inputs, &config, &mut sink).unwrap();
    black_box(sink.0)
}

#[library_benchmark]
#[bench::kxun(args = (KXUN), setup = detect_setup)]
fn detect((inputs, config): (Vec<Input>, Config)) -> u64 {
    let mut sink = Discard(0);
    phonehome_engine::run(inputs, &config, &mut sink).unwrap();
    black_box(sink.0)
}

/// What the clients of 1kxun.pcap sent: each TCP chunk and UDP datagram toward the server.
#[derive(Default)]
struct ClientBytes(Vec<Vec<u8>>);

impl FlowHandler for ClientBytes {
    type State = ();

    fn on_payload(&mut self, _: &FlowInfo, _: &mut (), dir: Direction, payload: Payload<'_>) {
        if let (Direction::ToServer, Payload::Stream(Chunk::Data { bytes, .. }) | Payload::Datagram { bytes, .. }) =
            (dir, payload)
        {
            self.0.push(bytes.to_vec());
        }
    }

    fn on_end(&mut self, _: FlowInfo, _: (), _: EndReason) {}
}

fn scan_setup(which: &str) -> (Scanner, Vec<Vec<u8>>) {
    let mut counters = Counters::default();
    let mut table = FlowTable::new(FlowConfig::default(), ClientBytes::default());
    let mut decoder = Decoder::new(DecoderConfig::default());
    for (frame, (ts, link, data)) in frames(KXUN).remove(0).iter().enumerate() {
        if let Some(pkt) = decoder.decode(*ts, *link, data, &mut counters) {
            table.packet(*ts, frame as u64 + 1, &pkt, &mut counters);
        }
    }
    table.flush(&mut counters);
    let (profile, undeclared) = match which {
        "declared" => (profile(), false),
        "undeclared" => (Profile::default(), true),
        _ => (profile(), true),
    };
    let scanner = Scanner::new(&profile, &Options { undeclared, ..Options::default() });
    warm(&scanner);
    (scanner, table.into_handler().0)
}

#[library_benchmark]
#[bench::declared(args = ("declared"), setup = scan_setup)]
#[bench::undeclared(args = ("undeclared"), setup = scan_setup)]
#[bench::both(args = ("both"), setup = scan_setup)]
fn scan((scanner, texts): (Scanner, Vec<Vec<u8>>)) -> usize {
    let mut out = Vec::new();
    let mut found = 0;
    for text in &texts {
        out.clear();
        scanner.scan(text, Location::Payload, &mut out);
        found += out.len();
    }
    black_box(found)
}

library_benchmark_group!(
    name = hot_paths;
    benchmarks = capture_read, decode_flow, dissect, scan, detect
);

main!(library_benchmark_groups = hot_paths);

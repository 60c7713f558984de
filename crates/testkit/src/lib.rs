//! Test helpers: read a capture through the pipeline's own stages (capture → decode → flow)
//! into any [`FlowHandler`], so that parser tests on real captures need no copy of that loop.
#![forbid(unsafe_code)]

pub mod packets;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use phonehome_capture::{CaptureReader, Record};
use phonehome_decode::{Decoder, DecoderConfig};
use phonehome_flow::{FlowConfig, FlowHandler, FlowTable};
use phonehome_model::Counters;

/// A capture in the repository's `fixtures/captures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/captures").join(name)
}

/// `../shared/corpus`, when this machine has it (whole-corpus tests are skipped otherwise).
pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.is_dir().then_some(p)
}

/// Reads every packet of `path` through a decoder and a flow table feeding `handler`, flushes
/// the flows, and returns the handler with the counters. A capture that turns truncated or
/// corrupt is read up to the damage, as tshark does; one that cannot be opened as a capture
/// yields no flows.
pub fn run<H: FlowHandler>(path: &Path, handler: H) -> (H, Counters) {
    run_with(path, FlowConfig::default(), handler)
}

/// [`run`] with a flow table configuration.
pub fn run_with<H: FlowHandler>(path: &Path, config: FlowConfig, handler: H) -> (H, Counters) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut table = FlowTable::new(config, handler);
    let mut counters = Counters::default();
    if let Ok(mut reader) = CaptureReader::new(file) {
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut frame = 0;
        while let Ok(Some(record)) = reader.next_record() {
            if let Record::Packet(p) = record {
                frame += 1;
                if let Some(pkt) = decoder.decode(p.ts, p.link_type, p.data, &mut counters) {
                    table.packet(p.ts, frame, &pkt, &mut counters);
                }
            }
        }
    }
    table.flush(&mut counters);
    (table.into_handler(), counters)
}

/// `ip:port`, with brackets around IPv6 addresses (tshark's and nDPI's notation).
pub fn endpoint(ip: IpAddr, port: Option<u16>) -> String {
    match ip {
        IpAddr::V6(_) => format!("[{ip}]:{}", port.unwrap_or(0)),
        IpAddr::V4(_) => format!("{ip}:{}", port.unwrap_or(0)),
    }
}

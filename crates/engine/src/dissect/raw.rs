//! The identifier search over a byte stream no parser reads: a TCP flow of an unrecognised
//! protocol (MQTT, XMPP, a vendor's push channel), or decrypted TLS that is not HTTP.

use phonehome_detect::StreamScanner;
use phonehome_flow::tcp::Chunk;
use phonehome_model::Direction;
use phonehome_model::event::EventBody;

use crate::findings::{Findings, Origin};

/// Per-direction scanner state, so that a value split across segments is still found.
/// Allocated at the first bytes a scanned direction sends.
#[derive(Default)]
pub(crate) struct RawStream {
    scan: Option<Box<[Option<StreamScanner>; 2]>>,
}

impl RawStream {
    /// Searches the next chunk of `dir`; a hole ends the matches that touch it, since none
    /// can span it.
    pub(crate) fn chunk(
        &mut self,
        findings: &mut Findings,
        dir: Direction,
        chunk: Chunk<'_>,
        out: &mut Vec<EventBody>,
    ) {
        let origin = Origin { dir, udp: false, frame: None, http: None };
        match chunk {
            Chunk::Data { bytes, frame, .. } => {
                let origin = Origin { frame: Some(frame), ..origin };
                if !findings.scans(&origin) {
                    return;
                }
                let scan = self.scan.get_or_insert_with(|| {
                    Box::new([findings.stream_state(Direction::ToServer), findings.stream_state(Direction::ToClient)])
                });
                if let Some(state) = &mut scan[dir.index()] {
                    findings.scan_stream(state, bytes, origin, out);
                }
            }
            Chunk::Gap { .. } => {
                if let Some(state) = self.scan.as_mut().and_then(|s| s[dir.index()].as_mut()) {
                    // Ending the stream here reports what touches the hole; the same state
                    // then goes on as a new stream.
                    findings.finish_stream(state, origin, out);
                }
            }
        }
    }

    /// The flow ended: reports what touches each direction's last byte.
    pub(crate) fn finish(&mut self, findings: &mut Findings, out: &mut Vec<EventBody>) {
        let Some(scan) = self.scan.as_mut() else { return };
        for (dir, state) in [Direction::ToServer, Direction::ToClient].into_iter().zip(scan.iter_mut()) {
            if let Some(state) = state {
                findings.finish_stream(state, Origin { dir, udp: false, frame: None, http: None }, out);
            }
        }
    }
}

//! The findings stage: identifiers in what flows carry, as `leak` events.
//!
//! Dissectors hand over the texts where identifiers travel (a URL, each header, a decoded
//! body, a DNS name, an SNI); flows that no dissector reads are scanned as raw payload. The
//! search itself is `phonehome-detect`'s: one multi-pattern search for every form of every
//! declared value, plus the validated detectors for undeclared ones.
//!
//! What is searched is what leaves the device: what a TCP flow's client sends, and UDP
//! datagrams both ways (a UDP reply, an SSDP or SLP answer carrying a MAC, usually comes from
//! a device on the network; a web page or a downloaded mail full of e-mail addresses is not
//! the device leaking them). Binary datagrams (RTP, games, VPNs: most unrecognised UDP bytes)
//! are searched for the declared forms only, as they are: the undeclared detectors and the
//! percent/JSON decoding pre-passes read text.
//!
//! What servers send is searched only when asked (`search_received`, `--search-received`):
//! for the declared forms as they are (every encoding that is a pattern: plain, hex, base64,
//! digests; no pre-passes, no coordinates). A server sending the device's IMEI back shows
//! that it holds it, but server bodies are most of a capture's bytes: searching them cost a
//! quarter of the whole search (BENCHMARKS.md, "Issue 4's target").

use std::sync::Arc;

use phonehome_detect::{Confidence, Finding, Location, Options, Profile, ScanStats, Scanner, StreamScanner};
use phonehome_model::Direction;
use phonehome_model::event::{EventBody, LeakRecord};
use phonehome_model::text::WireText;

/// The scanners of a run; cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct Detection {
    /// Declared values and undeclared detectors: for what clients send.
    outbound: Option<Arc<Scanner>>,
    /// Declared forms only, as they are (no decoding pre-passes, no coordinates): for binary
    /// datagrams, and what servers send when `received` (absent when nothing is declared).
    plain: Option<Arc<Scanner>>,
    /// Search what servers send (with `plain`).
    received: bool,
    /// Undeclared detectors run (on `outbound`).
    undeclared: bool,
}

impl Detection {
    /// Scanners for `profile`; `undeclared` turns on the detectors for values nobody declared.
    pub fn new(profile: &Profile, options: &Options) -> Detection {
        let outbound = Arc::new(Scanner::new(profile, options));
        let plain = (!profile.ids.is_empty()).then(|| {
            let plain = Options { undeclared: false, decode: false, locations: false, ..options.clone() };
            Arc::new(outbound.with_detectors(&plain))
        });
        let outbound = (options.undeclared || plain.is_some()).then_some(outbound);
        Detection { outbound, plain, received: false, undeclared: options.undeclared }
    }

    /// Also search what servers send, for the declared forms as they are (off by default).
    pub fn search_received(mut self, on: bool) -> Detection {
        self.received = on;
        self
    }

    /// Whether anything is searched at all.
    pub fn is_enabled(&self) -> bool {
        self.outbound.is_some()
    }

    fn scanner(&self, origin: &Origin<'_>) -> Option<&Scanner> {
        if origin.dir == Direction::ToServer || origin.udp {
            self.outbound.as_deref()
        } else if self.received {
            self.plain.as_deref()
        } else {
            None
        }
    }
}

/// Where a text was found, besides its location: the packet and, for HTTP, the request.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub dir: Direction,
    /// The flow is UDP (both directions are searched for undeclared identifiers).
    pub udp: bool,
    /// Capture frame of the packet that completed the text.
    pub frame: Option<u64>,
    /// The HTTP request (Host, target) the text belongs to.
    pub http: Option<(Option<&'a WireText>, &'a WireText)>,
}

/// The per-run half of the findings stage: scanners and a reused findings buffer.
pub(crate) struct Findings {
    detection: Detection,
    scratch: Vec<Finding>,
    /// Findings dropped by the scanner's caps (per text, per stream).
    pub(crate) dropped: u64,
    /// Scans whose decoding pre-passes ran out of budget (`caps.identifier_decoding`).
    pub(crate) decode_capped: u64,
}

impl Findings {
    pub(crate) fn new(detection: Detection) -> Findings {
        Findings { detection, scratch: Vec::new(), dropped: 0, decode_capped: 0 }
    }

    /// Whether raw payload sent from `origin` is worth scanning.
    pub(crate) fn scans(&self, origin: &Origin<'_>) -> bool {
        self.detection.scanner(origin).is_some()
    }

    /// Scans one text and appends a `leak` event per finding to `out`. Returns the spans of
    /// `text` to redact wherever the text itself is reported (a URL in an `http` event),
    /// none when the user asked to see values.
    pub(crate) fn scan(
        &mut self,
        text: &[u8],
        location: Location<'_>,
        origin: Origin<'_>,
        out: &mut Vec<EventBody>,
    ) -> Vec<Redaction> {
        let undeclared_here = origin.udp && location == Location::Payload && self.detection.undeclared;
        let scanner = if undeclared_here && looks_binary(text) {
            // Undeclared detection reads `key=value` text; in a binary datagram (RTP, QUIC
            // of other versions, games, VPNs: most unrecognised UDP bytes) it finds nothing
            // and costs the most, so only declared values are looked for there.
            self.detection.plain.as_deref()
        } else {
            self.detection.scanner(&origin)
        };
        let Some(scanner) = scanner else { return Vec::new() };
        let st = scanner.scan(text, location, &mut self.scratch);
        count(&mut self.dropped, &mut self.decode_capped, st);
        let redactions = if scanner.options().show_values {
            Vec::new()
        } else {
            self.scratch
                .iter()
                .map(|f| Redaction {
                    start: f.offset.min(text.len()),
                    end: (f.offset + f.len).min(text.len()),
                    tag: match &f.label {
                        Some(l) => format!("[{}/{l}]", f.kind.as_str()),
                        None => format!("[{}]", f.kind.as_str()),
                    },
                })
                .collect()
        };
        self.emit(origin, out);
        redactions
    }

    /// Scans the next chunk of a stream with its per-direction state.
    pub(crate) fn scan_stream(
        &mut self,
        state: &mut StreamScanner,
        chunk: &[u8],
        origin: Origin<'_>,
        out: &mut Vec<EventBody>,
    ) {
        let Some(scanner) = self.detection.scanner(&origin) else { return };
        let st = state.push(scanner, chunk, Location::Payload, &mut self.scratch);
        count(&mut self.dropped, &mut self.decode_capped, st);
        self.emit(origin, out);
    }

    /// Ends a stream: what touches its last byte.
    pub(crate) fn finish_stream(&mut self, state: &mut StreamScanner, origin: Origin<'_>, out: &mut Vec<EventBody>) {
        let Some(scanner) = self.detection.scanner(&origin) else { return };
        let st = state.finish(scanner, Location::Payload, &mut self.scratch);
        count(&mut self.dropped, &mut self.decode_capped, st);
        self.emit(origin, out);
    }

    /// Fresh stream state for a TCP direction, if that direction is scanned.
    pub(crate) fn stream_state(&self, dir: Direction) -> Option<StreamScanner> {
        self.detection.scanner(&Origin { dir, udp: false, frame: None, http: None }).map(StreamScanner::new)
    }

    fn emit(&mut self, origin: Origin<'_>, out: &mut Vec<EventBody>) {
        for f in self.scratch.drain(..) {
            out.push(EventBody::Leak(Box::new(leak_record(f, origin))));
        }
    }
}

/// Adds a scan's caps hits to the stage's counts (fields apart: the scanner borrows the rest).
fn count(dropped: &mut u64, decode_capped: &mut u64, st: ScanStats) {
    *dropped += st.dropped as u64;
    *decode_capped += u64::from(st.decode_capped);
}

/// Whether a payload is binary rather than text: under 3/4 printable ASCII (with tab, CR, LF)
/// in its first 64 bytes (enough to tell a text protocol from RTP or a game's frames).
fn looks_binary(payload: &[u8]) -> bool {
    let head = &payload[..payload.len().min(64)];
    let printable: usize =
        head.iter().map(|&b| usize::from(b.wrapping_sub(0x20) < 0x5f || matches!(b, 9 | 10 | 13))).sum();
    printable * 4 < head.len() * 3
}

/// A span of a scanned text that holds an identifier, and what to show instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redaction {
    pub start: usize,
    pub end: usize,
    /// `[kind]` or `[kind/label]`, as in excerpts.
    pub tag: String,
}

/// `text` with every redacted span replaced by its tag (overlapping spans merge).
pub(crate) fn redact(text: &[u8], redactions: &[Redaction]) -> Vec<u8> {
    let mut spans: Vec<&Redaction> = redactions.iter().collect();
    spans.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for r in spans {
        if r.end <= at {
            continue;
        }
        out.extend_from_slice(&text[at..r.start.max(at)]);
        if r.start >= at {
            out.extend_from_slice(r.tag.as_bytes());
        }
        at = r.end;
    }
    out.extend_from_slice(&text[at.min(text.len())..]);
    out
}

fn leak_record(f: Finding, origin: Origin<'_>) -> LeakRecord {
    LeakRecord {
        kind: f.kind.as_str(),
        label: f.label,
        declared: f.declared,
        encoding: f.encoding,
        form: f.form,
        key: f.key,
        location: f.location,
        confidence: match f.confidence {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        },
        direction: match origin.dir {
            Direction::ToServer => "toserver",
            Direction::ToClient => "toclient",
        },
        excerpt: f.excerpt,
        value: f.value,
        frame: origin.frame,
        http: origin.http.map(|(host, url)| (host.cloned(), url.clone())),
        dest_hostname: None,
        dest: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Redaction, looks_binary, redact};

    #[test]
    fn binary_payloads_are_told_from_text() {
        assert!(!looks_binary(b"NOTIFY * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n"));
        assert!(looks_binary(&[0x80, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]));
        // An SLP reply: a binary header, then text.
        let mut slp = vec![1u8, 2, 0, 0x52, 0, 0, 0, 0, 0x1c, 0x3f, 0, 2, b'e', b'n', 0, 0];
        slp.extend_from_slice(b"service:printer:lpr://10.1.1.1/BINPS (x-hp-mac=3C528226FD28)(x-hp-guid=...)");
        assert!(!looks_binary(&slp));
        assert!(!looks_binary(b""));
    }

    fn r(start: usize, end: usize, tag: &str) -> Redaction {
        Redaction { start, end, tag: tag.into() }
    }

    #[test]
    fn redaction_replaces_spans_and_merges_overlaps() {
        let url = b"/a?imei=490154203237518&x=1";
        assert_eq!(redact(url, &[r(8, 23, "[imei]")]), b"/a?imei=[imei]&x=1");
        assert_eq!(redact(url, &[]), url);
        // An id found both plain and inside a longer encoded span is hidden once.
        assert_eq!(redact(b"abcdef", &[r(1, 5, "[x]"), r(2, 3, "[y]")]), b"a[x]f");
        assert_eq!(redact(b"abcdef", &[r(1, 3, "[x]"), r(2, 6, "[y]")]), b"a[x]");
    }
}

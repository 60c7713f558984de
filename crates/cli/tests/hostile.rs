//! Hostile captures cannot hurt it (issue 8): a deterministic sweep of mutated captures.
//!
//! A few small fixtures (pcap, pcapng, gzip, HAR; DNS over UDP and TCP, IPv4 and IPv6
//! fragments, TLS, QUIC, HTTP with Content-Length, chunked and compressed bodies) are mutated
//! by a seeded PRNG: truncated at random offsets, bytes flipped, length fields overwritten
//! (pcap caplen/origlen, pcapng block and packet lengths, IP total length and IHL, IPv6
//! payload length, fragment offsets, TCP data offset, UDP length, DNS counts and compression
//! pointers, TLS record/handshake/session-id lengths, QUIC connection-id and token lengths,
//! HTTP Content-Length and chunk sizes), records duplicated, dropped and swapped. Each case runs
//! the built `phonehome analyze` under a wall-time limit and an address-space limit
//! (`ulimit -v` through `sh`), alone in NDJSON, and in batches of several inputs per run in
//! the other formats (text, HTML, JSON, CSV) and with `--profile examples/profile.toml`. Every run must exit 0 or 2 (never
//! a panic, an abort or a signal), print no "panicked", write only JSON lines ending with the
//! `stats` event, and a truncated input must be reported (stderr names it, and `stats` carries
//! the error or a truncated/corrupt/unreadable counter).
//!
//! A failure prints the case (fixture, seed, mutations), keeps the failing input in a temp
//! directory and says how to replay it: `PHONEHOME_HOSTILE_CASE=<fixture>:<n> cargo test -p
//! phonehome --test hostile`. `PHONEHOME_HOSTILE_CASES=<n>` sets the cases per fixture
//! (default below) for a longer local sweep.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The fixtures and what each brings.
const FIXTURES: &[&str] = &[
    // pcap, Ethernet, IPv6 fragments, DNS over UDP
    "fixtures/captures/zeek__ipv6-fragmented-dns.pcap",
    // pcap, IPv4 fragments with overlaps
    "fixtures/captures/zeek__ipv4__fragmented-1.pcap",
    // pcap, DNS over TCP (length prefix)
    "fixtures/captures/tcpdump__dns_tcp.pcap",
    // pcapng, TLS ClientHello across records and segments
    "fixtures/captures/ndpi__tls_2_reasms.pcapng",
    // pcap, QUIC v1 Initials (decrypted) and the server's
    "fixtures/captures/illustrated-quic__capture.pcap",
    // pcap, HTTP/1.1 with Content-Length and chunked bodies
    "fixtures/captures/zeek__http__http-body-match.pcap",
    // pcap, HTTP with a deflate body without its zlib header
    "fixtures/captures/zeek__http__missing-zlib-header.pcap",
    // pcapng, several interfaces and link types, DNS
    "fixtures/captures/zeek__pcapng-multi-interface.pcapng",
    // gzip-compressed pcapng
    "fixtures/captures/ndpi__knxip.pcapng.gz",
    // HAR with the quirks real writers produce (its last entry is cut on purpose)
    "fixtures/har/quirks.har",
    // a whole HAR (PCAPdroid's export): WebSocket messages, base64 bodies
    "fixtures/har/pcapdroid_app.har",
    // pcapng with its TLS secrets (DSB): TLS 1.3 decryption, HTTP/2 with HPACK, gzip bodies
    "crates/decrypt/tests/data/ja4__http2-with-cookies.first150.pcapng",
    // pcapng with secrets: QUIC v2 1-RTT and 0-RTT decryption, HTTP/3 with QPACK
    "crates/decrypt/tests/data/ndpi__quic-v2.pcapng",
];

/// Cases per fixture (about 40 s for the whole sweep in a debug build on 2 busy cores).
const CASES_PER_FIXTURE: usize = 40;
/// Inputs per batched run (text format, profile).
const BATCH: usize = 8;
/// Wall-time limit of one run. Debug builds on a loaded machine take up to ~2 s for a batch
/// with the profile; a hang shows as 30 s.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Address-space limit of one run, in KiB (`ulimit -v`). The inputs are at most a few tens of
/// KB; a run needs ~25 MB resident.
const MEMORY_LIMIT_KIB: u64 = 1 << 20;
const BASE_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// --- a small seeded PRNG (SplitMix64) -----------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// --- where the structure of a fixture is ---------------------------------------------------

/// A field that holds a length or count (or another value parsers trust).
#[derive(Clone, Debug)]
struct Field {
    off: usize,
    kind: FieldKind,
    name: &'static str,
}

#[derive(Clone, Copy, Debug)]
enum FieldKind {
    /// An unsigned integer of 1 to 4 bytes (8 for `Be` only).
    Int { width: usize, le: bool },
    /// The high (`true`) or low nibble of a byte.
    Nibble { high: bool },
    /// ASCII digits (decimal or hex) of this width.
    Digits { width: usize, hex: bool },
    /// A DNS name: a compression pointer is written here, to itself or to the question.
    DnsName { msg: usize },
}

/// A record of the file (pcap record, pcapng block, HAR entry line range).
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Default)]
struct Layout {
    /// Records that may be duplicated, dropped or swapped (not the file header).
    records: Vec<Span>,
    fields: Vec<Field>,
    /// Offsets at which a cut leaves only whole records (no truncation to report).
    boundaries: Vec<usize>,
}

fn rd(b: &[u8], off: usize, width: usize, le: bool) -> Option<u64> {
    let s = b.get(off..off.checked_add(width)?)?;
    let mut v = 0u64;
    for i in 0..width {
        let byte = if le { s[width - 1 - i] } else { s[i] };
        v = v << 8 | u64::from(byte);
    }
    Some(v)
}

fn layout(name: &str, b: &[u8]) -> Layout {
    let mut l = Layout::default();
    if name.ends_with(".har") {
        har_layout(b, &mut l);
    } else if name.ends_with(".gz") {
        // Opaque: truncation and flips only. A cut anywhere before the end is a truncation.
        l.boundaries = vec![b.len()];
    } else if b.len() >= 24 && matches!(&b[..4], [0x0a, 0x0d, 0x0d, 0x0a]) {
        pcapng_layout(b, &mut l);
    } else {
        pcap_layout(b, &mut l);
    }
    l
}

fn pcap_layout(b: &[u8], l: &mut Layout) {
    let le = matches!(&b[..4], [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]);
    let int = |width| FieldKind::Int { width, le };
    l.fields.push(Field { off: 16, kind: int(4), name: "pcap.snaplen" });
    l.fields.push(Field { off: 20, kind: int(4), name: "pcap.linktype" });
    l.boundaries.push(24);
    let mut at = 24;
    while let Some(caplen) = rd(b, at + 8, 4, le) {
        let end = at + 16 + caplen as usize;
        if end > b.len() {
            break;
        }
        l.fields.push(Field { off: at + 8, kind: int(4), name: "pcap.caplen" });
        l.fields.push(Field { off: at + 12, kind: int(4), name: "pcap.origlen" });
        packet_fields(b, at + 16, end, &mut l.fields);
        l.records.push(Span { start: at, end });
        l.boundaries.push(end);
        at = end;
    }
}

fn pcapng_layout(b: &[u8], l: &mut Layout) {
    let le = b.get(8..12) == Some(&[0x4d, 0x3c, 0x2b, 0x1a]);
    let int = |width| FieldKind::Int { width, le };
    l.boundaries.push(0);
    let mut at = 0;
    while let (Some(ty), Some(len)) = (rd(b, at, 4, le), rd(b, at + 4, 4, le)) {
        let end = at + len as usize;
        if len < 12 || end > b.len() {
            break;
        }
        l.fields.push(Field { off: at + 4, kind: int(4), name: "pcapng.block_length" });
        l.fields.push(Field { off: end - 4, kind: int(4), name: "pcapng.block_length_trailer" });
        match ty {
            1 => {
                l.fields.push(Field { off: at + 8, kind: int(2), name: "pcapng.idb.linktype" });
                l.fields.push(Field { off: at + 12, kind: int(4), name: "pcapng.idb.snaplen" });
                // The first option (if_tsresol and friends): code and length.
                if len > 20 {
                    l.fields.push(Field { off: at + 18, kind: int(2), name: "pcapng.idb.option_length" });
                }
            }
            6 => {
                l.fields.push(Field { off: at + 8, kind: int(4), name: "pcapng.epb.interface" });
                l.fields.push(Field { off: at + 20, kind: int(4), name: "pcapng.epb.caplen" });
                l.fields.push(Field { off: at + 24, kind: int(4), name: "pcapng.epb.origlen" });
                if let Some(caplen) = rd(b, at + 20, 4, le) {
                    let data_end = (at + 28 + caplen as usize).min(end - 4);
                    packet_fields(b, at + 28, data_end, &mut l.fields);
                }
            }
            3 => {
                l.fields.push(Field { off: at + 8, kind: int(4), name: "pcapng.spb.origlen" });
                packet_fields(b, at + 12, end - 4, &mut l.fields);
            }
            _ => {}
        }
        if ty != 0x0a0d_0d0a {
            l.records.push(Span { start: at, end });
        }
        l.boundaries.push(end);
        at = end;
    }
}

/// Entries of a HAR are the lines between `"entries": [` and the end; a cut is reported
/// unless it only loses trailing white space.
fn har_layout(b: &[u8], l: &mut Layout) {
    let text_end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |i| i + 1);
    l.boundaries = (text_end..=b.len()).collect();
    let mut line_start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            l.records.push(Span { start: line_start, end: i + 1 });
            line_start = i + 1;
        }
    }
    // Numbers (sizes, times, status codes): overwritten like length fields.
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let width = i - start;
            l.fields.push(Field { off: start, kind: FieldKind::Digits { width, hex: false }, name: "har.number" });
        }
        i += 1;
    }
}

/// IP headers found by shape in a frame (whatever its link layer), and what they carry.
fn packet_fields(b: &[u8], start: usize, end: usize, out: &mut Vec<Field>) {
    let frame = &b[start..end.min(b.len())];
    let scan = frame.len().min(128);
    for o in 0..scan {
        if let Some((ip_end, proto, t, name)) = ipv4_at(frame, o) {
            out.push(Field { off: start + o, kind: FieldKind::Nibble { high: false }, name: "ipv4.ihl" });
            out.push(Field { off: start + o + 2, kind: FieldKind::Int { width: 2, le: false }, name });
            out.push(Field { off: start + o + 6, kind: FieldKind::Int { width: 2, le: false }, name: "ipv4.frag" });
            out.push(Field { off: start + o + 9, kind: FieldKind::Int { width: 1, le: false }, name: "ipv4.proto" });
            transport_fields(start, frame, proto, t, ip_end, out);
        } else if let Some((ip_end, proto, t, frag)) = ipv6_at(frame, o) {
            out.push(Field { off: start + o + 4, kind: FieldKind::Int { width: 2, le: false }, name: "ipv6.plen" });
            out.push(Field { off: start + o + 6, kind: FieldKind::Int { width: 1, le: false }, name: "ipv6.next" });
            if let Some(fh) = frag {
                out.push(Field {
                    off: start + fh + 2,
                    kind: FieldKind::Int { width: 2, le: false },
                    name: "ipv6.frag",
                });
                out.push(Field {
                    off: start + fh + 4,
                    kind: FieldKind::Int { width: 4, le: false },
                    name: "ipv6.frag_id",
                });
            }
            transport_fields(start, frame, proto, t, ip_end, out);
        }
    }
}

/// An IPv4 header at `o` with a valid checksum (or a total length that ends the frame):
/// (end of the datagram, protocol, transport offset, name of the length field).
fn ipv4_at(f: &[u8], o: usize) -> Option<(usize, u8, usize, &'static str)> {
    let h = f.get(o..o + 20)?;
    if h[0] >> 4 != 4 || h[0] & 15 < 5 {
        return None;
    }
    let ihl = usize::from(h[0] & 15) * 4;
    let hdr = f.get(o..o + ihl)?;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let mut sum = 0u32;
    for w in hdr.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if total < ihl || o + total > f.len() || (sum != 0xffff && o + total != f.len()) {
        return None;
    }
    let first_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x1fff == 0;
    let proto = if first_fragment { h[9] } else { 0 };
    Some((o + total, proto, o + ihl, "ipv4.total_length"))
}

/// An IPv6 header at `o` whose payload length ends the frame (give or take an FCS): (end of
/// the datagram, transport protocol (0 in a later fragment), transport offset, fragment header).
fn ipv6_at(f: &[u8], o: usize) -> Option<(usize, u8, usize, Option<usize>)> {
    let h = f.get(o..o + 40)?;
    if h[0] >> 4 != 6 || !matches!(h[6], 0 | 6 | 17 | 43 | 44 | 58 | 60) {
        return None;
    }
    let end = o + 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
    if end > f.len() || f.len() - end > 4 {
        return None;
    }
    if h[6] == 44 {
        // A fragment header; the transport header is there only in the first fragment.
        let fh = f.get(o + 40..o + 48)?;
        let first = u16::from_be_bytes([fh[2], fh[3]]) & 0xfff8 == 0;
        return Some((end, if first { fh[0] } else { 0 }, o + 48, Some(o + 40)));
    }
    Some((end, h[6], o + 40, None))
}

fn transport_fields(start: usize, f: &[u8], proto: u8, t: usize, ip_end: usize, out: &mut Vec<Field>) {
    let be = |width| FieldKind::Int { width, le: false };
    let (payload, ports) = match proto {
        6 if t + 20 <= ip_end => {
            out.push(Field { off: start + t + 12, kind: FieldKind::Nibble { high: true }, name: "tcp.data_offset" });
            out.push(Field { off: start + t + 4, kind: be(4), name: "tcp.seq" });
            let doff = usize::from(f[t + 12] >> 4) * 4;
            (t + doff.max(20), (rd(f, t, 2, false), rd(f, t + 2, 2, false)))
        }
        17 if t + 8 <= ip_end => {
            out.push(Field { off: start + t + 4, kind: be(2), name: "udp.length" });
            (t + 8, (rd(f, t, 2, false), rd(f, t + 2, 2, false)))
        }
        _ => return,
    };
    if payload >= ip_end {
        return;
    }
    let p = &f[payload..ip_end];
    let at = start + payload;
    let port = |n: u64| ports.0 == Some(n) || ports.1 == Some(n);
    // DNS (UDP), DNS over TCP (length prefix first).
    let dns = if proto == 17 && (port(53) || port(5353) || port(5355)) {
        Some(0)
    } else if proto == 6 && port(53) {
        out.push(Field { off: at, kind: be(2), name: "dns.tcp_length" });
        Some(2)
    } else {
        None
    };
    if let Some(d) = dns
        && p.len() >= d + 12
    {
        for (i, name) in ["dns.qdcount", "dns.ancount", "dns.nscount", "dns.arcount"].into_iter().enumerate() {
            out.push(Field { off: at + d + 4 + 2 * i, kind: be(2), name });
        }
        for i in (d + 12..p.len().saturating_sub(1)).step_by(7) {
            out.push(Field { off: at + i, kind: FieldKind::DnsName { msg: at + d }, name: "dns.name" });
        }
    }
    // TLS records.
    if proto == 6 && p.len() >= 9 && p[0] == 0x16 && p[1] == 3 {
        out.push(Field { off: at + 3, kind: be(2), name: "tls.record_length" });
        out.push(Field { off: at + 6, kind: be(3), name: "tls.handshake_length" });
        if p[5] == 1 && p.len() > 44 {
            out.push(Field { off: at + 43, kind: be(1), name: "tls.session_id_length" });
            let ciphers = 44 + usize::from(p[43]);
            if ciphers + 2 <= p.len() {
                out.push(Field { off: at + ciphers, kind: be(2), name: "tls.cipher_suites_length" });
            }
        }
    }
    // QUIC long headers.
    if proto == 17 && p.len() > 7 && p[0] & 0xc0 == 0xc0 && p[1..5] != [0, 0, 0, 0] {
        out.push(Field { off: at + 5, kind: be(1), name: "quic.dcid_length" });
        let scil = 6 + usize::from(p[5]);
        if scil < p.len() {
            out.push(Field { off: at + scil, kind: be(1), name: "quic.scid_length" });
            let token = scil + 1 + usize::from(p[scil]);
            if token + 3 < p.len() {
                out.push(Field { off: at + token, kind: be(1), name: "quic.token_length" });
                if p[token] == 0 {
                    out.push(Field { off: at + token + 1, kind: be(2), name: "quic.length" });
                }
            }
        }
    }
    // HTTP: Content-Length values and chunk sizes (lines of hex digits before CRLF).
    if proto == 6 {
        let lower = p.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = find(&lower[from..], b"content-length:") {
            let mut s = from + i + 15;
            while s < p.len() && p[s] == b' ' {
                s += 1;
            }
            let width = p[s..].iter().take_while(|c| c.is_ascii_digit()).count();
            if width > 0 {
                out.push(Field {
                    off: at + s,
                    kind: FieldKind::Digits { width, hex: false },
                    name: "http.content_length",
                });
            }
            from = s;
        }
        let mut line = 0;
        for i in 0..p.len().saturating_sub(1) {
            if p[i] == b'\r' && p[i + 1] == b'\n' {
                let width = i - line;
                if (1..=8).contains(&width) && p[line..i].iter().all(u8::is_ascii_hexdigit) {
                    out.push(Field {
                        off: at + line,
                        kind: FieldKind::Digits { width, hex: true },
                        name: "http.chunk_size",
                    });
                }
                line = i + 2;
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// --- mutations -----------------------------------------------------------------------------

/// One case: a fixture, its seed, the mutated bytes and what was done to them.
struct Case {
    fixture: &'static str,
    index: usize,
    seed: u64,
    bytes: Vec<u8>,
    steps: Vec<String>,
    /// Cut inside a record: the run must say so.
    truncated: bool,
}

fn write_field(b: &mut [u8], f: &Field, rng: &mut Rng) -> String {
    match f.kind {
        FieldKind::Int { width, le } => {
            let old = rd(b, f.off, width, le).unwrap_or(0);
            let max = if width >= 8 { u64::MAX } else { (1u64 << (8 * width)) - 1 };
            let v = match rng.below(10) {
                0 => 0,
                1 => 1,
                2 => max,
                3 => max - 1,
                4 => max / 2 + 1,
                5 => old.wrapping_add(1) & max,
                6 => old.wrapping_sub(1) & max,
                7 => old.wrapping_mul(2) & max,
                8 => old.wrapping_add(1 + rng.below(64) as u64) & max,
                _ => rng.next() & max,
            };
            for i in 0..width {
                let shift = 8 * if le { i } else { width - 1 - i };
                if let Some(byte) = b.get_mut(f.off + i) {
                    *byte = (v >> shift) as u8;
                }
            }
            format!("{}@{}={v:#x} (was {old:#x})", f.name, f.off)
        }
        FieldKind::Nibble { high } => {
            let v = rng.below(16) as u8;
            let byte = &mut b[f.off];
            *byte = if high { (*byte & 0x0f) | v << 4 } else { (*byte & 0xf0) | v };
            format!("{}@{}={v}", f.name, f.off)
        }
        FieldKind::Digits { width, hex } => {
            let digits: &[u8] = if hex { b"0123456789abcdef" } else { b"0123456789" };
            let kind = rng.below(4);
            for i in 0..width {
                b[f.off + i] = match kind {
                    0 => b'0',
                    1 => digits[digits.len() - 1],
                    2 => digits[rng.below(digits.len())],
                    // Not a digit at all (a sign, a space, a letter).
                    _ => b"-+ xZ."[rng.below(6)],
                };
            }
            format!("{}@{}={:?}", f.name, f.off, String::from_utf8_lossy(&b[f.off..f.off + width]))
        }
        FieldKind::DnsName { msg } => {
            // A pointer to itself (a loop), to the question, or out of the message.
            let here = f.off - msg;
            let target = match rng.below(3) {
                0 => here,
                1 => 12,
                _ => 0x3fff,
            };
            b[f.off] = 0xc0 | (target >> 8) as u8 & 0x3f;
            if let Some(lo) = b.get_mut(f.off + 1) {
                *lo = target as u8;
            }
            format!("{}@{}=pointer to {target}", f.name, f.off)
        }
    }
}

fn make_case(fixture: &'static str, original: &[u8], index: usize) -> Case {
    let seed = BASE_SEED ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) ^ fnv(fixture.as_bytes());
    let mut rng = Rng(seed);
    let l = layout(fixture, original);
    let mut b = original.to_vec();
    let mut steps = Vec::new();
    // What happens in this case: a pure truncation (whose report is checked), or length
    // fields, flips and record shuffles, with a final cut sometimes.
    let kind = index % 5;
    if kind == 1 || (kind == 4 && !l.fields.is_empty()) {
        for _ in 0..1 + rng.below(3) {
            if l.fields.is_empty() {
                break;
            }
            let f = &l.fields[rng.below(l.fields.len())];
            steps.push(write_field(&mut b, f, &mut rng));
        }
    }
    if kind == 2 || (kind == 4 && rng.chance(50)) {
        let n = 1 + rng.below(16);
        for _ in 0..n {
            let at = rng.below(b.len().max(1));
            if let Some(byte) = b.get_mut(at) {
                let x = if rng.chance(50) { 1 << rng.below(8) } else { 1 + rng.below(255) as u8 };
                *byte ^= x;
                steps.push(format!("xor@{at}={x:#04x}"));
            }
        }
    }
    if (kind == 3 || kind == 4) && !l.records.is_empty() {
        // Records are moved as they were in the original; fields written above travel along.
        let mut order: Vec<Span> = l.records.clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(order.len());
            match rng.below(4) {
                0 | 1 => {
                    let to = rng.below(order.len() + 1);
                    let copies = if rng.chance(20) { 2 + rng.below(30) } else { 1 };
                    for _ in 0..copies {
                        order.insert(to, order[i]);
                    }
                    steps.push(format!("duplicate record {i} x{copies} to {to}"));
                }
                2 => {
                    let j = rng.below(order.len());
                    order.swap(i, j);
                    steps.push(format!("swap records {i} and {j}"));
                }
                _ if order.len() > 1 => {
                    order.remove(i);
                    steps.push(format!("drop record {i}"));
                }
                _ => {}
            }
        }
        let head = l.records[0].start;
        let tail = l.records.last().map_or(b.len(), |r| r.end);
        let mut out = b[..head].to_vec();
        for r in &order {
            out.extend_from_slice(&b[r.start..r.end]);
        }
        out.extend_from_slice(&b[tail..]);
        b = out;
    }
    let mut truncated = false;
    // A case that changed nothing (two equal records swapped) is cut instead.
    if kind == 0 || (kind >= 3 && rng.chance(30)) || b == original {
        let at = rng.below(b.len());
        b.truncate(at);
        steps.push(format!("truncate at {at} of {}", original.len()));
        // Only a cut of the original layout is known to be inside a record.
        truncated = kind == 0 && !l.boundaries.contains(&at);
    }
    Case { fixture, index, seed, bytes: b, steps, truncated }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3))
}

// --- running -------------------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
    timed_out: bool,
}

/// Runs the binary under the limits, from the repository root.
fn run(args: &[&str]) -> Run {
    // `sh` applies the limits to itself and then becomes the binary; 99 means the limits
    // could not be set (a harness problem, reported as such).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} || exit 99; ulimit -t {} || exit 99; exec \"$@\"",
            TIME_LIMIT.as_secs() + 5
        ))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_phonehome"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let start = Instant::now();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > TIME_LIMIT {
            timed_out = true;
            child.kill().ok();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stdout = t_out.join().unwrap();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Run { code: status.code(), stdout, stderr, elapsed, timed_out }
}

/// What is wrong with a run, if anything.
fn check_run(r: &Run, format: &str) -> Option<String> {
    if r.timed_out {
        return Some(format!("no exit within {TIME_LIMIT:?}"));
    }
    match r.code {
        Some(0 | 2) => {}
        Some(99) => return Some("the harness could not set its limits (ulimit)".into()),
        Some(c) => return Some(format!("exit code {c}")),
        None => return Some("killed by a signal (abort, out of memory or CPU limit)".into()),
    }
    if r.stderr.contains("panicked") {
        return Some("stderr says panicked".into());
    }
    if format == "json"
        && r.code == Some(0)
        && let Err(e) = serde_json::from_slice::<Value>(&r.stdout)
    {
        return Some(format!("--format json wrote no JSON document ({e})"));
    }
    if format == "ndjson" {
        let text = String::from_utf8_lossy(&r.stdout);
        let mut last = None;
        for line in text.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(v) => last = Some(v),
                Err(e) => return Some(format!("stdout line is not JSON ({e}): {line}")),
            }
        }
        if last.as_ref().is_none_or(|v| v["event_type"] != "stats") {
            return Some("the last line is not the stats event".into());
        }
    }
    None
}

/// A cut input must be reported: named on stderr, and the error or a counter in `stats`.
fn check_truncation_reported(r: &Run, file: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&r.stdout);
    let stats = text.lines().last().and_then(|l| serde_json::from_str::<Value>(l).ok())?;
    let st = &stats["stats"];
    let counted = ["truncated_file", "corrupt_file"].iter().any(|k| st["anomalies"][k].as_u64() > Some(0))
        || st["skipped"]["unreadable_file"].as_u64() > Some(0);
    let error = st["inputs"][0]["error"].is_string();
    let named = r.stderr.lines().any(|l| l.contains(file));
    if counted && error && named {
        None
    } else {
        Some(format!(
            "a truncated input went unreported (stderr names it: {named}, stats error: {error}, counted: {counted})"
        ))
    }
}

struct Failure {
    what: String,
    cases: Vec<usize>,
    args: String,
    stderr: String,
}

#[test]
fn mutated_captures_never_crash_hang_or_go_unreported() {
    let per_fixture: usize =
        std::env::var("PHONEHOME_HOSTILE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES_PER_FIXTURE);
    let only = std::env::var("PHONEHOME_HOSTILE_CASE").ok();
    let mut cases = Vec::new();
    for fixture in FIXTURES {
        let original = std::fs::read(root().join(fixture)).unwrap_or_else(|e| panic!("{fixture}: {e}"));
        for index in 0..per_fixture {
            let id = format!("{fixture}:{index}");
            if only.as_ref().is_some_and(|o| !id.ends_with(o.as_str())) {
                continue;
            }
            cases.push(make_case(fixture, &original, index));
        }
    }
    assert!(!cases.is_empty(), "no case matches PHONEHOME_HOSTILE_CASE={only:?}");

    let dir = std::env::temp_dir().join(format!("phonehome-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let base = Path::new(c.fixture).file_name().unwrap().to_string_lossy().into_owned();
            // Keep the extension (a `.har` is told by its name).
            let p = dir.join(format!("{n:04}-{base}"));
            std::fs::write(&p, &c.bytes).unwrap();
            p
        })
        .collect();

    // Jobs: every case alone in NDJSON; batches of cases in text format, and in NDJSON and
    // text with the example profile (its scanner build is the slow part of a run). Single
    // runs skip attribution, whose address tables take a quarter of a second to decode in a
    // debug build; the batches attribute.
    let mut jobs: Vec<(Vec<&str>, Vec<usize>)> = Vec::new();
    for n in 0..cases.len() {
        jobs.push((vec!["analyze", "--no-attribution", "--format", "ndjson"], vec![n]));
    }
    let all: Vec<usize> = (0..cases.len()).collect();
    for (b, chunk) in all.chunks(BATCH).enumerate() {
        let format = ["text", "html", "json", "csv"][b % 4];
        jobs.push((vec!["analyze", "--format", format], chunk.to_vec()));
        if b % 2 == 0 {
            let format = if b % 4 == 0 { "ndjson" } else { "text" };
            jobs.push((vec!["analyze", "--profile", "examples/profile.toml", "--format", format], chunk.to_vec()));
        }
    }

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::<Failure>::new());
    let slowest = Mutex::new((Duration::ZERO, String::new()));
    let started = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some((args, members)) = jobs.get(j) else { break };
                    let mut argv: Vec<&str> = args.clone();
                    for &m in members {
                        argv.push(paths[m].to_str().unwrap());
                    }
                    let r = run(&argv);
                    let format = args.iter().position(|a| *a == "--format").map_or("text", |i| args[i + 1]);
                    let ndjson = format == "ndjson";
                    let mut problem = check_run(&r, format);
                    if problem.is_none() && members.len() == 1 && ndjson && cases[members[0]].truncated {
                        let name = paths[members[0]].file_name().unwrap().to_string_lossy().into_owned();
                        problem = check_truncation_reported(&r, &name);
                    }
                    {
                        let mut slow = slowest.lock().unwrap();
                        if r.elapsed > slow.0 {
                            *slow = (r.elapsed, argv[1..].join(" "));
                        }
                    }
                    if let Some(what) = problem {
                        failures.lock().unwrap().push(Failure {
                            what,
                            cases: members.clone(),
                            args: args.join(" "),
                            stderr: r.stderr.lines().take(20).collect::<Vec<_>>().join("\n"),
                        });
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let (slow, slow_args) = slowest.into_inner().unwrap();
    eprintln!(
        "hostile sweep: {} cases, {} runs in {:.1?} on {workers} workers; slowest run {slow:.1?} ({slow_args})",
        cases.len(),
        jobs.len(),
        started.elapsed()
    );
    if failures.is_empty() {
        std::fs::remove_dir_all(&dir).ok();
        return;
    }
    let mut report = format!("{} failing runs; inputs kept in {}\n", failures.len(), dir.display());
    for f in failures.iter().take(20) {
        let _ = writeln!(report, "\n{} — `phonehome {} <inputs>`", f.what, f.args);
        for &m in &f.cases {
            let c = &cases[m];
            let _ = writeln!(
                report,
                "  {} case {} (seed {:#018x}): {}\n    input {}\n    replay: PHONEHOME_HOSTILE_CASE={}:{} cargo test -p phonehome --test hostile",
                c.fixture,
                c.index,
                c.seed,
                c.steps.join("; "),
                paths[m].display(),
                c.fixture,
                c.index
            );
        }
        if !f.stderr.is_empty() {
            let _ = writeln!(report, "  stderr:\n{}", f.stderr);
        }
    }
    panic!("{report}");
}

/// The generator is deterministic and does what it says (a sweep that mutated nothing, or
/// differently on each run, could not fail usefully).
#[test]
fn mutations_are_reproducible_and_reach_every_kind_of_field() {
    let mut names = std::collections::BTreeSet::new();
    for fixture in FIXTURES {
        let original = std::fs::read(root().join(fixture)).unwrap();
        let l = layout(fixture, &original);
        names.extend(l.fields.iter().map(|f| f.name));
        if !fixture.ends_with(".gz") {
            assert!(l.records.len() > 2, "{fixture}: records not found");
        }
        for index in 0..CASES_PER_FIXTURE {
            let a = make_case(fixture, &original, index);
            let b = make_case(fixture, &original, index);
            assert_eq!(a.bytes, b.bytes, "{fixture}:{index} is not deterministic");
            assert_eq!(a.steps, b.steps);
            assert!(a.bytes != original || a.steps.iter().any(|s| s.starts_with("truncate")), "{fixture}:{index}");
        }
    }
    for expected in [
        "pcap.caplen",
        "pcap.origlen",
        "pcapng.block_length",
        "pcapng.epb.caplen",
        "ipv4.total_length",
        "ipv4.ihl",
        "ipv4.frag",
        "ipv6.plen",
        "ipv6.frag",
        "tcp.data_offset",
        "udp.length",
        "dns.qdcount",
        "dns.tcp_length",
        "dns.name",
        "tls.record_length",
        "tls.handshake_length",
        "quic.dcid_length",
        "http.content_length",
        "http.chunk_size",
        "har.number",
    ] {
        assert!(names.contains(expected), "no fixture has a {expected} field: {names:?}");
    }
}

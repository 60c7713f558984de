//! Fuzzes the TLS handshake assembler, the hello parsers and the fingerprints.
//!
//! Input: one byte of knobs, one byte seeding the chunk sizes, then stream bytes. The stream
//! is fed three ways: in one push, in seeded chunks of 1-64 bytes (a gap at a seeded point
//! with knob 0x08), and in chunks under a small cap (knobs & 7 picks 16 B-2 KiB). Every
//! message is parsed as a ClientHello and as a ServerHello, and every ClientHello is
//! fingerprinted; the bytes are also parsed directly, so the parsers see inputs the record
//! layer would not let through.
//!
//! Checked: no panic; chunking does not change the messages or the final state (the cap is
//! out of reach in those two runs); the small cap is never exceeded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_protocols::tls::{self, HandshakeAssembler, Transport};

fn exercise(body: &[u8]) {
    if let Ok(ch) = tls::parse_client_hello(body) {
        let (s, md5) = tls::ja3(&ch);
        assert_eq!(md5.len(), 32);
        assert_eq!(s.matches(',').count(), 4);
        let ja4 = tls::ja4(&ch, Transport::Tcp);
        assert_eq!(ja4.len(), 36, "{ja4}");
        assert_eq!(tls::ja4(&ch, Transport::Quic)[1..], ja4[1..]);
    }
    let _ = tls::parse_server_hello(body);
}

/// Feeds `chunks` (a gap before chunk `gap_at`, if any), collecting every message.
fn run(a: &mut HandshakeAssembler, chunks: &[&[u8]], gap_at: Option<usize>) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        if gap_at == Some(i) {
            a.gap();
        }
        a.push(c);
        while let Some(m) = a.next_message() {
            out.push((m.msg_type, m.body.to_vec()));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [knobs, seed, stream @ ..] = data else { return };
    exercise(stream);

    let mut chunks = Vec::new();
    let (mut rest, mut x) = (stream, u32::from(*seed) | 1);
    while !rest.is_empty() {
        // xorshift: cheap, deterministic chunk sizes from one byte.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x as usize % 64 + 1).min(rest.len());
        chunks.push(&rest[..n]);
        rest = &rest[n..];
    }

    let big = stream.len() + 1;
    let mut whole = HandshakeAssembler::with_cap(big);
    let expected = run(&mut whole, &[stream], None);
    let mut pieces = HandshakeAssembler::with_cap(big);
    let got = run(&mut pieces, &chunks, None);
    assert_eq!(got, expected, "chunking changed the messages");
    assert_eq!(pieces.state(), whole.state());
    for (_, body) in &expected {
        exercise(body);
    }

    if knobs & 0x08 != 0 && !chunks.is_empty() {
        let at = usize::from(*seed) % chunks.len();
        let mut gapped = HandshakeAssembler::with_cap(big);
        let got = run(&mut gapped, &chunks, Some(at));
        // Before the gap everything matches; after it nothing new arrives.
        assert!(got.len() <= expected.len());
        assert_eq!(got[..], expected[..got.len()]);
        assert!(gapped.is_done());
    }

    let cap = 16usize << (knobs & 7);
    let mut small = HandshakeAssembler::with_cap(cap);
    for c in &chunks {
        small.push(c);
        assert!(small.buffered() <= cap, "cap exceeded");
        while let Some(m) = small.next_message() {
            assert!(m.body.len() + 4 <= cap);
        }
    }
});

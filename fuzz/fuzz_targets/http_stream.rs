//! Fuzzes the HTTP/1.x stream parser: both directions of a connection, cut into chunks,
//! with holes, under default and tiny limits; and the same bytes as a datagram.
//!
//! Input: one byte of knobs, one byte seeding the chunk sizes, two bytes splitting the rest
//! into the client's bytes and the server's, then the bytes. Each side is fed to an
//! `HttpStream` whole and in seeded chunks of 1-64 bytes (or 1-1024 with knob 0x10); the
//! connection (`HttpConnection`, both sides interleaved) gets the same chunks with holes of
//! 1-300 bytes before some of them (knob 0x08).
//!
//! Checked: no panic; every head is followed by exactly one body before the next head;
//! bodies, heads and header lists stay within the limits; and, when the whole-input run never
//! lost sync (no junk, framing error, over-long head or hole), chunking does not change the
//! events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_model::Direction;
use phonehome_protocols::http::{self, HttpConnection, HttpEvent, HttpStream, Limits, Side, Stats};

/// Checks one event against the limits and the head/body pairing; returns it as text.
fn check(e: &HttpEvent<'_>, limits: &Limits, open: &mut bool) -> String {
    match e {
        HttpEvent::Request(r) => {
            assert!(!*open, "a head before the last body");
            *open = true;
            assert!(r.head.len <= limits.max_head);
            assert!(r.head.headers.len() <= limits.max_headers);
        }
        HttpEvent::Response(r) => {
            assert!(!*open, "a head before the last body");
            *open = true;
            assert!(r.head.len <= limits.max_head);
            assert!(r.head.headers.len() <= limits.max_headers);
        }
        HttpEvent::Body(b) => {
            assert!(*open, "a body without a head");
            *open = false;
            assert!(b.data.len() <= limits.max_body);
            assert!(b.trailers.len() <= limits.max_head);
            // An identity body arrives whole (a stacked coding whose inner layer is
            // mislabelled is partly decoded and flagged decode_error).
            if !b.decoded && !b.decode_error && !b.truncated && !b.incomplete && b.data.len() as u64 != b.wire_len {
                panic!("identity body of {} bytes from {} on the wire", b.data.len(), b.wire_len);
            }
        }
        // What follows a tunnel depends on where the chunk ends: not compared.
        HttpEvent::Tunnel { .. } => {
            assert!(!*open, "a tunnel inside a message");
            return "Tunnel".into();
        }
    }
    format!("{e:?}")
}

/// Feeds `chunks` to a fresh stream; returns the events as text and the stats.
fn run(side: Side, limits: Limits, chunks: &[&[u8]]) -> (Vec<String>, Stats) {
    let mut s = HttpStream::new(side, limits);
    let mut out = Vec::new();
    let mut open = false;
    for c in chunks {
        s.push(c, |e| out.push(check(&e, &limits, &mut open)));
    }
    s.finish(|e| out.push(check(&e, &limits, &mut open)));
    assert!(!open, "a head without a body at the end");
    (out, *s.stats())
}

fn lost_sync(s: &Stats) -> bool {
    s.junk + s.framing_errors + s.heads_too_long + s.gaps + s.incomplete_heads > 0
}

fuzz_target!(|data: &[u8]| {
    let [knobs, seed, s0, s1, bytes @ ..] = data else { return };
    let split = usize::from(u16::from_le_bytes([*s0, *s1])) % (bytes.len() + 1);
    let (client, server) = bytes.split_at(split);

    let mut x = u32::from(*seed) | 1;
    let mut next = move || {
        // xorshift: cheap, deterministic sizes from one byte.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as usize
    };
    let max_chunk = if knobs & 0x10 != 0 { 1024 } else { 64 };
    let mut chunks_of = |b: &[u8]| {
        let mut v = Vec::new();
        let mut rest = b;
        while !rest.is_empty() {
            let n = (next() % max_chunk + 1).min(rest.len());
            v.push(n);
            rest = &rest[n..];
        }
        v
    };
    let sizes = [chunks_of(client), chunks_of(server)];
    let pieces = |b: &'_ [u8], sizes: &[usize]| {
        let mut v = Vec::new();
        let mut at = 0;
        for &n in sizes {
            v.push(b[at..at + n].to_vec());
            at += n;
        }
        v
    };
    let parts = [pieces(client, &sizes[0]), pieces(server, &sizes[1])];

    let tiny = Limits {
        max_head: 64 << (knobs & 3),
        max_headers: usize::from(knobs >> 5),
        max_body: 16 << ((knobs >> 2) & 1),
        decode: knobs & 0x40 == 0,
        max_pending: 2,
    };
    for (side, (whole, parts)) in
        [Side::Requests, Side::Responses].into_iter().zip([(client, &parts[0]), (server, &parts[1])])
    {
        for limits in [Limits::default(), tiny] {
            let (expected, stats) = run(side, limits, &[whole]);
            let chunks: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let (got, got_stats) = run(side, limits, &chunks);
            if !lost_sync(&stats) && got != expected {
                let i = got.iter().zip(&expected).take_while(|(a, b)| a == b).count();
                panic!(
                    "chunking changed the events at {i} of {}/{} ({side:?}, {limits:?}, {got_stats:?}):\n  chunked {:?}\n  whole   {:?}",
                    got.len(),
                    expected.len(),
                    got.get(i),
                    expected.get(i)
                );
            }
        }
    }

    // Both sides through a connection, interleaved, with holes.
    for limits in [Limits::default(), tiny] {
        let mut conn = HttpConnection::new(limits);
        let mut open = [false; 2];
        let mut emit = |side: Side, e: HttpEvent<'_>| {
            check(&e, &limits, &mut open[usize::from(side == Side::Responses)]);
        };
        let (mut i, mut j) = (0, 0);
        while i < parts[0].len() || j < parts[1].len() {
            let to_server = j >= parts[1].len() || (i < parts[0].len() && next() % 2 == 0);
            let (dir, chunk) = if to_server {
                i += 1;
                (Direction::ToServer, &parts[0][i - 1])
            } else {
                j += 1;
                (Direction::ToClient, &parts[1][j - 1])
            };
            if knobs & 0x08 != 0 && next() % 4 == 0 {
                conn.gap(dir, (next() % 300 + 1) as u64, &mut emit);
            }
            conn.push(dir, chunk, &mut emit);
        }
        conn.finish(&mut emit);
        assert_eq!(open, [false, false], "a head without a body at the end");
    }

    for limits in [Limits::default(), tiny] {
        let mut open = false;
        http::parse_datagram(bytes, &limits, |e| {
            check(&e, &limits, &mut open);
        });
        assert!(!open);
    }
});

//! Fuzzes the HTTP/2 connection parser (`phonehome_protocols::h2`) and HPACK.
//!
//! Input: one byte of knobs, one byte seeding the chunk sizes, two bytes splitting the rest
//! into the client's bytes and the server's, then the bytes. The client's bytes get the
//! connection preface in front unless knob 0x80 is set (so frames are reached at once).
//! Each side is cut into seeded chunks of 1-64 bytes (1-1024 with knob 0x10), the two sides
//! interleaved, with holes of 1-300 bytes before some chunks (knob 0x08); default and tiny
//! limits (knob 0x20). The whole bytes also go through a bare `hpack::Decoder` as one block.
//!
//! Checked: no panic; every header block, body and stream count stays within the limits;
//! and, without holes, cutting both sides into chunks does not change any event (data
//! chunks compared joined per stream and side).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use phonehome_model::Direction;
use phonehome_protocols::h2::{Event, H2Connection, Limits, PREFACE};
use phonehome_protocols::hpack;
use phonehome_protocols::http::Side;

#[derive(Default, PartialEq, Debug)]
struct Seen {
    events: Vec<String>,
    data: BTreeMap<(u8, u64), Vec<u8>>,
}

fn check(side: Side, e: &Event<'_>, limits: &Limits, seen: &mut Seen) {
    match e {
        Event::Data { stream_id, data } => {
            seen.data.entry((side as u8, *stream_id)).or_default().extend_from_slice(data);
            return;
        }
        Event::Request(r) => {
            assert!(r.block.fields.len() <= limits.max_headers);
            assert!(r.block.len <= limits.max_header_block);
        }
        Event::Response(r) => {
            assert!(r.block.fields.len() <= limits.max_headers);
            assert!(r.block.len <= limits.max_header_block);
        }
        Event::Trailers(t) => assert!(t.block.fields.len() <= limits.max_headers),
        Event::Body { stream_id, body } => {
            assert!(body.data.len() <= limits.max_body);
            if body.decode_error {
                // What a decompressor hands out of corrupt data before it notices depends on
                // how the data was cut (body.rs, brotli): the flags are compared, not the bytes.
                seen.events.push(format!("{side:?} body {stream_id} corrupt {} {}", body.wire_len, body.incomplete));
                return;
            }
        }
        _ => {}
    }
    seen.events.push(format!("{side:?} {e:?}"));
}

fuzz_target!(|data: &[u8]| {
    let [knobs, seed, s0, s1, bytes @ ..] = data else { return };
    let split = usize::from(u16::from_le_bytes([*s0, *s1])) % (bytes.len() + 1);
    let (c, server) = bytes.split_at(split);
    let mut client = if knobs & 0x80 == 0 { PREFACE.to_vec() } else { Vec::new() };
    client.extend_from_slice(c);

    let limits = if knobs & 0x20 != 0 {
        Limits {
            max_header_block: 64,
            max_headers: 3,
            max_header_list: 100,
            max_table_size: 64,
            max_streams: 2,
            max_body: 16,
            max_buffered: 24,
            max_decoders: 1,
            decode: knobs & 0x40 == 0,
        }
    } else {
        Limits::default()
    };

    let mut x = u32::from(*seed) | 1;
    let mut next = move || {
        // xorshift: cheap, deterministic sizes from one byte.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as usize
    };
    let max_chunk = if knobs & 0x10 != 0 { 1024 } else { 64 };
    let mut cut = |b: &[u8]| {
        let mut v = Vec::new();
        let mut rest = b;
        while !rest.is_empty() {
            let n = (next() % max_chunk + 1).min(rest.len());
            v.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        v
    };
    let parts = [cut(&client), cut(server)];

    // Whole: the client's bytes, then the server's.
    let mut whole = Seen::default();
    let mut conn = H2Connection::new(limits);
    conn.push(Direction::ToServer, &client, |s, e| check(s, &e, &limits, &mut whole));
    conn.push(Direction::ToClient, server, |s, e| check(s, &e, &limits, &mut whole));
    conn.finish(|s, e| check(s, &e, &limits, &mut whole));

    // Chunked, same order.
    let mut chunked = Seen::default();
    let mut conn = H2Connection::new(limits);
    for (dir, side) in [(Direction::ToServer, &parts[0]), (Direction::ToClient, &parts[1])] {
        for p in side {
            conn.push(dir, p, |s, e| check(s, &e, &limits, &mut chunked));
            assert!(conn.open_streams() <= limits.max_streams);
        }
    }
    conn.finish(|s, e| check(s, &e, &limits, &mut chunked));
    assert_eq!(chunked, whole, "chunking changed the events");

    // Interleaved, with holes.
    let mut conn = H2Connection::new(limits);
    let mut seen = Seen::default();
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
            conn.gap(dir, (next() % 300 + 1) as u64, |s, e| check(s, &e, &limits, &mut seen));
        }
        conn.push(dir, chunk, |s, e| check(s, &e, &limits, &mut seen));
        assert!(conn.open_streams() <= limits.max_streams);
    }
    conn.finish(|s, e| check(s, &e, &limits, &mut seen));

    // The bytes as one HPACK block.
    let mut d = hpack::Decoder::new(limits.max_table_size);
    let mut out = hpack::FieldList::new();
    let bl = hpack::BlockLimits { max_fields: limits.max_headers, max_list_size: limits.max_header_list };
    let _ = d.decode(bytes, &bl, &mut out);
    assert!(out.len() <= limits.max_headers);
    assert!(d.table_size() <= limits.max_table_size);
});

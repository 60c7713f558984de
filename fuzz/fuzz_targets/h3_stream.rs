//! Fuzzes the HTTP/3 connection parser (`phonehome_protocols::h3`) and QPACK.
//!
//! Input: one byte of knobs, then records `[stream selector][len u8][bytes]`: the selector's
//! low 5 bits pick a stream id (0-31: request, control, encoder, decoder, push and unknown
//! streams of both initiators), bit 5 the direction, bit 6 FIN, bit 7 a hole before the bytes.
//! A record with the id 31 resets stream 0 instead. Default and tiny limits (knob 0x20). The
//! whole input also goes through a bare `qpack::Decoder` as encoder-stream bytes and as a
//! field section.
//!
//! Checked: no panic; header blocks, bodies and tracked streams stay within the limits; and,
//! without holes and resets, feeding each record's bytes one by one gives the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_model::Direction;
use phonehome_protocols::h2::{Event, Limits};
use phonehome_protocols::h3::H3Connection;
use phonehome_protocols::hpack::{BlockLimits, FieldList};
use phonehome_protocols::http::Side;
use phonehome_protocols::qpack;

fn check(side: Side, e: &Event<'_>, limits: &Limits, seen: &mut Vec<String>) {
    match e {
        Event::Request(r) => assert!(r.block.fields.len() <= limits.max_headers),
        Event::Response(r) => assert!(r.block.fields.len() <= limits.max_headers),
        Event::Trailers(t) => assert!(t.block.fields.len() <= limits.max_headers),
        Event::Body { stream_id, body } => {
            assert!(body.data.len() <= limits.max_body);
            if body.decode_error {
                // What a decompressor hands out of corrupt data before it notices depends on
                // how the data was cut (body.rs, brotli): the flags are compared, not the bytes.
                seen.push(format!("{side:?} body {stream_id} corrupt {} {}", body.wire_len, body.incomplete));
                return;
            }
        }
        // Data chunks follow the input's cut: compared through the bodies.
        Event::Data { .. } => return,
        _ => {}
    }
    seen.push(format!("{side:?} {e:?}"));
}

type Record<'a> = (Direction, u64, &'a [u8], bool, bool, bool);

fn run(limits: Limits, records: &[Record<'_>], bytewise: bool) -> Vec<String> {
    let mut conn = H3Connection::new(limits);
    let mut seen = Vec::new();
    for &(dir, id, bytes, fin, hole, reset) in records {
        if reset {
            conn.reset(dir, 0, 0x10c, |s, e| check(s, &e, &limits, &mut seen));
            continue;
        }
        if hole {
            conn.gap(dir, id, 7, |s, e| check(s, &e, &limits, &mut seen));
        }
        if bytewise && bytes.len() > 1 {
            for (i, b) in bytes.iter().enumerate() {
                let last = i + 1 == bytes.len();
                conn.push(dir, id, std::slice::from_ref(b), fin && last, |s, e| check(s, &e, &limits, &mut seen));
            }
        } else {
            conn.push(dir, id, bytes, fin, |s, e| check(s, &e, &limits, &mut seen));
        }
        assert!(conn.open_streams() <= limits.max_streams + 8);
    }
    conn.finish(|s, e| check(s, &e, &limits, &mut seen));
    seen
}

fuzz_target!(|data: &[u8]| {
    let [knobs, tail @ ..] = data else { return };
    let mut rest: &[u8] = tail;
    let mut records = Vec::new();
    let mut plain = true;
    while let [sel, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let id = u64::from(sel & 0x1f);
        let dir = if sel & 0x20 == 0 { Direction::ToServer } else { Direction::ToClient };
        let hole = sel & 0x80 != 0;
        let reset = id == 31;
        plain &= !hole && !reset;
        records.push((dir, id, &tail[..n], sel & 0x40 != 0, hole, reset));
        rest = &tail[n..];
    }
    let limits = if *knobs & 0x20 != 0 {
        Limits {
            max_header_block: 32,
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
    let whole = run(limits, &records, false);
    if plain {
        let bytewise = run(limits, &records, true);
        assert_eq!(bytewise, whole, "chunking changed the events");
    }

    let mut d = qpack::Decoder::new(limits.max_table_size);
    d.set_max_capacity(u64::from(*knobs) * 16);
    d.encoder_stream(data);
    let mut out = FieldList::new();
    let bl = BlockLimits { max_fields: limits.max_headers, max_list_size: limits.max_header_list };
    let _ = d.decode(data, &bl, &mut out);
    assert!(out.len() <= limits.max_headers);
});

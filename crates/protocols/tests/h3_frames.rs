//! HTTP/3 from hand-built QUIC stream contents: control streams with SETTINGS, QPACK encoder
//! streams (the RFC 9204 Appendix B instructions) and sections that use their dynamic table,
//! requests and responses with bodies, a push, reserved frame and stream types, resets,
//! holes, blocked sections; the same events whatever the chunking of each stream (split at
//! every byte boundary); and a proptest that nothing panics.

use std::collections::BTreeMap;
use std::io::Write;

use phonehome_model::Direction;
use phonehome_protocols::h2::{BlockError, Event, Limits};
use phonehome_protocols::h3::{H3Connection, PUSH_BASE, Stats};
use phonehome_protocols::http::Side;
use phonehome_protocols::qpack;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn varint(v: u64, out: &mut Vec<u8>) {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

fn frame(ty: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    varint(ty, &mut f);
    varint(payload.len() as u64, &mut f);
    f.extend_from_slice(payload);
    f
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A literal field line with a literal name (no Huffman).
fn literal(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    phonehome_protocols::hpack::encode_integer(name.len() as u64, 3, 0x20, &mut v);
    v.extend_from_slice(name);
    phonehome_protocols::hpack::encode_integer(value.len() as u64, 7, 0, &mut v);
    v.extend_from_slice(value);
    v
}

const BODY: &[u8] = b"{\"adid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\",\"imei\":\"490154203237518\"}";

/// (direction, stream id, bytes) of a connection; each stream's bytes end with FIN.
fn conversation() -> Vec<(Direction, u64, Vec<u8>)> {
    let c = Direction::ToServer;
    let s = Direction::ToClient;
    // Client control stream (2): SETTINGS with QPACK_MAX_TABLE_CAPACITY = 220 and a reserved
    // setting, then a reserved frame type.
    let mut cc = vec![0x00];
    cc.extend(frame(0x04, &[0x01, 0x40, 0xdc, 0x21, 0x00]));
    cc.extend(frame(0x21, b"grease"));
    // Server control stream (3).
    let mut sc = vec![0x00];
    sc.extend(frame(0x04, &[0x01, 0x40, 0xdc, 0x06, 0x44, 0x00]));
    // Server encoder stream (7): capacity 220 and custom-key (B.3), for the server's field
    // sections (its responses).
    let mut se = vec![0x02];
    se.extend(hex("3fbd01 4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565"));
    // Client encoder stream (6): the B.2 inserts.
    let mut ce = vec![0x02];
    ce.extend(hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468"));
    // Client decoder stream (10) and a reserved stream type (14).
    let cd = vec![0x03, 0x84, 0x01];
    let reserved = {
        let mut v = Vec::new();
        varint(0x21 + 0x1f, &mut v);
        v.extend_from_slice(b"whatever");
        v
    };
    // Request on stream 0: the B.2 section (dynamic, post-base) plus a literal and a static
    // content-type; a body in two DATA frames with an unknown frame between; trailers.
    let mut section = hex("0381 10 11");
    section.extend(hex("d4 d7")); // :method POST, :scheme https (static 20, 23)
    section.extend(literal(b"x-device-id", b"9774d56d682e549c"));
    section.extend(hex("ee")); // content-type application/json (46)
    let mut r0 = frame(0x01, &section);
    r0.extend(frame(0x00, &BODY[..10]));
    r0.extend(frame(0x2a, b"reserved"));
    r0.extend(frame(0x00, &BODY[10..]));
    let mut trailers = vec![0x00, 0x00];
    trailers.extend(literal(b"x-checksum", b"abc"));
    r0.extend(frame(0x01, &trailers));
    // Response on 0: 200, content-encoding gzip (static 43), custom-key from the server's
    // table, gzip body; a push promise for push 0.
    // :status 200 (static 25), content-encoding gzip (static 43), dynamic relative 0.
    let resp = [0x02, 0x00, 0xd9, 0xeb, 0x80];
    let mut r0s = frame(0x01, &resp);
    let mut pp = vec![0x00];
    pp.extend(hex("0000 d1 d7"));
    pp.extend(hex("51 06 2f 70 2e 6a 73 2f")); // :path /p.js/ (static name 1, literal)
    pp.extend(literal(b":authority", b"api.example.com"));
    r0s.extend(frame(0x05, &pp));
    let gz = gzip(BODY);
    r0s.extend(frame(0x00, &gz[..7]));
    r0s.extend(frame(0x00, &gz[7..]));
    // Stream 4: a GET reset by the client; stream 8: a GET whose response is cut by the end.
    let r4 = frame(0x01, &hex("0000 d1 d7 c1"));
    let r8 = frame(0x01, &hex("0000 d1 d7 c1"));
    let mut r8s = frame(0x01, &hex("0000 d9"));
    r8s.extend(frame(0x00, b"partial"));
    // Push stream (15) for push 0.
    let mut push = vec![0x01, 0x00];
    push.extend(frame(0x01, &hex("0000 d9")));
    push.extend(frame(0x00, b"console.log(1)"));
    // GOAWAY on the server's control stream.
    let mut sc2 = frame(0x07, &[0x0c]);
    sc.append(&mut sc2);
    vec![
        (c, 2, cc),
        (s, 3, sc),
        (c, 6, ce),
        (s, 7, se),
        (c, 10, cd),
        (c, 14, reserved),
        (c, 0, r0),
        (s, 0, r0s),
        (s, 15, push),
        (c, 4, r4),
        (c, 8, r8),
        (s, 8, r8s),
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[derive(Default, Debug, PartialEq)]
struct Seen {
    events: Vec<String>,
    data: BTreeMap<(u8, u64), Vec<u8>>,
}

fn render(side: Side, e: &Event<'_>, seen: &mut Seen) {
    let fields = |b: &phonehome_protocols::h2::HeaderBlock<'_>| {
        b.fields.iter().map(|h| format!("{}: {}", text(h.name), text(h.value))).collect::<Vec<_>>().join("; ")
    };
    let line = match e {
        Event::Data { stream_id, data } => {
            seen.data.entry((side as u8, *stream_id)).or_default().extend_from_slice(data);
            return;
        }
        Event::Request(r) => format!(
            "{side:?} request {} {} {} {} {} promised={:?} [{}] err={:?}",
            r.stream_id,
            text(r.method),
            text(r.scheme),
            text(r.authority.unwrap_or(b"-")),
            text(r.path),
            r.promised_on,
            fields(&r.block),
            r.block.error
        ),
        Event::Response(r) => {
            format!("{side:?} response {} {:?} [{}] err={:?}", r.stream_id, r.status, fields(&r.block), r.block.error)
        }
        Event::Trailers(t) => format!("{side:?} trailers {} [{}]", t.stream_id, fields(&t.block)),
        Event::Body { stream_id, body } => format!(
            "{side:?} body {stream_id} {:?} wire={} decoded={} incomplete={}",
            text(body.data),
            body.wire_len,
            body.decoded,
            body.incomplete
        ),
        Event::Reset { stream_id, error_code } => format!("{side:?} reset {stream_id} {error_code}"),
        Event::GoAway { last_stream_id, .. } => format!("{side:?} goaway {last_stream_id}"),
    };
    seen.events.push(line);
}

/// Feeds each stream whole in order (resetting stream 4 after its bytes), then finishes.
fn run(limits: Limits, streams: &[(Direction, u64, Vec<Vec<u8>>)]) -> (Seen, Stats) {
    let mut conn = H3Connection::new(limits);
    let mut seen = Seen::default();
    for (dir, id, chunks) in streams {
        let n = chunks.len();
        for (i, c) in chunks.iter().enumerate() {
            // Stream 8's response and the push stream have no FIN: the connection ends first.
            let fin = i + 1 == n && !(*id == 8 && *dir == Direction::ToClient) && *id != 4;
            conn.push(*dir, *id, c, fin, |side, e| render(side, &e, &mut seen));
        }
        if *id == 4 {
            conn.reset(*dir, 4, 0x10c, |side, e| render(side, &e, &mut seen));
        }
    }
    conn.finish(|side, e| render(side, &e, &mut seen));
    (seen, conn.stats())
}

fn whole() -> Vec<(Direction, u64, Vec<Vec<u8>>)> {
    conversation().into_iter().map(|(d, id, b)| (d, id, vec![b])).collect()
}

#[test]
fn conversation_events() {
    let (seen, stats) = run(Limits::default(), &whole());
    let expected = [
        "Responses goaway 12",
        "Requests request 0 POST https www.example.com /sample/path promised=None [:authority: www.example.com; :path: /sample/path; :method: POST; :scheme: https; x-device-id: 9774d56d682e549c; content-type: application/json] err=None",
        "Requests trailers 0 [x-checksum: abc]",
        &format!("Requests body 0 {:?} wire={} decoded=false incomplete=false", text(BODY), BODY.len()),
        "Responses response 0 Some(200) [:status: 200; content-encoding: gzip; custom-key: custom-value] err=None",
        "Requests request 4611686018427387904 GET https api.example.com /p.js/ promised=Some(0) [:method: GET; :scheme: https; :path: /p.js/; :authority: api.example.com] err=None",
        "Requests body 4611686018427387904 \"\" wire=0 decoded=false incomplete=false",
        &format!("Responses body 0 {:?} wire={} decoded=true incomplete=false", text(BODY), gzip(BODY).len()),
        "Responses response 4611686018427387904 Some(200) [:status: 200] err=None",
        "Responses body 4611686018427387904 \"console.log(1)\" wire=14 decoded=false incomplete=false",
        "Requests request 4 GET https - / promised=None [:method: GET; :scheme: https; :path: /] err=None",
        "Requests reset 4 268",
        "Requests body 4 \"\" wire=0 decoded=false incomplete=true",
        "Requests request 8 GET https - / promised=None",
        "Requests body 8 \"\" wire=0 decoded=false incomplete=false",
        "Responses response 8 Some(200)",
        "Responses body 8 \"partial\" wire=7 decoded=false incomplete=true",
    ];
    for (i, (got, want)) in seen.events.iter().zip(expected.iter()).enumerate() {
        assert!(got.starts_with(want), "event {i}:\n  got  {got}\n  want {want}...\n{:#?}", seen.events);
    }
    assert_eq!(seen.events.len(), expected.len(), "{:#?}", seen.events);
    assert_eq!(PUSH_BASE, 4611686018427387904);
    assert_eq!(stats.qpack_instructions, 5);
    assert_eq!(stats.unknown_frames, 2);
    assert_eq!(stats.frame_errors, 0);
    assert_eq!(stats.messages.block_errors, 0);
}

#[test]
fn every_split_gives_the_same_events() {
    let (expected, stats) = run(Limits::default(), &whole());
    let conv = conversation();
    for i in 0..conv.len() {
        let len = conv[i].2.len();
        for k in 0..=len {
            let streams: Vec<_> = conv
                .iter()
                .enumerate()
                .map(|(j, (d, id, b))| {
                    let chunks = if j == i { vec![b[..k].to_vec(), b[k..].to_vec()] } else { vec![b.clone()] };
                    (*d, *id, chunks)
                })
                .collect();
            let (seen, st) = run(Limits::default(), &streams);
            assert_eq!(seen, expected, "stream {} split at {k}", conv[i].1);
            assert_eq!(st, stats);
        }
    }
    let bytes: Vec<_> =
        conv.iter().map(|(d, id, b)| (*d, *id, b.chunks(1).map(<[u8]>::to_vec).collect::<Vec<_>>())).collect();
    let (seen, _) = run(Limits::default(), &bytes);
    assert_eq!(seen, expected, "byte by byte");
}

#[test]
fn request_before_its_inserts_is_blocked() {
    // The request stream comes before the client's encoder stream.
    let mut conv = whole();
    let enc = conv.remove(2);
    conv.insert(7, enc);
    let (seen, stats) = run(Limits::default(), &conv);
    assert!(
        seen.events[1].contains("request 0") && seen.events[1].contains("Blocked { required: 2, inserted: 0 }"),
        "{}",
        seen.events[1]
    );
    assert_eq!(stats.qpack_blocked, 1);
    // The body is still read.
    assert!(seen.events.iter().any(|e| e.starts_with("Requests body 0 \"{")));
}

#[test]
fn encoder_stream_hole_loses_the_table() {
    let mut conn = H3Connection::new(Limits::default());
    let mut seen = Seen::default();
    let conv = conversation();
    let mut render_ = |side: Side, e: Event<'_>| render(side, &e, &mut seen);
    for (d, id, b) in &conv[..2] {
        conn.push(*d, *id, b, false, &mut render_);
    }
    conn.push(Direction::ToServer, 6, &conv[2].2[..5], false, &mut render_);
    conn.gap(Direction::ToServer, 6, 3, &mut render_);
    conn.push(Direction::ToServer, 6, &conv[2].2[8..], false, &mut render_);
    conn.push(Direction::ToServer, 0, &conv[6].2, true, &mut render_);
    conn.finish(&mut render_);
    assert!(
        seen.events[1].contains("request 0") && seen.events[1].contains("err=Some(Qpack(Desync))"),
        "{}",
        seen.events[1]
    );
}

#[test]
fn hole_in_data_and_across_frames() {
    let conv = conversation();
    let r0 = &conv[6].2;
    // Inside the second DATA frame's payload.
    let at = r0.len() - 40;
    let mut conn = H3Connection::new(Limits::default());
    let mut seen = Seen::default();
    for (d, id, b) in &conv[..6] {
        conn.push(*d, *id, b, false, |side, e| render(side, &e, &mut seen));
    }
    conn.push(Direction::ToServer, 0, &r0[..at], false, |side, e| render(side, &e, &mut seen));
    conn.gap(Direction::ToServer, 0, 5, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToServer, 0, &r0[at + 5..], true, |side, e| render(side, &e, &mut seen));
    conn.finish(|side, e| render(side, &e, &mut seen));
    assert!(seen.events.iter().any(|e| e.starts_with("Requests trailers 0")), "{:#?}", seen.events);
    assert!(seen.events.iter().any(|e| e.starts_with("Requests body 0") && e.contains("incomplete=true")));
    // Across frames: the stream is no longer read, its body ends incomplete.
    let mut conn = H3Connection::new(Limits::default());
    let mut seen = Seen::default();
    conn.push(Direction::ToServer, 0, &r0[..30], false, |side, e| render(side, &e, &mut seen));
    conn.gap(Direction::ToServer, 0, 200, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToServer, 0, &r0[230.min(r0.len())..], true, |side, e| render(side, &e, &mut seen));
    conn.finish(|side, e| render(side, &e, &mut seen));
    assert_eq!(conn.stats().streams_lost, 1);
}

#[test]
fn caps() {
    let limits = Limits { max_headers: 2, max_body: 10, ..Limits::default() };
    let (seen, stats) = run(limits, &whole());
    assert!(
        seen.events[1].contains("[:authority: www.example.com; :path: /sample/path] err=None"),
        "{}",
        seen.events[1]
    );
    assert!(stats.messages.headers_truncated >= 1);
    assert!(stats.messages.bodies_truncated >= 1);
    let limits = Limits { max_header_block: 8, ..Limits::default() };
    let (seen, _) = run(limits, &whole());
    assert!(seen.events[1].contains("request 0") && seen.events[1].contains("err=Some(TooLong)"), "{}", seen.events[1]);
    // Stream cap: many request streams, each open.
    let mut conn = H3Connection::new(Limits { max_streams: 3, ..Limits::default() });
    for id in (0..400).step_by(4) {
        conn.push(Direction::ToServer, id, &frame(0x01, &hex("0000 d1 d7 c1")), false, |_, _| {});
        assert!(conn.open_streams() <= 3 + 8);
    }
    assert!(conn.stats().messages.streams_evicted > 0);
}

#[test]
fn malformed() {
    let mut conn = H3Connection::new(Limits::default());
    let mut n = 0;
    // HTTP/2 frame types, DATA on a control stream, a frame cut by FIN, a bad section.
    let mut cc = vec![0x00];
    cc.extend(frame(0x00, b"x"));
    conn.push(Direction::ToServer, 2, &cc, false, |_, _| n += 1);
    let mut r = frame(0x06, &[0; 8]);
    r.extend(frame(0x01, &[0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    r.extend(&[0x00, 0x10, 0x01]);
    let mut err = None;
    conn.push(Direction::ToServer, 0, &r, true, |_, e| {
        if let Event::Request(r) = e {
            err = r.block.error;
        }
    });
    let s = conn.stats();
    assert_eq!(s.frame_errors, 3, "{s:?}");
    assert_eq!(err, Some(BlockError::Qpack(qpack::Error::Integer)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Damaged streams, random chunking and holes, tiny limits, arbitrary bytes on every kind
    /// of stream: nothing panics and the caps hold.
    #[test]
    fn never_panics(
        flips in proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u8>()), 0..8),
        junk in proptest::collection::vec(any::<u8>(), 0..600),
        ids in proptest::collection::vec(0u64..40, 1..6),
        cut in 1usize..50,
        gap in any::<bool>(),
        tiny in any::<bool>(),
    ) {
        let mut conv = conversation();
        for (s, at, x) in &flips {
            let n = conv.len();
            let v = &mut conv[usize::from(*s) % n].2;
            if !v.is_empty() {
                let l = v.len();
                v[usize::from(*at) % l] ^= x;
            }
        }
        for id in ids {
            conv.push((if id % 2 == 0 { Direction::ToServer } else { Direction::ToClient }, id, junk.clone()));
        }
        let limits = if tiny {
            Limits { max_header_block: 16, max_headers: 2, max_header_list: 80, max_table_size: 64, max_streams: 2, max_body: 8, max_buffered: 12, max_decoders: 1, decode: true }
        } else {
            Limits::default()
        };
        let mut conn = H3Connection::new(limits);
        let mut check = |_: Side, e: Event<'_>| {
            if let Event::Body { body, .. } = e {
                assert!(body.data.len() <= limits.max_body);
            }
            if let Event::Request(r) = e {
                assert!(r.block.fields.len() <= limits.max_headers);
            }
        };
        for (k, (d, id, b)) in conv.iter().enumerate() {
            let chunks: Vec<&[u8]> = b.chunks(cut).collect();
            for (i, c) in chunks.iter().enumerate() {
                if gap && (i + k) % 3 == 1 {
                    conn.gap(*d, *id, (cut * 2) as u64, &mut check);
                }
                conn.push(*d, *id, c, i + 1 == chunks.len(), &mut check);
                assert!(conn.open_streams() <= limits.max_streams + 8);
            }
        }
        conn.finish(&mut check);
    }
}

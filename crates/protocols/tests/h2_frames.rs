//! HTTP/2 from hand-built frame sequences: every frame type and flag the parser reads, a
//! dynamic table that carries across blocks and a SETTINGS_HEADER_TABLE_SIZE that bounds
//! it, pushes, resets, trailers, compressed bodies; the same events whatever the chunking
//! (split at every byte boundary, byte by byte); caps, holes and malformed frames; and a
//! proptest that nothing panics.

use std::collections::BTreeMap;
use std::io::Write;

use phonehome_model::Direction;
use phonehome_protocols::h2::{BlockError, Event, H2Connection, Limits, PREFACE, Stats};
use phonehome_protocols::hpack::{self, encode_integer, huffman_encode};
use phonehome_protocols::http::Side;
use proptest::prelude::*;

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn string(s: &[u8], huffman: bool, out: &mut Vec<u8>) {
    if huffman {
        let mut h = Vec::new();
        huffman_encode(s, &mut h);
        encode_integer(h.len() as u64, 7, 0x80, out);
        out.extend_from_slice(&h);
    } else {
        encode_integer(s.len() as u64, 7, 0, out);
        out.extend_from_slice(s);
    }
}

/// A literal field with a literal name: `flags` 0x40 (indexed), 0x00 (not), 0x10 (never).
fn literal(flags: u8, name: &[u8], value: &[u8], huffman: bool) -> Vec<u8> {
    let mut v = vec![flags];
    string(name, huffman, &mut v);
    string(value, huffman, &mut v);
    v
}

/// A literal field whose name is table entry `index`.
fn literal_ref(flags: u8, prefix: u8, index: u64, value: &[u8], huffman: bool) -> Vec<u8> {
    let mut v = Vec::new();
    encode_integer(index, prefix, flags, &mut v);
    string(value, huffman, &mut v);
    v
}

fn indexed(index: u64) -> Vec<u8> {
    let mut v = Vec::new();
    encode_integer(index, 7, 0x80, &mut v);
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const BODY: &[u8] = b"{\"android_id\":\"9774d56d682e549c\",\"gaid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"}";

/// A client and a server exchanging most of what HTTP/2 has.
fn conversation() -> (Vec<u8>, Vec<u8>) {
    let mut c = PREFACE.to_vec();
    // SETTINGS: HEADER_TABLE_SIZE = 256, an unknown setting; then WINDOW_UPDATE, PING, PRIORITY,
    // an unknown frame type, a SETTINGS ACK.
    c.extend(frame(4, 0, 0, &[0, 1, 0, 0, 1, 0, 0xfe, 0xfe, 1, 2, 3, 4]));
    c.extend(frame(8, 0, 0, &[0, 0x0f, 0, 1]));
    c.extend(frame(6, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8]));
    c.extend(frame(2, 0, 3, &[0, 0, 0, 0, 16]));
    c.extend(frame(0xfa, 0x55, 7, b"ignore me"));
    c.extend(frame(4, 1, 0, &[]));
    // Stream 1: POST with a padded, prioritised HEADERS and a CONTINUATION; a padded DATA;
    // trailers.
    let mut block = Vec::new();
    block.extend(indexed(3)); // :method POST
    block.extend(indexed(7)); // :scheme https
    block.extend(literal_ref(0x40, 6, 4, b"/v1/register?imei=490154203237518", true)); // :path, indexed
    block.extend(literal_ref(0x40, 6, 1, b"api.example.com", false)); // :authority, indexed
    block.extend(literal(0x40, b"x-device-id", b"9774d56d682e549c", true));
    block.extend(literal_ref(0x00, 4, 58, b"okhttp/4.9.0", false)); // user-agent, not indexed
    block.extend(literal_ref(0x10, 4, 32, b"session=abc", true)); // cookie, never indexed
    block.extend(literal_ref(0x00, 4, 31, b"application/json", false));
    let (a, b) = block.split_at(10);
    let mut p = vec![3]; // pad length
    p.extend_from_slice(&[0x80, 0, 0, 0, 200]); // exclusive dependency on 0, weight 200
    p.extend_from_slice(a);
    p.extend_from_slice(&[0, 0, 0]);
    c.extend(frame(1, 0x08 | 0x20, 1, &p));
    c.extend(frame(9, 0x04, 1, b));
    let mut d = vec![5];
    d.extend_from_slice(BODY);
    d.extend_from_slice(&[0; 5]);
    c.extend(frame(0, 0x08, 1, &d));
    c.extend(frame(1, 0x05, 1, &literal(0x00, b"x-checksum", b"abc123", false)));
    // Stream 3: GET using the dynamic table (x-device-id, :authority).
    let mut block = Vec::new();
    block.extend(indexed(2));
    block.extend(indexed(7));
    block.extend(literal_ref(0x00, 4, 4, b"/config", false));
    block.extend(indexed(63)); // :authority api.example.com (x-device-id is 62)
    block.extend(indexed(62));
    c.extend(frame(1, 0x05, 3, &block));
    // Stream 5: a request reset by the client while its body is under way.
    let mut block = indexed(3);
    block.extend(indexed(7));
    block.extend(literal_ref(0x00, 4, 4, b"/upload", false));
    c.extend(frame(1, 0x04, 5, &block));
    c.extend(frame(0, 0, 5, b"partial"));
    c.extend(frame(3, 0, 5, &8u32.to_be_bytes()));
    // Stream 7: a request whose response never ends.
    c.extend(frame(1, 0x05, 7, &[0x82, 0x87, 0x84, 0xbf]));
    c.extend(frame(7, 0, 0, &[0, 0, 0, 7, 0, 0, 0, 0, b'b', b'y', b'e']));

    let mut s = Vec::new();
    s.extend(frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]));
    s.extend(frame(4, 1, 0, &[]));
    // Response on 1: a size update to the 256 the client allowed, gzip body in two DATA frames.
    let mut block = vec![0x3f, 0xe1, 0x01];
    block.extend(indexed(8)); // :status 200
    block.extend(literal_ref(0x40, 6, 26, b"gzip", false)); // content-encoding, indexed
    block.extend(literal_ref(0x40, 6, 55, b"uid=42; Path=/", true)); // set-cookie, indexed
    block.extend(literal_ref(0x00, 4, 31, b"application/json", true));
    s.extend(frame(1, 0x04, 1, &block));
    let gz = gzip(BODY);
    let (g1, g2) = gz.split_at(gz.len() / 2);
    let mut d = vec![2];
    d.extend_from_slice(g1);
    d.extend_from_slice(&[0, 0]);
    s.extend(frame(0, 0x08, 1, &d));
    s.extend(frame(0, 0x01, 1, g2));
    // Response on 3, and a push promise on it for stream 2.
    let mut promise = vec![0, 0, 0, 2];
    promise.extend(indexed(2));
    promise.extend(indexed(7));
    promise.extend(literal_ref(0x00, 4, 4, b"/pushed.js", false));
    promise.extend(literal_ref(0x00, 4, 1, b"api.example.com", false));
    s.extend(frame(5, 0x04, 3, &promise));
    s.extend(frame(1, 0x04, 3, &[0x88, 0xbe])); // :status 200, set-cookie from the table (newest)
    s.extend(frame(0, 0x01, 3, b"{\"ok\":true}"));
    s.extend(frame(1, 0x04, 2, &[0x88]));
    s.extend(frame(0, 0x01, 2, b"console.log(1)"));
    // Stream 7: an interim 103 then the final response, a body that never ends.
    s.extend(frame(1, 0x04, 7, &literal_ref(0x00, 4, 8, b"103", false)));
    s.extend(frame(1, 0x04, 7, &[0x8d]));
    s.extend(frame(0, 0, 7, b"not found..."));
    (c, s)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Events as text, with data chunks joined per stream and side (their cut depends on the
/// chunking; their bytes do not).
#[derive(Default, Debug, PartialEq)]
struct Seen {
    events: Vec<String>,
    data: BTreeMap<(u8, u64), Vec<u8>>,
}

fn render(side: Side, e: &Event<'_>, seen: &mut Seen) {
    match e {
        Event::Data { stream_id, data } => {
            seen.data.entry((side as u8, *stream_id)).or_default().extend_from_slice(data);
        }
        Event::Request(r) => {
            let fields: Vec<String> =
                r.block.fields.iter().map(|h| format!("{}: {}", text(h.name), text(h.value))).collect();
            seen.events.push(format!(
                "{side:?} request {} {} {} {} {} promised={:?} end={} [{}] trunc={} err={:?} at {}+{}",
                r.stream_id,
                text(r.method),
                text(r.scheme),
                text(r.authority.unwrap_or(b"-")),
                text(r.path),
                r.promised_on,
                r.end_stream,
                fields.join("; "),
                r.block.truncated,
                r.block.error,
                r.block.offset,
                r.block.len
            ));
        }
        Event::Response(r) => {
            let fields: Vec<String> =
                r.block.fields.iter().map(|h| format!("{}: {}", text(h.name), text(h.value))).collect();
            seen.events.push(format!(
                "{side:?} response {} {:?} end={} [{}] trunc={} err={:?} at {}",
                r.stream_id,
                r.status,
                r.end_stream,
                fields.join("; "),
                r.block.truncated,
                r.block.error,
                r.block.offset
            ));
        }
        Event::Trailers(t) => {
            let fields: Vec<String> =
                t.block.fields.iter().map(|h| format!("{}: {}", text(h.name), text(h.value))).collect();
            seen.events.push(format!("{side:?} trailers {} [{}]", t.stream_id, fields.join("; ")));
        }
        Event::Body { stream_id, body } => seen.events.push(format!(
            "{side:?} body {stream_id} {:?} wire={} decoded={} trunc={} incomplete={} err={}",
            text(body.data),
            body.wire_len,
            body.decoded,
            body.truncated,
            body.incomplete,
            body.decode_error
        )),
        Event::Reset { stream_id, error_code } => seen.events.push(format!("{side:?} reset {stream_id} {error_code}")),
        Event::GoAway { last_stream_id, error_code, debug } => {
            seen.events.push(format!("{side:?} goaway {last_stream_id} {error_code} {}", text(debug)))
        }
    }
}

/// Feeds the client's chunks, then the server's, then finishes.
fn run(limits: Limits, client: &[&[u8]], server: &[&[u8]]) -> (Seen, Stats) {
    let mut conn = H2Connection::new(limits);
    let mut seen = Seen::default();
    for c in client {
        conn.push(Direction::ToServer, c, |side, e| render(side, &e, &mut seen));
    }
    for c in server {
        conn.push(Direction::ToClient, c, |side, e| render(side, &e, &mut seen));
    }
    conn.finish(|side, e| render(side, &e, &mut seen));
    (seen, conn.stats())
}

#[test]
fn conversation_events() {
    let (c, s) = conversation();
    let (seen, stats) = run(Limits::default(), &[&c], &[&s]);
    let expected = [
        "Requests request 1 POST https api.example.com /v1/register?imei=490154203237518 promised=None end=false [:method: POST; :scheme: https; :path: /v1/register?imei=490154203237518; :authority: api.example.com; x-device-id: 9774d56d682e549c; user-agent: okhttp/4.9.0; cookie: session=abc; content-type: application/json] trunc=false err=None at 116+113",
        "Requests trailers 1 [x-checksum: abc123]",
        &format!(
            "Requests body 1 {:?} wire={} decoded=false trunc=false incomplete=false err=false",
            text(BODY),
            BODY.len()
        ),
        "Requests request 3 GET https api.example.com /config promised=None end=true [:method: GET; :scheme: https; :path: /config; :authority: api.example.com; x-device-id: 9774d56d682e549c] trunc=false err=None at ",
        "Requests body 3 \"\" wire=0 decoded=false trunc=false incomplete=false",
        "Requests request 5 POST https - /upload promised=None end=false [:method: POST; :scheme: https; :path: /upload] trunc=false err=None at ",
        "Requests reset 5 8",
        "Requests body 5 \"partial\" wire=7 decoded=false trunc=false incomplete=true err=false",
        "Requests request 7 GET https api.example.com / promised=None end=true",
        "Requests body 7 \"\" wire=0",
        "Requests goaway 7 0 bye",
        "Responses response 1 Some(200) end=false [:status: 200; content-encoding: gzip; set-cookie: uid=42; Path=/; content-type: application/json] trunc=false err=None at 24",
        &format!(
            "Responses body 1 {:?} wire={} decoded=true trunc=false incomplete=false err=false",
            text(BODY),
            gzip(BODY).len()
        ),
        "Requests request 2 GET https api.example.com /pushed.js promised=Some(3) end=true",
        "Requests body 2 \"\" wire=0",
        "Responses response 3 Some(200) end=false [:status: 200; set-cookie: uid=42; Path=/] trunc=false",
        "Responses body 3 \"{\\\"ok\\\":true}\" wire=11",
        "Responses response 2 Some(200)",
        "Responses body 2 \"console.log(1)\"",
        "Responses response 7 Some(103)",
        "Responses response 7 Some(404)",
        "Responses body 7 \"not found...\" wire=12 decoded=false trunc=false incomplete=true",
    ];
    for (i, (got, want)) in seen.events.iter().zip(expected.iter()).enumerate() {
        assert!(got.starts_with(want), "event {i}:\n  got  {got}\n  want {want}...");
    }
    assert_eq!(seen.events.len(), expected.len(), "{:#?}", seen.events);
    assert_eq!(seen.data[&(Side::Requests as u8, 1)], BODY);
    assert_eq!(seen.data[&(Side::Responses as u8, 1)], gzip(BODY));
    assert_eq!(stats.frames, 29);
    assert_eq!(stats.unknown_frames, 1);
    assert_eq!(stats.frame_errors, 0);
    assert_eq!(stats.table_over_setting, 0);
    assert_eq!(stats.messages.messages, 9);
    assert_eq!(stats.messages.block_errors, 0);
}

#[test]
fn every_split_gives_the_same_events() {
    let (c, s) = conversation();
    let (whole, stats) = run(Limits::default(), &[&c], &[&s]);
    for k in 0..=c.len() {
        let (a, b) = c.split_at(k);
        let (seen, st) = run(Limits::default(), &[a, b], &[&s]);
        assert_eq!(seen, whole, "client split at {k}");
        assert_eq!(st, stats);
    }
    for k in 0..=s.len() {
        let (a, b) = s.split_at(k);
        let (seen, st) = run(Limits::default(), &[&c], &[a, b]);
        assert_eq!(seen, whole, "server split at {k}");
        assert_eq!(st, stats);
    }
    let bytes = |v: &[u8]| v.chunks(1).map(|x| x.to_vec()).collect::<Vec<_>>();
    let (cb, sb) = (bytes(&c), bytes(&s));
    let cs: Vec<&[u8]> = cb.iter().map(Vec::as_slice).collect();
    let ss: Vec<&[u8]> = sb.iter().map(Vec::as_slice).collect();
    let (seen, st) = run(Limits::default(), &cs, &ss);
    assert_eq!(seen, whole, "byte by byte");
    assert_eq!(st, stats);
}

#[test]
fn interleaved_directions_give_the_same_events_per_side() {
    // Both directions cut into 5-byte pieces and alternated: each side's events are the
    // same (their order across sides may differ, and the server's table size update comes
    // after the client's SETTINGS either way).
    let (c, s) = conversation();
    let (whole, _) = run(Limits::default(), &[&c], &[&s]);
    let mut conn = H2Connection::new(Limits::default());
    let mut seen = Seen::default();
    let (mut ci, mut si) = (c.chunks(5), s.chunks(5));
    loop {
        let (a, b) = (ci.next(), si.next());
        if a.is_none() && b.is_none() {
            break;
        }
        if let Some(a) = a {
            conn.push(Direction::ToServer, a, |side, e| render(side, &e, &mut seen));
        }
        if let Some(b) = b {
            conn.push(Direction::ToClient, b, |side, e| render(side, &e, &mut seen));
        }
    }
    conn.finish(|side, e| render(side, &e, &mut seen));
    let mut a = seen.events.clone();
    let mut b = whole.events.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(seen.data, whole.data);
}

#[test]
fn roles_follow_the_preface() {
    // The client's bytes arrive from the responder: a flow whose initiator was guessed wrong.
    let (c, s) = conversation();
    let mut conn = H2Connection::new(Limits::default());
    let mut seen = Seen::default();
    conn.push(Direction::ToClient, &c, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToServer, &s, |side, e| render(side, &e, &mut seen));
    conn.finish(|side, e| render(side, &e, &mut seen));
    assert_eq!(conn.side(Direction::ToClient), Side::Requests);
    let (whole, _) = run(Limits::default(), &[&c], &[&s]);
    assert_eq!(seen, whole);
}

#[test]
fn no_preface_is_not_read() {
    let mut conn = H2Connection::new(Limits::default());
    let mut n = 0;
    conn.push(Direction::ToServer, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", |_, _| n += 1);
    assert_eq!(n, 0);
    assert_eq!(conn.stats().no_preface, 1);
    let (_, s) = conversation();
    conn.push(Direction::ToClient, &s, |_, _| n += 1);
    assert!(n > 0, "the server side is still read");
}

#[test]
fn header_count_and_size_caps() {
    let (c, s) = conversation();
    let limits = Limits { max_headers: 4, ..Limits::default() };
    let (seen, stats) = run(limits, &[&c], &[&s]);
    assert!(seen.events[0].contains("[:method: POST; :scheme: https; :path: /v1/register?imei=490154203237518; :authority: api.example.com] trunc=true"), "{}", seen.events[0]);
    // The table stays right: x-device-id was inserted though not output, so stream 3's
    // reference to :authority (index 63, behind it) still resolves.
    assert!(seen.events[3].contains("request 3 GET https api.example.com /config"), "{}", seen.events[3]);
    assert!(stats.messages.headers_truncated >= 2);
    let limits = Limits { max_header_list: 100, ..Limits::default() };
    let (seen, _) = run(limits, &[&c], &[&s]);
    assert!(seen.events[0].contains("[:method: POST; :scheme: https] trunc=true"), "{}", seen.events[0]);
}

#[test]
fn header_block_cap_loses_the_table() {
    let (c, s) = conversation();
    let limits = Limits { max_header_block: 40, ..Limits::default() };
    let (seen, stats) = run(limits, &[&c], &[&s]);
    assert!(
        seen.events[0].contains("request 1   -  promised=None end=false [] trunc=false err=Some(TooLong)"),
        "{}",
        seen.events[0]
    );
    assert!(seen.events.iter().any(|e| e.contains("request 3") && e.contains("err=Some(Hpack(Desync))")));
    assert!(stats.messages.blocks_too_long >= 1);
    // Its body is still read.
    assert!(seen.events.iter().any(|e| e.starts_with("Requests body 1 \"{")));
}

#[test]
fn stream_cap_evicts_the_oldest() {
    let mut c = PREFACE.to_vec();
    for id in (1..=21).step_by(2) {
        c.extend(frame(1, 0x04, id, &[0x83, 0x87, 0x84]));
        c.extend(frame(0, 0, id, b"x"));
    }
    let limits = Limits { max_streams: 4, ..Limits::default() };
    let (seen, stats) = run(limits, &[&c], &[]);
    assert_eq!(stats.messages.streams_evicted, 7);
    let bodies = seen.events.iter().filter(|e| e.contains(" body ") && e.contains("incomplete=true")).count();
    assert_eq!(bodies, 11, "every body ends once, incomplete");
    // A frame for an evicted stream is ignored.
    let mut late = c.clone();
    late.extend(frame(0, 1, 1, b"late"));
    let (_, stats) = run(limits, &[&late], &[]);
    assert_eq!(stats.messages.late_frames, 1);
}

#[test]
fn body_caps() {
    let (c, s) = conversation();
    let limits = Limits { max_body: 10, ..Limits::default() };
    let (seen, stats) = run(limits, &[&c], &[&s]);
    assert!(
        seen.events.iter().any(|e| e.starts_with("Requests body 1 \"{\\\"android_\" wire=79 decoded=false trunc=true")),
        "{:#?}",
        seen.events
    );
    assert!(
        seen.events
            .iter()
            .any(|e| e.starts_with("Responses body 1 \"{\\\"android_\"") && e.contains("decoded=true trunc=true"))
    );
    assert!(stats.messages.bodies_truncated >= 2);
    let limits = Limits { max_decoders: 0, ..Limits::default() };
    let (seen, stats) = run(limits, &[&c], &[&s]);
    assert!(seen.events.iter().any(|e| e.starts_with("Responses body 1 \"\"") && e.contains("trunc=true")));
    assert_eq!(stats.messages.bodies_skipped, 1);
    let limits = Limits { max_buffered: 20, ..Limits::default() };
    let (seen, _) = run(limits, &[&c], &[&s]);
    assert!(
        seen.events.iter().any(|e| e.starts_with("Requests body 1 \"{\\\"android_id\\\":\\\"9774d\" wire=79")),
        "{:#?}",
        seen.events
    );
}

#[test]
fn hole_inside_data_is_stepped_over() {
    let (c, s) = conversation();
    // Cut the server's bytes inside the first gzip DATA frame's data.
    let at = s.windows(2).position(|w| w == [0x1f, 0x8b]).unwrap() + 4;
    let mut conn = H2Connection::new(Limits::default());
    let mut seen = Seen::default();
    conn.push(Direction::ToServer, &c, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToClient, &s[..at], |side, e| render(side, &e, &mut seen));
    conn.gap(Direction::ToClient, 3, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToClient, &s[at + 3..], |side, e| render(side, &e, &mut seen));
    conn.finish(|side, e| render(side, &e, &mut seen));
    let (whole, _) = run(Limits::default(), &[&c], &[&s]);
    let body1 = seen.events.iter().find(|e| e.starts_with("Responses body 1")).unwrap();
    assert!(body1.contains("incomplete=true"), "{body1}");
    // Everything after it is as without the hole.
    let after =
        |v: &[String]| v.iter().skip_while(|e| !e.starts_with("Responses body 1")).skip(1).cloned().collect::<Vec<_>>();
    assert_eq!(after(&seen.events), after(&whole.events));
    assert_eq!(conn.stats().lost, 0);
}

#[test]
fn hole_across_frames_loses_the_direction() {
    let (c, s) = conversation();
    let mut conn = H2Connection::new(Limits::default());
    let mut seen = Seen::default();
    conn.push(Direction::ToServer, &c, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToClient, &s[..20], |side, e| render(side, &e, &mut seen));
    conn.gap(Direction::ToClient, 100, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToClient, &s[120..], |side, e| render(side, &e, &mut seen));
    assert_eq!(conn.stats().lost, 1);
    assert!(!conn.is_done(), "the client side is still read");
    conn.finish(|side, e| render(side, &e, &mut seen));
    assert!(!seen.events.iter().any(|e| e.starts_with("Responses")));
}

#[test]
fn hole_inside_a_header_block_desyncs_its_direction() {
    let (c, s) = conversation();
    // The first HEADERS of the client starts after the preface and 5 frames.
    let first = PREFACE.len() + (9 + 12) + (9 + 4) + (9 + 8) + (9 + 5) + (9 + 9) + 9;
    let at = first + 9 + 8;
    let mut conn = H2Connection::new(Limits::default());
    let mut seen = Seen::default();
    conn.push(Direction::ToServer, &c[..at], |side, e| render(side, &e, &mut seen));
    conn.gap(Direction::ToServer, 2, |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToServer, &c[at + 2..], |side, e| render(side, &e, &mut seen));
    conn.push(Direction::ToClient, &s, |side, e| render(side, &e, &mut seen));
    conn.finish(|side, e| render(side, &e, &mut seen));
    assert!(seen.events[0].contains("request 1") && seen.events[0].contains("Desync"), "{}", seen.events[0]);
    assert!(seen.events.iter().any(|e| e.contains("request 3") && e.contains("Desync")));
    // The server's side decodes as before.
    assert!(seen.events.iter().any(|e| e.contains("response 1 Some(200)") && e.contains("err=None")));
}

#[test]
fn malformed_frames_are_skipped() {
    let mut c = PREFACE.to_vec();
    c.extend(frame(4, 0, 0, &[0, 1, 0])); // SETTINGS not a multiple of 6
    c.extend(frame(0, 0x08, 1, &[9, 1, 2])); // padding longer than the frame
    c.extend(frame(3, 0, 1, &[0, 0])); // RST_STREAM too short
    c.extend(frame(9, 0x04, 1, &[0x82])); // CONTINUATION without a block
    c.extend(frame(1, 0x04, 0, &[0x82])); // HEADERS on stream 0
    let (_, stats) = run(Limits::default(), &[&c], &[]);
    assert_eq!(stats.frame_errors, 5);
    // A HEADERS interrupted by another frame.
    let mut c = PREFACE.to_vec();
    c.extend(frame(1, 0, 1, &[0x82]));
    c.extend(frame(6, 0, 0, &[0; 8]));
    c.extend(frame(1, 0x05, 3, &[0x82, 0x87, 0x84]));
    let (seen, stats) = run(Limits::default(), &[&c], &[]);
    assert_eq!(stats.frame_errors, 1);
    assert!(seen.events[0].contains("request 3") && seen.events[0].contains("Desync"), "{:?}", seen.events);
}

#[test]
fn table_size_over_the_cap_is_clamped() {
    let mut s = frame(4, 0, 0, &[]);
    // Size update to 1 MiB, insert an entry, refer to it.
    let mut block = Vec::new();
    encode_integer(1 << 20, 5, 0x20, &mut block);
    block.extend(indexed(8));
    block.extend(literal(0x40, b"x-big", &[b'a'; 100], false));
    s.extend(frame(1, 0x04, 2, &block));
    s.extend(frame(1, 0x05, 4, &[0x88, 0xbe]));
    let limits = Limits { max_table_size: 200, ..Limits::default() };
    let (seen, stats) = run(limits, &[], &[&s]);
    assert_eq!(stats.table_capped, 1);
    assert!(seen.events.iter().any(|e| e.contains("response 4") && e.contains("x-big: aaaa")), "{:#?}", seen.events);
    let limits = Limits { max_table_size: 130, ..Limits::default() };
    let (seen, _) = run(limits, &[], &[&s]);
    assert!(seen.events.iter().any(|e| e.contains("response 4") && e.contains("Index(62)")), "{:#?}", seen.events);
}

#[test]
fn hpack_amplification_is_bounded() {
    // One 4 KiB entry, then a block of 100 000 one-byte references to it: the output stops
    // at the list cap and the work stays linear.
    let mut s = frame(4, 0, 0, &[]);
    let mut block = indexed(8);
    block.extend(literal(0x40, b"x", &[b'a'; 4000], false));
    s.extend(frame(1, 0x05, 2, &block));
    let refs = vec![0xbe; 100_000];
    let mut hdr = frame(1, 0x05, 4, &[]);
    hdr[0] = (refs.len() >> 16) as u8;
    hdr[1] = (refs.len() >> 8) as u8;
    hdr[2] = refs.len() as u8;
    s.extend(hdr);
    s.extend(&refs);
    let t = std::time::Instant::now();
    let (seen, stats) = run(Limits::default(), &[], &[&s]);
    assert!(t.elapsed().as_secs() < 5);
    assert_eq!(stats.messages.headers_truncated, 1);
    assert!(seen.events.iter().any(|e| e.contains("response 4") && e.contains("trunc=true")));
}

#[test]
fn huge_frames_are_stepped_over_without_buffering() {
    let mut c = PREFACE.to_vec();
    // A 16 MiB - 1 unknown frame, then a request.
    c.extend_from_slice(&[0xff, 0xff, 0xff, 0xee, 0, 0, 0, 0, 0]);
    c.extend(std::iter::repeat_n(0u8, (1 << 24) - 1));
    c.extend(frame(1, 0x05, 1, &[0x82, 0x87, 0x84]));
    let (seen, _) = run(Limits::default(), &[&c], &[]);
    assert!(seen.events[0].contains("request 1 GET"));
}

#[test]
fn huffman_everywhere_and_hpack_helpers_agree() {
    let mut s = frame(4, 0, 0, &[]);
    let mut block = indexed(8);
    block.extend(literal(0x40, b"x-all-bytes", &(0..=255u8).collect::<Vec<_>>(), true));
    s.extend(frame(1, 0x05, 2, &block));
    let mut conn = H2Connection::new(Limits::default());
    let mut value = Vec::new();
    conn.push(Direction::ToClient, &s, |_, e| {
        if let Event::Response(r) = e {
            value = r.block.get(b"x-all-bytes").unwrap().to_vec();
        }
    });
    assert_eq!(value, (0..=255u8).collect::<Vec<_>>());
    assert_eq!(hpack::huffman_len(b"www.example.com"), 12);
}

#[test]
fn block_error_type_is_reported() {
    let mut c = PREFACE.to_vec();
    c.extend(frame(1, 0x05, 1, &[0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    let mut err = None;
    let mut conn = H2Connection::new(Limits::default());
    conn.push(Direction::ToServer, &c, |_, e| {
        if let Event::Request(r) = e {
            err = r.block.error;
            assert_eq!(r.method, b"GET");
        }
    });
    assert_eq!(err, Some(BlockError::Hpack(hpack::Error::Integer)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes after a preface, and arbitrary damage to a real conversation, in
    /// arbitrary chunks with holes, under tiny limits: nothing panics, and every body
    /// stays within its cap.
    #[test]
    fn never_panics(
        junk in proptest::collection::vec(any::<u8>(), 0..2000),
        flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 0..8),
        cuts in proptest::collection::vec(1usize..300, 1..20),
        gap_at in proptest::option::of(0usize..20),
        tiny in any::<bool>(),
    ) {
        let (mut c, mut s) = conversation();
        for (i, (at, x)) in flips.iter().enumerate() {
            let v = if i % 2 == 0 { &mut c } else { &mut s };
            let n = v.len();
            v[usize::from(*at) % n] ^= x;
        }
        let mut cj = PREFACE.to_vec();
        cj.extend_from_slice(&junk);
        let limits = if tiny {
            Limits { max_header_block: 64, max_headers: 2, max_header_list: 80, max_table_size: 64, max_streams: 2, max_body: 8, max_buffered: 12, max_decoders: 1, decode: true }
        } else {
            Limits::default()
        };
        for (client, server) in [(&c, &s), (&cj, &junk), (&junk, &cj)] {
            let mut conn = H2Connection::new(limits);
            let mut check = |_: Side, e: Event<'_>| {
                if let Event::Body { body, .. } = e {
                    assert!(body.data.len() <= limits.max_body);
                }
                if let Event::Request(r) = e {
                    assert!(r.block.fields.len() <= limits.max_headers);
                }
            };
            let (mut i, mut j, mut k) = (0, 0, 0);
            while i < client.len() || j < server.len() {
                let n = cuts[k % cuts.len()];
                if gap_at == Some(k) {
                    conn.gap(Direction::ToServer, n as u64, &mut check);
                }
                k += 1;
                if i < client.len() {
                    let e = (i + n).min(client.len());
                    conn.push(Direction::ToServer, &client[i..e], &mut check);
                    i = e;
                }
                if j < server.len() {
                    let e = (j + n).min(server.len());
                    conn.push(Direction::ToClient, &server[j..e], &mut check);
                    j = e;
                }
                assert!(conn.open_streams() <= limits.max_streams);
            }
            conn.finish(&mut check);
        }
    }
}

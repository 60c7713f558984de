//! Property tests: any HAR that a JSON writer produces from arbitrary requests and responses
//! reads back to the same values (headers in order with duplicates, any Unicode, binary
//! bodies through base64), whatever the formatting, a BOM or compression; and cutting such a
//! file anywhere never loses an entry that lies wholly before the cut.

use proptest::prelude::*;
use serde_json::{Value, json};

use phonehome_har::{Limits, parse};

#[derive(Clone, Debug)]
struct Gen {
    method: String,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    post: Option<Vec<u8>>,
    status: u16,
    status_as_string: bool,
    body: Vec<u8>,
    body_base64: bool,
    millis: i64,
}

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including quotes, backslashes, control characters and non-BMP characters,
    // which the JSON writer escapes.
    prop_oneof![3 => "[ -~]{0,24}", 1 => any::<String>().prop_map(|s| s.chars().take(24).collect())]
}

fn gen_entry() -> impl Strategy<Value = Gen> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "OPTIONS"]),
        "[a-z]{1,10}(\\.[a-z]{1,8}){1,2}",
        "(/[a-zA-Z0-9_%=&?.-]{0,12}){0,3}",
        prop::collection::vec(("[A-Za-z:][A-Za-z0-9-]{0,12}", text()), 0..6),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        (100u16..600, any::<bool>()),
        (prop::collection::vec(any::<u8>(), 0..96), any::<bool>()),
        0i64..4_102_444_800_000,
    )
        .prop_map(|(m, host, path, headers, post, (status, sas), (body, b64), millis)| Gen {
            method: m.to_string(),
            host,
            path,
            headers,
            post,
            status,
            status_as_string: sas,
            body_base64: b64 || std::str::from_utf8(&body).is_err(),
            body,
            millis,
        })
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn iso(millis: i64) -> String {
    // Civil from days (H. Hinnant), to write the time the way Chrome does.
    let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

fn to_json(g: &Gen) -> Value {
    let headers: Vec<Value> = g.headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
    let mut req = json!({"method": g.method, "url": format!("https://{}{}", g.host, g.path),
        "httpVersion": "HTTP/1.1", "headers": headers, "cookies": [], "queryString": [],
        "headersSize": -1, "bodySize": 0});
    if let Some(p) = &g.post {
        req["postData"] = json!({"mimeType": "application/octet-stream", "text": b64(p), "encoding": "base64"});
    }
    let content = if g.body_base64 {
        json!({"size": g.body.len(), "mimeType": "application/octet-stream", "text": b64(&g.body), "encoding": "base64"})
    } else {
        json!({"size": g.body.len(), "mimeType": "text/plain", "text": String::from_utf8(g.body.clone()).unwrap()})
    };
    let status = if g.status_as_string { json!(g.status.to_string()) } else { json!(g.status) };
    json!({"startedDateTime": iso(g.millis), "time": 1.5, "request": req,
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1", "headers": [],
                     "cookies": [], "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0.5}})
}

fn document(entries: &[Gen]) -> Value {
    json!({"log": {"version": "1.2", "creator": {"name": "proptest", "version": "1"},
        "entries": entries.iter().map(to_json).collect::<Vec<_>>()}})
}

fn check(g: &Gen, e: &phonehome_har::Entry) {
    assert_eq!(e.request.method, g.method);
    assert_eq!(e.request.host().as_deref(), Some(g.host.as_str()));
    let hs: Vec<(String, String)> = e.request.headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect();
    assert_eq!(hs, g.headers);
    assert_eq!(e.request.post_data.as_ref().and_then(|p| p.text.as_ref()).map(|b| b.bytes.clone()), g.post);
    let r = e.response.as_ref().unwrap();
    assert_eq!(r.status, g.status);
    let body = r.content.text.as_ref().unwrap();
    assert_eq!((&body.bytes, body.base64), (&g.body, g.body_base64));
    let t = e.started.unwrap();
    assert_eq!(t.secs * 1000 + i64::from(t.nanos / 1_000_000), g.millis);
    assert_eq!(t.nanos % 1_000_000, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn written_hars_read_back(entries in prop::collection::vec(gen_entry(), 0..6), pretty: bool, bom: bool, zlib: bool) {
        let doc = document(&entries);
        let mut bytes = if pretty { serde_json::to_vec_pretty(&doc) } else { serde_json::to_vec(&doc) }.unwrap();
        if bom {
            bytes.splice(0..0, *b"\xef\xbb\xbf");
        }
        if zlib {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(&bytes).unwrap();
            bytes = z.finish().unwrap();
        }
        let h = parse(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(h.entries.len(), entries.len());
        for (g, e) in entries.iter().zip(&h.entries) {
            check(g, e);
        }
    }

    #[test]
    fn a_cut_file_keeps_every_entry_before_the_cut(entries in prop::collection::vec(gen_entry(), 1..5), cut in any::<prop::sample::Index>()) {
        let bytes = serde_json::to_vec(&document(&entries)).unwrap();
        let at = cut.index(bytes.len());
        // Where each entry's text ends: the writer is deterministic, so each entry serialised
        // alone is found verbatim, in order.
        let text = std::str::from_utf8(&bytes).unwrap();
        let mut from = text.find("\"entries\":[").unwrap();
        let mut ends = Vec::new();
        for g in &entries {
            let s = serde_json::to_string(&to_json(g)).unwrap();
            let start = text[from..].find(&s).unwrap() + from;
            from = start + s.len();
            ends.push(from);
        }
        match parse(&bytes[..at], &Limits::default()) {
            Ok(h) => {
                for (g, e) in entries.iter().zip(&h.entries) {
                    check(g, e);
                }
                // Every entry wholly before the cut is read, and none after it.
                prop_assert_eq!(h.entries.len(), ends.iter().filter(|&&end| end <= at).count());
            }
            Err(e) => prop_assert!(matches!(e, phonehome_har::HarError::Truncated { .. }), "{}", e),
        }
    }
}

//! The HAR fixtures in fixtures/har/ (sources and identifier values in SOURCES.md), read
//! whole and entry by entry, with declarative expectations: where each identifier must be
//! found after parsing, and what the reader must report.

use std::path::PathBuf;

use phonehome_har::{Body, Entry, Har, Limits, Producer, SkipReason, parse, parse_each};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/har").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn read(name: &str) -> Har {
    parse(&fixture(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every place of an entry where the engine searches, as (location, bytes).
fn places(e: &Entry) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("url".to_string(), e.request.url.clone().into_bytes())];
    for h in &e.request.headers {
        out.push((format!("header:{}", h.name), h.value.clone().into_bytes()));
    }
    for c in &e.request.cookies {
        out.push(("cookie".into(), c.value.clone().into_bytes()));
    }
    for q in &e.request.query {
        out.push(("query".into(), q.value.clone().into_bytes()));
    }
    if let Some(p) = &e.request.post_data {
        if let Some(t) = &p.text {
            out.push(("body".into(), t.bytes.clone()));
            if let Some(l) = t.latin1() {
                out.push(("body".into(), l));
            }
        }
        for prm in &p.params {
            out.push(("form".into(), prm.value.clone().into_bytes()));
        }
    }
    if let Some(r) = &e.response {
        for h in &r.headers {
            out.push((format!("response-header:{}", h.name), h.value.clone().into_bytes()));
        }
        if let Some(t) = &r.content.text {
            out.push(("response-body".into(), t.bytes.clone()));
            if t.compressed_as() == Some("gzip") {
                let mut d = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&t.bytes[..]), &mut d).unwrap();
                out.push(("response-body(gunzip)".into(), d));
            }
        }
    }
    for m in &e.websocket {
        out.push((if m.sent { "ws-send" } else { "ws-receive" }.into(), m.data.bytes.clone()));
    }
    out
}

/// The locations (deduplicated, sorted) of `value` across all entries.
fn found(h: &Har, value: &str) -> Vec<String> {
    let mut locs: Vec<String> = h
        .entries
        .iter()
        .flat_map(places)
        .filter(|(_, b)| b.windows(value.len()).any(|w| w.eq_ignore_ascii_case(value.as_bytes())))
        .map(|(l, _)| l)
        .collect();
    locs.sort();
    locs.dedup();
    locs
}

fn count_entries_with(h: &Har, value: &str) -> usize {
    h.entries
        .iter()
        .filter(|e| places(e).iter().any(|(_, b)| b.windows(value.len()).any(|w| w == value.as_bytes())))
        .count()
}

// ---- (a) 1kxun_chrome.har: real traffic from nDPI's 1kxun.pcap, Chrome-shaped ----

#[test]
fn kxun_chrome_reads_every_entry() {
    let h = read("1kxun_chrome.har");
    assert_eq!(h.log.producer(), Producer::Chromium);
    assert_eq!(h.log.version.as_deref(), Some("1.2"));
    let r = &h.log.report;
    assert_eq!((r.entries_seen, r.entries_read, r.entries_skipped), (109, 109, 0));
    assert_eq!(r.stopped, None);
    assert_eq!(h.log.pages.len(), 1);
    assert!(h.log.pages[0].title.starts_with("http://mangaweb.1kxun.mobi/detail?id=27159"));
    assert_eq!(h.entries.iter().filter(|e| e.pageref.as_deref() == Some("page_1")).count(), 51);
    // Requests the capture has no answer for: status 0 with Chrome's _error.
    let unanswered: Vec<_> = h.entries.iter().filter(|e| e.response.as_ref().unwrap().status == 0).collect();
    assert_eq!(unanswered.len(), 18);
    assert!(unanswered.iter().all(|e| e.response.as_ref().unwrap().error.as_deref() == Some("net::ERR_ABORTED")));
    // Nothing odd in a clean export.
    assert!(
        h.entries.iter().all(|e| e.anomalies.is_empty()),
        "{:?}",
        h.entries.iter().find(|e| !e.anomalies.is_empty())
    );
}

#[test]
fn kxun_chrome_first_entry_in_full() {
    let h = read("1kxun_chrome.har");
    let e = &h.entries[0];
    assert_eq!(e.index, 0);
    // Frame 1033 of the capture: 1654385119.050 (2022-06-04T23:25:19.050Z).
    assert_eq!(e.started.map(|t| (t.secs, t.nanos)), Some((1654385119, 50_000_000)));
    assert_eq!(e.server_ip, Some("172.104.93.92".parse().unwrap()));
    assert_eq!(e.connection.as_deref(), Some("30"));
    assert_eq!(e.request.method, "GET");
    assert_eq!(e.request.http_version, "HTTP/1.1");
    assert_eq!(e.request.host().as_deref(), Some("ws.1kxun.mobi"));
    assert_eq!(e.request.header("host"), Some("ws.1kxun.mobi:1234"));
    let q = |n: &str| e.request.query.iter().find(|p| p.name == n).map(|p| p.value.as_str());
    assert_eq!(q("_android_id"), Some("b9e28776354d259e"));
    assert_eq!(q("_aid"), Some("5ac6a0ff-8d18-47bc-a902-2812cf0c251e"));
    assert_eq!(q("_resolution"), Some("1080,1794")); // decoded from %2C
    let r = e.response.as_ref().unwrap();
    assert_eq!((r.status, r.status_text.as_str()), (101, "Switching Protocols"));
}

#[test]
fn kxun_chrome_identifiers_where_the_capture_has_them() {
    let h = read("1kxun_chrome.har");
    // PII_HIGHLIGHTS.md: Android ID in URLs and the Client-AndroidId header; servers echo it
    // back in redirects (Location) and in one JSON body.
    assert_eq!(
        found(&h, "b9e28776354d259e"),
        ["header:Client-AndroidId", "query", "response-body", "response-header:Location", "url"]
    );
    assert_eq!(count_entries_with(&h, "b9e28776354d259e"), 10);
    assert_eq!(h.entries.iter().filter(|e| e.request.header("Client-AndroidId").is_some()).count(), 5);
    // Advertising ID: _aid and _gaid in URLs, and the ad SDK's form POSTs; echoed in redirects.
    assert_eq!(
        found(&h, "5ac6a0ff-8d18-47bc-a902-2812cf0c251e"),
        ["body", "form", "query", "response-body", "response-header:Location", "url"]
    );
    assert_eq!(count_entries_with(&h, "5ac6a0ff-8d18-47bc-a902-2812cf0c251e"), 18);
    // _udid in URLs and the Client-Uid header.
    assert!(found(&h, "e6dbd30b-3b84-44b4-9751-631148a3ede9").contains(&"header:Client-Uid".to_string()));
    // The Google Analytics client id travels as a cookie.
    assert!(found(&h, "GA1.2.694524528.1654385142").contains(&"cookie".to_string()));
}

#[test]
fn kxun_chrome_bodies() {
    let h = read("1kxun_chrome.har");
    let by_url = |s: &str| h.entries.iter().find(|e| e.request.url.contains(s)).unwrap();
    // A gzip+chunked response as tshark decoded it, kept as text.
    let banners = by_url("HomePageBanners").response.as_ref().unwrap();
    let text = &banners.content.text.as_ref().unwrap().bytes;
    assert!(text.starts_with(br#"{"status":"success","timestamp":1654385129"#));
    assert_eq!(banners.header("Content-Encoding"), Some("gzip"));
    assert_eq!(banners.content.size, Some(19848));
    // A 9-byte octet-stream, in base64.
    let conf = &by_url("api.domain.conf").response.as_ref().unwrap().content;
    assert_eq!(conf.text.as_ref().map(|b| (b.bytes.as_slice(), b.base64)), Some((&b"1kxun.com"[..], true)));
    // The zlib upload written one byte per character: its Latin-1 reading is zlib.
    let upload = by_url("upload.php").request.post_data.as_ref().unwrap();
    assert_eq!(upload.mime_type, "application/octet-stream");
    let raw = upload.text.as_ref().unwrap().latin1().unwrap();
    assert_eq!(raw.len(), 265);
    assert_eq!(Body { bytes: raw, base64: false }.compressed_as(), Some("deflate"));
    // Images in base64 decode to their magic numbers.
    let png = h
        .entries
        .iter()
        .filter_map(|e| e.response.as_ref()?.content.text.as_ref().filter(|b| b.base64))
        .filter(|b| b.bytes.starts_with(b"\x89PNG"))
        .count();
    assert!(png >= 5, "{png}");
}

// ---- (b) mitmproxy_app.har: mitmproxy's savehar format, made-up device ----

#[test]
fn mitmproxy_entries_and_formats() {
    let h = read("mitmproxy_app.har");
    assert_eq!(h.log.producer(), Producer::Mitmproxy);
    assert_eq!(h.log.creator.comment.as_deref(), Some("mitmproxy version 10.2.4"));
    assert!(h.log.pages.is_empty());
    assert_eq!((h.entries.len(), h.log.report.entries_skipped), (7, 0));
    let e = &h.entries[0];
    // Python isoformat() with microseconds and +00:00.
    assert_eq!(e.started.map(|t| (t.secs, t.nanos)), Some((1710234902, 123_456_000)));
    // The form POST: text and params both.
    let p = e.request.post_data.as_ref().unwrap();
    assert_eq!(p.mime_type, "application/x-www-form-urlencoded");
    assert_eq!(p.params.iter().find(|p| p.name == "imei").map(|p| p.value.as_str()), Some("353288072143666"));
    // The HTTP/2 request: lowercase headers, IPv6 server.
    let h2 = &h.entries[2];
    assert_eq!(h2.request.http_version, "HTTP/2.0");
    assert_eq!(h2.server_ip, Some("2001:db8::443".parse().unwrap()));
    // No response: status 0 and the error.
    let dead = h.entries[6].response.as_ref().unwrap();
    assert_eq!((dead.status, dead.error.as_deref()), (0, Some("Server disconnected.")));
    assert!(h.entries[6].anomalies.is_empty(), "{:?}", h.entries[6].anomalies);
}

#[test]
fn mitmproxy_gzip_file_in_base64_and_decoded_content_encoding() {
    let h = read("mitmproxy_app.har");
    let cfg = h.entries[1].response.as_ref().unwrap();
    let body = cfg.content.text.as_ref().unwrap();
    assert!(body.base64);
    assert_eq!(body.compressed_as(), Some("gzip"));
    assert_eq!(cfg.content.mime_type, "application/gzip");
    // Content-Encoding gzip: mitmproxy stored the decoded text; `size` is the wire size.
    let me = h.entries[2].response.as_ref().unwrap();
    assert_eq!(me.header("content-encoding"), Some("gzip"));
    let text = me.content.text.as_ref().unwrap();
    assert!(!text.base64 && text.compressed_as().is_none());
    assert!(me.content.compression.unwrap() > 0);
}

#[test]
fn mitmproxy_identifiers() {
    let h = read("mitmproxy_app.har");
    let f = |v| found(&h, v);
    assert_eq!(
        f("3f8a9c2e71b4d605"),
        ["body", "form", "header:x-device-id", "query", "response-header:Set-Cookie", "url", "ws-send"]
    );
    assert_eq!(f("c9f3e2a1-7b4d-4e8f-9a2c-5d6e7f8a9b0c"), ["body", "form", "query", "response-body(gunzip)", "url"]);
    assert_eq!(f("353288072143666"), ["body", "form", "ws-send"]);
    assert_eq!(f("310260000123456"), ["body"]);
    assert_eq!(f("8944100000123456782"), ["body"]);
    assert_eq!(f("+447700900123"), ["body", "response-body"]);
    assert_eq!(f("jane.doe@example.com"), ["query", "response-body"]);
    assert_eq!(f("jane.doe%40example.com"), ["url"]);
    // SHA-256 of the e-mail address, in a response.
    assert_eq!(f("86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"), ["response-body"]);
    assert_eq!(f("A483E75B129F"), ["body"]);
    assert_eq!(f("R58N41XKZ7Y"), ["response-body(gunzip)"]);
    assert_eq!(f("1.29027"), ["body", "form"]);
}

// ---- (c) pcapdroid_app.har: PCAPdroid's HarWriter format, made-up device ----

#[test]
fn pcapdroid_entries_and_formats() {
    let h = read("pcapdroid_app.har");
    assert_eq!(h.log.producer(), Producer::Pcapdroid);
    assert_eq!((h.entries.len(), h.log.report.entries_skipped), (5, 0));
    let e = &h.entries[0];
    // Local time with its offset: 14:03:11.482+01:00 is 13:03:11.482Z.
    assert_eq!(e.started.map(|t| (t.secs, t.nanos)), Some((1739192591, 482_000_000)));
    assert_eq!(e.connection.as_deref(), Some("57"));
    assert_eq!(e.time_ms, Some(143.0));
    // Request cookies split from the Cookie header.
    assert_eq!(e.request.cookies[0].value, "3f8a9c2e71b4d605");
    // Binary upload: PCAPdroid's `encoding: "base64"` on postData.
    let up = h.entries[1].request.post_data.as_ref().unwrap().text.as_ref().unwrap();
    assert!(up.base64);
    assert!(up.bytes.starts_with(b"\x0a\x0f353288072143666"));
    assert!(up.bytes.ends_with(&[0xa4, 0x83, 0xe7, 0x5b, 0x12, 0x9f]));
    // Reset before the reply: PCAPdroid's minimal response.
    assert_eq!(h.entries[3].response.as_ref().unwrap().status, 0);
    // WebSocket binary frame with `encoding`.
    let ws = &h.entries[4].websocket;
    assert_eq!(ws.len(), 3);
    assert_eq!(ws[1].data.bytes[2..18], *b"3f8a9c2e71b4d605");
    assert!(
        h.entries.iter().all(|e| e.anomalies.is_empty()),
        "{:?}",
        h.entries.iter().map(|e| &e.anomalies).collect::<Vec<_>>()
    );
}

#[test]
fn pcapdroid_identifiers() {
    let h = read("pcapdroid_app.har");
    let f = |v| found(&h, v);
    assert_eq!(f("3f8a9c2e71b4d605"), ["cookie", "header:Cookie", "header:X-Android-Id", "query", "url", "ws-send"]);
    assert_eq!(f("c9f3e2a1-7b4d-4e8f-9a2c-5d6e7f8a9b0c"), ["header:X-Ad-Id", "query", "url", "ws-send"]);
    assert_eq!(f("353288072143666"), ["body"]);
    assert_eq!(f("8944100000123456782"), ["body"]);
    assert_eq!(f("R58N41XKZ7Y"), ["body"]);
    assert_eq!(f("%2B447700900123"), ["body"]);
    assert_eq!(f("jane.doe%40example.com"), ["body"]);
}

// ---- (d) quirks.har: one quirk per place, truncated at the end ----

#[test]
fn quirks_are_read_and_the_cut_entry_is_counted() {
    let h = read("quirks.har");
    let r = &h.log.report;
    assert_eq!(h.log.version.as_deref(), Some("1.1"));
    assert_eq!(h.log.producer(), Producer::Firefox);
    assert_eq!(r.bom, Some("utf-8"));
    assert!(r.invalid_utf8);
    assert_eq!((r.lone_surrogates, r.control_chars, r.non_finite_numbers), (1, 1, 1));
    assert_eq!((r.entries_seen, r.entries_read, r.entries_skipped), (7, 4, 3));
    let skipped: Vec<_> = r.skipped.iter().map(|s| (s.index, s.reason.clone())).collect();
    assert_eq!(skipped, [(0, SkipReason::NoRequest), (1, SkipReason::NotAnObject), (6, SkipReason::Truncated)]);
    assert!(r.stopped.as_ref().unwrap().eof);
    let idx: Vec<_> = h.entries.iter().map(|e| e.index).collect();
    assert_eq!(idx, [2, 3, 4, 5]);
}

#[test]
fn quirks_entry_by_entry() {
    let h = read("quirks.har");
    let [e2, e3, e4, e5] = &h.entries[..] else { panic!() };
    // 2: request only; numbers as strings; +0100 offset; pseudo-headers; duplicate header.
    assert_eq!(e2.started.map(|t| t.secs), Some(1698916830));
    assert_eq!(e2.time_ms, Some(12.5));
    assert_eq!(e2.connection.as_deref(), Some("12"));
    assert!(e2.response.is_none());
    assert_eq!(e2.request.headers.iter().filter(|h| h.name == "x-uid").count(), 2);
    assert_eq!(e2.request.host().as_deref(), Some("www.example.com"));
    assert_eq!(e2.anomalies, ["no_response", "number_as_string", "non_string_value"]);
    // 3: nulls, "200", base64 wrapped at 76 columns, bracketed IPv6.
    let r3 = e3.response.as_ref().unwrap();
    assert_eq!((r3.status, r3.content.size), (200, Some(87)));
    let body = r3.content.text.as_ref().unwrap();
    assert!(body.base64 && body.bytes.starts_with(br#"{"imei": "353288072143666", "mac": "a4:83:e7:5b:12:9f""#));
    assert_eq!(e3.server_ip, Some("2001:db8::1".parse().unwrap()));
    assert_eq!(e3.request.header("X-Serial"), Some("12345"));
    assert_eq!(e3.request.post_data.as_ref().unwrap().text, None);
    assert_eq!(e3.anomalies, ["non_string_value", "number_as_string", "bad_time"]);
    // 4: Host header names another host than the URL.
    assert_eq!(e4.request.host().as_deref(), Some("cdn.front.example"));
    assert_eq!(e4.request.header_host().as_deref(), Some("collect.tracker.example"));
    assert_eq!(e4.anomalies, ["time_without_offset", "host_mismatch"]);
    assert_eq!(e4.request.cookies[1].value, "+447700900123");
    // 5: invalid UTF-8 replaced, lone surrogate replaced, raw tab kept as a tab, NaN time.
    assert_eq!(e5.request.header("X-Model"), Some("Pixel\u{fffd}6a \u{fffd}\u{fffd}"));
    let text = &e5.response.as_ref().unwrap().content.text.as_ref().unwrap().bytes;
    assert_eq!(text, "sent \u{fffd}\tserial=R58N41XKZ7Y".as_bytes());
    assert_eq!(e5.time_ms, None);
}

// ---- all fixtures: whole and streamed agree; every prefix reads or fails cleanly ----

#[test]
fn streaming_gives_the_same_entries() {
    for name in ["1kxun_chrome.har", "mitmproxy_app.har", "pcapdroid_app.har", "quirks.har"] {
        let bytes = fixture(name);
        let whole = parse(&bytes, &Limits::default()).unwrap();
        let mut streamed = Vec::new();
        let log = parse_each(&bytes, &Limits::default(), |e| streamed.push(e)).unwrap();
        assert_eq!(log, whole.log, "{name}");
        assert_eq!(streamed, whole.entries, "{name}");
    }
}

#[test]
fn every_truncation_of_a_fixture_reads_a_prefix() {
    for name in ["mitmproxy_app.har", "pcapdroid_app.har", "quirks.har"] {
        let bytes = fixture(name);
        let whole = parse(&bytes, &Limits::default()).unwrap();
        let mut last = 0;
        for cut in (0..bytes.len()).step_by(7) {
            match parse(&bytes[..cut], &Limits::default()) {
                Ok(h) => {
                    // Entries read from a prefix are the whole file's first entries, unchanged.
                    assert!(h.entries.len() >= last || h.entries.is_empty(), "{name} at {cut}");
                    assert_eq!(h.entries[..], whole.entries[..h.entries.len()], "{name} at {cut}");
                    last = h.entries.len();
                }
                Err(e) => assert!(h_err_ok(&e), "{name} at {cut}: {e}"),
            }
        }
    }
}

fn h_err_ok(e: &phonehome_har::HarError) -> bool {
    use phonehome_har::HarError::*;
    matches!(e, Truncated { .. } | Json { .. } | NotHar { .. })
}

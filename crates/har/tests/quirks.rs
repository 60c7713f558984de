//! Real-world HAR quirks, each on a small inline document.

use phonehome_har::{HarError, Limits, Producer, SkipReason, parse};

fn har(entries: &str) -> String {
    format!(r#"{{"log":{{"version":"1.2","creator":{{"name":"test","version":"0"}},"entries":[{entries}]}}}}"#)
}

fn ok(text: &str) -> phonehome_har::Har {
    parse(text.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const REQ: &str = r#""request":{"method":"GET","url":"http://a.example/x","headers":[]}"#;

#[test]
fn minimal_entry_with_nothing_but_a_request() {
    let h = ok(&har(&format!("{{{REQ}}}")));
    assert_eq!(h.entries.len(), 1);
    let e = &h.entries[0];
    assert_eq!(e.request.url, "http://a.example/x");
    assert_eq!(e.response, None);
    assert_eq!(e.started, None);
    assert_eq!(e.anomalies, ["no_response", "bad_time"]);
}

#[test]
fn nulls_everywhere() {
    let h = ok(&har(r#"{"startedDateTime":null,"time":null,"pageref":null,"serverIPAddress":null,"connection":null,
        "request":{"method":null,"url":"http://a.example/","httpVersion":null,"headers":null,"cookies":null,
                   "queryString":null,"postData":null,"headersSize":null,"bodySize":null},
        "response":{"status":null,"statusText":null,"headers":[{"name":"X","value":null}],"cookies":null,
                    "content":{"size":null,"mimeType":null,"text":null,"encoding":null},"redirectURL":null},
        "cache":null,"timings":null}"#));
    let e = &h.entries[0];
    assert_eq!(e.request.method, "");
    assert!(e.request.headers.is_empty() && e.request.post_data.is_none());
    let r = e.response.as_ref().unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(r.headers[0].value, "");
    assert_eq!(r.content.text, None);
    assert_eq!(e.anomalies, ["bad_time"]);
}

#[test]
fn numbers_as_strings_and_strings_as_numbers() {
    let h = ok(&har(r#"{"startedDateTime":"2022-06-04T23:25:29Z","time":"12.5","connection":443,
        "request":{"method":"GET","url":"http://a.example/","headers":[{"name":"X-Id","value":12345}]},
        "response":{"status":"200","content":{"size":" 42 ","mimeType":"text/plain","compression":"3.0"}}}"#));
    let e = &h.entries[0];
    assert_eq!(e.time_ms, Some(12.5));
    assert_eq!(e.connection.as_deref(), Some("443"));
    assert_eq!(e.request.headers[0].value, "12345");
    let r = e.response.as_ref().unwrap();
    assert_eq!((r.status, r.content.size, r.content.compression), (200, Some(42), Some(3)));
    assert_eq!(e.anomalies, ["non_string_value", "number_as_string"]);
}

#[test]
fn custom_underscore_fields_are_ignored_whatever_their_shape() {
    let h = ok(&har(&format!(
        r#"{{"_initiator":{{"type":"script","stack":{{"callFrames":[[[[]]]]}}}},"_priority":"High","_x":null,
        {REQ},"_resourceType":"xhr","response":{{"status":204,"_transferSize":300,"_error":"net::ERR_ABORTED","content":{{}}}}}}"#
    )));
    let r = h.entries[0].response.as_ref().unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(r.error.as_deref(), Some("net::ERR_ABORTED"));
}

#[test]
fn empty_and_non_object_entries_are_skipped_and_counted_with_their_index() {
    let h = ok(&har(&format!(r#"{{}}, null, 7, "x", {{"request":"GET /"}}, {{{REQ}}}, []"#)));
    assert_eq!(h.entries.len(), 1);
    assert_eq!(h.entries[0].index, 5);
    let r = &h.log.report;
    assert_eq!((r.entries_seen, r.entries_read, r.entries_skipped), (7, 1, 6));
    let reasons: Vec<_> = r.skipped.iter().map(|s| (s.index, s.reason.clone())).collect();
    assert_eq!(
        reasons,
        [
            (0, SkipReason::NoRequest),
            (1, SkipReason::NotAnObject),
            (2, SkipReason::NotAnObject),
            (3, SkipReason::NotAnObject),
            (4, SkipReason::NoRequest),
            (6, SkipReason::NotAnObject),
        ]
    );
}

#[test]
fn byte_order_mark_at_file_start() {
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(har(&format!("{{{REQ}}}")).as_bytes());
    let h = parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(h.entries.len(), 1);
    assert_eq!(h.log.report.bom, Some("utf-8"));
}

#[test]
fn utf16_with_bom_as_windows_tools_write_it() {
    let text = har(&format!("{{{REQ}}}"));
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let h = parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(h.entries[0].request.url, "http://a.example/x");
    assert_eq!(h.log.report.bom, Some("utf-16le"));
}

#[test]
fn base64_content_and_post_data_are_decoded() {
    let h = ok(&har(r#"{"request":{"method":"POST","url":"http://a.example/u",
          "postData":{"mimeType":"application/octet-stream","text":"AAEC/w==","encoding":"base64"}},
        "response":{"status":200,"content":{"mimeType":"image/png","text":"iVBORw0KGgo=","encoding":"base64"}}}"#));
    let e = &h.entries[0];
    let p = e.request.post_data.as_ref().unwrap().text.as_ref().unwrap();
    assert_eq!((p.bytes.as_slice(), p.base64), (&[0, 1, 2, 255][..], true));
    let c = &e.response.as_ref().unwrap().content;
    assert_eq!(c.text.as_ref().unwrap().bytes, b"\x89PNG\r\n\x1a\n");
    assert_eq!(c.encoding.as_deref(), Some("base64"));
    assert_eq!(e.anomalies, ["bad_time"]); // no startedDateTime: nothing about the bodies
}

#[test]
fn base64_that_is_not_keeps_the_text() {
    let h = ok(&har(r#"{"request":{"url":"http://a.example/"},
        "response":{"status":200,"content":{"text":"{\"id\":\"not base64!\"}","encoding":"base64"}}}"#));
    let e = &h.entries[0];
    let b = e.response.as_ref().unwrap().content.text.as_ref().unwrap();
    assert_eq!(b.bytes, br#"{"id":"not base64!"}"#);
    assert!(!b.base64);
    assert!(e.anomalies.contains(&"bad_base64"));
}

#[test]
fn invalid_utf8_in_text_is_replaced_not_fatal() {
    let mut bytes =
        har(r#"{"request":{"url":"http://a.example/","headers":[{"name":"X","value":"a@@b"}]}}"#).into_bytes();
    let at = bytes.windows(2).position(|w| w == b"@@").unwrap();
    bytes[at] = 0xff;
    bytes[at + 1] = 0xc3;
    let h = parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(h.entries[0].request.headers[0].value, "a\u{fffd}\u{fffd}b");
    assert!(h.log.report.invalid_utf8);
}

#[test]
fn lone_surrogates_control_characters_and_nan() {
    let text = har(
        "{\"time\":NaN,\"request\":{\"url\":\"http://a.example/\",\"headers\":[{\"name\":\"X\",\"value\":\"\\ud83d tab\there\"}]}}",
    );
    let h = ok(&text);
    assert_eq!(h.entries[0].request.headers[0].value, "\u{fffd} tab\there");
    assert_eq!(h.entries[0].time_ms, None);
    let r = &h.log.report;
    assert_eq!((r.lone_surrogates, r.control_chars, r.non_finite_numbers), (1, 1, 1));
}

#[test]
fn duplicated_headers_and_http2_pseudo_headers_keep_their_order() {
    let h =
        ok(&har(r#"{"request":{"method":"GET","url":"https://www.example.com/p?q=1","httpVersion":"h2","headers":[
        {"name":":method","value":"GET"},{"name":":authority","value":"www.example.com"},
        {"name":":path","value":"/p?q=1"},{"name":"cookie","value":"a=1"},{"name":"cookie","value":"b=2"}]}}"#));
    let r = &h.entries[0].request;
    let names: Vec<_> = r.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, [":method", ":authority", ":path", "cookie", "cookie"]);
    assert_eq!(r.header("Cookie"), Some("a=1"));
    assert_eq!(r.host().as_deref(), Some("www.example.com"));
    assert!(!h.entries[0].anomalies.contains(&"host_mismatch")); // pseudo-headers agree with the URL
}

#[test]
fn host_comes_from_the_url_and_a_different_host_header_is_flagged() {
    let h = ok(&har(
        r#"{"request":{"url":"https://cdn.example.net:8443/x","headers":[{"name":"Host","value":"Tracker.Example.com:443"}]}},
        {"request":{"url":"/relative/path?id=1","headers":[{"name":"Host","value":"api.example.org"}]}},
        {"request":{"url":"http://[2001:db8::1]:8080/","headers":[]}}"#,
    ));
    let e = &h.entries;
    assert_eq!(e[0].request.host().as_deref(), Some("cdn.example.net"));
    assert_eq!(e[0].request.header_host().as_deref(), Some("tracker.example.com"));
    assert!(e[0].anomalies.contains(&"host_mismatch"));
    assert_eq!(e[1].request.host().as_deref(), Some("api.example.org"));
    assert!(e[1].anomalies.contains(&"relative_url"));
    assert_eq!(e[2].request.host().as_deref(), Some("2001:db8::1"));
}

#[test]
fn har_versions_and_creators() {
    for (v, name, p) in [
        (r#""1.1""#, "WebInspector", Producer::Chromium),
        ("1.2", "Firefox", Producer::Firefox),
        (r#""1.2""#, "mitmproxy exporthar", Producer::Mitmproxy),
        (r#""1.2""#, "mitmproxy har_dump", Producer::Mitmproxy),
        (r#""1.2""#, "PCAPdroid", Producer::Pcapdroid),
        (r#""1.2""#, "WebKit Web Inspector", Producer::Safari),
        (r#""1.2""#, "Charles Proxy", Producer::Other),
    ] {
        let text = format!(r#"{{"log":{{"version":{v},"creator":{{"name":"{name}","version":"1"}},"entries":[]}}}}"#);
        let h = ok(&text);
        assert_eq!(h.log.producer(), p, "{name}");
        assert_eq!(h.log.version.as_deref(), Some(v.trim_matches('"')));
    }
}

#[test]
fn server_ip_in_brackets_and_websocket_messages() {
    let h = ok(&har(r#"{"serverIPAddress":"[2a00:1450:4001:82b::200e]","request":{"url":"wss://ws.example/s"},
        "_webSocketMessages":[{"type":"send","time":1654385129.5,"opcode":1,"data":"{\"aid\":\"x\"}"},
                              {"type":"receive","time":1654385130,"opcode":2,"data":"AQID"},
                              {"type":"send","opcode":1,"data":"AQID","encoding":"base64"}]}"#));
    let e = &h.entries[0];
    assert_eq!(e.server_ip, Some("2a00:1450:4001:82b::200e".parse().unwrap()));
    let ws = &e.websocket;
    assert_eq!(ws.len(), 3);
    assert!(ws[0].sent && !ws[1].sent);
    assert_eq!(ws[0].data.bytes, br#"{"aid":"x"}"#);
    assert_eq!(ws[1].data.bytes, [1, 2, 3]);
    assert_eq!(ws[2].data.bytes, [1, 2, 3]);
}

#[test]
fn truncated_last_entry_keeps_the_entries_before_it() {
    let full = har(&format!("{{{REQ}}},{{{REQ}}},{{{REQ}}}"));
    let cut = &full[..full.rfind("\"method\"").unwrap()];
    let h = ok(cut);
    assert_eq!(h.entries.len(), 2);
    let r = &h.log.report;
    assert_eq!(r.skipped.len(), 1);
    assert_eq!((r.skipped[0].index, &r.skipped[0].reason), (2, &SkipReason::Truncated));
    assert!(r.stopped.as_ref().unwrap().eof);
    // Cut right after a comma between entries: nothing was cut.
    let at_comma = &full[..full.rfind(",{").unwrap() + 1];
    let h = ok(at_comma);
    assert_eq!((h.entries.len(), h.log.report.entries_skipped), (2, 0));
    assert!(h.log.report.stopped.is_some());
    // Cut inside the first entry.
    let first = &full[..full.find("\"url\"").unwrap()];
    let h = ok(first);
    assert_eq!((h.entries.len(), h.log.report.skipped[0].index), (0, 0));
}

#[test]
fn corrupt_bytes_inside_the_entries_stop_reading_there() {
    let full = har(&format!("{{{REQ}}},{{{REQ}}}"));
    let broken = full.replacen("\"http://a.example/x\",\"headers\"", "\"http://a.example/x\" \"headers\"", 2);
    let broken = broken.replacen("\"http://a.example/x\" \"headers\"", "\"http://a.example/x\",\"headers\"", 1);
    let h = ok(&broken);
    assert_eq!(h.entries.len(), 1);
    assert_eq!(h.log.report.skipped[0].reason, SkipReason::Malformed);
    assert!(!h.log.report.stopped.as_ref().unwrap().eof);
}

#[test]
fn trailing_garbage_and_missing_log_wrapper() {
    let h = ok(&(har(&format!("{{{REQ}}}")) + "\n\0\0garbage"));
    assert_eq!(h.entries.len(), 1);
    assert!(h.log.report.trailing_bytes);
    let h = ok(&format!(r#"{{"version":"1.2","entries":[{{{REQ}}}]}}"#));
    assert_eq!(h.entries.len(), 1);
    assert!(h.log.report.no_log_wrapper);
}

#[test]
fn not_json_and_not_har_are_clear_errors() {
    let l = Limits::default();
    let e = parse(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", &l).unwrap_err();
    assert!(matches!(e, HarError::Json { offset: 0, line: 1, column: 1, .. }), "{e}");
    assert!(e.to_string().starts_with("not valid JSON at byte offset 0 (line 1, column 1): "), "{e}");
    assert!(matches!(parse(b"", &l), Err(HarError::Truncated { .. })));
    assert!(matches!(parse(b"[1,2]", &l), Err(HarError::NotHar { .. })));
    assert!(matches!(parse(br#"{"name":"pkg","version":"1.0"}"#, &l), Err(HarError::NotHar { .. })));
    assert!(matches!(parse(br#"{"log":"text"}"#, &l), Err(HarError::NotHar { .. })));
    assert!(matches!(parse(br#"{"log":{"level":"debug"}}"#, &l), Err(HarError::NotHar { .. })));
    assert!(matches!(parse(br#"{"version":"2","entries":5}"#, &l), Err(HarError::NotHar { .. })));
    assert!(matches!(parse(br#"{"log":{"creator":{"name":"x"},"pag"#, &l), Err(HarError::Truncated { .. })));
    let e = parse(br#"{"log":{"creator":{"name":"x"}, oops"#, &l).unwrap_err();
    assert!(matches!(e, HarError::Json { offset: 32, line: 1, column: 33, .. }), "{e}");
    // A HAR with a creator and no entries is a HAR, empty.
    assert!(ok(r#"{"log":{"creator":{"name":"x"}}}"#).entries.is_empty());
    assert!(ok(r#"{"log":{"creator":{"name":"x"},"entries":null}}"#).entries.is_empty());
}

#[test]
fn caps_are_counted() {
    let limits =
        Limits { max_entries: 2, max_items: 1, max_entry_bytes: 200, max_skip_records: 1, ..Limits::default() };
    let big = format!(r#"{{"request":{{"url":"http://a.example/{}"}}}}"#, "x".repeat(300));
    let two_headers =
        r#"{"request":{"url":"http://a.example/","headers":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}}"#;
    let text = har(&format!("{big},{two_headers},{two_headers},{{}}"));
    let h = parse(text.as_bytes(), &limits).unwrap();
    let r = &h.log.report;
    assert_eq!((r.entries_seen, r.entries_read, r.entries_over_cap, r.items_over_cap), (4, 1, 2, 1));
    assert_eq!(r.skipped, [phonehome_har::Skipped { index: 0, reason: SkipReason::TooLarge { bytes: big.len() } }]);
    assert_eq!(h.entries[0].request.headers.len(), 1);
    assert!(h.entries[0].anomalies.contains(&"items_capped"));
    let tiny = Limits { max_input_bytes: 10, ..Limits::default() };
    assert!(matches!(parse(text.as_bytes(), &tiny), Err(HarError::TooLarge { .. })));
}

#[test]
fn compressed_hars_are_read() {
    use std::io::Write;
    let text = har(&format!("{{{REQ}}}"));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(text.as_bytes()).unwrap();
    let zhar = z.finish().unwrap();
    assert!(phonehome_har::sniff(&zhar));
    let h = parse(&zhar, &Limits::default()).unwrap();
    assert_eq!((h.entries.len(), h.log.report.compressed), (1, Some("zlib")));
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    g.write_all(text.as_bytes()).unwrap();
    let gz = g.finish().unwrap();
    let h = parse(&gz, &Limits::default()).unwrap();
    assert_eq!((h.entries.len(), h.log.report.compressed), (1, Some("gzip")));
    assert!(matches!(parse(&[0x1f, 0x8b, 0, 0], &Limits::default()), Err(HarError::Decompress { .. })));
}

#[test]
fn sniffing() {
    assert!(phonehome_har::sniff(b"\xef\xbb\xbf\n  {\"log\": {"));
    assert!(!phonehome_har::sniff(b"{\"name\": \"x\"}"));
    assert!(!phonehome_har::sniff(b"\xd4\xc3\xb2\xa1"));
    assert!(!phonehome_har::sniff(b"\x0a\x0d\x0d\x0a"));
}

#[test]
fn headers_written_as_an_object_and_post_data_as_a_string() {
    let h =
        ok(&har(r#"{"request":{"method":"POST","url":"http://a.example/","headers":{"X-Aid":"1","Host":"a.example"},
        "postData":"imei=490154203237518"}}"#));
    let r = &h.entries[0].request;
    assert_eq!(r.header("x-aid"), Some("1"));
    assert_eq!(r.post_data.as_ref().unwrap().text.as_ref().unwrap().bytes, b"imei=490154203237518");
    assert!(h.entries[0].anomalies.contains(&"pairs_as_object"));
}

#[test]
fn compressed_and_latin1_bodies_are_pointed_out() {
    let h = ok(&har(r#"{"request":{"method":"POST","url":"http://a.example/",
          "postData":{"mimeType":"application/x-protobuf","text":"\u001f\u008b\b\u0000\u00ff"}},
        "response":{"status":200,"content":{"text":"H4sIAAAAAAAA/w==","encoding":"base64"}}}"#));
    let e = &h.entries[0];
    let body = e.response.as_ref().unwrap().content.text.as_ref().unwrap();
    assert_eq!(body.compressed_as(), Some("gzip"));
    let post = e.request.post_data.as_ref().unwrap().text.as_ref().unwrap();
    assert_eq!(post.compressed_as(), None);
    assert_eq!(post.latin1().unwrap(), [0x1f, 0x8b, 8, 0, 0xff]);
}

/// The byte offset an error names, for `parse(bytes)`.
fn error_offset(bytes: &[u8]) -> usize {
    match parse(bytes, &Limits::default()) {
        Err(HarError::Json { offset, .. } | HarError::Truncated { offset, .. }) => offset,
        Ok(h) => h.log.report.stopped.expect("stopped").offset,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn error_offsets_are_the_input_s_bytes_whatever_was_repaired() {
    let at = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle).unwrap();
    let plain = br#"{"log":{"creator":{"name":"x"}, oops"#;
    assert_eq!(error_offset(plain), 32);
    // A byte order mark, then the text.
    let bom = [&b"\xef\xbb\xbf"[..], plain].concat();
    assert_eq!(error_offset(&bom), 35);
    // UTF-16: two bytes a unit ("é" is one unit, two bytes of UTF-8), after a two-byte mark.
    let text = r#"{"log":{"creator":{"name":"é"}, oops"#;
    let utf16: Vec<u8> = [0xff, 0xfe].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    assert_eq!(error_offset(&utf16), 2 + 2 * 32);
    // Repairs change lengths: raw control characters (1 byte, escaped as 6), NaN and
    // -Infinity (null), lone surrogates (same length), invalid UTF-8 (replaced by 3 bytes).
    for bytes in [
        &b"{\"log\":{\"creator\":{\"name\":\"x\ty\n\"}, oops"[..],
        br#"{"log":{"creator":{"name":"x"},"a":NaN,"b":[-Infinity,Infinity], oops"#,
        br#"{"log":{"creator":{"name":"\uD800x"}, oops"#,
        b"{\"log\":{\"creator\":{\"name\":\"\xff\xfe\xc3\"}, oops",
    ] {
        assert_eq!(error_offset(bytes), at(bytes, b"oops"), "{}", String::from_utf8_lossy(bytes));
        let gzip = gzip(bytes);
        assert_eq!(error_offset(&gzip), at(bytes, b"oops"), "gzip: {}", String::from_utf8_lossy(bytes));
    }
    // A file that ends early: its length.
    let cut = br#"{"log":{"creator":{"name":"x\t"},"pag"#;
    assert_eq!(error_offset(cut), cut.len());
    // Inside the entries, after the first one: where reading stopped.
    let full = har(&format!("{{{REQ}}},{{{REQ}}}"));
    let broken = full.replacen("\"headers\"", "\"headers\" 7", 2).replacen("\"headers\" 7", "\"headers\"", 1);
    assert_eq!(error_offset(broken.as_bytes()), at(broken.as_bytes(), b"7"));
    let cut = &full.as_bytes()[..full.len() - 20];
    assert_eq!(error_offset(cut), cut.len());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

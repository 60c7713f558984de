//! Every resource cap trips and is counted (issue 8; the table is in docs/LIMITS.md).
//!
//! For each cap: the binary on a fixture (or a capture built here) with the cap's flag set
//! low counts it in `stats.caps`, and with the default it counts nothing. Caps without a flag
//! are tripped by a capture crafted to pass their fixed bound.

use std::path::{Path, PathBuf};
use std::process::Command;

use phonehome_model::{Counter, CounterGroup};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `stats.caps` of `phonehome analyze --format ndjson ARGS...`, which must succeed.
fn caps(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["analyze", "--format", "ndjson"])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().expect("no output")).unwrap();
    assert_eq!(last["event_type"], "stats");
    last["stats"]["caps"].clone()
}

/// The cap `name` is hit with `flag` and not without it.
fn trips(name: &str, flag: &[&str], input: &str) {
    let default = caps(&[input]);
    assert!(default.get(name).is_none(), "{name} hit by default on {input}: {default}");
    let mut args = flag.to_vec();
    args.push(input);
    let low = caps(&args);
    assert!(low[name].as_u64() > Some(0), "{name} not counted with {flag:?} on {input}: {low}");
}

// --- caps with a flag, on fixtures ----------------------------------------------------------

#[test]
fn tcp_reassembly_buffer_per_flow() {
    // Out-of-order segments are held while a hole waits (three in this capture).
    trips("tcp_flow_buffer", &["--tcp-buffer-per-flow", "1"], "fixtures/captures/ndpi__smtp-starttls.pcap");
}

#[test]
fn tcp_reassembly_buffer_total() {
    trips("tcp_total_buffer", &["--tcp-buffer-total", "1"], "fixtures/captures/ndpi__smtp-starttls.pcap");
}

#[test]
fn ip_fragment_memory() {
    trips("ip_fragment_memory", &["--frag-buffer-total", "1"], "fixtures/captures/zeek__ipv6-fragmented-dns.pcap");
    trips("ip_fragment_memory", &["--frag-buffer-total", "1"], "fixtures/captures/zeek__ipv4__fragmented-1.pcap");
}

#[test]
fn http_decoded_body_size() {
    trips("http_body", &["--max-http-body", "1"], "fixtures/captures/zeek__http__http-body-match.pcap");
}

#[test]
fn http_head_size() {
    trips("http_head", &["--max-http-head", "32"], "fixtures/captures/zeek__http__http-body-match.pcap");
}

#[test]
fn http_header_count() {
    trips("http_header_count", &["--max-http-headers", "1"], "fixtures/captures/zeek__http__http-body-match.pcap");
}

#[test]
fn tls_handshake_buffer() {
    trips("tls_handshake_buffer", &["--max-tls-handshake", "64"], "fixtures/captures/ndpi__tls_2_reasms.pcapng");
}

#[test]
fn quic_crypto_buffer_follows_the_tls_handshake_flag() {
    trips("quic_crypto_buffer", &["--max-tls-handshake", "64"], "fixtures/captures/illustrated-quic__capture.pcap");
}

#[test]
fn dns_message_records_and_pointers() {
    let input = "fixtures/captures/zeek__wikipedia-filtered-plus-udp.pcap";
    trips("dns_message_limit", &["--max-dns-records", "1"], input);
    trips("dns_message_limit", &["--max-dns-pointers", "0"], input);
}

#[test]
fn ip_fragment_datagrams() {
    trips("ip_fragment_memory", &["--max-frag-datagrams", "0"], "fixtures/captures/zeek__ipv4__fragmented-1.pcap");
}

#[test]
fn capture_record_size() {
    // Reading stops at the first record over the cap; the file still counts as read.
    trips("capture_record", &["--max-capture-record", "100"], "fixtures/captures/zeek__ipv4__fragmented-1.pcap");
}

#[test]
fn live_flows_are_evicted() {
    trips("flow_table_eviction", &["--max-flows", "1"], "fixtures/captures/zeek__wikipedia-filtered-plus-udp.pcap");
}

#[test]
fn dns_names_table() {
    trips("dns_names_table", &["--max-dns-names", "1"], "fixtures/captures/zeek__wikipedia-filtered-plus-udp.pcap");
}

// --- crafted captures -----------------------------------------------------------------------

/// A pcap (Ethernet) of the IPv4 packets `ip`, one a second.
fn capture(name: &str, ip: &[Vec<u8>]) -> PathBuf {
    let mut file = Vec::new();
    // magic, version 2.4, thiszone, sigfigs, snaplen, Ethernet
    file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 1] {
        file.extend_from_slice(&v.to_le_bytes());
    }
    for (i, packet) in ip.iter().enumerate() {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(packet);
        for v in [1_700_000_000 + i as u32, 0, f.len() as u32, f.len() as u32] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        file.extend_from_slice(&f);
    }
    temp_file(name, &file)
}

/// An IPv4 header (10.0.0.1 → 10.0.0.2, protocol `proto`) followed by `payload`.
fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    let mut sum: u32 = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    ip.extend_from_slice(payload);
    ip
}

/// A UDP datagram from 10.0.0.1:40000 to 10.0.0.2 on `port`, in IPv4.
fn udp(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&40000u16.to_be_bytes());
    u.extend_from_slice(&port.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(17, &u)
}

/// A pcap of UDP datagrams from 10.0.0.1:40000 to 10.0.0.2 on `port`.
fn udp_capture(name: &str, port: u16, payloads: &[Vec<u8>]) -> PathBuf {
    capture(name, &payloads.iter().map(|p| udp(port, p)).collect::<Vec<_>>())
}

/// A pcap of one TCP connection from 10.0.0.1:40000 to 10.0.0.2 on `port`, caught after its
/// handshake: the client sends `payloads` as consecutive segments (ACK, PSH), the server
/// nothing.
fn tcp_capture(name: &str, port: u16, payloads: &[Vec<u8>]) -> PathBuf {
    let mut seq = 1000u32;
    let packets: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| {
            let mut t = Vec::with_capacity(20 + p.len());
            t.extend_from_slice(&40000u16.to_be_bytes());
            t.extend_from_slice(&port.to_be_bytes());
            t.extend_from_slice(&seq.to_be_bytes());
            t.extend_from_slice(&1u32.to_be_bytes());
            t.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
            t.extend_from_slice(p);
            seq = seq.wrapping_add(p.len() as u32);
            ipv4(6, &t)
        })
        .collect();
    capture(name, &packets)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A DNS query with `n` questions for `a.` (`A`, `IN`).
fn dns_query(n: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00];
    for c in [n, 0, 0, 0] {
        m.extend_from_slice(&c.to_be_bytes());
    }
    for _ in 0..n {
        m.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
    }
    m
}

#[test]
fn dns_message_limit() {
    // No flag: the parser keeps 256 questions and 1024 records, and a name follows at most
    // 128 compression pointers (protocols::dns::Limits).
    // The first datagram of a flow is an ordinary query (the content sniffer wants at most
    // 16 questions to call a flow DNS); the second one carries the load.
    let ok = udp_capture("dns-256.pcap", 53, &[dns_query(1), dns_query(256)]);
    let over = udp_capture("dns-300.pcap", 53, &[dns_query(1), dns_query(300)]);
    assert!(caps(&[ok.to_str().unwrap()]).get("dns_message_limit").is_none());
    assert_eq!(caps(&[over.to_str().unwrap()])["dns_message_limit"], 1);
    // A name at the end of a chain of 200 pointers, each to the one before.
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let last = 21 + 2 * 199;
    m.extend_from_slice(&[0xc0 | (last >> 8) as u8, last as u8, 0, 1, 0, 1]);
    m.extend_from_slice(&[1, b'x', 0]);
    for k in 0..200usize {
        let prev = if k == 0 { 18 } else { 21 + 2 * (k - 1) };
        m.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
    }
    let chain = udp_capture("dns-chain.pcap", 53, &[dns_query(1), m]);
    assert_eq!(caps(&[chain.to_str().unwrap()])["dns_message_limit"], 1);
}

#[test]
fn quic_crypto_buffer() {
    // No flag: CRYPTO data is reassembled up to 64 KiB (protocols::quic::CRYPTO_CAP). A QUIC
    // v1 client Initial (DCID 8394c8f03e515708, RFC 9001's) whose one CRYPTO frame starts at
    // offset 70000, made with `quic::testing::seal_initial(1, dcid, dcid, 0, &[0x06, 0x80,
    // 0x01, 0x11, 0x70, 0x04, 1, 2, 3, 4])`.
    let past_cap = hex(concat!(
        "c100000001088394c8f03e5157080000401e7f66073c463410cbea78a225c0a23e",
        "b0e0b2aa1911b6eb3d7c12c76879be"
    ));
    let path = udp_capture("quic-past-cap.pcap", 443, &[past_cap]);
    assert_eq!(caps(&[path.to_str().unwrap()])["quic_crypto_buffer"], 1);
    assert!(caps(&["fixtures/captures/illustrated-quic__capture.pcap"]).get("quic_crypto_buffer").is_none());
}

#[test]
fn findings_per_flow() {
    // The same declared value twice in one datagram: at most one finding per text.
    let imei = "356938035643809";
    let path = udp_capture("two-findings.pcap", 9999, &[format!("a={imei}&b={imei}").into_bytes()]);
    let path = path.to_str().unwrap();
    let id = format!("imei={imei}");
    assert!(caps(&["--id", &id, path]).get("findings").is_none());
    assert_eq!(caps(&["--id", &id, "--max-findings-per-flow", "1", path])["findings"], 1);
}

#[test]
fn http_requests_waiting_for_responses() {
    // No flag: the engine pairs at most 64 unanswered requests per connection with their
    // responses (dissect::http::MAX_WAITING), the parser remembers the methods of 1024
    // (protocols::http::Limits::max_pending). A client pipelining requests that are never
    // answered passes both.
    let requests = |n: usize| -> Vec<Vec<u8>> {
        let all: Vec<u8> = (0..n).flat_map(|i| format!("GET /{i} HTTP/1.1\r\n\r\n").into_bytes()).collect();
        all.chunks(1400).map(<[u8]>::to_vec).collect()
    };
    let at_cap = tcp_capture("http-64.pcap", 80, &requests(64));
    let caps64 = caps(&[at_cap.to_str().unwrap()]);
    assert!(caps64.get("http_pending_requests").is_none() && caps64.get("http_pending_methods").is_none(), "{caps64}");
    let over = tcp_capture("http-65.pcap", 80, &requests(65));
    let caps65 = caps(&[over.to_str().unwrap()]);
    assert_eq!(caps65["http_pending_requests"], 1, "{caps65}");
    assert!(caps65.get("http_pending_methods").is_none(), "{caps65}");
    let far_over = tcp_capture("http-1025.pcap", 80, &requests(1025));
    let caps1025 = caps(&[far_over.to_str().unwrap()]);
    assert_eq!(caps1025["http_pending_requests"], 1025 - 64, "{caps1025}");
    assert_eq!(caps1025["http_pending_methods"], 1, "{caps1025}");
}

/// A file `name` in the test's temporary folder.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonehome-caps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A HAR with `pages` pages and one entry whose request has `headers` headers.
fn har(pages: usize, headers: usize) -> String {
    let pages: Vec<String> = (0..pages).map(|i| format!(r#"{{"id":"p{i}","title":"t"}}"#)).collect();
    let headers: Vec<String> = (0..headers).map(|i| format!(r#"{{"name":"x-{i}","value":"v"}}"#)).collect();
    format!(
        r#"{{"log":{{"version":"1.2","creator":{{"name":"test","version":"1"}},"pages":[{}],"entries":[{{"request":{{"method":"GET","url":"http://a.example/","headers":[{}]}},"response":{{"status":200}}}}]}}}}"#,
        pages.join(","),
        headers.join(",")
    )
}

#[test]
fn har_items_and_pages() {
    // No flag: HAR lists keep 10 000 items and 10 000 pages (har::Limits).
    let at_cap = temp_file("at-cap.har", har(10_000, 10_000).as_bytes());
    let at_cap = caps(&[at_cap.to_str().unwrap()]);
    assert!(at_cap.get("har_items").is_none() && at_cap.get("har_pages").is_none(), "{at_cap}");
    let over = temp_file("over-cap.har", har(10_003, 10_002).as_bytes());
    let over = caps(&[over.to_str().unwrap()]);
    assert_eq!(over["har_items"], 2, "{over}");
    assert_eq!(over["har_pages"], 3, "{over}");
}

#[test]
fn quic_key_sets() {
    // No flag: at most 4 Initial key sets are derived per connection (protocols::quic::MAX_KEYS):
    // the first DCID's and each packet's own. QUIC v1 client Initials with a new DCID each
    // (their payload does not decrypt) ask for one more each.
    let initial = |dcid: u8| -> Vec<u8> {
        let mut p = vec![0xc0, 0, 0, 0, 1, 8, dcid, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0x40, 40];
        p.extend_from_slice(&[0x55; 40]);
        p
    };
    let four = udp_capture("quic-4-dcids.pcap", 443, &(1..=4).map(initial).collect::<Vec<_>>());
    assert!(caps(&[four.to_str().unwrap()]).get("quic_key_sets").is_none());
    let five = udp_capture("quic-5-dcids.pcap", 443, &(1..=5).map(initial).collect::<Vec<_>>());
    assert_eq!(caps(&[five.to_str().unwrap()])["quic_key_sets"], 1);
}

/// A HAR of one POST whose body is `body`.
fn har_post(body: &str) -> String {
    format!(
        r#"{{"log":{{"version":"1.2","creator":{{"name":"test","version":"1"}},"entries":[{{"request":{{"method":"POST","url":"http://a.example/","headers":[],"postData":{{"mimeType":"application/x-www-form-urlencoded","text":"{body}"}}}},"response":{{"status":200}}}}]}}}}"#
    )
}

#[test]
fn identifier_decoding_budget() {
    // No flag: the identifier search decodes at most 1 MiB of escaped text per scanned text
    // (detect::Options::max_decoded_len); HAR bodies are not cut at --max-http-body.
    let small = temp_file("escaped-100k.har", har_post(&format!("x={}", "%61".repeat(100_000 / 3))).as_bytes());
    assert!(caps(&[small.to_str().unwrap()]).get("identifier_decoding").is_none());
    let big = temp_file("escaped-1200k.har", har_post(&format!("x={}", "%61".repeat(1_200_000 / 3))).as_bytes());
    assert_eq!(caps(&[big.to_str().unwrap()])["identifier_decoding"], 1);
}

#[test]
fn every_cap_is_documented_and_tripped_here() {
    let limits = std::fs::read_to_string(root().join("docs/LIMITS.md")).unwrap();
    let output = std::fs::read_to_string(root().join("docs/OUTPUT.md")).unwrap();
    let tests = include_str!("caps.rs");
    for c in Counter::ALL.iter().filter(|c| c.group() == CounterGroup::Cap) {
        let key = format!("`{}`", c.name());
        let listed = |doc: &str| doc.contains(&key) || doc.contains(&format!("`caps.{}`", c.name()));
        assert!(listed(&limits), "docs/LIMITS.md does not list {key}");
        assert!(output.contains(&key), "docs/OUTPUT.md does not list {key}");
        assert!(tests.contains(&format!("\"{}\"", c.name())), "no test in caps.rs trips {key}");
    }
}

/// The packets of a little-endian pcapng file with two of its packet blocks (1-based packet
/// numbers `a` < `b`) swapped, every other block in place.
fn pcapng_swap(bytes: &[u8], a: usize, b: usize) -> Vec<u8> {
    let mut blocks: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        blocks.push(&bytes[at..at + len]);
        at += len;
    }
    // Enhanced (6) and simple (3) packet blocks, in file order.
    let packets: Vec<usize> = (0..blocks.len())
        .filter(|&i| matches!(u32::from_le_bytes(blocks[i][..4].try_into().unwrap()), 3 | 6))
        .collect();
    blocks.swap(packets[a - 1], packets[b - 1]);
    blocks.concat()
}

#[test]
fn quic_stream_buffer() {
    // Chrome's HTTP/3 request to Cloudflare (keys in the file): the response's first two
    // STREAM frames (frames 62 and 63, offsets 0 and 1177) swapped, as UDP may deliver them.
    // By default the second waits for the first; with no room to wait, the stream steps over
    // the hole.
    let original =
        std::fs::read(root().join("crates/decrypt/tests/data/ja4__chrome-cloudflare-quic-with-secrets.pcapng"))
            .unwrap();
    let swapped = temp_file("quic-reordered.pcapng", &pcapng_swap(&original, 62, 63));
    trips("quic_stream_buffer", &["--max-quic-stream-buffer", "0"], swapped.to_str().unwrap());
}

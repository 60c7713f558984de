//! HTTP in real captures: captures are read, decoded and TCP-reassembled by the pipeline's
//! own stages; every TCP flow feeds an `HttpConnection` (both directions, holes included)
//! and every UDP datagram `parse_datagram`. The requests found are checked against tshark's
//! (corpus truth/, `http_req` rows: Host header, method, request URI), copied here as literals
//! so that the tests run without ../shared.
//!
//! `corpus_sweep` (ignored) compares the set of (host, method, target) per capture with
//! tshark's over every corpus capture with HTTP requests, when ../shared/corpus exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phonehome_capture::{CaptureReader, Record};
use phonehome_decode::{Decoder, DecoderConfig};
use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowConfig, FlowHandler, FlowInfo, FlowTable, Payload};
use phonehome_model::event::EndReason;
use phonehome_model::{Counters, Direction, IpProto};
use phonehome_protocols::http::{self, HttpConnection, HttpEvent, Limits, Side, Stats};

fn endpoint(ip: std::net::IpAddr, port: Option<u16>) -> String {
    match ip {
        std::net::IpAddr::V6(_) => format!("[{ip}]:{}", port.unwrap_or(0)),
        _ => format!("{ip}:{}", port.unwrap_or(0)),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One request as tshark's truth has it: the Host header (empty without one), the method
/// and the target as sent; and where it was.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Req {
    host: String,
    user_agent: String,
    method: String,
    target: String,
    frame: u64,
    udp: bool,
}

/// What a message's body held.
#[derive(Clone, Debug, Default)]
struct BodySeen {
    len: usize,
    wire_len: u64,
    decoded: bool,
    decode_error: bool,
    truncated: bool,
    incomplete: bool,
    /// The first bytes of the body, for assertions.
    start: Vec<u8>,
}

/// A response: status, Content-Type, Content-Encoding, and its body.
#[derive(Clone, Debug, Default)]
struct Resp {
    status: u16,
    content_type: String,
    content_encoding: String,
    body: BodySeen,
}

#[derive(Default)]
struct FlowState {
    conn: Option<HttpConnection>,
    frame: u64,
    requests: Vec<Req>,
    request_bodies: Vec<BodySeen>,
    responses: Vec<Resp>,
    tunnels: usize,
}

/// What one flow held.
struct Flow {
    client: String,
    server: String,
    requests: Vec<Req>,
    request_bodies: Vec<BodySeen>,
    responses: Vec<Resp>,
    tunnels: usize,
    stats: [Stats; 2],
}

#[derive(Default)]
struct Collect {
    flows: Vec<Flow>,
}

/// Files an event under the flow's state. `side` says where a body belongs.
fn record(s: &mut FlowState, frame: u64, udp: bool, side: Side, e: HttpEvent<'_>) {
    match e {
        HttpEvent::Request(r) => s.requests.push(Req {
            host: r.head.get(b"host").map(text).unwrap_or_default(),
            user_agent: r.head.user_agent.map(text).unwrap_or_default(),
            method: text(r.method),
            target: text(r.target),
            frame,
            udp,
        }),
        HttpEvent::Response(r) => s.responses.push(Resp {
            status: r.status,
            content_type: r.head.content_type.map(text).unwrap_or_default(),
            content_encoding: r.head.content_encoding.map(text).unwrap_or_default(),
            body: BodySeen::default(),
        }),
        HttpEvent::Body(b) => {
            let seen = BodySeen {
                len: b.data.len(),
                wire_len: b.wire_len,
                decoded: b.decoded,
                decode_error: b.decode_error,
                truncated: b.truncated,
                incomplete: b.incomplete,
                start: b.data[..b.data.len().min(64)].to_vec(),
            };
            match side {
                Side::Requests => s.request_bodies.push(seen),
                Side::Responses => s.responses.last_mut().expect("a body follows its head").body = seen,
            }
        }
        HttpEvent::Tunnel { .. } => s.tunnels += 1,
    }
}

impl FlowHandler for Collect {
    type State = FlowState;

    fn on_payload(&mut self, flow: &FlowInfo, s: &mut FlowState, dir: Direction, payload: Payload<'_>) {
        match payload {
            Payload::Stream(chunk) => {
                let mut conn = s.conn.take().unwrap_or_else(|| HttpConnection::new(Limits::default()));
                match chunk {
                    Chunk::Data { bytes, frame, .. } => {
                        s.frame = frame;
                        conn.push(dir, bytes, |side, e| record(s, frame, false, side, e));
                    }
                    Chunk::Gap { len, .. } => {
                        let frame = s.frame;
                        conn.gap(dir, len, |side, e| record(s, frame, false, side, e));
                    }
                }
                s.conn = Some(conn);
            }
            Payload::Datagram { bytes, frame } => {
                // A response's direction is whichever way it went: SSDP answers come back
                // to the searcher's port, often as a flow of their own.
                let side = if bytes.starts_with(b"HTTP/") { Side::Responses } else { Side::Requests };
                let _ = flow;
                http::parse_datagram(bytes, &Limits::default(), |e| record(s, frame, true, side, e));
            }
        }
    }

    fn on_end(&mut self, flow: FlowInfo, mut s: FlowState, _reason: EndReason) {
        let f = &flow.flow_ref;
        let mut stats = [Stats::default(); 2];
        if let Some(mut conn) = s.conn.take() {
            let frame = s.frame;
            conn.finish(|side, e| record(&mut s, frame, false, side, e));
            stats = [*conn.stream(Direction::ToServer).stats(), *conn.stream(Direction::ToClient).stats()];
        }
        if f.proto == IpProto::TCP || f.proto == IpProto::UDP {
            self.flows.push(Flow {
                client: endpoint(f.src_ip, f.src_port),
                server: endpoint(f.dest_ip, f.dest_port),
                requests: s.requests,
                request_bodies: s.request_bodies,
                responses: s.responses,
                tunnels: s.tunnels,
                stats,
            });
        }
    }
}

/// Every TCP and UDP flow of the capture, in the order they ended. A capture that turns
/// corrupt is read up to the damage.
fn flows(path: &Path) -> Vec<Flow> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let Ok(mut reader) = CaptureReader::new(file) else { return Vec::new() };
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut table = FlowTable::new(FlowConfig::default(), Collect::default());
    let mut counters = Counters::default();
    let mut frame = 0;
    while let Ok(Some(record)) = reader.next_record() {
        if let Record::Packet(p) = record {
            frame += 1;
            if let Some(pkt) = decoder.decode(p.ts, p.link_type, p.data, &mut counters) {
                table.packet(p.ts, frame, &pkt, &mut counters);
            }
        }
    }
    table.flush(&mut counters);
    std::mem::take(&mut table.handler_mut().flows)
}

/// Distinct (host, method, target) of every request in `flows`.
fn request_set(flows: &[Flow]) -> BTreeSet<(String, String, String)> {
    flows.iter().flat_map(|f| &f.requests).map(|r| (r.host.clone(), r.method.clone(), r.target.clone())).collect()
}

fn fixture(name: &str) -> Vec<Flow> {
    flows(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/captures").join(name))
}

/// Every request as (client, host, method, target), sorted: tshark's `http_req` rows give
/// the same for these captures.
fn requests(flows: &[Flow]) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = flows
        .iter()
        .flat_map(|f| f.requests.iter().map(|r| (f.client.clone(), r.host.clone(), r.method.clone(), r.target.clone())))
        .collect();
    v.sort();
    v
}

fn rows(rows: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> =
        rows.iter().map(|(c, h, m, t)| (c.to_string(), h.to_string(), m.to_string(), t.to_string())).collect();
    v.sort();
    v
}

/// The only flow with requests.
fn the_flow(flows: &[Flow]) -> &Flow {
    let with: Vec<&Flow> = flows.iter().filter(|f| !f.requests.is_empty()).collect();
    assert_eq!(with.len(), 1, "flows with requests");
    with[0]
}

#[test]
fn pipelined_requests_and_gzip_bodies() {
    let flows = fixture("zeek__http__pipelined-requests.pcap");
    let c = "192.168.1.104:1673";
    let h = "www.mozilla.org";
    assert_eq!(
        requests(&flows),
        rows(&[
            (c, h, "GET", "/style/enhanced.css"),
            (c, h, "GET", "/script/urchin.js"),
            (c, h, "GET", "/images/template/screen/bullet_utility.png"),
            (c, h, "GET", "/images/template/screen/key-point-top.png"),
            (c, h, "GET", "/projects/calendar/images/header-sunbird.png"),
        ])
    );
    let f = the_flow(&flows);
    // tshark's frames: each request where it ends.
    assert_eq!(f.requests.iter().map(|r| r.frame).collect::<Vec<_>>(), [4, 6, 14, 16, 20]);
    assert!(f.requests[0].user_agent.starts_with("Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.1"));
    let statuses: Vec<_> = f.responses.iter().map(|r| (r.status, r.content_encoding.as_str())).collect();
    assert_eq!(statuses, [(200, "gzip"), (200, "gzip"), (200, ""), (200, ""), (200, "")]);
    // The gzipped CSS and JavaScript, decoded (sizes as tshark's "uncompressed entity body").
    let css = &f.responses[0].body;
    assert!(css.decoded && !css.decode_error && !css.incomplete, "{css:?}");
    assert_eq!((css.wire_len, css.len), (946, 2675));
    assert!(css.start.starts_with(b"/*"), "{:?}", text(&css.start));
    let js = &f.responses[1].body;
    assert_eq!((js.wire_len, js.len, js.decoded), (6716, 21421, true));
    // The images are passed as they came.
    assert!(f.responses[3].body.start.starts_with(b"\x89PNG"));
    assert_eq!(f.stats.map(|s| (s.junk, s.gaps, s.decode_errors)), [(0, 0, 0); 2]);
}

#[test]
fn two_requests_in_one_segment_chunked_over_length() {
    // A POST with both Transfer-Encoding: chunked and Content-Length: chunked wins (RFC 9112
    // §6.3), so the GET after its empty chunked body is a second request, as tshark reads it.
    let flows = fixture("zeek__http__261__variant-04-te_cl_desync.pcap");
    let c = "192.168.1.100:40004";
    assert_eq!(requests(&flows), rows(&[(c, "target", "POST", "/"), (c, "target", "GET", "/smuggled-te-cl")]));
    let f = the_flow(&flows);
    assert_eq!(f.requests.iter().map(|r| r.frame).collect::<Vec<_>>(), [4, 4]);
}

#[test]
fn chunked_gzip_and_continue() {
    let flows = fixture("zeek__http__http-body-match.pcap");
    let (h, post, get) = ("192.88.99.42", "POST", "GET");
    assert_eq!(
        requests(&flows),
        rows(&[
            ("192.0.2.42:13578", h, get, "/abcd"),
            ("192.0.2.42:13579", h, get, "/abcd"),
            ("192.0.2.42:24680", h, post, "/abcd"),
            ("192.0.2.42:24681", h, post, "/abcd"),
            ("192.0.2.42:24682", h, post, "/abcd"),
            ("192.0.2.42:24682", h, post, "/abcd"),
            ("192.0.2.42:33210", h, post, "/abcd"),
            ("192.0.2.42:33211", h, post, "/abcd"),
            ("192.0.2.42:34527", h, post, "/abcd"),
            ("192.0.2.42:34528", h, post, "/abcd"),
        ])
    );
    // Responses: 100 Continue before the real one; gzip inside chunked, decoded.
    let flow = |client: &str| flows.iter().find(|f| f.client == client).unwrap();
    let f = flow("192.0.2.42:34528");
    assert_eq!(f.responses.iter().map(|r| r.status).collect::<Vec<_>>(), [100, 200]);
    let b = &f.responses[1].body;
    assert_eq!((b.start.as_slice(), b.decoded, b.wire_len), (&b"CDEF"[..], true, 24));
    let f = flow("192.0.2.42:24682");
    assert_eq!(f.responses.iter().map(|r| r.status).collect::<Vec<_>>(), [100, 200, 200]);
    assert_eq!(f.responses[1].body.start, b"CD");
    for f in &flows {
        for r in &f.responses {
            assert!(!r.body.decode_error && !r.body.incomplete && !r.body.truncated, "{}: {r:?}", f.client);
        }
    }
}

#[test]
fn deflate_without_zlib_header() {
    // IIS-era servers send "Content-Encoding: deflate" as raw deflate.
    let flows = fixture("zeek__http__missing-zlib-header.pcap");
    let c = "237.244.174.255:1905";
    assert_eq!(
        requests(&flows),
        rows(&[(c, "ads1.msn.com", "GET", "/library/dap.js"), (c, "ads1.msn.com", "GET", "/library/dap.js")])
    );
    let f = the_flow(&flows);
    for r in &f.responses {
        assert_eq!((r.content_encoding.as_str(), r.body.decoded, r.body.decode_error), ("deflate", true, false));
        assert_eq!((r.body.wire_len, r.body.len), (5139, 13249));
        assert!(r.body.start.starts_with(b"\nvar _dap"), "{:?}", text(&r.body.start));
    }
}

#[test]
fn ssdp_search_over_udp() {
    let flows = fixture("ndpi__ssdp-m-search-ua.pcap");
    let c = "192.168.242.50:56446";
    let h = "239.255.255.250:1900";
    let search = (c, h, "M-SEARCH", "*");
    assert_eq!(requests(&flows), rows(&[search, search, search, search]));
    let f = the_flow(&flows);
    assert!(f.requests.iter().all(|r| r.udp && r.user_agent == "Google Chrome/99.0.4844.74 Mac OS X"));
    assert_eq!(f.requests.iter().map(|r| r.frame).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn docker_api_on_an_odd_port_with_upgrade() {
    let flows = fixture("zeek__http__docker-http-upgrade.pcap");
    let (h, id) = ("192.168.122.87:2375", "cc4fc8e49cadbb8bc41437dc2f9979a72293eabc3f0ea5ce48b77f43cb1f1d5e");
    let (attach, wait) = (
        format!("/v1.41/containers/{id}/attach?stderr=1&stdin=1&stdout=1&stream=1"),
        format!("/v1.41/containers/{id}/wait?condition=next-exit"),
    );
    let (start, resize) =
        (format!("/v1.41/containers/{id}/start"), format!("/v1.41/containers/{id}/resize?h=69&w=134"));
    assert_eq!(
        requests(&flows),
        rows(&[
            ("192.168.122.1:48648", h, "HEAD", "/_ping"),
            ("192.168.122.1:48648", h, "POST", "/v1.41/containers/create"),
            ("192.168.122.1:48648", h, "POST", &wait),
            ("192.168.122.1:48656", h, "POST", &attach),
            ("192.168.122.1:48666", h, "POST", &start),
            ("192.168.122.1:48666", h, "POST", &resize),
        ])
    );
    let flow = |client: &str| flows.iter().find(|f| f.client == client).unwrap();
    // The answer to HEAD has a Content-Length but no body; the container's id comes in JSON.
    let f = flow("192.168.122.1:48648");
    assert_eq!(
        f.responses.iter().map(|r| (r.status, r.body.wire_len)).collect::<Vec<_>>(),
        [(200, 0), (201, 88), (200, 30)]
    );
    assert!(text(&f.responses[1].body.start).starts_with(&format!("{{\"Id\":\"{}", &id[..40])));
    // attach is upgraded to Docker's raw stream: 101, then no more HTTP.
    let f = flow("192.168.122.1:48656");
    assert_eq!(f.responses.iter().map(|r| r.status).collect::<Vec<_>>(), [101]);
    assert!(f.tunnels >= 1);
    assert_eq!(f.stats.map(|s| s.junk), [0, 0]);
}

#[test]
fn http_after_socks_handshakes() {
    // SOCKS4 and SOCKS5 handshakes, then HTTP on the same connection: the request line
    // follows binary bytes without a line break, at the start of a segment.
    let flows = fixture("ndpi__socks.pcap");
    assert_eq!(
        requests(&flows),
        rows(&[
            ("10.0.0.1:1637", "www.google.com", "GET", "/"),
            ("10.180.156.185:53533", "www.example.com", "GET", "/"),
            ("10.180.156.185:53534", "www.example.com", "GET", "/"),
            ("10.180.156.185:53535", "www.example.com", "GET", "/"),
        ])
    );
    for f in flows.iter().filter(|f| !f.requests.is_empty()) {
        assert_eq!(f.responses.len(), 1, "{}", f.client);
        assert!(f.responses[0].body.start.starts_with(b"<"), "{}", f.client);
    }
}

// ---- corpus sweep ----

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("MANIFEST.tsv").exists().then_some(p)
}

/// tshark's requests for one capture: (host, method, uri) from the `http_req` rows, with
/// the frame and transport of each.
fn truth(root: &Path, rel: &str) -> Vec<((String, String, String), u64, String)> {
    let t = std::fs::read(root.join("truth").join(format!("{rel}.tsv"))).unwrap_or_default();
    let t = String::from_utf8_lossy(&t);
    let mut v = Vec::new();
    for line in t.lines().filter(|l| l.starts_with("http_req\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (frame, l4, hosts, requests) = (f[1].parse().unwrap_or(0), f[2], f[7], f.get(8).copied().unwrap_or(""));
        let hosts: Vec<&str> = hosts.split('\x1f').collect();
        for (i, request) in requests.split('\x1f').enumerate() {
            let (method, uri) = request.split_once(' ').unwrap_or((request, ""));
            let host = hosts.get(i).copied().unwrap_or("");
            v.push(((host.to_string(), method.to_string(), uri.to_string()), frame, l4.to_string()));
        }
    }
    v
}

#[test]
#[ignore = "needs ../shared/corpus; run with --ignored --nocapture"]
fn corpus_sweep() {
    let Some(root) = corpus() else {
        eprintln!("no corpus, skipped");
        return;
    };
    let keylogged: BTreeSet<String> = std::fs::read_to_string(root.join("KEYLOGS.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect();
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let only = std::env::var("ONLY").ok();
    let (mut captures, mut theirs, mut ours, mut both) = (0, 0, 0, 0);
    let mut stats = Stats::default();
    let (mut bodies, mut decoded, mut decode_errors, mut tunnels) = (0, 0, 0, 0);
    for line in manifest.lines().skip(1) {
        let rel = line.split('\t').next().unwrap();
        if keylogged.contains(rel) || only.as_deref().is_some_and(|o| !rel.contains(o)) {
            continue;
        }
        let t = truth(&root, rel);
        if t.is_empty() {
            continue;
        }
        captures += 1;
        let flows = flows(&root.join(rel));
        let expected: BTreeSet<_> = t.iter().map(|(k, _, _)| k.clone()).collect();
        let got = request_set(&flows);
        theirs += expected.len();
        ours += got.len();
        both += expected.intersection(&got).count();
        for missed in expected.difference(&got) {
            let (_, frame, l4) = t.iter().find(|(k, _, _)| k == missed).unwrap();
            eprintln!("MISSED\t{rel}\t{l4} frame {frame}\t{missed:?}");
        }
        for extra in got.difference(&expected) {
            let r = flows
                .iter()
                .flat_map(|f| f.requests.iter().map(move |r| (f, r)))
                .find(|(_, r)| (&r.host, &r.method, &r.target) == (&extra.0, &extra.1, &extra.2));
            let (f, r) = r.unwrap();
            eprintln!(
                "EXTRA\t{rel}\t{} frame {} {} -> {}\t{extra:?}",
                if r.udp { "udp" } else { "tcp" },
                r.frame,
                f.client,
                f.server
            );
        }
        for f in &flows {
            if std::env::var_os("PRINT_REQUESTS").is_some() {
                for r in &f.requests {
                    eprintln!(
                        "REQ\t{rel}\t{} -> {}\tframe {}\t{:?} {:?} {:?}",
                        f.client, f.server, r.frame, r.host, r.method, r.target
                    );
                }
                for r in &f.responses {
                    eprintln!(
                        "RESP\t{rel}\t{} -> {}\t{} {:?} {:?} {:?}",
                        f.client, f.server, r.status, r.content_type, r.content_encoding, r.body
                    );
                }
            }
            tunnels += f.tunnels;
            for s in &f.stats {
                stats.messages += s.messages;
                stats.heads_too_long += s.heads_too_long;
                stats.headers_truncated += s.headers_truncated;
                stats.bodies_truncated += s.bodies_truncated;
                stats.decode_errors += s.decode_errors;
                stats.lenient += s.lenient;
                stats.junk += s.junk;
                stats.framing_errors += s.framing_errors;
                stats.gaps += s.gaps;
                stats.incomplete_heads += s.incomplete_heads;
                stats.pending_dropped += s.pending_dropped;
            }
            for b in f.responses.iter().map(|r| &r.body).chain(&f.request_bodies) {
                bodies += usize::from(b.wire_len > 0);
                decoded += usize::from(b.decoded);
                decode_errors += usize::from(b.decode_error);
                if b.decode_error && std::env::var_os("SHOW_DECODE_ERRORS").is_some() {
                    eprintln!("DECODE_ERROR\t{rel}\t{} -> {}\t{b:?}", f.client, f.server);
                }
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    eprintln!(
        "captures {captures}: tshark {theirs}, ours {ours}, both {both}: recall {:.2}%, precision {:.2}%",
        100.0 * ratio(both, theirs),
        100.0 * ratio(both, ours)
    );
    eprintln!("bodies {bodies}, decoded {decoded}, decode errors {decode_errors}, tunnels {tunnels}");
    eprintln!("{stats:#?}");
    assert!(captures > 0);
}

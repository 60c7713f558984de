//! HTTP/2 bytes that real implementations wrote: a cleartext h2c capture from nDPI's test
//! suite (tests/data/SOURCES.md), read through the pipeline's own capture, decode and flow
//! stages, checked against tshark's dissection; and conversations between the `h2` crate's
//! client and server (hyper's HTTP/2: its HPACK encoder with dynamic table and Huffman
//! choices, its frame splitting), recorded from an in-memory duplex.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::Direction;
use phonehome_model::event::EndReason;
use phonehome_protocols::h2::{Event, H2Connection, Limits};
use phonehome_protocols::http::Side;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A message as the tests compare it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Msg {
    side: Option<Side>,
    stream: u64,
    head: Vec<(String, String)>,
    body: Vec<u8>,
    body_incomplete: bool,
    decoded: bool,
}

/// Messages per stream and side, in the order their heads came; bodies filled in.
#[derive(Default)]
struct Messages {
    list: Vec<Msg>,
    errors: usize,
}

impl Messages {
    fn on(&mut self, side: Side, e: Event<'_>) {
        let head = |b: &phonehome_protocols::h2::HeaderBlock<'_>| {
            b.fields.iter().map(|h| (text(h.name), text(h.value))).collect::<Vec<_>>()
        };
        match e {
            Event::Request(r) => {
                self.errors += usize::from(r.block.error.is_some());
                self.list.push(Msg { side: Some(side), stream: r.stream_id, head: head(&r.block), ..Msg::default() });
            }
            Event::Response(r) => {
                self.errors += usize::from(r.block.error.is_some());
                self.list.push(Msg { side: Some(side), stream: r.stream_id, head: head(&r.block), ..Msg::default() });
            }
            Event::Body { stream_id, body } => {
                if let Some(m) = self.list.iter_mut().rev().find(|m| m.side == Some(side) && m.stream == stream_id) {
                    m.body = body.data.to_vec();
                    m.body_incomplete = body.incomplete;
                    m.decoded = body.decoded;
                }
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct State {
    conn: Option<H2Connection>,
    msgs: Messages,
}

#[derive(Default)]
struct Collect {
    flows: Vec<(Messages, phonehome_protocols::h2::Stats)>,
}

impl FlowHandler for Collect {
    type State = State;

    fn on_payload(&mut self, _flow: &FlowInfo, s: &mut State, dir: Direction, payload: Payload<'_>) {
        let Payload::Stream(chunk) = payload else { return };
        let conn = s.conn.get_or_insert_with(|| H2Connection::new(Limits::default()));
        let msgs = &mut s.msgs;
        match chunk {
            Chunk::Data { bytes, .. } => conn.push(dir, bytes, |side, e| msgs.on(side, e)),
            Chunk::Gap { len, .. } => conn.gap(dir, len, |side, e| msgs.on(side, e)),
        }
    }

    fn on_end(&mut self, _flow: FlowInfo, mut s: State, _reason: EndReason) {
        if let Some(mut conn) = s.conn.take() {
            let msgs = &mut s.msgs;
            conn.finish(|side, e| msgs.on(side, e));
            self.flows.push((s.msgs, conn.stats()));
        }
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// nDPI's http2.pcapng: a Go client POSTs JSON to a 5G core function over h2c (prior
/// knowledge). tshark (`-d tcp.port==29518,http2`) shows: on stream 3, POST
/// /namf-comm/v1/subscriptions with 9 fields and a 135-byte JSON body, answered 201 with 5
/// fields and an 86-byte body; SETTINGS, WINDOW_UPDATE and a GOAWAY around them.
#[test]
fn ndpi_h2c_capture() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ndpi_http2.pcapng");
    let (c, _) = phonehome_testkit::run(&path, Collect::default());
    assert_eq!(c.flows.len(), 1);
    let (msgs, stats) = &c.flows[0];
    assert_eq!(msgs.errors, 0);
    assert_eq!(msgs.list.len(), 2, "{:#?}", msgs.list);
    let req = &msgs.list[0];
    assert_eq!(req.side, Some(Side::Requests));
    assert_eq!(req.stream, 3);
    assert_eq!(
        req.head,
        pairs(&[
            (":authority", "127.0.0.1:29518"),
            (":method", "POST"),
            (":path", "/namf-comm/v1/subscriptions"),
            (":scheme", "http"),
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("user-agent", "OpenAPI-Generator/1.0.0/go"),
            ("content-length", "135"),
            ("accept-encoding", "gzip"),
        ])
    );
    assert_eq!(req.body.len(), 135);
    assert!(req.body.starts_with(b"{\"amfStatusUri\":\"http://127.0.0.1:29507/npcf-callback/v1/amfstatus\""));
    assert!(!req.body_incomplete);
    let resp = &msgs.list[1];
    assert_eq!(resp.side, Some(Side::Responses));
    assert_eq!(
        resp.head,
        pairs(&[
            (":status", "201"),
            ("content-type", "application/json"),
            ("location", "http://127.0.0.1:29507/npcf-callback/v1/amfstatus/1"),
            ("content-length", "86"),
            ("date", "Thu, 11 Jun 2020 08:17:40 GMT"),
        ])
    );
    assert_eq!(resp.body.len(), 86);
    assert!(!resp.body_incomplete);
    // tshark: frames 1 (SETTINGS, WINDOW_UPDATE), 2, 3, 4, 5 (SETTINGS, WINDOW_UPDATE), 6,
    // 7, 8, 9, 10 (GOAWAY): 12 frames.
    assert_eq!(stats.frames, 12);
    assert_eq!(stats.frame_errors + stats.no_preface + stats.lost, 0);
}

/// An in-memory stream that records what is written into it.
struct Tap<T> {
    inner: T,
    log: Arc<Mutex<Vec<u8>>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.log.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

const DEVICE_ID: &str = "9774d56d682e549c";

/// What the h2 server sends back for request `i`: a gzip body for even ones.
fn response_body(i: usize) -> Vec<u8> {
    format!("{{\"request\":{i},\"echo\":\"{}\"}}", "x".repeat(i * 37)).into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Runs `n` concurrent requests from the h2 client to the h2 server; returns the bytes each
/// side wrote. The server's header table size is set to `table`, so the client's encoder
/// resizes its dynamic table.
fn record(n: usize, table: u32, frame_size: u32) -> (Vec<u8>, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (client_log, server_log) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let (c, s) = tokio::io::duplex(1 << 16);
    let c = Tap { inner: c, log: client_log.clone() };
    let s = Tap { inner: s, log: server_log.clone() };
    rt.block_on(async move {
        let server = tokio::spawn(async move {
            let mut conn = h2::server::Builder::new()
                .header_table_size(table)
                .max_frame_size(frame_size)
                .handshake::<_, bytes::Bytes>(s)
                .await
                .unwrap();
            while let Some(req) = conn.accept().await {
                let (req, mut respond) = req.unwrap();
                tokio::spawn(async move {
                    let i: usize = req.uri().path().trim_start_matches("/item/").parse().unwrap();
                    let mut body = req.into_body();
                    let mut got = Vec::new();
                    while let Some(chunk) = body.data().await {
                        let chunk = chunk.unwrap();
                        let _ = body.flow_control().release_capacity(chunk.len());
                        got.extend_from_slice(&chunk);
                    }
                    assert!(got.starts_with(b"id="));
                    let mut resp = http_types::Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .header("set-cookie", format!("session={}; Path=/; HttpOnly", i % 3))
                        .header("x-served-by", "cache-fra-etou8220123-FRA");
                    let data = if i.is_multiple_of(2) {
                        resp = resp.header("content-encoding", "gzip");
                        gzip(&response_body(i))
                    } else {
                        response_body(i)
                    };
                    let mut send = respond.send_response(resp.body(()).unwrap(), false).unwrap();
                    send.send_data(data.into(), true).unwrap();
                });
            }
        });
        let (client, conn) =
            h2::client::Builder::new().max_frame_size(frame_size).handshake::<_, bytes::Bytes>(c).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut tasks = Vec::new();
        for i in 0..n {
            let mut client = client.clone();
            tasks.push(tokio::spawn(async move {
                client = client.ready().await.unwrap();
                let req = http_types::Request::builder()
                    .method("POST")
                    .uri(format!("https://api.example.com/item/{i}"))
                    .header("user-agent", "okhttp/4.12.0")
                    .header("x-device-id", DEVICE_ID)
                    .header("cookie", format!("uid={i}; a=b"))
                    .header("x-request-index", i.to_string())
                    .body(())
                    .unwrap();
                let (resp, mut send) = client.send_request(req, false).unwrap();
                send.send_data(format!("id={DEVICE_ID}&n={i}&pad={}", "p".repeat(i * 101)).into(), true).unwrap();
                let resp = resp.await.unwrap();
                let mut body = resp.into_body();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(client);
        server.abort();
        let _ = server.await;
    });
    let c = client_log.lock().unwrap().clone();
    let s = server_log.lock().unwrap().clone();
    (c, s)
}

fn parse(client: &[u8], server: &[u8], chunk: usize) -> (Messages, phonehome_protocols::h2::Stats) {
    let mut conn = H2Connection::new(Limits::default());
    let mut msgs = Messages::default();
    for piece in client.chunks(chunk) {
        conn.push(Direction::ToServer, piece, |side, e| msgs.on(side, e));
    }
    for piece in server.chunks(chunk) {
        conn.push(Direction::ToClient, piece, |side, e| msgs.on(side, e));
    }
    conn.finish(|side, e| msgs.on(side, e));
    (msgs, conn.stats())
}

fn check(client: &[u8], server: &[u8], n: usize) {
    let (msgs, stats) = parse(client, server, usize::MAX);
    assert_eq!(msgs.errors, 0);
    assert_eq!(stats.frame_errors + stats.lost + stats.no_preface, 0);
    let requests: Vec<&Msg> = msgs.list.iter().filter(|m| m.side == Some(Side::Requests)).collect();
    let responses: Vec<&Msg> = msgs.list.iter().filter(|m| m.side == Some(Side::Responses)).collect();
    assert_eq!(requests.len(), n);
    assert_eq!(responses.len(), n);
    for r in &requests {
        let get = |name: &str| r.head.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let i: usize = get("x-request-index").parse().unwrap();
        assert_eq!(get(":method"), "POST");
        assert_eq!(get(":scheme"), "https");
        assert_eq!(get(":authority"), "api.example.com");
        assert_eq!(get(":path"), format!("/item/{i}"));
        assert_eq!(get("x-device-id"), DEVICE_ID);
        assert_eq!(get("cookie"), format!("uid={i}; a=b"));
        assert_eq!(r.body, format!("id={DEVICE_ID}&n={i}&pad={}", "p".repeat(i * 101)).into_bytes());
        assert!(!r.body_incomplete);
        // Its response, on the same stream.
        let resp = responses.iter().find(|m| m.stream == r.stream).unwrap();
        let rget = |name: &str| resp.head.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(rget(":status"), "200");
        assert_eq!(rget("set-cookie"), format!("session={}; Path=/; HttpOnly", i % 3));
        assert_eq!(resp.body, response_body(i), "response {i}");
        assert_eq!(resp.decoded, i.is_multiple_of(2));
    }
    // Chunking changes nothing.
    for chunk in [1, 7, 1000] {
        let (m, s) = parse(client, server, chunk);
        assert_eq!(m.list, msgs.list, "chunks of {chunk}");
        assert_eq!(s, stats);
    }
}

#[test]
fn h2_crate_conversation() {
    let (c, s) = record(40, 4096, 16384);
    assert!(c.starts_with(phonehome_protocols::h2::PREFACE));
    check(&c, &s, 40);
}

#[test]
fn h2_crate_conversation_small_table_large_frames() {
    // A 256-byte header table forces evictions and a size update; large frames and bodies
    // over several DATA frames.
    let (c, s) = record(25, 256, 1 << 20);
    check(&c, &s, 25);
}

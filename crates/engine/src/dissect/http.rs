//! HTTP/1.x transactions, over TCP and UDP (SSDP).
//!
//! One `http` event per request, completed by its response when one comes (as Suricata logs
//! a transaction). Requests wait for their responses in a bounded queue; what is still
//! waiting when the flow ends is sent without a response.

use std::collections::VecDeque;

use phonehome_flow::tcp::Chunk;
use phonehome_model::event::{EventBody, HttpRecord, http_version};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::http::{self, Body, HttpConnection, HttpEvent, Request, Side};

use phonehome_detect::Location;

use super::{Context, Dissector, ProtocolLimits};

/// Requests kept while they wait for a response; beyond it the oldest is sent unanswered
/// (counted in `caps.http_pending_requests`).
const MAX_WAITING: usize = 64;

pub(crate) struct HttpDissector {
    conn: HttpConnection,
    limits: http::Limits,
    tx: Transactions,
}

/// Requests and responses paired into transactions. Apart from the parser so that its
/// callback (which borrows the parser's buffers) can update it.
#[derive(Default)]
struct Transactions {
    /// Requests in order, waiting for their responses.
    waiting: VecDeque<HttpRecord>,
    /// A response whose head came and whose body has not finished yet.
    answered: Option<HttpRecord>,
    /// Responses that matched no request (a capture that starts mid-connection).
    unmatched: u64,
    /// The direction of the datagram being read: over UDP a response (an SSDP reply) is
    /// often the first datagram of its own flow, sent by the flow's client.
    datagram_dir: Option<Direction>,
}

impl HttpDissector {
    pub(crate) fn new(limits: &ProtocolLimits) -> HttpDissector {
        HttpDissector { conn: HttpConnection::new(limits.http), limits: limits.http, tx: Transactions::default() }
    }
}

impl Transactions {
    fn on_event(&mut self, side: Side, event: HttpEvent<'_>, cx: &mut Context<'_>) {
        match (side, event) {
            (_, HttpEvent::Request(r)) => {
                if self.waiting.len() >= MAX_WAITING
                    && let Some(old) = self.waiting.pop_front()
                {
                    cx.counters.add(Counter::HttpPendingRequests, 1);
                    cx.out.push(EventBody::Http(Box::new(old)));
                }
                let mut record = request_record(&r);
                if let Some(host) = &record.hostname {
                    cx.name(host.clone(), "http");
                }
                // The URL and Referer are reported: with the identifiers in them redacted.
                let mark = cx.mark();
                record.url = cx.scan_reported(Direction::ToServer, r.target, Location::Url);
                if let Some(referer) = scan_headers(Direction::ToServer, pairs(r.head.headers), cx) {
                    record.http_refer = Some(referer);
                }
                cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                self.waiting.push_back(record);
            }
            (Side::Requests, HttpEvent::Body(b)) => {
                if let Some(r) = self.waiting.back_mut() {
                    r.request_length = b.wire_len;
                    flag_body(r, &b);
                    let mark = cx.mark();
                    cx.scan(Direction::ToServer, b.data, Location::Body);
                    cx.fill_http(mark, r.hostname.as_ref(), &r.url);
                }
            }
            (_, HttpEvent::Response(r)) => {
                // Interim responses (100 Continue...) answer nothing yet.
                if (100..200).contains(&r.status) && r.status != 101 {
                    return;
                }
                let dir = self.datagram_dir.unwrap_or(Direction::ToClient);
                match self.waiting.pop_front() {
                    Some(mut record) => {
                        record.status = Some(r.status);
                        record.http_content_type = r.head.content_type.map(|t| WireText(t.to_vec()));
                        let mark = cx.mark();
                        scan_headers(dir, pairs(r.head.headers), cx);
                        cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                        // A response whose body never ended (no body event) is complete now.
                        if let Some(done) = self.answered.replace(record) {
                            cx.out.push(EventBody::Http(Box::new(done)));
                        }
                    }
                    None => {
                        self.unmatched += 1;
                        scan_headers(dir, pairs(r.head.headers), cx);
                    }
                }
            }
            (Side::Responses, HttpEvent::Body(b)) => {
                if let Some(mut record) = self.answered.take() {
                    record.length = b.wire_len;
                    flag_body(&mut record, &b);
                    // Images, audio, video and fonts a server sends carry no identifier a
                    // text search can find, and are most of the bytes.
                    if !record.http_content_type.as_ref().is_some_and(|t| is_media(&t.0)) {
                        let mark = cx.mark();
                        cx.scan(self.datagram_dir.unwrap_or(Direction::ToClient), b.data, Location::Body);
                        cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                    }
                    cx.out.push(EventBody::Http(Box::new(record)));
                }
            }
            (_, HttpEvent::Tunnel { .. }) => {}
        }
    }
}

impl Dissector for HttpDissector {
    fn stream(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
        let tx = &mut self.tx;
        match chunk {
            Chunk::Data { bytes, .. } => self.conn.push(dir, bytes, |side, e| tx.on_event(side, e, cx)),
            Chunk::Gap { len, .. } => self.conn.gap(dir, len, |side, e| tx.on_event(side, e, cx)),
        }
    }

    fn datagram(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        let tx = &mut self.tx;
        tx.datagram_dir = Some(dir);
        http::parse_datagram(bytes, &self.limits, |e| tx.on_event(Side::Requests, e, cx));
        // A datagram is a whole transaction: nothing waits for an answer.
        tx.flush(cx);
    }

    fn finish(mut self: Box<Self>, cx: &mut Context<'_>) {
        let tx = &mut self.tx;
        self.conn.finish(|side, e| tx.on_event(side, e, cx));
        tx.flush(cx);
        for dir in [Direction::ToServer, Direction::ToClient] {
            let s = self.conn.stream(dir).stats();
            cx.counters.add(Counter::HttpHeadCap, s.heads_too_long);
            cx.counters.add(Counter::HttpHeaderCountCap, s.headers_truncated);
            cx.counters.add(Counter::HttpBodyCap, s.bodies_truncated);
            cx.counters.add(Counter::HttpDecodeError, s.decode_errors);
            cx.counters.add(Counter::HttpJunk, s.junk + s.framing_errors);
            cx.counters.add(Counter::HttpPendingMethods, s.pending_dropped);
        }
        cx.counters.add(Counter::HttpUnmatchedResponse, self.tx.unmatched);
    }

    fn done(&self) -> bool {
        self.conn.is_done()
    }
}

impl Transactions {
    /// Sends every transaction still open, answered or not.
    fn flush(&mut self, cx: &mut Context<'_>) {
        if let Some(r) = self.answered.take() {
            cx.out.push(EventBody::Http(Box::new(r)));
        }
        for r in self.waiting.drain(..) {
            cx.out.push(EventBody::Http(Box::new(r)));
        }
    }
}

/// Searches each header's value, given as (name, value): cookies as cookies, the others under
/// their name (the key that undeclared detection reads, as in `Client-AndroidId: ...`).
/// Returns the first Referer, redacted, since the `http` event reports it. Shared with HAR
/// input, whose headers are strings.
pub(crate) fn scan_headers<'h>(
    dir: Direction,
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    cx: &mut Context<'_>,
) -> Option<WireText> {
    let mut referer = None;
    for (name, value) in headers {
        let location = if name.eq_ignore_ascii_case(b"cookie") || name.eq_ignore_ascii_case(b"set-cookie") {
            Location::Cookie
        } else {
            Location::Header(std::str::from_utf8(name).unwrap_or("?"))
        };
        if referer.is_none() && name.eq_ignore_ascii_case(b"referer") {
            referer = Some(cx.scan_reported(dir, value, location));
        } else {
            cx.scan(dir, value, location);
        }
    }
    referer
}

fn pairs<'h>(headers: &'h [http::Header<'h>]) -> impl Iterator<Item = (&'h [u8], &'h [u8])> {
    headers.iter().map(|h| (h.name, h.value))
}

/// A request's event, before its response (its URL is set by the caller, redacted).
fn request_record(r: &Request<'_>) -> HttpRecord {
    let protocol = format!("HTTP/{}.{}", r.version.major, r.version.minor);
    HttpRecord {
        hostname: r.host.map(|h| WireText(strip_port(h).to_ascii_lowercase())),
        http_method: WireText(r.method.to_vec()),
        version: http_version(&protocol),
        protocol,
        http_user_agent: r.head.user_agent.map(|u| WireText(u.to_vec())),
        http_refer: r.head.get(b"referer").map(|u| WireText(u.to_vec())),
        ..HttpRecord::default()
    }
}

/// Marks what happened to a body.
pub(super) fn flag_body(r: &mut HttpRecord, b: &Body<'_>) {
    for (on, name) in
        [(b.truncated, "body_truncated"), (b.incomplete, "body_incomplete"), (b.decode_error, "decode_error")]
    {
        if on && !r.anomalies.contains(&name) {
            r.anomalies.push(name);
        }
    }
}

/// Whether a Content-Type names binary media (`image/`, `audio/`, `video/`, `font/`).
pub(super) fn is_media(content_type: &[u8]) -> bool {
    let t = content_type.trim_ascii_start();
    [&b"image/"[..], b"audio/", b"video/", b"font/"]
        .iter()
        .any(|p| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p))
}

/// A Host value without its port: `example.com:8080` → `example.com`, `[::1]:80` → `[::1]`.
pub(super) fn strip_port(host: &[u8]) -> &[u8] {
    let Some(colon) = host.iter().rposition(|&b| b == b':') else { return host };
    let tail = &host[colon + 1..];
    let bracketed = host.first() == Some(&b'[');
    if tail.iter().all(u8::is_ascii_digit) && (!bracketed || host[..colon].ends_with(b"]")) && {
        // A bare IPv6 address has more colons; it has no port.
        bracketed || !host[..colon].contains(&b':')
    } {
        &host[..colon]
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::{is_media, strip_port};

    #[test]
    fn media_types_are_told_apart() {
        assert!(is_media(b"image/png"));
        assert!(is_media(b" Video/MP4"));
        assert!(!is_media(b"application/json"));
        assert!(!is_media(b"text/html; charset=utf-8"));
        assert!(!is_media(b"img"));
    }

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port(b"example.com:8080"), b"example.com");
        assert_eq!(strip_port(b"example.com"), b"example.com");
        assert_eq!(strip_port(b"[::1]:80"), b"[::1]");
        assert_eq!(strip_port(b"::1"), b"::1");
        assert_eq!(strip_port(b"host:"), b"host");
        assert_eq!(strip_port(b"host:x"), b"host:x");
    }
}

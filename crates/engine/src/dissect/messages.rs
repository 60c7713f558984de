//! HTTP/2 and HTTP/3 transactions: the messages `phonehome_protocols::h2` and `h3` read,
//! as `http` events and identifier searches.
//!
//! Both protocols report the same [`Event`]s, so one [`Messages`] serves them. As for
//! HTTP/1.x, one `http` event per request, completed by its response; here the two are paired
//! by stream id, not by order, and an event is sent when its response body ends.

use std::collections::BTreeMap;

use phonehome_detect::Location;
use phonehome_model::event::{EventBody, HttpRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::h2::{Event, HeaderBlock};
use phonehome_protocols::http::Side;

use super::Context;
use super::http::{flag_body, is_media, scan_headers, strip_port};

/// Requests kept while their streams are open (the parsers cap streams at 256 by default);
/// beyond it the lowest stream's is sent as it stands.
const MAX_OPEN: usize = 512;

/// Open transactions of one connection, by stream id.
pub(crate) struct Messages {
    /// "HTTP/2" or "HTTP/3", as the event's `protocol`.
    protocol: &'static str,
    /// "2" or "3", as the event's `version`.
    version: &'static str,
    open: BTreeMap<u64, HttpRecord>,
    /// Responses on a stream that carried no request head (a capture or decryption that
    /// started mid-connection).
    unmatched: u64,
}

impl Messages {
    pub(crate) fn http2() -> Messages {
        Messages { protocol: "HTTP/2", version: "2", open: BTreeMap::new(), unmatched: 0 }
    }

    pub(crate) fn http3() -> Messages {
        Messages { protocol: "HTTP/3", version: "3", open: BTreeMap::new(), unmatched: 0 }
    }

    /// Reads one event of the connection.
    pub(crate) fn on_event(&mut self, side: Side, event: Event<'_>, cx: &mut Context<'_>) {
        match event {
            Event::Request(r) => {
                // A pushed request (PUSH_PROMISE) is what the server says the client would ask.
                let dir = if r.promised_on.is_some() { Direction::ToClient } else { Direction::ToServer };
                let mut record = HttpRecord {
                    hostname: r.authority.map(|h| WireText(strip_port(h).to_ascii_lowercase())),
                    http_method: WireText(r.method.to_vec()),
                    protocol: self.protocol.to_string(),
                    version: Some(self.version),
                    http_user_agent: r.block.get(b"user-agent").map(|u| WireText(u.to_vec())),
                    http_refer: r.block.get(b"referer").map(|u| WireText(u.to_vec())),
                    ..HttpRecord::default()
                };
                if let Some(host) = &record.hostname {
                    cx.name(host.clone(), "http");
                }
                // The path and Referer are reported: with the identifiers in them redacted.
                let mark = cx.mark();
                record.url = cx.scan_reported(dir, r.path, Location::Url);
                if let Some(referer) = scan_headers(dir, fields(&r.block), cx) {
                    record.http_refer = Some(referer);
                }
                cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                if let Some(old) = self.open.insert(r.stream_id, record) {
                    cx.out.push(EventBody::Http(Box::new(old)));
                }
                if self.open.len() > MAX_OPEN
                    && let Some((_, oldest)) = self.open.pop_first()
                {
                    cx.out.push(EventBody::Http(Box::new(oldest)));
                }
            }
            Event::Response(r) => {
                // Interim responses (100 Continue, 103 Early Hints) answer nothing yet.
                if r.status.is_some_and(|s| (100..200).contains(&s)) {
                    scan_headers(Direction::ToClient, fields(&r.block), cx);
                    return;
                }
                match self.open.get_mut(&r.stream_id) {
                    Some(record) => {
                        record.status = r.status;
                        record.http_content_type = r.block.get(b"content-type").map(|t| WireText(t.to_vec()));
                        let mark = cx.mark();
                        scan_headers(Direction::ToClient, fields(&r.block), cx);
                        cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                    }
                    None => {
                        self.unmatched += 1;
                        scan_headers(Direction::ToClient, fields(&r.block), cx);
                    }
                }
            }
            Event::Trailers(t) => {
                let mark = cx.mark();
                scan_headers(side_dir(side), fields(&t.block), cx);
                if let Some(record) = self.open.get(&t.stream_id) {
                    cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                }
            }
            Event::Body { stream_id, body } => {
                let dir = side_dir(side);
                let Some(record) = self.open.get_mut(&stream_id) else {
                    cx.scan(dir, body.data, Location::Body);
                    return;
                };
                match side {
                    Side::Requests => record.request_length = body.wire_len,
                    Side::Responses => record.length = body.wire_len,
                }
                flag_body(record, &body);
                // Images, audio, video and fonts a server sends carry no identifier a text
                // search can find, and are most of the bytes.
                if side == Side::Requests || !record.http_content_type.as_ref().is_some_and(|t| is_media(&t.0)) {
                    let mark = cx.mark();
                    cx.scan(dir, body.data, Location::Body);
                    cx.fill_http(mark, record.hostname.as_ref(), &record.url);
                }
                // The response's end completes the transaction.
                if side == Side::Responses
                    && let Some(done) = self.open.remove(&stream_id)
                {
                    cx.out.push(EventBody::Http(Box::new(done)));
                }
            }
            Event::Data { .. } | Event::Reset { .. } | Event::GoAway { .. } => {}
        }
    }

    /// Adds the caps and anomalies of a connection's messages to the run's counters (HTTP/2
    /// and HTTP/3 bodies and header lists are capped by the same flags as HTTP/1.x).
    pub(crate) fn count(&self, m: &phonehome_protocols::h2::MessageStats, cx: &mut Context<'_>) {
        cx.counters.add(Counter::HttpBodyCap, m.bodies_truncated);
        cx.counters.add(Counter::HttpHeaderCountCap, m.headers_truncated);
        cx.counters.add(Counter::HttpDecodeError, m.decode_errors);
        cx.counters.add(Counter::HttpHeaderBlockError, m.block_errors);
        cx.counters.add(Counter::HttpUnmatchedResponse, self.unmatched);
    }

    /// Sends every transaction still open (the connection ended).
    pub(crate) fn flush(&mut self, cx: &mut Context<'_>) {
        while let Some((_, record)) = self.open.pop_first() {
            cx.out.push(EventBody::Http(Box::new(record)));
        }
    }
}

/// The direction a side's messages travel in.
fn side_dir(side: Side) -> Direction {
    match side {
        Side::Requests => Direction::ToServer,
        Side::Responses => Direction::ToClient,
    }
}

/// The fields of a block to search as headers: all but `:path`, which is searched as the URL.
fn fields<'h>(block: &HeaderBlock<'h>) -> impl Iterator<Item = (&'h [u8], &'h [u8])> {
    block.fields.iter().filter(|h| h.name != b":path").map(|h| (h.name, h.value))
}

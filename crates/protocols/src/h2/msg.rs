//! What HTTP/2 and HTTP/3 share once their frames are read: header blocks become requests,
//! responses and trailers, DATA becomes body chunks and, at the end of each stream's side,
//! one whole [`Body`] (decoded, capped), as [`crate::http`] reports HTTP/1.x messages.

use std::collections::BTreeMap;

use crate::body::{Codings, Decoder};
use crate::hpack::FieldList;
use crate::http::{Body, Header, Side};

/// Caps of an HTTP/2 or HTTP/3 connection; each hit is counted in the protocol's `Stats`.
///
/// Memory per connection is at most: two header tables of [`max_table_size`], one header
/// block of [`max_header_block`] per direction (plus its decoded fields, at most
/// [`max_header_list`]), [`max_streams`] small stream records, body bytes up to
/// [`max_buffered`] plus one [`max_body`], and the state of [`max_decoders`] body decoders
/// (40 KiB for gzip, up to 16 MiB for a brotli or zstd window; see [`crate::body`]).
///
/// [`max_table_size`]: Limits::max_table_size
/// [`max_header_block`]: Limits::max_header_block
/// [`max_header_list`]: Limits::max_header_list
/// [`max_streams`]: Limits::max_streams
/// [`max_buffered`]: Limits::max_buffered
/// [`max_body`]: Limits::max_body
/// [`max_decoders`]: Limits::max_decoders
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Encoded bytes of one header block (HTTP/2: HEADERS or PUSH_PROMISE and its
    /// CONTINUATIONs; HTTP/3: a HEADERS frame). A longer block is skipped unread: reported
    /// with [`BlockError::TooLong`], and, in HTTP/2, the HPACK table of its direction is lost
    /// with it. Default 256 KiB (servers refuse header lists of 16 to 256 KiB).
    pub max_header_block: usize,
    /// Fields kept per header block; the rest are dropped and the block flagged truncated.
    /// Default 128.
    pub max_headers: usize,
    /// Decoded bytes kept per header block, counted as SETTINGS_MAX_HEADER_LIST_SIZE counts
    /// them (name + value + 32 per field). Default 256 KiB.
    pub max_header_list: usize,
    /// Largest dynamic table (HPACK or QPACK) per direction, whatever the peer asks for; a
    /// larger size is clamped and counted. Default 64 KiB (the protocols' default is 4 KiB;
    /// servers announce up to 64 KiB).
    pub max_table_size: usize,
    /// Streams tracked at once; opening one more drops the oldest (lowest id), whose open
    /// bodies end incomplete. Default 256.
    pub max_streams: usize,
    /// Decoded body bytes kept per message (0 keeps none). Default 1 MiB.
    pub max_body: usize,
    /// Body bytes held at once over all the streams of a connection; past it, bodies that
    /// grow are cut (truncated). Default 16 MiB.
    pub max_buffered: usize,
    /// Bodies being decompressed at once (each holds a decoder's window); a compressed body
    /// that starts when this many are open is not collected (flagged truncated). Default 16.
    pub max_decoders: usize,
    /// Undo Content-Encoding (gzip, deflate, br, zstd). Default on.
    pub decode: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_block: 256 << 10,
            max_headers: 128,
            max_header_list: 256 << 10,
            max_table_size: 64 << 10,
            max_streams: 256,
            max_body: 1 << 20,
            max_buffered: 16 << 20,
            max_decoders: 16,
            decode: true,
        }
    }
}

impl Limits {
    pub(crate) fn block_limits(&self) -> crate::hpack::BlockLimits {
        crate::hpack::BlockLimits { max_fields: self.max_headers, max_list_size: self.max_header_list }
    }
}

/// Why a header block was not (wholly) decoded. The fields before the failure are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockError {
    /// Longer than [`Limits::max_header_block`]: skipped unread.
    TooLong,
    /// HPACK could not decode it (see [`crate::hpack::Error`]; `Desync` when an earlier
    /// block of the direction failed or was skipped).
    Hpack(crate::hpack::Error),
    /// QPACK could not decode it (see [`crate::qpack::Error`]).
    Qpack(crate::qpack::Error),
}

/// A decoded header block: every field in order, pseudo-header fields (`:method`,
/// `:status`...) included as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderBlock<'a> {
    /// The fields kept (at most [`Limits::max_headers`]), names as sent (HTTP/2 and 3 send
    /// them in lower case), values raw.
    pub fields: &'a [Header<'a>],
    /// Fields were dropped at [`Limits::max_headers`] or [`Limits::max_header_list`].
    pub truncated: bool,
    /// The block could not be decoded, wholly or from some field on.
    pub error: Option<BlockError>,
    /// Offset of the block's first frame in its byte stream (HTTP/2: the direction's stream,
    /// preface included; HTTP/3: the QUIC stream), for evidence.
    pub offset: u64,
    /// Encoded length of the block (frame headers and padding excluded).
    pub len: usize,
}

impl<'a> HeaderBlock<'a> {
    /// The first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.fields.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    }

    /// Every field named `name` (ASCII case-insensitive), in order.
    pub fn get_all<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.fields.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    }

    /// The fields that are not pseudo-header fields (whose names do not start with `:`), in
    /// order: the headers an HTTP/1.x message would carry.
    pub fn regular(&self) -> impl Iterator<Item = &'a Header<'a>> + 'a {
        self.fields.iter().filter(|h| !h.name.starts_with(b":"))
    }
}

/// A request head: HEADERS from the client, or PUSH_PROMISE from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The stream it opens (for a push, the promised stream).
    pub stream_id: u64,
    /// `:method` (empty when missing).
    pub method: &'a [u8],
    /// `:scheme` (empty when missing, as for CONNECT).
    pub scheme: &'a [u8],
    /// `:authority`, else the Host header: the host asked for, port included when sent.
    pub authority: Option<&'a [u8]>,
    /// `:path` (empty when missing, as for CONNECT).
    pub path: &'a [u8],
    /// For a request the server pushed (PUSH_PROMISE): the stream that carried the promise.
    pub promised_on: Option<u64>,
    /// The request has no body (END_STREAM on its HEADERS).
    pub end_stream: bool,
    /// All fields.
    pub block: HeaderBlock<'a>,
}

/// A response head, interim (1xx but 101) or final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// Its stream.
    pub stream_id: u64,
    /// `:status`, when present and three digits.
    pub status: Option<u16>,
    /// The response has no body (END_STREAM on its HEADERS).
    pub end_stream: bool,
    /// All fields.
    pub block: HeaderBlock<'a>,
}

/// Trailer fields: a header block after a message's head (and data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailers<'a> {
    /// Its stream.
    pub stream_id: u64,
    /// All fields.
    pub block: HeaderBlock<'a>,
}

/// What an HTTP/2 or HTTP/3 connection reports. Each comes with the [`Side`] of the message
/// it belongs to: [`Side::Requests`] for requests (pushed ones included, although the server
/// sent them) and their data, [`Side::Responses`] for responses and theirs.
///
/// Per stream and side: at most one [`Request`](Event::Request) (or final
/// [`Response`](Event::Response), after any interim ones), then [`Data`](Event::Data)
/// chunks, maybe [`Trailers`](Event::Trailers), then exactly one [`Body`](Event::Body)
/// when a head or data was seen. The `Body` is the end of that side of the stream: sent at
/// END_STREAM (HTTP/3: FIN), at a reset, when the stream is dropped at
/// [`Limits::max_streams`], or when the connection finishes (then `incomplete`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A request head.
    Request(Request<'a>),
    /// A response head (interim ones too: check the status).
    Response(Response<'a>),
    /// Trailers of the message.
    Trailers(Trailers<'a>),
    /// Message bytes as they arrive (HTTP/2 DATA frames without their padding; HTTP/3 DATA
    /// frames), not decoded; borrowed from the pushed chunk.
    Data {
        /// Its stream.
        stream_id: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// The whole message body, decoded and capped as HTTP/1.x bodies are (see
    /// [`crate::http::Body`]; `trailers` is always empty: they come as [`Event::Trailers`]).
    /// `incomplete` when the stream did not end normally (reset, hole, dropped, connection
    /// end).
    Body {
        /// Its stream.
        stream_id: u64,
        /// The body.
        body: Body<'a>,
    },
    /// The stream was reset (HTTP/2 RST_STREAM; HTTP/3 [`crate::h3::H3Connection::reset`]):
    /// its bodies end incomplete. The side is the sender's.
    Reset {
        /// Its stream.
        stream_id: u64,
        /// The error code sent.
        error_code: u64,
    },
    /// The sender is closing the connection (GOAWAY). The side is the sender's.
    GoAway {
        /// HTTP/2: the last stream the sender will process; HTTP/3: the stream or push id.
        last_stream_id: u64,
        /// HTTP/2's error code (0 for HTTP/3, whose GOAWAY has none).
        error_code: u64,
        /// HTTP/2's debug data (at most 16 KiB kept), often text.
        debug: &'a [u8],
    },
}

/// Counters about messages, shared by both protocols.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageStats {
    /// Request and final response heads reported.
    pub messages: u64,
    /// Header blocks with fields dropped at [`Limits::max_headers`] or
    /// [`Limits::max_header_list`].
    pub headers_truncated: u64,
    /// Header blocks skipped at [`Limits::max_header_block`].
    pub blocks_too_long: u64,
    /// Header blocks that could not be decoded (wholly or partly), `TooLong` ones included.
    pub block_errors: u64,
    /// Streams dropped at [`Limits::max_streams`].
    pub streams_evicted: u64,
    /// Bodies cut at [`Limits::max_body`] or [`Limits::max_buffered`].
    pub bodies_truncated: u64,
    /// Compressed bodies not collected at [`Limits::max_decoders`].
    pub bodies_skipped: u64,
    /// Bodies whose Content-Encoding could not be undone.
    pub decode_errors: u64,
    /// Frames for streams that had ended or were dropped (ignored).
    pub late_frames: u64,
}

/// How far a side's head has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum HeadState {
    #[default]
    None,
    /// Only interim responses so far.
    Interim,
    Final,
}

/// Where a body's bytes go.
enum Mode {
    Copy,
    Decode(Box<Decoder>),
    /// Nothing more is kept (cap, hole, decoder cap).
    Stop,
}

struct BodyState {
    buf: Vec<u8>,
    mode: Mode,
    wire_len: u64,
    decoded: bool,
    truncated: bool,
    incomplete: bool,
    decode_error: bool,
}

#[derive(Default)]
struct Half {
    head: HeadState,
    ended: bool,
    /// Data was seen (a body is owed even without a head).
    data: bool,
    codings: Codings,
    body: Option<Box<BodyState>>,
}

impl Half {
    fn started(&self) -> bool {
        self.head == HeadState::Final || self.data
    }
}

#[derive(Default)]
struct Stream {
    halves: [Half; 2],
}

fn idx(side: Side) -> usize {
    match side {
        Side::Requests => 0,
        Side::Responses => 1,
    }
}

const SIDES: [Side; 2] = [Side::Requests, Side::Responses];

/// The streams of one connection and their messages.
pub(crate) struct Streams {
    limits: Limits,
    map: BTreeMap<u64, Stream>,
    /// HTTP/2 opens streams in increasing order per initiator, so an unknown id at or below
    /// the highest seen of its parity is a closed stream; HTTP/3 streams may start in any
    /// order (`None`).
    highest: Option<[Option<u64>; 2]>,
    buffered: usize,
    decoders: usize,
    pub(crate) stats: MessageStats,
}

impl Streams {
    pub(crate) fn new(limits: Limits, monotonic: bool) -> Streams {
        Streams {
            limits,
            map: BTreeMap::new(),
            highest: monotonic.then_some([None, None]),
            buffered: 0,
            decoders: 0,
            stats: MessageStats::default(),
        }
    }

    /// Streams tracked now.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Makes sure stream `id` is tracked, creating it if new, for a frame `side` sent;
    /// false for a stream that ended (HTTP/2).
    fn open(&mut self, id: u64, side: Side, out: &mut impl FnMut(Side, Event<'_>)) -> bool {
        if !self.map.contains_key(&id) {
            if let Some(highest) = &mut self.highest {
                // Odd streams are the client's, even ones the server's (pushes). Only their
                // initiator opens them in order; the peer's frames may be seen first when a
                // direction is behind or lost, and open a stream without moving the mark.
                let initiator = if id & 1 == 1 { Side::Requests } else { Side::Responses };
                let h = &mut highest[(id & 1) as usize];
                if h.is_some_and(|h| id <= h) {
                    self.stats.late_frames += 1;
                    return false;
                }
                if side == initiator {
                    *h = Some(id);
                }
            }
            while self.map.len() >= self.limits.max_streams.max(1) {
                let Some((old, s)) = self.map.pop_first() else { break };
                self.stats.streams_evicted += 1;
                self.close(old, s, out);
            }
            self.map.insert(id, Stream::default());
        } else if let Some(highest) = &mut self.highest {
            let initiator = if id & 1 == 1 { Side::Requests } else { Side::Responses };
            let h = &mut highest[(id & 1) as usize];
            if side == initiator && h.is_none_or(|h| id > h) {
                *h = Some(id);
            }
        }
        true
    }

    /// A decoded header block of `side` on stream `id`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn headers(
        &mut self,
        side: Side,
        id: u64,
        list: &FieldList,
        error: Option<BlockError>,
        offset: u64,
        len: usize,
        end_stream: bool,
        out: &mut impl FnMut(Side, Event<'_>),
    ) {
        let fields: Vec<Header<'_>> = list.iter().collect();
        let block = self.block(&fields, list.truncated, error, offset, len);
        let decode = self.limits.decode;
        if !self.open(id, side, out) {
            return;
        }
        let Some(stream) = self.map.get_mut(&id) else { return };
        let half = &mut stream.halves[idx(side)];
        if half.ended {
            return;
        }
        if half.head == HeadState::Final || half.data {
            out(side, Event::Trailers(Trailers { stream_id: id, block }));
        } else {
            match side {
                Side::Requests => {
                    half.head = HeadState::Final;
                    out(side, Event::Request(request(id, None, end_stream, block)));
                }
                Side::Responses => {
                    let status = status(&block);
                    let interim = status.is_some_and(|s| (100..200).contains(&s) && s != 101);
                    half.head = if interim { HeadState::Interim } else { HeadState::Final };
                    out(side, Event::Response(Response { stream_id: id, status, end_stream, block }));
                }
            }
            if half.head == HeadState::Final {
                self.stats.messages += 1;
                if decode {
                    for v in block.get_all(b"content-encoding") {
                        half.codings.add(v);
                    }
                }
            }
        }
        if end_stream {
            self.end(side, id, out);
        }
    }

    /// A PUSH_PROMISE's request for stream `promised`, sent on stream `on`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn promise(
        &mut self,
        on: u64,
        promised: u64,
        list: &FieldList,
        error: Option<BlockError>,
        offset: u64,
        len: usize,
        out: &mut impl FnMut(Side, Event<'_>),
    ) {
        let fields: Vec<Header<'_>> = list.iter().collect();
        let block = self.block(&fields, list.truncated, error, offset, len);
        if !self.open(promised, Side::Responses, out) {
            return;
        }
        let Some(stream) = self.map.get_mut(&promised) else { return };
        let half = &mut stream.halves[0];
        if half.head != HeadState::None || half.ended {
            return;
        }
        half.head = HeadState::Final;
        self.stats.messages += 1;
        out(Side::Requests, Event::Request(request(promised, Some(on), true, block)));
        self.end(Side::Requests, promised, out);
    }

    fn block<'a>(
        &mut self,
        fields: &'a [Header<'a>],
        truncated: bool,
        error: Option<BlockError>,
        offset: u64,
        len: usize,
    ) -> HeaderBlock<'a> {
        self.stats.headers_truncated += u64::from(truncated);
        self.stats.block_errors += u64::from(error.is_some());
        self.stats.blocks_too_long += u64::from(error == Some(BlockError::TooLong));
        HeaderBlock { fields, truncated, error, offset, len }
    }

    /// Message bytes of `side` on stream `id`.
    pub(crate) fn data(&mut self, side: Side, id: u64, data: &[u8], out: &mut impl FnMut(Side, Event<'_>)) {
        let limits = self.limits;
        if !self.open(id, side, out) {
            return;
        }
        let Some(stream) = self.map.get_mut(&id) else { return };
        let half = &mut stream.halves[idx(side)];
        if half.ended {
            self.stats.late_frames += 1;
            return;
        }
        half.data = true;
        if data.is_empty() {
            return;
        }
        out(side, Event::Data { stream_id: id, data });
        let body = half.body.get_or_insert_with(|| {
            let codings = half.codings;
            let mut b = Box::new(BodyState {
                buf: Vec::new(),
                mode: Mode::Copy,
                wire_len: 0,
                decoded: false,
                truncated: false,
                incomplete: false,
                decode_error: codings.unsupported,
            });
            if limits.max_body == 0 {
                b.mode = Mode::Stop;
            } else if !codings.is_identity() && !codings.unsupported {
                if self.decoders < limits.max_decoders {
                    self.decoders += 1;
                    b.mode = Mode::Decode(Box::new(Decoder::new(&codings, limits.max_body)));
                    b.decoded = true;
                } else {
                    self.stats.bodies_skipped += 1;
                    b.mode = Mode::Stop;
                    b.truncated = true;
                }
            }
            b
        });
        body.wire_len += data.len() as u64;
        let budget = limits.max_buffered.saturating_sub(self.buffered);
        match &mut body.mode {
            Mode::Stop => body.truncated |= limits.max_body == 0 && !body.incomplete,
            Mode::Copy => {
                let room = (limits.max_body - body.buf.len()).min(budget);
                let take = data.len().min(room);
                if body.buf.capacity() < body.buf.len() + take {
                    // Grow by doubling, but never past the cap.
                    let want = (body.buf.capacity() * 2).max(body.buf.len() + take).min(limits.max_body);
                    body.buf.reserve_exact(want - body.buf.len());
                }
                body.buf.extend_from_slice(&data[..take]);
                self.buffered += take;
                if take < data.len() {
                    body.truncated = true;
                    body.mode = Mode::Stop;
                }
            }
            Mode::Decode(d) => {
                if budget == 0 {
                    body.truncated = true;
                    body.mode = Mode::Stop;
                    self.decoders -= 1;
                } else {
                    let before = body.buf.len();
                    d.push(data, &mut body.buf);
                    self.buffered += body.buf.len() - before;
                }
            }
        }
    }

    /// A hole in the message bytes of `side` on stream `id`: what was kept stays, nothing
    /// more is (a compressed stream cannot go on past a hole).
    pub(crate) fn hole(&mut self, side: Side, id: u64) {
        let Some(stream) = self.map.get_mut(&id) else { return };
        let half = &mut stream.halves[idx(side)];
        half.data = true;
        let body = half.body.get_or_insert_with(|| {
            Box::new(BodyState {
                buf: Vec::new(),
                mode: Mode::Stop,
                wire_len: 0,
                decoded: false,
                truncated: false,
                incomplete: false,
                decode_error: false,
            })
        });
        body.incomplete = true;
        if let Mode::Decode(d) = &mut body.mode {
            let o = d.finish();
            body.truncated |= o.truncated;
            body.decode_error |= o.error;
            self.decoders -= 1;
        }
        body.mode = Mode::Stop;
    }

    /// The end of `side` of stream `id` (END_STREAM, FIN).
    pub(crate) fn end(&mut self, side: Side, id: u64, out: &mut impl FnMut(Side, Event<'_>)) {
        let Some(stream) = self.map.get_mut(&id) else { return };
        let half = &mut stream.halves[idx(side)];
        if half.ended {
            return;
        }
        half.ended = true;
        let (started, body) = (half.started(), half.body.take());
        if started {
            self.emit_body(side, id, body, false, out);
        }
        let s = &self.map[&id];
        if s.halves.iter().all(|h| h.ended) {
            self.map.remove(&id);
        }
    }

    /// The stream was reset by `side`.
    pub(crate) fn reset(&mut self, side: Side, id: u64, code: u64, out: &mut impl FnMut(Side, Event<'_>)) {
        out(side, Event::Reset { stream_id: id, error_code: code });
        if let Some(s) = self.map.remove(&id) {
            self.close(id, s, out);
        }
    }

    /// Ends every stream (the connection is over): open bodies end incomplete.
    pub(crate) fn finish(&mut self, out: &mut impl FnMut(Side, Event<'_>)) {
        while let Some((id, s)) = self.map.pop_first() {
            self.close(id, s, out);
        }
    }

    /// Ends every stream `side` of which is open (that direction was lost).
    pub(crate) fn abandon(&mut self, side: Side, out: &mut impl FnMut(Side, Event<'_>)) {
        let ids: Vec<u64> = self.map.iter().filter(|(_, s)| !s.halves[idx(side)].ended).map(|(&id, _)| id).collect();
        for id in ids {
            if let Some(s) = self.map.get_mut(&id) {
                let half = &mut s.halves[idx(side)];
                half.ended = true;
                let (started, body) = (half.started(), half.body.take());
                if started {
                    self.emit_body(side, id, body, true, out);
                }
            }
        }
    }

    fn close(&mut self, id: u64, mut s: Stream, out: &mut impl FnMut(Side, Event<'_>)) {
        for side in SIDES {
            let half = &mut s.halves[idx(side)];
            if !half.ended && half.started() {
                let body = half.body.take();
                self.emit_body(side, id, body, true, out);
            }
        }
    }

    fn emit_body(
        &mut self,
        side: Side,
        id: u64,
        body: Option<Box<BodyState>>,
        cut: bool,
        out: &mut impl FnMut(Side, Event<'_>),
    ) {
        let Some(mut b) = body else {
            out(side, Event::Body { stream_id: id, body: Body { incomplete: cut, ..Body::default() } });
            return;
        };
        if let Mode::Decode(d) = &mut b.mode {
            let o = d.finish();
            b.truncated |= o.truncated;
            b.decode_error |= o.error;
            b.incomplete |= o.incomplete;
            self.decoders -= 1;
        }
        b.incomplete |= cut;
        self.stats.bodies_truncated += u64::from(b.truncated);
        self.stats.decode_errors += u64::from(b.decode_error);
        self.buffered -= b.buf.len();
        out(
            side,
            Event::Body {
                stream_id: id,
                body: Body {
                    data: &b.buf,
                    wire_len: b.wire_len,
                    decoded: b.decoded,
                    truncated: b.truncated,
                    incomplete: b.incomplete,
                    decode_error: b.decode_error,
                    trailers: b"",
                },
            },
        );
    }
}

fn pseudo<'a>(block: &HeaderBlock<'a>, name: &[u8]) -> Option<&'a [u8]> {
    block.fields.iter().find(|h| h.name == name).map(|h| h.value)
}

fn request<'a>(id: u64, promised_on: Option<u64>, end_stream: bool, block: HeaderBlock<'a>) -> Request<'a> {
    Request {
        stream_id: id,
        method: pseudo(&block, b":method").unwrap_or_default(),
        scheme: pseudo(&block, b":scheme").unwrap_or_default(),
        authority: pseudo(&block, b":authority").or_else(|| block.get(b"host")),
        path: pseudo(&block, b":path").unwrap_or_default(),
        promised_on,
        end_stream,
        block,
    }
}

fn status(block: &HeaderBlock<'_>) -> Option<u16> {
    let v = pseudo(block, b":status")?;
    match v {
        [a, b, c] if v.iter().all(u8::is_ascii_digit) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

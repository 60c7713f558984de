//! HTTP/2 (RFC 9113) connections, read passively from both directions' bytes.
//!
//! An [`H2Connection`] takes the byte stream of each direction of a connection (decrypted TLS
//! with ALPN `h2`, or cleartext `h2c` after the prior-knowledge preface or an `Upgrade`), in
//! chunks of any size, with holes ([`H2Connection::gap`]), and reports the messages of every
//! stream as [`Event`]s through a callback: request heads (`:method`, `:scheme`,
//! `:authority`, `:path` and every field in order), response heads, trailers, data chunks as
//! they arrive, and, at the end of each side of a stream, the whole body decoded from its
//! Content-Encoding by [`crate::body`] and capped as HTTP/1.x bodies are
//! ([`crate::http::Body`]). The same events come from HTTP/3 ([`crate::h3`]).
//!
//! The client sends the preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` and then frames; the server
//! sends frames from its first byte. The client is the flow's initiator
//! ([`Direction::ToServer`]) unless the first byte the other direction sends starts the
//! preface, in which case the roles are swapped for the connection's life. Frames read:
//! DATA (padding removed), HEADERS (padding and priority removed), CONTINUATION,
//! PUSH_PROMISE (reported as a [`Request`] on the promised stream, with
//! [`Request::promised_on`]), SETTINGS (SETTINGS_HEADER_TABLE_SIZE bounds the other
//! direction's HPACK table), RST_STREAM ([`Event::Reset`]), GOAWAY ([`Event::GoAway`]);
//! PRIORITY, PING, WINDOW_UPDATE and unknown types are stepped over. Header blocks are
//! decoded by [`crate::hpack`], one dynamic table per direction.
//!
//! Lenient where a passive reader must be: flow control, stream states and SETTINGS
//! acknowledgements are not enforced, a frame that breaks a rule (padding longer than the
//! frame, a SETTINGS length that is not a multiple of 6, a CONTINUATION for another
//! stream) is counted in [`Stats::frame_errors`] and skipped, and the connection goes on.
//! Frames for a stream that ended are ignored ([`MessageStats::late_frames`]).
//!
//! Holes: one inside a DATA frame's payload is stepped over (the body ends
//! [`incomplete`](crate::http::Body::incomplete)); one inside another frame's payload skips
//! that frame, and if the frame carried a header block the direction's HPACK table is lost:
//! later header blocks of that direction are reported undecoded
//! ([`BlockError::Hpack`]`(`[`Desync`](crate::hpack::Error::Desync)`)`). A hole that spans a
//! frame boundary loses the framing: that direction is not read any further
//! ([`Stats::lost`]); its open bodies end incomplete. Not done: resynchronising after such a
//! hole, picking a connection up mid-stream (a client direction that does not start with the
//! preface is not read: [`Stats::no_preface`]), and the `h2c` upgrade's implicit request on
//! stream 1 (the HTTP/1.1 parser reports it; the response comes on stream 1 here).
//!
//! Memory is bounded by [`Limits`]; every cap hit is counted in [`Stats`]. Time is linear in
//! the input: DATA is never copied but into a body being kept, other frames are buffered up
//! to a cap and stepped over past it, and HPACK costs at most a constant per input byte plus
//! the output it is allowed to produce.
//!
//! ```
//! use phonehome_model::Direction;
//! use phonehome_protocols::h2::{Event, H2Connection, Limits};
//! use phonehome_protocols::http::Side;
//!
//! let mut conn = H2Connection::new(Limits::default());
//! let mut requests = Vec::new();
//! let mut on_event = |side: Side, e: Event<'_>| match e {
//!     Event::Request(r) => requests.push((r.stream_id, r.method.to_vec(), r.path.to_vec())),
//!     Event::Body { stream_id, body } => { let _ = (side, stream_id, body.data); }
//!     _ => {}
//! };
//! // The client's bytes: the preface, an empty SETTINGS frame, and HEADERS on stream 1
//! // (END_STREAM | END_HEADERS) holding ":method: GET", ":scheme: https", ":path: /" as
//! // HPACK static-table references, and a literal ":authority: a.example".
//! let mut client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
//! client.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
//! let block = [&[0x82, 0x87, 0x84, 0x41, 9][..], b"a.example"].concat();
//! client.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
//! client.extend_from_slice(&block);
//! // Any chunking gives the same events.
//! for piece in client.chunks(7) {
//!     conn.push(Direction::ToServer, piece, &mut on_event);
//! }
//! conn.finish(&mut on_event);
//! assert_eq!(requests, [(1, b"GET".to_vec(), b"/".to_vec())]);
//! ```

pub(crate) mod msg;

use phonehome_model::Direction;

pub use msg::{BlockError, Event, HeaderBlock, Limits, MessageStats, Request, Response, Trailers};

use crate::hpack;
use crate::http::Side;
use msg::Streams;

/// What a client sends first (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Payload bytes kept of a frame other than DATA and header blocks (SETTINGS, GOAWAY with
/// its debug data, RST_STREAM...): enough for any real one; the rest is stepped over.
const MAX_CONTROL: usize = 16 << 10;

/// Most bytes a HEADERS or PUSH_PROMISE frame adds around its fragment (pad length, pad,
/// priority or promised stream id).
const MAX_FRAMING: usize = 1 + 255 + 5;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;

/// Counters of a connection: frames, anomalies and caps hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames read (both directions).
    pub frames: u64,
    /// Frames of types RFC 9113 does not define (stepped over).
    pub unknown_frames: u64,
    /// Frames that broke a rule (skipped): bad padding or lengths, a frame on the wrong
    /// stream, a header block interrupted by another frame.
    pub frame_errors: u64,
    /// A client direction that did not start with the preface (not read).
    pub no_preface: u64,
    /// Holes reported.
    pub gaps: u64,
    /// Directions whose framing was lost to a hole (not read further).
    pub lost: u64,
    /// Header blocks cut by a hole or by the end of the connection.
    pub blocks_cut: u64,
    /// HPACK size updates over [`Limits::max_table_size`] (clamped).
    pub table_capped: u64,
    /// HPACK size updates over what the peer's SETTINGS_HEADER_TABLE_SIZE allowed.
    pub table_over_setting: u64,
    /// Messages, header blocks and bodies.
    pub messages: MessageStats,
}

/// A header block being assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    Headers { stream: u32, end_stream: bool },
    Push { stream: u32, promised: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Matching the client preface; bytes matched so far.
    Preface(usize),
    /// Reading a frame header into `hdr`.
    Header,
    /// Inside a frame's payload.
    Payload,
    /// Not read any more.
    Lost,
}

#[derive(Clone, Copy, Debug, Default)]
struct Frame {
    len: u32,
    ty: u8,
    flags: u8,
    stream: u32,
}

/// One direction's reader.
struct Reader {
    side: Side,
    st: St,
    hdr: [u8; 9],
    hdr_len: usize,
    frame: Frame,
    frame_offset: u64,
    /// Payload bytes still to come.
    left: u32,
    /// DATA: padding length, once read (`None` before the first payload byte of a padded
    /// frame).
    pad: Option<u8>,
    /// DATA: data bytes still to come before the padding.
    data_left: u32,
    /// DATA: some of this frame's data was handed on.
    data_sent: bool,
    /// Payload of other frames, up to a cap.
    buf: Vec<u8>,
    /// `buf` did not hold the whole payload (cap or hole).
    buf_short: bool,
    /// A hole fell in this frame's payload.
    holed: bool,
    block: Vec<u8>,
    block_kind: Option<BlockKind>,
    block_offset: u64,
    /// The block is longer than the cap (or cut by a hole): it will not be decoded.
    block_error: Option<BlockError>,
    hpack: hpack::Decoder,
    fields: hpack::FieldList,
    /// Bytes of this direction consumed, holes included.
    offset: u64,
    /// A SETTINGS_HEADER_TABLE_SIZE this direction announced, for the other's decoder.
    setting: Option<u64>,
}

impl Reader {
    fn new(side: Side, limits: &Limits) -> Reader {
        Reader {
            side,
            st: if side == Side::Requests { St::Preface(0) } else { St::Header },
            hdr: [0; 9],
            hdr_len: 0,
            frame: Frame::default(),
            frame_offset: 0,
            left: 0,
            pad: None,
            data_left: 0,
            data_sent: false,
            buf: Vec::new(),
            buf_short: false,
            holed: false,
            block: Vec::new(),
            block_kind: None,
            block_offset: 0,
            block_error: None,
            hpack: hpack::Decoder::new(limits.max_table_size),
            fields: hpack::FieldList::new(),
            offset: 0,
            setting: None,
        }
    }
}

/// Both directions of one HTTP/2 connection.
///
/// Feed it with [`push`](H2Connection::push) (a direction's bytes in order),
/// [`gap`](H2Connection::gap) (a hole) and [`finish`](H2Connection::finish) (the connection
/// ended: open bodies are reported incomplete).
pub struct H2Connection {
    limits: Limits,
    readers: [Reader; 2],
    /// The direction the client sends in.
    client: Direction,
    roles_known: bool,
    streams: Streams,
    stats: Stats,
}

impl H2Connection {
    /// A connection whose client is the flow's initiator until its bytes say otherwise.
    pub fn new(limits: Limits) -> H2Connection {
        H2Connection {
            limits,
            readers: [Reader::new(Side::Requests, &limits), Reader::new(Side::Responses, &limits)],
            client: Direction::ToServer,
            roles_known: false,
            streams: Streams::new(limits, true),
            stats: Stats::default(),
        }
    }

    /// Which messages `dir` carries.
    pub fn side(&self, dir: Direction) -> Side {
        if dir == self.client { Side::Requests } else { Side::Responses }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        for r in &self.readers {
            let h = r.hpack.stats();
            s.table_capped += h.table_capped;
            s.table_over_setting += h.over_setting;
        }
        s.messages = self.streams.stats;
        s
    }

    /// Streams tracked now (at most [`Limits::max_streams`]).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Whether neither direction will be read any more (both lost, or not HTTP/2).
    pub fn is_done(&self) -> bool {
        self.readers.iter().all(|r| r.st == St::Lost)
    }

    fn reader_index(&mut self, dir: Direction, first: Option<u8>) -> usize {
        if !self.roles_known
            && let Some(b) = first
        {
            self.roles_known = true;
            // A server's first frame is SETTINGS, whose length's high byte is 0: a 'P'
            // from the responder can only be the client preface of a flow whose initiator
            // was guessed wrong.
            if dir == Direction::ToClient && b == PREFACE[0] {
                self.client = Direction::ToClient;
            }
        }
        usize::from(dir != self.client)
    }

    /// Bytes of direction `dir`, in stream order.
    pub fn push(&mut self, dir: Direction, data: &[u8], mut out: impl FnMut(Side, Event<'_>)) {
        let i = self.reader_index(dir, data.first().copied());
        let [a, b] = &mut self.readers;
        let (r, other) = if i == 0 { (a, b) } else { (b, a) };
        let mut cx = Cx { limits: &self.limits, streams: &mut self.streams, stats: &mut self.stats };
        r.push(data, &mut cx, &mut out);
        if let Some(size) = r.setting.take() {
            other.hpack.set_setting(size);
        }
    }

    /// A hole of `len` bytes in direction `dir`.
    pub fn gap(&mut self, dir: Direction, len: u64, mut out: impl FnMut(Side, Event<'_>)) {
        self.stats.gaps += 1;
        let i = self.reader_index(dir, None);
        let mut cx = Cx { limits: &self.limits, streams: &mut self.streams, stats: &mut self.stats };
        self.readers[i].gap(len, &mut cx, &mut out);
    }

    /// The connection ended: every open body is reported, incomplete.
    pub fn finish(&mut self, mut out: impl FnMut(Side, Event<'_>)) {
        for r in &mut self.readers {
            if r.block_kind.take().is_some() {
                self.stats.blocks_cut += 1;
            }
        }
        self.streams.finish(&mut out);
    }
}

/// What a reader works on besides itself.
struct Cx<'c> {
    limits: &'c Limits,
    streams: &'c mut Streams,
    stats: &'c mut Stats,
}

impl Reader {
    fn push(&mut self, data: &[u8], cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let n = match self.st {
                St::Lost => data.len() - pos,
                St::Preface(matched) => {
                    let n = rest.len().min(PREFACE.len() - matched);
                    if rest[..n] != PREFACE[matched..matched + n] {
                        cx.stats.no_preface += 1;
                        self.st = St::Lost;
                        rest.len()
                    } else {
                        self.st = if matched + n == PREFACE.len() { St::Header } else { St::Preface(matched + n) };
                        n
                    }
                }
                St::Header => {
                    let n = rest.len().min(9 - self.hdr_len);
                    self.hdr[self.hdr_len..self.hdr_len + n].copy_from_slice(&rest[..n]);
                    self.hdr_len += n;
                    self.offset += n as u64;
                    if self.hdr_len == 9 {
                        self.hdr_len = 0;
                        self.start_frame(cx, out);
                    }
                    pos += n;
                    continue;
                }
                St::Payload => self.payload(rest, cx, out),
            };
            self.offset += n as u64;
            pos += n;
        }
    }

    fn start_frame(&mut self, cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        let h = &self.hdr;
        self.frame = Frame {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            ty: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        };
        self.frame_offset = self.offset - 9;
        self.left = self.frame.len;
        self.pad = None;
        self.data_left = 0;
        self.data_sent = false;
        self.buf.clear();
        self.buf_short = false;
        self.holed = false;
        cx.stats.frames += 1;
        if let Some(kind) = self.block_kind {
            let stream = match kind {
                BlockKind::Headers { stream, .. } | BlockKind::Push { stream, .. } => stream,
            };
            if self.frame.ty != CONTINUATION || self.frame.stream != stream {
                // A header block interrupted: it is lost, and the table with it.
                cx.stats.frame_errors += 1;
                self.drop_block();
            }
        }
        if self.frame.ty == DATA {
            if self.frame.flags & PADDED == 0 {
                self.pad = Some(0);
                self.data_left = self.frame.len;
            }
            if self.frame.stream == 0 {
                cx.stats.frame_errors += 1;
            }
        }
        if self.frame.ty > CONTINUATION {
            cx.stats.unknown_frames += 1;
        }
        self.st = St::Payload;
        if self.left == 0 {
            self.end_frame(cx, out);
        }
    }

    /// Payload bytes; returns how many were used.
    fn payload(&mut self, rest: &[u8], cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) -> usize {
        let n = rest.len().min(self.left as usize);
        let piece = &rest[..n];
        if self.frame.ty == DATA {
            self.data(piece, cx, out);
        } else {
            let cap = match self.frame.ty {
                HEADERS | PUSH_PROMISE | CONTINUATION => {
                    cx.limits.max_header_block.saturating_sub(self.block.len()).saturating_add(MAX_FRAMING)
                }
                PRIORITY | RST_STREAM | SETTINGS | PING | GOAWAY | WINDOW_UPDATE => MAX_CONTROL,
                _ => 0,
            };
            let take = n.min(cap.saturating_sub(self.buf.len()));
            self.buf.extend_from_slice(&piece[..take]);
            self.buf_short |= take < n;
        }
        self.left -= n as u32;
        if self.left == 0 {
            self.end_frame(cx, out);
        }
        n
    }

    /// DATA payload bytes: padding length, data, padding.
    fn data(&mut self, mut piece: &[u8], cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        if self.pad.is_none() {
            let Some((&p, rest)) = piece.split_first() else { return };
            piece = rest;
            self.pad = Some(p);
            match (self.frame.len - 1).checked_sub(u32::from(p)) {
                Some(d) => self.data_left = d,
                None => {
                    // Padding longer than the frame: no data in it.
                    cx.stats.frame_errors += 1;
                    self.data_left = 0;
                }
            }
        }
        let d = piece.len().min(self.data_left as usize);
        if d > 0 && self.frame.stream != 0 {
            self.data_sent = true;
            cx.streams.data(self.side, u64::from(self.frame.stream), &piece[..d], out);
        }
        self.data_left -= d as u32;
    }

    fn end_frame(&mut self, cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        self.st = St::Header;
        let f = self.frame;
        let id = u64::from(f.stream);
        let mut buf = std::mem::take(&mut self.buf);
        match f.ty {
            DATA if f.stream != 0 => {
                // Even an empty DATA frame owes its stream a body.
                if !self.data_sent {
                    cx.streams.data(self.side, id, &[], out);
                }
                if f.flags & END_STREAM != 0 {
                    cx.streams.end(self.side, id, out);
                }
            }
            HEADERS | PUSH_PROMISE | CONTINUATION => self.block_frame(&buf, cx, out),
            RST_STREAM if !self.holed => {
                if buf.len() == 4 && f.stream != 0 {
                    let code = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                    cx.streams.reset(self.side, id, u64::from(code), out);
                } else {
                    cx.stats.frame_errors += 1;
                }
            }
            SETTINGS if !self.holed && f.flags & ACK == 0 => {
                if !f.len.is_multiple_of(6) || f.stream != 0 {
                    cx.stats.frame_errors += 1;
                } else {
                    for s in buf.chunks_exact(6) {
                        if u16::from_be_bytes([s[0], s[1]]) == SETTINGS_HEADER_TABLE_SIZE {
                            self.setting = Some(u64::from(u32::from_be_bytes([s[2], s[3], s[4], s[5]])));
                        }
                    }
                }
            }
            GOAWAY if !self.holed => {
                if buf.len() >= 8 {
                    let last = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) & 0x7fff_ffff;
                    let code = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    out(
                        self.side,
                        Event::GoAway {
                            last_stream_id: u64::from(last),
                            error_code: u64::from(code),
                            debug: &buf[8..],
                        },
                    );
                } else {
                    cx.stats.frame_errors += 1;
                }
            }
            _ => {}
        }
        buf.clear();
        if buf.capacity() > 64 << 10 {
            buf = Vec::new();
        }
        self.buf = buf;
    }

    /// The end of a HEADERS, PUSH_PROMISE or CONTINUATION frame: its fragment joins the
    /// block, which is decoded at END_HEADERS.
    fn block_frame(&mut self, buf: &[u8], cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        let f = self.frame;
        if f.stream == 0 {
            cx.stats.frame_errors += 1;
            if f.ty != CONTINUATION {
                // Its block is skipped unread: the table is lost with it.
                self.hpack.lose();
            }
            return;
        }
        if f.ty == CONTINUATION && self.block_kind.is_none() {
            // A CONTINUATION without a block (its start was interrupted, or a hole): the
            // fragment is lost, and the table with it.
            cx.stats.frame_errors += 1;
            self.hpack.lose();
            return;
        }
        // The fragment's place in the payload (all of it for a CONTINUATION).
        let (mut start, mut end) = (0usize, f.len as usize);
        if f.ty != CONTINUATION && f.flags & PADDED != 0 {
            let pad = buf.first().map_or(0, |&p| usize::from(p));
            start = 1;
            end = end.saturating_sub(pad);
        }
        match f.ty {
            HEADERS if f.flags & PRIORITY_FLAG != 0 => start += 5,
            PUSH_PROMISE => start += 4,
            _ => {}
        }
        if start > end {
            cx.stats.frame_errors += 1;
            self.hpack.lose();
            self.block_kind = None;
            return;
        }
        match f.ty {
            HEADERS => {
                self.start_block(BlockKind::Headers { stream: f.stream, end_stream: f.flags & END_STREAM != 0 });
            }
            PUSH_PROMISE => {
                let promised = buf.get(start - 4..start).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                self.start_block(BlockKind::Push { stream: f.stream, promised: promised & 0x7fff_ffff });
            }
            _ => {}
        }
        if self.holed {
            self.block_error = Some(BlockError::Hpack(hpack::Error::Desync));
            cx.stats.blocks_cut += 1;
        }
        if self.block_error.is_none() {
            if self.buf_short || self.block.len() + (end - start) > cx.limits.max_header_block {
                self.block_error = Some(BlockError::TooLong);
                self.block.clear();
            } else {
                // `buf` holds the whole payload here (it was not short).
                self.block.extend_from_slice(&buf[start..end]);
            }
        }
        if f.flags & END_HEADERS != 0 {
            self.end_block(cx, out);
        }
    }

    fn start_block(&mut self, kind: BlockKind) {
        self.block_kind = Some(kind);
        self.block.clear();
        self.block_error = None;
        self.block_offset = self.frame_offset;
    }

    fn drop_block(&mut self) {
        self.block_kind = None;
        self.block.clear();
        self.hpack.lose();
    }

    fn end_block(&mut self, cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        let Some(kind) = self.block_kind.take() else { return };
        self.fields.clear();
        let len = self.block.len();
        let error = match self.block_error.take() {
            Some(e) => {
                // Skipped unread: its insertions are unknown.
                self.hpack.lose();
                Some(e)
            }
            None => {
                self.hpack.decode(&self.block, &cx.limits.block_limits(), &mut self.fields).err().map(BlockError::Hpack)
            }
        };
        match kind {
            BlockKind::Headers { stream, end_stream } => {
                cx.streams.headers(
                    self.side,
                    u64::from(stream),
                    &self.fields,
                    error,
                    self.block_offset,
                    len,
                    end_stream,
                    out,
                );
            }
            BlockKind::Push { stream, promised } => {
                cx.streams.promise(
                    u64::from(stream),
                    u64::from(promised),
                    &self.fields,
                    error,
                    self.block_offset,
                    len,
                    out,
                );
            }
        }
        self.block.clear();
        if self.block.capacity() > 64 << 10 {
            self.block = Vec::new();
        }
    }

    fn gap(&mut self, len: u64, cx: &mut Cx<'_>, out: &mut impl FnMut(Side, Event<'_>)) {
        self.offset += len;
        if self.st == St::Payload && len <= u64::from(self.left) {
            // Inside one frame's payload: the framing survives.
            self.holed = true;
            if self.frame.ty == DATA && self.pad.is_some() && self.frame.stream != 0 {
                let id = u64::from(self.frame.stream);
                let d = len.min(u64::from(self.data_left)) as u32;
                if d > 0 {
                    cx.streams.hole(self.side, id);
                }
                self.data_left -= d;
            } else if self.frame.ty == DATA {
                // The padding length itself was lost: the data cannot be told from padding.
                self.pad = Some(0);
                self.data_left = 0;
                if self.frame.stream != 0 {
                    cx.streams.hole(self.side, u64::from(self.frame.stream));
                }
            }
            self.buf_short = true;
            self.left -= len as u32;
            if self.left == 0 {
                self.end_frame(cx, out);
            }
            return;
        }
        if self.st != St::Lost {
            cx.stats.lost += 1;
            self.st = St::Lost;
            if self.block_kind.take().is_some() {
                cx.stats.blocks_cut += 1;
            }
            cx.streams.abandon(self.side, out);
        }
    }
}

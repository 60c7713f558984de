//! HTTP/3 (RFC 9114) connections, read passively from the QUIC streams of both directions.
//!
//! An [`H3Connection`] takes each QUIC stream's bytes (decrypted 1-RTT STREAM frames,
//! reassembled in order by the QUIC layer), per stream id and direction, in chunks of any
//! size, with FIN, holes and resets, and reports the same [`Event`]s as HTTP/2
//! ([`crate::h2`]): request heads, response heads, trailers, data chunks, and one decoded,
//! capped body at the end of each side of each request stream.
//!
//! Streams by their id (RFC 9000 §2.1): client-initiated bidirectional streams (id ≡ 0 mod 4)
//! carry a request from the client and its response from the server. Unidirectional streams
//! start with their type: control (SETTINGS, whose SETTINGS_QPACK_MAX_TABLE_CAPACITY sizes
//! the other direction's QPACK table; GOAWAY, reported as [`Event::GoAway`]), QPACK encoder
//! (read into that direction's table, see [`crate::qpack`]), QPACK decoder (not needed, and
//! skipped), push (its response, reported on stream `PUSH_BASE + push ID`, the key of the
//! request its PUSH_PROMISE reported), and any other type (reserved, WebTransport...),
//! skipped. Frames: DATA, HEADERS, PUSH_PROMISE, SETTINGS, GOAWAY; CANCEL_PUSH, MAX_PUSH_ID,
//! reserved and unknown types are stepped over; HTTP/2 types that HTTP/3 forbids are counted
//! ([`Stats::frame_errors`]) and stepped over.
//!
//! Feed the encoder stream's bytes before the request stream bytes of the same packet, in
//! the order the packets came: a field section whose dynamic entries have not arrived is not
//! held back (that would hold its stream too) but reported with
//! [`qpack::Error::Blocked`](crate::qpack::Error::Blocked).
//!
//! Direction: [`Direction::ToServer`] is what the QUIC client sent (the flow's initiator).
//!
//! ```
//! use phonehome_model::Direction;
//! use phonehome_protocols::h2::{Event, Limits};
//! use phonehome_protocols::h3::H3Connection;
//!
//! let mut conn = H3Connection::new(Limits::default());
//! let mut paths = Vec::new();
//! // Stream 0: HEADERS (type 1, length 5) holding a QPACK section without dynamic
//! // references: ":method: GET", ":scheme: https", ":path: /" from the static table.
//! let request = [0x01, 0x05, 0x00, 0x00, 0xd1, 0xd7, 0xc1];
//! conn.push(Direction::ToServer, 0, &request, true, |_, e| {
//!     if let Event::Request(r) = e {
//!         paths.push(r.path.to_vec());
//!     }
//! });
//! conn.finish(|_, _| {});
//! assert_eq!(paths, [b"/".to_vec()]);
//! ```

use std::collections::BTreeMap;

use phonehome_model::Direction;

use crate::h2::msg::Streams;
use crate::h2::{BlockError, Event, Limits, MessageStats};
use crate::hpack::FieldList;
use crate::http::Side;
use crate::qpack;

/// Pushed messages are keyed `PUSH_BASE + push ID`, above every QUIC stream id (< 2^62).
pub const PUSH_BASE: u64 = 1 << 62;

/// Payload bytes kept of a control frame (SETTINGS, GOAWAY...); the rest is stepped over.
const MAX_CONTROL: usize = 16 << 10;

const DATA: u64 = 0x0;
const HEADERS: u64 = 0x1;
const SETTINGS: u64 = 0x4;
const PUSH_PROMISE: u64 = 0x5;
const GOAWAY: u64 = 0x7;

const SETTINGS_QPACK_MAX_TABLE_CAPACITY: u64 = 0x1;

const STREAM_CONTROL: u64 = 0x0;
const STREAM_PUSH: u64 = 0x1;
const STREAM_ENCODER: u64 = 0x2;
const STREAM_DECODER: u64 = 0x3;

/// Counters of a connection: frames, anomalies and caps hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames read.
    pub frames: u64,
    /// Frames of reserved or unknown types (stepped over).
    pub unknown_frames: u64,
    /// Frames that break a rule (HTTP/2-only types, DATA on a control stream, a frame cut
    /// by FIN...).
    pub frame_errors: u64,
    /// Holes reported.
    pub gaps: u64,
    /// Streams no longer read: a hole across a frame boundary, or dropped at the stream cap.
    pub streams_lost: u64,
    /// Header sections cut by a hole or FIN.
    pub blocks_cut: u64,
    /// Field sections reported [`qpack::Error::Blocked`].
    pub qpack_blocked: u64,
    /// QPACK encoder instructions applied.
    pub qpack_instructions: u64,
    /// QPACK encoder instructions that could not be read (the table is lost from there).
    pub qpack_encoder_errors: u64,
    /// QPACK capacities over [`Limits::max_table_size`] (clamped).
    pub table_capped: u64,
    /// Messages, header blocks and bodies.
    pub messages: MessageStats,
}

/// What a stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A unidirectional stream whose type is being read.
    Type,
    /// A push stream whose push ID is being read.
    PushId,
    Control,
    Encoder,
    /// Bytes that are not read (QPACK decoder stream, unknown types, lost streams).
    Skip,
    /// Frames of a message: a request stream (key = stream id) or a push stream (key =
    /// PUSH_BASE + push ID).
    Message {
        key: u64,
    },
}

/// One direction of one stream.
struct Reader {
    kind: Kind,
    /// A varint, or a frame header (two varints), being read.
    hdr: [u8; 16],
    hdr_len: usize,
    in_payload: bool,
    ty: u64,
    left: u64,
    buf: Vec<u8>,
    buf_short: bool,
    holed: bool,
    offset: u64,
    frame_offset: u64,
}

impl Reader {
    fn new(kind: Kind) -> Reader {
        Reader {
            kind,
            hdr: [0; 16],
            hdr_len: 0,
            in_payload: false,
            ty: 0,
            left: 0,
            buf: Vec::new(),
            buf_short: false,
            holed: false,
            offset: 0,
            frame_offset: 0,
        }
    }
}

/// A QUIC variable-length integer (RFC 9000 §16) at the start of `b`: value and length.
pub fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    Some((v, len))
}

/// Both directions of one HTTP/3 connection.
///
/// Feed it with [`push`](H3Connection::push) (a stream's bytes in order, FIN on the last),
/// [`gap`](H3Connection::gap), [`reset`](H3Connection::reset) and
/// [`finish`](H3Connection::finish).
pub struct H3Connection {
    limits: Limits,
    streams: Streams,
    /// Keyed by (stream id, sender: 0 client, 1 server).
    readers: BTreeMap<(u64, u8), Reader>,
    /// Streams that ended (FIN, reset, lost); later bytes on them are ignored. Bounded:
    /// the oldest are forgotten.
    ended: BTreeMap<(u64, u8), ()>,
    /// Per sender: the table its encoder stream fills.
    qpack: [qpack::Decoder; 2],
    /// Per sender: whether its control, encoder stream was seen (a second one is skipped).
    control_seen: [bool; 2],
    encoder_seen: [bool; 2],
    fields: FieldList,
    stats: Stats,
}

impl H3Connection {
    /// A connection with these caps ([`Limits::max_streams`] bounds the streams read at
    /// once as well as the messages tracked).
    pub fn new(limits: Limits) -> H3Connection {
        H3Connection {
            limits,
            streams: Streams::new(limits, false),
            readers: BTreeMap::new(),
            ended: BTreeMap::new(),
            qpack: [qpack::Decoder::new(limits.max_table_size), qpack::Decoder::new(limits.max_table_size)],
            control_seen: [false; 2],
            encoder_seen: [false; 2],
            fields: FieldList::new(),
            stats: Stats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        for q in &self.qpack {
            let qs = q.stats();
            s.qpack_instructions += qs.instructions;
            s.qpack_encoder_errors += qs.encoder_errors;
            s.table_capped += qs.table_capped;
        }
        s.messages = self.streams.stats;
        s
    }

    /// Streams being read now.
    pub fn open_streams(&self) -> usize {
        self.readers.len()
    }

    fn sender(dir: Direction) -> u8 {
        u8::from(dir == Direction::ToClient)
    }

    /// The reader of stream `id` from `sender`, created if new; `None` for a stream that
    /// ended.
    fn reader(&mut self, id: u64, sender: u8, out: &mut impl FnMut(Side, Event<'_>)) -> Option<(u64, u8)> {
        let key = (id, sender);
        if self.readers.contains_key(&key) {
            return Some(key);
        }
        if self.ended.contains_key(&key) {
            return None;
        }
        let kind = if id & 2 != 0 {
            Kind::Type
        } else if id & 1 == 0 {
            Kind::Message { key: id }
        } else {
            // Server-initiated bidirectional streams: HTTP/3 has none (extensions may).
            Kind::Skip
        };
        let cap = self.limits.max_streams.max(1) + 8;
        if self.readers.len() >= cap {
            // Drop the oldest stream that is neither a control nor an encoder stream (each
            // sender has at most one of each, so one is found).
            let victim =
                self.readers.iter().find(|(_, r)| !matches!(r.kind, Kind::Control | Kind::Encoder)).map(|(&k, _)| k);
            if let Some(v) = victim {
                self.drop_reader(v, out);
            }
        }
        self.readers.insert(key, Reader::new(kind));
        Some(key)
    }

    /// Stops reading a stream: its message ends incomplete.
    fn drop_reader(&mut self, key: (u64, u8), out: &mut impl FnMut(Side, Event<'_>)) {
        if let Some(r) = self.readers.remove(&key) {
            self.stats.streams_lost += 1;
            if let Kind::Message { key: m } = r.kind {
                self.streams.hole(side_of(key.1), m);
                self.streams.end(side_of(key.1), m, out);
            }
            self.mark_ended(key);
        }
    }

    fn mark_ended(&mut self, key: (u64, u8)) {
        self.ended.insert(key, ());
        while self.ended.len() > 4 * self.limits.max_streams.max(1) {
            self.ended.pop_first();
        }
    }

    /// Bytes of stream `stream_id` sent in direction `dir`, in stream order; `fin` when they
    /// end the stream.
    pub fn push(
        &mut self,
        dir: Direction,
        stream_id: u64,
        data: &[u8],
        fin: bool,
        mut out: impl FnMut(Side, Event<'_>),
    ) {
        let sender = Self::sender(dir);
        let Some(key) = self.reader(stream_id, sender, &mut out) else { return };
        let Some(mut r) = self.readers.remove(&key) else { return };
        self.read(&mut r, sender, data, &mut out);
        if fin {
            self.end(r, key, &mut out);
        } else {
            self.readers.insert(key, r);
        }
    }

    /// A hole of `len` bytes in stream `stream_id`, direction `dir`.
    pub fn gap(&mut self, dir: Direction, stream_id: u64, len: u64, mut out: impl FnMut(Side, Event<'_>)) {
        self.stats.gaps += 1;
        let sender = Self::sender(dir);
        let Some(key) = self.reader(stream_id, sender, &mut out) else { return };
        let Some(mut r) = self.readers.remove(&key) else { return };
        r.offset += len;
        match r.kind {
            Kind::Message { key: m } if r.in_payload && len <= r.left => {
                r.left -= len;
                r.holed = true;
                r.buf_short = true;
                if r.ty == DATA {
                    self.streams.hole(side_of(sender), m);
                }
                if r.left == 0 {
                    self.end_frame(&mut r, sender, &mut out);
                }
                self.readers.insert(key, r);
            }
            Kind::Encoder => {
                self.qpack[usize::from(sender)].lose();
                self.readers.insert(key, r);
            }
            Kind::Skip => {
                self.readers.insert(key, r);
            }
            _ => {
                self.readers.insert(key, r);
                self.drop_reader(key, &mut out);
                // The stream is still there: keep stepping over its bytes.
                self.ended.remove(&key);
                self.readers.insert(key, Reader::new(Kind::Skip));
            }
        }
    }

    /// Stream `stream_id` was reset by the sender of direction `dir` (RESET_STREAM): its
    /// message ends incomplete, with an [`Event::Reset`].
    pub fn reset(&mut self, dir: Direction, stream_id: u64, error_code: u64, mut out: impl FnMut(Side, Event<'_>)) {
        let sender = Self::sender(dir);
        let key = (stream_id, sender);
        if let Some(r) = self.readers.remove(&key) {
            if let Kind::Message { key: m } = r.kind {
                self.streams.reset(side_of(sender), m, error_code, &mut out);
            }
            self.mark_ended(key);
        }
    }

    /// The connection ended: every open body is reported, incomplete.
    pub fn finish(&mut self, mut out: impl FnMut(Side, Event<'_>)) {
        for r in self.readers.values() {
            if matches!(r.kind, Kind::Message { .. }) && r.in_payload && matches!(r.ty, HEADERS | PUSH_PROMISE) {
                self.stats.blocks_cut += 1;
            }
        }
        self.readers.clear();
        self.streams.finish(&mut out);
    }

    /// FIN: the stream's message side ends.
    fn end(&mut self, r: Reader, key: (u64, u8), out: &mut impl FnMut(Side, Event<'_>)) {
        if let Kind::Message { key: m } = r.kind {
            if r.in_payload || r.hdr_len > 0 {
                self.stats.frame_errors += 1;
                if matches!(r.ty, HEADERS | PUSH_PROMISE) && r.in_payload {
                    self.stats.blocks_cut += 1;
                }
                self.streams.hole(side_of(key.1), m);
            }
            self.streams.end(side_of(key.1), m, out);
        }
        self.mark_ended(key);
    }

    fn read(&mut self, r: &mut Reader, sender: u8, data: &[u8], out: &mut impl FnMut(Side, Event<'_>)) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            match r.kind {
                Kind::Skip => {
                    r.offset += rest.len() as u64;
                    return;
                }
                Kind::Encoder => {
                    self.qpack[usize::from(sender)].encoder_stream(rest);
                    r.offset += rest.len() as u64;
                    return;
                }
                Kind::Type | Kind::PushId => {
                    r.hdr[r.hdr_len] = rest[0];
                    r.hdr_len += 1;
                    r.offset += 1;
                    pos += 1;
                    if let Some((v, _)) = varint(&r.hdr[..r.hdr_len]) {
                        r.hdr_len = 0;
                        r.kind = if r.kind == Kind::PushId {
                            Kind::Message { key: PUSH_BASE + v }
                        } else {
                            self.stream_type(v, sender)
                        };
                    }
                }
                Kind::Control | Kind::Message { .. } if !r.in_payload => {
                    if r.hdr_len == 0 {
                        r.frame_offset = r.offset;
                    }
                    r.hdr[r.hdr_len] = rest[0];
                    r.hdr_len += 1;
                    r.offset += 1;
                    pos += 1;
                    let Some((ty, n)) = varint(&r.hdr[..r.hdr_len]) else { continue };
                    let Some((len, _)) = varint(&r.hdr[n..r.hdr_len]) else { continue };
                    r.hdr_len = 0;
                    self.start_frame(r, ty, len, out, sender);
                }
                Kind::Control | Kind::Message { .. } => {
                    let n = rest.len().min(usize::try_from(r.left).unwrap_or(usize::MAX));
                    let piece = &rest[..n];
                    if r.ty == DATA {
                        if let Kind::Message { key } = r.kind {
                            self.streams.data(side_of(sender), key, piece, out);
                        }
                    } else {
                        let cap = match r.ty {
                            HEADERS | PUSH_PROMISE => self.limits.max_header_block.saturating_add(8),
                            SETTINGS | GOAWAY => MAX_CONTROL,
                            _ => 0,
                        };
                        let take = n.min(cap.saturating_sub(r.buf.len()));
                        r.buf.extend_from_slice(&piece[..take]);
                        r.buf_short |= take < n;
                    }
                    r.left -= n as u64;
                    r.offset += n as u64;
                    pos += n;
                    if r.left == 0 {
                        self.end_frame(r, sender, out);
                    }
                }
            }
        }
    }

    fn stream_type(&mut self, ty: u64, sender: u8) -> Kind {
        let s = usize::from(sender);
        match ty {
            STREAM_CONTROL if !self.control_seen[s] => {
                self.control_seen[s] = true;
                Kind::Control
            }
            STREAM_ENCODER if !self.encoder_seen[s] => {
                self.encoder_seen[s] = true;
                Kind::Encoder
            }
            STREAM_PUSH if sender == 1 => Kind::PushId,
            STREAM_DECODER => Kind::Skip,
            _ => Kind::Skip,
        }
    }

    fn start_frame(&mut self, r: &mut Reader, ty: u64, len: u64, out: &mut impl FnMut(Side, Event<'_>), sender: u8) {
        self.stats.frames += 1;
        r.ty = ty;
        r.left = len;
        r.in_payload = true;
        r.buf.clear();
        r.buf_short = false;
        r.holed = false;
        match ty {
            DATA | HEADERS | SETTINGS | PUSH_PROMISE | GOAWAY | 0x3 | 0xd => {}
            // HTTP/2 frame types HTTP/3 reserves (PRIORITY, PING, WINDOW_UPDATE,
            // CONTINUATION).
            0x2 | 0x6 | 0x8 | 0x9 => self.stats.frame_errors += 1,
            _ => self.stats.unknown_frames += 1,
        }
        if r.kind == Kind::Control && matches!(ty, DATA | HEADERS | PUSH_PROMISE) {
            self.stats.frame_errors += 1;
            r.ty = u64::MAX;
        }
        if len == 0 {
            self.end_frame(r, sender, out);
        }
    }

    fn end_frame(&mut self, r: &mut Reader, sender: u8, out: &mut impl FnMut(Side, Event<'_>)) {
        r.in_payload = false;
        let side = side_of(sender);
        let mut buf = std::mem::take(&mut r.buf);
        match (r.kind, r.ty) {
            (Kind::Message { key }, DATA) => self.streams.data(side, key, &[], out),
            (Kind::Message { key }, HEADERS) => {
                let error = self.section(&buf, r.buf_short, r.holed, sender);
                self.streams.headers(side, key, &self.fields, error, r.frame_offset, buf.len(), false, out);
            }
            (Kind::Message { key }, PUSH_PROMISE) if sender == 1 => match varint(&buf) {
                Some((push_id, n)) if push_id < PUSH_BASE => {
                    let error = self.section(&buf[n..], r.buf_short, r.holed, sender);
                    let len = buf.len() - n;
                    self.streams.promise(key, PUSH_BASE + push_id, &self.fields, error, r.frame_offset, len, out);
                }
                _ => self.stats.frame_errors += 1,
            },
            (Kind::Control, SETTINGS) if !r.holed && !r.buf_short => {
                let mut p = 0;
                while let Some((id, n)) = varint(&buf[p..]) {
                    let Some((value, m)) = varint(&buf[p + n..]) else { break };
                    p += n + m;
                    if id == SETTINGS_QPACK_MAX_TABLE_CAPACITY {
                        // The sender's decoder bounds the other side's encoder.
                        self.qpack[usize::from(1 - sender)].set_max_capacity(value);
                    }
                }
                if p != buf.len() {
                    self.stats.frame_errors += 1;
                }
            }
            (Kind::Control, GOAWAY) if !r.holed => match varint(&buf) {
                Some((id, _)) => out(side, Event::GoAway { last_stream_id: id, error_code: 0, debug: b"" }),
                None => self.stats.frame_errors += 1,
            },
            _ => {}
        }
        buf.clear();
        if buf.capacity() > 64 << 10 {
            buf = Vec::new();
        }
        r.buf = buf;
    }

    /// Decodes a field section into `self.fields`.
    fn section(&mut self, section: &[u8], short: bool, holed: bool, sender: u8) -> Option<BlockError> {
        self.fields.clear();
        if holed {
            self.stats.blocks_cut += 1;
            return Some(BlockError::Qpack(qpack::Error::Truncated));
        }
        if short || section.len() > self.limits.max_header_block {
            return Some(BlockError::TooLong);
        }
        let limits = self.limits.block_limits();
        match self.qpack[usize::from(sender)].decode(section, &limits, &mut self.fields) {
            Ok(()) => None,
            Err(e) => {
                if matches!(e, qpack::Error::Blocked { .. }) {
                    self.stats.qpack_blocked += 1;
                }
                Some(BlockError::Qpack(e))
            }
        }
    }
}

fn side_of(sender: u8) -> Side {
    if sender == 0 { Side::Requests } else { Side::Responses }
}

//! QUIC: the ClientHello inside the client's Initial packets (and Google QUIC's CHLO); and,
//! when the key log has the connection's secrets, its 1-RTT streams: HTTP/3, or the raw
//! identifier search for other applications (DNS over QUIC...).

use std::collections::{BTreeMap, BTreeSet};

use phonehome_decrypt::{QuicDecryptor, QuicOutput, QuicStatus};
use phonehome_detect::Location;
use phonehome_model::event::{Decryption, EventBody, QuicRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::h3::H3Connection;
use phonehome_protocols::quic::{self, QuicConnection};

use super::messages::Messages;
use super::{Context, Dissector, ProtocolLimits};

/// The connection's Initial-packet state until the hello is read, then its decryption.
pub(crate) struct QuicDissector {
    conn: QuicConnection,
    /// Whether the event was sent (one per connection).
    sent: bool,
    /// Whether the first datagram was seen (and decryption decided on).
    started: bool,
    /// Set up at the first datagram when keys could exist.
    decrypting: Option<Box<Decrypting>>,
    /// The hello was Google QUIC's, which is not TLS: no key log opens it.
    gquic: bool,
    limits: ProtocolLimits,
}

/// A connection being decrypted: the decryptor, its STREAM frames put back in order, and the
/// application reading them.
struct Decrypting {
    decryptor: QuicDecryptor,
    streams: Streams,
    app: App,
    /// STREAM frames of the datagram being read (copied out of the decryptor's buffer, so
    /// that encoder streams can go first).
    frames: Vec<Frame>,
    /// Stream bytes delivered in order.
    bytes: u64,
}

/// What reads the streams.
enum App {
    /// Not known until the hello's ALPN is read.
    Undecided,
    Http3(Box<H3Connection>, Messages),
    /// Another application (DNS over QUIC, SMB...): each stream searched as raw bytes.
    Raw,
}

struct Frame {
    dir: Direction,
    stream_id: u64,
    offset: u64,
    data: Vec<u8>,
    fin: bool,
}

impl QuicDissector {
    pub(crate) fn new(limits: &ProtocolLimits) -> QuicDissector {
        QuicDissector {
            // The CRYPTO stream carries the TLS handshake: the same cap as over TCP.
            conn: QuicConnection::with_crypto_cap(limits.tls_handshake_max),
            sent: false,
            started: false,
            decrypting: None,
            gquic: false,
            limits: limits.clone(),
        }
    }
}

impl Dissector for QuicDissector {
    fn datagram(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        if !self.started {
            self.started = true;
            if cx.keys.possible() {
                self.decrypting = Some(Box::new(Decrypting {
                    decryptor: QuicDecryptor::new(),
                    streams: Streams::new(self.limits.quic_stream_buffer),
                    app: App::Undecided,
                    frames: Vec::new(),
                    bytes: 0,
                }));
            }
        }
        if !self.conn.is_done() {
            self.hello(dir, bytes, cx);
        }
        if let Some(d) = &mut self.decrypting {
            // Decrypted STREAM data are streams, not datagrams: searched as TCP's are (what
            // the server sends only with --search-received), not as UDP payload both ways.
            let udp = std::mem::replace(&mut cx.udp, false);
            d.datagram(dir, bytes, cx);
            cx.udp = udp;
        }
    }

    fn finish(self: Box<Self>, cx: &mut Context<'_>) {
        let a = self.conn.anomalies();
        if a.crypto_cap_hit {
            cx.counters.add(Counter::QuicCryptoCap, 1);
        }
        if a.key_limit_hit {
            cx.counters.add(Counter::QuicKeySets, 1);
        }
        if !self.sent && a.decrypt_failures > 0 {
            cx.counters.add(Counter::QuicUndecryptable, 1);
        }
        *cx.decryption = Some(match self.decrypting {
            _ if self.gquic => Decryption { reason: Some("unsupported_version"), ..Decryption::default() },
            None => Decryption { reason: Some("no_key_log"), ..Decryption::default() },
            Some(d) => {
                let udp = std::mem::replace(&mut cx.udp, false);
                let outcome = d.finish(cx);
                cx.udp = udp;
                outcome
            }
        });
    }

    fn done(&self) -> bool {
        self.conn.is_done() && self.decrypting.is_none()
    }
}

impl QuicDissector {
    /// Reads the client's Initials for the `quic` event.
    fn hello(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        match dir {
            Direction::ToServer => {
                if let Some(hello) = self.conn.client_datagram(bytes) {
                    if let Some(d) = &mut self.decrypting {
                        if hello.gquic {
                            self.gquic = true;
                            self.decrypting = None;
                        } else {
                            d.decryptor.set_client_random(hello.client_hello.random);
                            // HTTP/3 when the client offers it ("h3", or a draft's "h3-29").
                            d.app = if hello.client_hello.alpn.iter().any(|a| a.starts_with(b"h3")) {
                                App::Http3(Box::new(H3Connection::new(self.limits.h2)), Messages::http3())
                            } else {
                                App::Raw
                            };
                        }
                    }
                    let mut record = QuicRecord {
                        version: quic::version_name(hello.version),
                        sni: hello.sni.map(WireText),
                        alpn: hello.client_hello.alpn.into_iter().map(WireText).collect(),
                        ja4: (!hello.ja4.is_empty()).then_some(hello.ja4),
                        ua: hello.user_agent.map(WireText),
                    };
                    if let Some(sni) = record.sni.take() {
                        // Reported (and naming the flow) with identifiers in it redacted.
                        let shown = cx.scan_reported(dir, &sni.0, Location::Sni);
                        cx.name(shown.clone(), "sni");
                        record.sni = Some(shown);
                    }
                    cx.out.push(EventBody::Quic(Box::new(record)));
                    self.sent = true;
                }
            }
            Direction::ToClient => self.conn.server_datagram(bytes),
        }
    }
}

impl Decrypting {
    fn datagram(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        let frames = &mut self.frames;
        self.decryptor.datagram(dir, bytes, &cx.keys.log, |out| {
            if let QuicOutput::Stream { dir, stream_id, offset, data, fin } = out {
                frames.push(Frame { dir, stream_id, offset, data: data.to_vec(), fin });
            }
        });
        // QPACK encoder instructions (unidirectional streams) before the requests of the
        // same packet that refer to them.
        frames.sort_by_key(|f| f.stream_id & 2 == 0);
        for f in frames.drain(..) {
            let (app, bytes) = (&mut self.app, &mut self.bytes);
            let capped = self.streams.put(f, &mut |dir, stream_id, piece| {
                if let Piece::Data(data, _) = piece {
                    *bytes += data.len() as u64;
                }
                app.read(dir, stream_id, piece, cx);
            });
            if capped {
                cx.counters.add(Counter::QuicStreamBufferCap, 1);
            }
        }
    }

    fn finish(mut self: Box<Self>, cx: &mut Context<'_>) -> Decryption {
        let inner = match &self.app {
            App::Undecided => None,
            App::Http3(..) => Some("http/3"),
            App::Raw => Some("payload"),
        };
        if let App::Http3(mut h3, mut messages) = std::mem::replace(&mut self.app, App::Undecided) {
            h3.finish(|side, e| messages.on_event(side, e, cx));
            messages.flush(cx);
            let s = h3.stats();
            cx.counters.add(Counter::H3FrameError, s.frame_errors);
            messages.count(&s.messages, cx);
        }
        let decrypted = self.bytes > 0;
        let reason = match self.decryptor.status() {
            QuicStatus::Decrypting if decrypted => None,
            QuicStatus::Decrypting | QuicStatus::Waiting => Some("no_application_data"),
            QuicStatus::MissingClientHello => Some("missing_client_hello"),
            QuicStatus::NoKey => Some(cx.keys.explain("no_key")),
            QuicStatus::MissingHandshake => Some("missing_handshake"),
            QuicStatus::AuthenticationFailed => Some("authentication_failed"),
        };
        Decryption {
            decrypted,
            reason,
            key_source: decrypted.then_some("key_log"),
            inner: if decrypted { inner } else { None },
            bytes: self.bytes,
        }
    }
}

impl App {
    fn read(&mut self, dir: Direction, stream_id: u64, piece: Piece<'_>, cx: &mut Context<'_>) {
        match (self, piece) {
            (App::Http3(h3, messages), Piece::Data(data, fin)) => {
                h3.push(dir, stream_id, data, fin, |side, e| messages.on_event(side, e, cx))
            }
            (App::Http3(h3, messages), Piece::Gap(len)) => {
                h3.gap(dir, stream_id, len, |side, e| messages.on_event(side, e, cx))
            }
            (App::Raw, Piece::Data(data, _)) => cx.scan(dir, data, Location::Payload),
            _ => {}
        }
    }
}

/// In-order bytes of one stream, or a hole that will not be filled.
enum Piece<'a> {
    Data(&'a [u8], bool),
    Gap(u64),
}

/// STREAM frames put back in stream order: QUIC retransmits lost frames in later packets,
/// so frames arrive out of order and repeated.
struct Streams {
    by_id: BTreeMap<(u8, u64), StreamBuf>,
    /// Streams that ended, so that a late retransmission does not start them again (the
    /// lowest are forgotten past a bound: stream ids only grow).
    ended: BTreeSet<(u8, u64)>,
    /// Bytes held ahead of holes, over all streams.
    held: usize,
    cap: usize,
}

#[derive(Default)]
struct StreamBuf {
    /// Offset of the next byte to deliver.
    next: u64,
    /// Frames ahead of `next`, by offset.
    ahead: BTreeMap<u64, (Vec<u8>, bool)>,
    /// The FIN was delivered.
    ended: bool,
}

/// Streams tracked at once; a connection opening more forgets the lowest (HTTP/3 caps the
/// streams it reads lower still).
const MAX_STREAMS: usize = 1024;

impl Streams {
    fn new(cap: usize) -> Streams {
        Streams { by_id: BTreeMap::new(), ended: BTreeSet::new(), held: 0, cap }
    }

    /// Puts one frame in; `out` gets what is now in order. Returns whether the buffer cap
    /// made a stream skip a hole.
    fn put(&mut self, f: Frame, out: &mut dyn FnMut(Direction, u64, Piece<'_>)) -> bool {
        let key = (f.dir.index() as u8, f.stream_id);
        if self.ended.contains(&key) {
            return false;
        }
        if !self.by_id.contains_key(&key)
            && self.by_id.len() >= MAX_STREAMS
            && let Some((_, old)) = self.by_id.pop_first()
        {
            self.held -= old.ahead.values().map(|(d, _)| d.len()).sum::<usize>();
        }
        let s = self.by_id.entry(key).or_default();
        if s.ended {
            return false;
        }
        let mut capped = false;
        if f.offset > s.next {
            // Of two frames at one offset (a retransmission cut differently) the longer stays.
            let longer = s.ahead.get(&f.offset).is_none_or(|(held, _)| f.data.len() > held.len());
            if longer {
                self.held += f.data.len();
                if let Some((old, _)) = s.ahead.insert(f.offset, (f.data, f.fin)) {
                    self.held -= old.len();
                }
            }
            if self.held <= self.cap {
                return false;
            }
            // No room to wait for the hole: hand on what is held, stepping over the holes.
            capped = true;
            while let Some((offset, (data, fin))) = s.ahead.pop_first() {
                self.held -= data.len();
                if offset > s.next {
                    out(f.dir, f.stream_id, Piece::Gap(offset - s.next));
                    s.next = offset;
                }
                deliver(s, f.dir, f.stream_id, offset, &data, fin, out);
            }
        } else {
            deliver(s, f.dir, f.stream_id, f.offset, &f.data, f.fin, out);
            while let Some(entry) = s.ahead.first_entry() {
                if *entry.key() > s.next {
                    break;
                }
                let (offset, (data, fin)) = entry.remove_entry();
                self.held -= data.len();
                deliver(s, f.dir, f.stream_id, offset, &data, fin, out);
            }
        }
        if s.ended {
            self.held -= s.ahead.values().map(|(d, _)| d.len()).sum::<usize>();
            self.by_id.remove(&key);
            self.ended.insert(key);
            if self.ended.len() > 4 * MAX_STREAMS {
                self.ended.pop_first();
            }
        }
        capped
    }
}

/// Hands on the part of a frame at `offset` that is past what was delivered.
fn deliver(
    s: &mut StreamBuf,
    dir: Direction,
    stream_id: u64,
    offset: u64,
    data: &[u8],
    fin: bool,
    out: &mut dyn FnMut(Direction, u64, Piece<'_>),
) {
    let end = offset + data.len() as u64;
    if end < s.next || (end == s.next && !fin) || s.ended {
        return;
    }
    let fresh = &data[(s.next - offset) as usize..];
    s.next = end;
    s.ended = fin;
    out(dir, stream_id, Piece::Data(fresh, fin));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(frames: &[(u64, &[u8], bool)], cap: usize) -> (Vec<u8>, Vec<u64>, bool) {
        let mut streams = Streams::new(cap);
        let (mut bytes, mut gaps, mut fin_seen, mut capped) = (Vec::new(), Vec::new(), false, false);
        for &(offset, data, fin) in frames {
            let f = Frame { dir: Direction::ToServer, stream_id: 0, offset, data: data.to_vec(), fin };
            capped |= streams.put(f, &mut |_, _, piece| match piece {
                Piece::Data(d, fin) => {
                    assert!(!fin_seen, "data after the FIN");
                    bytes.extend_from_slice(d);
                    fin_seen = fin;
                }
                Piece::Gap(len) => gaps.push(len),
            });
        }
        assert!(fin_seen, "the FIN was delivered");
        assert_eq!(streams.held, 0, "nothing held once the stream ended");
        (bytes, gaps, capped)
    }

    #[test]
    fn frames_are_put_back_in_order() {
        let frames = [(6, &b"world"[..], true), (0, b"hello ", false), (3, b"lo wo", false), (0, b"hel", false)];
        assert_eq!(run(&frames, 1 << 10), (b"hello world".to_vec(), vec![], false));
    }

    #[test]
    fn a_full_buffer_steps_over_the_hole() {
        let frames = [(6, &b"world"[..], false), (11, b"!", true)];
        assert_eq!(run(&frames, 5), (b"world!".to_vec(), vec![6], true));
    }

    #[test]
    fn a_bare_fin_ends_the_stream() {
        assert_eq!(run(&[(0, b"abc", false), (3, b"", true)], 16), (b"abc".to_vec(), vec![], false));
    }
}

#[cfg(test)]
mod reorder_property {
    use super::*;

    /// A small deterministic generator (xorshift64*), so that failures replay.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// Any split of a stream into frames, sent in any order with repeats (QUIC retransmits),
    /// delivers the stream exactly once and in order when the buffer has room; with a small
    /// buffer what is delivered is the stream with holes stepped over, never a byte twice or
    /// out of place; nothing stays held once the FIN is delivered.
    #[test]
    fn any_order_and_repeats_rebuild_the_stream() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..2000 {
            let len = 1 + rng.below(300) as usize;
            let stream: Vec<u8> = (0..len).map(|i| (i * 7 + case) as u8).collect();
            let mut frames = Vec::new();
            let mut at = 0;
            while at < len {
                let n = (1 + rng.below(40) as usize).min(len - at);
                frames.push((at, n));
                at += n;
            }
            // Repeats, some overlapping their neighbours.
            for _ in 0..rng.below(4) {
                let s = rng.below(len as u64) as usize;
                let n = (1 + rng.below(60) as usize).min(len - s);
                frames.push((s, n));
            }
            for i in (1..frames.len()).rev() {
                frames.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let cap = if case % 3 == 0 { rng.below(64) as usize } else { 1 << 20 };
            let mut streams = Streams::new(cap);
            let mut got = Vec::new();
            let mut position = 0u64;
            let mut ended = false;
            for &(s, n) in &frames {
                let fin = s + n == len;
                let f = Frame {
                    dir: Direction::ToClient,
                    stream_id: 4,
                    offset: s as u64,
                    data: stream[s..s + n].to_vec(),
                    fin,
                };
                streams.put(f, &mut |_, _, piece| {
                    assert!(!ended, "case {case}: bytes after the FIN");
                    match piece {
                        Piece::Data(d, fin) => {
                            let p = position as usize;
                            assert_eq!(d, &stream[p..p + d.len()], "case {case}: bytes out of place");
                            position += d.len() as u64;
                            got.extend_from_slice(d);
                            ended = fin;
                        }
                        Piece::Gap(g) => position += g,
                    }
                });
            }
            assert!(ended, "case {case}: the FIN was delivered");
            assert_eq!(position as usize, len, "case {case}");
            assert_eq!(streams.held, 0, "case {case}");
            if cap >= 1 << 20 {
                assert_eq!(got, stream, "case {case}: with room, the whole stream");
            }
        }
    }
}

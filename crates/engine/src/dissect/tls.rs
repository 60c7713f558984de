//! TLS over TCP: the ClientHello and ServerHello, however they are split across records and
//! segments; and, when the key log has the connection's secrets, what it carries.
//!
//! Decryption is `phonehome_decrypt`'s: a [`TlsDecryptor`] fed both directions from the first
//! byte. Its plaintext goes to the parser the connection's ALPN (or, without one, its first
//! bytes) names: HTTP/1.x, HTTP/2, or the raw identifier search, exactly as cleartext would.

use phonehome_decrypt::{KeySource, Output, Status, TlsDecryptor};
use phonehome_flow::tcp::Chunk;
use phonehome_model::event::{Decryption, EventBody, TlsRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::h2::{self, H2Connection};
use phonehome_protocols::sniff::{self, Carrier};
use phonehome_protocols::tls::{self, HandshakeAssembler};

use phonehome_detect::Location;

use super::http::HttpDissector;
use super::messages::Messages;
use super::{Context, Dissector, ProtocolLimits, RawStream};

/// A handshake assembler per direction, the ClientHello's event until the ServerHello
/// completes it, and the decryption of what follows.
pub(crate) struct TlsDissector {
    assemblers: [HandshakeAssembler; 2],
    pending: Option<TlsRecord>,
    limits: ProtocolLimits,
    /// Set up at the first bytes when keys could exist; `None` after that means none can.
    decryptor: Option<Box<TlsDecryptor>>,
    /// Whether the first bytes were seen (and the decryptor decided on).
    started: bool,
    /// The reader of the decrypted bytes.
    plain: Plain,
    /// Decrypted bytes delivered per direction: the plaintext stream's offsets.
    plain_offset: [u64; 2],
}

/// What reads a connection's decrypted bytes.
enum Plain {
    /// No application data yet.
    Undecided,
    Http1(Box<HttpDissector>),
    H2(Box<H2Connection>, Messages),
    /// Not HTTP: searched as a raw stream.
    Raw(RawStream),
}

impl TlsDissector {
    pub(crate) fn new(limits: &ProtocolLimits) -> TlsDissector {
        let cap = limits.tls_handshake_max;
        TlsDissector {
            assemblers: [HandshakeAssembler::with_cap(cap), HandshakeAssembler::with_cap(cap)],
            pending: None,
            limits: limits.clone(),
            decryptor: None,
            started: false,
            plain: Plain::Undecided,
            plain_offset: [0; 2],
        }
    }

    /// Feeds the decryptor and hands what it decrypts on.
    fn decrypt(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
        let Some(decryptor) = self.decryptor.as_mut() else { return };
        if matches!(decryptor.status(dir), Status::Stopped(_)) {
            return;
        }
        let (plain, offsets, limits) = (&mut self.plain, &mut self.plain_offset, &self.limits);
        let frame = cx.frame.unwrap_or(0);
        // The key log leaves the context while the decryptor holds it, so that the output
        // callback can use the rest of the context.
        let mut keys = std::mem::take(&mut cx.keys.log);
        let mut on_output = |out: Output<'_>| {
            if let Output::AppData { dir, data, .. } = out {
                let offset = offsets[dir.index()];
                offsets[dir.index()] += data.len() as u64;
                plain.data(dir, Chunk::Data { bytes: data, offset, frame }, limits, cx);
            }
        };
        match chunk {
            Chunk::Data { bytes, .. } => decryptor.feed(dir, bytes, &mut keys, &mut on_output),
            Chunk::Gap { len, .. } => decryptor.gap(dir, len, &mut on_output),
        }
        cx.keys.log = keys;
    }
}

impl Dissector for TlsDissector {
    fn stream(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
        if !self.started {
            self.started = true;
            if cx.keys.possible() {
                self.decryptor = Some(Box::new(TlsDecryptor::new(self.limits.tls_decrypt.clone())));
            }
        }
        self.handshake(dir, chunk, cx);
        self.decrypt(dir, chunk, cx);
    }

    /// A ClientHello never answered still gets its event.
    fn finish(self: Box<Self>, cx: &mut Context<'_>) {
        let mut this = *self;
        if this.assemblers.iter().any(HandshakeAssembler::cap_hit) {
            cx.counters.add(Counter::TlsHandshakeCap, 1);
        }
        if let Some(r) = this.pending.take() {
            cx.out.push(EventBody::Tls(Box::new(r)));
        }
        let inner = this.plain.name();
        this.plain.finish(cx);
        *cx.decryption = Some(match &this.decryptor {
            None => Decryption { reason: Some("no_key_log"), ..Decryption::default() },
            Some(d) => {
                let s = d.summary();
                let decrypted = s.decrypted();
                let reason = match s.reason() {
                    Some(r) => Some(cx.keys.explain(r.as_str())),
                    None if !decrypted => Some("no_application_data"),
                    None => None,
                };
                Decryption {
                    decrypted,
                    reason,
                    key_source: s.key_source.map(|k| match k {
                        KeySource::ClientRandom => "key_log",
                        KeySource::SessionId => "session_id",
                        KeySource::SessionTicket => "session_ticket",
                    }),
                    inner,
                    bytes: s.client.app_bytes + s.client.early_data_bytes + s.server.app_bytes,
                }
            }
        });
    }

    fn done(&self) -> bool {
        self.assemblers.iter().all(HandshakeAssembler::is_done)
            && self.decryptor.as_ref().is_none_or(|d| {
                [Direction::ToServer, Direction::ToClient]
                    .iter()
                    .all(|&dir| matches!(d.status(dir), Status::Stopped(_)))
            })
    }
}

impl TlsDissector {
    /// Reads the hellos for the `tls` event.
    fn handshake(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
        let a = &mut self.assemblers[dir.index()];
        if a.is_done() {
            return;
        }
        match chunk {
            Chunk::Data { bytes, .. } => a.push(bytes),
            Chunk::Gap { .. } => a.gap(),
        }
        while let Some(m) = a.next_message() {
            match (m.msg_type, dir) {
                (tls::CLIENT_HELLO, Direction::ToServer) if self.pending.is_none() => {
                    if let Ok(ch) = tls::parse_client_hello(m.body) {
                        let mut record = tls_record(&ch);
                        if let Some(sni) = record.sni.take() {
                            // Reported (and naming the flow) with identifiers in it redacted.
                            let shown = cx.scan_reported(dir, &sni.0, Location::Sni);
                            cx.name(shown.clone(), "sni");
                            record.sni = Some(shown);
                        }
                        self.pending = Some(record);
                    }
                }
                (tls::SERVER_HELLO, Direction::ToClient) => {
                    if let (Some(mut r), Ok(sh)) = (self.pending.take(), tls::parse_server_hello(m.body)) {
                        r.version = Some(version_name(sh.version));
                        r.cipher_suite = Some(format!("0x{:04x}", sh.cipher_suite));
                        cx.out.push(EventBody::Tls(Box::new(r)));
                    }
                }
                _ => {}
            }
        }
    }
}

impl Plain {
    /// Decrypted bytes of `dir`, as a chunk of its plaintext stream. The first bytes of the
    /// connection choose the reader: the client's HTTP/2 preface or the server's first
    /// SETTINGS frame, an HTTP/1.x request, else the raw search (ALPN is not needed, and
    /// not always sent).
    fn data(&mut self, dir: Direction, chunk: Chunk<'_>, limits: &ProtocolLimits, cx: &mut Context<'_>) {
        if let (Plain::Undecided, Chunk::Data { bytes, .. }) = (&*self, chunk) {
            *self = Plain::choose(dir, bytes, limits);
        }
        match self {
            Plain::Undecided => {}
            Plain::Http1(http) => http.stream(dir, chunk, cx),
            Plain::H2(conn, messages) => {
                if let Chunk::Data { bytes, .. } = chunk {
                    conn.push(dir, bytes, |side, e| messages.on_event(side, e, cx));
                }
            }
            Plain::Raw(raw) => raw.chunk(cx.findings, dir, chunk, cx.out),
        }
    }

    fn choose(dir: Direction, first: &[u8], limits: &ProtocolLimits) -> Plain {
        let h2 = match dir {
            Direction::ToServer => {
                let n = first.len().min(h2::PREFACE.len());
                n > 0 && first[..n] == h2::PREFACE[..n]
            }
            // A SETTINGS frame (type 4) on stream 0, without the ACK flag.
            Direction::ToClient => matches!(first, [_, _, _, 4, 0, 0, 0, 0, 0, ..]),
        };
        if h2 {
            Plain::H2(Box::new(H2Connection::new(limits.h2)), Messages::http2())
        } else if dir == Direction::ToServer && sniff::app_proto(Carrier::TcpStream, first, (0, 443)) == Some("http") {
            Plain::Http1(Box::new(HttpDissector::new(limits)))
        } else {
            Plain::Raw(RawStream::default())
        }
    }

    /// The connection ended: what is pending is sent.
    fn finish(self, cx: &mut Context<'_>) {
        match self {
            Plain::Undecided => {}
            Plain::Http1(http) => http.finish(cx),
            Plain::H2(mut conn, mut messages) => {
                conn.finish(|side, e| messages.on_event(side, e, cx));
                messages.flush(cx);
                let s = conn.stats();
                cx.counters.add(Counter::H2FrameError, s.frame_errors + s.lost);
                messages.count(&s.messages, cx);
            }
            Plain::Raw(mut raw) => raw.finish(cx.findings, cx.out),
        }
    }

    /// What the decrypted bytes were read as, for the flow's `decryption` object.
    fn name(&self) -> Option<&'static str> {
        match self {
            Plain::Undecided => None,
            Plain::Http1(_) => Some("http/1"),
            Plain::H2(..) => Some("http/2"),
            Plain::Raw(_) => Some("payload"),
        }
    }
}

/// Whether `chunk` starts with a TLS handshake record holding (the start of) a ClientHello.
pub(crate) fn starts_client_hello(chunk: &[u8]) -> bool {
    matches!(chunk, [0x16, 3, 0..=4, hi, lo, tls::CLIENT_HELLO, ..] if u16::from_be_bytes([*hi, *lo]) >= 4)
}

fn tls_record(ch: &tls::ClientHello) -> TlsRecord {
    let offered = ch.supported_versions.iter().copied().filter(|v| !tls::is_grease(*v)).max();
    TlsRecord {
        sni: ch.server_name.as_ref().map(|s| WireText(s.clone())),
        alpn: ch.alpn.iter().map(|a| WireText(a.clone())).collect(),
        version: None,
        cipher_suite: None,
        client_version: version_name(offered.unwrap_or(ch.legacy_version)),
        ja3: tls::ja3(ch).1,
        ja4: tls::ja4(ch, tls::Transport::Tcp),
        ech: ch.ech,
    }
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

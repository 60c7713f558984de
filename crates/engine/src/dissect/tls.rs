//! TLS over TCP: the ClientHello and ServerHello, however they are split across records and
//! segments.

use phonehome_flow::tcp::Chunk;
use phonehome_model::event::{EventBody, TlsRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::tls::{self, HandshakeAssembler};

use phonehome_detect::Location;

use super::{Context, Dissector, ProtocolLimits};

/// A handshake assembler per direction, and the ClientHello's event until the ServerHello
/// completes it.
pub(crate) struct TlsDissector {
    assemblers: [HandshakeAssembler; 2],
    pending: Option<TlsRecord>,
}

impl TlsDissector {
    pub(crate) fn new(limits: &ProtocolLimits) -> TlsDissector {
        let cap = limits.tls_handshake_max;
        TlsDissector {
            assemblers: [HandshakeAssembler::with_cap(cap), HandshakeAssembler::with_cap(cap)],
            pending: None,
        }
    }
}

impl Dissector for TlsDissector {
    fn stream(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
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

    /// A ClientHello never answered still gets its event.
    fn finish(self: Box<Self>, cx: &mut Context<'_>) {
        if self.assemblers.iter().any(HandshakeAssembler::cap_hit) {
            cx.counters.add(Counter::TlsHandshakeCap, 1);
        }
        if let Some(r) = self.pending {
            cx.out.push(EventBody::Tls(Box::new(r)));
        }
    }

    fn done(&self) -> bool {
        self.assemblers.iter().all(HandshakeAssembler::is_done)
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

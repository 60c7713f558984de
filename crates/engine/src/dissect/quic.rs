//! QUIC: the ClientHello inside the client's Initial packets (and Google QUIC's CHLO).

use phonehome_model::event::{EventBody, QuicRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::quic::{self, QuicConnection};

use phonehome_detect::Location;

use super::{Context, Dissector, ProtocolLimits};

/// The connection's Initial-packet state until the hello is read.
pub(crate) struct QuicDissector {
    conn: QuicConnection,
    /// Whether the event was sent (one per connection).
    sent: bool,
}

impl QuicDissector {
    pub(crate) fn new(limits: &ProtocolLimits) -> QuicDissector {
        // The CRYPTO stream carries the TLS handshake: the same cap as over TCP.
        QuicDissector { conn: QuicConnection::with_crypto_cap(limits.tls_handshake_max), sent: false }
    }
}

impl Dissector for QuicDissector {
    fn datagram(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        match dir {
            Direction::ToServer => {
                if let Some(hello) = self.conn.client_datagram(bytes) {
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
    }

    fn done(&self) -> bool {
        self.conn.is_done()
    }
}

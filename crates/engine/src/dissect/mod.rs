//! Dissectors: from a flow's payload to protocol events and the names that label flows.
//!
//! The protocol parsers in `phonehome-protocols` are pure; the per-flow state they need (a
//! handshake assembler per direction, a DNS-over-TCP framer, an HTTP parser per side) lives in
//! a [`Dissector`] here, created only for flows whose content was recognised as its protocol.
//! Adding a protocol (MQTT, XMPP, a vendor's push channel) is a new module beside these plus a
//! line in [`for_flow`]; the handler and the flow table do not change.

mod dns;
pub(crate) mod http;
mod messages;
mod quic;
mod raw;
mod tls;

use phonehome_decrypt::KeyLog;
use phonehome_detect::Location;
use phonehome_flow::tcp::Chunk;
use phonehome_model::event::{Decryption, EventBody};
use phonehome_model::text::WireText;
use phonehome_model::{Counters, Direction};
use phonehome_protocols::sniff::{self, Carrier};

pub(crate) use dns::{DnsNames, Learnt};
pub(crate) use raw::RawStream;

use crate::findings::{Findings, Origin, redact};

/// Caps of the protocol stage (docs/DESIGN.md, "Resource caps"); each cap hit is counted.
#[derive(Clone, Debug)]
pub struct ProtocolLimits {
    /// Bytes a TLS handshake message may take while it is assembled (hellos of 10 KB and
    /// more are real: post-quantum key shares); also the CRYPTO data held per QUIC connection.
    pub tls_handshake_max: usize,
    /// Addresses remembered from DNS answers to name later flows.
    pub dns_names_max: usize,
    /// The DNS parser's caps (records per message, compression pointers per name).
    pub dns: phonehome_protocols::dns::Limits,
    /// The HTTP parser's caps (head size, header count, decoded body size).
    pub http: phonehome_protocols::http::Limits,
    /// The HTTP/2 and HTTP/3 parsers' caps (header tables and blocks, streams, bodies), for
    /// decrypted connections.
    pub h2: phonehome_protocols::h2::Limits,
    /// The TLS decryptor's caps (handshake message, early data held).
    pub tls_decrypt: phonehome_decrypt::TlsConfig,
    /// QUIC stream bytes held out of order per connection, waiting for what comes before.
    pub quic_stream_buffer: usize,
}

impl Default for ProtocolLimits {
    fn default() -> Self {
        ProtocolLimits {
            tls_handshake_max: phonehome_protocols::tls::DEFAULT_CAP,
            dns_names_max: 200_000,
            dns: phonehome_protocols::dns::Limits::default(),
            http: phonehome_protocols::http::Limits::default(),
            h2: phonehome_protocols::h2::Limits::default(),
            tls_decrypt: phonehome_decrypt::TlsConfig::default(),
            quic_stream_buffer: 1 << 20,
        }
    }
}

/// What a dissector may touch besides its own state.
pub(crate) struct Context<'a> {
    /// Names learnt from DNS answers (DNS dissectors add to it).
    pub names: &'a mut DnsNames,
    /// Events completed so far; the handler sends them as events of the flow.
    pub out: &'a mut Vec<EventBody>,
    /// The flow's server name, once a dissector finds one, and where it came from.
    pub hostname: &'a mut Option<(WireText, &'static str)>,
    /// Counters for anomalies and caps hit by parsers.
    pub counters: &'a mut Counters,
    /// The identifier search, for the texts a dissector extracts.
    pub findings: &'a mut Findings,
    /// Capture frame of the packet being dissected (none when a flow ends).
    pub frame: Option<u64>,
    /// The flow is UDP.
    pub udp: bool,
    /// TLS secrets, for the dissectors that decrypt.
    pub keys: &'a mut Keys,
    /// Whether the flow's content was decrypted (TLS and QUIC dissectors set it at the end).
    pub decryption: &'a mut Option<Decryption>,
}

/// The run's TLS secrets: the `--keylog` files, then each pcapng Decryption Secrets Block as
/// the capture reader yields it.
#[derive(Default)]
pub(crate) struct Keys {
    pub log: KeyLog,
    /// The current input can carry secrets of its own (it is pcapng), so decryptors are set
    /// up even while the log is empty: a block may come before the records it opens.
    pub input_carries_secrets: bool,
}

impl Keys {
    /// Whether a connection starting now could find its keys.
    pub(crate) fn possible(&self) -> bool {
        !self.log.is_empty() || self.input_carries_secrets
    }

    /// The reason to report for a connection that was not decrypted because of `reason`:
    /// "no key" means little when no key log was given at all.
    pub(crate) fn explain(&self, reason: &'static str) -> &'static str {
        if reason == "no_key" && self.log.is_empty() { "no_key_log" } else { reason }
    }
}

impl Context<'_> {
    /// Sets the flow's server name, unless one as good is known already. A server name
    /// (TLS or QUIC SNI) beats an HTTP Host, since a proxy's CONNECT or a front end's Host
    /// may name a hop rather than the server the TLS session is with; among equals the first
    /// wins, as the first name a flow reveals is the one its client asked for.
    pub(crate) fn name(&mut self, name: WireText, source: &'static str) {
        let rank = |s: &str| if s == "sni" { 2 } else { 1 };
        if self.hostname.as_ref().is_none_or(|(_, old)| rank(source) > rank(old)) {
            *self.hostname = Some((name, source));
        }
    }
}

impl Context<'_> {
    /// Searches `text`, sent in direction `dir`, for identifiers; findings become `leak`
    /// events of the flow.
    pub(crate) fn scan(&mut self, dir: Direction, text: &[u8], location: Location<'_>) {
        let origin = Origin { dir, udp: self.udp, frame: self.frame, http: None };
        self.findings.scan(text, location, origin, self.out);
    }

    /// Like [`Context::scan`], for a text the dissector also reports (a URL, a DNS name, an
    /// SNI): returns it with the identifiers found in it redacted, unless the user asked to
    /// see values. The leak events it adds get `http` from `fill_http` afterwards.
    pub(crate) fn scan_reported(&mut self, dir: Direction, text: &[u8], location: Location<'_>) -> WireText {
        let origin = Origin { dir, udp: self.udp, frame: self.frame, http: None };
        let redactions = self.findings.scan(text, location, origin, self.out);
        WireText(if redactions.is_empty() { text.to_vec() } else { redact(text, &redactions) })
    }

    /// Index of the next event, to mark where a message's leak events start.
    pub(crate) fn mark(&self) -> usize {
        self.out.len()
    }

    /// Sets the HTTP request of the leak events added since `mark`.
    pub(crate) fn fill_http(&mut self, mark: usize, host: Option<&WireText>, url: &WireText) {
        for e in &mut self.out[mark..] {
            if let EventBody::Leak(l) = e {
                l.http = Some((host.cloned(), url.clone()));
            }
        }
    }
}

/// Per-flow protocol state.
pub(crate) trait Dissector {
    /// Stream bytes in order, or a hole.
    fn stream(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
        let _ = (dir, chunk, cx);
    }

    /// One datagram.
    fn datagram(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        let _ = (dir, bytes, cx);
    }

    /// The flow ended: emit what is pending.
    fn finish(self: Box<Self>, cx: &mut Context<'_>) {
        let _ = cx;
    }

    /// Whether the dissector wants no more payload (the handler stops feeding it).
    fn done(&self) -> bool {
        false
    }
}

/// The dissector for a flow whose content was recognised as `app_proto`, if there is one.
pub(crate) fn for_flow(app_proto: &str, carrier: Carrier, limits: &ProtocolLimits) -> Option<Box<dyn Dissector>> {
    match (app_proto, carrier) {
        ("dns", Carrier::TcpStream) => Some(Box::new(dns::DnsStream::new(limits.dns))),
        ("dns", Carrier::Udp) => Some(Box::new(dns::DnsDatagrams(limits.dns))),
        ("tls", Carrier::TcpStream) => Some(Box::new(tls::TlsDissector::new(limits))),
        ("quic", Carrier::Udp) => Some(Box::new(quic::QuicDissector::new(limits))),
        ("http", _) => Some(Box::new(http::HttpDissector::new(limits))),
        _ => None,
    }
}

/// A TLS dissector for a stream whose client side starts a TLS handshake in the middle
/// (after STARTTLS, an HTTP CONNECT, a SOCKS or PROXY exchange), with the offset in `chunk`
/// where the handshake starts: a PROXY protocol header (v1 or v2) may share its segment.
pub(crate) fn late_tls(chunk: &[u8], limits: &ProtocolLimits) -> Option<(Box<dyn Dissector>, usize)> {
    let skip = proxy_header_len(chunk).unwrap_or(0);
    tls::starts_client_hello(&chunk[skip..])
        .then(|| (Box::new(tls::TlsDissector::new(limits)) as Box<dyn Dissector>, skip))
}

/// An HTTP dissector for a stream that no dissector reads whose client starts an HTTP
/// request in the middle (after a SOCKS exchange, for instance).
pub(crate) fn late_http(chunk: &[u8], ports: (u16, u16), limits: &ProtocolLimits) -> Option<Box<dyn Dissector>> {
    (sniff::app_proto(Carrier::TcpStream, chunk, ports) == Some("http"))
        .then(|| Box::new(http::HttpDissector::new(limits)) as Box<dyn Dissector>)
}

/// Length of a PROXY protocol header (HAProxy's, v1 text or v2 binary) at the start of `chunk`.
fn proxy_header_len(chunk: &[u8]) -> Option<usize> {
    const V2: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
    if chunk.starts_with(b"PROXY ") {
        // v1: one line of at most 107 bytes.
        let line = &chunk[..chunk.len().min(107)];
        return line.windows(2).position(|w| w == b"\r\n").map(|i| i + 2);
    }
    if chunk.starts_with(V2) && chunk.len() >= 16 {
        let len = usize::from(u16::from_be_bytes([chunk[14], chunk[15]]));
        return (chunk.len() >= 16 + len).then_some(16 + len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn late_tls_(chunk: &[u8]) -> Option<(Box<dyn Dissector>, usize)> {
        late_tls(chunk, &ProtocolLimits::default())
    }

    #[test]
    fn late_tls_after_proxy_headers() {
        let hello = [0x16, 3, 1, 0, 0xfd, 1, 0, 0, 0xf9];
        assert_eq!(late_tls_(&hello).map(|(_, skip)| skip), Some(0));
        let mut v1 = b"PROXY TCP4 1.1.1.1 2.2.2.2 52176 443\r\n".to_vec();
        let at = v1.len();
        v1.extend(hello);
        assert_eq!(late_tls_(&v1).map(|(_, skip)| skip), Some(at));
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        v2.extend([0; 12]);
        v2.extend(hello);
        assert_eq!(late_tls_(&v2).map(|(_, skip)| skip), Some(28));
        assert!(late_tls_(b"STARTTLS\r\n").is_none());
        assert!(late_tls_(b"PROXY TCP4 no end of line").is_none());
    }
}

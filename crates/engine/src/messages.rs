//! Messages: from a flow's payload to DNS and TLS events, and the names that label flows.
//!
//! The protocol parsers in `phonehome-protocols` are pure; the per-flow state they need
//! (a TLS handshake assembler per direction, a DNS-over-TCP framer) lives here, created only
//! for flows whose content was recognised as that protocol.

use std::collections::HashMap;
use std::net::IpAddr;

use phonehome_model::event::{DnsAnswer, DnsQuery, DnsRecord, TlsRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Direction, EventBody};
use phonehome_protocols::dns::{self, RData};
use phonehome_protocols::tls::{self, HandshakeAssembler};

/// Largest DNS message reassembled from TCP (the protocol's own maximum).
const DNS_TCP_MAX: usize = 65_535;
/// Addresses remembered from DNS answers; beyond it the oldest are forgotten in bulk, so the
/// table stays bounded on captures of millions of lookups.
const MAX_DNS_NAMES: usize = 200_000;

/// Per-flow parser state.
pub(crate) enum Parser {
    Dns(Box<[dns::TcpFramer; 2]>),
    Tls(Box<TlsState>),
}

pub(crate) struct TlsState {
    assemblers: [HandshakeAssembler; 2],
    /// The ClientHello's event, completed by the ServerHello or sent at the flow's end.
    pending: Option<TlsRecord>,
}

impl Parser {
    /// State for a flow whose content was recognised as `app_proto`, if it has a parser.
    pub(crate) fn for_stream(app_proto: &str) -> Option<Parser> {
        match app_proto {
            "dns" => Some(Parser::Dns(Box::new([dns::TcpFramer::new(DNS_TCP_MAX), dns::TcpFramer::new(DNS_TCP_MAX)]))),
            "tls" => Some(Parser::Tls(Box::new(TlsState {
                assemblers: [HandshakeAssembler::new(), HandshakeAssembler::new()],
                pending: None,
            }))),
            _ => None,
        }
    }

    /// Feeds stream bytes (`None` for a hole); returns the events they complete and the
    /// server name they reveal.
    pub(crate) fn stream(
        &mut self,
        dir: Direction,
        bytes: Option<&[u8]>,
        names: &mut DnsNames,
        out: &mut Vec<EventBody>,
    ) -> Option<WireText> {
        let d = dir.index();
        match self {
            Parser::Dns(framers) => {
                match bytes {
                    Some(b) => {
                        framers[d].push(b, |msg| {
                            if let Some(e) = dns_event(msg, names) {
                                out.push(e);
                            }
                        });
                    }
                    None => framers[d].gap(),
                }
                None
            }
            Parser::Tls(state) => {
                let a = &mut state.assemblers[d];
                if a.is_done() {
                    return None;
                }
                match bytes {
                    Some(b) => a.push(b),
                    None => a.gap(),
                }
                let mut name = None;
                while let Some(m) = a.next_message() {
                    match (m.msg_type, dir) {
                        (tls::CLIENT_HELLO, Direction::ToServer) if state.pending.is_none() => {
                            if let Ok(ch) = tls::parse_client_hello(m.body) {
                                let record = tls_record(&ch);
                                name = record.sni.clone();
                                state.pending = Some(record);
                            }
                        }
                        (tls::SERVER_HELLO, Direction::ToClient) => {
                            if let (Some(mut r), Ok(sh)) = (state.pending.take(), tls::parse_server_hello(m.body)) {
                                r.version = Some(version_name(sh.version));
                                r.cipher_suite = Some(format!("0x{:04x}", sh.cipher_suite));
                                out.push(EventBody::Tls(Box::new(r)));
                            }
                        }
                        _ => {}
                    }
                }
                name
            }
        }
    }

    /// The flow ended: a ClientHello never answered still gets its event.
    pub(crate) fn finish(self, out: &mut Vec<EventBody>) {
        if let Parser::Tls(state) = self
            && let Some(r) = state.pending
        {
            out.push(EventBody::Tls(Box::new(r)));
        }
    }
}

/// A DNS message as an event, and nothing for bytes that are not one. Its A/AAAA answers are
/// remembered in `names`.
pub(crate) fn dns_event(msg: &[u8], names: &mut DnsNames) -> Option<EventBody> {
    let m = dns::parse(msg, &dns::Limits::default()).ok()?;
    names.learn(&m);
    let queries = m
        .queries
        .iter()
        .map(|q| DnsQuery { rrname: q.name.to_string(), rrtype: dns::rrtype_name(q.rrtype).into_owned() })
        .collect();
    let answers = m
        .answers
        .iter()
        .map(|r| DnsAnswer {
            rrname: r.name.to_string(),
            rrtype: dns::rrtype_name(r.rrtype).into_owned(),
            ttl: r.ttl,
            rdata: rdata_text(&r.data),
        })
        .collect();
    Some(EventBody::Dns(Box::new(DnsRecord {
        kind: if m.response { "response" } else { "query" },
        id: m.id,
        rcode: m.response.then(|| dns::rcode_name(m.rcode).into_owned()),
        queries,
        answers,
        anomalies: m.anomalies.names().collect(),
    })))
}

fn rdata_text(d: &RData) -> Option<WireText> {
    let text = match d {
        RData::A(a) => a.to_string(),
        RData::Aaaa(a) => a.to_string(),
        RData::Cname(n) | RData::Ptr(n) | RData::Ns(n) | RData::Dname(n) => n.to_string(),
        RData::Mx { preference, exchange } => format!("{preference} {exchange}"),
        RData::Srv { priority, weight, port, target } => format!("{priority} {weight} {port} {target}"),
        RData::Soa { mname, rname, serial, .. } => format!("{mname} {rname} {serial}"),
        RData::Svcb(s) | RData::Https(s) => {
            let alpn: Vec<String> = s.alpn.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            if alpn.is_empty() {
                format!("{} {}", s.priority, s.target)
            } else {
                format!("{} {} alpn={}", s.priority, s.target, alpn.join(","))
            }
        }
        RData::Txt(parts) => return Some(WireText(parts.join(&b' '))),
        RData::Other(..) | RData::Malformed(..) => return None,
    };
    Some(WireText(text.into_bytes()))
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

/// Names learnt from DNS answers, by address: the name the device asked for (the question),
/// not the end of a CNAME chain, because that is the name the device meant to reach.
#[derive(Default)]
pub(crate) struct DnsNames(HashMap<IpAddr, String>);

impl DnsNames {
    /// Remembers the addresses of a message's A/AAAA answers under its first question.
    fn learn(&mut self, m: &dns::Message) {
        if !m.response {
            return;
        }
        let Some(q) = m.queries.first() else { return };
        let mut name = None;
        for a in &m.answers {
            let ip = match a.data {
                RData::A(v4) => IpAddr::V4(v4),
                RData::Aaaa(v6) => IpAddr::V6(v6),
                _ => continue,
            };
            if self.0.len() >= MAX_DNS_NAMES {
                self.0.clear();
            }
            let name = name.get_or_insert_with(|| q.name.to_string());
            self.0.insert(ip, name.clone());
        }
    }

    pub(crate) fn name_of(&self, ip: &IpAddr) -> Option<&str> {
        self.0.get(ip).map(String::as_str)
    }
}

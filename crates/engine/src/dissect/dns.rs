//! DNS over UDP (and mDNS, LLMNR) and over TCP, where messages are length-prefixed and a
//! stream may carry several.

use std::collections::HashMap;
use std::net::IpAddr;

use phonehome_flow::tcp::Chunk;
use phonehome_model::event::{DnsAnswer, DnsQuery, DnsRecord, EventBody};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Direction};
use phonehome_protocols::dns::{self, RData};

use phonehome_detect::Location;

use super::{Context, Dissector};

/// Largest DNS message reassembled from TCP (the protocol's own maximum).
const DNS_TCP_MAX: usize = 65_535;

/// DNS datagrams: each one message, no state but the parser's caps.
pub(crate) struct DnsDatagrams(pub(crate) dns::Limits);

impl Dissector for DnsDatagrams {
    fn datagram(&mut self, dir: Direction, bytes: &[u8], cx: &mut Context<'_>) {
        dns_event(dir, bytes, &self.0, cx);
    }
}

/// DNS over TCP: a framer per direction.
pub(crate) struct DnsStream([dns::TcpFramer; 2], dns::Limits);

impl DnsStream {
    pub(crate) fn new(limits: dns::Limits) -> DnsStream {
        DnsStream([dns::TcpFramer::new(DNS_TCP_MAX), dns::TcpFramer::new(DNS_TCP_MAX)], limits)
    }
}

impl Dissector for DnsStream {
    fn stream(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Context<'_>) {
        let (framer, limits) = (&mut self.0[dir.index()], &self.1);
        match chunk {
            Chunk::Data { bytes, .. } => {
                framer.push(bytes, |msg| dns_event(dir, msg, limits, cx));
            }
            Chunk::Gap { .. } => framer.gap(),
        }
    }
}

/// A DNS message as an event, and nothing for bytes that are not one. Its A/AAAA answers are
/// remembered for naming flows; the names it sends are searched for identifiers.
fn dns_event(dir: Direction, msg: &[u8], limits: &dns::Limits, cx: &mut Context<'_>) {
    let Ok(m) = dns::parse(msg, limits) else { return };
    if m.anomalies.contains(dns::Anomalies::LIMIT_REACHED) {
        cx.counters.add(Counter::DnsMessageLimit, 1);
    }
    if cx.names.learn(&m) {
        cx.counters.add(Counter::DnsNamesTable, 1);
    }
    let mut queries: Vec<DnsQuery> = m
        .queries
        .iter()
        .map(|q| DnsQuery { rrname: q.name.to_string(), rrtype: dns::rrtype_name(q.rrtype).into_owned() })
        .collect();
    let answers: Vec<DnsAnswer> = m
        .answers
        .iter()
        .map(|r| DnsAnswer {
            rrname: r.name.to_string(),
            rrtype: dns::rrtype_name(r.rrtype).into_owned(),
            ttl: r.ttl,
            rdata: rdata_text(&r.data),
        })
        .collect();
    // What a device asks about is in its questions; an mDNS announcement (a response with no
    // question) sends its own names (`Johns-iPhone.local`) as answers.
    if !m.response {
        // Reported with identifiers in them redacted.
        for q in &mut queries {
            let shown = cx.scan_reported(dir, q.rrname.as_bytes(), Location::Dns);
            q.rrname = shown.lossy().into_owned();
        }
    } else if queries.is_empty() {
        for a in &answers {
            cx.scan(dir, a.rrname.as_bytes(), Location::Dns);
        }
    }
    cx.out.push(EventBody::Dns(Box::new(DnsRecord {
        kind: if m.response { "response" } else { "query" },
        id: m.id,
        rcode: m.response.then(|| dns::rcode_name(m.rcode).into_owned()),
        queries,
        answers,
        anomalies: m.anomalies.names().collect(),
    })));
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

/// Names learnt from DNS answers, by address: the name the device asked for (the question),
/// not the end of a CNAME chain, because that is the name the device meant to reach.
pub(crate) struct DnsNames {
    names: HashMap<IpAddr, String>,
    /// Beyond this many addresses the table is forgotten in bulk, so it stays bounded on
    /// captures of millions of lookups.
    max: usize,
    /// Where a message's answers go instead of the table, when set (see
    /// `Handler::defer_names`).
    defer: Option<Box<dyn FnMut(Learnt)>>,
}

/// The addresses one DNS message answered, and the name they answered for.
pub(crate) type Learnt = (Vec<IpAddr>, String);

impl DnsNames {
    pub(crate) fn new(max: usize) -> DnsNames {
        DnsNames { names: HashMap::new(), max, defer: None }
    }

    pub(crate) fn defer(&mut self, to: Box<dyn FnMut(Learnt)>) {
        self.defer = Some(to);
    }

    /// Remembers the addresses of a message's A/AAAA answers under its first question.
    /// Returns whether the table was full and forgotten to make room.
    fn learn(&mut self, m: &dns::Message) -> bool {
        if !m.response {
            return false;
        }
        let Some(q) = m.queries.first() else { return false };
        let ips: Vec<IpAddr> = m
            .answers
            .iter()
            .filter_map(|a| match a.data {
                RData::A(v4) => Some(IpAddr::V4(v4)),
                RData::Aaaa(v6) => Some(IpAddr::V6(v6)),
                _ => None,
            })
            .collect();
        if ips.is_empty() {
            return false;
        }
        let learnt = (ips, q.name.to_string());
        match &mut self.defer {
            Some(to) => {
                to(learnt);
                false
            }
            None => self.remember(learnt),
        }
    }

    /// Remembers `name` for each address; returns whether the table was full and forgotten
    /// to make room.
    pub(crate) fn remember(&mut self, (ips, name): Learnt) -> bool {
        let mut forgotten = false;
        for ip in ips {
            if self.names.len() >= self.max {
                self.names.clear();
                forgotten = true;
            }
            self.names.insert(ip, name.clone());
        }
        forgotten
    }

    pub(crate) fn name_of(&self, ip: &IpAddr) -> Option<&str> {
        self.names.get(ip).map(String::as_str)
    }
}

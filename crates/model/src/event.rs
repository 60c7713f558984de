//! The events phonehome reports, modelled on Suricata's EVE JSON.
//!
//! Every event has `timestamp` and `event_type`; events tied to a flow also carry `flow_id` and
//! the flow's endpoints (`src_*` is the side that started the flow). Type-specific data sits
//! under a key named after the event type (`"flow": {...}`, `"stats": {...}`), as in EVE.
//! docs/OUTPUT.md documents every field; keep the two in step.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::counters::{CounterGroup, Counters};
use crate::dest::Destination;
use crate::text::WireText;
use crate::{IpProto, Timestamp};

/// The endpoints of a flow, shared by every event about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRef {
    /// Stable within a run: `(input index << 40) | frame number of the flow's first packet`.
    pub flow_id: u64,
    pub src_ip: IpAddr,
    pub dest_ip: IpAddr,
    /// Ports; absent for ICMP and other portless protocols.
    pub src_port: Option<u16>,
    pub dest_port: Option<u16>,
    pub proto: IpProto,
}

/// One reported event.
#[derive(Clone, Debug)]
pub struct Event {
    pub timestamp: Timestamp,
    /// The capture the event came from (EVE's `pcap_filename`).
    pub input: Option<Arc<str>>,
    pub flow: Option<FlowRef>,
    pub body: EventBody,
}

/// Type-specific part of an [`Event`].
#[derive(Clone, Debug)]
pub enum EventBody {
    /// A flow that ended (`event_type: "flow"`).
    Flow(Box<FlowRecord>),
    /// Totals for the whole run, always the last event (`event_type: "stats"`).
    Stats(Box<StatsRecord>),
    /// One DNS, mDNS or LLMNR message (`event_type: "dns"`).
    Dns(Box<DnsRecord>),
    /// A TLS handshake: the ClientHello, and the ServerHello's choices when seen
    /// (`event_type: "tls"`).
    Tls(Box<TlsRecord>),
    /// A QUIC connection's ClientHello (from its decrypted Initial packets).
    Quic(Box<QuicRecord>),
    /// An HTTP/1.x request and, when seen, its response (one transaction).
    Http(Box<HttpRecord>),
    /// An identifier of the device found in what it sent (`event_type: "leak"`).
    Leak(Box<LeakRecord>),
}

impl EventBody {
    /// The `event_type` string.
    pub fn event_type(&self) -> &'static str {
        match self {
            EventBody::Flow(_) => "flow",
            EventBody::Stats(_) => "stats",
            EventBody::Dns(_) => "dns",
            EventBody::Tls(_) => "tls",
            EventBody::Quic(_) => "quic",
            EventBody::Http(_) => "http",
            EventBody::Leak(_) => "leak",
        }
    }
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both sides sent FIN, or one sent RST.
    Closed,
    /// The capture ended with the flow still open (the default: nothing ended it).
    #[default]
    EndOfCapture,
    /// No packet for the idle timeout.
    Timeout,
    /// Pushed out because the flow table was full.
    Eviction,
    /// A new connection reused the same ports.
    PortReuse,
}

/// Per-flow totals for the `flow` event.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FlowCounts {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    /// Bytes of IP datagrams (header included), as Suricata counts them.
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
}

/// The `flow` event's data.
#[derive(Clone, Debug, Default)]
pub struct FlowRecord {
    pub counts: FlowCounts,
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: EndReason,
    /// Application protocol once known ("dns", "tls", "http", "quic"...).
    pub app_proto: Option<&'static str>,
    /// TCP: the handshake was seen (false for flows first seen mid-stream).
    pub tcp_handshake: Option<bool>,
    /// TCP: holes skipped in the byte streams (capture loss).
    pub tcp_gaps: u64,
    /// The Android app that owns the flow, from a PCAPdroid trailer.
    pub app: Option<WireText>,
    /// Outermost tunnel the flow was carried in ("gre", "vxlan", "gtp-u", "ipip"...).
    pub tunnel: Option<&'static str>,
    /// Best name for the server and where it came from ("sni", "http", "dns").
    pub dest_hostname: Option<(WireText, &'static str)>,
    /// Who and where the server is (the attribution stage), when attribution ran.
    pub dest: Option<Destination>,
    /// TLS and QUIC flows: whether their content was decrypted, and if not why.
    pub decryption: Option<Decryption>,
}

/// The `decryption` object of a TLS or QUIC flow's event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decryption {
    /// Application data was decrypted (and dissected as cleartext would be).
    pub decrypted: bool,
    /// Why nothing was decrypted, or why decryption stopped before the flow's end: "no_key_log"
    /// (no key log given and none in the capture), "no_key" (the key log has no secret for
    /// this connection), "unsupported_cipher_suite", "missing_client_hello", "gap"...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Where the keys came from: "key_log", or for a resumed TLS 1.2 session "session_id" or
    /// "session_ticket" (the master secret of the session it resumes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_source: Option<&'static str>,
    /// What the decrypted bytes were read as: "http/1", "http/2", "http/3", or "payload"
    /// (searched for identifiers as raw bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner: Option<&'static str>,
    /// Decrypted application bytes, both directions.
    #[serde(skip_serializing_if = "is_zero")]
    pub bytes: u64,
}

/// The `dns` event's data.
#[derive(Clone, Debug, Serialize)]
pub struct DnsRecord {
    /// "query" or "response".
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u16,
    /// Response code name ("NOERROR", "NXDOMAIN"...), responses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<String>,
    pub queries: Vec<DnsQuery>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<DnsAnswer>,
    /// Oddities of the message (pointer loops, lying counts...), by stable name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
}

/// A DNS question.
#[derive(Clone, Debug, Serialize)]
pub struct DnsQuery {
    /// Zone-file text: `\.` and `\DDD` escape dots inside labels and bytes outside printable ASCII.
    pub rrname: String,
    pub rrtype: String,
}

/// A DNS answer record.
#[derive(Clone, Debug, Serialize)]
pub struct DnsAnswer {
    pub rrname: String,
    pub rrtype: String,
    pub ttl: u32,
    /// The record's data as text (address, name, "priority weight port target"...); absent for
    /// types not decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdata: Option<WireText>,
}

/// The `tls` event's data.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsRecord {
    /// Server Name Indication of the ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<WireText>,
    /// ALPN protocols offered, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<WireText>,
    /// Version the server chose ("TLS 1.3"...), when its ServerHello was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Cipher suite the server chose, as hex ("0x1301").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// Highest version the client offered.
    pub client_version: String,
    /// JA3 hash (MD5 of the JA3 string).
    pub ja3: String,
    /// JA4 (TLS client) fingerprint.
    pub ja4: String,
    /// The ClientHello carries Encrypted Client Hello: the real server name is hidden.
    pub ech: bool,
}

/// One input's share of the run, for the `stats` event.
/// The `quic` object of a QUIC event: what the client's Initial packets say.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QuicRecord {
    /// "1", "2", "draft-29", "Q046"...
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<WireText>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<WireText>,
    /// JA4 of the ClientHello (IETF QUIC only; Google QUIC's CHLO is not TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// Google QUIC's user agent tag (UAID), when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ua: Option<WireText>,
}

/// The `http` object of an HTTP event, with Suricata's EVE field names.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HttpRecord {
    /// The Host header, or the host of an absolute-form target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<WireText>,
    /// The request target as sent.
    pub url: WireText,
    pub http_method: WireText,
    /// As sent: "HTTP/1.1", "HTTP/1.0"; "HTTP/2", "HTTP/3" (Suricata's names); a HAR's own
    /// spelling.
    pub protocol: String,
    /// The HTTP version, normalised: "1.0", "1.1", "2" or "3" (absent when a HAR names none
    /// it knows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<WireText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_refer: Option<WireText>,
    /// Request body length: bytes on the wire after de-chunking, before content decoding.
    #[serde(skip_serializing_if = "is_zero")]
    pub request_length: u64,
    /// The response's status, absent when no response was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The response's content type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_content_type: Option<WireText>,
    /// Response body length: bytes on the wire after de-chunking, before content decoding.
    pub length: u64,
    /// Anything unusual: "body_truncated", "decompression_capped", "decode_error"...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
}

/// The normalised HTTP version ("1.0", "1.1", "2", "3") of a protocol string as HTTP/1.x
/// request lines, HAR writers and ALPN spell it: "HTTP/1.1", "http/2.0", "HTTP/3", "h2", "h3".
pub fn http_version(protocol: &str) -> Option<&'static str> {
    let p = protocol.trim();
    // Compared as bytes: a HAR's httpVersion is any string, and slicing a str inside a
    // multi-byte character panics.
    let b = p.as_bytes();
    let v = if b.len() > 5 && b[..5].eq_ignore_ascii_case(b"http/") {
        &p[5..]
    } else if b.len() > 1 && b[0].eq_ignore_ascii_case(&b'h') {
        &p[1..]
    } else {
        return None;
    };
    match v {
        "1.0" => Some("1.0"),
        "1.1" => Some("1.1"),
        "2" | "2.0" => Some("2"),
        "3" | "3.0" => Some("3"),
        _ => None,
    }
}

/// The `leak` object of a leak event: one identifier found in one place.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LeakRecord {
    /// What was found: "imei", "phone", "mac", "email", "advertising_id"...
    pub kind: &'static str,
    /// The declared value's label (`--id contact/Mum=...`), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Declared in the profile (true), or found by key name and validation (false).
    pub declared: bool,
    /// The disguise: "plain", "url", "hex(upper)", "sha256(lowercase)", "base64(md5)"...
    pub encoding: String,
    /// Declared values: the canonical form that was encoded ("e164", "colon-lower"...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// Undeclared values: the key it was sent under ("_android_id", "header:Client-AndroidId").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where: "url", "header:NAME", "cookie", "body", "payload", "dns", "sni".
    pub location: String,
    /// "high", "medium" or "low".
    pub confidence: &'static str,
    /// "toserver" (sent by the flow's client) or "toclient".
    pub direction: &'static str,
    /// Text around the match, identifiers replaced by `[kind]` unless values are shown.
    pub excerpt: String,
    /// The matched text, only when the user asked for values (`--show-values`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Capture frame number (as Wireshark counts) of the packet that completed the data it
    /// was found in; absent for inputs without packets (HAR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// The HTTP request it travelled in: (Host, request target).
    #[serde(skip)]
    pub http: Option<(Option<WireText>, WireText)>,
    /// The flow's server name when the leak was found (filled by the engine).
    #[serde(skip)]
    pub dest_hostname: Option<WireText>,
    /// Who and where the destination is (filled by the engine when attribution runs).
    #[serde(skip)]
    pub dest: Option<Destination>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputStats {
    pub name: String,
    /// "pcap", "pcapng", with "+gzip" when compressed; absent when unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    /// pcapng Decryption Secrets Blocks found (TLS key logs; their contents are never printed).
    #[serde(skip_serializing_if = "is_zero")]
    pub decryption_secrets: u64,
    /// Address-to-name entries of pcapng Name Resolution Blocks.
    #[serde(skip_serializing_if = "is_zero")]
    pub name_resolution_entries: u64,
    /// Why reading stopped early, with the byte offset; absent when the whole file was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `stats` event's data.
#[derive(Clone, Debug, Default)]
pub struct StatsRecord {
    /// Packet records read.
    pub packets: u64,
    /// Captured bytes of those records.
    pub bytes: u64,
    pub flows: u64,
    pub tcp_flows: u64,
    pub udp_flows: u64,
    /// ICMP and ICMPv6 packets (counted, also tracked as flows).
    pub icmp_packets: u64,
    pub counters: Counters,
    pub inputs: Vec<InputStats>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &self.timestamp.rfc3339())?;
        if let Some(f) = &self.flow {
            m.serialize_entry("flow_id", &f.flow_id)?;
        }
        if let Some(input) = &self.input {
            m.serialize_entry("pcap_filename", input.as_ref())?;
        }
        m.serialize_entry("event_type", self.body.event_type())?;
        if let Some(f) = &self.flow {
            m.serialize_entry("src_ip", &f.src_ip)?;
            if let Some(p) = f.src_port {
                m.serialize_entry("src_port", &p)?;
            }
            m.serialize_entry("dest_ip", &f.dest_ip)?;
            if let Some(p) = f.dest_port {
                m.serialize_entry("dest_port", &p)?;
            }
            m.serialize_entry("proto", &f.proto.name())?;
        }
        match &self.body {
            EventBody::Flow(r) => {
                if let Some(a) = r.app_proto {
                    m.serialize_entry("app_proto", a)?;
                }
                if let Some(app) = &r.app {
                    m.serialize_entry("app", app)?;
                }
                if let Some((name, source)) = &r.dest_hostname {
                    m.serialize_entry("dest_hostname", name)?;
                    m.serialize_entry("hostname_source", source)?;
                }
                if let Some(d) = &r.dest {
                    d.serialize_into(&mut m)?;
                }
                if let Some(d) = &r.decryption {
                    m.serialize_entry("decryption", d)?;
                }
                m.serialize_entry("flow", &FlowJson(r))?;
            }
            EventBody::Stats(r) => m.serialize_entry("stats", &StatsJson(r))?,
            EventBody::Dns(r) => m.serialize_entry("dns", r)?,
            EventBody::Tls(r) => {
                if let Some(sni) = &r.sni {
                    m.serialize_entry("dest_hostname", sni)?;
                }
                m.serialize_entry("tls", r)?
            }
            EventBody::Quic(r) => {
                if let Some(sni) = &r.sni {
                    m.serialize_entry("dest_hostname", sni)?;
                }
                m.serialize_entry("quic", r)?
            }
            EventBody::Http(r) => {
                if let Some(host) = &r.hostname {
                    m.serialize_entry("dest_hostname", host)?;
                }
                m.serialize_entry("http", r)?
            }
            EventBody::Leak(r) => {
                if let Some(host) = &r.dest_hostname {
                    m.serialize_entry("dest_hostname", host)?;
                }
                if let Some(d) = &r.dest {
                    d.serialize_into(&mut m)?;
                }
                if let Some(frame) = r.frame {
                    m.serialize_entry("pcap_cnt", &frame)?;
                }
                m.serialize_entry("leak", r)?;
                if let Some((hostname, url)) = &r.http {
                    m.serialize_entry("http", &LeakHttp { hostname: hostname.as_ref(), url })?;
                }
            }
        }
        m.end()
    }
}

/// The `http` object of a leak event: the request the identifier travelled in.
#[derive(Serialize)]
struct LeakHttp<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a WireText>,
    url: &'a WireText,
}

struct FlowJson<'a>(&'a FlowRecord);

impl Serialize for FlowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("pkts_toserver", &r.counts.pkts_toserver)?;
        m.serialize_entry("pkts_toclient", &r.counts.pkts_toclient)?;
        m.serialize_entry("bytes_toserver", &r.counts.bytes_toserver)?;
        m.serialize_entry("bytes_toclient", &r.counts.bytes_toclient)?;
        m.serialize_entry("start", &r.start.rfc3339())?;
        m.serialize_entry("end", &r.end.rfc3339())?;
        m.serialize_entry("age", &(r.end.nanos_since(r.start).max(0) / 1_000_000_000))?;
        m.serialize_entry("reason", &r.reason)?;
        if let Some(h) = r.tcp_handshake {
            m.serialize_entry("tcp_handshake", &h)?;
            m.serialize_entry("tcp_gaps", &r.tcp_gaps)?;
        }
        if let Some(t) = r.tunnel {
            m.serialize_entry("tunnel", t)?;
        }
        m.end()
    }
}

struct StatsJson<'a>(&'a StatsRecord);

impl Serialize for StatsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("packets", &r.packets)?;
        m.serialize_entry("bytes", &r.bytes)?;
        m.serialize_entry("flows", &r.flows)?;
        m.serialize_entry("tcp_flows", &r.tcp_flows)?;
        m.serialize_entry("udp_flows", &r.udp_flows)?;
        m.serialize_entry("icmp_packets", &r.icmp_packets)?;
        for group in [CounterGroup::Skipped, CounterGroup::Anomaly, CounterGroup::Cap] {
            m.serialize_entry(group.name(), &GroupJson(&r.counters, group))?;
        }
        m.serialize_entry("inputs", &r.inputs)?;
        m.end()
    }
}

struct GroupJson<'a>(&'a Counters, CounterGroup);

impl Serialize for GroupJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (c, n) in self.0.nonzero(self.1) {
            m.serialize_entry(c.name(), &n)?;
        }
        m.end()
    }
}

/// Appends the bytes a sink writes for an event (see [`EventSink::encoder`]).
pub type Encoder = std::sync::Arc<dyn Fn(&Event, &mut Vec<u8>) -> std::io::Result<()> + Send + Sync>;

/// Where events go: NDJSON, the text summary, tests. The engine does not know which.
pub trait EventSink {
    /// One event, in pipeline order (each flow's events before its `flow` event; `stats` last).
    fn event(&mut self, event: &Event) -> std::io::Result<()>;

    /// The same, for an event the caller no longer needs: a sink that keeps events (the
    /// threaded engine's per-worker buffers) takes it without a copy.
    fn event_owned(&mut self, event: Event) -> std::io::Result<()> {
        self.event(&event)
    }

    /// For a sink that writes each event as bytes of its own (NDJSON): the function that
    /// makes those bytes, which other threads may call, so that the threaded engine turns
    /// events into bytes on its workers and hands the sink only bytes ([`EventSink::encoded`]).
    /// `None` (the default): the sink gets every event.
    fn encoder(&self) -> Option<Encoder> {
        None
    }

    /// What the [`EventSink::encoder`] made of one or more events, in order; writing them is
    /// the same as sending those events to [`EventSink::event`].
    fn encoded(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let _ = bytes;
        Err(std::io::Error::other("this sink has no encoder"))
    }

    /// No more events; flush buffers, print summaries.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<S: EventSink + ?Sized> EventSink for &mut S {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        (**self).event(event)
    }

    fn event_owned(&mut self, event: Event) -> std::io::Result<()> {
        (**self).event_owned(event)
    }

    fn encoder(&self) -> Option<Encoder> {
        (**self).encoder()
    }

    fn encoded(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        (**self).encoded(bytes)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        (**self).finish()
    }
}

/// Two sinks fed the same events, in order (e.g. a report and the evidence collector).
#[derive(Debug)]
pub struct Tee<A, B>(pub A, pub B);

impl<A: EventSink, B: EventSink> EventSink for Tee<A, B> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.event(event)?;
        self.1.event(event)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
}

/// A sink that keeps every event, for tests and for reports built at the end.
#[derive(Default, Debug)]
pub struct VecSink(pub Vec<Event>);

impl EventSink for VecSink {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.push(event.clone());
        Ok(())
    }

    fn event_owned(&mut self, event: Event) -> std::io::Result<()> {
        self.0.push(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::http_version;

    #[test]
    fn http_versions_are_normalised() {
        for (p, v) in [
            ("HTTP/1.1", Some("1.1")),
            ("HTTP/1.0", Some("1.0")),
            ("http/2.0", Some("2")),
            ("HTTP/2", Some("2")),
            ("h2", Some("2")),
            ("HTTP/3", Some("3")),
            ("h3", Some("3")),
            (" HTTP/1.1 ", Some("1.1")),
            ("", None),
            ("HTTP/", None),
            ("SPDY/3", None),
            // Not ASCII where a prefix would be cut: no panic.
            ("é2", None),
            ("abcd€x", None),
            ("h€", None),
            ("h2c", None),
        ] {
            assert_eq!(http_version(p), v, "{p:?}");
        }
    }
}

//! Recognising a flow's application protocol from its first payload bytes.

/// Transport a payload came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// The start of a TCP byte stream in one direction.
    TcpStream,
    /// One UDP datagram.
    Udp,
}

/// The EVE `app_proto` name of the protocol `payload` starts with, if recognised.
/// `ports` are (source, destination) and only break ties between content-valid guesses.
pub fn app_proto(carrier: Carrier, payload: &[u8], ports: (u16, u16)) -> Option<&'static str> {
    match carrier {
        Carrier::TcpStream => {
            if is_tls_record(payload) {
                Some("tls")
            } else if is_http(payload) {
                Some("http")
            } else if payload.starts_with(b"SSH-") {
                Some("ssh")
            } else if is_dns_tcp(payload, ports) {
                Some("dns")
            } else if crate::mipush::is_mipush(payload) {
                Some("mipush")
            } else {
                None
            }
        }
        Carrier::Udp => {
            if (is_dns_port(ports) && is_dns_on_its_port(payload)) || (is_dns_header(payload) && is_clean_dns(payload))
            {
                // NetBIOS name service shares DNS's format but not its names (they are
                // half-byte encoded), so it is not DNS to a reader.
                if ports.0 == 137 || ports.1 == 137 { Some("nbns") } else { Some("dns") }
            } else if is_quic_long_header(payload) {
                Some("quic")
            } else if is_http(payload) {
                // SSDP and other HTTP over UDP.
                Some("http")
            } else {
                None
            }
        }
    }
}

/// A TLS record header: handshake/alert/change-cipher/application type, version 3.x.
fn is_tls_record(p: &[u8]) -> bool {
    p.len() >= 5 && (20..=23).contains(&p[0]) && p[1] == 3 && p[2] <= 4 && {
        let len = u16::from_be_bytes([p[3], p[4]]);
        len > 0 && len <= 16384 + 2048
    }
}

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"NOTIFY ",
    b"M-SEARCH ",
    b"SUBSCRIBE ",
    b"HTTP/1.",
];

fn is_http(p: &[u8]) -> bool {
    METHODS.iter().any(|m| p.starts_with(m)) || is_versioned_request_line(p)
}

/// Any other method (WebDAV's PROPFIND and MKCOL, vendor extensions): an upper-case token,
/// a space, and a first line that ends in an HTTP/1.x version.
fn is_versioned_request_line(p: &[u8]) -> bool {
    let Some(sp) = p.iter().take(21).position(|&c| c == b' ') else { return false };
    if sp == 0 || !p[..sp].iter().all(|&c| c.is_ascii_uppercase() || c == b'-' || c == b'_') {
        return false;
    }
    let head = &p[..p.len().min(8192)];
    let Some(eol) = head.iter().position(|&c| c == b'\n') else { return false };
    let line = head[..eol].strip_suffix(b"\r").unwrap_or(&head[..eol]);
    line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")
}

fn is_dns_port(ports: (u16, u16)) -> bool {
    [53, 5353, 5355].iter().any(|&d| ports.0 == d || ports.1 == d)
}

/// A DNS header with plausible counts: at most a few questions, opcode query/notify/update.
fn is_dns_header(p: &[u8]) -> bool {
    if p.len() < 12 {
        return false;
    }
    let opcode = (p[2] >> 3) & 0x0f;
    let qd = u16::from_be_bytes([p[4], p[5]]);
    let an = u16::from_be_bytes([p[6], p[7]]);
    matches!(opcode, 0 | 1 | 2 | 4 | 5) && qd <= 16 && an <= 512 && (qd > 0 || an > 0)
}

/// DNS away from its ports (DNSCrypt certificate queries on 443, resolvers on 8053...): only a
/// message that parses without a single anomaly, asks one question of class IN, and names a
/// host in letters, digits, `-` and `_`. Random binary payloads almost never pass all three.
fn is_clean_dns(p: &[u8]) -> bool {
    let Ok(m) = crate::dns::parse(p, &crate::dns::Limits::default()) else { return false };
    let [q] = m.queries.as_slice() else { return false };
    m.anomalies.is_empty()
        && q.class == 1
        && !q.name.is_root()
        && q.name.labels().all(|l| l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// On a DNS port, anything with a query-like header is given to the lenient parser, which
/// flags impossible counts rather than refusing the message (tshark reads those too).
fn is_dns_on_its_port(p: &[u8]) -> bool {
    p.len() >= 12 && matches!((p[2] >> 3) & 0x0f, 0 | 1 | 2 | 4 | 5) && u16::from_be_bytes([p[4], p[5]]) <= 16
}

fn is_dns_tcp(p: &[u8], ports: (u16, u16)) -> bool {
    (ports.0 == 53 || ports.1 == 53) && p.len() >= 14 && is_dns_header(&p[2..])
}

/// A QUIC datagram whose version `quic` can read a hello from: IETF long headers (v1, v2,
/// drafts, mvfst) and Google QUIC's (long or public header).
fn is_quic_long_header(p: &[u8]) -> bool {
    crate::quic::datagram_version(p).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_by_content() {
        let hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
        assert_eq!(app_proto(Carrier::TcpStream, &hello, (50000, 8443)), Some("tls"));
        assert_eq!(app_proto(Carrier::TcpStream, b"GET / HTTP/1.1\r\n", (5, 7)), Some("http"));
        assert_eq!(app_proto(Carrier::Udp, b"M-SEARCH * HTTP/1.1\r\n", (5, 1900)), Some("http"));
        // WebDAV methods (ndpi/webdav.pcap), and RTSP, which is not HTTP.
        assert_eq!(app_proto(Carrier::TcpStream, b"PROPFIND /webdav HTTP/1.1\r\n", (5, 80)), Some("http"));
        assert_eq!(app_proto(Carrier::TcpStream, b"DESCRIBE rtsp://h/ RTSP/1.0\r\n", (5, 554)), None);
        assert_eq!(app_proto(Carrier::TcpStream, b"\x00\x01garbage", (5, 7)), None);
        let dns = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'f', b'o', b'o', 0];
        assert_eq!(app_proto(Carrier::Udp, &dns, (40000, 53)), Some("dns"));
        // On its port, DNS with impossible counts still goes to the (lenient) parser.
        let fuzzed = [0xed, 0xd4, 1, 0, 0, 1, 0x80, 0, 0, 0x52, 0, 0, 3, b'f', b't', b'p', 0, 0, 1, 0, 1];
        assert_eq!(app_proto(Carrier::Udp, &fuzzed, (2719, 53)), Some("dns"));
        assert_eq!(app_proto(Carrier::Udp, &fuzzed, (2719, 443)), None);
        // Away from DNS ports only a clean message counts.
        assert_eq!(app_proto(Carrier::Udp, &dns, (40000, 443)), None, "no type and class");
        let mut dns = dns.to_vec();
        dns.extend([0, 1, 0, 1]);
        assert_eq!(app_proto(Carrier::Udp, &dns, (40000, 443)), Some("dns"));
        let mut odd = dns.clone();
        odd[13] = 0xff;
        assert_eq!(app_proto(Carrier::Udp, &odd, (40000, 443)), None);
        assert_eq!(app_proto(Carrier::Udp, &dns[..16], (40000, 443)), None);
        let quic = [0xc3, 0, 0, 0, 1, 8, 1, 2, 3];
        assert_eq!(app_proto(Carrier::Udp, &quic, (40000, 443)), Some("quic"));
    }
}

//! Xiaomi's push channel (MiPush, the "xmpush" service every MIUI phone keeps open, usually on
//! TCP 5222): enough of it to name the server.
//!
//! Each message is a frame: the magic `c2 fe 00 05`, a 32-bit big-endian length of what
//! follows, a 16-bit field, the 16-bit length of a protobuf header and the 32-bit length of
//! a protobuf body, the header, the body and a 4-byte check value. A connection request's
//! header says `CONN` (field 5) and names the service domain (field 3, `xiaomi.com`); the
//! client's body describes the device (field 2 the model, 3 the MIUI build) and (field 7) the
//! `host:port` it dialled: an Amazon or Alibaba load balancer named after Xiaomi, or a bare
//! address. Later bodies are encrypted. The layout was read off ndpi/xiaomi.pcap; fields not
//! understood are skipped, and nothing here trusts a length beyond the bytes at hand.

/// The frame magic.
pub const MAGIC: [u8; 4] = [0xc2, 0xfe, 0x00, 0x05];

/// Whether a TCP stream starts like a MiPush frame (magic and a plausible length).
pub fn is_mipush(p: &[u8]) -> bool {
    p.len() >= 16 && p.starts_with(&MAGIC) && {
        let len = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        (8..=1 << 20).contains(&len)
    }
}

/// What a connection request says about where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    /// The service domain (field 3), e.g. `xiaomi.com`.
    pub domain: Option<String>,
    /// The host the client dialled, without its port (field 13.7); a name or an address.
    pub host: Option<String>,
    /// The device model the client reports (field 13.2), e.g. `Redmi Note 9S`.
    pub model: Option<String>,
}

impl Hello {
    /// The best name for the server: the dialled host when it is a name, else the service
    /// domain.
    pub fn server_name(&self) -> Option<&str> {
        self.host.as_deref().filter(|h| h.parse::<std::net::IpAddr>().is_err()).or(self.domain.as_deref())
    }
}

/// Reads the connection request at the start of `p` (a client's first bytes); `None` when
/// `p` is not a MiPush frame or its body is not a connection request.
pub fn parse_hello(p: &[u8]) -> Option<Hello> {
    if !is_mipush(p) {
        return None;
    }
    let header_len = usize::from(u16::from_be_bytes([p[10], p[11]]));
    let body_len = u32::from_be_bytes([p[12], p[13], p[14], p[15]]) as usize;
    let rest = &p[16..];
    let header = rest.get(..header_len)?;
    let body = &rest[header_len..];
    let body = &body[..body.len().min(body_len)];
    let mut hello = Hello::default();
    let mut is_conn = false;
    for (field, value) in Fields::new(header) {
        match (field, value) {
            (3, Value::Bytes(b)) => hello.domain = text(b),
            (5, Value::Bytes(b)) => is_conn = b == b"CONN",
            _ => {}
        }
    }
    if !is_conn {
        return None;
    }
    for (field, value) in Fields::new(body) {
        match (field, value) {
            (2, Value::Bytes(m)) => hello.model = text(m),
            (7, Value::Bytes(h)) => hello.host = text(h).map(|h| strip_port(&h).to_owned()),
            _ => {}
        }
    }
    (hello.domain.is_some() || hello.host.is_some()).then_some(hello)
}

/// `host:port` → `host` (IPv6 literals in brackets keep their address).
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

/// Printable ASCII of a sane length, or nothing.
fn text(b: &[u8]) -> Option<String> {
    (!b.is_empty() && b.len() <= 253 && b.iter().all(|c| (0x20..0x7f).contains(c)))
        .then(|| String::from_utf8_lossy(b).into_owned())
}

/// A protobuf field's value (groups and fixed-width values are skipped over).
enum Value<'a> {
    Varint,
    Bytes(&'a [u8]),
}

/// The top-level fields of a protobuf message, stopping at the first malformed one.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { rest: bytes }
    }
}

fn varint(p: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = p.split_first()?;
        *p = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut p = self.rest;
        let key = varint(&mut p)?;
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => {
                varint(&mut p)?;
                Value::Varint
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                p = p.get(n..)?;
                Value::Varint
            }
            2 => {
                let len = usize::try_from(varint(&mut p)?).ok()?;
                let (b, rest) = (p.get(..len)?, &p[len..]);
                p = rest;
                Value::Bytes(b)
            }
            _ => return None,
        };
        self.rest = p;
        Some((field, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// ndpi/xiaomi.pcap frame 3: a Redmi Note 9S connecting to 47.241.35.73.
    const FRAME3: &str = "c2fe0005000000ac000200160000008e08001a0a7869616f6d692e636f6d2a04434f4e4e4800086a120d5265646d69204e6f74652039531a115631322e352e322e302e524a574d49584d222a612d44374135443841394235333735323946393636453432394430353838363230333234463643354532282a320f6d6f62696c652d6c74652d746169663a1134372e3234312e33352e37333a35323232421061725f45475f23752d6e752d6c61746e4a021800501e6e3b2ca8";

    #[test]
    fn reads_a_real_connection_request() {
        let h = parse_hello(&hex(FRAME3)).unwrap();
        assert_eq!(h.domain.as_deref(), Some("xiaomi.com"));
        assert_eq!(h.host.as_deref(), Some("47.241.35.73"));
        assert_eq!(h.model.as_deref(), Some("Redmi Note 9S"));
        // An address is no name: the service domain names the server.
        assert_eq!(h.server_name(), Some("xiaomi.com"));
    }

    #[test]
    fn server_frames_name_the_service_and_junk_is_no_hello() {
        // ndpi/xiaomi.pcap frame 1 (the server's side of a connection request): the domain,
        // no device.
        let server = hex(
            "c2fe000500000036000200160000001808001a0a7869616f6d692e636f6d2a04434f4e4e48000a0a353338363337303736391204376630341a02080022007da80b77",
        );
        let h = parse_hello(&server).unwrap();
        assert_eq!((h.domain.as_deref(), h.host.as_deref()), (Some("xiaomi.com"), None));
        assert_eq!(h.server_name(), Some("xiaomi.com"));
        let frame3 = hex(FRAME3);
        for cut in 0..frame3.len() {
            // Never panics on a cut frame; a cut inside the body can only lose fields.
            let _ = parse_hello(&frame3[..cut]);
        }
        assert_eq!(parse_hello(b"GET / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(strip_port("[2001:db8::1]:5222"), "2001:db8::1");
        assert_eq!(strip_port("fr-app.elb.amazonaws.com:5222"), "fr-app.elb.amazonaws.com");
    }
}

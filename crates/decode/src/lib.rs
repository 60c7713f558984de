//! Packet decoding: from a captured frame to the innermost IP packet and its transport header.
//!
//! Layers are peeled off in place: every header is read through bounds-checked slices of the
//! frame, nothing is copied except fragments, which are reassembled in buffers the
//! [`Decoder`] owns and reuses. Tunnels (GRE, VXLAN, Geneve, GTP-U, IP-in-IP) are followed to
//! the innermost IP packet, as tshark reports them.
#![forbid(unsafe_code)]

mod defrag;
mod ip;
mod link;
mod transport;
mod tunnel;

use std::net::IpAddr;

use phonehome_model::{Counter, Counters, IpProto, LinkType, Timestamp};

/// TCP header fields the flow engine needs, and the segment's payload.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80.
    pub flags: u8,
    pub window: u16,
    pub payload: &'a [u8],
}

/// The transport layer of a decoded packet.
#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    Icmp {
        icmp_type: u8,
        code: u8,
    },
    /// Another IP protocol; the flow engine keys it by addresses and protocol.
    Other,
}

/// A decoded packet: the innermost IP endpoints and transport.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: IpProto,
    /// Bytes of the innermost IP datagram, header included (flow byte counters).
    pub ip_len: u32,
    pub transport: Transport<'a>,
    /// Outermost tunnel the packet came through: "gre", "vxlan", "geneve", "gtp-u", "ipip"
    /// (IPv4 in IPv4), "6in4", "4in6" or "6in6".
    pub tunnel: Option<&'static str>,
    /// Android app name from a PCAPdroid trailer whose CRC holds (NUL padding removed).
    pub app: Option<&'a [u8]>,
    /// The outermost UDP datagram that carried a tunnel (VXLAN, GTP-U, Geneve, GRE-in-UDP),
    /// so the carrier can be counted as a flow of its own, as tshark's conversations do.
    pub carrier: Option<UdpCarrier>,
}

/// The outer UDP endpoints of a tunnelled packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpCarrier {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// Bytes of the outer IP datagram, header included.
    pub ip_len: u32,
}

/// Limits and timeouts for [`Decoder`].
#[derive(Clone, Debug)]
pub struct DecoderConfig {
    /// Incomplete fragmented datagrams are dropped after this long (capture time). Default 30 s.
    pub frag_timeout_ns: i64,
    /// Bytes held for all incomplete datagrams together. Default 16 MiB.
    pub frag_max_bytes: usize,
    /// Incomplete datagrams held at once. Default 4096.
    pub frag_max_datagrams: usize,
    /// Fragments per datagram. Default 256.
    pub frag_max_per_datagram: usize,
    /// Tunnel layers followed before giving up. Default 4.
    pub max_tunnel_depth: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            frag_timeout_ns: 30_000_000_000,
            frag_max_bytes: 16 << 20,
            frag_max_datagrams: 4096,
            frag_max_per_datagram: 256,
            max_tunnel_depth: 4,
        }
    }
}

/// Decodes frames; owns the IP defragmentation state, so one `Decoder` per capture stream.
pub struct Decoder {
    config: DecoderConfig,
    defrag: defrag::Defrag,
    /// The datagram the last decoded frame was a fragment of.
    last_fragment: Option<FragmentId>,
}

/// Which IP datagram a fragment belongs to (source, destination, identification and, for
/// IPv4, protocol), as the defragmenter keys it: frames with equal ids are pieces of one
/// datagram while it is being reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentId(defrag::Key);

impl FragmentId {
    /// The datagram's source address.
    pub fn src(&self) -> IpAddr {
        self.0.src
    }

    /// The datagram's destination address.
    pub fn dst(&self) -> IpAddr {
        self.0.dst
    }
}

/// Reads a big-endian `u16` at `at`, if the slice is long enough.
#[inline]
pub(crate) fn rd16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// UDP ports that announce a tunnel; a payload that does not parse as one stays plain UDP.
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const GTPU_PORT: u16 = 2152;
/// GRE-in-UDP (RFC 8086).
const GRE_UDP_PORT: u16 = 4754;

impl Decoder {
    /// A decoder with the given limits; no state is allocated until fragments arrive.
    pub fn new(config: DecoderConfig) -> Decoder {
        Decoder { config, defrag: defrag::Defrag::new(), last_fragment: None }
    }

    /// The datagram the frame given to the last [`Decoder::decode`] call was a fragment of
    /// (`None` for an unfragmented packet). With `decode` returning `None` the datagram is
    /// still incomplete; with a packet, this frame completed it. Lets a second pass over a
    /// capture (the evidence file) find every frame of a datagram.
    pub fn last_fragment(&self) -> Option<FragmentId> {
        self.last_fragment
    }

    /// Decodes one frame. Returns `None` (and counts the reason in `counters`) for frames that
    /// carry no usable IP packet, and for fragments until their datagram is complete; then the
    /// reassembled datagram is returned, borrowing the decoder's buffer.
    ///
    /// When a tunnel header parses but what it carries is not a usable IP packet (ARP in
    /// VXLAN, a PPTP acknowledgement, a truncated inner header), the outer packet is returned
    /// and nothing is counted: the traffic is still the outer flow's.
    pub fn decode<'a>(
        &'a mut self,
        ts: Timestamp,
        link_type: LinkType,
        frame: &'a [u8],
        counters: &mut Counters,
    ) -> Option<Packet<'a>> {
        let Decoder { config, defrag, last_fragment } = self;
        *last_fragment = None;
        defrag.expire(ts.0, config.frag_timeout_ns, counters);
        let (frame, app) =
            if link_type == LinkType::ETHERNET { link::pcapdroid(frame, counters) } else { (frame, None) };
        let (mut net, mut data) = match link::decode(link_type, frame) {
            Ok(x) => x,
            Err(c) => {
                counters.add(c, 1);
                return None;
            }
        };
        // The reassembly buffer is lent out for 'a once used, so one datagram per frame can
        // be reassembled; fragments inside a reassembled datagram are not followed.
        let mut defrag = Some(defrag);
        let mut tunnel: Option<&'static str> = None;
        let mut carrier: Option<UdpCarrier> = None;
        let mut depth = 0usize;
        // The packet to report if what a tunnel carries turns out unusable.
        let mut outer: Option<Packet<'a>> = None;
        macro_rules! fail {
            ($c:expr) => {{
                if outer.is_none() {
                    counters.add($c, 1);
                }
                return outer;
            }};
        }
        loop {
            let ip = match ip::parse(net, data, counters) {
                Ok(ip) => ip,
                Err(c) => fail!(c),
            };
            let (mut proto, mut payload, mut ip_len) = (ip.proto, ip.payload, ip.ip_len);
            // A first fragment cut short by the snapshot length can never be reassembled (its
            // tail is not in the capture); like tshark, decode what it holds as the datagram's
            // start instead of waiting for the rest.
            let cut_first = ip.frag.is_some_and(|f| f.offset == 0)
                && ip.ip_len as usize > ip.hdr_len as usize + ip.payload.len() + if ip.v6 { 8 } else { 0 };
            if let Some(frag) = ip.frag.filter(|_| !cut_first) {
                counters.add(Counter::Fragments, 1);
                let Some(d) = defrag.take() else {
                    return outer;
                };
                let key =
                    defrag::Key { src: ip.src, dst: ip.dst, id: frag.id, proto: if ip.v6 { 0 } else { ip.proto } };
                *last_fragment = Some(FragmentId(key));
                let r = d.insert(key, frag, ip.payload, ip.proto, ip.hdr_len, ts.0, config, counters)?;
                ip_len = r.hdr_len.saturating_add(r.payload.len() as u32);
                (proto, payload) = (r.proto, r.payload);
                if ip.v6 {
                    // The fragmentable part may start with more extension headers.
                    match ip::walk_ext(proto, payload) {
                        Ok(ip::Ext { proto: p, payload: rest, frag: None, .. }) => (proto, payload) = (p, rest),
                        _ => fail!(Counter::MalformedIp),
                    }
                }
            }
            let packet = |transport| Packet {
                src: ip.src,
                dst: ip.dst,
                proto: IpProto(proto),
                ip_len,
                transport,
                tunnel,
                app,
                carrier,
            };
            let inner = match proto {
                6 => match transport::tcp(payload) {
                    Ok(seg) => return Some(packet(Transport::Tcp(seg))),
                    Err(c) => fail!(c),
                },
                17 => {
                    let (src_port, dst_port, udp_payload) = match transport::udp(payload) {
                        Ok(u) => u,
                        Err(c) => fail!(c),
                    };
                    let is = |p| src_port == p || dst_port == p;
                    let inner = if is(VXLAN_PORT) {
                        tunnel::vxlan(udp_payload).map(|i| ("vxlan", i))
                    } else if is(GTPU_PORT) {
                        tunnel::gtpu(udp_payload).map(|i| ("gtp-u", i))
                    } else if is(GRE_UDP_PORT) {
                        tunnel::gre(udp_payload).map(|i| ("gre", i))
                    } else if is(GENEVE_PORT) {
                        tunnel::geneve(udp_payload).map(|i| ("geneve", i))
                    } else {
                        None
                    };
                    let udp = packet(Transport::Udp { src_port, dst_port, payload: udp_payload });
                    match inner {
                        Some(i) => {
                            carrier =
                                carrier.or(Some(UdpCarrier { src: ip.src, dst: ip.dst, src_port, dst_port, ip_len }));
                            (udp, i)
                        }
                        None => return Some(udp),
                    }
                }
                1 | 58 => match transport::icmp(payload) {
                    Ok((icmp_type, code)) => return Some(packet(Transport::Icmp { icmp_type, code })),
                    Err(c) => fail!(c),
                },
                47 => match tunnel::gre(payload) {
                    Some(i) => (packet(Transport::Other), ("gre", i)),
                    None => return Some(packet(Transport::Other)),
                },
                4 | 41 => {
                    let name = match (ip.v6, proto == 41) {
                        (false, false) => "ipip",
                        (false, true) => "6in4",
                        (true, false) => "4in6",
                        (true, true) => "6in6",
                    };
                    let n = if proto == 4 { link::Net::V4 } else { link::Net::V6 };
                    (packet(Transport::Other), (name, (n, payload)))
                }
                _ => return Some(packet(Transport::Other)),
            };
            let (this, (name, (n, d))) = inner;
            if depth >= config.max_tunnel_depth {
                counters.add(Counter::TunnelTooDeep, 1);
                return None;
            }
            depth += 1;
            tunnel = tunnel.or(Some(name));
            outer = Some(this);
            (net, data) = (n, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::tests::{v4_packet, v6_packet};

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = sport.to_be_bytes().to_vec();
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2];
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn decode_one(lt: LinkType, frame: &[u8], c: &mut Counters) -> Option<String> {
        let mut d = Decoder::new(DecoderConfig::default());
        d.decode(Timestamp(0), lt, frame, c).map(|p| {
            let ports = match p.transport {
                Transport::Udp { src_port, dst_port, .. } => format!("{src_port}>{dst_port}"),
                Transport::Tcp(t) => format!("{}>{}", t.src_port, t.dst_port),
                Transport::Icmp { icmp_type, code } => format!("icmp{icmp_type}/{code}"),
                Transport::Other => "other".into(),
            };
            let app = p.app.map(|a| String::from_utf8_lossy(a).into_owned());
            format!("{} {} {ports} {} {:?} {:?}", p.src, p.dst, p.ip_len, p.tunnel, app)
        })
    }

    /// A frame as PCAPdroid writes it: fake Ethernet, IP, alignment padding, trailer.
    fn pcapdroid_frame(app: &[u8], good_crc: bool) -> Vec<u8> {
        let ip = v4_packet(17, [10, 0, 0, 2], [8, 8, 8, 8], 1, 0, &udp(40000, 53, b"q"));
        let mut f = eth(0x0800, &ip);
        while !f.len().is_multiple_of(4) {
            f.push(0);
        }
        f.extend_from_slice(&0x0107_2021u32.to_be_bytes());
        f.extend_from_slice(&10123i32.to_be_bytes());
        let mut name = [0u8; 20];
        name[..app.len()].copy_from_slice(app);
        f.extend_from_slice(&name);
        let crc = link::crc32(&f) ^ u32::from(!good_crc);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    #[test]
    fn pcapdroid_trailer() {
        let mut c = Counters::default();
        let f = pcapdroid_frame(b"com.example.app", true);
        assert_eq!(
            decode_one(LinkType::ETHERNET, &f, &mut c).unwrap(),
            "10.0.0.2 8.8.8.8 40000>53 29 None Some(\"com.example.app\")"
        );
        let f = pcapdroid_frame(b"com.example.app", false);
        assert_eq!(decode_one(LinkType::ETHERNET, &f, &mut c).unwrap(), "10.0.0.2 8.8.8.8 40000>53 29 None None");
        assert_eq!(c.get(Counter::PcapdroidBadTrailer), 1);
        // Only Ethernet frames carry the trailer.
        let raw = &f[14..];
        assert!(decode_one(LinkType::RAW, raw, &mut c).unwrap().ends_with("None None"));
        assert_eq!(c.get(Counter::PcapdroidBadTrailer), 1);
    }

    #[test]
    fn fragments_reassemble_through_decode() {
        let mut c = Counters::default();
        let mut d = Decoder::new(DecoderConfig::default());
        let datagram = udp(5353, 53, &[7; 40]);
        let (a, b) = datagram.split_at(24);
        let f2 = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 9, 3, b);
        let f1 = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 9, 0x2000, a);
        assert!(d.decode(Timestamp(0), LinkType::RAW, &f2, &mut c).is_none());
        let first = d.last_fragment().expect("a fragment");
        assert_eq!((first.src(), first.dst()), ("1.1.1.1".parse().unwrap(), "2.2.2.2".parse().unwrap()));
        let p = d.decode(Timestamp(1), LinkType::RAW, &f1, &mut c).unwrap();
        assert_eq!(p.ip_len, 68);
        match p.transport {
            Transport::Udp { src_port: 5353, dst_port: 53, payload } => assert_eq!(payload, &[7; 40]),
            t => panic!("{t:?}"),
        }
        assert_eq!((c.get(Counter::Fragments), c.get(Counter::Reassembled)), (2, 1));
        assert_eq!(d.last_fragment(), Some(first), "the frame that completed the datagram");
        // Another datagram (other id) is another fragment id; a whole packet has none.
        let other = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 10, 3, b);
        assert!(d.decode(Timestamp(2), LinkType::RAW, &other, &mut c).is_none());
        assert!(d.last_fragment().is_some_and(|f| f != first));
        let whole = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 11, 0, &datagram);
        assert!(d.decode(Timestamp(3), LinkType::RAW, &whole, &mut c).is_some());
        assert_eq!(d.last_fragment(), None);
    }

    #[test]
    fn snaplen_cut_first_fragment_is_decoded_as_is() {
        let mut c = Counters::default();
        let mut d = Decoder::new(DecoderConfig::default());
        let mut f1 = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 9, 0x2000, &udp(5353, 53, &[7; 40]));
        // The header announces 1500 bytes; the capture kept 68.
        f1[2..4].copy_from_slice(&1500u16.to_be_bytes());
        let p = d.decode(Timestamp(0), LinkType::RAW, &f1, &mut c).unwrap();
        assert!(matches!(p.transport, Transport::Udp { src_port: 5353, dst_port: 53, .. }), "{:?}", p.transport);
        assert_eq!(c.get(Counter::Fragments), 0);
        // A whole first fragment still waits for the rest.
        let f1 = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 9, 0x2000, &udp(5353, 53, &[7; 40]));
        assert!(d.decode(Timestamp(0), LinkType::RAW, &f1, &mut c).is_none());
    }

    #[test]
    fn tunnel_ports_fall_back_to_udp() {
        let mut c = Counters::default();
        // Port 2152 but a GTP echo request, port 4789 without the VXLAN I flag.
        let echo =
            v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, &udp(2152, 2152, &[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(decode_one(LinkType::IPV4, &echo, &mut c).unwrap(), "1.1.1.1 2.2.2.2 2152>2152 40 None None");
        let vx = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, &udp(1, 4789, &[0; 30]));
        assert!(decode_one(LinkType::IPV4, &vx, &mut c).unwrap().contains(" 1>4789 "));
        // VXLAN carrying ARP: the outer UDP packet, nothing counted.
        let mut inner = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        inner.extend(eth(0x0806, &[0; 28]));
        let vx = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, &udp(1, 4789, &inner));
        assert!(decode_one(LinkType::IPV4, &vx, &mut c).unwrap().contains(" 1>4789 "));
        // VXLAN carrying IPv6 ICMP, inside IPv6-in-IPv4.
        let mut inner = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        inner.extend(eth(0x86dd, &v6_packet(58, 1, 2, &[128, 0, 0, 0])));
        let outer = v6_packet(17, 3, 4, &udp(1, 4789, &inner));
        let f = v4_packet(41, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, &outer);
        assert_eq!(decode_one(LinkType::IPV4, &f, &mut c).unwrap(), "2001::1 2001::2 icmp128/0 44 Some(\"6in4\") None");
        assert_eq!(c, Counters::default());
    }

    #[test]
    fn errors_are_counted() {
        let mut c = Counters::default();
        assert!(decode_one(LinkType(147), &[0x45], &mut c).is_none());
        assert!(decode_one(LinkType::ETHERNET, &eth(0x0806, &[0; 28]), &mut c).is_none());
        assert!(decode_one(LinkType::ETHERNET, &[0; 10], &mut c).is_none());
        assert!(decode_one(LinkType::RAW, &[0x45, 0, 0], &mut c).is_none());
        let short_udp = v4_packet(17, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, &[0, 1, 0]);
        assert!(decode_one(LinkType::RAW, &short_udp, &mut c).is_none());
        for (counter, n) in [
            (Counter::UnsupportedLinkType, 1),
            (Counter::NonIpFrame, 1),
            (Counter::TruncatedLinkHeader, 1),
            (Counter::MalformedIp, 1),
            (Counter::MalformedTransport, 1),
        ] {
            assert_eq!(c.get(counter), n, "{counter:?}");
        }
        // Another protocol: a packet, counted by nobody here.
        let esp = v4_packet(50, [1, 1, 1, 1], [2, 2, 2, 2], 0, 0, &[0; 8]);
        assert!(
            decode_one(LinkType::LOOP, &[[0, 0, 0, 2].as_slice(), &esp].concat(), &mut c).unwrap().contains("other")
        );
        assert_eq!(c.get(Counter::OtherIpProtocol), 0);
    }
}

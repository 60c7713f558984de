//! Packet decoding: from a captured frame to the innermost IP packet and its transport header.
#![forbid(unsafe_code)]

use std::net::IpAddr;

use phonehome_model::IpProto;

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
    Udp { src_port: u16, dst_port: u16, payload: &'a [u8] },
    Icmp { icmp_type: u8, code: u8 },
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
    /// Outermost tunnel the packet came through ("gre", "vxlan", "gtp-u", "ipip", "6in4", "4in6").
    pub tunnel: Option<&'static str>,
    /// Android app name from a PCAPdroid trailer.
    pub app: Option<&'a [u8]>,
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
    // Implementation in progress (issue 2).
    _private: (),
}

impl Decoder {
    pub fn new(config: DecoderConfig) -> Decoder {
        let _ = config;
        Decoder { _private: () }
    }

    /// Decodes one frame. Returns `None` (and counts the reason in `counters`) for frames that
    /// carry no usable IP packet, and for fragments until their datagram is complete; then the
    /// reassembled datagram is returned, borrowing the decoder's buffer.
    pub fn decode<'a>(
        &'a mut self,
        ts: phonehome_model::Timestamp,
        link_type: phonehome_model::LinkType,
        frame: &'a [u8],
        counters: &mut phonehome_model::Counters,
    ) -> Option<Packet<'a>> {
        let _ = (ts, link_type, frame, counters);
        unimplemented!("issue 2")
    }
}

//! Plain data shared by every stage of the phonehome pipeline.
//!
//! Nothing here does I/O or parsing: these are the types that cross stage boundaries
//! (timestamps, link types, directions, counters and the events that reports print).
#![forbid(unsafe_code)]

pub mod counters;
pub mod dest;
pub mod event;
pub mod text;
pub mod time;

pub use counters::{Counter, CounterGroup, Counters};
pub use event::{Event, EventBody, EventSink};
pub use time::Timestamp;

/// A capture link type (the pcap `LINKTYPE_*` number). Kept as a number so an unknown value
/// is data, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// LINKTYPE_RAW: raw IPv4 or IPv6, version in the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the family is always big-endian.
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// DLT_RAW as some BSDs number it (12 and 14 are both seen in the wild).
    pub const RAW_BSD12: LinkType = LinkType(12);
    pub const RAW_BSD14: LinkType = LinkType(14);
    /// ARCnet as the BSDs capture it (RFC 1051 or RFC 1201 framing).
    pub const ARCNET_BSD: LinkType = LinkType(7);
    /// ARCnet as Linux captures it: like [`LinkType::ARCNET_BSD`] with a 2-byte offset field.
    pub const ARCNET_LINUX: LinkType = LinkType(129);
    /// IEEE 802.11 frames without a radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// IEEE 802.11 frames behind a radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// Per-Packet Information: a header that names the link type of the frame after it.
    pub const PPI: LinkType = LinkType(192);
    /// Apple's PKTAP (macOS `tcpdump -k`): a header that names the link type of the frame after it.
    pub const PKTAP: LinkType = LinkType(258);
    /// DLT_USER2, which older macOS used for PKTAP.
    pub const USER2: LinkType = LinkType(149);
}

/// Which way a packet or byte travels relative to the side that started the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the flow's initiator (EVE's `src`) to the server.
    ToServer = 0,
    /// From the server back to the initiator.
    ToClient = 1,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// 0 for `ToServer`, 1 for `ToClient`: an index into per-direction arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Transport protocol of a flow, as EVE's `proto` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProto(pub u8);

impl IpProto {
    pub const ICMP: IpProto = IpProto(1);
    pub const TCP: IpProto = IpProto(6);
    pub const UDP: IpProto = IpProto(17);
    pub const ICMPV6: IpProto = IpProto(58);
    pub const SCTP: IpProto = IpProto(132);

    /// The name EVE JSON uses ("TCP", "UDP", "ICMP", "IPv6-ICMP"...), or the number.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self.0 {
            1 => "ICMP".into(),
            6 => "TCP".into(),
            17 => "UDP".into(),
            58 => "IPv6-ICMP".into(),
            132 => "SCTP".into(),
            47 => "GRE".into(),
            50 => "ESP".into(),
            n => n.to_string().into(),
        }
    }
}

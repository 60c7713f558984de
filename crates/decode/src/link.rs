//! Link layers: from a captured frame to the start of its IP packet.
//!
//! Every function takes the bytes after the layer it came from and returns which network
//! protocol follows and where it starts. Nothing is copied.

use phonehome_model::{Counter, LinkType};

use crate::rd16;

/// What a link layer says about the packet it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Net {
    V4,
    V6,
    /// The link layer does not say (raw IP, MPLS): the first nibble decides.
    Guess,
}

pub(crate) type LinkResult<'a> = Result<(Net, &'a [u8]), Counter>;

/// Bound on VLAN tags, MPLS labels and nested pseudowires, so a frame of repeated tags ends.
const MAX_SHIMS: usize = 16;

/// Strips the link layer of `link_type` from `frame`.
pub(crate) fn decode(link_type: LinkType, frame: &[u8]) -> LinkResult<'_> {
    match link_type.0 {
        1 => ethernet(frame, 0),
        // 101 is LINKTYPE_RAW; 12 and 14 are the BSDs' DLT_RAW numbers.
        // 228 and 229 promise IPv4 and IPv6, but files that break the promise exist
        // (tcpdump's LINKTYPE_IPV4_invalid.pcap) and tshark trusts the version nibble.
        101 | 12 | 14 | 228 | 229 => Ok((Net::Guess, frame)),
        0 => null(frame),
        108 => loopback(frame),
        113 => sll(frame),
        276 => sll2(frame),
        // PPP, PPP in HDLC-like framing.
        9 | 50 => ppp(frame, 0),
        // PPPoE without its Ethernet header.
        51 => pppoe(frame, 0),
        // Cisco HDLC: address, control, then an Ethertype.
        104 => {
            let et = rd16(frame, 2).ok_or(Counter::TruncatedLinkHeader)?;
            ethertype(et, frame.get(4..).unwrap_or_default(), 0)
        }
        239 => nflog(frame),
        // FDDI: frame control and two addresses, then 802.2 LLC.
        10 => llc(frame.get(13..).ok_or(Counter::TruncatedLinkHeader)?, 0),
        _ => Err(Counter::UnsupportedLinkType),
    }
}

/// An Ethernet II or IEEE 802.3 frame (also the inner frame of VXLAN, GRE, pseudowires).
pub(crate) fn ethernet(frame: &[u8], depth: usize) -> LinkResult<'_> {
    let et = rd16(frame, 12).ok_or(Counter::TruncatedLinkHeader)?;
    let rest = frame.get(14..).unwrap_or_default();
    if et <= 1500 {
        // 802.3: a length, not a type; trims the Ethernet padding too.
        let body = rest.get(..usize::from(et)).unwrap_or(rest);
        return llc(body, depth);
    }
    ethertype(et, rest, depth)
}

/// IEEE 802.2 LLC, with SNAP carrying an Ethertype.
fn llc(body: &[u8], depth: usize) -> LinkResult<'_> {
    match body {
        [0xaa, 0xaa, 0x03, _, _, _, t0, t1, rest @ ..] => ethertype(u16::from_be_bytes([*t0, *t1]), rest, depth),
        // SAP 0x06 is IPv4 directly over LLC (rare, but defined).
        [0x06, 0x06, 0x03, rest @ ..] => Ok((Net::V4, rest)),
        [_, _, _, ..] => Err(Counter::NonIpFrame),
        _ => Err(Counter::TruncatedLinkHeader),
    }
}

/// Follows an Ethertype through VLAN tags, MPLS label stacks and PPPoE to IP.
pub(crate) fn ethertype(mut et: u16, mut rest: &[u8], depth: usize) -> LinkResult<'_> {
    for _ in 0..MAX_SHIMS {
        match et {
            0x0800 => return Ok((Net::V4, rest)),
            0x86dd => return Ok((Net::V6, rest)),
            // 802.1Q, 802.1ad and the pre-standard QinQ types: two bytes of tag, then the
            // next Ethertype.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 | 0x9300 => {
                et = rd16(rest, 2).ok_or(Counter::TruncatedLinkHeader)?;
                rest = rest.get(4..).unwrap_or_default();
            }
            // Cisco VN-Tag: four bytes of tag.
            0x8926 => {
                et = rd16(rest, 4).ok_or(Counter::TruncatedLinkHeader)?;
                rest = rest.get(6..).unwrap_or_default();
            }
            0x8847 | 0x8848 => return mpls(rest, depth),
            // Cisco FabricPath: a 2-byte FTag/TTL, then the original Ethernet frame.
            0x8903 if depth < MAX_SHIMS => return ethernet(rest.get(2..).unwrap_or_default(), depth + 1),
            0x8864 => return pppoe(rest, depth),
            _ => return Err(Counter::NonIpFrame),
        }
    }
    Err(Counter::NonIpFrame)
}

/// An MPLS label stack; after bottom-of-stack the payload has no type field, so the first
/// nibble decides (4, 6, or 0 for a pseudowire control word followed by Ethernet).
fn mpls(mut rest: &[u8], depth: usize) -> LinkResult<'_> {
    for _ in 0..MAX_SHIMS {
        let entry = rest.get(..4).ok_or(Counter::TruncatedLinkHeader)?;
        rest = &rest[4..];
        if entry[2] & 0x01 != 0 {
            return match rest.first().map(|b| b >> 4) {
                Some(4) => Ok((Net::V4, rest)),
                Some(6) => Ok((Net::V6, rest)),
                Some(0) if depth < MAX_SHIMS => ethernet(rest.get(4..).unwrap_or_default(), depth + 1),
                Some(_) => Err(Counter::NonIpFrame),
                None => Err(Counter::TruncatedLinkHeader),
            };
        }
    }
    Err(Counter::NonIpFrame)
}

/// A PPPoE session header, then PPP's protocol field; the length trims padding.
fn pppoe(rest: &[u8], depth: usize) -> LinkResult<'_> {
    let len = rd16(rest, 4).ok_or(Counter::TruncatedLinkHeader)?;
    let body = rest.get(6..).unwrap_or_default();
    let body = body.get(..usize::from(len)).unwrap_or(body);
    ppp(body, depth)
}

/// PPP, with or without the HDLC address/control bytes and protocol-field compression.
pub(crate) fn ppp(mut rest: &[u8], depth: usize) -> LinkResult<'_> {
    match rest {
        [0xff, 0x03, tail @ ..] => rest = tail,
        // Cisco HDLC framing in a PPP capture (tshark accepts it too): an Ethertype follows.
        [0x0f | 0x8f, 0x00, t0, t1, tail @ ..] => return ethertype(u16::from_be_bytes([*t0, *t1]), tail, depth),
        _ => {}
    }
    let (proto, body) = match rest {
        // An odd first byte is a compressed one-byte protocol field.
        [p, tail @ ..] if p & 1 == 1 => (u16::from(*p), tail),
        [p0, p1, tail @ ..] => (u16::from_be_bytes([*p0, *p1]), tail),
        _ => return Err(Counter::TruncatedLinkHeader),
    };
    match proto {
        0x0021 => Ok((Net::V4, body)),
        0x0057 => Ok((Net::V6, body)),
        0x0281 | 0x0283 => mpls(body, depth),
        _ => Err(Counter::NonIpFrame),
    }
}

/// BSD loopback: a 4-byte address family in the capturing host's byte order.
fn null(frame: &[u8]) -> LinkResult<'_> {
    let b: [u8; 4] = frame.get(..4).ok_or(Counter::TruncatedLinkHeader)?.try_into().unwrap_or_default();
    // Families are small numbers, so whichever reading is small is the right one.
    let le = u32::from_le_bytes(b);
    let family = if le <= 0xffff { le } else { u32::from_be_bytes(b) };
    family_to_net(family, &frame[4..])
}

/// OpenBSD loopback: like NULL, but the family is always big-endian.
fn loopback(frame: &[u8]) -> LinkResult<'_> {
    let b: [u8; 4] = frame.get(..4).ok_or(Counter::TruncatedLinkHeader)?.try_into().unwrap_or_default();
    family_to_net(u32::from_be_bytes(b), &frame[4..])
}

fn family_to_net(family: u32, rest: &[u8]) -> LinkResult<'_> {
    match family {
        2 => Ok((Net::V4, rest)),
        // AF_INET6 is 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS.
        24 | 28 | 30 => Ok((Net::V6, rest)),
        _ => Err(Counter::NonIpFrame),
    }
}

/// Linux cooked capture v1: 16 bytes, the protocol (an Ethertype) last.
fn sll(frame: &[u8]) -> LinkResult<'_> {
    let proto = rd16(frame, 14).ok_or(Counter::TruncatedLinkHeader)?;
    let hatype = rd16(frame, 2).unwrap_or(0);
    sll_payload(hatype, proto, &frame[16..])
}

/// Linux cooked capture v2: 20 bytes, the protocol first.
fn sll2(frame: &[u8]) -> LinkResult<'_> {
    if frame.len() < 20 {
        return Err(Counter::TruncatedLinkHeader);
    }
    let proto = rd16(frame, 0).unwrap_or(0);
    let hatype = rd16(frame, 8).unwrap_or(0);
    sll_payload(hatype, proto, &frame[20..])
}

fn sll_payload(hatype: u16, proto: u16, rest: &[u8]) -> LinkResult<'_> {
    match (hatype, proto) {
        // ARPHRD_NETLINK carries netlink messages, never IP. (ARPHRD_IPGRE's protocol is
        // GRE's protocol type, which is an Ethertype, so the default arm covers it.)
        (824, _) => Err(Counter::NonIpFrame),
        // Linux's pseudo-protocols: 0x0004 is 802.2 LLC without a MAC header.
        (_, 0x0004) => llc(rest, 0),
        (_, 0x0001) => Err(Counter::NonIpFrame),
        _ => ethertype(proto, rest, 0),
    }
}

/// Linux NFLOG: a 4-byte header, then TLVs (host byte order); type 9 is the packet.
fn nflog(frame: &[u8]) -> LinkResult<'_> {
    let family = *frame.first().ok_or(Counter::TruncatedLinkHeader)?;
    let mut rest = frame.get(4..).ok_or(Counter::TruncatedLinkHeader)?;
    let mut little = None;
    while rest.len() >= 4 {
        let (le_len, be_len) = (u16::from_le_bytes([rest[0], rest[1]]), u16::from_be_bytes([rest[0], rest[1]]));
        // The writer's byte order is unknown; fix it on the first TLV whose length fits.
        let le = *little.get_or_insert(usize::from(le_len) >= 4 && usize::from(le_len) <= rest.len());
        let (len, ty) = if le {
            (usize::from(le_len), u16::from_le_bytes([rest[2], rest[3]]))
        } else {
            (usize::from(be_len), u16::from_be_bytes([rest[2], rest[3]]))
        };
        if len < 4 || len > rest.len() {
            return Err(Counter::TruncatedLinkHeader);
        }
        if ty & 0x7fff == 9 {
            let payload = &rest[4..len];
            return Ok((
                match family {
                    2 => Net::V4,
                    10 => Net::V6,
                    _ => Net::Guess,
                },
                payload,
            ));
        }
        // TLVs are padded to 4 bytes; the last one may lack its padding.
        let padded = len.checked_add(3).map_or(len, |l| l & !3);
        rest = rest.get(padded..).unwrap_or_default();
    }
    Err(Counter::NonIpFrame)
}

/// Size of the PCAPdroid trailer: magic, UID, app name, CRC.
const PCAPDROID_TRAILER: usize = 32;
const PCAPDROID_MAGIC: [u8; 4] = 0x0107_2021u32.to_be_bytes();

/// Splits a PCAPdroid trailer off an Ethernet frame: returns the frame without it and the
/// app name (NUL padding removed), if the trailer's CRC holds.
///
/// PCAPdroid (pcap_dump.c) appends the trailer after 0-3 bytes of alignment padding and sets
/// its `fcs` to the CRC-32 of every byte of the record before the `fcs` itself — the fake
/// Ethernet header, the IP packet, the padding and the first 28 trailer bytes — stored in the
/// phone's byte order (little-endian), which lets Wireshark take it for an Ethernet FCS.
#[inline]
pub(crate) fn pcapdroid<'a>(frame: &'a [u8], counters: &mut phonehome_model::Counters) -> (&'a [u8], Option<&'a [u8]>) {
    let Some(split) = frame.len().checked_sub(PCAPDROID_TRAILER) else {
        return (frame, None);
    };
    if split < 14 || frame[split..split + 4] != PCAPDROID_MAGIC {
        return (frame, None);
    }
    let (packet, trailer) = frame.split_at(split);
    let covered = &frame[..frame.len() - 4];
    let stored: [u8; 4] = trailer[28..32].try_into().unwrap_or_default();
    let crc = crc32(covered);
    if crc != u32::from_le_bytes(stored) && crc != u32::from_be_bytes(stored) {
        counters.add(Counter::PcapdroidBadTrailer, 1);
        return (packet, None);
    }
    let name = &trailer[8..28];
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    (packet, (!name.is_empty()).then_some(name))
}

/// CRC-32 (IEEE 802.3) as PCAPdroid writes it.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(et: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn vlan_stack_and_mpls() {
        let f = eth(0x88a8, &[0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00, 0x45]);
        assert_eq!(ethernet(&f, 0), Ok((Net::V4, &[0x45u8][..])));
        // Two labels, bottom of stack on the second, then IPv6.
        let f = eth(0x8847, &[0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x60]);
        assert_eq!(ethernet(&f, 0), Ok((Net::V6, &[0x60u8][..])));
        // Pseudowire control word, then Ethernet carrying IPv4.
        let mut inner = vec![0, 0, 0x21, 64, 0, 0, 0, 0];
        inner.extend(eth(0x0800, &[0x45]));
        assert_eq!(ethernet(&eth(0x8847, &inner), 0), Ok((Net::V4, &[0x45u8][..])));
        assert_eq!(ethernet(&eth(0x0806, &[]), 0), Err(Counter::NonIpFrame));
        assert_eq!(ethernet(&eth(0x8100, &[0]), 0), Err(Counter::TruncatedLinkHeader));
        assert_eq!(ethernet(&[0; 13], 0), Err(Counter::TruncatedLinkHeader));
    }

    #[test]
    fn llc_snap_and_pppoe() {
        let f = eth(9, &[0xaa, 0xaa, 3, 0, 0, 0, 0x86, 0xdd, 0x60, 0xee, 0xee]);
        assert_eq!(ethernet(&f, 0), Ok((Net::V6, &[0x60u8][..])));
        let f = eth(0x8864, &[0x11, 0, 0, 1, 0, 3, 0, 0x21, 0x45, 0, 0]);
        assert_eq!(ethernet(&f, 0), Ok((Net::V4, &[0x45u8][..])));
    }

    #[test]
    fn loopbacks_and_cooked() {
        assert_eq!(decode(LinkType::NULL, &[2, 0, 0, 0, 0x45]), Ok((Net::V4, &[0x45u8][..])));
        assert_eq!(decode(LinkType::NULL, &[0, 0, 0, 30, 0x60]), Ok((Net::V6, &[0x60u8][..])));
        assert_eq!(decode(LinkType::LOOP, &[0, 0, 0, 24, 0x60]), Ok((Net::V6, &[0x60u8][..])));
        assert_eq!(decode(LinkType::LOOP, &[24, 0, 0, 0]), Err(Counter::NonIpFrame));
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd, 0x60]);
        assert_eq!(decode(LinkType::LINUX_SLL, &sll), Ok((Net::V6, &[0x60u8][..])));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.push(0x45);
        assert_eq!(decode(LinkType::LINUX_SLL2, &sll2), Ok((Net::V4, &[0x45u8][..])));
        assert_eq!(decode(LinkType(9), &[0xff, 3, 0, 0x57, 0x60]), Ok((Net::V6, &[0x60u8][..])));
        assert_eq!(decode(LinkType(9), &[0x21, 0x45]), Ok((Net::V4, &[0x45u8][..])));
        assert_eq!(decode(LinkType(147), &[0x45]), Err(Counter::UnsupportedLinkType));
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414f_a339);
    }

    #[test]
    fn nflog_payload_tlv() {
        let f = [2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 5, 0, 9, 0, 0x45];
        assert_eq!(decode(LinkType(239), &f), Ok((Net::V4, &[0x45u8][..])));
        assert_eq!(decode(LinkType(239), &[2, 0, 0, 0, 3, 0, 1, 0]), Err(Counter::TruncatedLinkHeader));
    }
}

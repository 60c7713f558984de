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
        // Headers that name the link type of the frame they carry. What they carry is decoded
        // by `frame_of`, which does not know them: a PKTAP header inside PPI is not followed,
        // so no input makes this recurse.
        // 149 is DLT_USER2, which macOS used for PKTAP before LINKTYPE_PKTAP existed.
        258 | 149 => pktap(frame),
        192 => ppi(frame),
        lt => frame_of(lt, frame),
    }
}

/// Strips a link layer that is not a wrapper of another one.
fn frame_of(link_type: u32, frame: &[u8]) -> LinkResult<'_> {
    match link_type {
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
        105 => ieee80211(frame, false),
        127 => radiotap(frame),
        // ARCnet: the BSDs' header, and Linux's with two more bytes (an offset) before the type.
        7 => arcnet(frame, 2),
        129 => arcnet(frame, 4),
        _ => Err(Counter::UnsupportedLinkType),
    }
}

/// A little-endian `u16` at `at` (radio and capture metadata headers are little-endian).
fn le16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_le_bytes([a, b])),
        _ => None,
    }
}

/// A little-endian `u32` at `at`.
fn le32(d: &[u8], at: usize) -> Option<u32> {
    match d.get(at..at.checked_add(4)?) {
        Some(&[a, b, c, e]) => Some(u32::from_le_bytes([a, b, c, e])),
        _ => None,
    }
}

/// Smallest PKTAP header: the fixed fields of `struct pktap_header` up to `pth_ecomm`.
const PKTAP_MIN_LEN: usize = 108;

/// Apple PKTAP: `pth_length` (LE u32) is the header's own length, `pth_type_next` (LE u32 at 4)
/// is 1 for a packet, and `pth_dlt` (LE u32 at 8) the link type of the frame that follows.
fn pktap(frame: &[u8]) -> LinkResult<'_> {
    let len = le32(frame, 0).ok_or(Counter::TruncatedLinkHeader)?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    // As tshark: a header shorter than the fixed fields is malformed.
    if len < PKTAP_MIN_LEN || len > frame.len() {
        return Err(Counter::TruncatedLinkHeader);
    }
    if le32(frame, 4) != Some(1) {
        return Err(Counter::NonIpFrame);
    }
    let dlt = le32(frame, 8).ok_or(Counter::TruncatedLinkHeader)?;
    frame_of(dlt, &frame[len..])
}

/// PPI: version, flags, header length (LE u16 at 2) and the link type of the frame that
/// follows (LE u32 at 4), then fields (LE type and length, then data) up to the header length.
/// An 802.11-Common field says whether an 802.11 frame ends in an FCS.
fn ppi(frame: &[u8]) -> LinkResult<'_> {
    let len = usize::from(le16(frame, 2).ok_or(Counter::TruncatedLinkHeader)?);
    let dlt = le32(frame, 4).ok_or(Counter::TruncatedLinkHeader)?;
    if len < 8 || len > frame.len() {
        return Err(Counter::TruncatedLinkHeader);
    }
    let (header, body) = frame.split_at(len);
    let aligned = header[1] & 0x01 != 0;
    let mut fcs = false;
    // Each field takes at least 4 bytes, so this ends.
    let mut at = 8usize;
    while let (Some(ty), Some(n)) = (le16(header, at), le16(header, at + 2)) {
        let data = at + 4;
        // 802.11-Common: TSF timer (8 bytes), then flags; 0x0001 is "FCS present".
        if ty == 2 && n >= 10 {
            fcs = le16(header, data + 8).is_some_and(|f| f & 0x0001 != 0);
        }
        let next = data + usize::from(n);
        at = if aligned { next.next_multiple_of(4) } else { next };
    }
    if dlt == 105 {
        let body = if fcs { strip_fcs(body)? } else { body };
        return ieee80211(body, false);
    }
    frame_of(dlt, body)
}

/// An 802.11 frame without its 4-byte frame check sequence.
fn strip_fcs(frame: &[u8]) -> Result<&[u8], Counter> {
    let end = frame.len().checked_sub(4).ok_or(Counter::TruncatedLinkHeader)?;
    Ok(&frame[..end])
}

/// Radiotap: version, pad, length (LE u16 at 2), then `present` bitmaps (LE u32, bit 31 says
/// another follows) and the fields they announce, each aligned to its natural size from the
/// header's start. Only the Flags field (bit 1) matters here: 0x10 says the 802.11 frame ends
/// in an FCS, 0x20 that its header is padded to 4 bytes. Flags is the first namespace's second
/// field, so only TSFT (bit 0, 8 bytes aligned to 8) can come before it.
fn radiotap(frame: &[u8]) -> LinkResult<'_> {
    let len = usize::from(le16(frame, 2).ok_or(Counter::TruncatedLinkHeader)?);
    if len < 8 || len > frame.len() {
        return Err(Counter::TruncatedLinkHeader);
    }
    let (header, body) = frame.split_at(len);
    let first = le32(header, 4).ok_or(Counter::TruncatedLinkHeader)?;
    let (mut present, mut at) = (first, 8usize);
    // Extended bitmaps; each is 4 more bytes of a header of at most 64 KiB, so this ends.
    while present & 0x8000_0000 != 0 {
        present = le32(header, at).ok_or(Counter::TruncatedLinkHeader)?;
        at += 4;
    }
    let mut flags = 0u8;
    if first & 0b10 != 0 {
        if first & 0b01 != 0 {
            at = at.next_multiple_of(8) + 8;
        }
        flags = *header.get(at).ok_or(Counter::TruncatedLinkHeader)?;
    }
    let body = if flags & 0x10 != 0 { strip_fcs(body)? } else { body };
    ieee80211(body, flags & 0x20 != 0)
}

/// An IEEE 802.11 frame: only data frames carry IP, after the MAC header and an LLC/SNAP
/// header. `pad` says the MAC header is padded to a multiple of 4 bytes (radiotap's flag).
pub(crate) fn ieee80211(frame: &[u8], pad: bool) -> LinkResult<'_> {
    let [fc0, fc1, ..] = *frame else {
        return Err(Counter::TruncatedLinkHeader);
    };
    let (version, kind, subtype) = (fc0 & 0x03, (fc0 >> 2) & 0x03, fc0 >> 4);
    // Management and control frames; data subtypes with bit 2 set carry no body (Null,
    // CF-Ack, CF-Poll, QoS Null...).
    if version != 0 || kind != 2 || subtype & 0x04 != 0 {
        return Err(Counter::NonIpFrame);
    }
    if fc1 & 0x40 != 0 {
        return Err(Counter::WlanProtected);
    }
    // Frame control, duration, three addresses, sequence control; a fourth address when the
    // frame goes from one distribution system to another (ToDS and FromDS).
    let mut hdr = if fc1 & 0x03 == 0x03 { 30 } else { 24 };
    let seq = le16(frame, 22).ok_or(Counter::TruncatedLinkHeader)?;
    if seq & 0x000f != 0 {
        // A later fragment of an 802.11-fragmented MSDU: no LLC header, not reassembled.
        return Err(Counter::NonIpFrame);
    }
    let mut amsdu = false;
    if subtype & 0x08 != 0 {
        // QoS control; bit 7 says the body is an A-MSDU. In QoS data the Order bit announces
        // an HT control field.
        amsdu = frame.get(hdr).ok_or(Counter::TruncatedLinkHeader)? & 0x80 != 0;
        hdr += if fc1 & 0x80 != 0 { 6 } else { 2 };
    }
    if pad {
        hdr = hdr.next_multiple_of(4);
    }
    let mut body = frame.get(hdr..).ok_or(Counter::TruncatedLinkHeader)?;
    if amsdu {
        // A-MSDU subframes: destination, source, length (BE), the MSDU, padding to 4 bytes.
        // One packet per frame, so the first subframe is decoded.
        let n = usize::from(rd16(body, 12).ok_or(Counter::TruncatedLinkHeader)?);
        let msdu = &body[14..];
        body = msdu.get(..n).unwrap_or(msdu);
    }
    llc(body, 0)
}

/// ARCnet: source and destination station, (Linux only) a 2-byte offset, then the protocol
/// at `at`. RFC 1051 protocols start the payload at once; RFC 1201 ones (every other id) add
/// a split flag and a 2-byte sequence number, and an exception packet (flag 0xff) has 2
/// bytes of padding and then the protocol, flag and sequence again.
fn arcnet(frame: &[u8], at: usize) -> LinkResult<'_> {
    let proto = *frame.get(at).ok_or(Counter::TruncatedLinkHeader)?;
    let rest = &frame[at + 1..];
    match proto {
        240 => return Ok((Net::V4, rest)),
        // RFC 1051 ARP, diagnostics, and BACnet (which has no RFC 1201 header either).
        241 | 0x80 | 0xcd => return Err(Counter::NonIpFrame),
        _ => {}
    }
    let (flag, rest) = match rest {
        [0xff, _, _, _, flag, _, _, rest @ ..] => (*flag, rest),
        [0xff, ..] => return Err(Counter::TruncatedLinkHeader),
        [flag, _, _, rest @ ..] => (*flag, rest),
        _ => return Err(Counter::TruncatedLinkHeader),
    };
    // A split packet's first fragment has an odd flag and starts the datagram; the others
    // (even, non-zero) continue it and are not reassembled.
    if flag != 0 && flag & 1 == 0 {
        return Err(Counter::NonIpFrame);
    }
    match proto {
        212 => Ok((Net::V4, rest)),
        0xc4 => Ok((Net::V6, rest)),
        _ => Err(Counter::NonIpFrame),
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

    /// LLC/SNAP with Ethertype IPv4, then the first byte of an IPv4 header.
    const SNAP_V4: [u8; 9] = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45];

    /// An 802.11 data frame: frame control, duration, 3 addresses, sequence control, then
    /// `extra` (address 4, QoS, HT control) and `body`.
    fn wlan(fc0: u8, fc1: u8, seq: u16, extra: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = vec![fc0, fc1, 0x2c, 0];
        v.extend_from_slice(&[0x11; 18]);
        v.extend_from_slice(&seq.to_le_bytes());
        v.extend_from_slice(extra);
        v.extend_from_slice(body);
        v
    }

    const V4: LinkResult<'static> = Ok((Net::V4, &[0x45]));

    #[test]
    fn ieee80211_data_frames() {
        let lt = LinkType::IEEE802_11;
        // Data, ToDS.
        assert_eq!(decode(lt, &wlan(0x08, 0x01, 0x10, &[], &SNAP_V4)), V4);
        // QoS data, ToDS and FromDS: address 4, then QoS control.
        assert_eq!(decode(lt, &wlan(0x88, 0x03, 0, &[0x22; 8], &SNAP_V4)), V4);
        // QoS data with the Order bit: QoS control and 4 bytes of HT control.
        assert_eq!(decode(lt, &wlan(0x88, 0x80, 0, &[0; 6], &SNAP_V4)), V4);
        // Bridge-tunnel SNAP carrying IPv6.
        let bt = [0xaa, 0xaa, 0x03, 0, 0, 0xf8, 0x86, 0xdd, 0x60];
        assert_eq!(decode(lt, &wlan(0x08, 0x02, 0, &[], &bt)), Ok((Net::V6, &[0x60u8][..])));
        // A-MSDU (QoS control bit 7): the first subframe's MSDU, without padding or the next one.
        let mut amsdu = vec![0x33; 12];
        amsdu.extend_from_slice(&9u16.to_be_bytes());
        amsdu.extend_from_slice(&SNAP_V4);
        amsdu.extend_from_slice(&[0, 0, 0, 0x77]);
        assert_eq!(decode(lt, &wlan(0x88, 0x01, 0, &[0x80, 0], &amsdu)), V4);
        // Protected, Null, QoS Null, a beacon, ARP, a later fragment, a short header.
        assert_eq!(decode(lt, &wlan(0x08, 0x41, 0, &[], &SNAP_V4)), Err(Counter::WlanProtected));
        assert_eq!(decode(lt, &wlan(0x48, 0x01, 0, &[], &[])), Err(Counter::NonIpFrame));
        assert_eq!(decode(lt, &wlan(0xc8, 0x01, 0, &[0, 0], &[])), Err(Counter::NonIpFrame));
        assert_eq!(decode(lt, &wlan(0x80, 0x00, 0, &[], &SNAP_V4)), Err(Counter::NonIpFrame));
        let arp = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06, 0];
        assert_eq!(decode(lt, &wlan(0x08, 0x01, 0, &[], &arp)), Err(Counter::NonIpFrame));
        assert_eq!(decode(lt, &wlan(0x08, 0x01, 0x11, &[], &SNAP_V4)), Err(Counter::NonIpFrame));
        assert_eq!(decode(lt, &wlan(0x88, 0x03, 0, &[0; 6], &[])), Err(Counter::TruncatedLinkHeader));
        assert_eq!(decode(lt, &[0x08]), Err(Counter::TruncatedLinkHeader));
    }

    /// A radiotap header with the given `present` words and field bytes in front of `frame`.
    fn radiotap_frame(present: &[u32], fields: &[u8], frame: &[u8]) -> Vec<u8> {
        let len = 4 + 4 * present.len() + fields.len();
        let mut v = vec![0, 0];
        v.extend_from_slice(&(len as u16).to_le_bytes());
        for p in present {
            v.extend_from_slice(&p.to_le_bytes());
        }
        v.extend_from_slice(fields);
        v.extend_from_slice(frame);
        v
    }

    #[test]
    fn radiotap_flags_fcs_and_padding() {
        let lt = LinkType::IEEE802_11_RADIOTAP;
        let mut with_fcs = wlan(0x08, 0x01, 0, &[], &SNAP_V4);
        with_fcs.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        // No fields at all.
        assert_eq!(decode(lt, &radiotap_frame(&[0], &[], &wlan(0x08, 0x01, 0, &[], &SNAP_V4))), V4);
        // Flags alone (FCS at end).
        let f = radiotap_frame(&[0b10], &[0x10], &with_fcs);
        assert_eq!(decode(lt, &f).map(|(_, r)| r.len()), Ok(1));
        // TSFT then Flags behind an extended bitmap: TSFT at 16 (aligned to 8), Flags at 24.
        let mut fields = vec![0xee; 4];
        fields.extend_from_slice(&[0; 8]);
        fields.push(0x10);
        let f = radiotap_frame(&[0x8000_0003, 0x0000_0001], &fields, &with_fcs);
        assert_eq!(decode(lt, &f).map(|(_, r)| r.len()), Ok(1));
        // Without the FCS flag the 4 bytes stay.
        fields[12] = 0;
        let f = radiotap_frame(&[0x8000_0003, 0x0000_0001], &fields, &with_fcs);
        assert_eq!(decode(lt, &f).map(|(_, r)| r.len()), Ok(5));
        // Data padding: a 26-byte QoS header padded to 28.
        let f = radiotap_frame(&[0b10], &[0x20], &wlan(0x88, 0x01, 0, &[0, 0, 0xff, 0xff], &SNAP_V4));
        assert_eq!(decode(lt, &f), V4);
        // A length past the frame, bitmaps that never end, Flags cut off, an FCS longer than the frame.
        assert_eq!(decode(lt, &[0, 0, 0x40, 0, 0, 0, 0, 0]), Err(Counter::TruncatedLinkHeader));
        assert_eq!(decode(lt, &radiotap_frame(&[0x8000_0000; 3], &[], &[])), Err(Counter::TruncatedLinkHeader));
        assert_eq!(decode(lt, &radiotap_frame(&[0b11], &[0; 4], &[])), Err(Counter::TruncatedLinkHeader));
        assert_eq!(decode(lt, &radiotap_frame(&[0b10], &[0x10], &[0; 3])), Err(Counter::TruncatedLinkHeader));
    }

    #[test]
    fn ppi_headers() {
        // PPI carrying Ethernet (no fields).
        let mut f = vec![0, 0, 8, 0, 1, 0, 0, 0];
        f.extend_from_slice(&[0; 12]);
        f.extend_from_slice(&[0x08, 0x00, 0x45]);
        assert_eq!(decode(LinkType::PPI, &f), V4);
        // PPI carrying 802.11 with an 802.11-Common field that announces an FCS.
        let mut f = vec![0, 0, 32, 0, 105, 0, 0, 0, 2, 0, 20, 0];
        let mut common = [0u8; 20];
        common[8] = 0x01;
        f.extend_from_slice(&common);
        f.extend(wlan(0x08, 0x01, 0, &[], &SNAP_V4));
        f.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(decode(LinkType::PPI, &f).map(|(_, r)| r.len()), Ok(1));
        // A length past the frame; PPI inside PPI is not followed.
        assert_eq!(decode(LinkType::PPI, &[0, 0, 9, 0, 1, 0, 0, 0]), Err(Counter::TruncatedLinkHeader));
        let f = [0, 0, 8, 0, 192, 0, 0, 0, 0, 0, 8, 0, 1, 0, 0, 0];
        assert_eq!(decode(LinkType::PPI, &f), Err(Counter::UnsupportedLinkType));
    }

    /// A PKTAP header of `len` bytes naming `dlt`, in front of `frame`.
    fn pktap_frame(len: u32, next: u32, dlt: u32, frame: &[u8]) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.extend_from_slice(&next.to_le_bytes());
        v.extend_from_slice(&dlt.to_le_bytes());
        v.extend_from_slice(b"en0");
        v.resize(len as usize, 0);
        v.extend_from_slice(frame);
        v
    }

    #[test]
    fn pktap_headers() {
        let mut eth_v4 = vec![0u8; 12];
        eth_v4.extend_from_slice(&[0x08, 0x00, 0x45]);
        for lt in [LinkType::PKTAP, LinkType::USER2] {
            assert_eq!(decode(lt, &pktap_frame(108, 1, 1, &eth_v4)), V4);
            // A longer header (newer macOS), inner DLT_NULL.
            assert_eq!(decode(lt, &pktap_frame(156, 1, 0, &[2, 0, 0, 0, 0x45])), V4);
            // Too short a header; a length past the frame; not a packet record.
            assert_eq!(decode(lt, &pktap_frame(100, 1, 1, &eth_v4)), Err(Counter::TruncatedLinkHeader));
            let mut f = pktap_frame(108, 1, 1, &eth_v4);
            f[0..4].copy_from_slice(&200u32.to_le_bytes());
            assert_eq!(decode(lt, &f), Err(Counter::TruncatedLinkHeader));
            assert_eq!(decode(lt, &pktap_frame(108, 2, 1, &eth_v4)), Err(Counter::NonIpFrame));
            // PKTAP in PKTAP is not followed.
            let inner = pktap_frame(108, 1, 1, &eth_v4);
            assert_eq!(decode(lt, &pktap_frame(108, 1, 258, &inner)), Err(Counter::UnsupportedLinkType));
            assert_eq!(decode(lt, &[0x6c, 0, 0]), Err(Counter::TruncatedLinkHeader));
        }
    }

    #[test]
    fn arcnet_rfc1051_and_rfc1201() {
        let (bsd, linux) = (LinkType::ARCNET_BSD, LinkType::ARCNET_LINUX);
        // RFC 1051: source, destination, protocol 240.
        assert_eq!(decode(bsd, &[1, 2, 240, 0x45]), V4);
        assert_eq!(decode(linux, &[1, 2, 0, 0, 240, 0x45]), V4);
        assert_eq!(decode(linux, &[1, 2, 0, 0, 241, 0]), Err(Counter::NonIpFrame));
        // RFC 1201: protocol 212, split flag, sequence number.
        assert_eq!(decode(bsd, &[1, 2, 212, 0, 0, 7, 0x45]), V4);
        assert_eq!(decode(linux, &[1, 2, 0xab, 0x08, 212, 0, 1, 0x66, 0x45]), V4);
        assert_eq!(decode(bsd, &[1, 2, 0xc4, 0, 0, 7, 0x60]), Ok((Net::V6, &[0x60u8][..])));
        // The first fragment of a split packet, then a later one.
        assert_eq!(decode(bsd, &[1, 2, 212, 3, 0, 7, 0x45]), V4);
        assert_eq!(decode(bsd, &[1, 2, 212, 2, 0, 7, 0x45]), Err(Counter::NonIpFrame));
        // An exception packet: flag 0xff, padding, then protocol, flag and sequence again.
        assert_eq!(decode(bsd, &[1, 2, 212, 0xff, 0xff, 0xff, 212, 0, 0, 7, 0x45]), V4);
        assert_eq!(decode(bsd, &[1, 2, 212, 0xff, 0xff, 0xff, 212]), Err(Counter::TruncatedLinkHeader));
        // RFC 1201 ARP; headers cut short.
        assert_eq!(decode(bsd, &[1, 2, 213, 0, 0, 7, 0]), Err(Counter::NonIpFrame));
        assert_eq!(decode(bsd, &[1, 2, 212, 0, 0]), Err(Counter::TruncatedLinkHeader));
        assert_eq!(decode(linux, &[1, 2, 0, 0]), Err(Counter::TruncatedLinkHeader));
    }

    #[test]
    fn nflog_payload_tlv() {
        let f = [2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 5, 0, 9, 0, 0x45];
        assert_eq!(decode(LinkType(239), &f), Ok((Net::V4, &[0x45u8][..])));
        assert_eq!(decode(LinkType(239), &[2, 0, 0, 0, 3, 0, 1, 0]), Err(Counter::TruncatedLinkHeader));
    }
}

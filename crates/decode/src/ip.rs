//! IPv4 and IPv6 headers, IPv6 extension headers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use phonehome_model::{Counter, Counters};

use crate::link::Net;
use crate::rd16;

/// Where a fragment belongs in its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frag {
    /// Byte offset of this fragment's data in the fragmentable part.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    pub id: u32,
}

/// An IP header, parsed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ip<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub v6: bool,
    /// Transport protocol; for a fragment, the protocol of the fragmented datagram.
    pub proto: u8,
    /// Bytes before `payload`: the IPv4 header, or the IPv6 header and the extension headers
    /// in front of the payload (for a fragment: in front of the fragment header).
    pub hdr_len: u32,
    /// Length of the datagram on the wire (header included).
    pub ip_len: u32,
    /// Transport header and data (for a fragment: its share of the fragmentable part), trimmed
    /// to the length the header announces.
    pub payload: &'a [u8],
    pub frag: Option<Frag>,
}

/// Parses the IP header at the start of `data`.
#[inline]
pub(crate) fn parse<'a>(net: Net, data: &'a [u8], counters: &mut Counters) -> Result<Ip<'a>, Counter> {
    let version = data.first().ok_or(Counter::MalformedIp)? >> 4;
    match (net, version) {
        (Net::V4 | Net::Guess, 4) => v4(data, counters),
        (Net::V6 | Net::Guess, 6) => v6(data, counters),
        _ => Err(Counter::MalformedIp),
    }
}

fn v4<'a>(data: &'a [u8], counters: &mut Counters) -> Result<Ip<'a>, Counter> {
    let hdr: &[u8; 20] = data.get(..20).and_then(|h| h.try_into().ok()).ok_or(Counter::MalformedIp)?;
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    if ihl < 20 || ihl > data.len() {
        return Err(Counter::MalformedIp);
    }
    let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
    let (end, ip_len) = if total == 0 {
        // Segmentation offload writes 0 here; the captured bytes are the datagram.
        (data.len(), data.len())
    } else if total < ihl {
        return Err(Counter::MalformedIp);
    } else if total > data.len() {
        counters.add(Counter::IpLengthExceedsFrame, 1);
        (data.len(), total)
    } else {
        (total, total)
    };
    let ff = u16::from_be_bytes([hdr[6], hdr[7]]);
    let offset = u32::from(ff & 0x1fff) * 8;
    let more = ff & 0x2000 != 0;
    let frag =
        (more || offset != 0).then_some(Frag { offset, more, id: u32::from(u16::from_be_bytes([hdr[4], hdr[5]])) });
    Ok(Ip {
        src: IpAddr::V4(Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15])),
        dst: IpAddr::V4(Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19])),
        v6: false,
        proto: hdr[9],
        hdr_len: ihl as u32,
        ip_len: ip_len as u32,
        payload: &data[ihl..end],
        frag,
    })
}

fn v6<'a>(data: &'a [u8], counters: &mut Counters) -> Result<Ip<'a>, Counter> {
    let hdr: &[u8; 40] = data.get(..40).and_then(|h| h.try_into().ok()).ok_or(Counter::MalformedIp)?;
    let plen = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
    let body = &data[40..];
    let (body, ip_len) = if plen == 0 {
        // Jumbograms (and offloaded segments) say 0; the captured bytes are the datagram.
        (body, data.len())
    } else if plen > body.len() {
        counters.add(Counter::IpLengthExceedsFrame, 1);
        (body, 40 + plen)
    } else {
        (&body[..plen], 40 + plen)
    };
    let src: [u8; 16] = hdr[8..24].try_into().unwrap_or_default();
    let dst: [u8; 16] = hdr[24..40].try_into().unwrap_or_default();
    let ext = walk_ext(hdr[6], body)?;
    Ok(Ip {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        v6: true,
        proto: ext.proto,
        hdr_len: 40 + ext.skipped as u32,
        ip_len: ip_len as u32,
        payload: ext.payload,
        frag: ext.frag,
    })
}

/// The end of an IPv6 extension header chain.
pub(crate) struct Ext<'a> {
    pub proto: u8,
    /// Bytes of extension headers before `payload`, not counting a fragment header.
    pub skipped: usize,
    pub payload: &'a [u8],
    pub frag: Option<Frag>,
}

/// Bound on extension headers, against chains of padding headers.
const MAX_EXT: usize = 16;

/// Skips IPv6 extension headers from `next` on. Stops at a fragment header (unless it is an
/// atomic fragment, which is no fragment at all), ESP, no-next-header, or a transport.
pub(crate) fn walk_ext(mut next: u8, mut rest: &[u8]) -> Result<Ext<'_>, Counter> {
    let mut skipped = 0usize;
    for _ in 0..MAX_EXT {
        let len = match next {
            // Hop-by-hop, routing, destination options, and the Host Identity, Shim6 headers
            // which share their layout.
            0 | 43 | 60 | 139 | 140 => (usize::from(*rest.get(1).ok_or(Counter::MalformedIp)?) + 1) * 8,
            51 => (usize::from(*rest.get(1).ok_or(Counter::MalformedIp)?) + 2) * 4,
            44 => {
                let h = rest.get(..8).ok_or(Counter::MalformedIp)?;
                let off = rd16(h, 2).unwrap_or(0);
                let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                let (offset, more) = (u32::from(off & 0xfff8), off & 1 != 0);
                let (proto, payload) = (h[0], &rest[8..]);
                if offset == 0 && !more {
                    // RFC 6946 atomic fragment: the rest is the whole datagram.
                    next = proto;
                    rest = payload;
                    skipped += 8;
                    continue;
                }
                return Ok(Ext { proto, skipped, payload, frag: Some(Frag { offset, more, id }) });
            }
            _ => return Ok(Ext { proto: next, skipped, payload: rest, frag: None }),
        };
        let h = rest.get(..len).ok_or(Counter::MalformedIp)?;
        next = h[0];
        rest = &rest[len..];
        skipped += len;
    }
    Err(Counter::MalformedIp)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An IPv4 header (no options) in front of `payload`.
    pub(crate) fn v4_packet(proto: u8, src: [u8; 4], dst: [u8; 4], id: u16, ff: u16, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut v = vec![0x45, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&ff.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0]);
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(payload);
        v
    }

    /// An IPv6 header in front of `payload` (which may start with extension headers).
    pub(crate) fn v6_packet(next: u8, src_last: u8, dst_last: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[next, 64]);
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = src_last;
        v.extend_from_slice(&a);
        a[15] = dst_last;
        v.extend_from_slice(&a);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn v4_trims_padding_and_flags_short_frames() {
        let mut c = Counters::default();
        let mut p = v4_packet(17, [1, 2, 3, 4], [5, 6, 7, 8], 1, 0x4000, &[9; 8]);
        p.extend_from_slice(&[0; 6]);
        let ip = parse(Net::Guess, &p, &mut c).unwrap();
        assert_eq!((ip.payload.len(), ip.ip_len, ip.proto, ip.frag), (8, 28, 17, None));
        let ip = parse(Net::V4, &p[..24], &mut c).unwrap();
        assert_eq!((ip.payload.len(), ip.ip_len), (4, 28));
        assert_eq!(c.get(Counter::IpLengthExceedsFrame), 1);
        assert_eq!(parse(Net::V6, &p, &mut c).unwrap_err(), Counter::MalformedIp);
        p[0] = 0x44;
        assert_eq!(parse(Net::V4, &p, &mut c).unwrap_err(), Counter::MalformedIp);
    }

    #[test]
    fn v4_fragment_fields() {
        let mut c = Counters::default();
        let p = v4_packet(17, [1, 2, 3, 4], [5, 6, 7, 8], 77, 0x2000 | 3, &[0; 8]);
        let ip = parse(Net::V4, &p, &mut c).unwrap();
        assert_eq!(ip.frag, Some(Frag { offset: 24, more: true, id: 77 }));
    }

    #[test]
    fn v6_extension_headers() {
        let mut c = Counters::default();
        // Hop-by-hop (8 bytes), destination options (16 bytes), then UDP.
        let mut pl = vec![60, 0, 0, 0, 0, 0, 0, 0, 17, 1];
        pl.extend_from_slice(&[0; 14]);
        pl.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        let p = v6_packet(0, 1, 2, &pl);
        let ip = parse(Net::V6, &p, &mut c).unwrap();
        assert_eq!((ip.proto, ip.hdr_len, ip.payload.len(), ip.ip_len), (17, 64, 8, 72));
        // Fragment header, second fragment.
        let p = v6_packet(44, 1, 2, &[17, 0, 0, 0x11, 0, 0, 0, 9, 1, 2, 3]);
        let ip = parse(Net::V6, &p, &mut c).unwrap();
        assert_eq!(ip.frag, Some(Frag { offset: 16, more: true, id: 9 }));
        assert_eq!((ip.proto, ip.hdr_len, ip.payload), (17, 40, &[1u8, 2, 3][..]));
        // Atomic fragment: not a fragment.
        let p = v6_packet(44, 1, 2, &[59, 0, 0, 0, 0, 0, 0, 9]);
        let ip = parse(Net::V6, &p, &mut c).unwrap();
        assert_eq!((ip.frag, ip.proto, ip.hdr_len), (None, 59, 48));
        // Truncated extension header.
        let p = v6_packet(60, 1, 2, &[17, 3, 0, 0]);
        assert_eq!(parse(Net::V6, &p, &mut c).unwrap_err(), Counter::MalformedIp);
    }
}

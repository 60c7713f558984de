//! Tunnel headers: GRE (with PPTP and ERSPAN), VXLAN, Geneve and GTP-U. IP-in-IP needs no
//! header of its own and is handled where the IP protocol is dispatched.
//!
//! Each function returns the inner packet, or `None` when the bytes are not a tunnel header
//! we follow or carry no IP; the caller then keeps the outer packet.

use crate::link::{self, Net};
use crate::rd16;

/// Bound on GTP-U extension headers.
const MAX_GTP_EXT: usize = 16;

/// GRE (RFC 2784/2890) and enhanced GRE (RFC 2637, PPTP).
pub(crate) fn gre(d: &[u8]) -> Option<(Net, &[u8])> {
    let flags = rd16(d, 0)?;
    let proto = rd16(d, 2)?;
    let mut off = 4usize;
    match flags & 7 {
        0 => {
            // Source routing (obsolete) is not followed.
            if flags & 0x4000 != 0 {
                return None;
            }
            off += 4 * usize::from(flags & 0x8000 != 0) + 4 * usize::from(flags & 0x2000 != 0);
            off += 4 * usize::from(flags & 0x1000 != 0);
        }
        // PPTP: the key (payload length, call id) is mandatory, then sequence and ack.
        1 if flags & 0x2000 != 0 && flags & 0xc000 == 0 => {
            off += 4 + 4 * usize::from(flags & 0x1000 != 0) + 4 * usize::from(flags & 0x0080 != 0);
        }
        _ => return None,
    }
    let rest = d.get(off..)?;
    let inner = match proto {
        0x6558 => link::ethernet(rest, 0),
        0x880b => link::ppp(rest, 0),
        // ERSPAN type II has an 8-byte header and a sequence number; type I has neither.
        0x88be if flags & 0x1000 != 0 => link::ethernet(rest.get(8..)?, 0),
        0x88be => link::ethernet(rest, 0),
        // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when the O bit is set.
        0x22eb => {
            let o = rest.get(11)? & 1;
            link::ethernet(rest.get(12 + 8 * usize::from(o)..)?, 0)
        }
        // Aruba access points tunnel their clients' 802.11 frames to the controller.
        0x8200..=0x82ff => link::ieee80211(rest, false),
        _ => link::ethertype(proto, rest, 0),
    };
    inner.ok()
}

/// VXLAN (RFC 7348): 8 bytes with the I flag, then Ethernet.
pub(crate) fn vxlan(d: &[u8]) -> Option<(Net, &[u8])> {
    if d.first()? & 0x08 == 0 {
        return None;
    }
    link::ethernet(d.get(8..)?, 0).ok()
}

/// Geneve (RFC 8926): 8 bytes and options, then the protocol given as an Ethertype.
pub(crate) fn geneve(d: &[u8]) -> Option<(Net, &[u8])> {
    let b0 = *d.first()?;
    if b0 >> 6 != 0 {
        return None;
    }
    let proto = rd16(d, 2)?;
    let rest = d.get(8 + usize::from(b0 & 0x3f) * 4..)?;
    match proto {
        0x6558 => link::ethernet(rest, 0),
        _ => link::ethertype(proto, rest, 0),
    }
    .ok()
}

/// GTP-U version 1 G-PDU (3GPP TS 29.281), carrying IPv4 or IPv6.
pub(crate) fn gtpu(d: &[u8]) -> Option<(Net, &[u8])> {
    let (flags, msg) = (*d.first()?, *d.get(1)?);
    // Version 1, protocol type GTP (not GTP'), message type G-PDU.
    if flags >> 5 != 1 || flags & 0x10 == 0 || msg != 0xff {
        return None;
    }
    let len = usize::from(rd16(d, 2)?);
    let body = d.get(8..)?;
    let mut rest = body.get(..len).unwrap_or(body);
    if flags & 0x07 != 0 {
        // Sequence number, N-PDU number and next extension type are present together.
        let mut next = *rest.get(3)?;
        rest = rest.get(4..)?;
        let mut n = 0;
        while next != 0 {
            n += 1;
            let words = usize::from(*rest.first()?);
            if words == 0 || n > MAX_GTP_EXT {
                return None;
            }
            let ext = rest.get(..words * 4)?;
            next = ext[ext.len() - 1];
            rest = &rest[words * 4..];
        }
    }
    match rest.first()? >> 4 {
        4 => Some((Net::V4, rest)),
        6 => Some((Net::V6, rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_variants() {
        assert_eq!(gre(&[0, 0, 0x08, 0, 0x45]), Some((Net::V4, &[0x45u8][..])));
        // Checksum + key + sequence.
        let mut d = vec![0xb0, 0, 0x86, 0xdd];
        d.extend_from_slice(&[0; 12]);
        d.push(0x60);
        assert_eq!(gre(&d), Some((Net::V6, &[0x60u8][..])));
        // PPTP with sequence and ack, PPP in HDLC framing.
        let mut d = vec![0x30, 0x81, 0x88, 0x0b];
        d.extend_from_slice(&[0; 12]);
        d.extend_from_slice(&[0xff, 0x03, 0x00, 0x21, 0x45]);
        assert_eq!(gre(&d), Some((Net::V4, &[0x45u8][..])));
        // PPTP ack only: no payload.
        assert_eq!(gre(&[0x20, 0x81, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(gre(&[0, 2, 0x08, 0]), None);
    }

    #[test]
    fn gtpu_extension_headers() {
        // E flag, one extension header (PDU session container, 1 word), then IPv4.
        let d = [0x34, 0xff, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0, 0, 0x45];
        assert_eq!(gtpu(&d), Some((Net::V4, &[0x45u8][..])));
        let d = [0x34, 0xff, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0x10, 0, 0, 0x45];
        assert_eq!(gtpu(&d), None);
        // Echo request.
        assert_eq!(gtpu(&[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(gtpu(&[0x30, 0xff, 0, 1, 0, 0, 0, 1, 0x60]), Some((Net::V6, &[0x60u8][..])));
    }

    #[test]
    fn vxlan_and_geneve() {
        let mut d = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        d.extend_from_slice(&[0; 12]);
        d.extend_from_slice(&[0x08, 0, 0x45]);
        assert_eq!(vxlan(&d), Some((Net::V4, &[0x45u8][..])));
        d[0] = 0;
        assert_eq!(vxlan(&d), None);
        let d = [0, 0, 0x86, 0xdd, 0, 0, 0, 0, 0x60];
        assert_eq!(geneve(&d), Some((Net::V6, &[0x60u8][..])));
    }
}

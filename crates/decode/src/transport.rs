//! TCP, UDP and ICMP headers.

use phonehome_model::Counter;

use crate::{TcpSegment, rd16};

/// A TCP header; options are skipped, the payload is what the capture holds.
#[inline]
pub(crate) fn tcp(data: &[u8]) -> Result<TcpSegment<'_>, Counter> {
    let h: &[u8; 20] = data.get(..20).and_then(|h| h.try_into().ok()).ok_or(Counter::MalformedTransport)?;
    let doff = usize::from(h[12] >> 4) * 4;
    if doff < 20 {
        return Err(Counter::MalformedTransport);
    }
    // Options cut off by the snapshot length (or by a lying length field): the ports are
    // still good, and there is no payload to speak of. tshark keeps such segments too.
    let payload = data.get(doff..).unwrap_or_default();
    Ok(TcpSegment {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        flags: h[13],
        window: u16::from_be_bytes([h[14], h[15]]),
        payload,
    })
}

/// A UDP header: (source port, destination port, payload). The length field trims the
/// payload; when it promises more than was captured, the captured bytes are used.
#[inline]
pub(crate) fn udp(data: &[u8]) -> Result<(u16, u16, &[u8]), Counter> {
    let h = data.get(..8).ok_or(Counter::MalformedTransport)?;
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let payload = match len {
        // 0 is a jumbogram's UDP length (RFC 2675), or checksum offload's.
        0 => &data[8..],
        1..8 => return Err(Counter::MalformedTransport),
        _ => data.get(8..len).unwrap_or(&data[8..]),
    };
    Ok((rd16(h, 0).unwrap_or(0), rd16(h, 2).unwrap_or(0), payload))
}

/// ICMP or ICMPv6: type and code.
#[inline]
pub(crate) fn icmp(data: &[u8]) -> Result<(u8, u8), Counter> {
    match data {
        [t, c, ..] => Ok((*t, *c)),
        _ => Err(Counter::MalformedTransport),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_header() {
        let mut h = vec![0, 80, 1, 187, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x12, 0xff, 0xff, 0, 0, 0, 0];
        h.extend_from_slice(&[2, 4, 5, 0xb4, b'x']);
        let s = tcp(&h).unwrap();
        assert_eq!((s.src_port, s.dst_port, s.seq, s.ack, s.flags, s.window), (80, 443, 1, 2, 0x12, 0xffff));
        assert_eq!(s.payload, b"x");
        h[12] = 0x40;
        assert_eq!(tcp(&h).unwrap_err(), Counter::MalformedTransport);
        h[12] = 0xf0;
        assert_eq!(tcp(&h).unwrap().payload, b"");
    }

    #[test]
    fn udp_length() {
        let d = [0, 53, 0x30, 0x39, 0, 10, 0, 0, 1, 2, 3, 4];
        assert_eq!(udp(&d).unwrap(), (53, 12345, &[1u8, 2][..]));
        let d = [0, 53, 0x30, 0x39, 0, 99, 0, 0, 1, 2];
        assert_eq!(udp(&d).unwrap().2, &[1u8, 2][..]);
        let d = [0, 53, 0x30, 0x39, 0, 7, 0, 0];
        assert_eq!(udp(&d).unwrap_err(), Counter::MalformedTransport);
        assert_eq!(icmp(&[8]).unwrap_err(), Counter::MalformedTransport);
        assert_eq!(icmp(&[8, 0, 0, 0]).unwrap(), (8, 0));
    }
}

//! IP defragmentation fed fragment sequences: the fuzzer chooses fragments (IPv4 or IPv6,
//! datagram id, offset, length, more-fragments bit, time steps) and the target builds
//! well-formed packets from them, so every input reaches the reassembler rather than the
//! header checks that `decode_frame` mostly meets.
//!
//! Input: a knob byte (caps: bytes, datagrams, fragments per datagram, timeout), then 5-byte
//! records `[ctl][offset: u16 LE][len][fill]`. `ctl`: bit 0 IPv6, bit 1 more fragments, bits
//! 2-3 datagram (four ids, each its own source address), bit 4 advance the clock 10 s, bit 5
//! foreign content (bytes XOR `fill`), bit 6 TCP instead of UDP. Offsets are in 8-byte units
//! (13 bits), lengths in bytes (so last and non-last fragments of odd sizes occur).
//!
//! Checked besides "no panic, no hang, no OOM": every byte of a datagram is the same in every
//! fragment that carries it (a function of datagram and position) unless a fragment was
//! marked foreign; a datagram rebuilt only from such fragments must come out byte for byte
//! (UDP ports, then the pattern), whichever copy of an overlap won.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_decode::{Decoder, DecoderConfig, Transport};
use phonehome_model::{Counter, Counters, LinkType, Timestamp};
use std::net::IpAddr;

/// Byte `pos` of datagram `id`: a UDP header from port 1000 to 2000 with length 0 (the
/// whole payload) and no checksum, then a pattern.
fn canonical(id: usize, pos: usize) -> u8 {
    match pos {
        0..8 => [0x03, 0xe8, 0x07, 0xd0, 0, 0, 0, 0][pos],
        _ => (id as u8).wrapping_mul(31) ^ (pos as u8).wrapping_mul(7) ^ (pos >> 8) as u8,
    }
}

fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn packet(v6: bool, id: usize, offset: u16, more: bool, proto: u8, data: &[u8]) -> Vec<u8> {
    let off_field = offset << 3;
    if v6 {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        let mut src = [0u8; 16];
        src[0] = 0xfd;
        src[15] = id as u8 + 1;
        let mut dst = [0u8; 16];
        dst[0] = 0xfd;
        dst[15] = 0xfe;
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&[proto, 0]);
        p.extend_from_slice(&(off_field | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&(0x1000 + id as u32).to_be_bytes());
        p.extend_from_slice(data);
        p
    } else {
        let total = 20 + data.len();
        let flags = if more { 0x2000 } else { 0 };
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0x10, id as u8, 0, 0, 64, proto, 0, 0];
        p[6..8].copy_from_slice(&(flags | offset).to_be_bytes());
        p.extend_from_slice(&[10, 0, 0, id as u8 + 1, 10, 0, 0, 254]);
        let c = checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(data);
        p
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, mut rest)) = data.split_first() else { return };
    let config = DecoderConfig {
        frag_max_bytes: 256 << (knob & 7),
        frag_max_datagrams: 1 + usize::from(knob >> 3 & 3),
        frag_max_per_datagram: 2 + 4 * usize::from(knob >> 5 & 3),
        frag_timeout_ns: if knob & 0x80 != 0 { 5_000_000_000 } else { 30_000_000_000 },
        ..Default::default()
    };
    let mut decoder = Decoder::new(config);
    let mut counters = Counters::default();
    let mut ts = 0i64;
    // Per (family, id): whether a foreign fragment may be in the datagram being rebuilt.
    let mut tainted = [[false; 4]; 2];
    let mut inserted = 0u64;
    while let [ctl, o0, o1, len, fill, tail @ ..] = rest {
        rest = tail;
        let v6 = ctl & 1 != 0;
        let more = ctl & 2 != 0;
        let id = usize::from(ctl >> 2 & 3);
        if ctl & 0x10 != 0 {
            ts += 10_000_000_000;
        }
        let foreign = ctl & 0x20 != 0 && *fill != 0;
        let proto = if ctl & 0x40 != 0 { 6 } else { 17 };
        let offset = u16::from_le_bytes([*o0, *o1]) & 0x1fff;
        let start = usize::from(offset) * 8;
        let bytes: Vec<u8> =
            (start..start + usize::from(*len)).map(|p| canonical(id, p) ^ if foreign { *fill } else { 0 }).collect();
        let fam = usize::from(v6);
        if foreign || proto != 17 {
            tainted[fam][id] = true;
        }
        let frame = packet(v6, id, offset, more, proto, &bytes);
        let before = counters.get(Counter::Reassembled);
        let decoded = decoder.decode(Timestamp(ts), LinkType(101), &frame, &mut counters);
        inserted += 1;
        let Some(p) = decoded else { continue };
        let rebuilt = counters.get(Counter::Reassembled) > before;
        let whole = offset == 0 && !more;
        if !(rebuilt || whole) {
            continue;
        }
        let src_id = match p.src {
            IpAddr::V4(a) => usize::from(a.octets()[3]) - 1,
            IpAddr::V6(a) => usize::from(a.octets()[15]) - 1,
        };
        assert_eq!(src_id, id, "a datagram completes with the fragment that completed it");
        if rebuilt && tainted[fam][id] {
            tainted[fam][id] = false;
            continue;
        }
        if whole && (foreign || proto != 17) {
            continue;
        }
        match p.transport {
            Transport::Udp { src_port, dst_port, payload } => {
                assert_eq!((src_port, dst_port), (1000, 2000));
                for (i, b) in payload.iter().enumerate() {
                    assert_eq!(*b, canonical(id, 8 + i), "byte {} of datagram {id} (v6: {v6})", 8 + i);
                }
            }
            other => panic!("a UDP datagram came out as {other:?}"),
        }
    }
    assert!(counters.get(Counter::Reassembled) <= inserted);
});

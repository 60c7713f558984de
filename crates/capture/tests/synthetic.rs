//! Built captures for what the corpus lacks (big-endian pcapng, byte order changing between
//! sections, Simple and obsolete Packet Blocks, custom blocks, base-2 resolutions,
//! `if_tsoffset`) and for corrupt, truncated and hostile input.
//!
//! The main built file was checked against tshark 4.0.17 when written (set
//! `CAPTURE_TEST_DUMP=dir` to write it out): tshark stops at the packet of undefined
//! interface 7 ("interface index 7 is not less than section interface count 2") where we
//! skip and count it; with the three undefined-interface packets removed it agrees on every
//! packet's time, lengths, interface id and link type, and on the NRB's names. It shows the
//! two custom blocks as frames and the SPB without a time (we give the previous packet's).

mod common;

use std::io::{Cursor, Read, Write};
use std::net::IpAddr;

use common::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use phonehome_capture::{CaptureError, CaptureReader, ReaderConfig, ReaderStats};

const NS: u8 = 9;

/// Three sections (little-, big-, little-endian) with every block kind.
fn three_sections() -> Vec<u8> {
    let mut g = Ng::new();
    // Section 1, little-endian: Ethernet at the default microseconds with a 40-byte snapshot
    // length, raw IP in nanoseconds shifted by if_tsoffset 1000 s.
    g.shb(false);
    g.idb(1, 40, &[]);
    let off = g.tsoffset(1000);
    g.idb(101, 65535, &[Ng::tsresol(NS), off]);
    g.epb(0, 1_600_000_000_123_456, &[0xaa; 60], 60);
    g.epb(1, 5_123_456_789, &[0x45; 21], 1500);
    // No timestamp of its own: the previous packet's. Wire length 100, 40 bytes kept.
    g.spb(&[0xbb; 40], 100);
    g.custom(0x0000_0bad, b"copy me");
    g.custom(0x4000_0bad, b"do not copy me");
    g.block(5, &[0; 20]); // Interface Statistics Block
    g.block(0x1234, b"unknown");
    g.epb(7, 1, &[1, 2, 3], 3); // interface 7 is not declared
    g.dsb(0x544c_534b, b"CLIENT_RANDOM 00 11\n!");
    let v4 = [&[192, 0, 2, 1][..], b"host.example\0"].concat();
    let v6 =
        [&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets()[..], b"v6.example\0alias.example\0"].concat();
    g.nrb(&[(1, v4), (3, vec![0; 10]), (2, v6)]);
    // Section 2, big-endian: a packet before any interface, then Linux SLL in units of
    // 2^-20 s, an obsolete Packet Block, and interface 1, which this section does not have.
    g.shb(true);
    g.spb(&[0xcc; 8], 8);
    g.idb(113, 0, &[Ng::tsresol(0x80 | 20)]);
    g.pb(0, 3 << 20 | 1 << 19, &[0xdd; 33], 33);
    g.epb(0, 1_700_000_000 << 20, &[0xee; 44], 44);
    g.epb(1, 0, &[0xee; 4], 4);
    // Section 3, little-endian again: raw IPv4 in milliseconds, one empty packet.
    g.shb(false);
    g.idb(228, 0, &[Ng::tsresol(3)]);
    g.epb(0, 1_234, &[0x45, 0, 0, 20], 20);
    g.epb(0, 1_235, &[], 0);
    g.out
}

#[test]
fn every_block_kind_across_sections_and_byte_orders() {
    let bytes = three_sections();
    if let Ok(dir) = std::env::var("CAPTURE_TEST_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join("three_sections.pcapng"), &bytes).unwrap();
    }
    let r = read_ok(&bytes);
    assert_eq!(r.format, "pcapng");
    let got: Vec<(i64, u32, usize, u32, u32)> =
        r.packets.iter().map(|p| (p.ts, p.link, p.data.len(), p.orig_len, p.iface)).collect();
    assert_eq!(
        got,
        vec![
            (ns(1_600_000_000, 123_456_000), 1, 60, 60, 0),
            (ns(1005, 123_456_789), 101, 21, 1500, 1),
            (ns(1005, 123_456_789), 1, 40, 100, 0), // SPB
            (ns(3, 500_000_000), 113, 33, 33, 0),   // PB, big-endian, 2^-20 s units
            (ns(1_700_000_000, 0), 113, 44, 44, 0),
            (ns(1, 234_000_000), 228, 4, 20, 0),
            (ns(1, 235_000_000), 228, 0, 0, 0),
        ]
    );
    assert_eq!(r.packets[2].data, vec![0xbb; 40]);
    assert_eq!(r.packets[3].data, vec![0xdd; 33]);
    assert_eq!(r.secrets, vec![(0x544c_534b, b"CLIENT_RANDOM 00 11\n!".to_vec())]);
    let a4: IpAddr = "192.0.2.1".parse().unwrap();
    let a6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        r.names,
        vec![vec![(a4, "host.example".to_string()), (a6, "v6.example".to_string()), (a6, "alias.example".to_string())]]
    );
    assert_eq!(
        r.stats,
        ReaderStats {
            sections: 3,
            interfaces: 4,
            // two custom, ISB, unknown, and three packets of undefined interfaces
            skipped_blocks: 7,
            undefined_interface_packets: 3,
            malformed_blocks: 0,
        }
    );
}

#[test]
fn hostile_resolutions_and_offsets_saturate() {
    let mut g = Ng::new();
    g.shb(false);
    let big = g.tsoffset(i64::MAX);
    let small = g.tsoffset(i64::MIN);
    g.idb(1, 0, &[Ng::tsresol(0), big]); // seconds, offset i64::MAX s
    g.idb(1, 0, &[Ng::tsresol(0x80 | 127), small]); // 2^-127 s, offset i64::MIN s
    g.idb(1, 0, &[Ng::tsresol(100)]); // 10^-100 s
    g.idb(1, 0, &[Ng::tsresol(0xff)]);
    for i in 0..4 {
        g.epb(i, u64::MAX, &[0], 1);
    }
    let ts: Vec<i64> = read_ok(&g.out).packets.iter().map(|p| p.ts).collect();
    assert_eq!(ts, vec![i64::MAX, i64::MIN, 0, 0]);
}

#[test]
fn pcap_both_byte_orders_and_resolutions() {
    for be in [false, true] {
        for nanos in [false, true] {
            let mut p = Pcap::new(be, nanos, 1, 65535);
            p.packet(100, 999_999, &[1; 14], 14).packet(4_000_000_000, 5, &[2; 70], 1514);
            let r = read_ok(&p.out);
            assert_eq!(r.format, "pcap");
            let unit = if nanos { 1 } else { 1000 };
            let got: Vec<(i64, usize, u32)> = r.packets.iter().map(|p| (p.ts, p.data.len(), p.orig_len)).collect();
            assert_eq!(
                got,
                vec![(ns(100, 999_999 * unit), 14, 14), (ns(4_000_000_000, 5 * unit), 70, 1514)],
                "{be} {nanos}"
            );
            assert_eq!(r.packets[1].offset, 24 + 16 + 14);
        }
    }
}

#[test]
fn pcap_link_type_drops_fcs_bits() {
    // LT_FCS_LENGTH_PRESENT with a 4-byte FCS length over Ethernet.
    let mut p = Pcap::new(false, false, 0x4000_0000 | 0x0400_0000 | 1, 65535);
    p.packet(1, 0, &[0; 20], 20);
    assert_eq!(read_ok(&p.out).packets[0].link, 1);
}

#[test]
fn pcap_lengths_of_format_2_3_are_swapped_only_when_they_must_be() {
    let mut p = Pcap::new(false, false, 1, 65535);
    p.out[6] = 3; // version 2.3
    // caplen field 100 > orig_len field 10: the writer swapped them.
    p.u32(1);
    p.u32(0);
    p.u32(100);
    p.u32(10);
    p.out.extend_from_slice(&[0; 10]);
    p.packet(2, 0, &[0; 10], 100);
    let r = read_ok(&p.out);
    let got: Vec<(usize, u32)> = r.packets.iter().map(|p| (p.data.len(), p.orig_len)).collect();
    assert_eq!(got, vec![(10, 100), (10, 100)]);
}

#[test]
fn empty_short_and_garbage_inputs() {
    let open = |b: &[u8]| CaptureReader::new(Cursor::new(b.to_vec())).err();
    assert!(matches!(open(b""), Some(CaptureError::NotACapture { magic }) if magic.is_empty()));
    assert!(matches!(open(b"\xd4\xc3"), Some(CaptureError::NotACapture { .. })));
    assert!(matches!(open(b"GET / HTTP/1.1\r\n\r\n"), Some(CaptureError::NotACapture { magic }) if magic == b"GET "));
    assert!(matches!(open(&[0u8; 4096]), Some(CaptureError::NotACapture { .. })));
    // CR LF CR LF without a byte-order magic is text, not pcapng.
    assert!(matches!(open(b"\r\n\r\nHost: x\r\n\r\n"), Some(CaptureError::NotACapture { .. })));
    // A magic number and nothing else.
    assert!(matches!(open(b"\xd4\xc3\xb2\xa1\x02\x00"), Some(CaptureError::Truncated { offset: 0 })));
    assert!(matches!(open(b"\x0a\x0d\x0d\x0a\x1c\x00"), Some(CaptureError::Truncated { offset: 0 })));
    // gzip of nothing, and gzip of text.
    assert!(matches!(open(&gzip(b"")), Some(CaptureError::NotACapture { magic }) if magic.is_empty()));
    assert!(matches!(open(&gzip(b"hello world")), Some(CaptureError::NotACapture { .. })));
    // A gzip magic followed by garbage.
    assert!(matches!(open(b"\x1f\x8bxxxxxxxxxxxxxxx"), Some(CaptureError::Io { offset: 0, .. })));
    // The pcap global header alone is an empty capture.
    let r = read_ok(&Pcap::new(false, true, 1, 0).out);
    assert!(r.packets.is_empty());
}

/// Damages the bytes of a block, which start at index 0.
type Breaker = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn corrupt_pcapng_lengths_stop_with_the_block_offset() {
    let mut base = Ng::new();
    base.shb(false).idb(1, 0, &[]).epb(0, 1, &[1; 10], 10);
    let bad_at = base.pos();
    let cases: Vec<(&str, Breaker)> = vec![
        ("length 8", Box::new(|b| set_u32(b, 4, 8))),
        ("length 0", Box::new(|b| set_u32(b, 4, 0))),
        ("length not a multiple of 4", Box::new(|b| set_u32(b, 4, 34))),
        ("length above the cap", Box::new(|b| set_u32(b, 4, 0xffff_fff0))),
        (
            "trailing length differs",
            Box::new(|b| {
                let len = u32::from_le_bytes(b[4..8].try_into().unwrap());
                set_u32(b, len as usize - 4, len + 4)
            }),
        ),
        // The block (56 bytes: 28 of header, 12 of data, 12 of options, 4 of trailer) has
        // room for 24 bytes of data at most.
        ("caplen overruns the block", Box::new(|b| set_u32(b, 20, 25))),
        ("caplen huge", Box::new(|b| set_u32(b, 20, u32::MAX))),
    ];
    for (what, break_it) in cases {
        let mut g = base.clone();
        g.epb(0, 2, &[2; 10], 10).epb(0, 3, &[3; 10], 10);
        let mut bytes = g.out;
        let mut tail = bytes.split_off(bad_at as usize);
        break_it(&mut tail);
        bytes.extend_from_slice(&tail);
        let r = read_all(&bytes).unwrap();
        assert_eq!(r.packets.len(), 1, "{what}: the packet before the bad block is delivered");
        match r.error {
            Some(CaptureError::TooLarge { offset, len, max }) if what == "length above the cap" => {
                assert_eq!((offset, len, max), (bad_at, 0xffff_fff0, 16 << 20), "{what}")
            }
            Some(CaptureError::Corrupt { offset, .. }) if what != "length above the cap" => {
                assert_eq!(offset, bad_at, "{what}")
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(r.end_offset, bad_at, "{what}: offset() stays at the bad block");
    }
}

#[test]
fn corrupt_section_headers() {
    let mut g = Ng::new();
    g.shb(false).idb(1, 0, &[]).epb(0, 1, &[1; 4], 4);
    let second = g.pos() as usize;
    g.shb(false);
    let mut bad_bom = g.out.clone();
    bad_bom[second + 8] = 0x99;
    let r = read_all(&bad_bom).unwrap();
    assert_eq!(r.packets.len(), 1);
    assert!(matches!(r.error, Some(CaptureError::Corrupt { offset, .. }) if offset == second as u64));
    let mut bad_version = g.out.clone();
    bad_version[second + 12] = 2;
    let r = read_all(&bad_version).unwrap();
    assert!(matches!(r.error, Some(CaptureError::Corrupt { offset, .. }) if offset == second as u64));
}

#[test]
fn corrupt_pcap_lengths() {
    let mut p = Pcap::new(false, false, 1, 65535);
    p.packet(1, 0, &[1; 10], 10);
    let bad_at = p.out.len() as u64;
    // 300 KiB: above both the snapshot length and 256 KiB.
    p.packet(2, 0, &vec![2; 300 << 10], 300 << 10);
    let r = read_all(&p.out).unwrap();
    assert_eq!(r.packets.len(), 1);
    assert!(matches!(r.error, Some(CaptureError::Corrupt { offset, .. }) if offset == bad_at), "{:?}", r.error);

    // The same packet is fine when the snapshot length allows it...
    let mut p = Pcap::new(false, false, 1, 1 << 20);
    p.packet(2, 0, &vec![2; 300 << 10], 300 << 10);
    assert_eq!(read_ok(&p.out).packets[0].data.len(), 300 << 10);
    // ...unless it is above the configured cap.
    let cfg = ReaderConfig { max_record_len: 64 << 10 };
    let r = read_all_with(&p.out, cfg).unwrap();
    assert!(matches!(r.error, Some(CaptureError::TooLarge { offset: 24, len: 307_200, max: 65_536 })), "{:?}", r.error);
    // A caplen near u32::MAX must not be allocated.
    let mut p = Pcap::new(true, false, 1, 0);
    p.packet(1, 0, &[], 0);
    let n = p.out.len();
    p.out[n - 8..n - 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(read_all(&p.out).unwrap().error, Some(CaptureError::Corrupt { offset: 24, .. })));
}

#[test]
fn records_larger_than_the_buffer_and_many_refills() {
    // 12 MiB of packets of varying sizes (up to 1 MiB), so records straddle refills and the
    // buffer has to grow; each packet's bytes identify it.
    let mut g = Ng::new();
    g.shb(false).idb(1, 0, &[]);
    let mut sizes = Vec::new();
    let mut total = 0;
    let mut i = 0u32;
    while total < 12 << 20 {
        let size = match i % 7 {
            0 => 1 << 20,
            1 => 0,
            n => (i as usize * 7919 + n as usize * 131) % 9000,
        };
        g.epb(0, u64::from(i), &vec![i as u8; size], size as u32);
        sizes.push(size);
        total += size;
        i += 1;
    }
    let bytes = g.out;
    let check = |r: &ReadAll| {
        assert_eq!(r.packets.len(), sizes.len());
        for (n, (p, &size)) in r.packets.iter().zip(&sizes).enumerate() {
            assert_eq!(p.data.len(), size);
            assert!(p.data.iter().all(|&b| b == n as u8), "packet {n} bytes");
            assert_eq!(p.ts, n as i64 * 1000);
        }
    };
    check(&read_ok(&bytes));
    // The same through gzip, and through a source that hands out a few bytes per read.
    check(&read_all(&gzip(&bytes)).unwrap());
    let trickled = read_trickle(&bytes[..3 << 20]);
    assert_eq!(trickled, read_all(&bytes[..3 << 20]).unwrap().packets);
}

#[test]
fn gzip_multi_member_truncated_and_corrupt() {
    let plain = fixture("multisection__zmtp1+knxip+kerberos_fuzz.pcapng");
    let full = read_ok(&plain);
    // Two gzip members, as `cat a.gz b.gz` makes: one stream.
    let (a, b) = plain.split_at(700);
    let two = [gzip(a), gzip(b)].concat();
    let r = read_all(&two).unwrap();
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.packets, full.packets);
    assert_eq!(r.format, "pcapng+gzip");

    let gz = gzip(&plain);
    // Cut inside the compressed stream: a prefix of the records, then Truncated.
    let r = read_all(&gz[..gz.len() / 2]).unwrap();
    assert!(full.packets.starts_with(&r.packets));
    assert!(matches!(r.error, Some(CaptureError::Truncated { .. })), "{:?}", r.error);
    // Cut in the 8-byte trailer (CRC and length): every record is there, the stream is not.
    let r = read_all(&gz[..gz.len() - 3]).unwrap();
    assert_eq!(r.packets, full.packets);
    assert!(matches!(r.error, Some(CaptureError::Truncated { .. })), "{:?}", r.error);
    // Damage inside the deflate data.
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 8] {
        *b ^= 0x5a;
    }
    let r = read_all(&bad).unwrap();
    assert!(full.packets.starts_with(&r.packets));
    assert!(r.error.is_some());
}

/// Every prefix of a capture: no panic; the records are a prefix of the full read; the end is
/// `Ok(None)` exactly when the cut falls between records, else `Truncated` at the start of
/// the record that was cut.
#[test]
fn every_truncation_of_small_captures() {
    let files = [
        fixture("multisection__zmtp1+knxip+kerberos_fuzz.pcapng"),
        fixture("tcpdump__tcp-handshake-nano.pcap"),
        swap_pcap(&fixture("zeek__trunc__icmp-payload-trunc.pcap")),
        three_sections(),
    ];
    for bytes in &files {
        let full = read_ok(bytes);
        let bounds = boundaries(bytes);
        for cut in 0..=bytes.len() {
            let prefix = &bytes[..cut];
            let r = match read_all(prefix) {
                Ok(r) => r,
                Err(CaptureError::NotACapture { .. }) => {
                    assert!(cut < 4, "cut {cut}");
                    continue;
                }
                Err(CaptureError::Truncated { offset: 0 }) => {
                    assert!(cut < bounds[0] || cut < 12, "cut {cut}");
                    continue;
                }
                Err(e) => panic!("cut {cut}: {e}"),
            };
            assert!(full.packets.starts_with(&r.packets), "cut {cut}");
            let last_bound = *bounds.iter().filter(|&&b| b <= cut).max().unwrap();
            let expect_packets = full.packets.iter().filter(|p| p.offset < last_bound as u64).count();
            assert_eq!(r.packets.len(), expect_packets, "cut {cut}");
            if cut == last_bound {
                assert!(r.error.is_none(), "cut {cut}: {:?}", r.error);
            } else {
                match r.error {
                    Some(CaptureError::Truncated { offset }) => assert_eq!(offset, last_bound as u64, "cut {cut}"),
                    other => panic!("cut {cut}: {other:?}"),
                }
            }
            assert_eq!(r.end_offset, last_bound as u64, "cut {cut}");
        }
    }
}

/// Record boundaries: where the pcap header or each record / block ends (and 0 for pcapng).
fn boundaries(b: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    if b[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        let (mut off, mut be) = (0, false);
        out.push(0);
        while off + 12 <= b.len() {
            if b[off..off + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                be = b[off + 8] == 0x1a;
            }
            let raw: [u8; 4] = b[off + 4..off + 8].try_into().unwrap();
            off += if be { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) } as usize;
            out.push(off);
        }
    } else {
        let be = b[0] == 0xa1;
        let mut off = 24;
        out.push(off);
        while off + 16 <= b.len() {
            let raw: [u8; 4] = b[off + 8..off + 12].try_into().unwrap();
            off += 16 + if be { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) } as usize;
            out.push(off);
        }
    }
    out
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A source that returns 1 to 7 bytes per read, to shake out buffering assumptions.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.pos % 7 + 1).min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn read_trickle(bytes: &[u8]) -> Vec<Pkt> {
    let mut r = CaptureReader::new(Trickle { data: bytes.to_vec(), pos: 0 }).unwrap();
    let mut out = Vec::new();
    while let Ok(Some(rec)) = r.next_record() {
        if let phonehome_capture::Record::Packet(p) = rec {
            out.push(Pkt::from(&p));
        }
    }
    out
}

mod fuzzish {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Overwriting a few bytes anywhere never panics or hangs (read_all asserts
        /// progress), and the records before the first damaged byte are unchanged.
        #[test]
        fn damaged_captures(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), which in 0usize..3) {
            let base = match which {
                0 => three_sections(),
                1 => fixture("tcpdump__tcp-handshake-nano.pcap"),
                _ => fixture("ndpi__kerberos_fuzz.pcapng"),
            };
            let full = read_ok(&base);
            let mut bytes = base.clone();
            let mut first = bytes.len();
            for (at, v) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *v;
                first = first.min(i);
            }
            if let Ok(r) = read_all(&bytes) {
                // Packets whose record ends before the first edit are intact; the first
                // edit may have hit the length field of the record it is in, so only
                // records starting before the one containing it are compared.
                let bounds = boundaries(&base);
                let safe = bounds.iter().filter(|&&b| b <= first).max().copied().unwrap_or(0);
                let expect: Vec<&Pkt> = full.packets.iter().filter(|p| (p.offset as usize) < safe).collect();
                let got: Vec<&Pkt> = r.packets.iter().take(expect.len()).collect();
                prop_assert_eq!(got, expect);
            }
        }

        /// Random bytes after a valid header: never a panic, always an end.
        #[test]
        fn random_tails(tail in proptest::collection::vec(any::<u8>(), 0..2048), ng in any::<bool>()) {
            let mut bytes = if ng {
                let mut g = Ng::new();
                g.shb(false).idb(1, 0, &[]);
                g.out
            } else {
                Pcap::new(false, false, 1, 0).out
            };
            bytes.extend_from_slice(&tail);
            let _ = read_all(&bytes);
        }
    }
}

//! Real captures from other projects' test suites (fixtures/captures, see SOURCES.tsv).
//! Expected values are tshark 4.0.17's (`-T fields -e frame.time_epoch -e frame.cap_len
//! -e frame.len -e frame.interface_id`) and capinfos'; `capinfos_agrees` re-checks them live
//! when capinfos is installed.

mod common;

use std::net::IpAddr;

use common::*;
use phonehome_capture::{CaptureError, CaptureReader, ReaderStats};

#[test]
fn pcapng_two_interfaces_with_different_tsresol() {
    // IDB 0 has if_tsresol 9 (nanoseconds), IDB 1 the default microseconds.
    let r = read_ok(&fixture("zeek__pcapng-multi-interface.pcapng"));
    assert_eq!(r.format, "pcapng");
    let got: Vec<(i64, usize, u32)> = r.packets.iter().map(|p| (p.ts, p.data.len(), p.iface)).collect();
    assert_eq!(
        got,
        vec![
            (ns(1767663089, 500_330_493), 96, 0),
            (ns(1767663089, 514_291_940), 214, 0),
            (ns(1767663437, 111_897_000), 70, 1),
            (ns(1767663437, 126_460_000), 166, 1),
            (ns(1767663437, 128_303_000), 70, 1),
            (ns(1767663437, 140_942_000), 182, 1),
        ]
    );
    assert!(r.packets.iter().all(|p| p.link == 1 && p.orig_len as usize == p.data.len()));
    assert_eq!(
        r.stats,
        ReaderStats {
            sections: 1,
            interfaces: 2,
            skipped_blocks: 0,
            undefined_interface_packets: 0,
            malformed_blocks: 0
        }
    );
}

#[test]
fn pcapng_three_sections_with_different_link_types() {
    // `cat` of three real pcapng files: Linux SLL (tsresol 6), Ethernet with two interfaces
    // (tsresol 9 and 6), raw IPv4 with a Name Resolution Block. Each section header resets
    // the interface table, so interface 0 means a different interface in each section.
    let r = read_ok(&fixture("multisection__zmtp1+knxip+kerberos_fuzz.pcapng"));
    let got: Vec<(i64, usize, u32, u32)> = r.packets.iter().map(|p| (p.ts, p.data.len(), p.iface, p.link)).collect();
    assert_eq!(
        got,
        vec![
            (ns(1114625380, 809_286_000), 90, 0, 113),
            (ns(1713288329, 876_632_545), 62, 0, 1),
            (ns(1713288329, 876_649_446), 56, 0, 1),
            (ns(1629801418, 105_532_000), 82, 1, 1),
            (ns(1633884084, 0), 288, 0, 228),
        ]
    );
    assert_eq!(r.stats.sections, 3);
    assert_eq!(r.stats.interfaces, 4);
    assert_eq!(r.stats.skipped_blocks, 0);
    let v4: IpAddr = "126.4.1.0".parse().unwrap();
    assert_eq!(r.names, vec![vec![(v4, "softbank126004001000.bbtec.net".to_string())]]);
    // The third section starts after the first two files (208 + 604 bytes).
    assert!(r.packets[4].offset > 812);
}

#[test]
fn pcapng_name_resolution_block() {
    let r = read_ok(&fixture("ndpi__kerberos_fuzz.pcapng"));
    assert_eq!(r.packets.len(), 1);
    assert_eq!(r.packets[0].link, 228);
    assert_eq!(r.names.len(), 1);
    assert_eq!(r.names[0], vec![("126.4.1.0".parse().unwrap(), "softbank126004001000.bbtec.net".to_string())]);
}

#[test]
fn pcapng_decryption_secrets_block() {
    let r = read_ok(&fixture("ndpi__quic-33.pcapng"));
    assert_eq!(r.packets.len(), 7);
    assert_eq!(r.first_ts(), ns(1607938456, 563_491_709));
    assert_eq!(r.last_ts(), ns(1607938456, 567_204_844));
    assert_eq!(r.cap_bytes(), 5336);
    assert_eq!(r.secrets.len(), 1);
    let (kind, data) = &r.secrets[0];
    assert_eq!(*kind, 0x544c_534b, "TLS key log");
    // Exactly secrets_len bytes: the block's alignment padding is not part of the key log.
    assert_eq!(data.len(), 6478);
    assert!(data.starts_with(b"SERVER_HANDSHAKE_TRAFFIC_SECRET "));
    assert!(data.ends_with(b"971ae10ca4f7d11b253\n"));
}

#[test]
fn pcap_extension_holding_pcapng_and_an_unknown_block() {
    // nDPI's mpeg.pcap is pcapng; it also has a local-use block of type 0x80000001.
    let r = read_ok(&fixture("ndpi__mpeg.pcap"));
    assert_eq!(r.format, "pcapng");
    assert_eq!(r.packets.len(), 19);
    assert_eq!(r.cap_bytes(), 10643);
    assert_eq!(r.first_ts(), ns(1434379491, 40_018_000));
    assert_eq!(r.last_ts(), ns(1434379491, 221_137_000));
    assert_eq!(r.stats.skipped_blocks, 1);
}

#[test]
fn pcap_le_nanoseconds() {
    let bytes = fixture("tcpdump__tcp-handshake-nano.pcap");
    let r = read_ok(&bytes);
    assert_eq!(r.format, "pcap");
    assert_eq!(r.packets.len(), 3);
    assert!(r.packets.iter().all(|p| p.link == 113 && p.iface == 0));
    assert_eq!(r.first_ts(), ns(1418145369, 924_505_488));
    assert_eq!(r.last_ts(), ns(1418145370, 52_115_157));
    assert_eq!(r.cap_bytes(), 220);
    assert_eq!(r.packets[0].offset, 24);

    // The same file in big-endian (magic a1 b2 3c 4d on disk) reads the same.
    let be = swap_pcap(&bytes);
    assert_eq!(&be[..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
    assert_eq!(read_ok(&be).packets, r.packets);
}

#[test]
fn pcap_be_microseconds() {
    let bytes = fixture("ndpi__fuzz-2006-09-29-28586.pcap");
    assert_eq!(&bytes[..4], &[0xa1, 0xb2, 0xc3, 0xd4]);
    let r = read_ok(&bytes);
    assert_eq!(r.packets.len(), 131);
    assert_eq!(r.cap_bytes(), 33626);
    assert_eq!(r.first_ts(), ns(1031854484, 481_540_000));
    assert_eq!(r.last_ts(), ns(1031854568, 982_740_000));
    assert!(r.packets.iter().all(|p| p.link == 1));
    // And swapped to little-endian.
    let le = swap_pcap(&bytes);
    assert_eq!(&le[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(read_ok(&le).packets, r.packets);
}

#[test]
fn pcap_snaplen_cut_packets_keep_their_wire_length() {
    let r = read_ok(&fixture("zeek__trunc__icmp-payload-trunc.pcap"));
    assert_eq!(r.packets.len(), 4);
    assert_eq!(r.cap_bytes(), 320);
    assert_eq!(r.orig_bytes(), 392);
    assert_eq!(r.first_ts(), ns(1338324909, 690_784_000));
    assert_eq!(r.last_ts(), ns(1338324912, 702_087_000));
}

#[test]
fn pcap_version_2_0_swapped_lengths_fcs_bits_and_a_cut_tail() {
    // nDPI's fuzz-2021-10-13.pcap: format version 2.0, whose record headers have orig_len
    // before caplen (libpcap and Wireshark swap them back); link type field 0x40000000, i.e.
    // FCS-length bits over LINKTYPE_NULL; a fraction above one second; and a file that ends
    // 2 bytes into the second record header (tshark: "cut short in the middle of a packet").
    let bytes = fixture("ndpi__fuzz-2021-10-13.pcap");
    let r = read_all(&bytes).unwrap();
    assert_eq!(r.packets.len(), 1);
    let p = &r.packets[0];
    assert_eq!(p.link, 0);
    assert_eq!(p.data.len(), 197);
    assert_eq!(p.orig_len, 524_501);
    assert_eq!(p.ts, ns(980658802, 1_882_137_472));
    assert!(matches!(r.error, Some(CaptureError::Truncated { offset: 237 })), "{:?}", r.error);
    assert_eq!(r.end_offset, 237);
}

#[test]
fn pcap_timestamp_edges() {
    let r = read_ok(&fixture("tcpdump__time_2106_max.pcap"));
    assert_eq!(r.packets[0].ts, ns(4294967295, 0), "seconds are unsigned 32-bit");
    // Out-of-range fractions are added as the unsigned counts they are: 1000000 us is one
    // second more (tshark prints the same instant as "1418145370.1000000000"), and 0x80000000
    // us is 2147.483648 s more (tshark shows ".000000000": its 32-bit nanosecond field
    // overflows when it multiplies by 1000).
    let r = read_ok(&fixture("tcpdump__timestamp_invalid_micro.pcap"));
    let ts: Vec<i64> = r.packets.iter().map(|p| p.ts).collect();
    assert_eq!(ts, vec![ns(1418145369, 999_999_000), ns(1418145371, 0), ns(1418145370, 2_147_483_648_000)]);
}

#[test]
fn gzip_pcap() {
    let r = read_ok_gz(&fixture("zeek__pe__pe_files_timestamp.pcap.gz"));
    assert_eq!(r.format, "pcap+gzip");
    assert_eq!(r.packets.len(), 22);
    assert_eq!(r.cap_bytes(), 15735);
    assert_eq!(r.first_ts(), ns(1716472368, 108_052_000));
    assert_eq!(r.last_ts(), ns(1716472371, 828_721_000));
}

#[test]
fn gzip_pcapng_matches_the_plain_file() {
    let gz = read_ok_gz(&fixture("ndpi__knxip.pcapng.gz"));
    let plain = read_ok(&fixture("ndpi__knxip.pcapng"));
    assert_eq!(gz.format, "pcapng+gzip");
    assert_eq!(gz.packets, plain.packets);
    assert_eq!(gz.packets.len(), 3);
    assert_eq!(gz.end_offset, 604, "offsets count decompressed bytes");
}

#[test]
fn pcapng_without_packets() {
    let r = read_ok(&fixture("tcpdump__empty.pcapng"));
    assert!(r.packets.is_empty());
    assert_eq!((r.stats.sections, r.stats.interfaces), (1, 1));
}

#[test]
fn format_is_sniffed_not_taken_from_the_name() {
    // The reader never sees a name; this pins that a pcapng named .pcap and a pcap named
    // .pcapng (nDPI has both) are read by content.
    for name in ["ndpi__mpeg.pcap", "ndpi__knxip.pcapng", "tcpdump__tcp-handshake-nano.pcap"] {
        let bytes = fixture(name);
        let r = CaptureReader::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let expect = if bytes[..4] == [0x0a, 0x0d, 0x0d, 0x0a] { "pcapng" } else { "pcap" };
        assert_eq!(r.format(), expect, "{name}");
    }
}

/// A gzip fixture read whole; `end_offset` counts decompressed bytes, so `read_ok`'s length
/// check does not apply.
fn read_ok_gz(bytes: &[u8]) -> ReadAll {
    let r = read_all(bytes).expect("capture should open");
    assert!(r.error.is_none(), "unexpected error: {:?}", r.error);
    r
}

/// Count, earliest and latest packet time against capinfos, when it is installed.
#[test]
fn capinfos_agrees() {
    let fixtures = [
        "zeek__pcapng-multi-interface.pcapng",
        "multisection__zmtp1+knxip+kerberos_fuzz.pcapng",
        "ndpi__kerberos_fuzz.pcapng",
        "ndpi__quic-33.pcapng",
        "ndpi__mpeg.pcap",
        "ndpi__knxip.pcapng",
        "ndpi__knxip.pcapng.gz",
        "tcpdump__tcp-handshake-nano.pcap",
        "ndpi__fuzz-2006-09-29-28586.pcap",
        "zeek__trunc__icmp-payload-trunc.pcap",
        "zeek__pe__pe_files_timestamp.pcap.gz",
        "tcpdump__time_2106_max.pcap",
    ];
    for name in fixtures {
        let Some((count, earliest, latest)) = capinfos(name) else {
            eprintln!("capinfos not available: skipped");
            return;
        };
        let r = read_all(&fixture(name)).unwrap();
        assert!(r.error.is_none(), "{name}");
        assert_eq!(r.packets.len(), count, "{name}");
        assert_eq!(r.packets.iter().map(|p| p.ts).min().unwrap(), earliest, "{name}");
        assert_eq!(r.packets.iter().map(|p| p.ts).max().unwrap(), latest, "{name}");
    }
}

fn capinfos(name: &str) -> Option<(usize, i64, i64)> {
    let out = std::process::Command::new("capinfos")
        .args(["-T", "-r", "-c", "-a", "-e", "-S"])
        .arg(fixture_path(name))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let f: Vec<&str> = text.trim_end().split('\t').collect();
    let time = |s: &str| {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        let scale = 10i64.pow(9 - frac.len() as u32);
        ns(secs.parse().unwrap(), frac.parse::<i64>().unwrap_or(0) * scale)
    };
    Some((f[1].parse().ok()?, time(f[2]), time(f[3])))
}

//! Link types beyond Ethernet and cooked captures, on real captures (fixtures/captures, see
//! SOURCES.tsv there): Apple PKTAP (and DLT_USER2), PPI, IEEE 802.11 bare and behind radiotap,
//! and ARCnet in RFC 1051 and RFC 1201 framing. Expected values are tshark 4.0's:
//! `tshark -n -r F -T fields -e frame.number -e ip.src -e ipv6.src -e tcp.srcport -e udp.srcport
//! -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport -e ip.proto -e ipv6.nxt -e ip.len -e ipv6.plen`
//! (the IPv6 length is `ipv6.plen` + 40); "None" is a frame tshark finds no IP in (ARP).

use std::fmt::Write;

use phonehome_capture::{CaptureReader, Record};
use phonehome_decode::{Decoder, DecoderConfig, Packet, Transport};
use phonehome_model::{Counter, Counters, LinkType};

/// Decodes every frame of a fixture with one decoder: the link type of its frames, what each
/// frame decoded to (rendered), and the counters.
fn decode_all(name: &str) -> (Vec<LinkType>, Vec<String>, Counters) {
    let path = format!("{}/../../fixtures/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut reader = CaptureReader::new(file).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut counters = Counters::default();
    let (mut link_types, mut got) = (Vec::new(), Vec::new());
    while let Some(rec) = reader.next_record().unwrap_or_else(|e| panic!("{name}: {e}")) {
        if let Record::Packet(p) = rec {
            link_types.push(p.link_type);
            let packet = decoder.decode(p.ts, p.link_type, p.data, &mut counters);
            got.push(packet.as_ref().map_or("None".to_string(), render));
        }
    }
    (link_types, got, counters)
}

/// "src sport > dst dport proto tunnel ip_len", with "-" for what is absent.
fn render(p: &Packet<'_>) -> String {
    let (sp, dp) = match p.transport {
        Transport::Tcp(t) => (t.src_port.to_string(), t.dst_port.to_string()),
        Transport::Udp { src_port, dst_port, .. } => (src_port.to_string(), dst_port.to_string()),
        _ => ("-".into(), "-".into()),
    };
    let mut s = String::new();
    let _ = write!(s, "{} {sp} > {} {dp} {} {} {}", p.src, p.dst, p.proto.0, p.tunnel.unwrap_or("-"), p.ip_len);
    s
}

/// (capture, its link type, [(frame number, expected packet)]).
type Expected = (&'static str, LinkType, &'static [(usize, &'static str)]);

const EXPECTED: &[Expected] = &[
    ("tcpdump__LINKTYPE_PKTAP.pcap", LinkType::PKTAP, &[(1, "10.32.4.27 63538 > 10.32.100.15 53 17 - 60")]),
    ("tcpdump__LINKTYPE_USER2_PKTAP.pcap", LinkType::USER2, &[(1, "10.32.4.27 63538 > 10.32.100.15 53 17 - 60")]),
    // PPI carrying Ethernet.
    (
        "ndpi__someip_sd_sample.pcap",
        LinkType::PPI,
        &[
            (1, "192.168.88.73 30490 > 235.2.3.5 30490 17 - 84"),
            (2, "192.168.88.77 30490 > 192.168.88.73 30490 17 - 84"),
            (3, "192.168.88.73 30490 > 192.168.88.77 30490 17 - 72"),
            (4, "192.168.88.73 30490 > 235.2.3.5 30490 17 - 84"),
            (5, "192.168.88.77 30490 > 192.168.88.73 30490 17 - 84"),
            (6, "192.168.88.73 30490 > 192.168.88.77 30490 17 - 72"),
        ],
    ),
    // QoS data (ToDS, then FromDS), then plain data carrying IPv6; radiotap's Flags announce an
    // FCS on frames 1 and 3.
    (
        "zeek__radiotap.pcap",
        LinkType::IEEE802_11_RADIOTAP,
        &[
            (1, "172.17.156.76 61738 > 208.67.220.220 53 17 - 63"),
            (2, "208.67.220.220 53 > 172.17.156.76 61738 17 - 156"),
            (3, "fe80::a667:6ff:fef7:ec54 5353 > ff02::fb 5353 17 - 328"),
        ],
    ),
    (
        "zeek__wlanmon.pcap",
        LinkType::IEEE802_11,
        &[
            (1, "172.17.156.76 61738 > 208.67.220.220 53 17 - 63"),
            (2, "208.67.220.220 53 > 172.17.156.76 61738 17 - 156"),
            (3, "fe80::a667:6ff:fef7:ec54 5353 > ff02::fb 5353 17 - 328"),
        ],
    ),
    // Linux ARCnet, RFC 1051 (IP is protocol 240): ARP (241), ICMP, DNS, the HTTP connection.
    (
        "tcpdump__arcnet-rfc1051-arp-icmp-http.pcap",
        LinkType::ARCNET_LINUX,
        &[
            (1, "None"),
            (3, "10.80.131.1 - > 10.80.131.254 - 1 - 84"),
            (4, "10.80.131.254 - > 10.80.131.1 - 1 - 84"),
            (7, "10.80.131.1 1024 > 10.80.3.254 53 17 - 57"),
            (10, "10.80.3.254 53 > 10.80.131.1 1024 17 - 110"),
            (11, "10.80.131.1 1026 > 146.190.240.163 80 6 - 60"),
            (18, "146.190.240.163 80 > 10.80.131.1 1026 6 - 280"),
            (24, "10.80.131.1 1026 > 146.190.240.163 80 6 - 52"),
            (26, "None"),
        ],
    ),
    // Linux ARCnet, RFC 1201: protocol 212, then a split flag and a sequence number before IP.
    (
        "tcpdump__arcnet-rfc1201-arp-icmp-http.pcap",
        LinkType::ARCNET_LINUX,
        &[
            (1, "None"),
            (3, "10.80.131.1 - > 10.80.131.254 - 1 - 84"),
            (6, "10.80.131.254 - > 10.80.131.1 - 1 - 84"),
            (7, "None"),
            (9, "10.80.131.1 1024 > 10.80.3.254 53 17 - 57"),
            (12, "10.80.3.254 53 > 10.80.131.1 1024 17 - 110"),
            (13, "10.80.131.1 1027 > 146.190.240.163 80 6 - 60"),
            (20, "146.190.240.163 80 > 10.80.131.1 1027 6 - 280"),
            (26, "10.80.131.1 1027 > 146.190.240.163 80 6 - 52"),
        ],
    ),
];

#[test]
fn endpoints_match_tshark() {
    let mut failures = Vec::new();
    for &(file, lt, frames) in EXPECTED {
        let (link_types, got, _) = decode_all(file);
        assert!(link_types.iter().all(|&l| l == lt), "{file}: link types {link_types:?}, want {lt:?}");
        for &(n, want) in frames {
            match got.get(n - 1) {
                Some(g) if g == want => {}
                Some(g) => failures.push(format!("{file} frame {n}: got {g}, want {want}")),
                None => failures.push(format!("{file} frame {n}: not in capture (want {want})")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_ip_frame_tshark_sees_is_decoded() {
    // (capture, frames, frames with IP according to tshark, non-IP frames: ARP)
    for (file, frames, ip, non_ip) in [
        ("tcpdump__LINKTYPE_PKTAP.pcap", 1, 1, 0),
        ("tcpdump__LINKTYPE_USER2_PKTAP.pcap", 1, 1, 0),
        ("ndpi__someip_sd_sample.pcap", 6, 6, 0),
        ("zeek__radiotap.pcap", 3, 3, 0),
        ("zeek__wlanmon.pcap", 3, 3, 0),
        ("tcpdump__arcnet-rfc1051-arp-icmp-http.pcap", 26, 22, 4),
        ("tcpdump__arcnet-rfc1201-arp-icmp-http.pcap", 26, 22, 4),
    ] {
        let (_, got, c) = decode_all(file);
        let decoded = got.iter().filter(|g| *g != "None").count();
        assert_eq!((got.len(), decoded), (frames, ip), "{file}");
        let mut want = Counters::default();
        want.add(Counter::NonIpFrame, non_ip);
        // Nothing else is counted: no bad IP length from an FCS left in place, no truncation.
        assert_eq!(c, want, "{file}");
    }
}

#[test]
fn hostile_pktap_headers_are_counted() {
    // tcpdump's regression capture for a PKTAP heap overflow: a header length of 0, then one
    // that claims the whole 1024-byte frame (tshark: "pktap" and an empty PPP frame).
    let (link_types, got, c) = decode_all("tcpdump__pktap-heap-overflow.pcap");
    assert_eq!(link_types, [LinkType::USER2; 2]);
    assert_eq!(got, ["None", "None"]);
    assert_eq!(c.get(Counter::TruncatedLinkHeader), 2);
}

#[test]
fn aruba_gre_carries_802_11() {
    // tshark 4.0: the A-MSDU's first subframe is TCP 157.240.18.16:443 -> 149.159.130.184:49392.
    let (_, got, c) = decode_all("zeek__tunnels__gre-aruba-amsdu.pcap");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("157.240.18.16 443 > 149.159.130.184 49392 6 gre "), "{}", got[0]);
    assert_eq!(c.get(Counter::NonIpFrame), 0);
    // CCMP-protected frames cannot be read: the GRE packet itself is what is left, as tshark
    // shows it.
    let (_, got, _) = decode_all("zeek__tunnels__gre-aruba-ccmp.pcap");
    assert_eq!(got, ["10.226.22.9 - > 10.102.16.111 - 47 - 300"; 2]);
}

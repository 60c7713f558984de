//! Decoding real captures (fixtures/captures, see SOURCES.tsv there) against tshark 4.0's
//! answers: the innermost addresses and ports of chosen frames, and how many datagrams tshark
//! reassembled from IP fragments.

use std::fmt::Write;

use phonehome_capture::{CaptureReader, Record};
use phonehome_decode::{Decoder, DecoderConfig, Packet, Transport};
use phonehome_model::{Counter, Counters, LinkType, Timestamp};

fn fixture(name: &str) -> std::fs::File {
    let path = format!("{}/../../fixtures/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes every frame of a capture with one decoder; `each` sees (frame number, result).
fn decode_all(name: &str, config: DecoderConfig, mut each: impl FnMut(usize, Option<&Packet<'_>>)) -> Counters {
    let mut reader = CaptureReader::new(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut decoder = Decoder::new(config);
    let mut counters = Counters::default();
    let mut n = 0;
    while let Some(rec) = reader.next_record().unwrap_or_else(|e| panic!("{name}: {e}")) {
        if let Record::Packet(p) = rec {
            n += 1;
            let got = decoder.decode(p.ts, p.link_type, p.data, &mut counters);
            each(n, got.as_ref());
        }
    }
    counters
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

/// (capture, frame number, expected packet). Addresses and ports are tshark's last `ip.*` /
/// `ipv6.*` and `tcp.*` / `udp.*` occurrence of the frame; the tunnel name and `ip_len` were
/// checked by hand against the frame.
const EXPECTED: &[(&str, usize, &str)] = &[
    ("zeek__q-in-q.pcap", 1, "172.19.51.37 47808 > 172.19.51.63 47808 17 - 46"),
    ("zeek__q-in-q.pcap", 2, "172.19.51.37 47808 > 172.19.51.63 47808 17 - 46"),
    ("zeek__q-in-q.pcap", 4, "193.1.186.60 9875 > 224.2.127.254 9875 17 - 304"),
    ("zeek__mpls-in-vlan.pcap", 1, "65.65.65.65 19244 > 65.65.65.65 80 6 - 257"),
    ("zeek__mpls-in-vlan.pcap", 2, "65.65.65.65 80 > 65.65.65.65 32828 6 - 1500"),
    ("zeek__mpls-in-vlan.pcap", 3, "65.65.65.65 61193 > 65.65.65.65 80 6 - 710"),
    ("zeek__pppoe.pcap", 22, "fe80::c801:eff:fe88:8 - > ff02::16 - 58 - 76"),
    ("zeek__pppoe.pcap", 23, "fe80::c801:eff:fe88:8 - > ff02::16 - 58 - 76"),
    ("zeek__pppoe.pcap", 63, "fc00::1 - > fc00:0:2:100::1:1 - 58 - 100"),
    ("tcpdump__tcp-handshake-nano.pcap", 1, "131.155.215.69 46656 > 137.116.81.94 80 6 - 60"),
    ("tcpdump__tcp-handshake-nano.pcap", 2, "137.116.81.94 80 > 131.155.215.69 46656 6 - 60"),
    ("tcpdump__tcp-handshake-nano.pcap", 3, "131.155.215.69 46656 > 137.116.81.94 80 6 - 52"),
    ("zeek__linux_dlt_sll2.pcap", 1, "192.0.2.1 - > 192.0.2.1 - 1 - 84"),
    ("zeek__linux_dlt_sll2.pcap", 2, "192.0.2.1 - > 192.0.2.1 - 1 - 84"),
    ("zeek__linux_dlt_sll2.pcap", 4, "fe80::8c36:6ff:fe44:acaf - > fe80::8c36:6ff:fe44:acaf - 58 - 104"),
    ("tcpdump__LINKTYPE_RAW_ipv4.pcap", 1, "192.168.1.100 12345 > 9.9.9.9 53 17 - 57"),
    ("tcpdump__LINKTYPE_RAW_ipv6.pcap", 1, "2001:db8::1 12345 > 2620:fe::9 53 17 - 77"),
    ("tcpdump__LINKTYPE_IPV4.pcap", 1, "192.168.1.100 12345 > 9.9.9.9 53 17 - 57"),
    ("tcpdump__LINKTYPE_IPV6.pcap", 1, "2001:db8::1 12345 > 2620:fe::9 53 17 - 77"),
    ("zeek__dns-svcb.pcap", 1, "127.0.0.1 57549 > 127.0.0.1 53 17 - 80"),
    ("zeek__dns-svcb.pcap", 2, "127.0.0.1 53 > 127.0.0.1 57549 17 - 99"),
    ("ndpi__dlt_ppp.pcap", 1, "193.167.0.252 44083 > 193.167.100.100 443 17 - 1228"),
    ("tcpdump__nflog.pcap", 1, "74.82.42.42 53 > 10.0.0.20 42585 17 - 73"),
    ("tcpdump__nflog.pcap", 2, "74.82.42.42 53 > 10.0.0.20 45190 17 - 85"),
    ("tcpdump__nflog.pcap", 4, "74.82.42.42 53 > 10.0.0.20 48736 17 - 89"),
    ("zeek__dns-inverse-query.pcap", 1, "212.180.42.100 25000 > 131.243.64.3 53 6 - 44"),
    ("zeek__dns-inverse-query.pcap", 2, "131.243.64.3 53 > 212.180.42.100 25000 6 - 44"),
    ("zeek__dns-inverse-query.pcap", 11, "212.180.42.100 25000 > 131.243.64.3 53 6 - 40"),
    ("zeek__ipv4__fragmented-1.pcap", 3, "164.1.123.163 123 > 164.1.123.61 137 17 - 184"),
    ("zeek__ipv4__fragmented-syn.pcap", 2, "192.168.1.100 12345 > 10.0.0.5 80 6 - 60"),
    ("zeek__ipv6-fragmented-dns.pcap", 1, "2001:470:1f11:81f:d138:5f55:6d4:1fe2 51850 > 2607:f740:b::f93 53 17 - 121"),
    ("zeek__ipv6-fragmented-dns.pcap", 2, "2607:f740:b::f93 53 > 2001:470:1f11:81f:d138:5f55:6d4:1fe2 51850 17 - 371"),
    ("zeek__ipv6-fragmented-dns.pcap", 8, "2607:f740:b::f93 53 > 2001:470:1f11:81f:d138:5f55:6d4:1fe2 51851 17 - 3278"),
    ("zeek__tunnels__gre-pptp.pcap", 1, "172.16.44.3 40768 > 8.8.8.8 53 17 4in6 99"),
    ("zeek__tunnels__gre-pptp.pcap", 2, "8.8.8.8 53 > 172.16.44.3 40768 17 4in6 174"),
    ("zeek__tunnels__gre-erspan3-dot1q.pcap", 1, "172.31.10.31 - > 172.31.10.2 - 1 gre 84"),
    ("zeek__tunnels__gre-erspan3-dot1q.pcap", 2, "172.31.10.2 - > 172.31.10.31 - 1 gre 84"),
    ("zeek__erspanII.pcap", 1, "23.0.0.2 - > 23.0.0.3 - 1 gre 100"),
    ("zeek__erspanII.pcap", 2, "23.0.0.3 - > 23.0.0.2 - 1 gre 100"),
    ("zeek__erspanII.pcap", 4, "23.0.0.3 - > 23.0.0.2 - 1 gre 100"),
    ("zeek__tunnels__gre-over-udp-4754.pcap", 1, "172.17.0.2 51714 > 1.1.1.1 53 17 gre 54"),
    ("zeek__tunnels__gre-over-udp-4754.pcap", 2, "172.17.0.2 51714 > 1.1.1.1 53 17 gre 54"),
    ("zeek__tunnels__gre-over-udp-4754.pcap", 14, "172.17.0.2 36518 > 192.0.78.150 80 6 gre 40"),
    ("zeek__tunnels__vxlan.pcap", 1, "192.168.56.11 39924 > 192.168.56.12 4789 17 - 78"),
    ("zeek__tunnels__vxlan.pcap", 2, "192.168.56.12 40908 > 192.168.56.11 4789 17 - 78"),
    ("zeek__tunnels__vxlan.pcap", 10, "10.0.0.2 - > 10.0.0.1 - 1 vxlan 84"),
    ("zeek__tunnels__gtp__gtp_ext_header.pcap", 2, "10.155.182.202 41511 > 10.155.186.57 6005 6 gtp-u 1500"),
    ("zeek__tunnels__gtp__gtp7_ipv6.pcap", 1, "fe80::224c:4fff:fe43:414c 1234 > ff02::1:3 5355 17 gtp-u 80"),
    ("zeek__tunnels__gtp__gtp7_ipv6.pcap", 2, "fe80::224c:4fff:fe43:414c - > ff02::2 - 58 gtp-u 56"),
    ("zeek__tunnels__gtp__gtp10_not_0xff.pcap", 1, "247.56.43.90 2152 > 247.56.43.248 2152 17 - 52"),
    ("zeek__tunnels__gtp__gtp10_not_0xff.pcap", 2, "247.56.43.214 2152 > 237.56.101.238 2152 17 - 40"),
    ("zeek__tunnels__gtp__gtp10_not_0xff.pcap", 3, "237.56.101.238 2152 > 247.56.43.214 2152 17 - 42"),
    ("zeek__tunnels__gtp__gtp3_false_gtp.pcap", 1, "10.131.24.6 2152 > 195.178.38.3 53 17 - 64"),
    ("zeek__tunnels__4in4.pcap", 1, "10.0.0.1 30000 > 10.0.0.2 13000 17 ipip 32"),
    ("zeek__tunnels__6in4.pcap", 1, "dead::beef 30000 > cafe::babe 13000 17 6in4 52"),
    ("zeek__tunnels__4in6.pcap", 1, "70.55.213.211 31337 > 192.88.99.1 80 6 4in6 40"),
    ("zeek__tunnels__6in6in6.pcap", 1, "dead::beef 30000 > cafe::babe 13000 17 6in6 52"),
    ("zeek__tunnels__geneve-ipv6.pcap", 1, "fd00::1 40000 > fd00::2 40001 17 geneve 53"),
    ("zeek__tunnels__geneve-ipv6.pcap", 2, "fd00::2 40001 > fd00::1 40000 17 geneve 53"),
];

#[test]
fn innermost_endpoints_match_tshark() {
    let mut failures = Vec::new();
    let mut files: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    files.dedup();
    for file in files {
        let mut want: Vec<(usize, &str)> = EXPECTED.iter().filter(|e| e.0 == file).map(|e| (e.1, e.2)).collect();
        decode_all(file, DecoderConfig::default(), |n, p| {
            if let Some(i) = want.iter().position(|w| w.0 == n) {
                let got = p.map_or("None".to_string(), render);
                if got != want[i].1 {
                    failures.push(format!("{file} frame {n}: got {got}, want {}", want[i].1));
                }
                want.remove(i);
            }
        });
        for (n, w) in want {
            failures.push(format!("{file} frame {n}: not in capture (want {w})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reassembled_datagrams_match_tshark() {
    // tshark -T fields -e ip.reassembled.length -e ipv6.reassembled.length: frames with a value.
    for (file, fragments, reassembled, overlaps) in [
        ("zeek__ipv4__fragmented-1.pcap", 3, 1, 2),
        ("zeek__ipv4__fragmented-syn.pcap", 2, 1, 0),
        ("zeek__ipv6-fragmented-dns.pcap", 4, 1, 0),
        ("zeek__tunnels__gtp__gtp_ext_header.pcap", 2, 1, 0),
    ] {
        let c = decode_all(file, DecoderConfig::default(), |_, _| ());
        assert_eq!(
            (c.get(Counter::Fragments), c.get(Counter::Reassembled), c.get(Counter::FragmentOverlap)),
            (fragments, reassembled, overlaps),
            "{file}: {c:?}"
        );
    }
}

#[test]
fn tunnel_depth_is_bounded() {
    let config = DecoderConfig { max_tunnel_depth: 1, ..Default::default() };
    let mut got = None;
    let c = decode_all("zeek__tunnels__6in6in6.pcap", config, |_, p| got = p.map(render));
    assert_eq!((got, c.get(Counter::TunnelTooDeep)), (None, 1));
}

#[test]
fn fragment_timeout_uses_capture_time() {
    // The first fragment of the SYN, then the same frame again 31 s later: the first copy has
    // timed out by then, so nothing completes.
    let mut frames = Vec::new();
    let mut reader = CaptureReader::new(fixture("zeek__ipv4__fragmented-syn.pcap")).unwrap();
    while let Some(rec) = reader.next_record().unwrap() {
        if let Record::Packet(p) = rec {
            frames.push((p.ts, p.link_type, p.data.to_vec()));
        }
    }
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut c = Counters::default();
    let (ts, lt, first) = &frames[0];
    assert!(decoder.decode(*ts, *lt, first, &mut c).is_none());
    let (_, lt2, second) = &frames[1];
    let later = Timestamp(ts.0 + 31_000_000_000);
    assert!(decoder.decode(later, *lt2, second, &mut c).is_none());
    assert_eq!(c.get(Counter::FragmentTimeout), 1);
    assert_eq!(*lt, LinkType::ETHERNET);
}

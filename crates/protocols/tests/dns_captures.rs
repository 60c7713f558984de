//! The DNS parser on real captures, against tshark 4.0.17.
//!
//! Fixture captures (fixtures/captures, sources in SOURCES.tsv) are checked frame by frame
//! against tshark's fields, written below as tshark printed them (`tshark -n -r F -Y 'dns or
//! mdns or llmnr' -T fields -E occurrence=a -E aggregator=, -e frame.number
//! -e dns.flags.response -e dns.qry.name -e dns.a -e dns.aaaa -e dns.cname -e dns.srv.target
//! -e dns.ptr.domain_name -e dns.svcb.targetname -e dns.svcb.svcparam.alpn
//! -e dns.svcb.svcparam.ipv4hint.ip -e dns.svcb.svcparam.ipv6hint.ip`), since the corpus
//! truth files only hold the `dns` filter's rows (no mDNS/LLMNR) and fewer fields.
//!
//! The ignored `corpus_sweep` compares query names per capture with the whole corpus's truth
//! when ../shared/corpus exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::event::EndReason;
use phonehome_model::{Direction, IpProto};
use phonehome_protocols::dns::{self, Anomalies, Limits, Message, RData, TcpFramer};

/// One DNS message found in a capture.
struct Found {
    frame: u64,
    /// The flow's lower DNS port (53, 5353 or 5355).
    port: u16,
    msg: Result<Message, dns::Error>,
}

#[derive(Default)]
struct Collect {
    found: Vec<Found>,
}

fn dns_port(flow: &FlowInfo) -> Option<u16> {
    let f = &flow.flow_ref;
    let ports = [f.src_port?, f.dest_port?];
    let wanted: &[u16] = if f.proto == IpProto::TCP { &[53] } else { &[53, 5353, 5355] };
    wanted.iter().copied().find(|p| ports.contains(p))
}

impl FlowHandler for Collect {
    type State = [TcpFramer; 2];

    fn on_payload(&mut self, flow: &FlowInfo, framers: &mut [TcpFramer; 2], dir: Direction, payload: Payload<'_>) {
        let Some(port) = dns_port(flow) else { return };
        let limits = Limits::default();
        match payload {
            Payload::Datagram { bytes, frame } => {
                self.found.push(Found { frame, port, msg: dns::parse(bytes, &limits) });
            }
            Payload::Stream(Chunk::Data { bytes, frame, .. }) => {
                framers[dir.index()].push(bytes, |m| {
                    self.found.push(Found { frame, port, msg: dns::parse(m, &limits) });
                });
            }
            Payload::Stream(Chunk::Gap { .. }) => framers[dir.index()].gap(),
        }
    }

    fn on_end(&mut self, _flow: FlowInfo, _state: [TcpFramer; 2], _reason: EndReason) {}
}

/// Every DNS message of the capture, in frame order. A truncated capture still yields the
/// messages before the damage, as tshark's do.
fn messages(path: &Path) -> Vec<Found> {
    let mut found = phonehome_testkit::run(path, Collect::default()).0.found;
    found.sort_by_key(|f| f.frame);
    found
}

fn fixture(name: &str) -> PathBuf {
    phonehome_testkit::fixture(name)
}

fn join<T>(items: impl Iterator<Item = T>, f: impl Fn(T) -> String) -> String {
    items.map(f).collect::<Vec<_>>().join(",")
}

/// A message in tshark's columns: response flag, query names, then A, AAAA, CNAME, SRV
/// target, PTR, SVCB target, ALPN, ipv4hint and ipv6hint values over all sections.
fn columns(m: &Message) -> String {
    let rdata: Vec<&RData> = m.answers.iter().chain(&m.authority).chain(&m.additional).map(|r| &r.data).collect();
    let svcb: Vec<&dns::Svcb> = rdata
        .iter()
        .filter_map(|d| match d {
            RData::Svcb(s) | RData::Https(s) => Some(s),
            _ => None,
        })
        .collect();
    let name = |n: &dns::Name| if n.is_root() { "<Root>".to_string() } else { n.to_utf8() };
    let pick = |f: &dyn Fn(&RData) -> Option<String>| rdata.iter().filter_map(|d| f(d)).collect::<Vec<_>>().join(",");
    [
        u8::from(m.response).to_string(),
        join(m.queries.iter(), |q| q.name.to_utf8()),
        pick(&|d| if let RData::A(a) = d { Some(a.to_string()) } else { None }),
        pick(&|d| if let RData::Aaaa(a) = d { Some(a.to_string()) } else { None }),
        pick(&|d| if let RData::Cname(n) = d { Some(name(n)) } else { None }),
        pick(&|d| if let RData::Srv { target, .. } = d { Some(name(target)) } else { None }),
        pick(&|d| if let RData::Ptr(n) = d { Some(name(n)) } else { None }),
        join(svcb.iter(), |s| name(&s.target)),
        join(svcb.iter().flat_map(|s| &s.alpn), |a| String::from_utf8_lossy(a).into_owned()),
        join(svcb.iter().flat_map(|s| &s.ipv4hint), |a| a.to_string()),
        join(svcb.iter().flat_map(|s| &s.ipv6hint), |a| a.to_string()),
    ]
    .join("\t")
}

/// Checks every DNS/mDNS/LLMNR message of `capture` against tshark's rows, and returns
/// what was found for further checks.
fn check(capture: &str, tshark: &str) -> Vec<Found> {
    let found = messages(&fixture(capture));
    let ours: Vec<String> = found
        .iter()
        .map(|f| match &f.msg {
            Ok(m) => format!("{}\t{}", f.frame, columns(m)),
            Err(e) => format!("{}\terror: {e}", f.frame),
        })
        .collect();
    let want: Vec<String> = tshark
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join("\t"))
        .collect();
    assert_eq!(ours, want, "{capture}");
    found
}

#[test]
fn https_record() {
    let found = check(
        "zeek__dns-https.pcap",
        "1 | 0 | cloudflare.com | | | | | | | | |
         2 | 1 | cloudflare.com | | | | | | <Root> | h3,h3-29,h3-28,h3-27,h2 | 104.16.132.229,104.16.133.229 | 2606:4700::6810:84e5,2606:4700::6810:85e5",
    );
    let m = found[1].msg.as_ref().unwrap();
    assert_eq!(dns::rrtype_name(m.queries[0].rrtype), "HTTPS");
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn svcb_record() {
    let found = check(
        "zeek__dns-svcb.pcap",
        "1 | 0 | example.com | | | | | | | | |
         2 | 1 | example.com | | | | | | foo.example.com | | |",
    );
    assert_eq!(found[1].msg.as_ref().unwrap().queries[0].rrtype, 64);
}

#[test]
fn malformed_svcb_keeps_the_record() {
    let found = check(
        "zeek__dns__svcb-alpn-malformed-len-too-long.pcap",
        "1 | 0 | example.com | | | | | | | | |
         2 | 1 | example.com | | | | | | <Root> | h2 | |",
    );
    let m = found[1].msg.as_ref().unwrap();
    assert!(m.anomalies.contains(Anomalies::BAD_RDATA), "{:?}", m.anomalies);
}

#[test]
fn mdns_srv_and_plain_dns_with_cnames() {
    let found = check(
        "zeek__wikipedia-filtered-plus-udp.pcap",
        "1 | 0 | gemini._sftp-ssh._tcp.local | | | | | | | | |
         2 | 1 | | 141.142.220.50 | fe80::217:f2ff:fed7:cf65 | | gemini.local | | | | |
         3 | 1 | | 141.142.220.50 | fe80::217:f2ff:fed7:cf65 | | gemini.local | | | | |
         6 | 0 | upload.wikimedia.org | | | | | | | | |
         7 | 1 | upload.wikimedia.org | | | | | | | | |
         8 | 0 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         9 | 1 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         10 | 0 | upload.wikimedia.org | | | | | | | | |
         11 | 1 | upload.wikimedia.org | 208.80.152.3,208.80.152.130,208.80.152.142,91.198.174.4 | | upload.pmtpa.wikimedia.org | | | | | |
         14 | 0 | upload.wikimedia.org | | | | | | | | |
         15 | 1 | upload.wikimedia.org | | | | | | | | |
         16 | 0 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         17 | 1 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         18 | 0 | upload.wikimedia.org | | | | | | | | |
         19 | 1 | upload.wikimedia.org | 208.80.152.3,208.80.152.130,208.80.152.142,91.198.174.4 | | upload.pmtpa.wikimedia.org | | | | | |
         21 | 0 | upload.wikimedia.org | | | | | | | | |
         22 | 1 | upload.wikimedia.org | | | | | | | | |
         23 | 0 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         24 | 1 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         25 | 0 | upload.wikimedia.org | | | | | | | | |
         26 | 1 | upload.wikimedia.org | 208.80.152.3,208.80.152.130,208.80.152.142,91.198.174.4 | | upload.pmtpa.wikimedia.org | | | | | |
         29 | 0 | upload.wikimedia.org | | | | | | | | |
         30 | 1 | upload.wikimedia.org | | | | | | | | |
         31 | 0 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         32 | 1 | upload.wikimedia.org.ncsa.uiuc.edu | | | | | | | | |
         33 | 0 | upload.wikimedia.org | | | | | | | | |
         34 | 1 | upload.wikimedia.org | 208.80.152.3,208.80.152.130,208.80.152.142,91.198.174.4 | | upload.pmtpa.wikimedia.org | | | | | |
         36 | 0 | meta.wikimedia.org | | | | | | | | |
         37 | 1 | meta.wikimedia.org | | | text.wikimedia.org,text.pmtpa.wikimedia.org | | | | | |
         38 | 0 | meta.wikimedia.org | | | | | | | | |
         39 | 1 | meta.wikimedia.org | 208.80.152.2,208.80.152.130,208.80.152.142,91.198.174.4 | | text.wikimedia.org,text.pmtpa.wikimedia.org | | | | | |
         49 | 0 | gomez._sftp-ssh._tcp.local | | | | | | | | |
         52 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         53 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         54 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         55 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         59 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         60 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         62 | 0 | BRWC0CB383D1F42 | | | | | | | | |
         63 | 0 | BRWC0CB383D1F42 | | | | | | | | |",
    );
    let m = found.iter().find(|f| f.frame == 2).unwrap().msg.as_ref().unwrap();
    assert_eq!(found.iter().find(|f| f.frame == 2).unwrap().port, 5353);
    let srv = m.answers.iter().chain(&m.additional).find(|r| r.rrtype == 33).unwrap();
    assert!(matches!(srv.data, RData::Srv { port: 22, .. }));
    assert!(m.answers.iter().chain(&m.additional).any(|r| r.cache_flush), "mDNS cache-flush bit split off");
    assert!(found.iter().any(|f| f.port == 5355), "LLMNR queries for BRWC0CB383D1F42");
}

#[test]
fn mdns_ptr_and_known_answers() {
    let v6a = "4.c.d.4.1.e.e.f.f.f.6.d.c.3.8.8.5.3.2.8.c.3.0.c.e.9.2.4.2.5.d.f.ip6.arpa";
    let v6b = "f.2.8.f.3.6.5.1.6.c.b.5.8.6.9.5.5.3.2.8.c.3.0.c.e.9.2.4.2.5.d.f.ip6.arpa";
    let host = "johanna-QEMU-Virtual-Machine.local";
    let a1 = "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4";
    let a2 = "fd52:429e:c03c:8235:5968:5bc6:1563:f82f";
    let ipp = "_ipp._tcp.local,_ipps._tcp.local | | | | | | | | |";
    let t = format!(
        "1 | 0 | {ipp}
         2 | 0 | {ipp}
         3 | 1 | | | {a1},{a2} | | | {host},{host} | | | |
         4 | 1 | | 10.0.2.7 | {a1},{a2} | | | {host},{host},{host} | | | |
         9 | 0 | {ipp}
         10 | 0 | {ipp}
         11 | 0 | {v6a},{host},{v6b} | | {a2},{a1} | | | {host},{host} | | | |
         12 | 0 | {v6a},{host},7.2.0.10.in-addr.arpa,{v6b} | 10.0.2.7 | {a2},{a1} | | | {host},{host},{host} | | | |
         13 | 0 | {v6a},{host},{v6b} | | {a2},{a1} | | | {host},{host} | | | |
         14 | 0 | {v6a},{host},7.2.0.10.in-addr.arpa,{v6b} | 10.0.2.7 | {a2},{a1} | | | {host},{host},{host} | | | |
         17 | 0 | {v6a},{host},{v6b} | | {a2},{a1} | | | {host},{host} | | | |
         18 | 0 | {v6a},{host},7.2.0.10.in-addr.arpa,{v6b} | 10.0.2.7 | {a2},{a1} | | | {host},{host},{host} | | | |
         19 | 1 | | 10.0.2.7 | {a2},{a1} | | | {host},{host},{host} | | | |
         20 | 1 | | | {a2},{a1} | | | {host},{host} | | | |
         21 | 0 | {ipp}
         22 | 0 | {ipp}
         23 | 1 | | 10.0.2.7 | {a2},{a1} | | | {host},{host},{host} | | | |
         24 | 1 | | | {a2},{a1} | | | {host},{host} | | | |"
    );
    let found = check("zeek__dns__mdns.pcap", &t);
    assert!(found.iter().all(|f| f.port == 5353));
    // Probes ask with QTYPE ANY and the unicast-response bit.
    let probe = found.iter().find(|f| f.frame == 11).unwrap().msg.as_ref().unwrap();
    assert!(probe.queries.iter().all(|q| q.rrtype == 255 && q.class == 1));
}

#[test]
fn llmnr_utf8_names() {
    let found = check(
        "ndpi__custom_risk_mask.pcapng",
        "1 | 0 | 小佛專機 | | | | | | | | |
         2 | 0 | 小佛專機 | | | | | | | | |",
    );
    assert!(found.iter().all(|f| f.port == 5355));
    let name = &found[0].msg.as_ref().unwrap().queries[0].name;
    assert_eq!(name.to_string(), r"\229\176\143\228\189\155\229\176\136\230\169\159", "ASCII presentation form");
}

#[test]
fn dns_over_tcp() {
    let found = check(
        "tcpdump__dns_tcp.pcap",
        "4 | 0 | www.tcpdump.org | | | | | | | | |
         6 | 1 | www.tcpdump.org | 192.139.46.66,198.199.88.104,209.87.249.18,97.107.133.15 | 2607:f0b0:f::babe:f00d,2600:3c03::f03c:91ff:fe96:e8ef | | | | | | |",
    );
    assert!(found.iter().all(|f| f.msg.as_ref().unwrap().anomalies.is_empty()));
}

/// tshark calls frames 1 and 3 malformed and shows the loop in frame 2 as a name.
#[test]
fn invalid_names() {
    let found = messages(&fixture("zeek__dns__dns-invalid-names.pcap"));
    assert_eq!(found.iter().map(|f| f.frame).collect::<Vec<_>>(), [1, 2, 3]);
    for f in &found {
        let m = f.msg.as_ref().unwrap();
        assert!(m.queries.is_empty(), "frame {}: {:?}", f.frame, m.queries);
        assert!(!m.anomalies.is_empty(), "frame {}", f.frame);
    }
    let m = found[1].msg.as_ref().unwrap();
    assert!(m.anomalies.contains(Anomalies::POINTER_LOOP | Anomalies::SKIPPED_ENTRY), "{:?}", m.anomalies);
}

/// A name as tshark 4.0 prints it, for the sweep: labels as lossy UTF-8 (bytes that are not
/// UTF-8 become U+FFFD), control characters as C escapes or `\ooo` in octal, nothing else escaped; the
/// root as `.`.
fn tshark_style(name: &dns::Name) -> String {
    if name.is_root() {
        return ".".to_string();
    }
    let label = |l: &[u8]| {
        String::from_utf8_lossy(l)
            .chars()
            .map(|c| match c {
                '\t' => "\\t".to_string(),
                '\n' => "\\n".to_string(),
                '\r' => "\\r".to_string(),
                c if c < ' ' || c == '\u{7f}' => format!("\\{:03o}", u32::from(c)),
                c => c.to_string(),
            })
            .collect::<String>()
    };
    name.labels().map(label).collect::<Vec<_>>().join(".")
}

/// Query names per capture, against the corpus truth (tshark's `dns` rows: port 53 and
/// tshark's heuristics, no mDNS/LLMNR). Run with `cargo test -p phonehome-protocols --test
/// dns_captures -- --ignored --nocapture`.
#[test]
#[ignore]
fn corpus_sweep() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let Ok(manifest) = std::fs::read_to_string(corpus.join("MANIFEST.tsv")) else {
        eprintln!("no corpus at {}", corpus.display());
        return;
    };
    let (mut same, mut compared) = (0, 0);
    let mut report = Vec::new();
    let mut anomalies: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut parsed, mut errors) = (0, 0);
    for line in manifest.lines().skip(1) {
        let path = line.split('\t').next().unwrap();
        let Ok(truth) = std::fs::read_to_string(corpus.join("truth").join(format!("{path}.tsv"))) else { continue };
        let mut want = BTreeSet::new();
        let mut other_port = 0;
        let mut placeholders = 0;
        for row in truth.lines().filter(|l| l.starts_with("dns\t")) {
            let f: Vec<&str> = row.split('\t').collect();
            if f[4] != "53" && f[6] != "53" {
                other_port += 1;
                continue;
            }
            for n in f[7].split(',').filter(|n| !n.is_empty()) {
                match n {
                    // tshark's placeholders for names it could not read: we skip those
                    // entries (and flag them), so there is nothing to compare.
                    "<Root>" => want.insert(".".to_string()),
                    _ if n.starts_with('<') && n.ends_with('>') => {
                        placeholders += 1;
                        false
                    }
                    _ => want.insert(n.to_string()),
                };
            }
        }
        if want.is_empty() && other_port == 0 && !line.contains("dns") {
            continue;
        }
        let found = messages(&corpus.join(path));
        let mut ours = BTreeSet::new();
        for f in found.iter().filter(|f| f.port == 53) {
            match &f.msg {
                Ok(m) => {
                    parsed += 1;
                    for a in m.anomalies.names() {
                        *anomalies.entry(a).or_default() += 1;
                    }
                    ours.extend(m.queries.iter().map(|q| tshark_style(&q.name)));
                }
                Err(_) => errors += 1,
            }
        }
        compared += 1;
        if ours == want {
            same += 1;
        } else {
            let missing: Vec<_> = want.difference(&ours).take(5).cloned().collect();
            let extra: Vec<_> = ours.difference(&want).take(5).cloned().collect();
            report.push(format!(
                "{path}: tshark {} ours {} (tshark rows on other ports: {other_port}, placeholders: {placeholders}); missing {missing:?} extra {extra:?}",
                want.len(),
                ours.len()
            ));
        }
    }
    for r in &report {
        println!("{r}");
    }
    println!("anomalies (messages): {anomalies:?}");
    println!("messages parsed {parsed}, short-header errors {errors}");
    println!("query-name sets equal in {same} of {compared} captures");
    assert!(compared > 0);
}

//! QUIC Initial decryption on real captures: captures are read, decoded and put into flows by
//! the pipeline's own stages, each UDP flow feeds a `QuicConnection` (client datagrams and
//! server datagrams), and the hellos' server names are checked against tshark 4.0.17's
//! (`quic_sni` and `gquic_sni` rows of the corpus truth), copied here as literals so that the
//! tests run without ../shared.
//!
//! `corpus_sweep` (ignored) runs the comparison over every QUIC capture of the corpus when
//! ../shared/corpus exists, and prints recall and precision.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::event::EndReason;
use phonehome_model::{Direction, IpProto};
use phonehome_protocols::quic::{self, Anomalies, QuicConnection, QuicHello};
use phonehome_testkit::endpoint;

/// Per-flow state: the connection as the flow table oriented it, and (for the sweep's
/// diagnostics) one fed the other way round.
#[derive(Default)]
struct FlowState {
    conn: QuicConnection,
    reversed: QuicConnection,
    hello: Option<(u64, QuicHello)>,
    reversed_hello: Option<QuicHello>,
    client_datagrams: usize,
    datagrams_to_hello: usize,
}

/// What one UDP flow's Initials held.
#[derive(Debug)]
struct Flow {
    client: String,
    server: String,
    /// The hello and the frame that completed it.
    hello: Option<(u64, QuicHello)>,
    /// A hello found only when the flow's directions are swapped.
    reversed_hello: Option<QuicHello>,
    anomalies: Anomalies,
    client_version: Option<u32>,
    server_version: Option<u32>,
    client_datagrams: usize,
    /// Client datagrams fed until the hello completed.
    datagrams_to_hello: usize,
}

#[derive(Default)]
struct Collect {
    flows: Vec<Flow>,
}

impl FlowHandler for Collect {
    type State = FlowState;

    fn on_payload(&mut self, flow: &FlowInfo, s: &mut FlowState, dir: Direction, payload: Payload<'_>) {
        if flow.flow_ref.proto != IpProto::UDP {
            return;
        }
        let Payload::Datagram { bytes, frame } = payload else { return };
        match dir {
            Direction::ToServer => {
                s.client_datagrams += 1;
                if let Some(h) = s.conn.client_datagram(bytes) {
                    s.hello = Some((frame, h));
                    s.datagrams_to_hello = s.client_datagrams;
                }
                s.reversed.server_datagram(bytes);
            }
            Direction::ToClient => {
                s.conn.server_datagram(bytes);
                if let Some(h) = s.reversed.client_datagram(bytes) {
                    s.reversed_hello = Some(h);
                }
            }
        }
    }

    fn on_end(&mut self, flow: FlowInfo, s: FlowState, _reason: EndReason) {
        let f = &flow.flow_ref;
        if f.proto == IpProto::UDP {
            self.flows.push(Flow {
                client: endpoint(f.src_ip, f.src_port),
                server: endpoint(f.dest_ip, f.dest_port),
                hello: s.hello,
                reversed_hello: s.reversed_hello,
                anomalies: s.conn.anomalies(),
                client_version: s.conn.client_version(),
                server_version: s.conn.server_version(),
                client_datagrams: s.client_datagrams,
                datagrams_to_hello: s.datagrams_to_hello,
            });
        }
    }
}

fn flows(path: &Path) -> Vec<Flow> {
    phonehome_testkit::run(path, Collect::default()).0.flows
}

/// (client, server, version name, SNI) of every hello of a fixture, sorted.
fn hellos(name: &str) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = flows(&phonehome_testkit::fixture(name))
        .into_iter()
        .filter_map(|f| {
            let (_, h) = f.hello?;
            let sni = String::from_utf8_lossy(h.sni.as_deref().unwrap_or(b"")).into_owned();
            Some((f.client, f.server, quic::version_name(h.version), sni))
        })
        .collect();
    v.sort();
    v
}

fn row(client: &str, server: &str, version: &str, sni: &str) -> (String, String, String, String) {
    (client.to_string(), server.to_string(), version.to_string(), sni.to_string())
}

/// The only flow with a hello.
fn the_hello(name: &str) -> (Flow, u64, QuicHello) {
    let mut with: Vec<Flow> =
        flows(&phonehome_testkit::fixture(name)).into_iter().filter(|f| f.hello.is_some()).collect();
    assert_eq!(with.len(), 1, "{name}: {with:?}");
    let mut f = with.remove(0);
    let (frame, h) = f.hello.take().unwrap();
    (f, frame, h)
}

#[test]
fn illustrated_quic_v1() {
    // https://quic.xargs.org: the annotated v1 handshake. tshark: example.ulfheim.net.
    let (f, frame, h) = the_hello("illustrated-quic__capture.pcap");
    assert_eq!((f.client.as_str(), f.server.as_str(), frame), ("127.0.0.1:60220", "127.0.0.1:8400", 1));
    assert_eq!(h.version, quic::VERSION_1);
    assert_eq!(h.sni.as_deref(), Some(&b"example.ulfheim.net"[..]));
    assert_eq!(h.client_hello.alpn, [b"ping/1.0".to_vec()]);
    assert_eq!(h.client_hello.cipher_suites, [0x1301, 0x1302, 0x1303]);
    assert!(h.ja4.starts_with("q13d0"), "{}", h.ja4);
    assert_eq!(f.anomalies, Anomalies::default());
}

#[test]
fn version_2() {
    // zeek quicv2-echo-443. tshark: localhost.
    assert_eq!(hellos("zeek__quic__quicv2-echo-443.pcap"), [row("127.0.0.1:49320", "127.0.0.1:443", "2", "localhost")]);
}

#[test]
fn draft_29() {
    // nDPI quic-29. tshark: localhost.
    assert_eq!(hellos("ndpi__quic-29.pcap"), [row("10.9.0.1:36588", "10.9.0.2:443", "draft-29", "localhost")]);
}

#[test]
fn post_quantum_hello_across_three_initials() {
    // Chrome 115-era hello with an X25519MLKEM768 (0x11ec) key share, its CRYPTO frames
    // shuffled across three Initials. tshark: googleads.g.doubleclick.net.
    let (f, frame, h) = the_hello("zeek__quic__quic-multiple-initial-fragmented-crypto-only-initial.pcap");
    assert_eq!(f.client, "[2a0a:4587:2030:817:656b:fb57:5125:cb8f]:45945");
    assert_eq!((frame, f.datagrams_to_hello), (3, 3));
    assert_eq!(h.sni.as_deref(), Some(&b"googleads.g.doubleclick.net"[..]));
    assert_eq!(h.client_hello.key_share_groups[0], 0x11ec);
    assert_eq!(h.ja4, "q13d0313h3_55b375c5d22e_226f3f127bbe");
    assert_eq!(f.anomalies, Anomalies::default());
}

#[test]
fn later_initials_keyed_from_the_first_dcid() {
    // Three 0-RTT datagrams come first. The hello's Initials then go to the DCID the server
    // chose (eb6b..., one bit off the client's cb6b...) but stay keyed from cb6b..., with
    // CRYPTO ranges resent in shuffled frames. tshark: www.google.de at frame 9.
    let (f, frame, h) = the_hello("zeek__quic__quic-decrypt-fail-google-de-51833.pcap");
    assert_eq!((frame, f.datagrams_to_hello), (9, 8));
    assert_eq!(h.sni.as_deref(), Some(&b"www.google.de"[..]));
    assert_eq!(f.anomalies, Anomalies::default(), "no restart, no failure");
}

#[test]
fn second_initial_to_the_servers_dcid() {
    // The hello's second Initial addresses the DCID the server chose (20 bytes) but is keyed
    // from the client's first DCID. tshark: cdnjs.cloudflare.com at frame 3.
    let (f, frame, h) = the_hello("ndpi__quic_frags_different_dcid.pcapng");
    assert_eq!((f.client.as_str(), frame), ("129.21.84.33:37229", 3));
    assert_eq!(h.sni.as_deref(), Some(&b"cdnjs.cloudflare.com"[..]));
    assert_eq!(h.client_hello.key_share_groups, [0x6399, 0x001d], "X25519Kyber768Draft00 first");
    assert_eq!(f.anomalies, Anomalies::default());
}

#[test]
fn coalesced_initial_and_zero_rtt() {
    // Flow 1: Initial and 0-RTT in the first datagram. Flow 2: two 0-RTT datagrams, then the
    // Initial. tshark: abcd, ssl.gstatic.com.
    assert_eq!(
        hellos("ndpi__quic_0RTT.pcap"),
        [
            row("192.168.2.100:51972", "142.250.181.227:443", "1", "ssl.gstatic.com"),
            row("[::1]:60459", "[::1]:4443", "draft-28", "abcd"),
        ]
    );
}

#[test]
fn version_negotiation_forcing_initial() {
    // The client's first Initial carries version 0x1a2a3a4a (reserved to force negotiation)
    // and a real hello under the v1 salt. tshark 4.0 guesses the draft-29 salt for such
    // versions, fails, then keys the v1 Initials that follow from the wrong DCID: it reports
    // no name. The AEAD tag authenticates ours.
    assert_eq!(hellos("tcpdump__quic_vn.pcap"), [row("[::1]:57406", "[::1]:443", "0x1a2a3a4a", "localhost")]);
}

#[test]
fn google_t051() {
    // tshark: www.google.com.
    let (f, _, h) = the_hello("ndpi__quic_t51.pcap");
    assert_eq!(f.client, "187.227.136.152:55356");
    assert_eq!(quic::version_name(h.version), "T051");
    assert!(!h.gquic, "TLS inside");
    assert_eq!(h.sni.as_deref(), Some(&b"www.google.com"[..]));
    assert!(h.ja4.starts_with("q13d"), "{}", h.ja4);
}

#[test]
fn google_q050() {
    // Q050's Initial is encrypted with Google's salt and holds a CHLO. tshark:
    // www.googletagmanager.com.
    let (f, _, h) = the_hello("ndpi__quic_q50.pcap");
    assert_eq!(f.client, "248.144.129.147:39203");
    assert!(h.gquic);
    assert_eq!(quic::version_name(h.version), "Q050");
    assert_eq!(h.sni.as_deref(), Some(&b"www.googletagmanager.com"[..]));
    assert_eq!(h.user_agent.as_deref(), Some(&b"Chrome/83.0.4103.101 Android 8.0.0; LDN-L21"[..]));
    assert_eq!((h.ja4.as_str(), h.client_hello.cipher_suites.len()), ("", 0));
}

#[test]
fn google_q046_and_q043_cleartext() {
    // Q046: the capture starts at the connection's second CHLO (stream offset 1024).
    // tshark: play.google.com, dns.google.com.
    assert_eq!(
        hellos("ndpi__quic_q46.pcap"),
        [row("172.29.42.236:38292", "153.20.183.203:443", "Q046", "play.google.com")]
    );
    assert_eq!(
        hellos("ndpi__quic_q43.pcap"),
        [row("51.120.20.202:49241", "72.119.217.29:443", "Q043", "dns.google.com")]
    );
}

// ---- corpus sweep ----

#[derive(Default, Debug)]
struct Tally {
    captures: usize,
    /// Distinct (capture, SNI) pairs tshark reports.
    truth: usize,
    /// ... of which we found.
    matched: usize,
    /// Distinct (capture, SNI) pairs we report.
    ours: usize,
    /// ... that tshark lacks.
    extra: usize,
    /// Distinct (client endpoint, SNI) pairs tshark reports, and those we found on the same
    /// flow.
    flow_truth: usize,
    flow_matched: usize,
    /// QUIC JA4s nDPI's expected results give, and those we equal.
    ja4_compared: usize,
    ja4_matched: usize,
    /// ... that differ only where nDPI departs from the JA4 spec (d/i, ALPN characters).
    ja4_ndpi_deviation: usize,
    /// Hellos without a server name.
    without_sni: usize,
    /// UDP flows whose client sent a long header (or gQUIC version) but no hello was read.
    flows_without_hello: usize,
}

#[test]
#[ignore = "needs ../shared/corpus; run with --ignored --nocapture"]
fn corpus_sweep() {
    let Some(root) = phonehome_testkit::corpus() else {
        eprintln!("no corpus, skipped");
        return;
    };
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let mut t = Tally::default();
    let mut notes = Vec::new();
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for line in manifest.lines().skip(1) {
        let rel = line.split('\t').next().unwrap();
        let truth = std::fs::read_to_string(root.join("truth").join(format!("{rel}.tsv"))).unwrap_or_default();
        let expected: BTreeSet<String> = truth
            .lines()
            .filter(|l| l.starts_with("quic_sni\t") || l.starts_with("gquic_sni\t"))
            .map(|l| l.split('\t').nth(7).unwrap_or("").to_string())
            .collect();
        if expected.is_empty() && !line.to_ascii_lowercase().contains("quic") {
            continue;
        }
        t.captures += 1;
        let flows = flows(&root.join(rel));
        let ours: BTreeSet<String> = flows
            .iter()
            .filter_map(|f| f.hello.as_ref()?.1.sni.as_deref().map(|s| String::from_utf8_lossy(s).into_owned()))
            .collect();
        for f in &flows {
            if let Some((frame, h)) = &f.hello {
                *versions.entry(quic::version_name(h.version)).or_default() += 1;
                if std::env::var_os("PRINT_HELLOS").is_some() {
                    eprintln!(
                        "{rel} {} frame {frame} after {} datagrams v={} groups={:04x?} ja4={} sni={:?}",
                        f.client,
                        f.datagrams_to_hello,
                        quic::version_name(h.version),
                        h.client_hello.key_share_groups,
                        h.ja4,
                        h.sni.as_deref().map(String::from_utf8_lossy)
                    );
                }
            }
        }
        // Stricter: the same names on the same flows (tshark's row source is the client).
        let bracket =
            |ip: &str, port: &str| if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
        let expected_flows: BTreeSet<(String, String)> = truth
            .lines()
            .filter(|l| l.starts_with("quic_sni\t") || l.starts_with("gquic_sni\t"))
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                (bracket(c[3], c[4]), c[7].to_string())
            })
            .collect();
        let our_flows: BTreeSet<(String, String)> = flows
            .iter()
            .filter_map(|f| {
                let sni = f.hello.as_ref()?.1.sni.as_deref()?;
                Some((f.client.clone(), String::from_utf8_lossy(sni).into_owned()))
            })
            .collect();
        t.flow_truth += expected_flows.len();
        t.flow_matched += expected_flows.intersection(&our_flows).count();
        for e in expected_flows.difference(&our_flows) {
            notes.push(format!("{rel}: flow-level miss {e:?}"));
        }
        // JA4 against nDPI's expected results (its own QUIC dissector), flows either way round.
        let ndpi_out = rel
            .strip_prefix("ndpi/")
            .and_then(|n| std::fs::read_to_string(root.join("ndpi_expected_results").join(format!("{n}.out"))).ok())
            .unwrap_or_default();
        for l in ndpi_out.lines() {
            let Some(rest) = l.trim_start().split_once('\t').map(|(_, r)| r).filter(|r| r.starts_with("UDP ")) else {
                continue;
            };
            let Some(ja4) = l.split("[JA4: ").nth(1).and_then(|x| x.split(']').next()).filter(|j| j.starts_with('q'))
            else {
                continue;
            };
            let mut words = rest.split(' ');
            let (a, b) = (words.nth(1).unwrap_or(""), words.nth(1).unwrap_or(""));
            let ours = flows.iter().find_map(|f| {
                let same = (f.client == a && f.server == b) || (f.client == b && f.server == a);
                if same { f.hello.as_ref().map(|h| h.1.ja4.clone()) } else { None }
            });
            t.ja4_compared += 1;
            // nDPI's known deviations (as for TLS over TCP): its d/i follows the flow's host
            // name rather than the SNI extension, and its ALPN characters are not the first
            // and last of the first value ("h3" for "h3-29").
            let same_but = |o: &str, skip: Range<usize>| {
                o.len() == ja4.len() && o[..skip.start] == ja4[..skip.start] && o[skip.end..] == ja4[skip.end..]
            };
            match ours {
                Some(o) if o == ja4 => t.ja4_matched += 1,
                Some(o) if same_but(&o, 8..10) || same_but(&o, 3..4) || same_but(&o, 3..10) => {
                    t.ja4_ndpi_deviation += 1
                }
                o => notes.push(format!("{rel} {a} <-> {b}: JA4 ours {o:?} nDPI {ja4}")),
            }
        }
        t.truth += expected.len();
        t.ours += ours.len();
        for e in &expected {
            if ours.contains(e) {
                t.matched += 1;
                continue;
            }
            let rev = flows
                .iter()
                .filter_map(|f| f.reversed_hello.as_ref()?.sni.as_deref())
                .any(|s| String::from_utf8_lossy(s) == *e);
            let why: Vec<String> = flows
                .iter()
                .filter(|f| f.client_version.is_some() && f.hello.is_none())
                .map(|f| {
                    format!(
                        "{} -> {} v={} sv={:?} dgrams={} {:?}",
                        f.client,
                        f.server,
                        f.client_version.map(quic::version_name).unwrap_or_default(),
                        f.server_version.map(quic::version_name),
                        f.client_datagrams,
                        f.anomalies
                    )
                })
                .take(3)
                .collect();
            notes.push(format!("{rel}: missed {e:?} (found with directions swapped: {rev}); {why:?}"));
        }
        for o in &ours {
            if !expected.contains(o) {
                t.extra += 1;
                let f = flows.iter().find(|f| f.hello.as_ref().and_then(|h| h.1.sni.as_deref()) == Some(o.as_bytes()));
                let how = f.map(|f| {
                    let (frame, h) = f.hello.as_ref().unwrap();
                    format!("{} -> {} frame {frame} v={}", f.client, f.server, quic::version_name(h.version))
                });
                notes.push(format!("{rel}: tshark lacks {o:?} ({how:?})"));
            }
        }
        for f in &flows {
            let a = f.anomalies;
            if a.crypto_restarts > 0 || a.decrypt_failures > 0 {
                notes.push(format!("{rel}: {} -> {}: {a:?}", f.client, f.server));
            }
            match &f.hello {
                Some((frame, h)) if h.sni.is_none() => {
                    t.without_sni += 1;
                    notes.push(format!("{rel}: hello without SNI, frame {frame} v={}", quic::version_name(h.version)));
                }
                Some(_) => {}
                None if f.client_version.is_some() => {
                    t.flows_without_hello += 1;
                    notes.push(format!(
                        "{rel}: {} -> {} no hello: v={} dgrams={} {a:?}",
                        f.client,
                        f.server,
                        f.client_version.map(quic::version_name).unwrap_or_default(),
                        f.client_datagrams
                    ));
                }
                None => {}
            }
        }
    }
    for n in &notes {
        eprintln!("{n}");
    }
    eprintln!("hellos by version: {versions:?}");
    eprintln!("{t:#?}");
    eprintln!(
        "recall {:.3} precision {:.3}",
        t.matched as f64 / t.truth.max(1) as f64,
        (t.ours - t.extra) as f64 / t.ours.max(1) as f64
    );
    assert!(t.captures > 0);
}

//! TLS handshakes in real captures: captures are read, decoded and TCP-reassembled by the
//! pipeline's own stages, each direction feeds a `HandshakeAssembler`, and the hellos are
//! checked against tshark's SNI (corpus truth/) and nDPI's JA3C/JA4 (its tests' expected
//! results), copied here as literals so that the tests run without ../shared.
//!
//! `corpus_sweep` (ignored) runs the same comparison over every capture of the corpus when
//! ../shared/corpus exists.

use std::collections::HashMap;
use std::path::Path;

use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::event::EndReason;
use phonehome_model::{Direction, IpProto};
use phonehome_protocols::tls::{
    self, AssemblerState, ClientHello, HandshakeAssembler, ServerHello, Transport, parse_client_hello,
    parse_server_hello,
};
use phonehome_testkit::endpoint;

#[derive(Default)]
struct FlowState {
    asm: [HandshakeAssembler; 2],
    client_hellos: Vec<ClientHello>,
    server_hellos: Vec<ServerHello>,
    parse_errors: usize,
}

/// What one TCP flow's handshake held.
struct Flow {
    client: String,
    server: String,
    client_hellos: Vec<ClientHello>,
    server_hellos: Vec<ServerHello>,
    parse_errors: usize,
    states: [AssemblerState; 2],
}

#[derive(Default)]
struct Collect {
    flows: Vec<Flow>,
}

impl FlowHandler for Collect {
    type State = FlowState;

    fn on_payload(&mut self, _flow: &FlowInfo, s: &mut FlowState, dir: Direction, payload: Payload<'_>) {
        let asm = &mut s.asm[dir.index()];
        match payload {
            Payload::Stream(Chunk::Data { bytes, .. }) => asm.push(bytes),
            Payload::Stream(Chunk::Gap { .. }) => asm.gap(),
            Payload::Datagram { .. } => return,
        }
        while let Some(m) = asm.next_message() {
            match m.msg_type {
                tls::CLIENT_HELLO => match parse_client_hello(m.body) {
                    Ok(ch) => s.client_hellos.push(ch),
                    Err(_) => s.parse_errors += 1,
                },
                tls::SERVER_HELLO => match parse_server_hello(m.body) {
                    Ok(sh) => s.server_hellos.push(sh),
                    Err(_) => s.parse_errors += 1,
                },
                _ => {}
            }
        }
    }

    fn on_end(&mut self, flow: FlowInfo, s: FlowState, _reason: EndReason) {
        let f = &flow.flow_ref;
        if f.proto == IpProto::TCP {
            self.flows.push(Flow {
                client: endpoint(f.src_ip, f.src_port),
                server: endpoint(f.dest_ip, f.dest_port),
                client_hellos: s.client_hellos,
                server_hellos: s.server_hellos,
                parse_errors: s.parse_errors,
                states: [s.asm[0].state(), s.asm[1].state()],
            });
        }
    }
}

/// Every TCP flow of the capture, in the order they ended.
fn flows(path: &Path) -> Vec<Flow> {
    phonehome_testkit::run(path, Collect::default()).0.flows
}

fn fixture(name: &str) -> Vec<Flow> {
    flows(&phonehome_testkit::fixture(name))
}

/// The only flow with a ClientHello.
fn the_hello(flows: &[Flow]) -> (&Flow, &ClientHello) {
    let with: Vec<&Flow> = flows.iter().filter(|f| !f.client_hellos.is_empty()).collect();
    assert_eq!(with.len(), 1, "flows with a ClientHello");
    (with[0], &with[0].client_hellos[0])
}

#[test]
fn client_hello_over_several_segments() {
    // tshark: SNI i.instagram.com in frame 2; nDPI: JA3C 44dab16d..., JA4 t00d0309h2_...
    // (nDPI and the spec agree on "00": the highest supported_versions entry is Facebook's
    // Fizz draft 0xfb1a, which has no JA4 code).
    let flows = fixture("ndpi__tls_2_reasms.pcapng");
    let (flow, ch) = the_hello(&flows);
    assert_eq!((flow.client.as_str(), flow.server.as_str()), ("25.137.80.32:38134", "192.91.186.174:443"));
    assert_eq!(ch.server_name_str(), Some("i.instagram.com"));
    assert_eq!(tls::ja3(ch).1, "44dab16d680ef93487bc16ad23b3ffb1");
    assert_eq!(tls::ja4(ch, Transport::Tcp), "t00d0309h2_55b375c5d22e_566d5108064c");
    assert_eq!(ch.alpn, [&b"h2"[..], b"h2-fb", b"http/1.1"]);
    assert_eq!(flow.parse_errors, 0);
}

#[test]
fn post_quantum_chrome_hello() {
    // Chrome 125 with X25519Kyber768 (0x6399): a 1.2 KB key share pushes the hello over one
    // segment. tshark: SNI lh3.google.com.
    let flows = fixture("zeek__tls__chrome-1250-tls-x25519-kyber.pcap");
    let (flow, ch) = the_hello(&flows);
    assert_eq!(ch.server_name_str(), Some("lh3.google.com"));
    assert!(ch.key_share_groups.contains(&0x6399), "{:x?}", ch.key_share_groups);
    assert!(tls::is_grease(ch.key_share_groups[0]));
    assert!(ch.cipher_suites.iter().any(|&c| tls::is_grease(c)));
    let ja4 = tls::ja4(ch, Transport::Tcp);
    assert!(ja4.starts_with("t13d"), "{ja4}");
    assert!(ja4[4..10].ends_with("h2"), "{ja4}");
    assert_eq!(flow.server_hellos.len(), 1);
    assert_eq!(flow.server_hellos[0].version, 0x0304);
    assert_eq!(flow.states, [AssemblerState::Encrypted, AssemblerState::Encrypted]);
}

#[test]
fn illustrated_tls13() {
    // https://tls13.xargs.org: the annotated hello, byte for byte.
    let flows = fixture("illustrated-tls13__capture.pcap");
    let (flow, ch) = the_hello(&flows);
    assert_eq!(flow.client, "127.0.0.1:59219");
    assert_eq!(ch.legacy_version, 0x0303);
    assert_eq!(ch.random.to_vec(), (0u8..32).collect::<Vec<_>>());
    assert_eq!(ch.session_id, (0xe0u8..=0xff).collect::<Vec<_>>());
    assert_eq!(ch.cipher_suites, [0x1302, 0x1303, 0x1301, 0x00ff]);
    assert_eq!(ch.compression_methods, [0]);
    assert_eq!(ch.server_name.as_deref(), Some(&b"example.ulfheim.net"[..]));
    assert_eq!(ch.ec_point_formats, [0, 1, 2]);
    assert_eq!(ch.supported_groups, [0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104]);
    assert_eq!(ch.supported_versions, [0x0304]);
    assert_eq!(ch.key_share_groups, [0x001d]);
    assert_eq!(
        ch.extensions.iter().map(|e| e.ext_type).collect::<Vec<_>>(),
        [0x0000, 0x000b, 0x000a, 0x0023, 0x0016, 0x0017, 0x000d, 0x002b, 0x002d, 0x0033]
    );
    let sh = &flow.server_hellos[0];
    assert_eq!((sh.version, sh.cipher_suite, sh.key_share_group), (0x0304, 0x1302, Some(0x001d)));
    assert!(!sh.hello_retry_request);
    assert_eq!(sh.random.to_vec(), (0x70u8..0x90).collect::<Vec<_>>());
    let (ja3, _) = tls::ja3(ch);
    assert_eq!(ja3, "771,4866-4867-4865-255,0-11-10-35-22-23-13-43-45-51,29-23-30-25-24-256-257-258-259-260,0-1-2");
    assert!(tls::ja4(ch, Transport::Tcp).starts_with("t13d041000_"));
}

#[test]
fn encrypted_client_hello() {
    // nDPI: JA3C 6820f114..., JA4 t13d1516h2_8daaf6152771_02713d6af862; tshark: outer SNI.
    let flows = fixture("ndpi__tls_ech.pcapng");
    let (flow, ch) = the_hello(&flows);
    assert!(ch.ech);
    assert_eq!(flow.server, "[2606:4700::6812:1e4e]:443");
    assert_eq!(ch.server_name_str(), Some(ECH_OUTER_SNI));
    assert_eq!(tls::ja3(ch).1, "6820f114cf3b0809ffdcb30cb277848a");
    assert_eq!(tls::ja4(ch, Transport::Tcp), "t13d1516h2_8daaf6152771_02713d6af862");
}

const ECH_OUTER_SNI: &str = "performance.radar.cloudflare.com";

#[test]
fn odd_cipher_list_lengths() {
    // Crafted TLS 1.0 hellos with 36 and 66 ciphers and few or no extensions.
    // nDPI: JA3C 755cdaa3..., JA4 t10d360600_77f462745360_6072aad2e91d and JA3C 8eae3e18....
    let flows = fixture("ndpi__tls_cipher_lens.pcap");
    let by_client: HashMap<&str, &Flow> = flows.iter().map(|f| (f.client.as_str(), f)).collect();
    let ch = &by_client["192.168.11.11:51587"].client_hellos[0];
    assert_eq!(ch.server_name_str(), Some("www.google.it"));
    assert_eq!(tls::ja3(ch).1, "755cdaa3496eb8728247a639dee17aad");
    assert_eq!(tls::ja4(ch, Transport::Tcp), "t10d360600_77f462745360_6072aad2e91d");
    let ch = &by_client["192.168.11.11:51588"].client_hellos[0];
    assert_eq!(tls::ja3(ch).1, "8eae3e18d36ce24c4ac6b9eeb84ac762");
    // nDPI prints t10d660000_1ade43d4e5bc_e3b0c44298fc: e3b0c44298fc is SHA-256 of nothing,
    // where the JA4 spec wants 000000000000 for an empty extension list.
    assert_eq!(tls::ja4(ch, Transport::Tcp), "t10i660000_1ade43d4e5bc_000000000000");
}

#[test]
fn extension_block_with_trailing_garbage() {
    // A hello whose sixth extension claims 20 KB inside a 93-byte block (and whose ALPN list
    // length is bogus): the five before it count, as for nDPI (JA3C 9d5430e6..., JA4
    // t12d200500_...) and tshark (SNI e.crashlytics.com). The capture's other hello lacks a
    // byte of its extension length and still yields a JA3.
    let flows = fixture("ndpi__tls_invalid_reads.pcap");
    let by_client: HashMap<&str, &Flow> = flows.iter().map(|f| (f.client.as_str(), f)).collect();
    let ch = &by_client["10.191.139.17:58552"].client_hellos[0];
    assert!(ch.extensions_truncated);
    assert_eq!(ch.server_name_str(), Some("e.crashlytics.com"));
    assert!(ch.alpn.is_empty());
    assert_eq!(tls::ja3(ch).1, "9d5430e6dfce44459702b74d790df353");
    assert_eq!(tls::ja4(ch, Transport::Tcp), "t12d200500_6e20beb92e8e_354730cf0bf0");
    let ch = &by_client["192.168.10.101:3967"].client_hellos[0];
    assert!(ch.extensions_truncated && ch.extensions.is_empty() && ch.compression_methods.is_empty());
    // tshark prints "769,4-5-10-9-100-98-3-6-19-18-37," (it stops at the damage); JA3 always
    // has five fields.
    assert_eq!(tls::ja3(ch).0, "769,4-5-10-9-100-98-3-6-19-18-37,,,");
}

// ---- corpus sweep ----

/// An unordered endpoint pair, as nDPI prints flows either way round.
fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b { (a.to_string(), b.to_string()) } else { (b.to_string(), a.to_string()) }
}

fn bracket(ip: &str, port: &str) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
}

/// nDPI's expected results: (endpoint pair, JA3C, JA4) for every TCP flow with a JA3C.
fn ndpi_fingerprints(out: &str) -> Vec<((String, String), String, Option<String>)> {
    let field = |line: &str, name: &str| {
        let start = line.find(name)? + name.len();
        Some(line[start..].split(']').next()?.to_string())
    };
    let mut v = Vec::new();
    for line in out.lines() {
        let t = line.trim_start();
        let Some(rest) = t.split_once('\t').map(|(_, r)| r).filter(|r| r.starts_with("TCP ")) else { continue };
        let Some(ja3) = field(line, "[JA3C: ") else { continue };
        let mut words = rest.split(' ');
        let (a, b) = (words.nth(1).unwrap_or(""), words.nth(1).unwrap_or(""));
        v.push((pair(a, b), ja3, field(line, "[JA4: ")));
    }
    v
}

#[derive(Default, Debug)]
struct Tally {
    captures: usize,
    sni_truth: usize,
    sni_matched: usize,
    sni_extra: usize,
    ja3_compared: usize,
    ja3_matched: usize,
    ja4_compared: usize,
    ja4_matched: usize,
    ja4_matched_modulo_empty_hash: usize,
    /// nDPI's d/i follows its flow host name, not the SNI extension: "i" for an IP-literal
    /// SNI, "d" for a flow it named from DNS or HTTP.
    ja4_ndpi_sni_char: usize,
    /// nDPI's ALPN characters are not the first and last of the first value ("ht" for
    /// http/1.1, "h0" for h2 in some flows).
    ja4_ndpi_alpn_chars: usize,
    ja4_other_mismatch: usize,
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
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let rel = cols[0];
        let ndpi_out = rel
            .strip_prefix("ndpi/")
            .and_then(|n| std::fs::read_to_string(root.join("ndpi_expected_results").join(format!("{n}.out"))).ok());
        let want_sni = cols.get(5).is_some_and(|c| c.contains("tls-sni"));
        let fps = ndpi_out.as_deref().map(ndpi_fingerprints).unwrap_or_default();
        if !want_sni && fps.is_empty() {
            continue;
        }
        t.captures += 1;
        let flows = flows(&root.join(rel));

        if want_sni {
            let truth = std::fs::read_to_string(root.join("truth").join(format!("{rel}.tsv"))).unwrap_or_default();
            let mut expected: Vec<(String, String, String)> = truth
                .lines()
                .filter(|l| l.starts_with("tls_sni\t"))
                .map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    (bracket(f[3], f[4]), bracket(f[5], f[6]), f[7].to_string())
                })
                .collect();
            // tshark reports a retransmitted hello once per frame; compare distinct triples.
            expected.sort();
            expected.dedup();
            let mut ours: Vec<(String, String, String)> = flows
                .iter()
                .flat_map(|f| {
                    f.client_hellos.iter().filter_map(|ch| {
                        let sni = ch.server_name.as_ref()?;
                        Some((f.client.clone(), f.server.clone(), String::from_utf8_lossy(sni).into_owned()))
                    })
                })
                .collect();
            ours.sort();
            ours.dedup();
            t.sni_truth += expected.len();
            for e in &expected {
                if ours.contains(e) {
                    t.sni_matched += 1;
                } else {
                    let why = flows
                        .iter()
                        .find(|f| f.client == e.0 && f.server == e.1)
                        .map(|f| format!("{:?} hellos={} errors={}", f.states, f.client_hellos.len(), f.parse_errors))
                        .unwrap_or_else(|| "no such flow".into());
                    notes.push(format!("{rel}: missed SNI {e:?}: {why}"));
                }
            }
            for o in &ours {
                if !expected.contains(o) {
                    t.sni_extra += 1;
                    notes.push(format!("{rel}: SNI tshark lacks {o:?}"));
                }
            }
        }

        if std::env::var_os("PRINT_JA4").is_some() && rel.starts_with("ja4/") {
            for f in &flows {
                for ch in &f.client_hellos {
                    eprintln!("{rel} {} -> {}: {}", f.client, f.server, tls::ja4(ch, Transport::Tcp));
                }
            }
        }
        let by_pair: HashMap<(String, String), &Flow> =
            flows.iter().filter(|f| !f.client_hellos.is_empty()).map(|f| (pair(&f.client, &f.server), f)).collect();
        for (key, ja3, ja4) in &fps {
            let Some(flow) = by_pair.get(key) else {
                notes.push(format!("{rel}: no ClientHello for nDPI flow {key:?}"));
                continue;
            };
            let ch = &flow.client_hellos[0];
            t.ja3_compared += 1;
            let ours3 = tls::ja3(ch);
            if ours3.1 == *ja3 {
                t.ja3_matched += 1;
            } else {
                notes.push(format!("{rel} {key:?}: JA3 ours {} nDPI {ja3} ({})", ours3.1, ours3.0));
            }
            if let Some(ja4) = ja4 {
                t.ja4_compared += 1;
                let ours4 = tls::ja4(ch, Transport::Tcp);
                if ours4 == *ja4 {
                    t.ja4_matched += 1;
                } else if ours4.ends_with("_000000000000") && ja4.ends_with("_e3b0c44298fc") {
                    t.ja4_matched_modulo_empty_hash += 1;
                } else if ours4.len() == ja4.len() && ours4[..3] == ja4[..3] && ours4[4..] == ja4[4..] {
                    t.ja4_ndpi_sni_char += 1;
                } else if ours4.len() == ja4.len()
                    && ours4[..3] == ja4[..3]
                    && ours4[4..8] == ja4[4..8]
                    && ours4[10..] == ja4[10..]
                {
                    t.ja4_ndpi_alpn_chars += 1;
                    notes.push(format!(
                        "{rel} {key:?}: JA4 ALPN ours {ours4} nDPI {ja4} (first ALPN {:?})",
                        ch.alpn.first().map(|a| String::from_utf8_lossy(a).into_owned())
                    ));
                } else {
                    t.ja4_other_mismatch += 1;
                    notes.push(format!("{rel} {key:?}: JA4 ours {ours4} nDPI {ja4}"));
                }
            }
        }
    }
    for n in &notes {
        eprintln!("{n}");
    }
    eprintln!("{t:#?}");
    assert!(t.captures > 0);
    assert_eq!(t.ja3_matched, t.ja3_compared, "JA3 must agree with nDPI everywhere");
    assert_eq!(t.ja4_other_mismatch, 0, "JA4 differs from nDPI beyond its known deviations");
}

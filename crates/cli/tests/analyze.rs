//! End-to-end: the `phonehome analyze` binary on real captures, as a user runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn phonehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome")).args(args).current_dir(root()).output().unwrap()
}

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn count(events: &[Value], proto: &str) -> usize {
    events.iter().filter(|e| e["event_type"] == "flow" && e["proto"] == proto).count()
}

fn stats(events: &[Value]) -> &Value {
    let last = events.last().expect("no events");
    assert_eq!(last["event_type"], "stats", "stats must be the last event");
    &last["stats"]
}

#[test]
fn example_capture_matches_tshark_conversations() {
    let out = phonehome(&["analyze", "--format", "ndjson", "examples/1kxun.pcap"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ev = events(&out);
    // tshark 4.0 `-z conv,tcp` / `-z conv,udp` on this capture (../shared/corpus/truth).
    let (tcp, udp) = (count(&ev, "TCP"), count(&ev, "UDP"));
    assert!(tcp.abs_diff(98) <= 9, "tcp flows {tcp}, tshark 98");
    assert!(udp.abs_diff(99) <= 9, "udp flows {udp}, tshark 99");
    let st = stats(&ev);
    assert_eq!(st["packets"], 1723);
    assert_eq!(st["inputs"][0]["format"], "pcap");
    assert!(st["inputs"][0].get("error").is_none());
}

#[test]
fn every_event_carries_the_eve_fields() {
    let out = phonehome(&["analyze", "--format", "ndjson", "examples/1kxun.pcap"]);
    let ev = events(&out);
    for e in &ev {
        let ts = e["timestamp"].as_str().expect("timestamp");
        assert!(ts.len() == "2014-03-04T12:34:56.789012Z".len() && ts.ends_with('Z'), "{ts}");
        assert!(e["event_type"].is_string());
        if e["event_type"] == "flow" {
            for k in ["flow_id", "src_ip", "dest_ip", "proto"] {
                assert!(!e[k].is_null(), "flow event without {k}: {e}");
            }
            if e["proto"] == "TCP" || e["proto"] == "UDP" {
                assert!(e["src_port"].is_u64() && e["dest_port"].is_u64(), "{e}");
            }
            let f = &e["flow"];
            let pkts = f["pkts_toserver"].as_u64().unwrap() + f["pkts_toclient"].as_u64().unwrap();
            assert!(pkts > 0);
            assert!(f["start"].as_str().unwrap() <= f["end"].as_str().unwrap());
        }
    }
    // flow ids are unique among flow events, and every other event's flow_id names one of them
    let mut ids: Vec<u64> =
        ev.iter().filter(|e| e["event_type"] == "flow").filter_map(|e| e["flow_id"].as_u64()).collect();
    for id in ev.iter().filter(|e| e["event_type"] != "flow").filter_map(|e| e["flow_id"].as_u64()) {
        assert!(ids.contains(&id), "event for flow {id}, which has no flow event");
    }
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
    // Some flows are recognised by content.
    assert!(ev.iter().any(|e| e["app_proto"] == "http"));
    assert!(ev.iter().any(|e| e["app_proto"] == "dns"));
    assert!(ev.iter().any(|e| e["app_proto"] == "tls"));
}

#[test]
fn truncated_capture_reports_flows_and_the_offset() {
    let full = std::fs::read(root().join("examples/1kxun.pcap")).unwrap();
    let dir = std::env::temp_dir().join(format!("phonehome-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &full[..full.len() / 2 + 7]).unwrap();
    let out = phonehome(&["analyze", "--format", "ndjson", cut.to_str().unwrap()]);
    assert!(out.status.success(), "a partly readable capture is a success");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    assert!(stderr.contains("cut.pcap") && stderr.contains("byte offset"), "{stderr}");
    let ev = events(&out);
    assert!(count(&ev, "TCP") > 10);
    let st = stats(&ev);
    assert!(st["inputs"][0]["error"].as_str().unwrap().contains("byte offset"));
    assert_eq!(st["anomalies"]["truncated_file"], 1);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn garbage_and_missing_inputs_exit_2() {
    let out = phonehome(&["analyze", "README.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("README.md"));
    let out = phonehome(&["analyze", "no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let out = phonehome(&["analyze"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn one_bad_input_among_good_ones_is_still_success() {
    let out = phonehome(&["analyze", "--format", "ndjson", "README.md", "examples/1kxun.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let ev = events(&out);
    let st = stats(&ev);
    assert_eq!(st["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(st["skipped"]["unreadable_file"], 1);
}

#[test]
fn reads_standard_input_and_several_inputs() {
    let data = std::fs::read(root().join("examples/1kxun.pcap")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["analyze", "--format", "ndjson", "-", "examples/1kxun.pcap"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from another thread: the child streams its output while it reads, so writing
    // everything before reading would deadlock once its stdout pipe is full.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let ev = events(&out);
    let from_stdin = ev.iter().filter(|e| e["event_type"] == "flow" && e["pcap_filename"] == "-").count();
    let from_file =
        ev.iter().filter(|e| e["event_type"] == "flow" && e["pcap_filename"] == "examples/1kxun.pcap").count();
    assert!(from_stdin > 100);
    assert_eq!(from_stdin, from_file, "the same capture twice gives the same flows");
    assert_eq!(stats(&ev)["packets"], 2 * 1723);
}

#[test]
fn text_summary_names_destinations() {
    let out = phonehome(&["analyze", "examples/1kxun.pcap"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1723 packets"), "{text}");
    assert!(text.contains("Destinations"), "{text}");
}

/// A classic pcap (little-endian, microseconds, Ethernet) holding `frames`.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [1_700_000_000 + i as u32, 0, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

/// Ethernet + IPv4 + UDP 40000 -> 8.8.8.8:53, then PCAPdroid's 32-byte trailer for `app`.
fn pcapdroid_frame(app: &str) -> Vec<u8> {
    let payload = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03foo\x00\x00\x01\x00\x01";
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 215, 173, 1, 8, 8, 8, 8]);
    let udp_len = (8 + payload.len()) as u16;
    f.extend_from_slice(&[0x9c, 0x40, 0, 53, (udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    f.extend_from_slice(payload);
    f.extend_from_slice(&0x0107_2021u32.to_be_bytes());
    f.extend_from_slice(&10_123u32.to_be_bytes());
    let mut name = [0u8; 20];
    name[..app.len()].copy_from_slice(app.as_bytes());
    f.extend_from_slice(&name);
    let crc = crc32(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// Bitwise CRC-32 (IEEE), independent of the implementation under test.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

#[test]
fn pcapdroid_app_name_reaches_the_flow_event() {
    let dir = std::env::temp_dir().join(format!("phonehome-droid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("droid.pcap");
    let mut bad = pcapdroid_frame("com.evil.app");
    let n = bad.len();
    bad[n - 1] ^= 0xff; // a trailer whose CRC fails is not believed
    std::fs::write(&path, pcap(&[pcapdroid_frame("com.example.tracker"), bad])).unwrap();
    let out = phonehome(&["analyze", "--format", "ndjson", path.to_str().unwrap()]);
    assert!(out.status.success());
    let ev = events(&out);
    let flows: Vec<&Value> = ev.iter().filter(|e| e["event_type"] == "flow").collect();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["app"], "com.example.tracker");
    assert_eq!(flows[0]["app_proto"], "dns");
    assert_eq!(flows[0]["dest_ip"], "8.8.8.8");
    assert_eq!(flows[0]["flow"]["pkts_toserver"], 2);
    assert_eq!(stats(&ev)["anomalies"]["pcapdroid_bad_trailer"], 1);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn pcapng_secrets_and_names_are_counted_and_keys_never_printed() {
    let out = phonehome(&["analyze", "--format", "ndjson", "fixtures/captures/ndpi__quic-33.pcapng"]);
    assert!(out.status.success());
    let ev = events(&out);
    assert_eq!(stats(&ev)["inputs"][0]["decryption_secrets"], 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("SECRET"), "key log contents must stay out of reports");
    let out = phonehome(&["analyze", "--format", "ndjson", "fixtures/captures/ndpi__kerberos_fuzz.pcapng"]);
    assert_eq!(stats(&events(&out))["inputs"][0]["name_resolution_entries"], 1);
}

/// tshark 4.0's rows of one kind for the example capture (fixtures/truth, from
/// ../shared/corpus/truth): the set of values.
fn truth(kind: &str) -> std::collections::BTreeSet<String> {
    let t = std::fs::read_to_string(root().join("fixtures/truth/1kxun.pcap.tsv")).unwrap();
    t.lines()
        .filter(|l| l.split('\t').next() == Some(kind))
        .flat_map(|l| l.split('\t').nth(7).unwrap_or("").split(',').map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn dns_and_tls_names_match_tshark_on_the_example() {
    let out = phonehome(&["analyze", "--format", "ndjson", "examples/1kxun.pcap"]);
    let ev = events(&out);
    let dns: std::collections::BTreeSet<String> = ev
        .iter()
        .filter(|e| e["event_type"] == "dns" && (e["dest_port"] == 53 || e["src_port"] == 53))
        .flat_map(|e| e["dns"]["queries"].as_array().unwrap().iter().map(|q| q["rrname"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(dns, truth("dns"));
    let sni: std::collections::BTreeSet<String> =
        ev.iter().filter(|e| e["event_type"] == "tls").map(|e| e["tls"]["sni"].as_str().unwrap().to_string()).collect();
    assert_eq!(sni, truth("tls_sni"));
    // A DNS answer names the flows to its addresses afterwards, unless they name themselves.
    let to_kankan = |source: &str| {
        ev.iter().any(|e| {
            e["event_type"] == "flow"
                && e["dest_ip"] == "106.185.35.110"
                && e["dest_hostname"] == "jp.kankan.1kxun.mobi"
                && e["hostname_source"] == source
        })
    };
    assert!(to_kankan("http"), "its HTTP flows are named by their Host");
    // Here every resolved address also carries HTTP; in this capture some flows carry no
    // payload (SYN, RST) and only the earlier DNS answer can name them.
    let wiki = events(&phonehome(&[
        "analyze",
        "--format",
        "ndjson",
        "fixtures/captures/zeek__wikipedia-filtered-plus-udp.pcap",
    ]));
    assert!(wiki.iter().any(|e| e["event_type"] == "flow"
        && e["dest_ip"] == "208.80.152.3"
        && e["flow"]["bytes_toserver"] == 60
        && e["dest_hostname"] == "upload.wikimedia.org"
        && e["hostname_source"] == "dns"));
    // Every tls event precedes its flow's flow event.
    for (i, e) in ev.iter().enumerate().filter(|(_, e)| e["event_type"] == "tls") {
        let flow_at = ev.iter().position(|f| f["event_type"] == "flow" && f["flow_id"] == e["flow_id"]).unwrap();
        assert!(i < flow_at);
        assert_eq!(ev[flow_at]["hostname_source"], "sni");
        assert!(e["tls"]["ja4"].as_str().unwrap().starts_with("t1"));
    }
}

/// The SNIs of a capture's tls events (repeats in a row removed); checks the flows they name.
fn snis(capture: &str) -> Vec<String> {
    let ev = events(&phonehome(&["analyze", "--format", "ndjson", capture]));
    let tls: Vec<&Value> = ev.iter().filter(|e| e["event_type"] == "tls" && e["tls"]["sni"].is_string()).collect();
    for e in &tls {
        let flow = ev.iter().find(|f| f["event_type"] == "flow" && f["flow_id"] == e["flow_id"]).unwrap();
        assert_eq!((&flow["dest_hostname"], &flow["hostname_source"]), (&e["tls"]["sni"], &"sni".into()));
    }
    let mut names: Vec<String> = tls.iter().map(|e| e["tls"]["sni"].as_str().unwrap().to_string()).collect();
    names.dedup();
    names
}

#[test]
fn tls_that_starts_after_a_cleartext_exchange_is_read() {
    // Expected values: tshark 4.0 (../shared/corpus/truth).
    assert_eq!(snis("fixtures/captures/ndpi__smtp-starttls.pcap"), ["dovecot.weberlab.de"]);
    assert_eq!(snis("fixtures/captures/zeek__http__connect-with-header.pcap"), ["secure.newegg.com"]);
    assert_eq!(snis("fixtures/captures/ja4__socks-https-example.pcap"), ["www.example.com"]);
    assert_eq!(snis("fixtures/captures/ndpi__haproxy.pcap"), ["aaaaaaaaaaaaaaaa.xx"]);
    let stats = events(&phonehome(&["analyze", "--format", "ndjson", "fixtures/captures/ndpi__smtp-starttls.pcap"]));
    // Two SMTP sessions upgrade; the 2013 one sends no SNI.
    assert_eq!(stats.last().unwrap()["stats"]["anomalies"]["tls_after_cleartext"], 2);
}

#[test]
fn tls_handshake_cap_is_counted() {
    let capture = "fixtures/captures/zeek__tls__chrome-1250-tls-x25519-kyber.pcap";
    let ev = events(&phonehome(&["analyze", "--format", "ndjson", capture]));
    assert!(ev.iter().any(|e| e["event_type"] == "tls" && e["tls"]["sni"].is_string()));
    assert!(stats(&ev)["caps"].get("tls_handshake_buffer").is_none());
    // The post-quantum ClientHello (about 1.8 KB) does not fit in 512 bytes.
    let ev = events(&phonehome(&["analyze", "--format", "ndjson", "--max-tls-handshake", "512", capture]));
    assert!(!ev.iter().any(|e| e["event_type"] == "tls" && e["tls"]["sni"].is_string()));
    assert_eq!(stats(&ev)["caps"]["tls_handshake_buffer"], 1);
}

#[test]
fn http_requests_match_tshark_on_the_example() {
    // Values shown: tshark shows URLs as sent, identifiers included.
    let ev = events(&phonehome(&["analyze", "--format", "ndjson", "--show-values", "examples/1kxun.pcap"]));
    // (Host as sent, "METHOD target"), from tshark 4.0; http.hostname drops the port.
    let t = std::fs::read_to_string(root().join("fixtures/truth/1kxun.pcap.tsv")).unwrap();
    let want: std::collections::BTreeSet<(String, String)> = t
        .lines()
        .filter(|l| l.starts_with("http_req\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[7].split(':').next().unwrap().to_lowercase(), f[8].to_string())
        })
        .collect();
    let http: Vec<&Value> = ev.iter().filter(|e| e["event_type"] == "http").collect();
    let got: std::collections::BTreeSet<(String, String)> = http
        .iter()
        .map(|e| {
            let h = &e["http"];
            let host = h["hostname"].as_str().unwrap_or("").to_string();
            (host, format!("{} {}", h["http_method"].as_str().unwrap(), h["url"].as_str().unwrap()))
        })
        .collect();
    // SSDP NOTIFY requests are read by tshark 4.0 (its packet details show the method) but do
    // not set `http.request`, the field the truth comes from: they are the only extras.
    let extra: Vec<_> = got.difference(&want).collect();
    assert_eq!(
        extra,
        [&("239.255.255.250".to_string(), "NOTIFY *".to_string()), &("[ff02::c]".to_string(), "NOTIFY *".to_string())]
    );
    assert!(want.is_subset(&got));
    // Responses complete their requests; flows are named by their Host.
    let answered = http.iter().find(|e| e["http"]["status"] == 200).expect("an answered request");
    assert!(answered["http"]["length"].as_u64().unwrap() > 0);
    let flow = ev.iter().find(|f| f["event_type"] == "flow" && f["flow_id"] == answered["flow_id"]).unwrap();
    assert_eq!(flow["hostname_source"], "http");
    assert_eq!(flow["dest_hostname"], answered["http"]["hostname"]);
}

#[test]
fn quic_hellos_are_read_in_every_version() {
    // SNIs as tshark 4.0 reads them (it reads no Google QUIC Q050 CHLO; nDPI does).
    for (capture, version, sni) in [
        ("illustrated-quic__capture.pcap", "1", "example.ulfheim.net"),
        ("zeek__quic__quicv2-echo-443.pcap", "2", "localhost"),
        ("ndpi__quic-29.pcap", "draft-29", "localhost"),
        ("zeek__quic__quic-multiple-initial-fragmented-crypto-only-initial.pcap", "1", "googleads.g.doubleclick.net"),
        ("ndpi__quic_q46.pcap", "Q046", "play.google.com"),
        ("ndpi__quic_q50.pcap", "Q050", "www.googletagmanager.com"),
    ] {
        let ev = events(&phonehome(&["analyze", "--format", "ndjson", &format!("fixtures/captures/{capture}")]));
        let q = ev.iter().find(|e| e["event_type"] == "quic").unwrap_or_else(|| panic!("{capture}: no quic event"));
        assert_eq!((q["quic"]["version"].as_str(), q["quic"]["sni"].as_str()), (Some(version), Some(sni)), "{capture}");
        let flow = ev.iter().find(|f| f["event_type"] == "flow" && f["flow_id"] == q["flow_id"]).unwrap();
        assert_eq!((flow["dest_hostname"].as_str(), flow["hostname_source"].as_str()), (Some(sni), Some("sni")));
        assert_eq!(flow["app_proto"], "quic");
        // IETF QUIC hellos are TLS and get a JA4 with the QUIC prefix.
        if !version.starts_with('Q') {
            assert!(q["quic"]["ja4"].as_str().unwrap().starts_with("q13"), "{capture}");
        }
    }
}

#[test]
fn http_after_a_socks_exchange_is_read() {
    // Expected values: tshark 4.0 (../shared/corpus/truth/ndpi/socks.pcap.tsv): four requests,
    // each after a SOCKS5 handshake (port 21477 once, port 1080 three times).
    let ev = events(&phonehome(&["analyze", "--format", "ndjson", "fixtures/captures/ndpi__socks.pcap"]));
    let mut got: Vec<(String, String)> = ev
        .iter()
        .filter(|e| e["event_type"] == "http")
        .map(|e| (e["http"]["hostname"].as_str().unwrap().to_string(), e["http"]["url"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    let want = [("www.example.com", "/"), ("www.example.com", "/"), ("www.example.com", "/"), ("www.google.com", "/")];
    assert_eq!(got, want.map(|(h, u)| (h.to_string(), u.to_string())));
    assert_eq!(stats(&ev)["anomalies"]["http_after_cleartext"], 4);
}

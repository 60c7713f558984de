//! `--evidence-pcap`: the evidence file holds exactly the packets of the flows that carry
//! findings (checked against the run's own flow events, by our reader and by tshark when it is
//! installed), IP fragments of those flows included; inputs that cannot be read again are
//! named on stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use phonehome_capture::{CaptureReader, Record};
use phonehome_model::{LinkType, Timestamp};
use phonehome_testkit::packets::{ipv4, ipv4_frag, raw_pcap, tcp, udp};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn phonehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome")).args(args).current_dir(root()).output().unwrap()
}

/// A file in a directory of the test's own (tests run in parallel and clean up after
/// themselves).
fn temp(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonehome-evidence-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ndjson(out: &Output) -> Vec<Value> {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every packet of a capture: (link type, timestamp, bytes, original length).
fn packets(path: &Path) -> Vec<(LinkType, Timestamp, Vec<u8>, u32)> {
    let mut r = CaptureReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut v = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        if let Record::Packet(p) = rec {
            v.push((p.link_type, p.ts, p.data.to_vec(), p.orig_len));
        }
    }
    v
}

/// (client, server, proto) → packets, of the flows that have `leak` events.
fn leak_flows(events: &[Value]) -> BTreeMap<String, u64> {
    let ids: std::collections::BTreeSet<u64> =
        events.iter().filter(|e| e["event_type"] == "leak").map(|e| e["flow_id"].as_u64().unwrap()).collect();
    flows(events.iter().filter(|e| ids.contains(&e["flow_id"].as_u64().unwrap_or(0))))
}

fn flows<'a>(events: impl Iterator<Item = &'a Value>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in events.filter(|e| e["event_type"] == "flow") {
        let key = format!("{}:{} {}:{} {}", e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"], e["proto"]);
        *m.entry(key).or_default() +=
            e["flow"]["pkts_toserver"].as_u64().unwrap() + e["flow"]["pkts_toclient"].as_u64().unwrap();
    }
    m
}

fn tshark() -> Option<PathBuf> {
    ["/usr/bin/tshark", "/usr/local/bin/tshark"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

/// tshark's packet comments of a file, one line per packet; `None` without tshark.
fn tshark_comments(path: &Path) -> Option<Vec<String>> {
    let Some(tshark) = tshark() else {
        eprintln!("tshark is not installed: skipping the tshark half");
        return None;
    };
    let out = Command::new(tshark)
        .args(["-r", path.to_str().unwrap(), "-T", "fields", "-e", "frame.comment"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect())
}

#[test]
fn evidence_of_1kxun_is_exactly_its_leak_flows() {
    let ev = temp("1kxun", "1kxun.pcapng");
    let args = ["analyze", "--format", "ndjson", "--profile", "examples/profile.toml", "--evidence-pcap"];
    let out = phonehome(&[&args[..], &[ev.to_str().unwrap(), "examples/1kxun.pcap"]].concat());
    let events = ndjson(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = leak_flows(&events);
    assert_eq!(want.len(), 24, "{want:?}");
    let total: u64 = want.values().sum();
    assert!(stderr.contains(&format!("evidence: {total} packets of 24 flows with findings written to")), "{stderr}");

    // Read back with our reader: as many packets as the flows had, each one a packet of the
    // original with its timestamp, bytes, lengths and link type.
    let got = packets(&ev);
    assert_eq!(got.len() as u64, total);
    let original = packets(&root().join("examples/1kxun.pcap"));
    let mut at = 0;
    for p in &got {
        at += original[at..].iter().position(|o| o == p).expect("an original packet, in order") + 1;
    }

    // Analysed again, the evidence file has exactly the leak flows, with the same counts and
    // findings.
    let again = ndjson(&phonehome(&[
        "analyze",
        "--format",
        "ndjson",
        "--profile",
        "examples/profile.toml",
        ev.to_str().unwrap(),
    ]));
    assert_eq!(flows(again.iter()), want);
    let leaks = |ev: &[Value]| ev.iter().filter(|e| e["event_type"] == "leak").count();
    assert_eq!(leaks(&again), leaks(&events));

    // tshark reads it, and each packet's comment names its frame in the original.
    if let Some(comments) = tshark_comments(&ev) {
        assert_eq!(comments.len() as u64, total);
        assert!(comments.iter().all(|c| c.starts_with("examples/1kxun.pcap frame ")), "{comments:?}");
        assert!(
            comments
                .contains(&"examples/1kxun.pcap frame 1033: finding android_id in url, advertising_id in url".into()),
            "{comments:?}"
        );
    }
    let _ = std::fs::remove_file(&ev);
}

const PHONE: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [198, 51, 100, 7];
const OTHER: [u8; 4] = [203, 0, 113, 9];
const IMEI: &str = "356938035643809";

/// Frames 1-6: a TCP connection carrying the IMEI; 7-9: a new connection on the same ports
/// (port reuse) without it; 10 and 12: the two fragments (out of order) of a UDP datagram
/// carrying the IMEI, 11 an unrelated flow in between, 13 the server's answer on that UDP
/// flow; 14-15: fragments of another datagram between the same hosts, without the IMEI.
fn crafted() -> Vec<Vec<u8>> {
    let leak = format!("imei={IMEI}\r\n");
    let datagram = udp(5000, 6000, format!("hello {leak} and more bytes to fragment").as_bytes());
    let (head, tail) = datagram.split_at(16);
    let other = udp(5001, 6001, &[b'x'; 40]);
    let (ohead, otail) = other.split_at(24);
    let s = 1001 + leak.len() as u32;
    vec![
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 1000, 0, 0x02, b"")),
        ipv4(SERVER, PHONE, 6, &tcp(4444, 40001, 5000, 1001, 0x12, b"")),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 1001, 5001, 0x18, leak.as_bytes())),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, s, 5001, 0x11, b"")),
        ipv4(SERVER, PHONE, 6, &tcp(4444, 40001, 5001, s + 1, 0x11, b"")),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, s + 1, 5002, 0x10, b"")),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 9000, 0, 0x02, b"")),
        ipv4(SERVER, PHONE, 6, &tcp(4444, 40001, 7000, 9001, 0x12, b"")),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 9001, 7001, 0x18, b"nothing here")),
        ipv4_frag(PHONE, SERVER, 17, 77, 2, tail),
        ipv4(PHONE, OTHER, 6, &tcp(40002, 80, 1, 0, 0x02, b"")),
        ipv4_frag(PHONE, SERVER, 17, 77, 0x2000, head),
        ipv4(SERVER, PHONE, 17, &udp(6000, 5000, b"ok")),
        ipv4_frag(PHONE, SERVER, 17, 78, 0x2000, ohead),
        ipv4_frag(PHONE, SERVER, 17, 78, 3, otail),
    ]
}

#[test]
fn fragments_and_port_reuse() {
    let frames = crafted();
    let cap = temp("fragments", "crafted.pcap");
    std::fs::write(&cap, raw_pcap(1_700_000_000, &frames)).unwrap();
    let ev = temp("fragments", "crafted.pcapng");
    let id = format!("imei={IMEI}");
    let out = phonehome(&[
        "analyze",
        "--format",
        "ndjson",
        "--id",
        &id,
        "--evidence-pcap",
        ev.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    let events = ndjson(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Two flows with findings: the first TCP connection (6 packets) and the UDP flow (the
    // reassembled datagram and the answer: 2 packets, 3 frames).
    let want = leak_flows(&events);
    assert_eq!(want.values().collect::<Vec<_>>(), [&6, &2], "{want:?}");
    assert!(stderr.contains("evidence: 9 packets (1 of them IP fragments) of 2 flows with findings"), "{stderr}");

    // Frames 1-6, then fragment 10 with the frame 12 that completed its datagram, then 13.
    let got = packets(&ev);
    let want_frames = [1, 2, 3, 4, 5, 6, 10, 12, 13];
    assert_eq!(got.len(), want_frames.len());
    for (p, f) in got.iter().zip(want_frames) {
        assert_eq!(p.0, LinkType::RAW);
        assert_eq!(p.1, Timestamp::from_secs_nanos(1_700_000_000 + f - 1, (f as u32 - 1) * 1000));
        assert_eq!(p.2, frames[f as usize - 1], "frame {f}");
    }
    if let Some(comments) = tshark_comments(&ev) {
        let name = cap.to_str().unwrap();
        let mut want: Vec<String> = (1..=6).map(|f| format!("{name} frame {f}")).collect();
        want[2].push_str(": finding imei in payload");
        want.push(format!("{name} frame 10: IP fragment of the datagram completed in frame 12"));
        want.push(format!("{name} frame 12: finding imei in payload"));
        want.push(format!("{name} frame 13"));
        assert_eq!(comments, want);
    }
    let _ = std::fs::remove_dir_all(cap.parent().unwrap());
}

#[test]
fn inputs_that_cannot_be_read_again_are_named() {
    let ev = temp("again", "stdin.pcapng");
    let id = format!("imei={IMEI}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args([
            "analyze",
            "-q",
            "--id",
            &id,
            "--evidence-pcap",
            ev.to_str().unwrap(),
            "-",
            "scripts/browser/hostile.har",
        ])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cap = raw_pcap(1_700_000_000, &crafted());
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &cap).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Said even with -q: the file would otherwise look complete.
    assert!(
        stderr.contains("--evidence-pcap: -: standard input cannot be read a second time; the 8 packets of its flows with findings are not in"),
        "{stderr}"
    );
    assert!(stderr.contains("--evidence-pcap: scripts/browser/hostile.har: a HAR holds no packets; its "), "{stderr}");
    assert!(!stderr.contains("evidence: "), "no summary line with -q: {stderr}");
    // Still a valid (empty) pcapng.
    assert!(packets(&ev).is_empty());
    if let Some(comments) = tshark_comments(&ev) {
        assert!(comments.is_empty());
    }

    // The evidence file may not be one of the inputs.
    let cap_path = temp("again", "input.pcap");
    std::fs::write(&cap_path, &cap).unwrap();
    let out = phonehome(&["analyze", "--evidence-pcap", cap_path.to_str().unwrap(), cap_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is one of the inputs"));
    assert_eq!(std::fs::read(&cap_path).unwrap(), cap, "the input is untouched");

    // Nothing readable: no evidence file is left behind.
    let garbage = temp("again", "garbage.pcap");
    std::fs::write(&garbage, b"not a capture at all").unwrap();
    let none = temp("again", "none.pcapng");
    let out = phonehome(&["analyze", "--evidence-pcap", none.to_str().unwrap(), garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!none.exists());
    let _ = std::fs::remove_dir_all(ev.parent().unwrap());
}

#[test]
fn check_writes_evidence_too() {
    let ev = temp("check", "check.pcapng");
    let out = phonehome(&[
        "check",
        "--policy",
        "examples/policy.toml",
        "--profile",
        "examples/profile.toml",
        "--evidence-pcap",
        ev.to_str().unwrap(),
        "examples/1kxun.pcap",
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let by_analyze = temp("check", "analyze.pcapng");
    let out = phonehome(&[
        "analyze",
        "-q",
        "--profile",
        "examples/profile.toml",
        "--evidence-pcap",
        by_analyze.to_str().unwrap(),
        "examples/1kxun.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!packets(&ev).is_empty());
    assert_eq!(packets(&ev), packets(&by_analyze), "the same flows as analyze's");

    // A saved report holds no packets: said, and no empty file is left behind.
    let saved = temp("check", "saved.json");
    let out = phonehome(&["analyze", "--format", "json", "-o", saved.to_str().unwrap(), "examples/1kxun.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let none = temp("check", "none.pcapng");
    let out = phonehome(&[
        "check",
        "--policy",
        "examples/policy.toml",
        "--evidence-pcap",
        none.to_str().unwrap(),
        saved.to_str().unwrap(),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a saved report holds no packets"));
    assert!(!none.exists());
    let _ = std::fs::remove_dir_all(ev.parent().unwrap());
}

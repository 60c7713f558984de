//! `--threads` (issue 7): output is deterministic for a given input and number of threads,
//! the same for every number above 1, and holds the same events as `--threads 1`
//! (docs/OUTPUT.md, "Order").

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `phonehome analyze --format ndjson --threads N ARGS...`, which must succeed.
fn ndjson(threads: usize, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["analyze", "--format", "ndjson", "--threads", &threads.to_string()])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

/// Inputs that exercise what crosses flows: DNS answers naming later flows (1kxun, nest),
/// tunnels whose carrier and inner flows may sit on different threads, IP fragments,
/// flows ended together by a timeout (nest), a HAR between captures, identifiers found.
const INPUTS: &[&str] = &[
    "--id",
    "android_id=b9e28776354d259e",
    "examples/1kxun.pcap",
    "fixtures/captures/ndpi__nest_log_sink.pcap",
    "fixtures/har/1kxun_chrome.har",
    "fixtures/captures/zeek__tunnels__vxlan.pcap",
    "fixtures/captures/zeek__tunnels__gtp__gtp7_ipv6.pcap",
    "fixtures/captures/zeek__ipv4__fragmented-1.pcap",
    "fixtures/captures/zeek__ipv6-fragmented-dns.pcap",
    "fixtures/captures/zeek__wikipedia-filtered-plus-udp.pcap",
];

#[test]
fn two_threads_give_byte_identical_output_run_to_run() {
    let first = ndjson(2, INPUTS);
    let second = ndjson(2, INPUTS);
    assert!(first == second, "two runs with --threads 2 differ");
    assert!(first.lines().count() > 700, "{} events", first.lines().count());
}

#[test]
fn every_thread_count_above_one_gives_the_same_output() {
    let two = ndjson(2, INPUTS);
    for n in [3, 5] {
        assert!(ndjson(n, INPUTS) == two, "--threads {n} differs from --threads 2");
    }
}

#[test]
fn threads_give_the_single_threaded_events() {
    let one = ndjson(1, INPUTS);
    let two = ndjson(2, INPUTS);
    assert_eq!(sorted_lines(&one), sorted_lines(&two), "the multisets of events differ");
    // Flows named from DNS answers seen by other threads keep their names.
    assert!(two.contains(r#""hostname_source":"dns""#));
}

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
    // flow ids are unique
    let mut ids: Vec<u64> = ev.iter().filter_map(|e| e["flow_id"].as_u64()).collect();
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
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
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

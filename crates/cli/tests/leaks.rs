//! `leak` events end to end: declared and undeclared identifiers in real captures (the cases
//! of ../shared/corpus/truth/PII_HIGHLIGHTS.md), their evidence, and redaction.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn phonehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome")).args(args).current_dir(root()).output().unwrap()
}

fn ndjson(args: &[&str]) -> (String, Vec<Value>) {
    let mut all = vec!["analyze", "--format", "ndjson"];
    all.extend_from_slice(args);
    let out = phonehome(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let events = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (text, events)
}

fn leaks(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event_type"] == "leak").collect()
}

const ANDROID_ID: &str = "b9e28776354d259e";
const GAID: &str = "5ac6a0ff-8d18-47bc-a902-2812cf0c251e";

#[test]
fn declared_ids_are_found_with_evidence_in_1kxun() {
    let android = format!("android_id={ANDROID_ID}");
    let gaid = format!("advertising_id/GAID={GAID}");
    let (_, ev) = ndjson(&["--id", &android, "--id", &gaid, "examples/1kxun.pcap"]);
    let leaks = leaks(&ev);
    // Frame 1033 (tshark's numbering): the GET to ws.1kxun.mobi:1234 with both ids in its query.
    let first = leaks
        .iter()
        .find(|l| l["leak"]["kind"] == "android_id" && l["leak"]["declared"] == true)
        .expect("the declared Android ID");
    assert_eq!(first["pcap_cnt"], 1033);
    assert_eq!(first["dest_hostname"], "ws.1kxun.mobi");
    assert_eq!(first["dest_port"], 1234);
    assert_eq!(first["leak"]["location"], "url");
    assert_eq!(first["leak"]["encoding"], "plain");
    assert_eq!(first["leak"]["direction"], "toserver");
    assert_eq!(first["http"]["hostname"], "ws.1kxun.mobi");
    assert!(first["http"]["url"].as_str().unwrap().contains("_android_id=[android_id]"));
    // The same id in a request header (Client-AndroidId, frame 1043 and later).
    assert!(leaks.iter().any(|l| l["leak"]["kind"] == "android_id"
        && l["leak"]["declared"] == true
        && l["leak"]["location"] == "header:Client-AndroidId"));
    let labelled = leaks.iter().find(|l| l["leak"]["kind"] == "advertising_id").unwrap();
    assert_eq!(labelled["leak"]["label"], "GAID");
    assert_eq!(labelled["leak"]["declared"], true);
    // Every leak event comes before its flow's flow event and names its flow.
    for l in &leaks {
        let flow_at = ev.iter().position(|f| f["event_type"] == "flow" && f["flow_id"] == l["flow_id"]).unwrap();
        let leak_at = ev.iter().position(|e| std::ptr::eq(e, *l)).unwrap();
        assert!(leak_at < flow_at);
    }
}

#[test]
fn undeclared_ids_are_found_by_key_in_1kxun() {
    let (_, ev) = ndjson(&["examples/1kxun.pcap"]);
    let leaks = leaks(&ev);
    let by = |kind: &str, key: &str| {
        leaks.iter().any(|l| l["leak"]["kind"] == kind && l["leak"]["key"] == key && l["leak"]["declared"] == false)
    };
    assert!(by("android_id", "_android_id"));
    assert!(by("android_id", "Client-AndroidId"));
    assert!(by("advertising_id", "_aid"));
    assert!(by("advertising_id", "gaid"));
}

#[test]
fn values_stay_out_of_reports_unless_asked_for() {
    let android = format!("android_id={ANDROID_ID}");
    let (text, ev) = ndjson(&["--id", &android, "examples/1kxun.pcap"]);
    assert!(!leaks(&ev).is_empty());
    // Not in leak excerpts, not in http events' URLs, anywhere in the output.
    assert!(!text.contains(ANDROID_ID), "the Android ID leaked into the report");
    assert!(!text.contains(GAID), "the (undeclared) advertising id leaked into the report");
    let (text, ev) = ndjson(&["--show-values", "--id", &android, "examples/1kxun.pcap"]);
    assert!(text.contains(ANDROID_ID));
    assert!(leaks(&ev).iter().any(|l| l["leak"]["value"] == ANDROID_ID));
    // The text summary says what left, to whom; it never prints values either.
    let out = phonehome(&["analyze", "--id", &android, "examples/1kxun.pcap"]);
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(summary.contains("Identifiers sent"), "{summary}");
    assert!(summary.contains("android_id (declared, high confidence)"), "{summary}");
    assert!(summary.contains("ws.1kxun.mobi"), "{summary}");
    assert!(!summary.contains(ANDROID_ID));
}

#[test]
fn raw_payload_of_other_protocols_is_searched() {
    // POP3 has no dissector: its bytes are searched as they are. The client's USER command
    // carries an e-mail address (undeclared); the mail it downloads carries a phone number,
    // found only when declared and what the server sends is searched (downloaded mail is not
    // the device leaking).
    let args = ["--id", "phone=+39 081 768 3821", "fixtures/captures/ndpi__pop3.pcap"];
    let (_, ev) = ndjson(&args);
    assert!(leaks(&ev).iter().all(|l| l["leak"]["direction"] == "toserver"), "by default only what the device sends");
    let (_, ev) = ndjson(&[&["--search-received"], &args[..]].concat());
    let found = leaks(&ev);
    let email = found.iter().find(|l| l["leak"]["kind"] == "email").expect("USER e-mail");
    assert_eq!(email["leak"]["location"], "payload");
    assert_eq!(email["leak"]["direction"], "toserver");
    assert_eq!(email["pcap_cnt"], 6);
    let phone = found.iter().find(|l| l["leak"]["kind"] == "phone").expect("declared phone");
    assert_eq!(phone["leak"]["declared"], true);
    assert_eq!(phone["leak"]["direction"], "toclient");
    assert_eq!(phone["pcap_cnt"], 22);
    assert!(found.iter().all(|l| l["leak"]["kind"] != "phone" || l["leak"]["declared"] == true));
    // A UDP reply is searched both ways: an HP printer's SLP answer with its MAC.
    let (_, ev) = ndjson(&["fixtures/captures/ndpi__srvloc-v1.pcapng"]);
    let mac = leaks(&ev).into_iter().find(|l| l["leak"]["kind"] == "mac").expect("x-hp-mac");
    assert_eq!(mac["leak"]["key"], "x-hp-mac");
    assert_eq!(mac["leak"]["location"], "payload");
}

#[test]
fn names_are_searched_where_they_travel() {
    // A declared custom string inside a DNS question and inside a TLS SNI.
    let (_, ev) = ndjson(&["--id", "custom=kankan.1kxun", "examples/1kxun.pcap"]);
    assert!(leaks(&ev).iter().any(|l| l["leak"]["location"] == "dns"));
    let dns = ev.iter().find(|e| e["event_type"] == "dns" && e["dns"]["type"] == "query").unwrap();
    assert!(!serde_json::to_string(dns).unwrap().contains("kankan.1kxun"), "DNS names are redacted");
    let (_, ev) = ndjson(&["--id", "custom=weberlab", "fixtures/captures/ndpi__smtp-starttls.pcap"]);
    let sni = leaks(&ev).into_iter().find(|l| l["leak"]["location"] == "sni").expect("SNI leak");
    assert_eq!(sni["leak"]["kind"], "custom");
}

#[test]
fn a_profile_file_and_bad_ids_are_handled() {
    // The shipped example profile loads; its values are made up and not in the example.
    let (_, ev) = ndjson(&["--profile", "examples/profile.toml", "--declared-only", "examples/1kxun.pcap"]);
    assert!(leaks(&ev).is_empty());
    let out = phonehome(&["analyze", "--id", "imeii=1", "examples/1kxun.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("imeii"));
    let out = phonehome(&["analyze", "--profile", "no/such/profile.toml", "examples/1kxun.pcap"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn har_files_are_searched_like_captures() {
    // The made-up device of fixtures/har/SOURCES.md, declared.
    let ids = [
        "imei=353288072143666",
        "android_id=3f8a9c2e71b4d605",
        "advertising_id=c9f3e2a1-7b4d-4e8f-9a2c-5d6e7f8a9b0c",
        "phone=+447700900123",
        "email=jane.doe@example.com",
        "mac=a4:83:e7:5b:12:9f",
    ];
    let mut args: Vec<&str> = ids.iter().flat_map(|id| ["--id", id]).collect();
    args.extend(["--search-received", "fixtures/har/mitmproxy_app.har", "fixtures/har/pcapdroid_app.har"]);
    let (text, ev) = ndjson(&args);
    let found = leaks(&ev);
    let seen = |kind: &str, file: &str| {
        found.iter().any(|l| {
            l["leak"]["kind"] == kind
                && l["leak"]["declared"] == true
                && l["pcap_filename"].as_str().unwrap().ends_with(file)
        })
    };
    for kind in ["imei", "android_id", "advertising_id", "phone", "email"] {
        assert!(seen(kind, "mitmproxy_app.har"), "{kind} in mitmproxy_app.har");
    }
    for kind in ["android_id", "advertising_id", "phone", "email"] {
        assert!(seen(kind, "pcapdroid_app.har"), "{kind} in pcapdroid_app.har");
    }
    // Where: a form POST body, a query string, a header, a WebSocket message; the SHA-256 of
    // the e-mail address in a response.
    let at = |loc: &str| found.iter().any(|l| l["leak"]["location"] == loc);
    assert!(at("body") && at("url") && at("payload") && at("header:x-device-id"));
    assert!(
        found
            .iter()
            .any(|l| l["leak"]["kind"] == "email" && l["leak"]["encoding"].as_str().unwrap().contains("sha256"))
    );
    // Each entry is an http event; leaks name the request's host and carry no frame.
    let http = ev.iter().filter(|e| e["event_type"] == "http").count();
    assert!(http >= 12, "{http} http events");
    assert!(found.iter().all(|l| l["pcap_cnt"].is_null() && l["http"]["hostname"].is_string()));
    assert!(!text.contains("3f8a9c2e71b4d605"), "values are redacted");
    let st = &ev.last().unwrap()["stats"];
    assert_eq!(st["inputs"][0]["format"], "har");
}

#[test]
fn a_broken_har_is_reported_and_what_it_holds_is_read() {
    // quirks.har ends inside its last entry: the entries before the cut are read.
    let (_, ev) = ndjson(&["fixtures/har/quirks.har"]);
    assert!(ev.iter().filter(|e| e["event_type"] == "http").count() >= 3);
    assert!(ev.last().unwrap()["stats"]["skipped"]["har_entry_skipped"].as_u64().unwrap() >= 1);
    // Not a HAR at all: exit 2 with a message.
    let dir = std::env::temp_dir().join(format!("phonehome-har-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.har");
    std::fs::write(&bad, b"{\"not\": \"a har\"}").unwrap();
    let out = phonehome(&["analyze", "--format", "ndjson", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable HAR"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_findings_cap_is_counted() {
    // 1kxun's URLs carry several identifiers each: with one finding per text, the rest are
    // dropped and counted; by default nothing is.
    let (_, ev) = ndjson(&["examples/1kxun.pcap"]);
    assert!(ev.last().unwrap()["stats"]["caps"].get("findings").is_none());
    let all = leaks(&ev).len();
    let (_, ev) = ndjson(&["--max-findings-per-flow", "1", "examples/1kxun.pcap"]);
    let dropped = ev.last().unwrap()["stats"]["caps"]["findings"].as_u64().unwrap();
    assert!(dropped > 0);
    assert!(leaks(&ev).len() < all);
}

//! Inside TLS and QUIC, end to end: `--keylog` files and pcapng Decryption Secrets Blocks,
//! every cipher suite the corpus and our own loopback captures hold, HTTP/1.1, HTTP/2 and
//! HTTP/3 read from the plaintext as tshark reads them, identifiers found inside, and each
//! flow's `decryption` object.
//!
//! Captures: fixtures/captures/loopback__tls-http.pcap (made by scripts/make_tls_loopback.py)
//! and crates/decrypt/tests/data (real captures with their key logs; sources and licences in
//! SOURCES.md there).

use std::collections::BTreeSet;
mod common;

use common::{ndjson, of_type, phonehome, root};
use serde_json::Value;

/// A file of crates/decrypt/tests/data, relative to the repository root.
fn data(name: &str) -> String {
    format!("crates/decrypt/tests/data/{name}")
}

const LOOPBACK: &str = "fixtures/captures/loopback__tls-http.pcap";
const LOOPBACK_KEYS: &str = "fixtures/captures/loopback__tls-http.keylog";
/// The identifiers scripts/make_tls_loopback.py puts in every request.
const LOOPBACK_IDS: [&str; 12] = [
    "--id",
    "imei=356938035643809",
    "--id",
    "android_id=9774d56d682e549c",
    "--id",
    "advertising_id=38400000-8cf0-11bd-b23e-10b96e40000d",
    "--id",
    "email=jane.doe@example.com",
    "--id",
    "phone=+6591112222",
    "--id",
    "mac=a4:5e:60:c2:19:3b",
];

/// The `decryption` objects of the TLS or QUIC flows, by client port.
fn decryption_by_port(events: &[Value]) -> Vec<(u64, Value)> {
    let mut v: Vec<(u64, Value)> = of_type(events, "flow")
        .into_iter()
        .filter(|f| f.get("decryption").is_some())
        .map(|f| (f["src_port"].as_u64().unwrap(), f["decryption"].clone()))
        .collect();
    v.sort_by_key(|(p, _)| *p);
    v
}

/// (host, method, path) of every `http` event, sorted, as tshark's fields would list them.
fn requests(events: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = of_type(events, "http")
        .into_iter()
        .map(|h| {
            let h = &h["http"];
            format!(
                "{}\t{}\t{}",
                h["hostname"].as_str().unwrap_or(""),
                h["http_method"].as_str().unwrap(),
                h["url"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

/// Our own capture: TLS 1.2 and 1.3, each with HTTP/1.1 and HTTP/2 (curl against a local
/// server). Every declared identifier is found inside TLS where the request put it: the
/// query string, a header, a cookie and a gzip-compressed JSON body; the server's gzip
/// response echoes the e-mail address back (found with `--search-received`).
#[test]
fn loopback_identifiers_inside_tls12_and_tls13_http1_and_http2() {
    let mut args = vec![LOOPBACK, "--keylog", LOOPBACK_KEYS, "--search-received"];
    args.extend_from_slice(&LOOPBACK_IDS);
    let ev = ndjson(&args);
    let flows = decryption_by_port(&ev);
    assert_eq!(flows.len(), 4, "{flows:?}");
    for (port, d) in &flows {
        assert_eq!(d["decrypted"], true, "{port}: {d}");
        assert_eq!(d["key_source"], "key_log", "{port}: {d}");
        assert!(d.get("reason").is_none(), "{port}: {d}");
    }
    let inner: BTreeSet<&str> = flows.iter().map(|(_, d)| d["inner"].as_str().unwrap()).collect();
    assert_eq!(inner, BTreeSet::from(["http/1", "http/2"]));
    let versions: BTreeSet<&str> = of_type(&ev, "tls").iter().map(|t| t["tls"]["version"].as_str().unwrap()).collect();
    assert_eq!(versions, BTreeSet::from(["TLS 1.2", "TLS 1.3"]));

    for name in ["tls12-http1", "tls13-http1", "tls12-h2", "tls13-h2"] {
        let http: Vec<&Value> =
            of_type(&ev, "http").into_iter().filter(|h| h["http"]["url"].as_str().unwrap().contains(name)).collect();
        assert_eq!(http.len(), 1, "{name}");
        let h = &http[0]["http"];
        assert_eq!(h["version"], if name.ends_with("h2") { "2" } else { "1.1" }, "{name}");
        assert_eq!(h["hostname"], "tracker.phonehome.test");
        assert_eq!(h["http_method"], "POST");
        assert_eq!(h["status"], 200);
        // The URL is reported with the IMEI redacted.
        assert_eq!(h["url"], format!("/v1/{name}?imei=[imei]&os=android"));

        let mut found: Vec<(String, String, String)> = of_type(&ev, "leak")
            .into_iter()
            .filter(|l| l["http"]["url"].as_str().is_some_and(|u| u.contains(name)))
            .map(|l| {
                let leak = &l["leak"];
                assert_eq!(leak["declared"], true);
                assert_eq!(leak["encoding"], "plain");
                assert!(l["pcap_cnt"].as_u64().is_some(), "evidence frame: {l}");
                (
                    leak["kind"].as_str().unwrap().to_string(),
                    leak["location"].as_str().unwrap().to_ascii_lowercase(),
                    leak["direction"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        found.sort();
        // The e-mail address twice: in the request body, and echoed in the response's.
        let expect = [
            ("advertising_id", "cookie", "toserver"),
            ("android_id", "header:x-android-id", "toserver"),
            ("email", "body", "toclient"),
            ("email", "body", "toserver"),
            ("imei", "url", "toserver"),
            ("mac", "body", "toserver"),
            ("phone", "body", "toserver"),
        ];
        let kinds: Vec<(&str, &str, &str)> =
            found.iter().map(|(k, l, d)| (k.as_str(), l.as_str(), d.as_str())).collect();
        assert_eq!(kinds, expect, "{name}");
    }
}

/// Without keys nothing inside is seen, and each flow says why.
#[test]
fn without_keys_flows_say_why() {
    let mut args = vec![LOOPBACK];
    args.extend_from_slice(&LOOPBACK_IDS);
    let ev = ndjson(&args);
    assert!(of_type(&ev, "leak").is_empty());
    assert!(of_type(&ev, "http").is_empty());
    let flows = decryption_by_port(&ev);
    assert_eq!(flows.len(), 4);
    for (port, d) in flows {
        assert_eq!(d["decrypted"], false, "{port}");
        assert_eq!(d["reason"], "no_key_log", "{port}");
    }
    // A key log that lacks these connections' secrets.
    let mut args = vec![LOOPBACK, "--keylog", "crates/decrypt/tests/data/zeek__tls12-decryption.keylog"];
    args.extend_from_slice(&LOOPBACK_IDS);
    let ev = ndjson(&args);
    assert!(of_type(&ev, "leak").is_empty());
    let flows = decryption_by_port(&ev);
    assert_eq!(flows.len(), 4);
    for (port, d) in flows {
        assert_eq!((&d["decrypted"], &d["reason"]), (&Value::from(false), &Value::from("no_key")), "{port}");
    }
}

#[test]
fn a_keylog_that_cannot_be_read_is_an_error() {
    let out = phonehome(&["analyze", LOOPBACK, "--keylog", "no/such/keylog.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/keylog.txt"));
    // A file with no secrets is read, with a warning.
    let out = phonehome(&["analyze", LOOPBACK, "--keylog", "fixtures/captures/SOURCES.tsv"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no TLS secrets"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// TLS 1.2 with many HTTP/1.1 requests over one connection (zeek's trace): the same
/// requests as tshark's `http.request` rows (truth/zeek/tls__tls-1.2-stream-keylog.pcap.tsv).
#[test]
fn http1_inside_tls12_matches_tshark() {
    let ev =
        ndjson(&[&data("zeek__tls-1.2-stream-keylog.pcap"), "--keylog", &data("zeek__tls-1.2-stream-keylog.keylog")]);
    let got = requests(&ev);
    let truth = [
        "/assets/akwa/v24/js/akwa.js?.ltc.c61e84978682308f631c",
        "/assets/heise/hobell/css/hobell.css?.ltc.3746e7e49abafa23b5fb",
        "/assets/heise/images/mit_technology_review_singleline.b768.ltc.svg",
    ];
    assert_eq!(got.len(), 16, "{got:#?}");
    for path in truth {
        assert!(got.contains(&format!("www.heise.de\tGET\t{path}")), "{path}: {got:#?}");
    }
    assert!(of_type(&ev, "http").iter().all(|h| h["http"]["version"] == "1.1"));
}

/// HTTP/2 inside TLS 1.3, keys from the capture's own Decryption Secrets Block: the requests
/// tshark lists (`http2.headers.method`, `http2.headers.authority`, `http2.headers.path`).
#[test]
fn http2_from_a_pcapng_dsb_matches_tshark() {
    let ev = ndjson(&[&data("ja4__http2-with-cookies.first150.pcapng")]);
    let yt = "/s/desktop/59a3a323/";
    let mut tshark: Vec<String> = [
        ("youtube.com", "/".to_string()),
        ("www.youtube.com", "/".to_string()),
        ("www.youtube.com", format!("{yt}jsbin/desktop_polymer_enable_wil_icons.vflset/desktop_polymer_enable_wil_icons.js")),
        ("www.youtube.com", format!("{yt}jsbin/web-animations-next-lite.min.vflset/web-animations-next-lite.min.js")),
        ("www.youtube.com", format!("{yt}jsbin/custom-elements-es5-adapter.vflset/custom-elements-es5-adapter.js")),
        ("www.youtube.com", format!("{yt}jsbin/webcomponents-sd.vflset/webcomponents-sd.js")),
        ("www.youtube.com", format!("{yt}jsbin/intersection-observer.min.vflset/intersection-observer.min.js")),
        ("www.youtube.com", format!("{yt}jsbin/scheduler.vflset/scheduler.js")),
        ("www.youtube.com", format!("{yt}jsbin/www-i18n-constants-en_US.vflset/www-i18n-constants.js")),
        ("www.youtube.com", format!("{yt}jsbin/www-tampering.vflset/www-tampering.js")),
        ("www.youtube.com", format!("{yt}cssbin/www-main-desktop-home-page-skeleton.css")),
        ("www.youtube.com", format!("{yt}cssbin/www-onepick.css")),
        (
            "www.youtube.com",
            "/s/_/ytmainappweb/_/ss/k=ytmainappweb.kevlar_base.6V9UXbBulIs.L.B1.O/am=AIAC/d=0/br=1/rs=AGKMywFnCfeft4H2eqBgc-9xKcJ48cpzZw"
                .to_string(),
        ),
        ("www.youtube.com", format!("{yt}jsbin/spf.vflset/spf.js")),
        ("www.youtube.com", format!("{yt}jsbin/network.vflset/network.js")),
    ]
    .into_iter()
    .map(|(host, path)| format!("{host}\tGET\t{path}"))
    .collect();
    tshark.sort();
    assert_eq!(requests(&ev), tshark);
    // The secrets reach the single-threaded path as they reach every worker.
    let one = ndjson(&["--threads", "1", &data("ja4__http2-with-cookies.first150.pcapng")]);
    assert_eq!(requests(&one), tshark, "--threads 1");
    let http = of_type(&ev, "http");
    assert!(http.iter().all(|h| h["http"]["version"] == "2" && h["http"]["protocol"] == "HTTP/2"));
    // The first responses are in the cut capture.
    assert!(http.iter().any(|h| h["http"]["hostname"] == "youtube.com" && h["http"]["status"] == 301));
    let flows = decryption_by_port(&ev);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].1["inner"], "http/2");
    assert_eq!(flows[0].1["key_source"], "key_log");
}

#[test]
fn http2_inside_tls13_curl_google_matches_tshark() {
    let ev = ndjson(&[&data("snet__tls1.3_curl_google.pcap"), "--keylog", &data("snet__log.txt")]);
    assert_eq!(requests(&ev), ["www.google.com\tGET\t/"]);
    assert_eq!(of_type(&ev, "http")[0]["http"]["status"], 200);
}

/// Every cipher suite of the real captures and of crates/decrypt's loopback capture (one
/// connection per suite, `make_loopback.sh` there): each TLS flow is decrypted and its
/// request read.
#[test]
fn every_cipher_suite_decrypts_in_the_pipeline() {
    let cases = [
        ("snet__TLS1_3_TLS_AES_128_GCM_SHA256.pcap", "snet__TLS1_3_TLS_AES_128_GCM_SHA256.txt", &["0x1301"][..]),
        ("snet__tls1.3_keyupdates_aes256.pcap", "snet__log.txt", &["0x1302"]),
        (
            "snet__TLS1_3_TLS_CHACHA20_POLY1305_SHA256.pcap",
            "snet__TLS1_3_TLS_CHACHA20_POLY1305_SHA256.txt",
            &["0x1303"],
        ),
        ("snet__tls1_2.pcap", "snet__tls1_2.keylog", &["0xc030"]),
        ("snet__tls1_2_dhe_rsa.pcap", "snet__tls1_2_dhe_rsa.keylog", &["0x009f"]),
        ("snet__tls_ECDHE-RSA-CHACHA20-POLY1305.pcap", "snet__keylog_ECDHE-RSA-CHACHA20-POLY1305.txt", &["0xcca8"]),
        ("illustrated-tls12__capture.pcap", "illustrated-tls12__keylog.txt", &["0xc013"]),
        (
            "loopback.pcap",
            "loopback.keylog",
            // AES-GCM (RSA, ECDHE), AES-CBC with SHA1/SHA256/SHA384 MAC (both MAC orders),
            // DHE, ChaCha20, AES-CCM, AES-CCM-8, TLS 1.1 and 1.0, TLS 1.3 CCM, CCM-8, GCM.
            &[
                "0x009c", "0xc030", "0x002f", "0x003d", "0xc028", "0x0067", "0xcca8", "0xc09c", "0xc0a1", "0x0035",
                "0x1304", "0x1305", "0x1302", "0xc02f",
            ],
        ),
    ];
    for (capture, keylog, suites) in cases {
        let ev = ndjson(&[&data(capture), "--keylog", &data(keylog)]);
        let seen: BTreeSet<&str> =
            of_type(&ev, "tls").iter().map(|t| t["tls"]["cipher_suite"].as_str().unwrap()).collect();
        assert_eq!(seen, suites.iter().copied().collect(), "{capture}");
        let flows = decryption_by_port(&ev);
        assert!(!flows.is_empty(), "{capture}");
        for (port, d) in &flows {
            assert_eq!(d["decrypted"], true, "{capture} {port}: {d}");
            assert!(d["bytes"].as_u64().unwrap() > 0, "{capture} {port}");
        }
        if capture == "loopback.pcap" {
            // One request per connection, naming its configuration.
            assert_eq!(of_type(&ev, "http").len(), flows.len());
            assert!(flows.iter().all(|(_, d)| d["inner"] == "http/1"));
        }
    }
}

/// A resumed TLS 1.2 session whose own secret is not logged is opened with the master secret
/// of the session it resumes, remembered by ticket or by session id. The memory of sessions is
/// per worker thread (docs/DECRYPTION.md), so this holds for one thread; key logs written by
/// TLS libraries log the resumed connections too, which every thread count decrypts.
#[test]
fn resumed_sessions_use_the_remembered_master_secret() {
    let text = std::fs::read_to_string(root().join(data("loopback.keylog"))).unwrap();
    // Client randoms of the resumed connections (client ports 40017 and 40019).
    let resumed = ["344ee535415c92e8", "1e96bf77594d6968"];
    let filtered: String =
        text.lines().filter(|l| !resumed.iter().any(|r| l.contains(r))).map(|l| format!("{l}\n")).collect();
    assert_eq!(filtered.lines().count() + 2, text.lines().count());
    let dir = std::env::temp_dir().join(format!("phonehome-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("without-resumed.keylog");
    std::fs::write(&keylog, filtered).unwrap();
    let ev = ndjson(&["--threads", "1", &data("loopback.pcap"), "--keylog", keylog.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let flows = decryption_by_port(&ev);
    let source = |port: u64| flows.iter().find(|(p, _)| *p == port).map(|(_, d)| d["key_source"].clone()).unwrap();
    assert_eq!(source(40016), "key_log");
    assert_eq!(source(40017), "session_ticket");
    assert_eq!(source(40018), "key_log");
    assert_eq!(source(40019), "session_id");
    assert!(flows.iter().all(|(_, d)| d["decrypted"] == true));
}

/// QUIC: HTTP/3 from a pcapng DSB (Chrome to Cloudflare; the same file holds an HTTP/2
/// connection over TCP), QUIC v2 with 0-RTT, and a non-HTTP application from a key log file.
#[test]
fn quic_http3_and_other_applications() {
    let ev = ndjson(&[&data("ja4__chrome-cloudflare-quic-with-secrets.pcapng")]);
    let versions: BTreeSet<&str> =
        of_type(&ev, "http").iter().map(|h| h["http"]["version"].as_str().unwrap()).collect();
    assert_eq!(versions, BTreeSet::from(["2", "3"]));
    let h3: Vec<&Value> = of_type(&ev, "http").into_iter().filter(|h| h["http"]["version"] == "3").collect();
    assert_eq!(h3.len(), 1);
    assert_eq!(h3[0]["proto"], "UDP");
    assert_eq!(
        (&h3[0]["http"]["hostname"], &h3[0]["http"]["url"]),
        (&Value::from("cloudflare-quic.com"), &Value::from("/"))
    );
    assert_eq!(h3[0]["http"]["status"], 200);
    let quic_flow = of_type(&ev, "flow").into_iter().find(|f| f["app_proto"] == "quic").unwrap();
    assert_eq!(quic_flow["decryption"]["inner"], "http/3");
    // Decrypted QUIC streams are searched as TCP streams are, not as UDP datagrams both ways:
    // the server's HTTP/3 response (digit runs in its page, once read as phone numbers) is
    // not searched without --search-received.
    let leaks = of_type(&ev, "leak");
    assert!(leaks.iter().all(|l| l["leak"]["direction"] == "toserver"), "{leaks:?}");

    let ev = ndjson(&[&data("ndpi__quic-v2.pcapng")]);
    let paths: BTreeSet<&str> = of_type(&ev, "http").iter().map(|h| h["http"]["url"].as_str().unwrap()).collect();
    assert!(paths.contains("/index.html") && paths.contains("/test.html"), "{paths:?}");

    let ev = ndjson(&[&data("illustrated-quic__capture.pcap"), "--keylog", &data("illustrated-quic__keylog.txt")]);
    let flows = decryption_by_port(&ev);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].1["inner"], "payload");
    assert_eq!(flows[0].1["bytes"], 8, "\"ping\" and \"pong\"");
    // The same capture without its key log.
    let ev = ndjson(&[&data("illustrated-quic__capture.pcap")]);
    assert_eq!(decryption_by_port(&ev)[0].1["reason"], "no_key_log");
}

/// `diff` and `check` take `--keylog` as `analyze` does: what leaves inside TLS counts.
#[test]
fn diff_and_check_see_inside_tls() {
    let policy = std::env::temp_dir().join(format!("phonehome-policy-{}.toml", std::process::id()));
    std::fs::write(&policy, "deny_identifiers = [\"imei\"]\n").unwrap();
    let mut args = vec!["check", "--policy", policy.to_str().unwrap(), LOOPBACK];
    args.extend_from_slice(&LOOPBACK_IDS);
    assert_eq!(phonehome(&args).status.code(), Some(0), "no keys: nothing seen");
    args.extend_from_slice(&["--keylog", LOOPBACK_KEYS]);
    let out = phonehome(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::remove_file(&policy).unwrap();

    let mut args = vec!["diff", "--format", "json", LOOPBACK, LOOPBACK, "--keylog", LOOPBACK_KEYS];
    args.extend_from_slice(&LOOPBACK_IDS);
    let out = phonehome(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // The key log reached both sides: the IMEI inside the TLS flows is on each.
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let imei = doc["identifiers"].as_array().unwrap().iter().find(|i| i["identifier"] == "imei").expect("imei");
    assert!(imei["before"].as_u64().unwrap() > 0 && imei["after"] == imei["before"], "{imei}");
}

/// Several `--keylog` files merge: each connection finds its secret in whichever holds it.
#[test]
fn several_key_logs_merge() {
    let text = std::fs::read_to_string(root().join(LOOPBACK_KEYS)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dir = std::env::temp_dir().join(format!("phonehome-keylogs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (dir.join("first.keylog"), dir.join("second.keylog"));
    // The TLS 1.2 connections' lines in one file, the TLS 1.3 ones' in the other.
    let (one, many): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.starts_with("CLIENT_RANDOM"));
    assert!(!one.is_empty() && !many.is_empty());
    std::fs::write(&first, one.join("\n")).unwrap();
    std::fs::write(&second, many.join("\n")).unwrap();
    let ev = ndjson(&[LOOPBACK, "--keylog", first.to_str().unwrap(), "--keylog", second.to_str().unwrap()]);
    let partial = ndjson(&[LOOPBACK, "--keylog", first.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let flows = decryption_by_port(&ev);
    assert_eq!(flows.len(), 4);
    assert!(flows.iter().all(|(_, d)| d["decrypted"] == true), "{flows:?}");
    let decrypted = decryption_by_port(&partial).iter().filter(|(_, d)| d["decrypted"] == true).count();
    assert_eq!(decrypted, 2, "only the TLS 1.2 connections with the first file alone");
}

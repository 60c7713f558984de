//! Detection on real traffic: the identifiers that `../shared/corpus/truth/PII_HIGHLIGHTS.md`
//! lists in corpus captures, declared and undeclared, and the look-alikes it lists that must
//! not be reported. The traffic is copied into `tests/data/` (see the headers of those files
//! for the tshark commands), so these tests do not need the corpus.

mod common;

use common::{Request, payloads, requests, scan_request};
use phonehome_detect::{Confidence, DeclaredId, Finding, Kind, Location, Options, Profile, Scanner};

fn undeclared_scanner() -> Scanner {
    Scanner::new(&Profile::default(), &Options { show_values: true, ..Options::default() })
}

fn declared_scanner(flags: &[&str]) -> Scanner {
    let ids = flags.iter().map(|f| DeclaredId::parse_flag(f).unwrap()).collect();
    let opts = Options { show_values: true, undeclared: false, ..Options::default() };
    Scanner::new(&Profile { ids, ..Profile::default() }, &opts)
}

fn from(capture: &str) -> Vec<Request> {
    requests().into_iter().filter(|r| r.source.starts_with(capture)).collect()
}

fn request(source: &str) -> Request {
    requests().into_iter().find(|r| r.source == source).unwrap_or_else(|| panic!("{source} not in tests/data"))
}

fn payload(source: &str) -> Vec<u8> {
    payloads().into_iter().find(|p| p.source == source).unwrap_or_else(|| panic!("{source} not in tests/data")).bytes
}

fn scan_all(sc: &Scanner, reqs: &[Request]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in reqs {
        scan_request(sc, r, &mut out);
    }
    out
}

fn value(f: &Finding) -> &str {
    f.value.as_deref().unwrap_or("")
}

/// How many times `needle` occurs in the request's URL, header values and body, by location.
fn occurrences(reqs: &[Request], needle: &str) -> (usize, usize) {
    let count = |h: &str| h.to_ascii_lowercase().matches(&needle.to_ascii_lowercase()).count();
    let url: usize = reqs.iter().map(|r| count(&r.uri) + count(&String::from_utf8_lossy(&r.body))).sum();
    let headers: usize = reqs.iter().flat_map(|r| &r.headers).map(|(_, v)| count(v)).sum();
    (url, headers)
}

const ANDROID_ID: &str = "b9e28776354d259e";
const GAID: &str = "5ac6a0ff-8d18-47bc-a902-2812cf0c251e";

#[test]
fn ndpi_1kxun_android_id_and_gaid_undeclared_by_key() {
    let reqs = from("ndpi/1kxun.pcap");
    let out = scan_all(&undeclared_scanner(), &reqs);
    let (android_url, android_hdr) = occurrences(&reqs, ANDROID_ID);
    let (gaid_url, gaid_hdr) = occurrences(&reqs, GAID);
    assert!(android_url >= 10 && android_hdr >= 5 && gaid_url >= 10, "{android_url} {android_hdr} {gaid_url}");
    let android: Vec<&Finding> = out.iter().filter(|f| f.kind == Kind::AndroidId).collect();
    let gaid: Vec<&Finding> = out.iter().filter(|f| f.kind == Kind::AdvertisingId).collect();
    // Every occurrence, each under its key, with high confidence.
    assert_eq!(android.len(), android_url + android_hdr);
    assert_eq!(gaid.len(), gaid_url + gaid_hdr);
    assert!(android.iter().chain(&gaid).all(|f| f.confidence == Confidence::High && !f.declared));
    assert!(android.iter().all(|f| value(f) == ANDROID_ID));
    assert!(gaid.iter().all(|f| value(f) == GAID));
    let keys = |fs: &[&Finding]| {
        let mut k: Vec<String> = fs.iter().filter_map(|f| f.key.clone()).collect();
        k.sort();
        k.dedup();
        k
    };
    assert_eq!(keys(&android), ["Client-AndroidId", "_android_id", "android_id"]);
    assert_eq!(keys(&gaid), ["_aid", "_gaid", "aid", "gaid"]);
    assert!(android.iter().any(|f| f.location == "header:Client-AndroidId"));
    assert!(gaid.iter().any(|f| f.location == "body")); // frame 1579: a form body
    // `_udid` holds a per-install UUID: a device id, medium confidence (the key is generic).
    let udid: Vec<&Finding> = out.iter().filter(|f| f.kind == Kind::DeviceId).collect();
    assert!(!udid.is_empty() && udid.iter().all(|f| f.key.as_deref() == Some("_udid")));
    assert!(udid.iter().all(|f| f.confidence == Confidence::Medium));
    // Nothing else: `_carrier=310260` is an MCC/MNC, `imei=1` is a flag, the rest are GA ids.
    let other: Vec<&Finding> = out
        .iter()
        .filter(|f| !matches!(f.kind, Kind::AndroidId | Kind::AdvertisingId | Kind::DeviceId | Kind::AnalyticsId))
        .collect();
    assert!(other.is_empty(), "{other:#?}");
}

#[test]
fn ndpi_1kxun_android_id_and_gaid_declared() {
    let reqs = from("ndpi/1kxun.pcap");
    // Declared in upper case: hex ids match whatever their case.
    let sc = declared_scanner(&["android_id=B9E28776354D259E", &format!("advertising_id/GAID={GAID}")]);
    let out = scan_all(&sc, &reqs);
    let (android_url, android_hdr) = occurrences(&reqs, ANDROID_ID);
    let (gaid_url, gaid_hdr) = occurrences(&reqs, GAID);
    let plain = |k: Kind| out.iter().filter(|f| f.kind == k && f.encoding == "plain").count();
    assert_eq!(plain(Kind::AndroidId), android_url + android_hdr);
    assert_eq!(plain(Kind::AdvertisingId), gaid_url + gaid_hdr);
    assert!(out.iter().filter(|f| f.kind == Kind::AdvertisingId).all(|f| f.label.as_deref() == Some("GAID")));
    assert!(out.iter().any(|f| f.location == "header:Client-AndroidId"));
    // Frame 1682 (to an ad SDK) also sends the Android ID hashed: its MD5 under `aidm` and its
    // SHA-1 under `aids`, found only because it was declared.
    let hashed: Vec<(Kind, &str, &str)> =
        out.iter().filter(|f| f.encoding != "plain").map(|f| (f.kind, f.encoding.as_str(), value(f))).collect();
    assert_eq!(
        hashed,
        [
            (Kind::AndroidId, "md5", "7a9cdb975b3e08d2b0c428cd462da3fd"),
            (Kind::AndroidId, "sha1", "36c080f1b9aa563801c967c70d2020ca8ee6b6bb")
        ]
    );
    assert!(out.iter().all(|f| f.declared && f.confidence == Confidence::High));
}

/// Google Analytics client ids (`cid`, and the `_ga`/`_gid` cookies) are reported as
/// `analytics_id`: they are per-browser or per-app-install pseudonymous ids that trackers join
/// on. GA-shaped values (`<random>.<unix time>`, optionally `GA1.n.`) are high confidence; a
/// UUID under `cid` (the Measurement Protocol from apps) is medium, since `cid` alone is a
/// generic key.
#[test]
fn google_analytics_client_ids() {
    let sc = undeclared_scanner();
    let mut out = Vec::new();
    scan_request(&sc, &request("ja4/single-packets.pcap frame 6"), &mut out);
    let got: Vec<(Kind, &str, &str, Confidence)> =
        out.iter().map(|f| (f.kind, f.key.as_deref().unwrap(), value(f), f.confidence)).collect();
    assert_eq!(
        got,
        [
            (Kind::AnalyticsId, "cid", "1751603294.1532525413", Confidence::High),
            (Kind::AnalyticsId, "_gid", "775336169.1532525413", Confidence::High)
        ]
    );
    out.clear();
    scan_request(&sc, &request("ja4/single-packets.pcap frame 5"), &mut out);
    assert!(out.iter().all(|f| f.location == "cookie" && f.kind == Kind::AnalyticsId));
    assert_eq!(
        out.iter().map(value).collect::<Vec<_>>(),
        ["GA1.2.1751603294.1532525413", "GA1.2.775336169.1532525413"]
    );
    out.clear();
    scan_request(&sc, &request("ndpi/starcraft_battle.pcap frame 44"), &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(
        (out[0].kind, value(&out[0]), out[0].confidence, out[0].location.as_str()),
        (Kind::AnalyticsId, "78AA863F-3983-4928-A884-3CF479D4E86B", Confidence::Medium, "body")
    );
    // `tid=UA-...` (the property) and `uid=124067228` (a site's user number) are not reported.
    // Declared, the client id is found like any custom value.
    let sc = declared_scanner(&["analytics_id=1751603294.1532525413"]);
    out.clear();
    scan_request(&sc, &request("ja4/single-packets.pcap frame 6"), &mut out);
    scan_request(&sc, &request("ja4/single-packets.pcap frame 5"), &mut out);
    assert_eq!(out.iter().filter(|f| f.declared).count(), 2, "{out:#?}");
}

#[test]
fn ndpi_pop3_phone_number_in_a_mail_signature() {
    let mail = payload("ndpi/pop3.pcap frame 22");
    let mut out = Vec::new();
    undeclared_scanner().scan(&mail, Location::Payload, &mut out);
    let phones: Vec<&Finding> = out.iter().filter(|f| f.kind == Kind::Phone).collect();
    assert_eq!(phones.len(), 1, "{out:#?}");
    assert_eq!((value(phones[0]), phones[0].key.as_deref()), ("+390817683821", Some("Phone")));
    assert_eq!(phones[0].confidence, Confidence::High);
    // The fax number (`Fax:` is not a phone key) is not reported; the two mail addresses are,
    // key-less, with medium confidence.
    let mails: Vec<&str> = out.iter().filter(|f| f.kind == Kind::Email).map(value).collect();
    assert!(mails.contains(&"lorenzo.miniero@unina.it") && mails.contains(&"cicciopernacchio@mail.com"));
    assert_eq!(out.len(), phones.len() + mails.len());
    // Declared in national form with the region: found in its E.164 spelling.
    let mut p = Profile { ids: vec![DeclaredId::parse_flag("phone=081 768 3821").unwrap()], ..Profile::default() };
    p.set_region("IT").unwrap();
    let sc = Scanner::new(&p, &Options { undeclared: false, ..Options::default() });
    out.clear();
    sc.scan(&mail, Location::Payload, &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!((out[0].kind, out[0].form.as_deref()), (Kind::Phone, Some("e164")));
}

#[test]
fn macs_anyconnect_wakeup_and_hp_printer() {
    let wake = payload("ndpi/anyconnect-vpn.pcap frame 411");
    let slp = payload("ndpi/srvloc-v1.pcapng frame 1");
    let sc = undeclared_scanner();
    let mut out = Vec::new();
    sc.scan(&wake, Location::Payload, &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!((out[0].kind, value(&out[0]), out[0].key.as_deref()), (Kind::Mac, "d8:31:34:20:77:fb", Some("MAC")));
    out.clear();
    sc.scan(&slp, Location::Payload, &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!((out[0].kind, value(&out[0]), out[0].key.as_deref()), (Kind::Mac, "3C528226FD28", Some("x-hp-mac")));
    // Declared (either spelling): every occurrence, found only because it was declared
    // where no key names it: the Roku's MAC is also the node field of its UPnP UUID
    // (`uuid:295c0004-6807-106d-80cf-d831342077fb`), and the printer's `x-hp-guid` is its MAC.
    let sc = declared_scanner(&["mac/vpn=D8-31-34-20-77-FB", "mac/printer=3c:52:82:26:fd:28"]);
    out.clear();
    sc.scan(&wake, Location::Payload, &mut out);
    sc.scan(&slp, Location::Payload, &mut out);
    let got: Vec<(&str, &str)> =
        out.iter().map(|f| (f.label.as_deref().unwrap(), f.form.as_deref().unwrap())).collect();
    assert_eq!(got, [("vpn", "bare"), ("vpn", "colon"), ("printer", "bare"), ("printer", "bare")]);
    assert_eq!(&wake[out[0].offset - 29..out[0].offset + 12], b"uuid:295c0004-6807-106d-80cf-d831342077fb");
}

#[test]
fn fuzz_2006_hex_ascii_msisdn_cookie() {
    // A WAP gateway's cookie carries the subscriber's number as hex of its ASCII digits.
    let p = payload("ndpi/fuzz-2006-09-29-28586.pcap frame 73");
    let mut out = Vec::new();
    undeclared_scanner().scan(&p, Location::Payload, &mut out);
    let phones: Vec<&Finding> = out.iter().filter(|f| f.kind == Kind::Phone).collect();
    assert_eq!(phones.len(), 1, "{out:#?}");
    assert_eq!(
        (value(phones[0]), phones[0].encoding.as_str(), phones[0].key.as_deref()),
        ("343931373236313031303034", "hex", Some("User-Identity-Forward-msisdn"))
    );
    // Declared, it is the hex of the E.164 digits.
    out.clear();
    declared_scanner(&["phone=+49 172 6101004"]).scan(&p, Location::Payload, &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!((out[0].encoding.as_str(), out[0].form.as_deref()), ("hex", Some("e164-digits")));
}

#[test]
fn look_alikes_in_real_traffic_are_not_reported() {
    let sc = undeclared_scanner();
    // An ad creative id under `adid=` (zeek/http__zero-length-bodies-with-drops.pcap).
    let reqs = from("zeek/http__zero-length-bodies-with-drops.pcap");
    assert!(reqs.iter().any(|r| r.uri.contains("adid=364838")));
    let mut out = scan_all(&sc, &reqs);
    for p in payloads().iter().filter(|p| p.source.starts_with("zeek/http__zero-length")) {
        sc.scan(&p.bytes, Location::Payload, &mut out);
    }
    assert!(out.is_empty(), "{out:#?}");
    // A firewall's `device_id=0185082008001541` (ndpi/syslog.pcap).
    for p in payloads().iter().filter(|p| p.source.starts_with("ndpi/syslog.pcap")) {
        assert!(String::from_utf8_lossy(&p.bytes).contains("device_id=0185082008001541"));
        sc.scan(&p.bytes, Location::Payload, &mut out);
    }
    assert!(out.is_empty(), "{out:#?}");
    // Android's placeholder BSSID 02:00:00:00:00:00, URL-encoded (ndpi/xiaomi.pcap frame 52).
    let r = request("ndpi/xiaomi.pcap frame 52");
    assert!(r.uri.contains("bssid=02%3A00%3A00%3A00%3A00%3A00"));
    scan_request(&sc, &r, &mut out);
    assert!(out.is_empty(), "{out:#?}");
    // UPnP device UUIDs and SSH algorithm names that look like e-mail addresses.
    for p in payloads().iter().filter(|p| p.source.starts_with("ndpi/upnp.pcap") || p.source.starts_with("ja4/gre")) {
        sc.scan(&p.bytes, Location::Payload, &mut out);
    }
    assert!(out.is_empty(), "{out:#?}");
}

/// Deterministic xorshift64* bytes.
fn pseudorandom(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn look_alikes_synthetic() {
    let sc = undeclared_scanner();
    let mut out = Vec::new();
    // Random (v4) UUIDs under keys that are not advertising-id keys, and 15-digit numbers that
    // fail Luhn under IMEI keys.
    let rnd = pseudorandom(16 * 200, 7);
    let mut luhn_fail = 0;
    for (i, c) in rnd.chunks(16).enumerate() {
        let h: String = c.iter().map(|b| format!("{b:02x}")).collect();
        let uuid = format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]);
        for key in ["request_id", "session", "uuid", "trace", "event_id", "id"] {
            sc.scan(format!("{key}={uuid}&").as_bytes(), Location::Url, &mut out);
            sc.scan(format!("{{\"{key}\":\"{uuid}\"}}").as_bytes(), Location::Body, &mut out);
        }
        let digits: String = c.iter().take(15).map(|b| char::from(b'0' + b % 10)).collect();
        if !phonehome_detect::validate::luhn_ok(digits.as_bytes()) {
            luhn_fail += 1;
            for key in ["imei", "IMEI", "device_imei", "imei1"] {
                sc.scan(format!("{key}={digits}&").as_bytes(), Location::Url, &mut out);
            }
        }
        let _ = i;
    }
    assert!(luhn_fail > 150);
    assert!(out.is_empty(), "{out:#?}");
}

/// Encrypted or compressed bytes hold no identifiers: with undeclared detection on, 10+ MB of
/// pseudorandom bytes and of real TLS application data yield nothing, scanned as payload
/// whole and through a stream in packet-sized chunks.
#[test]
fn pseudorandom_and_encrypted_payload_yield_nothing() {
    let sc = Scanner::new(&common::profile50(), &Options { show_values: true, ..Options::default() });
    let tls = common::tls_app_data();
    assert!(tls.len() >= 10_000_000, "{}", tls.len());
    for (name, bytes) in [("pseudorandom", pseudorandom(12 << 20, 0x5eed)), ("tls", tls)] {
        let mut out = Vec::new();
        for chunk in bytes.chunks(1 << 20) {
            sc.scan(chunk, Location::Payload, &mut out);
        }
        let mut st = phonehome_detect::StreamScanner::new(&sc);
        for chunk in bytes.chunks(1460) {
            st.push(&sc, chunk, Location::Payload, &mut out);
        }
        st.finish(&sc, Location::Payload, &mut out);
        assert!(out.is_empty(), "{name}: {out:#?}");
    }
}

/// A stream fed in chunks (as the engine feeds raw payload) reports exactly what one scan of
/// the whole text reports, decoding pre-passes included: every request and payload of
/// `tests/data` and a sample of the labelled evaluation cases, in chunks of 3, 64 and 1460.
#[test]
fn stream_scan_equals_whole_scan_on_real_traffic() {
    let opts = Options { max_findings_per_call: 1 << 20, max_findings_per_stream: 1 << 20, ..Options::default() };
    let sc = Scanner::new(&common::profile50(), &opts);
    let mut texts: Vec<Vec<u8>> = requests()
        .iter()
        .map(|r| {
            let mut t = r.uri.as_bytes().to_vec();
            for (n, v) in &r.headers {
                t.extend_from_slice(format!("\r\n{n}: {v}").as_bytes());
            }
            t.extend_from_slice(b"\r\n\r\n");
            t.extend_from_slice(&r.body);
            t
        })
        .collect();
    texts.extend(payloads().into_iter().map(|p| p.bytes));
    texts.extend(common::eval::cases(1).into_iter().step_by(29).map(|c| c.text));
    let key = |f: &Finding| (f.offset, f.len, f.kind, f.declared, f.encoding.clone());
    let mut findings = 0;
    for t in &texts {
        let mut whole = Vec::new();
        sc.scan(t, Location::Payload, &mut whole);
        findings += whole.len();
        let want: Vec<_> = whole.iter().map(key).collect();
        for chunk in [3, 64, 1460] {
            let mut got = Vec::new();
            let mut st = phonehome_detect::StreamScanner::new(&sc);
            for c in t.chunks(chunk) {
                st.push(&sc, c, Location::Payload, &mut got);
            }
            st.finish(&sc, Location::Payload, &mut got);
            let got: Vec<_> = got.iter().map(key).collect();
            assert_eq!(got, want, "chunks of {chunk}: {:?}", String::from_utf8_lossy(&t[..t.len().min(120)]));
        }
    }
    assert!(texts.len() > 300 && findings > 200, "{} texts, {findings} findings", texts.len());
}

/// A phone number in a JSON body is one finding, although the form decoding of a body (where
/// `+` means a space) shows it again without its `+` (seen in our loopback TLS capture,
/// fixtures/captures/loopback__tls-http.pcap).
#[test]
fn an_undeclared_value_seen_through_two_layers_is_one_finding() {
    let body = br#"{"email": "jane.doe@example.com", "msisdn": "+6591112222", "wifi_mac": "a4:5e:60:c2:19:3b"}"#;
    let mut out = Vec::new();
    undeclared_scanner().scan(body, Location::Body, &mut out);
    let kinds: Vec<Kind> = out.iter().map(|f| f.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == Kind::Phone).count(), 1, "{out:#?}");
    assert_eq!(out.iter().find(|f| f.kind == Kind::Phone).unwrap().encoding, "plain");
}

//! Readers for the corpus extracts in `tests/data/` (shared by tests, the `evaluate` example
//! and the benchmark), and a profile of 50 made-up values.
#![allow(dead_code)]

use phonehome_detect::{DeclaredId, Finding, Location, Profile, Scanner};

pub mod eval;

/// One HTTP request copied from a corpus capture.
#[derive(Debug, Clone)]
pub struct Request {
    /// `capture frame N`.
    pub source: String,
    /// Request line target (path and query).
    pub uri: String,
    /// Header lines, split at the first ": ".
    pub headers: Vec<(String, String)>,
    /// Body (text bodies only).
    pub body: Vec<u8>,
}

/// One raw TCP/UDP payload copied from a corpus capture.
#[derive(Debug, Clone)]
pub struct Payload {
    /// `capture frame N`.
    pub source: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

pub const HTTP: &str = include_str!("../data/http_requests.txt");
pub const PAYLOADS: &str = include_str!("../data/payloads.tsv");

pub fn requests() -> Vec<Request> {
    let mut out = Vec::new();
    for rec in HTTP.split("=== ").skip(1) {
        let (source, rest) = rec.split_once('\n').unwrap();
        let (head, body) = rest.split_once("\n\n").unwrap_or((rest, ""));
        let mut lines = head.lines();
        let req_line = lines.next().unwrap_or("");
        let uri = req_line.split(' ').nth(1).unwrap_or("").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(": ").or_else(|| l.split_once(':')))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        out.push(Request { source: source.to_string(), uri, headers, body: body.trim_end().as_bytes().to_vec() });
    }
    out
}

pub fn payloads() -> Vec<Payload> {
    PAYLOADS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let bytes = (0..f[3].len()).step_by(2).map(|i| u8::from_str_radix(&f[3][i..i + 2], 16).unwrap()).collect();
            Payload { source: format!("{} frame {}", f[0], f[1]), bytes }
        })
        .collect()
}

/// Scans a request the way the engine does: the URL, each header value (cookies as
/// `cookie`), the body.
pub fn scan_request(sc: &Scanner, r: &Request, out: &mut Vec<Finding>) {
    sc.scan(r.uri.as_bytes(), Location::Url, out);
    for (n, v) in &r.headers {
        let loc = if n.eq_ignore_ascii_case("cookie") { Location::Cookie } else { Location::Header(n) };
        sc.scan(v.as_bytes(), loc, out);
    }
    if !r.body.is_empty() {
        sc.scan(&r.body, Location::Body, out);
    }
}

/// 50 made-up declared values of every kind (none occurs in the corpus).
pub fn profile50() -> Profile {
    let mut ids = Vec::new();
    let mut add = |f: String| ids.push(DeclaredId::parse_flag(&f).unwrap());
    add("imei=356938035643809".into());
    add("imei/SIM2=353918057912346".into());
    add("imsi=234150999999999".into());
    add("iccid=8944200011231044047".into());
    add("meid=A10000009296F2".into());
    add("phone=+6591112222".into());
    add("mac=3c:5a:b4:9e:01:7d".into());
    add("mac/bt=3c:5a:b4:9e:01:7e".into());
    add("android_id=7f3a9c2e1b5d4a60".into());
    add("advertising_id=9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d".into());
    add("serial=R58N92QWERTZ".into());
    add("email=jane.roe.testing@example-mail.org".into());
    add("name=Janet Quincey-Roe".into());
    add("username=jqroe_1987".into());
    add("location=1.2903217,103.8519843".into());
    add("custom/token=tk_9f8e7d6c5b4a".into());
    for i in 0..17 {
        add(format!("contact/c{i}=+65 8{:03} {:04}", 100 + i * 37, 2000 + i * 411));
    }
    for i in 0..17 {
        add(format!("contact/e{i}=friend.{i}.zq{}@mailbox-example.net", i * 7919));
    }
    assert_eq!(ids.len(), 50);
    Profile { vendor: Some("Example".into()), region: Some("SG".into()), ids }
}

/// Encrypted TLS application data from corpus captures (`tests/data/tls_app_data.bin`, made
/// by `tests/data/extract_tls.py`; the captures are listed in `tls_app_data.txt`).
pub fn tls_app_data() -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls_app_data.bin");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

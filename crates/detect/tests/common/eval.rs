//! The labelled evaluation set: real requests and payloads from `tests/data` with declared
//! values inserted, each in one disguise (encoding) at one place (location), and the span it
//! occupies. Shared by `tests/evaluation.rs` (small, debug speed, asserts) and
//! `examples/evaluate.rs` (everything, prints the tables of docs/DETECTION.md).
//!
//! The encoders here are written independently of the crate's (`encode.rs`): a bug there
//! must not hide itself by producing the same wrong bytes on both sides.

use md5::Digest as _;
use phonehome_detect::{Finding, Kind, Location, Profile, Scanner};

use super::{Request, payloads, requests};

/// One labelled case: `text` carries the declared id (`kind`, `label`) at `span`.
#[derive(Debug, Clone)]
pub struct Case {
    pub kind: Kind,
    pub label: Option<String>,
    /// The encoding chain, as the issue names it (`plain`, `url(base64)`, `sha256(md5)`...).
    pub encoding: String,
    /// Which canonical spelling was encoded (`e164`, `colon-upper`...).
    pub canon: &'static str,
    /// `url`, `header`, `cookie`, `body-form`, `body-json`, `body-multipart`, `payload`,
    /// `dns`, `sni`.
    pub place: &'static str,
    pub header: String,
    pub carrier: String,
    pub text: Vec<u8>,
    pub span: (usize, usize),
}

impl Case {
    pub fn location(&self) -> Location<'_> {
        match self.place {
            "url" => Location::Url,
            "header" => Location::Header(&self.header),
            "cookie" => Location::Cookie,
            "payload" => Location::Payload,
            "dns" => Location::Dns,
            "sni" => Location::Sni,
            _ => Location::Body,
        }
    }

    /// The encoding's family for the per-encoding table: the chain without the canonical
    /// form's case and without the base64 alignment.
    pub fn family(&self) -> String {
        self.encoding.split('@').next().unwrap_or("").to_string()
    }
}

/// A declared value of the evaluation: kind, label, (canonical form name, spelling)s.
pub type Subject = (Kind, Option<&'static str>, Vec<(&'static str, &'static str)>);

/// The declared values the cases carry: (kind, label, canonical spellings to encode). The
/// first spelling is the one sent plain; hashes are taken of every spelling, as the issue
/// asks (e-mail trimmed and lower-cased; phone E.164 and national; MAC with and without
/// colons, both cases). They are ids of `profile50()`, whose 42 other values are distractors.
pub fn subjects() -> Vec<Subject> {
    vec![
        (Kind::Email, None, vec![("lower", "jane.roe.testing@example-mail.org")]),
        (Kind::Phone, None, vec![("e164", "+6591112222"), ("nsn", "91112222"), ("e164-digits", "6591112222")]),
        (Kind::Imei, None, vec![("digits", "356938035643809")]),
        (Kind::AndroidId, None, vec![("lower", "7f3a9c2e1b5d4a60")]),
        (Kind::AdvertisingId, None, vec![("lower", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")]),
        (
            Kind::Mac,
            None,
            vec![
                ("colon-lower", "3c:5a:b4:9e:01:7d"),
                ("colon-upper", "3C:5A:B4:9E:01:7D"),
                ("bare-lower", "3c5ab49e017d"),
                ("bare-upper", "3C5AB49E017D"),
            ],
        ),
        (Kind::Contact, Some("e3"), vec![("lower", "friend.3.zq23757@mailbox-example.net")]),
        (Kind::Contact, Some("c5"), vec![("e164", "+6582854055"), ("nsn", "82854055")]),
        (Kind::Serial, None, vec![("value", "R58N92QWERTZ")]),
        (Kind::Custom, Some("token"), vec![("value", "tk_9f8e7d6c5b4a")]),
    ]
}

// ---- independent encoders ----

fn hex(v: &[u8], upper: bool) -> Vec<u8> {
    let s: String = v.iter().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect();
    s.into_bytes()
}

/// RFC 4648 base64 (`url`: §5 alphabet without padding, as URL-safe senders do).
fn b64(v: &[u8], url: bool) -> Vec<u8> {
    let a: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = Vec::new();
    for c in v.chunks(3) {
        let mut n = [0u8; 3];
        n[..c.len()].copy_from_slice(c);
        let x = (u32::from(n[0]) << 16) | (u32::from(n[1]) << 8) | u32::from(n[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(a[((x >> (18 - 6 * i)) & 63) as usize]);
            } else if !url {
                out.push(b'=');
            }
        }
    }
    out
}

/// Percent-encoding of everything but RFC 3986 unreserved bytes; a value that has none to
/// encode gets every byte encoded (what obfuscating SDKs do), so that the case tests decoding.
fn url(v: &[u8]) -> Vec<u8> {
    let keep = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let all = v.iter().all(|&b| keep(b));
    let mut out = Vec::new();
    for &b in v {
        if keep(b) && !all {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// JSON string escapes: `\/` for slashes (as PHP and many Android JSON writers do) and
/// `\u00XX` for other non-alphanumerics; a value without any gets every byte `\u`-escaped.
fn json(v: &[u8]) -> Vec<u8> {
    let all = v.iter().all(u8::is_ascii_alphanumeric);
    let mut out = Vec::new();
    for &b in v {
        if b == b'/' {
            out.extend_from_slice(b"\\/");
        } else if b.is_ascii_alphanumeric() && !all {
            out.push(b);
        } else {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        }
    }
    out
}

fn digest(name: &str, v: &[u8]) -> Vec<u8> {
    match name {
        "md5" => md5::Md5::digest(v).to_vec(),
        "sha1" => sha1::Sha1::digest(v).to_vec(),
        "sha256" => sha2::Sha256::digest(v).to_vec(),
        "sha512" => sha2::Sha512::digest(v).to_vec(),
        _ => unreachable!("{name}"),
    }
}

/// Every disguise of one canonical spelling, as (encoding name, bytes to insert). Base64 at
/// alignment k is the encoding of a small JSON object whose value starts k bytes after a
/// 3-byte boundary: the value is never encoded alone.
pub fn encodings(v: &[u8], first_canon: bool) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    if first_canon {
        out.push(("plain".into(), v.to_vec()));
        out.push(("url".into(), url(v)));
        out.push(("url(url)".into(), url(&url(v))));
        out.push(("json".into(), json(v)));
        for (k, pre) in [b"{\"d\":\"".as_slice(), b"{\"id\":\"", b"{\"uid\":\""].iter().enumerate() {
            let blob = [pre, v, b"\",\"t\":1}".as_slice()].concat();
            let align = pre.len() % 3;
            out.push((format!("base64@{align}"), b64(&blob, false)));
            out.push((format!("base64url@{align}"), b64(&blob, true)));
            if k == 0 {
                out.push(("url(base64)@0".into(), url_b64(&b64(&blob, false))));
                out.push(("json(base64)@0".into(), json_b64(&b64(&blob, false))));
            }
        }
        out.push(("hex".into(), hex(v, false)));
        out.push(("hex(upper)".into(), hex(v, true)));
    }
    for h in ["md5", "sha1", "sha256", "sha512"] {
        let d = digest(h, v);
        out.push((h.to_string(), hex(&d, false)));
        out.push((format!("{h}(upper)"), hex(&d, true)));
        out.push((format!("base64({h})"), b64(&d, false)));
    }
    let md5 = hex(&digest("md5", v), false);
    let sha1 = hex(&digest("sha1", v), false);
    out.push(("sha256(md5)".into(), hex(&digest("sha256", &md5), false)));
    out.push(("sha1(md5)".into(), hex(&digest("sha1", &md5), false)));
    out.push(("md5(sha1)".into(), hex(&digest("md5", &sha1), false)));
    out.push(("url(base64(sha256))".into(), url_b64(&b64(&digest("sha256", v), false))));
    out
}

/// URL-encoding of base64 text: only `+`, `/` and `=` change.
fn url_b64(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in v {
        match b {
            b'+' | b'/' | b'=' => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

/// JSON of base64 text: slashes escaped.
fn json_b64(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in v {
        if b == b'/' {
            out.extend_from_slice(b"\\/");
        } else {
            out.push(b);
        }
    }
    out
}

// ---- carriers ----

/// Keys the inserted values travel under: ordinary ones, so that only the declared search
/// can find them (undeclared detection is off in the evaluation of declared values).
const KEYS: &[&str] = &["d", "uid", "h", "token", "x", "sig", "data", "p"];

fn insert_query(uri: &str, key: &str, enc: &[u8]) -> (Vec<u8>, (usize, usize)) {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let mid = params.len() / 2;
    let mut out = format!("{path}?").into_bytes();
    for p in &params[..mid] {
        out.extend_from_slice(p.as_bytes());
        out.push(b'&');
    }
    out.extend_from_slice(format!("{key}=").as_bytes());
    let s = out.len();
    out.extend_from_slice(enc);
    let e = out.len();
    for p in &params[mid..] {
        out.push(b'&');
        out.extend_from_slice(p.as_bytes());
    }
    (out, (s, e))
}

fn splice(prefix: &[u8], enc: &[u8], suffix: &[u8]) -> (Vec<u8>, (usize, usize)) {
    let out = [prefix, enc, suffix].concat();
    (out, (prefix.len(), prefix.len() + enc.len()))
}

/// Whether `enc` can be a DNS label (letters, digits, hyphen; at most 63 bytes).
fn dns_safe(enc: &[u8]) -> bool {
    !enc.is_empty() && enc.len() <= 63 && enc.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// The carriers: real requests (with a query, with a cookie, with a form body) and real
/// binary payloads, `per_place` of each.
struct Carriers {
    urls: Vec<Request>,
    cookies: Vec<Request>,
    forms: Vec<Request>,
    payloads: Vec<(String, Vec<u8>)>,
    hosts: Vec<String>,
}

fn carriers(per_place: usize) -> Carriers {
    let reqs = requests();
    let spread = |v: Vec<Request>| -> Vec<Request> {
        let step = (v.len() / per_place.max(1)).max(1);
        v.into_iter().step_by(step).take(per_place).collect()
    };
    let urls = spread(reqs.iter().filter(|r| r.uri.contains('?')).cloned().collect());
    let cookies = spread(reqs.iter().filter(|r| r.headers.iter().any(|(n, _)| n == "Cookie")).cloned().collect());
    let forms = spread(reqs.iter().filter(|r| r.body.contains(&b'=') && r.body.contains(&b'&')).cloned().collect());
    let pl: Vec<(String, Vec<u8>)> = payloads()
        .into_iter()
        .filter(|p| p.source.starts_with("ndpi/xiaomi") || p.source.starts_with("ja4/gre"))
        .map(|p| (p.source, p.bytes))
        .collect();
    let step = (pl.len() / per_place.max(1)).max(1);
    let payloads = pl.into_iter().step_by(step).take(per_place).collect();
    let mut hosts: Vec<String> = reqs
        .iter()
        .filter_map(|r| r.headers.iter().find(|(n, _)| n == "Host").map(|(_, v)| v.trim().to_string()))
        .filter(|h| !h.contains(':') && h.contains('.'))
        .collect();
    hosts.sort();
    hosts.dedup();
    let step = (hosts.len() / per_place.max(1)).max(1);
    let hosts = hosts.into_iter().step_by(step).take(per_place).collect();
    Carriers { urls, cookies, forms, payloads, hosts }
}

/// Every case: each subject's canonical spellings in every encoding, at every place, in
/// `per_place` carriers per place (round-robin over the encodings, so each encoding meets
/// every carrier kind).
pub fn cases(per_place: usize) -> Vec<Case> {
    let c = carriers(per_place);
    let mut out = Vec::new();
    let mut n = 0usize;
    for (kind, label, canons) in subjects() {
        for (ci, (canon, v)) in canons.iter().enumerate() {
            for (encoding, enc) in encodings(v.as_bytes(), ci == 0) {
                n += 1;
                let key = KEYS[n % KEYS.len()];
                let mut push =
                    |place: &'static str, header: &str, carrier: &str, (text, span): (Vec<u8>, (usize, usize))| {
                        out.push(Case {
                            kind,
                            label: label.map(str::to_string),
                            encoding: encoding.clone(),
                            canon,
                            place,
                            header: header.to_string(),
                            carrier: carrier.to_string(),
                            text,
                            span,
                        });
                    };
                for r in &c.urls {
                    push("url", "", &r.source, insert_query(&r.uri, key, &enc));
                }
                for (i, r) in c.urls.iter().enumerate() {
                    // Header values: a custom header, a bearer token, the end of a real UA.
                    match (n + i) % 3 {
                        0 => push("header", "X-Device-Token", &r.source, splice(b"", &enc, b"")),
                        1 => push("header", "Authorization", &r.source, splice(b"Bearer ", &enc, b"")),
                        _ => {
                            let ua = r.headers.iter().find(|(n, _)| n == "User-Agent").map_or("okhttp/3.12", |h| &h.1);
                            push("header", "User-Agent", &r.source, splice(format!("{ua} id/").as_bytes(), &enc, b""))
                        }
                    }
                }
                for r in &c.cookies {
                    let real = &r.headers.iter().find(|(n, _)| n == "Cookie").expect("filtered").1;
                    push("cookie", "", &r.source, splice(format!("{real}; {key}=").as_bytes(), &enc, b"; z=1"));
                }
                for r in &c.forms {
                    let body = String::from_utf8_lossy(&r.body);
                    let (a, b) = body.split_at(body.find('&').unwrap_or(0));
                    push("body-form", "", &r.source, splice(format!("{a}&{key}=").as_bytes(), &enc, b.as_bytes()));
                    let json_pre = format!("{{\"event\":\"open\",\"src\":\"{}\",\"{key}\":\"", r.source);
                    push("body-json", "", &r.source, splice(json_pre.as_bytes(), &enc, b"\",\"ts\":1654385136}"));
                    let mp = format!(
                        "--zz{n}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n{a}\r\n--zz{n}\r\n\
                         Content-Disposition: form-data; name=\"{key}\"\r\n\r\n"
                    );
                    push(
                        "body-multipart",
                        "",
                        &r.source,
                        splice(mp.as_bytes(), &enc, format!("\r\n--zz{n}--\r\n").as_bytes()),
                    );
                }
                for (src, p) in &c.payloads {
                    // Spliced into a binary message as a NUL-terminated string, between two
                    // bytes of it that are not letters or digits (not inside a text token).
                    let mid = (p.len() / 2..p.len())
                        .find(|&i| !p[i - 1].is_ascii_alphanumeric() && !p[i].is_ascii_alphanumeric())
                        .unwrap_or(p.len());
                    let mut pre = p[..mid].to_vec();
                    pre.push(0);
                    push("payload", "", src, splice(&pre, &enc, &[b"\0".as_slice(), &p[mid..]].concat()));
                }
                if dns_safe(&enc) {
                    for h in &c.hosts {
                        push("dns", "", h, splice(b"", &enc, format!(".t.{h}").as_bytes()));
                        push("sni", "", h, splice(b"", &enc, format!(".{h}").as_bytes()));
                    }
                }
            }
        }
    }
    out
}

/// A finding belongs to a case's label if it is declared, of the case's id, and overlaps the
/// inserted span.
pub fn matches(case: &Case, f: &Finding) -> bool {
    f.declared
        && f.kind == case.kind
        && f.label.as_deref() == case.label.as_deref()
        && f.offset < case.span.1
        && f.offset + f.len > case.span.0
}

/// Result of scanning the labelled set.
#[derive(Debug, Default)]
pub struct Outcome {
    /// (family, cases, found) per encoding family, in first-seen order.
    pub by_encoding: Vec<(String, usize, usize)>,
    /// (place, cases, found) per location.
    pub by_place: Vec<(String, usize, usize)>,
    /// Cases not found: (encoding, canon, place, carrier).
    pub missed: Vec<String>,
    /// Findings that match no label.
    pub false_positives: Vec<String>,
    pub cases: usize,
}

fn bump(v: &mut Vec<(String, usize, usize)>, k: &str, hit: bool) {
    match v.iter_mut().find(|(n, _, _)| n == k) {
        Some(e) => {
            e.1 += 1;
            e.2 += usize::from(hit);
        }
        None => v.push((k.to_string(), 1, usize::from(hit))),
    }
}

/// Scans every case with `sc` (declared values of `profile50`, undeclared detection off).
pub fn run(sc: &Scanner, cases: &[Case]) -> Outcome {
    let mut o = Outcome { cases: cases.len(), ..Outcome::default() };
    let mut out = Vec::new();
    for c in cases {
        out.clear();
        sc.scan(&c.text, c.location(), &mut out);
        let hit = out.iter().any(|f| matches(c, f));
        bump(&mut o.by_encoding, &c.family(), hit);
        bump(&mut o.by_place, c.place, hit);
        if !hit {
            o.missed.push(format!("{} of {:?} ({}) at {} in {}", c.encoding, c.kind, c.canon, c.place, c.carrier));
        }
        for f in out.iter().filter(|f| !matches(c, f)) {
            o.false_positives.push(format!(
                "{} {:?}/{:?} {} at {} in {} (case {} {})",
                f.kind, f.label, f.encoding, f.location, f.offset, c.carrier, c.encoding, c.place
            ));
        }
    }
    o
}

/// Declared findings on the unmodified corpus extracts for `profile` (whose values appear
/// nowhere in them): every one is a false positive.
pub fn unmodified_false_positives(sc: &Scanner) -> (usize, Vec<String>) {
    let mut out = Vec::new();
    let mut texts = 0;
    for r in requests() {
        super::scan_request(sc, &r, &mut out);
        texts += 1;
    }
    for p in payloads() {
        sc.scan(&p.bytes, Location::Payload, &mut out);
        texts += 1;
    }
    (texts, out.iter().filter(|f| f.declared).map(|f| format!("{f:?}")).collect())
}

/// The identifiers the corpus extracts really carry (PII_HIGHLIGHTS.md, checked by hand):
/// undeclared findings outside this list are false positives.
pub const KNOWN_UNDECLARED: &[(Kind, &str)] = &[
    (Kind::AndroidId, "b9e28776354d259e"),
    (Kind::AdvertisingId, "5ac6a0ff-8d18-47bc-a902-2812cf0c251e"),
    (Kind::DeviceId, "e6dbd30b-3b84-44b4-9751-631148a3ede9"),
    (Kind::DeviceId, "f2c993d6218f5e22fe284b2e90c82f3b"),
    (Kind::AnalyticsId, "GA1.2.349209205.1532525440"),
    (Kind::AnalyticsId, "GA1.2.1042544967.1532525440"),
    (Kind::AnalyticsId, "GA1.2.1751603294.1532525413"),
    (Kind::AnalyticsId, "GA1.2.775336169.1532525413"),
    (Kind::AnalyticsId, "1751603294.1532525413"),
    (Kind::AnalyticsId, "775336169.1532525413"),
    (Kind::AnalyticsId, "GA1.2.694524528.1654385142"),
    (Kind::AnalyticsId, "GA1.2.2049861627.1654385143"),
    (Kind::AnalyticsId, "78AA863F-3983-4928-A884-3CF479D4E86B"),
    (Kind::Mac, "d8:31:34:20:77:fb"),
    (Kind::Mac, "3C528226FD28"),
    (Kind::Phone, "343931373236313031303034"),
    (Kind::Phone, "+390817683821"),
    (Kind::Email, "cicciopernacchio@mail.com"),
    (Kind::Email, "lorenzo.miniero@unina.it"),
    (Kind::Email, "matteobracci1@gmail.com"),
    (Kind::Email, "f2@aol.com"),
    (Kind::Email, "unknownz@buy2save.com"),
];

/// Undeclared findings on the unmodified extracts: (all, the ones not in
/// [`KNOWN_UNDECLARED`]). `sc` must be built with `show_values`.
pub fn undeclared_on_corpus(sc: &Scanner) -> (Vec<Finding>, Vec<String>) {
    let mut out = Vec::new();
    for r in requests() {
        super::scan_request(sc, &r, &mut out);
    }
    for p in payloads() {
        sc.scan(&p.bytes, Location::Payload, &mut out);
    }
    let unknown = out
        .iter()
        .filter(|f| !f.declared)
        .filter(|f| !KNOWN_UNDECLARED.contains(&(f.kind, f.value.as_deref().unwrap_or(""))))
        .map(|f| format!("{} {:?} key {:?} at {}: {}", f.kind, f.value, f.key, f.location, f.excerpt))
        .collect();
    (out, unknown)
}

/// `profile50()` (the evaluation's profile): its subjects are [`subjects`].
pub fn profile() -> Profile {
    super::profile50()
}

//! `--format html` end to end: the page of a real capture (examples/1kxun.pcap), and pages of
//! hostile inputs whose host names, URLs, headers and DNS names carry markup, which must come
//! out as text. (scripts/html_browser_check.sh loads the same pages in Chromium.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use phonehome_testkit::packets::{ipv4, raw_pcap, tcp, udp};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn phonehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome")).args(args).current_dir(root()).output().unwrap()
}

/// The page for `args`, written with `-o` to a temporary file.
fn html(name: &str, args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("phonehome-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{name}.html"));
    let mut all = vec!["analyze", "--format", "html", "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = phonehome(&all);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.stdout.is_empty(), "the page goes to -o, not stdout");
    let page = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    page
}

const XSS: &str = "<script>alert(1)</script>";
const IMEI: &str = "356938035643809";

/// Tags the page is made of; anything else would be markup from the traffic.
const TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "nav", "ol", "li",
    "a", "main", "section", "div", "b", "span", "table", "thead", "tbody", "tr", "th", "td", "code", "em", "strong",
    "svg", "g", "rect", "text", "line", "details", "summary", "article", "ul", "br", "pre", "footer",
];
const ATTRS: &[&str] = &[
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "href",
    "id",
    "class",
    "aria-label",
    "aria-labelledby",
    "scope",
    "colspan",
    "role",
    "viewbox",
    "width",
    "height",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "text-anchor",
];

/// Checks that every tag and attribute is the page's own, every link stays in the page, and
/// nothing is loaded from anywhere.
fn assert_only_own_markup(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{}", &page[..100.min(page.len())]);
    assert!(page.trim_end().ends_with("</html>"));
    let csp =
        page.split("http-equiv=\"Content-Security-Policy\" content=\"").nth(1).expect("CSP meta").split('"').next();
    let csp = csp.unwrap().replace("&#39;", "'");
    assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains("script-src"), "{csp}");
    // The style element's text, and only it, may hold `<`-free CSS; skip it.
    let (head, rest) = page.split_once("<style>").unwrap();
    let (_, body) = rest.split_once("</style>").unwrap();
    for part in [head, body] {
        for tag in part.split('<').skip(1) {
            let inside = tag.split('>').next().unwrap();
            let name: String = inside
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
                .collect::<String>()
                .to_ascii_lowercase();
            assert!(TAGS.contains(&name.as_str()), "tag <{inside}> is not the page's own");
            if inside.starts_with(['!', '/']) {
                continue;
            }
            // name="value" pairs, values always double-quoted and free of `"`.
            let mut rest = inside.split_once(char::is_whitespace).map_or("", |(_, r)| r);
            while let Some(eq) = rest.find('=') {
                let attr = rest[..eq].trim().to_ascii_lowercase();
                assert!(ATTRS.contains(&attr.as_str()), "attribute {attr} in <{inside}>");
                let value = rest[eq + 1..].strip_prefix('"').unwrap_or_else(|| panic!("unquoted value in <{inside}>"));
                let end = value.find('"').unwrap_or_else(|| panic!("unclosed value in <{inside}>"));
                if attr == "href" {
                    assert!(value.starts_with('#'), "a link out of the page: <{inside}>");
                }
                rest = &value[end + 1..];
            }
            assert!(rest.trim().is_empty(), "stray text in <{inside}>");
        }
    }
    let lower = page.to_ascii_lowercase();
    for bad in ["<script", "<img", "<iframe", "<link", "url(", "@import", "javascript:"] {
        assert!(!lower.contains(bad), "{bad} in the page");
    }
}

#[test]
fn report_of_1kxun() {
    let page = html(
        "1kxun",
        &[
            "--id",
            "android_id=b9e28776354d259e",
            "--id",
            "advertising_id/GAID=5ac6a0ff-8d18-47bc-a902-2812cf0c251e",
            "examples/1kxun.pcap",
        ],
    );
    assert_only_own_markup(&page);
    assert!(!page.contains("http://") && !page.contains("https://"), "no address to fetch anything from");
    for id in ["overview", "identifiers", "countries", "organisations", "matrix", "timeline", "destinations", "methods"]
    {
        assert!(page.contains(&format!("<section id=\"{id}\"")), "section {id}");
    }
    // The headline, and the numbers the text summary gives for the same run.
    assert!(page.contains("<p class=\"lede\">4 identifiers left to 2 organisations in 4 countries.</p>"));
    assert!(page.contains("examples/1kxun.pcap"));
    assert!(page.contains("2 stretches of activity"), "the capture is two captures six years apart");
    // Evidence: the GET to ws.1kxun.mobi:1234 of frame 1033 with both ids in its query.
    let ws = page.split("<h3 id=\"").find(|s| s.contains("class=\"mono\">ws.1kxun.mobi</h3>")).expect("ws.1kxun.mobi");
    assert!(ws.contains("<span class=\"mono\">1033</span>"), "frame 1033");
    assert!(ws.contains("_android_id=[android_id]"), "redacted excerpt");
    assert!(!page.contains("b9e28776354d259e"), "values stay out");
    // Organisations and countries, with names.
    assert!(page.contains("Mintegral") && page.contains("SG Singapore"));
    // Methods: the limits and the CC BY credits of the address data.
    assert!(page.contains("What cannot be seen") && page.contains("not a measured location"));
    assert!(page.contains("IP Geolocation by DB-IP") && page.contains("CC BY 4.0"));
}

/// A HAR (decrypted traffic) whose URLs, Host headers, header values and creator carry
/// markup, and a host name that is an attribute breakout.
#[test]
fn markup_in_a_har_is_text() {
    let id = format!("imei={IMEI}");
    let page = html("hostile-har", &["--id", &id, "scripts/browser/hostile.har"]);
    assert_only_own_markup(&page);
    // Host names (URL host, Host header), URLs, header names and values, bodies: as text.
    assert!(page.contains("&lt;script&gt;alert(1)&lt;"), "host from the URL");
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;"), "attribute breakout");
    assert!(page.contains("/track?x=&lt;script&gt;alert(1)&lt;/script&gt;&amp;imei=[imei]"), "URL");
    assert!(page.contains("[imei]&lt;script&gt;alert(1)&lt;/script"), "header value");
    // A right-to-left override in a header name and terminal escapes in its value are shown.
    assert!(page.contains("header:X-\\u{202e}evil"));
    assert!(page.contains("\\x07\\x1b[31m[imei]"));
    assert!(!page.contains('\u{202e}') && !page.contains('\u{1b}'));
    assert!(page.contains("HAR entry 0"));
    assert!(!page.contains(IMEI));
}

// A capture built here: a DNS answer names 198.51.100.7 `<script>alert(1)</script>.evil.example`,
// a DNS question carries the IMEI in a name with an `<img onerror>` label, and a TCP flow to
// 198.51.100.7 carries the IMEI in its raw payload.

fn dns_name(labels: &[&[u8]]) -> Vec<u8> {
    let mut n = Vec::new();
    for l in labels {
        n.push(l.len() as u8);
        n.extend_from_slice(l);
    }
    n.push(0);
    n
}

/// A DNS message: one question, and an A answer when `answer` is given.
fn dns(id: u16, name: &[u8], answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(if answer.is_some() { &[0x81, 0x80] } else { &[0x01, 0x00] });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    if let Some(a) = answer {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&a);
    }
    m
}

/// The capture described above, written to a temporary file.
fn hostile_dns_capture(dir: &Path) -> PathBuf {
    const PHONE: [u8; 4] = [10, 0, 0, 2];
    const RESOLVER: [u8; 4] = [192, 0, 2, 53];
    const SERVER: [u8; 4] = [198, 51, 100, 7];
    let evil = dns_name(&[XSS.as_bytes(), b"evil", b"example"]);
    let leaky = dns_name(&[IMEI.as_bytes(), b"x<img src=x onerror=alert(3)>", b"example"]);
    let payload = format!("HELLO {XSS} imei={IMEI}\r\n");
    let packets = vec![
        ipv4(PHONE, RESOLVER, 17, &udp(5353, 53, &dns(7, &evil, None))),
        ipv4(RESOLVER, PHONE, 17, &udp(53, 5353, &dns(7, &evil, Some(SERVER)))),
        ipv4(PHONE, RESOLVER, 17, &udp(5354, 53, &dns(8, &leaky, None))),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 1000, 0, 0x02, b"")),
        ipv4(SERVER, PHONE, 6, &tcp(4444, 40001, 5000, 1001, 0x12, b"")),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 1001, 5001, 0x18, payload.as_bytes())),
        ipv4(PHONE, SERVER, 6, &tcp(40001, 4444, 1001 + payload.len() as u32, 5001, 0x11, b"")),
    ];
    std::fs::create_dir_all(dir).unwrap();
    let cap = dir.join("hostile-dns.pcap");
    std::fs::write(&cap, raw_pcap(1_700_000_000, &packets)).unwrap();
    cap
}

#[test]
fn markup_in_dns_names_and_payload_is_text() {
    let dir = std::env::temp_dir().join(format!("phonehome-html-dns-{}", std::process::id()));
    let cap = hostile_dns_capture(&dir);
    let id = format!("imei={IMEI}");
    let page = html("hostile-dns", &["--id", &id, cap.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_only_own_markup(&page);
    // The DNS name names the flow and its leak: as text, in the matrix and the details.
    let name = "&lt;script&gt;alert(1)&lt;/script&gt;.evil.example";
    assert!(page.contains("<a href=\"#d-"), "a destination with details");
    assert!(page.matches(name).count() >= 3, "matrix row, details heading, destinations table");
    let excerpts: Vec<&str> =
        page.split("<div class=\"excerpt\">").skip(1).map(|e| e.split("</div>").next().unwrap()).collect();
    assert!(excerpts.iter().any(|e| e.contains("alert(1)&lt;/script&gt; imei=[imei]")), "{excerpts:?}");
    // The DNS question with the IMEI: its name, redacted, as text.
    assert!(excerpts.iter().any(|e| e.contains("[imei].x&lt;img")), "DNS question: {excerpts:?}");
    assert!(page.contains("<span class=\"mono\">6</span>"), "the frame of the payload");
    assert!(!page.contains(IMEI));
}

/// `diff --format html` between a capture whose DNS names and payload carry markup and the
/// example capture: the names that disappeared are text, and the page is made of the
/// report's own tags only.
#[test]
fn diff_page_shows_markup_as_text() {
    let dir = std::env::temp_dir().join(format!("phonehome-html-diff-{}", std::process::id()));
    let cap = hostile_dns_capture(&dir);
    let out = dir.join("diff.html");
    let id = format!("imei={IMEI}");
    let run = phonehome(&[
        "diff",
        "--format",
        "html",
        "-o",
        out.to_str().unwrap(),
        "--declared-only",
        "--id",
        &id,
        cap.to_str().unwrap(),
        "examples/1kxun.pcap",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let page = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_only_own_markup(&page);
    for id in ["overview", "identifiers", "organisations", "countries", "destinations", "methods"] {
        assert!(page.contains(&format!("<section id=\"{id}\"")), "section {id}");
    }
    let name = "&lt;script&gt;alert(1)&lt;/script&gt;.evil.example";
    assert!(page.matches(name).count() >= 2, "the identifier's destination and the destination that disappeared");
    assert!(page.contains("<span class=\"tag fp\">no longer sent</span>"), "the IMEI is no longer sent");
    assert!(page.contains("No identifier is sent any more"));
    assert!(page.contains("examples/1kxun.pcap"));
    assert!(!page.contains(IMEI));
}

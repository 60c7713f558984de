//! The page's structure and its escaping, on events built by hand with markup in every field
//! that comes from traffic.

use std::sync::Arc;

use phonehome_model::dest::{AddressInfo, AsInfo, Destination, NameInfo, OrgInfo};
use phonehome_model::event::{EndReason, FlowCounts, FlowRecord, FlowRef, InputStats, LeakRecord, StatsRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Event, EventBody, EventSink, IpProto, Timestamp};

use super::*;

const XSS: &str = "<script>alert(1)</script>";
const ATTR: &str = "\"><img src=x onerror=alert(2)>";

fn flow_ref(dest: &str, port: u16) -> FlowRef {
    FlowRef {
        flow_id: 6,
        src_ip: "10.0.0.2".parse().unwrap(),
        dest_ip: dest.parse().unwrap(),
        src_port: Some(40000),
        dest_port: Some(port),
        proto: IpProto::TCP,
    }
}

fn dest(org: &str, country: &[u8; 2], third: bool) -> Destination {
    Destination {
        address: Arc::new(AddressInfo {
            scope: "public",
            country: Some(*country),
            asn: Some(AsInfo { number: 64500, org: format!("AS-{ATTR}").into() }),
        }),
        name: Some(Arc::new(NameInfo {
            domain: Some(format!("{XSS}.example")),
            org: Some(Arc::new(OrgInfo {
                name: org.to_string(),
                parent: Some(format!("Parent {XSS}")),
                country: Some("CN".into()),
            })),
            category: Some("analytics"),
            source: None,
            third_party: Some(third),
            listed_in: None,
        })),
    }
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs_nanos(1_700_000_000 + secs, 0)
}

fn input() -> Option<Arc<str>> {
    Some(Arc::from(format!("cap{XSS}.pcap").as_str()))
}

fn leak(host: &str, kind: &'static str, label: Option<&str>, secs: i64, frame: u64) -> Event {
    Event {
        timestamp: at(secs),
        input: input(),
        flow: Some(flow_ref("203.0.113.9", 80)),
        body: EventBody::Leak(Box::new(LeakRecord {
            kind,
            label: label.map(str::to_string),
            declared: label.is_some(),
            encoding: format!("base64{ATTR}"),
            location: format!("header:X-{XSS}"),
            confidence: "high",
            direction: "toserver",
            excerpt: format!("id=[{kind}]&q={XSS}\u{1b}[2J\u{202e}"),
            key: Some(format!("k{ATTR}")),
            frame: Some(frame),
            http: Some((
                Some(WireText::from(host)),
                WireText([format!("/p?{ATTR}&\u{0}").as_bytes(), b"\xff"].concat()),
            )),
            dest_hostname: Some(WireText(host.as_bytes().to_vec())),
            dest: Some(dest(&format!("Org {ATTR}"), b"DE", true)),
            ..LeakRecord::default()
        })),
    }
}

fn flow(host: &str, start: i64, end: i64) -> Event {
    Event {
        timestamp: at(end),
        input: input(),
        flow: Some(flow_ref("203.0.113.9", 80)),
        body: EventBody::Flow(Box::new(FlowRecord {
            counts: FlowCounts { pkts_toserver: 10, pkts_toclient: 8, bytes_toserver: 5000, bytes_toclient: 90_000 },
            start: at(start),
            end: at(end),
            reason: EndReason::Closed,
            app_proto: Some("http"),
            tcp_handshake: Some(true),
            tcp_gaps: 0,
            app: Some(WireText::from(XSS)),
            tunnel: None,
            dest_hostname: Some((WireText::from(host), "http")),
            dest: Some(dest(&format!("Org {ATTR}"), b"DE", true)),
            decryption: None,
        })),
    }
}

fn stats() -> Event {
    Event {
        timestamp: at(100),
        input: None,
        flow: None,
        body: EventBody::Stats(Box::new(StatsRecord {
            packets: 18,
            bytes: 95_000,
            flows: 1,
            tcp_flows: 1,
            inputs: vec![InputStats {
                name: format!("cap{XSS}.pcap"),
                format: Some("pcap".into()),
                packets: 18,
                bytes: 95_000,
                decryption_secrets: 0,
                name_resolution_entries: 0,
                error: Some(format!("truncated {ATTR}")),
            }],
            ..StatsRecord::default()
        })),
    }
}

fn hostile_page() -> String {
    let host = format!("evil{XSS}{ATTR}.example");
    let mut out = Vec::new();
    let mut r = HtmlReport::new(&mut out).show_values(false);
    for (i, e) in [
        leak(&host, "imei", Some(ATTR), 1, 4),
        leak(&host, "android_id", None, 30, 9),
        leak("plain.example", "imei", Some(ATTR), 50, 12),
        flow(&host, 0, 60),
    ]
    .iter()
    .enumerate()
    {
        r.event(e).unwrap_or_else(|err| panic!("event {i}: {err}"));
    }
    r.event(&stats()).unwrap();
    r.finish().unwrap();
    String::from_utf8(out).unwrap()
}

/// Every tag name in the page, in order (`<name` and `</name`).
fn tags(page: &str) -> Vec<String> {
    let mut v = Vec::new();
    let b = page.as_bytes();
    for (i, _) in page.match_indices('<') {
        let rest = &b[i + 1..];
        let rest = rest.strip_prefix(b"/").unwrap_or(rest);
        let n: String =
            rest.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'!').map(|c| *c as char).collect();
        v.push(n.to_ascii_lowercase());
    }
    v
}

/// Attribute names of a tag's inside (`a href="#x" class="y"` → href, class).
fn attribute_names(inside: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = inside.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    while let Some(eq) = rest.find('=') {
        names.push(rest[..eq].trim().to_ascii_lowercase());
        let after = &rest[eq + 1..];
        assert!(after.starts_with('"'), "unquoted attribute value in <{inside}>");
        let end = after[1..].find('"').expect("closing quote") + 2;
        rest = &after[end..];
    }
    assert!(rest.trim().is_empty() || rest.trim() == "/", "stray text in <{inside}>: {rest}");
    names
}

#[test]
fn markup_from_traffic_is_text() {
    let page = hostile_page();
    // The only tags are the page's own; no script, no image, no event handler.
    const ALLOWED: &[&str] = &[
        "!doctype", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "nav", "ol",
        "li", "a", "main", "section", "div", "b", "span", "table", "thead", "tbody", "tr", "th", "td", "code", "em",
        "strong", "svg", "g", "rect", "text", "line", "details", "summary", "article", "ul", "br", "pre", "footer",
    ];
    for t in tags(&page) {
        assert!(ALLOWED.contains(&t.as_str()), "unexpected tag <{t}>");
    }
    // Attributes of the page's tags are the page's own: no handler, no source, no style.
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
    for tag in page.split('<').skip(1) {
        let inside = tag.split('>').next().unwrap();
        if inside.starts_with(['!', '/']) {
            assert!(inside == "!DOCTYPE html" || !inside.contains(char::is_whitespace), "<{inside}>");
            continue;
        }
        for attr in attribute_names(inside) {
            assert!(ATTRS.contains(&attr.as_str()), "attribute {attr} in <{inside}>");
        }
        for href in inside.split("href=\"").skip(1) {
            assert!(href.starts_with('#'), "a link that leaves the page: {inside}");
        }
    }
    let lower = page.to_ascii_lowercase();
    for bad in ["<script", "<img", "javascript:", "http://", "https://", "url(", "@import"] {
        assert!(!lower.contains(bad), "{bad} in the page");
    }
    // The markup is there, as text.
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    // Invisible characters are shown, bytes that were not UTF-8 replaced.
    assert!(page.contains("\\x1b[2J\\u{202e}"), "control and bidi characters shown");
    assert!(page.contains("\\x00\u{FFFD}"), "NUL and a non-UTF-8 byte in the URL");
    assert!(!page.contains('\u{1b}') && !page.contains('\u{202e}') && !page.contains('\0'));
    // Attribute values never carry a raw quote from traffic: every `"` in the page opens or
    // closes an attribute of ours, so they pair up within each tag.
    for tag in page.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
    }
}

#[test]
fn the_page_has_its_sections_and_a_strict_policy() {
    let page = hostile_page();
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(page.trim_end().ends_with("</html>"));
    let csp = content_security_policy();
    assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains("script-src"));
    assert!(page.contains(&format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">", esc(&csp))));
    // The hash is the style element's.
    let style = page.split("<style>").nth(1).unwrap().split("</style>").next().unwrap();
    assert_eq!(style, CSS);
    assert_eq!(page.matches("<style>").count(), 1);
    for id in ["overview", "identifiers", "countries", "organisations", "matrix", "timeline", "destinations", "methods"]
    {
        assert!(page.contains(&format!("<section id=\"{id}\"")), "section {id}");
        assert!(page.contains(&format!("<a href=\"#{id}\">")), "contents link to {id}");
    }
    // Headline: 2 identifiers (imei "…", android_id) to one organisation in one country.
    assert!(page.contains("<p class=\"lede\">2 identifiers left to 1 organisation in 1 country.</p>"), "{page}");
    // Country chart and names.
    assert!(page.contains("aria-labelledby=\"chart-countries-t\""));
    assert!(page.contains("DE Germany"));
    // Evidence: frame numbers, the redacted excerpt, the request, the location and encoding.
    assert!(page.contains("<span class=\"mono\">4</span>") && page.contains("<span class=\"mono\">9</span>"));
    assert!(page.contains("frame.number == N"));
    assert!(page.contains("id=[imei]&amp;q=&lt;script&gt;"));
    assert!(page.contains("header:X-&lt;script&gt;"));
    // Timeline: one panel per series, over the minute the capture lasted.
    assert!(page.contains("aria-labelledby=\"chart-timeline-0-t\""));
    assert!(page.contains("Identifier findings") && page.contains("Bytes sent") && page.contains("Bytes received"));
    // Methods: what encryption hides, what a country means, values redacted, credits.
    assert!(page.contains("What cannot be seen"));
    assert!(page.contains("not a measured location"));
    assert!(page.contains("Identifier values are not in this report"));
    // The headline's organisation is linked to its destination's details.
    assert!(page.contains("<a href=\"#d-0\">evil&lt;script&gt;"));
    assert!(page.contains("<article class=\"dest\" id=\"d-0\""));
}

#[test]
fn an_empty_run_still_makes_a_page() {
    let mut out = Vec::new();
    let mut r = HtmlReport::new(&mut out);
    r.finish().unwrap();
    let page = String::from_utf8(out).unwrap();
    assert!(page.contains("No input was read."));
    assert!(page.trim_end().ends_with("</html>"));

    let mut out = Vec::new();
    let mut r = HtmlReport::new(&mut out);
    r.event(&flow("quiet.example", 0, 5)).unwrap();
    r.event(&stats()).unwrap();
    r.finish().unwrap();
    let page = String::from_utf8(out).unwrap();
    assert!(
        page.contains(
            "No identifier of the device was found in what it sent. It talked to 1 organisation in 1 server country."
        ),
        "{page}"
    );
}

#[test]
fn values_are_announced_when_shown() {
    let mut out = Vec::new();
    let mut r = HtmlReport::new(&mut out).show_values(true);
    let mut e = leak("a.example", "imei", None, 0, 1);
    if let EventBody::Leak(l) = &mut e.body {
        l.value = Some(format!("3569{XSS}"));
    }
    r.event(&e).unwrap();
    r.event(&stats()).unwrap();
    r.finish().unwrap();
    let page = String::from_utf8(out).unwrap();
    assert!(page.contains("made with <code>--show-values</code>: it contains"));
    assert!(page.contains("value: <code>3569&lt;script&gt;"));
}

#[test]
fn credits_come_from_the_data_sources() {
    let src = phonehome_attribute::ip::IpDb::embedded().sources();
    let mut out = Vec::new();
    let mut r = HtmlReport::new(&mut out).data_sources(src.clone());
    r.event(&stats()).unwrap();
    r.finish().unwrap();
    let page = String::from_utf8(out).unwrap();
    assert!(page.contains("IP Geolocation by"), "DB-IP's attribution");
    assert!(page.contains("CC BY 4.0"));
    for s in &src {
        for (k, v) in &s.facts {
            assert!(page.contains(&format!("{}: {}", esc(k), esc(v))), "{k}: {v}");
        }
    }
}

#[test]
fn helpers() {
    assert_eq!(duration(3_200_000_000), "3.2 s");
    assert_eq!(duration(125_000_000_000), "2 min 5 s");
    assert_eq!(duration(7_200_000_000_000), "2 h");
    assert_eq!(human_bytes(1500), "1.5 kB");
    assert_eq!(time(Timestamp::from_secs_nanos(1_393_936_496, 5)), "2014-03-04 12:34:56");
    assert_eq!(list(["a", "b", "c"].into_iter(), 2), "a, b, …");
    assert_eq!(country_label("FR"), "FR France");
    assert_eq!(country_label("X<"), "X<");
}

//! HAR input: recorded requests and responses searched like reassembled HTTP.
//!
//! A HAR has no packets, so no flows: each entry becomes an `http` event and the `leak` events
//! of what its request and response carried, tied to a flow reference made for the entry
//! (the server's address when the file records it, the URL's port) so that the report reads
//! the same as for captures. `flow_id` is `input_index × 2^42 + entry index × 2`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use phonehome_detect::Location;
use phonehome_har::{Entry, NameValue};
use phonehome_model::event::{Event, EventBody, FlowRef, HttpRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Counters, Direction, IpProto, Timestamp};

use crate::dissect::http::scan_headers;
use crate::dissect::{Context, DnsNames, Keys};
use crate::findings::Findings;

/// Whether an input is a HAR rather than a capture: by name (`.har`, `.zhar`, `.har.gz`) or
/// by its first bytes (a JSON object, possibly after a byte order mark).
pub(crate) fn looks_like_har(name: &str, head: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".har") || lower.ends_with(".zhar") || lower.ends_with(".har.gz") {
        return true;
    }
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    matches!(head, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]) || head.trim_ascii_start().first() == Some(&b'{')
}

/// What reading a HAR gave: the entries read, and where reading stopped early, if it did.
#[derive(Debug)]
pub(crate) struct HarRead {
    pub(crate) entries: u64,
    /// Why the file was not read to its end ("HAR ends early at byte offset 812 (line 12,
    /// column 3)", or "HAR breaks (<JSON error>) at ..."), when it was not.
    pub(crate) stopped: Option<String>,
}

/// Reads one HAR's entries into events. Returns the entries read and where reading stopped
/// early (a cut or broken file, whose entries before the damage are reported, is counted as
/// `truncated_file` or `corrupt_file`), or the reason the file could not be read at all.
pub(crate) fn run(
    bytes: &[u8],
    input: &Arc<str>,
    input_index: u64,
    findings: &mut Findings,
    counters: &mut Counters,
    emit: &mut dyn FnMut(Event),
) -> Result<HarRead, phonehome_har::HarError> {
    let mut names = DnsNames::new(0);
    // A HAR's requests are decrypted already: no key is ever looked up.
    let mut keys = Keys::default();
    let mut read = 0u64;
    let log = phonehome_har::parse_each(bytes, &phonehome_har::Limits::default(), |entry| {
        read += 1;
        let mut out = Vec::new();
        let flow = flow_ref(&entry, input_index);
        let (mut hostname, mut decryption) = (None, None);
        let mut cx = Context {
            names: &mut names,
            out: &mut out,
            hostname: &mut hostname,
            counters,
            findings,
            frame: None,
            udp: false,
            keys: &mut keys,
            decryption: &mut decryption,
        };
        let record = entry_events(&entry, &mut cx);
        let timestamp =
            entry.started.map_or(Timestamp::from_secs_nanos(0, 0), |t| Timestamp::from_secs_nanos(t.secs, t.nanos));
        for mut body in out.into_iter().chain([EventBody::Http(Box::new(record.clone()))]) {
            if let EventBody::Leak(l) = &mut body {
                l.dest_hostname = record.hostname.clone();
            }
            emit(Event { timestamp, input: Some(input.clone()), flow: Some(flow.clone()), body });
        }
    })?;
    counters.add(Counter::HarEntrySkipped, log.report.entries_skipped as u64 + log.report.entries_over_cap as u64);
    counters.add(Counter::HarItems, log.report.items_over_cap as u64);
    counters.add(Counter::HarPages, log.report.pages_over_cap as u64);
    let stopped = log.report.stopped.map(|st| {
        counters.add(if st.eof { Counter::TruncatedFile } else { Counter::CorruptFile }, 1);
        let what = if st.eof { "HAR ends early".to_string() } else { format!("HAR breaks ({})", st.message) };
        format!("{what} at byte offset {} (line {}, column {})", st.offset, st.line, st.column)
    });
    Ok(HarRead { entries: read, stopped })
}

/// The entry's endpoints: the client is unknown (unspecified address), the server is the
/// recorded `serverIPAddress` (unspecified when absent) on the URL's port.
fn flow_ref(entry: &Entry, input_index: u64) -> FlowRef {
    let url = &entry.request.url;
    let https = url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let port = url_port(url).unwrap_or(if https { 443 } else { 80 });
    FlowRef {
        flow_id: (input_index << 42) + (entry.index as u64) * 2,
        src_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dest_ip: entry.server_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        src_port: None,
        dest_port: Some(port),
        proto: IpProto::TCP,
    }
}

/// The port written in a URL's authority, if any.
fn url_port(url: &str) -> Option<u16> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority = &authority[authority.rfind('@').map_or(0, |i| i + 1)..];
    let after_host = authority.rfind(']').map_or(authority, |i| &authority[i..]);
    after_host.rfind(':').and_then(|i| after_host[i + 1..].parse().ok())
}

/// The request target as an HTTP/1.1 client would send it: the URL's path and query.
fn target(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else { return url };
    let rest = &url[scheme_end + 3..];
    match rest.find(['/', '?']) {
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// Searches everything the entry carried and returns its `http` event's data; the leak
/// events are in `cx.out`.
fn entry_events(entry: &Entry, cx: &mut Context<'_>) -> HttpRecord {
    let req = &entry.request;
    let mut record = HttpRecord {
        hostname: req.host().map(|h| WireText(h.into_bytes())),
        http_method: WireText(req.method.clone().into_bytes()),
        protocol: req.http_version.clone(),
        version: phonehome_model::event::http_version(&req.http_version),
        http_user_agent: req.header("user-agent").map(|u| WireText(u.as_bytes().to_vec())),
        ..HttpRecord::default()
    };
    let mark = cx.mark();
    record.url = cx.scan_reported(Direction::ToServer, target(&req.url).as_bytes(), Location::Url);
    record.http_refer = scan_headers(Direction::ToServer, pairs(&req.headers), cx);
    // Cookies are in the Cookie header when the writer kept it; otherwise only in `cookies`.
    if req.header("cookie").is_none() {
        for c in &req.cookies {
            cx.scan(Direction::ToServer, format!("{}={}", c.name, c.value).as_bytes(), Location::Cookie);
        }
    }
    if let Some(post) = &req.post_data {
        if let Some(text) = &post.text {
            cx.scan(Direction::ToServer, &text.bytes, Location::Body);
            record.request_length = text.bytes.len() as u64;
        } else if !post.params.is_empty() {
            let form: Vec<String> = post.params.iter().map(|p| format!("{}={}", p.name, p.value)).collect();
            cx.scan(Direction::ToServer, form.join("&").as_bytes(), Location::Body);
        }
    }
    for m in &entry.websocket {
        let dir = if m.sent { Direction::ToServer } else { Direction::ToClient };
        cx.scan(dir, &m.data.bytes, Location::Payload);
    }
    if let Some(resp) = &entry.response {
        record.status = Some(resp.status);
        record.http_content_type =
            (!resp.content.mime_type.is_empty()).then(|| WireText(resp.content.mime_type.clone().into_bytes()));
        scan_headers(Direction::ToClient, pairs(&resp.headers), cx);
        if let Some(text) = &resp.content.text {
            cx.scan(Direction::ToClient, &text.bytes, Location::Body);
            record.length = text.bytes.len() as u64;
        }
    }
    cx.fill_http(mark, record.hostname.as_ref(), &record.url);
    record.anomalies = entry.anomalies.clone();
    record
}

/// A HAR's headers as the HTTP dissector reads them; HTTP/2 pseudo-headers other than
/// `:authority` repeat what the URL says and are skipped.
fn pairs(headers: &[NameValue]) -> impl Iterator<Item = (&[u8], &[u8])> {
    headers
        .iter()
        .filter(|h| !h.name.starts_with(':') || h.name.eq_ignore_ascii_case(":authority"))
        .map(|h| (h.name.as_bytes(), h.value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_ports_come_from_the_url() {
        assert_eq!(target("http://a.example/p?q=1"), "/p?q=1");
        assert_eq!(target("https://a.example"), "/");
        assert_eq!(target("https://a.example?x"), "?x");
        assert_eq!(target("/relative"), "/relative");
        assert_eq!(url_port("http://a.example:8080/p"), Some(8080));
        assert_eq!(url_port("http://[::1]:81/"), Some(81));
        assert_eq!(url_port("http://[::1]/"), None);
        assert_eq!(url_port("http://u:pw@a.example/"), None);
        assert_eq!(url_port("https://a.example/"), None);
    }

    /// Regression (hostile sweep, issue 8): a HAR cut inside its entries was read up to the
    /// cut without a word, neither on stderr nor in `stats`.
    #[test]
    fn a_cut_har_is_reported_with_the_entries_before_the_cut() {
        struct Sink(usize);
        impl phonehome_model::EventSink for Sink {
            fn event(&mut self, e: &Event) -> std::io::Result<()> {
                self.0 += usize::from(matches!(e.body, EventBody::Http(_)));
                Ok(())
            }
        }
        let entry = r#"{"startedDateTime": "2024-01-01T00:00:00Z", "request": {"method": "GET",
            "url": "http://a.example/x", "httpVersion": "HTTP/1.1", "headers": []}}"#;
        let whole = format!(r#"{{"log": {{"version": "1.2", "entries": [{entry}, {entry}]}}}}"#);
        let run_on = |text: &str| {
            let input = crate::Input { name: "x.har".into(), reader: Box::new(std::io::Cursor::new(text.to_string())) };
            let mut sink = Sink(0);
            let outcome = crate::run(vec![input], &crate::Config::default(), &mut sink).unwrap();
            (outcome, sink.0)
        };
        let (outcome, http) = run_on(&whole);
        assert_eq!(http, 2);
        assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
        assert!(outcome.stats.inputs[0].error.is_none());

        let cut = &whole[..whole.len() - entry.len() / 2 - 4];
        let (outcome, http) = run_on(cut);
        assert_eq!(http, 1, "the entry before the cut is read");
        assert_eq!(outcome.readable_inputs, 1);
        assert_eq!(outcome.problems.len(), 1, "{:?}", outcome.problems);
        let expected = format!("x.har: HAR ends early at byte offset {} (line ", cut.len());
        assert!(outcome.problems[0].starts_with(&expected), "{}", outcome.problems[0]);
        assert!(outcome.stats.inputs[0].error.is_some());
        assert_eq!(outcome.stats.counters.get(Counter::TruncatedFile), 1);

        let broken = whole.replacen("\"GET\"", "\"GET\" 7", 2);
        let (outcome, _) = run_on(&broken);
        assert_eq!(outcome.stats.counters.get(Counter::CorruptFile), 1, "{:?}", outcome.problems);
    }

    #[test]
    fn hars_are_told_from_captures() {
        assert!(looks_like_har("x.har", b"\xd4\xc3\xb2\xa1"));
        assert!(looks_like_har("-", b"  {\"log\""));
        assert!(looks_like_har("-", b"\xef\xbb\xbf{"));
        assert!(!looks_like_har("x.pcap", b"\xd4\xc3\xb2\xa1"));
        assert!(!looks_like_har("x.pcapng", b"\x0a\x0d\x0d\x0a"));
    }
}

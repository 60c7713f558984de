//! `--format html`: one self-contained page a researcher can attach to an e-mail. It loads
//! nothing (CSS inline, charts drawn here as inline SVG, no script, no image, no font), and its
//! Content-Security-Policy says so to the browser: `default-src 'none'`, the one style element
//! allowed by its hash. Everything taken from traffic is written through [`escape::esc`].
//!
//! Sections: overview (inputs, the headline "N identifiers left to M organisations in K
//! countries"), identifiers, server countries (bar chart), organisations, a leak matrix
//! (destination × identifier), a timeline (findings and bytes over capture time), details
//! per destination with evidence (frame numbers, locations, encodings, redacted excerpts,
//! URLs), all destinations, and methods and limits (what the data can and cannot say, data
//! credits).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;

use phonehome_attribute::domain::DomainDb;
use phonehome_attribute::ip::DataSource;
use phonehome_model::text::base64_standard;
use phonehome_model::{CounterGroup, Event, EventBody, EventSink, Timestamp};
use sha2::{Digest, Sha256};

use crate::summary::{DestRow, IdentifierRow, OrgRow, Owner, Summary, SummaryBuilder, identifier_name};
use crate::text::human_bytes;

mod countries;
pub mod diff;
pub mod escape;
pub mod evidence;
pub mod timeline;

pub use escape::{Esc, esc};
use evidence::EvidenceStore;
use timeline::Timeline;

/// The style sheet: the only thing the page's Content-Security-Policy lets in (by hash).
const CSS: &str = include_str!("html/style.css");

/// Rows shown per table before "and N more".
const MAX_ORG_ROWS: usize = 200;
const MAX_COUNTRY_BARS: usize = 30;
const MAX_MATRIX_COLS: usize = 24;
const MAX_MATRIX_ROWS: usize = 150;
const MAX_DEST_DETAILS: usize = 100;
const MAX_DEST_ROWS: usize = 200;
/// Host names listed per organisation.
const HOSTS_PER_ORG: usize = 6;

/// What the page says about how it was made.
#[derive(Clone, Debug, Default)]
pub struct HtmlOptions {
    /// Values were asked for (`--show-values`): the page says they are in it.
    pub show_values: bool,
    /// The address data's sources ([`phonehome_attribute::ip::IpDb::sources`]); empty when
    /// attribution was off.
    pub data_sources: Vec<DataSource>,
}

/// What the page needs beyond the [`Summary`]: evidence, the timeline, the capture's span.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub evidence: EvidenceStore,
    pub timeline: Timeline,
    /// Earliest and latest event time (flows' first packets included).
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl Observed {
    fn saw(&mut self, t: Timestamp) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }
}

impl EventSink for Observed {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match &event.body {
            EventBody::Flow(r) => {
                self.saw(r.start);
                self.saw(r.end);
                self.timeline.flow(r.start, r.end, r.counts.bytes_toserver, r.counts.bytes_toclient);
            }
            EventBody::Leak(r) => {
                self.saw(event.timestamp);
                self.timeline.finding(event.timestamp);
                self.evidence.add(event, r);
            }
            EventBody::Http(_) => {
                self.saw(event.timestamp);
                self.timeline.request(event.timestamp);
            }
            EventBody::Dns(_) | EventBody::Tls(_) | EventBody::Quic(_) | EventBody::Stats(_) => {}
        }
        Ok(())
    }
}

/// Collects events and writes the HTML page at [`EventSink::finish`].
pub struct HtmlReport<W: Write> {
    out: W,
    builder: SummaryBuilder,
    observed: Observed,
    options: HtmlOptions,
}

impl<W: Write> HtmlReport<W> {
    /// Writes to `out` at the end of the run.
    pub fn new(out: W) -> HtmlReport<W> {
        HtmlReport {
            out,
            builder: SummaryBuilder::new(),
            observed: Observed::default(),
            options: HtmlOptions::default(),
        }
    }

    /// Says in the page whether values were asked for.
    pub fn show_values(mut self, yes: bool) -> Self {
        self.options.show_values = yes;
        self
    }

    /// The address data's sources, for the credits (leave empty without attribution).
    pub fn data_sources(mut self, sources: Vec<DataSource>) -> Self {
        self.options.data_sources = sources;
        self
    }
}

impl<W: Write> EventSink for HtmlReport<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.builder.event(event)?;
        self.observed.event(event)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let page = render(self.builder.summary(), &self.observed, &self.options);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }
}

/// The Content-Security-Policy of the page: nothing may load, no script may run, the one
/// style element is allowed by its SHA-256.
pub fn content_security_policy() -> String {
    let hash = base64_standard(&Sha256::digest(CSS.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'")
}

/// The whole page.
pub fn render(sum: &Summary, seen: &Observed, opts: &HtmlOptions) -> String {
    let mut h = String::with_capacity(64 << 10);
    let inputs: Vec<&str> =
        sum.stats.as_ref().map(|s| s.inputs.iter().map(|i| i.name.as_str()).collect()).unwrap_or_default();
    let title = match inputs.as_slice() {
        [] => "phonehome report".to_string(),
        [one] => format!("phonehome report: {one}"),
        [one, rest @ ..] => format!("phonehome report: {one} and {} more", rest.len()),
    };
    page_start(&mut h, &title);
    let _ = write!(
        h,
        "<header>\n<h1>What the device sent, to whom, and where</h1>\n<p class=\"lede\">{}</p>\n",
        headline(sum)
    );
    let _ = writeln!(h, "<p class=\"muted\">{}</p>\n</header>", read_line(sum, seen));
    h.push_str(
        "<nav aria-label=\"Contents\"><ol>\
         <li><a href=\"#overview\">Overview</a></li>\
         <li><a href=\"#identifiers\">Identifiers</a></li>\
         <li><a href=\"#countries\">Countries</a></li>\
         <li><a href=\"#organisations\">Organisations</a></li>\
         <li><a href=\"#matrix\">Leak matrix</a></li>\
         <li><a href=\"#timeline\">Timeline</a></li>\
         <li><a href=\"#destinations\">Destinations</a></li>\
         <li><a href=\"#methods\">Methods and limits</a></li>\
         </ol></nav>\n<main>\n",
    );
    let dest_ids = dest_anchors(sum);
    overview(&mut h, sum, seen);
    identifiers(&mut h, sum);
    countries_section(&mut h, sum);
    organisations(&mut h, sum);
    matrix(&mut h, sum, &dest_ids);
    timeline_section(&mut h, seen);
    destinations(&mut h, sum, seen, &dest_ids);
    methods(&mut h, sum, opts);
    page_end(&mut h);
    h
}

/// The page's head (its policy, the style sheet) and the opening of its body; every page
/// phonehome writes (report, diff) starts so.
fn page_start(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"generator\" content=\"phonehome {}\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&content_security_policy()),
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
}

/// Closes what [`page_start`] and the `<main>` element opened.
fn page_end(h: &mut String) {
    let _ = write!(
        h,
        "</main>\n<footer>Made by phonehome {} from the captures named above. The page loads nothing \
         from any network and runs no script.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
}

/// "3 identifiers left to 5 organisations in 4 countries." (escaped HTML).
fn headline(sum: &Summary) -> String {
    let Some(_) = &sum.stats else { return "No input was read.".to_string() };
    let ids = sum.identifiers.len();
    let mut owners = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    let mut countries = BTreeSet::new();
    for g in sum.identifiers.values() {
        for (d, ld) in &g.destinations {
            match &ld.owner {
                Owner::Unknown | Owner::Local(_) => {
                    unknown.insert(d.as_str());
                }
                o => {
                    owners.insert(o);
                }
            }
            if let Some(c) = &ld.country {
                countries.insert(c.as_str());
            }
        }
    }
    if ids == 0 {
        let orgs = sum.orgs.keys().filter(|o| !matches!(o, Owner::Unknown | Owner::Local(_))).count();
        return format!(
            "No identifier of the device was found in what it sent. It talked to {} in {}.",
            count(orgs as u64, "organisation", "organisations"),
            count(sum.countries.len() as u64, "server country", "server countries"),
        );
    }
    let mut s = format!(
        "{} left to {} in {}",
        count(ids as u64, "identifier", "identifiers"),
        count(owners.len() as u64, "organisation", "organisations"),
        count(countries.len() as u64, "country", "countries"),
    );
    if !unknown.is_empty() {
        let _ =
            write!(s, " (and {} whose owner is unknown)", count(unknown.len() as u64, "destination", "destinations"));
    }
    s.push('.');
    s
}

/// "Read 2 inputs: 1,234 packets (1.2 MB), 2014-03-04 12:00:00 to 12:05:00 UTC (5 min)."
fn read_line(sum: &Summary, seen: &Observed) -> String {
    let Some(st) = &sum.stats else { return String::new() };
    let mut s = format!("Read {}", count(st.inputs.len() as u64, "input", "inputs"));
    if st.packets > 0 {
        let _ = write!(s, ": {} ({})", count(st.packets, "packet", "packets"), human_bytes(st.bytes));
    }
    if sum.http_events > 0 && st.packets == 0 {
        let _ = write!(s, ": {} (HAR)", count(sum.http_events, "HTTP request", "HTTP requests"));
    }
    let segments = seen.timeline.segments();
    if segments.len() > 1 {
        let parts: Vec<String> = segments
            .iter()
            .map(|g| {
                let (a, b) = g.span();
                format!("{} to {} ({})", time(a), time(b), duration(b.nanos_since(a)))
            })
            .collect();
        let _ = write!(s, "; {} stretches of activity: {}", segments.len(), parts.join(", "));
    } else if let (Some(a), Some(b)) = (seen.first, seen.last) {
        let _ = write!(s, "; {} to {} ({})", time(a), time(b), duration(b.nanos_since(a)));
    }
    s.push('.');
    s
}

fn overview(h: &mut String, sum: &Summary, _seen: &Observed) {
    h.push_str("<section id=\"overview\" aria-labelledby=\"overview-h\">\n<h2 id=\"overview-h\">Overview</h2>\n");
    let Some(st) = &sum.stats else {
        h.push_str("<p>No input was read.</p>\n</section>\n");
        return;
    };
    let findings: u64 = sum.identifiers.values().map(|g| g.count).sum::<u64>() + sum.identifiers_untracked;
    let third: u64 = sum.identifiers.values().map(|g| g.to_third_parties).sum();
    let receiving = sum.orgs.values().filter(|o| !o.identifiers.is_empty()).count();
    let (out, inb) = sum.orgs.values().fold((0, 0), |a, o| (a.0 + o.bytes_out, a.1 + o.bytes_in));
    h.push_str("<div class=\"figures\">\n");
    for (n, what) in [
        (sum.identifiers.len().to_string(), "identifiers found"),
        (findings.to_string(), "findings"),
        (third.to_string(), "findings sent to third parties"),
        (receiving.to_string(), "owners that received identifiers"),
        (sum.orgs.len().to_string(), "owners contacted"),
        (sum.countries.len().to_string(), "server countries"),
        (st.flows.to_string(), "flows"),
        (sum.destinations.len().to_string(), "destinations"),
        (human_bytes(out), "sent by the device"),
        (human_bytes(inb), "received"),
    ] {
        let _ = writeln!(h, "<div class=\"figure\"><b>{}</b><span>{what}</span></div>", esc(&n));
    }
    h.push_str("</div>\n");

    h.push_str(
        "<h3>Inputs</h3>\n<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">File</th>\
         <th scope=\"col\">Format</th><th scope=\"col\" class=\"num\">Packets</th>\
         <th scope=\"col\" class=\"num\">Bytes</th><th scope=\"col\">Notes</th></tr></thead>\n<tbody>\n",
    );
    for i in &st.inputs {
        let mut notes = Vec::new();
        if let Some(e) = &i.error {
            notes.push(format!("reading stopped: {e}"));
        }
        if i.decryption_secrets > 0 {
            notes.push(format!("{} decryption secrets blocks", i.decryption_secrets));
        }
        if i.name_resolution_entries > 0 {
            notes.push(format!("{} name resolution entries", i.name_resolution_entries));
        }
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&i.name),
            esc(i.format.as_deref().unwrap_or("unreadable")),
            i.packets,
            i.bytes,
            esc(&notes.join("; "))
        );
    }
    h.push_str("</tbody></table></div>\n");
    if sum.http_events > 0 {
        let _ = writeln!(h, "<p>{} read.</p>", count(sum.http_events, "HTTP transaction", "HTTP transactions"));
    }
    let e = &sum.encrypted;
    if e.flows > 0 {
        let why: Vec<String> = e.not_decrypted.iter().map(|(r, n)| format!("{} {n}", r.replace('_', " "))).collect();
        let class = if e.decrypted < e.flows { " class=\"warn\"" } else { "" };
        let _ = write!(
            h,
            "<p{class}>{} (TLS, QUIC): {} decrypted and searched",
            count(e.flows, "encrypted flow", "encrypted flows"),
            e.decrypted
        );
        if !why.is_empty() {
            let _ = write!(h, "; not decrypted: {}", esc(&why.join(", ")));
        }
        h.push_str(
            ". What an encrypted flow carries is searched only when it was decrypted (see \
             <a href=\"#methods\">methods and limits</a>).</p>\n",
        );
    }
    if sum.attributed_flows == 0 && st.flows > 0 {
        h.push_str(
            "<p class=\"warn\">Destinations were not attributed (no organisation or server country): \
             the run had attribution turned off.</p>\n",
        );
    }
    let caps: Vec<String> = st.counters.nonzero(CounterGroup::Cap).map(|(c, n)| format!("{} {n}", c.name())).collect();
    if !caps.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"warn\">Resource caps were hit, so some data was left out on purpose: {}.</p>",
            esc(&caps.join(", "))
        );
    }
    for (group, what) in [(CounterGroup::Skipped, "Input not used"), (CounterGroup::Anomaly, "Odd traffic handled")] {
        let items: Vec<String> = st.counters.nonzero(group).map(|(c, n)| format!("{} {n}", c.name())).collect();
        if !items.is_empty() {
            let _ = writeln!(h, "<p class=\"note\">{what}: {}.</p>", esc(&items.join(", ")));
        }
    }
    h.push_str("</section>\n");
}

/// Identifier groups, declared first, then by findings (as the text summary orders them).
fn sorted_identifiers(sum: &Summary) -> Vec<&IdentifierRow> {
    let mut groups: Vec<_> = sum.identifiers.iter().collect();
    groups.sort_by(|a, b| b.0.2.cmp(&a.0.2).then(b.1.count.cmp(&a.1.count)).then_with(|| a.0.cmp(b.0)));
    groups.into_iter().map(|(_, g)| g).collect()
}

fn identifiers(h: &mut String, sum: &Summary) {
    h.push_str(
        "<section id=\"identifiers\" aria-labelledby=\"identifiers-h\">\n<h2 id=\"identifiers-h\">Identifiers</h2>\n",
    );
    if sum.identifiers.is_empty() {
        h.push_str(
            "<p>No identifier of the device was found in what it sent, in what could be read \
             (see <a href=\"#methods\">methods and limits</a>: encrypted payloads are not read).</p>\n</section>\n",
        );
        return;
    }
    h.push_str(
        "<p>Each identifier of the device found in what it sent: declared values (from the profile or \
         <code>--id</code>) and identifiers found by the key they were sent under and validated. \
         Findings marked received were in what a server sent: it holds the value.</p>\n\
         <div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Identifier</th><th scope=\"col\">How found</th>\
         <th scope=\"col\">Confidence</th><th scope=\"col\" class=\"num\">Findings</th>\
         <th scope=\"col\" class=\"num\">Destinations</th><th scope=\"col\" class=\"num\">To third parties</th>\
         <th scope=\"col\">Where in the messages</th><th scope=\"col\">Disguises</th></tr></thead>\n<tbody>\n",
    );
    for g in sorted_identifiers(sum) {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"num\">{}{}</td><td class=\"num\">{}{}</td>\
             <td class=\"num\">{}</td><td class=\"wrap\">{}</td><td class=\"wrap\">{}</td></tr>",
            esc(&identifier_name(g.kind, g.label.as_deref())),
            if g.declared { "declared" } else { "by key and shape" },
            esc(g.confidence),
            g.count,
            if g.received > 0 { format!(" ({} received)", g.received) } else { String::new() },
            g.destinations.len(),
            if g.destinations_untracked > 0 { "+" } else { "" },
            g.to_third_parties,
            esc(&list(g.locations.iter().map(String::as_str), 12)),
            esc(&list(g.encodings.iter().map(String::as_str), 12)),
        );
    }
    h.push_str("</tbody></table></div>\n");
    if sum.identifiers_untracked > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} findings of further identifiers are not itemised.</p>",
            sum.identifiers_untracked
        );
    }
    h.push_str("</section>\n");
}

fn countries_section(h: &mut String, sum: &Summary) {
    h.push_str(
        "<section id=\"countries\" aria-labelledby=\"countries-h\">\n<h2 id=\"countries-h\">Server countries</h2>\n",
    );
    if sum.countries.is_empty() {
        h.push_str("<p>No server country is known (no public address was attributed).</p>\n</section>\n");
        return;
    }
    h.push_str(
        "<p>Where the servers' address blocks are registered or announced (not a measured location; \
         see <a href=\"#methods\">methods</a>). Bars: identifier findings sent there, and bytes the \
         device sent there.</p>\n",
    );
    let mut rows: Vec<_> = sum.countries.iter().collect();
    rows.sort_by(|a, b| {
        b.1.findings.cmp(&a.1.findings).then(b.1.bytes_out.cmp(&a.1.bytes_out)).then_with(|| a.0.cmp(b.0))
    });
    let bars: Vec<Bar> = rows
        .iter()
        .take(MAX_COUNTRY_BARS)
        .map(|(c, r)| Bar {
            label: country_label(c),
            a: r.findings,
            a_text: r.findings.to_string(),
            b: r.bytes_out,
            b_text: human_bytes(r.bytes_out),
        })
        .collect();
    bar_chart(h, &bars, "Identifier findings", "Bytes sent", "Server countries: findings and bytes sent");
    if rows.len() > MAX_COUNTRY_BARS {
        let _ = writeln!(h, "<p class=\"note\">Chart: the first {MAX_COUNTRY_BARS} of {} countries.</p>", rows.len());
    }
    h.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Country</th><th scope=\"col\" class=\"num\">Findings</th>\
         <th scope=\"col\" class=\"num\">Flows</th><th scope=\"col\" class=\"num\">Sent</th><th scope=\"col\" class=\"num\">Received</th>\
         <th scope=\"col\">Owners of the servers</th></tr></thead>\n<tbody>\n",
    );
    for (c, r) in &rows {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"wrap\">{}</td></tr>",
            esc(&country_label(c)),
            r.findings,
            r.flows,
            human_bytes(r.bytes_out),
            human_bytes(r.bytes_in),
            esc(&list(r.owners.iter().map(String::as_str), 10)),
        );
    }
    h.push_str("</tbody></table></div>\n</section>\n");
}

/// Organisations: those that received identifiers first, then by bytes sent.
fn sorted_orgs(sum: &Summary) -> Vec<&OrgRow> {
    let mut rows: Vec<_> = sum.orgs.values().collect();
    let findings = |o: &OrgRow| o.identifiers.values().sum::<u64>();
    rows.sort_by(|a, b| {
        findings(b)
            .cmp(&findings(a))
            .then(b.bytes_out.cmp(&a.bytes_out))
            .then(b.flows.cmp(&a.flows))
            .then_with(|| a.owner.cmp(&b.owner))
    });
    rows
}

fn organisations(h: &mut String, sum: &Summary) {
    h.push_str(
        "<section id=\"organisations\" aria-labelledby=\"organisations-h\">\n<h2 id=\"organisations-h\">Organisations</h2>\n",
    );
    if sum.orgs.is_empty() {
        h.push_str("<p>No flow was seen.</p>\n</section>\n");
        return;
    }
    h.push_str(
        "<p>Who runs the servers the device talked to: a company when the name table or a user's list \
         knows the server's name, else the registrable domain (owner unknown), else only the network \
         announcing the address. <em>First party</em> is the device's maker (<code>vendor</code> in the \
         profile or <code>--vendor</code>); <em>HQ</em> is the company's home country.</p>\n\
         <div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Owner</th><th scope=\"col\">Party</th>\
         <th scope=\"col\">HQ</th><th scope=\"col\">Categories</th><th scope=\"col\">Server countries (flows)</th>\
         <th scope=\"col\" class=\"num\">Flows</th><th scope=\"col\" class=\"num\">Sent</th><th scope=\"col\" class=\"num\">Received</th>\
         <th scope=\"col\">Identifiers received</th><th scope=\"col\">Host names</th></tr></thead>\n<tbody>\n",
    );
    let rows = sorted_orgs(sum);
    for o in rows.iter().take(MAX_ORG_ROWS) {
        let mut owner = esc(&o.owner.display()).to_string();
        if let Some(p) = &o.parent {
            let _ = write!(owner, " <span class=\"muted\">(part of {})</span>", esc(p));
        }
        let mut cs: Vec<_> = o.server_countries.iter().collect();
        cs.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let cs: Vec<String> = cs.iter().map(|(c, n)| format!("{c} ({n})")).collect();
        let ids: Vec<String> = o.identifiers.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        let hosts = list(o.hostnames.iter().map(String::as_str), HOSTS_PER_ORG);
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{owner}</th><td>{}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"wrap\">{}</td>\
             <td class=\"wrap mono\">{}</td></tr>",
            party(o.third_party),
            esc(o.home_country.as_deref().map(country_label).as_deref().unwrap_or("")),
            esc(&list(o.categories.iter().copied(), 8).replace('_', " ")),
            esc(&cs.join(", ")),
            o.flows,
            human_bytes(o.bytes_out),
            human_bytes(o.bytes_in),
            esc(&ids.join(", ")),
            esc(&hosts),
        );
    }
    h.push_str("</tbody></table></div>\n");
    if rows.len() > MAX_ORG_ROWS {
        let _ = writeln!(
            h,
            "<p class=\"note\">… and {} more owners (see <code>--format ndjson</code>).</p>",
            rows.len() - MAX_ORG_ROWS
        );
    }
    if sum.orgs_untracked_flows > 0 {
        let _ =
            writeln!(h, "<p class=\"note\">{} flows to further owners are not itemised.</p>", sum.orgs_untracked_flows);
    }
    h.push_str("</section>\n");
}

/// `<span class="tag tp">third party</span>` or first party, or nothing.
fn party(third: Option<bool>) -> &'static str {
    match third {
        Some(true) => "<span class=\"tag tp\">third party</span>",
        Some(false) => "<span class=\"tag fp\">first party</span>",
        None => "",
    }
}

/// One row of the leak matrix: a destination and its findings per identifier.
struct MatrixRow<'a> {
    dest: &'a str,
    owner: &'a Owner,
    country: Option<&'a str>,
    third_party: Option<bool>,
    cells: Vec<u64>,
    total: u64,
}

/// Leak destinations, each with its owner and findings per identifier (in `sorted_identifiers`
/// order), grouped by owner: owners with most findings first.
fn matrix_rows(sum: &Summary) -> Vec<MatrixRow<'_>> {
    let ids = sorted_identifiers(sum);
    let mut rows: BTreeMap<&str, MatrixRow> = BTreeMap::new();
    for (i, g) in ids.iter().enumerate() {
        for (d, ld) in &g.destinations {
            let r = rows.entry(d.as_str()).or_insert_with(|| MatrixRow {
                dest: d,
                owner: &ld.owner,
                country: ld.country.as_deref(),
                third_party: ld.third_party,
                cells: vec![0; ids.len()],
                total: 0,
            });
            r.cells[i] += ld.count;
            r.total += ld.count;
        }
    }
    let mut by_owner: HashMap<&Owner, u64> = HashMap::new();
    for r in rows.values() {
        *by_owner.entry(r.owner).or_default() += r.total;
    }
    let mut rows: Vec<MatrixRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        by_owner[b.owner]
            .cmp(&by_owner[a.owner])
            .then_with(|| a.owner.cmp(b.owner))
            .then(b.total.cmp(&a.total))
            .then_with(|| a.dest.cmp(b.dest))
    });
    rows
}

/// Anchor ids (`d-N`) of the destinations that get a details section.
fn dest_anchors(sum: &Summary) -> HashMap<String, usize> {
    let mut rows = matrix_rows(sum);
    rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.dest.cmp(b.dest)));
    rows.iter().take(MAX_DEST_DETAILS).enumerate().map(|(i, r)| (r.dest.to_string(), i)).collect()
}

fn matrix(h: &mut String, sum: &Summary, anchors: &HashMap<String, usize>) {
    h.push_str("<section id=\"matrix\" aria-labelledby=\"matrix-h\">\n<h2 id=\"matrix-h\">Leak matrix</h2>\n");
    if sum.identifiers.is_empty() {
        h.push_str("<p>Nothing to show: no identifier was found.</p>\n</section>\n");
        return;
    }
    let ids = sorted_identifiers(sum);
    let cols = ids.len().min(MAX_MATRIX_COLS);
    let rows = matrix_rows(sum);
    let max = rows.iter().flat_map(|r| r.cells.iter().take(cols)).copied().max().unwrap_or(1).max(1);
    h.push_str(
        "<p>Which identifier went to which destination, grouped by the destination's owner: the number of \
         findings in each cell, darker for more.</p>\n<div class=\"scroll\"><table class=\"matrix\">\n<thead><tr>\
         <th scope=\"col\">Destination</th><th scope=\"col\">Server country</th>",
    );
    for g in ids.iter().take(cols) {
        let _ = write!(h, "<th scope=\"col\" class=\"id\">{}</th>", esc(&identifier_name(g.kind, g.label.as_deref())));
    }
    h.push_str("<th scope=\"col\" class=\"num\">All</th></tr></thead>\n<tbody>\n");
    let mut last_owner: Option<&Owner> = None;
    for r in rows.iter().take(MAX_MATRIX_ROWS) {
        if last_owner != Some(r.owner) {
            last_owner = Some(r.owner);
            let home = sum.orgs.get(r.owner).and_then(|o| o.home_country.as_deref());
            let _ = writeln!(
                h,
                "<tr class=\"grp\"><th scope=\"rowgroup\" colspan=\"{}\">{}{}{}</th></tr>",
                cols + 3,
                esc(&r.owner.display()),
                home.map(|c| format!(" <span class=\"muted\">HQ {}</span>", esc(c))).unwrap_or_default(),
                party_suffix(r.third_party),
            );
        }
        let name = match anchors.get(r.dest) {
            Some(i) => format!("<a href=\"#d-{i}\">{}</a>", esc(r.dest)),
            None => esc(r.dest).to_string(),
        };
        let _ = write!(
            h,
            "<tr><th scope=\"row\" class=\"mono\">{name}</th><td>{}</td>",
            esc(r.country.map(country_label).as_deref().unwrap_or("—"))
        );
        for &n in r.cells.iter().take(cols) {
            if n == 0 {
                h.push_str("<td class=\"num\"></td>");
            } else {
                let level = (n * 5).div_ceil(max).clamp(1, 5);
                let _ = write!(h, "<td class=\"num h{level}\">{n}</td>");
            }
        }
        let _ = writeln!(h, "<td class=\"num\">{}</td></tr>", r.total);
    }
    h.push_str("</tbody></table></div>\n");
    if rows.len() > MAX_MATRIX_ROWS || ids.len() > cols {
        let _ = writeln!(
            h,
            "<p class=\"note\">Shown: {} of {} destinations, {} of {} identifiers.</p>",
            rows.len().min(MAX_MATRIX_ROWS),
            rows.len(),
            cols,
            ids.len()
        );
    }
    h.push_str("</section>\n");
}

fn party_suffix(third: Option<bool>) -> &'static str {
    match third {
        Some(true) => " <span class=\"tag tp\">third party</span>",
        Some(false) => " <span class=\"tag fp\">first party</span>",
        None => "",
    }
}

fn timeline_section(h: &mut String, seen: &Observed) {
    h.push_str("<section id=\"timeline\" aria-labelledby=\"timeline-h\">\n<h2 id=\"timeline-h\">Timeline</h2>\n");
    let segments = seen.timeline.segments();
    if segments.is_empty() {
        h.push_str("<p>Nothing timed was seen.</p>\n</section>\n");
        return;
    }
    let has_bytes = segments.iter().flat_map(|s| s.buckets()).any(|(_, b)| b.bytes_out.saturating_add(b.bytes_in) > 0);
    let _ = writeln!(
        h,
        "<p>Identifier findings over capture time, and {}.</p>",
        if has_bytes {
            "bytes sent and received (each flow's bytes spread evenly over its lifetime)"
        } else {
            "HTTP requests"
        }
    );
    if segments.len() > 1 {
        let _ = writeln!(
            h,
            "<p class=\"note\">The capture has {} stretches of activity separated by more than an hour of silence \
             (captures joined together, or a device that slept); each has its own time axis.</p>",
            segments.len()
        );
    }
    for (n, seg) in segments.iter().enumerate() {
        let buckets = seg.buckets();
        if buckets.is_empty() {
            continue;
        }
        let width = seg.width();
        let (first, last) = seg.span();
        if segments.len() > 1 {
            let _ = writeln!(h, "<h3>{} to {} ({})</h3>", time(first), time(last), duration(last.nanos_since(first)));
        }
        let findings: Vec<u64> = buckets.iter().map(|(_, b)| b.findings).collect();
        let t0 = buckets[0].0;
        let t1 = Timestamp(buckets[buckets.len() - 1].0.0.saturating_add(width));
        let desc = format!(
            "Timeline from {} to {} in steps of {}: {} findings{}.",
            time(t0),
            time(t1),
            duration(width),
            findings.iter().sum::<u64>(),
            if has_bytes {
                format!(", {} sent", human_bytes(buckets.iter().map(|(_, b)| b.bytes_out).sum()))
            } else {
                String::new()
            }
        );
        let mut panels: Vec<(&str, &str, Vec<u64>, bool)> = vec![("Identifier findings", "bar2", findings, false)];
        if has_bytes {
            panels.push(("Bytes sent", "bar", buckets.iter().map(|(_, b)| b.bytes_out).collect(), true));
            panels.push(("Bytes received", "bar3", buckets.iter().map(|(_, b)| b.bytes_in).collect(), true));
        } else {
            panels.push(("HTTP requests", "bar", buckets.iter().map(|(_, b)| b.requests).collect(), false));
        }
        timeline_svg(h, n, &panels, t0, t1, &desc);
        let _ = writeln!(h, "<p class=\"note\">One bar per {}.</p>", duration(width));
        // The numbers behind the chart, for screen readers and for copying.
        h.push_str(
            "<details><summary>The numbers</summary><div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">From (UTC)</th>\
             <th scope=\"col\" class=\"num\">Findings</th><th scope=\"col\" class=\"num\">Flows started</th>\
             <th scope=\"col\" class=\"num\">HTTP requests</th><th scope=\"col\" class=\"num\">Sent</th>\
             <th scope=\"col\" class=\"num\">Received</th></tr></thead>\n<tbody>\n",
        );
        for (t, b) in &buckets {
            if *b == Default::default() {
                continue;
            }
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                time(*t),
                b.findings,
                b.flows,
                b.requests,
                human_bytes(b.bytes_out),
                human_bytes(b.bytes_in)
            );
        }
        h.push_str("</tbody></table></div></details>\n");
    }
    h.push_str("</section>\n");
}

fn destinations(h: &mut String, sum: &Summary, seen: &Observed, anchors: &HashMap<String, usize>) {
    h.push_str(
        "<section id=\"destinations\" aria-labelledby=\"destinations-h\">\n<h2 id=\"destinations-h\">Destinations</h2>\n",
    );
    let rows = matrix_rows(sum);
    if !rows.is_empty() {
        let has_frames = seen.evidence.by_dest.values().flat_map(|d| &d.items).any(|e| e.frame.is_some());
        h.push_str("<p>Every destination that received an identifier, with evidence: ");
        if has_frames {
            h.push_str(
                "open a frame in Wireshark with the display filter <code>frame.number == N</code> \
                 (in the input named with it); ",
            );
        }
        h.push_str(
            "excerpts show the text around each finding, with identifiers replaced by <code>[kind]</code> \
             unless the report was made with <code>--show-values</code>.</p>\n",
        );
    }
    let mut by_total: Vec<&MatrixRow> = rows.iter().collect();
    by_total.sort_by_key(|r| anchors.get(r.dest).copied().unwrap_or(usize::MAX));
    // Flows' endpoints, to show address, AS and bytes next to a host name.
    let mut endpoints: HashMap<&str, Vec<&DestRow>> = HashMap::new();
    for d in sum.destinations.values() {
        if let Some(n) = &d.hostname {
            endpoints.entry(n.as_str()).or_default().push(d);
        }
    }
    for r in by_total.iter().take(MAX_DEST_DETAILS) {
        let Some(i) = anchors.get(r.dest) else { continue };
        let _ = writeln!(
            h,
            "<article class=\"dest\" id=\"d-{i}\" aria-labelledby=\"d-{i}-h\">\n<h3 id=\"d-{i}-h\" class=\"mono\">{}</h3>",
            esc(r.dest)
        );
        let mut facts = vec![format!("Owner: {}{}", esc(&r.owner.display()), party_suffix(r.third_party))];
        if let Some(home) = sum.orgs.get(r.owner).and_then(|o| o.home_country.as_deref()) {
            facts.push(format!("HQ: {}", esc(&country_label(home))));
        }
        if let Some(c) = r.country {
            facts.push(format!("Server country: {}", esc(&country_label(c))));
        }
        let ev = seen.evidence.by_dest.get(r.dest);
        let mut addrs: BTreeSet<String> = BTreeSet::new();
        let mut asns: BTreeSet<&str> = BTreeSet::new();
        let (mut flows, mut out, mut inb) = (0, 0, 0);
        if let Ok(ip) = r.dest.parse::<IpAddr>() {
            addrs.insert(ip.to_string());
        }
        for d in endpoints.get(r.dest).into_iter().flatten() {
            if addrs.len() < 8 {
                addrs.insert(endpoint(d.ip, d.port));
            }
            if let Some(a) = &d.asn {
                asns.insert(a);
            }
            flows += d.flows;
            out += d.bytes_out;
            inb += d.bytes_in;
        }
        for (ip, port) in ev.map(|e| &e.addresses).into_iter().flatten() {
            if addrs.len() < 8 && !ip.is_unspecified() {
                addrs.insert(endpoint(*ip, *port));
            }
        }
        if !addrs.is_empty() {
            facts.push(format!(
                "Address: <span class=\"mono\">{}</span>",
                esc(&list(addrs.iter().map(String::as_str), 8))
            ));
        }
        if !asns.is_empty() {
            facts.push(format!("Network: {}", esc(&list(asns.iter().copied(), 4))));
        }
        if flows > 0 {
            facts.push(format!(
                "{}, {} sent, {} received",
                count(flows, "flow", "flows"),
                human_bytes(out),
                human_bytes(inb)
            ));
        }
        h.push_str("<ul class=\"facts\">");
        for f in &facts {
            let _ = write!(h, "<li>{f}</li>");
        }
        h.push_str("</ul>\n");
        let ids = sorted_identifiers(sum);
        let sent: Vec<String> = ids
            .iter()
            .zip(&r.cells)
            .filter(|(_, n)| **n > 0)
            .map(|(g, n)| format!("{} ×{n}", identifier_name(g.kind, g.label.as_deref())))
            .collect();
        let _ = writeln!(h, "<p>Identifiers sent here: {}.</p>", esc(&sent.join(", ")));
        if let Some(ev) = ev {
            evidence_table(h, ev);
        }
        h.push_str("</article>\n");
    }
    if rows.len() > MAX_DEST_DETAILS {
        let _ = writeln!(
            h,
            "<p class=\"note\">Details are shown for the {MAX_DEST_DETAILS} destinations with most findings of {}; \
             every finding is in <code>--format ndjson</code>.</p>",
            rows.len()
        );
    }
    if seen.evidence.untracked > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} findings at further destinations kept no evidence.</p>",
            seen.evidence.untracked
        );
    }
    all_destinations(h, sum);
    h.push_str("</section>\n");
}

fn evidence_table(h: &mut String, ev: &evidence::DestEvidence) {
    let multi_input = ev.items.iter().filter_map(|e| e.input.as_deref()).collect::<BTreeSet<_>>().len() > 1;
    h.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Frame</th><th scope=\"col\">Time (UTC)</th>\
         <th scope=\"col\">Identifier</th><th scope=\"col\">Where</th><th scope=\"col\">Disguise</th>\
         <th scope=\"col\">Confidence</th><th scope=\"col\">Excerpt and request</th></tr></thead>\n<tbody>\n",
    );
    let mut previous_url: Option<&str> = None;
    for e in &ev.items {
        let frame = match (e.frame, e.har_entry) {
            (Some(f), _) => format!("<span class=\"mono\">{f}</span>"),
            (None, Some(i)) => format!("HAR entry {i}"),
            (None, None) => String::new(),
        };
        let input = match (&e.input, multi_input) {
            (Some(i), true) => format!("<br><span class=\"note mono\">{}</span>", esc(i)),
            _ => String::new(),
        };
        let mut what = esc(&e.identifier).to_string();
        if let Some(k) = &e.key {
            let _ = write!(what, "<br><span class=\"note\">key <code>{}</code></span>", esc(k));
        }
        let mut text = format!("<div class=\"excerpt\">{}</div>", esc(&e.excerpt));
        if let Some(v) = &e.value {
            let _ = write!(text, "<div class=\"note\">value: <code>{}</code></div>", esc(v));
        }
        match e.url.as_deref() {
            Some(u) if previous_url == Some(u) => text.push_str("<div class=\"note\">request: as above</div>"),
            Some(u) => {
                let _ = write!(text, "<div class=\"note\">request: <span class=\"mono\">{}</span></div>", esc(u));
            }
            None => {}
        }
        previous_url = e.url.as_deref();
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{frame}{input}</td><td class=\"num\">{}</td><td>{what}</td><td class=\"mono\">{}</td>\
             <td class=\"mono\">{}</td><td>{}{}</td><td class=\"wrap\">{text}</td></tr>",
            time(e.timestamp),
            esc(&e.location),
            esc(&e.encoding),
            esc(e.confidence),
            if e.direction == "toclient" { "<br><span class=\"note\">from the server</span>" } else { "" },
        );
    }
    h.push_str("</tbody></table></div>\n");
    if ev.not_kept > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} more findings here are not listed (a few per identifier are kept).</p>",
            ev.not_kept
        );
    }
}

fn all_destinations(h: &mut String, sum: &Summary) {
    if sum.destinations.is_empty() {
        return;
    }
    let mut dests: Vec<_> = sum.destinations.iter().collect();
    dests
        .sort_by(|a, b| (b.1.bytes_out + b.1.bytes_in).cmp(&(a.1.bytes_out + a.1.bytes_in)).then_with(|| a.0.cmp(b.0)));
    let _ = writeln!(
        h,
        "<h3 id=\"all-destinations\">All destinations ({}), by bytes</h3>\n<div class=\"scroll\"><table>\n<thead><tr>\
         <th scope=\"col\">Server</th><th scope=\"col\">Host name</th><th scope=\"col\">Protocol</th>\
         <th scope=\"col\" class=\"num\">Flows</th><th scope=\"col\" class=\"num\">Sent</th><th scope=\"col\" class=\"num\">Received</th>\
         <th scope=\"col\">Owner</th><th scope=\"col\">Country</th><th scope=\"col\">Network</th></tr></thead>\n<tbody>",
        dests.len()
    );
    for ((ip, port, _), d) in dests.iter().take(MAX_DEST_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\">{}</td><td class=\"mono wrap\">{}</td><td>{} {}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&endpoint(*ip, *port)),
            esc(d.hostname.as_deref().unwrap_or("")),
            esc(&d.proto),
            esc(d.app_proto.unwrap_or("")),
            d.flows,
            human_bytes(d.bytes_out),
            human_bytes(d.bytes_in),
            esc(&d.owner.display()),
            esc(d.country.as_deref().unwrap_or("")),
            esc(d.asn.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody></table></div>\n");
    if dests.len() > MAX_DEST_ROWS {
        let _ = writeln!(h, "<p class=\"note\">… and {} more.</p>", dests.len() - MAX_DEST_ROWS);
    }
    if sum.destinations_untracked_flows > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} flows to further destinations are not itemised.</p>",
            sum.destinations_untracked_flows
        );
    }
}

fn methods(h: &mut String, sum: &Summary, opts: &HtmlOptions) {
    h.push_str(
        "<section id=\"methods\" aria-labelledby=\"methods-h\">\n<h2 id=\"methods-h\">Methods and limits</h2>\n\
         <h3>What was searched</h3>\n\
         <p>phonehome reads the capture offline: it reassembles TCP streams, parses DNS, TLS and QUIC \
         handshakes and HTTP/1.x, HTTP/2 and HTTP/3 messages (decoding compressed bodies), and searches the texts where \
         identifiers travel (URLs, headers, cookies, bodies, DNS names, server names) and the raw payload of \
         flows no parser reads. Declared identifiers are searched in every disguise it knows (URL encoding, \
         base64, hex, common hashes and their nestings); identifiers nobody declared are recognised by the key \
         they are sent under and validated (check digits, formats). A finding means the bytes were on the \
         wire; it does not say what the receiver did with them.</p>\n\
         <h3>What cannot be seen</h3>\n\
         <p>Most traffic is encrypted (TLS, QUIC). Without the session keys only the outside is visible: the \
         server's address, the name the device asked DNS for and the name it sent in the TLS or QUIC \
         handshake (SNI), and how many bytes went each way. What travels inside an encrypted connection \
         (URLs, headers, bodies) cannot be searched, so <strong>no finding in encrypted traffic does not mean \
         no identifier was sent</strong>; the byte counts and destinations still show who was contacted. \
         With the session keys (a TLS key log from <code>SSLKEYLOGFILE</code>, mitmproxy or PCAPdroid, given \
         with <code>--keylog</code>, or secrets stored in a pcapng capture) TLS 1.0-1.3 and QUIC flows are \
         decrypted and their HTTP/1.x, HTTP/2 and HTTP/3 messages searched like cleartext; each flow says \
         whether it was decrypted and why not. Decrypted traffic can also be read from a HAR export \
         (browser, mitmproxy, PCAPdroid). Names hidden by \
         Encrypted Client Hello, DNS over HTTPS, or addresses reached without a DNS query are shown by \
         address and network only. Captures taken on a network see only what crossed it.</p>\n\
         <h3>What the places mean</h3>\n\
         <p>A <em>server country</em> is the country where the server's address block is registered or \
         announced, as the address data says (the embedded tables from the ip-location-db project, or the \
         databases given with <code>--geoip</code>/<code>--asn</code>). It is not a measured location: a \
         content network or cloud may serve one address from many places, and a block may be used far from \
         where it is registered. An organisation's country (<em>HQ</em>) is its headquarters, from the \
         project's organisation table; where its data is processed or stored is not known from traffic. \
         Owners are named from the server's host name (the organisation table, then the user's lists), else \
         only the registrable domain or the network announcing the address is shown. <em>Third party</em> \
         means an owner other than the device's maker, when the maker was given.</p>\n\
         <h3>Values</h3>\n",
    );
    if opts.show_values {
        h.push_str(
            "<p class=\"warn\">This report was made with <code>--show-values</code>: it contains the identifiers' \
             values. Treat it as personal data.</p>\n",
        );
    } else {
        h.push_str(
            "<p>Identifier values are not in this report: in excerpts, URLs, DNS names and server names every \
             identifier found is replaced by <code>[kind]</code> or <code>[kind/label]</code> (make the report \
             with <code>--show-values</code> to include them). Host names, URLs and other text from the traffic \
             are shown as text and never interpreted: this page runs no script and loads nothing.</p>\n",
        );
    }
    h.push_str("<h3>Data and credits</h3>\n");
    if opts.data_sources.is_empty() {
        if sum.attributed_flows == 0 {
            h.push_str("<p>Attribution was off: no address or name data was used.</p>\n");
        }
    } else {
        h.push_str(
            "<p>The embedded address data comes from the ip-location-db project (sapics): the country table \
             (geo-whois-asn-country, CC0-1.0) is compiled from RIR whois data, providers' geofeeds and the \
             Number Resource Organization's statistics; the AS table (asn, CC BY 4.0) contains data from \
             RouteViews (CC BY 4.0), DB-IP's IP to ASN Lite database (CC BY 4.0, <em>IP Geolocation by \
             DB-IP</em>, db-ip.com) and the NRO's statistics (CC BY 4.0, © Number Resource Organization). \
             Licence: creativecommons.org/licenses/by/4.0. Registrable domains follow the Public Suffix List \
             (MPL 2.0, publicsuffix.org). The full notices are in the NOTICE file of phonehome.</p>\n",
        );
        // Our own text, but escaped like everything else (a user's file name is in it); line
        // by line, as `esc` makes line breaks visible.
        let facts = crate::data::render(&opts.data_sources, DomainDb::embedded());
        let lines: Vec<String> = facts.lines().map(|l| esc(l).to_string()).collect();
        let _ = writeln!(h, "<pre>{}</pre>", lines.join("\n"));
    }
    h.push_str("</section>\n");
}

/// One horizontal bar pair of a chart.
struct Bar {
    label: String,
    a: u64,
    a_text: String,
    b: u64,
    b_text: String,
}

/// Two bar columns side by side (e.g. findings and bytes per country), as inline SVG.
fn bar_chart(h: &mut String, bars: &[Bar], a_title: &str, b_title: &str, desc: &str) {
    const ROW: u32 = 22;
    const LABEL_W: u32 = 210;
    const COL_W: u32 = 300;
    const GAP: u32 = 20;
    let width = LABEL_W + 2 * COL_W + GAP;
    let height = 28 + ROW * bars.len() as u32;
    let amax = bars.iter().map(|b| b.a).max().unwrap_or(0).max(1);
    let bmax = bars.iter().map(|b| b.b).max().unwrap_or(0).max(1);
    let _ = writeln!(
        h,
        "<svg role=\"img\" aria-labelledby=\"chart-countries-t\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\"><title id=\"chart-countries-t\">{}</title>",
        esc(desc)
    );
    let _ = writeln!(
        h,
        "<text x=\"{LABEL_W}\" y=\"14\" class=\"muted\">{}</text><text x=\"{}\" y=\"14\" class=\"muted\">{}</text>",
        esc(a_title),
        LABEL_W + COL_W + GAP,
        esc(b_title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 22 + ROW * i as u32;
        let wa = ((b.a as f64 / amax as f64) * f64::from(COL_W - 70)).round() as u32;
        let wb = ((b.b as f64 / bmax as f64) * f64::from(COL_W - 70)).round() as u32;
        let _ = writeln!(
            h,
            "<g><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar2\" x=\"{LABEL_W}\" y=\"{}\" width=\"{wa}\" height=\"{}\"></rect>\
             <text x=\"{}\" y=\"{}\">{}</text>\
             <rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{wb}\" height=\"{}\"></rect>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            LABEL_W - 8,
            y + 13,
            esc(&cut_label(&b.label, 30)),
            y + 2,
            ROW - 6,
            LABEL_W + wa + 4,
            y + 13,
            esc(&b.a_text),
            LABEL_W + COL_W + GAP,
            y + 2,
            ROW - 6,
            LABEL_W + COL_W + GAP + wb + 4,
            y + 13,
            esc(&b.b_text),
        );
    }
    h.push_str("</svg>\n");
}

/// Stacked panels of vertical bars over the same time axis, as inline SVG.
fn timeline_svg(
    h: &mut String,
    n: usize,
    panels: &[(&str, &str, Vec<u64>, bool)],
    t0: Timestamp,
    t1: Timestamp,
    desc: &str,
) {
    const LEFT: u32 = 150;
    const PLOT_W: u32 = 640;
    const PANEL_H: u32 = 70;
    const GAP: u32 = 18;
    let slots = panels.first().map_or(0, |p| p.2.len()).max(1) as u32;
    let width = LEFT + PLOT_W + 20;
    let height = (PANEL_H + GAP) * panels.len() as u32 + 30;
    let _ = writeln!(
        h,
        "<svg role=\"img\" aria-labelledby=\"chart-timeline-{n}-t\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\"><title id=\"chart-timeline-{n}-t\">{}</title>",
        esc(desc)
    );
    let slot = f64::from(PLOT_W) / f64::from(slots);
    for (p, (title, class, values, bytes)) in panels.iter().enumerate() {
        let top = 8 + (PANEL_H + GAP) * p as u32;
        let base = top + PANEL_H;
        let max = values.iter().copied().max().unwrap_or(0);
        let max_text = if *bytes { human_bytes(max) } else { max.to_string() };
        let _ = writeln!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text><text x=\"0\" y=\"{}\" class=\"muted\">max {}</text>\
             <line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\"></line>",
            top + 24,
            esc(title),
            top + 40,
            esc(&max_text),
            LEFT + PLOT_W
        );
        if max == 0 {
            continue;
        }
        for (i, v) in values.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let bh = ((*v as f64 / max as f64) * f64::from(PANEL_H - 4)).max(1.0);
            let x = f64::from(LEFT) + slot * i as f64;
            let _ = write!(
                h,
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\"></rect>",
                f64::from(base) - bh,
                (slot - 1.0).max(1.0),
            );
        }
        h.push('\n');
    }
    let y = height - 8;
    let _ = writeln!(
        h,
        "<text x=\"{LEFT}\" y=\"{y}\" class=\"muted\">{}</text><text x=\"{}\" y=\"{y}\" text-anchor=\"end\" class=\"muted\">{}</text>",
        time(t0),
        LEFT + PLOT_W,
        time(t1)
    );
    h.push_str("</svg>\n");
}

/// `DE Germany`.
fn country_label(code: &str) -> String {
    match countries::name(code) {
        Some(n) => format!("{code} {n}"),
        None => code.to_string(),
    }
}

fn cut_label(s: &str, max: usize) -> String {
    evidence::cut(s, max)
}

/// `a, b, c, …` with at most `max` items.
fn list<'a>(items: impl Iterator<Item = &'a str>, max: usize) -> String {
    let mut v: Vec<&str> = Vec::new();
    let mut more = false;
    for (i, x) in items.enumerate() {
        if i == max {
            more = true;
            break;
        }
        v.push(x);
    }
    let mut s = v.join(", ");
    if more {
        s.push_str(", …");
    }
    s
}

fn endpoint(ip: IpAddr, port: Option<u16>) -> String {
    match (ip, port) {
        (IpAddr::V6(_), Some(p)) => format!("[{ip}]:{p}"),
        (_, Some(p)) => format!("{ip}:{p}"),
        (_, None) => ip.to_string(),
    }
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2014-03-04 12:34:56` (UTC).
fn time(t: Timestamp) -> String {
    let s = t.rfc3339().to_string();
    format!("{} {}", &s[..10], &s[11..19])
}

/// `2 h 5 min`, `3.2 s`.
fn duration(ns: i64) -> String {
    let s = ns.max(0) as f64 / 1e9;
    if s < 60.0 {
        let r = format!("{s:.1}");
        format!("{} s", r.strip_suffix(".0").unwrap_or(&r))
    } else if s < 3600.0 {
        let (m, r) = ((s / 60.0) as u64, (s % 60.0) as u64);
        if r == 0 { format!("{m} min") } else { format!("{m} min {r} s") }
    } else if s < 86_400.0 * 2.0 {
        let (hr, m) = ((s / 3600.0) as u64, ((s % 3600.0) / 60.0) as u64);
        if m == 0 { format!("{hr} h") } else { format!("{hr} h {m} min") }
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

#[cfg(test)]
mod tests;

//! The human summary printed at the end of a run: which identifiers left, to which
//! organisations and countries, then the destinations.

use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;

use phonehome_model::{CounterGroup, Event, EventSink};

use crate::style::Style;
use crate::summary::{Owner, Summary, SummaryBuilder};

/// How much the summary says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// The totals line and the identifiers that left (`-q`).
    Quiet,
    /// Every section, its top 15 rows.
    #[default]
    Normal,
    /// Every section, up to 100 rows each (`-v`).
    Verbose,
}

impl Detail {
    fn rows(self) -> usize {
        if self == Detail::Verbose { 100 } else { 15 }
    }
}

/// Collects events and prints a short summary when the run finishes.
pub struct TextSummary<W: Write> {
    out: W,
    builder: SummaryBuilder,
    detail: Detail,
    style: Style,
}

impl<W: Write> TextSummary<W> {
    /// Prints to `out` at [`EventSink::finish`].
    pub fn new(out: W) -> TextSummary<W> {
        TextSummary { out, builder: SummaryBuilder::new(), detail: Detail::Normal, style: Style::PLAIN }
    }

    /// Says more or less.
    pub fn with_detail(mut self, detail: Detail) -> TextSummary<W> {
        self.detail = detail;
        self
    }

    /// Paints headings and markers (for a terminal that wants colour).
    pub fn with_style(mut self, style: Style) -> TextSummary<W> {
        self.style = style;
        self
    }
}

/// The text of a summary.
pub fn render(sum: &Summary) -> String {
    render_with(sum, Detail::Normal)
}

/// The text of a summary, at the given detail.
pub fn render_with(sum: &Summary, detail: Detail) -> String {
    render_styled(sum, detail, Style::PLAIN)
}

/// The text of a summary, at the given detail, painted with `style`.
pub fn render_styled(sum: &Summary, detail: Detail, style: Style) -> String {
    let shown = detail.rows();
    let mut s = String::new();
    let Some(st) = &sum.stats else { return s };
    if st.packets == 0 && sum.http_events > 0 {
        let _ = writeln!(
            s,
            "{} HTTP requests (HAR) in {} input{}",
            sum.http_events,
            st.inputs.len(),
            plural(st.inputs.len() as u64)
        );
    }
    if st.packets > 0 || sum.http_events == 0 {
        let _ = writeln!(
            s,
            "{} packets, {} in {} input{}; {} flows ({} TCP, {} UDP, {} other)",
            st.packets,
            human_bytes(st.bytes),
            st.inputs.len(),
            plural(st.inputs.len() as u64),
            st.flows,
            st.tcp_flows,
            st.udp_flows,
            st.flows - st.tcp_flows - st.udp_flows,
        );
    }
    render_encrypted(sum, &mut s);
    render_leaks(sum, &mut s, style);
    if detail == Detail::Quiet {
        return s;
    }
    render_orgs(sum, &mut s, shown, style);
    render_countries(sum, &mut s, shown, style);
    render_destinations(sum, &mut s, shown, style);
    for group in [CounterGroup::Skipped, CounterGroup::Anomaly, CounterGroup::Cap] {
        let items: Vec<String> = st.counters.nonzero(group).map(|(c, n)| format!("{} {n}", c.name())).collect();
        if !items.is_empty() {
            let _ = writeln!(s, "{}: {}", group.name(), items.join(", "));
        }
    }
    for input in &st.inputs {
        if let Some(e) = &input.error {
            let _ = writeln!(s, "{}: {e}", input.name);
        }
    }
    if !sum.countries.is_empty() {
        let _ = writeln!(
            s,
            "\nServer countries are where address blocks are registered or announced (not a measured \
             location); an organisation's country (HQ) is its headquarters."
        );
    }
    s
}

/// What the search could not read: encrypted flows without their keys.
fn render_encrypted(sum: &Summary, s: &mut String) {
    let e = &sum.encrypted;
    if e.flows == 0 {
        return;
    }
    let why: Vec<String> = e.not_decrypted.iter().map(|(r, n)| format!("{} {n}", r.replace('_', " "))).collect();
    let _ = write!(s, "{} encrypted flow{} (TLS, QUIC), ", e.flows, plural(e.flows));
    match e.decrypted {
        d if d == e.flows => {
            let _ = writeln!(s, "all decrypted and searched");
        }
        0 => {
            let _ = writeln!(s, "none decrypted: {}", why.join(", "));
        }
        d => {
            let _ = writeln!(s, "{d} decrypted and searched; not decrypted: {}", why.join(", "));
        }
    }
    if e.not_decrypted.contains_key("no_key_log") {
        let _ = writeln!(s, "  Their content was not searched: give their TLS key log with --keylog.");
    }
}

/// The answer to the first question: which identifiers left, to whom, how often.
fn render_leaks(sum: &Summary, s: &mut String, style: Style) {
    if sum.identifiers.is_empty() {
        let _ = writeln!(s, "\nNo identifiers found in what was sent.");
        return;
    }
    let total: u64 = sum.identifiers.values().map(|g| g.count).sum::<u64>() + sum.identifiers_untracked;
    let received: u64 = sum.identifiers.values().map(|g| g.received).sum();
    let sent = total - received;
    let back = if received > 0 { format!(", and {received} in what servers sent") } else { String::new() };
    let _ = writeln!(s, "\n{}", style.heading(&format!("Identifiers sent ({sent} finding{}{back}):", plural(sent))));
    // Declared values first (the user asked about them), then by how often.
    let mut groups: Vec<_> = sum.identifiers.iter().collect();
    groups.sort_by(|a, b| b.0.2.cmp(&a.0.2).then(b.1.count.cmp(&a.1.count)).then_with(|| a.0.cmp(b.0)));
    for ((kind, label, declared), g) in groups {
        let what = match label {
            Some(l) => format!("{} \"{}\"", style.kind(kind), printable(l, 30)),
            None => style.kind(kind),
        };
        let how = if *declared { "declared" } else { "undeclared" };
        let third = if g.to_third_parties > 0 {
            format!(", {}", style.bad(&format!("{} to third parties", g.to_third_parties)))
        } else {
            String::new()
        };
        let dests = g.destinations.len();
        let sent = g.count - g.received;
        let times = |n: u64| format!("{n} time{}", if n == 1 { "" } else { "s" });
        let how_often = match (sent, g.received) {
            (0, r) => format!("never sent; received {} from {dests} server{}", times(r), plural(dests as u64)),
            (n, 0) => format!("{} to {dests} destination{}", times(n), plural(dests as u64)),
            (n, r) => format!("{} to {dests} destination{}, received {}", times(n), plural(dests as u64), times(r)),
        };
        let _ = writeln!(s, "  {what} ({how}, {} confidence): {how_often}{third}", g.confidence);
        let mut list: Vec<_> = g.destinations.iter().collect();
        list.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        for (d, ld) in list.iter().take(5) {
            let mut who = Vec::new();
            if ld.owner != Owner::Unknown && !matches!(ld.owner, Owner::Domain(_)) {
                who.push(printable(&ld.owner.display(), 40));
            }
            if let Some(c) = &ld.country {
                who.push(format!("server {c}"));
            }
            if ld.third_party == Some(true) {
                who.push(style.bad("third party"));
            }
            let who = if who.is_empty() { String::new() } else { format!(" [{}]", who.join(", ")) };
            let _ = writeln!(s, "      to {}{who}: {}", printable(d, 50), ld.count);
        }
        if list.len() > 5 || g.destinations_untracked > 0 {
            let more = list.len().saturating_sub(5) as u64 + g.destinations_untracked;
            let _ = writeln!(s, "      {}", style.dim(&format!("... and {more} more destinations")));
        }
        let set = |set: &std::collections::BTreeSet<String>| {
            set.iter().take(6).map(|x| printable(x, 30)).collect::<Vec<_>>().join(", ")
                + if set.len() > 6 { ", ..." } else { "" }
        };
        let _ = writeln!(s, "      in {}; as {}", set(&g.locations), set(&g.encodings));
    }
    if sum.identifiers_untracked > 0 {
        let _ = writeln!(s, "  ({} findings of further identifiers not itemised)", sum.identifiers_untracked);
    }
}

/// Who received data: owners with identifiers first, then by bytes sent.
fn render_orgs(sum: &Summary, s: &mut String, shown: usize, style: Style) {
    if sum.attributed_flows == 0 && sum.orgs.keys().all(|o| *o == Owner::Unknown) {
        return;
    }
    let mut rows: Vec<_> = sum.orgs.values().collect();
    let findings = |o: &crate::summary::OrgRow| o.identifiers.values().sum::<u64>();
    rows.sort_by(|a, b| {
        findings(b)
            .cmp(&findings(a))
            .then(b.bytes_out.cmp(&a.bytes_out))
            .then(b.flows.cmp(&a.flows))
            .then_with(|| a.owner.cmp(&b.owner))
    });
    let _ = writeln!(
        s,
        "\n{}",
        style.heading(&format!("Organisations (of {}; identifiers first, then by bytes sent):", rows.len()))
    );
    for o in rows.iter().take(shown) {
        let mut head = printable(&o.owner.display(), 50);
        let mut facts = Vec::new();
        if let Some(c) = &o.home_country {
            facts.push(format!("HQ {c}"));
        }
        if let Some(p) = &o.parent {
            facts.push(format!("part of {}", printable(p, 30)));
        }
        match o.third_party {
            Some(true) => facts.push(style.bad("third party")),
            Some(false) => facts.push(style.good("first party")),
            None => {}
        }
        if !facts.is_empty() {
            head = format!("{head} ({})", facts.join(", "));
        }
        let _ = writeln!(
            s,
            "  {head}: {} flow{}, {} out, {} in",
            o.flows,
            if o.flows == 1 { "" } else { "s" },
            human_bytes(o.bytes_out),
            human_bytes(o.bytes_in)
        );
        let mut details = Vec::new();
        if !o.server_countries.is_empty() {
            let mut cs: Vec<_> = o.server_countries.iter().collect();
            cs.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            details.push(format!("servers in {}", cs.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !o.categories.is_empty() {
            details.push(o.categories.iter().copied().collect::<Vec<_>>().join(", "));
        }
        if !o.identifiers.is_empty() {
            let ids: Vec<String> =
                o.identifiers.iter().map(|(k, n)| format!("{} ({n})", style.kind(&printable(k, 30)))).take(8).collect();
            details.push(format!("identifiers: {}", ids.join(", ")));
        }
        if !details.is_empty() {
            let _ = writeln!(s, "      {}", details.join("; "));
        }
    }
    if rows.len() > shown {
        let _ = writeln!(s, "  {}", style.dim(&format!("... and {} more", rows.len() - shown)));
    }
}

/// Where the servers are.
fn render_countries(sum: &Summary, s: &mut String, shown: usize, style: Style) {
    if sum.countries.is_empty() {
        return;
    }
    let mut rows: Vec<_> = sum.countries.iter().collect();
    rows.sort_by(|a, b| b.1.findings.cmp(&a.1.findings).then(b.1.flows.cmp(&a.1.flows)).then_with(|| a.0.cmp(b.0)));
    let _ = writeln!(s, "\n{}", style.heading(&format!("Server countries (of {}):", rows.len())));
    for (c, r) in rows.iter().take(shown) {
        let owners: Vec<String> = r.owners.iter().take(5).map(|o| printable(o, 30)).collect();
        let more = if r.owners.len() > 5 { ", ..." } else { "" };
        let findings = if r.findings > 0 { format!(", {} identifier findings", r.findings) } else { String::new() };
        let _ = writeln!(
            s,
            "  {c}: {} flow{}, {} out, {} in{findings} ({}{more})",
            r.flows,
            if r.flows == 1 { "" } else { "s" },
            human_bytes(r.bytes_out),
            human_bytes(r.bytes_in),
            owners.join(", ")
        );
    }
    if rows.len() > shown {
        let _ = writeln!(s, "  {}", style.dim(&format!("... and {} more", rows.len() - shown)));
    }
}

fn render_destinations(sum: &Summary, s: &mut String, shown: usize, style: Style) {
    let mut dests: Vec<_> = sum.destinations.iter().collect();
    dests
        .sort_by(|a, b| (b.1.bytes_out + b.1.bytes_in).cmp(&(a.1.bytes_out + a.1.bytes_in)).then_with(|| a.0.cmp(b.0)));
    if !dests.is_empty() {
        let _ = writeln!(s, "\n{}", style.heading(&format!("Destinations (by bytes; of {}):", dests.len())));
        for ((ip, port, proto), d) in dests.iter().take(shown) {
            let mut endpoint = match (ip, port) {
                (IpAddr::V6(_), Some(p)) => format!("[{ip}]:{p}"),
                (_, Some(p)) => format!("{ip}:{p}"),
                (_, None) => ip.to_string(),
            };
            if let Some(h) = &d.hostname {
                // Names come from traffic: keep them on one line and printable.
                endpoint = format!("{} ({endpoint})", printable(h, 40));
            }
            let mut who = match &d.owner {
                Owner::Unknown => String::new(),
                o => printable(&o.display(), 30),
            };
            if let Some(c) = &d.country {
                who = if who.is_empty() { c.clone() } else { format!("{who}, {c}") };
            }
            let _ = writeln!(
                s,
                "  {endpoint:<60} {:<5} {:<5} {:>5} flow{} {:>10} out {:>10} in  {who}",
                proto.name(),
                d.app_proto.unwrap_or("-"),
                d.flows,
                if d.flows == 1 { " " } else { "s" },
                human_bytes(d.bytes_out),
                human_bytes(d.bytes_in),
            );
        }
        if dests.len() > shown {
            let _ = writeln!(s, "  {}", style.dim(&format!("... and {} more", dests.len() - shown)));
        }
    }
    if sum.destinations_untracked_flows > 0 {
        let _ = writeln!(s, "  ({} flows to further destinations not itemised)", sum.destinations_untracked_flows);
    }
}

/// Text from traffic on one line, printable, at most `max` characters.
pub(crate) fn printable(text: &str, max: usize) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).take(max).collect()
}

impl<W: Write> EventSink for TextSummary<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.builder.event(event)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let text = render_styled(self.builder.summary(), self.detail, self.style);
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

/// The plural `s` for a count.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `1.5 kB`, `2.0 GB`: decimal units, as people read sizes (shared by every report).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(2_000_000_000), "2.0 GB");
    }
}

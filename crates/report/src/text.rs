//! The human summary printed at the end of a run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;

use phonehome_model::event::StatsRecord;
use phonehome_model::{CounterGroup, Event, EventBody, EventSink, IpProto};

/// Destinations remembered for the summary; beyond it the rest are only counted, so memory
/// stays bounded on captures with millions of flows.
const MAX_DESTINATIONS: usize = 100_000;
/// Destinations listed.
const SHOWN: usize = 15;

#[derive(Default)]
struct Dest {
    flows: u64,
    bytes_out: u64,
    bytes_in: u64,
    app_proto: Option<&'static str>,
    hostname: Option<String>,
}

/// Identifier groups remembered (kind, label, declared); more are only counted.
const MAX_LEAK_GROUPS: usize = 1_000;
/// Destinations remembered per identifier group.
const MAX_LEAK_DESTS: usize = 100;

/// One identifier (or, undeclared, one kind) and where it went.
#[derive(Default)]
struct LeakGroup {
    count: u64,
    /// Destination (name, else address) → occurrences.
    dests: BTreeMap<String, u64>,
    encodings: BTreeSet<String>,
    locations: BTreeSet<String>,
    best: Option<&'static str>,
}

/// Collects flows and prints a short summary when the run finishes.
pub struct TextSummary<W: Write> {
    out: W,
    /// (kind, label, declared) → where it went.
    leaks: BTreeMap<(&'static str, Option<String>, bool), LeakGroup>,
    untracked_leaks: u64,
    dests: HashMap<(IpAddr, Option<u16>, IpProto), Dest>,
    untracked_flows: u64,
    /// `http` events: for HAR inputs, which have no packets, they are what was read.
    http_events: u64,
    stats: Option<StatsRecord>,
}

impl<W: Write> TextSummary<W> {
    /// Prints to `out` at [`EventSink::finish`].
    pub fn new(out: W) -> TextSummary<W> {
        TextSummary {
            out,
            leaks: BTreeMap::new(),
            untracked_leaks: 0,
            dests: HashMap::new(),
            untracked_flows: 0,
            http_events: 0,
            stats: None,
        }
    }

    fn render(&self) -> String {
        let mut s = String::new();
        let Some(st) = &self.stats else { return s };
        if st.packets == 0 && self.http_events > 0 {
            let _ = writeln!(
                s,
                "{} HTTP requests (HAR) in {} input{}",
                self.http_events,
                st.inputs.len(),
                plural(st.inputs.len())
            );
        }
        if st.packets > 0 || self.http_events == 0 {
            let _ = writeln!(
                s,
                "{} packets, {} in {} input{}; {} flows ({} TCP, {} UDP, {} other)",
                st.packets,
                human_bytes(st.bytes),
                st.inputs.len(),
                if st.inputs.len() == 1 { "" } else { "s" },
                st.flows,
                st.tcp_flows,
                st.udp_flows,
                st.flows - st.tcp_flows - st.udp_flows,
            );
        }
        self.render_leaks(&mut s);
        let mut dests: Vec<_> = self.dests.iter().collect();
        dests.sort_by(|a, b| {
            (b.1.bytes_out + b.1.bytes_in).cmp(&(a.1.bytes_out + a.1.bytes_in)).then_with(|| a.0.cmp(b.0))
        });
        if !dests.is_empty() {
            let _ = writeln!(s, "\nDestinations (by bytes; of {}):", dests.len());
            for ((ip, port, proto), d) in dests.iter().take(SHOWN) {
                let mut endpoint = match (ip, port) {
                    (IpAddr::V6(_), Some(p)) => format!("[{ip}]:{p}"),
                    (_, Some(p)) => format!("{ip}:{p}"),
                    (_, None) => ip.to_string(),
                };
                if let Some(h) = &d.hostname {
                    // Names come from traffic: keep them on one line and printable.
                    endpoint = format!("{} ({endpoint})", printable(h, 40));
                }
                let _ = writeln!(
                    s,
                    "  {endpoint:<60} {:<5} {:<5} {:>5} flow{} {:>10} out {:>10} in",
                    proto.name(),
                    d.app_proto.unwrap_or("-"),
                    d.flows,
                    if d.flows == 1 { " " } else { "s" },
                    human_bytes(d.bytes_out),
                    human_bytes(d.bytes_in),
                );
            }
            if dests.len() > SHOWN {
                let _ = writeln!(s, "  ... and {} more", dests.len() - SHOWN);
            }
        }
        if self.untracked_flows > 0 {
            let _ = writeln!(s, "  ({} flows to further destinations not itemised)", self.untracked_flows);
        }
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
        s
    }
}

impl<W: Write> TextSummary<W> {
    /// The answer to the first question: which identifiers left, to whom, how often.
    fn render_leaks(&self, s: &mut String) {
        if self.leaks.is_empty() {
            let _ = writeln!(s, "\nNo identifiers found in what was sent.");
            return;
        }
        let total: u64 = self.leaks.values().map(|g| g.count).sum::<u64>() + self.untracked_leaks;
        let _ = writeln!(s, "\nIdentifiers sent ({total} finding{}):", if total == 1 { "" } else { "s" });
        // Declared values first (the user asked about them), then by how often.
        let mut groups: Vec<_> = self.leaks.iter().collect();
        groups.sort_by(|a, b| b.0.2.cmp(&a.0.2).then(b.1.count.cmp(&a.1.count)).then_with(|| a.0.cmp(b.0)));
        for ((kind, label, declared), g) in groups {
            let what = match label {
                Some(l) => format!("{kind} \"{}\"", printable(l, 30)),
                None => kind.to_string(),
            };
            let how = if *declared { "declared" } else { "undeclared" };
            let _ = writeln!(
                s,
                "  {what} ({how}, {} confidence): {} time{} to {} destination{}",
                g.best.unwrap_or("-"),
                g.count,
                if g.count == 1 { "" } else { "s" },
                g.dests.len(),
                if g.dests.len() == 1 { "" } else { "s" },
            );
            let mut dests: Vec<_> = g.dests.iter().collect();
            dests.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let shown: Vec<String> = dests.iter().take(5).map(|(d, n)| format!("{} ({n})", printable(d, 40))).collect();
            let more = if dests.len() > 5 { format!(", and {} more", dests.len() - 5) } else { String::new() };
            let _ = writeln!(s, "      to {}{more}", shown.join(", "));
            let list = |set: &BTreeSet<String>| {
                set.iter().take(6).map(|x| printable(x, 30)).collect::<Vec<_>>().join(", ")
                    + if set.len() > 6 { ", ..." } else { "" }
            };
            let _ = writeln!(s, "      in {}; as {}", list(&g.locations), list(&g.encodings));
        }
        if self.untracked_leaks > 0 {
            let _ = writeln!(s, "  ({} findings of further identifiers not itemised)", self.untracked_leaks);
        }
    }
}

/// Text from traffic on one line, printable, at most `max` characters.
fn printable(text: &str, max: usize) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).take(max).collect()
}

impl<W: Write> EventSink for TextSummary<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match &event.body {
            EventBody::Flow(r) => {
                let Some(f) = &event.flow else { return Ok(()) };
                let key = (f.dest_ip, f.dest_port, f.proto);
                if !self.dests.contains_key(&key) && self.dests.len() >= MAX_DESTINATIONS {
                    self.untracked_flows += 1;
                    return Ok(());
                }
                let d = self.dests.entry(key).or_default();
                d.flows += 1;
                d.bytes_out += r.counts.bytes_toserver;
                d.bytes_in += r.counts.bytes_toclient;
                d.app_proto = d.app_proto.or(r.app_proto);
                if d.hostname.is_none()
                    && let Some((name, _)) = &r.dest_hostname
                {
                    d.hostname = Some(name.lossy().into_owned());
                }
            }
            EventBody::Stats(s) => self.stats = Some((**s).clone()),
            EventBody::Leak(r) => {
                let key = (r.kind, r.label.clone(), r.declared);
                if !self.leaks.contains_key(&key) && self.leaks.len() >= MAX_LEAK_GROUPS {
                    self.untracked_leaks += 1;
                    return Ok(());
                }
                let g = self.leaks.entry(key).or_default();
                g.count += 1;
                let dest = match (&r.dest_hostname, &event.flow) {
                    (Some(h), _) => h.lossy().into_owned(),
                    (None, Some(f)) => f.dest_ip.to_string(),
                    (None, None) => "?".to_string(),
                };
                if g.dests.len() < MAX_LEAK_DESTS || g.dests.contains_key(&dest) {
                    *g.dests.entry(dest).or_default() += 1;
                }
                // Locations name headers: bounded by the caps on header count per message.
                if g.locations.len() < 50 {
                    g.locations.insert(r.location.clone());
                }
                if g.encodings.len() < 50 {
                    g.encodings.insert(r.encoding.clone());
                }
                let rank = |c: &str| match c {
                    "high" => 3,
                    "medium" => 2,
                    _ => 1,
                };
                if g.best.is_none_or(|b| rank(r.confidence) > rank(b)) {
                    g.best = Some(r.confidence);
                }
            }
            EventBody::Http(_) => self.http_events += 1,
            EventBody::Dns(_) | EventBody::Tls(_) | EventBody::Quic(_) => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let text = self.render();
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn human_bytes(n: u64) -> String {
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

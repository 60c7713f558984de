//! The human summary printed at the end of a run.

use std::collections::HashMap;
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

/// Collects flows and prints a short summary when the run finishes.
pub struct TextSummary<W: Write> {
    out: W,
    dests: HashMap<(IpAddr, Option<u16>, IpProto), Dest>,
    untracked_flows: u64,
    stats: Option<StatsRecord>,
}

impl<W: Write> TextSummary<W> {
    /// Prints to `out` at [`EventSink::finish`].
    pub fn new(out: W) -> TextSummary<W> {
        TextSummary { out, dests: HashMap::new(), untracked_flows: 0, stats: None }
    }

    fn render(&self) -> String {
        let mut s = String::new();
        let Some(st) = &self.stats else { return s };
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
                    let h: String = h.chars().map(|c| if c.is_control() { '?' } else { c }).take(40).collect();
                    endpoint = format!("{h} ({endpoint})");
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
            EventBody::Dns(_) | EventBody::Tls(_) | EventBody::Quic(_) | EventBody::Http(_) => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let text = self.render();
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
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

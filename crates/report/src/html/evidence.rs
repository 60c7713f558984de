//! A few leak events per destination, kept whole enough that a reader can check them: frame
//! number (to open in Wireshark), time, where in the message, the disguise, the redacted
//! excerpt and the request URL. Bounded: destinations, items per destination and per
//! identifier, and the length of every text are capped; the rest is only counted.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use phonehome_model::event::LeakRecord;
use phonehome_model::{Event, Timestamp};

use crate::summary::identifier_name;

/// Destinations with evidence kept.
const MAX_DESTS: usize = 1_000;
/// Evidence items kept per destination.
const PER_DEST: usize = 12;
/// Evidence items kept per identifier at one destination (so that one chatty identifier
/// does not hide the others).
const PER_IDENTIFIER: usize = 3;
/// Characters kept of an excerpt, a URL, a location.
const MAX_EXCERPT: usize = 300;
const MAX_URL: usize = 400;
const MAX_SHORT: usize = 120;
/// Server addresses remembered per destination.
const MAX_ADDRS: usize = 8;

/// One finding, as shown in the report.
#[derive(Clone, Debug)]
pub struct Evidence {
    /// `imei`, or `contact "Mum"`.
    pub identifier: String,
    pub declared: bool,
    pub timestamp: Timestamp,
    /// Frame number in the capture (absent for HAR).
    pub frame: Option<u64>,
    /// HAR input: the entry's index (from the flow id).
    pub har_entry: Option<u64>,
    /// The input file.
    pub input: Option<Arc<str>>,
    pub location: String,
    pub encoding: String,
    pub direction: &'static str,
    pub confidence: &'static str,
    /// Redacted unless `--show-values`.
    pub excerpt: String,
    /// The request URL (redacted likewise), when the identifier travelled in HTTP.
    pub url: Option<String>,
    /// The value itself, only with `--show-values`.
    pub value: Option<String>,
    /// The key it was sent under (undeclared identifiers).
    pub key: Option<String>,
}

/// What is kept for one destination.
#[derive(Clone, Debug, Default)]
pub struct DestEvidence {
    pub items: Vec<Evidence>,
    /// Findings not kept as items.
    pub not_kept: u64,
    /// Server addresses and ports seen for it.
    pub addresses: BTreeSet<(IpAddr, Option<u16>)>,
    per_identifier: HashMap<String, usize>,
}

/// Evidence by destination (host name, else address: the key of
/// [`crate::summary::IdentifierRow::destinations`]).
#[derive(Clone, Debug, Default)]
pub struct EvidenceStore {
    pub by_dest: HashMap<String, DestEvidence>,
    /// Findings at destinations beyond the cap.
    pub untracked: u64,
}

/// The first `max` characters of `s`, with an ellipsis when cut.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The key a leak's destination has in the summary.
pub fn dest_key(event: &Event, r: &LeakRecord) -> String {
    match (&r.dest_hostname, &event.flow) {
        (Some(h), _) => h.lossy().into_owned(),
        (None, Some(f)) => f.dest_ip.to_string(),
        (None, None) => "?".to_string(),
    }
}

impl EvidenceStore {
    /// Keeps `r` if its destination and identifier still have room.
    pub fn add(&mut self, event: &Event, r: &LeakRecord) {
        let key = dest_key(event, r);
        if !self.by_dest.contains_key(&key) && self.by_dest.len() >= MAX_DESTS {
            self.untracked += 1;
            return;
        }
        let d = self.by_dest.entry(key).or_default();
        if let Some(f) = &event.flow
            && d.addresses.len() < MAX_ADDRS
        {
            d.addresses.insert((f.dest_ip, f.dest_port));
        }
        let identifier = identifier_name(r.kind, r.label.as_deref());
        let n = d.per_identifier.get(&identifier).copied().unwrap_or(0);
        if d.items.len() >= PER_DEST || n >= PER_IDENTIFIER {
            d.not_kept += 1;
            return;
        }
        // HAR entries carry their index in the flow id (docs/OUTPUT.md).
        let har_entry = match (&event.flow, r.frame) {
            (Some(f), None) => Some((f.flow_id % (1 << 42)) / 2),
            _ => None,
        };
        d.items.push(Evidence {
            identifier: identifier.clone(),
            declared: r.declared,
            timestamp: event.timestamp,
            frame: r.frame,
            har_entry,
            input: event.input.clone(),
            location: cut(&r.location, MAX_SHORT),
            encoding: cut(&r.encoding, MAX_SHORT),
            direction: r.direction,
            confidence: r.confidence,
            excerpt: cut(&r.excerpt, MAX_EXCERPT),
            url: r.http.as_ref().map(|(_, url)| cut(&url.lossy(), MAX_URL)),
            value: r.value.as_ref().map(|v| cut(v, MAX_SHORT)),
            key: r.key.as_ref().map(|k| cut(k, MAX_SHORT)),
        });
        // Bounded by PER_DEST.
        d.per_identifier.insert(identifier, n + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonehome_model::EventBody;
    use phonehome_model::event::FlowRef;
    use phonehome_model::text::WireText;

    fn leak(host: &str, kind: &'static str, frame: u64) -> Event {
        Event {
            timestamp: Timestamp(frame as i64),
            input: Some("a.pcap".into()),
            flow: Some(FlowRef {
                flow_id: 2,
                src_ip: "10.0.0.2".parse().unwrap(),
                dest_ip: "192.0.2.1".parse().unwrap(),
                src_port: Some(40000),
                dest_port: Some(80),
                proto: phonehome_model::IpProto::TCP,
            }),
            body: EventBody::Leak(Box::new(LeakRecord {
                kind,
                encoding: "plain".into(),
                location: "url".into(),
                confidence: "high",
                direction: "toserver",
                excerpt: "x".repeat(1000),
                frame: Some(frame),
                dest_hostname: Some(WireText::from(host)),
                ..LeakRecord::default()
            })),
        }
    }

    fn add(store: &mut EvidenceStore, e: &Event) {
        let EventBody::Leak(r) = &e.body else { unreachable!() };
        store.add(e, r);
    }

    #[test]
    fn bounded_per_identifier_destination_and_text() {
        let mut s = EvidenceStore::default();
        for i in 0..10 {
            add(&mut s, &leak("a.example", "imei", i));
            add(&mut s, &leak("a.example", "mac", 100 + i));
        }
        let d = &s.by_dest["a.example"];
        assert_eq!(d.items.len(), 6);
        assert_eq!(d.not_kept, 14);
        assert_eq!(d.items[0].frame, Some(0));
        assert_eq!(d.items[0].excerpt.chars().count(), MAX_EXCERPT + 1);
        for i in 0..(MAX_DESTS + 5) {
            add(&mut s, &leak(&format!("h{i}.example"), "imei", 1));
        }
        assert_eq!(s.by_dest.len(), MAX_DESTS);
        assert_eq!(s.untracked, 6);
    }
}

//! The JSON report (`--format json`): one document with what a run found, in a stable,
//! sorted schema that `phonehome diff` reads back (docs/OUTPUT.md, "JSON report").
//!
//! A [`Report`] is made from a [`Summary`] at the end of a run; unlike the summary it owns
//! all its data, orders every list deterministically, and round-trips through serde.

use std::collections::BTreeMap;
use std::io::Write;

use phonehome_model::{CounterGroup, Event, EventSink};
use serde::{Deserialize, Serialize};

use crate::summary::{Owner, Summary, SummaryBuilder};

/// The `format` field: tells a saved report from a HAR or other JSON.
pub const FORMAT: &str = "phonehome-report";
/// The schema version; bumped when a field changes meaning or disappears.
pub const VERSION: u32 = 1;

/// One run, condensed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub format: String,
    pub version: u32,
    pub inputs: Vec<InputEntry>,
    pub totals: Totals,
    /// Declared identifiers first, then by findings.
    pub identifiers: Vec<IdentifierEntry>,
    /// Owners with identifiers first, then by bytes sent.
    pub organisations: Vec<OrgEntry>,
    /// By findings, then flows.
    pub countries: Vec<CountryEntry>,
    /// By bytes.
    pub destinations: Vec<DestEntry>,
    /// Non-zero counters by group (`skipped`, `anomalies`, `caps`).
    pub counters: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InputEntry {
    pub name: String,
    pub format: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub tcp_flows: u64,
    pub udp_flows: u64,
    /// HTTP transactions (for HAR inputs, the entries read).
    pub http_requests: u64,
    pub findings: u64,
    /// TLS and QUIC flows; of those, flows decrypted; and the others by reason. Absent from
    /// reports saved before decryption existed.
    #[serde(default)]
    pub encrypted_flows: u64,
    #[serde(default)]
    pub decrypted_flows: u64,
    #[serde(default)]
    pub not_decrypted: BTreeMap<String, u64>,
}

/// An owner as reports show it: its display name and how it was known.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerRef {
    /// "Xiaomi", "example.com", "AS16509 AMAZON-02", "private"...
    pub name: String,
    /// `organisation`, `domain` (owner unknown), `network` (only the AS is known), `local`
    /// (a special-purpose address) or `unknown`.
    pub by: String,
}

impl From<&Owner> for OwnerRef {
    fn from(o: &Owner) -> OwnerRef {
        let (name, by) = match o {
            Owner::Organisation(n) => (n.clone(), "organisation"),
            Owner::Domain(d) => (d.clone(), "domain"),
            Owner::Network(n) => (n.clone(), "network"),
            Owner::Local(s) => (s.to_string(), "local"),
            Owner::Unknown => (String::new(), "unknown"),
        };
        OwnerRef { name, by: by.to_string() }
    }
}

impl OwnerRef {
    /// How people read it ("Xiaomi", "example.com (owner unknown)", "local network (private)").
    pub fn display(&self) -> String {
        match self.by.as_str() {
            "organisation" => self.name.clone(),
            "domain" => format!("{} (owner unknown)", self.name),
            "network" => format!("{} (network only)", self.name),
            "local" => format!("local network ({})", self.name.replace('_', "-")),
            _ => "unknown".to_string(),
        }
    }

    /// Whether the destination is on the local network (never a third party, never abroad).
    pub fn is_local(&self) -> bool {
        self.by == "local"
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IdentifierEntry {
    pub kind: String,
    pub label: Option<String>,
    pub declared: bool,
    pub count: u64,
    /// Of `count`, findings in what servers sent (`toclient`).
    #[serde(default)]
    pub received: u64,
    pub confidence: String,
    pub to_third_parties: u64,
    pub locations: Vec<String>,
    pub encodings: Vec<String>,
    /// By findings.
    pub destinations: Vec<IdentifierDest>,
    /// Findings to destinations beyond the per-identifier cap.
    pub destinations_untracked: u64,
}

impl IdentifierEntry {
    /// `imei`, or `contact "Mum"`.
    pub fn name(&self) -> String {
        crate::summary::identifier_name(&self.kind, self.label.as_deref())
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IdentifierDest {
    /// Host name, else address.
    pub destination: String,
    pub count: u64,
    /// Of `count`, findings in what this server sent.
    #[serde(default)]
    pub received: u64,
    pub owner: OwnerRef,
    pub country: Option<String>,
    pub third_party: Option<bool>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OrgEntry {
    pub owner: OwnerRef,
    pub home_country: Option<String>,
    pub parent: Option<String>,
    pub categories: Vec<String>,
    pub third_party: Option<bool>,
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub server_countries: BTreeMap<String, u64>,
    pub hostnames: Vec<String>,
    pub identifiers: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CountryEntry {
    pub country: String,
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub organisations: Vec<String>,
    pub findings: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DestEntry {
    pub ip: String,
    pub port: Option<u16>,
    pub proto: String,
    pub hostname: Option<String>,
    pub app_proto: Option<String>,
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub owner: OwnerRef,
    pub country: Option<String>,
    pub asn: Option<String>,
}

impl DestEntry {
    /// The name people know it by: the host name, else the address.
    pub fn label(&self) -> String {
        self.hostname.clone().unwrap_or_else(|| self.ip.clone())
    }
}

impl Report {
    /// The report of a finished run's summary.
    pub fn from_summary(sum: &Summary) -> Report {
        let mut r = Report { format: FORMAT.to_string(), version: VERSION, ..Report::default() };
        if let Some(st) = &sum.stats {
            r.inputs = st
                .inputs
                .iter()
                .map(|i| InputEntry {
                    name: i.name.clone(),
                    format: i.format.clone(),
                    packets: i.packets,
                    bytes: i.bytes,
                    error: i.error.clone(),
                })
                .collect();
            r.totals = Totals {
                packets: st.packets,
                bytes: st.bytes,
                flows: st.flows,
                tcp_flows: st.tcp_flows,
                udp_flows: st.udp_flows,
                ..Totals::default()
            };
            for group in [CounterGroup::Skipped, CounterGroup::Anomaly, CounterGroup::Cap] {
                let items: BTreeMap<String, u64> =
                    st.counters.nonzero(group).map(|(c, n)| (c.name().to_string(), n)).collect();
                if !items.is_empty() {
                    r.counters.insert(group.name().to_string(), items);
                }
            }
        }
        r.totals.http_requests = sum.http_events;
        r.totals.encrypted_flows = sum.encrypted.flows;
        r.totals.decrypted_flows = sum.encrypted.decrypted;
        r.totals.not_decrypted = sum.encrypted.not_decrypted.clone();
        r.totals.findings = sum.identifiers.values().map(|g| g.count).sum::<u64>() + sum.identifiers_untracked;

        let mut ids: Vec<_> = sum.identifiers.values().collect();
        ids.sort_by(|a, b| {
            b.declared
                .cmp(&a.declared)
                .then(b.count.cmp(&a.count))
                .then_with(|| (a.kind, &a.label).cmp(&(b.kind, &b.label)))
        });
        r.identifiers = ids
            .into_iter()
            .map(|g| {
                let mut dests: Vec<IdentifierDest> = g
                    .destinations
                    .iter()
                    .map(|(d, ld)| IdentifierDest {
                        destination: d.clone(),
                        count: ld.count,
                        received: ld.received,
                        owner: OwnerRef::from(&ld.owner),
                        country: ld.country.clone(),
                        third_party: ld.third_party,
                    })
                    .collect();
                dests.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.destination.cmp(&b.destination)));
                IdentifierEntry {
                    kind: g.kind.to_string(),
                    label: g.label.clone(),
                    declared: g.declared,
                    count: g.count,
                    received: g.received,
                    confidence: g.confidence.to_string(),
                    to_third_parties: g.to_third_parties,
                    locations: g.locations.iter().cloned().collect(),
                    encodings: g.encodings.iter().cloned().collect(),
                    destinations: dests,
                    destinations_untracked: g.destinations_untracked,
                }
            })
            .collect();

        let mut orgs: Vec<OrgEntry> = sum
            .orgs
            .values()
            .map(|o| OrgEntry {
                owner: OwnerRef::from(&o.owner),
                home_country: o.home_country.clone(),
                parent: o.parent.clone(),
                categories: o.categories.iter().map(|c| c.to_string()).collect(),
                third_party: o.third_party,
                flows: o.flows,
                bytes_out: o.bytes_out,
                bytes_in: o.bytes_in,
                server_countries: o.server_countries.clone(),
                hostnames: o.hostnames.iter().cloned().collect(),
                identifiers: o.identifiers.clone(),
            })
            .collect();
        let findings = |o: &OrgEntry| o.identifiers.values().sum::<u64>();
        orgs.sort_by(|a, b| {
            findings(b)
                .cmp(&findings(a))
                .then(b.bytes_out.cmp(&a.bytes_out))
                .then(b.flows.cmp(&a.flows))
                .then_with(|| a.owner.cmp(&b.owner))
        });
        r.organisations = orgs;

        let mut countries: Vec<CountryEntry> = sum
            .countries
            .iter()
            .map(|(c, row)| CountryEntry {
                country: c.clone(),
                flows: row.flows,
                bytes_out: row.bytes_out,
                bytes_in: row.bytes_in,
                organisations: row.owners.iter().cloned().collect(),
                findings: row.findings,
            })
            .collect();
        countries.sort_by(|a, b| {
            b.findings.cmp(&a.findings).then(b.flows.cmp(&a.flows)).then_with(|| a.country.cmp(&b.country))
        });
        r.countries = countries;

        let mut dests: Vec<(_, DestEntry)> = sum
            .destinations
            .iter()
            .map(|(key, d)| {
                (
                    *key,
                    DestEntry {
                        ip: d.ip.to_string(),
                        port: d.port,
                        proto: d.proto.clone(),
                        hostname: d.hostname.clone(),
                        app_proto: d.app_proto.map(str::to_string),
                        flows: d.flows,
                        bytes_out: d.bytes_out,
                        bytes_in: d.bytes_in,
                        owner: OwnerRef::from(&d.owner),
                        country: d.country.clone(),
                        asn: d.asn.clone(),
                    },
                )
            })
            .collect();
        dests.sort_by(|a, b| {
            (b.1.bytes_out + b.1.bytes_in).cmp(&(a.1.bytes_out + a.1.bytes_in)).then_with(|| a.0.cmp(&b.0))
        });
        r.destinations = dests.into_iter().map(|(_, d)| d).collect();
        r
    }

    /// Reads a saved report; `None` when `bytes` is not one (another JSON file, a HAR, a
    /// capture), an error when it is one but cannot be read.
    pub fn parse(bytes: &[u8]) -> Option<Result<Report, String>> {
        let head = &bytes[..bytes.len().min(256)];
        let marker = format!("\"format\":\"{FORMAT}\"");
        let compact: Vec<u8> = head.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        if !compact.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            return None;
        }
        Some(serde_json::from_slice::<Report>(bytes).map_err(|e| e.to_string()).and_then(|r| {
            if r.version > VERSION {
                Err(format!("report schema version {} is newer than this phonehome's ({VERSION})", r.version))
            } else {
                Ok(r)
            }
        }))
    }
}

/// Writes the run as one JSON document at the end.
pub struct JsonReport<W: Write> {
    out: W,
    builder: SummaryBuilder,
}

impl<W: Write> JsonReport<W> {
    pub fn new(out: W) -> JsonReport<W> {
        JsonReport { out, builder: SummaryBuilder::new() }
    }
}

impl<W: Write> EventSink for JsonReport<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.builder.event(event)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let report = Report::from_summary(self.builder.summary());
        serde_json::to_writer_pretty(&mut self.out, &report)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

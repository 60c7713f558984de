//! What a run found, condensed: identifiers and where they went, organisations, server
//! countries, destinations. Built from events by [`SummaryBuilder`] (an [`EventSink`]), so
//! memory is bounded by caps on each table, never by the size of the capture; every report
//! that summarises (text, and later JSON, HTML, diff, policy checks) reads a [`Summary`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use phonehome_model::dest::Destination;
use phonehome_model::event::StatsRecord;
use phonehome_model::{Event, EventBody, EventSink, IpProto};
use serde::Serialize;

use crate::document::OwnerRef;

/// Destinations (address, port, protocol) remembered; beyond it flows are only counted.
const MAX_DESTINATIONS: usize = 100_000;
/// Organisations remembered; beyond it flows are only counted.
const MAX_ORGS: usize = 20_000;
/// Identifier groups remembered (kind, label, declared); more are only counted.
const MAX_LEAK_GROUPS: usize = 1_000;
/// Destinations remembered per identifier group.
const MAX_LEAK_DESTS: usize = 100;
/// Host names, locations or encodings remembered per row.
const MAX_SET: usize = 50;

/// Who a destination belongs to, as far as the data tells.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "name")]
pub enum Owner {
    /// A company the name table or a user list knows.
    Organisation(String),
    /// A registrable domain whose owner is unknown.
    Domain(String),
    /// Only the network announcing the address is known ("AS16509 AMAZON-02").
    Network(String),
    /// A special-purpose address ("private", "multicast"...): the local network.
    Local(&'static str),
    /// Nothing is known (attribution off, or a public address in no table).
    Unknown,
}

impl Owner {
    /// The owner of an attributed destination.
    pub fn of(dest: Option<&Destination>) -> Owner {
        let Some(d) = dest else { return Owner::Unknown };
        if let Some(n) = &d.name {
            if let Some(o) = &n.org {
                return Owner::Organisation(o.name.clone());
            }
            if let Some(domain) = &n.domain {
                return Owner::Domain(domain.clone());
            }
        }
        if d.address.scope != "public" {
            return Owner::Local(d.address.scope);
        }
        match &d.address.asn {
            Some(a) if a.org.is_empty() => Owner::Network(format!("AS{}", a.number)),
            Some(a) => Owner::Network(format!("AS{} {}", a.number, a.org)),
            None => Owner::Unknown,
        }
    }

    /// How the owner is shown to people (the JSON report's [`OwnerRef::display`]).
    pub fn display(&self) -> String {
        OwnerRef::from(self).display()
    }
}

/// One identifier (declared: one value; undeclared: one kind) and where it went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IdentifierRow {
    pub kind: &'static str,
    pub label: Option<String>,
    pub declared: bool,
    /// Findings.
    pub count: u64,
    /// Of `count`, findings in what servers sent (`toclient`): the server holds the value,
    /// which is not the device sending it.
    pub received: u64,
    /// The best confidence seen ("high", "medium", "low").
    pub confidence: &'static str,
    /// Destination (host name, else address) → findings, with its owner and server country.
    pub destinations: BTreeMap<String, LeakDest>,
    /// Findings to destinations beyond the per-identifier cap.
    pub destinations_untracked: u64,
    pub locations: BTreeSet<String>,
    pub encodings: BTreeSet<String>,
    /// Findings whose destination is a third party to the device's maker.
    pub to_third_parties: u64,
}

/// Where one identifier went.
#[derive(Clone, Debug, Serialize)]
pub struct LeakDest {
    pub count: u64,
    /// Of `count`, findings in what this server sent.
    pub received: u64,
    pub owner: Owner,
    /// Server country (registered/announced), when known.
    pub country: Option<String>,
    pub third_party: Option<bool>,
}

/// Everything sent to one owner.
#[derive(Clone, Debug, Serialize)]
pub struct OrgRow {
    pub owner: Owner,
    /// The company's home country.
    pub home_country: Option<String>,
    pub parent: Option<String>,
    pub categories: BTreeSet<&'static str>,
    pub third_party: Option<bool>,
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Server country → flows.
    pub server_countries: BTreeMap<String, u64>,
    pub hostnames: BTreeSet<String>,
    /// Identifier (kind, or kind "label") → findings.
    pub identifiers: BTreeMap<String, u64>,
}

/// Everything sent to servers in one country.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CountryRow {
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub owners: BTreeSet<String>,
    /// Identifier findings sent there.
    pub findings: u64,
}

/// One server endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct DestRow {
    pub ip: IpAddr,
    pub port: Option<u16>,
    pub proto: String,
    pub hostname: Option<String>,
    pub app_proto: Option<&'static str>,
    pub flows: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub owner: Owner,
    pub country: Option<String>,
    pub asn: Option<String>,
}

/// The condensed run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The run's `stats` event.
    pub stats: Option<StatsRecord>,
    /// `http` events (for HAR inputs, which have no packets, they are what was read).
    pub http_events: u64,
    /// Keyed by (kind, label, declared).
    pub identifiers: BTreeMap<(&'static str, Option<String>, bool), IdentifierRow>,
    pub identifiers_untracked: u64,
    pub orgs: HashMap<Owner, OrgRow>,
    pub orgs_untracked_flows: u64,
    /// Server country → totals; addresses without a country are not counted here.
    pub countries: BTreeMap<String, CountryRow>,
    pub destinations: HashMap<(IpAddr, Option<u16>, IpProto), DestRow>,
    pub destinations_untracked_flows: u64,
    /// Flow events whose destination was attributed (0 when attribution was off).
    pub attributed_flows: u64,
    /// TLS and QUIC flows, and whether what they carried could be read.
    pub encrypted: Encrypted,
}

/// TLS and QUIC flows by whether they were decrypted: what the search could not see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encrypted {
    /// TLS and QUIC flows (those with a `decryption` object).
    pub flows: u64,
    /// Of those, flows whose content was decrypted and searched.
    pub decrypted: u64,
    /// Flows not decrypted, by reason ("no_key_log", "no_key"...).
    pub not_decrypted: BTreeMap<String, u64>,
}

/// Builds a [`Summary`] from events.
#[derive(Default)]
pub struct SummaryBuilder {
    summary: Summary,
}

impl SummaryBuilder {
    pub fn new() -> SummaryBuilder {
        SummaryBuilder::default()
    }

    /// What has been gathered so far (all of it once `stats` has arrived).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    pub fn into_summary(self) -> Summary {
        self.summary
    }

    fn flow(&mut self, event: &Event, r: &phonehome_model::event::FlowRecord) {
        let Some(f) = &event.flow else { return };
        let s = &mut self.summary;
        let owner = Owner::of(r.dest.as_ref());
        let country = r.dest.as_ref().and_then(|d| d.address.country_str().map(str::to_owned));
        let hostname = r.dest_hostname.as_ref().map(|(n, _)| n.lossy().into_owned());
        if r.dest.is_some() {
            s.attributed_flows += 1;
        }
        if let Some(d) = &r.decryption {
            s.encrypted.flows += 1;
            if d.decrypted {
                s.encrypted.decrypted += 1;
            } else {
                *s.encrypted.not_decrypted.entry(d.reason.unwrap_or("unknown").to_string()).or_default() += 1;
            }
        }
        let (out, inb) = (r.counts.bytes_toserver, r.counts.bytes_toclient);

        let key = (f.dest_ip, f.dest_port, f.proto);
        if s.destinations.contains_key(&key) || s.destinations.len() < MAX_DESTINATIONS {
            let d = s.destinations.entry(key).or_insert_with(|| DestRow {
                ip: f.dest_ip,
                port: f.dest_port,
                proto: f.proto.name().into_owned(),
                hostname: None,
                app_proto: None,
                flows: 0,
                bytes_out: 0,
                bytes_in: 0,
                owner: owner.clone(),
                country: country.clone(),
                asn: r.dest.as_ref().and_then(|d| d.address.asn.as_ref()).map(|a| format!("AS{} {}", a.number, a.org)),
            });
            d.flows += 1;
            d.bytes_out += out;
            d.bytes_in += inb;
            d.app_proto = d.app_proto.or(r.app_proto);
            if d.hostname.is_none() {
                d.hostname = hostname.clone();
                // A later flow's name says more about who this is than none at all.
                if d.owner != owner && matches!(d.owner, Owner::Network(_) | Owner::Unknown) {
                    d.owner = owner.clone();
                }
            }
        } else {
            s.destinations_untracked_flows += 1;
        }

        if s.orgs.contains_key(&owner) || s.orgs.len() < MAX_ORGS {
            let o = s.orgs.entry(owner.clone()).or_insert_with(|| new_org(owner.clone(), r.dest.as_ref()));
            o.flows += 1;
            o.bytes_out += out;
            o.bytes_in += inb;
            if let Some(c) = &country {
                *o.server_countries.entry(c.clone()).or_default() += 1;
            }
            if let Some(h) = hostname
                && o.hostnames.len() < MAX_SET
            {
                o.hostnames.insert(h);
            }
            if let Some(cat) = r.dest.as_ref().and_then(|d| d.name.as_ref()).and_then(|n| n.category) {
                o.categories.insert(cat);
            }
        } else {
            s.orgs_untracked_flows += 1;
        }

        if let Some(c) = country {
            let row = s.countries.entry(c).or_default();
            row.flows += 1;
            row.bytes_out += out;
            row.bytes_in += inb;
            if row.owners.len() < MAX_SET {
                row.owners.insert(owner.display());
            }
        }
    }

    fn leak(&mut self, event: &Event, r: &phonehome_model::event::LeakRecord) {
        let s = &mut self.summary;
        let key = (r.kind, r.label.clone(), r.declared);
        if !s.identifiers.contains_key(&key) && s.identifiers.len() >= MAX_LEAK_GROUPS {
            s.identifiers_untracked += 1;
            return;
        }
        let owner = Owner::of(r.dest.as_ref());
        let country = r.dest.as_ref().and_then(|d| d.address.country_str().map(str::to_owned));
        let third_party = r.dest.as_ref().and_then(|d| d.name.as_ref()).and_then(|n| n.third_party);
        let g = s.identifiers.entry(key).or_insert_with(|| IdentifierRow {
            kind: r.kind,
            label: r.label.clone(),
            declared: r.declared,
            confidence: r.confidence,
            ..IdentifierRow::default()
        });
        g.count += 1;
        if r.direction == "toclient" {
            g.received += 1;
        }
        if rank(r.confidence) > rank(g.confidence) {
            g.confidence = r.confidence;
        }
        if third_party == Some(true) {
            g.to_third_parties += 1;
        }
        let dest = match (&r.dest_hostname, &event.flow) {
            (Some(h), _) => h.lossy().into_owned(),
            (None, Some(f)) => f.dest_ip.to_string(),
            (None, None) => "?".to_string(),
        };
        if g.destinations.len() < MAX_LEAK_DESTS || g.destinations.contains_key(&dest) {
            let d = g.destinations.entry(dest).or_insert_with(|| LeakDest {
                count: 0,
                received: 0,
                owner: owner.clone(),
                country: country.clone(),
                third_party,
            });
            d.count += 1;
            d.received += u64::from(r.direction == "toclient");
        } else {
            g.destinations_untracked += 1;
        }
        // Locations name headers: bounded by the caps on header count per message.
        if g.locations.len() < MAX_SET {
            g.locations.insert(r.location.clone());
        }
        if g.encodings.len() < MAX_SET {
            g.encodings.insert(r.encoding.clone());
        }
        let what = identifier_name(r.kind, r.label.as_deref());
        if let Some(o) = s.orgs.get_mut(&owner) {
            if o.identifiers.contains_key(&what) || o.identifiers.len() < MAX_SET {
                *o.identifiers.entry(what).or_default() += 1;
            }
        } else if s.orgs.len() < MAX_ORGS {
            // Leaks come before their flow's event: the row starts here.
            let mut o = new_org(owner.clone(), r.dest.as_ref());
            o.identifiers.insert(what, 1);
            s.orgs.insert(owner, o);
        }
        if let Some(c) = country {
            s.countries.entry(c).or_default().findings += 1;
        }
    }
}

fn new_org(owner: Owner, dest: Option<&Destination>) -> OrgRow {
    let name = dest.and_then(|d| d.name.as_ref());
    let org = name.and_then(|n| n.org.as_ref()).filter(|_| matches!(owner, Owner::Organisation(_)));
    OrgRow {
        owner,
        home_country: org.and_then(|o| o.country.clone()),
        parent: org.and_then(|o| o.parent.clone()),
        categories: BTreeSet::new(),
        third_party: name.and_then(|n| n.third_party),
        flows: 0,
        bytes_out: 0,
        bytes_in: 0,
        server_countries: BTreeMap::new(),
        hostnames: BTreeSet::new(),
        identifiers: BTreeMap::new(),
    }
}

/// `imei`, or `contact "Mum"`.
pub fn identifier_name(kind: &str, label: Option<&str>) -> String {
    match label {
        Some(l) => format!("{kind} \"{l}\""),
        None => kind.to_string(),
    }
}

/// Orders confidences: high above medium above low.
pub fn rank(confidence: &str) -> u8 {
    match confidence {
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

impl EventSink for SummaryBuilder {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match &event.body {
            EventBody::Flow(r) => self.flow(event, r),
            EventBody::Leak(r) => self.leak(event, r),
            EventBody::Stats(st) => self.summary.stats = Some((**st).clone()),
            EventBody::Http(_) => self.summary.http_events += 1,
            EventBody::Dns(_) | EventBody::Tls(_) | EventBody::Quic(_) => {}
        }
        Ok(())
    }
}

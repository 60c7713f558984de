//! `phonehome diff BEFORE AFTER`: what changed between two runs, e.g. a firmware before and
//! after its "fix". Destinations are compared by host name (addresses of the same service
//! change between captures; a destination without a name is its address), organisations by
//! owner, countries by code, identifiers per (identifier, destination).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::document::Report;
use crate::style::Style;
use crate::text::printable;

/// Keys present on one side only, each with what the user needs to recognise it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Change {
    pub appeared: Vec<String>,
    pub disappeared: Vec<String>,
    /// Present on both sides.
    pub unchanged: usize,
}

/// An identifier sent to a destination, and how often before and after.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IdentifierChange {
    pub identifier: String,
    pub declared: bool,
    pub destination: String,
    /// Owner and server country, as in the side that has it ("Xiaomi, server SG").
    pub owner: String,
    pub before: u64,
    pub after: u64,
}

/// The comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub destinations: Change,
    pub organisations: Change,
    pub server_countries: Change,
    /// Identifier-to-destination pairs that appeared, disappeared or changed in count;
    /// appeared first, then disappeared, then still sent.
    pub identifiers: Vec<IdentifierChange>,
}

impl Diff {
    /// Compares two runs.
    pub fn new(before: &Report, after: &Report) -> Diff {
        let dests = |r: &Report| -> BTreeMap<String, String> {
            r.destinations
                .iter()
                .map(|d| {
                    let mut who = d.owner.display();
                    if let Some(c) = &d.country {
                        who.push_str(&format!(", server {c}"));
                    }
                    (d.label(), format!("{} [{who}]", d.label()))
                })
                .collect()
        };
        let orgs = |r: &Report| -> BTreeMap<String, String> {
            r.organisations
                .iter()
                .map(|o| {
                    let shown = match &o.home_country {
                        Some(c) if o.owner.by == "organisation" => format!("{} (HQ {c})", o.owner.display()),
                        _ => o.owner.display(),
                    };
                    (o.owner.display(), shown)
                })
                .collect()
        };
        let countries = |r: &Report| -> BTreeMap<String, String> {
            r.countries
                .iter()
                .map(|c| (c.country.clone(), format!("{} ({})", c.country, c.organisations.join(", "))))
                .collect()
        };
        let ids = |r: &Report| -> BTreeMap<(String, String), (bool, String, u64)> {
            let mut m = BTreeMap::new();
            for id in &r.identifiers {
                for d in &id.destinations {
                    let mut who = d.owner.display();
                    if let Some(c) = &d.country {
                        who.push_str(&format!(", server {c}"));
                    }
                    let e = m.entry((id.name(), d.destination.clone())).or_insert((id.declared, who, 0));
                    e.2 += d.count;
                }
            }
            m
        };
        let (ib, ia) = (ids(before), ids(after));
        let mut identifiers = Vec::new();
        for ((id, dest), (declared, who, n)) in &ia {
            let was = ib.get(&(id.clone(), dest.clone())).map_or(0, |e| e.2);
            identifiers.push(IdentifierChange {
                identifier: id.clone(),
                declared: *declared,
                destination: dest.clone(),
                owner: who.clone(),
                before: was,
                after: *n,
            });
        }
        for ((id, dest), (declared, who, n)) in &ib {
            if !ia.contains_key(&(id.clone(), dest.clone())) {
                identifiers.push(IdentifierChange {
                    identifier: id.clone(),
                    declared: *declared,
                    destination: dest.clone(),
                    owner: who.clone(),
                    before: *n,
                    after: 0,
                });
            }
        }
        let rank = |c: &IdentifierChange| match (c.before, c.after) {
            (0, _) => 0,
            (_, 0) => 1,
            _ => 2,
        };
        identifiers.sort_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(b.declared.cmp(&a.declared))
                .then_with(|| (&a.identifier, &a.destination).cmp(&(&b.identifier, &b.destination)))
        });
        Diff {
            before: before.inputs.iter().map(|i| i.name.clone()).collect(),
            after: after.inputs.iter().map(|i| i.name.clone()).collect(),
            destinations: change(&dests(before), &dests(after)),
            organisations: change(&orgs(before), &orgs(after)),
            server_countries: change(&countries(before), &countries(after)),
            identifiers,
        }
    }

    /// Whether anything appeared or disappeared (counts that merely changed do not count).
    pub fn is_empty(&self) -> bool {
        [&self.destinations, &self.organisations, &self.server_countries]
            .iter()
            .all(|c| c.appeared.is_empty() && c.disappeared.is_empty())
            && self.identifiers.iter().all(|c| c.before > 0 && c.after > 0)
    }

    /// The text people read.
    pub fn render_text(&self) -> String {
        self.render_text_styled(Style::PLAIN)
    }

    /// The text people read, painted with `style`: identifiers now sent in red, no longer
    /// sent in green; what appeared (`+`) in yellow, what disappeared (`-`) dim. (Not a diff
    /// tool's green and red: a new destination is news to look at, not good news.)
    pub fn render_text_styled(&self, style: Style) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Before: {}", self.before.join(", "));
        let _ = writeln!(s, "After:  {}", self.after.join(", "));
        let new_ids: Vec<_> = self.identifiers.iter().filter(|c| c.before == 0).collect();
        let gone_ids: Vec<_> = self.identifiers.iter().filter(|c| c.after == 0).collect();
        let kept_ids: Vec<_> = self.identifiers.iter().filter(|c| c.before > 0 && c.after > 0).collect();
        let _ = writeln!(s, "\n{}", style.heading("Identifiers:"));
        if self.identifiers.is_empty() {
            let _ = writeln!(s, "  none sent, before or after");
        }
        for (title, list, paint) in [
            ("now sent", &new_ids, Style::bad as fn(Style, &str) -> String),
            ("no longer sent", &gone_ids, Style::good),
            ("still sent", &kept_ids, Style::heading),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(s, "  {}", paint(style, &format!("{title} ({}):", list.len())));
            for c in list.iter() {
                let counts = match (c.before, c.after) {
                    (0, n) => format!("{n}x"),
                    (n, 0) => format!("was {n}x"),
                    (b, a) => format!("{b}x -> {a}x"),
                };
                let _ = writeln!(
                    s,
                    "    {} to {} [{}]: {counts}",
                    style.kind(&printable(&c.identifier, 120)),
                    printable(&c.destination, 120),
                    printable(&c.owner, 120)
                );
            }
        }
        for (title, c) in [
            ("Organisations", &self.organisations),
            ("Server countries", &self.server_countries),
            ("Destinations", &self.destinations),
        ] {
            let _ = writeln!(s, "\n{} {} unchanged", style.heading(&format!("{title}:")), c.unchanged);
            for (sign, list, paint) in
                [("+", &c.appeared, Style::attention as fn(Style, &str) -> String), ("-", &c.disappeared, Style::dim)]
            {
                for item in list {
                    let _ = writeln!(s, "  {}", paint(style, &format!("{sign} {}", printable(item, 120))));
                }
            }
        }
        if self.is_empty() {
            let _ = writeln!(s, "\nNo destination, organisation, country or identifier appeared or disappeared.");
        }
        s
    }
}

fn change(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Change {
    Change {
        appeared: after.iter().filter(|(k, _)| !before.contains_key(*k)).map(|(_, v)| v.clone()).collect(),
        disappeared: before.iter().filter(|(k, _)| !after.contains_key(*k)).map(|(_, v)| v.clone()).collect(),
        unchanged: after.keys().filter(|k| before.contains_key(*k)).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{CountryEntry, DestEntry, IdentifierDest, IdentifierEntry, OwnerRef};

    fn run(hosts: &[(&str, &str)], leaks: &[(&str, &str, u64)]) -> Report {
        let owner = |n: &str| OwnerRef { name: n.into(), by: "organisation".into() };
        Report {
            destinations: hosts
                .iter()
                .map(|(h, o)| DestEntry {
                    ip: "192.0.2.1".into(),
                    hostname: Some(h.to_string()),
                    owner: owner(o),
                    ..DestEntry::default()
                })
                .collect(),
            countries: vec![CountryEntry { country: "SG".into(), ..CountryEntry::default() }],
            identifiers: leaks
                .iter()
                .map(|(kind, dest, n)| IdentifierEntry {
                    kind: kind.to_string(),
                    declared: true,
                    destinations: vec![IdentifierDest {
                        destination: dest.to_string(),
                        count: *n,
                        owner: owner("X"),
                        ..IdentifierDest::default()
                    }],
                    ..IdentifierEntry::default()
                })
                .collect(),
            ..Report::default()
        }
    }

    #[test]
    fn appeared_disappeared_and_still_sent() {
        let before = run(
            &[("a.example.com", "A"), ("b.example.com", "B")],
            &[("imei", "a.example.com", 3), ("mac", "b.example.com", 1)],
        );
        let after = run(
            &[("a.example.com", "A"), ("c.example.com", "C")],
            &[("imei", "a.example.com", 1), ("phone", "c.example.com", 2)],
        );
        let d = Diff::new(&before, &after);
        assert_eq!(d.destinations.appeared, ["c.example.com [C]"]);
        assert_eq!(d.destinations.disappeared, ["b.example.com [B]"]);
        assert_eq!(d.destinations.unchanged, 1);
        let ids: Vec<_> = d.identifiers.iter().map(|c| (c.identifier.as_str(), c.before, c.after)).collect();
        assert_eq!(ids, [("phone", 0, 2), ("mac", 1, 0), ("imei", 3, 1)]);
        assert!(!d.is_empty());
        let text = d.render_text();
        assert!(text.contains("now sent (1):\n    phone to c.example.com [X]: 2x"), "{text}");
        assert!(text.contains("still sent (1):\n    imei to a.example.com [X]: 3x -> 1x"), "{text}");
        assert!(Diff::new(&before, &before).is_empty());
    }
}

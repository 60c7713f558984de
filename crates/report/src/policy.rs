//! `phonehome check --policy POLICY.toml`: a pass/fail gate over a run's [`Report`]
//! (firmware CI, procurement). The policy format is documented in docs/POLICY.md and
//! `examples/policy.toml`.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::document::{OwnerRef, Report};
use crate::text::plural;

/// A policy file. Unknown keys are an error: a misspelt rule must not pass in silence.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The device's maker, when neither the profile nor `--vendor` gives it: first/third
    /// party is relative to it.
    pub vendor: Option<String>,
    /// Server countries (ISO 3166-1 alpha-2, where address blocks are registered) no flow
    /// may go to.
    #[serde(default)]
    pub deny_server_countries: Vec<String>,
    /// Home countries of companies that may receive nothing.
    #[serde(default)]
    pub deny_company_countries: Vec<String>,
    /// Companies (or parents) that may receive nothing.
    #[serde(default)]
    pub deny_organizations: Vec<String>,
    /// Identifier kinds that may not reach a third party.
    #[serde(default)]
    pub deny_identifiers_to_third_parties: Vec<String>,
    /// Identifier kinds that may not leave at all.
    #[serde(default)]
    pub deny_identifiers: Vec<String>,
    /// No unencrypted HTTP to the Internet.
    #[serde(default)]
    pub deny_plaintext_http: bool,
    /// Whether a destination whose owner is unknown counts as a third party (default: yes; a
    /// gate should not pass what it cannot vouch for).
    #[serde(default = "yes")]
    pub unknown_owner_is_third_party: bool,
}

fn yes() -> bool {
    true
}

/// One broken rule, as the user reads it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Violation {
    /// The policy key.
    pub rule: &'static str,
    /// What broke it, one line.
    pub detail: String,
}

/// Kinds `deny_identifiers*` may name (the detector's kinds).
const KINDS: &[&str] = &[
    "imei",
    "meid",
    "imsi",
    "iccid",
    "phone",
    "contact",
    "mac",
    "android_id",
    "advertising_id",
    "serial",
    "device_id",
    "analytics_id",
    "email",
    "name",
    "username",
    "location",
    "custom",
];

impl Policy {
    /// Parses and checks a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let mut p: Policy = toml::from_str(text).map_err(|e| e.to_string())?;
        for cc in p.deny_server_countries.iter_mut().chain(p.deny_company_countries.iter_mut()) {
            if !(cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_alphabetic())) {
                return Err(format!("country {cc:?} is not an ISO 3166-1 alpha-2 code"));
            }
            *cc = cc.to_ascii_uppercase();
        }
        for k in p.deny_identifiers_to_third_parties.iter().chain(&p.deny_identifiers) {
            if !KINDS.contains(&k.as_str()) {
                return Err(format!("unknown identifier kind {k:?} (one of: {})", KINDS.join(", ")));
            }
        }
        Ok(p)
    }

    /// Whether a rule needs to know the device's maker.
    pub fn needs_vendor(&self) -> bool {
        !self.deny_identifiers_to_third_parties.is_empty()
    }

    /// Every violation in `report`, sorted by rule, then text.
    pub fn check(&self, report: &Report) -> Vec<Violation> {
        let mut out = BTreeSet::new();
        let deny_orgs: Vec<String> = self.deny_organizations.iter().map(|o| o.to_lowercase()).collect();
        for d in &report.destinations {
            if let Some(c) = &d.country
                && self.deny_server_countries.contains(c)
            {
                out.insert(Violation {
                    rule: "deny_server_countries",
                    detail: format!(
                        "{} flow{} to {} ({}) on a server in {c} [{}]",
                        d.flows,
                        if d.flows == 1 { "" } else { "s" },
                        d.label(),
                        endpoint(&d.ip, d.port),
                        d.owner.display()
                    ),
                });
            }
            if self.deny_plaintext_http && d.app_proto.as_deref() == Some("http") && !d.owner.is_local() {
                out.insert(Violation {
                    rule: "deny_plaintext_http",
                    detail: format!(
                        "unencrypted HTTP to {} ({}) [{}]",
                        d.label(),
                        endpoint(&d.ip, d.port),
                        d.owner.display()
                    ),
                });
            }
        }
        for o in &report.organisations {
            if o.owner.by != "organisation" {
                continue;
            }
            if let Some(c) = &o.home_country
                && self.deny_company_countries.contains(c)
            {
                out.insert(Violation {
                    rule: "deny_company_countries",
                    detail: format!("{} (based in {c}) received {} flow{}", o.owner.name, o.flows, plural(o.flows)),
                });
            }
            let names = [Some(&o.owner.name), o.parent.as_ref()];
            if let Some(hit) = names.into_iter().flatten().find(|n| deny_orgs.contains(&n.to_lowercase())) {
                let via = if *hit == o.owner.name { String::new() } else { format!(" (part of {hit})") };
                out.insert(Violation {
                    rule: "deny_organizations",
                    detail: format!("{}{via} received {} flow{}", o.owner.name, o.flows, plural(o.flows)),
                });
            }
        }
        for id in &report.identifiers {
            let to_anyone = self.deny_identifiers.contains(&id.kind);
            let to_third = self.deny_identifiers_to_third_parties.contains(&id.kind);
            if !to_anyone && !to_third {
                continue;
            }
            // Only what the device sent: a server holding the value is not the device sending it.
            for d in id.destinations.iter().filter(|d| d.count > d.received) {
                let sent = d.count - d.received;
                let where_ = format!("{} [{}{}]", d.destination, d.owner.display(), country(&d.country));
                if to_anyone {
                    out.insert(Violation {
                        rule: "deny_identifiers",
                        detail: format!("{} sent to {where_} ({sent} time{})", id.name(), plural(sent)),
                    });
                } else if self.is_third_party(d.third_party, &d.owner) {
                    let why = if d.third_party.is_none() { ", owner unknown" } else { "" };
                    out.insert(Violation {
                        rule: "deny_identifiers_to_third_parties",
                        detail: format!(
                            "{} sent to third party {where_}{why} ({sent} time{})",
                            id.name(),
                            plural(sent)
                        ),
                    });
                }
            }
            if id.destinations_untracked > 0 {
                out.insert(Violation {
                    rule: if to_anyone { "deny_identifiers" } else { "deny_identifiers_to_third_parties" },
                    detail: format!(
                        "{} sent to {} further destinations not itemised",
                        id.name(),
                        id.destinations_untracked
                    ),
                });
            }
        }
        out.into_iter().collect()
    }

    fn is_third_party(&self, third_party: Option<bool>, owner: &OwnerRef) -> bool {
        match third_party {
            Some(t) => t,
            None => !owner.is_local() && self.unknown_owner_is_third_party,
        }
    }
}

fn endpoint(ip: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if ip.contains(':') => format!("[{ip}]:{p}"),
        Some(p) => format!("{ip}:{p}"),
        None => ip.to_string(),
    }
}

fn country(c: &Option<String>) -> String {
    c.as_ref().map(|c| format!(", server {c}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{DestEntry, IdentifierDest, IdentifierEntry, OrgEntry};

    fn owner(name: &str, by: &str) -> OwnerRef {
        OwnerRef { name: name.into(), by: by.into() }
    }

    fn report() -> Report {
        Report {
            destinations: vec![
                DestEntry {
                    ip: "47.241.7.88".into(),
                    port: Some(80),
                    proto: "TCP".into(),
                    hostname: Some("api.example.cn".into()),
                    app_proto: Some("http".into()),
                    flows: 2,
                    owner: owner("Xiaomi", "organisation"),
                    country: Some("CN".into()),
                    ..DestEntry::default()
                },
                DestEntry {
                    ip: "192.168.1.1".into(),
                    port: Some(80),
                    app_proto: Some("http".into()),
                    owner: owner("private", "local"),
                    ..DestEntry::default()
                },
            ],
            organisations: vec![OrgEntry {
                owner: owner("Umeng", "organisation"),
                parent: Some("Alibaba".into()),
                home_country: Some("CN".into()),
                flows: 1,
                ..OrgEntry::default()
            }],
            identifiers: vec![IdentifierEntry {
                kind: "imei".into(),
                destinations: vec![
                    IdentifierDest {
                        destination: "a.umeng.com".into(),
                        count: 3,
                        owner: owner("Umeng", "organisation"),
                        third_party: Some(true),
                        ..IdentifierDest::default()
                    },
                    IdentifierDest {
                        destination: "api.xiaomi.com".into(),
                        count: 1,
                        owner: owner("Xiaomi", "organisation"),
                        third_party: Some(false),
                        ..IdentifierDest::default()
                    },
                    IdentifierDest {
                        destination: "unknown.example.net".into(),
                        count: 1,
                        owner: owner("example.net", "domain"),
                        ..IdentifierDest::default()
                    },
                    // Only echoed back by the server: not the device sending it.
                    IdentifierDest {
                        destination: "echo.example.org".into(),
                        count: 2,
                        received: 2,
                        owner: owner("Echo", "organisation"),
                        third_party: Some(true),
                        ..IdentifierDest::default()
                    },
                ],
                ..IdentifierEntry::default()
            }],
            ..Report::default()
        }
    }

    #[test]
    fn every_rule_trips_and_a_clean_policy_passes() {
        let p = Policy::parse(
            r#"
            deny_server_countries = ["cn"]
            deny_company_countries = ["CN"]
            deny_organizations = ["alibaba"]
            deny_identifiers_to_third_parties = ["imei"]
            deny_plaintext_http = true
            "#,
        )
        .unwrap();
        let v = p.check(&report());
        let rules: BTreeSet<_> = v.iter().map(|v| v.rule).collect();
        assert_eq!(
            rules.into_iter().collect::<Vec<_>>(),
            [
                "deny_company_countries",
                "deny_identifiers_to_third_parties",
                "deny_organizations",
                "deny_plaintext_http",
                "deny_server_countries"
            ]
        );
        // The vendor's own servers are not third parties; an unknown owner is, by default;
        // the local network's HTTP is not "to the Internet".
        let third: Vec<_> = v.iter().filter(|v| v.rule == "deny_identifiers_to_third_parties").collect();
        assert_eq!(third.len(), 2, "{third:?}");
        assert!(!third.iter().any(|v| v.detail.contains("echo.example.org")), "{third:?}");
        assert!(third.iter().any(|v| v.detail.contains("owner unknown")));
        assert_eq!(v.iter().filter(|v| v.rule == "deny_plaintext_http").count(), 1);
        assert!(v.iter().any(|v| v.detail.contains("Umeng (part of Alibaba)")));

        let lenient =
            Policy::parse("deny_identifiers_to_third_parties = [\"imei\"]\nunknown_owner_is_third_party = false")
                .unwrap();
        assert_eq!(lenient.check(&report()).len(), 1);
        assert!(Policy::default().check(&report()).is_empty());
    }

    #[test]
    fn mistakes_in_a_policy_are_errors() {
        assert!(Policy::parse("deny_server_country = [\"CN\"]").unwrap_err().contains("unknown field"));
        assert!(Policy::parse("deny_server_countries = [\"China\"]").is_err());
        assert!(Policy::parse("deny_identifiers = [\"imie\"]").unwrap_err().contains("imie"));
        assert!(Policy::parse("deny_plaintext_http = \"yes\"").is_err());
    }
}

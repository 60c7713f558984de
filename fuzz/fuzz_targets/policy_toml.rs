//! Fuzzes the policy reader of `phonehome check`: `Policy::parse` on arbitrary text (a
//! policy file is the user's, but it travels between teams and CI systems).
//!
//! Checked: no panic, no hang; an accepted policy answers `needs_vendor` and checks a report
//! (an empty one, and one with an identifier sent to a third party in a named country).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_report::document::{CountryEntry, IdentifierDest, IdentifierEntry, OwnerRef, Report};
use phonehome_report::policy::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::parse(text) else { return };
    let _ = policy.needs_vendor();
    let _ = policy.check(&Report::default());
    let owner = OwnerRef { name: "Tracker Inc".into(), by: "organisation".into() };
    let report = Report {
        identifiers: vec![IdentifierEntry {
            kind: "imei".into(),
            declared: true,
            count: 1,
            destinations: vec![IdentifierDest {
                destination: "t.example".into(),
                count: 1,
                owner: owner.clone(),
                country: Some("CN".into()),
                third_party: Some(true),
            }],
            ..IdentifierEntry::default()
        }],
        countries: vec![CountryEntry { country: "CN".into(), flows: 1, ..CountryEntry::default() }],
        ..Report::default()
    };
    let _ = policy.check(&report);
});

//! `phonehome-attribute::domain` list readers and merge, then lookups.
//!
//! Input: a knob byte, then the list file's bytes. Knob bits 0-3 pick the format (0 = detect,
//! 1..=10 = `Format::ALL[n-1]`, others detect), bit 4 sets a default category, bit 5 a default
//! organisation, bit 6 character-reverses the body first (TrackerControl's quirk, which the
//! reader undoes for JSON). The list is merged over the embedded table; then every
//! whitespace- or punctuation-separated token of the input is looked up.
//!
//! Checked besides "no panic, no hang": a load that succeeds is recorded once with counts
//! that add up to at most the tokens it saw; an organisation found for a name comes with a
//! matched key that is a suffix of the normalised name (or a tenant rule).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_attribute::domain::{Category, DomainDb, Format, ListSource};

fuzz_target!(|data: &[u8]| {
    let Some((&knob, body)) = data.split_first() else { return };
    let reversed: Vec<u8>;
    let body = if knob & 0x40 != 0 {
        reversed = String::from_utf8_lossy(body).chars().rev().collect::<String>().into_bytes();
        &reversed[..]
    } else {
        body
    };
    let mut src = ListSource::new("fuzz", body);
    let f = (knob & 0x0f) as usize;
    if (1..=Format::ALL.len()).contains(&f) {
        src = src.format(Format::ALL[f - 1]);
    }
    if knob & 0x10 != 0 {
        src = src.category(Category::Advertising);
    }
    if knob & 0x20 != 0 {
        src = src.org("Fuzz Corp");
    }
    let mut db = DomainDb::embedded().clone();
    let before = db.stats();
    match db.add_list(src) {
        Ok(report) => {
            assert_eq!(db.lists().len(), 1);
            assert_eq!(db.lists()[0], report);
            assert!(db.stats().names as u64 <= before.names as u64 + report.entries);
        }
        Err(_) => assert_eq!(db.stats(), before, "a failed load changes nothing"),
    }
    let text = String::from_utf8_lossy(body);
    for tok in text
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | ',' | '[' | ']' | '{' | '}' | '|' | '^' | '$'))
        .take(256)
    {
        let info = db.lookup(tok);
        if info.org.is_some() && !info.by_tenant_label {
            let m = info.matched.expect("an organisation comes with its key");
            let norm = tok.trim_end_matches('.').to_ascii_lowercase();
            let host = norm
                .rsplit_once(':')
                .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                .map_or(norm.as_str(), |(h, _)| h);
            assert!(host.trim_end_matches('.').ends_with(m), "{tok:?} -> {m:?}");
        }
    }
});

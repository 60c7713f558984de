//! Fuzzes `phonehome-detect`'s profile reader: `Profile::from_toml_str` on arbitrary text.
//!
//! Checked: no panic, no hang; an accepted profile has no empty value, its warnings can be
//! listed, a scanner can be built from it (profiles of up to 8 values) and scans a text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_detect::{Location, Options, Profile, Scanner};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = Profile::from_toml_str(text) else { return };
    assert!(p.ids.iter().all(|i| !i.value.is_empty() && i.value.trim() == i.value));
    let _ = p.warnings();
    if p.ids.len() <= 8 {
        let sc = Scanner::new(&p, &Options::default());
        let mut out = Vec::new();
        sc.scan(text.as_bytes(), Location::Body, &mut out);
    }
});

//! Fuzzes `phonehome-detect`'s scanner: a small profile of arbitrary values and a text,
//! scanned whole at one location and as a stream in input-chosen chunks.
//!
//! Input: a knob byte (location, undeclared on/off, case folding, shortest form 6-9,
//! decoding pre-passes on/off), a byte with the number of declared values (0-3), then per
//! value a kind byte, a length byte and the value's bytes (lossy UTF-8; values the profile
//! refuses are skipped), a chunk-size
//! byte, then the text.
//!
//! Checked: no panic, no hang; every finding lies inside the text (or stream) and names a
//! declared id only when declared; the per-call cap holds; where no decoding pre-pass runs
//! (DNS names, SNIs), a stream fed in chunks reports exactly the declared findings of one
//! scan of the whole text.
//!
//! Building a scanner costs far more than a scan (digests of every form, the automaton), so
//! scanners are cached by profile and options: the fuzzer mostly mutates the text.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use phonehome_detect::{DeclaredId, Kind, Location, Options, Profile, Scanner, StreamScanner};

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<Scanner>>> = RefCell::new(HashMap::new());
}

fn scanner(profile: &Profile, opts: &Options) -> Rc<Scanner> {
    let key = format!("{:?}|{:?}", profile.ids, opts);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.entry(key).or_insert_with(|| Rc::new(Scanner::new(profile, opts))).clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let [knob, nvals, rest @ ..] = data else { return };
    let mut rest = rest;
    let mut ids = Vec::new();
    for i in 0..usize::from(*nvals % 4) {
        let [kind, len, tail @ ..] = rest else { return };
        let len = usize::from(*len).min(tail.len()).min(64);
        let value = String::from_utf8_lossy(&tail[..len]).into_owned();
        rest = &tail[len..];
        let kind = Kind::ALL[usize::from(*kind) % Kind::ALL.len()];
        let label = (i % 2 == 1).then(|| format!("l{i}"));
        if let Ok(id) = DeclaredId::new(kind, label, &value) {
            ids.push(id);
        }
    }
    let [chunk, text @ ..] = rest else { return };
    let locations = [
        Location::Url,
        Location::Header("X-Device-Id"),
        Location::Cookie,
        Location::Body,
        Location::Payload,
        Location::Dns,
        Location::Sni,
        Location::Header("Client-AndroidId"),
    ];
    let location = locations[usize::from(knob & 7)];
    let opts = Options {
        undeclared: knob & 8 != 0,
        case_fold: knob & 16 == 0,
        min_form_len: 6 + usize::from(knob >> 5 & 3),
        // What servers send is searched without the pre-passes (engine/findings.rs).
        decode: knob & 128 == 0,
        max_findings_per_call: 1 << 20,
        max_findings_per_stream: 1 << 20,
        ..Options::default()
    };
    let profile = Profile { ids, ..Profile::default() };
    let _ = profile.warnings();
    let sc = scanner(&profile, &opts);
    let sc = &*sc;

    let mut whole = Vec::new();
    let st = sc.scan(text, location, &mut whole);
    assert_eq!(st.findings, whole.len());
    for f in &whole {
        assert!(f.offset + f.len <= text.len() && f.len > 0, "{f:?}");
        if f.declared {
            assert!(profile.ids.iter().any(|i| i.kind == f.kind && i.label == f.label), "{f:?}");
        } else {
            assert!(f.label.is_none(), "{f:?}");
        }
    }
    let capped = scanner(&profile, &Options { max_findings_per_call: 3, ..opts.clone() });
    let mut few = Vec::new();
    let st = capped.scan(text, location, &mut few);
    assert!(few.len() <= 3 && st.findings == few.len());

    let size = usize::from(*chunk).max(1);
    let mut streamed = Vec::new();
    let mut s = StreamScanner::new(sc);
    for c in text.chunks(size) {
        s.push(sc, c, location, &mut streamed);
    }
    s.finish(sc, location, &mut streamed);
    for f in &streamed {
        assert!(f.offset + f.len <= text.len() && f.len > 0, "{f:?}");
    }
    if matches!(location, Location::Dns | Location::Sni) {
        let key = |f: &phonehome_detect::Finding| (f.offset, f.len, f.kind, f.label.clone(), f.encoding.clone());
        let a: Vec<_> = whole.iter().filter(|f| f.declared).map(key).collect();
        let b: Vec<_> = streamed.iter().filter(|f| f.declared).map(key).collect();
        assert_eq!(a, b, "chunk size {size}");
    }
});

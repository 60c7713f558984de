//! The labelled evaluation (tests/common/eval.rs) at debug speed: one carrier per location,
//! every encoding the issue requires. Recall must be 100% and false positives zero; the full
//! run with tables is `cargo run --release -p phonehome-detect --example evaluate`.

mod common;

use common::eval;
use phonehome_detect::{Options, Scanner};

#[test]
fn recall_is_complete_and_nothing_else_is_found() {
    let sc = Scanner::new(&eval::profile(), &Options { undeclared: false, ..Options::default() });
    let cases = eval::cases(1);
    assert!(cases.len() > 2000, "{}", cases.len());
    let o = eval::run(&sc, &cases);
    assert!(o.missed.is_empty(), "{} of {} missed:\n{}", o.missed.len(), o.cases, o.missed.join("\n"));
    assert!(o.false_positives.is_empty(), "{}", o.false_positives.join("\n"));
    // Every location and every encoding family was exercised.
    let places: Vec<&str> = o.by_place.iter().map(|p| p.0.as_str()).collect();
    for p in ["url", "header", "cookie", "body-form", "body-json", "body-multipart", "payload", "dns", "sni"] {
        assert!(places.contains(&p), "{p} not exercised");
    }
    assert_eq!(o.by_encoding.len(), 26, "{:?}", o.by_encoding);
}

#[test]
fn unmodified_corpus_extracts_yield_no_declared_finding() {
    let sc = Scanner::new(&eval::profile(), &Options::default());
    let (texts, fps) = eval::unmodified_false_positives(&sc);
    assert!(texts > 200);
    assert!(fps.is_empty(), "{}", fps.join("\n"));
}

#[test]
fn undeclared_findings_on_the_corpus_extracts_are_all_real() {
    let sc = Scanner::new(&eval::profile(), &Options { show_values: true, ..Options::default() });
    let (all, unknown) = eval::undeclared_on_corpus(&sc);
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
    // Every identifier of the list is found somewhere.
    for (kind, value) in eval::KNOWN_UNDECLARED {
        assert!(all.iter().any(|f| f.kind == *kind && f.value.as_deref() == Some(value)), "{kind} {value} not found");
    }
}

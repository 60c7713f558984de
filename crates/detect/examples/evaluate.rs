//! The detection evaluation: recall per encoding and per location over the labelled set of
//! `tests/common/eval.rs` (real requests and payloads from `tests/data` with the declared
//! values of a 50-value profile inserted in every disguise), and the false positives.
//!
//! `cargo run --release -p phonehome-detect --example evaluate [CARRIERS_PER_PLACE]`
//! (default 8). docs/DETECTION.md records its output.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::eval;
use phonehome_detect::{Options, Scanner};

fn table(title: &str, rows: &[(String, usize, usize)]) {
    println!("\n| {title} | cases | found | recall |\n|---|---:|---:|---:|");
    for (name, n, hit) in rows {
        println!("| {name} | {n} | {hit} | {:.1}% |", 100.0 * *hit as f64 / (*n).max(1) as f64);
    }
}

fn main() {
    let per_place: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let profile = eval::profile();
    let t = Instant::now();
    let sc = Scanner::new(&profile, &Options { undeclared: false, ..Options::default() });
    println!(
        "profile: {} declared values -> {} patterns (longest {} bytes), built in {:.1} ms",
        profile.ids.len(),
        sc.pattern_count(),
        sc.max_pattern_len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let cases = eval::cases(per_place);
    let t = Instant::now();
    let o = eval::run(&sc, &cases);
    let secs = t.elapsed().as_secs_f64();
    let bytes: usize = cases.iter().map(|c| c.text.len()).sum();
    let found: usize = o.by_place.iter().map(|p| p.2).sum();
    println!(
        "labelled set: {} cases ({} subjects, {} carriers per place, {:.1} MB) scanned in {:.2} s",
        o.cases,
        eval::subjects().len(),
        per_place,
        bytes as f64 / 1e6,
        secs
    );
    println!("recall: {found}/{} = {:.2}%", o.cases, 100.0 * found as f64 / o.cases.max(1) as f64);
    table("encoding", &o.by_encoding);
    table("location", &o.by_place);
    println!("\nmissed ({}):", o.missed.len());
    for m in o.missed.iter().take(40) {
        println!("  {m}");
    }
    println!(
        "\nfalse positives in the labelled set (declared findings that match no label): {}",
        o.false_positives.len()
    );
    for f in o.false_positives.iter().take(40) {
        println!("  {f}");
    }
    let (texts, fps) = eval::unmodified_false_positives(&Scanner::new(&profile, &Options::default()));
    println!(
        "false positives on the {texts} unmodified corpus extracts (URLs, headers, bodies, payloads) \
         for the 50 values, which appear nowhere in them: {}",
        fps.len()
    );
    for f in fps.iter().take(20) {
        println!("  {f}");
    }
    let undeclared = Scanner::new(&profile, &Options { show_values: true, ..Options::default() });
    let (all, unknown) = eval::undeclared_on_corpus(&undeclared);
    let real: Vec<_> = all.iter().filter(|f| !f.declared).collect();
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for f in &real {
        match kinds.iter_mut().find(|k| k.0 == f.kind.as_str()) {
            Some(k) => k.1 += 1,
            None => kinds.push((f.kind.as_str().to_string(), 1)),
        }
    }
    println!(
        "undeclared findings on the unmodified extracts: {} ({}), {} distinct values, all in the \
         hand-checked list of identifiers these captures carry: {}",
        real.len(),
        kinds.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
        eval::KNOWN_UNDECLARED.len(),
        if unknown.is_empty() { "yes".to_string() } else { format!("NO, {} unknown", unknown.len()) }
    );
    for u in &unknown {
        println!("  {u}");
    }
}

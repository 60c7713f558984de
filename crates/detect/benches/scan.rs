//! Scanner throughput with 50 declared values over 64 KiB texts that hold none of them:
//!
//! * `http`: corpus HTTP requests (request lines, headers, bodies) concatenated, scanned as
//!   raw payload, so with both decoding pre-passes; they carry real undeclared identifiers
//!   (Android ID, GAID, GA client ids), about 80 findings per 64 KiB;
//! * `clean`: the same requests minus those with any undeclared finding: text without
//!   matches;
//! * `binary`: corpus payloads then xorshift bytes (compressed/encrypted look-alike).
//!
//! Each is scanned declared-only and with undeclared detection, as `Location::Payload` (all
//! pre-passes) and as `Location::Dns` (none: the declared search and detectors alone).
//! `cargo bench -p phonehome-detect --bench scan`; bytes/s is reported by criterion, and
//! docs/DETECTION.md records the figures.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phonehome_detect::{Location, Options, Profile, Scanner, StreamScanner};

#[path = "../tests/common/mod.rs"]
mod common;

fn request_text(r: &common::Request) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(r.uri.as_bytes());
    t.extend_from_slice(b" HTTP/1.1\r\n");
    for (n, v) in &r.headers {
        t.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    t.extend_from_slice(b"\r\n");
    t.extend_from_slice(&r.body);
    t
}

/// Concatenates texts until 64 KiB (repeating them if needed).
fn fill(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < 64 * 1024 {
        for p in parts {
            out.extend_from_slice(p);
        }
    }
    out.truncate(64 * 1024);
    out
}

fn texts() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let reqs: Vec<Vec<u8>> = common::requests().iter().map(request_text).collect();
    let http = fill(&reqs);
    let undeclared = Scanner::new(&Profile::default(), &Options::default());
    let clean: Vec<Vec<u8>> = reqs
        .into_iter()
        .filter(|t| {
            let mut out = Vec::new();
            undeclared.scan(t, Location::Payload, &mut out);
            out.is_empty()
        })
        .collect();
    let clean = fill(&clean);
    // Binary: a xorshift stream (compressed/encrypted payload look-alike) after some payloads.
    let mut bin = Vec::with_capacity(64 * 1024);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in common::payloads() {
        bin.extend_from_slice(&p.bytes);
    }
    while bin.len() < 64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bin.extend_from_slice(&x.to_le_bytes());
    }
    bin.truncate(64 * 1024);
    (http, clean, bin)
}

fn bench(c: &mut Criterion) {
    let profile = common::profile50();
    let (http, clean, bin) = texts();
    let mut g = c.benchmark_group("scan_64k");
    g.throughput(Throughput::Bytes(64 * 1024));
    let full = Scanner::new(&profile, &Options::default());
    let declared = Scanner::new(&profile, &Options { undeclared: false, ..Options::default() });
    eprintln!("{} patterns, longest {}", full.pattern_count(), full.max_pattern_len());
    let mut out = Vec::new();
    for (name, text) in [("http", &http), ("clean", &clean), ("binary", &bin)] {
        out.clear();
        full.scan(text, Location::Payload, &mut out);
        eprintln!("{name}: {} findings, {} declared", out.len(), out.iter().filter(|f| f.declared).count());
        for (sname, sc) in [("declared", &declared), ("all", &full)] {
            for (lname, loc) in [("payload", Location::Payload), ("no_decoding", Location::Dns)] {
                g.bench_function(format!("{name}/{sname}/{lname}"), |b| {
                    b.iter(|| {
                        out.clear();
                        sc.scan(black_box(text), loc, &mut out)
                    })
                });
            }
        }
    }
    g.bench_function("http/all/stream_1460", |b| {
        b.iter(|| {
            out.clear();
            let mut st = StreamScanner::new(&full);
            for c in http.chunks(1460) {
                st.push(&full, black_box(c), Location::Payload, &mut out);
            }
            st.finish(&full, Location::Payload, &mut out)
        })
    });
    let variants = Scanner::new(&profile, &Options { undeclared: false, case_fold: false, ..Options::default() });
    g.bench_function("clean/declared/no_decoding/case_variants", |b| {
        b.iter(|| {
            out.clear();
            variants.scan(black_box(&clean), Location::Dns, &mut out)
        })
    });
    g.finish();
    c.bench_function("build_scanner_50_values", |b| b.iter(|| Scanner::new(black_box(&profile), &Options::default())));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);

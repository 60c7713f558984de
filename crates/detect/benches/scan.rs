//! Scanner throughput with 50 declared values over 64 KiB of realistic text that holds none of
//! them: corpus HTTP requests (URLs, headers, bodies) and binary payload bytes, half and half.
//! `cargo bench -p phonehome-detect --bench scan`; bytes/s is reported by criterion.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phonehome_detect::{Location, Options, Scanner, StreamScanner};

#[path = "../tests/common/mod.rs"]
mod common;

fn texts() -> (Vec<u8>, Vec<u8>) {
    let mut http = Vec::new();
    for r in common::requests() {
        http.extend_from_slice(r.uri.as_bytes());
        http.extend_from_slice(b" HTTP/1.1\r\n");
        for (n, v) in &r.headers {
            http.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        http.extend_from_slice(b"\r\n");
        http.extend_from_slice(&r.body);
        if http.len() >= 64 * 1024 {
            break;
        }
    }
    http.truncate(64 * 1024);
    // Binary: a xorshift stream (compressed/encrypted payload look-alike) with some payload bytes.
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
    (http, bin)
}

fn bench(c: &mut Criterion) {
    let profile = common::profile50();
    let (http, bin) = texts();
    let mut g = c.benchmark_group("scan_64k");
    g.throughput(Throughput::Bytes(64 * 1024));
    for (fold, name) in [(true, "fold"), (false, "variants")] {
        let opts = Options { case_fold: fold, ..Options::default() };
        let sc = Scanner::new(&profile, &opts);
        let declared_only = Scanner::new(&profile, &Options { undeclared: false, ..opts.clone() });
        eprintln!("{name}: {} patterns, longest {}", sc.pattern_count(), sc.max_pattern_len());
        let mut out = Vec::new();
        sc.scan(&http, Location::Payload, &mut out);
        sc.scan(&bin, Location::Payload, &mut out);
        eprintln!("{name}: {} findings on the benchmark text (should be undeclared only)", out.len());
        for f in out.iter().filter(|f| f.declared) {
            eprintln!("  declared?! {f:?}");
        }
        g.bench_function(format!("{name}/http_payload"), |b| {
            b.iter(|| {
                out.clear();
                sc.scan(black_box(&http), Location::Payload, &mut out)
            })
        });
        g.bench_function(format!("{name}/binary_payload"), |b| {
            b.iter(|| {
                out.clear();
                sc.scan(black_box(&bin), Location::Payload, &mut out)
            })
        });
        g.bench_function(format!("{name}/http_declared_only"), |b| {
            b.iter(|| {
                out.clear();
                declared_only.scan(black_box(&http), Location::Payload, &mut out)
            })
        });
        g.bench_function(format!("{name}/binary_declared_only"), |b| {
            b.iter(|| {
                out.clear();
                declared_only.scan(black_box(&bin), Location::Payload, &mut out)
            })
        });
        if fold {
            g.bench_function("fold/http_stream_4k_chunks", |b| {
                b.iter(|| {
                    out.clear();
                    let mut st = StreamScanner::new(&sc);
                    for c in http.chunks(4096) {
                        st.push(&sc, black_box(c), Location::Payload, &mut out);
                    }
                    st.finish(&sc, Location::Payload, &mut out)
                })
            });
        }
    }
    g.finish();
    c.bench_function("build_scanner_50_values", |b| b.iter(|| Scanner::new(black_box(&profile), &Options::default())));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);

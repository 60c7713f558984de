//! Cost of the names half of attribution (`phonehome_attribute::domain`).
//!
//! * `domain/startup`: parsing the embedded organisation table into a `DomainDb`, which is
//!   what the first `DomainDb::embedded()` call pays (the public suffix list is compiled code
//!   and costs nothing at start-up). The very first call in the process is also printed once,
//!   measured with `Instant`, before criterion starts.
//! * `domain/lookup/*`: one `lookup` of a typical name of each kind; `domain/lookup/mix`
//!   cycles through all of them (per-lookup time = reported time / names in the mix).
//! * `domain/add_list/hosts_10k`: merging a 10,000-line hosts file.
//!
//! Run: `cargo bench -p phonehome-attribute --bench domain` (figures in docs/ATTRIBUTION.md).
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phonehome_attribute::domain::{DomainDb, Format, ListSource};

const TABLE: &str = include_str!("../data/orgs/orgs.toml");

const NAMES: &[(&str, &str)] = &[
    ("deep_hit", "data.mistat.intl.xiaomi.com"),
    ("registrable_hit", "www.google-analytics.com"),
    ("cc_suffix_hit", "www.google.com.br"),
    ("private_suffix", "d1234abcd.cloudfront.net"),
    ("tenant_label", "fr-app-chat-global-xiaomi-net1-1667981913.eu-central-1.elb.amazonaws.com"),
    ("miss", "api.magicansoft.com"),
    ("ip_literal", "203.107.1.65"),
    ("upper_trailing_dot", "SSL.GOOGLE-ANALYTICS.COM."),
];

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let info = DomainDb::embedded().lookup("xiaomi.com");
    eprintln!("first lookup in the process (table parse included): {:?}", t.elapsed());
    assert!(info.org.is_some());

    c.bench_function("domain/startup", |b| b.iter(|| DomainDb::from_table(black_box(TABLE)).unwrap()));

    let db = DomainDb::embedded();
    let mut g = c.benchmark_group("domain/lookup");
    for (label, name) in NAMES {
        g.bench_function(*label, |b| b.iter(|| db.lookup(black_box(name))));
    }
    g.throughput(Throughput::Elements(NAMES.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            for (_, name) in NAMES {
                black_box(db.lookup(black_box(name)));
            }
        })
    });
    g.finish();

    let hosts: String = (0..10_000).map(|i| format!("0.0.0.0 t{i}.tracker{}.example.com # c\n", i % 97)).collect();
    c.bench_function("domain/add_list/hosts_10k", |b| {
        b.iter(|| {
            let mut db = DomainDb::embedded().clone();
            db.add_list(ListSource::new("h", hosts.as_bytes()).format(Format::Hosts)).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

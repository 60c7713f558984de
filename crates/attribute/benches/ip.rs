//! Cost of the embedded IP tables: start-up (decompress and index, the first lookup pays it)
//! and per lookup, embedded against the source .mmdb read by `maxminddb`.
//!
//! `cargo bench -p phonehome-attribute --bench ip` (figures in docs/ATTRIBUTION.md). The
//! first lines printed are the time to the very first lookup in this process, measured once
//! before criterion warms anything, since that one-off cost is what a user waits for.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use phonehome_attribute::ip::IpDb;
use phonehome_attribute::ip::table::{Dict, Ranges, Sections, V6Ranges, inflate};

#[path = "../tests/ip_common/mod.rs"]
mod ip_common;

const COUNTRY: &[u8] = include_bytes!("../data/ip/country.ipdb");
const ASN: &[u8] = include_bytes!("../data/ip/asn.ipdb");

/// A fixed sample: uniform IPv4, and IPv6 in 2000::/4 where the allocated space is.
fn addresses(n: usize) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let mut rng = ip_common::Rng(0x5eed);
    let v4 = (0..n).map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32))).collect();
    let v6 = (0..n).map(|_| IpAddr::V6(Ipv6Addr::from((rng.u128() >> 4) | (2u128 << 124)))).collect();
    (v4, v6)
}

/// Each section's share of start-up: inflate and decode, as `IpDb` does on first use.
fn startup(c: &mut Criterion) {
    let mut g = c.benchmark_group("startup");
    g.sample_size(20);
    for (name, file) in [("country", COUNTRY), ("asn", ASN)] {
        let s = Sections::parse(file).unwrap();
        g.bench_function(format!("{name} dictionary"), |b| {
            b.iter(|| Dict::decode(inflate(black_box(s.dict)).unwrap()).unwrap())
        });
        g.bench_function(format!("{name} IPv4"), |b| {
            b.iter(|| Ranges::decode_v4(&inflate(black_box(s.v4)).unwrap()).unwrap())
        });
        g.bench_function(format!("{name} IPv6"), |b| {
            b.iter(|| V6Ranges::decode(&inflate(black_box(s.v6)).unwrap()).unwrap())
        });
    }
    g.finish();
}

fn lookups(c: &mut Criterion) {
    let db = IpDb::embedded();
    db.preload();
    let (v4, v6) = addresses(4096);
    let mut g = c.benchmark_group("lookup");
    for (name, sample) in [("ipv4", &v4), ("ipv6", &v6)] {
        g.bench_function(format!("embedded {name} (scope, country, asn)"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % sample.len();
                db.lookup(black_box(sample[i]))
            })
        });
        g.bench_function(format!("embedded {name} country only"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % sample.len();
                db.table_country(black_box(sample[i]))
            })
        });
    }
    if let Some(source) = ip_common::country_mmdb() {
        let file = IpDb::from_files(Some(&source), None).unwrap();
        for (name, sample) in [("ipv4", &v4), ("ipv6", &v6)] {
            g.bench_function(format!("source mmdb {name} country only"), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % sample.len();
                    file.table_country(black_box(sample[i]))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, startup, lookups);

fn main() {
    let t = Instant::now();
    let db = IpDb::embedded();
    let first = db.lookup("8.8.8.8".parse().unwrap());
    println!(
        "time to first lookup (IpDb::embedded + one IPv4 lookup): {:.1} ms ({:?})",
        t.elapsed().as_secs_f64() * 1e3,
        first.country
    );
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
}

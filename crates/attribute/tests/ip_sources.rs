//! The embedded tables against the sources they were built from (issue 5, "Done when"):
//! 100,000 deterministic addresses each, IPv4 and IPv6, 100% agreement required.
//!
//! Needs `../shared/data/ip-location-db` beside the repository (CI has it); without it each
//! test prints SKIPPED and why. The sample mixes uniform addresses with addresses at, just
//! inside and just outside the edges of the sources' own ranges, where an off-by-one in
//! merging or in the search would show.

mod ip_common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ip_common::{Rng, asn_csvs, country_mmdb, skip};
use phonehome_attribute::ip::{Country, IpDb};

const SAMPLES: usize = 100_000;

fn v4(n: u128) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n as u32))
}

fn v6(n: u128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(n))
}

/// ::/96, where an .mmdb keeps its IPv4 tree: the source answers IPv4 data there, the
/// embedded IPv6 table nothing (`IpDb::lookup` calls those addresses reserved). Sampling
/// in 2000::/3 never lands there; the edges of the source's IPv6 networks might.
fn in_alias(n: u128) -> bool {
    n >> 32 == 0
}

/// 100,000 addresses: per family, a quarter uniform (IPv6: in 2000::/3, the unicast space
/// in use, aliases excluded) and a quarter at or next to the edges (and middles) of the
/// given ranges.
fn sample(rng: &mut Rng, ranges4: &[(u128, u128)], ranges6: &[(u128, u128)]) -> Vec<IpAddr> {
    let quarter = SAMPLES / 4;
    let mut out = Vec::with_capacity(SAMPLES);
    for _ in 0..quarter {
        out.push(v4(u128::from(rng.next() as u32)));
    }
    let near = |rng: &mut Rng, (s, e): (u128, u128), max: u128| -> u128 {
        match rng.below(6) {
            0 => s,
            1 => e,
            2 => s.saturating_sub(1),
            3 => e.saturating_add(1).min(max),
            4 => s + (e - s) / 2,
            _ => s + (rng.u128() % (e - s + 1)),
        }
    };
    for _ in 0..quarter {
        let r = ranges4[rng.below(ranges4.len() as u64) as usize];
        out.push(v4(near(rng, r, u128::from(u32::MAX))));
    }
    while out.len() < 3 * quarter {
        let n = (rng.u128() >> 3) | (1u128 << 125);
        if !in_alias(n) {
            out.push(v6(n));
        }
    }
    while out.len() < SAMPLES {
        let r = ranges6[rng.below(ranges6.len() as u64) as usize];
        let n = near(rng, r, u128::MAX);
        if !in_alias(n) {
            out.push(v6(n));
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct CountryRecord<'a> {
    country_code: Option<&'a str>,
}

#[test]
fn country_table_agrees_with_source_mmdb_on_100000_addresses() {
    let Some(path) = country_mmdb() else {
        return skip("country_table_agrees_with_source_mmdb_on_100000_addresses");
    };
    let reader = maxminddb::Reader::open_readfile(&path).unwrap();
    let (mut ranges4, mut ranges6) = (Vec::new(), Vec::new());
    for r in reader.networks(Default::default()).unwrap() {
        let net = r.unwrap().network().unwrap();
        let bits = |a: u32, len: u8| if len == 0 { 0 } else { (1u128 << (a - u32::from(len))) - 1 };
        match net.network() {
            IpAddr::V4(n) => {
                let s = u128::from(u32::from(n));
                ranges4.push((s, s | bits(32, net.prefix())));
            }
            IpAddr::V6(n) => {
                let s = u128::from(n);
                ranges6.push((s, s | bits(128, net.prefix())));
            }
        }
    }
    let db = IpDb::embedded();
    let samples = sample(&mut Rng(0x1f_c0de), &ranges4, &ranges6);
    let (mut with_country, mut mismatches) = (0usize, Vec::new());
    for &ip in &samples {
        let want = reader.lookup(ip).unwrap().decode::<CountryRecord>().unwrap().and_then(|r| r.country_code);
        let want = want.map(|c| Country::new(c).expect("two letters"));
        let got = db.table_country(ip);
        with_country += usize::from(want.is_some());
        if got != want {
            mismatches.push(format!("{ip}: source {want:?}, embedded {got:?}"));
        }
    }
    eprintln!(
        "country: {} addresses compared ({} with a country in the source), {} differ; \
         source {} IPv4 and {} IPv6 networks",
        samples.len(),
        with_country,
        mismatches.len(),
        ranges4.len(),
        ranges6.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        samples.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    assert_eq!(samples.len(), SAMPLES);
    // A sample that hardly reaches the data would prove little.
    assert!(with_country > SAMPLES / 2, "only {with_country} sampled addresses have a country");
}

/// One row of the asn CSV: `first,last,asn,organisation`, quoted when it holds a comma.
fn csv_row(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (false, '"') if cur.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (_, c) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

type Row = (u128, u128, u32, String);

fn read_csv(path: &Path, v6: bool) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f = csv_row(l);
            let ip = |s: &str| -> u128 {
                if v6 {
                    u128::from(s.parse::<Ipv6Addr>().unwrap())
                } else {
                    u128::from(u32::from(s.parse::<Ipv4Addr>().unwrap()))
                }
            };
            (ip(&f[0]), ip(&f[1]), f[2].parse().unwrap(), f[3].trim().to_owned())
        })
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows
}

/// The CSV's answer: among the rows holding `n`, the one that starts last (the build step
/// resolves the source's rare overlaps that way: one IPv4 pair in 2.3.2026061719).
fn csv_lookup(rows: &[Row], n: u128) -> Option<(u32, &str)> {
    let i = rows.partition_point(|r| r.0 <= n);
    rows[..i].iter().rev().take(16).find(|r| r.1 >= n).map(|r| (r.2, r.3.as_str()))
}

#[test]
fn asn_table_agrees_with_source_csv_on_100000_addresses() {
    let Some((p4, p6)) = asn_csvs() else {
        return skip("asn_table_agrees_with_source_csv_on_100000_addresses");
    };
    let (rows4, rows6) = (read_csv(&p4, false), read_csv(&p6, true));
    let ranges = |rows: &[Row]| rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>();
    let db = IpDb::embedded();
    let samples = sample(&mut Rng(0xa5_c0de), &ranges(&rows4), &ranges(&rows6));
    let (mut with_asn, mut mismatches) = (0usize, Vec::new());
    for &ip in &samples {
        let want = match ip {
            IpAddr::V4(a) => csv_lookup(&rows4, u128::from(u32::from(a))),
            IpAddr::V6(a) => csv_lookup(&rows6, u128::from(a)),
        };
        let got = db.table_asn(ip);
        with_asn += usize::from(want.is_some());
        if got.as_ref().map(|a| (a.number, &*a.org)) != want {
            mismatches.push(format!("{ip}: source {want:?}, embedded {got:?}"));
        }
    }
    eprintln!(
        "asn: {} addresses compared ({} with an AS in the source), {} differ; source {} IPv4 and {} IPv6 rows",
        samples.len(),
        with_asn,
        mismatches.len(),
        rows4.len(),
        rows6.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        samples.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    assert!(with_asn > SAMPLES / 2, "only {with_asn} sampled addresses have an AS");
}

#[test]
fn source_aliases_match_lookup_of_the_embedded_ipv4() {
    // The source .mmdb answers IPv4-mapped and 6to4 addresses with its IPv4 data (if it
    // has aliases); `IpDb::lookup` reaches the same answer through the IPv4 table.
    let Some(path) = country_mmdb() else {
        return skip("source_aliases_match_lookup_of_the_embedded_ipv4");
    };
    let reader = maxminddb::Reader::open_readfile(&path).unwrap();
    let db = IpDb::embedded();
    let mut rng = Rng(0xa11a5);
    let mut compared = 0;
    for _ in 0..2000 {
        let a = rng.next() as u32;
        for form in [(0xffffu128 << 32) | u128::from(a), (0x2002u128 << 112) | (u128::from(a) << 80)] {
            let ip = v6(form);
            let info = db.lookup(ip);
            if !info.scope.is_public() {
                continue;
            }
            let source = reader.lookup(ip).unwrap().decode::<CountryRecord>().unwrap();
            if let Some(code) = source.and_then(|r| r.country_code) {
                assert_eq!(info.country, Country::new(code), "{ip}");
                compared += 1;
            }
        }
    }
    if compared == 0 {
        eprintln!("aliases: the source has no IPv4 aliases (IPv4-mapped, 6to4): nothing to compare");
    } else {
        eprintln!("aliases: {compared} IPv4-mapped and 6to4 addresses answered alike");
    }
}

//! Build step for the embedded IP tables (run by `scripts/build_ipdb.sh`, which unpacks the
//! ip-location-db packages and calls this):
//!
//! ```text
//! cargo run --release -p phonehome-attribute --example build_ipdb -- \
//!     --country-mmdb DIR/geo-whois-asn-country.mmdb --country-version V \
//!     --asn-v4 DIR/asn-ipv4.csv --asn-v6 DIR/asn-ipv6.csv --asn-version V \
//!     --out crates/attribute/data/ip
//! ```
//!
//! It reads every network of the country .mmdb and every row of the ASN CSVs, merges them
//! into sorted disjoint ranges (adjacent equal values joined), deduplicates codes and
//! organisation names, writes `country.ipdb` and `asn.ipdb` (format in
//! `phonehome_attribute::ip::table`), then reads each file back and checks every source
//! range against it (both ends and the middle).
//!
//! Compression is raw deflate at the best level (flate2): zstd -19 would make the files 10%
//! smaller, but ruzstd inflates them at half the speed, and start-up is what they cost.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use phonehome_attribute::ip::table::{Dict, Orgs, Ranges, Tables, V6Ranges};
use phonehome_attribute::ip::{Country, date};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    country_mmdb: PathBuf,
    country_version: String,
    asn_v4: PathBuf,
    asn_v6: PathBuf,
    asn_version: String,
    out: PathBuf,
}

fn args() -> Res<Args> {
    let mut m: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        m.insert(k, v);
    }
    let mut get = |k: &str| m.remove(k).ok_or(format!("missing {k}"));
    Ok(Args {
        country_mmdb: get("--country-mmdb")?.into(),
        country_version: get("--country-version")?,
        asn_v4: get("--asn-v4")?.into(),
        asn_v6: get("--asn-v6")?.into(),
        asn_version: get("--asn-version")?,
        out: get("--out")?.into(),
    })
}

fn main() -> Res<()> {
    let a = args()?;
    std::fs::create_dir_all(&a.out)?;
    build_country(&a)?;
    build_asn(&a)?;
    Ok(())
}

fn v4_range(net: Ipv4Addr, prefix: u8) -> (u32, u32) {
    let start = u32::from(net);
    let size = if prefix == 0 { u32::MAX } else { (1u32 << (32 - prefix)) - 1 };
    (start, start | size)
}

fn v6_range(net: Ipv6Addr, prefix: u8) -> (u128, u128) {
    let start = u128::from(net);
    let size = if prefix == 0 { u128::MAX } else { (1u128 << (128 - prefix)) - 1 };
    (start, start | size)
}

/// Joins ranges that touch and carry the same value (the mmdb holds CIDR blocks, so one
/// allocation is often several neighbours), keeping the input order.
fn join(ranges: Vec<(u128, u128, u32)>) -> Vec<(u128, u128, u32)> {
    let mut out: Vec<(u128, u128, u32)> = Vec::with_capacity(ranges.len());
    for r in ranges {
        if let Some(last) = out.last_mut()
            && last.2 == r.2
            && last.1.checked_add(1) == Some(r.0)
        {
            last.1 = r.1;
            continue;
        }
        out.push(r);
    }
    out
}

fn build_country(a: &Args) -> Res<()> {
    let reader = maxminddb::Reader::open_readfile(&a.country_mmdb)?;
    let meta = reader.metadata().clone();
    let mut codes: BTreeMap<Country, u32> = BTreeMap::new();
    let mut v4: Vec<(u128, u128, Country)> = Vec::new();
    let mut v6: Vec<(u128, u128, Country)> = Vec::new();
    let mut skipped = 0usize;
    #[derive(serde::Deserialize)]
    struct Rec<'a> {
        country_code: Option<&'a str>,
    }
    for r in reader.networks(Default::default())? {
        let r = r?;
        let net = r.network()?;
        let Some(code) = r.decode::<Rec>()?.and_then(|rec| rec.country_code) else {
            skipped += 1;
            continue;
        };
        let c = Country::new(code).ok_or(format!("{net}: country_code {code:?}"))?;
        if c.as_str() != code {
            return Err(format!("{net}: country_code {code:?} is not upper case").into());
        }
        codes.insert(c, 0);
        match (net.network(), net.prefix()) {
            (IpAddr::V4(n), p) => {
                let (s, e) = v4_range(n, p);
                v4.push((s.into(), e.into(), c));
            }
            (IpAddr::V6(n), p) => {
                let (s, e) = v6_range(n, p);
                v6.push((s, e, c));
            }
        }
    }
    // Dictionary order: most ranges first (then by code, for a stable order), so the
    // common countries get one-byte values.
    for (_, _, c) in v4.iter().chain(&v6) {
        *codes.get_mut(c).expect("seen") += 1;
    }
    let mut order: Vec<Country> = codes.keys().copied().collect();
    order.sort_by_key(|c| (std::cmp::Reverse(codes[c]), *c));
    for (i, c) in order.iter().enumerate() {
        codes.insert(*c, i as u32);
    }
    v4.sort_by_key(|r| r.0);
    v6.sort_by_key(|r| r.0);
    let v4 = join(v4.into_iter().map(|(s, e, c)| (s, e, codes[&c])).collect());
    let v6 = join(v6.into_iter().map(|(s, e, c)| (s, e, codes[&c])).collect());
    let v4: Vec<(u32, u32, u32)> = v4.iter().map(|&(s, e, v)| (s as u32, e as u32, v)).collect();
    let tables = Tables {
        header: Vec::new(),
        dict: Dict::Country(order.iter().map(|c| c.as_str().as_bytes().try_into().expect("2 bytes")).collect()),
        v4: Ranges::from_ranges(v4.iter().copied())?,
        v6: V6Ranges::from_ranges(&v6)?,
    };
    let v6_keys = match tables.v6 {
        V6Ranges::Prefix64(_) => "/64 prefixes (every source boundary falls on one)",
        V6Ranges::Full(_) => "whole addresses",
    };
    let header = vec![
        ("table", "country (ISO 3166-1 alpha-2) per address range".to_owned()),
        (
            "source",
            format!(
                "ip-location-db geo-whois-asn-country-mmdb {} ({}, database_type {})",
                a.country_version,
                file_name(&a.country_mmdb),
                meta.database_type
            ),
        ),
        ("source_date", date(meta.build_epoch)),
        (
            "licence",
            "CC0-1.0 (ip-location-db); built from RIR whois, geofeeds and NRO statistics (CC BY 4.0, nro.net)"
                .to_owned(),
        ),
        ("meaning", "where the block is registered or announced (whois, geofeeds), not a measured location".to_owned()),
        ("countries", codes.len().to_string()),
        ("ipv4_ranges", format!("{} ({} with a country)", tables.v4.len(), tables.v4.with_data())),
        ("ipv6_ranges", format!("{} ({} with a country), keyed by {v6_keys}", tables.v6.len(), tables.v6.with_data())),
        ("source_networks_without_country", skipped.to_string()),
        ("ipv6_ranges_off_64", format!("{} ranges start or end inside a /64", off_64(&v6))),
        ("built_by", "scripts/build_ipdb.sh (crates/attribute/examples/build_ipdb.rs), format PHIPDB1".to_owned()),
    ];
    let tables = Tables { header: header.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), ..tables };
    let file = write(a, "country.ipdb", &tables)?;
    // Read back and check every source range, by its code (not only its index): both
    // ends and the middle.
    let back = Tables::from_file(&file)?;
    let Dict::Country(back_codes) = &back.dict else { return Err("not a country table".into()) };
    let code = |i: Option<u32>| i.map(|i| back_codes[i as usize]);
    let want = |v: u32| Some(order[v as usize].as_str().as_bytes().try_into().expect("2 bytes"));
    for &(s, e, v) in &v4 {
        for k in [s, s + (e - s) / 2, e] {
            assert_eq!(code(back.v4.get(k)), want(v), "country v4 {}", Ipv4Addr::from(k));
        }
    }
    for &(s, e, v) in &v6 {
        for k in [s, s + (e - s) / 2, e] {
            assert_eq!(code(back.v6.get(k)), want(v), "country v6 {}", Ipv6Addr::from(k));
        }
    }
    Ok(())
}

/// One CSV line of the asn files: `first,last,asn,organisation`, the organisation quoted
/// when it holds a comma or a quote (doubled inside).
fn csv_fields(line: &str) -> Res<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
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
    if quoted {
        return Err(format!("unterminated quote: {line}").into());
    }
    fields.push(cur);
    Ok(fields)
}

struct AsnDict {
    orgs: Vec<Arc<str>>,
    org_ix: HashMap<Arc<str>, u32>,
    entries: Vec<(u32, u32)>,
    entry_ix: HashMap<(u32, u32), u32>,
}

impl AsnDict {
    fn id(&mut self, asn: u32, org: &str) -> u32 {
        let o = match self.org_ix.get(org) {
            Some(&o) => o,
            None => {
                let o = self.orgs.len() as u32;
                let s: Arc<str> = Arc::from(org);
                self.orgs.push(s.clone());
                self.org_ix.insert(s, o);
                o
            }
        };
        *self.entry_ix.entry((asn, o)).or_insert_with(|| {
            self.entries.push((asn, o));
            (self.entries.len() - 1) as u32
        })
    }
}

fn read_asn_csv<K: std::str::FromStr>(
    path: &Path,
    dict: &mut AsnDict,
    conv: impl Fn(K) -> u128,
) -> Res<Vec<(u128, u128, u32)>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let f = csv_fields(line)?;
        let [first, last, asn, org] = f.as_slice() else {
            return Err(format!("{}:{}: {} fields", path.display(), n + 1, f.len()).into());
        };
        let parse = |s: &str| s.parse::<K>().map(&conv).map_err(|_| format!("{}:{}: {s:?}", path.display(), n + 1));
        let (s, e) = (parse(first)?, parse(last)?);
        let asn: u32 = asn.parse().map_err(|_| format!("{}:{}: asn {asn:?}", path.display(), n + 1))?;
        out.push((s, e, dict.id(asn, org.trim())));
    }
    out.sort_by_key(|r| (r.0, r.1));
    Ok(out)
}

/// Makes sorted rows disjoint: where two overlap, the one that starts later (the more
/// specific announcement, as in a longest-prefix match) wins its span, and the earlier one
/// resumes after it if it runs on. Returns the rows and how many overlaps were resolved.
fn resolve_overlaps(rows: Vec<(u128, u128, u32)>) -> (Vec<(u128, u128, u32)>, usize) {
    let mut out: Vec<(u128, u128, u32)> = Vec::with_capacity(rows.len());
    let mut overlaps = 0;
    for r in rows {
        let mut tail = None;
        while let Some(&last) = out.last() {
            if last.1 < r.0 {
                break;
            }
            overlaps += 1;
            out.pop();
            if last.0 < r.0 {
                out.push((last.0, r.0 - 1, last.2));
            }
            if last.1 > r.1 {
                tail = Some((r.1 + 1, last.1, last.2));
            }
        }
        out.push(r);
        out.extend(tail);
    }
    (out, overlaps)
}

/// How many range boundaries do not fall on a /64 (what keying IPv6 by /64 would lose).
fn off_64(rows: &[(u128, u128, u32)]) -> usize {
    const LOW: u128 = u64::MAX as u128;
    rows.iter().filter(|&&(s, e, _)| s & LOW != 0 || e & LOW != LOW).count()
}

fn build_asn(a: &Args) -> Res<()> {
    let mut dict = AsnDict { orgs: vec![], org_ix: HashMap::new(), entries: vec![], entry_ix: HashMap::new() };
    let v4 = read_asn_csv::<Ipv4Addr>(&a.asn_v4, &mut dict, |ip| u128::from(u32::from(ip)))?;
    let v6 = read_asn_csv::<Ipv6Addr>(&a.asn_v6, &mut dict, u128::from)?;
    let rows = (v4.len(), v6.len());
    let (v4, overlaps4) = resolve_overlaps(v4);
    let (v6, overlaps6) = resolve_overlaps(v6);
    // Renumber entries by how many ranges use them (the common ones get one- and two-byte
    // values), then by AS number and organisation, so the order is stable whatever the row
    // order; organisations are numbered by first use in that order.
    let mut uses = vec![0usize; dict.entries.len()];
    for r in v4.iter().chain(&v6) {
        uses[r.2 as usize] += 1;
    }
    let mut order: Vec<u32> = (0..dict.entries.len() as u32).collect();
    order.sort_by(|&x, &y| {
        let (ax, ox) = dict.entries[x as usize];
        let (ay, oy) = dict.entries[y as usize];
        let key = |i: u32, a, o: u32| (std::cmp::Reverse(uses[i as usize]), a, dict.orgs[o as usize].clone());
        key(x, ax, ox).cmp(&key(y, ay, oy))
    });
    let mut new_entry = vec![0u32; order.len()];
    let mut new_org: HashMap<u32, u32> = HashMap::new();
    let mut orgs = Vec::new();
    let mut entries = Vec::new();
    for (i, &old) in order.iter().enumerate() {
        new_entry[old as usize] = i as u32;
        let (asn, o) = dict.entries[old as usize];
        let o2 = *new_org.entry(o).or_insert_with(|| {
            orgs.push(dict.orgs[o as usize].clone());
            (orgs.len() - 1) as u32
        });
        entries.push((asn, o2));
    }
    let remap = |r: Vec<(u128, u128, u32)>| -> Vec<(u128, u128, u32)> {
        join(r.into_iter().map(|(s, e, v)| (s, e, new_entry[v as usize])).collect())
    };
    let v4 = remap(v4);
    let v6 = remap(v6);
    let v4_32: Vec<(u32, u32, u32)> = v4.iter().map(|&(s, e, v)| (s as u32, e as u32, v)).collect();
    let tables = Tables {
        header: Vec::new(),
        dict: Dict::Asn { orgs: Orgs::new(&orgs), entries: entries.clone() },
        v4: Ranges::from_ranges(v4_32.iter().copied())?,
        v6: V6Ranges::from_ranges(&v6)?,
    };
    let v6_keys = match tables.v6 {
        V6Ranges::Prefix64(_) => "/64 prefixes (every source boundary falls on one)",
        V6Ranges::Full(_) => "whole addresses",
    };
    let header = vec![
        ("table", "autonomous system (number, organisation) per address range".to_owned()),
        (
            "source",
            format!(
                "ip-location-db asn {} ({}, {})",
                a.asn_version,
                file_name(&a.asn_v4),
                file_name(&a.asn_v6)
            ),
        ),
        ("source_date", version_date(&a.asn_version)),
        (
            "licence",
            "CC BY 4.0: RouteViews (routeviews.org), DB-IP IP to ASN Lite (db-ip.com), NRO (nro.net); compiled by ip-location-db"
                .to_owned(),
        ),
        ("ases", format!("{} (AS number, organisation) pairs, {} organisation names", entries.len(), orgs.len())),
        ("source_rows", format!("{} IPv4, {} IPv6", rows.0, rows.1)),
        (
            "source_overlaps",
            format!("{overlaps4} IPv4, {overlaps6} IPv6 (where rows overlap, the one starting later wins)"),
        ),
        ("ipv6_rows_off_64", format!("{} rows start or end inside a /64", off_64(&v6))),
        ("ipv4_ranges", format!("{} ({} with an AS)", tables.v4.len(), tables.v4.with_data())),
        ("ipv6_ranges", format!("{} ({} with an AS), keyed by {v6_keys}", tables.v6.len(), tables.v6.with_data())),
        ("built_by", "scripts/build_ipdb.sh (crates/attribute/examples/build_ipdb.rs), format PHIPDB1".to_owned()),
    ];
    let tables = Tables { header: header.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), ..tables };
    let file = write(a, "asn.ipdb", &tables)?;
    let back = Tables::from_file(&file)?;
    // Check by AS number and organisation name, not only by index.
    let Dict::Asn { orgs: back_orgs, entries: back_entries } = &back.dict else {
        return Err("not an ASN table".into());
    };
    let got = |i: Option<u32>| {
        i.map(|i| {
            let (n, o) = back_entries[i as usize];
            (n, back_orgs.name(o as usize).unwrap_or("").to_owned())
        })
    };
    let want = |v: u32| {
        let (n, o) = entries[v as usize];
        Some((n, orgs[o as usize].to_string()))
    };
    for &(s, e, v) in &v4_32 {
        for k in [s, s + (e - s) / 2, e] {
            assert_eq!(got(back.v4.get(k)), want(v), "asn v4 {}", Ipv4Addr::from(k));
        }
    }
    for &(s, e, v) in &v6 {
        for k in [s, s + (e - s) / 2, e] {
            assert_eq!(got(back.v6.get(k)), want(v), "asn v6 {}", Ipv6Addr::from(k));
        }
    }
    Ok(())
}

/// ip-location-db versions are `2.3.YYYYMMDDHH`: the date of the data.
fn version_date(v: &str) -> String {
    match v.rsplit('.').next() {
        Some(d) if d.len() >= 8 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
        }
        _ => "unknown".to_owned(),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn write(a: &Args, name: &str, t: &Tables) -> Res<Vec<u8>> {
    let sizes = t.payloads().map(|p| p.len());
    let file = t.to_file()?;
    std::fs::write(a.out.join(name), &file)?;
    println!("{name}: sections {sizes:?} bytes uncompressed, file {} bytes", file.len());
    for (k, v) in &t.header {
        println!("  {k}: {v}");
    }
    Ok(file)
}

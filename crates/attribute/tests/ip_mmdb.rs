//! The user's MaxMind DB files behind the same `IpDb` API, in every vendor's layout.
//!
//! The fixtures in tests/data/ip-*.mmdb are written by `fixtures()` below with the
//! `mmdb-writer` crate (crates.io, MIT/Apache-2.0); `fixtures_match_their_generator`
//! keeps the committed bytes and this code in step. To change them, edit `fixtures()` and
//! run `cargo test -p phonehome-attribute --test ip_mmdb -- --ignored regenerate`.
//! Their networks and values are real-looking public ones (documentation ranges would be
//! labelled and never looked up), chosen so that each field layout and each fallback shows.

mod ip_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{IpVersion, Value, Writer};
use phonehome_attribute::ip::{Error, IpDb, Scope};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<BTreeMap<_, _>>())
}

fn s(v: &str) -> Value {
    Value::from(v)
}

/// A MaxMind-style `country` (or `registered_country`) map.
fn maxmind_country(iso: &str, name: &str) -> Value {
    map([("geoname_id", Value::U32(1)), ("iso_code", s(iso)), ("names", map([("en", s(name)), ("de", s(name))]))])
}

fn writer(database_type: &str, version: IpVersion) -> Writer {
    Writer::builder(database_type)
        .ip_version(version)
        .description(&[("en", "phonehome test fixture (tests/ip_mmdb.rs)")])
        // Fixed, so the bytes do not change from run to run.
        .build_epoch(UNIX_EPOCH + Duration::from_secs(1_781_740_800))
        .build()
}

fn put(w: &mut Writer, net: &str, v: Value) {
    w.insert_value(net.parse::<IpNet>().unwrap(), v).unwrap();
}

/// Every fixture: file name and bytes.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    // GeoLite2-Country / City layout: country and registered_country maps.
    let mut w = writer("GeoLite2-Country", IpVersion::V6);
    let na = map([("code", s("NA")), ("geoname_id", Value::U32(6_255_149))]);
    put(
        &mut w,
        "8.8.8.0/24",
        map([
            ("continent", na.clone()),
            ("country", maxmind_country("US", "United States")),
            ("registered_country", maxmind_country("US", "United States")),
        ]),
    );
    // Alibaba Cloud Singapore, registered in the US: the location wins.
    put(
        &mut w,
        "47.241.0.0/16",
        map([
            ("country", maxmind_country("SG", "Singapore")),
            ("registered_country", maxmind_country("US", "United States")),
        ]),
    );
    // Anycast: no location, only where the block is registered.
    put(&mut w, "1.1.1.0/24", map([("registered_country", maxmind_country("AU", "Australia"))]));
    put(&mut w, "2a03:2880::/32", map([("country", maxmind_country("IE", "Ireland"))]));
    let country = ("ip-country-maxmind.mmdb", w.to_bytes().unwrap());

    // GeoLite2-ASN / DB-IP ASN Lite layout.
    let mut w = writer("GeoLite2-ASN", IpVersion::V6);
    let asn = |n: u32, org: &str| {
        map([("autonomous_system_number", Value::U32(n)), ("autonomous_system_organization", s(org))])
    };
    put(&mut w, "8.8.8.0/24", asn(15169, "Google LLC"));
    put(&mut w, "43.224.244.0/22", asn(63855, "XIAOMI H.K. Limited"));
    put(&mut w, "2a03:2880::/32", asn(32934, "Facebook, Inc."));
    // A number without an organisation.
    put(&mut w, "5.5.5.0/24", map([("autonomous_system_number", Value::U32(64_496))]));
    let asn = ("ip-asn-maxmind.mmdb", w.to_bytes().unwrap());

    // ip-location-db's country mmdb (the embedded source): `country_code`, IPv4-only tree.
    let mut w = writer("country ipv4", IpVersion::V4);
    put(&mut w, "8.8.8.0/24", map([("country_code", s("US"))]));
    put(&mut w, "42.62.48.0/20", map([("country_code", s("CN"))]));
    let iplocationdb = ("ip-country-code.mmdb", w.to_bytes().unwrap());

    // IPinfo Lite: country and AS in one record, `country` is the name, `asn` a string.
    let mut w = writer("ipinfo lite.mmdb", IpVersion::V6);
    put(
        &mut w,
        "161.117.0.0/16",
        map([
            ("as_domain", s("alibabagroup.com")),
            ("as_name", s("Alibaba (US) Technology Co., Ltd.")),
            ("asn", s("AS45102")),
            ("continent", s("Asia")),
            ("continent_code", s("AS")),
            ("country", s("Singapore")),
            ("country_code", s("SG")),
        ]),
    );
    let ipinfo = ("ip-ipinfo-lite.mmdb", w.to_bytes().unwrap());

    // IPinfo's older ASN database: `asn` and `name`.
    let mut w = writer("ipinfo asn.mmdb", IpVersion::V6);
    put(
        &mut w,
        "203.107.1.0/24",
        map([
            ("asn", s("AS37963")),
            ("domain", s("alibabagroup.com")),
            ("name", s("Hangzhou Alibaba Advertising Co.,Ltd.")),
            ("route", s("203.107.1.0/24")),
            ("type", s("hosting")),
        ]),
    );
    let ipinfo_asn = ("ip-ipinfo-asn.mmdb", w.to_bytes().unwrap());

    // GeoIP2 Enterprise / ISP: the AS under `traits`.
    let mut w = writer("GeoIP2-Enterprise", IpVersion::V6);
    put(
        &mut w,
        "3.127.0.0/16",
        map([
            ("country", maxmind_country("DE", "Germany")),
            (
                "traits",
                map([
                    ("autonomous_system_number", Value::U32(16509)),
                    ("autonomous_system_organization", s("AMAZON-02")),
                    ("isp", s("Amazon.com")),
                ]),
            ),
        ]),
    );
    let enterprise = ("ip-enterprise.mmdb", w.to_bytes().unwrap());
    vec![country, asn, iplocationdb, ipinfo, ipinfo_asn, enterprise]
}

#[test]
#[ignore = "rewrites tests/data/ip-*.mmdb from fixtures(); run after changing it"]
fn regenerate() {
    for (name, bytes) in fixtures() {
        std::fs::write(data(name), bytes).unwrap();
    }
}

#[test]
fn fixtures_match_their_generator() {
    for (name, bytes) in fixtures() {
        let committed = std::fs::read(data(name)).unwrap_or_default();
        assert!(committed == bytes, "tests/data/{name} differs from fixtures(): run the ignored `regenerate` test");
    }
}

fn country(db: &IpDb, ip: &str) -> Option<String> {
    db.lookup(ip.parse().unwrap()).country.map(|c| c.to_string())
}

fn asn(db: &IpDb, ip: &str) -> Option<(u32, String)> {
    db.lookup(ip.parse().unwrap()).asn.map(|a| (a.number, a.org.to_string()))
}

#[test]
fn maxmind_country_and_asn_files() {
    let db = IpDb::from_files(Some(&data("ip-country-maxmind.mmdb")), Some(&data("ip-asn-maxmind.mmdb"))).unwrap();
    assert_eq!(country(&db, "8.8.8.8").as_deref(), Some("US"));
    assert_eq!(country(&db, "47.241.7.88").as_deref(), Some("SG"), "country before registered_country");
    assert_eq!(country(&db, "1.1.1.1").as_deref(), Some("AU"), "registered_country when no country");
    assert_eq!(country(&db, "2a03:2880:f12f:83:face:b00c::25de").as_deref(), Some("IE"));
    assert_eq!(country(&db, "9.9.9.9"), None, "not in the file: no fallback to the embedded table");
    assert_eq!(asn(&db, "8.8.8.8"), Some((15169, "Google LLC".into())));
    assert_eq!(asn(&db, "43.224.244.1"), Some((63855, "XIAOMI H.K. Limited".into())));
    assert_eq!(asn(&db, "2a03:2880::1"), Some((32934, "Facebook, Inc.".into())));
    assert_eq!(asn(&db, "5.5.5.5"), Some((64_496, String::new())), "a number without a name");
    // IPv6 forms carrying IPv4 are looked up as the IPv4 address (not through the file's
    // own aliases), and special addresses never reach the file.
    assert_eq!(country(&db, "::ffff:8.8.8.8").as_deref(), Some("US"));
    assert_eq!(asn(&db, "64:ff9b::808:808"), Some((15169, "Google LLC".into())));
    let lan = db.lookup("192.168.1.1".parse().unwrap());
    assert_eq!((lan.scope, lan.country, lan.asn), (Scope::Private, None, None));

    let sources = db.sources();
    assert_eq!(sources[0].file.as_deref(), Some(data("ip-country-maxmind.mmdb").as_path()));
    assert!(sources[0].facts.contains(&("database_type".into(), "GeoLite2-Country".into())));
    assert!(sources[1].facts.contains(&("build_date".into(), "2026-06-18".into())));
}

#[test]
fn one_side_from_a_file_the_other_embedded() {
    let db = IpDb::from_files(None, Some(&data("ip-asn-maxmind.mmdb"))).unwrap();
    assert_eq!(country(&db, "8.8.8.8").as_deref(), Some("US"), "embedded country");
    assert_eq!(asn(&db, "9.9.9.9"), None, "the file's AS only");
    assert_eq!(db.sources()[0].file, None);
    let db = IpDb::from_files(Some(&data("ip-country-code.mmdb")), None).unwrap();
    assert_eq!(country(&db, "42.62.48.1").as_deref(), Some("CN"));
    assert_eq!(country(&db, "2a03:2880::1"), None, "IPv4-only file: IPv6 has no answer, not an error");
    assert_eq!(asn(&db, "42.62.48.1").map(|a| a.0), Some(23724), "embedded AS");
}

#[test]
fn ipinfo_and_enterprise_layouts() {
    let lite = data("ip-ipinfo-lite.mmdb");
    let db = IpDb::from_files(Some(&lite), Some(&lite)).unwrap();
    assert_eq!(country(&db, "161.117.0.1").as_deref(), Some("SG"), "country_code, not the name in country");
    assert_eq!(asn(&db, "161.117.0.1"), Some((45102, "Alibaba (US) Technology Co., Ltd.".into())));
    let db = IpDb::from_files(None, Some(&data("ip-ipinfo-asn.mmdb"))).unwrap();
    assert_eq!(asn(&db, "203.107.1.65"), Some((37963, "Hangzhou Alibaba Advertising Co.,Ltd.".into())));
    let ent = data("ip-enterprise.mmdb");
    let db = IpDb::from_files(Some(&ent), Some(&ent)).unwrap();
    assert_eq!(country(&db, "3.127.176.74").as_deref(), Some("DE"));
    assert_eq!(asn(&db, "3.127.176.74"), Some((16509, "AMAZON-02".into())));
}

#[test]
fn wrong_or_broken_files_fail_at_start_with_the_reason() {
    let err = IpDb::from_files(Some(&data("ip-asn-maxmind.mmdb")), None).unwrap_err();
    assert!(matches!(err, Error::NoFields { .. }), "{err}");
    assert!(err.to_string().contains("ip-asn-maxmind.mmdb") && err.to_string().contains("country"), "{err}");
    let err = IpDb::from_files(None, Some(&data("ip-country-maxmind.mmdb"))).unwrap_err();
    assert!(err.to_string().contains("AS number"), "{err}");
    let err = IpDb::from_files(Some(&data("no-such.mmdb")), None).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    let not_mmdb = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let err = IpDb::from_files(None, Some(&not_mmdb)).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    // Every truncation of a real file is refused or read; none panics.
    let bytes = std::fs::read(data("ip-country-maxmind.mmdb")).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ip-mmdb-cut");
    std::fs::create_dir_all(&dir).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        let p = dir.join(format!("cut{cut}.mmdb"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        if let Ok(db) = IpDb::from_files(Some(&p), None) {
            let _ = db.lookup("8.8.8.8".parse().unwrap());
        }
        std::fs::remove_file(&p).unwrap();
    }
}

#[test]
fn the_source_mmdb_as_a_user_file_agrees_with_the_embedded_table() {
    let Some(path) = ip_common::country_mmdb() else {
        return ip_common::skip("the_source_mmdb_as_a_user_file_agrees_with_the_embedded_table");
    };
    let file = IpDb::from_files(Some(&path), None).unwrap();
    let embedded = IpDb::embedded();
    let mut rng = ip_common::Rng(0xf11e);
    for _ in 0..20_000 {
        let ip = if rng.below(2) == 0 {
            std::net::IpAddr::from((rng.next() as u32).to_be_bytes())
        } else {
            std::net::IpAddr::from(((rng.u128() >> 3) | (1 << 125)).to_be_bytes())
        };
        assert_eq!(file.lookup(ip).country, embedded.lookup(ip).country, "{ip}");
    }
    for (ip, want) in [
        ("8.8.8.8", "US"),
        ("42.62.48.1", "CN"),
        ("161.117.0.1", "SG"),
        ("114.114.114.114", "CN"),
        ("81.2.69.142", "GB"),
    ] {
        assert_eq!(country(&file, ip).as_deref(), Some(want), "{ip}");
    }
}

//! Addresses: what kind of address a destination is, and for public ones the country it is
//! registered or announced in and the AS (number and organisation) that announces it.
//!
//! * Special addresses (private, CGNAT, loopback, link-local, multicast, documentation...)
//!   get a [`Scope`] and are never geolocated. IPv6 forms that carry an IPv4 address
//!   (IPv4-mapped, NAT64 `64:ff9b::/96`, 6to4, Teredo) are classified and looked up as that
//!   IPv4 address; [`IpInfo::embedded`] says so.
//! * Country and AS come from tables embedded in the binary (built by
//!   `scripts/build_ipdb.sh` from the ip-location-db packages: country from
//!   geo-whois-asn-country, AS from the RouteViews/DB-IP/NRO asn CSV; see
//!   `docs/ATTRIBUTION.md` and `NOTICE`), or from the user's MaxMind DB files
//!   ([`IpDb::from_files`]) for either half.
//! * The country is where the address block is *registered or announced* (whois, geofeeds),
//!   not a measured position: say so wherever it is shown.
//!
//! ```
//! use phonehome_attribute::ip::{IpDb, Scope};
//!
//! let db = IpDb::embedded(); // decompressed and indexed on first use, then shared
//! let info = db.lookup("43.224.244.1".parse().unwrap());
//! assert_eq!(info.scope, Scope::Public);
//! assert_eq!(info.country.unwrap().as_str(), "HK");
//! let asn = info.asn.unwrap();
//! assert_eq!((asn.number, &*asn.org), (63855, "XIAOMI H.K. Limited"));
//!
//! // Special addresses are labelled, never geolocated.
//! let lan = db.lookup("192.168.1.10".parse().unwrap());
//! assert_eq!((lan.scope, lan.country, lan.asn), (Scope::Private, None, None));
//!
//! // An IPv6 form carrying IPv4 is looked up as the IPv4 address it carries.
//! let nat64 = db.lookup("64:ff9b::808:808".parse().unwrap());
//! assert_eq!((nat64.asn.unwrap().number, nat64.embedded.unwrap().ipv4.to_string()), (15169, "8.8.8.8".into()));
//!
//! // The user's databases replace either half (`--geoip`, `--asn`); the other stays embedded.
//! // The embedded country is where a block is registered: Alibaba Cloud Singapore's
//! // 47.241.7.88 is registered in the US; a GeoLite2-style file places it.
//! # let geolite2 = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ip-country-maxmind.mmdb");
//! assert_eq!(db.lookup("47.241.7.88".parse().unwrap()).country.unwrap().as_str(), "US");
//! let mine = IpDb::from_files(Some(geolite2.as_ref()), None)?;
//! let info = mine.lookup("47.241.7.88".parse().unwrap());
//! assert_eq!((info.country.unwrap().as_str(), info.asn.unwrap().number), ("SG", 45102));
//! # Ok::<(), phonehome_attribute::ip::Error>(())
//! ```
//!
//! Lookups are a binary search in sorted range starts (IPv4 first narrowed by a /16 index);
//! the engine still caches per address. `IpDb::embedded()` inflates the dictionaries and
//! IPv4 ranges on its first call; the IPv6 ranges wait for the first IPv6 lookup (or
//! [`IpDb::preload`], e.g. on a background thread at start-up).

mod mmdb;
mod scope;
pub mod table;

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

pub use scope::{Embedded, Embedding, Scope, classify};
use table::{Dict, Ranges, Sections, V6Ranges};

/// The embedded country table (`data/ip/country.ipdb`, written by `scripts/build_ipdb.sh`).
const COUNTRY_FILE: &[u8] = include_bytes!("../../data/ip/country.ipdb");
/// The embedded ASN table (`data/ip/asn.ipdb`).
const ASN_FILE: &[u8] = include_bytes!("../../data/ip/asn.ipdb");

/// An ISO 3166-1 alpha-2 country code (`"US"`, `"CN"`), stored as two capital letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a two-letter code, either case (`"us"` becomes `"US"`); anything else is
    /// `None`.
    pub fn new(code: &str) -> Option<Country> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code, e.g. `"SG"`.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl serde::Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An autonomous system: the network that announces an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Asn {
    /// The AS number.
    pub number: u32,
    /// The organisation's name as the source spells it (`"XIAOMI H.K. Limited"`); empty
    /// when the source names none. Borrowed from the embedded table (no allocation, no
    /// reference count to touch), owned when it comes from a user's file.
    pub org: Cow<'static, str>,
}

/// What is known about one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct IpInfo {
    /// What kind of address it is; only [`Scope::Public`] ones have a country or AS.
    pub scope: Scope,
    /// The country the address is registered or announced in.
    pub country: Option<Country>,
    /// The AS announcing it.
    pub asn: Option<Asn>,
    /// For IPv6 forms that carry an IPv4 address: which, and how. The scope, country and AS
    /// are then that IPv4 address's.
    pub embedded: Option<Embedded>,
}

/// Why the user's databases could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or is not a MaxMind DB.
    #[error("{}: cannot read as a MaxMind DB: {source}", path.display())]
    Open {
        /// The file given.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// The file holds no field this side needs (a country file given as `--asn`...).
    #[error(
        "{}: none of its first {networks} networks has {expected}: is it the right kind of database?",
        path.display()
    )]
    NoFields {
        /// The file given.
        path: PathBuf,
        /// The fields looked for.
        expected: &'static str,
        /// How many networks were read.
        networks: usize,
    },
}

/// Where one half of an [`IpDb`] comes from, for `phonehome data` and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    /// `"country"` or `"asn"`.
    pub table: &'static str,
    /// `None` for the embedded table, else the user's file.
    pub file: Option<PathBuf>,
    /// `(key, value)` facts: for embedded tables their header (source, version, date,
    /// licence, counts); for files the MaxMind metadata (database type, build date...).
    pub facts: Vec<(String, String)>,
}

/// One embedded file: its sections are located on first use (no decompression), and each
/// is inflated and decoded on first need, on whichever thread needs it.
struct EmbeddedFile {
    name: &'static str,
    sections: Sections<'static>,
    dict: OnceLock<Dict>,
    v4: OnceLock<Ranges<u32>>,
    v6: OnceLock<V6Ranges>,
}

/// A corrupt embedded file is a build mistake (the tests decode every section), so it
/// panics with the reason rather than attributing nothing in silence.
fn must<T>(name: &str, what: &str, r: Result<T, table::FormatError>) -> T {
    r.unwrap_or_else(|e| panic!("embedded {name} table, {what}: {e}"))
}

impl EmbeddedFile {
    fn new(name: &'static str, file: &'static [u8]) -> Self {
        EmbeddedFile {
            name,
            sections: must(name, "framing", Sections::parse(file)),
            dict: OnceLock::new(),
            v4: OnceLock::new(),
            v6: OnceLock::new(),
        }
    }

    fn dict(&self) -> &Dict {
        self.dict.get_or_init(|| {
            let payload = table::inflate(self.sections.dict);
            must(self.name, "dictionary", payload.and_then(Dict::decode))
        })
    }

    fn v4(&self) -> &Ranges<u32> {
        self.v4.get_or_init(|| {
            let payload = table::inflate(self.sections.v4);
            must(self.name, "IPv4", payload.and_then(|p| Ranges::decode_v4(&p))).1
        })
    }

    fn v6(&self) -> &V6Ranges {
        self.v6.get_or_init(|| {
            let payload = table::inflate(self.sections.v6);
            must(self.name, "IPv6", payload.and_then(|p| V6Ranges::decode(&p))).1
        })
    }

    /// The dictionary index for `ip`. (A range section whose values do not fit the
    /// dictionary cannot panic here: the caller's `get` on the dictionary returns `None`.)
    fn get(&self, ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(v4) => self.v4().get(u32::from(v4)),
            IpAddr::V6(v6) => self.v6().get(u128::from(v6)),
        }
    }
}

fn embedded_country() -> &'static EmbeddedFile {
    static FILE: LazyLock<EmbeddedFile> = LazyLock::new(|| EmbeddedFile::new("country", COUNTRY_FILE));
    &FILE
}

fn embedded_asn() -> &'static EmbeddedFile {
    static FILE: LazyLock<EmbeddedFile> = LazyLock::new(|| EmbeddedFile::new("asn", ASN_FILE));
    &FILE
}

enum CountrySource {
    Embedded(&'static EmbeddedFile),
    File(mmdb::MmdbFile),
}

enum AsnSource {
    Embedded(&'static EmbeddedFile),
    File(mmdb::MmdbFile),
}

/// Country and AS lookups over embedded tables or the user's MaxMind DB files.
pub struct IpDb {
    country: CountrySource,
    asn: AsnSource,
}

impl std::fmt::Debug for IpDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.sources()).finish()
    }
}

impl IpDb {
    /// The embedded tables. The first call inflates and indexes the dictionaries and IPv4
    /// ranges (on three threads: start-up is what this costs); the IPv6 ranges follow on the
    /// first IPv6 lookup, or at once with [`IpDb::preload`]. Thread-safe; every call
    /// returns the same instance.
    pub fn embedded() -> &'static IpDb {
        static DB: OnceLock<IpDb> = OnceLock::new();
        DB.get_or_init(|| {
            let db =
                IpDb { country: CountrySource::Embedded(embedded_country()), asn: AsnSource::Embedded(embedded_asn()) };
            db.load(false);
            db
        })
    }

    /// The user's MaxMind DB files for either half (`--geoip`, `--asn`); the embedded table
    /// serves the half not given (decoded on first use). One file may serve both halves
    /// (IPinfo's country_asn, DB-IP or MaxMind databases with both) when passed twice.
    ///
    /// # Errors
    /// A file that cannot be read, is not a MaxMind DB, or has none of the fields its side
    /// needs in its first networks.
    pub fn from_files(geoip: Option<&Path>, asn: Option<&Path>) -> Result<IpDb, Error> {
        let country = match geoip {
            Some(p) => CountrySource::File(mmdb::MmdbFile::open(p, mmdb::Want::Country)?),
            None => CountrySource::Embedded(embedded_country()),
        };
        let asn = match asn {
            Some(p) => AsnSource::File(mmdb::MmdbFile::open(p, mmdb::Want::Asn)?),
            None => AsnSource::Embedded(embedded_asn()),
        };
        Ok(IpDb { country, asn })
    }

    /// Decodes every embedded section this database uses now, IPv6 included (for a
    /// background thread at start-up, or before timing lookups).
    pub fn preload(&self) {
        self.load(true);
    }

    /// Decodes the embedded sections in use, in parallel: the ASN dictionary (80,000
    /// organisation names) and each family's ranges are the big parts.
    fn load(&self, v6: bool) {
        let country = match &self.country {
            CountrySource::Embedded(f) => Some(*f),
            CountrySource::File(_) => None,
        };
        let asn = match &self.asn {
            AsnSource::Embedded(f) => Some(*f),
            AsnSource::File(_) => None,
        };
        std::thread::scope(|s| {
            if let Some(a) = asn {
                s.spawn(|| a.dict());
                s.spawn(|| a.v4());
                if v6 {
                    s.spawn(|| a.v6());
                }
            }
            if let Some(c) = country {
                c.dict();
                c.v4();
                if v6 {
                    c.v6();
                }
            }
        });
    }

    /// Everything known about `ip`: its scope, and for public addresses (or IPv6 forms
    /// carrying a public IPv4 address) the country and AS.
    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        let (scope, embedded) = classify(ip);
        if !scope.is_public() {
            return IpInfo { scope, country: None, asn: None, embedded };
        }
        let target = embedded.map_or(ip, |e| IpAddr::V4(e.ipv4));
        if target.is_ipv6() {
            self.load_v6_once();
        }
        IpInfo { scope, country: self.table_country(target), asn: self.table_asn(target), embedded }
    }

    /// On the first IPv6 lookup, decodes both embedded IPv6 sections side by side rather
    /// than one after the other.
    fn load_v6_once(&self) {
        let pending = |f: &EmbeddedFile| f.v6.get().is_none();
        let country = matches!(&self.country, CountrySource::Embedded(f) if pending(f));
        let asn = matches!(&self.asn, AsnSource::Embedded(f) if pending(f));
        if country && asn {
            self.load(true);
        }
    }

    /// The country table's answer for `ip` as it stands, without classifying it first (so
    /// private or IPv4-mapped addresses get whatever the table holds for them, usually
    /// nothing). For tests against the sources and diagnostics; use [`IpDb::lookup`].
    pub fn table_country(&self, ip: IpAddr) -> Option<Country> {
        match &self.country {
            CountrySource::Embedded(f) => {
                let i = f.get(ip)?;
                let Dict::Country(codes) = f.dict() else { return None };
                codes.get(i as usize).map(|&c| Country(c))
            }
            CountrySource::File(f) => f.country(ip),
        }
    }

    /// The AS table's answer for `ip` as it stands, without classifying it first; see
    /// [`IpDb::table_country`].
    pub fn table_asn(&self, ip: IpAddr) -> Option<Asn> {
        match &self.asn {
            &AsnSource::Embedded(f) => {
                // `f` is `'static`, so the name is borrowed, not copied.
                let i = f.get(ip)?;
                let Dict::Asn { orgs, entries } = f.dict() else { return None };
                let &(number, org) = entries.get(i as usize)?;
                Some(Asn { number, org: Cow::Borrowed(orgs.name(org as usize)?) })
            }
            AsnSource::File(f) => f.asn(ip),
        }
    }

    /// Where each half comes from, with its facts (embedded header or file metadata).
    /// Reads no table.
    pub fn sources(&self) -> Vec<DataSource> {
        let embedded = |table, f: &EmbeddedFile| DataSource { table, file: None, facts: f.sections.header.clone() };
        let file = |table, f: &mmdb::MmdbFile| {
            let m = f.metadata();
            let mut facts = vec![
                ("database_type".to_owned(), m.database_type.clone()),
                ("build_date".to_owned(), date(m.build_epoch)),
                ("ip_version".to_owned(), m.ip_version.to_string()),
                ("node_count".to_owned(), m.node_count.to_string()),
            ];
            if let Some(d) = m.description.get("en") {
                facts.push(("description".to_owned(), d.clone()));
            }
            DataSource { table, file: Some(f.path().to_owned()), facts }
        };
        vec![
            match &self.country {
                CountrySource::Embedded(f) => embedded("country", f),
                CountrySource::File(f) => file("country", f),
            },
            match &self.asn {
                AsnSource::Embedded(f) => embedded("asn", f),
                AsnSource::File(f) => file("asn", f),
            },
        ]
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time, for database build dates.
pub fn date(epoch: u64) -> String {
    // Howard Hinnant's days-to-civil, as no date crate is in the tree for this one use.
    let days = (epoch / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes() {
        assert_eq!(Country::new("us").unwrap().as_str(), "US");
        assert_eq!(Country::new("SG").unwrap().to_string(), "SG");
        for bad in ["", "U", "USA", "U1", "é", "  "] {
            assert_eq!(Country::new(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_781_740_800), "2026-06-18");
    }
}

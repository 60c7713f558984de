//! The user's MaxMind DB files (`--geoip`, `--asn`), whatever their vendor calls the fields.
//!
//! | vendor | country | AS number | AS organisation |
//! |---|---|---|---|
//! | MaxMind GeoLite2/GeoIP2 Country, City | `country.iso_code`, else `registered_country.iso_code` | | |
//! | MaxMind GeoLite2-ASN, DB-IP ASN Lite, ip-location-db asn-mmdb | | `autonomous_system_number` | `autonomous_system_organization` |
//! | MaxMind Enterprise, ISP | as City | `traits.autonomous_system_number` or top level | `..._organization` |
//! | DB-IP Country/City Lite | `country.iso_code` | | |
//! | ip-location-db country mmdb | `country_code` | | |
//! | IPinfo Lite, country_asn | `country_code`, or `country` when it is a code | `asn` (`"AS15169"`) | `as_name` |
//! | IPinfo ASN (older) | | `asn` | `name` |
//!
//! Records are decoded by hand-written visitors that take the first field that fits and skip
//! the rest unread, so one decoder serves every layout and a lookup allocates nothing but
//! the organisation name.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use super::{Asn, Country, Error};

/// What a file is opened for: decides which fields must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Country,
    Asn,
}

/// How many networks are read at open time looking for the wanted fields.
const PROBE_NETWORKS: usize = 10_000;

/// An opened user database.
pub(crate) struct MmdbFile {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
}

impl fmt::Debug for MmdbFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmdbFile")
            .field("path", &self.path)
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl MmdbFile {
    /// Opens `path` (read whole into memory) and checks that its first networks carry the
    /// fields `want` needs, so that a country file given as `--asn` (or any other mix-up)
    /// fails at start-up with a clear message instead of attributing nothing.
    pub(crate) fn open(path: &Path, want: Want) -> Result<Self, Error> {
        let reader =
            maxminddb::Reader::open_readfile(path).map_err(|source| Error::Open { path: path.to_owned(), source })?;
        let file = MmdbFile { reader, path: path.to_owned() };
        let networks =
            file.reader.networks(Default::default()).map_err(|source| Error::Open { path: path.to_owned(), source })?;
        let mut seen = 0usize;
        for result in networks.take(PROBE_NETWORKS) {
            let Ok(result) = result else { continue };
            seen += 1;
            let found = match want {
                Want::Country => matches!(result.decode::<GeoRecord>(), Ok(Some(r)) if r.country().is_some()),
                Want::Asn => {
                    matches!(result.decode::<AsRecord>(), Ok(Some(r)) if r.number.is_some() || r.traits.as_ref().is_some_and(|t| t.number.is_some()))
                }
            };
            if found {
                return Ok(file);
            }
        }
        let expected = match want {
            Want::Country => "a country (country_code, country.iso_code, registered_country.iso_code)",
            Want::Asn => "an AS number (autonomous_system_number, asn, traits.autonomous_system_number)",
        };
        Err(Error::NoFields { path: path.to_owned(), expected, networks: seen })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn metadata(&self) -> &maxminddb::Metadata {
        self.reader.metadata()
    }

    /// The country of `ip`; `None` when the file has no record or the record no code.
    /// (A lookup error from a corrupt node is treated as no record: one bad spot in a
    /// user's file must not stop a report.)
    pub(crate) fn country(&self, ip: IpAddr) -> Option<Country> {
        let record = self.reader.lookup(ip).ok()?.decode::<GeoRecord>().ok()??;
        record.country()
    }

    /// The AS of `ip`.
    pub(crate) fn asn(&self, ip: IpAddr) -> Option<Asn> {
        let record = self.reader.lookup(ip).ok()?.decode::<AsRecord>().ok()??;
        record.asn()
    }
}

/// The country fields of a record, by preference.
#[derive(Debug, Default)]
pub(crate) struct GeoRecord {
    /// `country_code` (ip-location-db, IPinfo Lite).
    country_code: Option<Country>,
    /// `country.iso_code` (MaxMind, DB-IP) or `country` as a bare code (IPinfo).
    country: Option<Country>,
    /// `registered_country.iso_code` (MaxMind: where the block is registered; used when a
    /// network has no location, as MaxMind's own docs suggest).
    registered: Option<Country>,
}

impl GeoRecord {
    pub(crate) fn country(&self) -> Option<Country> {
        self.country_code.or(self.country).or(self.registered)
    }
}

/// The AS fields of a record.
#[derive(Debug, Default)]
pub(crate) struct AsRecord {
    number: Option<u32>,
    org: Option<String>,
    /// IPinfo's older ASN database calls the organisation `name`; only used next to `asn`.
    name: Option<String>,
    traits: Option<Box<AsRecord>>,
}

impl AsRecord {
    pub(crate) fn asn(self) -> Option<Asn> {
        if let Some(number) = self.number {
            let org = self.org.or(self.name).unwrap_or_default();
            return Some(Asn { number, org: org.into() });
        }
        self.traits.and_then(|t| t.asn())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum GeoKey {
    CountryCode,
    Country,
    RegisteredCountry,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum AsKey {
    AutonomousSystemNumber,
    Asn,
    AutonomousSystemOrganization,
    AsName,
    Name,
    Traits,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum IsoKey {
    IsoCode,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for GeoRecord {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GeoRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GeoRecord, A::Error> {
                let mut r = GeoRecord::default();
                while let Some(key) = map.next_key::<GeoKey>()? {
                    match key {
                        GeoKey::CountryCode => r.country_code = map.next_value::<Code>()?.0,
                        GeoKey::Country => r.country = map.next_value::<Code>()?.0,
                        GeoKey::RegisteredCountry => r.registered = map.next_value::<Code>()?.0,
                        GeoKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for AsRecord {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AsRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AsRecord, A::Error> {
                let mut r = AsRecord::default();
                while let Some(key) = map.next_key::<AsKey>()? {
                    match key {
                        AsKey::AutonomousSystemNumber | AsKey::Asn => {
                            r.number = r.number.or(map.next_value::<Number>()?.0);
                        }
                        AsKey::AutonomousSystemOrganization | AsKey::AsName => {
                            r.org = r.org.or(map.next_value::<Text>()?.0);
                        }
                        AsKey::Name => r.name = map.next_value::<Text>()?.0,
                        // MaxMind Enterprise/ISP keep the AS under `traits`: read one level
                        // (`Flat` skips a `traits` inside it, so nesting stays bounded).
                        AsKey::Traits if r.traits.is_none() => {
                            r.traits = Some(Box::new(map.next_value::<Flat>()?.0));
                        }
                        AsKey::Traits | AsKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// An `AsRecord` whose own `traits` are ignored (the Enterprise layout nests one level).
struct Flat(AsRecord);

impl<'de> Deserialize<'de> for Flat {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flat;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flat, A::Error> {
                let mut r = AsRecord::default();
                while let Some(key) = map.next_key::<AsKey>()? {
                    match key {
                        AsKey::AutonomousSystemNumber | AsKey::Asn => {
                            r.number = r.number.or(map.next_value::<Number>()?.0);
                        }
                        AsKey::AutonomousSystemOrganization | AsKey::AsName => {
                            r.org = r.org.or(map.next_value::<Text>()?.0);
                        }
                        AsKey::Name | AsKey::Traits | AsKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Flat(r))
            }
        }
        d.deserialize_any(V)
    }
}

/// A country code from a string (`"US"`) or a map with `iso_code`; anything else (a
/// country *name*, as IPinfo Lite puts in `country`, a number) is `None`, not an error.
struct Code(Option<Country>);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Code;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a country code or a map with iso_code")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Code, E> {
                Ok(Code(Country::new(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Code, A::Error> {
                let mut code = None;
                while let Some(key) = map.next_key::<IsoKey>()? {
                    match key {
                        IsoKey::IsoCode => code = map.next_value::<Code>()?.0,
                        IsoKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Code(code))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Code, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Code(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An AS number as an integer or a string (`"AS15169"`, `"15169"`); others are `None`.
struct Number(Option<u32>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AS number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(u32::try_from(v).ok()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(u32::try_from(v).ok()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                let digits = v.strip_prefix("AS").or_else(|| v.strip_prefix("as")).unwrap_or(v);
                Ok(Number(digits.trim().parse().ok()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Number, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Number(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Number, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Number(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, or `None` for any other type.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

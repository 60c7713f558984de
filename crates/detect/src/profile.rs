//! The device profile: which identifiers the device has, declared by the user.
//!
//! A profile comes from a TOML file (`--profile FILE`, format in this crate's `examples/profile.toml` and
//! docs/DETECTION.md) and/or repeatable `--id KIND[/LABEL]=VALUE` flags. Values are checked when
//! they are declared:
//!
//! * **errors** (the profile is refused) where we could not search for the value at all or
//!   would search for something else than meant: unknown kind, empty value, bad flag syntax,
//!   a location that is not `LAT,LON`, a MAC that is not 12 hex digits, a phone number with
//!   fewer than 6 digits, an e-mail without `@`, an unknown region, unknown TOML keys;
//! * **warnings** ([`Profile::warnings`]) where the value is searched as given but looks wrong:
//!   an IMEI or ICCID whose check digit fails (emulators and test devices have such IMEIs, and
//!   the user copied what the device reports, so it is still worth finding), an IMSI with an
//!   unknown MCC, an Android ID that is not 16 hex digits, an advertising id that is not a UUID,
//!   a phone number libphonenumber does not consider valid, a value too short to search.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::kind::{Kind, UnknownKind};
use crate::validate;

/// Shortest value (in bytes, after normalisation) that is searched: shorter ones would match
/// by chance in ordinary traffic.
pub const MIN_VALUE_LEN: usize = 6;

/// A device profile: the maker and the identifiers to look for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The device's maker (`Xiaomi`, `Samsung`...), for attribution of first-party traffic.
    pub vendor: Option<String>,
    /// ISO 3166 region for phone numbers written without a country code (`SG`, `IT`).
    pub region: Option<String>,
    /// The declared identifiers, in declaration order.
    pub ids: Vec<DeclaredId>,
}

/// One declared identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredId {
    /// What the value is.
    pub kind: Kind,
    /// A name for reports (`Mum`, `SIM 2`); findings carry it instead of the value.
    pub label: Option<String>,
    /// The value as declared, trimmed.
    pub value: String,
}

/// Why a profile or `--id` flag was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("profile: {0}")]
    Toml(String),
    /// A flag is not `KIND=VALUE` or `KIND/LABEL=VALUE`.
    #[error("--id {0:?}: expected KIND=VALUE or KIND/LABEL=VALUE (e.g. contact/Mum=+6591112222)")]
    FlagSyntax(String),
    /// The kind is not known.
    #[error(transparent)]
    UnknownKind(#[from] UnknownKind),
    /// The value is empty.
    #[error("{0}: empty value")]
    EmptyValue(Kind),
    /// The value cannot be searched as this kind.
    #[error("{kind} {value:?}: {reason}")]
    BadValue {
        /// The declared kind.
        kind: Kind,
        /// The declared value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The region is not a country libphonenumber knows.
    #[error("region {0:?} is not an ISO 3166 two-letter country code known to libphonenumber")]
    BadRegion(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlProfile {
    vendor: Option<String>,
    region: Option<String>,
    #[serde(default)]
    id: Vec<TomlId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlId {
    kind: String,
    value: String,
    label: Option<String>,
}

impl Profile {
    /// Parses a profile from TOML text (see docs/DETECTION.md for the format).
    pub fn from_toml_str(text: &str) -> Result<Profile, ProfileError> {
        let raw: TomlProfile = toml::from_str(text).map_err(|e| ProfileError::Toml(e.to_string()))?;
        let mut p = Profile { vendor: raw.vendor.filter(|v| !v.trim().is_empty()), region: None, ids: Vec::new() };
        if let Some(r) = raw.region {
            p.set_region(&r)?;
        }
        for id in raw.id {
            let kind: Kind = id.kind.parse()?;
            p.ids.push(DeclaredId::new(kind, id.label, &id.value)?);
        }
        Ok(p)
    }

    /// Reads and parses a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| ProfileError::Io { path: path.to_path_buf(), source })?;
        Self::from_toml_str(&text)
    }

    /// Sets the default region for national phone numbers, checking that libphonenumber knows it.
    pub fn set_region(&mut self, region: &str) -> Result<(), ProfileError> {
        let r = region.trim().to_ascii_uppercase();
        r.parse::<phonenumber::country::Id>()
            .ok()
            .filter(|&id| crate::phone::known_region(id))
            .ok_or_else(|| ProfileError::BadRegion(region.to_string()))?;
        self.region = Some(r);
        Ok(())
    }

    /// The region national phone numbers are read in: the declared `region`, else the country
    /// of the first phone number written in international form (the device's own number first).
    pub fn phone_region(&self) -> Option<phonenumber::country::Id> {
        if let Some(r) = &self.region {
            return r.parse().ok();
        }
        let phones = self.ids.iter().filter(|i| i.kind == Kind::Phone).chain(self.ids.iter().filter(|i| {
            i.kind == Kind::Contact && !i.value.contains('@') // contacts: only numbers
        }));
        phones
            .filter(|i| i.value.trim_start().starts_with('+'))
            .find_map(|i| crate::phone::parse(&i.value, None).and_then(|n| n.region()))
    }

    /// Things that look wrong but do not stop the search (see the module docs).
    pub fn warnings(&self) -> Vec<String> {
        let region = self.phone_region();
        self.ids.iter().filter_map(|id| id.warning(region)).collect()
    }
}

impl DeclaredId {
    /// Checks and normalises a declared value (trimmed; the kind-specific checks are listed in
    /// the module docs).
    pub fn new(kind: Kind, label: Option<String>, value: &str) -> Result<DeclaredId, ProfileError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ProfileError::EmptyValue(kind));
        }
        let bad = |reason| ProfileError::BadValue { kind, value: value.to_string(), reason };
        match kind {
            Kind::Imei | Kind::Imsi | Kind::Iccid
                if !value.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-' || c == '/') =>
            {
                return Err(bad("only digits (and spaces or dashes) expected"));
            }
            Kind::Meid if !value.chars().all(|c| c.is_ascii_hexdigit() || c == ' ' || c == '-') => {
                return Err(bad("only hex digits expected"));
            }
            Kind::Mac if validate::parse_mac(value.as_bytes()).is_none() => {
                return Err(bad("expected 12 hex digits, e.g. d8:31:34:20:77:fb or D83134 2077FB"));
            }
            Kind::Phone => check_phone(value).map_err(bad)?,
            Kind::Contact => {
                if value.contains('@') {
                    check_email(value).map_err(bad)?;
                } else {
                    check_phone(value).map_err(bad)?;
                }
            }
            Kind::Email => check_email(value).map_err(bad)?,
            Kind::Location => {
                parse_location(value)
                    .ok_or_else(|| bad("expected LAT,LON in decimal degrees, e.g. 1.29027,103.85196"))?;
            }
            _ => {}
        }
        let label = label.map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
        Ok(DeclaredId { kind, label, value: value.to_string() })
    }

    /// Parses a command-line flag value `KIND=VALUE` or `KIND/LABEL=VALUE`.
    ///
    /// The first `=` splits; the label runs from the first `/` before it, so labels cannot
    /// contain `/` or `=` but values can (`custom/token=a=b/c` is kind custom, label `token`).
    pub fn parse_flag(flag: &str) -> Result<DeclaredId, ProfileError> {
        let (head, value) = flag.split_once('=').ok_or_else(|| ProfileError::FlagSyntax(flag.to_string()))?;
        let (kind, label) = match head.split_once('/') {
            Some((k, l)) => (k, Some(l.to_string())),
            None => (head, None),
        };
        if kind.trim().is_empty() {
            return Err(ProfileError::FlagSyntax(flag.to_string()));
        }
        DeclaredId::new(kind.parse()?, label, value)
    }

    /// How this id is named in messages: `kind/label`, or just the kind.
    pub fn name(&self) -> String {
        match &self.label {
            Some(l) => format!("{}/{l}", self.kind),
            None => self.kind.to_string(),
        }
    }

    fn warning(&self, region: Option<phonenumber::country::Id>) -> Option<String> {
        let digits: Vec<u8> = self.value.bytes().filter(u8::is_ascii_digit).collect();
        let why = match self.kind {
            Kind::Imei if digits.len() != 15 => "an IMEI has 15 digits; searched as given",
            Kind::Imei if !validate::luhn_ok(&digits) => "IMEI check digit (Luhn) fails; searched as given",
            Kind::Iccid if !(19..=20).contains(&digits.len()) || !digits.starts_with(b"89") => {
                "an ICCID has 19-20 digits starting with 89; searched as given"
            }
            Kind::Iccid if !validate::luhn_ok(&digits) => "ICCID check digit (Luhn) fails; searched as given",
            Kind::Imsi if digits.len() < 6 || !validate::is_mcc(&digits[..3]) => {
                "IMSI does not start with a known mobile country code; searched as given"
            }
            Kind::AndroidId if !(self.value.len() == 16 && self.value.bytes().all(|b| b.is_ascii_hexdigit())) => {
                "an Android ID has 16 hex digits; searched as given"
            }
            Kind::AdvertisingId if validate::parse_uuid(self.value.as_bytes()).is_none() => {
                "advertising ids (GAID, IDFA, OAID) are UUIDs; searched as given"
            }
            Kind::Phone | Kind::Contact
                if !self.value.contains('@') && crate::forms::parse_phone(&self.value, region).is_none() =>
            {
                "not a valid phone number for libphonenumber (a national number needs region = \"XX\" \
                 or a phone in +E.164 form); only its digits are searched"
            }
            Kind::Phone | Kind::Contact if !self.value.contains('@') => return None,
            Kind::Location => return None,
            _ if self.value.trim().len() < MIN_VALUE_LEN => "shorter than 6 characters: not searched",
            _ => return None,
        };
        Some(format!("{}: {why}", self.name()))
    }
}

impl fmt::Display for DeclaredId {
    /// `kind/label`, never the value (profiles are personal data).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn check_phone(v: &str) -> Result<(), &'static str> {
    if !v.chars().all(|c| c.is_ascii_digit() || " +-().//".contains(c)) {
        return Err("a phone number has only digits, spaces, + - ( ) . /");
    }
    if v.chars().filter(char::is_ascii_digit).count() < 6 {
        return Err("a phone number needs at least 6 digits");
    }
    Ok(())
}

fn check_email(v: &str) -> Result<(), &'static str> {
    match v.split_once('@') {
        Some((l, d)) if !l.is_empty() && d.contains('.') && !v.contains(char::is_whitespace) => Ok(()),
        _ => Err("expected an address like name@example.org"),
    }
}

/// Parses `LAT,LON` (decimal degrees, optional spaces) and checks the ranges.
pub fn parse_location(v: &str) -> Option<(f64, f64)> {
    let (a, b) = v.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lon: f64 = b.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && lat.is_finite() && lon.is_finite())
        .then_some((lat, lon))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let id = DeclaredId::parse_flag("contact/Mum=+6591112222").unwrap();
        assert_eq!((id.kind, id.label.as_deref(), id.value.as_str()), (Kind::Contact, Some("Mum"), "+6591112222"));
        let id = DeclaredId::parse_flag("custom/token=a=b/c").unwrap();
        assert_eq!((id.label.as_deref(), id.value.as_str()), (Some("token"), "a=b/c"));
        assert!(matches!(DeclaredId::parse_flag("imei"), Err(ProfileError::FlagSyntax(_))));
        assert!(matches!(DeclaredId::parse_flag("imeii=1"), Err(ProfileError::UnknownKind(_))));
        assert!(matches!(DeclaredId::parse_flag("email= "), Err(ProfileError::EmptyValue(Kind::Email))));
        assert!(matches!(DeclaredId::parse_flag("location=91,0"), Err(ProfileError::BadValue { .. })));
        assert!(matches!(DeclaredId::parse_flag("mac=zz:00"), Err(ProfileError::BadValue { .. })));
        assert!(DeclaredId::parse_flag("location=45.1234567, 9.1").is_ok());
    }

    #[test]
    fn luhn_failure_is_a_warning() {
        let p = Profile { ids: vec![DeclaredId::parse_flag("imei=490154203237519").unwrap()], ..Profile::default() };
        let w = p.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("Luhn"), "{w:?}");
    }

    #[test]
    fn shipped_example_profile() {
        let p = Profile::from_toml_str(include_str!("../examples/profile.toml")).unwrap();
        assert_eq!(p.ids.len(), 17);
        assert_eq!((p.vendor.as_deref(), p.region.as_deref()), (Some("Xiaomi"), Some("SG")));
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
        let kinds: std::collections::BTreeSet<Kind> = p.ids.iter().map(|i| i.kind).collect();
        assert_eq!(kinds.len(), 14, "all kinds but meid, device_id and analytics_id");
    }

    #[test]
    fn toml_profile() {
        let p = Profile::from_toml_str(
            r#"
            vendor = "Xiaomi"
            [[id]]
            kind = "phone"
            value = "+65 9111 2222"
            [[id]]
            kind = "contact"
            label = "Mum"
            value = "8123 4567"
            "#,
        )
        .unwrap();
        assert_eq!(p.vendor.as_deref(), Some("Xiaomi"));
        assert_eq!(p.ids.len(), 2);
        // No region declared: derived from the device's own E.164 number.
        assert_eq!(p.phone_region(), Some(phonenumber::country::Id::SG));
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
        let err = Profile::from_toml_str("[[id]]\nkind = \"imei\"\nvalue = \"1\"\ncolour = 3\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        assert!(matches!(Profile::from_toml_str("region = \"XX\""), Err(ProfileError::BadRegion(_))));
    }
}

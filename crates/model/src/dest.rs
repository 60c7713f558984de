//! Who and where a destination is: the attribution stage's answer, attached to `flow` and
//! `leak` events.
//!
//! Two halves with different keys, kept apart so that each is computed once and shared: what
//! the server's *address* says (scope, the country where its block is registered, the AS
//! announcing it) and what its *name* says (registrable domain, owning company and its home
//! country, category, first or third party). An event holds reference-counted pointers to
//! both, so attaching them costs no allocation once a destination has been seen.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

/// Attribution of one event's destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// What the server address says.
    pub address: Arc<AddressInfo>,
    /// What the server name says; `None` when the flow has no name.
    pub name: Option<Arc<NameInfo>>,
}

/// What an address says about where the server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressInfo {
    /// "public", "private", "shared" (CGNAT), "loopback", "link_local", "multicast",
    /// "broadcast", "documentation", "benchmarking", "unspecified", "reserved". Only public
    /// addresses have a country or AS.
    pub scope: &'static str,
    /// ISO 3166-1 alpha-2 code of the country the address block is registered or announced
    /// in (not proof of where the machine stands).
    pub country: Option<[u8; 2]>,
    /// The autonomous system announcing the address.
    pub asn: Option<AsInfo>,
}

impl AddressInfo {
    /// The country code as text.
    pub fn country_str(&self) -> Option<&str> {
        self.country.as_ref().and_then(|c| std::str::from_utf8(c).ok())
    }
}

/// An autonomous system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AsInfo {
    pub number: u32,
    /// The organisation as the AS data spells it ("AMAZON-02", "Xiaomi Communications").
    pub org: Cow<'static, str>,
}

/// What a server name says about who runs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameInfo {
    /// Registrable domain (public suffix list, ICANN section): "xiaomi.com", "amazonaws.com".
    pub domain: Option<String>,
    /// The owning company, when the embedded table or a user list knows it.
    pub org: Option<Arc<OrgInfo>>,
    /// What the endpoint is for ("vendor_telemetry", "analytics", "advertising",
    /// "crash_reporting", "push", "cdn_cloud", "first_party_service").
    pub category: Option<&'static str>,
    /// Where `org`/`category` come from: the table entry's source, or the user's list.
    pub source: Option<String>,
    /// Relative to the device's maker (`vendor` in the profile): `Some(false)` for the maker's
    /// own company family, `Some(true)` for any other known company; `None` when no vendor
    /// was given or the owner is unknown.
    pub third_party: Option<bool>,
    /// The user's list (`--trackers`) with the most specific entry for the name, if any: a
    /// hosts file says no more than that the name is on it.
    pub listed_in: Option<String>,
}

/// A company that owns server names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgInfo {
    pub name: String,
    /// The parent company's name, if any.
    pub parent: Option<String>,
    /// Home country (headquarters), ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

/// `dest_geo`: the address's scope and, for public addresses, its country.
#[derive(Serialize)]
pub(crate) struct GeoJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    scope: &'static str,
}

/// `dest_org`: the company, with the name's category and the fact's source.
#[derive(Serialize)]
pub(crate) struct OrgJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
}

impl Destination {
    /// Writes `dest_geo`, `dest_as`, `dest_domain`, `dest_org` and `third_party` into an
    /// event's map (docs/OUTPUT.md).
    pub(crate) fn serialize_into<M: serde::ser::SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let a = &self.address;
        m.serialize_entry("dest_geo", &GeoJson { country: a.country_str(), scope: a.scope })?;
        if let Some(asn) = &a.asn {
            m.serialize_entry("dest_as", asn)?;
        }
        let Some(n) = &self.name else { return Ok(()) };
        if let Some(d) = &n.domain {
            m.serialize_entry("dest_domain", d)?;
        }
        if n.org.is_some() || n.category.is_some() {
            let org = n.org.as_deref();
            m.serialize_entry(
                "dest_org",
                &OrgJson {
                    name: org.map(|o| o.name.as_str()),
                    parent: org.and_then(|o| o.parent.as_deref()),
                    country: org.and_then(|o| o.country.as_deref()),
                    category: n.category,
                    source: n.source.as_deref(),
                },
            )?;
        }
        if let Some(t) = n.third_party {
            m.serialize_entry("third_party", &t)?;
        }
        if let Some(l) = &n.listed_in {
            m.serialize_entry("dest_listed_in", l)?;
        }
        Ok(())
    }
}

//! The attribution stage: who and where each destination is (docs/ATTRIBUTION.md).
//!
//! Runs when a `flow` or `leak` event leaves the handler: the server address gives the
//! scope, country and AS; the server name gives the registrable domain, the owning company,
//! the category and, relative to the device's maker, first or third party. Both answers are
//! cached per address and per name, so a destination costs two hash probes after its first
//! event; the caches are bounded (cleared when full) because addresses and names come from
//! the wire.
//!
//! The embedded address tables take tens of milliseconds to decode, so they are touched only
//! when the first public address is looked up: a capture of a LAN never pays for them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::fast::RandomState;
use phonehome_attribute::domain::DomainDb;
use phonehome_attribute::ip::{self, IpDb};
use phonehome_model::dest::{AddressInfo, AsInfo, Destination, NameInfo, OrgInfo};
use phonehome_model::text::WireText;

/// Entries per cache before it is cleared. A capture has far fewer distinct servers than
/// this; a hostile one that has more pays a lookup per event, nothing worse.
const CACHE_MAX: usize = 1 << 16;

/// What attribution uses; cheap to clone (shared). The default attributes nothing.
#[derive(Clone, Default)]
pub struct Attribution {
    enabled: bool,
    /// The user's databases; `None` means the embedded tables.
    ip: Option<Arc<IpDb>>,
    /// The embedded table extended by the user's lists; `None` means the embedded table.
    domains: Option<Arc<DomainDb>>,
    /// The device's maker, for first/third party.
    vendor: Option<String>,
}

impl std::fmt::Debug for Attribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attribution")
            .field("enabled", &self.enabled)
            .field("ip", &self.ip.is_some())
            .field("domains", &self.domains.is_some())
            .field("vendor", &self.vendor)
            .finish()
    }
}

impl Attribution {
    /// Attribution from the embedded data.
    pub fn embedded() -> Attribution {
        Attribution { enabled: true, ..Attribution::default() }
    }

    /// Uses the user's address databases (see [`IpDb::from_files`]).
    pub fn with_ip_db(mut self, db: IpDb) -> Attribution {
        self.ip = Some(Arc::new(db));
        self
    }

    /// Uses the embedded name table extended by the user's lists.
    pub fn with_domain_db(mut self, db: DomainDb) -> Attribution {
        self.domains = Some(Arc::new(db));
        self
    }

    /// The device's maker (`vendor` in the profile), for `third_party`.
    pub fn with_vendor(mut self, vendor: Option<String>) -> Attribution {
        self.vendor = vendor.filter(|v| !v.trim().is_empty());
        self
    }

    /// Whether the device's maker is known (so `third_party` can be decided).
    pub fn has_vendor(&self) -> bool {
        self.enabled && self.vendor.is_some()
    }

    /// Whether anything is attributed.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn domains(&self) -> &DomainDb {
        self.domains.as_deref().unwrap_or_else(|| DomainDb::embedded())
    }
}

/// The per-run half: the configuration and the caches.
pub(crate) struct Attributor {
    config: Attribution,
    addresses: HashMap<IpAddr, Arc<AddressInfo>, RandomState>,
    names: HashMap<Box<[u8]>, Option<Arc<NameInfo>>, RandomState>,
}

impl Attributor {
    pub(crate) fn new(config: Attribution) -> Attributor {
        Attributor { config, addresses: HashMap::default(), names: HashMap::default() }
    }

    /// Who and where `ip` (named `name`, if the flow has a name) is; `None` when
    /// attribution is off.
    pub(crate) fn destination(&mut self, ip: IpAddr, name: Option<&WireText>) -> Option<Destination> {
        if !self.config.enabled {
            return None;
        }
        let address = self.address(ip);
        let name = name.and_then(|n| self.name(&n.0));
        Some(Destination { address, name })
    }

    fn address(&mut self, ip: IpAddr) -> Arc<AddressInfo> {
        if let Some(a) = self.addresses.get(&ip) {
            return a.clone();
        }
        let (scope, _) = ip::classify(ip);
        let info = if scope.is_public() {
            let db = self.config.ip.as_deref().unwrap_or_else(|| IpDb::embedded());
            let found = db.lookup(ip);
            AddressInfo {
                scope: found.scope.as_str(),
                country: found.country.map(|c| {
                    let b = c.as_str().as_bytes();
                    [b[0], b[1]]
                }),
                asn: found.asn.map(|a| AsInfo { number: a.number, org: a.org }),
            }
        } else {
            AddressInfo { scope: scope.as_str(), country: None, asn: None }
        };
        let info = Arc::new(info);
        if self.addresses.len() >= CACHE_MAX {
            self.addresses.clear();
        }
        self.addresses.insert(ip, info.clone());
        info
    }

    fn name(&mut self, name: &[u8]) -> Option<Arc<NameInfo>> {
        if let Some(n) = self.names.get(name) {
            return n.clone();
        }
        let info = std::str::from_utf8(name).ok().and_then(|text| self.lookup_name(text)).map(Arc::new);
        if self.names.len() >= CACHE_MAX {
            self.names.clear();
        }
        self.names.insert(name.into(), info.clone());
        info
    }

    fn lookup_name(&self, host: &str) -> Option<NameInfo> {
        let db = self.config.domains();
        let found = db.lookup(host);
        if found.registrable.is_none() && found.org.is_none() && found.category.is_none() && found.listed_in.is_none() {
            return None;
        }
        let third_party = match (&self.config.vendor, found.org) {
            (Some(vendor), Some(org)) => Some(!db.is_first_party(org, vendor)),
            _ => None,
        };
        Some(NameInfo {
            domain: found.registrable,
            org: found.org.map(|o| {
                Arc::new(OrgInfo { name: o.name.clone(), parent: o.parent.clone(), country: o.country.clone() })
            }),
            category: found.category.map(|c| c.as_str()),
            source: found.source.map(str::to_owned),
            third_party,
            listed_in: found.listed_in.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default() {
        let mut a = Attributor::new(Attribution::default());
        assert!(a.destination("8.8.8.8".parse().unwrap(), None).is_none());
    }

    #[test]
    fn special_addresses_are_labelled_not_located() {
        let mut a = Attributor::new(Attribution::embedded());
        for (ip, scope) in [("192.168.1.10", "private"), ("100.64.3.4", "shared"), ("ff02::fb", "multicast")] {
            let d = a.destination(ip.parse().unwrap(), None).unwrap();
            assert_eq!(d.address.scope, scope, "{ip}");
            assert_eq!(d.address.country, None, "{ip}");
            assert_eq!(d.address.asn, None, "{ip}");
        }
    }

    #[test]
    fn names_give_company_and_party() {
        let mut a = Attributor::new(Attribution::embedded().with_vendor(Some("Xiaomi".into())));
        let mi = WireText(b"tracking.intl.miui.com".to_vec());
        let d = a.destination("192.0.2.1".parse().unwrap(), Some(&mi)).unwrap();
        let n = d.name.unwrap();
        assert_eq!(n.domain.as_deref(), Some("miui.com"));
        assert_eq!(n.org.as_ref().unwrap().name, "Xiaomi");
        assert_eq!(n.third_party, Some(false));
        let ga = WireText(b"ssl.google-analytics.com".to_vec());
        let n = a.destination("192.0.2.1".parse().unwrap(), Some(&ga)).unwrap().name.unwrap();
        assert_eq!(n.third_party, Some(true));
        assert_eq!(n.category, Some("analytics"));
        // Cached: the same allocation comes back.
        let again = a.destination("192.0.2.1".parse().unwrap(), Some(&ga)).unwrap().name.unwrap();
        assert!(Arc::ptr_eq(&n, &again));
        // Not a name.
        let junk = WireText(vec![0xff, b'.', 0xfe]);
        assert!(a.destination("192.0.2.1".parse().unwrap(), Some(&junk)).unwrap().name.is_none());
    }
}

//! Names: the registrable domain of a host name, the company that owns it, the company's home
//! country, and what the endpoint is for.
//!
//! * The registrable domain comes from Mozilla's public suffix list, compiled in by the `psl`
//!   crate ([`PSL_VERSION`]). It is taken against the list's **ICANN section only**:
//!   `d1234.cloudfront.net` is registrable as `cloudfront.net` and
//!   `x.eu-central-1.elb.amazonaws.com` as `amazonaws.com`, because the question here is who
//!   runs the server, and for names under a cloud's customer suffixes that is the cloud. The
//!   name the customer holds under the private section is kept beside it
//!   ([`DomainInfo::hosted`]), and the table can name well-known customers under a cloud
//!   suffix (`feelinsonice-hrd.appspot.com` is Snap's), or by a token of their load balancer's
//!   label ([`DomainInfo::by_tenant_label`]).
//! * The company comes from a table the project writes itself from public facts
//!   (`crates/attribute/data/orgs/orgs.toml`, compiled in, parsed once on first use), each
//!   entry with a `source`; see docs/ATTRIBUTION.md. No entry is copied from a list whose
//!   licence forbids it (Disconnect, DuckDuckGo and Ghostery data are CC BY-NC-SA; several
//!   block lists are GPL): those are read at run time from the user's own files
//!   ([`DomainDb::add_list`]), and what they say overrides the table.
//!
//! Lookups walk the name's suffixes from the most specific down to the registrable domain, one
//! hash probe each, with no allocation besides the returned domain strings. A host name from
//! traffic is attacker-controlled: [`DomainDb::lookup`] accepts any string, never panics, and
//! does work bounded by 253 bytes and 127 labels; IP literals and malformed names give an
//! empty [`DomainInfo`].
//!
//! # Precedence
//!
//! Each name key holds at most one organisation and one category. The embedded table is
//! loaded first, then user lists in the order given; a later source replaces what an earlier
//! one said about the same key: an entry that names an organisation replaces the key's
//! organisation *and* category (a category it does not give becomes unknown, so a user's
//! company is never paired with the table's category for another company; when it names the
//! company already there, that company's category is kept), an entry that gives only a
//! category replaces the category, and an entry that gives neither (a hosts file line) only
//! marks the key as listed. At lookup, the most specific key that names an
//! organisation wins; the category is the most specific one at or below that key's depth.
//! A tenant rule (a cloud customer recognised by its label) wins over the cloud's own entry
//! but not over a key more specific than the cloud suffix.
//!
//! # Example
//!
//! ```
//! use phonehome_attribute::domain::{Category, DomainDb, Format, ListSource};
//!
//! let db = DomainDb::embedded();
//! let info = db.lookup("SSL.Google-Analytics.com.");
//! assert_eq!(info.registrable.as_deref(), Some("google-analytics.com"));
//! let org = info.org.unwrap();
//! assert_eq!(org.name, "Google");
//! assert_eq!(org.country.as_deref(), Some("US"));
//! assert_eq!(info.category, Some(Category::Analytics));
//!
//! // First or third party, relative to the device's maker from the profile:
//! let mi = db.lookup("tracking.intl.miui.com").org.unwrap();
//! assert!(db.is_first_party(mi, "Redmi"));
//! assert!(!db.is_first_party(org, "Xiaomi"));
//!
//! // The user's lists override the table.
//! let hosts = b"0.0.0.0 tracker.example.net # ads\n";
//! let mut db = db.clone();
//! let report = db
//!     .add_list(ListSource::new("my-hosts", hosts).format(Format::Hosts).category(Category::Advertising))
//!     .unwrap();
//! assert_eq!(report.entries, 1);
//! let info = db.lookup("a.tracker.example.net");
//! assert_eq!(info.category, Some(Category::Advertising));
//! assert_eq!(info.listed_in, Some("my-hosts"));
//! assert!(db.lookup("192.168.1.1").registrable.is_none());
//! ```

mod lists;
mod name;
mod org;

use std::collections::HashMap;
use std::sync::OnceLock;

use foldhash::fast::RandomState;

pub use lists::{Format, ListError, ListReport, ListSource, MAX_LIST_BYTES, MAX_LIST_ENTRIES};
pub use name::MAX_NAME;
pub use org::{Category, Org};

use lists::{Parsed, RawOrg};
use name::{is_icann_suffix, normalize, registrable};
use org::{TableFile, company_key};

/// The public suffix list compiled in: the `psl` crate's version, which names the list
/// snapshot it was generated from. Bumped deliberately (the dependency is pinned exactly).
pub const PSL_VERSION: &str = "psl 2.1.247";

/// The embedded organisation table, as written in the repository.
const EMBEDDED_TABLE: &str = include_str!("../../data/orgs/orgs.toml");

/// Everything known about one host name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainInfo<'a> {
    /// One label above the longest ICANN public suffix (`google-analytics.com`,
    /// `bbc.co.uk`, `amazonaws.com`); `None` for IP literals, malformed names, bare suffixes
    /// and names under a suffix the list does not know (`router.lan`).
    pub registrable: Option<String>,
    /// One label above a private-section suffix, when the name is under one
    /// (`d1234.cloudfront.net`, `foo.appspot.com`): the name a cloud customer holds.
    pub hosted: Option<String>,
    /// The owning company, if the table or a list knows it.
    pub org: Option<&'a Org>,
    /// What the endpoint is for, if known.
    pub category: Option<Category>,
    /// Where `org`/`category` come from: the table entry's source note, or the user list.
    pub source: Option<&'a str>,
    /// The table or list key that gave `org` (or `category`, or the listing): the name itself
    /// or one of its parent domains.
    pub matched: Option<&'a str>,
    /// `org` was recognised from a token of the first label of a cloud host name (a load
    /// balancer the company named after itself), not from a name it registered.
    pub by_tenant_label: bool,
    /// The user list with the most specific entry for this name, if any (a hosts file that
    /// says nothing else still says "listed").
    pub listed_in: Option<&'a str>,
}

/// Counts of what a [`DomainDb`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbStats {
    /// Companies (embedded plus those user lists added).
    pub orgs: usize,
    /// Name keys (registrable domains and more specific names).
    pub names: usize,
    /// Cloud tenant rules.
    pub tenant_rules: usize,
    /// User lists loaded.
    pub lists: usize,
}

/// What one name key says.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    org: Option<u32>,
    category: Option<Category>,
    /// Index into `notes`: where `org`/`category` come from.
    note: Option<u32>,
    /// Index into `lists`: the last user list that holds this key.
    list: Option<u32>,
}

#[derive(Debug, Clone)]
struct Tenant {
    cloud: Box<str>,
    token: Box<str>,
    entry: Entry,
}

/// The names-and-organisations database: the embedded table plus any user lists.
///
/// Build the embedded one with [`DomainDb::embedded`] (shared, built once), and extend a
/// clone of it with [`DomainDb::add_list`] or [`DomainDb::with_lists`].
#[derive(Debug, Clone)]
pub struct DomainDb {
    orgs: Vec<Org>,
    names: HashMap<Box<str>, Entry, RandomState>,
    tenants: Vec<Tenant>,
    /// `company_key` of every company name, legal name and alias → index into `orgs`.
    companies: HashMap<String, u32, RandomState>,
    notes: Vec<Box<str>>,
    lists: Vec<ListReport>,
}

/// The embedded table could not be read (a bug in `orgs.toml`, caught by the crate's tests).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Not TOML of the expected shape.
    #[error("organisation table: {0}")]
    Syntax(String),
    /// A reference, name, country or duplicate that breaks the table's rules.
    #[error("organisation table: {0}")]
    Invalid(String),
}

impl DomainDb {
    /// The embedded table, parsed on first use and shared for the life of the process.
    pub fn embedded() -> &'static DomainDb {
        static DB: OnceLock<DomainDb> = OnceLock::new();
        DB.get_or_init(|| {
            // The table is part of the source tree and checked by the tests; failing here
            // means the binary was built from a broken table.
            DomainDb::from_table(EMBEDDED_TABLE).expect("embedded organisation table is valid")
        })
    }

    /// The embedded table plus the given user lists, applied in order (later lists win).
    pub fn with_lists<'s>(lists: impl IntoIterator<Item = ListSource<'s>>) -> Result<DomainDb, ListError> {
        let mut db = DomainDb::embedded().clone();
        for list in lists {
            db.add_list(list)?;
        }
        Ok(db)
    }

    /// Parses a table in the format of `data/orgs/orgs.toml`. Public so that the table's
    /// rules can be checked on a candidate file; [`DomainDb::embedded`] is the usual entry.
    pub fn from_table(text: &str) -> Result<DomainDb, TableError> {
        let file: TableFile = toml::from_str(text).map_err(|e| TableError::Syntax(e.to_string()))?;
        let mut db = DomainDb {
            orgs: Vec::with_capacity(file.companies.len()),
            names: HashMap::with_capacity_and_hasher(file.names.len() * 8, RandomState::default()),
            tenants: Vec::new(),
            companies: HashMap::default(),
            notes: Vec::new(),
            lists: Vec::new(),
        };
        let mut by_id: HashMap<&str, u32> = HashMap::new();
        for (i, c) in file.companies.iter().enumerate() {
            if by_id.insert(c.id.as_str(), i as u32).is_some() {
                return Err(TableError::Invalid(format!("company id {:?} twice", c.id)));
            }
            if let Some(cc) = &c.country
                && !(cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(TableError::Invalid(format!("{}: country {cc:?} is not ISO 3166-1 alpha-2", c.id)));
            }
            if c.source.trim().is_empty() {
                return Err(TableError::Invalid(format!("{}: no source", c.id)));
            }
        }
        for (i, c) in file.companies.iter().enumerate() {
            let parent = match &c.parent {
                Some(p) => Some(
                    *by_id
                        .get(p.as_str())
                        .ok_or_else(|| TableError::Invalid(format!("{}: unknown parent {p:?}", c.id)))?,
                ),
                None => None,
            };
            // The family is the top of the parent chain; a chain longer than the table is a
            // cycle.
            let mut top = i as u32;
            let mut steps = 0;
            while let Some(p) = &file.companies[top as usize].parent {
                top = by_id[p.as_str()];
                steps += 1;
                if steps > file.companies.len() {
                    return Err(TableError::Invalid(format!("{}: parent cycle", c.id)));
                }
            }
            db.orgs.push(Org {
                name: c.name.clone(),
                legal_name: c.legal_name.clone(),
                parent: parent.map(|p| file.companies[p as usize].name.clone()),
                country: c.country.clone(),
                source: c.source.clone(),
                family: top,
            });
            let keys = std::iter::once(&c.name).chain(c.legal_name.iter()).chain(c.aliases.iter());
            for k in keys {
                let key = company_key(k);
                if key.is_empty() {
                    return Err(TableError::Invalid(format!("{}: empty name or alias", c.id)));
                }
                if let Some(prev) = db.companies.insert(key, i as u32)
                    && prev != i as u32
                {
                    return Err(TableError::Invalid(format!(
                        "{}: name or alias {k:?} also names another company",
                        c.id
                    )));
                }
            }
        }
        let company =
            |id: &str| by_id.get(id).copied().ok_or_else(|| TableError::Invalid(format!("unknown company {id:?}")));
        for row in &file.names {
            let org = company(&row.company)?;
            let note = db.note(&row.source);
            for d in &row.domains {
                let key = table_key(d).map_err(|e| TableError::Invalid(format!("{}: {d:?}: {e}", row.company)))?;
                let entry = Entry { org: Some(org), category: Some(row.category), note: Some(note), list: None };
                if db.names.insert(key.into(), entry).is_some() {
                    return Err(TableError::Invalid(format!("{d:?} listed twice")));
                }
            }
        }
        for t in &file.tenants {
            let org = company(&t.company)?;
            let cloud = table_key(&t.cloud).map_err(|e| TableError::Invalid(format!("tenant {:?}: {e}", t.cloud)))?;
            let token = t.token.to_ascii_lowercase();
            if token.is_empty() || token.contains(['-', '.']) {
                return Err(TableError::Invalid(format!("tenant token {token:?} must be one label token")));
            }
            let note = db.note(&t.source);
            db.tenants.push(Tenant {
                cloud: cloud.into(),
                token: token.into(),
                entry: Entry { org: Some(org), category: Some(t.category), note: Some(note), list: None },
            });
        }
        Ok(db)
    }

    fn note(&mut self, text: &str) -> u32 {
        // Notes repeat (one per row, one per list); a linear search over a few hundred short
        // strings at load time is cheaper than a second map.
        if let Some(i) = self.notes.iter().position(|n| &**n == text) {
            return i as u32;
        }
        self.notes.push(text.into());
        (self.notes.len() - 1) as u32
    }

    /// Everything known about `host` (a DNS name, SNI or `Host` header value, any case, with
    /// or without trailing dot or `:port`). Never fails: what cannot be a host name gives an
    /// empty answer.
    pub fn lookup(&self, host: &str) -> DomainInfo<'_> {
        let mut buf = [0u8; MAX_NAME];
        let Some(name) = normalize(host, &mut buf) else {
            return DomainInfo::default();
        };
        let reg = registrable(name);
        let mut info = DomainInfo {
            registrable: reg.icann.map(str::to_owned),
            hosted: reg.hosted.map(str::to_owned),
            ..DomainInfo::default()
        };
        // Walk from the whole name down to the registrable domain (or to two labels when the
        // suffix is unknown): keys are never single labels or ICANN suffixes, so nothing
        // shorter can match.
        let stop = reg.icann.map_or(usize::MAX, |r| name.len() - r.len());
        let mut start = 0usize;
        let mut org_depth = None;
        let mut category_note = None;
        loop {
            let candidate = &name[start..];
            let Some(dot) = candidate.find('.') else { break };
            if let Some((key, e)) = self.names.get_key_value(candidate) {
                if info.matched.is_none() {
                    info.matched = Some(key);
                }
                if info.listed_in.is_none() {
                    info.listed_in = e.list.map(|l| self.lists[l as usize].name.as_str());
                }
                if info.category.is_none() && e.category.is_some() {
                    info.category = e.category;
                    category_note = e.note;
                }
                if let Some(o) = e.org {
                    info.org = Some(&self.orgs[o as usize]);
                    info.source = e.note.map(|n| &*self.notes[n as usize]);
                    info.matched = Some(key);
                    org_depth = Some(start);
                    break;
                }
            }
            if start >= stop {
                break;
            }
            start += dot + 1;
        }
        if info.org.is_none() {
            info.source = category_note.map(|n| &*self.notes[n as usize]);
        }
        self.apply_tenant(name, org_depth, &mut info);
        info
    }

    /// A cloud customer named by a token of the host's first label. Applies when no key more
    /// specific than the cloud suffix named an organisation.
    fn apply_tenant<'s>(&'s self, name: &str, org_depth: Option<usize>, info: &mut DomainInfo<'s>) {
        if self.tenants.is_empty() {
            return;
        }
        let Some((first, _)) = name.split_once('.') else { return };
        for t in &self.tenants {
            let Some(head) = name.strip_suffix(&*t.cloud).and_then(|h| h.strip_suffix('.')) else {
                continue;
            };
            if org_depth.is_some_and(|d| d < head.len() + 1) || head.is_empty() {
                continue; // a more specific key already named the organisation
            }
            if first.split('-').any(|tok| tok == &*t.token) {
                info.org = t.entry.org.map(|o| &self.orgs[o as usize]);
                info.category = t.entry.category;
                info.source = t.entry.note.map(|n| &*self.notes[n as usize]);
                info.matched = Some(&t.cloud);
                info.by_tenant_label = true;
                return;
            }
        }
    }

    /// The company a name refers to: its display name, legal name or an alias in the table
    /// ("MIUI", "Redmi" and "Xiaomi Corporation" are Xiaomi), or a company a user list added.
    pub fn company(&self, name: &str) -> Option<&Org> {
        let key = company_key(name);
        self.companies.get(&key).map(|&i| &self.orgs[i as usize])
    }

    /// Whether `org` is first party relative to `vendor` (the device maker from the profile,
    /// or an app's organisation): the same company, or companies under the same top parent
    /// (Google and Nest under Alphabet; Meta and WhatsApp; OPPO, OnePlus and realme; see
    /// docs/ATTRIBUTION.md for the judgement calls). A vendor the table does not know is
    /// compared by name with the organisation, its legal name and its parent.
    pub fn is_first_party(&self, org: &Org, vendor: &str) -> bool {
        let key = company_key(vendor);
        if key.is_empty() {
            return false;
        }
        if let Some(&v) = self.companies.get(&key) {
            return self.orgs[v as usize].family == org.family;
        }
        [Some(&org.name), org.legal_name.as_ref(), org.parent.as_ref()]
            .into_iter()
            .flatten()
            .any(|n| company_key(n) == key)
    }

    /// The user lists applied so far, in order, with what each contributed.
    pub fn lists(&self) -> &[ListReport] {
        &self.lists
    }

    /// What the database holds.
    pub fn stats(&self) -> DbStats {
        DbStats {
            orgs: self.orgs.len(),
            names: self.names.len(),
            tenant_rules: self.tenants.len(),
            lists: self.lists.len(),
        }
    }

    /// Reads a user list (format given or detected) and merges it over what is already
    /// loaded. Fails only when the whole input cannot be read (too big, not the given format,
    /// format not recognised); bad lines and entries are skipped and counted in the report.
    pub fn add_list(&mut self, src: ListSource<'_>) -> Result<ListReport, ListError> {
        if self.lists.len() >= u32::MAX as usize {
            return Err(ListError::TooMany);
        }
        let parsed = lists::parse(&src)?;
        let report = self.merge(&src, parsed);
        self.lists.push(report.clone());
        Ok(report)
    }

    fn merge(&mut self, src: &ListSource<'_>, parsed: Parsed) -> ListReport {
        let list_idx = self.lists.len() as u32;
        let mut report = ListReport { name: src.name.to_owned(), format: parsed.format, ..parsed.report };
        let note = self.note(&format!("user list {} ({})", src.name, parsed.format.as_str()));
        let default_org = src.org.map(|name| RawOrg { name: name.to_owned(), ..RawOrg::default() });
        // Organisations the list defines, resolved once each.
        let mut resolved: Vec<Option<u32>> = Vec::with_capacity(parsed.orgs.len());
        for raw in &parsed.orgs {
            resolved.push(self.resolve_org(raw, note, &mut report));
        }
        let default_org = default_org.and_then(|raw| self.resolve_org(&raw, note, &mut report));
        let mut buf = [0u8; MAX_NAME];
        for e in parsed.entries {
            let Some(key) = normalize(&e.domain, &mut buf) else {
                report.skipped_invalid += 1;
                continue;
            };
            if !key.contains('.') || is_icann_suffix(key) {
                report.skipped_suffix += 1;
                continue;
            }
            let org = e.org.and_then(|i| resolved.get(i as usize).copied().flatten()).or(default_org);
            let category = e.category.or(src.category);
            let slot = self.names.entry(key.into()).or_default();
            if org.is_some() {
                // A different company brings its own category (possibly none); the same
                // company named again (an entity list) keeps the category already known.
                if slot.org != org || category.is_some() {
                    slot.category = category;
                }
                slot.org = org;
                slot.note = Some(note);
            } else if category.is_some() {
                slot.category = category;
                if slot.org.is_none() {
                    slot.note = Some(note);
                }
            }
            slot.list = Some(list_idx);
            report.entries += 1;
        }
        report
    }

    /// Finds or adds the organisation a list names. A name the table knows (by name, legal
    /// name or alias) is that company, so it keeps the table's country and parent unless the
    /// list says otherwise; a different country or parent from the list makes a new record
    /// (the list wins) that stays in the same family.
    fn resolve_org(&mut self, raw: &RawOrg, note: u32, report: &mut ListReport) -> Option<u32> {
        let key = company_key(&raw.name);
        if key.is_empty() {
            return None;
        }
        let known = self
            .companies
            .get(&key)
            .copied()
            .or_else(|| raw.legal_name.as_deref().and_then(|l| self.companies.get(&company_key(l)).copied()));
        let parent_idx = raw.parent.as_deref().and_then(|p| self.companies.get(&company_key(p)).copied());
        if let Some(k) = known {
            let o = &self.orgs[k as usize];
            let differs = raw.country.as_ref().is_some_and(|c| Some(c) != o.country.as_ref())
                || raw.parent.as_ref().is_some_and(|p| {
                    o.parent.as_deref().map(company_key) != Some(company_key(p)) && company_key(p) != key
                });
            if !differs {
                return Some(k);
            }
            let mut copy = o.clone();
            if raw.country.is_some() {
                copy.country = raw.country.clone();
            }
            if let Some(p) = &raw.parent {
                copy.parent = Some(p.clone());
                // The list's parent decides the family too, when we know that parent.
                if let Some(pi) = parent_idx {
                    copy.family = self.orgs[pi as usize].family;
                }
            }
            copy.source = self.notes[note as usize].to_string();
            self.orgs.push(copy);
            return Some((self.orgs.len() - 1) as u32);
        }
        let idx = self.orgs.len() as u32;
        let family = parent_idx.map_or(idx, |p| self.orgs[p as usize].family);
        self.orgs.push(Org {
            name: raw.name.clone(),
            legal_name: raw.legal_name.clone(),
            parent: raw.parent.clone(),
            country: raw.country.clone(),
            source: self.notes[note as usize].to_string(),
            family,
        });
        self.companies.insert(key, idx);
        report.orgs_added += 1;
        Some(idx)
    }
}

/// Checks and normalises a key of the embedded table.
fn table_key(d: &str) -> Result<String, &'static str> {
    let mut buf = [0u8; MAX_NAME];
    let key = normalize(d, &mut buf).ok_or("not a host name")?;
    if key != d {
        return Err("not in normal form (lower case, no trailing dot)");
    }
    if !key.contains('.') || is_icann_suffix(key) {
        return Err("a public suffix or single label");
    }
    Ok(key.to_owned())
}

//! Readers for the tracker and entity lists users bring (`--trackers FILE`).
//!
//! Each reader is a pure function from the file's bytes to domain → (organisation?,
//! category?) entries; [`super::DomainDb::add_list`] merges them. Readers are lenient about
//! content (a bad line or record is skipped and counted) and strict about size (input and
//! entry caps), and never panic: user files are not hostile like traffic, but they are big,
//! old, hand-edited and sometimes not what their name says.
//!
//! Formats and their quirks (samples in tests/data/lists):
//!
//! | format | what is read | quirks handled |
//! |---|---|---|
//! | `hosts` | `ADDRESS NAME [NAME...] [# comment]` | trailing comments, IPv6 and broadcast preamble, `localhost` lines, up to 9+ names per line (HaGeZi "compressed"), HaGeZi canary names |
//! | `domains` | one name per line (`*.` prefix allowed), `#`/`!` comments | commented-out names with reasons (Perflyst), canaries |
//! | `adblock` | `\|\|name^` rules and plain names; options allowed except `badfilter` | cosmetic, exception, regex and path rules are skipped; Ghostery's `trackerdb.txt` comment lines give the next rule's category |
//! | `disconnect-services` | `categories.<Cat>[].<Service>.<url>[]` → org Service, category from Cat | TrackerControl's character-reversed copy |
//! | `disconnect-entities` | `entities.<Name>.properties/resources[]` → org Name | |
//! | `ddg-tds` | `trackers.<domain>.owner`/`categories`, `entities.<name>.domains`, `domains` | web v6, app (Android) TDS, TrackerControl's trimmed copy |
//! | `ddg-radar-domain` | one Tracker Radar domain file: `domain`, `owner`, `categories` | |
//! | `ddg-radar-entity` | one Tracker Radar entity file: `name`, `displayName`, `properties[]` | file names are legal names: the name inside is used |
//! | `ghostery` | TrackerDB JSON: `patterns` (category, organization, domains), `organizations` (name, country), `domains` | |
//! | `xray` | X-Ray company list: `owner_name`, `parent`, `root_parent`, `country`, `doms[]` | lower-case countries, `uk` for GB |

use serde_json::Value;

use super::org::Category;

/// Largest list file read (bytes). The biggest real lists are a few MB (StevenBlack's
/// unified hosts: 2.5 MB; DuckDuckGo's web TDS: 2.3 MB); 256 MiB leaves room for
/// concatenations while bounding memory.
pub const MAX_LIST_BYTES: usize = 256 << 20;
/// Most entries taken from one list; the rest are counted in [`ListReport::truncated`].
pub const MAX_LIST_ENTRIES: usize = 4_000_000;

/// The list formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// hosts file (`0.0.0.0 name`).
    Hosts,
    /// One domain per line.
    #[default]
    Domains,
    /// AdBlock Plus / AdGuard / uBlock filter list (domain rules only).
    Adblock,
    /// Disconnect `services.json` (also TrackerControl's reversed copy).
    DisconnectServices,
    /// Disconnect `entities.json`.
    DisconnectEntities,
    /// DuckDuckGo Tracker Data Set (web or app TDS).
    DdgTds,
    /// One DuckDuckGo Tracker Radar domain file (`domains/<region>/<domain>.json`).
    DdgRadarDomain,
    /// One DuckDuckGo Tracker Radar entity file (`entities/<legal name>.json`).
    DdgRadarEntity,
    /// Ghostery TrackerDB JSON export (`trackerdb.json`).
    Ghostery,
    /// X-Ray 2020 company list (as shipped by TrackerControl).
    Xray,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 10] = [
        Format::Hosts,
        Format::Domains,
        Format::Adblock,
        Format::DisconnectServices,
        Format::DisconnectEntities,
        Format::DdgTds,
        Format::DdgRadarDomain,
        Format::DdgRadarEntity,
        Format::Ghostery,
        Format::Xray,
    ];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Domains => "domains",
            Format::Adblock => "adblock",
            Format::DisconnectServices => "disconnect-services",
            Format::DisconnectEntities => "disconnect-entities",
            Format::DdgTds => "ddg-tds",
            Format::DdgRadarDomain => "ddg-radar-domain",
            Format::DdgRadarEntity => "ddg-radar-entity",
            Format::Ghostery => "ghostery",
            Format::Xray => "xray",
        }
    }

    /// Parses a name from [`Format::as_str`].
    pub fn parse(s: &str) -> Option<Format> {
        let s = s.trim().to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user list to load: its bytes, a name for reports, and what to assume where the format
/// says nothing.
#[derive(Debug, Clone, Copy)]
pub struct ListSource<'a> {
    /// Shown in reports and in [`super::DomainInfo::listed_in`] (usually the file name).
    pub name: &'a str,
    /// The file's contents.
    pub data: &'a [u8],
    /// The format, or `None` to detect it from the content.
    pub format: Option<Format>,
    /// Category for entries the list does not categorise (a hosts file of ad servers).
    pub category: Option<Category>,
    /// Organisation for entries the list does not attribute (a vendor's telemetry list).
    pub org: Option<&'a str>,
}

impl<'a> ListSource<'a> {
    /// A list with its format to be detected and no defaults.
    pub fn new(name: &'a str, data: &'a [u8]) -> Self {
        ListSource { name, data, format: None, category: None, org: None }
    }
    /// Sets the format instead of detecting it.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }
    /// Sets the category of entries that have none.
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }
    /// Sets the organisation of entries that have none.
    pub fn org(mut self, org: &'a str) -> Self {
        self.org = Some(org);
        self
    }
}

/// What loading one list did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReport {
    /// The list's name.
    pub name: String,
    /// The format read (given or detected).
    pub format: Format,
    /// The file was stored character-reversed (TrackerControl's Disconnect copy).
    pub reversed: bool,
    /// Name keys taken.
    pub entries: u64,
    /// Organisations the table did not know.
    pub orgs_added: u64,
    /// Lines or names that are not host names.
    pub skipped_invalid: u64,
    /// Names that are public suffixes or single labels (`com`, `localhost`).
    pub skipped_suffix: u64,
    /// Canary names (HaGeZi's `h4g3z1-…`), which exist to test that a list is active.
    pub skipped_canary: u64,
    /// Rules that are not about a whole host (paths, cosmetic, exceptions, regexes).
    pub skipped_rules: u64,
    /// Entries beyond [`MAX_LIST_ENTRIES`].
    pub truncated: u64,
}

/// Why a list could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// Larger than [`MAX_LIST_BYTES`].
    #[error("list {name}: {size} bytes is over the {max}-byte cap")]
    TooBig {
        /// The list's name.
        name: String,
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The format could not be recognised; give it explicitly.
    #[error(
        "list {0}: format not recognised (give one of: hosts, domains, adblock, disconnect-services, disconnect-entities, ddg-tds, ddg-radar-domain, ddg-radar-entity, ghostery, xray)"
    )]
    Unrecognised(String),
    /// A JSON format was given or detected but the content is not JSON of that shape.
    #[error("list {name}: not a {format} file: {why}")]
    Shape {
        /// The list's name.
        name: String,
        /// The format expected.
        format: Format,
        /// What was wrong.
        why: String,
    },
    /// More lists than a database can index.
    #[error("too many lists")]
    TooMany,
}

/// An organisation as a list describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawOrg {
    pub name: String,
    pub legal_name: Option<String>,
    pub parent: Option<String>,
    pub country: Option<String>,
}

/// One name from a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub domain: String,
    /// Index into [`Parsed::orgs`].
    pub org: Option<u32>,
    pub category: Option<Category>,
}

/// A list read into entries, before merging.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub format: Format,
    pub orgs: Vec<RawOrg>,
    pub entries: Vec<RawEntry>,
    pub report: ListReport,
}

impl Parsed {
    fn push(&mut self, domain: &str, org: Option<u32>, category: Option<Category>) {
        if self.entries.len() >= MAX_LIST_ENTRIES {
            self.report.truncated += 1;
            return;
        }
        let domain = domain.trim().trim_start_matches("*.");
        if is_canary(domain) {
            self.report.skipped_canary += 1;
            return;
        }
        self.entries.push(RawEntry { domain: domain.to_owned(), org, category });
    }

    /// Adds an organisation (deduplicated by exact name within the list) and returns its index.
    fn org(&mut self, org: RawOrg) -> Option<u32> {
        if org.name.trim().is_empty() {
            return None;
        }
        if let Some(i) = self.orgs.iter().rposition(|o| *o == org) {
            return Some(i as u32);
        }
        self.orgs.push(org);
        Some((self.orgs.len() - 1) as u32)
    }
}

/// HaGeZi's lists carry `h4g3z1-<list>.<vendor>.web.app`-style names so users can check that
/// blocking works; they are not the vendor's.
fn is_canary(domain: &str) -> bool {
    domain.len() >= 6 && domain.as_bytes()[..6].eq_ignore_ascii_case(b"h4g3z1")
}

/// Reads a list into entries (format given or detected).
pub(crate) fn parse(src: &super::ListSource<'_>) -> Result<Parsed, ListError> {
    if src.data.len() > MAX_LIST_BYTES {
        return Err(ListError::TooBig { name: src.name.to_owned(), size: src.data.len(), max: MAX_LIST_BYTES });
    }
    let data = src.data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(src.data);
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim();
    // TrackerControl ships Disconnect's services.json reversed character by character.
    let reversed =
        (trimmed.starts_with('}') && trimmed.ends_with('{')) || (trimmed.starts_with(']') && trimmed.ends_with('['));
    let owned;
    let text: &str = if reversed {
        owned = trimmed.chars().rev().collect::<String>();
        &owned
    } else {
        &text
    };
    let looks_json = text.trim_start().starts_with(['{', '[']);
    let json = if looks_json || src.format.is_some_and(is_json_format) {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) if src.format.is_some_and(is_json_format) => {
                return Err(shape(src, src.format.unwrap_or_default(), format!("JSON: {e}")));
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let format = match src.format {
        Some(f) => f,
        None => match &json {
            Some(v) => detect_json(v).ok_or_else(|| ListError::Unrecognised(src.name.to_owned()))?,
            None => detect_text(text),
        },
    };
    let mut p = Parsed { format, ..Parsed::default() };
    p.report.format = format;
    p.report.reversed = reversed;
    match (format, json) {
        (Format::Hosts | Format::Domains, _) => read_lines(text, format, &mut p),
        (Format::Adblock, _) => read_adblock(text, &mut p),
        (f, Some(v)) => read_json(&v, f, &mut p).map_err(|why| shape(src, f, why))?,
        (f, None) => return Err(shape(src, f, "not JSON".into())),
    }
    Ok(p)
}

fn shape(src: &super::ListSource<'_>, format: Format, why: String) -> ListError {
    ListError::Shape { name: src.name.to_owned(), format, why }
}

fn is_json_format(f: Format) -> bool {
    !matches!(f, Format::Hosts | Format::Domains | Format::Adblock)
}

/// Text lists: hosts if most data lines start with an address, AdBlock if any line is an
/// AdBlock header or `||` rule, else one domain per line.
fn detect_text(text: &str) -> Format {
    let (mut data, mut with_address) = (0u32, 0u32);
    for line in text.lines().take(5000) {
        let line = line.trim();
        if line.starts_with("[Adblock") || line.starts_with("||") || line.starts_with("@@") {
            return Format::Adblock;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        data += 1;
        if line.split_whitespace().next().is_some_and(is_address) {
            with_address += 1;
        }
    }
    if data > 0 && with_address * 2 >= data { Format::Hosts } else { Format::Domains }
}

fn is_address(tok: &str) -> bool {
    // `fe80::1%lo0` (a scoped IPv6 address, in StevenBlack's preamble) has a zone suffix.
    let tok = tok.split('%').next().unwrap_or(tok);
    tok.parse::<std::net::IpAddr>().is_ok()
}

/// The names a hosts file maps to the local machine itself rather than to a blocked host.
const HOSTS_SELF: &[&str] = &["localhost.localdomain", "ip6-localhost", "ip6-loopback", "ip6-localnet"];

fn read_lines(text: &str, format: Format, p: &mut Parsed) {
    for line in text.lines() {
        // `#` starts a comment anywhere (StevenBlack's trailing comments); `!` only at the
        // start (some domain lists use AdBlock-style headers).
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('!') {
            continue;
        }
        let mut toks = line.split_whitespace();
        let Some(first) = toks.next() else { continue };
        if is_address(first) {
            for name in toks {
                if HOSTS_SELF.contains(&name) || name.starts_with("ip6-") {
                    p.report.skipped_suffix += 1;
                } else {
                    p.push(name, None, None);
                }
            }
        } else if format == Format::Domains && toks.next().is_none() {
            p.push(first, None, None);
        } else {
            p.report.skipped_invalid += 1;
        }
    }
}

/// Ghostery's TrackerDB categories (also used by its `trackerdb.txt` comments).
fn ghostery_category(c: &str) -> Option<Category> {
    match c {
        "advertising" | "pornvertising" => Some(Category::Advertising),
        "site_analytics" => Some(Category::Analytics),
        "hosting" | "cdn" => Some(Category::CdnCloud),
        _ => None, // audio_video_player, consent, customer_interaction, extensions, misc, social_media, utilities
    }
}

fn read_adblock(text: &str, p: &mut Parsed) {
    let mut pending: Option<Category> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('[') {
            continue;
        }
        if let Some(comment) = line.strip_prefix('!') {
            // Ghostery's trackerdb.txt: "! trackerdb_id:X trackerdb_category:advertising ...".
            pending = comment
                .split_whitespace()
                .find_map(|w| w.strip_prefix("trackerdb_category:"))
                .and_then(ghostery_category);
            continue;
        }
        let category = pending.take();
        if line.starts_with("@@")
            || line.contains("##")
            || line.contains("#@#")
            || line.contains("#?#")
            || line.contains("#$#")
            || line.contains("#%#")
            || line.starts_with('/')
            || line.starts_with('#')
        {
            p.report.skipped_rules += 1;
            continue;
        }
        let (body, options) = match line.split_once('$') {
            Some((b, o)) => (b, o),
            None => (line, ""),
        };
        if options.split(',').any(|o| o.trim() == "badfilter") {
            p.report.skipped_rules += 1;
            continue;
        }
        let host = if let Some(rest) = body.strip_prefix("||") {
            // `||host^` or `||host` (to the end); a path or wildcard after it makes it a URL rule.
            let host = rest.strip_suffix('|').unwrap_or(rest);
            host.strip_suffix('^').unwrap_or(host)
        } else if body.starts_with('|') {
            p.report.skipped_rules += 1;
            continue;
        } else {
            body
        };
        if host.is_empty() || host.contains(['/', '*', '^', '|', '?', '=', '&', ':', ' ']) {
            p.report.skipped_rules += 1;
            continue;
        }
        // A plain pattern such as `-analytics.` or `.gif` is a URL substring, not a host.
        if host.starts_with(['.', '-', '_']) || host.ends_with(['.', '-']) || !host.contains('.') {
            p.report.skipped_rules += 1;
            continue;
        }
        p.push(host, None, category);
    }
}

fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// ISO 3166-1 alpha-2, upper case; `uk` (X-Ray) is `GB`.
fn country(c: Option<&str>) -> Option<String> {
    let c = c?.trim().to_ascii_uppercase();
    let c = if c == "UK" { "GB".to_owned() } else { c };
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())).then_some(c)
}

fn detect_json(v: &Value) -> Option<Format> {
    if let Some(arr) = v.as_array() {
        let first = arr.iter().find(|x| x.is_object())?;
        return (first.get("owner_name").is_some() || first.get("doms").is_some()).then_some(Format::Xray);
    }
    let o = v.as_object()?;
    if o.contains_key("organizations") && o.contains_key("patterns") {
        return Some(Format::Ghostery);
    }
    if o.contains_key("trackers") {
        return Some(Format::DdgTds);
    }
    if o.get("categories").is_some_and(Value::is_object) {
        return Some(Format::DisconnectServices);
    }
    if o.get("entities").is_some_and(Value::is_object) {
        return Some(Format::DisconnectEntities);
    }
    if o.get("domain").is_some_and(Value::is_string) && o.contains_key("owner") {
        return Some(Format::DdgRadarDomain);
    }
    if o.get("name").is_some_and(Value::is_string) && o.get("properties").is_some_and(Value::is_array) {
        return Some(Format::DdgRadarEntity);
    }
    None
}

fn read_json(v: &Value, format: Format, p: &mut Parsed) -> Result<(), String> {
    match format {
        Format::DisconnectServices => disconnect_services(v, p),
        Format::DisconnectEntities => disconnect_entities(v, p),
        Format::DdgTds => ddg_tds(v, p),
        Format::DdgRadarDomain => ddg_radar_domain(v, p),
        Format::DdgRadarEntity => ddg_radar_entity(v, p),
        Format::Ghostery => ghostery(v, p),
        Format::Xray => xray(v, p),
        Format::Hosts | Format::Domains | Format::Adblock => Ok(()),
    }
}

fn disconnect_category(c: &str) -> Option<Category> {
    match c {
        "Advertising" => Some(Category::Advertising),
        "Analytics" => Some(Category::Analytics),
        // Content, Social, Disconnect, Fingerprinting*, Cryptomining, Email*, Anti-fraud,
        // ConsentManagers: no category of ours says the same thing.
        _ => None,
    }
}

fn disconnect_services(v: &Value, p: &mut Parsed) -> Result<(), String> {
    let cats = v.get("categories").and_then(Value::as_object).ok_or("no \"categories\" object")?;
    for (cat, services) in cats {
        let category = disconnect_category(cat);
        for service in services.as_array().into_iter().flatten() {
            for (name, sites) in service.as_object().into_iter().flatten() {
                let org = p.org(RawOrg { name: name.trim().to_owned(), ..RawOrg::default() });
                // {homepage: [domains], "dnt": "eff", "performance": "true", ...}
                for domains in sites.as_object().into_iter().flat_map(|m| m.values()) {
                    for d in domains.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        p.push(d, org, category);
                    }
                }
            }
        }
    }
    Ok(())
}

fn disconnect_entities(v: &Value, p: &mut Parsed) -> Result<(), String> {
    let ents = v.get("entities").and_then(Value::as_object).ok_or("no \"entities\" object")?;
    for (name, e) in ents {
        let org = p.org(RawOrg { name: name.trim().to_owned(), ..RawOrg::default() });
        for key in ["properties", "resources"] {
            for d in e.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                p.push(d, org, None);
            }
        }
    }
    Ok(())
}

/// DuckDuckGo's categories, the most telling first.
fn ddg_category(cats: Option<&Value>) -> Option<Category> {
    let cats: Vec<&str> = cats.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let has = |names: &[&str]| cats.iter().any(|c| names.contains(c));
    if has(&["Advertising", "Ad Motivated Tracking", "Action Pixels", "Ad Fraud"]) {
        Some(Category::Advertising)
    } else if has(&["Analytics", "Audience Measurement", "Third-Party Analytics Marketing", "Session Replay"]) {
        Some(Category::Analytics)
    } else if has(&["CDN", "Content Delivery"]) {
        Some(Category::CdnCloud)
    } else {
        None
    }
}

/// DuckDuckGo owners: `displayName` is what people call the company, `name` the legal name,
/// and `ownedBy` (web TDS v6) the parent ("Google Analytics" is owned by "Google LLC").
fn ddg_owner(owner: &Value) -> Option<RawOrg> {
    let legal = str_of(owner, "name");
    let display = str_of(owner, "displayName").or(legal)?;
    Some(RawOrg {
        name: display.to_owned(),
        legal_name: legal.filter(|l| *l != display).map(str::to_owned),
        parent: str_of(owner, "ownedBy").map(str::to_owned),
        ..RawOrg::default()
    })
}

fn ddg_tds(v: &Value, p: &mut Parsed) -> Result<(), String> {
    let trackers = v.get("trackers").and_then(Value::as_object).ok_or("no \"trackers\" object")?;
    let entities = v.get("entities").and_then(Value::as_object);
    let entity_org = |p: &mut Parsed, name: &str| {
        let display = entities.and_then(|e| e.get(name)).and_then(|e| str_of(e, "displayName")).unwrap_or(name);
        p.org(RawOrg {
            name: display.to_owned(),
            legal_name: (display != name).then(|| name.to_owned()),
            ..RawOrg::default()
        })
    };
    // Entity properties first, so that tracker entries (with categories) win for the same key.
    for (name, e) in entities.into_iter().flatten() {
        let domains: Vec<&str> =
            e.get("domains").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        if domains.is_empty() {
            continue;
        }
        let org = entity_org(p, name);
        for d in domains {
            p.push(d, org, None);
        }
    }
    for (d, entity) in v.get("domains").and_then(Value::as_object).into_iter().flatten() {
        if let Some(name) = entity.as_str() {
            let org = entity_org(p, name);
            p.push(d, org, None);
        }
    }
    for (d, t) in trackers {
        let org = t.get("owner").and_then(ddg_owner).and_then(|o| p.org(o));
        p.push(d, org, ddg_category(t.get("categories")));
    }
    Ok(())
}

fn ddg_radar_domain(v: &Value, p: &mut Parsed) -> Result<(), String> {
    let d = str_of(v, "domain").ok_or("no \"domain\"")?;
    let org = v.get("owner").and_then(ddg_owner).and_then(|o| p.org(o));
    p.push(d, org, ddg_category(v.get("categories")));
    Ok(())
}

fn ddg_radar_entity(v: &Value, p: &mut Parsed) -> Result<(), String> {
    // The file is named after the legal name; the name inside is authoritative.
    let legal = str_of(v, "name").ok_or("no \"name\"")?;
    let display = str_of(v, "displayName").unwrap_or(legal);
    let org = p.org(RawOrg {
        name: display.to_owned(),
        legal_name: (legal != display).then(|| legal.to_owned()),
        ..RawOrg::default()
    });
    for d in v.get("properties").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        p.push(d, org, None);
    }
    Ok(())
}

fn ghostery(v: &Value, p: &mut Parsed) -> Result<(), String> {
    let patterns = v.get("patterns").and_then(Value::as_object).ok_or("no \"patterns\" object")?;
    let orgs = v.get("organizations").and_then(Value::as_object);
    let pattern_of = |p: &mut Parsed, id: &str| -> (Option<u32>, Option<Category>) {
        let Some(pat) = patterns.get(id) else { return (None, None) };
        let category = str_of(pat, "category").and_then(ghostery_category);
        let org = str_of(pat, "organization")
            .and_then(|oid| orgs.and_then(|o| o.get(oid)))
            .and_then(|o| {
                Some(RawOrg {
                    name: str_of(o, "name")?.to_owned(),
                    country: country(str_of(o, "country")),
                    ..RawOrg::default()
                })
            })
            .and_then(|o| p.org(o));
        (org, category)
    };
    // `domains` maps each domain to its pattern; older exports only list them per pattern.
    if let Some(domains) = v.get("domains").and_then(Value::as_object) {
        for (d, id) in domains {
            if let Some(id) = id.as_str() {
                let (org, cat) = pattern_of(p, id);
                p.push(d, org, cat);
            }
        }
    } else {
        for (id, pat) in patterns {
            let (org, cat) = pattern_of(p, id);
            for d in pat.get("domains").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                p.push(d, org, cat);
            }
        }
    }
    Ok(())
}

fn xray(v: &Value, p: &mut Parsed) -> Result<(), String> {
    let arr = v.as_array().ok_or("not a JSON array")?;
    for c in arr {
        let Some(name) = str_of(c, "owner_name") else {
            p.report.skipped_invalid += 1;
            continue;
        };
        // The root parent decides the family (first party); the direct parent is shown.
        let parent = str_of(c, "root_parent").or(str_of(c, "parent")).filter(|&pa| pa != name);
        let org = p.org(RawOrg {
            name: name.to_owned(),
            parent: parent.map(str::to_owned),
            country: country(str_of(c, "country")),
            ..RawOrg::default()
        });
        for d in c.get("doms").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            p.push(d, org, None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_as(text: &str, format: Option<Format>) -> Parsed {
        let src = ListSource { name: "t", data: text.as_bytes(), format, category: None, org: None };
        parse(&src).unwrap()
    }

    fn names(p: &Parsed) -> Vec<&str> {
        p.entries.iter().map(|e| e.domain.as_str()).collect()
    }

    #[test]
    fn hosts_lines() {
        let p = parse_as(
            "# c\n127.0.0.1 localhost\n::1 localhost ip6-localhost\nfe80::1%lo0 localhost\n255.255.255.255 broadcasthost\n\
             0.0.0.0 a.example.com # trailing\n0.0.0.0 b.example.com c.example.com\n0.0.0.0 h4g3z1-native.xiaomi.web.app\n",
            None,
        );
        assert_eq!(p.format, Format::Hosts);
        assert_eq!(
            names(&p),
            ["localhost", "localhost", "localhost", "broadcasthost", "a.example.com", "b.example.com", "c.example.com"]
        );
        assert_eq!(p.report.skipped_canary, 1);
        assert_eq!(p.report.skipped_suffix, 1, "ip6-localhost");
    }

    #[test]
    fn domains_and_adblock_detection() {
        let p = parse_as("# Title: x\nexample.com\n*.example.org\n# commented.example.net # why\n", None);
        assert_eq!(p.format, Format::Domains);
        assert_eq!(names(&p), ["example.com", "example.org"]);
        let p = parse_as(
            "[Adblock Plus 1.1]\n! c\n||ads.example.com^\n||t.example.com^$third-party\n@@||ok.example.com^\n\
             example.com##.ad\n/0.gif?\n||x.example.com/pixel\n-analytics.\nplain.example.net\n||bad.example.com^$badfilter\n",
            None,
        );
        assert_eq!(p.format, Format::Adblock);
        assert_eq!(names(&p), ["ads.example.com", "t.example.com", "plain.example.net"]);
        assert_eq!(p.report.skipped_rules, 6);
    }

    #[test]
    fn trackerdb_txt_comments_give_categories() {
        let p = parse_as(
            "! trackerdb_id:a trackerdb_category:advertising trackerdb_domain\n||ads.example.com^\n||nocat.example.com^\n",
            None,
        );
        assert_eq!(p.entries[0].category, Some(Category::Advertising));
        assert_eq!(p.entries[1].category, None);
    }

    #[test]
    fn reversed_json_is_read() {
        let fwd = r#"{"license":"x","categories":{"Analytics":[{"Acme":{"https://acme.example/":["acme.example"]}}]}}"#;
        let rev: String = fwd.chars().rev().collect();
        let p = parse_as(&rev, None);
        assert!(p.report.reversed);
        assert_eq!(p.format, Format::DisconnectServices);
        assert_eq!(names(&p), ["acme.example"]);
        assert_eq!(p.entries[0].category, Some(Category::Analytics));
        assert_eq!(p.orgs[0].name, "Acme");
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        for (text, f) in [
            ("[1,2]", Format::Ghostery),
            ("{}", Format::DdgTds),
            ("nope", Format::Xray),
            ("{\"a\":1}", Format::DdgRadarDomain),
        ] {
            let src = ListSource { name: "t", data: text.as_bytes(), format: Some(f), category: None, org: None };
            assert!(parse(&src).is_err(), "{text} as {f}");
        }
        let src = ListSource::new("t", b"{\"what\": 1}");
        assert!(matches!(parse(&src), Err(ListError::Unrecognised(_))));
    }

    #[test]
    fn countries_are_normalised() {
        assert_eq!(country(Some("uk")).as_deref(), Some("GB"));
        assert_eq!(country(Some("us")).as_deref(), Some("US"));
        assert_eq!(country(Some("USA")), None);
        assert_eq!(country(Some("")), None);
    }
}

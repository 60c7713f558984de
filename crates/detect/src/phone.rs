//! Phone numbers through libphonenumber's metadata, built one country calling code at a time.
//!
//! The `phonenumber` crate parses against one database of every territory, built the first
//! time any number is parsed: compiling the patterns of all 254 territories costs about
//! 600 M instructions (0.15-0.2 s), which was most of a small capture's run and 15 % of a
//! 159 MB one. A capture names a handful of countries, so we ship the same metadata (the
//! crate's `assets/PhoneNumberMetadata.xml`, `data/README.md`) and give the crate a
//! [`Database`] holding only the territories of one calling code, built on its first use.
//! Calling codes are prefix-free, so the code of an international number is found from its
//! first one to three digits before anything is parsed.
//!
//! `tests` checks that every example number of every territory parses, validates and formats
//! here exactly as with the crate's own database, which catches a copy of the XML that no
//! longer matches the crate's version.

use phonenumber::PhoneNumber;
use phonenumber::country::Id;
use phonenumber::metadata::Database;
use std::collections::HashMap;
use std::sync::OnceLock;

/// libphonenumber's territories (Apache-2.0), the same file the `phonenumber` crate embeds.
const XML: &str = include_str!("../data/PhoneNumberMetadata.xml");

/// A number libphonenumber considers valid, with the territory metadata it was checked
/// against.
pub struct Phone {
    number: PhoneNumber,
    db: &'static Database,
}

impl Phone {
    /// `+6591234567`.
    pub fn e164(&self) -> String {
        format!("+{}{}", self.code(), self.number.national())
    }

    /// As dialled inside the country, formatted: `9123 4567`, `030 123456`.
    pub fn national(&self) -> String {
        self.format(false)
    }

    /// `+65 9123 4567`.
    pub fn international(&self) -> String {
        self.format(true)
    }

    /// The country calling code (65).
    pub fn code(&self) -> u16 {
        self.number.code().value()
    }

    /// The territory the number belongs to (the main one of its code when the number does
    /// not say).
    pub fn region(&self) -> Option<Id> {
        self.number.metadata(self.db).and_then(|m| m.id().parse().ok())
    }

    /// libphonenumber's formatting, as the crate's `Formatter` does it (the same rules in
    /// the same order; `tests` compares the two). Not through the crate: its `Display` for
    /// `Formatter` evaluates `unwrap_or(&DATABASE)` eagerly, which builds the database of
    /// every territory even when given ours.
    fn format(&self, international: bool) -> String {
        let code = self.code();
        let national = self.number.national().to_string();
        let Some(meta) = self.db.by_code(&code).and_then(|m| m.into_iter().next()) else {
            return format!("+{code}{national}");
        };
        let formats = if meta.international_formats().is_empty() || !international {
            meta.formats()
        } else {
            meta.international_formats()
        };
        let rule = formats.iter().find(|f| {
            // Same precedence as the crate: no leading-digits patterns means "applies".
            f.leading_digits().last().is_none_or(|l| {
                l.find(&national).is_some_and(|m| m.start() == 0)
                    && f.pattern().find(&national).is_some_and(|m| m.start() == 0 && m.end() == national.len())
            })
        });
        let mut out = match (international, rule) {
            (true, Some(rule)) => format!("+{code} {}", rule.pattern().replace(&national, rule.format())),
            (true, None) => format!("+{code} {national}"),
            (false, Some(rule)) => {
                let template = match rule.national_prefix() {
                    Some(prefix) => with_national_prefix(rule.format(), prefix, meta.national_prefix().unwrap_or("")),
                    None => rule.format().to_string(),
                };
                rule.pattern().replace(&national, template.as_str()).into_owned()
            }
            (false, None) => national,
        };
        if let Some(ext) = self.number.extension() {
            out.push_str(meta.preferred_extension_prefix().unwrap_or(" ext. "));
            out.push_str(ext.as_ref());
        }
        out
    }
}

/// A national format with its prefix rule applied: in `format` ("$1 $2"), the first group
/// reference becomes `rule` ("$NP$FG", "($FG)") with `$NP` the trunk prefix and `$FG` that
/// group: "0$1 $2".
fn with_national_prefix(format: &str, rule: &str, prefix: &str) -> String {
    let Some(at) = format.as_bytes().windows(2).position(|w| w[0] == b'$' && w[1].is_ascii_digit()) else {
        return format.to_string();
    };
    let group = &format[at..at + 2];
    let rule = rule.replace("$NP", prefix).replace("$FG", group).replace("$CC", "");
    format!("{}{rule}{}", &format[..at], &format[at + 2..])
}

/// Parses `text` and keeps it only if valid: international when it starts with `+`, else in
/// `region` (needed then). Other spellings (`00` prefixes, bare MSISDNs) are the caller's to
/// normalise, as `validate::valid_phone` does.
pub fn parse(text: &str, region: Option<Id>) -> Option<Phone> {
    let index = index();
    let code = match text.trim_start().strip_prefix('+') {
        Some(rest) => index.code_of(rest)?,
        None => *index.by_region.get(region?.as_ref())?,
    };
    let db = index.by_code.get(&code)?.database()?;
    let number = phonenumber::parse_with(db, region, text).ok()?;
    phonenumber::is_valid_with(db, &number).then_some(Phone { number, db })
}

/// Whether `region` is a territory libphonenumber has metadata for.
pub fn known_region(region: Id) -> bool {
    index().by_region.contains_key(region.as_ref())
}

struct Index {
    by_code: HashMap<u16, Code>,
    by_region: HashMap<&'static str, u16>,
}

/// The territories sharing one calling code (1: the US, Canada and 23 others) and their
/// database, compiled on first use. `None` if the crate rejects the metadata (never with the
/// shipped file; the test below parses every code).
struct Code {
    territories: Vec<&'static str>,
    db: OnceLock<Option<Database>>,
}

impl Code {
    fn database(&'static self) -> Option<&'static Database> {
        self.db
            .get_or_init(|| {
                let len = self.territories.iter().map(|t| t.len()).sum::<usize>();
                let mut doc = String::with_capacity(len + 64);
                doc.push_str("<phoneNumberMetadata><territories>");
                self.territories.iter().for_each(|t| doc.push_str(t));
                doc.push_str("</territories></phoneNumberMetadata>");
                Database::parse(doc).ok()
            })
            .as_ref()
    }
}

impl Index {
    /// The calling code the digits of `text` start with (separators such as `(65) 9123`
    /// skipped).
    fn code_of(&self, text: &str) -> Option<u16> {
        let mut code = 0u16;
        for d in text.bytes().filter(|b| !b" -.()".contains(b)).take(3) {
            if !d.is_ascii_digit() || (code == 0 && d == b'0') {
                return None; // no calling code starts with 0
            }
            code = code * 10 + u16::from(d - b'0');
            if self.by_code.contains_key(&code) {
                return Some(code);
            }
        }
        None
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| build_index(XML))
}

/// Cuts the file into its `<territory ...>...</territory>` elements by text search (a
/// millisecond; parsing XML is left to the crate, per code).
fn build_index(xml: &'static str) -> Index {
    let mut by_code: HashMap<u16, Code> = HashMap::new();
    let mut by_region = HashMap::new();
    let mut at = 0;
    while let Some(found) = xml[at..].find("<territory") {
        let start = at + found;
        let after = start + "<territory".len();
        if !xml[after..].starts_with(|c: char| c.is_ascii_whitespace()) {
            at = after; // <territories>
            continue;
        }
        let Some(end) = xml[after..].find("</territory>").map(|e| after + e + "</territory>".len()) else {
            break;
        };
        let element = &xml[start..end];
        let tag = &element[..element.find('>').unwrap_or(element.len())];
        if let (Some(id), Some(code)) =
            (attribute(tag, "id"), attribute(tag, "countryCode").and_then(|c| c.parse().ok()))
        {
            by_region.insert(id, code);
            by_code
                .entry(code)
                .or_insert_with(|| Code { territories: Vec::new(), db: OnceLock::new() })
                .territories
                .push(element);
        }
        at = end;
    }
    Index { by_code, by_region }
}

/// The value of `name="..."` in a start tag.
fn attribute(tag: &'static str, name: &str) -> Option<&'static str> {
    let mut at = 0;
    while let Some(i) = tag[at..].find(name) {
        let start = at + i;
        let before_ok = tag[..start].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = &tag[start + name.len()..];
        if before_ok && let Some(value) = rest.strip_prefix("=\"") {
            return value.find('"').map(|e| &value[..e]);
        }
        at = start + name.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::Mode;

    #[test]
    fn every_territory_is_indexed_once() {
        let index = index();
        let territories: usize = index.by_code.values().map(|c| c.territories.len()).sum();
        assert_eq!(territories, XML.matches("<territory ").count());
        assert!(territories > 250, "{territories}");
        // Non-geographical entities (+800, +882...) share the id "001".
        assert_eq!(index.by_region.len(), territories - XML.matches("<territory id=\"001\"").count() + 1);
        assert_eq!(index.by_region["SG"], 65);
        assert_eq!(index.by_region["US"], 1);
        assert!(index.by_code[&1].territories.len() > 20);
        assert_eq!(index.code_of("6591234567"), Some(65));
        assert_eq!(index.code_of("4930123456"), Some(49));
        assert_eq!(index.code_of("99912345"), None);
        assert_eq!(index.code_of(" (65) 9123"), Some(65));
        assert_eq!(index.code_of("x65"), None);
        assert_eq!(index.code_of("01234"), None);
    }

    #[test]
    fn parses_international_and_national() {
        let p = parse("+65 9123 4567", None).unwrap();
        assert_eq!(p.e164(), "+6591234567");
        assert_eq!(p.code(), 65);
        assert_eq!(p.region(), Some(Id::SG));
        let p = parse("030 123456", Some(Id::DE)).unwrap();
        assert_eq!(p.e164(), "+4930123456");
        assert_eq!(p.national(), "030 123456");
        assert!(parse("12345", Some(Id::DE)).is_none());
        assert!(parse("91234567", None).is_none()); // national without a region
        assert!(parse("+999 1234 5678", None).is_none());
        assert!(parse("+", None).is_none());
        assert_eq!(parse("+(65) 9123-4567", None).map(|p| p.e164()), Some("+6591234567".into()));
    }

    /// Our per-code databases agree with the crate's own on every example number of every
    /// territory: parse, validity, region and all three formats. Fails when the shipped XML
    /// and the crate's version part ways (update `data/PhoneNumberMetadata.xml` then).
    #[test]
    fn agrees_with_the_crates_database() {
        use phonenumber::metadata::DATABASE;
        let mut checked = 0;
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            let examples = [d.fixed_line(), d.mobile(), d.toll_free(), d.voip(), d.uan(), Some(d.general())];
            for example in examples.into_iter().flatten().filter_map(|x| x.example()) {
                let region: Option<Id> = meta.id().parse().ok();
                for (text, region) in
                    [(format!("+{}{example}", meta.country_code()), None), (example.to_string(), region)]
                {
                    if region.is_none() && !text.starts_with('+') {
                        continue;
                    }
                    let theirs = phonenumber::parse(region, &text).ok().filter(phonenumber::is_valid);
                    let ours = parse(&text, region);
                    assert_eq!(theirs.is_some(), ours.is_some(), "{} {text}", meta.id());
                    if let (Some(t), Some(o)) = (theirs, ours) {
                        assert_eq!(t.format().mode(Mode::E164).to_string(), o.e164(), "{text}");
                        assert_eq!(t.format().mode(Mode::National).to_string(), o.national(), "{text}");
                        assert_eq!(t.format().mode(Mode::International).to_string(), o.international(), "{text}");
                        assert_eq!(t.country().id(), o.region(), "{text}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }
}

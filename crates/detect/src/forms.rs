//! Every form in which a declared value may travel.
//!
//! A declared value first gets its **canonical forms** (the spellings an app would naturally
//! send: a phone number in E.164 and national form, a MAC with and without colons, an e-mail
//! trimmed and lower-cased...). Each canonical form that trackers are known to encode or hash
//! is then **encoded**: hex (lower, upper), base64 and base64url at the three alignments, MD5,
//! SHA-1, SHA-256 and SHA-512 (hex lower and upper, base64 and base64url of the digest, base64
//! of the hex digest), and hash-of-hash to depth two (`sha256(md5)`: the SHA-256 of the MD5's
//! hex text). URL-encoding and JSON escapes are not patterns: the scanner decodes such text and
//! searches it again (see `scan.rs`), which covers `url(base64)` and friends for free.
//!
//! Encoding names are chains written outermost first, as function calls: `base64(md5)` is the
//! base64 of the raw MD5 digest, `base64(hex(md5))` the base64 of its hex text, `sha256(md5)`
//! the SHA-256 (hex, lower case) of the MD5 hex text. A bare digest name means its lower-case
//! hex, the way nearly every SDK sends it; `md5(upper)` is the upper-case hex; `hex(upper)` is
//! the upper-case hex of the value's bytes. `raw` is the binary value (6 MAC bytes, 16 UUID
//! bytes), for binary protocols.

use crate::encode::{self, Hash};
use crate::kind::Kind;
use crate::profile::{DeclaredId, MIN_VALUE_LEN, Profile};

/// One searchable byte string derived from a declared value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Index of the declared id in [`Profile::ids`].
    pub id: usize,
    /// The bytes to find.
    pub bytes: Vec<u8>,
    /// The encoding chain (`plain`, `hex(upper)`, `base64(md5)`...).
    pub encoding: String,
    /// Which canonical form was encoded (`e164`, `colon-lower`, `value`...).
    pub form: &'static str,
    /// Matches may differ in ASCII case (plain forms of case-insensitive kinds only).
    pub case_insensitive: bool,
    /// The match must not touch a digit on either side (plain all-digit forms: a phone number
    /// inside a longer number is not that phone number).
    pub digit_boundary: bool,
    /// For base64 fragments: the bits the neighbouring characters must hold.
    pub edges: Option<encode::Edges>,
}

/// A canonical spelling of a value, and what to derive from it.
struct Canon {
    name: &'static str,
    value: Vec<u8>,
    /// Also search hex, base64 and (if `hashed`) digests of it.
    encoded: bool,
    /// Also search its digests.
    hashed: bool,
}

impl Canon {
    fn new(name: &'static str, value: impl Into<Vec<u8>>, encoded: bool, hashed: bool) -> Canon {
        Canon { name, value: value.into(), encoded, hashed }
    }
}

/// Parses a phone number as the profile means it: international if written with `+`/`00`,
/// else in `region`. Only numbers libphonenumber considers valid are accepted.
pub fn parse_phone(value: &str, region: Option<phonenumber::country::Id>) -> Option<crate::phone::Phone> {
    crate::validate::valid_phone(value, region)
}

fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn phone_canons(value: &str, region: Option<phonenumber::country::Id>, out: &mut Vec<Canon>) {
    let Some(n) = parse_phone(value, region) else {
        // Unparseable: its digits are all we can honestly search for.
        out.push(Canon::new("digits", digits_of(value), true, true));
        out.push(Canon::new("value", value, false, false));
        return;
    };
    let e164 = n.e164();
    let cc = n.code().to_string();
    let e164_digits = e164.trim_start_matches('+').to_string();
    let nsn = e164_digits[cc.len()..].to_string();
    let national = n.national();
    let national_digits = digits_of(&national);
    out.push(Canon::new("e164", e164.clone(), true, true));
    out.push(Canon::new("e164-digits", e164_digits.clone(), true, true));
    if national_digits != nsn {
        out.push(Canon::new("national", national_digits, true, true)); // with trunk prefix: 06..., 0171...
    }
    out.push(Canon::new("nsn", nsn, true, true));
    out.push(Canon::new("e164-00", format!("00{e164_digits}"), false, false));
    out.push(Canon::new("international-formatted", n.international(), false, false));
    out.push(Canon::new("national-formatted", national, false, false));
}

fn hex_canons(value: &str, out: &mut Vec<Canon>) {
    let lower = value.to_ascii_lowercase();
    let upper = value.to_ascii_uppercase();
    out.push(Canon::new("lower", lower, true, true));
    out.push(Canon::new("upper", upper, true, true));
}

/// The canonical forms of one declared value.
fn canons(id: &DeclaredId, region: Option<phonenumber::country::Id>) -> Vec<Canon> {
    let v = id.value.trim();
    let mut out = Vec::new();
    match id.kind {
        Kind::Imei | Kind::Imsi | Kind::Iccid => out.push(Canon::new("digits", digits_of(v), true, true)),
        Kind::Meid => hex_canons(&v.replace([' ', '-'], ""), &mut out),
        Kind::Phone => phone_canons(v, region, &mut out),
        Kind::Contact if !v.contains('@') => phone_canons(v, region, &mut out),
        Kind::Contact | Kind::Email => {
            out.push(Canon::new("lower", v.to_ascii_lowercase(), true, true));
            out.push(Canon::new("value", v, false, true)); // some SDKs hash before normalising
        }
        Kind::Mac => {
            if let Some(m) = crate::validate::parse_mac(v.as_bytes()) {
                for (name, sep, upper) in [
                    ("colon-lower", ":", false),
                    ("colon-upper", ":", true),
                    ("bare-lower", "", false),
                    ("bare-upper", "", true),
                ] {
                    let h: Vec<String> =
                        m.iter().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect();
                    out.push(Canon::new(name, h.join(sep), true, true));
                }
                let dash: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
                out.push(Canon::new("dash", dash.join("-"), false, false));
                out.push(Canon::new("raw", m.to_vec(), true, false));
            }
        }
        Kind::AndroidId => hex_canons(v, &mut out),
        Kind::AdvertisingId => {
            hex_canons(v, &mut out);
            if let Some(u) = crate::validate::parse_uuid(v.as_bytes()) {
                out.push(Canon::new("bare", v.replace('-', "").to_ascii_lowercase(), false, true));
                out.push(Canon::new("raw", u.to_vec(), true, false));
            }
        }
        Kind::Serial | Kind::DeviceId | Kind::AnalyticsId | Kind::Username | Kind::Name => {
            out.push(Canon::new("value", v, true, true));
            out.push(Canon::new("lower", v.to_ascii_lowercase(), true, true));
            out.push(Canon::new("upper", v.to_ascii_uppercase(), false, true));
        }
        Kind::Custom => out.push(Canon::new("value", v, true, true)),
        Kind::Location => {} // matched numerically, not as bytes (scan.rs)
    }
    out
}

/// The name of a canonical form when its case does not matter.
fn caseless_name(name: &'static str) -> &'static str {
    match name {
        "colon-lower" | "colon-upper" => "colon",
        "bare-lower" | "bare-upper" => "bare",
        "lower" | "upper" => "value",
        n => n,
    }
}

/// Appends every form of `id` (index `idx` in the profile) to `out`.
fn push_forms(
    idx: usize,
    id: &DeclaredId,
    region: Option<phonenumber::country::Id>,
    min_len: usize,
    out: &mut Vec<Form>,
) {
    let ci_kind = id.kind.case_insensitive();
    let mut add = |bytes: Vec<u8>, encoding: String, form: &'static str, plain: bool, edges: Option<encode::Edges>| {
        if bytes.len() < min_len {
            return;
        }
        let digits = plain && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'+');
        let case_insensitive = plain && ci_kind && bytes.iter().any(u8::is_ascii_alphabetic);
        // A plain form matched whatever its case is named without one (`colon`, not
        // `colon-lower`); encoded and hashed forms keep it: they encode one spelling.
        let form = if case_insensitive { caseless_name(form) } else { form };
        out.push(Form { id: idx, bytes, encoding, form, case_insensitive, digit_boundary: digits, edges });
    };
    for c in canons(id, region) {
        let raw = c.name == "raw";
        add(c.value.clone(), (if raw { "raw" } else { "plain" }).to_string(), c.name, !raw, None);
        if c.encoded {
            let pre = if raw { "(raw)" } else { "" };
            if !raw {
                // (the hex of raw bytes is the bare hex form, already searched as plain)
                add(encode::hex(&c.value, false), "hex".to_string(), c.name, false, None);
                add(encode::hex(&c.value, true), "hex(upper)".to_string(), c.name, false, None);
            }
            for url in [false, true] {
                let name = if url { "base64url" } else { "base64" };
                for align in 0..3 {
                    let frag = encode::base64_stable(&c.value, align, url);
                    // base64url differs from base64 only where '+' or '/' occur.
                    if url && frag == encode::base64_stable(&c.value, align, false) {
                        continue;
                    }
                    let edges = Some(encode::base64_edges(&c.value, align));
                    add(frag, format!("{name}{pre}"), c.name, false, edges);
                }
            }
        }
        if c.hashed {
            for h in Hash::ALL {
                let d = h.digest(&c.value);
                let hx = encode::hex(&d, false);
                let (de, he) = (Some(encode::base64_edges(&d, 0)), Some(encode::base64_edges(&hx, 0)));
                add(hx.clone(), h.name().to_string(), c.name, false, None);
                add(encode::hex(&d, true), format!("{}(upper)", h.name()), c.name, false, None);
                add(encode::base64_stable(&d, 0, false), format!("base64({})", h.name()), c.name, false, de);
                let u = encode::base64_stable(&d, 0, true);
                if u != encode::base64_stable(&d, 0, false) {
                    add(u, format!("base64url({})", h.name()), c.name, false, de);
                }
                add(encode::base64_stable(&hx, 0, false), format!("base64(hex({}))", h.name()), c.name, false, he);
                if h != Hash::Sha512 {
                    for h2 in [Hash::Md5, Hash::Sha1, Hash::Sha256] {
                        let outer = encode::hex(&h2.digest(&hx), false);
                        add(outer, format!("{}({})", h2.name(), h.name()), c.name, false, None);
                    }
                }
            }
        }
    }
}

/// All forms of all declared values at least `min_len` bytes long (at least
/// [`MIN_VALUE_LEN`]), deduplicated per declared id (two canonical forms can coincide, e.g. an
/// Android ID typed in lower case is its own lower-case form). Forms of different ids are kept
/// apart even when equal: each id gets its own finding.
pub fn forms(profile: &Profile, min_len: usize) -> Vec<Form> {
    let min_len = min_len.max(MIN_VALUE_LEN);
    let region = profile.phone_region();
    let mut out = Vec::new();
    for (idx, id) in profile.ids.iter().enumerate() {
        let start = out.len();
        push_forms(idx, id, region, min_len, &mut out);
        let mut seen = std::collections::HashSet::new();
        let mut keep = Vec::with_capacity(out.len() - start);
        for f in out.drain(start..) {
            let key = if f.case_insensitive { f.bytes.to_ascii_lowercase() } else { f.bytes.clone() };
            if seen.insert((key, f.case_insensitive, f.edges)) {
                keep.push(f);
            }
        }
        out.extend(keep);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms_of(flag: &str, region: Option<&str>) -> Vec<Form> {
        let mut p = Profile { ids: vec![DeclaredId::parse_flag(flag).unwrap()], ..Profile::default() };
        if let Some(r) = region {
            p.set_region(r).unwrap();
        }
        forms(&p, MIN_VALUE_LEN)
    }

    fn has(fs: &[Form], bytes: &str, encoding: &str) -> bool {
        fs.iter().any(|f| f.bytes == bytes.as_bytes() && f.encoding == encoding)
    }

    #[test]
    fn phone_forms() {
        let fs = forms_of("phone=+33 6 12 34 56 78", None);
        assert!(has(&fs, "+33612345678", "plain"));
        assert!(has(&fs, "33612345678", "plain"));
        assert!(has(&fs, "0612345678", "plain"));
        assert!(has(&fs, "612345678", "plain"));
        assert!(has(&fs, "06 12 34 56 78", "plain"));
        assert!(
            fs.iter()
                .filter(|f| f.encoding == "plain" && f.form != "national-formatted")
                .all(|f| f.digit_boundary || f.bytes.contains(&b' '))
        );
        // A national number read in the declared region.
        let fs = forms_of("contact/Mum=81234567", Some("SG"));
        assert!(has(&fs, "+6581234567", "plain"));
        // Italian numbers keep their leading 0 in the national significant number.
        let fs = forms_of("phone=+390817683821", None);
        assert!(has(&fs, "0817683821", "plain"));
    }

    #[test]
    fn mac_forms() {
        let fs = forms_of("mac=D8:31:34:20:77:FB", None);
        for (b, e) in [("d8:31:34:20:77:fb", "plain"), ("d83134 2077fb".replace(' ', "").as_str(), "plain")] {
            assert!(has(&fs, b, e), "{b}");
        }
        let md5 = encode::hex(&Hash::Md5.digest(b"D8:31:34:20:77:FB"), false);
        assert!(has(&fs, std::str::from_utf8(&md5).unwrap(), "md5"));
        assert!(fs.iter().any(|f| f.encoding == "raw" && f.bytes == [0xd8, 0x31, 0x34, 0x20, 0x77, 0xfb]));
    }

    #[test]
    fn short_forms_are_skipped_and_duplicates_dropped() {
        let fs = forms_of("username=bob", None);
        assert!(fs.iter().all(|f| f.bytes.len() >= MIN_VALUE_LEN));
        assert!(!fs.iter().any(|f| f.encoding == "plain"));
        let fs = forms_of("android_id=b9e28776354d259e", None);
        assert_eq!(fs.iter().filter(|f| f.encoding == "plain").count(), 1);
        assert!(has(&fs, "B9E28776354D259E", "md5(upper)") || fs.iter().any(|f| f.encoding == "md5(upper)"));
    }
}

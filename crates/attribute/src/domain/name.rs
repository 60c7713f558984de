//! Host names as they arrive from traffic: normalisation and the public suffix list.
//!
//! A host name from a capture is attacker-controlled (an SNI, a DNS question, a `Host`
//! header): anything may arrive, so [`normalize`] accepts only what can be a DNS host name and
//! does bounded work (one pass over at most [`MAX_NAME`] bytes) before anything else looks at it.

use psl::{List, Psl, Type};

/// Longest host name accepted (RFC 1035: 253 characters in text form, without the root dot).
pub const MAX_NAME: usize = 253;
/// Longest label accepted (RFC 1035).
const MAX_LABEL: usize = 63;

/// A host name reduced to the form every table key has: lower-case ASCII letters, digits, `-`,
/// `_` (service labels such as `_dmarc` are real) and letters and digits beyond ASCII
/// (internationalised names as they appear in DNS text), labels of 1 to 63 bytes, at most 253 bytes, no trailing
/// dot. `buf` holds the lower-cased copy so that the common case allocates nothing.
///
/// Returns `None` for anything that is not such a name: empty labels (`a..b`, `.a`), spaces,
/// control bytes, `%`, `/`, `*`, over-long input, and IP literals (`1.2.3.4`, `[::1]`,
/// `::1`), which belong to the address half. A name whose last label is all digits is not a
/// domain name either (no top-level domain is numeric), which also catches `999.1.1.1`.
pub(crate) fn normalize<'b>(host: &str, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b str> {
    let mut host = host.trim_end_matches('.');
    if host.len() > MAX_NAME + 8 {
        return None;
    }
    // `[v6]`, `[v6]:port`, bare v6, `name:port` (a Host header's form).
    if host.starts_with('[') || host.contains(':') {
        if host.starts_with('[') || host.matches(':').count() > 1 {
            return None; // an IPv6 literal, bracketed or bare, or junk with colons
        }
        let (name, port) = host.split_once(':')?;
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        host = name.trim_end_matches('.');
    }
    if host.is_empty() || host.len() > MAX_NAME {
        return None;
    }
    if host.is_ascii() {
        return normalize_ascii(host, buf);
    }
    let mut label_len = 0usize;
    let mut last_label_digits = true;
    for (i, c) in host.char_indices() {
        let n = c.len_utf8();
        match c {
            '.' => {
                if label_len == 0 {
                    return None;
                }
                label_len = 0;
                last_label_digits = true;
                buf[i] = b'.';
                continue;
            }
            'A'..='Z' => buf[i] = c.to_ascii_lowercase() as u8,
            'a'..='z' | '-' | '_' | '0'..='9' => buf[i] = c as u8,
            // Internationalised names in DNS text form: letters and digits of any script.
            // Invisible and punctuation characters (BOM, zero-width space, fullwidth dot)
            // are refused: they make look-alikes, not names.
            c if !c.is_ascii() && c.is_alphanumeric() => {
                c.encode_utf8(&mut buf[i..i + n]);
            }
            _ => return None,
        };
        if !c.is_ascii_digit() {
            last_label_digits = false;
        }
        label_len += n;
        if label_len > MAX_LABEL {
            return None;
        }
    }
    if label_len == 0 || last_label_digits {
        return None;
    }
    // Every character was copied whole (ASCII letters lower-cased), so this is UTF-8.
    std::str::from_utf8(&buf[..host.len()]).ok()
}

/// What each ASCII byte becomes in a host name: itself, its lower case, or 0 (refused).
const ASCII_MAP: [u8; 128] = {
    let mut m = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        m[b] = match b as u8 {
            c @ (b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.') => c,
            c @ b'A'..=b'Z' => c + 32,
            _ => 0,
        };
        b += 1;
    }
    m
};

/// [`normalize`] for the common all-ASCII name: one table lookup per byte.
fn normalize_ascii<'b>(host: &str, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b str> {
    let bytes = host.as_bytes();
    let out = buf.get_mut(..bytes.len())?;
    let mut label_len = 0usize;
    let mut last_label_digits = true;
    for (o, &b) in out.iter_mut().zip(bytes) {
        let m = ASCII_MAP[(b & 0x7f) as usize];
        if m == 0 {
            return None;
        }
        *o = m;
        if m == b'.' {
            if label_len == 0 {
                return None;
            }
            label_len = 0;
            last_label_digits = true;
        } else {
            label_len += 1;
            last_label_digits &= m.is_ascii_digit();
            if label_len > MAX_LABEL {
                return None;
            }
        }
    }
    if label_len == 0 || last_label_digits {
        return None;
    }
    std::str::from_utf8(out).ok()
}

/// The two registrable domains of a normalised name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Registrable<'a> {
    /// One label above the longest ICANN suffix (`amazonaws.com`, `example.co.uk`).
    pub icann: Option<&'a str>,
    /// One label above the longest suffix of either section of the list, when that differs
    /// from `icann` (`d1.cloudfront.net`, `foo.appspot.com`): the name a cloud customer holds.
    pub hosted: Option<&'a str>,
}

/// Computes the registrable domains of a normalised name. Names under a suffix the list does
/// not know (`router.lan`, `pirate.sea`) have none: the list's implicit `*` rule would call
/// `router.lan` registrable, but nobody can register it, so reporting it would mislead.
pub(crate) fn registrable(name: &str) -> Registrable<'_> {
    let full = List.find(name.as_bytes().rsplit(|&b| b == b'.'));
    let mut icann = full;
    // Private suffixes sit under ICANN ones. Drop the private suffix's leftmost label and ask
    // again until the answer is not private; each round removes a label, so this ends.
    while icann.typ == Some(Type::Private) {
        let suffix = &name[name.len() - icann.len..];
        let Some((_, shorter)) = suffix.split_once('.') else {
            break;
        };
        let next = List.find(shorter.as_bytes().rsplit(|&b| b == b'.'));
        if next.len >= icann.len {
            break;
        }
        icann = next;
    }
    let icann_domain = if icann.typ == Some(Type::Icann) { one_label_above(name, icann.len) } else { None };
    let hosted = if full.typ == Some(Type::Private) { one_label_above(name, full.len) } else { None };
    Registrable { icann: icann_domain, hosted: hosted.filter(|h| Some(*h) != icann_domain) }
}

/// `name` cut to the label before its last `suffix_len` bytes and everything after it.
fn one_label_above(name: &str, suffix_len: usize) -> Option<&str> {
    if name.len() < suffix_len + 2 {
        return None; // the name is the suffix itself
    }
    let head = &name[..name.len() - suffix_len - 1];
    let start = head.rfind('.').map_or(0, |i| i + 1);
    Some(&name[start..])
}

/// Whether the whole name is a public suffix of the ICANN section (`com`, `co.uk`): such a
/// key in a list would match every name under it, so importers refuse it.
pub(crate) fn is_icann_suffix(name: &str) -> bool {
    let info = List.find(name.as_bytes().rsplit(|&b| b == b'.'));
    info.typ == Some(Type::Icann) && info.len == name.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Option<String> {
        let mut buf = [0u8; MAX_NAME];
        normalize(s, &mut buf).map(str::to_owned)
    }

    #[test]
    fn normalises_case_dots_and_ports() {
        assert_eq!(norm("WWW.Example.COM.").as_deref(), Some("www.example.com"));
        assert_eq!(norm("example.com..").as_deref(), Some("example.com"));
        assert_eq!(norm("example.com:8080").as_deref(), Some("example.com"));
        assert_eq!(norm("_dns-sd._udp.ntop.org").as_deref(), Some("_dns-sd._udp.ntop.org"));
        assert_eq!(norm("bücher.de").as_deref(), Some("bücher.de"));
        assert_eq!(norm("BÜCHER.DE").as_deref(), Some("bÜcher.de"), "only ASCII is folded");
    }

    #[test]
    fn refuses_literals_and_garbage() {
        for bad in [
            "",
            ".",
            "..",
            "1.2.3.4",
            "203.107.1.65.",
            "999.1.1.1",
            "[::1]",
            "::1",
            "[2001:db8::1]:443",
            "fe80::1%lo0",
            "a..b",
            ".a.com",
            "a b.com",
            "c{ber[itm.dk",
            "sip.cyberci%s",
            "x.com:",
            "x.com:99999999",
            "x.com:8a",
            "in-a\u{1a}dr.arpa",
            "\u{feff}google.com",
            "goo\u{200b}gle.com",
            "google\u{ff0e}com",
            "a/b.com",
            "*.example.com",
            "a\0.com",
        ] {
            assert_eq!(norm(bad), None, "{bad:?}");
        }
        assert_eq!(norm(&format!("{}.com", "a".repeat(64))), None, "label over 63");
        assert_eq!(norm(&format!("{}.com", "a.".repeat(130))), None, "name over 253");
        assert!(norm(&format!("{}.com", "a".repeat(63))).is_some());
    }

    #[test]
    fn registrable_icann_and_hosted() {
        let r = registrable("www.google-analytics.com");
        assert_eq!(r, Registrable { icann: Some("google-analytics.com"), hosted: None });
        let r = registrable("news.bbc.co.uk");
        assert_eq!(r.icann, Some("bbc.co.uk"));
        let r = registrable("d1234abcd.cloudfront.net");
        assert_eq!(r.icann, Some("cloudfront.net"));
        assert_eq!(r.hosted, Some("d1234abcd.cloudfront.net"));
        let r = registrable("feelinsonice-hrd.appspot.com");
        assert_eq!(r.icann, Some("appspot.com"));
        assert_eq!(r.hosted, Some("feelinsonice-hrd.appspot.com"));
        let r = registrable("com");
        assert_eq!(r, Registrable { icann: None, hosted: None });
        let r = registrable("router.lan");
        assert_eq!(r, Registrable { icann: None, hosted: None });
        let r = registrable("1.168.192.in-addr.arpa");
        assert_eq!(r.icann, Some("192.in-addr.arpa"));
    }

    #[test]
    fn icann_suffix_keys() {
        assert!(is_icann_suffix("com"));
        assert!(is_icann_suffix("co.uk"));
        assert!(!is_icann_suffix("example.com"));
        assert!(!is_icann_suffix("cloudfront.net"), "private suffixes are companies' domains");
    }
}

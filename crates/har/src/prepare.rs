//! From the file's bytes to JSON text serde_json accepts, repairing what real HAR writers
//! get wrong instead of refusing the file. Each step copies only when it has to change
//! something, so a clean UTF-8 HAR is parsed in place.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::{MultiGzDecoder, ZlibDecoder};

use crate::model::Report;
use crate::{HarError, Limits};

/// Decompresses if needed (gzip, zlib), strips a byte order mark, converts UTF-16, replaces
/// invalid UTF-8, and repairs JSON-level quirks (see [`repair`]).
pub(crate) fn prepare<'a>(bytes: &'a [u8], limits: &Limits, report: &mut Report) -> Result<Cow<'a, str>, HarError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(HarError::TooLarge { len: bytes.len(), max: limits.max_input_bytes });
    }
    let bytes: Cow<'a, [u8]> = match compression(bytes) {
        Some(kind) => {
            report.compressed = Some(kind);
            Cow::Owned(inflate(bytes, kind, limits.max_input_bytes)?)
        }
        None => Cow::Borrowed(bytes),
    };
    let text: Cow<'a, str> = match bytes {
        Cow::Borrowed(b) => decode_text(b, report),
        Cow::Owned(b) => Cow::Owned(decode_text(&b, report).into_owned()),
    };
    Ok(match repair(&text, report) {
        Some(fixed) => Cow::Owned(fixed),
        None => text,
    })
}

/// "gzip" or "zlib" by magic number. A HAR's own first byte is `{`, whitespace or a byte
/// order mark, none of which passes either test.
pub(crate) fn compression(b: &[u8]) -> Option<&'static str> {
    match b {
        [0x1f, 0x8b, ..] => Some("gzip"),
        [cmf, flg, ..] if cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => {
            Some("zlib")
        }
        _ => None,
    }
}

/// Inflates under the input cap: a bomb stops at `max` bytes and is refused as too large.
fn inflate(b: &[u8], kind: &'static str, max: usize) -> Result<Vec<u8>, HarError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let res = if kind == "gzip" {
        MultiGzDecoder::new(b).take(limit).read_to_end(&mut out)
    } else {
        ZlibDecoder::new(b).take(limit).read_to_end(&mut out)
    };
    if out.len() > max {
        return Err(HarError::TooLarge { len: out.len(), max });
    }
    match res {
        Ok(_) => Ok(out),
        // A truncated compressed file still gives its beginning; the JSON reader then reports
        // where the text stops, as for a truncated plain HAR.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(HarError::Decompress { kind, message: e.to_string() }),
    }
}

/// BOM and encoding: UTF-8 (BOM stripped), UTF-16 with a BOM (converted: Windows tools write
/// it), anything else as UTF-8 with invalid sequences replaced by U+FFFD.
fn decode_text<'a>(b: &'a [u8], report: &mut Report) -> Cow<'a, str> {
    let (bom, utf16_be) = bom(b);
    if bom > 0 {
        report.bom = Some(match utf16_be {
            None => "utf-8",
            Some(false) => "utf-16le",
            Some(true) => "utf-16be",
        });
    }
    let b = &b[bom..];
    if let Some(be) = utf16_be {
        let units = b.chunks(2).map(|c| match c {
            [x, y] if be => u16::from_be_bytes([*x, *y]),
            [x, y] => u16::from_le_bytes([*x, *y]),
            _ => 0xfffd,
        });
        return Cow::Owned(char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect());
    }
    let s = String::from_utf8_lossy(b);
    if matches!(s, Cow::Owned(_)) {
        report.invalid_utf8 = true;
    }
    s
}

/// The length of the byte order mark `b` starts with (0 without one), and for UTF-16 whether
/// it is big-endian.
fn bom(b: &[u8]) -> (usize, Option<bool>) {
    match b {
        [0xef, 0xbb, 0xbf, ..] => (3, None),
        [0xff, 0xfe, ..] => (2, Some(false)),
        [0xfe, 0xff, ..] => (2, Some(true)),
        _ => (0, None),
    }
}

/// The byte offset in the input of byte `at` of the text [`prepare`] made of it (after
/// decompression, which no offset sees through: for compressed input, the offset in the
/// decompressed data). Undoes [`repair`]'s splices, the UTF-16 conversion, the replacement of
/// invalid UTF-8 and the byte order mark; a byte that a repair or a replacement produced maps
/// to the start of what it replaced. Runs the preparation again: for error messages only.
pub(crate) fn input_offset(bytes: &[u8], limits: &Limits, at: usize) -> usize {
    let inflated;
    let bytes: &[u8] = match compression(bytes) {
        Some(kind) => match inflate(bytes, kind, limits.max_input_bytes) {
            Ok(b) => {
                inflated = b;
                &inflated
            }
            Err(_) => return at,
        },
        None => bytes,
    };
    let text = decode_text(bytes, &mut Report::default());
    let at = unrepair(&text, at);
    let (bom, utf16) = bom(bytes);
    let offset = match utf16 {
        // Each UTF-16 unit is two bytes; a unit that did not decode became one U+FFFD.
        Some(_) => {
            let units: usize =
                text.char_indices().take_while(|&(i, c)| i + c.len_utf8() <= at).map(|(_, c)| c.len_utf16()).sum();
            bom + 2 * units
        }
        None => bom + unreplace(&bytes[bom..], at),
    };
    offset.min(bytes.len())
}

/// The offset in `text` before [`repair`] of byte `at` of the repaired text.
fn unrepair(text: &str, at: usize) -> usize {
    // Repaired text before the next splice is the original shifted by `delta`.
    let mut delta = 0isize;
    let mut found = None;
    scan_repairs(text, &mut Report::default(), |from, len, with| {
        if found.is_some() {
            return;
        }
        let out_from = from.saturating_add_signed(delta);
        if at < out_from {
            found = Some(at.saturating_add_signed(-delta));
        } else if at < out_from + with.len() {
            found = Some(from);
        }
        delta += with.len() as isize - len as isize;
    });
    found.unwrap_or_else(|| at.saturating_add_signed(-delta))
}

/// The offset in `b` of byte `at` of `String::from_utf8_lossy(b)`, which replaces each
/// invalid sequence by one U+FFFD (3 bytes).
fn unreplace(b: &[u8], at: usize) -> usize {
    let (mut inp, mut out) = (0, 0);
    for chunk in b.utf8_chunks() {
        let valid = chunk.valid().len();
        if at < out + valid {
            return inp + (at - out);
        }
        (inp, out) = (inp + valid, out + valid);
        if !chunk.invalid().is_empty() {
            if at < out + 3 {
                return inp;
            }
            (inp, out) = (inp + chunk.invalid().len(), out + 3);
        }
    }
    inp + at.saturating_sub(out)
}

/// One pass over the text that fixes what serde_json (rightly, by the JSON grammar) refuses
/// but real HAR files contain; `None` when nothing needed fixing.
///
/// - Lone UTF-16 surrogate escapes (`"\uD83D"` alone): Chrome writes JavaScript strings,
///   which may hold them. Replaced by `\uFFFD`, same length.
/// - Raw control characters inside strings: escaped as `\u00XX`.
/// - `NaN`, `Infinity`, `-Infinity` outside strings (Python's `json.dump`): `null`.
///
/// Strings are tracked with their escapes, so nothing inside a string is mistaken for a token.
pub(crate) fn repair(text: &str, report: &mut Report) -> Option<String> {
    let mut out: Option<String> = None;
    // Everything before `copied` is already in `out` (when it exists).
    let mut copied = 0;
    scan_repairs(text, report, |at, len, with| {
        let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
        o.push_str(&text[copied..at]);
        o.push_str(with);
        copied = at + len;
    });
    out.map(|mut o| {
        o.push_str(&text[copied.min(text.len())..]);
        o
    })
}

/// Finds what [`repair`] fixes and calls `splice(at, len, with)` for each, in order: replace
/// `text[at..at + len]` by `with`.
fn scan_repairs(text: &str, report: &mut Report, mut splice: impl FnMut(usize, usize, &str)) {
    let b = text.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'"' => in_string = false,
                b'\\' => {
                    if b.get(i + 1) == Some(&b'u') {
                        match hex4(b, i + 2) {
                            Some(0xd800..=0xdbff) => {
                                let paired = b.get(i + 6) == Some(&b'\\')
                                    && b.get(i + 7) == Some(&b'u')
                                    && matches!(hex4(b, i + 8), Some(0xdc00..=0xdfff));
                                if paired {
                                    i += 12;
                                } else {
                                    report.lone_surrogates += 1;
                                    splice(i, 6, "\\uFFFD");
                                    i += 6;
                                }
                                continue;
                            }
                            Some(0xdc00..=0xdfff) => {
                                report.lone_surrogates += 1;
                                splice(i, 6, "\\uFFFD");
                                i += 6;
                                continue;
                            }
                            Some(_) => {
                                i += 6;
                                continue;
                            }
                            // A malformed escape: left for the parser to report.
                            None => {}
                        }
                    }
                    // Skip the escaped character, so `\"` does not end the string. (An
                    // escaped multi-byte character is invalid JSON; skipping one byte of it
                    // lands inside it, which is harmless: no UTF-8 continuation byte is `"`
                    // or `\`.)
                    i += 2;
                    continue;
                }
                0x00..=0x1f => {
                    report.control_chars += 1;
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let esc = [b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]];
                    splice(i, 1, std::str::from_utf8(&esc).unwrap_or("\\ufffd"));
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        let token: Option<&[u8]> = match c {
            b'"' => {
                in_string = true;
                None
            }
            b'N' => Some(b"NaN"),
            b'I' => Some(b"Infinity"),
            b'-' => Some(b"-Infinity"),
            _ => None,
        };
        if let Some(t) = token.filter(|t| b[i..].starts_with(t)) {
            report.non_finite_numbers += 1;
            splice(i, t.len(), "null");
            i += t.len();
            continue;
        }
        i += 1;
    }
}

fn hex4(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(4)?)?;
    if !s.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(s: &str) -> (String, Report) {
        let mut r = Report::default();
        let out = repair(s, &mut r).unwrap_or_else(|| s.to_string());
        (out, r)
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let (s, r) = fix(r#"{"a":"x\uD83Dy","b":"\uDE00","ok":"\uD83D\uDE00","esc":"\\uD83D"}"#);
        assert_eq!(s, r#"{"a":"x\uFFFDy","b":"\uFFFD","ok":"\uD83D\uDE00","esc":"\\uD83D"}"#);
        assert_eq!(r.lone_surrogates, 2);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x\u{fffd}y");
        assert_eq!(v["ok"], "\u{1f600}");
    }

    #[test]
    fn control_characters_in_strings_are_escaped() {
        let (s, r) = fix("{\"a\":\"line1\nline2\ttab\"}\n");
        assert_eq!(s, "{\"a\":\"line1\\u000aline2\\u0009tab\"}\n");
        assert_eq!(r.control_chars, 2);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "line1\nline2\ttab");
    }

    #[test]
    fn python_non_finite_numbers_become_null() {
        let (s, r) = fix(r#"{"a":NaN,"b":[Infinity,-Infinity,-1],"c":"NaN Infinity"}"#);
        assert_eq!(s, r#"{"a":null,"b":[null,null,-1],"c":"NaN Infinity"}"#);
        assert_eq!(r.non_finite_numbers, 3);
    }

    #[test]
    fn clean_text_is_not_copied() {
        let mut r = Report::default();
        assert_eq!(repair(r#"{"a":"\"quoted\" \\ \u00e9 \uD83D\uDE00"}"#, &mut r), None);
        assert_eq!(r, Report::default());
    }

    #[test]
    fn bom_utf16_and_invalid_utf8() {
        let limits = Limits::default();
        let mut r = Report::default();
        assert_eq!(prepare(b"\xef\xbb\xbf{}", &limits, &mut r).unwrap(), "{}");
        assert_eq!(r.bom, Some("utf-8"));
        let mut r = Report::default();
        let utf16: Vec<u8> =
            [0xff, 0xfe].into_iter().chain("{\"é\":1}".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(prepare(&utf16, &limits, &mut r).unwrap(), "{\"é\":1}");
        assert_eq!(r.bom, Some("utf-16le"));
        let mut r = Report::default();
        assert_eq!(prepare(b"{\"a\":\"\xff\"}", &limits, &mut r).unwrap(), "{\"a\":\"\u{fffd}\"}");
        assert!(r.invalid_utf8);
    }

    #[test]
    fn compressed_input_is_inflated_under_the_cap() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&[b' '; 100_000]).unwrap();
        z.write_all(b"{}").unwrap();
        let zhar = z.finish().unwrap();
        let mut r = Report::default();
        assert_eq!(prepare(&zhar, &Limits::default(), &mut r).unwrap().trim(), "{}");
        assert_eq!(r.compressed, Some("zlib"));
        let small = Limits { max_input_bytes: 50_000, ..Limits::default() };
        assert!(matches!(prepare(&zhar, &small, &mut Report::default()), Err(HarError::TooLarge { .. })));
    }
}

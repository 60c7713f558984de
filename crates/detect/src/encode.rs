//! Encoders (used once, when the scanner is built) and the two decoders of the scan's
//! pre-passes (percent-decoding and JSON string unescaping), which keep a map from each decoded
//! byte back to the raw text so that findings point into what the caller gave us.

use md5::Digest as _;

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Hex encoding, lower or upper case.
pub fn hex(v: &[u8], upper: bool) -> Vec<u8> {
    let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let mut out = Vec::with_capacity(v.len() * 2);
    for &b in v {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
    out
}

/// Base64 without padding (`url` picks the RFC 4648 §5 alphabet).
pub fn base64(v: &[u8], url: bool) -> Vec<u8> {
    let a = if url { B64_URL } else { B64_STD };
    let mut out = Vec::with_capacity(v.len().div_ceil(3) * 4);
    for c in v.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        let chars = c.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4
        for i in 0..chars {
            out.push(a[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    out
}

/// The part of the base64 encoding of `v` that is the same whatever surrounds `v`, when `v`
/// starts `align` bytes (0, 1 or 2) after a 3-byte group boundary of the encoded stream.
///
/// Base64 turns each 3 input bytes into 4 characters of 6 bits. Character `c` of the output
/// covers input bits `[6c, 6c+6)`. With `align` unknown bytes before the value and unknown
/// bytes after it, the value occupies bits `[8*align, 8*(align+len))`, and a character is
/// determined by the value alone iff its 6 bits lie inside that range. We encode `align` zero
/// bytes followed by the value and keep exactly those characters: this fragment appears in the
/// base64 of ANY longer string that contains `v` at that alignment, so three fragments per
/// value find it inside encoded blobs without decoding anything.
pub fn base64_stable(v: &[u8], align: usize, url: bool) -> Vec<u8> {
    let mut buf = vec![0u8; align];
    buf.extend_from_slice(v);
    let enc = base64(&buf, url);
    let first = (8 * align).div_ceil(6);
    let end = (8 * (align + v.len())) / 6; // exclusive
    if end <= first {
        return Vec::new();
    }
    enc[first..end].to_vec()
}

/// What a base64 fragment ([`base64_stable`]) cannot say by itself: the bits of the value
/// that share a character with unknown neighbouring bits. The character just before the
/// fragment holds the value's first bits in its low bits (`head`), the one just after holds
/// its last bits in its high bits (`tail`), as (mask, expected) over the character's 6-bit
/// value. Two values that differ only there (a device's Wi-Fi and Bluetooth MACs, one apart)
/// have the same fragment; checking the edges tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edges {
    /// Mask and bits for the character before the fragment.
    pub head: Option<(u8, u8)>,
    /// Mask and bits for the character after the fragment.
    pub tail: Option<(u8, u8)>,
}

impl Edges {
    /// Whether the characters around `text[start..end]` agree with the value's edge bits.
    /// A neighbour that is absent or not a base64 character (a quote, `=` padding, the `%` of
    /// an escape) cannot be checked and is accepted.
    pub fn check(&self, text: &[u8], start: usize, end: usize) -> bool {
        let ok = |edge: Option<(u8, u8)>, at: Option<&u8>| match (edge, at.and_then(|&b| base64_value(b))) {
            (Some((mask, want)), Some(v)) => v & mask == want,
            _ => true,
        };
        ok(self.head, start.checked_sub(1).and_then(|i| text.get(i))) && ok(self.tail, text.get(end))
    }
}

/// The 6-bit value of a base64 character of either alphabet (`+` and `-` are 62, `/` and
/// `_` are 63).
pub fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// The [`Edges`] of the fragment [`base64_stable`] returns for the same arguments.
pub fn base64_edges(v: &[u8], align: usize) -> Edges {
    let mut buf = vec![0u8; align];
    buf.extend_from_slice(v);
    let enc = base64(&buf, false);
    let first = (8 * align).div_ceil(6);
    let end = (8 * (align + v.len())) / 6;
    let val = |i: usize| enc.get(i).and_then(|&b| base64_value(b));
    // Bits of the value in the character before `first` (its low bits) and at `end` (high).
    let head_bits = 6 * first - 8 * align;
    let tail_bits = 8 * (align + v.len()) - 6 * end;
    let head = (head_bits > 0 && first > 0).then(|| {
        let mask = ((1u16 << head_bits) - 1) as u8;
        (mask, val(first - 1).unwrap_or(0) & mask)
    });
    let tail = (tail_bits > 0).then(|| {
        let mask = (((1u16 << tail_bits) - 1) << (6 - tail_bits)) as u8;
        (mask, val(end).unwrap_or(0) & mask)
    });
    Edges { head, tail }
}

/// The digests we look for, by their names in encoding chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// All four, cheapest first.
    pub const ALL: [Hash; 4] = [Hash::Md5, Hash::Sha1, Hash::Sha256, Hash::Sha512];

    /// The name used in encoding chains.
    pub fn name(self) -> &'static str {
        match self {
            Hash::Md5 => "md5",
            Hash::Sha1 => "sha1",
            Hash::Sha256 => "sha256",
            Hash::Sha512 => "sha512",
        }
    }

    /// The raw digest of `v`.
    pub fn digest(self, v: &[u8]) -> Vec<u8> {
        match self {
            Hash::Md5 => md5::Md5::digest(v).to_vec(),
            Hash::Sha1 => sha1::Sha1::digest(v).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(v).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(v).to_vec(),
        }
    }
}

/// Whether `text` holds at least one `%XX` escape (two hex digits after `%`).
pub fn has_percent_escape(text: &[u8]) -> bool {
    memchr::memchr_iter(b'%', text)
        .any(|i| i + 2 < text.len() && text[i + 1].is_ascii_hexdigit() && text[i + 2].is_ascii_hexdigit())
}

/// Percent-decodes `text` (`%XX` and, for form and query encoding, `+` as space) into `out`,
/// and writes into `map` the raw offset of every decoded byte plus one final entry for the end,
/// so that decoded `[s, e)` came from raw `[map[s], map[e])`. Malformed escapes are kept as
/// they are. Stops after `cap` output bytes (returns false then).
pub fn percent_decode(text: &[u8], out: &mut Vec<u8>, map: &mut Vec<u32>, cap: usize) -> bool {
    percent_decode_changes(text, out, map, &mut Vec::new(), cap)
}

/// [`percent_decode`] that also lists the output offsets of the bytes decoding changed (an
/// escape's byte, a `+` turned into a space), in increasing order.
pub fn percent_decode_changes(
    text: &[u8],
    out: &mut Vec<u8>,
    map: &mut Vec<u32>,
    changes: &mut Vec<u32>,
    cap: usize,
) -> bool {
    out.clear();
    map.clear();
    changes.clear();
    let mut i = 0;
    while i < text.len() {
        // Copy the run up to the next '%' or '+' in bulk.
        let run_end = memchr::memchr2(b'%', b'+', &text[i..]).map_or(text.len(), |k| i + k);
        let run_end = run_end.min(i + cap.saturating_sub(out.len()));
        out.extend_from_slice(&text[i..run_end]);
        map.extend((i..run_end).map(|x| x as u32));
        i = run_end;
        if i >= text.len() {
            break;
        }
        if out.len() >= cap {
            map.push(i as u32);
            return false;
        }
        map.push(i as u32);
        if text[i] == b'%'
            && i + 2 < text.len()
            && let (Some(h), Some(l)) = (crate::validate::hex_val(text[i + 1]), crate::validate::hex_val(text[i + 2]))
        {
            changes.push(out.len() as u32);
            out.push((h << 4) | l);
            i += 3;
            continue;
        }
        if text[i] == b'+' {
            changes.push(out.len() as u32);
            out.push(b' ');
        } else {
            out.push(text[i]);
        }
        i += 1;
    }
    map.push(text.len() as u32);
    true
}

/// Unescapes JSON string escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`,
/// `\uXXXX` including surrogate pairs, written as UTF-8) anywhere in `text`, with the same
/// offset map as [`percent_decode`]. Not a JSON parser: it works on any text where a backslash
/// appears, which is what a body of unknown shape needs.
pub fn json_unescape(text: &[u8], out: &mut Vec<u8>, map: &mut Vec<u32>, cap: usize) -> bool {
    json_unescape_changes(text, out, map, &mut Vec::new(), cap)
}

/// [`json_unescape`] that also lists the output offsets of the bytes escapes produced.
pub fn json_unescape_changes(
    text: &[u8],
    out: &mut Vec<u8>,
    map: &mut Vec<u32>,
    changes: &mut Vec<u32>,
    cap: usize,
) -> bool {
    out.clear();
    map.clear();
    changes.clear();
    let mut i = 0;
    while i < text.len() {
        let run_end = memchr::memchr(b'\\', &text[i..]).map_or(text.len(), |k| i + k);
        let run_end = run_end.min(i + cap.saturating_sub(out.len()));
        out.extend_from_slice(&text[i..run_end]);
        map.extend((i..run_end).map(|x| x as u32));
        i = run_end;
        if i >= text.len() {
            break;
        }
        if out.len() >= cap {
            map.push(i as u32);
            return false;
        }
        if let Some((used, ch)) = json_escape(text, i) {
            let mut buf = [0u8; 4];
            for &e in ch.encode_utf8(&mut buf).as_bytes() {
                map.push(i as u32);
                changes.push(out.len() as u32);
                out.push(e);
            }
            i += used;
            continue;
        }
        map.push(i as u32);
        out.push(text[i]);
        i += 1;
    }
    map.push(text.len() as u32);
    true
}

/// The JSON escape at `text[i]` (a backslash): bytes used and the character.
pub fn json_escape(text: &[u8], i: usize) -> Option<(usize, char)> {
    let simple = match *text.get(i + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let cp = hex4(text.get(i + 2..i + 6))?;
            if (0xD800..0xDC00).contains(&cp)
                && text.get(i + 6..i + 8) == Some(b"\\u")
                && let Some(lo) = hex4(text.get(i + 8..i + 12))
                && (0xDC00..0xE000).contains(&lo)
            {
                return Some((12, char::from_u32(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00))?));
            }
            return Some((6, char::from_u32(cp)?));
        }
        _ => return None,
    };
    Some((2, simple))
}

/// Whether `text[i]` starts a `%XX` escape.
pub fn is_percent_escape(text: &[u8], i: usize) -> bool {
    text[i] == b'%' && i + 2 < text.len() && text[i + 1].is_ascii_hexdigit() && text[i + 2].is_ascii_hexdigit()
}

/// Bytes that occur in text protocols (printable ASCII, tab, CR, LF) and in UTF-8 text.
pub fn is_texty(b: u8) -> bool {
    TEXTY[usize::from(b)]
}

const TEXTY: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b >= 0x20 && b < 0x7f) || b == 9 || b == 10 || b == 13 || b >= 0x80;
        b += 1;
    }
    t
};

/// The end of the run of text bytes starting at `from`, looking at most `max` bytes.
fn texty_end(text: &[u8], from: usize, max: usize) -> usize {
    let lim = text.len().min(from.saturating_add(max));
    text[from.min(lim)..lim].iter().position(|&b| !TEXTY[usize::from(b)]).map_or(lim, |k| from + k)
}

/// The start of the run of text bytes ending at `to` (exclusive), at most `max` bytes back
/// and not before `floor`.
fn texty_start(text: &[u8], to: usize, max: usize, floor: usize) -> usize {
    let lo = floor.max(to.saturating_sub(max));
    text[lo..to].iter().rposition(|&b| !TEXTY[usize::from(b)]).map_or(lo, |k| lo + k + 1)
}

/// How far from an escape a decoding pre-pass looks (see [`escape_runs`]).
pub const RUN_WINDOW: usize = 1536;

/// The runs of text bytes ([`is_texty`]) around escapes (up to [`RUN_WINDOW`] either side of
/// each escape): the parts of `text` a decoding pre-pass needs to decode. `trigger` finds
/// candidate positions in increasing order; `is_escape` confirms them. Binary bytes never need
/// decoding, and a stray backslash in compressed data then costs nothing.
///
/// Runs never overlap, and an escape within [`RUN_WINDOW`] of the current run (with only text
/// bytes between) extends it instead of starting a new one, so a match that holds escapes is
/// never cut in two by a run boundary: a fully escaped body is one run. (RUN_WINDOW bounds the
/// raw length of a match: the longest pattern is < 200 bytes and an escape expands a byte at
/// most 6 times.)
pub fn escape_runs(
    text: &[u8],
    trigger: impl Iterator<Item = usize>,
    is_escape: impl Fn(&[u8], usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for p in trigger {
        if !is_escape(text, p) {
            continue;
        }
        if let Some(last) = runs.last_mut()
            && p < last.1
        {
            // Inside the current run: extend its end to RUN_WINDOW past this escape (the
            // bytes up to the old end are known to be text).
            if last.1 < text.len() && last.1 - p < RUN_WINDOW && is_texty(text[last.1]) {
                last.1 = texty_end(text, last.1, p + RUN_WINDOW - last.1);
            }
            continue;
        }
        let covered = runs.last().map_or(0, |r| r.1);
        let s = texty_start(text, p, RUN_WINDOW, covered);
        let e = texty_end(text, p + 1, RUN_WINDOW - 1);
        if let Some(last) = runs.last_mut()
            && s == last.1
        {
            last.1 = e; // text bytes all the way: one run
        } else {
            runs.push((s, e));
        }
    }
    runs
}

fn hex4(v: Option<&[u8]>) -> Option<u32> {
    let v = v?;
    let mut n = 0u32;
    for &b in v {
        n = (n << 4) | u32::from(crate::validate::hex_val(b)?);
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_reference() {
        assert_eq!(base64(b"hello", false), b"aGVsbG8");
        assert_eq!(base64(b"\xfb\xff", false), b"+/8");
        assert_eq!(base64(b"\xfb\xff", true), b"-_8");
        assert_eq!(hex(b"\x01\xab", false), b"01ab");
        assert_eq!(hex(b"\x01\xab", true), b"01AB");
    }

    #[test]
    fn stable_fragments_appear_in_any_context() {
        let v = b"jane.doe@example.org";
        for align in 0..3 {
            let frag = base64_stable(v, align, false);
            assert!(frag.len() >= v.len() * 4 / 3 - 2, "align {align}: {}", frag.len());
            for pre in [b"".as_slice(), b"x", b"xy", b"xyz", b"{\"e\":\""] {
                if pre.len() % 3 != align {
                    continue;
                }
                for post in [b"".as_slice(), b"\"", b"ab", b"\"}\n"] {
                    let whole = [pre, v.as_slice(), post].concat();
                    let enc = base64(&whole, false);
                    assert!(enc.windows(frag.len()).any(|w| w == frag.as_slice()), "align {align} pre {pre:?}");
                }
            }
        }
    }

    #[test]
    fn edges_tell_apart_values_with_the_same_fragment() {
        // Two MACs one apart: same fragment at alignment 0, different last bits.
        let (a, b) = (b"3c:5a:b4:9e:01:7d".as_slice(), b"3c:5a:b4:9e:01:7e".as_slice());
        assert_eq!(base64_stable(a, 0, false), base64_stable(b, 0, false));
        for align in 0..3 {
            let (ea, fa) = (base64_edges(a, align), base64_stable(a, align, false));
            for pre in [b"".as_slice(), b"x", b"xy"] {
                if pre.len() != align {
                    continue;
                }
                for (v, want) in [(a, true), (b, false)] {
                    let enc = base64(&[pre, v, b"\"}"].concat(), false);
                    let at = enc.windows(fa.len()).position(|w| w == fa.as_slice());
                    let Some(at) = at else {
                        assert!(!want, "align {align}: fragment of a not in its own encoding");
                        continue;
                    };
                    assert_eq!(ea.check(&enc, at, at + fa.len()), want, "align {align} {v:?}");
                }
            }
        }
    }

    #[test]
    fn percent_decode_maps_offsets() {
        let (mut out, mut map) = (Vec::new(), Vec::new());
        assert!(percent_decode(b"a%40b+c%zz", &mut out, &mut map, 1 << 20));
        assert_eq!(out, b"a@b c%zz");
        assert_eq!(map, [0, 1, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn json_unescape_maps_offsets() {
        let (mut out, mut map) = (Vec::new(), Vec::new());
        assert!(json_unescape(br#"a\u0040b\/c\ud83d\ude00"#, &mut out, &mut map, 1 << 20));
        assert_eq!(out, "a@b/c\u{1F600}".as_bytes());
        assert_eq!(&map[..5], &[0, 1, 7, 8, 10]);
        assert_eq!(*map.last().unwrap(), 23);
    }

    #[test]
    fn digests() {
        assert_eq!(hex(&Hash::Md5.digest(b""), false), b"d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&Hash::Sha1.digest(b"abc"), false), b"a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(Hash::Sha512.digest(b"").len(), 64);
    }
}

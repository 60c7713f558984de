//! The embedded range tables: their file format (written by the build step, read at start-up)
//! and the lookup over them.
//!
//! A table maps every address of one family to an optional value: a sorted list of range
//! starts, the first at 0, each range running up to the next start, with the value of each
//! range (an index into a small dictionary, or none). Adjacent ranges with the same value are
//! merged by the writer, so starts are strictly increasing and neighbours differ.
//!
//! # File layout (`*.ipdb`)
//!
//! ```text
//! "PHIPDB1\n"                 magic and format version
//! key: value\n ... \n        header: UTF-8 lines (source, version, date, licence, counts),
//!                             ended by an empty line; readable with `head`
//! 3 x (u32 LE size inflated, u32 LE length, raw deflate stream)
//!                             sections: dictionary, IPv4, IPv6
//! ```
//!
//! The sections are compressed apart so that they can be inflated on separate threads, and
//! the IPv6 ones only when an IPv6 address is first looked up. Inside, all integers are
//! LEB128 (unsigned, little-endian groups of 7 bits):
//!
//! ```text
//! dictionary   kind (1 byte: 1 = country, 2 = asn), then
//!              country: n, then n two-byte ISO 3166-1 alpha-2 codes
//!              asn: n_orgs, n_orgs name lengths, the names' UTF-8 bytes in one run;
//!                   n, then n (AS number, org index)
//! IPv4         dictionary size, n, n start deltas (the first from 0), n values
//! IPv6         dictionary size, key bits (64: /64 prefixes, 128: whole addresses), n,
//!              n starts, n values; 128-bit starts are written as (delta of the upper
//!              64 bits, lower 64 bits), as most sit on a /64 (a plain delta would then be
//!              a ten-byte multiple of 2^64)
//! ```
//!
//! A value is 0 for "no data", else 1 + the dictionary index. Keeping starts and values in two
//! runs (not interleaved) and starts as deltas lets deflate find the repetition in each.
//!
//! Reading checks everything (the bytes are ours, but a truncated or corrupt file must fail
//! with an error, not a panic or a huge allocation): counts are bounded by the bytes left,
//! starts must increase, values must index the dictionary, and decompression is capped.

use std::io::Write;

/// Magic and format version at the start of every `.ipdb` file.
pub const MAGIC: &[u8; 8] = b"PHIPDB1\n";
/// The longest header accepted (the build step writes a few hundred bytes).
const MAX_HEADER: usize = 16 * 1024;
/// The largest payload accepted after decompression (the real tables are a few MB).
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// Payload kind byte: a country table.
pub const KIND_COUNTRY: u8 = 1;
/// Payload kind byte: an ASN table.
pub const KIND_ASN: u8 = 2;

/// Why an `.ipdb` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ip table format: {0}")]
pub struct FormatError(pub String);

fn bad<T>(what: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError(what.into()))
}

/// A key type of a range table: `u32` for IPv4, `u64` for IPv6 /64 prefixes, `u128` for
/// whole IPv6 addresses.
pub trait Key: Copy + Ord + Default + std::fmt::Debug {
    /// Width in bits.
    const BITS: u32;
    /// Widens to `u128` (for the shared varint code).
    fn to_u128(self) -> u128;
    /// Narrows from `u128`; `None` when it does not fit.
    fn from_u128(v: u128) -> Option<Self>;
}

macro_rules! key {
    ($t:ty) => {
        impl Key for $t {
            const BITS: u32 = <$t>::BITS;
            fn to_u128(self) -> u128 {
                u128::from(self)
            }
            fn from_u128(v: u128) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
        }
    };
}
key!(u32);
key!(u64);
key!(u128);

/// Sorted, disjoint ranges covering the whole key space, each with an optional value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges<K: Key> {
    /// Range starts, strictly increasing, the first 0 (when not empty).
    starts: Box<[K]>,
    /// `0` = no data, else 1 + dictionary index.
    values: Box<[u32]>,
    /// For `u32` keys: `index[hi16]` is the position of the last range starting at or before
    /// `hi16 << 16`, so a lookup searches only the ranges that start in one /16 (a few
    /// dozen at most instead of ~20 halvings over the whole table).
    index: Box<[u32]>,
}

impl<K: Key> Default for Ranges<K> {
    fn default() -> Self {
        Self { starts: Box::new([]), values: Box::new([]), index: Box::new([]) }
    }
}

impl<K: Key> Ranges<K> {
    /// Builds a table from `(start, end inclusive, value)` triples, sorted by start and
    /// disjoint (checked). Gaps get no value; adjacent ranges with equal values merge.
    ///
    /// # Errors
    /// When the ranges are unsorted, overlap, or a value is `u32::MAX`.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (K, K, u32)>) -> Result<Self, FormatError> {
        let mut starts: Vec<K> = Vec::new();
        let mut values: Vec<u32> = Vec::new();
        // The first key not yet covered, `None` once the end of the key space is covered.
        let mut next: Option<u128> = Some(0);
        let max = if K::BITS == 128 { u128::MAX } else { (1u128 << K::BITS) - 1 };
        let push = |starts: &mut Vec<K>, values: &mut Vec<u32>, start: u128, value: u32| {
            if values.last() == Some(&value) {
                return; // same value as the range before: merge
            }
            starts.push(K::from_u128(start).expect("start within key space"));
            values.push(value);
        };
        for (start, end, value) in ranges {
            let (s, e) = (start.to_u128(), end.to_u128());
            if value == u32::MAX {
                return bad("value u32::MAX is reserved");
            }
            if s > e {
                return bad(format!("range {start:?}-{end:?} ends before it starts"));
            }
            let Some(n) = next else {
                return bad(format!("range {start:?}-{end:?} after the end of the key space"));
            };
            if s < n {
                return bad(format!("range {start:?}-{end:?} overlaps or is out of order"));
            }
            if s > n {
                push(&mut starts, &mut values, n, 0);
            }
            push(&mut starts, &mut values, s, value + 1);
            next = if e == max { None } else { Some(e + 1) };
        }
        if let Some(n) = next {
            push(&mut starts, &mut values, n, 0);
        }
        Ok(Self::new(starts.into(), values.into()))
    }

    fn new(starts: Box<[K]>, values: Box<[u32]>) -> Self {
        let mut t = Self { starts, values, index: Box::new([]) };
        if K::BITS == 32 && !t.starts.is_empty() {
            let mut index = vec![0u32; 1 << 16];
            let mut pos = 0usize;
            for (hi, slot) in index.iter_mut().enumerate() {
                let key = (hi as u128) << 16;
                while pos + 1 < t.starts.len() && t.starts[pos + 1].to_u128() <= key {
                    pos += 1;
                }
                *slot = pos as u32;
            }
            t.index = index.into();
        }
        t
    }

    /// Number of ranges (gaps included).
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when the table holds no ranges (no data for any key).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Number of ranges that carry a value.
    pub fn with_data(&self) -> usize {
        self.values.iter().filter(|&&v| v != 0).count()
    }

    /// The dictionary index of the value covering `key`, if any.
    #[inline]
    pub fn get(&self, key: K) -> Option<u32> {
        let pos = if self.index.is_empty() {
            // partition_point: the number of starts <= key; the range is the one before.
            self.starts.partition_point(|&s| s <= key).checked_sub(1)?
        } else {
            let hi = (key.to_u128() >> 16) as usize;
            let lo = self.index[hi] as usize;
            let up = self.index.get(hi + 1).map_or(self.starts.len(), |&p| p as usize + 1);
            lo + self.starts[lo..up].partition_point(|&s| s <= key) - 1
        };
        self.values[pos].checked_sub(1)
    }

    /// Iterates `(start, end inclusive, dictionary index)` over the ranges that carry a value.
    pub fn iter(&self) -> impl Iterator<Item = (K, K, u32)> + '_ {
        let max = if K::BITS == 128 { u128::MAX } else { (1u128 << K::BITS) - 1 };
        (0..self.starts.len()).filter_map(move |i| {
            let v = self.values[i].checked_sub(1)?;
            let end = self.starts.get(i + 1).map_or(max, |s| s.to_u128() - 1);
            Some((self.starts[i], K::from_u128(end).expect("within key space"), v))
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put(out, self.starts.len() as u64);
        let mut prev = 0u128;
        for s in &self.starts {
            let s = s.to_u128();
            if K::BITS == 128 {
                // Whole IPv6 addresses: the delta of the /64 prefix, then the low 64 bits as
                // they are. Most boundaries sit on a /64 (low bits 0: one byte), where a plain
                // delta would be a multiple of 2^64 (ten bytes).
                put(out, ((s >> 64) - (prev >> 64)) as u64);
                put(out, s as u64);
            } else {
                put(out, (s - prev) as u64);
            }
            prev = s;
        }
        for &v in &self.values {
            put(out, u64::from(v));
        }
    }

    fn decode(r: &mut Reader<'_>, dict_len: usize) -> Result<Self, FormatError> {
        let n = r.count()?;
        let truncated = || FormatError("range starts truncated or overlong".into());
        let mut starts = Vec::with_capacity(n);
        let mut prev: u128 = 0;
        for i in 0..n {
            let start = if K::BITS == 128 {
                let hi = ((prev >> 64) as u64).checked_add(r.try_varint().ok_or_else(truncated)?);
                let hi = hi.ok_or_else(|| FormatError("start overflows".into()))?;
                (u128::from(hi) << 64) | u128::from(r.try_varint().ok_or_else(truncated)?)
            } else {
                // Below 2^64 + 2^64: cannot overflow a u128; `from_u128` checks the width.
                prev + u128::from(r.try_varint().ok_or_else(truncated)?)
            };
            if (i == 0 && start != 0) || (i > 0 && start <= prev) {
                return bad("range starts do not begin at 0 and increase");
            }
            prev = start;
            starts.push(K::from_u128(start).ok_or_else(|| FormatError("start too wide".into()))?);
        }
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            let v = r.try_varint().ok_or_else(|| FormatError("values truncated".into()))?;
            if v > dict_len as u64 {
                return bad(format!("value {v} outside a dictionary of {dict_len}"));
            }
            values.push(v as u32);
        }
        Ok(Self::new(starts.into(), values.into()))
    }
}

/// An ISO 3166-1 alpha-2 code as stored: two ASCII upper-case letters.
pub type Code = [u8; 2];

/// One AS: its number and an index into the organisation names.
pub type AsEntry = (u32, u32);

/// The decoded contents of one `.ipdb` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// The header lines (`key: value`), in file order.
    pub header: Vec<(String, String)>,
    /// What the values index.
    pub dict: Dict,
    /// IPv4 ranges.
    pub v4: Ranges<u32>,
    /// IPv6 ranges.
    pub v6: V6Ranges,
}

/// The dictionary the range values index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dict {
    /// Country codes.
    Country(Vec<Code>),
    /// Organisation names (deduplicated) and ASes (number, organisation index).
    Asn {
        /// Organisation names.
        orgs: Orgs,
        /// ASes: number and index into `orgs`.
        entries: Vec<AsEntry>,
    },
}

impl Dict {
    /// Number of values (codes or ASes).
    pub fn len(&self) -> usize {
        match self {
            Dict::Country(c) => c.len(),
            Dict::Asn { entries, .. } => entries.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Organisation names: the end of each in one run of UTF-8 text, kept inside the decoded
/// section's own buffer (no copy, no allocation per name: lookups hand out `&str`).
#[derive(Debug, Clone, Default)]
pub struct Orgs {
    /// The buffer holding the text (for a decoded section, the whole section).
    bytes: Box<[u8]>,
    /// Where the text starts in `bytes`.
    start: usize,
    /// End of each name, relative to `start`; each on a character boundary.
    ends: Box<[u32]>,
}

impl Orgs {
    /// From a list of names.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut text = String::new();
        let mut ends = Vec::new();
        for n in names {
            text.push_str(n.as_ref());
            ends.push(text.len() as u32);
        }
        Orgs { bytes: text.into_bytes().into(), start: 0, ends: ends.into() }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no names.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Name `i`.
    pub fn name(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let begin = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Checked when the section was read; checking again costs a few nanoseconds on a
        // name of 25 bytes and needs no `unsafe`.
        std::str::from_utf8(self.bytes.get(self.start + begin..self.start + end)?).ok()
    }

    /// All the names' text.
    fn text(&self) -> &[u8] {
        let len = self.ends.last().map_or(0, |&e| e as usize);
        &self.bytes[self.start..self.start + len]
    }
}

/// Equal when they hold the same names, wherever the text sits in its buffer.
impl PartialEq for Orgs {
    fn eq(&self, other: &Self) -> bool {
        self.ends == other.ends && self.text() == other.text()
    }
}

impl Eq for Orgs {}

/// IPv6 ranges keyed by /64 prefix (when every boundary of the source falls on one) or by
/// whole address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V6Ranges {
    /// Keys are the upper 64 bits of the address.
    Prefix64(Ranges<u64>),
    /// Keys are whole addresses.
    Full(Ranges<u128>),
}

impl V6Ranges {
    /// The dictionary index of the value covering `addr`.
    #[inline]
    pub fn get(&self, addr: u128) -> Option<u32> {
        match self {
            V6Ranges::Prefix64(r) => r.get((addr >> 64) as u64),
            V6Ranges::Full(r) => r.get(addr),
        }
    }

    /// Number of ranges (gaps included).
    pub fn len(&self) -> usize {
        match self {
            V6Ranges::Prefix64(r) => r.len(),
            V6Ranges::Full(r) => r.len(),
        }
    }

    /// True when there are no ranges.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of ranges that carry a value.
    pub fn with_data(&self) -> usize {
        match self {
            V6Ranges::Prefix64(r) => r.with_data(),
            V6Ranges::Full(r) => r.with_data(),
        }
    }

    /// Builds from whole-address ranges, keyed by /64 when that loses nothing (every start
    /// has its low 64 bits clear and every end has them all set).
    ///
    /// # Errors
    /// As [`Ranges::from_ranges`].
    pub fn from_ranges(ranges: &[(u128, u128, u32)]) -> Result<Self, FormatError> {
        const LOW: u128 = u64::MAX as u128;
        if ranges.iter().all(|&(s, e, _)| s & LOW == 0 && e & LOW == LOW) {
            let r = ranges.iter().map(|&(s, e, v)| ((s >> 64) as u64, (e >> 64) as u64, v));
            Ok(V6Ranges::Prefix64(Ranges::from_ranges(r)?))
        } else {
            Ok(V6Ranges::Full(Ranges::from_ranges(ranges.iter().copied())?))
        }
    }

    /// Iterates `(start, end inclusive, dictionary index)` as whole addresses.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (u128, u128, u32)> + '_> {
        match self {
            V6Ranges::Prefix64(r) => {
                Box::new(r.iter().map(|(s, e, v)| ((s as u128) << 64, ((e as u128) << 64) | u64::MAX as u128, v)))
            }
            V6Ranges::Full(r) => Box::new(r.iter()),
        }
    }
}

/// One compressed section and the size it inflates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
    /// Bytes once inflated (so the buffer is allocated once, at its size).
    pub size: usize,
    /// The raw deflate stream.
    pub deflated: &'a [u8],
}

/// The three compressed sections of a file, found without decompressing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sections<'a> {
    /// The header lines (`key: value`), in file order.
    pub header: Vec<(String, String)>,
    /// The dictionary section.
    pub dict: Section<'a>,
    /// The IPv4 section.
    pub v4: Section<'a>,
    /// The IPv6 section.
    pub v6: Section<'a>,
}

impl<'a> Sections<'a> {
    /// Reads the magic, the header and the section lengths.
    ///
    /// # Errors
    /// Bad magic, a header that is not UTF-8, too long or not ended by an empty line,
    /// section lengths past the end, or bytes after the last section.
    pub fn parse(file: &'a [u8]) -> Result<Self, FormatError> {
        let Some(rest) = file.strip_prefix(MAGIC.as_slice()) else {
            return bad("not an .ipdb file (magic)");
        };
        let window = &rest[..rest.len().min(MAX_HEADER)];
        // `end`: the length of the header lines (each with its newline); the empty line
        // that ends them follows.
        let end = if window.first() == Some(&b'\n') {
            Some(0)
        } else {
            window.windows(2).position(|w| w == b"\n\n").map(|p| p + 1)
        };
        let Some(end) = end else {
            return bad("header not ended by an empty line within 16 KiB");
        };
        let text = std::str::from_utf8(&window[..end]).map_err(|_| FormatError("header is not UTF-8".into()))?;
        // Exactly what `Tables::to_file` writes: `key: value\n`, the key non-empty and
        // without ':', the value anything but a newline (a '\r' included, so not `lines()`).
        let mut header = Vec::new();
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n').filter(|_| end > 0) {
            let Some((k, v)) = line.split_once(':').and_then(|(k, v)| Some((k, v.strip_prefix(' ')?))) else {
                return bad(format!("header line not `key: value`: {line:?}"));
            };
            if k.is_empty() {
                return bad("header line with an empty key");
            }
            header.push((k.to_owned(), v.to_owned()));
        }
        let mut r = Reader { buf: &rest[end + 1..] };
        fn u32_le(r: &mut Reader<'_>) -> Result<usize, FormatError> {
            let b = r.take(4)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        let mut section = || -> Result<Section<'a>, FormatError> {
            let size = u32_le(&mut r)?;
            let len = u32_le(&mut r)?;
            if size > MAX_PAYLOAD {
                return bad(format!("section of {size} bytes over the 64 MiB cap"));
            }
            Ok(Section { size, deflated: r.take(len)? })
        };
        let (dict, v4, v6) = (section()?, section()?, section()?);
        if !r.buf.is_empty() {
            return bad(format!("{} bytes after the sections", r.buf.len()));
        }
        Ok(Sections { header, dict, v4, v6 })
    }
}

/// Inflates one section into a buffer of its stated size (at most [`MAX_PAYLOAD`]): one
/// allocation, no copies as it grows.
///
/// # Errors
/// A corrupt deflate stream, or one that inflates to another size than stated.
pub fn inflate(section: Section<'_>) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(section.size.min(MAX_PAYLOAD));
    let mut z = flate2::Decompress::new(false);
    let status = z
        .decompress_vec(section.deflated, &mut out, flate2::FlushDecompress::Finish)
        .map_err(|e| FormatError(format!("deflate: {e}")))?;
    if status != flate2::Status::StreamEnd || out.len() != section.size {
        return bad(format!("section inflates to more or less than its {} bytes", section.size));
    }
    Ok(out)
}

impl Dict {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Dict::Country(codes) => {
                out.push(KIND_COUNTRY);
                put(out, codes.len() as u64);
                for c in codes {
                    out.extend_from_slice(c);
                }
            }
            Dict::Asn { orgs, entries } => {
                out.push(KIND_ASN);
                // Lengths first, then all the names in one run (text compresses better
                // uninterrupted, and reads back as one string).
                put(out, orgs.len() as u64);
                for i in 0..orgs.len() {
                    put(out, orgs.name(i).map_or(0, str::len) as u64);
                }
                out.extend_from_slice(orgs.text());
                put(out, entries.len() as u64);
                for &(asn, org) in entries {
                    put(out, u64::from(asn));
                    put(out, u64::from(org));
                }
            }
        }
    }

    /// Reads an uncompressed dictionary section, keeping its buffer for the names.
    ///
    /// # Errors
    /// Any inconsistency; see the module docs.
    pub fn decode(payload: Vec<u8>) -> Result<Self, FormatError> {
        let mut r = Reader { buf: &payload };
        let dict = match r.byte()? {
            KIND_COUNTRY => {
                let n = r.count_of(2)?;
                let mut codes = Vec::with_capacity(n);
                for _ in 0..n {
                    let c = [r.byte()?, r.byte()?];
                    if !c.iter().all(u8::is_ascii_uppercase) {
                        return bad(format!("country code {c:?} is not two capital letters"));
                    }
                    codes.push(c);
                }
                (Dict::Country(codes), false)
            }
            KIND_ASN => {
                let n = r.count()?;
                let mut ends = Vec::with_capacity(n);
                let mut total: usize = 0;
                for _ in 0..n {
                    total = total
                        .checked_add(r.count()?)
                        .filter(|&t| t <= r.buf.len() && t <= u32::MAX as usize)
                        .ok_or_else(|| FormatError("organisation names longer than the bytes left".into()))?;
                    ends.push(total as u32);
                }
                let at = payload.len() - r.buf.len();
                let text = std::str::from_utf8(r.take(total)?)
                    .map_err(|_| FormatError("organisation names are not UTF-8".into()))?;
                if !ends.iter().all(|&e| text.is_char_boundary(e as usize)) {
                    return bad("an organisation name splits a UTF-8 character");
                }
                let ends: Box<[u32]> = ends.into();
                let n = r.count_of(2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let asn = u32::try_from(r.varint()?).map_err(|_| FormatError("AS number over 32 bits".into()))?;
                    let org = r.varint()?;
                    if org >= ends.len() as u64 {
                        return bad("AS entry names a missing organisation");
                    }
                    entries.push((asn, org as u32));
                }
                (Dict::Asn { orgs: Orgs { bytes: Box::default(), start: at, ends }, entries }, true)
            }
            k => return bad(format!("unknown table kind {k}")),
        };
        r.end()?;
        // The names stay in the section's buffer, which the dictionary now owns.
        let (mut dict, owns) = dict;
        if let (Dict::Asn { orgs, .. }, true) = (&mut dict, owns) {
            orgs.bytes = payload.into_boxed_slice();
        }
        Ok(dict)
    }
}

impl Ranges<u32> {
    /// Reads an uncompressed IPv4 section: the dictionary size its values index, then the
    /// ranges.
    ///
    /// # Errors
    /// Any inconsistency; see the module docs.
    pub fn decode_v4(payload: &[u8]) -> Result<(usize, Self), FormatError> {
        let mut r = Reader { buf: payload };
        let dict_len = r.varint()? as usize;
        let t = Ranges::decode(&mut r, dict_len)?;
        r.end()?;
        Ok((dict_len, t))
    }
}

impl V6Ranges {
    /// Reads an uncompressed IPv6 section: the dictionary size, the key width, the ranges.
    ///
    /// # Errors
    /// Any inconsistency; see the module docs.
    pub fn decode(payload: &[u8]) -> Result<(usize, Self), FormatError> {
        let mut r = Reader { buf: payload };
        let dict_len = r.varint()? as usize;
        let t = match r.byte()? {
            64 => V6Ranges::Prefix64(Ranges::decode(&mut r, dict_len)?),
            128 => V6Ranges::Full(Ranges::decode(&mut r, dict_len)?),
            b => return bad(format!("IPv6 key width {b}")),
        };
        r.end()?;
        Ok((dict_len, t))
    }
}

impl Tables {
    /// The file bytes: magic, header, and the three sections, each compressed (raw
    /// deflate, best) after its inflated size and its length (`u32`, little-endian).
    ///
    /// # Errors
    /// When a header key or value cannot be written as a `key: value` line.
    pub fn to_file(&self) -> Result<Vec<u8>, FormatError> {
        let mut out = MAGIC.to_vec();
        for (k, v) in &self.header {
            if k.is_empty() || k.contains(['\n', ':']) || v.contains('\n') {
                return bad(format!("header line {k:?}: {v:?} cannot be written"));
            }
            out.extend_from_slice(format!("{k}: {v}\n").as_bytes());
        }
        out.push(b'\n');
        if out.len() > MAGIC.len() + MAX_HEADER {
            return bad("header over 16 KiB");
        }
        for payload in self.payloads() {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            let z = enc.write_all(&payload).and_then(|()| enc.finish());
            let z = z.map_err(|e| FormatError(e.to_string()))?;
            let size = u32::try_from(payload.len()).map_err(|_| FormatError("section over 4 GiB".into()))?;
            let len = u32::try_from(z.len()).map_err(|_| FormatError("section over 4 GiB".into()))?;
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&z);
        }
        Ok(out)
    }

    /// The three uncompressed sections: dictionary, IPv4, IPv6.
    pub fn payloads(&self) -> [Vec<u8>; 3] {
        let mut dict = Vec::new();
        self.dict.encode(&mut dict);
        let mut v4 = Vec::new();
        put(&mut v4, self.dict.len() as u64);
        self.v4.encode(&mut v4);
        let mut v6 = Vec::new();
        put(&mut v6, self.dict.len() as u64);
        match &self.v6 {
            V6Ranges::Prefix64(r) => {
                v6.push(64);
                r.encode(&mut v6);
            }
            V6Ranges::Full(r) => {
                v6.push(128);
                r.encode(&mut v6);
            }
        }
        [dict, v4, v6]
    }

    /// Reads a whole file, every section.
    ///
    /// # Errors
    /// Any inconsistency in the file; see the module docs.
    pub fn from_file(file: &[u8]) -> Result<Self, FormatError> {
        let s = Sections::parse(file)?;
        Self::from_payloads(s.header, inflate(s.dict)?, &inflate(s.v4)?, &inflate(s.v6)?)
    }

    /// Reads uncompressed sections (the fuzz target's entry point), checking that the
    /// range sections index the dictionary they come with.
    ///
    /// # Errors
    /// Any inconsistency; see the module docs.
    pub fn from_payloads(
        header: Vec<(String, String)>,
        dict: Vec<u8>,
        v4: &[u8],
        v6: &[u8],
    ) -> Result<Self, FormatError> {
        let dict = Dict::decode(dict)?;
        let (n4, v4) = Ranges::decode_v4(v4)?;
        let (n6, v6) = V6Ranges::decode(v6)?;
        if n4 != dict.len() || n6 != dict.len() {
            return bad(format!("ranges index {n4}/{n6} values, the dictionary has {}", dict.len()));
        }
        Ok(Tables { header, dict, v4, v6 })
    }

    /// The value of a header key, if present.
    pub fn header_value(&self, key: &str) -> Option<&str> {
        self.header.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, FormatError> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| FormatError("truncated".into()))?;
        self.buf = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if n > self.buf.len() {
            return bad("truncated");
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, FormatError> {
        self.try_varint().ok_or_else(|| FormatError("truncated or overlong varint".into()))
    }

    /// The hot loop of start-up (about two million calls): no error values built inside,
    /// and one byte, the common case (deltas inside a /16, small indexes), comes first.
    #[inline(always)]
    fn try_varint(&mut self) -> Option<u64> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        if b < 0x80 {
            return Some(u64::from(b));
        }
        let mut v = u64::from(b & 0x7f);
        let mut shift = 7;
        loop {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            // The tenth byte may only hold the 64th bit.
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }

    fn end(&self) -> Result<(), FormatError> {
        if self.buf.is_empty() { Ok(()) } else { bad(format!("{} bytes after the end", self.buf.len())) }
    }

    /// A count of items that take at least one byte each: bounded by the bytes left, so a
    /// corrupt count cannot ask for a huge allocation.
    fn count(&mut self) -> Result<usize, FormatError> {
        self.count_of(1)
    }

    fn count_of(&mut self, min_bytes: usize) -> Result<usize, FormatError> {
        let n = self.varint()?;
        if n > (self.buf.len() / min_bytes) as u64 {
            return bad(format!("count {n} larger than the bytes left"));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(v4: &[(u32, u32, u32)], v6: &[(u128, u128, u32)]) -> Tables {
        Tables {
            header: vec![("source".into(), "test".into())],
            dict: Dict::Country(vec![*b"US", *b"CN", *b"SG"]),
            v4: Ranges::from_ranges(v4.iter().copied()).unwrap(),
            v6: V6Ranges::from_ranges(v6).unwrap(),
        }
    }

    #[test]
    fn ranges_merge_gaps_and_neighbours() {
        let r = Ranges::<u32>::from_ranges([(10, 19, 0), (20, 29, 0), (40, 49, 1)]).unwrap();
        // 0..9 none, 10..29 US (merged), 30..39 none, 40..49 CN, 50.. none
        assert_eq!(r.len(), 5);
        assert_eq!(r.get(0), None);
        assert_eq!(r.get(9), None);
        assert_eq!(r.get(10), Some(0));
        assert_eq!(r.get(29), Some(0));
        assert_eq!(r.get(30), None);
        assert_eq!(r.get(45), Some(1));
        assert_eq!(r.get(50), None);
        assert_eq!(r.get(u32::MAX), None);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(10, 29, 0), (40, 49, 1)]);
    }

    #[test]
    fn ranges_reject_overlap_and_disorder() {
        assert!(Ranges::<u32>::from_ranges([(10, 19, 0), (15, 29, 1)]).is_err());
        assert!(Ranges::<u32>::from_ranges([(20, 29, 0), (10, 19, 1)]).is_err());
        assert!(Ranges::<u32>::from_ranges([(20, 19, 0)]).is_err());
        assert!(Ranges::<u32>::from_ranges([(0, u32::MAX, 0), (5, 6, 1)]).is_err());
    }

    #[test]
    fn full_space_and_index_edges() {
        let r = Ranges::<u32>::from_ranges([(0, u32::MAX, 2)]).unwrap();
        assert_eq!((r.len(), r.get(0), r.get(u32::MAX)), (1, Some(2), Some(2)));
        // Ranges that start inside a /16 and across /16 boundaries.
        let r = Ranges::<u32>::from_ranges([
            (0x0001_0000, 0x0001_00ff, 0),
            (0x0001_0100, 0x0002_0000, 1),
            (0xffff_ff00, u32::MAX, 2),
        ])
        .unwrap();
        for (k, want) in [
            (0x0000_ffff, None),
            (0x0001_0000, Some(0)),
            (0x0001_00ff, Some(0)),
            (0x0001_0100, Some(1)),
            (0x0002_0000, Some(1)),
            (0x0002_0001, None),
            (0xffff_feff, None),
            (0xffff_ff00, Some(2)),
            (u32::MAX, Some(2)),
        ] {
            assert_eq!(r.get(k), want, "{k:#x}");
        }
    }

    #[test]
    fn v6_uses_prefixes_only_when_lossless() {
        let p = (0x2001_0db8u128 << 96, (0x2001_0db8u128 << 96) | u64::MAX as u128, 1);
        assert!(matches!(V6Ranges::from_ranges(&[p]).unwrap(), V6Ranges::Prefix64(_)));
        let q = (p.0, p.1 - 1, 1);
        let t = V6Ranges::from_ranges(&[q]).unwrap();
        assert!(matches!(t, V6Ranges::Full(_)));
        assert_eq!(t.get(q.1), Some(1));
        assert_eq!(t.get(p.1), None);
    }

    #[test]
    fn file_round_trip() {
        let t = country(
            &[(0x0808_0800, 0x0808_08ff, 0), (0x2a3e_3000, 0x2a3e_3fff, 1)],
            &[(1u128 << 125, (1u128 << 125) + (1u128 << 80) - 1, 2)],
        );
        let file = t.to_file().unwrap();
        assert!(file.starts_with(b"PHIPDB1\nsource: test\n\n"));
        assert_eq!(Tables::from_file(&file).unwrap(), t);
        let asn = Tables {
            header: vec![],
            dict: Dict::Asn {
                orgs: Orgs::new(["Google LLC", "XIAOMI H.K. Limited", "Écrin ☃"]),
                entries: vec![(15169, 0), (63855, 1), (24444, 1), (1, 2)],
            },
            v4: Ranges::from_ranges([(5, 9, 2)]).unwrap(),
            v6: V6Ranges::from_ranges(&[]).unwrap(),
        };
        let file = asn.to_file().unwrap();
        assert!(file.starts_with(b"PHIPDB1\n\n"));
        assert_eq!(Tables::from_file(&file).unwrap(), asn);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let t = country(&[(7, 1000, 1)], &[(0, 1u128 << 64, 0)]);
        let [dict, v4, v6] = t.payloads();
        for cut in 0..dict.len() {
            assert!(Dict::decode(dict[..cut].to_vec()).is_err(), "dict cut {cut}");
        }
        for cut in 0..v4.len() {
            assert!(Ranges::decode_v4(&v4[..cut]).is_err(), "v4 cut {cut}");
        }
        for cut in 0..v6.len() {
            assert!(V6Ranges::decode(&v6[..cut]).is_err(), "v6 cut {cut}");
        }
        // A cut file never panics; deflate may end early without an error, but then a
        // section is short and its payload check fails (or, cut inside the final empty
        // block, the data is whole and must equal the original).
        let file = t.to_file().unwrap();
        for cut in 0..file.len() {
            if let Ok(back) = Tables::from_file(&file[..cut]) {
                assert_eq!(back, t, "cut {cut}");
            }
        }
    }

    #[test]
    fn corrupt_sections_are_errors() {
        let dict = |b: &[u8]| Dict::decode(b.to_vec());
        let v4 = |b: &[u8]| Ranges::decode_v4(b);
        assert!(dict(&[1, 1, b'U', b'S']).is_ok());
        assert!(dict(&[1, 1, b'u', b's']).is_err(), "lower case");
        assert!(dict(&[1, 1, b'U', b'S', 0]).is_err(), "trailing byte");
        assert!(dict(&[3, 0]).is_err(), "kind");
        assert!(dict(&[2, 1, 2, b'A', b'B', 1, 7, 0]).is_ok());
        assert!(dict(&[2, 1, 2, 0xc3, 0xa9, 1, 7, 0]).is_ok(), "é");
        assert!(dict(&[2, 2, 1, 1, 0xc3, 0xa9, 0]).is_err(), "a name splits é");
        assert!(dict(&[2, 1, 2, b'A', b'B', 1, 7, 1]).is_err(), "missing org");
        assert!(dict(&[2, 0xff, 0xff, 0xff, 0x7f]).is_err(), "huge count");
        assert!(v4(&[1, 1, 0, 1]).is_ok());
        assert!(v4(&[1, 1, 0, 2]).is_err(), "value outside the dictionary");
        assert!(v4(&[1, 1, 5, 1]).is_err(), "first start not 0");
        assert!(v4(&[1, 2, 0, 0, 1, 0]).is_err(), "starts not increasing");
        assert!(v4(&[1, 2, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0]).is_ok(), "up to 2^32 - 1");
        assert!(v4(&[1, 2, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 0]).is_err(), "2^32");
        assert!(V6Ranges::decode(&[0, 64, 1, 0, 0]).is_ok());
        assert!(V6Ranges::decode(&[0, 65, 1, 0, 0]).is_err(), "key width");
        assert!(V6Ranges::decode(&[0, 128, 2, 0, 0, 0, 0, 0, 0]).is_err(), "starts not increasing");
        assert!(V6Ranges::decode(&[0, 128, 2, 0, 0, 0, 1, 0, 0]).is_ok());
        // Sections that disagree on the dictionary size.
        assert!(Tables::from_payloads(vec![], vec![1, 1, b'U', b'S'], &[2, 1, 0, 0], &[1, 64, 1, 0, 0]).is_err());
        assert!(Tables::from_payloads(vec![], vec![1, 1, b'U', b'S'], &[1, 1, 0, 0], &[1, 64, 1, 0, 0]).is_ok());
        // Framing: magic, header, section lengths.
        assert!(Sections::parse(b"PHIPDB2\n\n").is_err());
        assert!(Sections::parse(b"PHIPDB1\nno colon\n\n").is_err());
        let empty = [0u8; 24];
        let file = |head: &[u8], tail: &[u8]| [head, &empty[..], tail].concat();
        assert!(Sections::parse(&file(b"PHIPDB1\nk: v\n\n", b"")).is_ok());
        assert!(Sections::parse(&file(b"PHIPDB1\n\n", b"x")).is_err(), "trailing byte");
        assert!(Sections::parse(&file(b"PHIPDB1\n\n", b"")[..20]).is_err(), "truncated");
        assert!(Sections::parse(b"PHIPDB1\n\n\0\0\0\0\x05\0\0\0ab").is_err(), "short section");
        assert!(Sections::parse(b"PHIPDB1\n\n\0\0\0\x05\0\0\0\0").is_err(), "over the cap");
        // Keys with ':' (fuzz ip_tables: the reader split at ": " and took "a:b: c" as key
        // "a:b", which the writer refuses), empty keys, and '\r' kept in values.
        assert!(Sections::parse(&file(b"PHIPDB1\na:b: c\n\n", b"")).is_err());
        assert!(Sections::parse(&file(b"PHIPDB1\n: c\n\n", b"")).is_err());
        assert!(Sections::parse(&file(b"PHIPDB1\nab:c\n\n", b"")).is_err());
        let h = Sections::parse(&file(b"PHIPDB1\na: b\rc:\r\nd: \n\n", b"")).unwrap().header;
        assert_eq!(h, [("a".to_owned(), "b\rc:\r".to_owned()), ("d".to_owned(), String::new())]);
        let mut t = country(&[], &[]);
        t.header = h;
        assert_eq!(Tables::from_file(&t.to_file().unwrap()).unwrap(), t);
        t.header = vec![("k".into(), "v".repeat(MAX_HEADER))];
        assert!(t.to_file().is_err(), "a header the reader would refuse");
        // A stated size that the stream does not inflate to.
        let t = country(&[(7, 1000, 1)], &[]);
        let mut f = t.to_file().unwrap();
        let at = f.len() - Sections::parse(&f).unwrap().v6.deflated.len() - 8;
        f[at] ^= 1;
        assert!(Tables::from_file(&f).is_err());
    }
}

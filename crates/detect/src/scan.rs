//! The scanner: one pass over each text finds every declared value in every form, plus the
//! undeclared identifiers.
//!
//! # How the one pass is fast
//!
//! All forms of all declared values (thousands of byte strings for 50 values) are searched
//! together, in the manner of Wu and Manber's multi-pattern search: a sampling filter over
//! the text, and a dictionary of the patterns by their first bytes where the filter fires.
//! (An Aho-Corasick automaton has no usable prefilter with that many patterns and walks every
//! byte, about 1 GB/s; we ran one behind this filter until its build, 0.07 s for 50 values,
//! was the larger cost.)
//!
//! * every pattern is at least `L` bytes long (6 or more: shorter forms are not searched);
//! * we look at the text only at positions `j = 0, s, 2s, ...` with stride `s = L - 3`, reading
//!   the 4 bytes at `j` (ASCII-case-folded) and testing one bit of a bitmap;
//! * the bitmap holds the 4-byte grams at offsets `0..s` of every pattern. An occurrence that
//!   starts at `i` covers exactly one sampled position `j` in `i..i+s`, and the gram there is
//!   the pattern's gram at offset `j - i < s`, which is in the bitmap: no occurrence is missed;
//! * when the bit is set, the `s` possible starts `j-s+1..=j` are looked up in the dictionary
//!   (patterns bucketed by a hash of their first 4 bytes, longest first), and the longest
//!   pattern at a start whose bytes and checks hold is a hit; each start position is tried by
//!   exactly one probe, so nothing is reported twice.
//!
//! On text that holds none of the values, this is one 4-byte load, a multiply and a bit test
//! per `s` bytes, a few GB/s; see `benches/scan.rs` and docs/DETECTION.md.
//!
//! Case-insensitive forms (e-mail, hex ids, MACs, names) are handled by comparing patterns
//! ASCII-case-insensitively and checking the exact bytes of the case-sensitive forms (base64,
//! digests, custom values) after a match; forms that fold to the same bytes share one pattern
//! and are told apart by that check. (The alternative, case variants as separate patterns
//! compared exactly, is [`Options::case_fold`]` = false`; it was not faster, see
//! docs/DETECTION.md, and misses mixed-case spellings.)
//!
//! # Pre-passes
//!
//! URL-ish text (URL, cookie, header, body) that holds a `%XX` escape or a `+` is
//! percent-decoded and scanned again, and once more if the decoded text still holds escapes
//! (double encoding); text with a backslash (body, payload) is JSON-unescaped and scanned again.
//! A finding in decoded text is kept only if its span held an escape (otherwise the raw scan
//! already found it), its encoding is wrapped (`url`, `url(base64)`, `json(md5)`), and its
//! offset and length are mapped back exactly into the raw text through the decoder's offset map.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::encode;
use crate::forms::{self, Form};
use crate::kind::Kind;
use crate::profile::{self, Profile};

/// Scanner settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Put the matched values into findings (`value`, and unredacted excerpts). Off by default:
    /// reports are shared, the values are personal.
    pub show_values: bool,
    /// Bytes of context on each side of a match in `excerpt`.
    pub excerpt_context: usize,
    /// At most this many findings per [`Scanner::scan`] call; the rest are counted as dropped.
    pub max_findings_per_call: usize,
    /// At most this many findings per [`StreamScanner`] (whole stream).
    pub max_findings_per_stream: usize,
    /// Run the undeclared-identifier detectors (key-hinted IMEI, MAC, e-mail...).
    pub undeclared: bool,
    /// Decode percent and JSON escapes and search the decoded text too (see the module docs).
    pub decode: bool,
    /// Look for declared locations (decimal coordinates, found from every '.').
    pub locations: bool,
    /// Declared locations match coordinates within this many degrees (0.001° ≈ 111 m).
    pub location_tolerance_deg: f64,
    /// Decoding pre-passes stop after this many output bytes.
    pub max_decoded_len: usize,
    /// Shortest form searched, in bytes (at least 6). The sampling filter reads the text every
    /// `min_form_len - 3` bytes, so 8 (the default) scans about twice as fast as 6; with 8, the
    /// only forms skipped for typical profiles are a MAC's 6 raw bytes and the 7-character
    /// base64 fragments of them, and values of 6-7 characters are found only encoded or hashed.
    pub min_form_len: usize,
    /// Patterns compared ASCII-case-insensitively (true, default) or case variants as separate
    /// patterns compared exactly (false); kept for the benchmark comparison.
    pub case_fold: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            show_values: false,
            excerpt_context: 24,
            max_findings_per_call: 64,
            max_findings_per_stream: 256,
            undeclared: true,
            decode: true,
            locations: true,
            location_tolerance_deg: 0.001,
            max_decoded_len: 1 << 20,
            min_form_len: 8,
            case_fold: true,
        }
    }
}

/// Where the scanned text came from; decides the pre-passes and is copied into findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location<'a> {
    /// An HTTP request URL (path and query).
    Url,
    /// One HTTP header's value; the name is the key for undeclared detection. Pass cookies as
    /// [`Location::Cookie`] instead.
    Header(&'a str),
    /// A `Cookie` or `Set-Cookie` value (`a=b; c=d`).
    Cookie,
    /// A (decoded) message body.
    Body,
    /// Raw TCP/UDP payload.
    Payload,
    /// A DNS query name.
    Dns,
    /// A TLS or QUIC server name.
    Sni,
}

impl Location<'_> {
    /// The name in findings: `url`, `header:NAME`, `cookie`, `body`, `payload`, `dns`, `sni`.
    pub fn render(&self) -> String {
        match self {
            Location::Url => "url".into(),
            Location::Header(n) => format!("header:{n}"),
            Location::Cookie => "cookie".into(),
            Location::Body => "body".into(),
            Location::Payload => "payload".into(),
            Location::Dns => "dns".into(),
            Location::Sni => "sni".into(),
        }
    }

    /// Percent-escapes are decoded everywhere but in DNS names and SNIs (which cannot hold
    /// `%`); `+` starts decoding (as a form-encoded space) only where forms travel.
    fn percent_decodes(&self) -> bool {
        !matches!(self, Location::Dns | Location::Sni)
    }

    fn plus_is_space(&self) -> bool {
        matches!(self, Location::Url | Location::Cookie | Location::Body)
    }

    /// JSON escapes are decoded everywhere but in DNS names and SNIs: JSON travels in
    /// bodies and payloads, but also in query parameters, headers and cookies.
    fn json_decodes(&self) -> bool {
        !matches!(self, Location::Dns | Location::Sni)
    }

    fn header(&self) -> Option<&str> {
        match self {
            Location::Header(n) => Some(n),
            _ => None,
        }
    }
}

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Shape only (a key-less MAC, a role e-mail address).
    Low,
    /// Validated under a generic key, a key-less e-mail, or a short declared form.
    Medium,
    /// A declared value, or a validated value under a specific key.
    High,
}

/// An identifier found in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// The declared id's label, if it has one.
    pub label: Option<String>,
    /// Whether the value was declared in the profile (false: found by key and validation).
    pub declared: bool,
    /// How the value was disguised: `plain`, `url`, `hex(upper)`, `base64(md5)`, ...
    pub encoding: String,
    /// For declared values: the canonical form that was encoded (`e164`, `colon-lower`...).
    pub form: Option<String>,
    /// For undeclared values: the key it was sent under, if any (`_android_id`).
    pub key: Option<String>,
    /// Where, as given by the caller: `url`, `header:NAME`, `cookie`, `body`, `payload`, ...
    pub location: String,
    /// How sure.
    pub confidence: Confidence,
    /// Byte offset of the match in the scanned text (in the stream, for [`StreamScanner`]).
    pub offset: usize,
    /// Byte length of the match in the scanned text.
    pub len: usize,
    /// The text around the match, non-printable bytes as `\xNN`, every identifier in it
    /// replaced by `[kind]` or `[kind/label]` unless [`Options::show_values`].
    pub excerpt: String,
    /// The matched bytes (lossy UTF-8), only with [`Options::show_values`].
    pub value: Option<String>,
}

/// Counts of one [`Scanner::scan`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Findings appended to `out`.
    pub findings: usize,
    /// Findings dropped by [`Options::max_findings_per_call`].
    pub dropped: usize,
    /// The text held so many matches that the scan stopped collecting them (at 16 times
    /// [`Options::max_findings_per_call`], at least 1024) or stopped decoding escapes (after
    /// [`Options::max_decoded_len`] bytes): `dropped` is then a lower bound.
    pub truncated: bool,
    /// The decoding pre-passes ran out of their [`Options::max_decoded_len`] budget: escaped
    /// text past it was searched only as written, not decoded (`truncated` is set too).
    pub decode_capped: bool,
}

/// A match before it becomes a [`Finding`]; spans are in the scanned text.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
    /// Declared id index.
    pub id: Option<usize>,
    pub encoding: String,
    pub form: Option<&'static str>,
    pub key: Option<String>,
    pub confidence: Confidence,
}

impl Hit {
    pub(crate) fn undeclared(
        kind: Kind,
        start: usize,
        end: usize,
        encoding: &str,
        key: Option<String>,
        confidence: Confidence,
    ) -> Hit {
        Hit { start, end, kind, id: None, encoding: encoding.to_string(), form: None, key, confidence }
    }
}

/// One form behind a pattern.
#[derive(Debug)]
struct Member {
    id: usize,
    encoding: Box<str>,
    form: &'static str,
    /// The exact bytes, for case-sensitive forms among case-folded patterns.
    exact: Option<Box<[u8]>>,
    digit_boundary: bool,
    edges: Option<encode::Edges>,
    confidence: Confidence,
}

/// The sampling filter in front of the dictionary (see the module docs): two bitmaps of the
/// pattern grams under two hash functions (a Bloom filter with k = 2). The first is tested at
/// every probe; the second only when the first says yes, which cuts the dictionary lookups on
/// random bytes a hundredfold for the price of one more load on 1% of probes.
#[derive(Debug)]
struct Filter {
    bits: Vec<u64>,
    bits2: Vec<u64>,
    /// First 4 bytes (folded) of every pattern, hashed into 2^16 bits: tells which of the
    /// `stride` candidate starts of a probe hit can start a pattern at all.
    starts: Vec<u64>,
    shift: u32,
    stride: usize,
}

impl Filter {
    fn new(keys: &[Vec<u8>], min_len: usize) -> Filter {
        let stride = (min_len - 3).clamp(1, 16);
        let grams = keys.len() * stride;
        // About 1% of bits set: 64 bits per gram, between 4 KiB and 2 MiB per bitmap.
        let log2 = (grams * 64).next_power_of_two().trailing_zeros().clamp(15, 24);
        let words = (1usize << log2) / 64;
        let mut f =
            Filter { bits: vec![0; words], bits2: vec![0; words], starts: vec![0; 1024], shift: 32 - log2, stride };
        for k in keys {
            let h = start_hash(gram(k, 0));
            f.starts[h >> 6] |= 1 << (h & 63);
            for off in 0..stride {
                let g = gram(k, off);
                let h = f.hash(g, HASH_MUL);
                f.bits[h >> 6] |= 1 << (h & 63);
                let h = f.hash(g, HASH_MUL2);
                f.bits2[h >> 6] |= 1 << (h & 63);
            }
        }
        f
    }

    #[inline(always)]
    fn hash(&self, g: u32, mul: u32) -> usize {
        ((g | FOLD).wrapping_mul(mul) >> self.shift) as usize
    }

    #[inline(always)]
    fn may_start(&self, g: u32) -> bool {
        let h = start_hash(g);
        self.starts[h >> 6] & (1 << (h & 63)) != 0
    }

    #[inline(always)]
    fn test2(&self, g: u32) -> bool {
        let h = self.hash(g, HASH_MUL2);
        self.bits2[h >> 6] & (1 << (h & 63)) != 0
    }
}

/// The patterns by where they start: bucketed by a hash of their first four (folded) bytes,
/// longest first in each bucket. Scanning only ever asks "which patterns occur at `i`" (the
/// filter has chosen `i`), so a lookup and a comparison per candidate is all it needs; an
/// Aho-Corasick automaton run anchored answered the same question but took 0.07 s to build
/// for 50 values (its failure transitions, never used by anchored searches).
#[derive(Debug)]
struct Dictionary {
    /// Bucket `h` is `order[first[h]..first[h + 1]]`.
    first: Vec<u32>,
    /// Buckets are the top `16 - shift` bits of [`start_hash`]: about two per pattern, from
    /// 1,024 (4 KiB of `first`) to 65,536.
    shift: u32,
    order: Vec<u32>,
    /// The patterns (lower-cased when `fold`).
    keys: Vec<Box<[u8]>>,
    fold: bool,
}

impl Dictionary {
    fn new(keys: Vec<Vec<u8>>, fold: bool) -> Dictionary {
        let bits = (keys.len() * 2).next_power_of_two().trailing_zeros().clamp(10, 16);
        let shift = 16 - bits;
        let buckets = 1usize << bits;
        let bucket = |k: &[u8]| start_hash(gram(k, 0)) >> shift;
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_by_key(|&p| (bucket(&keys[p as usize]), std::cmp::Reverse(keys[p as usize].len())));
        let mut first = vec![0u32; buckets + 1];
        for k in &keys {
            first[bucket(k) + 1] += 1;
        }
        for h in 0..buckets {
            first[h + 1] += first[h];
        }
        Dictionary { first, shift, order, keys: keys.into_iter().map(Vec::into_boxed_slice).collect(), fold }
    }

    /// The patterns that occur at `i` (whose first four bytes are `g`), longest first, with
    /// their end.
    fn at<'a>(&'a self, text: &'a [u8], i: usize, g: u32) -> impl Iterator<Item = (usize, usize)> + 'a {
        let h = start_hash(g) >> self.shift;
        self.order[self.first[h] as usize..self.first[h + 1] as usize].iter().filter_map(move |&p| {
            let key = &self.keys[p as usize];
            let end = i + key.len();
            let t = text.get(i..end)?;
            (if self.fold { t.eq_ignore_ascii_case(key) } else { t == &key[..] }).then_some((p as usize, end))
        })
    }
}

/// ORed into every gram: ASCII letters fold to lower case (other bytes fold too, harmlessly:
/// the dictionary decides).
const FOLD: u32 = 0x2020_2020;
/// Multiplicative hashing (Knuth): the top bits of `gram * HASH_MUL` index the first bitmap,
/// those of `gram * HASH_MUL2` (another odd constant) the second.
const HASH_MUL: u32 = 0x9E37_79B1;
const HASH_MUL2: u32 = 0x85EB_CA77;

#[inline(always)]
fn start_hash(g: u32) -> usize {
    ((g | FOLD).wrapping_mul(HASH_MUL2) >> 16) as usize
}

#[inline(always)]
fn gram(t: &[u8], j: usize) -> u32 {
    u32::from_le_bytes([t[j], t[j + 1], t[j + 2], t[j + 3]])
}

/// Buffers of the decoding pre-passes, reused across the runs and windows of one scan.
#[derive(Default)]
struct Scratch {
    /// Raw bytes the pre-passes may still decode in this scan ([`Options::max_decoded_len`]).
    budget: usize,
    /// The budget ran out with escaped text left to decode.
    budget_spent: bool,
    d1: Vec<u8>,
    m1: Vec<u32>,
    d2: Vec<u8>,
    m2: Vec<u32>,
    changes: Vec<u32>,
    layer: Vec<Hit>,
    inner: Vec<Hit>,
    window_hits: Vec<Hit>,
}

/// Raw bytes decoded and scanned at a time by a decoding pre-pass.
const DECODE_WINDOW: usize = 64 * 1024;
/// Overlap of consecutive decoding windows: twice the longest raw match (see
/// [`encode::RUN_WINDOW`]).
const WINDOW_OVERLAP: usize = 2 * encode::RUN_WINDOW;

/// A declared location.
#[derive(Debug, Clone)]
struct Geo {
    id: usize,
    lat: f64,
    lon: f64,
}

/// Every form of every declared value, compiled: what building a scanner costs.
#[derive(Debug)]
struct Patterns {
    dict: Dictionary,
    /// What each pattern stands for (forms that fold to the same bytes share one).
    groups: Vec<Vec<Member>>,
    filter: Filter,
}

/// Finds declared and undeclared identifiers; build once, share (`&self`) across flows and
/// threads.
#[derive(Debug)]
pub struct Scanner {
    opts: Options,
    ids: Vec<(Kind, Option<String>)>,
    /// Shared by [`Scanner::with_detectors`]'s copies; `None` when nothing is declared.
    patterns: Option<Arc<Patterns>>,
    geos: Vec<Geo>,
    /// Absolute integer parts a declared coordinate can have within the tolerance.
    geo_ints: Vec<u32>,
    region: Option<phonenumber::country::Id>,
    max_pattern_len: usize,
}

impl Scanner {
    /// Compiles every form of every declared value (milliseconds for a
    /// profile of 50 values; the patterns take a few MB).
    pub fn new(profile: &Profile, opts: &Options) -> Scanner {
        let mut all: Vec<Form> = forms::forms(profile, opts.min_form_len);
        if !opts.case_fold {
            all = case_variants(all);
        }
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut groups: Vec<Vec<Member>> = Vec::new();
        for f in all {
            let key = if opts.case_fold { f.bytes.to_ascii_lowercase() } else { f.bytes.clone() };
            let g = *index.entry(key.clone()).or_insert_with(|| {
                keys.push(key);
                groups.push(Vec::new());
                groups.len() - 1
            });
            let exact = (opts.case_fold && !f.case_insensitive).then(|| f.bytes.clone().into_boxed_slice());
            let confidence = if f.bytes.len() < 8 { Confidence::Medium } else { Confidence::High };
            let member = Member {
                id: f.id,
                encoding: f.encoding.into_boxed_str(),
                form: f.form,
                exact,
                digit_boundary: f.digit_boundary,
                edges: f.edges,
                confidence,
            };
            // The same bytes from the same id twice (two forms that coincide) are one member.
            if !groups[g].iter().any(|m| m.id == member.id && m.exact == member.exact && m.edges == member.edges) {
                groups[g].push(member);
            }
        }
        let min_len = keys.iter().map(Vec::len).min().unwrap_or(profile::MIN_VALUE_LEN);
        let max_pattern_len = keys.iter().map(Vec::len).max().unwrap_or(0);
        let patterns = (!keys.is_empty()).then(|| {
            let filter = Filter::new(&keys, min_len);
            Arc::new(Patterns { dict: Dictionary::new(keys, opts.case_fold), filter, groups })
        });
        let geos: Vec<Geo> = profile
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| id.kind == Kind::Location)
            .filter_map(|(i, id)| profile::parse_location(&id.value).map(|(lat, lon)| Geo { id: i, lat, lon }))
            .collect();
        let tol = opts.location_tolerance_deg.abs();
        let mut geo_ints: Vec<u32> = geos
            .iter()
            .flat_map(|g| [g.lat - tol, g.lat + tol, g.lon - tol, g.lon + tol])
            .map(|v| v.abs().trunc() as u32)
            .chain(geos.iter().flat_map(|g| [g.lat.abs().trunc() as u32, g.lon.abs().trunc() as u32]))
            .collect();
        geo_ints.sort_unstable();
        geo_ints.dedup();
        Scanner {
            opts: opts.clone(),
            geo_ints,
            ids: profile.ids.iter().map(|i| (i.kind, i.label.clone())).collect(),
            patterns,
            geos,
            region: profile.phone_region(),
            max_pattern_len,
        }
    }

    /// The same scanner, sharing the compiled patterns, with the detectors that do not need
    /// them switched: `undeclared`, `decode` and `locations` taken from `opts` (its other
    /// fields shape the patterns and are kept from `self`).
    pub fn with_detectors(&self, opts: &Options) -> Scanner {
        Scanner {
            opts: Options {
                undeclared: opts.undeclared,
                decode: opts.decode,
                locations: opts.locations,
                ..self.opts.clone()
            },
            ids: self.ids.clone(),
            patterns: self.patterns.clone(),
            geos: self.geos.clone(),
            geo_ints: self.geo_ints.clone(),
            region: self.region,
            max_pattern_len: self.max_pattern_len,
        }
    }

    /// Number of patterns (distinct forms after case folding).
    pub fn pattern_count(&self) -> usize {
        self.patterns.as_ref().map_or(0, |p| p.dict.keys.len())
    }

    /// Length of the longest pattern: a stream must carry this many bytes minus one across
    /// chunk boundaries ([`StreamScanner`] does).
    pub fn max_pattern_len(&self) -> usize {
        self.max_pattern_len
    }

    /// The options the scanner was built with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Scans one text (a URL, one header value, a body, a payload chunk, a DNS name, an SNI)
    /// and appends its findings to `out`, sorted by offset, at most
    /// [`Options::max_findings_per_call`].
    pub fn scan(&self, text: &[u8], location: Location<'_>, out: &mut Vec<Finding>) -> ScanStats {
        let (hits, truncated, decode_capped) = self.collect(text, location);
        let hits = finish_hits(hits);
        let cap = self.opts.max_findings_per_call;
        let mut stats = self.render(text, 0, &hits, cap, location, out);
        stats.truncated = truncated;
        stats.decode_capped = decode_capped;
        stats
    }

    /// Every detector over `text` and over what its escapes decode to; hits in `text`'s
    /// coordinates, unsorted. Also says whether a cap cut the search short, and whether that
    /// was the decoding budget.
    fn collect(&self, text: &[u8], location: Location<'_>) -> (Vec<Hit>, bool, bool) {
        let mut hits = Vec::new();
        self.scan_layer(text, location, &mut hits);
        let mut truncated = false;
        let mut scratch = Scratch { budget: self.opts.max_decoded_len, ..Scratch::default() };
        if !self.opts.decode {
            let truncated = hits.len() >= self.hit_limit();
            return (hits, truncated, false);
        }
        if location.percent_decodes() {
            let runs = if location.plus_is_space() {
                let trig = memchr::memchr2_iter(b'%', b'+', text);
                encode::escape_runs(text, trig, |t, i| t[i] == b'+' || encode::is_percent_escape(t, i))
            } else {
                encode::escape_runs(text, memchr::memchr_iter(b'%', text), encode::is_percent_escape)
            };
            truncated |= self.decode_runs(text, &runs, location, &mut hits, Decoder::Percent, &mut scratch);
        }
        if location.json_decodes() {
            let trig = memchr::memchr_iter(b'\\', text);
            let runs = encode::escape_runs(text, trig, |t, i| encode::json_escape(t, i).is_some());
            truncated |= self.decode_runs(text, &runs, location, &mut hits, Decoder::Json, &mut scratch);
        }
        truncated |= hits.len() >= self.hit_limit();
        (hits, truncated, scratch.budget_spent)
    }

    /// Hits collected per scan before the detectors stop looking (see [`ScanStats::truncated`]).
    fn hit_limit(&self) -> usize {
        self.opts.max_findings_per_call.saturating_mul(16).max(1024)
    }

    /// All detectors over one text, hits in its coordinates.
    fn scan_layer(&self, text: &[u8], location: Location<'_>, hits: &mut Vec<Hit>) {
        let limit = self.hit_limit();
        self.find_declared(text, limit, hits);
        if self.opts.locations && !self.geos.is_empty() && hits.len() < limit {
            self.find_locations(text, limit, hits);
        }
        if self.opts.undeclared && hits.len() < limit {
            crate::undeclared::detect(text, location.header(), self.region, limit, hits);
        }
    }

    /// Decodes the escape runs of `text` and scans what they decode to, [`DECODE_WINDOW`]
    /// bytes at a time (windows overlap by [`WINDOW_OVERLAP`]; a hit belongs to the window in
    /// whose first part it ends, so none is cut or reported twice), spending at most `scratch.budget`
    /// raw bytes. Returns whether the budget ran out.
    fn decode_runs(
        &self,
        text: &[u8],
        runs: &[(usize, usize)],
        location: Location<'_>,
        hits: &mut Vec<Hit>,
        dec: Decoder,
        scratch: &mut Scratch,
    ) -> bool {
        let mut layer = std::mem::take(&mut scratch.window_hits);
        for &(s, e) in runs {
            let mut ws = s;
            loop {
                if scratch.budget == 0 {
                    scratch.budget_spent = true;
                    return true;
                }
                if hits.len() >= self.hit_limit() {
                    return true;
                }
                let we = e.min(ws + DECODE_WINDOW).min(ws + scratch.budget);
                scratch.budget -= we - ws;
                layer.clear();
                self.decoded_layers(&text[ws..we], ws, location, &mut layer, dec, scratch);
                let last = we == e;
                // Hits ending in the overlap are the next window's (it sees their right side).
                let own_end = if last { usize::MAX } else { we.saturating_sub(WINDOW_OVERLAP / 2) };
                let own_start = if ws == s { 0 } else { ws + WINDOW_OVERLAP / 2 };
                hits.extend(layer.drain(..).filter(|h| h.end <= own_end && h.end > own_start));
                if last {
                    break;
                }
                ws = we.saturating_sub(WINDOW_OVERLAP).max(ws + 1);
            }
        }
        scratch.window_hits = layer;
        false
    }

    /// Decodes `text` (a run of text holding escapes, at offset `base` of the scanned text)
    /// with `dec` and scans the result, then decodes that once more with each decoder whose
    /// escapes remain (`url(url)`, `url(json)`, `json(url)`...: nestings to depth two) and
    /// scans again. Keeps the hits whose span held an escape, in raw coordinates, with the
    /// decoders that mattered in their encoding (outermost first).
    fn decoded_layers(
        &self,
        text: &[u8],
        base: usize,
        location: Location<'_>,
        hits: &mut Vec<Hit>,
        dec: Decoder,
        scratch: &mut Scratch,
    ) {
        let cap = self.opts.max_decoded_len;
        let Scratch { d1, m1, d2, m2, changes, layer, inner, .. } = scratch;
        dec.decode(text, d1, m1, changes, cap);
        let m1 = &m1[..];
        let d1 = &d1[..m1.len() - 1];
        layer.clear();
        self.scan_near_changes(d1, changes, location, layer, inner);
        for mut h in layer.drain(..) {
            let (rs, re) = (m1[h.start] as usize, m1[h.end] as usize);
            if same_in_context(text, rs, re, d1, h.start, h.end) {
                continue; // no escape inside or next to it: the raw scan has it
            }
            h.encoding = wrap_encoding(dec.name(), &h.encoding);
            (h.start, h.end) = (base + rs, base + re);
            hits.push(h);
        }
        for dec2 in [Decoder::Percent, Decoder::Json] {
            if !dec2.applies(location) || !dec2.has_escape(d1) {
                continue;
            }
            dec2.decode(d1, d2, m2, changes, cap);
            let d2 = &d2[..m2.len() - 1];
            self.scan_near_changes(d2, changes, location, layer, inner);
            for mut h in layer.drain(..) {
                let (s1, e1) = (m2[h.start] as usize, m2[h.end] as usize);
                if same_in_context(d1, s1, e1, d2, h.start, h.end) {
                    continue; // found in the first layer already
                }
                let (rs, re) = (m1[s1] as usize, m1[e1] as usize);
                let inner = wrap_encoding(dec2.name(), &h.encoding);
                // Both decoders mattered only if the raw span differs from the first layer's.
                let both = !same_in_context(text, rs, re, d1, s1, e1);
                h.encoding = if both { wrap_encoding(dec.name(), &inner) } else { inner };
                (h.start, h.end) = (base + rs, base + re);
                hits.push(h);
            }
        }
    }

    /// Scans the decoded text `dec` only around the bytes that decoding changed (`changes`,
    /// increasing offsets): a hit is kept only if its span (or a neighbour) holds such a byte,
    /// so text far from every escape would be scanned for nothing. Windows reach
    /// [`Self::reach`] bytes either side of each change; hits touching a window's inner edge
    /// are dropped (they may be cut short), which loses nothing, since every hit that holds a
    /// change lies well inside its window.
    fn scan_near_changes(
        &self,
        dec: &[u8],
        changes: &[u32],
        location: Location<'_>,
        hits: &mut Vec<Hit>,
        layer: &mut Vec<Hit>,
    ) {
        let reach = self.reach();
        let mut window: Option<(usize, usize)> = None;
        for i in changes.iter().map(|&c| c as usize).chain([usize::MAX]) {
            let next = (i != usize::MAX).then(|| (i.saturating_sub(reach), (i + 1 + reach).min(dec.len())));
            match (window, next) {
                (Some(w), Some(n)) if n.0 <= w.1 => window = Some((w.0, n.1)),
                (w, n) => {
                    if let Some((ws, we)) = w {
                        if ws == 0 && we == dec.len() {
                            self.scan_layer(dec, location, hits);
                            return;
                        }
                        layer.clear();
                        self.scan_layer(&dec[ws..we], location, layer);
                        for mut h in layer.drain(..) {
                            if (ws > 0 && h.start == 0) || (we < dec.len() && h.end == we - ws) {
                                continue;
                            }
                            h.start += ws;
                            h.end += ws;
                            hits.push(h);
                        }
                    }
                    window = n;
                }
            }
        }
    }

    /// How far from a decoded escape a hit that holds it can start or end: the longest
    /// pattern, or with undeclared detection the longest key, value or e-mail address.
    fn reach(&self) -> usize {
        let undeclared = if self.opts.undeclared { 340 } else { 0 };
        self.max_pattern_len.max(undeclared).max(if self.geos.is_empty() { 0 } else { 200 }) + 2
    }

    /// The sampling filter + dictionary search for declared forms.
    fn find_declared(&self, text: &[u8], limit: usize, hits: &mut Vec<Hit>) {
        let Some(Patterns { filter, .. }) = self.patterns.as_deref() else { return };
        if text.len() < 4 {
            return;
        }
        // Locals, so that the loop keeps them in registers.
        let (bits, shift, s) = (&filter.bits[..], filter.shift, filter.stride);
        let last = text.len() - 4;
        let mut next = 0usize; // starts below this are inside an earlier match
        let mut j = 0usize;
        while j <= last {
            let g = u32::from_le_bytes([text[j], text[j + 1], text[j + 2], text[j + 3]]);
            let h = ((g | FOLD).wrapping_mul(HASH_MUL) >> shift) as usize; // = filter.hash(g, HASH_MUL)
            if bits[h >> 6] & (1 << (h & 63)) != 0 && filter.test2(g) {
                next = self.probe_hit(text, j, s, next, hits);
                if hits.len() >= limit {
                    return;
                }
            }
            j += s;
        }
    }

    /// Looks the `s` starts a probe at `j` stands for up in the dictionary: at each, the
    /// longest pattern there whose members verify is a hit, and the search resumes after it.
    #[inline(never)]
    fn probe_hit(&self, text: &[u8], j: usize, s: usize, mut next: usize, hits: &mut Vec<Hit>) -> usize {
        let Some(Patterns { filter, dict, .. }) = self.patterns.as_deref() else { return next };
        let mut i = (j + 1).saturating_sub(s).max(next);
        while i <= j && i + 4 <= text.len() {
            let g = gram(text, i);
            let end = if filter.may_start(g) {
                dict.at(text, i, g).find_map(|(p, end)| self.verify(text, i, end, p, hits).then_some(end))
            } else {
                None
            };
            match end {
                Some(end) => {
                    next = end;
                    i = end;
                }
                None => i += 1,
            }
        }
        next
    }

    /// Checks a pattern match against its members (exact case, digit boundaries) and records
    /// a hit per member that holds. Returns whether any did.
    fn verify(&self, text: &[u8], start: usize, end: usize, pattern: usize, hits: &mut Vec<Hit>) -> bool {
        let mut any = false;
        let Some(p) = self.patterns.as_deref() else { return false };
        for m in &p.groups[pattern] {
            if let Some(exact) = &m.exact
                && text[start..end] != **exact
            {
                continue;
            }
            if m.digit_boundary
                && ((start > 0 && text[start - 1].is_ascii_digit()) || text.get(end).is_some_and(u8::is_ascii_digit))
            {
                continue;
            }
            if let Some(edges) = &m.edges
                && !edges.check(text, start, end)
            {
                continue;
            }
            any = true;
            hits.push(Hit {
                start,
                end,
                kind: self.ids[m.id].0,
                id: Some(m.id),
                encoding: m.encoding.to_string(),
                form: Some(m.form),
                key: None,
                confidence: m.confidence,
            });
        }
        any
    }

    /// Declared locations: decimal numbers (found from their '.') within the tolerance of the
    /// latitude and of the longitude, no more than 64 bytes apart, in either order. Any rounding
    /// with at least two decimals matches; encoded coordinates are not searched.
    fn find_locations(&self, text: &[u8], limit: usize, hits: &mut Vec<Hit>) {
        let mut nums: Vec<(usize, usize, f64, f64)> = Vec::new(); // start, end, value, tolerance
        let mut skip = 0;
        for p in memchr::memchr_iter(b'.', text) {
            if p < skip || p == 0 || !text[p - 1].is_ascii_digit() {
                continue;
            }
            let mut s = p;
            let mut int = 0u32;
            let mut scale = 1;
            while s > 0 && text[s - 1].is_ascii_digit() && p - s < 3 {
                s -= 1;
                int += u32::from(text[s] - b'0') * scale;
                scale *= 10;
            }
            if s > 0 && (text[s - 1].is_ascii_digit() || text[s - 1] == b'.') {
                continue;
            }
            // Cheap reject: the integer part must be one a declared coordinate can have.
            if !self.geo_ints.contains(&int) {
                continue;
            }
            if s > 0 && text[s - 1] == b'-' {
                s -= 1;
            }
            let mut e = p + 1;
            while e < text.len() && text[e].is_ascii_digit() && e - p <= 15 {
                e += 1;
            }
            skip = e;
            if e - p < 3 || text.get(e).is_some_and(|&b| b.is_ascii_digit() || b == b'.') {
                continue; // fewer than 2 decimals, or a version number / IP address
            }
            if let Some((v, decimals)) = crate::validate::parse_decimal(&text[s..e]) {
                // "Whatever the rounding": a number written with d decimals matches if the
                // declared value rounds or truncates to it.
                let tol = self.opts.location_tolerance_deg.max(0.5 * 10f64.powi(-(decimals as i32)) * (1.0 + 1e-9));
                nums.push((s, e, v, tol));
            }
        }
        let close = |v: f64, t: f64, want: f64| (v - want).abs() <= t;
        for g in &self.geos {
            let mut used_until = 0;
            for (a, &(s1, e1, v1, t1)) in nums.iter().enumerate() {
                if s1 < used_until {
                    continue;
                }
                // Numbers are in text order: look at the ones starting within 64 bytes after.
                let pair = nums[a + 1..].iter().take_while(|n| n.0 <= e1 + 64).find(|n| {
                    (close(v1, t1, g.lat) && close(n.2, n.3, g.lon)) || (close(v1, t1, g.lon) && close(n.2, n.3, g.lat))
                });
                if let Some(&(_, e2, _, _)) = pair {
                    if hits.len() >= limit {
                        return;
                    }
                    used_until = e2;
                    hits.push(Hit {
                        start: s1,
                        end: e2,
                        kind: Kind::Location,
                        id: Some(g.id),
                        encoding: "plain".into(),
                        form: Some("decimal-degrees"),
                        key: None,
                        confidence: Confidence::High,
                    });
                }
            }
        }
    }

    /// Turns hits (sorted, deduplicated) into findings with excerpts; `base` is added to
    /// offsets (stream position of `text[0]`).
    fn render(
        &self,
        text: &[u8],
        base: usize,
        hits: &[Hit],
        cap: usize,
        location: Location<'_>,
        out: &mut Vec<Finding>,
    ) -> ScanStats {
        let take = hits.len().min(cap);
        let loc = if take > 0 { location.render() } else { String::new() };
        for h in &hits[..take] {
            let (label, declared) = match h.id {
                Some(i) => (self.ids[i].1.clone(), true),
                None => (None, false),
            };
            out.push(Finding {
                kind: h.kind,
                label,
                declared,
                encoding: h.encoding.clone(),
                form: h.form.map(str::to_string),
                key: h.key.clone(),
                location: loc.clone(),
                confidence: h.confidence,
                offset: base + h.start,
                len: h.end - h.start,
                excerpt: self.excerpt(text, h, hits),
                value: self.opts.show_values.then(|| String::from_utf8_lossy(&text[h.start..h.end]).into_owned()),
            });
        }
        ScanStats { findings: take, dropped: hits.len() - take, truncated: false, decode_capped: false }
    }

    fn excerpt(&self, text: &[u8], h: &Hit, all: &[Hit]) -> String {
        let c = self.opts.excerpt_context;
        let (ws, we) = (h.start.saturating_sub(c), (h.end + c).min(text.len()));
        let mut s = String::with_capacity(we - ws + 16);
        if ws > 0 {
            s.push('…');
        }
        // Hits are sorted by start: the ones to redact in the window are a short stretch.
        let mut spans: Vec<&Hit> = if self.opts.show_values {
            Vec::new()
        } else {
            all.iter().filter(|o| o.start < we && o.end > ws).collect()
        };
        spans.sort_by_key(|o| (o.start, std::cmp::Reverse(o.end)));
        let mut k = 0;
        let mut i = ws;
        while i < we {
            while k < spans.len() && spans[k].end <= i {
                k += 1;
            }
            if k < spans.len() && spans[k].start <= i {
                let o = spans[k];
                s.push('[');
                s.push_str(o.kind.as_str());
                if let Some(l) = o.id.and_then(|id| self.ids[id].1.as_deref()) {
                    s.push('/');
                    s.push_str(l);
                }
                s.push(']');
                i = spans[k..].iter().take_while(|x| x.start <= i).map(|x| x.end).max().unwrap_or(o.end).max(i + 1);
                continue;
            }
            let b = text[i];
            match b {
                b'\r' => s.push_str("\\r"),
                b'\n' => s.push_str("\\n"),
                b'\t' => s.push_str("\\t"),
                b'\\' => s.push_str("\\\\"),
                0x20..=0x7e => s.push(b as char),
                _ => {
                    use std::fmt::Write as _;
                    let _ = write!(s, "\\x{b:02x}");
                }
            }
            i += 1;
        }
        if we < text.len() {
            s.push('…');
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    Percent,
    Json,
}

impl Decoder {
    fn name(self) -> &'static str {
        match self {
            Decoder::Percent => "url",
            Decoder::Json => "json",
        }
    }

    fn applies(self, location: Location<'_>) -> bool {
        match self {
            Decoder::Percent => location.percent_decodes(),
            Decoder::Json => location.json_decodes(),
        }
    }

    fn has_escape(self, text: &[u8]) -> bool {
        match self {
            Decoder::Percent => encode::has_percent_escape(text),
            Decoder::Json => memchr::memchr_iter(b'\\', text).any(|i| encode::json_escape(text, i).is_some()),
        }
    }

    fn decode(self, text: &[u8], out: &mut Vec<u8>, map: &mut Vec<u32>, changes: &mut Vec<u32>, cap: usize) {
        match self {
            Decoder::Percent => encode::percent_decode_changes(text, out, map, changes, cap),
            Decoder::Json => encode::json_unescape_changes(text, out, map, changes, cap),
        };
    }
}

/// Whether `a[sa..ea]` and `b[sb..eb]` are the same bytes with the same neighbour on each
/// side: then a scan of `a` saw what a scan of `b` saw (neighbours decide digit boundaries
/// and base64 edges, so an escape next to a match matters too).
fn same_in_context(a: &[u8], sa: usize, ea: usize, b: &[u8], sb: usize, eb: usize) -> bool {
    a[sa..ea] == b[sb..eb]
        && sa.checked_sub(1).map(|i| a[i]) == sb.checked_sub(1).map(|i| b[i])
        && a.get(ea) == b.get(eb)
}

fn wrap_encoding(outer: &str, inner: &str) -> String {
    if inner == "plain" { outer.to_string() } else { format!("{outer}({inner})") }
}

/// Sorts hits by offset and drops duplicates: the same span and kind found twice (keeps the
/// declared or more confident one), and undeclared hits that overlap a declared one (the
/// declared finding says more: it has the label). O(n log n).
fn finish_hits(mut hits: Vec<Hit>) -> Vec<Hit> {
    if hits.len() < 2 {
        return hits;
    }
    hits.sort_by(|a, b| {
        (a.start, b.end, a.id.is_none(), b.confidence).cmp(&(b.start, a.end, b.id.is_none(), a.confidence))
    });
    // Declared spans in start order, and the largest end among the first k of them.
    let decl: Vec<(usize, usize)> = hits.iter().filter(|h| h.id.is_some()).map(|h| (h.start, h.end)).collect();
    let mut max_end = Vec::with_capacity(decl.len() + 1);
    max_end.push(0);
    for &(_, e) in &decl {
        let m = *max_end.last().unwrap_or(&0);
        max_end.push(m.max(e));
    }
    let overlaps_declared = |h: &Hit| {
        // Declared spans starting before h.end: overlap iff one of them ends after h.start.
        let k = decl.partition_point(|&(s, _)| s < h.end);
        max_end[k] > h.start
    };
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    // Per declared id, the end of its last kept hit: overlapping hits of one id are one
    // occurrence seen through two forms (`+6581234567` and, in the decoded layer where `+`
    // is a space, `6581234567`); the first (longest) one stands. The same holds for the
    // undeclared hits of one kind.
    let mut id_end: HashMap<usize, usize> = HashMap::new();
    let mut kind_end: HashMap<Kind, usize> = HashMap::new();
    for h in hits {
        if h.id.is_none() && overlaps_declared(&h) {
            continue;
        }
        let end = match h.id {
            Some(id) => id_end.entry(id).or_insert(0),
            None => kind_end.entry(h.kind).or_insert(0),
        };
        if *end > h.start {
            continue;
        }
        *end = h.end;
        if out.iter().rev().take(8).any(|o| o.start == h.start && o.end == h.end && o.kind == h.kind && o.id == h.id) {
            continue;
        }
        out.push(h);
    }
    out
}

/// Expands case-insensitive forms into case-sensitive variants (as declared, lower, upper),
/// for [`Options::case_fold`]` = false`.
fn case_variants(forms: Vec<Form>) -> Vec<Form> {
    let mut out = Vec::with_capacity(forms.len());
    for f in forms {
        if !f.case_insensitive {
            out.push(f);
            continue;
        }
        let mut vs = vec![f.bytes.clone(), f.bytes.to_ascii_lowercase(), f.bytes.to_ascii_uppercase()];
        vs.dedup();
        if vs.len() == 3 && vs[0] == vs[2] {
            vs.pop();
        }
        for b in vs {
            out.push(Form { bytes: b, case_insensitive: false, ..f.clone() });
        }
    }
    out
}

/// Scans a byte stream delivered in chunks (raw TCP payload): matches that cross a chunk
/// boundary are found, and each match is reported exactly once.
///
/// The last `max(2 * max_pattern_len, 256) + 64` bytes of the stream are kept and scanned
/// again with the next chunk (twice the longest pattern: room for its escaped spelling). A
/// match is reported when it ends before the end of the bytes scanned (so that its right-hand
/// neighbour is known: digit boundaries, key/value ends) and after everything reported by
/// earlier chunks; [`StreamScanner::finish`] reports what touches the end of the stream. The
/// decoding pre-passes of [`Scanner::scan`] run too (percent escapes, JSON escapes), so a
/// stream finds what scanning it whole finds, except matches whose raw spelling is longer
/// than the carried bytes when they straddle a chunk boundary.
#[derive(Debug)]
pub struct StreamScanner {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: usize,
    /// Hits ending at or before this stream offset were decided by an earlier call.
    decided: usize,
    carry: usize,
    findings: usize,
    dropped: usize,
}

impl StreamScanner {
    /// The state for one direction of one flow. It does not hold the [`Scanner`] (which is
    /// shared by every flow), so each call takes it again; pass the same one every time.
    pub fn new(scanner: &Scanner) -> StreamScanner {
        StreamScanner {
            buf: Vec::new(),
            base: 0,
            decided: 0,
            carry: (2 * scanner.max_pattern_len).max(256) + 64,
            findings: 0,
            dropped: 0,
        }
    }

    /// Scans the next chunk of the stream; findings carry stream offsets.
    pub fn push(&mut self, sc: &Scanner, chunk: &[u8], location: Location<'_>, out: &mut Vec<Finding>) -> ScanStats {
        self.buf.extend_from_slice(chunk);
        let stats = self.scan_buf(sc, false, location, out);
        if self.buf.len() > self.carry {
            let drop = self.buf.len() - self.carry;
            self.buf.drain(..drop);
            self.base += drop;
        }
        // One flow's state stays small between chunks, however big a chunk was.
        if self.buf.capacity() > 4 * self.carry {
            self.buf.shrink_to(2 * self.carry);
        }
        stats
    }

    /// Ends the stream: reports matches that touch its last byte.
    pub fn finish(&mut self, sc: &Scanner, location: Location<'_>, out: &mut Vec<Finding>) -> ScanStats {
        let stats = self.scan_buf(sc, true, location, out);
        self.base += self.buf.len();
        self.buf = Vec::new();
        stats
    }

    /// Findings reported so far.
    pub fn findings(&self) -> usize {
        self.findings
    }

    /// Findings dropped by [`Options::max_findings_per_stream`] (and per-call caps).
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    fn scan_buf(&mut self, sc: &Scanner, last: bool, location: Location<'_>, out: &mut Vec<Finding>) -> ScanStats {
        let (mut hits, truncated, decode_capped) = sc.collect(&self.buf, location);
        let len = self.buf.len();
        let (base, decided) = (self.base, self.decided);
        hits.retain(|h| base + h.end > decided && (last || h.end < len));
        let hits = finish_hits(hits);
        self.decided = if last { base + len } else { (base + len).saturating_sub(1).max(decided) };
        let room = sc.opts.max_findings_per_stream.saturating_sub(self.findings);
        let cap = room.min(sc.opts.max_findings_per_call);
        let mut stats = sc.render(&self.buf, base, &hits, cap, location, out);
        stats.truncated = truncated;
        stats.decode_capped = decode_capped;
        self.findings += stats.findings;
        self.dropped += stats.dropped;
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{self, Hash};
    use crate::profile::DeclaredId;

    fn scanner(flags: &[&str], undeclared: bool) -> Scanner {
        let ids = flags.iter().map(|f| DeclaredId::parse_flag(f).unwrap()).collect();
        let p = Profile { ids, region: Some("SG".into()), ..Profile::default() };
        Scanner::new(&p, &Options { undeclared, ..Options::default() })
    }

    fn found(sc: &Scanner, text: &[u8], loc: Location<'_>) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        sc.scan(text, loc, &mut out);
        out.iter().filter(|f| f.declared).map(|f| (f.encoding.clone(), f.offset, f.len)).collect()
    }

    const EMAIL: &str = "email=Jane.Roe@Example-Mail.org";

    #[test]
    fn dictionary_finds_every_pattern_at_a_start_longest_first() {
        let keys: Vec<Vec<u8>> =
            ["abcdefgh", "abcdefghij", "abcdxxxx", "zzzzzzzz"].map(|k| k.as_bytes().to_vec()).into();
        let d = Dictionary::new(keys.clone(), true);
        let at = |text: &[u8], i: usize| d.at(text, i, gram(text, i)).collect::<Vec<_>>();
        assert_eq!(at(b"..ABCDEFGHIJ..", 2), [(1, 12), (0, 10)]);
        assert_eq!(at(b"..abcdefgh", 2), [(0, 10)]); // the longer one would run past the end
        assert_eq!(at(b"abcdxxxx", 0), [(2, 8)]);
        assert!(at(b"abcdefgX", 0).is_empty());
        let exact = Dictionary::new(keys, false);
        assert!(exact.at(b"ABCDEFGH", 0, gram(b"ABCDEFGH", 0)).next().is_none());
    }

    #[test]
    fn a_shorter_form_is_found_where_a_longer_one_fails_its_check() {
        // "R58N91ABCDE" and a custom value that extends it; the custom value is
        // case-sensitive, so in lower case only the serial (case-insensitive) is there.
        let sc = scanner(&["serial=R58N91ABCDE", "custom=R58N91ABCDEFG"], false);
        assert_eq!(found(&sc, b"x r58n91abcdefg y", Location::Payload), [("plain".to_string(), 2, 11)]);
        assert_eq!(found(&sc, b"x R58N91ABCDEFG y", Location::Payload), [("plain".to_string(), 2, 13)]);
    }

    #[test]
    fn a_plain_copy_finds_only_the_forms_themselves() {
        let sc = scanner(&[EMAIL, "location=1.2903217,103.8519843"], true);
        let plain =
            sc.with_detectors(&Options { undeclared: false, decode: false, locations: false, ..Options::default() });
        let text = b"a=jane.roe%40example-mail.org&b=Jane.Roe@Example-Mail.org&ll=1.2905,103.852";
        let all = |sc: &Scanner| {
            let mut out = Vec::new();
            sc.scan(text, Location::Url, &mut out);
            out.iter().map(|f| (f.kind.as_str(), f.declared, f.encoding.clone())).collect::<Vec<_>>()
        };
        let url = "url".to_string();
        let plain_enc = "plain".to_string();
        assert_eq!(
            all(&sc),
            [("email", true, url), ("email", true, plain_enc.clone()), ("location", true, plain_enc.clone())]
        );
        assert_eq!(all(&plain), [("email", true, plain_enc)]);
        assert_eq!(plain.pattern_count(), sc.pattern_count());
    }

    #[test]
    fn plain_case_insensitive_and_offsets() {
        let sc = scanner(&[EMAIL], false);
        let t = b"GET /x?u=JANE.ROE@EXAMPLE-MAIL.ORG&y=1";
        assert_eq!(found(&sc, t, Location::Url), [("plain".to_string(), 9, 25)]);
    }

    #[test]
    fn encodings_and_digests() {
        let sc = scanner(&[EMAIL], false);
        let v = b"jane.roe@example-mail.org";
        let md5 = encode::hex(&Hash::Md5.digest(v), false);
        let sha256_md5 = encode::hex(&Hash::Sha256.digest(&md5), false);
        let sha1_b64 = encode::base64(&Hash::Sha1.digest(v), false);
        let b64 = encode::base64(&[b"{\"e\":\"".as_slice(), v, b"\"}"].concat(), false);
        for (text, enc) in [
            (md5.clone(), "md5"),
            (md5.to_ascii_uppercase(), "md5(upper)"),
            (sha256_md5, "sha256(md5)"),
            (sha1_b64, "base64(sha1)"),
            (b64, "base64"),
            (encode::hex(v, true), "hex(upper)"),
        ] {
            let t = [b"k=".as_slice(), &text, b"&z"].concat();
            let f = found(&sc, &t, Location::Url);
            assert_eq!(f.len(), 1, "{enc}: {f:?}");
            assert_eq!(f[0].0, enc);
        }
    }

    #[test]
    fn digit_boundaries() {
        let sc = scanner(&["phone=+6591112222"], false);
        assert_eq!(found(&sc, b"n=91112222&", Location::Url).len(), 1);
        assert_eq!(found(&sc, b"n=891112222&", Location::Url), []);
        assert_eq!(found(&sc, b"n=911122223&", Location::Url), []);
        assert_eq!(found(&sc, b"n=%2B6591112222&", Location::Url)[0].0, "url");
    }

    #[test]
    fn escapes_far_apart_and_long_escaped_bodies() {
        let sc = scanner(&[EMAIL], false);
        let enc = b"jane.roe%40example-mail.org";
        // A long form body escaped throughout, with the value at many offsets (around the
        // old 1536-byte run edges and the 64 KiB decoding windows).
        let mut body = Vec::new();
        let mut want = Vec::new();
        while body.len() < 300_000 {
            body.extend_from_slice(b"a=%20b%20c&");
            if body.len() % 7 == 3 {
                want.push(body.len());
                body.extend_from_slice(enc);
                body.push(b'&');
            }
        }
        let mut out = Vec::new();
        let opts = Options { max_findings_per_call: 100_000, ..Options::default() };
        let big =
            Scanner::new(&Profile { ids: vec![DeclaredId::parse_flag(EMAIL).unwrap()], ..Profile::default() }, &opts);
        let st = big.scan(&body, Location::Body, &mut out);
        assert!(!st.truncated);
        let got: Vec<usize> = out.iter().map(|f| f.offset).collect();
        assert_eq!(got, want);
        assert!(out.iter().all(|f| f.encoding == "url" && f.len == enc.len()));
        let _ = sc;
    }

    #[test]
    fn the_decoding_budget_is_reported() {
        let profile = Profile { ids: vec![DeclaredId::parse_flag(EMAIL).unwrap()], ..Profile::default() };
        let opts = Options { max_decoded_len: 4096, max_findings_per_call: 1000, ..Options::default() };
        let sc = Scanner::new(&profile, &opts);
        let mut out = Vec::new();
        // Escapes within the budget: decoded and searched, nothing reported.
        let text = b"jane.roe%40example-mail.org&".repeat(100);
        assert_eq!(text.len(), 2800);
        let st = sc.scan(&text, Location::Body, &mut out);
        assert!(!st.decode_capped && !st.truncated && out.len() == 100, "{st:?}");
        // Escapes past it: the last ones are not decoded, which is said.
        out.clear();
        let text = b"jane.roe%40example-mail.org&".repeat(400);
        let st = sc.scan(&text, Location::Body, &mut out);
        assert!(st.decode_capped && st.truncated, "{st:?}");
        assert!((50..400).contains(&out.len()), "{}", out.len());
        // JSON escapes share the budget.
        out.clear();
        let text = br#""jane.roe\u0040example-mail.org","#.repeat(400);
        assert!(sc.scan(&text, Location::Body, &mut out).decode_capped);
    }

    #[test]
    fn double_url_and_json_escapes() {
        let sc = scanner(&[EMAIL], false);
        assert_eq!(found(&sc, b"x=jane.roe%2540example-mail.org", Location::Url)[0].0, "url(url)");
        let f = found(&sc, br#"{"e":"jane.roe\u0040example-mail.org"}"#, Location::Body);
        assert_eq!(f, [("json".to_string(), 6, 30)]);
        let b64 = encode::base64(b"jane.roe@example-mail.org", false);
        let b64 = String::from_utf8(b64).unwrap().replace('/', "%2F").replace('+', "%2B");
        let t = format!("x={b64}");
        let f = found(&sc, t.as_bytes(), Location::Url);
        assert!(f.iter().any(|f| f.0 == "base64" || f.0 == "url(base64)"), "{f:?}");
    }

    #[test]
    fn locations_within_tolerance() {
        let sc = scanner(&["location=1.2903217,103.8519843"], false);
        assert_eq!(found(&sc, br#"{"lat":1.2905,"lng":103.852}"#, Location::Body).len(), 1);
        assert_eq!(found(&sc, b"lon=103.85198&lat=1.29032", Location::Url).len(), 1);
        assert_eq!(found(&sc, b"lat=1.2950&lon=103.8519", Location::Url), []);
        // Rounded or truncated to 2 decimals: still the same place (about 1 km).
        assert_eq!(found(&sc, b"ll=1.29,103.85", Location::Url).len(), 1);
        assert_eq!(found(&sc, b"ll=1.29,103.86", Location::Url).len(), 0);
        assert_eq!(found(&sc, b"ll=1.3,103.9", Location::Url).len(), 0); // 1 decimal: not searched
        assert_eq!(found(&sc, b"v=1.29.103.85", Location::Url), []);
    }

    #[test]
    fn excerpts_are_redacted() {
        let sc = scanner(&["contact/Mum=+6581234567", "imei=490154203237518"], true);
        let mut out = Vec::new();
        sc.scan(b"a=+6581234567&imei=490154203237518&mail=jane.doe@gmail.com", Location::Url, &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        for f in &out {
            assert!(!f.excerpt.contains("81234567") && !f.excerpt.contains("4901542") && !f.excerpt.contains("jane"));
            assert!(f.value.is_none());
        }
        assert!(out[0].excerpt.contains("[contact/Mum]"), "{}", out[0].excerpt);
    }

    #[test]
    fn many_matches_are_bounded() {
        let sc = scanner(&[EMAIL], true);
        let text = "jane.doe@gmail.com jane.roe@example-mail.org ".repeat(100_000);
        let mut out = Vec::new();
        let t = std::time::Instant::now();
        let st = sc.scan(text.as_bytes(), Location::Body, &mut out);
        assert!(st.truncated && st.findings == 64 && out.len() == 64, "{st:?}");
        assert!(t.elapsed().as_secs() < 10);
        // lat/lon pairing is bounded too.
        let text = "lat=1.2345&lon=2.3456&".repeat(50_000);
        out.clear();
        sc.scan(text.as_bytes(), Location::Body, &mut out);
        assert_eq!(out.len(), 64);
        // Many decimal numbers near a declared location: pairing them is linear.
        let geo = scanner(&["location=1.2903217,103.8519843"], false);
        let text = "1.2345 ".repeat(300_000);
        out.clear();
        let t = std::time::Instant::now();
        geo.scan(text.as_bytes(), Location::Body, &mut out);
        assert!(out.is_empty() && t.elapsed().as_secs() < 10);
    }

    #[test]
    fn stream_matches_whole_text() {
        let ids = [EMAIL, "phone=+6591112222", "mac=3c:5a:b4:9e:01:7d"];
        let p = Profile { ids: ids.iter().map(|f| DeclaredId::parse_flag(f).unwrap()).collect(), ..Profile::default() };
        let opts = Options { max_findings_per_call: 100_000, max_findings_per_stream: 100_000, ..Options::default() };
        let sc = Scanner::new(&p, &opts);
        let mut text = Vec::new();
        for i in 0..40 {
            text.extend_from_slice(format!("x{i}=1&t=6591112222&m=3C5AB49E017D&").as_bytes());
            text.extend_from_slice(b"imei=490154203237518&e=jane.roe@example-mail.org;");
            text.extend_from_slice(&[0u8, 0xff, 7][..i % 3]);
        }
        let mut whole = Vec::new();
        let mut st = StreamScanner::new(&sc);
        st.push(&sc, &text, Location::Payload, &mut whole);
        st.finish(&sc, Location::Payload, &mut whole);
        let key = |f: &Finding| (f.offset, f.len, f.kind, f.declared, f.encoding.clone());
        let want: Vec<_> = whole.iter().map(key).collect();
        assert!(want.len() > 100, "{}", want.len());
        for chunk in [1, 2, 7, 64, 333, 1000] {
            let mut got = Vec::new();
            let mut st = StreamScanner::new(&sc);
            for c in text.chunks(chunk) {
                st.push(&sc, c, Location::Payload, &mut got);
            }
            st.finish(&sc, Location::Payload, &mut got);
            let got: Vec<_> = got.iter().map(key).collect();
            assert_eq!(got, want, "chunk {chunk}");
        }
    }
}

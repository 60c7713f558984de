//! Identifiers nobody declared, found by key and validated by shape.
//!
//! Trackers send identifiers as `key=value` (query strings, form bodies, cookies, SLP
//! attributes), `"key":"value"` (JSON) and `Key: value` (headers, mail, text protocols). We find
//! the separators with memchr, read the key backwards and the value forwards (bounded), look the
//! key up in a small dictionary (normalised: lower case, `_`, `-` and `.` removed, trailing
//! digits removed, so `_android_id`, `Client-AndroidId` and `imei1` all hit), and report the
//! value only if it validates as what the key suggests (Luhn for IMEI, MCC for IMSI, UUID for
//! advertising ids, libphonenumber for phone numbers...). A key alone is never enough
//! (`adid=364838` is an ad creative), and a shape alone is enough only where validation is
//! strong: e-mail addresses (syntax + known TLD, not protocol names) and colon-separated MACs
//! (unicast, not placeholders; low confidence).

use memchr::memchr3_iter;

use crate::kind::Kind;
use crate::scan::{Confidence, Hit};
use crate::validate as v;

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClass {
    Imei,
    Imsi,
    Iccid,
    Phone,
    Mac,
    AndroidId,
    AdId,
    DeviceId,
    Serial,
    Email,
    Lat,
    Lon,
    Analytics,
}

/// Exact (normalised) keys.
const EXACT: &[(&str, KeyClass)] = {
    use KeyClass::*;
    &[
        ("imei", Imei),
        ("deviceimei", Imei),
        ("imeinumber", Imei),
        ("imeino", Imei),
        ("meid", Imei),
        ("imsi", Imsi),
        ("subscriberid", Imsi),
        ("imsinumber", Imsi),
        ("iccid", Iccid),
        ("simserial", Iccid),
        ("simserialnumber", Iccid),
        ("simid", Iccid),
        ("iccidnumber", Iccid),
        ("msisdn", Phone),
        ("phone", Phone),
        ("phonenumber", Phone),
        ("phoneno", Phone),
        ("phonenum", Phone),
        ("mobile", Phone),
        ("mobilenumber", Phone),
        ("mobileno", Phone),
        ("tel", Phone),
        ("telephone", Phone),
        ("cellphone", Phone),
        ("userphone", Phone),
        ("telnumber", Phone),
        ("mac", Mac),
        ("macaddress", Mac),
        ("macaddr", Mac),
        ("wifimac", Mac),
        ("wlanmac", Mac),
        ("bssid", Mac),
        ("btmac", Mac),
        ("bluetoothmac", Mac),
        ("bluetoothaddress", Mac),
        ("hwaddr", Mac),
        ("ethmac", Mac),
        ("localmac", Mac),
        ("devicemac", Mac),
        ("routermac", Mac),
        ("apmac", Mac),
        ("androidid", AndroidId),
        ("ssaid", AndroidId),
        ("andid", AndroidId),
        ("gaid", AdId),
        ("idfa", AdId),
        ("adid", AdId),
        ("advertisingid", AdId),
        ("aaid", AdId),
        ("oaid", AdId),
        ("ifa", AdId),
        ("aid", AdId),
        ("adidentifier", AdId),
        ("googleadid", AdId),
        ("gpsadid", AdId),
        ("advertiserid", AdId),
        ("googleaid", AdId),
        ("maid", AdId),
        ("rida", AdId),
        ("afai", AdId),
        ("msai", AdId),
        ("tifa", AdId),
        ("deviceid", DeviceId),
        ("udid", DeviceId),
        ("did", DeviceId),
        ("devid", DeviceId),
        ("deviceuuid", DeviceId),
        ("idfv", DeviceId),
        ("openudid", DeviceId),
        ("utdid", DeviceId),
        ("hwid", DeviceId),
        ("deviceidentifier", DeviceId),
        ("clientudid", DeviceId),
        ("uniqueid", DeviceId),
        ("uniquedeviceid", DeviceId),
        ("serial", Serial),
        ("serialno", Serial),
        ("serialnumber", Serial),
        ("deviceserial", Serial),
        ("hwserial", Serial),
        ("email", Email),
        ("mail", Email),
        ("emailaddress", Email),
        ("useremail", Email),
        ("login", Email),
        ("username", Email),
        ("user", Email),
        ("account", Email),
        ("lat", Lat),
        ("latitude", Lat),
        ("gpslat", Lat),
        ("userlat", Lat),
        ("geolat", Lat),
        ("lon", Lon),
        ("lng", Lon),
        ("long", Lon),
        ("longitude", Lon),
        ("gpslon", Lon),
        ("gpslng", Lon),
        ("userlon", Lon),
        ("userlng", Lon),
        ("geolon", Lon),
        ("cid", Analytics),
        ("ga", Analytics),
        ("gid", Analytics),
        ("clientid", Analytics),
        ("gaclientid", Analytics),
        ("gacid", Analytics),
    ]
};

/// Key endings that classify a longer key (`clientandroidid`, `xhpmac`, `deviceimei`).
const SUFFIX: &[(&str, KeyClass)] = {
    use KeyClass::*;
    &[
        ("imei", Imei),
        ("imsi", Imsi),
        ("msisdn", Phone),
        ("androidid", AndroidId),
        ("advertisingid", AdId),
        ("gaid", AdId),
        ("adid", AdId),
        ("oaid", AdId),
        ("idfa", AdId),
        ("deviceid", DeviceId),
        ("udid", DeviceId),
        ("iccid", Iccid),
        ("bssid", Mac),
        ("mac", Mac),
        ("macaddr", Mac),
        ("macaddress", Mac),
        ("phonenumber", Phone),
        ("phone", Phone),
        ("serialnumber", Serial),
        ("serial", Serial),
        ("latitude", Lat),
        ("longitude", Lon),
        ("email", Email),
    ]
};

const FNV_OFFSET: u32 = 0x811C_9DC5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a over the key's bytes from last to first: the running value after `n` steps is the
/// hash of the key's last `n` bytes, so one backward pass tests every suffix.
fn rev_hash(key: &str) -> u32 {
    key.bytes().rev().fold(FNV_OFFSET, |h, b| (h ^ u32::from(b)).wrapping_mul(FNV_PRIME))
}

/// The dictionary, hashed for [`lookup_key`]: open-addressing tables of 4096 slots (entry
/// index + 1, 0 = empty) indexed by the low bits of the reversed-key hash.
struct KeyTable {
    /// Last three normalised bytes of every key and suffix, hashed into 4096 bits: most keys
    /// in traffic (`Host`, `User-Agent`, `_channel`) are rejected after reading three bytes.
    endings: [u64; 64],
    exact: Box<[u16; 4096]>,
    suffix: Box<[u16; 4096]>,
    exact_entries: Vec<(u32, &'static str, KeyClass)>,
    suffix_entries: Vec<(u32, &'static str, KeyClass)>,
}

/// A key's hash, the key, and its class.
type KeyEntry = (u32, &'static str, KeyClass);

fn build(entries: &[(&'static str, KeyClass)]) -> (Box<[u16; 4096]>, Vec<KeyEntry>) {
    let mut slots = Box::new([0u16; 4096]);
    let mut list = Vec::with_capacity(entries.len());
    for &(k, c) in entries {
        let h = rev_hash(k);
        let mut i = h as usize & 4095;
        while slots[i] != 0 {
            i = (i + 1) & 4095;
        }
        list.push((h, k, c));
        slots[i] = list.len() as u16;
    }
    (slots, list)
}

fn table() -> &'static KeyTable {
    static T: std::sync::OnceLock<KeyTable> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let (exact, exact_entries) = build(EXACT);
        let (suffix, suffix_entries) = build(SUFFIX);
        let mut endings = [0u64; 64];
        for (k, _) in EXACT.iter().chain(SUFFIX) {
            if let [.., a, b, c] = k.as_bytes() {
                let e = ending_hash(*c, *b, *a);
                endings[e >> 6] |= 1 << (e & 63);
            }
        }
        KeyTable { endings, exact, suffix, exact_entries, suffix_entries }
    })
}

/// Hash of a key's last three normalised bytes, given last first.
#[inline(always)]
fn ending_hash(last: u8, second: u8, third: u8) -> usize {
    ((u32::from(last) | u32::from(second) << 8 | u32::from(third) << 16).wrapping_mul(0x9E37_79B1) >> 20) as usize
}

/// Finds the entry whose reversed normalised key is `norm` (hash `h`).
#[inline(always)]
fn probe(slots: &[u16; 4096], entries: &[(u32, &'static str, KeyClass)], h: u32, norm: &[u8]) -> Option<KeyClass> {
    let mut i = h as usize & 4095;
    loop {
        let e = slots[i];
        if e == 0 {
            return None;
        }
        let (eh, k, c) = entries[usize::from(e) - 1];
        if eh == h && k.len() == norm.len() && k.bytes().rev().eq(norm.iter().copied()) {
            return Some(c);
        }
        i = (i + 1) & 4095;
    }
}

/// Key bytes: 0 ends a key, 1 is skipped by normalisation (`_`, `-`, `.`), anything else is
/// the byte in lower case.
const KEY_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else if c == b'_' || c == b'-' || c == b'.' {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Longest normalised dictionary key ("bluetoothaddress"): a longer key can only match by
/// suffix.
const MAX_DICT_KEY: usize = 16;

/// Reads the key that ends just before `sep` (bytes `[A-Za-z0-9_.-]`, at most 48) and
/// classifies it: normalised (lower case; `_`, `-`, `.` and trailing digits dropped), then an
/// exact dictionary key, else the longest dictionary suffix of a longer key. Returns the key's
/// start and class. One backward pass over at most 17 normalised bytes (then, only on a
/// suffix hit, on to the key's start); table-driven, a few nanoseconds for most keys.
fn lookup_key(text: &[u8], sep: usize) -> Option<(usize, KeyClass)> {
    let t = table();
    let mut norm = [0u8; MAX_DICT_KEY + 1]; // normalised key, reversed
    let mut n = 0;
    let mut h = FNV_OFFSET;
    let mut suffix: Option<(usize, KeyClass)> = None; // (length, class)
    let mut i = sep;
    let lo = sep.saturating_sub(48);
    while i > lo {
        let b = KEY_BYTE[usize::from(text[i - 1])];
        if b == 0 {
            break;
        }
        i -= 1;
        if b == 1 || (n == 0 && b.is_ascii_digit()) {
            continue;
        }
        if n == norm.len() {
            // Too long for an exact key: only a suffix can match; find the key's start.
            while i > lo && KEY_BYTE[usize::from(text[i - 1])] != 0 {
                i -= 1;
            }
            return suffix.map(|(_, c)| (i, c));
        }
        norm[n] = b;
        n += 1;
        h = (h ^ u32::from(b)).wrapping_mul(FNV_PRIME);
        if n == 3 {
            let e = ending_hash(norm[0], norm[1], norm[2]);
            if t.endings[e >> 6] & (1 << (e & 63)) == 0 {
                return None;
            }
        }
        if n >= 3
            && let Some(c) = probe(&t.suffix, &t.suffix_entries, h, &norm[..n])
        {
            suffix = Some((n, c));
        }
    }
    if n < 2 {
        return None;
    }
    if let Some(c) = probe(&t.exact, &t.exact_entries, h, &norm[..n]) {
        return Some((i, c));
    }
    suffix.filter(|&(len, _)| len < n).map(|(_, c)| (i, c))
}

/// Classifies a whole key (a header name).
fn classify_key(key: &[u8]) -> Option<KeyClass> {
    let (start, class) = lookup_key(key, key.len())?;
    (start == 0).then_some(class)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Bytes that end a value after `=`.
fn ends_value(b: u8) -> bool {
    matches!(
        b,
        b'&' | b';' | b',' | b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'|' | b'\\'
    ) || b.is_ascii_whitespace()
        || !(0x20..0x7f).contains(&b)
}

const MAX_KEY: usize = 48;
const MAX_VALUE: usize = 160;

/// A GPS coordinate candidate found under a lat/lon key.
struct Geo {
    start: usize,
    end: usize,
    value: f64,
    decimals: usize,
}

/// At most this many latitude/longitude candidates per text: pairing them is quadratic.
const MAX_GEO: usize = 256;

/// At most this many values under phone keys are validated per text: libphonenumber takes
/// microseconds per number, and a text of `tel=` keys with invalid numbers (no finding, so no
/// hit cap) would otherwise scan at well under 1 MB/s.
const MAX_PHONE_CHECKS: u32 = 256;

/// Runs every undeclared detector over `text`, appending hits.
///
/// `header` is the header name when `text` is one header's value (the name is then the key of
/// the whole value). `region` reads national phone numbers. Stops looking once `hits` holds
/// `limit` hits (a text made of e-mail addresses must not turn into millions of hits).
pub(crate) fn detect(
    text: &[u8],
    header: Option<&str>,
    region: Option<phonenumber::country::Id>,
    limit: usize,
    hits: &mut Vec<Hit>,
) {
    let first = hits.len();
    let mut geo: Vec<(KeyClass, Geo)> = Vec::new();
    let mut phone_checks = MAX_PHONE_CHECKS;
    let mut ctx = Ctx { region, geo: &mut geo, phone_checks: &mut phone_checks };
    if let Some(name) = header
        && let Some(class) = classify_key(name.as_bytes())
    {
        let (s, e) = trim(text, 0, text.len());
        if e - s <= MAX_VALUE {
            value(class, name.as_bytes(), text, s, e, &mut ctx, hits);
        }
    }
    let mut skip_until = 0usize;
    for p in memchr3_iter(b'=', b':', b'@', text) {
        if p < skip_until {
            continue;
        }
        if hits.len() >= limit {
            break;
        }
        match text[p] {
            b'=' => {
                // The key decides first: most keys are not identifier keys, and their values
                // are never read.
                let Some((ks, class)) = lookup_key(text, p) else { continue };
                let mut s = p + 1;
                if s < text.len() && (text[s] == b'"' || text[s] == b'\'') {
                    s += 1; // XML-ish attribute: key="value"
                }
                let e = value_end(text, s, ends_value);
                value(class, &text[ks..p], text, s, e, &mut ctx, hits);
            }
            b':' => {
                if let Some(e) = colon_mac(text, p, hits) {
                    skip_until = e;
                    continue;
                }
                colon_pair(text, p, &mut ctx, hits);
            }
            _ => {
                if let Some(e) = email_at(text, p, hits) {
                    skip_until = e;
                }
            }
        }
    }
    pair_geo(&geo, hits);
    // One value can be reached twice (a keyed MAC is also a key-less one): keep the most
    // confident hit per span and kind.
    hits[first..].sort_by(|a, b| (a.start, a.end, a.kind, b.confidence).cmp(&(b.start, b.end, b.kind, a.confidence)));
    let mut kept = first;
    for i in first..hits.len() {
        let h = &hits[i];
        if kept > first && (hits[kept - 1].start, hits[kept - 1].end, hits[kept - 1].kind) == (h.start, h.end, h.kind) {
            continue;
        }
        hits.swap(kept, i);
        kept += 1;
    }
    hits.truncate(kept);
}

fn key_start(text: &[u8], p: usize) -> usize {
    let mut ks = p;
    while ks > 0 && p - ks < MAX_KEY && is_key_byte(text[ks - 1]) {
        ks -= 1;
    }
    ks
}

fn value_end(text: &[u8], s: usize, stop: impl Fn(u8) -> bool) -> usize {
    let lim = (s + MAX_VALUE).min(text.len());
    text[s..lim].iter().position(|&b| stop(b)).map_or(lim, |i| s + i)
}

fn trim(text: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && (text[s].is_ascii_whitespace() || text[s] == b'"') {
        s += 1;
    }
    while e > s && (text[e - 1].is_ascii_whitespace() || text[e - 1] == b'"') {
        e -= 1;
    }
    (s, e)
}

/// What the validators of one text share: the region for national phone numbers, the
/// latitude/longitude candidates to pair, the phone validations left.
struct Ctx<'a> {
    region: Option<phonenumber::country::Id>,
    geo: &'a mut Vec<(KeyClass, Geo)>,
    phone_checks: &'a mut u32,
}

/// `"key": value` (JSON) or `Key: value` (header, mail, text protocol line).
fn colon_pair(text: &[u8], p: usize, ctx: &mut Ctx<'_>, hits: &mut Vec<Hit>) {
    if p == 0 {
        return;
    }
    // JSON: the byte before ':' (after optional spaces) is the key's closing quote.
    let mut q = p;
    while q > 0 && text[q - 1] == b' ' {
        q -= 1;
    }
    let (ks, ke) = if q > 0 && text[q - 1] == b'"' {
        let ke = q - 1;
        let lo = ke.saturating_sub(MAX_KEY);
        match memchr::memrchr(b'"', &text[lo..ke]) {
            Some(i) => (lo + i + 1, ke),
            None => return,
        }
    } else if text.get(p + 1) == Some(&b' ') {
        (0, p) // the key runs back from ':'
    } else {
        return;
    };
    // A JSON key must be read whole (`"my imei"` is not `imei`).
    let Some((ks, class)) = lookup_key(text, ke).filter(|&(k, _)| ks == 0 || k == ks) else { return };
    let mut s = p + 1;
    while s < text.len() && (text[s] == b' ' || text[s] == b'\t') {
        s += 1;
    }
    let e = if text.get(s) == Some(&b'"') {
        s += 1;
        value_end(text, s, |b| b == b'"' || b == b'\\' || b < 0x20)
    } else {
        value_end(text, s, |b| matches!(b, b'\r' | b'\n' | b',' | b'}' | b']' | b';' | b'&' | b'<') || b < 0x20)
    };
    let (s, e) = trim(text, s, e);
    value(class, &text[ks..ke], text, s, e, ctx, hits);
}

/// Validates the value `text[s..e]` found under `key` (of class `class`) and records a hit.
fn value(class: KeyClass, key: &[u8], text: &[u8], s: usize, e: usize, ctx: &mut Ctx<'_>, hits: &mut Vec<Hit>) {
    if s >= e {
        return;
    }
    let region = ctx.region;
    let val = &text[s..e];
    let keyname = || String::from_utf8_lossy(key).into_owned();
    let mut push = |kind: Kind, conf: Confidence, encoding: &'static str| {
        hits.push(Hit::undeclared(kind, s, e, encoding, Some(keyname()), conf));
    };
    use Confidence::*;
    use KeyClass as K;
    match class {
        K::Imei if v::is_imei(val) => push(Kind::Imei, High, "plain"),
        K::Imsi if v::is_imsi(val) => push(Kind::Imsi, High, "plain"),
        K::Iccid if v::is_iccid(val) => push(Kind::Iccid, High, "plain"),
        K::Phone if *ctx.phone_checks == 0 => {}
        K::Phone => {
            *ctx.phone_checks -= 1;
            // In free text (`Phone: +39 081 7683821 - Fax: ...`) the number is the leading run
            // of phone characters; hex-encoded numbers are the whole value.
            let run = val.iter().position(|b| !(b.is_ascii_digit() || b" +-().".contains(b))).unwrap_or(val.len());
            let mut pe = run;
            while pe > 0 && !val[pe - 1].is_ascii_digit() {
                pe -= 1;
            }
            if pe > 0
                && let Some(enc) = phone_value(&val[..pe], region)
            {
                hits.push(Hit::undeclared(Kind::Phone, s, s + pe, enc, Some(keyname()), High));
            } else if let Some(enc) = phone_value(val, region) {
                push(Kind::Phone, High, enc);
            }
        }
        K::Mac => {
            if let Some(m) = v::parse_mac(val)
                && v::is_unicast_mac(&m)
            {
                // A bare 12-digit number under "mac" is too often something else.
                if val.iter().any(|b| !b.is_ascii_digit()) {
                    push(Kind::Mac, High, "plain");
                }
            }
        }
        K::AndroidId if v::is_android_id(val) => push(Kind::AndroidId, High, "plain"),
        K::AdId => {
            if let Some(u) = v::parse_uuid(val)
                && v::is_real_uuid(&u)
            {
                let (ver, rfc) = v::uuid_version(&u);
                push(Kind::AdvertisingId, if ver == 4 && rfc { High } else { Medium }, "plain");
            }
        }
        K::DeviceId => {
            if v::is_imei(val) {
                push(Kind::Imei, Medium, "plain");
            } else if v::is_android_id(val) {
                push(Kind::AndroidId, Medium, "plain");
            } else if let Some(m) = v::parse_mac(val) {
                if v::is_unicast_mac(&m) && val.iter().any(|b| !b.is_ascii_digit()) {
                    push(Kind::Mac, Medium, "plain");
                }
            } else if let Some(u) = v::parse_uuid(val) {
                if v::is_real_uuid(&u) {
                    push(Kind::DeviceId, Medium, "plain");
                }
            } else if is_hex_id(val) {
                push(Kind::DeviceId, Medium, "plain");
            }
        }
        K::Serial => {
            let ok = (6..=32).contains(&val.len())
                && val.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && val.iter().any(u8::is_ascii_digit)
                && !v::all_same(val);
            if ok {
                push(Kind::Serial, Medium, "plain");
            }
        }
        K::Analytics => {
            if v::is_ga_client_id(val) {
                push(Kind::AnalyticsId, High, "plain");
            } else if let Some(u) = v::parse_uuid(val)
                && v::is_real_uuid(&u)
            {
                push(Kind::AnalyticsId, Medium, "plain");
            }
        }
        K::Lat | K::Lon => {
            if ctx.geo.len() < MAX_GEO
                && let Some((value, decimals)) = v::parse_decimal(val)
            {
                ctx.geo.push((class, Geo { start: s, end: e, value, decimals }));
            }
        }
        _ => {} // Email: found by '@' (e-mail keys only raise its confidence); failed validations
    }
}

/// A 32-, 40- or 64-hex-digit device id (MD5/SHA-1/SHA-256-sized vendor ids such as Orange's
/// `deviceid=f2c993d6...`), with letters and digits mixed as random ids have.
fn is_hex_id(val: &[u8]) -> bool {
    matches!(val.len(), 32 | 40 | 64)
        && val.iter().all(u8::is_ascii_hexdigit)
        && val.iter().any(u8::is_ascii_alphabetic)
        && val.iter().any(u8::is_ascii_digit)
        && !v::all_same(val)
}

/// A phone number under a phone key: plain, or hex-encoded ASCII digits (WAP gateways send
/// `msisdn=343931373236313031303034`, the hex of `491726101004`). Returns the encoding.
fn phone_value(val: &[u8], region: Option<phonenumber::country::Id>) -> Option<&'static str> {
    let s = std::str::from_utf8(val).ok()?;
    if s.bytes().all(|b| b.is_ascii_digit() || b" +-().".contains(&b)) && v::valid_phone(s, region).is_some() {
        return Some("plain");
    }
    if val.len() >= 14 && val.len().is_multiple_of(2) && val.iter().all(u8::is_ascii_hexdigit) {
        let dec: Vec<u8> = val.chunks(2).filter_map(|c| Some((v::hex_val(c[0])? << 4) | v::hex_val(c[1])?)).collect();
        let digits = dec.strip_prefix(b"+").unwrap_or(&dec);
        if digits.iter().all(u8::is_ascii_digit) {
            let d = std::str::from_utf8(&dec).ok()?;
            if v::valid_phone(d, region).is_some() {
                return Some("hex");
            }
        }
    }
    None
}

/// A key-less `aa:bb:cc:dd:ee:ff` starting two bytes before the ':' at `p`: recorded with low
/// confidence (a keyed form, `MAC=aa:bb:...`, is also reported by the key path, with more
/// confidence, and the duplicate is dropped). Returns its end.
fn colon_mac(text: &[u8], p: usize, hits: &mut Vec<Hit>) -> Option<usize> {
    if p < 2 || p + 15 > text.len() {
        return None;
    }
    let s = p - 2;
    let cand = &text[s..s + 17];
    if cand[2] != b':' {
        return None;
    }
    if s > 0 && (text[s - 1].is_ascii_hexdigit() || text[s - 1] == b':' || text[s - 1] == b'-') {
        return None;
    }
    if let Some(&n) = text.get(s + 17)
        && (n.is_ascii_hexdigit() || n == b':')
    {
        return None;
    }
    let m = v::parse_mac(cand)?;
    if !v::is_unicast_mac(&m) {
        return Some(s + 17); // a placeholder: skip its other colons too
    }
    hits.push(Hit::undeclared(Kind::Mac, s, s + 17, "plain", None, Confidence::Low));
    Some(s + 17)
}

/// A key-less e-mail address around the '@' at `p`. Records it and returns its end.
fn email_at(text: &[u8], p: usize, hits: &mut Vec<Hit>) -> Option<usize> {
    let mut s = p;
    while s > 0 && p - s < 64 && v::is_local_byte(text[s - 1]) {
        s -= 1;
    }
    let mut e = p + 1;
    while e < text.len() && e - p <= 253 && (text[e].is_ascii_alphanumeric() || text[e] == b'.' || text[e] == b'-') {
        e += 1;
    }
    while e > p + 1 && (text[e - 1] == b'.' || text[e - 1] == b'-') {
        e -= 1;
    }
    if s == p || e == p + 1 {
        return None;
    }
    // `%40`-decoded text and `user:password@host` URLs: a ':' right before the local part
    // means URL user info unless it is `mailto:`.
    if s > 0 && text[s - 1] == b':' && !text[..s - 1].ends_with(b"mailto") {
        return None;
    }
    if let Some(i) = nai_imsi(&text[s..e]) {
        // A SIM's network access identifier (EAP-SIM/AKA): report the IMSI it carries.
        hits.push(Hit::undeclared(Kind::Imsi, s + i, s + i + 15, "plain", Some("nai".into()), Confidence::High));
        return Some(e);
    }
    if in_message_id_header(text, s) {
        return Some(e); // `Message-ID: <5216...@host>` names a message, not a mailbox
    }
    let class = v::classify_email(&text[s..e])?;
    let keyed = s > 0 && matches!(text[s - 1], b'=' | b'"' | b' ') && {
        let mut k = s - 1;
        while k > 0 && matches!(text[k - 1], b'"' | b':' | b' ') {
            k -= 1;
        }
        let ks = key_start(text, k);
        ks < k && classify_key(&text[ks..k]) == Some(KeyClass::Email)
    };
    let conf = match (class, keyed) {
        (v::EmailClass::Role, _) => Confidence::Low,
        (_, true) => Confidence::High,
        _ => Confidence::Medium,
    };
    hits.push(Hit::undeclared(Kind::Email, s, e, "plain", None, conf));
    Some(e)
}

/// The IMSI in a 3GPP network access identifier (3GPP TS 23.003 §19.3; EAP-SIM/AKA, RFC
/// 4186/4187): `<identity-type digit(s)><IMSI>@wlan.mnc<MNC>.mcc<MCC>.3gppnetwork.org`, as
/// Wi-Fi calling and carrier Wi-Fi send it in clear (`0311480073638072@wlan.mnc480.mcc311...`).
/// Returns the IMSI's offset in `addr` when the IMSI validates and its MCC and MNC are the
/// domain's.
fn nai_imsi(addr: &[u8]) -> Option<usize> {
    let at = memchr::memchr(b'@', addr)?;
    let (local, domain) = (&addr[..at], addr[at + 1..].to_ascii_lowercase());
    if !(15..=17).contains(&local.len())
        || !local.iter().all(u8::is_ascii_digit)
        || !domain.ends_with(b".3gppnetwork.org")
    {
        return None;
    }
    let i = local.len() - 15;
    let imsi = &local[i..];
    if !v::is_imsi(imsi) {
        return None;
    }
    let field = |tag: &[u8]| {
        let k = domain
            .windows(tag.len() + 3)
            .position(|w| w.starts_with(tag) && w[tag.len()..].iter().all(u8::is_ascii_digit))?;
        Some(domain[k + tag.len()..k + tag.len() + 3].to_vec())
    };
    let (mcc, mnc) = (field(b"mcc")?, field(b"mnc")?);
    let mnc_ok = mnc == imsi[3..6] || (mnc[0] == b'0' && mnc[1..] == imsi[3..5]);
    (mcc == imsi[..3] && mnc_ok).then_some(i)
}

/// Whether the address at `s` is on a mail header line that names messages, not mailboxes
/// (`Message-ID`, `References`, `In-Reply-To`, `Content-ID`).
fn in_message_id_header(text: &[u8], s: usize) -> bool {
    let lo = s.saturating_sub(512);
    let ls = memchr::memrchr(b'\n', &text[lo..s]).map_or(lo, |i| lo + i + 1);
    let line = &text[ls..s];
    let Some(colon) = memchr::memchr(b':', line) else { return false };
    let name = line[..colon].trim_ascii().to_ascii_lowercase();
    matches!(
        name.as_slice(),
        b"message-id" | b"references" | b"in-reply-to" | b"content-id" | b"resent-message-id" | b"x-message-id"
    )
}

/// Pairs latitude and longitude candidates of one text into location findings.
fn pair_geo(geo: &[(KeyClass, Geo)], hits: &mut Vec<Hit>) {
    for (c, lat) in geo {
        if *c != KeyClass::Lat || !(-90.0..=90.0).contains(&lat.value) {
            continue;
        }
        let lon = geo
            .iter()
            .filter(|(c, g)| *c == KeyClass::Lon && (-180.0..=180.0).contains(&g.value))
            .min_by_key(|(_, g)| g.start.abs_diff(lat.start));
        let Some((_, lon)) = lon else { continue };
        if lat.start.abs_diff(lon.start) > 512 || lat.decimals < 2 || lon.decimals < 2 {
            continue;
        }
        if lat.value == 0.0 && lon.value == 0.0 {
            continue; // "no fix"
        }
        let conf = if lat.decimals >= 3 && lon.decimals >= 3 { Confidence::High } else { Confidence::Medium };
        let (s, e) = (lat.start.min(lon.start), lat.end.max(lon.end));
        hits.push(Hit::undeclared(Kind::Location, s, e, "plain", Some("lat/lon".to_string()), conf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, header: Option<&str>) -> Vec<(Kind, String, Confidence)> {
        let mut hits = Vec::new();
        detect(text.as_bytes(), header, None, usize::MAX, &mut hits);
        hits.iter().map(|h| (h.kind, text[h.start..h.end].to_string(), h.confidence)).collect()
    }

    #[test]
    fn keys_normalise() {
        assert_eq!(classify_key(b"_android_id"), Some(KeyClass::AndroidId));
        assert_eq!(classify_key(b"Client-AndroidId"), Some(KeyClass::AndroidId));
        assert_eq!(classify_key(b"x-hp-mac"), Some(KeyClass::Mac));
        assert_eq!(classify_key(b"imei1"), Some(KeyClass::Imei));
        assert_eq!(classify_key(b"User-Identity-Forward-msisdn"), Some(KeyClass::Phone));
        assert_eq!(classify_key(b"_aid"), Some(KeyClass::AdId));
        assert_eq!(classify_key(b"said"), None);
        assert_eq!(classify_key(b"Host"), None);
    }

    #[test]
    fn real_shapes() {
        let t = "_carrier=310260&_android_id=b9e28776354d259e&_network=wifi&_aid=5ac6a0ff-8d18-47bc-a902-2812cf0c251e&";
        let h = run(t, None);
        assert!(h.contains(&(Kind::AndroidId, "b9e28776354d259e".into(), Confidence::High)), "{h:?}");
        assert!(h.contains(&(Kind::AdvertisingId, "5ac6a0ff-8d18-47bc-a902-2812cf0c251e".into(), Confidence::High)));
        assert_eq!(h.len(), 2);
        let h = run("b9e28776354d259e", Some("Client-AndroidId"));
        assert_eq!(h, [(Kind::AndroidId, "b9e28776354d259e".into(), Confidence::High)]);
        let h = run("(x-hp-mac=3C528226FD28)(x-hp-guid=3C528226FD28)", None);
        assert_eq!(h, [(Kind::Mac, "3C528226FD28".into(), Confidence::High)]);
        let h = run("User-Identity-Forward-msisdn=343931373236313031303034", None);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0].0, Kind::Phone);
        let h = run("Via Claudio 21 -- 80125 Napoli (Italy)\r\nPhone: +390817683821 - Fax: +390817683816\r\n", None);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0].0, Kind::Phone);
        let h = run("&cid=1751603294.1532525413&tid=UA-6025718-3&_gid=775336169.1532525413", None);
        assert_eq!(h.len(), 2, "{h:?}");
        let h = run(r#"{"lat": 45.4642035, "lng": 9.189982, "user":"jane.doe@gmail.com"}"#, None);
        assert!(h.iter().any(|x| x.0 == Kind::Location && x.2 == Confidence::High), "{h:?}");
        assert!(h.iter().any(|x| x.0 == Kind::Email && x.2 == Confidence::High), "{h:?}");
        // A SIM's EAP identity (ndpi/fuzz-2020-02-16-11740.pcap, RADIUS): the IMSI, not an
        // e-mail address; a truncated domain is only an address.
        let h = run("User-Name: 0311480073638072@wlan.mnc480.mcc311.3gppnetwork.org\r\n", None);
        assert_eq!(h, [(Kind::Imsi, "311480073638072".into(), Confidence::High)]);
        let h = run("x 50311480073638072@wlan.mnc480.mcc311.3gppnetwork.org x", None);
        assert_eq!(h, [(Kind::Imsi, "311480073638072".into(), Confidence::High)]);
        let h = run("0311480073638072@wlan.mnc481.mcc311.3gppnetwork.org", None); // MNC differs
        assert_eq!(h.iter().map(|x| x.0).collect::<Vec<_>>(), [Kind::Email]);
        let h = run("WAKEUP: MAC=d8:31:34:20:77:fb;Timeout=10", None);
        assert_eq!(h, [(Kind::Mac, "d8:31:34:20:77:fb".into(), Confidence::High)]);
    }

    #[test]
    fn phone_validation_is_bounded() {
        // Invalid numbers under phone keys yield no hit (so no hit cap applies); the number
        // of libphonenumber calls per text is capped instead.
        let text = "tel=1234567890&".repeat(20_000);
        let t = std::time::Instant::now();
        assert_eq!(run(&text, None), []);
        assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
        let mut hits = Vec::new();
        let text = format!("{}phone=+390817683821", "tel=1&".repeat(10));
        detect(text.as_bytes(), None, None, usize::MAX, &mut hits);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn look_alikes() {
        for t in [
            "adid=364838&cb=1",                                        // ad creative id
            "device_id=0185082008001541 ",                             // firewall serial
            "imei=490154203237519&",                                   // fails Luhn
            "bssid=02:00:00:00:00:00&",                                // Android placeholder
            "idfa=00000000-0000-0000-0000-000000000000&",              // limited ad tracking
            "request_id=5ac6a0ff-8d18-47bc-a902-2812cf0c251e&",        // random UUID, no ad key
            "curve25519-sha256@libssh.org,hmac-ripemd160@openssh.com", // SSH algorithm names
            "lat=0.0&lon=0.0",
            "Message-ID: <521663E3.7090401@networksims.com>\r\n", // a message, not a mailbox
            "References: <a1.b2@mail.gmail.com>\r\n",
            "rijndael-cbc@lysator.liu.se,aes256-ctr", // SSH cipher name
            "mac=ff:ff:ff:ff:ff:ff",
        ] {
            assert_eq!(run(t, None), [], "{t}");
        }
    }
}

//! Validators for identifier values: check digits, registries, shapes.
//!
//! Each function answers "could this string really be an X?" strictly enough that a value found
//! under a hinting key (`imei=`, `gaid=`...) can be reported without a declaration, and loosely
//! enough that real identifiers pass. They never allocate on the rejecting path.

/// Luhn (mod 10) check over ASCII digits; false if any byte is not a digit or `digits` is empty.
pub fn luhn_ok(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// True if every byte is the same (`000000000000000`, `ffffffffffffffff`): test and
/// placeholder values, never real identifiers.
pub fn all_same(v: &[u8]) -> bool {
    v.windows(2).all(|w| w[0].eq_ignore_ascii_case(&w[1]))
}

/// Number of distinct bytes, case-folded, up to 16 (enough to tell placeholders from ids).
fn distinct(v: &[u8]) -> usize {
    let mut seen = [false; 256];
    let mut n = 0;
    for &b in v {
        let b = b.to_ascii_lowercase() as usize;
        if !seen[b] {
            seen[b] = true;
            n += 1;
        }
    }
    n
}

/// IMEI: exactly 15 digits, Luhn-valid, not a placeholder. (IMEISV, 16 digits, has no check
/// digit and is not accepted: too many 16-digit numbers exist.)
pub fn is_imei(v: &[u8]) -> bool {
    v.len() == 15 && luhn_ok(v) && distinct(v) >= 4
}

/// ICCID: 19 or 20 digits, the ITU-T E.118 industry prefix 89, and a valid Luhn check digit.
pub fn is_iccid(v: &[u8]) -> bool {
    (v.len() == 19 || v.len() == 20) && v.starts_with(b"89") && luhn_ok(v) && distinct(&v[2..]) >= 4
}

/// Mobile country codes in use (ITU-T E.212 list), as a sorted table. MNCs are not checked:
/// their table changes often and the MCC already rejects most random 15-digit numbers.
const MCC: &[u16] = &[
    202, 204, 206, 208, 212, 213, 214, 216, 218, 219, 220, 221, 222, 226, 228, 230, 231, 232, 234, 235, 238, 240, 242,
    244, 246, 247, 248, 250, 255, 257, 259, 260, 262, 266, 268, 270, 272, 274, 276, 278, 280, 282, 283, 284, 286, 288,
    289, 290, 292, 293, 294, 295, 297, 302, 308, 310, 311, 312, 313, 314, 315, 316, 330, 332, 334, 338, 340, 342, 344,
    346, 348, 350, 352, 354, 356, 358, 360, 362, 363, 364, 365, 366, 368, 370, 372, 374, 376, 400, 401, 402, 404, 405,
    406, 410, 412, 413, 414, 415, 416, 417, 418, 419, 420, 421, 422, 424, 425, 426, 427, 428, 429, 430, 431, 432, 434,
    436, 437, 438, 440, 441, 450, 452, 454, 455, 456, 457, 460, 461, 466, 467, 470, 472, 502, 505, 510, 514, 515, 520,
    525, 528, 530, 536, 537, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549, 550, 551, 552, 553, 554, 555, 602,
    603, 604, 605, 606, 607, 608, 609, 610, 611, 612, 613, 614, 615, 616, 617, 618, 619, 620, 621, 622, 623, 624, 625,
    626, 627, 628, 629, 630, 631, 632, 633, 634, 635, 636, 637, 638, 639, 640, 641, 642, 643, 645, 646, 647, 648, 649,
    650, 651, 652, 653, 654, 655, 657, 658, 659, 702, 704, 706, 708, 710, 712, 714, 716, 722, 724, 730, 732, 734, 736,
    738, 740, 744, 746, 748, 750, 901,
];

/// Whether three ASCII digits are an assigned mobile country code.
pub fn is_mcc(d: &[u8]) -> bool {
    if d.len() != 3 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = d.iter().fold(0u16, |a, &b| a * 10 + u16::from(b - b'0'));
    MCC.binary_search(&n).is_ok()
}

/// IMSI: 14 or 15 digits starting with an assigned MCC, MSIN (after a 2- or 3-digit MNC) not a
/// run of one digit. Test networks (MCC 001, 999) are rejected.
pub fn is_imsi(v: &[u8]) -> bool {
    (v.len() == 15 || v.len() == 14) && v.iter().all(u8::is_ascii_digit) && is_mcc(&v[..3]) && distinct(&v[6..]) >= 3
}

/// Parses a MAC address written as `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`
/// or `aabbccddeeff` (either case).
pub fn parse_mac(v: &[u8]) -> Option<[u8; 6]> {
    // Offsets of the two hex digits of each byte, by notation.
    const COLON: [usize; 6] = [0, 3, 6, 9, 12, 15];
    const DOTTED: [usize; 6] = [0, 2, 5, 7, 10, 12];
    const BARE: [usize; 6] = [0, 2, 4, 6, 8, 10];
    let at = match v.len() {
        17 => {
            let sep = v[2];
            if (sep != b':' && sep != b'-') || (0..5).any(|i| v[2 + 3 * i] != sep) {
                return None;
            }
            &COLON
        }
        14 if v[4] == b'.' && v[9] == b'.' => &DOTTED,
        12 => &BARE,
        _ => return None,
    };
    let mut out = [0u8; 6];
    for (o, &i) in out.iter_mut().zip(at) {
        *o = (hex_val(v[i])? << 4) | hex_val(v[i + 1])?;
    }
    Some(out)
}

/// Whether a MAC address identifies one interface: not all-zero, not broadcast, not multicast
/// (I/G bit), not Android's privacy placeholder `02:00:00:00:00:00`, not a low-entropy example
/// such as `00:11:22:33:44:55` or `01:23:45:67:89:ab`.
pub fn is_unicast_mac(m: &[u8; 6]) -> bool {
    if m[0] & 1 == 1 {
        return false; // multicast and broadcast
    }
    if m[1..].iter().all(|&b| b == 0) {
        return false; // 00:00:... and 02:00:00:00:00:00 (Android's "no permission" answer)
    }
    const EXAMPLES: [[u8; 6]; 3] = [
        [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
        [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc],
        [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
    ];
    if EXAMPLES.contains(m) {
        return false;
    }
    distinct(m) >= 3
}

/// Hex digit value.
pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Android ID: 16 hex digits with at least one letter (an all-decimal 16-digit string is far
/// more often a serial or counter, e.g. a firewall's `device_id=0185082008001541`; a random
/// 64-bit id is all-decimal once in 1,900) and enough distinct digits. The constant
/// `9774d56d682e549c` that Android 2.2 returned on many devices is not unique and not reported.
pub fn is_android_id(v: &[u8]) -> bool {
    v.len() == 16
        && v.iter().all(u8::is_ascii_hexdigit)
        && v.iter().any(u8::is_ascii_alphabetic)
        && distinct(v) >= 6
        && !v.eq_ignore_ascii_case(b"9774d56d682e549c")
}

/// Parses a UUID in its 8-4-4-4-12 form (either case) into its 16 bytes.
pub fn parse_uuid(v: &[u8]) -> Option<[u8; 16]> {
    if v.len() != 36 || v[8] != b'-' || v[13] != b'-' || v[18] != b'-' || v[23] != b'-' {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut hi: Option<u8> = None;
    for (i, &b) in v.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        let d = hex_val(b)?;
        match hi.take() {
            None => hi = Some(d),
            Some(h) => {
                out[n] = (h << 4) | d;
                n += 1;
            }
        }
    }
    Some(out)
}

/// UUID version (high nibble of byte 6) and whether the variant is RFC 4122's `10xx`.
pub fn uuid_version(u: &[u8; 16]) -> (u8, bool) {
    (u[6] >> 4, u[8] >> 6 == 0b10)
}

/// Whether a UUID is a plausible per-device identifier: not nil, not all `f`, not a run.
pub fn is_real_uuid(u: &[u8; 16]) -> bool {
    distinct(u) >= 6
}

/// Country-code top-level domains (IANA root zone, two letters).
const CCTLD: &str = "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs \
bt bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk \
fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm \
jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms \
mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru \
rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua \
ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw";

/// Generic top-level domains common in mail addresses. Not the whole root zone: a rarer gTLD
/// loses a key-less e-mail finding, while accepting anything would report `icon@2x.png`.
const GTLD: &[&str] = &[
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi", "app", "dev", "xyz",
    "online", "site", "top", "club", "shop", "store", "tech", "cloud", "email", "live", "blog", "asia", "aero", "coop",
    "museum", "travel", "jobs", "tel", "cat", "space", "website", "life", "world", "today", "digital", "network",
    "services", "company", "agency", "media", "news", "global", "one", "page", "mail", "icloud", "google", "yandex",
];

/// Domains whose "addresses" are protocol names, not mailboxes (SSH algorithm names such as
/// `hmac-ripemd160@openssh.com`, libssh's `curve25519-sha256@libssh.org`) or documentation
/// examples.
const NOT_MAILBOX_DOMAINS: &[&str] = &[
    "openssh.com",
    "libssh.org",
    "example.com",
    "example.org",
    "example.net",
    "ssh.com",
    "putty.projects.tartarus.org",
    "lysator.liu.se", // rijndael-cbc@lysator.liu.se
];

/// Local parts of role accounts: real addresses, but of a service rather than a person.
const ROLE_LOCALS: &[&str] = &[
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "postmaster",
    "abuse",
    "root",
    "webmaster",
    "hostmaster",
    "mailer-daemon",
    "support",
    "info",
    "admin",
    "git",
    "nobody",
    "security",
];

/// What [`classify_email`] thinks of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailClass {
    /// A personal mailbox, as far as syntax can tell.
    Personal,
    /// A role account (`noreply@`, `support@`...).
    Role,
}

/// Validates an e-mail address (`local@domain.tld`): RFC 5321 lengths, a dot-separated domain
/// of LDH labels, a known TLD, and not a protocol name. Returns None if it is not an address.
pub fn classify_email(v: &[u8]) -> Option<EmailClass> {
    let at = memchr::memchr(b'@', v)?;
    let (local, domain) = (&v[..at], &v[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.len() < 4 || domain.len() > 253 {
        return None;
    }
    if local.starts_with(b".") || local.ends_with(b".") || !local.iter().all(|&b| is_local_byte(b)) {
        return None;
    }
    let labels: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
    if labels.len() < 2 {
        return None;
    }
    for l in &labels {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with(b"-")
            || l.ends_with(b"-")
            || !l.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return None;
        }
    }
    let tld = labels[labels.len() - 1].to_ascii_lowercase();
    let tld_ok = if tld.len() == 2 {
        CCTLD.split(' ').any(|t| t.as_bytes() == tld.as_slice())
    } else {
        GTLD.iter().any(|t| t.as_bytes() == tld.as_slice())
    };
    if !tld_ok {
        return None;
    }
    let dom = domain.to_ascii_lowercase();
    if NOT_MAILBOX_DOMAINS.iter().any(|d| dom == d.as_bytes() || dom.ends_with(format!(".{d}").as_bytes())) {
        return None;
    }
    let loc = local.to_ascii_lowercase();
    if ROLE_LOCALS.iter().any(|r| r.as_bytes() == loc.as_slice()) {
        return Some(EmailClass::Role);
    }
    Some(EmailClass::Personal)
}

/// Bytes allowed in the local part of an address we report (RFC 5322 atext minus the rare
/// ones that mostly show up in non-address text).
pub fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// A decimal-degrees number: optional sign, digits, '.', digits. Returns the value and the
/// number of decimals.
pub fn parse_decimal(v: &[u8]) -> Option<(f64, usize)> {
    let body = v.strip_prefix(b"-").or_else(|| v.strip_prefix(b"+")).unwrap_or(v);
    let dot = memchr::memchr(b'.', body)?;
    let (int, frac) = (&body[..dot], &body[dot + 1..]);
    if int.is_empty() || int.len() > 3 || frac.is_empty() || frac.len() > 15 {
        return None;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let s = std::str::from_utf8(v).ok()?;
    Some((s.parse().ok()?, frac.len()))
}

/// A Google Analytics client id: `<random>.<unix seconds>` (`1751603294.1532525413`),
/// optionally behind the cookie's `GA1.2.` prefix; the timestamp must fall in 2005..2040.
pub fn is_ga_client_id(v: &[u8]) -> bool {
    let mut v = v;
    if v.len() > 6 && v.starts_with(b"GA1.") && v[5] == b'.' {
        v = &v[6..];
    }
    let Some(dot) = memchr::memchr(b'.', v) else { return false };
    let (a, t) = (&v[..dot], &v[dot + 1..]);
    if a.is_empty() || a.len() > 10 || t.len() != 10 {
        return false;
    }
    if !a.iter().chain(t).all(u8::is_ascii_digit) {
        return false;
    }
    let ts: u64 = std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    (1_104_537_600..2_208_988_800).contains(&ts)
}

/// A phone number that libphonenumber considers valid, with its E.164 form.
///
/// `value` may carry separators. Written with `+` or `00` it is parsed as international;
/// otherwise it is tried in `region` (if any) and then as international without the `+`
/// (MSISDNs are sent as `491726101004`). 7 to 15 digits only.
pub fn valid_phone(value: &str, region: Option<phonenumber::country::Id>) -> Option<crate::phone::Phone> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    let t = value.trim();
    let mut tries: Vec<(Option<phonenumber::country::Id>, String)> = Vec::with_capacity(2);
    if t.starts_with('+') {
        tries.push((None, format!("+{digits}")));
    } else if let Some(rest) = digits.strip_prefix("00") {
        tries.push((None, format!("+{rest}")));
    } else {
        if region.is_some() {
            tries.push((region, digits.clone()));
        }
        if digits.len() >= 10 {
            tries.push((None, format!("+{digits}")));
        }
    }
    tries.into_iter().find_map(|(r, s)| crate::phone::parse(&s, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_imei() {
        assert!(is_imei(b"490154203237518"));
        assert!(!is_imei(b"490154203237519")); // fails Luhn
        assert!(!is_imei(b"000000000000000"));
        assert!(!is_imei(b"49015420323751")); // 14 digits
    }

    #[test]
    fn iccid_imsi() {
        assert!(is_iccid(b"8944500102198304826"));
        assert!(!is_iccid(b"8944500102198304827"));
        assert!(!is_iccid(b"1944500102198304826"));
        assert!(is_imsi(b"310260123456789"));
        assert!(!is_imsi(b"001010123456789")); // test network
        assert!(!is_imsi(b"999990000000000"));
        assert!(!is_imsi(b"310260000000000"));
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac(b"d8:31:34:20:77:fb"), Some([0xd8, 0x31, 0x34, 0x20, 0x77, 0xfb]));
        assert_eq!(parse_mac(b"3C528226FD28"), Some([0x3c, 0x52, 0x82, 0x26, 0xfd, 0x28]));
        assert_eq!(parse_mac(b"3c52.8226.fd28"), Some([0x3c, 0x52, 0x82, 0x26, 0xfd, 0x28]));
        assert_eq!(parse_mac(b"d8:31-34:20:77:fb"), None);
        assert!(is_unicast_mac(&parse_mac(b"d8:31:34:20:77:fb").unwrap()));
        for bad in
            ["02:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:fb", "00:11:22:33:44:55"]
        {
            assert!(!is_unicast_mac(&parse_mac(bad.as_bytes()).unwrap()), "{bad}");
        }
    }

    #[test]
    fn android_ids() {
        assert!(is_android_id(b"b9e28776354d259e"));
        assert!(!is_android_id(b"0185082008001541")); // NetScreen device_id in ndpi/syslog.pcap
        assert!(!is_android_id(b"9774d56d682e549c"));
        assert!(!is_android_id(b"b9e28776354d259"));
    }

    #[test]
    fn uuids() {
        let u = parse_uuid(b"5ac6a0ff-8d18-47bc-a902-2812cf0c251e").unwrap();
        assert_eq!(uuid_version(&u), (4, true));
        assert!(is_real_uuid(&u));
        let nil = parse_uuid(b"00000000-0000-0000-0000-000000000000").unwrap();
        assert!(!is_real_uuid(&nil));
        assert!(parse_uuid(b"5ac6a0ff-8d18-47bc-a902-2812cf0c251").is_none());
    }

    #[test]
    fn emails() {
        assert_eq!(classify_email(b"matteobracci1@gmail.com"), Some(EmailClass::Personal));
        assert_eq!(classify_email(b"f2@aol.com"), Some(EmailClass::Personal));
        assert_eq!(classify_email(b"noreply@github.com"), Some(EmailClass::Role));
        assert_eq!(classify_email(b"hmac-ripemd160@openssh.com"), None);
        assert_eq!(classify_email(b"icon@2x.png"), None);
        assert_eq!(classify_email(b"a@b"), None);
    }

    #[test]
    fn decimals_and_ga() {
        assert_eq!(parse_decimal(b"45.1234567"), Some((45.1234567, 7)));
        assert_eq!(parse_decimal(b"-9.10"), Some((-9.1, 2)));
        assert_eq!(parse_decimal(b"45"), None);
        assert!(is_ga_client_id(b"1751603294.1532525413"));
        assert!(is_ga_client_id(b"GA1.2.1751603294.1532525413"));
        assert!(!is_ga_client_id(b"1751603294.9532525413"));
    }

    #[test]
    fn phones() {
        let p = valid_phone("+390817683821", None).unwrap();
        assert_eq!(p.e164(), "+390817683821");
        // The hex-decoded MSISDN of ndpi/fuzz-2006-09-29-28586.pcap, sent without '+'.
        assert!(valid_phone("491726101004", None).is_some());
        assert!(valid_phone("1234", None).is_none());
        assert!(valid_phone("99912345678", None).is_none()); // no country code 999
    }
}

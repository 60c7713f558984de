//! A lenient DNS message parser (RFC 1035 wire format, also used by mDNS and LLMNR).
//!
//! Why not hickory-proto: it rejects a whole message when one record in it is bad (its issue
//! #1353), and on captures from phones and IoT devices a single odd record (a truncated
//! SVCB parameter, a vendor TXT blob, a pointer loop crafted by a fuzzer) is common. An
//! analyser that wants to know "which names did this device look up, and what came back"
//! must keep the good part of such a message, and say what was wrong with the rest.
//!
//! # Leniency policy
//!
//! * Only a message shorter than its 12-byte header is an [`Error`]; everything after the
//!   header is best effort, and what went wrong is recorded in [`Message::anomalies`].
//! * An entry whose owner name is bad (pointer loop, name over 255 bytes, reserved label
//!   type, pointer out of the message) but whose encoding still has a known end is skipped,
//!   and parsing goes on with the next entry.
//! * A record whose rdata does not parse as its type, but whose rdlength fits in the message,
//!   is kept as [`RData::Malformed`] (SVCB/HTTPS keep the parameters parsed before the bad
//!   one); parsing goes on after it.
//! * An entry cut off by the end of the message ends parsing: what came before is kept.
//! * Header counts are only an upper bound on what is looked for: vectors grow with what the
//!   message actually holds and never beyond [`Limits`].
//!
//! # Bounded work
//!
//! Each name follows at most [`Limits::max_pointer_jumps`] compression pointers and copies at
//! most 255 bytes; every entry consumes at least one byte of the message (five for a
//! question, eleven for a record), so total work is linear in the message size. Forward
//! pointers are followed (some encoders emit them) but flagged.
//!
//! # Names
//!
//! A [`Name`] keeps its labels exactly as on the wire (case preserved, no compression), so no
//! rendering choice can make two names collide. Its `Display` is the zone-file presentation
//! format (RFC 1035 §5.1, RFC 4343): labels joined by `.`, a `.` or `\` inside a label written
//! `\.` / `\\`, and any byte outside printable ASCII (`!`..`~`, so space too) written `\DDD`
//! in decimal; the root is `.`. [`Name::to_utf8`] is the friendlier form for mDNS/LLMNR
//! device names, which are UTF-8 on the wire: valid non-control UTF-8 is kept as is, the rest
//! escaped the same way.
//!
//! # mDNS / LLMNR
//!
//! The top bit of a question's class is mDNS's "unicast response" bit and of a record's class
//! its "cache flush" bit (RFC 6762 §5.4, §10.2); they are split off into their own fields for
//! every message, since classic DNS never sets them in practice (class ≥ 0x8000 is private
//! use). OPT records are the exception: their class is the UDP payload size.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Caps on what one message may make the parser keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Questions kept; more are skipped over and flagged [`Anomalies::LIMIT_REACHED`].
    pub max_questions: usize,
    /// Resource records kept over the answer, authority and additional sections together
    /// (the OPT record counts). Parsing stops at the cap, flagged [`Anomalies::LIMIT_REACHED`].
    pub max_records: usize,
    /// Compression pointers one name may follow before it counts as a loop.
    pub max_pointer_jumps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // A 64 KiB message holds at most ~6000 minimal records; legitimate ones (even mDNS
        // announcements and large TXT/DNSSEC answers) stay far below these caps.
        Limits { max_questions: 256, max_records: 1024, max_pointer_jumps: 128 }
    }
}

/// Why a message could not be parsed at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer than the 12 bytes of the header.
    ShortHeader {
        /// Bytes available.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShortHeader { len } => write!(f, "DNS message of {len} bytes is shorter than its 12-byte header"),
        }
    }
}

impl std::error::Error for Error {}

/// What was odd about a message: a set of flags, each with a stable name for reports.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Anomalies(u32);

impl Anomalies {
    /// The message ended, at an entry boundary, before the header's counts were reached.
    pub const COUNTS_EXCEED_MESSAGE: Anomalies = Anomalies(1 << 0);
    /// An entry was cut off by the end of the message (parsing stopped there).
    pub const TRUNCATED_ENTRY: Anomalies = Anomalies(1 << 1);
    /// Bytes left over after every counted entry.
    pub const TRAILING_DATA: Anomalies = Anomalies(1 << 2);
    /// A name followed more compression pointers than [`Limits::max_pointer_jumps`].
    pub const POINTER_LOOP: Anomalies = Anomalies(1 << 3);
    /// A compression pointer pointed at or after itself (followed anyway).
    pub const FORWARD_POINTER: Anomalies = Anomalies(1 << 4);
    /// A compression pointer or label ran past the end of the message.
    pub const POINTER_OUT_OF_RANGE: Anomalies = Anomalies(1 << 5);
    /// A name longer than 255 bytes in wire form.
    pub const NAME_TOO_LONG: Anomalies = Anomalies(1 << 6);
    /// A label with the reserved 0b01/0b10 type bits (obsolete extended labels).
    pub const BAD_LABEL_TYPE: Anomalies = Anomalies(1 << 7);
    /// Rdata that does not parse as its type, or whose length disagrees with its content.
    pub const BAD_RDATA: Anomalies = Anomalies(1 << 8);
    /// An entry dropped because of a bad owner name (the flag for the name's fault is set too).
    pub const SKIPPED_ENTRY: Anomalies = Anomalies(1 << 9);
    /// A [`Limits`] cap was reached: entries were not kept, or a name followed more than
    /// [`Limits::max_pointer_jumps`] pointers (it is also flagged [`Anomalies::POINTER_LOOP`]).
    pub const LIMIT_REACHED: Anomalies = Anomalies(1 << 10);
    /// More than one OPT record, one outside the additional section, or one not owned by the root.
    pub const BAD_OPT: Anomalies = Anomalies(1 << 11);

    const NAMES: [(Anomalies, &'static str); 12] = [
        (Self::COUNTS_EXCEED_MESSAGE, "counts_exceed_message"),
        (Self::TRUNCATED_ENTRY, "truncated_entry"),
        (Self::TRAILING_DATA, "trailing_data"),
        (Self::POINTER_LOOP, "pointer_loop"),
        (Self::FORWARD_POINTER, "forward_pointer"),
        (Self::POINTER_OUT_OF_RANGE, "pointer_out_of_range"),
        (Self::NAME_TOO_LONG, "name_too_long"),
        (Self::BAD_LABEL_TYPE, "bad_label_type"),
        (Self::BAD_RDATA, "bad_rdata"),
        (Self::SKIPPED_ENTRY, "skipped_entry"),
        (Self::LIMIT_REACHED, "limit_reached"),
        (Self::BAD_OPT, "bad_opt"),
    ];

    /// No flag set.
    pub const fn empty() -> Anomalies {
        Anomalies(0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Anomalies) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Anomalies) {
        self.0 |= other.0;
    }

    /// The raw bits (stable: new flags only take new bits).
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The names of the flags set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.into_iter().filter(move |(f, _)| self.contains(*f)).map(|(_, n)| n)
    }
}

impl std::ops::BitOr for Anomalies {
    type Output = Anomalies;
    fn bitor(self, rhs: Anomalies) -> Anomalies {
        Anomalies(self.0 | rhs.0)
    }
}

impl fmt::Debug for Anomalies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// A domain name: its labels in wire form (each a length byte and up to 63 bytes), without
/// the terminating root label and without compression. The root name is empty.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Vec<u8>);

impl Name {
    /// The root name.
    pub fn root() -> Name {
        Name(Vec::new())
    }

    /// A name from its labels, or `None` if a label is empty or over 63 bytes or the whole
    /// is over 255 bytes in wire form.
    pub fn from_labels<L: AsRef<[u8]>>(labels: impl IntoIterator<Item = L>) -> Option<Name> {
        let mut wire = Vec::new();
        for l in labels {
            let l = l.as_ref();
            if l.is_empty() || l.len() > 63 {
                return None;
            }
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        // +1 for the root label that ends every name on the wire.
        (wire.len() < MAX_NAME).then_some(Name(wire))
    }

    /// A name from unescaped dotted text (`"www.example.com"`, trailing dot optional); for
    /// building names in code and tests, not for parsing presentation format.
    pub fn from_dotted(s: &str) -> Option<Name> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() {
            return Some(Name::root());
        }
        Name::from_labels(s.split('.'))
    }

    /// The labels, first (leftmost) first.
    pub fn labels(&self) -> Labels<'_> {
        Labels(&self.0)
    }

    /// The wire form: length-prefixed labels without the root label.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The name with ASCII letters lower-cased (DNS names compare case-insensitively in
    /// ASCII only, RFC 4343; other bytes are left alone).
    pub fn to_lowercase(&self) -> Name {
        // Length bytes are at most 63, below b'A', so lower-casing the wire form as a whole
        // leaves them untouched.
        Name(self.0.to_ascii_lowercase())
    }

    /// Presentation form keeping valid, non-control UTF-8 (mDNS and LLMNR names are UTF-8):
    /// `.` and `\` in a label are escaped as `\.` and `\\`, control characters and bytes
    /// that are not valid UTF-8 as `\DDD`. The root is `.`.
    pub fn to_utf8(&self) -> String {
        if self.is_root() {
            return ".".to_string();
        }
        let mut out = String::with_capacity(self.0.len());
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for chunk in label.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '.' | '\\' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c if c.is_control() => {
                            let mut buf = [0; 4];
                            for &b in c.encode_utf8(&mut buf).as_bytes() {
                                push_ddd(&mut out, b);
                            }
                        }
                        c => out.push(c),
                    }
                }
                for &b in chunk.invalid() {
                    push_ddd(&mut out, b);
                }
            }
        }
        out
    }
}

fn push_ddd(out: &mut String, b: u8) {
    out.push('\\');
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + b / 10 % 10));
    out.push(char::from(b'0' + b % 10));
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        let mut s = String::with_capacity(self.0.len());
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                s.push('.');
            }
            for &b in label {
                match b {
                    b'.' | b'\\' => {
                        s.push('\\');
                        s.push(char::from(b));
                    }
                    b'!'..=b'~' => s.push(char::from(b)),
                    _ => push_ddd(&mut s, b),
                }
            }
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Iterator over a [`Name`]'s labels.
#[derive(Clone, Debug)]
pub struct Labels<'a>(&'a [u8]);

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.0.split_first()?;
        let (label, rest) = rest.split_at_checked(usize::from(len))?;
        self.0 = rest;
        Some(label)
    }
}

/// One entry of the question section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub name: Name,
    pub rrtype: u16,
    /// The class without its top bit.
    pub class: u16,
    /// The class's top bit: mDNS "unicast response requested" (QU).
    pub unicast_response: bool,
}

/// One resource record (OPT records are not listed: they become [`Message::edns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rrtype: u16,
    /// The class without its top bit.
    pub class: u16,
    /// The class's top bit: mDNS "cache flush".
    pub cache_flush: bool,
    pub ttl: u32,
    pub data: RData,
}

/// Record data, parsed for the types that say where a device goes; the rest by length only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(Name),
    Ptr(Name),
    Ns(Name),
    Dname(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// The character-strings, each without its length byte.
    Txt(Vec<Vec<u8>>),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Soa {
        mname: Name,
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    Svcb(Svcb),
    Https(Svcb),
    /// A type not parsed here: the type and the rdata length.
    Other(u16, u16),
    /// Rdata that did not parse as its type: the type and the rdata length.
    Malformed(u16, u16),
}

/// SVCB/HTTPS rdata (RFC 9460). Parameters after a malformed one are not read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Svcb {
    /// 0 is AliasMode (only `target` matters), else ServiceMode.
    pub priority: u16,
    pub target: Name,
    /// Protocol ids (key 1), e.g. `h2`, `h3`.
    pub alpn: Vec<Vec<u8>>,
    /// Key 2.
    pub no_default_alpn: bool,
    /// Key 3.
    pub port: Option<u16>,
    /// Key 4.
    pub ipv4hint: Vec<Ipv4Addr>,
    /// Key 5: the ECHConfigList, verbatim.
    pub ech: Option<Vec<u8>>,
    /// Key 6.
    pub ipv6hint: Vec<Ipv6Addr>,
    /// Other keys (mandatory, dohpath, ...): key and value length.
    pub other: Vec<(u16, u16)>,
}

/// The EDNS(0) pseudo-record (RFC 6891).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    pub udp_payload_size: u16,
    pub version: u8,
    /// The upper 8 bits of the 12-bit response code (already folded into [`Message::rcode`]).
    pub extended_rcode: u8,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
    /// Options: code and data (client subnet, cookie, padding, NSID...).
    pub options: Vec<(u16, Vec<u8>)>,
}

/// A parsed DNS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    /// QR bit.
    pub response: bool,
    pub opcode: u8,
    pub authoritative: bool,
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    pub authentic_data: bool,
    pub checking_disabled: bool,
    /// Response code, including the EDNS extended bits when an OPT record is present.
    pub rcode: u16,
    /// The header's question, answer, authority and additional counts, as claimed.
    pub counts: [u16; 4],
    pub queries: Vec<Query>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    /// Additional records, without the OPT record.
    pub additional: Vec<Record>,
    /// The first well-formed OPT record.
    pub edns: Option<Edns>,
    pub anomalies: Anomalies,
}

/// Longest name in wire form, root label included (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;

/// Parses one DNS message: a UDP payload, or one TCP-framed message without its length prefix.
pub fn parse(msg: &[u8], limits: &Limits) -> Result<Message, Error> {
    let Some(header) = msg.get(..12) else {
        return Err(Error::ShortHeader { len: msg.len() });
    };
    let u16_at = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let flags = u16_at(2);
    let counts = [u16_at(4), u16_at(6), u16_at(8), u16_at(10)];
    let mut m = Message {
        id: u16_at(0),
        response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0x0f) as u8,
        authoritative: flags & 0x0400 != 0,
        truncated: flags & 0x0200 != 0,
        recursion_desired: flags & 0x0100 != 0,
        recursion_available: flags & 0x0080 != 0,
        authentic_data: flags & 0x0020 != 0,
        checking_disabled: flags & 0x0010 != 0,
        rcode: flags & 0x000f,
        counts,
        queries: Vec::new(),
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        edns: None,
        anomalies: Anomalies::empty(),
    };
    let mut p = Parser { msg, pos: 12, limits, anomalies: Anomalies::empty(), records: 0 };
    let mut complete = p.questions(counts[0], &mut m.queries);
    if complete {
        complete = p.records(counts[1], 1, &mut m.answers, &mut m.edns);
    }
    if complete {
        complete = p.records(counts[2], 2, &mut m.authority, &mut m.edns);
    }
    if complete {
        complete = p.records(counts[3], 3, &mut m.additional, &mut m.edns);
    }
    if complete && p.pos < msg.len() {
        p.anomalies.insert(Anomalies::TRAILING_DATA);
    }
    if let Some(e) = &m.edns {
        m.rcode |= u16::from(e.extended_rcode) << 4;
    }
    m.anomalies = p.anomalies;
    Ok(m)
}

/// Where an entry's name ended on the wire: known once the terminating zero or the first
/// compression pointer has been read, even if following the pointers then failed.
type NameEnd = Option<usize>;

struct Parser<'a> {
    msg: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    anomalies: Anomalies,
    /// Records kept so far, over all sections.
    records: usize,
}

impl Parser<'_> {
    fn u16_at(&self, i: usize) -> Option<u16> {
        let b = self.msg.get(i..i.checked_add(2)?)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32_at(&self, i: usize) -> Option<u32> {
        let b = self.msg.get(i..i.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads the name at `start`. The error is the anomaly that explains the failure.
    fn name(&mut self, start: usize) -> (Result<Name, Anomalies>, NameEnd) {
        let msg = self.msg;
        let mut out = Vec::new();
        let mut pos = start;
        let mut end: NameEnd = None;
        let mut jumps = 0usize;
        // Where the labels being read in a row began (the start, or the last jump target).
        let mut seg_start = start;
        // Running off the message in-line means the entry itself is cut off; after a jump
        // it means the pointer was bad.
        let off_end =
            |end: NameEnd| if end.is_some() { Anomalies::POINTER_OUT_OF_RANGE } else { Anomalies::TRUNCATED_ENTRY };
        loop {
            let Some(&len) = msg.get(pos) else {
                return (Err(off_end(end)), end);
            };
            match len >> 6 {
                0 if len == 0 => {
                    let end = end.unwrap_or(pos + 1);
                    return (Ok(Name(out)), Some(end));
                }
                0 => {
                    let l = usize::from(len);
                    let Some(label) = msg.get(pos + 1..pos + 1 + l) else {
                        return (Err(off_end(end)), end);
                    };
                    // +1 for this label's length byte, +1 for the root label still to come.
                    if out.len() + 1 + l + 1 > MAX_NAME {
                        return (Err(Anomalies::NAME_TOO_LONG), end);
                    }
                    out.push(len);
                    out.extend_from_slice(label);
                    pos += 1 + l;
                }
                3 => {
                    let Some(&lo) = msg.get(pos + 1) else {
                        return (Err(off_end(end)), end);
                    };
                    if end.is_none() {
                        end = Some(pos + 2);
                    }
                    jumps += 1;
                    let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                    // Back into the labels just read: a sure loop, named as such before
                    // the growing name hits the length cap. Longer cycles are caught by
                    // the length or jump caps.
                    if jumps > self.limits.max_pointer_jumps {
                        // The work cap on one name, whether the pointers cycle or not.
                        self.anomalies.insert(Anomalies::LIMIT_REACHED);
                        return (Err(Anomalies::POINTER_LOOP), end);
                    }
                    if (seg_start..=pos).contains(&target) {
                        return (Err(Anomalies::POINTER_LOOP), end);
                    }
                    if target >= pos {
                        self.anomalies.insert(Anomalies::FORWARD_POINTER);
                    }
                    pos = target;
                    seg_start = target;
                }
                _ => return (Err(Anomalies::BAD_LABEL_TYPE), end),
            }
        }
    }

    /// The question section; false if parsing cannot go on after it.
    fn questions(&mut self, count: u16, out: &mut Vec<Query>) -> bool {
        for _ in 0..count {
            if self.pos >= self.msg.len() {
                self.anomalies.insert(Anomalies::COUNTS_EXCEED_MESSAGE);
                return false;
            }
            let (name, end) = self.name(self.pos);
            let Some(end) = end else {
                self.anomalies.insert(name.err().unwrap_or(Anomalies::TRUNCATED_ENTRY));
                return false;
            };
            let (Some(rrtype), Some(class)) = (self.u16_at(end), self.u16_at(end + 2)) else {
                self.anomalies.insert(Anomalies::TRUNCATED_ENTRY);
                return false;
            };
            self.pos = end + 4;
            match name {
                Err(a) => self.anomalies.insert(a | Anomalies::SKIPPED_ENTRY),
                Ok(_) if out.len() >= self.limits.max_questions => self.anomalies.insert(Anomalies::LIMIT_REACHED),
                Ok(name) => {
                    out.push(Query { name, rrtype, class: class & 0x7fff, unicast_response: class & 0x8000 != 0 })
                }
            }
        }
        true
    }

    /// One record section (`section` 1 to 3); false if parsing cannot go on after it.
    fn records(&mut self, count: u16, section: u8, out: &mut Vec<Record>, edns: &mut Option<Edns>) -> bool {
        for _ in 0..count {
            if self.pos >= self.msg.len() {
                self.anomalies.insert(Anomalies::COUNTS_EXCEED_MESSAGE);
                return false;
            }
            if self.records >= self.limits.max_records {
                self.anomalies.insert(Anomalies::LIMIT_REACHED);
                return false;
            }
            let (name, end) = self.name(self.pos);
            let Some(end) = end else {
                self.anomalies.insert(name.err().unwrap_or(Anomalies::TRUNCATED_ENTRY));
                return false;
            };
            let fixed = (self.u16_at(end), self.u16_at(end + 2), self.u32_at(end + 4), self.u16_at(end + 8));
            let (Some(rrtype), Some(class), Some(ttl), Some(rdlen)) = fixed else {
                self.anomalies.insert(Anomalies::TRUNCATED_ENTRY);
                return false;
            };
            let start = end + 10;
            let rd_end = start + usize::from(rdlen);
            if rd_end > self.msg.len() {
                self.anomalies.insert(Anomalies::TRUNCATED_ENTRY);
                return false;
            }
            self.pos = rd_end;
            let name = match name {
                Ok(name) => name,
                Err(a) => {
                    self.anomalies.insert(a | Anomalies::SKIPPED_ENTRY);
                    continue;
                }
            };
            self.records += 1;
            if rrtype == 41 {
                if section != 3 || !name.is_root() || edns.is_some() {
                    self.anomalies.insert(Anomalies::BAD_OPT);
                }
                if edns.is_none() {
                    *edns = Some(self.opt(class, ttl, start, rd_end));
                }
                continue;
            }
            let data = self.rdata(rrtype, start, rd_end);
            out.push(Record { name, rrtype, class: class & 0x7fff, cache_flush: class & 0x8000 != 0, ttl, data });
        }
        true
    }

    fn opt(&mut self, class: u16, ttl: u32, start: usize, end: usize) -> Edns {
        let [extended_rcode, version, flags, _] = ttl.to_be_bytes();
        let mut options = Vec::new();
        let mut pos = start;
        while pos < end {
            let (Some(code), Some(len)) = (self.u16_at(pos), self.u16_at(pos + 2)) else {
                self.anomalies.insert(Anomalies::BAD_RDATA);
                break;
            };
            let data_end = pos + 4 + usize::from(len);
            if data_end > end {
                self.anomalies.insert(Anomalies::BAD_RDATA);
                break;
            }
            options.push((code, self.msg[pos + 4..data_end].to_vec()));
            pos = data_end;
        }
        Edns { udp_payload_size: class, version, extended_rcode, dnssec_ok: flags & 0x80 != 0, options }
    }

    /// A name inside rdata that must end by `end`.
    fn rdata_name(&mut self, pos: usize, end: usize) -> Option<(Name, usize)> {
        match self.name(pos) {
            (Ok(name), Some(e)) if e <= end => Some((name, e)),
            (Err(a), _) => {
                self.anomalies.insert(a);
                None
            }
            _ => None,
        }
    }

    /// Rdata that is exactly one name.
    fn sole_name(&mut self, start: usize, end: usize) -> Option<Name> {
        let (name, e) = self.rdata_name(start, end)?;
        if e != end {
            // Keep the name: the bytes after it do not make it less of a target.
            self.anomalies.insert(Anomalies::BAD_RDATA);
        }
        Some(name)
    }

    fn rdata(&mut self, rrtype: u16, start: usize, end: usize) -> RData {
        let msg = self.msg;
        // rdlength is a u16, so this cannot truncate.
        let len = (end - start) as u16;
        let rd = &msg[start..end];
        let parsed = match rrtype {
            1 => <[u8; 4]>::try_from(rd).ok().map(|b| RData::A(Ipv4Addr::from(b))),
            28 => <[u8; 16]>::try_from(rd).ok().map(|b| RData::Aaaa(Ipv6Addr::from(b))),
            2 => self.sole_name(start, end).map(RData::Ns),
            5 => self.sole_name(start, end).map(RData::Cname),
            12 => self.sole_name(start, end).map(RData::Ptr),
            39 => self.sole_name(start, end).map(RData::Dname),
            15 => self.u16_at(start).filter(|_| len >= 3).and_then(|preference| {
                let exchange = self.sole_name(start + 2, end)?;
                Some(RData::Mx { preference, exchange })
            }),
            33 => (len >= 7).then_some(()).and_then(|()| {
                let (priority, weight, port) = (self.u16_at(start)?, self.u16_at(start + 2)?, self.u16_at(start + 4)?);
                let target = self.sole_name(start + 6, end)?;
                Some(RData::Srv { priority, weight, port, target })
            }),
            6 => self.soa(start, end),
            16 => Some(RData::Txt(self.txt(rd))),
            64 => self.svcb(start, end).map(RData::Svcb),
            65 => self.svcb(start, end).map(RData::Https),
            _ => return RData::Other(rrtype, len),
        };
        parsed.unwrap_or_else(|| {
            self.anomalies.insert(Anomalies::BAD_RDATA);
            RData::Malformed(rrtype, len)
        })
    }

    fn soa(&mut self, start: usize, end: usize) -> Option<RData> {
        let (mname, p) = self.rdata_name(start, end)?;
        let (rname, p) = self.rdata_name(p, end)?;
        if p.checked_add(20)? > end {
            return None;
        }
        let n = |i: usize| self.u32_at(p + 4 * i);
        let soa =
            RData::Soa { mname, rname, serial: n(0)?, refresh: n(1)?, retry: n(2)?, expire: n(3)?, minimum: n(4)? };
        if p + 20 != end {
            self.anomalies.insert(Anomalies::BAD_RDATA);
        }
        Some(soa)
    }

    /// Character-strings up to the end of the rdata; a string running past it ends the list.
    fn txt(&mut self, mut rd: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some((&len, rest)) = rd.split_first() {
            let Some((s, rest)) = rest.split_at_checked(usize::from(len)) else {
                self.anomalies.insert(Anomalies::BAD_RDATA);
                break;
            };
            out.push(s.to_vec());
            rd = rest;
        }
        out
    }

    fn svcb(&mut self, start: usize, end: usize) -> Option<Svcb> {
        let priority = self.u16_at(start).filter(|_| start + 2 < end)?;
        let (target, mut pos) = self.rdata_name(start + 2, end)?;
        let mut s = Svcb { priority, target, ..Svcb::default() };
        while pos < end {
            let (Some(key), Some(len)) = (self.u16_at(pos), self.u16_at(pos + 2)) else {
                self.anomalies.insert(Anomalies::BAD_RDATA);
                break;
            };
            let v_end = pos + 4 + usize::from(len);
            if v_end > end || !svc_param(&mut s, key, &self.msg[pos + 4..v_end]) {
                self.anomalies.insert(Anomalies::BAD_RDATA);
                break;
            }
            pos = v_end;
        }
        Some(s)
    }
}

/// Adds one SvcParam to `s`; false if its value is malformed for its key.
fn svc_param(s: &mut Svcb, key: u16, v: &[u8]) -> bool {
    match key {
        1 => {
            // The ids before a malformed one are kept: they are what the client offers.
            let mut rest = v;
            while let Some((&len, r)) = rest.split_first() {
                match r.split_at_checked(usize::from(len)) {
                    Some((id, r)) if len > 0 => {
                        s.alpn.push(id.to_vec());
                        rest = r;
                    }
                    _ => return false,
                }
            }
            !s.alpn.is_empty()
        }
        2 => {
            s.no_default_alpn = true;
            v.is_empty()
        }
        3 => match <[u8; 2]>::try_from(v) {
            Ok(b) => {
                s.port = Some(u16::from_be_bytes(b));
                true
            }
            Err(_) => false,
        },
        4 => {
            let (chunks, rest) = v.as_chunks::<4>();
            s.ipv4hint = chunks.iter().map(|&b| Ipv4Addr::from(b)).collect();
            rest.is_empty() && !chunks.is_empty()
        }
        5 => {
            s.ech = Some(v.to_vec());
            true
        }
        6 => {
            let (chunks, rest) = v.as_chunks::<16>();
            s.ipv6hint = chunks.iter().map(|&b| Ipv6Addr::from(b)).collect();
            rest.is_empty() && !chunks.is_empty()
        }
        _ => {
            // Values are at most 65535 bytes: the length came from a u16.
            s.other.push((key, v.len() as u16));
            true
        }
    }
}

/// The mnemonic of a record type (IANA registry), or `TYPE<n>` (RFC 3597) for the others.
pub fn rrtype_name(rrtype: u16) -> Cow<'static, str> {
    let name = match rrtype {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        258 => "AVC",
        259 => "DOA",
        260 => "AMTRELAY",
        261 => "RESINFO",
        32768 => "TA",
        32769 => "DLV",
        n => return Cow::Owned(format!("TYPE{n}")),
    };
    Cow::Borrowed(name)
}

/// The mnemonic of a response code (RFC 6895 registry), or `RCODE<n>` for the others. 16 is
/// `BADVERS`, its meaning in a header/OPT response code (`BADSIG` exists only in TSIG).
pub fn rcode_name(rcode: u16) -> Cow<'static, str> {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        n => return Cow::Owned(format!("RCODE{n}")),
    };
    Cow::Borrowed(name)
}

/// Why a [`TcpFramer`] stopped: DNS over TCP has no marker to find the next message by, so
/// once the length prefixes are lost they stay lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramerStop {
    /// Bytes of the stream are missing.
    Gap,
    /// A length prefix announced a message over the framer's cap.
    TooLong(u16),
}

/// Splits one direction of a DNS-over-TCP byte stream (or decrypted DoT) into messages by
/// their 2-byte length prefixes (RFC 1035 §4.2.2, RFC 7766), across chunk boundaries.
///
/// Whole messages inside a chunk are handed on without copying; only a message split across
/// chunks is buffered, so at most `max_message + 1` bytes are ever held.
#[derive(Clone, Debug)]
pub struct TcpFramer {
    /// The start of a message split across chunks, length prefix included.
    partial: Vec<u8>,
    max_message: usize,
    stopped: Option<FramerStop>,
}

impl Default for TcpFramer {
    /// A framer accepting any message length (up to 65535).
    fn default() -> Self {
        TcpFramer::new(usize::from(u16::MAX))
    }
}

impl TcpFramer {
    /// A framer that stops at a message announced longer than `max_message` bytes.
    pub fn new(max_message: usize) -> TcpFramer {
        TcpFramer { partial: Vec::new(), max_message, stopped: None }
    }

    /// Feeds the next bytes of the stream, calling `on_message` with each message (without
    /// its length prefix) they complete. Returns the number of messages handed on. Does
    /// nothing once stopped.
    pub fn push(&mut self, mut data: &[u8], mut on_message: impl FnMut(&[u8])) -> usize {
        if self.stopped.is_some() {
            return 0;
        }
        let mut n = 0;
        if !self.partial.is_empty() {
            if self.partial.len() < 2 {
                let Some((&b, rest)) = data.split_first() else {
                    return 0;
                };
                self.partial.push(b);
                data = rest;
            }
            let Some(need) = self.announced([self.partial[0], self.partial[1]]) else {
                return 0;
            };
            let take = need.saturating_sub(self.partial.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.partial.extend_from_slice(head);
            data = rest;
            if self.partial.len() < need {
                return 0;
            }
            on_message(&self.partial[2..]);
            n += 1;
            self.partial.clear();
        }
        while let [a, b, ..] = *data {
            let Some(need) = self.announced([a, b]) else {
                return n;
            };
            let Some((frame, rest)) = data.split_at_checked(need) else {
                break;
            };
            on_message(&frame[2..]);
            n += 1;
            data = rest;
        }
        // Shorter than the message it starts (or than a length prefix): wait for more.
        self.partial.extend_from_slice(data);
        n
    }

    /// The framed length (prefix included) announced by `prefix`; `None`, and stopped, if
    /// over the cap.
    fn announced(&mut self, prefix: [u8; 2]) -> Option<usize> {
        let len = u16::from_be_bytes(prefix);
        if usize::from(len) > self.max_message {
            self.stopped = Some(FramerStop::TooLong(len));
            self.partial = Vec::new();
            return None;
        }
        Some(usize::from(len) + 2)
    }

    /// Reports missing stream bytes: framing cannot resume, so the framer stops and drops
    /// what it buffered.
    pub fn gap(&mut self) {
        self.stopped = Some(FramerStop::Gap);
        self.partial = Vec::new();
    }

    /// Why the framer stopped, if it did.
    pub fn stopped(&self) -> Option<FramerStop> {
        self.stopped
    }

    /// Bytes held of a message split across chunks (prefix included).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
        let mut m = vec![0xbe, 0xef];
        m.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m
    }

    fn wire(name: &str) -> Vec<u8> {
        let mut w = Name::from_dotted(name).unwrap().as_wire().to_vec();
        w.push(0);
        w
    }

    fn question(m: &mut Vec<u8>, name: &[u8], rrtype: u16, class: u16) {
        m.extend_from_slice(name);
        m.extend_from_slice(&rrtype.to_be_bytes());
        m.extend_from_slice(&class.to_be_bytes());
    }

    fn rr(m: &mut Vec<u8>, name: &[u8], rrtype: u16, class: u16, ttl: u32, rdata: &[u8]) {
        question(m, name, rrtype, class);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    fn name(s: &str) -> Name {
        Name::from_dotted(s).unwrap()
    }

    fn parse_ok(m: &[u8]) -> Message {
        parse(m, &Limits::default()).unwrap()
    }

    /// Pointer to the question name, which starts right after the header.
    const PTR_Q: [u8; 2] = [0xc0, 12];

    #[test]
    fn short_header_is_the_only_error() {
        assert_eq!(parse(&[0; 11], &Limits::default()), Err(Error::ShortHeader { len: 11 }));
        let m = parse_ok(&header(0x8180, [0; 4]));
        assert!(m.response && m.recursion_desired && m.recursion_available && m.queries.is_empty());
        assert!(m.anomalies.is_empty());
    }

    #[test]
    fn question_only() {
        let mut m = header(0x0100, [1, 0, 0, 0]);
        question(&mut m, &wire("Example.COM"), 28, 1);
        let msg = parse_ok(&m);
        assert_eq!(msg.id, 0xbeef);
        assert!(!msg.response && msg.recursion_desired);
        assert_eq!(
            msg.queries,
            vec![Query { name: name("Example.COM"), rrtype: 28, class: 1, unicast_response: false }]
        );
        assert_eq!(msg.queries[0].name.to_lowercase(), name("example.com"));
        assert_eq!(msg.queries[0].name.to_string(), "Example.COM");
        assert!(msg.anomalies.is_empty(), "{:?}", msg.anomalies);
    }

    #[test]
    fn every_parsed_record_type() {
        let mut svcb = vec![0, 1];
        svcb.extend_from_slice(&wire("svc.example.net"));
        svcb.extend_from_slice(&[0, 1, 0, 6, 2, b'h', b'2', 2, b'h', b'3']); // alpn
        svcb.extend_from_slice(&[0, 2, 0, 0]); // no-default-alpn
        svcb.extend_from_slice(&[0, 3, 0, 2, 0x01, 0xbb]); // port 443
        svcb.extend_from_slice(&[0, 4, 0, 8, 192, 0, 2, 1, 192, 0, 2, 2]); // ipv4hint
        svcb.extend_from_slice(&[0, 5, 0, 3, 0xfe, 0x0d, 0]); // ech
        svcb.extend_from_slice(&[0, 6, 0, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // ipv6hint
        svcb.extend_from_slice(&[0, 7, 0, 3, b'/', b'q', b'{']); // dohpath
        let mut https_alias = vec![0, 0];
        https_alias.extend_from_slice(&wire("cdn.example.net"));

        let mut m = header(0x8180, [1, 13, 1, 1]);
        question(&mut m, &wire("www.example.com"), 255, 1);
        rr(&mut m, &PTR_Q, 1, 1, 60, &[192, 0, 2, 7]);
        rr(&mut m, &PTR_Q, 28, 1, 60, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        rr(&mut m, &PTR_Q, 5, 1, 60, &[3, b'w', b'e', b'b', 0xc0, 16]); // web.example.com
        rr(&mut m, &wire("7.2.0.192.in-addr.arpa"), 12, 1, 60, &PTR_Q);
        rr(&mut m, &PTR_Q, 15, 1, 60, &[0, 10, 2, b'm', b'x', 0xc0, 16]);
        rr(&mut m, &PTR_Q, 16, 1, 60, &[5, b'v', b'=', b's', b'p', b'f', 0, 3, 1, 2, 3]);
        rr(&mut m, &wire("_sip._tcp.example.com"), 33, 1, 60, &[0, 1, 0, 2, 0x13, 0xc4, 0xc0, 12]);
        rr(&mut m, &PTR_Q, 64, 1, 60, &svcb);
        rr(&mut m, &PTR_Q, 65, 1, 60, &https_alias);
        rr(&mut m, &PTR_Q, 39, 1, 60, &wire("example.org"));
        rr(&mut m, &PTR_Q, 257, 1, 60, &[0, 5, b'i', b's', b's', b'u', b'e', b'c', b'a']);
        rr(&mut m, &PTR_Q, 2, 1, 60, &wire("ns1.example.com"));
        rr(&mut m, &PTR_Q, 99, 1, 60, &[]); // SPF: not parsed, kept by length
        let mut soa = wire("ns1.example.com");
        soa.extend_from_slice(&[5, b'a', b'd', b'm', b'i', b'n', 0xc0, 16]);
        for v in [2024u32, 7200, 3600, 1209600, 300] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        rr(&mut m, &[0xc0, 16], 6, 1, 60, &soa);
        // OPT: UDP size 1232, extended rcode 1 (with header rcode 0: BADVERS), DO, a cookie.
        rr(&mut m, &[0], 41, 1232, 0x0100_8000, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);

        let msg = parse_ok(&m);
        assert!(msg.anomalies.is_empty(), "{:?}", msg.anomalies);
        let data: Vec<&RData> = msg.answers.iter().map(|r| &r.data).collect();
        assert_eq!(data[0], &RData::A(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(data[1], &RData::Aaaa("2001:db8::9".parse().unwrap()));
        assert_eq!(data[2], &RData::Cname(name("web.example.com")));
        assert_eq!(msg.answers[3].name, name("7.2.0.192.in-addr.arpa"));
        assert_eq!(data[3], &RData::Ptr(name("www.example.com")));
        assert_eq!(data[4], &RData::Mx { preference: 10, exchange: name("mx.example.com") });
        assert_eq!(data[5], &RData::Txt(vec![b"v=spf".to_vec(), vec![], vec![1, 2, 3]]));
        assert_eq!(data[6], &RData::Srv { priority: 1, weight: 2, port: 5060, target: name("www.example.com") });
        let RData::Svcb(s) = data[7] else { panic!("{:?}", data[7]) };
        assert_eq!((s.priority, &s.target), (1, &name("svc.example.net")));
        assert_eq!(s.alpn, vec![b"h2".to_vec(), b"h3".to_vec()]);
        assert!(s.no_default_alpn);
        assert_eq!(s.port, Some(443));
        assert_eq!(s.ipv4hint, vec![Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)]);
        assert_eq!(s.ech.as_deref(), Some(&[0xfe, 0x0d, 0][..]));
        assert_eq!(s.ipv6hint, vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap()]);
        assert_eq!(s.other, vec![(7, 3)]);
        assert_eq!(data[8], &RData::Https(Svcb { priority: 0, target: name("cdn.example.net"), ..Svcb::default() }));
        assert_eq!(data[9], &RData::Dname(name("example.org")));
        assert_eq!(data[10], &RData::Other(257, 9));
        assert_eq!(data[11], &RData::Ns(name("ns1.example.com")));
        assert_eq!(data[12], &RData::Other(99, 0));
        assert_eq!(
            msg.authority[0].data,
            RData::Soa {
                mname: name("ns1.example.com"),
                rname: name("admin.example.com"),
                serial: 2024,
                refresh: 7200,
                retry: 3600,
                expire: 1209600,
                minimum: 300
            }
        );
        assert!(msg.additional.is_empty());
        let edns = msg.edns.unwrap();
        assert_eq!((edns.udp_payload_size, edns.version, edns.dnssec_ok), (1232, 0, true));
        assert_eq!(edns.options, vec![(10, vec![1, 2, 3, 4, 5, 6, 7, 8])]);
        assert_eq!(msg.rcode, 16);
        assert_eq!(rcode_name(msg.rcode), "BADVERS");
    }

    #[test]
    fn mdns_class_top_bits() {
        let mut m = header(0x8400, [1, 1, 0, 0]);
        question(&mut m, &wire("_airplay._tcp.local"), 12, 0x8001);
        let mut target = vec![11];
        target.extend_from_slice("Ana’s Phone".as_bytes()[..11].as_ref());
        let instance = [&[13][..], "Ana’s Phone".as_bytes(), &PTR_Q].concat();
        rr(&mut m, &PTR_Q, 12, 0x8001, 4500, &instance);
        let msg = parse_ok(&m);
        assert!(msg.queries[0].unicast_response);
        assert_eq!(msg.queries[0].class, 1);
        assert!(msg.answers[0].cache_flush);
        assert_eq!(msg.answers[0].class, 1);
        let RData::Ptr(n) = &msg.answers[0].data else { panic!() };
        assert_eq!(n.to_utf8(), "Ana’s Phone._airplay._tcp.local");
        assert_eq!(n.to_string(), r"Ana\226\128\153s\032Phone._airplay._tcp.local");
    }

    #[test]
    fn escaping_is_unambiguous() {
        let n = Name::from_labels([&b"a.b"[..], b"c\\d", b"\x00\x7f", b"\xff"]).unwrap();
        assert_eq!(n.to_string(), r"a\.b.c\\d.\000\127.\255");
        assert_eq!(n.to_utf8(), r"a\.b.c\\d.\000\127.\255");
        assert_eq!(Name::root().to_string(), ".");
        assert_eq!(n.labels().count(), 4);
        assert_eq!(Name::from_labels([[b'x'; 64]]), None);
        assert_eq!(Name::from_labels([[b'x'; 63]; 4]), None, "256 bytes in wire form");
        assert!(Name::from_labels([[b'x'; 63], [b'x'; 63], [b'x'; 63], [b'x'; 63]].iter().take(3)).is_some());
    }

    #[test]
    fn pointer_loop_skips_the_entry_only() {
        let mut m = header(0x0100, [3, 0, 0, 0]);
        question(&mut m, &wire("before.example"), 1, 1);
        let looped = m.len();
        let hi = 0xc0 | (looped >> 8) as u8;
        question(&mut m, &[3, b'a', b'b', b'c', hi, looped as u8], 1, 1); // points at its own start
        question(&mut m, &wire("after.example"), 1, 1);
        let msg = parse_ok(&m);
        let names: Vec<String> = msg.queries.iter().map(|q| q.name.to_string()).collect();
        assert_eq!(names, ["before.example", "after.example"]);
        assert!(msg.anomalies.contains(Anomalies::POINTER_LOOP | Anomalies::SKIPPED_ENTRY));
        assert!(!msg.anomalies.contains(Anomalies::TRUNCATED_ENTRY));
        // A longer cycle (a -> b -> a), found by the jump cap.
        let mut m = header(0x0100, [1, 0, 0, 0]);
        question(&mut m, &[0xc0, 18], 1, 1);
        m.extend_from_slice(&[0xc0, 12]);
        let msg = parse_ok(&m);
        assert!(msg.queries.is_empty());
        assert!(
            msg.anomalies.contains(Anomalies::POINTER_LOOP | Anomalies::SKIPPED_ENTRY | Anomalies::FORWARD_POINTER)
        );
    }

    #[test]
    fn forward_pointer_is_followed_and_flagged() {
        let mut m = header(0x8180, [1, 1, 0, 0]);
        let later = 12 + 2 + 4;
        question(&mut m, &[0xc0, later as u8], 1, 1);
        rr(&mut m, &wire("fwd.example"), 1, 1, 60, &[192, 0, 2, 1]);
        let msg = parse_ok(&m);
        assert_eq!(msg.queries[0].name, name("fwd.example"));
        assert_eq!(msg.answers[0].name, name("fwd.example"));
        assert_eq!(msg.anomalies, Anomalies::FORWARD_POINTER);
    }

    #[test]
    fn over_long_name() {
        // 4 × 63-byte labels is 256 bytes on the wire with the root label: one too many.
        let mut m = header(0x8000, [1, 1, 0, 0]);
        let label = [&[63u8][..], &[b'x'; 63]].concat();
        let q = [&label[..], &label, &label, &[0]].concat();
        question(&mut m, &q, 1, 1);
        rr(&mut m, &[&label[..], &[0xc0, 12]].concat(), 1, 1, 0, &[1, 2, 3, 4]);
        let msg = parse_ok(&m);
        assert_eq!(msg.queries.len(), 1);
        assert!(msg.answers.is_empty());
        assert!(msg.anomalies.contains(Anomalies::NAME_TOO_LONG | Anomalies::SKIPPED_ENTRY), "{:?}", msg.anomalies);
        // In line, with no pointer to tell where it ends, parsing stops.
        let mut m = header(0x0000, [1, 0, 0, 0]);
        question(&mut m, &[&label[..], &label, &label, &label, &[0]].concat(), 1, 1);
        let msg = parse_ok(&m);
        assert!(msg.queries.is_empty() && msg.anomalies.contains(Anomalies::NAME_TOO_LONG));
    }

    #[test]
    fn truncated_record_keeps_what_came_before() {
        let mut m = header(0x8180, [1, 3, 0, 0]);
        question(&mut m, &wire("example.com"), 1, 1);
        rr(&mut m, &PTR_Q, 1, 1, 60, &[192, 0, 2, 1]);
        rr(&mut m, &PTR_Q, 1, 1, 60, &[192, 0, 2, 2]);
        for cut in 1..14 {
            let msg = parse_ok(&m[..m.len() - cut]);
            assert_eq!(msg.queries.len(), 1);
            assert_eq!(msg.answers.len(), 1, "cut {cut}");
            assert!(msg.anomalies.contains(Anomalies::TRUNCATED_ENTRY), "cut {cut}: {:?}", msg.anomalies);
        }
        let msg = parse_ok(&m);
        assert_eq!(msg.answers.len(), 2);
        assert_eq!(msg.anomalies, Anomalies::COUNTS_EXCEED_MESSAGE);
    }

    #[test]
    fn counts_lying() {
        let mut m = header(0x8180, [u16::MAX; 4]);
        question(&mut m, &wire("example.com"), 1, 1);
        let msg = parse_ok(&m);
        assert_eq!(msg.counts, [u16::MAX; 4]);
        assert_eq!(msg.queries.len(), 1);
        assert!(msg.queries.capacity() < 16);
        assert_eq!(msg.anomalies, Anomalies::COUNTS_EXCEED_MESSAGE);
        // Fewer claimed than present: the rest is trailing data.
        let mut m = header(0x0000, [0, 0, 0, 0]);
        question(&mut m, &wire("example.com"), 1, 1);
        assert_eq!(parse_ok(&m).anomalies, Anomalies::TRAILING_DATA);
    }

    #[test]
    fn malformed_rdata_is_kept_and_parsing_goes_on() {
        let mut bad_alpn = vec![0, 1, 0];
        bad_alpn.extend_from_slice(&[0, 3, 0, 2, 1, 187]); // port
        bad_alpn.extend_from_slice(&[0, 1, 0, 3, 5, b'h', b'2']); // alpn id longer than its value
        bad_alpn.extend_from_slice(&[0, 4, 0, 4, 192, 0, 2, 1]); // never reached
        let mut m = header(0x8180, [1, 5, 0, 0]);
        question(&mut m, &wire("example.com"), 1, 1);
        rr(&mut m, &PTR_Q, 1, 1, 60, &[192, 0, 2]);
        rr(&mut m, &PTR_Q, 5, 1, 60, &[0xc0, 0xff]); // pointer out of the message
        rr(&mut m, &PTR_Q, 65, 1, 60, &bad_alpn);
        rr(&mut m, &PTR_Q, 5, 1, 60, &[0xc0, 12, 0]); // name shorter than rdata: kept
        rr(&mut m, &PTR_Q, 1, 1, 60, &[192, 0, 2, 4]);
        let msg = parse_ok(&m);
        let data: Vec<&RData> = msg.answers.iter().map(|r| &r.data).collect();
        assert_eq!(data[0], &RData::Malformed(1, 3));
        assert_eq!(data[1], &RData::Malformed(5, 2));
        let RData::Https(s) = data[2] else { panic!("{:?}", data[2]) };
        assert_eq!((s.port, s.alpn.len(), s.ipv4hint.len()), (Some(443), 0, 0), "the bad id comes first");
        assert_eq!(data[3], &RData::Cname(name("example.com")));
        assert_eq!(data[4], &RData::A(Ipv4Addr::new(192, 0, 2, 4)));
        assert!(msg.anomalies.contains(Anomalies::BAD_RDATA | Anomalies::POINTER_OUT_OF_RANGE));
        assert!(!msg.anomalies.contains(Anomalies::TRUNCATED_ENTRY));
    }

    #[test]
    fn bad_label_type_and_extra_opt() {
        let mut m = header(0x8180, [1, 1, 0, 2]);
        question(&mut m, &[0x41, 0], 1, 1);
        let msg = parse_ok(&m);
        assert!(msg.queries.is_empty() && msg.anomalies.contains(Anomalies::BAD_LABEL_TYPE));

        let mut m = header(0x8183, [0, 1, 0, 2]);
        rr(&mut m, &[0], 41, 4096, 0x0200_0000, &[0, 8, 0, 9]); // option longer than rdata
        rr(&mut m, &[0], 41, 512, 0, &[]);
        rr(&mut m, &[0], 41, 1232, 0, &[]);
        let msg = parse_ok(&m);
        let edns = msg.edns.unwrap();
        assert_eq!((edns.udp_payload_size, edns.extended_rcode, edns.options.len()), (4096, 2, 0));
        assert_eq!(msg.rcode, 0x23);
        assert!(msg.anomalies.contains(Anomalies::BAD_OPT | Anomalies::BAD_RDATA));
        assert!(msg.answers.is_empty() && msg.additional.is_empty());
    }

    #[test]
    fn limits_cap_what_is_kept() {
        let mut m = header(0x8180, [3, 3, 0, 0]);
        for _ in 0..3 {
            question(&mut m, &wire("a.example"), 1, 1);
        }
        for i in 0..3 {
            rr(&mut m, &PTR_Q, 1, 1, 60, &[10, 0, 0, i]);
        }
        let limits = Limits { max_questions: 2, max_records: 2, ..Limits::default() };
        let msg = parse(&m, &limits).unwrap();
        assert_eq!((msg.queries.len(), msg.answers.len()), (2, 2));
        assert!(msg.anomalies.contains(Anomalies::LIMIT_REACHED));
    }

    /// Hostile messages: a long chain of pointers to pointers, repeated in every record.
    #[test]
    fn pointer_chains_stay_bounded() {
        // The chain hides in the rdata of a first record of an unparsed type.
        let mut chain = vec![1, b'x', 0];
        let chain_start = 12 + 11;
        for i in 0..2000usize {
            let prev = chain_start + if i == 0 { 0 } else { 3 + 2 * (i - 1) };
            chain.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
        }
        let mut m = header(0x8180, [0, u16::MAX, 0, 0]);
        rr(&mut m, &[0], 10, 1, 0, &chain);
        let last = m.len() - 2;
        for _ in 0..3000 {
            rr(&mut m, &[0xc0 | (last >> 8) as u8, last as u8], 5, 1, 0, &[0xc0 | (last >> 8) as u8, last as u8]);
        }
        let start = std::time::Instant::now();
        let msg = parse_ok(&m);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert!(msg.anomalies.contains(Anomalies::POINTER_LOOP));
    }

    /// The pointer-jump cap is a counted limit (issue 8: the engine counts `limit_reached` in
    /// `stats.caps.dns_message_limit`); a pointer back into the labels just read is a plain loop.
    #[test]
    fn the_pointer_jump_cap_is_a_limit_and_a_short_loop_is_not() {
        // One question whose name is a pointer to the last of `n` links, each a pointer to
        // the one before it, the first to the label `x`: the name follows `n` pointers.
        let chain = |n: usize| {
            let mut m = header(0x0100, [1, 0, 0, 0]);
            let last = 21 + 2 * (n - 1);
            m.extend_from_slice(&[0xc0 | (last >> 8) as u8, last as u8, 0, 1, 0, 1]);
            m.extend_from_slice(&[1, b'x', 0]);
            for k in 0..n {
                let prev = if k == 0 { 18 } else { 21 + 2 * (k - 1) };
                m.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
            }
            m
        };
        let limits = Limits { max_pointer_jumps: 8, ..Limits::default() };
        let msg = parse(&chain(7), &limits).unwrap();
        assert_eq!(msg.queries.len(), 1);
        assert_eq!(msg.queries[0].name.to_string(), "x");
        assert!(!msg.anomalies.contains(Anomalies::LIMIT_REACHED), "{:?}", msg.anomalies);
        let msg = parse(&chain(40), &limits).unwrap();
        assert!(msg.queries.is_empty());
        assert!(msg.anomalies.contains(Anomalies::LIMIT_REACHED | Anomalies::POINTER_LOOP), "{:?}", msg.anomalies);
        // A name that points at itself: a loop, not the cap.
        let mut m = header(0x0100, [1, 0, 0, 0]);
        m.extend_from_slice(&[1, b'x', 0xc0, 12, 0, 1, 0, 1]);
        let msg = parse(&m, &limits).unwrap();
        assert!(msg.anomalies.contains(Anomalies::POINTER_LOOP));
        assert!(!msg.anomalies.contains(Anomalies::LIMIT_REACHED));
    }

    #[test]
    fn type_and_rcode_names() {
        assert_eq!(rrtype_name(65), "HTTPS");
        assert_eq!(rrtype_name(28), "AAAA");
        assert_eq!(rrtype_name(65534), "TYPE65534");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(4000), "RCODE4000");
        let names: Vec<_> = (Anomalies::POINTER_LOOP | Anomalies::BAD_OPT).names().collect();
        assert_eq!(names, ["pointer_loop", "bad_opt"]);
    }

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        msgs.iter().flat_map(|m| [&(m.len() as u16).to_be_bytes()[..], m].concat()).collect()
    }

    #[test]
    fn tcp_framer_across_every_split() {
        let a = [1u8; 12];
        let b = [2u8; 40];
        let c: [u8; 0] = [];
        let d = [4u8; 13];
        let stream = framed(&[&a, &b, &c, &d]);
        let want: Vec<Vec<u8>> = vec![a.to_vec(), b.to_vec(), c.to_vec(), d.to_vec()];
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let mut f = TcpFramer::default();
                let mut got = Vec::new();
                let mut n = 0;
                for chunk in [&stream[..i], &stream[i..j], &stream[j..]] {
                    n += f.push(chunk, |m| got.push(m.to_vec()));
                }
                assert_eq!((&got, n), (&want, 4), "split at {i}, {j}");
                assert_eq!(f.buffered(), 0);
            }
        }
        let mut f = TcpFramer::default();
        let mut got = Vec::new();
        for byte in &stream {
            f.push(std::slice::from_ref(byte), |m| got.push(m.to_vec()));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn tcp_framer_cap_and_gap() {
        let mut f = TcpFramer::new(20);
        let mut got = 0;
        f.push(&framed(&[&[0; 12], &[0; 21], &[0; 12]]), |_| got += 1);
        assert_eq!((got, f.stopped()), (1, Some(FramerStop::TooLong(21))));
        assert_eq!(f.push(&framed(&[&[0; 12]]), |_| ()), 0);

        let mut f = TcpFramer::new(20);
        f.push(&[0], |_| ());
        assert_eq!(f.push(&[30, 1, 2], |_| ()), 0);
        assert_eq!((f.stopped(), f.buffered()), (Some(FramerStop::TooLong(30)), 0));

        let mut f = TcpFramer::default();
        f.push(&framed(&[&[7; 12]])[..8], |_| ());
        assert_eq!(f.buffered(), 8);
        f.gap();
        assert_eq!((f.stopped(), f.buffered()), (Some(FramerStop::Gap), 0));
        assert_eq!(f.push(&framed(&[&[7; 12]]), |_| ()), 0);
    }
}

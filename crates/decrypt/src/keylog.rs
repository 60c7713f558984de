//! NSS key log files (`SSLKEYLOGFILE`) and pcapng Decryption Secrets Blocks.
//!
//! The format (NSS, also written by OpenSSL, BoringSSL, Go, Firefox, Chrome, curl, PCAPdroid)
//! is one secret per line: `LABEL <client random, 64 hex digits> <secret, hex>`. The client
//! random (the 32 bytes of the ClientHello) names the connection. A pcapng Decryption Secrets
//! Block of type [`TLS_KEY_LOG`] carries the same text, so both go through one parser.
//!
//! | label | secret | used for |
//! |---|---|---|
//! | `CLIENT_RANDOM` | 48-byte master secret | TLS 1.0-1.2 |
//! | `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET` | 32/48 bytes | TLS 1.3 handshake records |
//! | `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0` | 32/48 bytes | TLS 1.3 and QUIC 1-RTT application data |
//! | `CLIENT_EARLY_TRAFFIC_SECRET` | 32/48 bytes | TLS 1.3 0-RTT data |
//! | `EXPORTER_SECRET`, `EARLY_EXPORTER_SECRET` | 32/48 bytes | kept, not needed for decryption |
//!
//! Lenient about content, strict about size: comments (`#`), blank lines, CRLF, surrounding
//! white space and upper/lower-case hex are fine; a line that does not parse is counted in
//! [`KeyLogStats::junk_lines`] (with the first one's number) and skipped. Labels that exist but
//! cannot be used here (`RSA` pre-master secrets, `PMS_CLIENT_RANDOM`, `ECH_*`) are counted as
//! [`KeyLogStats::unsupported_lines`]. When a client random and label appear twice with
//! different secrets, the first is kept and the clash counted.
//!
//! Bounds ([`KeyLogLimits`]): at most `max_bytes` of text are read over all inputs (default
//! 256 MiB; the rest is counted as dropped), at most `max_connections` client randoms are held
//! (default 1,000,000, about 250 bytes each with two TLS 1.3 secrets), lines longer than 512
//! bytes are junk. The session cache filled by decryptors (TLS 1.2 resumption) holds at most
//! `max_sessions` entries (default 65,536), oldest out first.
//!
//! Secrets never reach a `Debug` output: [`Secret`]'s `Debug` prints only its length.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// pcapng Decryption Secrets Block type for a TLS key log (`TLSK`).
pub const TLS_KEY_LOG: u32 = 0x544c_534b;

/// Longest line read; the longest valid one is 31 + 1 + 64 + 1 + 128 bytes.
const MAX_LINE: usize = 512;

/// A secret from a key log: 1 to 64 bytes. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; 64],
}

impl Secret {
    /// A secret from bytes; `None` when empty or longer than 64 bytes.
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        if bytes.is_empty() || bytes.len() > 64 {
            return None;
        }
        let mut s = Secret { len: bytes.len() as u8, bytes: [0; 64] };
        s.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(s)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.len)
    }
}

/// The key log labels this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// `CLIENT_RANDOM`: the TLS 1.0-1.2 master secret.
    MasterSecret,
    /// `CLIENT_EARLY_TRAFFIC_SECRET`.
    ClientEarlyTraffic,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    ClientHandshakeTraffic,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    ServerHandshakeTraffic,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    ClientTraffic0,
    /// `SERVER_TRAFFIC_SECRET_0`.
    ServerTraffic0,
    /// `EARLY_EXPORTER_SECRET`.
    EarlyExporter,
    /// `EXPORTER_SECRET`.
    Exporter,
}

impl Label {
    /// Every label, in key schedule order.
    pub const ALL: [Label; 8] = [
        Label::MasterSecret,
        Label::ClientEarlyTraffic,
        Label::ClientHandshakeTraffic,
        Label::ServerHandshakeTraffic,
        Label::ClientTraffic0,
        Label::ServerTraffic0,
        Label::EarlyExporter,
        Label::Exporter,
    ];

    /// The label as written in key logs.
    pub fn name(self) -> &'static str {
        match self {
            Label::MasterSecret => "CLIENT_RANDOM",
            Label::ClientEarlyTraffic => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshakeTraffic => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTraffic => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTraffic0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTraffic0 => "SERVER_TRAFFIC_SECRET_0",
            Label::EarlyExporter => "EARLY_EXPORTER_SECRET",
            Label::Exporter => "EXPORTER_SECRET",
        }
    }

    fn from_name(name: &[u8]) -> Option<Label> {
        Label::ALL.into_iter().find(|l| l.name().as_bytes() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Labels that are real but carry nothing this crate can use.
const UNSUPPORTED_LABELS: [&[u8]; 4] = [b"RSA", b"PMS_CLIENT_RANDOM", b"ECH_SECRET", b"ECH_CONFIG"];

/// Every secret logged for one client random.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSecrets {
    secrets: [Option<Secret>; 8],
}

impl ClientSecrets {
    /// The secret logged under `label`, if any.
    pub fn get(&self, label: Label) -> Option<&Secret> {
        self.secrets[label.index()].as_ref()
    }
}

/// What was read, for the report ("why was nothing decrypted?" starts here).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Inputs merged (files, DSBs, texts).
    pub inputs: u64,
    /// Lines looked at (blank and comment lines included).
    pub lines: u64,
    /// Secrets stored.
    pub secrets: u64,
    /// Comment (`#`) and blank lines.
    pub comments: u64,
    /// Lines that are no key log entry (wrong field count, bad hex, wrong lengths, unknown
    /// label, too long).
    pub junk_lines: u64,
    /// 1-based line number (within its input) of the first junk line.
    pub first_junk_line: Option<u64>,
    /// Known labels this crate cannot use (`RSA`, `PMS_CLIENT_RANDOM`, `ECH_*`).
    pub unsupported_lines: u64,
    /// The same secret logged again (several files, or a DSB repeating a file).
    pub duplicates: u64,
    /// A client random and label logged again with a different secret; the first is kept.
    pub conflicts: u64,
    /// Secrets not stored because `max_connections` client randoms were already held.
    pub dropped_connections: u64,
    /// Input bytes not read because `max_bytes` was reached.
    pub dropped_bytes: u64,
    /// Decryption Secrets Blocks of another type than [`TLS_KEY_LOG`] (WireGuard, ZigBee...).
    pub other_dsb_types: u64,
    /// Master secrets remembered from decrypted TLS 1.2 sessions for resumption.
    pub sessions_learned: u64,
    /// Remembered sessions forgotten because the cache was full.
    pub sessions_evicted: u64,
}

/// Caps of a [`KeyLog`] (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLogLimits {
    /// Key log text read over all inputs. Default 256 MiB.
    pub max_bytes: u64,
    /// Client randoms held. Default 1,000,000.
    pub max_connections: usize,
    /// TLS 1.2 sessions (by session id or ticket) remembered for resumption. Default 65,536.
    pub max_sessions: usize,
}

impl Default for KeyLogLimits {
    fn default() -> Self {
        KeyLogLimits { max_bytes: 256 << 20, max_connections: 1_000_000, max_sessions: 65_536 }
    }
}

/// How a resumed TLS 1.2 session names the session it resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SessionKey {
    /// The server-chosen session id (up to 32 bytes, zero-padded, with its length).
    Id(u8, [u8; 32]),
    /// SHA-256 of a session ticket (tickets can be kilobytes; the hash bounds memory).
    Ticket([u8; 32]),
}

/// Secrets from any number of key logs, looked up by client random; also the cache of TLS 1.2
/// master secrets that decryptors learn for resumption. See the module docs for the format and
/// bounds.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    limits: KeyLogLimits,
    by_random: HashMap<[u8; 32], ClientSecrets>,
    sessions: HashMap<SessionKey, Secret>,
    session_order: VecDeque<SessionKey>,
    read_bytes: u64,
    stats: KeyLogStats,
}

impl KeyLog {
    /// An empty key log with default limits.
    pub fn new() -> KeyLog {
        KeyLog::with_limits(KeyLogLimits::default())
    }

    /// An empty key log with these limits.
    pub fn with_limits(limits: KeyLogLimits) -> KeyLog {
        KeyLog { limits, ..KeyLog::default() }
    }

    /// Reads a key log file (the only I/O of this crate). At most the remaining byte budget is
    /// read; the rest of a larger file is counted in [`KeyLogStats::dropped_bytes`].
    pub fn from_file(path: &Path) -> std::io::Result<KeyLog> {
        let mut log = KeyLog::new();
        log.add_file(path)?;
        Ok(log)
    }

    /// Merges a key log file into this one (several `--keylog` files).
    pub fn add_file(&mut self, path: &Path) -> std::io::Result<()> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let budget = self.limits.max_bytes.saturating_sub(self.read_bytes);
        let mut text = Vec::new();
        file.take(budget).read_to_end(&mut text)?;
        // Counted now, as `add_text` would: the part of the file past the budget.
        self.stats.dropped_bytes += len.saturating_sub(text.len() as u64);
        self.add_text(&text);
        Ok(())
    }

    /// Merges key log text (a whole file's content; a last line without newline counts).
    pub fn add_text(&mut self, text: &[u8]) {
        self.stats.inputs += 1;
        let budget = self.limits.max_bytes.saturating_sub(self.read_bytes);
        let take = usize::try_from(budget).unwrap_or(usize::MAX).min(text.len());
        self.stats.dropped_bytes += (text.len() - take) as u64;
        self.read_bytes += take as u64;
        let mut text = &text[..take];
        let mut line_no = 0u64;
        while !text.is_empty() {
            let (line, rest) = match memchr_newline(text) {
                Some(i) => (&text[..i], &text[i + 1..]),
                None => (text, &text[text.len()..]),
            };
            text = rest;
            line_no += 1;
            self.add_line(line, line_no);
        }
    }

    /// Merges the payload of a pcapng Decryption Secrets Block. Returns whether it was a TLS
    /// key log ([`TLS_KEY_LOG`]); other types are counted and ignored.
    pub fn add_dsb(&mut self, secrets_type: u32, data: &[u8]) -> bool {
        if secrets_type != TLS_KEY_LOG {
            self.stats.other_dsb_types += 1;
            return false;
        }
        self.add_text(data);
        true
    }

    /// The secrets logged for a connection, by its ClientHello random.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&ClientSecrets> {
        self.by_random.get(client_random)
    }

    /// One secret of a connection.
    pub fn secret(&self, client_random: &[u8; 32], label: Label) -> Option<&Secret> {
        self.get(client_random)?.get(label)
    }

    /// Client randoms held.
    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    /// Whether no secret is held.
    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }

    /// What was read so far.
    pub fn stats(&self) -> &KeyLogStats {
        &self.stats
    }

    pub(crate) fn session(&self, key: &SessionKey) -> Option<&Secret> {
        self.sessions.get(key)
    }

    /// Remembers a TLS 1.2 master secret under a session id or ticket, so that a later
    /// abbreviated handshake can be decrypted even when only the original session was logged.
    pub(crate) fn learn_session(&mut self, key: SessionKey, master: &Secret) {
        if self.limits.max_sessions == 0 {
            return;
        }
        if self.sessions.insert(key, master.clone()).is_none() {
            self.stats.sessions_learned += 1;
            self.session_order.push_back(key);
            while self.sessions.len() > self.limits.max_sessions {
                if let Some(old) = self.session_order.pop_front() {
                    self.sessions.remove(&old);
                    self.stats.sessions_evicted += 1;
                }
            }
        }
    }

    fn add_line(&mut self, line: &[u8], line_no: u64) {
        self.stats.lines += 1;
        let line = line.trim_ascii();
        if line.is_empty() || line[0] == b'#' {
            self.stats.comments += 1;
            return;
        }
        match parse_line(line) {
            Parsed::Entry(label, random, secret) => self.insert(label, random, secret),
            Parsed::Unsupported => self.stats.unsupported_lines += 1,
            Parsed::Junk => {
                self.stats.junk_lines += 1;
                self.stats.first_junk_line.get_or_insert(line_no);
            }
        }
    }

    fn insert(&mut self, label: Label, random: [u8; 32], secret: Secret) {
        if !self.by_random.contains_key(&random) && self.by_random.len() >= self.limits.max_connections {
            self.stats.dropped_connections += 1;
            return;
        }
        let slot = &mut self.by_random.entry(random).or_default().secrets[label.index()];
        match slot {
            Some(old) if *old == secret => self.stats.duplicates += 1,
            Some(_) => self.stats.conflicts += 1,
            None => {
                *slot = Some(secret);
                self.stats.secrets += 1;
            }
        }
    }
}

enum Parsed {
    Entry(Label, [u8; 32], Secret),
    Unsupported,
    Junk,
}

fn parse_line(line: &[u8]) -> Parsed {
    if line.len() > MAX_LINE {
        return Parsed::Junk;
    }
    let mut fields = line.split(|b| *b == b' ' || *b == b'\t').filter(|f| !f.is_empty());
    let (Some(label), Some(random), Some(secret), None) = (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Parsed::Junk;
    };
    let Some(label) = Label::from_name(label) else {
        return if UNSUPPORTED_LABELS.contains(&label) { Parsed::Unsupported } else { Parsed::Junk };
    };
    let mut r = [0u8; 32];
    if random.len() != 64 || !unhex(random, &mut r) {
        return Parsed::Junk;
    }
    let mut s = [0u8; 64];
    let n = secret.len() / 2;
    let ok_len = match label {
        Label::MasterSecret => n == 48,
        // SHA-256 and SHA-384 suites; nothing else exists in TLS 1.3.
        _ => n == 32 || n == 48,
    };
    if secret.len() % 2 != 0 || !ok_len || !unhex(secret, &mut s[..n]) {
        return Parsed::Junk;
    }
    match Secret::new(&s[..n]) {
        Some(secret) => Parsed::Entry(label, r, secret),
        None => Parsed::Junk,
    }
}

fn memchr_newline(text: &[u8]) -> Option<usize> {
    text.iter().position(|b| *b == b'\n')
}

/// Decodes `hex` (exactly twice `out.len()` digits) into `out`.
fn unhex(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => *o = h << 4 | l,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: &str = "0102030405060708091011121314151617181920212223242526272829303132";
    const MS: &str = "aabbccddeeff0011aabbccddeeff0011aabbccddeeff0011aabbccddeeff0011aabbccddeeff0011aabbccddeeff0011";

    fn random(s: &str) -> [u8; 32] {
        let mut r = [0; 32];
        assert!(unhex(s.as_bytes(), &mut r));
        r
    }

    #[test]
    fn reads_every_label_comments_crlf_and_junk() {
        let t32 = "11".repeat(32);
        let t48 = "22".repeat(48);
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\r\nCLIENT_RANDOM {R1} {MS}\r\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {t32}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {R1} {t32}\n\
             CLIENT_TRAFFIC_SECRET_0 {R1} {t48}\nSERVER_TRAFFIC_SECRET_0 {R1} {t48}\nEXPORTER_SECRET {R1} {t32}\n\
             CLIENT_EARLY_TRAFFIC_SECRET {R1} {t32}\nEARLY_EXPORTER_SECRET {R1} {t32}\n\
             RSA 0011223344556677 {MS}\ngarbage line\nCLIENT_RANDOM {R1} 00\n  \t\nCLIENT_RANDOM {R1}"
        );
        let mut log = KeyLog::new();
        log.add_text(text.as_bytes());
        let s = log.stats();
        assert_eq!((s.lines, s.secrets, s.comments, s.unsupported_lines, s.junk_lines), (15, 8, 3, 1, 3));
        assert_eq!(s.first_junk_line, Some(12));
        let r = random(R1);
        assert_eq!(log.secret(&r, Label::MasterSecret).unwrap().as_bytes().len(), 48);
        assert_eq!(log.secret(&r, Label::ServerTraffic0).unwrap().as_bytes(), &[0x22; 48][..]);
        assert_eq!(log.secret(&r, Label::ClientHandshakeTraffic).unwrap().as_bytes(), &[0x11; 32][..]);
        assert!(log.secret(&[0; 32], Label::MasterSecret).is_none());
    }

    #[test]
    fn merges_inputs_counting_duplicates_and_conflicts() {
        let mut log = KeyLog::new();
        log.add_text(format!("CLIENT_RANDOM {R1} {MS}\n").as_bytes());
        assert!(log.add_dsb(TLS_KEY_LOG, format!("CLIENT_RANDOM {R1} {MS}").as_bytes()));
        log.add_text(format!("CLIENT_RANDOM {} {}\n", R1.to_uppercase(), "00".repeat(48)).as_bytes());
        assert!(!log.add_dsb(0x5747_4b4c, b"wireguard"));
        let s = log.stats();
        assert_eq!((s.inputs, s.secrets, s.duplicates, s.conflicts, s.other_dsb_types), (3, 1, 1, 1, 1));
        // The first one is kept.
        assert_eq!(log.secret(&random(R1), Label::MasterSecret).unwrap().as_bytes()[0], 0xaa);
    }

    #[test]
    fn caps_bytes_and_connections() {
        let mut log = KeyLog::with_limits(KeyLogLimits { max_bytes: 400, max_connections: 1, max_sessions: 1 });
        let r2 = R1.replace("01", "ff");
        // Two lines of 176 bytes: both read, the second client random is over the cap.
        log.add_text(format!("CLIENT_RANDOM {R1} {MS}\nCLIENT_RANDOM {r2} {MS}\n").as_bytes());
        assert_eq!((log.len(), log.stats().dropped_connections), (1, 1));
        // 48 bytes of budget left.
        log.add_text(&[b'#'; 50]);
        assert_eq!(log.stats().dropped_bytes, 2);
        let m = Secret::new(&[1; 48]).unwrap();
        log.learn_session(SessionKey::Ticket([1; 32]), &m);
        log.learn_session(SessionKey::Ticket([2; 32]), &m);
        assert!(log.session(&SessionKey::Ticket([1; 32])).is_none());
        assert!(log.session(&SessionKey::Ticket([2; 32])).is_some());
        assert_eq!(log.stats().sessions_evicted, 1);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let mut log = KeyLog::new();
        log.add_text(format!("CLIENT_RANDOM {R1} {MS}\n").as_bytes());
        let dbg = format!("{log:?}");
        assert!(dbg.contains("<48 bytes redacted>"));
        assert!(!dbg.to_lowercase().contains("aabbcc") && !dbg.contains("170, 187"));
    }
}

//! Passive decryption of one TLS connection (TLS 1.0-1.3) from its two byte streams.
//!
//! [`TlsDecryptor`] reads the records of each direction itself: it finds the ClientHello
//! random, session id, ticket and extensions, the ServerHello version (TLS 1.3's
//! `supported_versions`), cipher suite and random, and each ChangeCipherSpec; it looks the
//! secrets up in a [`KeyLog`] when it needs them; then it decrypts records and hands on their
//! plaintext as [`Output`]s. See the crate docs for the calling protocol.
//!
//! Key schedule followed:
//! - TLS 1.0-1.2: a direction's records are encrypted from its ChangeCipherSpec on; the key
//!   block comes from the master secret (`CLIENT_RANDOM` line, else a session remembered by
//!   session id or ticket for abbreviated handshakes) with the PRF of the version and suite.
//!   A ClientHello/ServerHello inside the encrypted stream (renegotiation) sets the parameters
//!   the next ChangeCipherSpec of each direction switches to.
//! - TLS 1.3: from the ServerHello both directions use handshake traffic keys; each switches to
//!   `*_TRAFFIC_SECRET_0` after the record holding its Finished, and to the next secret after
//!   each KeyUpdate. A HelloRetryRequest is followed by a second ClientHello/ServerHello. The
//!   client's 0-RTT records are tried with `CLIENT_EARLY_TRAFFIC_SECRET` when it is logged,
//!   and skipped (counted) otherwise. When only the traffic secrets are logged, handshake
//!   records are skipped until one opens with the application keys.
//!
//! Not done (each is reported, nothing panics): SSL 3.0 and SSLv2 hellos, non-AES/ChaCha
//! ciphers (3DES, RC4, Camellia, ARIA, NULL), compression, recovering after a gap (record
//! boundaries and sequence numbers are lost: the direction stops), keys that reach the key
//! log only after the records that need them (a pcapng DSB written after the connection).
//!
//! Bounds: a record is at most 2^14 + 2048 bytes of fragment ([`MAX_RECORD`]; a longer one
//! stops the direction, TLS 1.3 records above 2^14 + 256 are decrypted but counted); the
//! record buffer grows to the record being read; handshake messages are kept up to
//! `max_handshake_message` bytes (larger ones are tracked by length, not delivered); 0-RTT
//! records that arrive before the ServerHello are held up to `max_pending` bytes.

use std::fmt;

use phonehome_model::Direction;
use sha2::{Digest, Sha256};

use crate::crypto::{RecordError, RecordKeys, expand_label};
use crate::keylog::{KeyLog, Label, Secret, SessionKey};
use crate::suites;

/// Longest record fragment accepted (RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// TLS 1.3's own limit (RFC 8446 §5.2); longer records are counted, still decrypted.
const MAX_RECORD_13: usize = (1 << 14) + 256;
/// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
/// Records that fail to open before one opens, in a TLS 1.3 handshake epoch (rejected 0-RTT
/// data, or handshake records when only the application secrets are logged).
const MAX_SKIPPED_HANDSHAKE_RECORDS: u32 = 64;
/// Failed records in a row after a successful one before the direction stops.
const MAX_FAILURES_IN_A_ROW: u32 = 16;

/// Content types (RFC 8446 §5.1).
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// Handshake message types read.
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const NEW_SESSION_TICKET: u8 = 4;
const END_OF_EARLY_DATA: u8 = 5;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

/// Limits of a [`TlsDecryptor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Handshake messages longer than this are tracked but not delivered. Default 64 KiB
    /// (certificate chains are a few KiB).
    pub max_handshake_message: usize,
    /// Client records held while waiting for the ServerHello (0-RTT). Default 64 KiB.
    pub max_pending: usize,
    /// Deliver CBC records whose padding is right but whose MAC is not (counted in
    /// [`DirStats::mac_mismatches`]). Default false: such records are skipped and counted.
    pub lenient_cbc_mac: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { max_handshake_message: 64 << 10, max_pending: 64 << 10, lenient_cbc_mac: false }
    }
}

/// Why a direction is not (or no longer) decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The first bytes are not a TLS record.
    NotTls,
    /// A record header is impossible (bad content type or version) after good records.
    Malformed,
    /// A record longer than [`MAX_RECORD`].
    RecordTooLong,
    /// Encrypted records, but no ClientHello was seen (capture started mid-connection).
    MissingClientHello,
    /// Encrypted records, but no ServerHello was seen (lost, or capture started late).
    MissingServerHello,
    /// The key log has no secret for this connection's client random (or for this step).
    NoKey,
    /// A logged secret does not fit the suite (wrong length).
    BadSecret,
    /// SSL 3.0 or an unknown version.
    UnsupportedVersion(u16),
    /// A cipher suite this crate does not decrypt (3DES, RC4, Camellia, ARIA, NULL...).
    UnsupportedSuite(u16),
    /// Bytes of this direction were lost (capture loss or a reassembly cap).
    Gap,
    /// The first record under new keys did not authenticate: wrong secret, or the capture
    /// is not what the key log describes.
    AuthenticationFailed,
    /// Too many records in a row failed to authenticate after good ones.
    TooManyFailures,
    /// Too much 0-RTT data arrived before the ServerHello.
    PendingOverflow,
}

impl StopReason {
    /// A short snake_case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::NotTls => "not_tls",
            StopReason::Malformed => "malformed_record",
            StopReason::RecordTooLong => "record_too_long",
            StopReason::MissingClientHello => "missing_client_hello",
            StopReason::MissingServerHello => "missing_server_hello",
            StopReason::NoKey => "no_key",
            StopReason::BadSecret => "bad_secret",
            StopReason::UnsupportedVersion(_) => "unsupported_version",
            StopReason::UnsupportedSuite(_) => "unsupported_cipher_suite",
            StopReason::Gap => "gap",
            StopReason::AuthenticationFailed => "authentication_failed",
            StopReason::TooManyFailures => "too_many_failures",
            StopReason::PendingOverflow => "early_data_overflow",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::UnsupportedVersion(v) => write!(f, "unsupported_version ({v:#06x})"),
            StopReason::UnsupportedSuite(s) => write!(f, "unsupported_cipher_suite ({s:#06x})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Where a direction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Nothing encrypted seen yet (plaintext handshake, or no data).
    Waiting,
    /// Records are being decrypted.
    Decrypting,
    /// Decryption stopped (or never started) for this reason.
    Stopped(StopReason),
}

/// Where a TLS 1.2 master secret came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The key log, by this connection's client random (TLS 1.3 always).
    ClientRandom,
    /// A session decrypted earlier with the same session id (abbreviated handshake).
    SessionId,
    /// A session decrypted earlier that issued the ticket the client presented.
    SessionTicket,
}

/// What was seen in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Records read (plaintext and encrypted).
    pub records: u64,
    /// Records decrypted and authenticated.
    pub decrypted_records: u64,
    /// Application data bytes delivered.
    pub app_bytes: u64,
    /// Handshake messages delivered (plaintext and decrypted).
    pub handshake_messages: u64,
    /// Handshake messages longer than the cap (tracked, not delivered).
    pub oversized_handshake_messages: u64,
    /// Alerts (plaintext and decrypted).
    pub alerts: u64,
    /// Records that failed to authenticate (skipped).
    pub auth_failures: u64,
    /// CBC records delivered although their MAC did not match (lenient mode).
    pub mac_mismatches: u64,
    /// Records skipped in a TLS 1.3 handshake epoch before one opened (rejected 0-RTT data).
    pub skipped_records: u64,
    /// TLS 1.3 records longer than 2^14 + 256 bytes (decrypted anyway).
    pub oversized_records: u64,
    /// TLS 1.3 KeyUpdate messages followed.
    pub key_updates: u64,
    /// 0-RTT application data bytes delivered.
    pub early_data_bytes: u64,
    /// Bytes received after the direction stopped.
    pub ignored_bytes: u64,
}

/// The connection as the decryptor saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Negotiated version (0x0301..0x0304), from the ServerHello.
    pub version: Option<u16>,
    /// Negotiated cipher suite.
    pub cipher_suite: Option<u16>,
    /// The ClientHello random (the key log's lookup key).
    pub client_random: Option<[u8; 32]>,
    /// ALPN protocol the server chose (ServerHello in TLS 1.2, EncryptedExtensions in 1.3).
    pub alpn: Option<Vec<u8>>,
    /// A TLS 1.2 abbreviated handshake (session resumption).
    pub resumed: bool,
    /// Where the keys came from, once found.
    pub key_source: Option<KeySource>,
    /// Status of the client's direction and of the server's.
    pub client_status: Status,
    /// See `client_status`.
    pub server_status: Status,
    /// Counters of the client's direction.
    pub client: DirStats,
    /// Counters of the server's direction.
    pub server: DirStats,
}

impl Summary {
    /// Whether any application data was decrypted.
    pub fn decrypted(&self) -> bool {
        self.client.app_bytes + self.server.app_bytes + self.client.early_data_bytes > 0
    }

    /// Why nothing was decrypted (or why decryption ended early): the client's stop reason,
    /// else the server's.
    pub fn reason(&self) -> Option<StopReason> {
        match (self.client_status, self.server_status) {
            (Status::Stopped(r), _) | (_, Status::Stopped(r)) => Some(r),
            _ => None,
        }
    }
}

/// What the decryptor hands on. Slices borrow the decryptor's buffers until the callback
/// returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// Decrypted application data of `dir`, in stream order. `early` marks TLS 1.3 0-RTT data.
    AppData { dir: Direction, data: &'a [u8], early: bool },
    /// A complete handshake message (body without its 4-byte header), plaintext or decrypted
    /// (`encrypted`): e.g. the TLS 1.3 Certificate a later stage may read.
    Handshake { dir: Direction, msg_type: u8, body: &'a [u8], encrypted: bool },
    /// An alert (level, description).
    Alert { dir: Direction, level: u8, description: u8, encrypted: bool },
    /// `dir` stopped (once per direction); later bytes of it are ignored.
    Stopped { dir: Direction, reason: StopReason },
}

/// Epoch of a direction's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Epoch {
    /// No keys: plaintext records.
    Plain,
    /// TLS 1.0-1.2 keys from a ChangeCipherSpec.
    Tls12,
    /// TLS 1.3 handshake traffic keys.
    Handshake,
    /// TLS 1.3 application traffic keys.
    Application,
}

/// Alternative keys tried in a TLS 1.3 handshake epoch when the main keys fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AltKind {
    /// Client 0-RTT keys.
    Early,
    /// Application keys (handshake secrets not logged).
    Application,
}

/// Something to do to a direction after the current record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    ToApplication,
    KeyUpdate,
    EndOfEarlyData,
}

#[derive(Default)]
struct HandshakeReader {
    head: [u8; 4],
    head_len: usize,
    body: Vec<u8>,
    /// Body bytes still to come of the current message.
    remaining: usize,
    /// The current message is over the cap: counted down, not kept.
    skipping: bool,
}

impl HandshakeReader {
    /// Feeds handshake-record payload; `f(type, body, complete)` for each message, where
    /// `complete` is false for a message over `cap` (its body is then empty).
    fn push(&mut self, mut data: &[u8], cap: usize, f: &mut dyn FnMut(u8, &[u8], bool)) {
        loop {
            if self.head_len < 4 {
                if data.is_empty() {
                    return;
                }
                let n = (4 - self.head_len).min(data.len());
                self.head[self.head_len..self.head_len + n].copy_from_slice(&data[..n]);
                self.head_len += n;
                data = &data[n..];
                if self.head_len < 4 {
                    return;
                }
                self.remaining =
                    usize::from(self.head[1]) << 16 | usize::from(self.head[2]) << 8 | usize::from(self.head[3]);
                self.skipping = self.remaining > cap;
                self.body.clear();
            }
            let n = self.remaining.min(data.len());
            if !self.skipping {
                self.body.extend_from_slice(&data[..n]);
            }
            self.remaining -= n;
            data = &data[n..];
            if self.remaining > 0 {
                return;
            }
            self.head_len = 0;
            f(self.head[0], &self.body, !self.skipping);
            if self.body.capacity() > 16 << 10 {
                // A certificate chain passed through; do not keep its buffer for the connection's life.
                self.body = Vec::new();
            }
        }
    }

    fn in_message(&self) -> bool {
        self.head_len > 0
    }
}

#[derive(Default)]
struct Half {
    /// The record being read: header and fragment.
    rec: Vec<u8>,
    /// Records read so far (to tell "not TLS" from a desynchronised stream).
    records_seen: u64,
    epoch: Option<Epoch>,
    keys: Option<RecordKeys>,
    alt: Option<(RecordKeys, AltKind)>,
    /// Current TLS 1.3 application traffic secret (for KeyUpdate).
    secret: Option<Secret>,
    /// Records skipped or failed in a row.
    failures: u32,
    /// Whether a record opened under the current keys.
    opened_any: bool,
    switch: Option<Switch>,
    hs: HandshakeReader,
    /// Client 0-RTT records held until the ServerHello.
    pending: Vec<u8>,
    stopped: Option<StopReason>,
    stats: DirStats,
}

impl Half {
    fn epoch(&self) -> Epoch {
        self.epoch.unwrap_or(Epoch::Plain)
    }
}

/// Parameters from the hellos.
#[derive(Default)]
struct Params {
    client_random: Option<[u8; 32]>,
    client_session_id: Option<(u8, [u8; 32])>,
    client_ticket: Option<[u8; 32]>,
    client_early_data: bool,
    client_etm: bool,
    server_seen: bool,
    server_random: [u8; 32],
    server_session_id: Option<(u8, [u8; 32])>,
    version: u16,
    suite_id: u16,
    etm: bool,
    hrr: bool,
}

/// Per-connection passive TLS decryptor. See the module and crate docs.
pub struct TlsDecryptor {
    config: TlsConfig,
    halves: [Half; 2],
    /// Index into `halves` of the client's direction, once a hello told it (the flow table's
    /// guess of who started the connection can be wrong for captures started mid-flow).
    client: Option<usize>,
    params: Params,
    /// TLS 1.2 master secret in use (remembered for sessions the server may resume).
    master: Option<Secret>,
    new_ticket: Option<[u8; 32]>,
    first_ccs: Option<usize>,
    version: Option<u16>,
    suite_id: Option<u16>,
    alpn: Option<Vec<u8>>,
    key_source: Option<KeySource>,
    drain_pending: bool,
}

impl Default for TlsDecryptor {
    fn default() -> Self {
        TlsDecryptor::new(TlsConfig::default())
    }
}

impl fmt::Debug for TlsDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and plaintext are left out on purpose.
        f.debug_struct("TlsDecryptor").field("summary", &self.summary()).finish_non_exhaustive()
    }
}

fn idx(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

fn dir_of(i: usize) -> Direction {
    if i == 0 { Direction::ToServer } else { Direction::ToClient }
}

impl TlsDecryptor {
    /// A decryptor for one connection.
    pub fn new(config: TlsConfig) -> TlsDecryptor {
        TlsDecryptor {
            config,
            halves: Default::default(),
            client: None,
            params: Params::default(),
            master: None,
            new_ticket: None,
            first_ccs: None,
            version: None,
            suite_id: None,
            alpn: None,
            key_source: None,
            drain_pending: false,
        }
    }

    /// Feeds the next bytes of `dir`'s TLS stream (any chunking) and calls `out` for each
    /// decrypted piece. `keys` is looked up when secrets are needed, and learns TLS 1.2
    /// sessions for later resumptions.
    pub fn feed<F: FnMut(Output<'_>)>(&mut self, dir: Direction, data: &[u8], keys: &mut KeyLog, mut out: F) {
        self.feed_inner(idx(dir), data, keys, &mut out);
    }

    /// `len` bytes of `dir` were lost: that direction stops (record boundaries and sequence
    /// numbers cannot be recovered). The other direction carries on.
    pub fn gap<F: FnMut(Output<'_>)>(&mut self, dir: Direction, len: u64, mut out: F) {
        let _ = len;
        self.stop(idx(dir), StopReason::Gap, &mut out);
    }

    /// Status of one direction.
    pub fn status(&self, dir: Direction) -> Status {
        let h = &self.halves[idx(dir)];
        match (h.stopped, h.epoch()) {
            (Some(r), _) => Status::Stopped(r),
            (None, Epoch::Plain) => Status::Waiting,
            (None, _) => Status::Decrypting,
        }
    }

    /// What was seen and decrypted so far (call at the end of the flow for the report).
    pub fn summary(&self) -> Summary {
        let c = self.client_index();
        Summary {
            version: self.version,
            cipher_suite: self.suite_id,
            client_random: self.params.client_random,
            alpn: self.alpn.clone(),
            resumed: self.first_ccs.is_some_and(|i| i != c) && self.version.is_some_and(|v| v <= 0x0303),
            key_source: self.key_source,
            client_status: self.status(dir_of(c)),
            server_status: self.status(dir_of(1 - c)),
            client: self.halves[c].stats,
            server: self.halves[1 - c].stats,
        }
    }

    fn client_index(&self) -> usize {
        self.client.unwrap_or(0)
    }

    fn is_client(&self, i: usize) -> bool {
        i == self.client_index()
    }

    fn stop(&mut self, i: usize, reason: StopReason, out: &mut dyn FnMut(Output<'_>)) {
        let h = &mut self.halves[i];
        if h.stopped.is_none() {
            h.stopped = Some(reason);
            h.keys = None;
            h.alt = None;
            h.rec = Vec::new();
            h.pending = Vec::new();
            h.hs = HandshakeReader::default();
            out(Output::Stopped { dir: dir_of(i), reason });
        }
    }

    fn feed_inner(&mut self, i: usize, mut data: &[u8], keys: &mut KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        while !data.is_empty() {
            let h = &mut self.halves[i];
            if h.stopped.is_some() {
                h.stats.ignored_bytes += data.len() as u64;
                return;
            }
            if h.rec.len() < 5 {
                let n = (5 - h.rec.len()).min(data.len());
                h.rec.extend_from_slice(&data[..n]);
                data = &data[n..];
                if h.rec.len() < 5 {
                    return;
                }
                let len = usize::from(u16::from_be_bytes([h.rec[3], h.rec[4]]));
                if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&h.rec[0]) || h.rec[1] != 3 {
                    let reason = if h.records_seen == 0 { StopReason::NotTls } else { StopReason::Malformed };
                    self.stop(i, reason, out);
                    continue;
                }
                if len > MAX_RECORD {
                    self.stop(i, StopReason::RecordTooLong, out);
                    continue;
                }
                h.rec.reserve_exact(len);
            }
            let len = usize::from(u16::from_be_bytes([h.rec[3], h.rec[4]]));
            let n = (5 + len - h.rec.len()).min(data.len());
            h.rec.extend_from_slice(&data[..n]);
            data = &data[n..];
            if h.rec.len() == 5 + len {
                let mut rec = std::mem::take(&mut self.halves[i].rec);
                self.record(i, &mut rec, keys, out);
                rec.clear();
                let h = &mut self.halves[i];
                if h.stopped.is_none() {
                    h.rec = rec;
                }
                if self.drain_pending {
                    self.drain_pending = false;
                    self.drain(keys, out);
                }
            }
        }
    }

    /// Replays the client records held for the ServerHello.
    fn drain(&mut self, keys: &mut KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        let c = self.client_index();
        let pending = std::mem::take(&mut self.halves[c].pending);
        if pending.is_empty() {
            return;
        }
        let partial = std::mem::take(&mut self.halves[c].rec);
        self.feed_inner(c, &pending, keys, out);
        self.feed_inner(c, &partial, keys, out);
    }

    fn record(&mut self, i: usize, rec: &mut [u8], keys: &mut KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        let header: [u8; 5] = rec[..5].try_into().expect("5-byte header");
        let body = &mut rec[5..];
        let h = &mut self.halves[i];
        h.records_seen += 1;
        h.stats.records += 1;
        let epoch = h.epoch();
        let encrypted = match epoch {
            Epoch::Plain => false,
            Epoch::Tls12 => true,
            // TLS 1.3 protects only records sent as application_data; a middlebox-compatibility
            // ChangeCipherSpec (and a plaintext alert from a peer that gave up) stays clear.
            Epoch::Handshake | Epoch::Application => header[0] == APPLICATION_DATA,
        };
        if !encrypted {
            if epoch != Epoch::Plain || header[0] != APPLICATION_DATA {
                self.content(i, header[0], body, false, false, keys, out);
                return;
            }
            self.plaintext_app_data(i, &header, body, out);
            return;
        }
        if epoch == Epoch::Application && body.len() > MAX_RECORD_13 {
            h.stats.oversized_records += 1;
        }
        let lenient = self.config.lenient_cbc_mac;
        let opened = match h.keys.as_mut() {
            Some(k) if h.alt.is_none() => k.open(&header, body, lenient).map(|o| (o, None)),
            main => {
                // Trial decryption: CCM clears the buffer on failure, so each try gets a copy.
                let copy = body.to_vec();
                let first = match main {
                    Some(k) => k.open(&header, body, lenient),
                    None => Err(RecordError::BadAuth),
                };
                match first {
                    Ok(o) => Ok((o, None)),
                    Err(_) => {
                        body.copy_from_slice(&copy);
                        let (k, kind) = h.alt.as_mut().expect("trial only with alternative keys");
                        let kind = *kind;
                        k.open(&header, body, lenient).map(|o| (o, Some(kind)))
                    }
                }
            }
        };
        match opened {
            Ok((o, alt)) => {
                h.failures = 0;
                h.opened_any = true;
                h.stats.decrypted_records += 1;
                if o.mac_mismatch {
                    h.stats.mac_mismatches += 1;
                }
                let early = match alt {
                    Some(AltKind::Application) => {
                        let (k, _) = h.alt.take().expect("just used");
                        h.keys = Some(k);
                        h.epoch = Some(Epoch::Application);
                        let label = if self.is_client(i) { Label::ClientTraffic0 } else { Label::ServerTraffic0 };
                        self.halves[i].secret = self.params.client_random.and_then(|r| keys.secret(&r, label).cloned());
                        false
                    }
                    Some(AltKind::Early) => true,
                    None => false,
                };
                let plaintext = &body[o.plaintext];
                self.content(i, o.content_type, plaintext, true, early, keys, out);
                self.apply_switch(i, keys, out);
            }
            Err(_) => {
                h.stats.auth_failures += 1;
                h.failures += 1;
                if let Some(k) = h.keys.as_mut() {
                    // The record was sent under these keys or was garbage; either way the
                    // peer's next record has the next sequence number.
                    k.seq = k.seq.wrapping_add(1);
                }
                // Records that may legitimately not open yet: the client's rejected 0-RTT data,
                // or handshake records when only the application secrets are logged.
                let may_skip = epoch == Epoch::Handshake
                    && !h.opened_any
                    && (h.alt.as_ref().is_some_and(|(_, k)| *k == AltKind::Application)
                        || (i == self.client.unwrap_or(0) && self.params.client_early_data));
                if may_skip && h.failures <= MAX_SKIPPED_HANDSHAKE_RECORDS {
                    h.stats.auth_failures -= 1;
                    h.stats.skipped_records += 1;
                    if let Some(k) = h.keys.as_mut() {
                        // Skipped 0-RTT records were not sent under the handshake keys.
                        k.seq = k.seq.wrapping_sub(1);
                    }
                } else if !h.opened_any {
                    self.stop(i, StopReason::AuthenticationFailed, out);
                } else if h.failures > MAX_FAILURES_IN_A_ROW {
                    self.stop(i, StopReason::TooManyFailures, out);
                }
            }
        }
    }

    /// An application_data record before any keys.
    fn plaintext_app_data(&mut self, i: usize, header: &[u8; 5], body: &[u8], out: &mut dyn FnMut(Output<'_>)) {
        let client = self.is_client(i);
        let p = &self.params;
        if client && p.client_random.is_some() && p.client_early_data && !p.server_seen {
            let h = &mut self.halves[i];
            if h.pending.len() + 5 + body.len() > self.config.max_pending {
                self.stop(i, StopReason::PendingOverflow, out);
            } else {
                h.pending.extend_from_slice(header);
                h.pending.extend_from_slice(body);
            }
            return;
        }
        let reason = if p.client_random.is_none() {
            StopReason::MissingClientHello
        } else if !p.server_seen {
            StopReason::MissingServerHello
        } else {
            // TLS 1.2 data after the hellos but without a ChangeCipherSpec: it was lost.
            StopReason::Malformed
        };
        self.stop(i, reason, out);
    }

    /// A record's content, plaintext or decrypted.
    #[allow(clippy::too_many_arguments)]
    fn content(
        &mut self,
        i: usize,
        content_type: u8,
        data: &[u8],
        encrypted: bool,
        early: bool,
        keys: &mut KeyLog,
        out: &mut dyn FnMut(Output<'_>),
    ) {
        let dir = dir_of(i);
        match content_type {
            APPLICATION_DATA if encrypted => {
                let st = &mut self.halves[i].stats;
                if early {
                    st.early_data_bytes += data.len() as u64;
                } else {
                    st.app_bytes += data.len() as u64;
                }
                if !data.is_empty() {
                    out(Output::AppData { dir, data, early });
                }
            }
            HANDSHAKE => {
                let mut hs = std::mem::take(&mut self.halves[i].hs);
                let cap = self.config.max_handshake_message;
                hs.push(data, cap, &mut |msg_type, body, complete| {
                    self.handshake(i, msg_type, body, complete, encrypted, keys, out);
                });
                if self.halves[i].stopped.is_none() {
                    self.halves[i].hs = hs;
                }
            }
            ALERT => {
                self.halves[i].stats.alerts += 1;
                if data.len() >= 2 {
                    out(Output::Alert { dir, level: data[0], description: data[1], encrypted });
                }
            }
            CHANGE_CIPHER_SPEC => self.change_cipher_spec(i, keys, out),
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handshake(
        &mut self,
        i: usize,
        msg_type: u8,
        body: &[u8],
        complete: bool,
        encrypted: bool,
        keys: &mut KeyLog,
        out: &mut dyn FnMut(Output<'_>),
    ) {
        if self.halves[i].stopped.is_some() {
            return;
        }
        if !complete {
            self.halves[i].stats.oversized_handshake_messages += 1;
        } else {
            self.halves[i].stats.handshake_messages += 1;
            out(Output::Handshake { dir: dir_of(i), msg_type, body, encrypted });
        }
        let tls13 = self.params.version == 0x0304;
        match msg_type {
            CLIENT_HELLO if complete => {
                if self.client.is_none() {
                    self.client = Some(i);
                }
                if self.is_client(i) {
                    self.client_hello(body);
                }
            }
            SERVER_HELLO if complete => {
                if self.client.is_none() {
                    self.client = Some(1 - i);
                }
                if !self.is_client(i) {
                    self.server_hello(body, keys, out);
                }
            }
            NEW_SESSION_TICKET if !tls13 && complete && body.len() >= 6 => {
                let len = usize::from(u16::from_be_bytes([body[4], body[5]]));
                if let Some(ticket) = body.get(6..6 + len).filter(|t| !t.is_empty()) {
                    let hash: [u8; 32] = Sha256::digest(ticket).into();
                    self.new_ticket = Some(hash);
                    if let Some(m) = &self.master {
                        keys.learn_session(SessionKey::Ticket(hash), m);
                    }
                }
            }
            ENCRYPTED_EXTENSIONS if tls13 && complete => {
                if let Some(alpn) = find_extension(body, 0x0010).and_then(alpn_of) {
                    self.alpn = Some(alpn);
                }
            }
            FINISHED if tls13 && self.halves[i].epoch() == Epoch::Handshake => {
                self.halves[i].switch = Some(Switch::ToApplication);
            }
            KEY_UPDATE if tls13 && self.halves[i].epoch() == Epoch::Application => {
                self.halves[i].switch = Some(Switch::KeyUpdate);
            }
            END_OF_EARLY_DATA if tls13 => self.halves[i].switch = Some(Switch::EndOfEarlyData),
            _ => {}
        }
    }

    fn client_hello(&mut self, body: &[u8]) {
        let mut r = Reader(body);
        let Some((_, random, sid)) = (|| Some((r.take(2)?, r.take(32)?, r.vec8()?)))() else {
            return;
        };
        let p = &mut self.params;
        p.client_random = Some(random.try_into().expect("32 bytes"));
        p.client_session_id = session_id(sid);
        let exts = (|| {
            r.vec16()?;
            r.vec8()?;
            r.vec16()
        })();
        p.client_ticket = None;
        p.client_early_data = false;
        p.client_etm = false;
        for (ty, data) in Extensions(exts.unwrap_or_default()) {
            match ty {
                0x0023 if !data.is_empty() => p.client_ticket = Some(Sha256::digest(data).into()),
                0x002a => p.client_early_data = true,
                0x0016 => p.client_etm = true,
                _ => {}
            }
        }
    }

    fn server_hello(&mut self, body: &[u8], keys: &mut KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        let mut r = Reader(body);
        let Some((legacy, random, sid, suite)) = (|| Some((r.u16()?, r.take(32)?, r.vec8()?, r.u16()?)))() else {
            return;
        };
        let _compression = r.take(1);
        let mut version = legacy;
        let mut etm = false;
        let mut alpn = None;
        for (ty, data) in Extensions(r.vec16().unwrap_or_default()) {
            match ty {
                0x002b if data.len() == 2 => version = u16::from_be_bytes([data[0], data[1]]),
                0x0016 => etm = true,
                0x0010 => alpn = alpn_of(data),
                _ => {}
            }
        }
        let hrr = random == HRR_RANDOM;
        let p = &mut self.params;
        p.server_seen = !hrr;
        p.hrr |= hrr;
        p.server_random = random.try_into().expect("32 bytes");
        p.server_session_id = session_id(sid);
        p.version = version;
        p.suite_id = suite;
        p.etm = etm && p.client_etm;
        self.version = Some(version);
        self.suite_id = Some(suite);
        if alpn.is_some() {
            self.alpn = alpn;
        }
        if version == 0x0304 && !hrr {
            self.start_tls13(keys, out);
        }
        if !hrr {
            self.drain_pending = true;
        }
    }

    /// TLS 1.3 ServerHello: both directions switch to handshake keys.
    fn start_tls13(&mut self, keys: &KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        let c = self.client_index();
        let s = 1 - c;
        let suite = match suites::suite(self.params.suite_id) {
            Some(suite) if suite.tls13 => suite,
            _ => {
                let reason = StopReason::UnsupportedSuite(self.params.suite_id);
                self.stop(c, reason, out);
                self.stop(s, reason, out);
                return;
            }
        };
        let Some(random) = self.params.client_random else {
            self.stop(c, StopReason::MissingClientHello, out);
            self.stop(s, StopReason::MissingClientHello, out);
            return;
        };
        let secrets = keys.get(&random);
        if secrets.is_some() {
            self.key_source = Some(KeySource::ClientRandom);
        }
        for (i, hs_label, app_label) in [
            (c, Label::ClientHandshakeTraffic, Label::ClientTraffic0),
            (s, Label::ServerHandshakeTraffic, Label::ServerTraffic0),
        ] {
            let hs = secrets.and_then(|x| x.get(hs_label));
            let app = secrets.and_then(|x| x.get(app_label));
            let early = secrets
                .and_then(|x| x.get(Label::ClientEarlyTraffic))
                .filter(|_| i == c && self.params.client_early_data);
            let h = &mut self.halves[i];
            h.epoch = Some(Epoch::Handshake);
            h.opened_any = false;
            h.failures = 0;
            h.keys = None;
            h.alt = None;
            let bad = match hs {
                Some(secret) => {
                    h.keys = RecordKeys::tls13(suite, secret.as_bytes());
                    h.keys.is_none()
                }
                None => false,
            };
            if let Some(secret) = early {
                h.alt = RecordKeys::tls13(suite, secret.as_bytes()).map(|k| (k, AltKind::Early));
            } else if hs.is_none()
                && let Some(secret) = app
            {
                h.alt = RecordKeys::tls13(suite, secret.as_bytes()).map(|k| (k, AltKind::Application));
            }
            if bad {
                self.stop(i, StopReason::BadSecret, out);
            } else if h.keys.is_none() && h.alt.is_none() {
                self.stop(i, StopReason::NoKey, out);
            }
        }
    }

    /// After a record: key changes its handshake messages asked for.
    fn apply_switch(&mut self, i: usize, keys: &KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        let Some(switch) = self.halves[i].switch.take() else {
            return;
        };
        let Some(suite) = suites::suite(self.params.suite_id).filter(|s| s.tls13) else {
            return;
        };
        let client = self.is_client(i);
        let h = &mut self.halves[i];
        match switch {
            Switch::EndOfEarlyData => {
                if h.alt.as_ref().is_some_and(|(_, k)| *k == AltKind::Early) {
                    h.alt = None;
                }
            }
            Switch::ToApplication => {
                let label = if client { Label::ClientTraffic0 } else { Label::ServerTraffic0 };
                let secret = self.params.client_random.and_then(|r| keys.secret(&r, label).cloned());
                h.alt = None;
                match secret.as_ref().and_then(|s| RecordKeys::tls13(suite, s.as_bytes())) {
                    Some(k) => {
                        h.keys = Some(k);
                        h.secret = secret;
                        h.epoch = Some(Epoch::Application);
                        h.opened_any = false;
                    }
                    None => {
                        let reason = if secret.is_some() { StopReason::BadSecret } else { StopReason::NoKey };
                        self.stop(i, reason, out);
                    }
                }
            }
            Switch::KeyUpdate => {
                let Some(old) = h.secret.take() else {
                    return;
                };
                let mut next = [0u8; 48];
                let next = &mut next[..suite.prf.output_len()];
                let derived = expand_label(suite.prf, old.as_bytes(), b"traffic upd", next)
                    .and_then(|_| Secret::new(next))
                    .and_then(|s| RecordKeys::tls13(suite, s.as_bytes()).map(|k| (s, k)));
                match derived {
                    Some((s, k)) => {
                        h.keys = Some(k);
                        h.secret = Some(s);
                        h.stats.key_updates += 1;
                        h.opened_any = false;
                    }
                    None => self.stop(i, StopReason::BadSecret, out),
                }
            }
        }
    }

    /// TLS 1.0-1.2: the direction's records are encrypted from now on.
    fn change_cipher_spec(&mut self, i: usize, keys: &mut KeyLog, out: &mut dyn FnMut(Output<'_>)) {
        let p = &self.params;
        if p.version == 0x0304 || (p.hrr && p.version == 0) {
            return;
        }
        if self.halves[i].hs.in_message() {
            self.stop(i, StopReason::Malformed, out);
            return;
        }
        self.first_ccs.get_or_insert(i);
        let Some(client_random) = p.client_random else {
            return self.stop(i, StopReason::MissingClientHello, out);
        };
        if !p.server_seen {
            return self.stop(i, StopReason::MissingServerHello, out);
        }
        if !(0x0301..=0x0303).contains(&p.version) {
            return self.stop(i, StopReason::UnsupportedVersion(p.version), out);
        }
        let Some(suite) = suites::suite(p.suite_id).filter(|s| !s.tls13) else {
            return self.stop(i, StopReason::UnsupportedSuite(p.suite_id), out);
        };
        let Some((master, source)) = self.master_secret(&client_random, keys) else {
            return self.stop(i, StopReason::NoKey, out);
        };
        let p = &self.params;
        let k = RecordKeys::tls12(
            suite,
            p.version,
            master.as_bytes(),
            &client_random,
            &p.server_random,
            self.is_client(i),
            p.etm,
        );
        let Some(k) = k else {
            return self.stop(i, StopReason::UnsupportedSuite(p.suite_id), out);
        };
        if let Some((len, id)) = p.server_session_id {
            keys.learn_session(SessionKey::Id(len, id), &master);
        }
        if let Some(t) = self.new_ticket {
            keys.learn_session(SessionKey::Ticket(t), &master);
        }
        self.key_source = Some(source);
        self.master = Some(master);
        let h = &mut self.halves[i];
        h.keys = Some(k);
        h.alt = None;
        h.epoch = Some(Epoch::Tls12);
        h.opened_any = false;
        h.failures = 0;
    }

    fn master_secret(&self, client_random: &[u8; 32], keys: &KeyLog) -> Option<(Secret, KeySource)> {
        if let Some(m) = keys.secret(client_random, Label::MasterSecret) {
            return Some((m.clone(), KeySource::ClientRandom));
        }
        let p = &self.params;
        // A ticket first: a client resuming by ticket may also send a session id, which the
        // server echoes (RFC 5077 §3.4), but the ticket names the session.
        if let Some(t) = p.client_ticket
            && let Some(m) = keys.session(&SessionKey::Ticket(t))
        {
            return Some((m.clone(), KeySource::SessionTicket));
        }
        let (Some(c), Some(s)) = (p.client_session_id, p.server_session_id) else {
            return None;
        };
        (c == s).then(|| keys.session(&SessionKey::Id(s.0, s.1)))?.map(|m| (m.clone(), KeySource::SessionId))
    }
}

fn session_id(sid: &[u8]) -> Option<(u8, [u8; 32])> {
    if sid.is_empty() || sid.len() > 32 {
        return None;
    }
    let mut id = [0u8; 32];
    id[..sid.len()].copy_from_slice(sid);
    Some((sid.len() as u8, id))
}

fn find_extension(body: &[u8], wanted: u16) -> Option<&[u8]> {
    let mut r = Reader(body);
    let exts = r.vec16()?;
    Extensions(exts).find(|(ty, _)| *ty == wanted).map(|(_, d)| d)
}

/// The first protocol of an ALPN extension body.
fn alpn_of(data: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader(data);
    let mut list = Reader(r.vec16()?);
    list.vec8().filter(|p| !p.is_empty()).map(<[u8]>::to_vec)
}

/// Bounds-checked big-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(*self.take(1)?.first()?);
        self.take(n)
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

/// Iterates `(type, data)` over an extensions block, stopping at the first malformed one.
struct Extensions<'a>(&'a [u8]);

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let mut r = Reader(self.0);
        let ty = r.u16()?;
        let data = r.vec16()?;
        self.0 = r.0;
        Some((ty, data))
    }
}

//! TLS handshakes: reassembling handshake messages from a TCP byte stream, parsing the
//! ClientHello and ServerHello, and the JA3 and JA4 client fingerprints.
//!
//! Only the cleartext start of a connection is looked at: everything up to the first
//! ChangeCipherSpec or application-data record. That is where a device says whom it wants to
//! talk to (SNI, ALPN) and what TLS stack it runs (the fingerprints).

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256};

/// Default cap on buffered handshake bytes per direction. A ClientHello with post-quantum key
/// shares is 2-10 KB and a TLS 1.2 server flight with a long certificate chain rarely passes
/// 20 KB; anything bigger before encryption starts is not worth holding.
pub const DEFAULT_CAP: usize = 64 * 1024;

/// Largest record body accepted: 2^14 plaintext plus the 2048 bytes TLS 1.2 allows for
/// compression/encryption expansion. Anything larger means we are not looking at TLS.
const MAX_RECORD: usize = 16384 + 2048;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

/// Handshake message type of a ClientHello.
pub const CLIENT_HELLO: u8 = 1;
/// Handshake message type of a ServerHello (and of a HelloRetryRequest).
pub const SERVER_HELLO: u8 = 2;

/// Extension types the parsers decode (IANA TLS ExtensionType values).
#[allow(missing_docs)] // The names are the IANA registry's.
pub mod ext {
    pub const SERVER_NAME: u16 = 0x0000;
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub const ALPN: u16 = 0x0010;
    pub const PRE_SHARED_KEY: u16 = 0x0029;
    pub const EARLY_DATA: u16 = 0x002a;
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub const KEY_SHARE: u16 = 0x0033;
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 4.1.3): SHA-256 of
/// "HelloRetryRequest".
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Whether `v` is a GREASE value (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Why a [`HandshakeAssembler`] takes no more bytes, or that it still does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssemblerState {
    /// Still reading cleartext records.
    Reading,
    /// A ChangeCipherSpec or application-data record arrived: what follows is encrypted.
    Encrypted,
    /// The bytes are not TLS records (bad header, SSLv2-compatible hello, STARTTLS preamble).
    NotTls,
    /// A hole in the stream: record boundaries are lost, so nothing after it can be trusted.
    Gap,
    /// More than the cap would have had to be buffered.
    CapHit,
}

/// One complete handshake message, borrowed from the assembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeMessage<'a> {
    /// Handshake type (1 ClientHello, 2 ServerHello, 11 Certificate...).
    pub msg_type: u8,
    /// The message body, without the 4-byte handshake header.
    pub body: &'a [u8],
}

/// Reassembles handshake messages from one direction of a TCP stream.
///
/// Feed stream bytes in order with [`push`](Self::push) (and [`gap`](Self::gap) for holes),
/// then take complete messages with [`next_message`](Self::next_message) until it returns
/// `None`. Messages may span records and records may span pushes; every byte is looked at
/// once, so feeding one byte at a time costs no more than feeding whole segments.
#[derive(Clone, Debug)]
pub struct HandshakeAssembler {
    state: AssemblerState,
    cap: usize,
    /// Record header bytes collected so far (`hdr_len` of 5).
    hdr: [u8; 5],
    hdr_len: usize,
    /// Content type and unread body bytes of the record being read; 0 left = read a header.
    rec_type: u8,
    rec_left: usize,
    /// Handshake-layer bytes (record bodies of type 22, concatenated). `hs[..taken]` has
    /// been handed out already and is dropped on the next call that needs room;
    /// `hs[..complete]` holds whole messages.
    hs: Vec<u8>,
    taken: usize,
    complete: usize,
    records: u64,
    messages: u64,
}

impl Default for HandshakeAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl HandshakeAssembler {
    /// An assembler with the [`DEFAULT_CAP`].
    pub fn new() -> Self {
        Self::with_cap(DEFAULT_CAP)
    }

    /// An assembler that buffers at most `cap` handshake bytes.
    pub fn with_cap(cap: usize) -> Self {
        HandshakeAssembler {
            state: AssemblerState::Reading,
            cap,
            hdr: [0; 5],
            hdr_len: 0,
            rec_type: 0,
            rec_left: 0,
            hs: Vec::new(),
            taken: 0,
            complete: 0,
            records: 0,
            messages: 0,
        }
    }

    /// Why the assembler stopped, or [`AssemblerState::Reading`].
    pub fn state(&self) -> AssemblerState {
        self.state
    }

    /// Whether further bytes are ignored. Messages completed before may still be waiting in
    /// [`next_message`](Self::next_message).
    pub fn is_done(&self) -> bool {
        self.state != AssemblerState::Reading
    }

    /// Whether the cap on buffered bytes was hit.
    pub fn cap_hit(&self) -> bool {
        self.state == AssemblerState::CapHit
    }

    /// Record headers read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Handshake messages handed out so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Handshake bytes held now (handed-out messages included until the next push).
    pub fn buffered(&self) -> usize {
        self.hs.len()
    }

    /// A hole in the stream. Record framing cannot be recovered from the middle of a record,
    /// so the assembler stops; a partial message is dropped.
    pub fn gap(&mut self) {
        if self.state == AssemblerState::Reading {
            self.stop(AssemblerState::Gap);
        }
    }

    /// The next `bytes` of the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.state == AssemblerState::Reading {
            if self.rec_left == 0 {
                let n = (5 - self.hdr_len).min(bytes.len());
                self.hdr[self.hdr_len..self.hdr_len + n].copy_from_slice(&bytes[..n]);
                self.hdr_len += n;
                bytes = &bytes[n..];
                if self.hdr_len == 5 {
                    self.hdr_len = 0;
                    self.record_header();
                }
            } else {
                let n = self.rec_left.min(bytes.len());
                self.rec_left -= n;
                let (body, rest) = bytes.split_at(n);
                bytes = rest;
                // Last: hitting the cap stops the assembler and resets the record state.
                if self.rec_type == CT_HANDSHAKE {
                    self.append(body);
                }
            }
        }
    }

    fn record_header(&mut self) {
        let [ct, major, minor, hi, lo] = self.hdr;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        // Version 3.0-3.4 in the record layer; TLS 1.3 freezes it at 3.1/3.3. SSLv2-style
        // hellos (high bit set in the first byte) fail here on purpose.
        let plausible = (CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct) && major == 3 && minor <= 4;
        if !plausible || len > MAX_RECORD || (self.records == 0 && ct != CT_HANDSHAKE) {
            // A stream that does not open with a handshake record is not a TLS client or
            // server start (or we joined late); guessing would produce junk hellos.
            self.stop(AssemblerState::NotTls);
            return;
        }
        self.records += 1;
        match ct {
            CT_CHANGE_CIPHER_SPEC | CT_APPLICATION_DATA => self.stop(AssemblerState::Encrypted),
            CT_HANDSHAKE | CT_ALERT | CT_HEARTBEAT => {
                self.rec_type = ct;
                self.rec_left = len;
            }
            _ => unreachable!("content type checked above"),
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        self.compact();
        if self.hs.len() + bytes.len() > self.cap {
            self.stop(AssemblerState::CapHit);
            return;
        }
        self.hs.extend_from_slice(bytes);
        // Walk the message headers that just became readable. Each header is looked at once
        // (when the message completes or its declared length is checked), so trickling bytes
        // in costs nothing extra, and the outcome does not depend on how the stream was cut.
        while self.hs.len() >= self.complete + 4 {
            let h = &self.hs[self.complete..];
            let len = 4 + (usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]));
            if len > self.cap {
                // Would never fit: flag now rather than after buffering up to the cap.
                self.stop(AssemblerState::CapHit);
                return;
            }
            if h.len() < len {
                break;
            }
            self.complete += len;
        }
    }

    /// Drops handed-out messages. Done lazily so that a returned message can borrow `hs`.
    fn compact(&mut self) {
        if self.taken > 0 {
            self.hs.drain(..self.taken);
            self.complete -= self.taken;
            self.taken = 0;
        }
    }

    /// Stops reading. Complete messages stay available; a partial one can never complete.
    fn stop(&mut self, why: AssemblerState) {
        self.state = why;
        self.rec_left = 0;
        self.hdr_len = 0;
        self.hs.truncate(self.complete);
        if self.hs.is_empty() {
            self.hs = Vec::new();
        }
    }

    /// The next complete handshake message, if one is buffered.
    pub fn next_message(&mut self) -> Option<HandshakeMessage<'_>> {
        self.compact();
        if self.complete == 0 {
            if self.is_done() {
                // Release the allocation: nothing more will arrive.
                self.hs = Vec::new();
            }
            return None;
        }
        let len = usize::from(self.hs[1]) << 16 | usize::from(self.hs[2]) << 8 | usize::from(self.hs[3]);
        self.taken = 4 + len;
        self.messages += 1;
        Some(HandshakeMessage { msg_type: self.hs[0], body: &self.hs[4..4 + len] })
    }
}

/// Why a hello could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The body ends inside the named field.
    Truncated(&'static str),
    /// The named field has an impossible value (odd length of a u16 list...).
    Invalid(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(what) => write!(f, "TLS hello truncated in {what}"),
            Error::Invalid(what) => write!(f, "TLS hello has an invalid {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// One extension: its type and raw data, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Extension type; GREASE and unknown values included.
    pub ext_type: u16,
    /// The extension's data, without its type and length.
    pub data: Vec<u8>,
}

/// A parsed ClientHello. Values stay integers (unknown and GREASE ones included) so that
/// fingerprints and reports see exactly what the client sent.
///
/// The decoded extension fields come from the first extension of each type; one that is
/// malformed leaves its field empty rather than failing the whole hello, because the
/// fingerprints only need the extension list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// Legacy session id (TLS 1.3 clients send 32 random bytes for middlebox compatibility).
    pub session_id: Vec<u8>,
    /// Cipher suites in the client's order.
    pub cipher_suites: Vec<u16>,
    /// Compression methods (0 = null).
    pub compression_methods: Vec<u8>,
    /// All extensions in wire order.
    pub extensions: Vec<Extension>,
    /// The extension block overran the body, or an extension the block: `extensions` holds
    /// those before the damage.
    pub extensions_truncated: bool,
    /// The first host_name of server_name. Bytes, because nothing forces it to be UTF-8.
    pub server_name: Option<Vec<u8>>,
    /// ALPN protocol names in the client's order.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions (TLS 1.3 clients put their real versions here).
    pub supported_versions: Vec<u16>,
    /// supported_groups (named curves, finite-field and hybrid post-quantum groups).
    pub supported_groups: Vec<u16>,
    /// ec_point_formats.
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms in the client's order.
    pub signature_algorithms: Vec<u16>,
    /// Groups the client sent key shares for.
    pub key_share_groups: Vec<u16>,
    /// encrypted_client_hello (0xfe0d) present: the real SNI is hidden, `server_name` is the
    /// public (outer) name.
    pub ech: bool,
    /// pre_shared_key present (session resumption).
    pub pre_shared_key: bool,
    /// early_data present (0-RTT data follows).
    pub early_data: bool,
}

impl ClientHello {
    /// The SNI host name as text, if present and UTF-8.
    pub fn server_name_str(&self) -> Option<&str> {
        self.server_name.as_deref().and_then(|n| std::str::from_utf8(n).ok())
    }

    /// Whether an extension of this type is present.
    pub fn has_extension(&self, ext_type: u16) -> bool {
        self.extensions.iter().any(|e| e.ext_type == ext_type)
    }
}

/// A parsed ServerHello (or HelloRetryRequest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version` (0x0303 in TLS 1.3, which negotiates in supported_versions).
    pub legacy_version: u16,
    /// Server random ([`HELLO_RETRY_REQUEST_RANDOM`] in a HelloRetryRequest).
    pub random: [u8; 32],
    /// Echo of the client's session id (or the id of a resumed TLS 1.2 session).
    pub session_id: Vec<u8>,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// The chosen compression method.
    pub compression_method: u8,
    /// All extensions in wire order.
    pub extensions: Vec<Extension>,
    /// As [`ClientHello::extensions_truncated`].
    pub extensions_truncated: bool,
    /// The negotiated version: supported_versions if present (TLS 1.3), else `legacy_version`.
    pub version: u16,
    /// The random is the HelloRetryRequest marker: the server asks for a second ClientHello.
    pub hello_retry_request: bool,
    /// The ALPN protocol the server picked.
    pub alpn: Option<Vec<u8>>,
    /// The group of the server's key share (or the group a HelloRetryRequest asks for).
    pub key_share_group: Option<u16>,
}

/// A cursor over a body that fails with the name of the field it ran out in.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        if self.buf.len() < n {
            return Err(Error::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a `len_bytes`-byte length prefix.
    fn vec(&mut self, len_bytes: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let len = self.take(len_bytes, what)?.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        self.take(len, what)
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

fn u16_list(b: &[u8], what: &'static str) -> Result<Vec<u16>, Error> {
    if !b.len().is_multiple_of(2) {
        return Err(Error::Invalid(what));
    }
    Ok(b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect())
}

/// The extension block, in wire order, and whether it was cut short. Parsing stops at the
/// first extension that overruns the block (or the block the body), keeping the ones before
/// it: clients and middleboxes do send such hellos, and tshark and nDPI read them the same way.
fn extensions(r: &mut Reader<'_>) -> (Vec<Extension>, bool) {
    // Hellos from before extensions existed end after the compression methods.
    if r.is_empty() {
        return (Vec::new(), false);
    }
    let (block, truncated) = match r.buf {
        [hi, lo, rest @ ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            (&rest[..len.min(rest.len())], len > rest.len())
        }
        _ => return (Vec::new(), true),
    };
    let mut block = Reader { buf: block };
    let mut out = Vec::new();
    while !block.is_empty() {
        let (Ok(ext_type), Ok(data)) = (block.u16("extension type"), block.vec(2, "extension data")) else {
            return (out, true);
        };
        out.push(Extension { ext_type, data: data.to_vec() });
    }
    (out, truncated)
}

/// Parses a ClientHello body (the handshake message without its 4-byte header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, Error> {
    let mut r = Reader { buf: body };
    let mut ch = ClientHello { legacy_version: r.u16("version")?, ..ClientHello::default() };
    ch.random.copy_from_slice(r.take(32, "random")?);
    ch.session_id = r.vec(1, "session id")?.to_vec();
    ch.cipher_suites = u16_list(r.vec(2, "cipher suites")?, "cipher suites")?;
    ch.compression_methods = r.vec(1, "compression methods")?.to_vec();
    (ch.extensions, ch.extensions_truncated) = extensions(&mut r);

    let mut seen: Vec<u16> = Vec::with_capacity(ch.extensions.len());
    for e in &ch.extensions {
        match e.ext_type {
            ext::ENCRYPTED_CLIENT_HELLO => ch.ech = true,
            ext::PRE_SHARED_KEY => ch.pre_shared_key = true,
            ext::EARLY_DATA => ch.early_data = true,
            _ => {}
        }
        if seen.contains(&e.ext_type) {
            continue;
        }
        seen.push(e.ext_type);
        let d = &e.data[..];
        // Malformed contents leave the field at its default (see the type's docs).
        match e.ext_type {
            ext::SERVER_NAME => ch.server_name = sni(d),
            ext::ALPN => ch.alpn = alpn_list(d).unwrap_or_default(),
            ext::SUPPORTED_VERSIONS => {
                ch.supported_versions = Reader { buf: d }
                    .vec(1, "supported_versions")
                    .and_then(|l| u16_list(l, "supported_versions"))
                    .unwrap_or_default()
            }
            ext::SUPPORTED_GROUPS => ch.supported_groups = u16_vec(d, "supported_groups"),
            ext::SIGNATURE_ALGORITHMS => ch.signature_algorithms = u16_vec(d, "signature_algorithms"),
            ext::EC_POINT_FORMATS => {
                ch.ec_point_formats = Reader { buf: d }.vec(1, "ec_point_formats").unwrap_or_default().to_vec()
            }
            ext::KEY_SHARE => ch.key_share_groups = key_share_groups(d).unwrap_or_default(),
            _ => {}
        }
    }
    Ok(ch)
}

/// A u16 list with a 2-byte length prefix, empty if malformed.
fn u16_vec(d: &[u8], what: &'static str) -> Vec<u16> {
    Reader { buf: d }.vec(2, what).and_then(|l| u16_list(l, what)).unwrap_or_default()
}

fn sni(d: &[u8]) -> Option<Vec<u8>> {
    let mut list = Reader { buf: Reader { buf: d }.vec(2, "server_name").ok()? };
    while !list.is_empty() {
        let name_type = list.u8("server_name").ok()?;
        let name = list.vec(2, "server_name").ok()?;
        if name_type == 0 {
            return Some(name.to_vec());
        }
    }
    None
}

fn alpn_list(d: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut list = Reader { buf: Reader { buf: d }.vec(2, "alpn")? };
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(list.vec(1, "alpn")?.to_vec());
    }
    Ok(out)
}

fn key_share_groups(d: &[u8]) -> Result<Vec<u16>, Error> {
    let mut list = Reader { buf: Reader { buf: d }.vec(2, "key_share")? };
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(list.u16("key_share")?);
        list.vec(2, "key_share")?;
    }
    Ok(out)
}

/// Parses a ServerHello body (the handshake message without its 4-byte header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, Error> {
    let mut r = Reader { buf: body };
    let mut sh = ServerHello { legacy_version: r.u16("version")?, ..ServerHello::default() };
    sh.random.copy_from_slice(r.take(32, "random")?);
    sh.session_id = r.vec(1, "session id")?.to_vec();
    sh.cipher_suite = r.u16("cipher suite")?;
    sh.compression_method = r.u8("compression method")?;
    (sh.extensions, sh.extensions_truncated) = extensions(&mut r);
    sh.hello_retry_request = sh.random == HELLO_RETRY_REQUEST_RANDOM;
    sh.version = sh.legacy_version;
    for e in &sh.extensions {
        let d = &e.data[..];
        match e.ext_type {
            ext::SUPPORTED_VERSIONS if d.len() == 2 => sh.version = u16::from_be_bytes([d[0], d[1]]),
            ext::ALPN if sh.alpn.is_none() => sh.alpn = alpn_list(d).ok().and_then(|l| l.into_iter().next()),
            // A ServerHello key share is group + key; a HelloRetryRequest's is the group alone.
            ext::KEY_SHARE if d.len() >= 2 && sh.key_share_group.is_none() => {
                sh.key_share_group = Some(u16::from_be_bytes([d[0], d[1]]))
            }
            _ => {}
        }
    }
    Ok(sh)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex, without `fmt`: fingerprints are computed for every handshake.
fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
}

fn dash_joined<T: fmt::Display>(values: impl Iterator<Item = T>) -> String {
    use fmt::Write;
    let mut s = String::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{v}");
    }
    s
}

/// The JA3 string and its MD5 (lower-case hex), per Salesforce's JA3: legacy version,
/// ciphers, extension types, supported groups and EC point formats in wire order, decimal,
/// GREASE values left out of the first four.
pub fn ja3(ch: &ClientHello) -> (String, String) {
    let no_grease = |v: &&u16| !is_grease(**v);
    let s = format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        dash_joined(ch.cipher_suites.iter().filter(no_grease)),
        dash_joined(ch.extensions.iter().map(|e| e.ext_type).filter(|t| !is_grease(*t))),
        dash_joined(ch.supported_groups.iter().filter(no_grease)),
        dash_joined(ch.ec_point_formats.iter()),
    );
    let md5 = hex(&Md5::digest(s.as_bytes()));
    (s, md5)
}

/// Transport a ClientHello came over, the first character of JA4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP ("t").
    Tcp,
    /// QUIC's CRYPTO frames ("q").
    Quic,
}

/// The first 12 hex digits of SHA-256 of `s`, or twelve zeros for an empty list (the JA4
/// spec's marker for "no values", rather than the hash of nothing).
fn ja4_hash(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 | 0x0200 => "s2",
        0x0100 => "s1",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's ALPN part: first and last character of the first ALPN value, "00" if none; if
/// either end byte is not ASCII alphanumeric, the first and last hex digit of the value.
fn ja4_alpn(ch: &ClientHello) -> String {
    let Some(first) = ch.alpn.first().filter(|a| !a.is_empty()) else {
        return "00".to_string();
    };
    let (a, z) = (first[0], first[first.len() - 1]);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        [char::from(a), char::from(z)].iter().collect()
    } else {
        let h = hex(&[a, z]);
        [h.as_bytes()[0] as char, h.as_bytes()[3] as char].iter().collect()
    }
}

fn comma_hex(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_hex(&mut s, &v.to_be_bytes());
    }
    s
}

/// The JA4 TLS client fingerprint per FoxIO's specification, e.g.
/// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello, transport: Transport) -> String {
    let proto = match transport {
        Transport::Tcp => 't',
        Transport::Quic => 'q',
    };
    let version = ch.supported_versions.iter().copied().filter(|v| !is_grease(*v)).max().unwrap_or(ch.legacy_version);
    let sni = if ch.has_extension(ext::SERVER_NAME) { 'd' } else { 'i' };

    let mut ciphers: Vec<u16> = ch.cipher_suites.iter().copied().filter(|c| !is_grease(*c)).collect();
    let exts: Vec<u16> = ch.extensions.iter().map(|e| e.ext_type).filter(|t| !is_grease(*t)).collect();
    let (n_ciphers, n_exts) = (ciphers.len().min(99), exts.len().min(99));
    ciphers.sort_unstable();
    let mut hashed_exts: Vec<u16> = exts.into_iter().filter(|&t| t != ext::SERVER_NAME && t != ext::ALPN).collect();
    hashed_exts.sort_unstable();
    let sigalgs: Vec<u16> = ch.signature_algorithms.iter().copied().filter(|s| !is_grease(*s)).collect();

    let ext_hash = if hashed_exts.is_empty() {
        ja4_hash("")
    } else if sigalgs.is_empty() {
        ja4_hash(&comma_hex(&hashed_exts))
    } else {
        ja4_hash(&format!("{}_{}", comma_hex(&hashed_exts), comma_hex(&sigalgs)))
    };
    format!(
        "{proto}{}{sni}{n_ciphers:02}{n_exts:02}{}_{}_{ext_hash}",
        ja4_version(version),
        ja4_alpn(ch),
        ja4_hash(&comma_hex(&ciphers)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `v` with a `len_bytes` length prefix.
    fn vec_with_len(out: &mut Vec<u8>, len_bytes: usize, v: &[u8]) {
        let len = v.len().to_be_bytes();
        out.extend_from_slice(&len[len.len() - len_bytes..]);
        out.extend_from_slice(v);
    }

    fn u16s(v: &[u16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    fn ext_bytes(t: u16, data: &[u8]) -> Vec<u8> {
        let mut e = t.to_be_bytes().to_vec();
        vec_with_len(&mut e, 2, data);
        e
    }

    /// A Chrome-like hello with GREASE, SNI, ALPN, and a key share of `share_len` bytes.
    fn chrome_hello(share_len: usize) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&[7; 32]);
        vec_with_len(&mut b, 1, &[9; 32]);
        let ciphers = [
            0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
            0x009d, 0x002f, 0x0035,
        ];
        vec_with_len(&mut b, 2, &u16s(&ciphers));
        vec_with_len(&mut b, 1, &[0]);
        let mut exts = Vec::new();
        exts.extend(ext_bytes(0x3a3a, &[]));
        let mut sni = vec![0];
        vec_with_len(&mut sni, 2, b"example.com");
        let mut sni_list = Vec::new();
        vec_with_len(&mut sni_list, 2, &sni);
        exts.extend(ext_bytes(0x0000, &sni_list));
        exts.extend(ext_bytes(0x0017, &[]));
        exts.extend(ext_bytes(0xff01, &[0]));
        let mut groups = Vec::new();
        vec_with_len(&mut groups, 2, &u16s(&[0x4a4a, 0x11ec, 0x001d, 0x0017, 0x0018]));
        exts.extend(ext_bytes(0x000a, &groups));
        exts.extend(ext_bytes(0x000b, &[1, 0]));
        exts.extend(ext_bytes(0x0023, &[]));
        let mut alpn = Vec::new();
        let mut names = Vec::new();
        vec_with_len(&mut names, 1, b"h2");
        vec_with_len(&mut names, 1, b"http/1.1");
        vec_with_len(&mut alpn, 2, &names);
        exts.extend(ext_bytes(0x0010, &alpn));
        exts.extend(ext_bytes(0x0005, &[1, 0, 0, 0, 0]));
        let mut sig = Vec::new();
        vec_with_len(&mut sig, 2, &u16s(&[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]));
        exts.extend(ext_bytes(0x000d, &sig));
        exts.extend(ext_bytes(0x0012, &[]));
        let mut shares = Vec::new();
        shares.extend(u16s(&[0x4a4a]));
        vec_with_len(&mut shares, 2, &[0]);
        shares.extend(u16s(&[0x11ec]));
        vec_with_len(&mut shares, 2, &vec![0x55; share_len]);
        let mut ks = Vec::new();
        vec_with_len(&mut ks, 2, &shares);
        exts.extend(ext_bytes(0x0033, &ks));
        exts.extend(ext_bytes(0x002d, &[1, 1]));
        let mut sv = Vec::new();
        vec_with_len(&mut sv, 1, &u16s(&[0x5a5a, 0x0304, 0x0303]));
        exts.extend(ext_bytes(0x002b, &sv));
        exts.extend(ext_bytes(0x001b, &[2, 0, 2]));
        exts.extend(ext_bytes(0x4469, &[0, 3, 2, b'h', b'2']));
        exts.extend(ext_bytes(0x6a6a, &[0]));
        exts.extend(ext_bytes(0x0015, &[0; 10]));
        vec_with_len(&mut b, 2, &exts);
        b
    }

    fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![msg_type];
        vec_with_len(&mut m, 3, body);
        m
    }

    /// `payload` split into records of type `ct` of at most `max` bytes.
    fn records(ct: u8, payload: &[u8], max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for c in payload.chunks(max) {
            out.extend_from_slice(&[ct, 3, 1]);
            vec_with_len(&mut out, 2, c);
        }
        out
    }

    fn collect(a: &mut HandshakeAssembler, out: &mut Vec<(u8, Vec<u8>)>) {
        while let Some(m) = a.next_message() {
            out.push((m.msg_type, m.body.to_vec()));
        }
    }

    fn feed_in_chunks(stream: &[u8], chunk: usize) -> (Vec<(u8, Vec<u8>)>, HandshakeAssembler) {
        let mut a = HandshakeAssembler::new();
        let mut out = Vec::new();
        for c in stream.chunks(chunk) {
            a.push(c);
            collect(&mut a, &mut out);
        }
        (out, a)
    }

    #[test]
    fn parses_chrome_like_hello() {
        let ch = parse_client_hello(&chrome_hello(1216)).unwrap();
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.session_id.len(), 32);
        assert_eq!(ch.cipher_suites[0], 0x2a2a, "GREASE stays in the parsed list");
        assert_eq!(ch.server_name.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.supported_versions, vec![0x5a5a, 0x0304, 0x0303]);
        assert_eq!(ch.supported_groups, vec![0x4a4a, 0x11ec, 0x001d, 0x0017, 0x0018]);
        assert_eq!(ch.key_share_groups, vec![0x4a4a, 0x11ec]);
        assert_eq!(ch.ec_point_formats, vec![0]);
        assert_eq!(ch.signature_algorithms.len(), 8);
        assert!(!ch.ech && !ch.pre_shared_key && !ch.early_data);
        assert_eq!(ch.extensions.first().map(|e| e.ext_type), Some(0x3a3a));
    }

    #[test]
    fn ja4_matches_the_spec_example() {
        // The spec's example hello: 15 ciphers, 16 extensions (with padding 0x0015 and ALPS
        // 0x4469), h2, and the documented hashes for these cipher and extension lists.
        let mut ch = parse_client_hello(&chrome_hello(32)).unwrap();
        assert_eq!(ja4(&ch, Transport::Tcp), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(&ja4(&ch, Transport::Quic)[..1], "q");
        // Without signature algorithms the extension list is hashed alone (spec: 6d807ffa2a79).
        ch.signature_algorithms.clear();
        assert!(ja4(&ch, Transport::Tcp).ends_with("_6d807ffa2a79"));
    }

    #[test]
    fn ja3_drops_grease() {
        let ch = parse_client_hello(&chrome_hello(32)).unwrap();
        let (s, md5) = ja3(&ch);
        assert!(s.starts_with("771,4865-4866-4867-49195-"), "{s}");
        assert!(s.contains(",0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,"), "{s}");
        assert!(s.ends_with(",4588-29-23-24,0"), "{s}");
        assert_eq!(md5.len(), 32);
        assert_eq!(hex(&Md5::digest(s.as_bytes())), md5);
    }

    #[test]
    fn ja4_edge_cases() {
        let mut ch = ClientHello { legacy_version: 0x0301, ..ClientHello::default() };
        assert_eq!(ja4(&ch, Transport::Tcp), "t10i000000_000000000000_000000000000");
        ch.alpn = vec![vec![0xab, 0xcd]];
        assert_eq!(ja4_alpn(&ch), "ad");
        ch.alpn = vec![vec![0x30, 0xab]];
        assert_eq!(ja4_alpn(&ch), "3b");
        ch.alpn = vec![vec![0x30, 0xab, 0xcd, 0x31]];
        assert_eq!(ja4_alpn(&ch), "01");
        ch.alpn = vec![vec![0xab]];
        assert_eq!(ja4_alpn(&ch), "ab");
        ch.alpn = vec![b"h".to_vec()];
        assert_eq!(ja4_alpn(&ch), "hh");
        ch.alpn = vec![Vec::new(), b"h2".to_vec()];
        assert_eq!(ja4_alpn(&ch), "00");
        // Unknown highest version, and counts capped at 99.
        ch.supported_versions = vec![0x0304, 0x7f1c];
        ch.cipher_suites = (1..=120).collect();
        assert!(ja4(&ch, Transport::Tcp).starts_with("t00i9900"));
    }

    #[test]
    fn one_hello_in_several_records_and_any_chunking() {
        let hello = chrome_hello(1216 + 8000);
        let mut stream = records(22, &message(1, &hello), 1000);
        stream.extend(records(20, &[1], 10));
        stream.extend(records(23, &[0xee; 50], 100));
        for chunk in [1, 2, 3, 4, 5, 6, 7, 999, 1000, 1005, 4096, stream.len()] {
            let (out, a) = feed_in_chunks(&stream, chunk);
            assert_eq!(out, vec![(1, hello.clone())], "chunk {chunk}");
            assert_eq!(a.state(), AssemblerState::Encrypted);
            assert_eq!(a.buffered(), 0, "released after the end");
        }
    }

    #[test]
    fn several_messages_in_one_record_and_header_split_across_records() {
        let sh = {
            let mut b = vec![3, 3];
            b.extend_from_slice(&HELLO_RETRY_REQUEST_RANDOM);
            vec_with_len(&mut b, 1, &[]);
            b.extend_from_slice(&[0x13, 0x01, 0]);
            let mut exts = ext_bytes(0x002b, &[3, 4]);
            exts.extend(ext_bytes(0x0033, &[0x11, 0xec]));
            vec_with_len(&mut b, 2, &exts);
            b
        };
        let mut hs = message(2, &sh);
        hs.extend(message(11, &[1, 2, 3]));
        hs.extend(message(14, &[]));
        // 3-byte records: every handshake header is split across records.
        let mut stream = records(22, &hs, 3);
        // An alert between handshake records is skipped.
        stream.splice(16..16, records(21, &[1, 0], 2));
        let (out, a) = feed_in_chunks(&stream, 2);
        assert_eq!(out, vec![(2, sh.clone()), (11, vec![1, 2, 3]), (14, vec![])]);
        assert_eq!(a.state(), AssemblerState::Reading);
        let s = parse_server_hello(&out[0].1).unwrap();
        assert!(s.hello_retry_request);
        assert_eq!(
            (s.version, s.legacy_version, s.cipher_suite, s.key_share_group),
            (0x0304, 0x0303, 0x1301, Some(0x11ec))
        );
    }

    #[test]
    fn cap_and_gap_stop_the_assembler() {
        let hello = chrome_hello(3000);
        let stream = records(22, &message(1, &hello), 1000);
        let mut a = HandshakeAssembler::with_cap(2000);
        a.push(&stream);
        assert!(a.next_message().is_none());
        assert!(a.cap_hit());
        assert!(a.buffered() <= 2000);

        // A declared length above the cap is flagged at once.
        let mut a = HandshakeAssembler::with_cap(2000);
        a.push(&stream[..20]);
        assert!(a.next_message().is_none());
        assert!(a.cap_hit());
        assert_eq!(a.buffered(), 0);

        let mut a = HandshakeAssembler::new();
        a.push(&stream[..1500]);
        a.gap();
        a.push(&stream[1500..]);
        assert!(a.next_message().is_none());
        assert_eq!(a.state(), AssemblerState::Gap);
        assert_eq!(a.buffered(), 0);
    }

    #[test]
    fn garbage_is_not_tls() {
        for junk in
            [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0x80, 0x2e, 0x01, 0x03, 0x01], &[0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5]]
        {
            let mut a = HandshakeAssembler::new();
            a.push(junk);
            assert_eq!(a.state(), AssemblerState::NotTls, "{junk:?}");
            assert!(a.next_message().is_none());
        }
        // Oversized record.
        let mut a = HandshakeAssembler::new();
        a.push(&[22, 3, 1, 0xff, 0xff]);
        assert_eq!(a.state(), AssemblerState::NotTls);
    }

    #[test]
    fn truncated_hellos_fail_cleanly() {
        let hello = chrome_hello(64);
        for n in 0..hello.len() {
            // Any prefix either fails or (cut at an extension boundary) parses.
            let _ = parse_client_hello(&hello[..n]);
            let _ = parse_server_hello(&hello[..n]);
        }
        assert_eq!(parse_client_hello(&hello[..30]), Err(Error::Truncated("random")));
        // Cut inside the last extension: the ones before it survive, flagged.
        let full = parse_client_hello(&hello).unwrap();
        assert!(!full.extensions_truncated);
        let cut = parse_client_hello(&hello[..hello.len() - 3]).unwrap();
        assert!(cut.extensions_truncated);
        assert_eq!(cut.extensions[..], full.extensions[..full.extensions.len() - 1]);
        assert_eq!(cut.server_name, full.server_name);
        // No extensions block at all is an old but valid hello.
        let mut old = vec![3, 0];
        old.extend_from_slice(&[0; 32]);
        old.extend_from_slice(&[0, 0, 2, 0, 0x0a, 1, 0]);
        let ch = parse_client_hello(&old).unwrap();
        assert_eq!((ch.cipher_suites.as_slice(), ch.extensions.len()), (&[0x000a][..], 0));
        assert_eq!(ja3(&ch).0, "768,10,,,");
        // Odd cipher list length.
        let mut odd = vec![3, 3];
        odd.extend_from_slice(&[0; 32]);
        odd.extend_from_slice(&[0, 0, 3, 0, 0x0a, 1, 1, 0]);
        assert_eq!(parse_client_hello(&odd), Err(Error::Invalid("cipher suites")));
    }

    #[test]
    fn grease_detection() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && is_grease(0x5a5a));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301) && !is_grease(0x0000));
    }
}

//! QUIC Initial packets: decryption and the ClientHello they carry.
//!
//! A QUIC client opens with its TLS ClientHello in CRYPTO frames of Initial packets. Those are
//! encrypted, but with keys anyone can derive from the packet itself (RFC 9001 §5.2: HKDF over
//! the Destination Connection ID of the client's first Initial, with a salt fixed per version),
//! so a passive observer reads the hello: SNI, ALPN, and the JA4 fingerprint. Google QUIC
//! before Q050 sends its own handshake message (CHLO) in the clear.
//!
//! [`QuicConnection`] is one UDP flow's state. Feed it the client's datagrams; it returns the
//! hello once, when it completes, and then ignores the flow.
//!
//! Versions read (see [`version_name`] for the names):
//!
//! | version | wire value | how |
//! |---|---|---|
//! | 1, draft-33, draft-34 | `0x00000001`, `0xff000021..22` | RFC 9001 salt and labels |
//! | 2 | `0x6b3343cf` | RFC 9369 salt, `quicv2` labels, packet types rotated (Initial = 0b01) |
//! | draft-29..32 | `0xff00001d..20` | draft-29 salt |
//! | draft-23..28, mvfst-27, mvfst-exp | `0xff000017..1c`, `0xfaceb002`, `0xfaceb00e` | draft-23 salt |
//! | draft-22, mvfst-22 | `0xff000016`, `0xfaceb001` | draft-22 salt |
//! | forcing negotiation | `0x?a?a?a?a` | draft-29 salt, then v1 (the real one is unknowable; tshark guesses draft-29) |
//! | T050, T051 | `T050`, `T051` | Google's salts, Google frame types, TLS ClientHello |
//! | Q050 | `Q050` | Google's salt, Google frame types, CHLO inside |
//! | Q044..Q049 | `Q046`... | long header with nibble-coded CID lengths, CHLO in the clear (tested on Q046) |
//! | Q024..Q043 | `Q043`... | public header, CHLO in the clear (fields little-endian before Q039) |
//!
//! Drafts up to 21 (another long header layout) and other versions are not read; their packets
//! end the datagram's parse. Only what a passive reader needs is done: the packet number is
//! taken as sent (Initial packets start at 0, so the truncated value is the full one), Retry
//! integrity tags are not checked, and nothing is decrypted beyond the client's Initials.
//!
//! Hostile input: every length is checked against the datagram; the only buffers are the
//! decryption buffer (one packet) and the CRYPTO reassembler (capped at [`CRYPTO_CAP`] bytes,
//! or [`QuicConnection::with_crypto_cap`]'s, and [`MAX_PIECES`] out-of-order pieces); at most [`MAX_KEYS`] key sets are derived per
//! connection; a connection that makes no progress for 64 client datagrams stops looking.

use std::ops::Range;

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::{AeadInOut, Aes128Gcm};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::tls::{self, ClientHello, Transport};

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;

const Q050: u32 = u32::from_be_bytes(*b"Q050");
const T050: u32 = u32::from_be_bytes(*b"T050");
const T051: u32 = u32::from_be_bytes(*b"T051");

/// Default cap on CRYPTO bytes held per connection. A ClientHello with post-quantum key shares is
/// 2-10 KB; TLS allows 16 MB, which no client sends.
pub const CRYPTO_CAP: usize = 64 * 1024;
/// Out-of-order CRYPTO pieces held at once. Chrome cuts its hello into a dozen or so frames
/// and shuffles them; a hundred tiny pieces is an attack, not a client.
pub const MAX_PIECES: usize = 64;
/// Key sets derived per connection: the first DCID and the packet's own one, times two salts
/// for versions whose salt must be guessed.
pub const MAX_KEYS: usize = 4;
/// Client datagrams in a row that bring nothing (no Initial decrypted, no CHLO) before the
/// connection stops looking: by then the handshake is over or was never captured.
const MAX_IDLE_DATAGRAMS: u32 = 64;
/// Longest connection ID of the versions read (RFC 9000 §17.2).
const MAX_CID: usize = 20;

/// What a client's first flight said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicHello {
    /// The version of the packet that completed the hello (wire value; see [`version_name`]).
    pub version: u32,
    /// The TLS ClientHello; empty ([`Default`]) for Google QUIC's CHLO.
    pub client_hello: ClientHello,
    /// JA4 of the ClientHello (`q` prefix); empty for Google QUIC's CHLO, which is not TLS.
    pub ja4: String,
    /// Server name: the ClientHello's SNI, or the CHLO's `SNI` tag.
    pub sni: Option<Vec<u8>>,
    /// The CHLO's `UAID` tag (Chrome's user agent); TLS hellos have none.
    pub user_agent: Option<Vec<u8>>,
    /// The hello is a Google QUIC CHLO (Q024..Q050), not a TLS ClientHello.
    pub gquic: bool,
}

/// Oddities seen on a connection. None stops the parse except where said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Client Initial packets that no candidate key authenticated (corrupt, truncated by the
    /// snap length, or keyed from a connection ID we did not see).
    pub decrypt_failures: u32,
    /// Long-header packets whose header or Length overran the datagram; the rest of the
    /// datagram was skipped.
    pub malformed_packets: u32,
    /// Long-header packets of versions not read here; the rest of the datagram was skipped.
    pub unknown_versions: u32,
    /// Frames of a type not expected in an Initial, or cut short; the rest of that packet was
    /// skipped.
    pub bad_frames: u32,
    /// CONNECTION_CLOSE frames from the client in Initial packets.
    pub connection_closes: u32,
    /// The CRYPTO stream restarted under a new connection ID (after a Retry, or a new
    /// connection on the same ports).
    pub crypto_restarts: u32,
    /// CRYPTO data beyond the cap ([`CRYPTO_CAP`]) or [`MAX_PIECES`] was dropped. When the hello itself
    /// is larger than the cap, the connection stops.
    pub crypto_cap_hit: bool,
    /// A key set was needed beyond [`MAX_KEYS`].
    pub key_limit_hit: bool,
    /// The CRYPTO stream did not start with a ClientHello, or it did not parse; stopped.
    pub bad_client_hello: bool,
    /// 64 client datagrams in a row brought nothing new; stopped.
    pub stalled: bool,
}

/// One QUIC flow's Initial-packet state (the engine boxes one per flow).
#[derive(Default)]
pub struct QuicConnection {
    done: bool,
    /// DCID of the first client Initial: what the client derives its keys from until a Retry.
    first_dcid: Option<ConnId>,
    keys: Vec<Keys>,
    /// The key set that last authenticated a packet, tried first.
    last_ok: Option<usize>,
    crypto: CryptoStream,
    /// The key set whose packets feed `crypto`.
    crypto_key: Option<usize>,
    /// Decryption buffer: one packet, reused.
    buf: Vec<u8>,
    idle: u32,
    progress: bool,
    client_version: Option<u32>,
    server_version: Option<u32>,
    version_negotiation: bool,
    retry: bool,
    anomalies: Anomalies,
}

impl std::fmt::Debug for QuicConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicConnection")
            .field("done", &self.done)
            .field("keys", &self.keys.len())
            .field("crypto_prefix", &self.crypto.prefix.len())
            .field("client_version", &self.client_version)
            .field("server_version", &self.server_version)
            .field("anomalies", &self.anomalies)
            .finish()
    }
}

impl QuicConnection {
    /// A connection that has seen nothing yet. Allocates nothing until an Initial arrives.
    pub fn new() -> Self {
        Self::default()
    }

    /// A connection that holds at most `cap` bytes of CRYPTO data instead of [`CRYPTO_CAP`]
    /// (a hello longer than that is not read).
    pub fn with_crypto_cap(cap: usize) -> Self {
        QuicConnection { crypto: CryptoStream::with_cap(cap), ..Self::default() }
    }

    /// A datagram from the client. Returns the hello once, when it first completes; after
    /// that (or after giving up, see [`is_done`](Self::is_done)) every call returns `None` at
    /// once. Short-header and other non-Initial datagrams are turned away by their first byte.
    pub fn client_datagram(&mut self, datagram: &[u8]) -> Option<QuicHello> {
        if self.done {
            return None;
        }
        self.progress = false;
        let hello = match datagram.first() {
            Some(&b) if b & 0x80 != 0 => self.long_header_datagram(datagram),
            // Google QUIC's public header: no long-header bit, version flag set (clients send
            // the version until the server answers), reserved bit 0x40 clear.
            Some(&b) if b & 0xc1 == 0x01 => self.gquic_public_header(datagram),
            _ => None,
        };
        if let Some(h) = hello {
            self.finish();
            return Some(h);
        }
        if self.progress {
            self.idle = 0;
        } else {
            self.idle += 1;
            if self.idle >= MAX_IDLE_DATAGRAMS {
                self.anomalies.stalled = true;
                self.finish();
            }
        }
        None
    }

    /// A datagram from the server. Notes the version it answers with, and whether it sent
    /// Version Negotiation or Retry; the client's next Initials after a Retry are keyed from
    /// their own DCID, which [`client_datagram`](Self::client_datagram) tries anyway.
    pub fn server_datagram(&mut self, datagram: &[u8]) {
        let [first, v0, v1, v2, v3, ..] = *datagram else { return };
        if self.done || first & 0x80 == 0 {
            return;
        }
        let version = u32::from_be_bytes([v0, v1, v2, v3]);
        if version == 0 {
            self.version_negotiation = true;
            return;
        }
        self.server_version.get_or_insert(version);
        if let Some(spec) = spec(version)
            && packet_type(first, spec.v2) == PacketType::Retry
        {
            self.retry = true;
        }
    }

    /// Whether the connection takes no more datagrams: the hello was returned, or it gave up
    /// (see [`Anomalies`]). The engine may drop the state then.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Oddities seen so far.
    pub fn anomalies(&self) -> Anomalies {
        self.anomalies
    }

    /// Version of the client's first long-header (or Google public-header) packet.
    pub fn client_version(&self) -> Option<u32> {
        self.client_version
    }

    /// Version of the server's first long-header packet other than Version Negotiation.
    pub fn server_version(&self) -> Option<u32> {
        self.server_version
    }

    /// Whether the server sent Version Negotiation.
    pub fn version_negotiation(&self) -> bool {
        self.version_negotiation
    }

    /// Whether the server sent a Retry.
    pub fn retry(&self) -> bool {
        self.retry
    }

    /// Stops for good and releases the buffers.
    fn finish(&mut self) {
        self.done = true;
        self.keys = Vec::new();
        self.crypto = CryptoStream::default();
        self.buf = Vec::new();
    }

    /// Walks the coalesced long-header packets of a datagram (RFC 9000 §12.2).
    fn long_header_datagram(&mut self, datagram: &[u8]) -> Option<QuicHello> {
        let mut rest = datagram;
        while let [first, v0, v1, v2, v3, ..] = *rest {
            if first & 0x80 == 0 {
                // A short-header packet ends the datagram; so does zero padding.
                break;
            }
            let version = u32::from_be_bytes([v0, v1, v2, v3]);
            self.client_version.get_or_insert(version);
            if let Some(n) = gquic_number(version)
                && (44..50).contains(&n)
            {
                return self.gquic_long_header(rest, version, n);
            }
            let Some(spec) = spec(version) else {
                // Version 0 is Version Negotiation, which clients do not send.
                self.anomalies.unknown_versions += 1;
                break;
            };
            let Some(h) = LongHeader::parse(rest, spec) else {
                self.anomalies.malformed_packets += 1;
                break;
            };
            if h.ptype == PacketType::Initial {
                let hello = self.initial(&rest[..h.len], &h, version, spec);
                if hello.is_some() || self.done {
                    return hello;
                }
            }
            rest = &rest[h.len..];
        }
        None
    }

    /// Decrypts one client Initial and feeds its frames to the reassembler.
    fn initial(&mut self, packet: &[u8], h: &LongHeader<'_>, version: u32, spec: Spec) -> Option<QuicHello> {
        let own = ConnId::new(h.dcid)?;
        let first = *self.first_dcid.get_or_insert(own);
        let Some((slot, plain)) = self.decrypt(packet, h.pn_offset, spec, first, own) else {
            self.anomalies.decrypt_failures += 1;
            return None;
        };
        self.progress = true;
        match spec.handshake {
            Handshake::Chlo => {
                // Q050: the CHLO in a Google CRYPTO frame, read frame by frame like the
                // cleartext versions.
                let payload = &self.buf[plain];
                let mut found = None;
                google_frames(payload, 50, 4, true, &mut |stream, _, data| {
                    if stream == CRYPTO_STREAM || stream == 1 {
                        found = chlo_hello(version, data);
                    }
                    found.is_none()
                });
                return found;
            }
            Handshake::Tls => {}
        }
        // A key for another DCID means a new CRYPTO stream (after Retry the client starts
        // over from offset 0); a key for the same DCID (another salt guess, a compatible
        // version switch) continues it. Packets under an older DCID are then stale.
        if let Some(k) = self.crypto_key
            && self.keys[k].dcid != self.keys[slot].dcid
        {
            if slot < k {
                return None;
            }
            self.crypto.reset();
            self.anomalies.crypto_restarts += 1;
        }
        self.crypto_key = Some(slot);
        let payload = &self.buf[plain];
        let ok = match spec.framing {
            Framing::Ietf => ietf_frames(payload, &mut self.crypto, &mut self.anomalies),
            Framing::Google => google_frames(payload, 50, 4, true, &mut |stream, offset, data| {
                if stream == CRYPTO_STREAM {
                    self.crypto.push(offset, data);
                }
                true
            }),
        };
        if !ok {
            self.anomalies.bad_frames += 1;
        }
        self.anomalies.crypto_cap_hit |= self.crypto.cap_hit;
        self.tls_hello(version)
    }

    /// Finds a key set that authenticates `packet`, deriving at most [`MAX_KEYS`] per
    /// connection, and decrypts it into `buf`. Returns the key's slot and the plaintext's
    /// range in `buf`.
    fn decrypt(
        &mut self,
        packet: &[u8],
        pn_offset: usize,
        spec: Spec,
        first: ConnId,
        own: ConnId,
    ) -> Option<(usize, Range<usize>)> {
        // The first DCID keys the client's Initials until a Retry; the packet's own DCID
        // covers a Retry, a capture that missed the first Initial, and a second connection
        // on the same ports.
        let mut candidates = [(Salt::V1, first); 2 * MAX_SALTS];
        let mut n = 0;
        for cid in [first, own] {
            if n > 0 && cid == first {
                break;
            }
            for &salt in spec.salts {
                candidates[n] = (salt, cid);
                n += 1;
            }
        }
        let candidates = &mut candidates[..n];
        if let Some(k) = self.last_ok
            && let Some(i) = candidates.iter().position(|&(s, c)| self.keys[k].salt == s && self.keys[k].dcid == c)
        {
            candidates.swap(0, i);
        }
        for &(salt, cid) in candidates.iter() {
            let slot = match self.keys.iter().position(|k| k.salt == salt && k.dcid == cid) {
                Some(i) => i,
                None if self.keys.len() < MAX_KEYS => {
                    self.keys.push(Keys::derive(salt, cid));
                    self.keys.len() - 1
                }
                None => {
                    self.anomalies.key_limit_hit = true;
                    continue;
                }
            };
            if let Some(plain) = unprotect(&self.keys[slot], packet, pn_offset, &mut self.buf) {
                self.last_ok = Some(slot);
                return Some((slot, plain));
            }
        }
        None
    }

    /// The ClientHello, once the CRYPTO stream's prefix holds all of it.
    fn tls_hello(&mut self, version: u32) -> Option<QuicHello> {
        let p = &self.crypto.prefix;
        let [msg_type, l0, l1, l2, ..] = *p.as_slice() else { return None };
        if msg_type != tls::CLIENT_HELLO {
            self.anomalies.bad_client_hello = true;
            self.finish();
            return None;
        }
        let len = 4 + (usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2));
        if len > self.crypto.cap {
            self.anomalies.crypto_cap_hit = true;
            self.finish();
            return None;
        }
        if p.len() < len {
            // Nothing after the hello is needed: stop holding bytes past it.
            self.crypto.limit = len;
            return None;
        }
        match tls::parse_client_hello(&p[4..len]) {
            Ok(ch) => Some(QuicHello {
                version,
                ja4: tls::ja4(&ch, Transport::Quic),
                sni: ch.server_name.clone(),
                user_agent: None,
                gquic: false,
                client_hello: ch,
            }),
            Err(_) => {
                self.anomalies.bad_client_hello = true;
                self.finish();
                None
            }
        }
    }

    /// Google QUIC Q024..Q043: public header, then (cleartext) frames after a 12-byte
    /// message authentication hash.
    fn gquic_public_header(&mut self, d: &[u8]) -> Option<QuicHello> {
        let flags = d[0];
        let mut r = Reader::new(d);
        r.skip(1)?;
        if flags & 0x08 != 0 {
            r.skip(8)?; // connection ID
        }
        let version = r.be(4)? as u32;
        let n = gquic_number(version)?;
        if n >= 44 {
            return None;
        }
        self.client_version.get_or_insert(version);
        let pn_len = [1, 2, 4, 6][usize::from(flags >> 4 & 3)];
        // A diversification nonce (flag 0x04) only comes from servers: clients of these
        // versions set 0x0c for an 8-byte connection ID.
        r.skip(pn_len)?;
        r.skip(12)?; // message authentication hash
        if n < 34 {
            r.skip(1)?; // private flags
        }
        self.progress = true;
        let mut found = None;
        google_frames(r.rest(), n, pn_len, false, &mut |stream, _, data| {
            if stream == 1 {
                found = chlo_hello(version, data);
            }
            found.is_none()
        });
        found
    }

    /// Google QUIC Q044..Q049: a long header with nibble-coded connection ID lengths, then
    /// the hash and cleartext frames as in Q043.
    fn gquic_long_header(&mut self, d: &[u8], version: u32, n: u8) -> Option<QuicHello> {
        let cil = *d.get(5)?;
        let cid_len = |nibble: u8| if nibble == 0 { 0 } else { usize::from(nibble) + 3 };
        let pn_len = usize::from(d[0] & 3) + 1;
        let start = 6 + cid_len(cil >> 4) + cid_len(cil & 0x0f) + pn_len + 12;
        let frames = d.get(start..)?;
        self.progress = true;
        let mut found = None;
        google_frames(frames, n, pn_len, false, &mut |stream, _, data| {
            if stream == 1 {
                found = chlo_hello(version, data);
            }
            found.is_none()
        });
        found
    }
}

/// The version of a client datagram's first packet when this module can read a hello from
/// that version (long header, or Google's public header with the version flag), else `None`.
/// Looks at 13 bytes at most: a recogniser for QUIC flows.
pub fn datagram_version(datagram: &[u8]) -> Option<u32> {
    let first = *datagram.first()?;
    if first & 0x80 != 0 {
        let v = u32::from_be_bytes(datagram.get(1..5)?.try_into().ok()?);
        let gquic_long = gquic_number(v).is_some_and(|n| (44..50).contains(&n));
        (spec(v).is_some() || gquic_long).then_some(v)
    } else if first & 0xc1 == 0x01 {
        let at = if first & 0x08 != 0 { 9 } else { 1 };
        let v = u32::from_be_bytes(datagram.get(at..at + 4)?.try_into().ok()?);
        gquic_number(v).is_some_and(|n| n < 44).then_some(v)
    } else {
        None
    }
}

/// A version's name: "1", "2", "draft-29", "mvfst-27", "Q050", "T051", else "0x" and hex.
pub fn version_name(v: u32) -> String {
    match v {
        VERSION_1 => "1".to_string(),
        VERSION_2 => "2".to_string(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        0xface_b001 => "mvfst-22".to_string(),
        0xface_b002 => "mvfst-27".to_string(),
        0xface_b00e => "mvfst-exp".to_string(),
        _ => {
            let b = v.to_be_bytes();
            if matches!(b[0], b'Q' | b'T') && b[1..].iter().all(u8::is_ascii_digit) {
                b.iter().map(|&c| char::from(c)).collect()
            } else {
                format!("0x{v:08x}")
            }
        }
    }
}

/// Google's "Q043" → 43 (also for "T051"); `None` for other versions.
fn gquic_number(v: u32) -> Option<u8> {
    let [q, a, b, c] = v.to_be_bytes();
    (matches!(q, b'Q' | b'T') && a == b'0' && b.is_ascii_digit() && c.is_ascii_digit())
        .then(|| (b - b'0') * 10 + (c - b'0'))
}

// ---- versions and keys ----

/// Initial salts (RFC 9001 §5.2, RFC 9369 §3.3.1, the drafts, and Google's for Q050/T05x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Salt {
    Draft22,
    Draft23,
    Draft29,
    V1,
    V2,
    Q050,
    T050,
    T051,
}

const MAX_SALTS: usize = 2;

impl Salt {
    fn bytes(self) -> &'static [u8; 20] {
        match self {
            Salt::Draft22 => &[
                0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a,
                0x02, 0x64, 0x4a,
            ],
            Salt::Draft23 => &[
                0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe,
                0xf9, 0xf5, 0x02,
            ],
            Salt::Draft29 => &[
                0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43,
                0x90, 0xa8, 0x99,
            ],
            Salt::V1 => &[
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc,
                0xbb, 0x7f, 0x0a,
            ],
            Salt::V2 => &[
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9,
                0xbd, 0x2e, 0xd9,
            ],
            Salt::Q050 => &[
                0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3,
                0xb5, 0x6b, 0x45,
            ],
            Salt::T050 => &[
                0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60,
                0x48, 0x83, 0x10,
            ],
            Salt::T051 => &[
                0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda,
                0x6e, 0x03, 0x3d,
            ],
        }
    }
}

/// Frame numbering inside a decrypted Initial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// RFC 9000 §19 (all IETF drafts read here agree on the frames an Initial may carry).
    Ietf,
    /// Google QUIC's (CRYPTO = 0x08, ACK = 0b01xxxxxx, STREAM = 0b1xxxxxxx).
    Google,
}

/// What the CRYPTO data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handshake {
    Tls,
    /// Google's QUIC crypto handshake message (Q050).
    Chlo,
}

/// How to read an IETF-style long-header version.
#[derive(Clone, Copy, Debug)]
struct Spec {
    /// Salts to try, most likely first.
    salts: &'static [Salt],
    /// RFC 9369 packet type numbering.
    v2: bool,
    framing: Framing,
    handshake: Handshake,
}

fn spec(version: u32) -> Option<Spec> {
    let ietf = |salts: &'static [Salt]| Spec { salts, v2: false, framing: Framing::Ietf, handshake: Handshake::Tls };
    let google = |salts: &'static [Salt], handshake| Spec { salts, v2: false, framing: Framing::Google, handshake };
    Some(match version {
        VERSION_1 | 0xff00_0021 | 0xff00_0022 => ietf(&[Salt::V1]),
        VERSION_2 => Spec { v2: true, ..ietf(&[Salt::V2]) },
        0xff00_001d..=0xff00_0020 => ietf(&[Salt::Draft29]),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => ietf(&[Salt::Draft23]),
        0xff00_0016 | 0xface_b001 => ietf(&[Salt::Draft22]),
        Q050 => google(&[Salt::Q050], Handshake::Chlo),
        T050 => google(&[Salt::T050], Handshake::Tls),
        T051 => google(&[Salt::T051], Handshake::Tls),
        // Reserved to force version negotiation (RFC 9000 §15): some clients still put a real
        // hello in it, under whatever salt their code uses.
        v if v & 0x0f0f_0f0f == 0x0a0a_0a0a => ietf(&[Salt::Draft29, Salt::V1]),
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// The long-header packet type (RFC 9000 §17.2; RFC 9369 §3.2 rotates them by one).
fn packet_type(first: u8, v2: bool) -> PacketType {
    match (first >> 4 & 3, v2) {
        (0, false) | (1, true) => PacketType::Initial,
        (1, false) | (2, true) => PacketType::ZeroRtt,
        (2, false) | (3, true) => PacketType::Handshake,
        _ => PacketType::Retry,
    }
}

/// A connection ID, inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ConnId {
    len: u8,
    bytes: [u8; MAX_CID],
}

impl ConnId {
    fn new(cid: &[u8]) -> Option<ConnId> {
        let mut bytes = [0; MAX_CID];
        bytes.get_mut(..cid.len())?.copy_from_slice(cid);
        Some(ConnId { len: cid.len() as u8, bytes })
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Client Initial keys for one (salt, DCID), with the ciphers keyed.
struct Keys {
    salt: Salt,
    dcid: ConnId,
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

impl Keys {
    /// RFC 9001 §5.2 (RFC 9369 §3.3.2 for v2's labels).
    fn derive(salt: Salt, dcid: ConnId) -> Keys {
        let (_, initial) = Hkdf::<Sha256>::extract(Some(&salt.bytes()[..]), dcid.as_slice());
        let mut secret = [0; 32];
        expand_label(&initial, b"client in", &mut secret);
        let client = Hkdf::<Sha256>::from_prk(&secret).expect("32 bytes is SHA-256's length");
        let labels: [&[u8]; 3] = if salt == Salt::V2 {
            [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"]
        } else {
            [b"quic key", b"quic iv", b"quic hp"]
        };
        let (mut key, mut iv, mut hp) = ([0; 16], [0; 12], [0; 16]);
        expand_label(&client, labels[0], &mut key);
        expand_label(&client, labels[1], &mut iv);
        expand_label(&client, labels[2], &mut hp);
        Keys { salt, dcid, aead: Aes128Gcm::new(&key.into()), iv, hp: Aes128::new(&hp.into()) }
    }
}

/// TLS 1.3's HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    const PREFIX: &[u8] = b"tls13 ";
    let mut info = [0u8; 32];
    let n = 2 + 1 + PREFIX.len() + label.len() + 1;
    info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
    info[2] = (PREFIX.len() + label.len()) as u8;
    info[3..3 + PREFIX.len()].copy_from_slice(PREFIX);
    info[3 + PREFIX.len()..n - 1].copy_from_slice(label);
    prk.expand(&info[..n], out).expect("at most 32 bytes are expanded");
}

/// Removes header protection and decrypts `packet` (one whole packet) into `buf`, returning
/// the plaintext payload's range in `buf`, or `None` if the tag does not authenticate.
fn unprotect(keys: &Keys, packet: &[u8], pn_offset: usize, buf: &mut Vec<u8>) -> Option<Range<usize>> {
    // The sample starts 4 bytes past the packet number's start whatever its length (RFC 9001
    // §5.4.2), so it is known before the length is.
    let sample: [u8; 16] = packet.get(pn_offset + 4..pn_offset + 20)?.try_into().ok()?;
    let mut mask = aes::Block::from(sample);
    keys.hp.encrypt_block(&mut mask);
    let first = packet[0] ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let header_len = pn_offset + pn_len;
    let tag_at = packet.len().checked_sub(16).filter(|&t| t >= header_len)?;
    buf.clear();
    buf.extend_from_slice(packet);
    buf[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        buf[pn_offset + i] ^= mask[1 + i];
        pn = pn << 8 | u64::from(buf[pn_offset + i]);
    }
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let (aad, body) = buf.split_at_mut(header_len);
    let (ciphertext, tag) = body.split_at_mut(tag_at - header_len);
    let tag: [u8; 16] = (&*tag).try_into().ok()?;
    keys.aead.decrypt_inout_detached(&nonce.into(), aad, ciphertext.into(), &tag.into()).ok()?;
    Some(header_len..tag_at)
}

/// The parts of a long header needed to find and decrypt the packet.
#[derive(Debug)]
struct LongHeader<'a> {
    ptype: PacketType,
    dcid: &'a [u8],
    /// Offset of the (protected) packet number.
    pn_offset: usize,
    /// The packet's length in the datagram.
    len: usize,
}

impl<'a> LongHeader<'a> {
    /// `None` when a length overruns `p`.
    fn parse(p: &'a [u8], spec: Spec) -> Option<LongHeader<'a>> {
        let mut r = Reader::new(p);
        let first = r.u8()?;
        r.skip(4)?; // version
        let dcil = usize::from(r.u8()?);
        let dcid = r.bytes(dcil)?;
        let scil = usize::from(r.u8()?);
        r.skip(scil)?;
        if dcil > MAX_CID || scil > MAX_CID {
            return None;
        }
        let ptype = packet_type(first, spec.v2);
        if ptype == PacketType::Retry {
            // No Length field: a Retry runs to the end of the datagram.
            return Some(LongHeader { ptype, dcid, pn_offset: p.len(), len: p.len() });
        }
        if ptype == PacketType::Initial {
            let token = r.varint()?;
            r.skip(usize::try_from(token).ok()?)?;
        }
        let length = usize::try_from(r.varint()?).ok()?;
        let pn_offset = r.pos;
        let len = pn_offset.checked_add(length).filter(|&l| l <= p.len())?;
        Some(LongHeader { ptype, dcid, pn_offset, len })
    }
}

// ---- frames ----

/// Reads IETF frames of a decrypted Initial, feeding CRYPTO data to `crypto`. Returns false
/// when a frame was unknown or cut short (the rest of the packet is then skipped).
fn ietf_frames(p: &[u8], crypto: &mut CryptoStream, anomalies: &mut Anomalies) -> bool {
    let mut r = Reader::new(p);
    while !r.is_empty() {
        let ok = (|| {
            match r.varint()? {
                0x00 => {
                    // PADDING: usually hundreds of bytes, skipped in one go.
                    while r.peek() == Some(0) {
                        r.pos += 1;
                    }
                }
                0x01 => {} // PING
                t @ (0x02 | 0x03) => {
                    // ACK: largest, delay, range count, first range, ranges, ECN counts. Every
                    // range takes at least two bytes, so a huge count ends with the packet.
                    r.varint()?;
                    r.varint()?;
                    let ranges = r.varint()?;
                    r.varint()?;
                    for _ in 0..ranges {
                        r.varint()?;
                        r.varint()?;
                    }
                    if t == 0x03 {
                        for _ in 0..3 {
                            r.varint()?;
                        }
                    }
                }
                0x06 => {
                    let offset = r.varint()?;
                    let len = usize::try_from(r.varint()?).ok()?;
                    crypto.push(offset, r.bytes(len)?);
                }
                t @ (0x1c | 0x1d) => {
                    // CONNECTION_CLOSE: error code, (frame type), reason phrase.
                    r.varint()?;
                    if t == 0x1c {
                        r.varint()?;
                    }
                    let len = usize::try_from(r.varint()?).ok()?;
                    r.skip(len)?;
                    anomalies.connection_closes += 1;
                }
                _ => return None,
            }
            Some(())
        })();
        if ok.is_none() {
            return false;
        }
    }
    true
}

/// Stream number [`google_frames`] reports CRYPTO frames (Q050, T05x) under.
const CRYPTO_STREAM: u64 = u64::MAX;

/// Reads Google QUIC frames (cleartext Q024..Q049, or a decrypted Q050/T05x Initial),
/// calling `on_data(stream, offset, data)` for STREAM and CRYPTO frames until it returns
/// false. `n` is the version number (43 for Q043), which decides byte order (little-endian
/// before Q039), the ACK layout and STOP_WAITING; `pn_len` is the header's packet number
/// length. Returns false when a frame was unknown or cut short.
fn google_frames(
    p: &[u8],
    n: u8,
    pn_len: usize,
    crypto_frames: bool,
    on_data: &mut dyn FnMut(u64, u64, &[u8]) -> bool,
) -> bool {
    let mut r = Reader::new(p);
    let big_endian = n >= 39;
    let uint = |r: &mut Reader<'_>, len: usize| if big_endian { r.be(len) } else { r.le(len) };
    while let Some(t) = r.u8() {
        let ok = (|| {
            if t & 0x80 != 0 {
                // STREAM: 1 F D OOO SS: FIN, data length present, offset length, stream ID
                // length.
                let ooo = usize::from(t >> 2 & 7);
                let off_len = if ooo == 0 { 0 } else { ooo + 1 };
                let stream = uint(&mut r, usize::from(t & 3) + 1)?;
                let offset = if off_len == 0 { 0 } else { uint(&mut r, off_len)? };
                let len = if t & 0x20 != 0 { uint(&mut r, 2)? as usize } else { r.remaining() };
                return Some(on_data(stream, offset, r.bytes(len)?));
            }
            if t & 0xc0 == 0x40 {
                // ACK (Q034 and later): 0 1 N U LL MM; the older layout is not read.
                if n < 34 {
                    return None;
                }
                let size = |bits: u8| [1, 2, 4, 6][usize::from(bits & 3)];
                r.skip(size(t >> 2))?; // largest acked
                r.skip(2)?; // ack delay
                let blocks = if t & 0x20 != 0 { usize::from(r.u8()?) } else { 0 };
                r.skip(size(t))?; // first block
                for _ in 0..blocks {
                    r.skip(1 + size(t))?;
                }
                let stamps = usize::from(r.u8()?);
                if stamps > 0 {
                    r.skip(5 + 3 * (stamps - 1))?;
                }
                return Some(true);
            }
            match t {
                0x00 => {
                    while r.peek() == Some(0) {
                        r.pos += 1;
                    }
                }
                0x07 => {} // PING
                0x06 if n <= 43 => {
                    // STOP_WAITING: (entropy before Q034), least unacked delta.
                    r.skip(pn_len + usize::from(n < 34))?;
                }
                0x08 if crypto_frames => {
                    let offset = r.varint()?;
                    let len = usize::try_from(r.varint()?).ok()?;
                    return Some(on_data(CRYPTO_STREAM, offset, r.bytes(len)?));
                }
                _ => return None,
            }
            Some(true)
        })();
        match ok {
            Some(true) => {}
            Some(false) => return true,
            None => return false,
        }
    }
    true
}

/// A hello from a CHLO message, if `data` starts with one.
fn chlo_hello(version: u32, data: &[u8]) -> Option<QuicHello> {
    let chlo = parse_chlo(data)?;
    Some(QuicHello {
        version,
        client_hello: ClientHello::default(),
        ja4: String::new(),
        sni: chlo.sni.map(<[u8]>::to_vec),
        user_agent: chlo.user_agent.map(<[u8]>::to_vec),
        gquic: true,
    })
}

/// What is read from a Google QUIC CHLO.
#[derive(Debug, Default, PartialEq, Eq)]
struct Chlo<'a> {
    sni: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
}

/// The `SNI` and `UAID` values of a Google QUIC CHLO: tag "CHLO", entry count (u16 LE), two
/// bytes of padding, then (tag, end offset u32 LE) entries and the values they delimit. A
/// message cut short yields the values that are whole.
fn parse_chlo(d: &[u8]) -> Option<Chlo<'_>> {
    if d.len() < 8 || &d[..4] != b"CHLO" {
        return None;
    }
    let count = usize::from(u16::from_le_bytes([d[4], d[5]]));
    let values = 8 + 8 * count;
    let mut chlo = Chlo::default();
    let mut prev = 0usize;
    for entry in d.get(8..values).unwrap_or(&d[8..]).chunks_exact(8) {
        let end = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]) as usize;
        let Some(value) = end.checked_sub(prev).and_then(|_| d.get(values + prev..values.checked_add(end)?)) else {
            break;
        };
        match &entry[..4] {
            b"SNI\0" => chlo.sni = Some(value),
            b"UAID" => chlo.user_agent = Some(value),
            _ => {}
        }
        prev = end;
    }
    Some(chlo)
}

// ---- CRYPTO reassembly ----

/// The client's CRYPTO stream: the contiguous prefix from offset 0, and out-of-order pieces
/// waiting for the gap before them. Bytes held never pass `cap`. Where copies of a
/// byte overlap, whichever reaches the prefix first is kept: clients resend the same bytes.
#[derive(Debug)]
struct CryptoStream {
    prefix: Vec<u8>,
    pieces: Vec<(usize, Vec<u8>)>,
    held: usize,
    /// Bytes past this offset are dropped: `cap`, then the hello's end once known.
    limit: usize,
    /// Bytes held at most ([`CRYPTO_CAP`] by default).
    cap: usize,
    cap_hit: bool,
}

impl Default for CryptoStream {
    fn default() -> Self {
        CryptoStream::with_cap(CRYPTO_CAP)
    }
}

impl CryptoStream {
    fn with_cap(cap: usize) -> CryptoStream {
        CryptoStream { prefix: Vec::new(), pieces: Vec::new(), held: 0, limit: cap, cap, cap_hit: false }
    }

    fn reset(&mut self) {
        *self = CryptoStream { cap_hit: self.cap_hit, ..CryptoStream::with_cap(self.cap) };
    }

    fn push(&mut self, offset: u64, data: &[u8]) {
        let have = self.prefix.len();
        let Ok(start) = usize::try_from(offset) else {
            self.cap_hit = true;
            return;
        };
        let Some(end) = start.checked_add(data.len()) else {
            self.cap_hit = true;
            return;
        };
        if end > self.limit {
            self.cap_hit |= self.limit == self.cap;
        }
        let end = end.min(self.limit);
        if end <= have || start >= end {
            return; // already have it (a resend), or all of it is past the limit
        }
        let data = &data[..end - start];
        if start <= have {
            self.prefix.extend_from_slice(&data[have - start..]);
            self.drain();
        } else if self.pieces.iter().any(|(o, d)| *o <= start && o + d.len() >= end) {
            // A resend of a piece held already.
        } else if self.pieces.len() >= MAX_PIECES || self.prefix.len() + self.held + data.len() > self.cap {
            self.cap_hit = true;
        } else {
            self.held += data.len();
            self.pieces.push((start, data.to_vec()));
        }
    }

    /// Moves pieces that now touch the prefix onto it.
    fn drain(&mut self) {
        while let Some(i) = self.pieces.iter().position(|(o, _)| *o <= self.prefix.len()) {
            let (o, d) = self.pieces.swap_remove(i);
            self.held -= d.len();
            let have = self.prefix.len();
            if o + d.len() > have {
                self.prefix.extend_from_slice(&d[have - o..]);
            }
        }
    }
}

// ---- byte reader ----

/// A cursor over a byte slice whose reads fail (`None`) instead of running past the end.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn u8(&mut self) -> Option<u8> {
        let v = self.peek()?;
        self.pos += 1;
        Some(v)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.bytes(n).map(|_| ())
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = self.b.get(self.pos..).unwrap_or_default();
        self.pos = self.b.len();
        s
    }

    /// Big-endian unsigned integer of `n` ≤ 8 bytes.
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(self.bytes(n)?.iter().fold(0, |v, &b| v << 8 | u64::from(b)))
    }

    /// Little-endian unsigned integer of `n` ≤ 8 bytes.
    fn le(&mut self, n: usize) -> Option<u64> {
        Some(self.bytes(n)?.iter().rev().fold(0, |v, &b| v << 8 | u64::from(b)))
    }

    /// QUIC variable-length integer (RFC 9000 §16).
    fn varint(&mut self) -> Option<u64> {
        let first = self.peek()?;
        let len = 1 << (first >> 6);
        let v = self.be(len)?;
        Some(v & (u64::MAX >> (64 - 8 * len + 2)))
    }
}

/// Builds protected client Initial packets, for tests and the fuzz target (which cannot
/// forge an AEAD tag, and so needs help to reach the frame parsers).
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// A client Initial packet of `version` (one the module reads, IETF framing) keyed from
    /// `key_dcid`, carrying `dcid` in its header, with a 4-byte packet number and `frames` as
    /// its payload (padded to 4 bytes so that the sample fits).
    pub fn seal_initial(version: u32, key_dcid: &[u8], dcid: &[u8], pn: u32, frames: &[u8]) -> Vec<u8> {
        let spec = spec(version).expect("a version the module reads");
        let keys = Keys::derive(spec.salts[0], ConnId::new(key_dcid).expect("a short connection ID"));
        let mut payload = frames.to_vec();
        payload.resize(payload.len().max(4), 0);
        let type_bits = if spec.v2 { 1 } else { 0 };
        let mut p = vec![0xc3 | type_bits << 4];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.push(0); // SCID length
        p.push(0); // token length
        let length = 4 + payload.len() + 16;
        if length < 0x4000 {
            p.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
        } else {
            p.extend_from_slice(&(0x8000_0000 | length as u32).to_be_bytes());
        }
        let pn_offset = p.len();
        p.extend_from_slice(&pn.to_be_bytes());
        let mut nonce = keys.iv;
        for (n, b) in nonce[4..].iter_mut().zip(u64::from(pn).to_be_bytes()) {
            *n ^= b;
        }
        let tag = keys.aead.encrypt_inout_detached(&nonce.into(), &p, payload.as_mut_slice().into()).expect("short");
        p.extend_from_slice(&payload);
        p.extend_from_slice(&tag);
        let sample: [u8; 16] = p[pn_offset + 4..pn_offset + 20].try_into().expect("16 bytes");
        let mut mask = aes::Block::from(sample);
        keys.hp.encrypt_block(&mut mask);
        p[0] ^= mask[0] & 0x0f;
        for i in 0..4 {
            p[pn_offset + i] ^= mask[1 + i];
        }
        p
    }

    /// A CRYPTO frame.
    pub fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend_from_slice(&(0xc000_0000_0000_0000 | offset).to_be_bytes());
        f.extend_from_slice(&(0x8000_0000 | data.len() as u32).to_be_bytes());
        f.extend_from_slice(data);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{crypto_frame, seal_initial};
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        s.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
    }

    const RFC_DCID: &str = "8394c8f03e515708";

    /// RFC 9001 Appendix A.2 (and RFC 9369 A.2): the CRYPTO frame of the client Initial.
    const RFC_CRYPTO_FRAME: &str = "
        060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
        04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
        616d706c652e636f6dff01000100000a00080006001d00170018001000070005
        04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
        baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
        0d0010000e0403050306030203080408050806002d00020101001c0002400100
        3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
        75300901100f088394c8f03e51570806048000ffff";

    /// RFC 9001 Appendix A.2: the protected client Initial (1200 bytes).
    const RFC9001_CLIENT_INITIAL: &str = "
        c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
        d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
        1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
        8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
        30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
        457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
        4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
        4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
        485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
        059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
        7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
        9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
        be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
        68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
        c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
        f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
        291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
        25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
        14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
        ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
        e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
        c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
        203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
        cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
        fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
        a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
        90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
        162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
        40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
        6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
        8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
        be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
        54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
        760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
        f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
        056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
        7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
        e221af44860018ab0856972e194cd934";

    /// RFC 9369 Appendix A.2: the same hello as a v2 client Initial.
    const RFC9369_CLIENT_INITIAL: &str = "
        d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
        dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
        9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
        250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
        12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
        cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
        18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
        12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
        d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
        6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
        bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
        636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
        ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
        16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
        4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
        fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
        8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
        14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
        9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
        abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
        80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
        848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
        d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
        c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
        7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
        f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
        10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
        3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
        06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
        8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
        34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
        e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
        5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
        8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
        d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
        6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
        9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
        a18b2faa745b6fe189cf772a9f84cbfc";

    /// RFC 9001 Appendix A.3: the server's Initial (a ServerHello and an ACK).
    const RFC9001_SERVER_INITIAL: &str = "
        cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
        5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
        dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
        022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
        2158407dd074ee";

    fn keys(salt: Salt) -> Keys {
        Keys::derive(salt, ConnId::new(&unhex(RFC_DCID)).unwrap())
    }

    /// The RFC's ClientHello (the CRYPTO frame's data).
    fn rfc_hello_message() -> Vec<u8> {
        unhex(RFC_CRYPTO_FRAME)[4..].to_vec()
    }

    #[test]
    fn rfc9001_key_derivation() {
        // A.1: client key, IV and header protection key, checked through what they do: the
        // IV is visible directly, the keys by encrypting a known block.
        let k = keys(Salt::V1);
        assert_eq!(k.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
        // A.2: the header protection mask for the sample d1b1c98d... is 437b9aec36.
        let mut b = aes::Block::from(<[u8; 16]>::try_from(unhex("d1b1c98dd7689fb8ec11d242b123dc9b")).unwrap());
        k.hp.encrypt_block(&mut b);
        assert_eq!(b[..5].to_vec(), unhex("437b9aec36"));
        let k2 = keys(Salt::V2);
        assert_eq!(k2.iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
        let mut b = aes::Block::from(<[u8; 16]>::try_from(unhex("ffe67b6abcdb4298b485dd04de806071")).unwrap());
        k2.hp.encrypt_block(&mut b);
        assert_eq!(b[..5].to_vec(), unhex("94a0c95e80"));
    }

    #[test]
    fn rfc9001_client_initial() {
        let packet = unhex(RFC9001_CLIENT_INITIAL);
        assert_eq!(packet.len(), 1200);
        assert_eq!(datagram_version(&packet), Some(VERSION_1));
        let mut c = QuicConnection::new();
        let hello = c.client_datagram(&packet).expect("the RFC's hello");
        assert_eq!(hello.version, VERSION_1);
        assert_eq!(hello.sni.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(hello.client_hello.server_name_str(), Some("example.com"));
        assert_eq!(hello.client_hello.alpn, vec![b"alpn".to_vec()]);
        assert_eq!(hello.client_hello.cipher_suites, [0x1301, 0x1302]);
        assert!(hello.ja4.starts_with("q13d0"), "{}", hello.ja4);
        assert!(!hello.gquic);
        assert_eq!(tls::parse_client_hello(&rfc_hello_message()[4..]).unwrap(), hello.client_hello);
        assert!(c.is_done());
        assert_eq!(c.anomalies(), Anomalies::default());
        assert_eq!(c.client_datagram(&packet), None, "once");
        // The test helper that seals the synthetic packets below gives the RFC's bytes: packet
        // number 2, the CRYPTO frame and 917 bytes of padding.
        let mut frames = unhex(RFC_CRYPTO_FRAME);
        frames.resize(1162, 0);
        assert!(seal_initial(VERSION_1, &unhex(RFC_DCID), &unhex(RFC_DCID), 2, &frames) == packet);
        assert!(
            seal_initial(VERSION_2, &unhex(RFC_DCID), &unhex(RFC_DCID), 2, &frames) == unhex(RFC9369_CLIENT_INITIAL)
        );
    }

    #[test]
    fn rfc9369_v2_client_initial() {
        let packet = unhex(RFC9369_CLIENT_INITIAL);
        assert_eq!(packet.len(), 1200);
        let mut c = QuicConnection::new();
        let hello = c.client_datagram(&packet).expect("the RFC's v2 hello");
        assert_eq!(hello.version, VERSION_2);
        assert_eq!(hello.sni.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(version_name(hello.version), "2");
    }

    #[test]
    fn v2_packet_types_are_rotated() {
        // 0xd0 is Initial in v2 but 0-RTT in v1: the v1 reading of the same bits skips it.
        assert_eq!(packet_type(0xd7, true), PacketType::Initial);
        assert_eq!(packet_type(0xd7, false), PacketType::ZeroRtt);
        assert_eq!(packet_type(0xc0, true), PacketType::Retry);
        assert_eq!(packet_type(0xf0, true), PacketType::Handshake);
        // A v1 Initial byte under the v2 version is a Retry: nothing to decrypt.
        let mut packet = unhex(RFC9001_CLIENT_INITIAL);
        packet[1..5].copy_from_slice(&VERSION_2.to_be_bytes());
        let mut c = QuicConnection::new();
        assert_eq!(c.client_datagram(&packet), None);
        assert_eq!(c.anomalies().decrypt_failures, 0);
    }

    #[test]
    fn server_initial_is_not_a_client_hello() {
        let mut c = QuicConnection::new();
        let server = unhex(RFC9001_SERVER_INITIAL);
        c.server_datagram(&server);
        assert_eq!(c.server_version(), Some(VERSION_1));
        assert!(!c.retry() && !c.version_negotiation());
        // Fed as if from the client (a flow whose direction was guessed wrong): it does not
        // authenticate under the client's keys.
        assert_eq!(c.client_datagram(&server), None);
        assert_eq!(c.anomalies().decrypt_failures, 1);
        // Version negotiation and Retry from the server are noted.
        c.server_datagram(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(c.version_negotiation());
        c.server_datagram(&[0xf0, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        assert!(c.retry());
    }

    fn hello_of(sni: &[u8], extra: usize) -> Vec<u8> {
        // The RFC hello with its SNI replaced, and `extra` bytes of padding extension.
        let mut ch = tls::parse_client_hello(&rfc_hello_message()[4..]).unwrap();
        ch.server_name = Some(sni.to_vec());
        let mut body = vec![3, 3];
        body.extend_from_slice(&ch.random);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        let mut exts = Vec::new();
        let mut name = vec![0];
        name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        name.extend_from_slice(sni);
        let mut list = (name.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&name);
        exts.extend_from_slice(&[0, 0]);
        exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
        exts.extend_from_slice(&list);
        exts.extend_from_slice(&[0, 0x15]);
        exts.extend_from_slice(&(extra as u16).to_be_bytes());
        exts.resize(exts.len() + extra, 0);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut m = vec![1];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(&body);
        m
    }

    const DCID: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8];

    #[test]
    fn hello_across_packets_out_of_order_with_duplicates() {
        // A post-quantum-sized hello in three packets, sent 3, 1, 1 (resent), 2; the middle
        // one in two frames with PING and PADDING between.
        let m = hello_of(b"pq.example", 4000);
        let (a, rest) = m.split_at(1300);
        let (b, c) = rest.split_at(1300);
        let p1 = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, a));
        let mut frames = crypto_frame(1300 + 700, &b[700..]);
        frames.extend_from_slice(&[0x01, 0, 0, 0]);
        frames.extend(crypto_frame(1300, &b[..700]));
        let p2 = seal_initial(VERSION_1, DCID, DCID, 1, &frames);
        let p3 = seal_initial(VERSION_1, DCID, DCID, 2, &crypto_frame(2600, c));
        let mut conn = QuicConnection::new();
        assert_eq!(conn.client_datagram(&p3), None);
        assert_eq!(conn.client_datagram(&p1), None);
        assert_eq!(conn.client_datagram(&p1), None);
        let hello = conn.client_datagram(&p2).expect("complete after the third");
        assert_eq!(hello.sni.as_deref(), Some(&b"pq.example"[..]));
        assert_eq!(conn.anomalies(), Anomalies::default());
    }

    #[test]
    fn later_initials_use_the_first_dcid_and_retry_restarts() {
        let m = hello_of(b"retry.example", 1500);
        let (a, b) = m.split_at(1000);
        // After the server's Initial the client addresses the server's chosen ID but keeps
        // the keys from its first DCID.
        let mut conn = QuicConnection::new();
        assert_eq!(conn.client_datagram(&seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, a))), None);
        let p2 = seal_initial(VERSION_1, DCID, &[9; 5], 1, &crypto_frame(1000, b));
        assert!(conn.client_datagram(&p2).is_some());

        // After a Retry: new DCID, keys from it, and the CRYPTO stream from offset 0 again.
        // The old connection's packets that arrive late are ignored.
        let mut conn = QuicConnection::new();
        let old = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &a[..500]));
        assert_eq!(conn.client_datagram(&old), None);
        conn.server_datagram(&[0xf0, 0, 0, 0, 1, 0, 4, 7, 7, 7, 7]);
        let new_dcid = [7u8; 4];
        let n1 = seal_initial(VERSION_1, &new_dcid, &new_dcid, 0, &crypto_frame(0, a));
        let n2 = seal_initial(VERSION_1, &new_dcid, &new_dcid, 1, &crypto_frame(1000, b));
        assert_eq!(conn.client_datagram(&n1), None);
        let late = seal_initial(VERSION_1, DCID, DCID, 1, &crypto_frame(500, &[0xee; 500]));
        assert_eq!(conn.client_datagram(&late), None);
        let hello = conn.client_datagram(&n2).expect("after the Retry");
        assert_eq!(hello.sni.as_deref(), Some(&b"retry.example"[..]));
        assert!(conn.retry());
        assert_eq!(conn.anomalies().crypto_restarts, 1);
    }

    #[test]
    fn coalesced_packets() {
        let m = hello_of(b"coalesced.example", 100);
        // A 0-RTT packet before the Initial (odd, but legal) and one after it, then padding.
        let zero_rtt = |pn: u8| {
            let mut z = vec![0xd3, 0, 0, 0, 1, 8];
            z.extend_from_slice(DCID);
            z.extend_from_slice(&[0, 0x40, 24, 0, 0, 0, pn]);
            z.extend_from_slice(&[0xaa; 20]);
            z
        };
        let mut d = zero_rtt(0);
        d.extend(seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &m)));
        d.extend(zero_rtt(1));
        d.extend_from_slice(&[0; 50]);
        let hello = QuicConnection::new().client_datagram(&d).expect("the Initial in the middle");
        assert_eq!(hello.sni.as_deref(), Some(&b"coalesced.example"[..]));
        // Two Initials in one datagram, the hello split between them.
        let (a, b) = m.split_at(60);
        let mut d = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, a));
        d.extend(seal_initial(VERSION_1, DCID, DCID, 1, &crypto_frame(60, b)));
        assert!(QuicConnection::new().client_datagram(&d).is_some());
    }

    #[test]
    fn draft_and_google_tls_versions_and_names() {
        let m = hello_of(b"draft.example", 10);
        for v in [0xff00_001d, 0xff00_0017, 0xff00_0022, 0xface_b001, 0xface_b002, 0x1a2a_3a4a] {
            let p = seal_initial(v, DCID, DCID, 0, &crypto_frame(0, &m));
            let hello = QuicConnection::new().client_datagram(&p).unwrap_or_else(|| panic!("{v:x}"));
            assert_eq!(hello.version, v);
        }
        // The forcing-negotiation guess falls back to the v1 salt.
        let mut p = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &m));
        p[1..5].copy_from_slice(&0x0a0a_0a0au32.to_be_bytes());
        // (The version is in the AAD, so this cannot authenticate: it is a decrypt failure
        // under both salts, and two key sets were derived.)
        let mut c = QuicConnection::new();
        assert_eq!(c.client_datagram(&p), None);
        assert_eq!(c.anomalies().decrypt_failures, 1);
        assert_eq!(c.keys.len(), 2);
        for (v, name) in [
            (1, "1"),
            (VERSION_2, "2"),
            (0xff00_001d, "draft-29"),
            (u32::from_be_bytes(*b"Q050"), "Q050"),
            (u32::from_be_bytes(*b"T051"), "T051"),
            (0xface_b002, "mvfst-27"),
            (0x1a2a_3a4a, "0x1a2a3a4a"),
        ] {
            assert_eq!(version_name(v), name);
        }
    }

    /// A CHLO with the given tags.
    fn chlo(tags: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut m = b"CHLO".to_vec();
        m.extend_from_slice(&(tags.len() as u16).to_le_bytes());
        m.extend_from_slice(&[0, 0]);
        let mut end = 0u32;
        for (t, v) in tags {
            end += v.len() as u32;
            m.extend_from_slice(*t);
            m.extend_from_slice(&end.to_le_bytes());
        }
        for (_, v) in tags {
            m.extend_from_slice(v);
        }
        m
    }

    #[test]
    fn gquic_q043_and_q035_public_header() {
        let m = chlo(&[
            (b"PAD\0", &[0x2d; 30]),
            (b"SNI\0", b"www.google.com"),
            (b"UAID", b"Chrome/70"),
            (b"VER\0", b"Q043"),
        ]);
        // Q043: flags 0x0d, CID, version, 1-byte packet number, hash, STREAM (0xa0: data
        // length present, no offset, 1-byte stream ID) on stream 1, big-endian length.
        let mut d = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8];
        d.extend_from_slice(b"Q043");
        d.push(1);
        d.extend_from_slice(&[0xab; 12]);
        d.extend_from_slice(&[0xa0, 1]);
        d.extend_from_slice(&(m.len() as u16).to_be_bytes());
        d.extend_from_slice(&m);
        d.extend_from_slice(&[0; 100]);
        assert_eq!(datagram_version(&d), Some(u32::from_be_bytes(*b"Q043")));
        let hello = QuicConnection::new().client_datagram(&d).expect("Q043 CHLO");
        assert!(hello.gquic);
        assert_eq!(hello.sni.as_deref(), Some(&b"www.google.com"[..]));
        assert_eq!(hello.user_agent.as_deref(), Some(&b"Chrome/70"[..]));
        assert_eq!(hello.ja4, "");
        assert_eq!(version_name(hello.version), "Q043");

        // Q033: little-endian length and a private flags byte; an ACK is not read (old
        // layout) but a STOP_WAITING with entropy is skipped.
        let mut d = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8];
        d.extend_from_slice(b"Q033");
        d.push(1);
        d.extend_from_slice(&[0xab; 12]);
        d.push(0); // private flags
        d.extend_from_slice(&[0x06, 0, 1]);
        d.extend_from_slice(&[0xa0, 1]);
        d.extend_from_slice(&(m.len() as u16).to_le_bytes());
        d.extend_from_slice(&m);
        let hello = QuicConnection::new().client_datagram(&d).expect("Q033 CHLO");
        assert_eq!(hello.sni.as_deref(), Some(&b"www.google.com"[..]));
    }

    #[test]
    fn gquic_q046_long_header_with_ack() {
        let m = chlo(&[(b"SNI\0", b"play.google.com"), (b"UAID", b"UA")]);
        let mut d = vec![0xc3];
        d.extend_from_slice(b"Q046");
        d.push(0x50);
        d.extend_from_slice(&[9; 8]);
        d.extend_from_slice(&[0, 0, 0, 4]);
        d.extend_from_slice(&[0xcd; 12]);
        // ACK 0x65: blocks present, 2-byte largest... then one block, no timestamps.
        d.extend_from_slice(&[0x65, 0, 3, 0, 0, 1, 0, 2, 1, 0, 1, 0]);
        // STREAM 0xa4: 2-byte offset (the second CHLO of a connection, at 1024).
        d.extend_from_slice(&[0xa4, 1, 4, 0]);
        d.extend_from_slice(&(m.len() as u16).to_be_bytes());
        d.extend_from_slice(&m);
        let hello = QuicConnection::new().client_datagram(&d).expect("Q046 CHLO");
        assert_eq!(hello.sni.as_deref(), Some(&b"play.google.com"[..]));
        assert_eq!(hello.user_agent.as_deref(), Some(&b"UA"[..]));
    }

    #[test]
    fn chlo_cut_short_or_lying() {
        let m = chlo(&[(b"PAD\0", &[0x2d; 30]), (b"SNI\0", b"a.example"), (b"UAID", b"ua")]);
        for n in 0..m.len() {
            let _ = parse_chlo(&m[..n]);
        }
        // Cut inside the UAID value: the SNI survives.
        assert_eq!(parse_chlo(&m[..m.len() - 1]), Some(Chlo { sni: Some(b"a.example"), user_agent: None }));
        // Offsets that go backwards or past the end stop the walk.
        let mut bad = m.clone();
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_chlo(&bad), Some(Chlo::default()));
        let mut huge = m.clone();
        huge[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        let _ = parse_chlo(&huge);
    }

    #[test]
    fn cheap_rejections() {
        let mut c = QuicConnection::new();
        for d in [&[][..], &[0x40; 30], &[0x00], &[0xc0, 0, 0, 0], &[0x08; 20]] {
            assert_eq!(c.client_datagram(d), None);
        }
        assert_eq!(c.anomalies(), Anomalies::default());
        assert!(c.keys.is_empty() && c.buf.capacity() == 0, "nothing allocated");
        // Idle long enough: stop.
        for _ in 0..MAX_IDLE_DATAGRAMS {
            c.client_datagram(&[0x40; 30]);
        }
        assert!(c.is_done() && c.anomalies().stalled);
    }

    #[test]
    fn hostile_lengths_and_caps() {
        // A hello that declares 16 MB: stopped at once.
        let mut m = vec![1, 0xff, 0xff, 0xff];
        m.extend_from_slice(&[0; 100]);
        let mut c = QuicConnection::new();
        assert_eq!(c.client_datagram(&seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &m))), None);
        assert!(c.is_done() && c.anomalies().crypto_cap_hit);

        // Not a ClientHello.
        let mut c = QuicConnection::new();
        assert_eq!(
            c.client_datagram(&seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &[2, 0, 0, 1, 0]))),
            None
        );
        assert!(c.is_done() && c.anomalies().bad_client_hello);

        // CRYPTO offsets far away and too many pieces: bounded, flagged.
        let mut c = QuicConnection::new();
        let p = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(u64::MAX >> 3, &[1; 10]));
        assert_eq!(c.client_datagram(&p), None);
        assert!(c.anomalies().crypto_cap_hit);
        for i in 0..(MAX_PIECES as u64 + 5) {
            let p = seal_initial(VERSION_1, DCID, DCID, i as u32, &crypto_frame(100 + 10 * i, &[1; 5]));
            c.client_datagram(&p);
        }
        assert!(c.crypto.pieces.len() <= MAX_PIECES);
        assert!(c.crypto.held <= CRYPTO_CAP);

        // A smaller cap: a hello longer than it is not read; one within it is.
        let hello = hello_of(b"x", 10);
        let p = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &hello));
        let mut c = QuicConnection::with_crypto_cap(hello.len() - 1);
        assert_eq!(c.client_datagram(&p), None);
        assert!(c.is_done() && c.anomalies().crypto_cap_hit);
        let mut c = QuicConnection::with_crypto_cap(hello.len());
        assert!(c.client_datagram(&p).is_some() && !c.anomalies().crypto_cap_hit);

        // Key derivations per connection are bounded, whatever the DCIDs.
        let mut c = QuicConnection::new();
        for i in 0..20u8 {
            let cid = [i; 8];
            let mut p = seal_initial(VERSION_1, &cid, &cid, 0, &crypto_frame(0, &[1, 0, 0]));
            let last = p.len() - 1;
            p[last] ^= 1; // spoil the tag
            c.client_datagram(&p);
        }
        assert!(c.keys.len() <= MAX_KEYS);
        assert!(c.anomalies().key_limit_hit);

        // Truncated packets and headers never panic.
        let p = seal_initial(VERSION_1, DCID, DCID, 0, &crypto_frame(0, &hello_of(b"x", 10)));
        for n in 0..p.len() {
            let mut c = QuicConnection::new();
            assert_eq!(c.client_datagram(&p[..n]), None);
        }
    }

    #[test]
    fn ietf_frames_are_bounded() {
        let mut s = CryptoStream::default();
        let mut a = Anomalies::default();
        // ACK with a range count of 2^62 ends with the packet.
        assert!(!ietf_frames(&[0x02, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 1], &mut s, &mut a));
        assert!(ietf_frames(&[0x03, 1, 2, 1, 0, 1, 1, 5, 6, 7, 0x01, 0, 0], &mut s, &mut a));
        assert!(ietf_frames(&[0x1c, 1, 6, 2, b'h', b'i', 0x1d, 0, 0], &mut s, &mut a));
        assert_eq!(a.connection_closes, 2);
        assert!(!ietf_frames(&[0x08, 0, 0], &mut s, &mut a), "STREAM is not allowed in Initial");
        assert!(!ietf_frames(&[0x06, 0, 5, 1], &mut s, &mut a), "cut short");
    }

    #[test]
    fn reassembler_first_copy_wins_and_trims() {
        let mut s = CryptoStream::default();
        s.push(5, b"FGHIJ");
        s.push(5, b"FGH");
        s.push(3, b"dEFG");
        assert_eq!(s.prefix, b"");
        s.push(0, b"ABC");
        assert_eq!(s.prefix, b"ABCdEFGHIJ");
        assert_eq!((s.pieces.len(), s.held), (0, 0));
        s.limit = 12;
        s.push(10, b"KLMNOP");
        assert_eq!(s.prefix, b"ABCdEFGHIJKL");
        assert!(!s.cap_hit, "the hello's end is not the cap");
        let mut s = CryptoStream::default();
        s.push(CRYPTO_CAP as u64 - 2, b"xyz");
        assert!(s.cap_hit);
    }
}

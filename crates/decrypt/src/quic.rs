//! QUIC 1-RTT packet decryption (RFC 9001) with the TLS key log, yielding STREAM frames.
//!
//! A QUIC connection's application data travels in short-header packets protected with keys
//! derived from the same `CLIENT_TRAFFIC_SECRET_0` / `SERVER_TRAFFIC_SECRET_0` as TLS 1.3,
//! with the labels "quic key", "quic iv", "quic hp" (QUIC v2: "quicv2 ..."). The key log is
//! looked up by the ClientHello random, which the caller takes from the client's Initial
//! packets (`phonehome_protocols::quic` decrypts them: `QuicHello::client_hello.random`).
//!
//! [`QuicDecryptor`] is one UDP flow. Feed it every datagram of both directions; it learns the
//! connection ID lengths and the version from long-header packets (short headers do not say
//! how long their connection ID is), skips long-header packets (Initial and Handshake keys are
//! not needed for application data), removes header protection from short-header packets,
//! reconstructs packet numbers, follows key phase changes ("quic ku"), decrypts, and hands on
//! each STREAM frame as it comes, with its offset: stream reassembly (QUIC reorders and
//! retransmits) is the HTTP/3 layer's job, as TCP reassembly is before [`crate::TlsDecryptor`].
//!
//! Client 0-RTT packets are decrypted too when `CLIENT_EARLY_TRAFFIC_SECRET` is logged.
//!
//! Suites: the server's choice travels encrypted (Handshake packets), so it is found by trial:
//! a 48-byte secret is TLS_AES_256_GCM_SHA384, a 32-byte one TLS_AES_128_GCM_SHA256.
//! TLS_CHACHA20_POLY1305_SHA256 (ChaCha20 header protection) is not done: such connections end
//! as [`QuicStatus::AuthenticationFailed`]. Versions: 1 and 2 (and drafts 29-34, which use v1
//! labels). Connection migration to a connection ID of another length is not followed.

use phonehome_model::Direction;

use crate::crypto::QuicKeys;
use crate::keylog::{KeyLog, Label};
use crate::suites::{BulkCipher, PrfHash};

/// QUIC version 2 (RFC 9369).
const VERSION_2: u32 = 0x6b33_43cf;
/// Datagrams whose 1-RTT packets fail before the first one opens, before giving up.
const MAX_FAILURES_BEFORE_FIRST: u32 = 16;

/// Why a QUIC flow is not (or no longer) decrypted, or that it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuicStatus {
    /// No short-header packet seen yet, or no client random given yet.
    Waiting,
    /// 1-RTT packets are being decrypted.
    Decrypting,
    /// A 1-RTT packet came before the client random ([`QuicDecryptor::set_client_random`]);
    /// checked again at every packet.
    MissingClientHello,
    /// The key log has no traffic secrets for this client random (so far: looked up again at
    /// every packet, as a DSB may come late).
    NoKey,
    /// Short-header packets came before any long header told the connection ID length.
    MissingHandshake,
    /// No packet opened with the logged secrets (wrong key, or ChaCha20-Poly1305).
    AuthenticationFailed,
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicStats {
    /// Short-header packets seen.
    pub packets: u64,
    /// Packets decrypted.
    pub decrypted: u64,
    /// Packets that did not authenticate (skipped).
    pub auth_failures: u64,
    /// Key phase changes followed.
    pub key_updates: u64,
    /// Client 0-RTT packets decrypted.
    pub early_packets: u64,
    /// STREAM bytes delivered.
    pub stream_bytes: u64,
    /// Packets whose frames did not parse to the end (the rest of the packet was skipped).
    pub bad_frames: u64,
}

/// What the decryptor hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum QuicOutput<'a> {
    /// A STREAM frame: `data` at `offset` of stream `stream_id`; `fin` ends the stream.
    Stream { dir: Direction, stream_id: u64, offset: u64, data: &'a [u8], fin: bool },
    /// A DATAGRAM frame (RFC 9221).
    Datagram { dir: Direction, data: &'a [u8] },
}

#[derive(Default)]
struct Half {
    /// Length of the destination connection ID of this direction's short headers.
    dcid_len: Option<usize>,
    keys: Option<(QuicKeys, bool)>,
    next: Option<QuicKeys>,
    largest_pn: Option<u64>,
    stats: QuicStats,
}

/// One QUIC connection's 1-RTT decryption state. See the module docs.
pub struct QuicDecryptor {
    halves: [Half; 2],
    client_random: Option<[u8; 32]>,
    version: u32,
    cipher: Option<(BulkCipher, PrfHash)>,
    early: Option<QuicKeys>,
    status: QuicStatus,
    failures: u32,
    buf: Vec<u8>,
}

impl Default for QuicDecryptor {
    fn default() -> Self {
        QuicDecryptor::new()
    }
}

impl std::fmt::Debug for QuicDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicDecryptor")
            .field("version", &self.version)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn idx(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl QuicDecryptor {
    /// A decryptor for one QUIC connection.
    pub fn new() -> QuicDecryptor {
        QuicDecryptor {
            halves: Default::default(),
            client_random: None,
            version: 1,
            cipher: None,
            early: None,
            status: QuicStatus::Waiting,
            failures: 0,
            buf: Vec::new(),
        }
    }

    /// The ClientHello random of the connection (from its client Initial packets).
    pub fn set_client_random(&mut self, random: [u8; 32]) {
        self.client_random = Some(random);
    }

    /// Where decryption stands.
    pub fn status(&self) -> QuicStatus {
        self.status
    }

    /// Counters of one direction.
    pub fn stats(&self, dir: Direction) -> QuicStats {
        self.halves[idx(dir)].stats
    }

    /// Feeds one UDP datagram of `dir` (`ToServer`: from the client).
    pub fn datagram<F: FnMut(QuicOutput<'_>)>(&mut self, dir: Direction, datagram: &[u8], keys: &KeyLog, mut out: F) {
        let i = idx(dir);
        let mut rest = datagram;
        while let Some(&first) = rest.first() {
            if first & 0x80 == 0 {
                self.short_packet(i, dir, rest, keys, &mut out);
                return;
            }
            match self.long_packet(i, rest) {
                Some((len, zero_rtt)) => {
                    if let Some(pn_offset) = zero_rtt.filter(|_| i == 0) {
                        self.early_packet(dir, &rest[..len], pn_offset, keys, &mut out);
                    }
                    rest = &rest[len..];
                }
                None => return,
            }
        }
    }

    /// Learns from a long header; returns the packet's length and, for a 0-RTT packet, where
    /// its packet number starts (None: stop reading the datagram).
    fn long_packet(&mut self, i: usize, p: &[u8]) -> Option<(usize, Option<usize>)> {
        let version = u32::from_be_bytes(p.get(1..5)?.try_into().ok()?);
        if version == 0 {
            return None; // version negotiation
        }
        let dcid_len = usize::from(*p.get(5)?);
        let scid_len = usize::from(*p.get(6 + dcid_len)?);
        if dcid_len > 20 || scid_len > 20 {
            return None;
        }
        // Packets the other side sends in short headers carry this side's source CID.
        self.halves[1 - i].dcid_len = Some(scid_len);
        self.version = version;
        let mut at = 7 + dcid_len + scid_len;
        let ty = (p[0] >> 4) & 3;
        let (initial, zero_rtt, retry) =
            if version == VERSION_2 { (ty == 1, ty == 2, ty == 0) } else { (ty == 0, ty == 1, ty == 3) };
        if retry {
            return None;
        }
        if initial {
            let (token_len, n) = varint(p.get(at..)?)?;
            at = at.checked_add(n)?.checked_add(usize::try_from(token_len).ok()?)?;
        }
        let (len, n) = varint(p.get(at..)?)?;
        let end = at.checked_add(n)?.checked_add(usize::try_from(len).ok()?)?;
        (end <= p.len()).then_some((end, zero_rtt.then_some(at + n)))
    }

    /// A client 0-RTT packet: keys from `CLIENT_EARLY_TRAFFIC_SECRET`, same packet number
    /// space as 1-RTT (RFC 9001 §5.3). Header protection masks 4 bits of a long header.
    fn early_packet(
        &mut self,
        dir: Direction,
        p: &[u8],
        pn_offset: usize,
        keys: &KeyLog,
        out: &mut dyn FnMut(QuicOutput<'_>),
    ) {
        let Some(random) = self.client_random else { return };
        if self.early.is_none() {
            let Some(secret) = keys.secret(&random, Label::ClientEarlyTraffic) else { return };
            let (c, h) = if secret.as_bytes().len() == 48 {
                (BulkCipher::Aes256Gcm, PrfHash::Sha384)
            } else {
                (BulkCipher::Aes128Gcm, PrfHash::Sha256)
            };
            self.early = QuicKeys::new(c, h, secret.as_bytes(), self.version == VERSION_2);
        }
        let Some(k) = self.early.as_ref() else { return };
        let Some(sample) = p.get(pn_offset + 4..pn_offset + 20) else { return };
        let mask = k.mask(sample.try_into().expect("16 bytes"));
        let first = p[0] ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 3) + 1;
        let header_len = pn_offset + pn_len;
        if p.len() < header_len + 16 {
            return;
        }
        let half = &mut self.halves[0];
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(p);
        buf[0] = first;
        let mut truncated = 0u64;
        for k in 0..pn_len {
            buf[pn_offset + k] ^= mask[1 + k];
            truncated = truncated << 8 | u64::from(buf[pn_offset + k]);
        }
        let pn = decode_pn(half.largest_pn, truncated, pn_len);
        let (aad, payload) = buf.split_at_mut(header_len);
        if !k.open(pn, aad, payload) {
            half.stats.auth_failures += 1;
            return;
        }
        half.stats.early_packets += 1;
        half.largest_pn = Some(half.largest_pn.map_or(pn, |l| l.max(pn)));
        let end = payload.len() - 16;
        if frames(&payload[..end], dir, &mut half.stats, out).is_none() {
            half.stats.bad_frames += 1;
        }
    }

    fn short_packet(&mut self, i: usize, dir: Direction, p: &[u8], keys: &KeyLog, out: &mut dyn FnMut(QuicOutput<'_>)) {
        self.halves[i].stats.packets += 1;
        // Only a failure to authenticate is final: the client random and the keys (a DSB
        // written late) may still come.
        if self.status == QuicStatus::AuthenticationFailed {
            return;
        }
        let Some(dcid_len) = self.halves[i].dcid_len else {
            self.status = QuicStatus::MissingHandshake;
            return;
        };
        let Some(random) = self.client_random else {
            self.status = QuicStatus::MissingClientHello;
            return;
        };
        if self.halves[i].keys.is_none() {
            let label = if i == 0 { Label::ClientTraffic0 } else { Label::ServerTraffic0 };
            let Some(secret) = keys.secret(&random, label) else {
                self.status = QuicStatus::NoKey;
                return;
            };
            let candidates: &[(BulkCipher, PrfHash)] = match (self.cipher, secret.as_bytes().len()) {
                (Some(c), _) => &[c][..],
                (None, 48) => &[(BulkCipher::Aes256Gcm, PrfHash::Sha384)],
                (None, _) => &[(BulkCipher::Aes128Gcm, PrfHash::Sha256)],
            };
            let v2 = self.version == VERSION_2;
            let found =
                candidates.iter().find_map(|&(c, h)| QuicKeys::new(c, h, secret.as_bytes(), v2).map(|k| (c, h, k)));
            let Some((c, h, k)) = found else {
                self.status = QuicStatus::NoKey;
                return;
            };
            self.cipher = Some((c, h));
            self.halves[i].keys = Some((k, false));
        }
        let pn_offset = 1 + dcid_len;
        let Some(sample) = p.get(pn_offset + 4..pn_offset + 20) else { return };
        let other_decrypted = self.halves[1 - i].stats.decrypted;
        let half = &mut self.halves[i];
        let (keys_now, phase) = half.keys.as_ref().expect("set above");
        let mask = keys_now.mask(sample.try_into().expect("16 bytes"));
        let first = p[0] ^ (mask[0] & 0x1f);
        let pn_len = usize::from(first & 3) + 1;
        let header_len = pn_offset + pn_len;
        if p.len() < header_len + 16 {
            return;
        }
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(p);
        buf[0] = first;
        let mut truncated = 0u64;
        for k in 0..pn_len {
            buf[pn_offset + k] ^= mask[1 + k];
            truncated = truncated << 8 | u64::from(buf[pn_offset + k]);
        }
        let pn = decode_pn(half.largest_pn, truncated, pn_len);
        let key_phase = first & 0x04 != 0;
        let cipher = self.cipher.expect("set with the keys").0;
        let (aad, payload) = buf.split_at_mut(header_len);
        let opened = if key_phase == *phase {
            keys_now.open(pn, aad, payload)
        } else {
            // A new key phase: the next generation of keys (RFC 9001 §6).
            if half.next.is_none() {
                half.next = keys_now.next(cipher);
            }
            let ok = half.next.as_ref().is_some_and(|n| n.open(pn, aad, payload));
            if ok {
                let n = half.next.take().expect("just used");
                half.keys = Some((n, key_phase));
                half.stats.key_updates += 1;
            }
            ok
        };
        if !opened {
            half.stats.auth_failures += 1;
            if half.stats.decrypted == 0 && other_decrypted == 0 {
                self.failures += 1;
                if self.failures >= MAX_FAILURES_BEFORE_FIRST {
                    self.status = QuicStatus::AuthenticationFailed;
                }
            }
            return;
        }
        half.stats.decrypted += 1;
        half.largest_pn = Some(half.largest_pn.map_or(pn, |l| l.max(pn)));
        self.status = QuicStatus::Decrypting;
        let end = payload.len() - 16;
        if frames(&payload[..end], dir, &mut half.stats, out).is_none() {
            half.stats.bad_frames += 1;
        }
    }
}

/// RFC 9000 §A.3.
fn decode_pn(largest: Option<u64>, truncated: u64, len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << (8 * len);
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate + hwin <= expected && candidate < (1 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// A QUIC variable-length integer and its length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for x in &bytes[1..] {
        v = v << 8 | u64::from(*x);
    }
    Some((v, len))
}

/// Walks the frames of a decrypted payload (RFC 9000 §19), handing on STREAM and DATAGRAM
/// frames. `None` when a frame is cut short or unknown (the rest is skipped).
fn frames(mut p: &[u8], dir: Direction, stats: &mut QuicStats, out: &mut dyn FnMut(QuicOutput<'_>)) -> Option<()> {
    fn v(p: &mut &[u8]) -> Option<u64> {
        let (x, n) = varint(p)?;
        *p = &p[n..];
        Some(x)
    }
    fn skip(p: &mut &[u8], n: u64) -> Option<()> {
        let n = usize::try_from(n).ok()?;
        *p = p.get(n..)?;
        Some(())
    }
    while !p.is_empty() {
        let ty = v(&mut p)?;
        match ty {
            0x00 | 0x01 | 0x1e => {}
            0x02 | 0x03 => {
                v(&mut p)?;
                v(&mut p)?;
                let ranges = v(&mut p)?;
                v(&mut p)?;
                for _ in 0..ranges {
                    v(&mut p)?;
                    v(&mut p)?;
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        v(&mut p)?;
                    }
                }
            }
            0x04 => {
                for _ in 0..3 {
                    v(&mut p)?;
                }
            }
            0x05 | 0x11 | 0x15 => {
                v(&mut p)?;
                v(&mut p)?;
            }
            0x06 => {
                v(&mut p)?;
                let len = v(&mut p)?;
                skip(&mut p, len)?;
            }
            0x07 => {
                let len = v(&mut p)?;
                skip(&mut p, len)?;
            }
            0x08..=0x0f => {
                let stream_id = v(&mut p)?;
                let offset = if ty & 0x04 != 0 { v(&mut p)? } else { 0 };
                let len = if ty & 0x02 != 0 { usize::try_from(v(&mut p)?).ok()? } else { p.len() };
                let data = p.get(..len)?;
                p = &p[len..];
                stats.stream_bytes += data.len() as u64;
                out(QuicOutput::Stream { dir, stream_id, offset, data, fin: ty & 0x01 != 0 });
            }
            0x10 | 0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x19 => {
                v(&mut p)?;
            }
            0x18 => {
                v(&mut p)?;
                v(&mut p)?;
                let len = u64::from(*p.first()?);
                skip(&mut p, 1 + len + 16)?;
            }
            0x1a | 0x1b => skip(&mut p, 8)?,
            0x1c | 0x1d => {
                v(&mut p)?;
                if ty == 0x1c {
                    v(&mut p)?;
                }
                let len = v(&mut p)?;
                skip(&mut p, len)?;
            }
            // Extensions seen in real traffic: IMMEDIATE_ACK and ACK_FREQUENCY
            // (draft-ietf-quic-ack-frequency), picoquic's TIME_STAMP (draft-huitema-quic-ts).
            0x1f => {}
            0xaf => {
                for _ in 0..4 {
                    v(&mut p)?;
                }
            }
            0x2f5 => {
                v(&mut p)?;
            }
            0x30 | 0x31 => {
                let len = if ty == 0x31 { usize::try_from(v(&mut p)?).ok()? } else { p.len() };
                let data = p.get(..len)?;
                p = &p[len..];
                out(QuicOutput::Datagram { dir, data });
            }
            _ => return None,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §A.3's example.
    #[test]
    fn packet_number_reconstruction() {
        assert_eq!(decode_pn(Some(0xa82f30ea), 0x9b32, 2), 0xa82f9b32);
        assert_eq!(decode_pn(None, 0, 1), 0);
        assert_eq!(decode_pn(Some(255), 1, 1), 257);
    }

    /// RFC 9001 §A.5: ChaCha20 is not done, but its secret's AES-GCM key derivation is the
    /// same HKDF; check "quic key"/"quic iv"/"quic hp" with §A.1's client Initial secret.
    #[test]
    fn rfc9001_initial_key_derivation() {
        let secret: Vec<u8> = (0..32)
            .map(|i| {
                u8::from_str_radix(
                    &"c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"[2 * i..2 * i + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        let k = QuicKeys::new(BulkCipher::Aes128Gcm, PrfHash::Sha256, &secret, false).unwrap();
        let sample: [u8; 16] =
            [0xd1, 0xb1, 0xc9, 0x8d, 0xd7, 0x68, 0x9f, 0xb8, 0xec, 0x11, 0xd2, 0x42, 0xb1, 0x23, 0xdc, 0x9b];
        assert_eq!(k.mask(&sample)[..5], [0x43, 0x7b, 0x9a, 0xec, 0x36]);
    }
}

//! Key derivation (TLS 1.0-1.2 PRF, TLS 1.3 HKDF-Expand-Label) and record protection.
//!
//! All primitives are RustCrypto (aead 0.6 / cipher 0.5 / digest 0.11 generation). Nothing here
//! allocates per record: ciphers are keyed once per key epoch and records are decrypted in place.

use std::ops::Range;

use aes::cipher::array::Array;
use aes::cipher::{BlockCipherEncrypt, BlockModeDecrypt, InnerIvInit, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::Ccm;
use ccm::consts::{U8, U12, U16};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

use crate::keylog::Secret;
use crate::suites::{BulkCipher, MacHash, PrfHash, Suite};

/// TLS 1.2 PRF (RFC 5246 §5) with the suite's hash.
pub(crate) fn prf12(hash: PrfHash, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    match hash {
        PrfHash::Sha256 => p_hash::<Hmac<Sha256>>(secret, label, seed, out, false),
        PrfHash::Sha384 => p_hash::<Hmac<Sha384>>(secret, label, seed, out, false),
    }
}

/// TLS 1.0/1.1 PRF (RFC 2246 §5): P_MD5 over the first half of the secret XOR P_SHA1 over the
/// second half (the halves share the middle byte when the length is odd).
pub(crate) fn prf10(secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let half = secret.len().div_ceil(2);
    p_hash::<Hmac<md5::Md5>>(&secret[..half], label, seed, out, false);
    p_hash::<Hmac<Sha1>>(&secret[secret.len() - half..], label, seed, out, true);
}

/// P_hash (RFC 5246 §5); `xor` combines into `out` instead of overwriting it.
fn p_hash<M: Mac + hmac::KeyInit + Clone>(secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8], xor: bool) {
    let keyed = <M as hmac::KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    // A(1) = HMAC(secret, label + seed)
    let mut m = keyed.clone();
    m.update(label);
    for s in seed {
        m.update(s);
    }
    let mut a = m.finalize().into_bytes();
    let mut done = 0;
    while done < out.len() {
        let mut m = keyed.clone();
        m.update(&a);
        m.update(label);
        for s in seed {
            m.update(s);
        }
        let block = m.finalize().into_bytes();
        let n = block.len().min(out.len() - done);
        for (o, b) in out[done..done + n].iter_mut().zip(&block[..n]) {
            *o = if xor { *o ^ b } else { *b };
        }
        done += n;
        let mut m = keyed.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, from a secret used as the PRK.
/// `None` when the secret is shorter than the hash (a key log line for another suite).
pub(crate) fn expand_label(hash: PrfHash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let mut info = [0u8; 2 + 1 + 6 + 32 + 1];
    let n = 2 + 1 + 6 + label.len() + 1;
    info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
    info[2] = (6 + label.len()) as u8;
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label);
    info[n - 1] = 0;
    match hash {
        PrfHash::Sha256 => Hkdf::<Sha256>::from_prk(secret).ok()?.expand(&info[..n], out).ok(),
        PrfHash::Sha384 => Hkdf::<Sha384>::from_prk(secret).ok()?.expand(&info[..n], out).ok(),
    }
}

/// Why a record did not decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// Shorter than its nonce, tag, IV or MAC, or not a whole number of blocks.
    TooShort,
    /// AEAD tag or HMAC mismatch, or CBC padding bytes that are not all equal.
    BadAuth,
}

enum Aead {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Aes128Ccm(Box<Ccm<Aes128, U16, U12>>),
    Aes256Ccm(Box<Ccm<Aes256, U16, U12>>),
    Aes128Ccm8(Box<Ccm<Aes128, U8, U12>>),
    Aes256Ccm8(Box<Ccm<Aes256, U8, U12>>),
}

impl Aead {
    fn new(cipher: BulkCipher, key: &[u8]) -> Option<Aead> {
        Some(match cipher {
            BulkCipher::Aes128Gcm => Aead::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            BulkCipher::Aes256Gcm => Aead::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            BulkCipher::ChaCha20Poly1305 => Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?)),
            BulkCipher::Aes128Ccm => Aead::Aes128Ccm(Box::new(Ccm::new_from_slice(key).ok()?)),
            BulkCipher::Aes256Ccm => Aead::Aes256Ccm(Box::new(Ccm::new_from_slice(key).ok()?)),
            BulkCipher::Aes128Ccm8 => Aead::Aes128Ccm8(Box::new(Ccm::new_from_slice(key).ok()?)),
            BulkCipher::Aes256Ccm8 => Aead::Aes256Ccm8(Box::new(Ccm::new_from_slice(key).ok()?)),
            BulkCipher::Aes128Cbc | BulkCipher::Aes256Cbc => return None,
        })
    }

    fn tag_len(&self) -> usize {
        match self {
            Aead::Aes128Ccm8(_) | Aead::Aes256Ccm8(_) => 8,
            _ => 16,
        }
    }

    /// Decrypts `buf` (ciphertext followed by the tag) in place; the plaintext is
    /// `buf[..len - tag_len]`.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<(), RecordError> {
        let tag_len = self.tag_len();
        let split = buf.len().checked_sub(tag_len).ok_or(RecordError::TooShort)?;
        let (ct, tag) = buf.split_at_mut(split);
        let nonce = Array::from(*nonce);
        let r = match self {
            Aead::Aes128Gcm(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag16(tag)),
            Aead::Aes256Gcm(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag16(tag)),
            Aead::ChaCha(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag16(tag)),
            Aead::Aes128Ccm(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag16(tag)),
            Aead::Aes256Ccm(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag16(tag)),
            Aead::Aes128Ccm8(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag8(tag)),
            Aead::Aes256Ccm8(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), tag8(tag)),
        };
        r.map_err(|_| RecordError::BadAuth)
    }
}

fn tag16(tag: &[u8]) -> &Array<u8, U16> {
    Array::slice_as_array(tag).expect("split at the tag length")
}

fn tag8(tag: &[u8]) -> &Array<u8, U8> {
    Array::slice_as_array(tag).expect("split at the tag length")
}

enum Block {
    Aes128(Box<Aes128>),
    Aes256(Box<Aes256>),
}

enum HmacKey {
    Sha1(Box<Hmac<Sha1>>),
    Sha256(Box<Hmac<Sha256>>),
    Sha384(Box<Hmac<Sha384>>),
}

impl HmacKey {
    fn new(mac: MacHash, key: &[u8]) -> Option<HmacKey> {
        Some(match mac {
            MacHash::Sha1 => HmacKey::Sha1(Box::new(Hmac::new_from_slice(key).ok()?)),
            MacHash::Sha256 => HmacKey::Sha256(Box::new(Hmac::new_from_slice(key).ok()?)),
            MacHash::Sha384 => HmacKey::Sha384(Box::new(Hmac::new_from_slice(key).ok()?)),
            MacHash::None => return None,
        })
    }

    fn len(&self) -> usize {
        match self {
            HmacKey::Sha1(_) => 20,
            HmacKey::Sha256(_) => 32,
            HmacKey::Sha384(_) => 48,
        }
    }

    /// Whether HMAC(header || parts) equals `expected`.
    fn verify(&self, header: &[u8; 13], body: &[u8], expected: &[u8]) -> bool {
        fn run<M: Mac + Clone>(m: &M, header: &[u8], body: &[u8], expected: &[u8]) -> bool {
            let mut m = m.clone();
            m.update(header);
            m.update(body);
            m.verify_slice(expected).is_ok()
        }
        match self {
            HmacKey::Sha1(m) => run(m.as_ref(), header, body, expected),
            HmacKey::Sha256(m) => run(m.as_ref(), header, body, expected),
            HmacKey::Sha384(m) => run(m.as_ref(), header, body, expected),
        }
    }
}

enum Protection {
    /// TLS 1.3 (every AEAD) and TLS 1.2 ChaCha20-Poly1305: nonce = IV XOR sequence number.
    XorNonce { aead: Aead, iv: [u8; 12] },
    /// TLS 1.2 GCM and CCM: nonce = 4-byte salt || 8-byte explicit nonce sent first in the record.
    ExplicitNonce { aead: Aead, salt: [u8; 4] },
    /// AES-CBC with an HMAC, MAC-then-encrypt or encrypt-then-MAC (RFC 7366). `iv` is the TLS
    /// 1.0 chained IV (the last ciphertext block of the previous record); TLS 1.1+ send one per
    /// record.
    Cbc { block: Block, mac: HmacKey, etm: bool, iv: Option<[u8; 16]> },
}

/// One direction's record protection for one key epoch, with its sequence number.
pub(crate) struct RecordKeys {
    protection: Protection,
    tls13: bool,
    /// Next record's sequence number.
    pub(crate) seq: u64,
}

/// A decrypted record: the content type and where the plaintext lies in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    pub(crate) content_type: u8,
    pub(crate) plaintext: Range<usize>,
    /// CBC MAC-then-encrypt records whose padding was fine but whose MAC did not match are
    /// still delivered when lenient; this says it happened.
    pub(crate) mac_mismatch: bool,
}

impl RecordKeys {
    /// TLS 1.3 keys from a traffic secret (RFC 8446 §7.3).
    pub(crate) fn tls13(suite: &Suite, secret: &[u8]) -> Option<RecordKeys> {
        if secret.len() != suite.prf.output_len() {
            return None;
        }
        let mut key = [0u8; 32];
        let key = &mut key[..suite.cipher.key_len()];
        let mut iv = [0u8; 12];
        expand_label(suite.prf, secret, b"key", key)?;
        expand_label(suite.prf, secret, b"iv", &mut iv)?;
        Some(RecordKeys {
            protection: Protection::XorNonce { aead: Aead::new(suite.cipher, key)?, iv },
            tls13: true,
            seq: 0,
        })
    }

    /// TLS 1.0-1.2 keys of one side from a master secret (RFC 5246 §6.3). `version` is the
    /// negotiated one (0x0301..=0x0303); `etm` says encrypt-then-MAC was negotiated.
    pub(crate) fn tls12(
        suite: &Suite,
        version: u16,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        client_side: bool,
        etm: bool,
    ) -> Option<RecordKeys> {
        let cbc = suite.mac != MacHash::None;
        let mac_len = suite.mac.output_len();
        let key_len = suite.cipher.key_len();
        let iv_len = match suite.cipher {
            BulkCipher::ChaCha20Poly1305 => 12,
            BulkCipher::Aes128Cbc | BulkCipher::Aes256Cbc => 16,
            _ => 4,
        };
        let mut block = [0u8; 2 * (48 + 32 + 16)];
        let total = 2 * (mac_len + key_len + iv_len);
        let block = &mut block[..total];
        let seed: [&[u8]; 2] = [server_random, client_random];
        if version < 0x0303 {
            if !cbc {
                return None;
            }
            prf10(master, b"key expansion", &seed, block);
        } else {
            prf12(suite.prf, master, b"key expansion", &seed, block);
        }
        let side = usize::from(!client_side);
        let mac_key = &block[side * mac_len..][..mac_len];
        let key = &block[2 * mac_len + side * key_len..][..key_len];
        let iv = &block[2 * mac_len + 2 * key_len + side * iv_len..][..iv_len];
        let protection = if cbc {
            let block = match suite.cipher {
                BulkCipher::Aes128Cbc => Block::Aes128(Box::new(Aes128::new_from_slice(key).ok()?)),
                _ => Block::Aes256(Box::new(Aes256::new_from_slice(key).ok()?)),
            };
            let chained = (version == 0x0301).then(|| iv.try_into().expect("16 bytes"));
            Protection::Cbc { block, mac: HmacKey::new(suite.mac, mac_key)?, etm, iv: chained }
        } else if suite.cipher == BulkCipher::ChaCha20Poly1305 {
            Protection::XorNonce { aead: Aead::new(suite.cipher, key)?, iv: iv.try_into().ok()? }
        } else {
            Protection::ExplicitNonce { aead: Aead::new(suite.cipher, key)?, salt: iv.try_into().ok()? }
        };
        Some(RecordKeys { protection, tls13: false, seq: 0 })
    }

    /// Decrypts one record in place. `header` is the 5-byte record header, `body` its
    /// fragment. On success the sequence number advances; on failure it does not, so the
    /// caller may try other keys (TLS 1.3 early data) on the same record.
    pub(crate) fn open(&mut self, header: &[u8; 5], body: &mut [u8], lenient_mac: bool) -> Result<Opened, RecordError> {
        let seq = self.seq.to_be_bytes();
        let opened = match &mut self.protection {
            Protection::XorNonce { aead, iv } => {
                let mut nonce = *iv;
                for (n, s) in nonce[4..].iter_mut().zip(seq) {
                    *n ^= s;
                }
                if self.tls13 {
                    aead.open(&nonce, header, body)?;
                    let end = body.len() - aead.tag_len();
                    // The real content type is the last non-zero byte (RFC 8446 §5.4).
                    let Some(at) = body[..end].iter().rposition(|b| *b != 0) else {
                        return Err(RecordError::TooShort);
                    };
                    Opened { content_type: body[at], plaintext: 0..at, mac_mismatch: false }
                } else {
                    let len = body.len().checked_sub(aead.tag_len()).ok_or(RecordError::TooShort)?;
                    aead.open(&nonce, &aad12(&seq, header, len), body)?;
                    Opened { content_type: header[0], plaintext: 0..len, mac_mismatch: false }
                }
            }
            Protection::ExplicitNonce { aead, salt } => {
                let len = body.len().checked_sub(8 + aead.tag_len()).ok_or(RecordError::TooShort)?;
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(salt);
                nonce[4..].copy_from_slice(&body[..8]);
                aead.open(&nonce, &aad12(&seq, header, len), &mut body[8..])?;
                Opened { content_type: header[0], plaintext: 8..8 + len, mac_mismatch: false }
            }
            Protection::Cbc { block, mac, etm, iv } => open_cbc(block, mac, *etm, iv, &seq, header, body, lenient_mac)?,
        };
        self.seq = self.seq.wrapping_add(1);
        Ok(opened)
    }
}

/// QUIC packet protection from a TLS 1.3 traffic secret (RFC 9001 §5.1): AEAD key and IV
/// ("quic key", "quic iv", or "quicv2 ..." for QUIC v2) and the AES header protection key
/// ("quic hp"). AES-GCM suites only.
pub(crate) struct QuicKeys {
    aead: Aead,
    iv: [u8; 12],
    hp: Block,
    /// The secret these keys came from, for key updates ("quic ku").
    secret: Secret,
    hash: PrfHash,
    v2: bool,
}

impl QuicKeys {
    pub(crate) fn new(cipher: BulkCipher, hash: PrfHash, secret: &[u8], v2: bool) -> Option<QuicKeys> {
        let (l_key, l_iv, l_hp): (&[u8], &[u8], &[u8]) =
            if v2 { (b"quicv2 key", b"quicv2 iv", b"quicv2 hp") } else { (b"quic key", b"quic iv", b"quic hp") };
        let mut key = [0u8; 32];
        let key = &mut key[..cipher.key_len()];
        let mut hp = [0u8; 32];
        let hp = &mut hp[..cipher.key_len()];
        let mut iv = [0u8; 12];
        expand_label(hash, secret, l_key, key)?;
        expand_label(hash, secret, l_iv, &mut iv)?;
        expand_label(hash, secret, l_hp, hp)?;
        let hp = match cipher {
            BulkCipher::Aes128Gcm => Block::Aes128(Box::new(Aes128::new_from_slice(hp).ok()?)),
            BulkCipher::Aes256Gcm => Block::Aes256(Box::new(Aes256::new_from_slice(hp).ok()?)),
            _ => return None,
        };
        Some(QuicKeys { aead: Aead::new(cipher, key)?, iv, hp, secret: Secret::new(secret)?, hash, v2 })
    }

    /// The next key phase's packet keys (RFC 9001 §6.1); header protection does not change.
    pub(crate) fn next(&self, cipher: BulkCipher) -> Option<QuicKeys> {
        let label: &[u8] = if self.v2 { b"quicv2 ku" } else { b"quic ku" };
        let mut next = [0u8; 48];
        let next = &mut next[..self.hash.output_len()];
        expand_label(self.hash, self.secret.as_bytes(), label, next)?;
        let mut k = QuicKeys::new(cipher, self.hash, next, self.v2)?;
        k.hp = match &self.hp {
            Block::Aes128(c) => Block::Aes128(c.clone()),
            Block::Aes256(c) => Block::Aes256(c.clone()),
        };
        Some(k)
    }

    /// The header protection mask for a 16-byte sample.
    pub(crate) fn mask(&self, sample: &[u8; 16]) -> [u8; 16] {
        let mut b = Array::from(*sample);
        match &self.hp {
            Block::Aes128(c) => c.encrypt_block(&mut b),
            Block::Aes256(c) => c.encrypt_block(&mut b),
        }
        b.into()
    }

    /// Decrypts a packet payload in place (ciphertext followed by the 16-byte tag).
    pub(crate) fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> bool {
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        self.aead.open(&nonce, header, payload).is_ok()
    }
}

/// Additional data of TLS 1.0-1.2 (RFC 5246 §6.2.3.3): seq || type || version || length.
fn aad12(seq: &[u8; 8], header: &[u8; 5], len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(seq);
    aad[8..11].copy_from_slice(&header[..3]);
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

#[allow(clippy::too_many_arguments)]
fn open_cbc(
    block: &Block,
    mac: &HmacKey,
    etm: bool,
    chained_iv: &mut Option<[u8; 16]>,
    seq: &[u8; 8],
    header: &[u8; 5],
    body: &mut [u8],
    lenient_mac: bool,
) -> Result<Opened, RecordError> {
    let mac_len = mac.len();
    // Encrypt-then-MAC: the MAC covers IV and ciphertext and is checked first.
    let enc_len = if etm { body.len().checked_sub(mac_len).ok_or(RecordError::TooShort)? } else { body.len() };
    if etm {
        let (enc, tag) = body.split_at(enc_len);
        if !mac.verify(&aad12(seq, header, enc_len), enc, tag) {
            return Err(RecordError::BadAuth);
        }
    }
    let explicit = chained_iv.is_none();
    let iv_len = if explicit { 16 } else { 0 };
    let enc = &mut body[..enc_len];
    if enc.len() < iv_len + 16 || !enc.len().is_multiple_of(16) {
        return Err(RecordError::TooShort);
    }
    let (iv, ct) = enc.split_at_mut(iv_len);
    let iv: [u8; 16] = match chained_iv {
        Some(chained) => {
            let iv = *chained;
            chained.copy_from_slice(&ct[ct.len() - 16..]);
            iv
        }
        None => iv.try_into().expect("16 bytes"),
    };
    let (blocks, _) = Array::slice_as_chunks_mut(ct);
    match block {
        Block::Aes128(c) => cbc::Decryptor::inner_iv_init((**c).clone(), &iv.into()).decrypt_blocks(blocks),
        Block::Aes256(c) => cbc::Decryptor::inner_iv_init((**c).clone(), &iv.into()).decrypt_blocks(blocks),
    }
    let pad = usize::from(ct[ct.len() - 1]);
    let mac_in = if etm { 0 } else { mac_len };
    let Some(content_len) = ct.len().checked_sub(pad + 1 + mac_in) else {
        return Err(RecordError::BadAuth);
    };
    if ct[content_len + mac_in..ct.len() - 1].iter().any(|b| usize::from(*b) != pad) {
        return Err(RecordError::BadAuth);
    }
    let mut mac_mismatch = false;
    if !etm {
        let (content, rest) = ct.split_at(content_len);
        if !mac.verify(&aad12(seq, header, content_len), content, &rest[..mac_len]) {
            if !lenient_mac {
                return Err(RecordError::BadAuth);
            }
            mac_mismatch = true;
        }
    }
    Ok(Opened { content_type: header[0], plaintext: iv_len..iv_len + content_len, mac_mismatch })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): server handshake traffic secret to key and IV.
    #[test]
    fn rfc8448_handshake_keys() {
        let secret =
            unhex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(PrfHash::Sha256, &secret, b"key", &mut key).unwrap();
        expand_label(PrfHash::Sha256, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(key.to_vec(), unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        assert_eq!(iv.to_vec(), unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    /// RFC 8448 §3: the server's first application data key from its traffic secret.
    #[test]
    fn rfc8448_application_keys() {
        let secret =
            unhex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(PrfHash::Sha256, &secret, b"key", &mut key).unwrap();
        expand_label(PrfHash::Sha256, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(key.to_vec(), unhex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"));
        assert_eq!(iv.to_vec(), unhex("cf 78 2b 88 dd 83 54 9a ad f1 e9 84"));
    }

    /// TLS 1.2 PRF-SHA256 test vector circulated on the IETF TLS list (Chris Newman's).
    #[test]
    fn prf_sha256_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        prf12(PrfHash::Sha256, &secret, b"test label", &[&seed], &mut out);
        assert_eq!(
            out.to_vec(),
            unhex(
                "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
                 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
                 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
                 87 34 7b 66"
            )
        );
    }
}

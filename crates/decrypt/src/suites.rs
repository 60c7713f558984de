//! Cipher suites this crate decrypts, by their IANA number.

/// Bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkCipher {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-128-CCM (16-byte tag).
    Aes128Ccm,
    /// AES-256-CCM (16-byte tag).
    Aes256Ccm,
    /// AES-128-CCM_8 (8-byte tag).
    Aes128Ccm8,
    /// AES-256-CCM_8 (8-byte tag).
    Aes256Ccm8,
    /// AES-128-CBC with an HMAC.
    Aes128Cbc,
    /// AES-256-CBC with an HMAC.
    Aes256Cbc,
}

impl BulkCipher {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            BulkCipher::Aes128Gcm | BulkCipher::Aes128Ccm | BulkCipher::Aes128Ccm8 | BulkCipher::Aes128Cbc => 16,
            _ => 32,
        }
    }
}

/// Record MAC of a CBC suite (AEAD suites have none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacHash {
    /// AEAD: no separate MAC.
    None,
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
}

impl MacHash {
    /// MAC (and MAC key) length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            MacHash::None => 0,
            MacHash::Sha1 => 20,
            MacHash::Sha256 => 32,
            MacHash::Sha384 => 48,
        }
    }
}

/// Hash of the TLS 1.2 PRF or the TLS 1.3 HKDF (TLS 1.0/1.1 always use MD5+SHA-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl PrfHash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            PrfHash::Sha256 => 32,
            PrfHash::Sha384 => 48,
        }
    }
}

/// What a cipher suite needs for record decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    /// IANA number.
    pub id: u16,
    /// IANA name.
    pub name: &'static str,
    /// Bulk cipher.
    pub cipher: BulkCipher,
    /// Record MAC (CBC only).
    pub mac: MacHash,
    /// PRF (TLS 1.2) or HKDF (TLS 1.3) hash.
    pub prf: PrfHash,
    /// A TLS 1.3 suite.
    pub tls13: bool,
}

use BulkCipher::*;
use MacHash as M;
use PrfHash::{Sha256 as P256, Sha384 as P384};

macro_rules! s {
    ($id:expr, $name:expr, $c:expr, $m:expr, $p:expr) => {
        Suite { id: $id, name: $name, cipher: $c, mac: $m, prf: $p, tls13: false }
    };
}

/// Every suite read, in IANA order within each group. Key exchange and authentication do not
/// matter (the key log gives the master secret), so RSA, DHE, ECDHE and PSK variants of a
/// record protection are all here.
pub const SUITES: &[Suite] = &[
    Suite { id: 0x1301, name: "TLS_AES_128_GCM_SHA256", cipher: Aes128Gcm, mac: M::None, prf: P256, tls13: true },
    Suite { id: 0x1302, name: "TLS_AES_256_GCM_SHA384", cipher: Aes256Gcm, mac: M::None, prf: P384, tls13: true },
    Suite {
        id: 0x1303,
        name: "TLS_CHACHA20_POLY1305_SHA256",
        cipher: ChaCha20Poly1305,
        mac: M::None,
        prf: P256,
        tls13: true,
    },
    Suite { id: 0x1304, name: "TLS_AES_128_CCM_SHA256", cipher: Aes128Ccm, mac: M::None, prf: P256, tls13: true },
    Suite { id: 0x1305, name: "TLS_AES_128_CCM_8_SHA256", cipher: Aes128Ccm8, mac: M::None, prf: P256, tls13: true },
    // AES-CBC with HMAC-SHA1 (TLS 1.0-1.2; the TLS 1.2 PRF is SHA-256 for these).
    s!(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x003a, "TLS_DH_anon_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    s!(0xc035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", Aes128Cbc, M::Sha1, P256),
    s!(0xc036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", Aes256Cbc, M::Sha1, P256),
    // AES-CBC with HMAC-SHA256/384 (TLS 1.2 only).
    s!(0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc, M::Sha256, P256),
    s!(0x003e, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x003f, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", Aes256Cbc, M::Sha256, P256),
    s!(0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc, M::Sha256, P256),
    s!(0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", Aes256Cbc, M::Sha256, P256),
    s!(0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc, M::Sha256, P256),
    s!(0x006c, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x006d, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", Aes256Cbc, M::Sha256, P256),
    s!(0x00ae, "TLS_PSK_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x00af, "TLS_PSK_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0x00b2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x00b3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0x00b6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0x00b7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0xc025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0xc026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0xc029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0xc02a, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    s!(0xc037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", Aes128Cbc, M::Sha256, P256),
    s!(0xc038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", Aes256Cbc, M::Sha384, P384),
    // AES-GCM (TLS 1.2).
    s!(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00a0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00a1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00a4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00a5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00a6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00a7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00aa, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00ab, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0x00ac, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0x00ad, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0xc02d, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0xc02e, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0xc031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0xc032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    s!(0xd001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", Aes128Gcm, M::None, P256),
    s!(0xd002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", Aes256Gcm, M::None, P384),
    // AES-CCM (RFC 6655, RFC 7251; TLS 1.2).
    s!(0xc09c, "TLS_RSA_WITH_AES_128_CCM", Aes128Ccm, M::None, P256),
    s!(0xc09d, "TLS_RSA_WITH_AES_256_CCM", Aes256Ccm, M::None, P256),
    s!(0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM", Aes128Ccm, M::None, P256),
    s!(0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM", Aes256Ccm, M::None, P256),
    s!(0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8", Aes128Ccm8, M::None, P256),
    s!(0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8", Aes256Ccm8, M::None, P256),
    s!(0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", Aes128Ccm8, M::None, P256),
    s!(0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", Aes256Ccm8, M::None, P256),
    s!(0xc0a4, "TLS_PSK_WITH_AES_128_CCM", Aes128Ccm, M::None, P256),
    s!(0xc0a5, "TLS_PSK_WITH_AES_256_CCM", Aes256Ccm, M::None, P256),
    s!(0xc0a8, "TLS_PSK_WITH_AES_128_CCM_8", Aes128Ccm8, M::None, P256),
    s!(0xc0a9, "TLS_PSK_WITH_AES_256_CCM_8", Aes256Ccm8, M::None, P256),
    s!(0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", Aes128Ccm, M::None, P256),
    s!(0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", Aes256Ccm, M::None, P256),
    s!(0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", Aes128Ccm8, M::None, P256),
    s!(0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", Aes256Ccm8, M::None, P256),
    // ChaCha20-Poly1305 (RFC 7905; TLS 1.2).
    s!(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
    s!(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
    s!(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
    s!(0xccab, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
    s!(0xccac, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
    s!(0xccad, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
    s!(0xccae, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, M::None, P256),
];

/// The suite with this IANA number, if this crate decrypts it.
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_names_match_their_parameters() {
        for (i, s) in SUITES.iter().enumerate() {
            assert!(SUITES[..i].iter().all(|o| o.id != s.id), "{:#06x} twice", s.id);
            assert_eq!(s.name.contains("SHA384"), s.prf == PrfHash::Sha384, "{}", s.name);
            assert_eq!(s.name.contains("AES_256") || s.name.contains("CHACHA"), s.cipher.key_len() == 32, "{}", s.name);
            assert_eq!(s.name.contains("CBC"), s.mac != MacHash::None, "{}", s.name);
            assert_eq!(s.name.contains("CCM_8"), matches!(s.cipher, Aes128Ccm8 | Aes256Ccm8), "{}", s.name);
        }
    }
}

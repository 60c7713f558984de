//! Real captures with their key logs (tests/data, see SOURCES.md): every connection decrypts
//! to exactly the bytes tshark decrypts (tests/data/expected.tsv), per cipher suite and per key
//! source (key log file, pcapng Decryption Secrets Block).

mod common;

use common::{Conn, assert_matches_tshark, data, decrypt, decrypt_with, dsb_keys};
use phonehome_decrypt::{KeyLog, KeySource, Status, StopReason};
use phonehome_model::Direction;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Decrypts, checks against tshark, and returns the only connection after checking its suite.
fn one(capture: &str, keylog: Option<&str>, version: u16, suite: u16) -> Conn {
    let conns = decrypt_with(capture, keylog);
    assert_matches_tshark(capture, &conns);
    assert_eq!(conns.len(), 1, "{capture}");
    let conn = conns.into_values().next().unwrap();
    let s = conn.summary.as_ref().unwrap();
    assert_eq!((s.version, s.cipher_suite), (Some(version), Some(suite)), "{capture}");
    assert!(s.decrypted(), "{capture}: {s:?}");
    assert_eq!(s.client.auth_failures + s.server.auth_failures, 0, "{capture}: {s:?}");
    conn
}

#[test]
fn tls13_aes_128_gcm_snet() {
    let c = one(
        "snet__TLS1_3_TLS_AES_128_GCM_SHA256.pcap",
        Some("snet__TLS1_3_TLS_AES_128_GCM_SHA256.txt"),
        0x0304,
        0x1301,
    );
    // The client sends ten lines of 256 'A's.
    assert_eq!(c.to_server.len(), 10 * 257);
    assert!(c.to_server.starts_with(&[b'A'; 256]));
}

#[test]
fn tls13_chacha20_poly1305_snet() {
    one(
        "snet__TLS1_3_TLS_CHACHA20_POLY1305_SHA256.pcap",
        Some("snet__TLS1_3_TLS_CHACHA20_POLY1305_SHA256.txt"),
        0x0304,
        0x1303,
    );
}

#[test]
fn tls13_aes_256_gcm_curl_google_http2() {
    let c = one("snet__tls1.3_curl_google.pcap", Some("snet__log.txt"), 0x0304, 0x1302);
    assert!(c.to_server.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    assert_eq!(c.summary.unwrap().alpn.as_deref(), Some(&b"h2"[..]));
}

#[test]
fn tls13_key_updates() {
    let c = one("snet__tls1.3_keyupdates_aes256.pcap", Some("snet__log.txt"), 0x0304, 0x1302);
    let s = c.summary.unwrap();
    assert!(s.client.key_updates + s.server.key_updates >= 2, "{s:?}");
}

#[test]
fn tls13_session_resumption_psk() {
    one("snet__tls1.3_session_resumption.pcap", Some("snet__log.txt"), 0x0304, 0x1302);
}

#[test]
fn tls13_illustrated_ping_pong_and_encrypted_handshake() {
    let c = one("illustrated-tls13__capture.pcap", Some("illustrated-tls13__keylog.txt"), 0x0304, 0x1302);
    assert_eq!((&c.to_server[..], &c.to_client[..]), (&b"ping"[..], &b"pong"[..]));
    // EncryptedExtensions, Certificate, CertificateVerify, Finished from the server; Finished
    // from the client; all decrypted.
    for (dir, ty) in [
        (Direction::ToClient, 8),
        (Direction::ToClient, 11),
        (Direction::ToClient, 15),
        (Direction::ToClient, 20),
        (Direction::ToServer, 20),
    ] {
        assert!(c.handshakes.contains(&(dir, ty, true)), "{dir:?} {ty}: {:?}", c.handshakes);
    }
}

#[test]
fn tls12_ecdhe_aes_256_gcm_snet() {
    one("snet__tls1_2.pcap", Some("snet__tls1_2.keylog"), 0x0303, 0xc030);
}

#[test]
fn tls12_dhe_aes_256_gcm_snet() {
    one("snet__tls1_2_dhe_rsa.pcap", Some("snet__tls1_2_dhe_rsa.keylog"), 0x0303, 0x009f);
}

#[test]
fn tls12_ecdhe_chacha20_poly1305_snet() {
    one(
        "snet__tls_ECDHE-RSA-CHACHA20-POLY1305.pcap",
        Some("snet__keylog_ECDHE-RSA-CHACHA20-POLY1305.txt"),
        0x0303,
        0xcca8,
    );
}

#[test]
fn tls12_aes_128_cbc_sha_illustrated() {
    let c = one("illustrated-tls12__capture.pcap", Some("illustrated-tls12__keylog.txt"), 0x0303, 0xc013);
    assert_eq!((&c.to_server[..], &c.to_client[..]), (&b"ping"[..], &b"pong"[..]));
}

#[test]
fn tls12_zeek_heise_http_requests() {
    let c = one("zeek__tls12-decryption.pcap", Some("zeek__tls12-decryption.keylog"), 0x0303, 0xc030);
    assert!(c.to_server.starts_with(b"GET / HTTP/1.1\r\nHost: heise.de\r\n"));
    let c = one("zeek__tls-1.2-stream-keylog.pcap", Some("zeek__tls-1.2-stream-keylog.keylog"), 0x0303, 0xc030);
    // tshark's http_req rows for this capture (truth/zeek/tls__tls-1.2-stream-keylog.pcap.tsv).
    for line in [
        &b"GET /assets/akwa/v24/js/akwa.js?.ltc.c61e84978682308f631c"[..],
        b"GET /assets/heise/images/mit_technology_review_singleline.b768.ltc.svg",
        b"GET /assets/heise/hobell/css/hobell.css?.ltc.3746e7e49abafa23b5fb",
        b"GET /assets/components/images/heise-jobs-module-desktop-top-left.svg",
    ] {
        assert!(contains(&c.to_server, line), "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn tls13_aes_128_gcm_http2_keys_from_pcapng_dsb() {
    let keys = dsb_keys(&data("ja4__http2-with-cookies.first150.pcapng"));
    assert!(!keys.is_empty() && keys.stats().secrets >= 4, "{:?}", keys.stats());
    let c = one("ja4__http2-with-cookies.first150.pcapng", None, 0x0304, 0x1301);
    assert!(c.to_server.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    assert_eq!(c.summary.unwrap().alpn.as_deref(), Some(&b"h2"[..]));
}

/// Loopback captures made for this crate (tests/data/make_loopback.sh): one connection per
/// suite, client port 40000 + N. Returns the connection after checking the request line.
fn loopback(port: u16, name: &str, version: u16, suite: u16) {
    let conns = loopback_conns();
    let c = &conns[&port];
    let s = c.summary.as_ref().unwrap();
    assert_eq!((s.version, s.cipher_suite), (Some(version), Some(suite)), "{name}");
    let request = format!("GET /{name}?device_id=ph-{} HTTP/1.1\r\nHost: phonehome.test\r\n", port - 40000);
    assert!(c.to_server.starts_with(request.as_bytes()), "{name}: {:?} {s:?}", String::from_utf8_lossy(&c.to_server));
    assert!(c.to_client.starts_with(b"HTTP/1.0 200 ok\r\n"), "{name}");
    assert_eq!(s.client.auth_failures + s.server.auth_failures + s.client.mac_mismatches + s.server.mac_mismatches, 0);
}

fn loopback_conns() -> std::collections::HashMap<u16, Conn> {
    let conns = decrypt_with("loopback.pcap", Some("loopback.keylog"));
    assert_matches_tshark("loopback.pcap", &conns);
    conns
}

#[test]
fn loopback_matches_tshark_byte_for_byte() {
    assert_eq!(loopback_conns().len(), 19);
}

#[test]
fn tls12_rsa_aes_128_gcm() {
    loopback(40001, "tls12-aes128-gcm-rsa", 0x0303, 0x009c);
}
#[test]
fn tls12_ecdhe_aes_256_gcm() {
    loopback(40002, "tls12-ecdhe-aes256-gcm", 0x0303, 0xc030);
}
#[test]
fn tls12_aes_128_cbc_sha1_encrypt_then_mac() {
    loopback(40003, "tls12-aes128-sha-etm", 0x0303, 0x002f);
}
#[test]
fn tls12_aes_128_cbc_sha1_mac_then_encrypt() {
    loopback(40004, "tls12-aes128-sha-mte", 0x0303, 0x002f);
}
#[test]
fn tls12_aes_256_cbc_sha256() {
    loopback(40005, "tls12-aes256-sha256-mte", 0x0303, 0x003d);
}
#[test]
fn tls12_aes_256_cbc_sha384() {
    loopback(40006, "tls12-ecdhe-aes256-sha384", 0x0303, 0xc028);
}
#[test]
fn tls12_dhe_aes_128_cbc_sha256_etm() {
    loopback(40007, "tls12-dhe-aes128-sha256-etm", 0x0303, 0x0067);
}
#[test]
fn tls12_ecdhe_chacha20_poly1305() {
    loopback(40008, "tls12-ecdhe-chacha20", 0x0303, 0xcca8);
}
#[test]
fn tls12_aes_128_ccm() {
    loopback(40009, "tls12-aes128-ccm", 0x0303, 0xc09c);
}
#[test]
fn tls12_aes_256_ccm_8() {
    loopback(40010, "tls12-aes256-ccm8", 0x0303, 0xc0a1);
}
#[test]
fn tls11_aes_256_cbc_sha() {
    loopback(40011, "tls11-aes256-sha", 0x0302, 0x0035);
}
#[test]
fn tls10_aes_128_cbc_sha_chained_iv() {
    loopback(40012, "tls10-aes128-sha", 0x0301, 0x002f);
}
#[test]
fn tls13_aes_128_ccm() {
    loopback(40013, "tls13-aes128-ccm", 0x0304, 0x1304);
}
#[test]
fn tls13_aes_128_ccm_8() {
    loopback(40014, "tls13-aes128-ccm8", 0x0304, 0x1305);
}
#[test]
fn tls13_aes_256_gcm() {
    loopback(40015, "tls13-aes256-gcm", 0x0304, 0x1302);
}

/// The resumed connections of loopback.pcap decrypt with their own CLIENT_RANDOM lines, and
/// also when the key log only has the original session's (the master secret is remembered by
/// ticket / session id from the first connection).
#[test]
fn tls12_resumption_by_ticket_and_session_id() {
    let conns = loopback_conns();
    for (full, resumed, source) in [(40016, 40017, KeySource::SessionTicket), (40018, 40019, KeySource::SessionId)] {
        let s = conns[&resumed].summary.as_ref().unwrap();
        assert!(s.resumed && !conns[&full].summary.as_ref().unwrap().resumed);
        assert_eq!(s.key_source, Some(KeySource::ClientRandom));
        let random: String = s.client_random.unwrap().iter().map(|b| format!("{b:02x}")).collect();
        let text = std::fs::read_to_string(data("loopback.keylog")).unwrap();
        let filtered: String =
            text.lines().filter(|l| !l.to_lowercase().contains(&random)).map(|l| format!("{l}\n")).collect();
        assert!(filtered.len() < text.len());
        let mut keys = KeyLog::new();
        keys.add_text(filtered.as_bytes());
        let again = decrypt("loopback.pcap", keys, 0);
        let c = &again[&resumed];
        let s = c.summary.as_ref().unwrap();
        assert_eq!(s.key_source, Some(source), "{s:?}");
        assert_eq!(
            (c.to_server.len(), c.to_client.len()),
            (conns[&resumed].to_server.len(), conns[&resumed].to_client.len())
        );
        assert!(c.to_server.starts_with(b"GET /tls12-"));
    }
}

/// Chunking does not matter: one byte at a time gives the same plaintext.
#[test]
fn byte_by_byte_feeding_gives_the_same_plaintext() {
    for (cap, log) in [
        ("snet__tls1.3_keyupdates_aes256.pcap", "snet__log.txt"),
        ("zeek__tls12-decryption.pcap", "zeek__tls12-decryption.keylog"),
        ("illustrated-tls12__capture.pcap", "illustrated-tls12__keylog.txt"),
    ] {
        let conns = decrypt(cap, KeyLog::from_file(&data(log)).unwrap(), 1);
        assert_matches_tshark(cap, &conns);
    }
}

#[test]
fn without_keys_every_connection_says_no_key() {
    for cap in ["snet__tls1_2.pcap", "snet__tls1.3_curl_google.pcap", "loopback.pcap"] {
        for c in decrypt(cap, KeyLog::new(), 0).values() {
            let s = c.summary.as_ref().unwrap();
            assert!(!s.decrypted());
            assert_eq!(s.reason(), Some(StopReason::NoKey), "{cap} {s:?}");
            assert_eq!(s.client_status, Status::Stopped(StopReason::NoKey));
        }
    }
}

#[test]
fn a_wrong_secret_is_an_authentication_failure() {
    for (cap, log) in [
        ("snet__tls1_2.pcap", "snet__tls1_2.keylog"),
        ("illustrated-tls13__capture.pcap", "illustrated-tls13__keylog.txt"),
    ] {
        let text = std::fs::read_to_string(data(log)).unwrap();
        // Flip the last hex digit of every secret.
        let bad: String = text
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                if let Some(last) = l.pop() {
                    l.push(if last == '0' { '1' } else { '0' });
                }
                l + "\n"
            })
            .collect();
        let mut keys = KeyLog::new();
        keys.add_text(bad.as_bytes());
        for c in decrypt(cap, keys, 0).values() {
            let s = c.summary.as_ref().unwrap();
            assert!(!s.decrypted());
            assert_eq!(s.reason(), Some(StopReason::AuthenticationFailed), "{cap} {s:?}");
        }
    }
}

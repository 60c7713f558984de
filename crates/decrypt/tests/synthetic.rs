//! Hand-built TLS 1.3 connections (AES-128-GCM, records encrypted here with RustCrypto) for
//! the paths the captures do not take: HelloRetryRequest, 0-RTT data with and without its
//! secret, key logs with only the application secrets, a corrupted record, and the stream
//! errors (not TLS, gap, oversized record, data without a handshake).

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use phonehome_decrypt::{KeyLog, Output, Status, StopReason, TlsConfig, TlsDecryptor};
use phonehome_model::Direction::{self, ToClient, ToServer};
use sha2::Sha256;

const RANDOM: [u8; 32] = [0x42; 32];
const HRR: &str = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";

fn expand_label(secret: &[u8], label: &[u8], len: usize) -> Vec<u8> {
    let mut info = vec![0, len as u8, (6 + label.len()) as u8];
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    let mut out = vec![0; len];
    Hkdf::<Sha256>::from_prk(secret).unwrap().expand(&info, &mut out).unwrap();
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn hs(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, 0, (body.len() >> 8) as u8, body.len() as u8];
    m.extend_from_slice(body);
    m
}

/// One direction's TLS 1.3 record protection.
struct Sealer {
    aead: Aes128Gcm,
    iv: Vec<u8>,
    seq: u64,
    secret: Vec<u8>,
}

impl Sealer {
    fn new(secret: &[u8]) -> Sealer {
        let key = expand_label(secret, b"key", 16);
        Sealer {
            aead: Aes128Gcm::new_from_slice(&key).unwrap(),
            iv: expand_label(secret, b"iv", 12),
            seq: 0,
            secret: secret.to_vec(),
        }
    }

    fn seal(&mut self, content_type: u8, data: &[u8]) -> Vec<u8> {
        let mut body = data.to_vec();
        body.push(content_type);
        body.extend_from_slice(&[0, 0, 0]); // padding
        let len = (body.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let mut nonce: [u8; 12] = self.iv.clone().try_into().unwrap();
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let tag = self.aead.encrypt_inout_detached(&nonce.into(), &header, body.as_mut_slice().into()).unwrap();
        let mut r = header.to_vec();
        r.extend_from_slice(&body);
        r.extend_from_slice(&tag);
        r
    }

    fn update(&mut self) {
        let next = expand_label(&self.secret, b"traffic upd", 32);
        *self = Sealer::new(&next);
    }
}

fn client_hello(early: bool) -> Vec<u8> {
    let mut ch = vec![3, 3];
    ch.extend_from_slice(&RANDOM);
    ch.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    let exts: &[u8] = if early { &[0, 4, 0, 0x2a, 0, 0] } else { &[0, 0] };
    ch.extend_from_slice(exts);
    record(22, &hs(1, &ch))
}

fn server_hello(random: &[u8]) -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(random);
    sh.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4]);
    record(22, &hs(2, &sh))
}

const SECRETS: [(&str, u8); 5] = [
    ("CLIENT_EARLY_TRAFFIC_SECRET", 1),
    ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 2),
    ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 3),
    ("CLIENT_TRAFFIC_SECRET_0", 4),
    ("SERVER_TRAFFIC_SECRET_0", 5),
];

fn secret(label: &str) -> Vec<u8> {
    vec![SECRETS.iter().find(|(l, _)| *l == label).unwrap().1; 32]
}

fn keylog(labels: &[&str]) -> KeyLog {
    let mut k = KeyLog::new();
    for l in labels {
        k.add_text(format!("{l} {} {}\n", hex(&RANDOM), hex(&secret(l))).as_bytes());
    }
    k
}

/// The chunks of a TLS 1.3 connection in capture order.
fn connection(hrr: bool, early: bool) -> Vec<(Direction, Vec<u8>)> {
    let mut out = vec![(ToServer, client_hello(early))];
    let mut c_early = Sealer::new(&secret("CLIENT_EARLY_TRAFFIC_SECRET"));
    if early {
        out.push((ToServer, c_early.seal(23, b"early GET /0rtt")));
    }
    if hrr {
        out.push((ToClient, server_hello(&unhex(HRR))));
        out.push((ToServer, record(20, &[1])));
        out.push((ToServer, client_hello(early)));
    }
    let mut s_hs = Sealer::new(&secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    let mut c_hs = Sealer::new(&secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    let mut s_app = Sealer::new(&secret("SERVER_TRAFFIC_SECRET_0"));
    let mut c_app = Sealer::new(&secret("CLIENT_TRAFFIC_SECRET_0"));
    let mut server = server_hello(&[1; 32]);
    server.extend(record(20, &[1]));
    // EncryptedExtensions with ALPN "h2", then Finished, in one record.
    let mut flight = hs(8, &[0, 9, 0, 0x10, 0, 5, 0, 3, 2, b'h', b'2']);
    flight.extend(hs(20, &[0xaa; 32]));
    server.extend(s_hs.seal(22, &flight));
    out.push((ToClient, server));
    if early {
        out.push((ToServer, c_early.seal(22, &hs(5, &[]))));
    }
    out.push((ToServer, c_hs.seal(22, &hs(20, &[0xbb; 32]))));
    out.push((ToServer, c_app.seal(23, b"GET / HTTP/1.1\r\n\r\n")));
    out.push((ToClient, s_app.seal(23, b"HTTP/1.1 200 OK\r\n")));
    out.push((ToClient, s_app.seal(23, b"server: t\r\n")));
    // Server key update, then more data under the next secret.
    out.push((ToClient, s_app.seal(22, &hs(24, &[0]))));
    s_app.update();
    out.push((ToClient, s_app.seal(23, b"content-length: 0\r\n\r\n")));
    out
}

#[derive(Default, Debug)]
struct Seen {
    app: [Vec<u8>; 2],
    early: Vec<u8>,
    stops: Vec<(Direction, StopReason)>,
}

fn run(dec: &mut TlsDecryptor, keys: &mut KeyLog, chunks: &[(Direction, Vec<u8>)], piece: usize) -> Seen {
    let mut seen = Seen::default();
    for (dir, bytes) in chunks {
        for p in bytes.chunks(piece.max(1)) {
            dec.feed(*dir, p, keys, |o| match o {
                Output::AppData { dir, data, early: true } => {
                    assert_eq!(dir, ToServer);
                    seen.early.extend_from_slice(data)
                }
                Output::AppData { dir, data, .. } => seen.app[dir as usize].extend_from_slice(data),
                Output::Stopped { dir, reason } => seen.stops.push((dir, reason)),
                _ => {}
            });
        }
    }
    seen
}

const ALL: [&str; 5] = [
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
];

fn assert_app_data(seen: &Seen) {
    assert_eq!(seen.app[0], b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(seen.app[1], b"HTTP/1.1 200 OK\r\nserver: t\r\ncontent-length: 0\r\n\r\n");
    assert!(seen.stops.is_empty(), "{:?}", seen.stops);
}

#[test]
fn full_handshake_with_key_update_in_any_chunking() {
    for piece in [1, 3, 7, 100_000] {
        let mut dec = TlsDecryptor::default();
        let seen = run(&mut dec, &mut keylog(&ALL), &connection(false, false), piece);
        assert_app_data(&seen);
        let s = dec.summary();
        assert_eq!((s.version, s.cipher_suite, s.alpn.as_deref()), (Some(0x0304), Some(0x1301), Some(&b"h2"[..])));
        assert_eq!(s.server.key_updates, 1);
        assert_eq!(dec.status(ToClient), Status::Decrypting);
    }
}

#[test]
fn hello_retry_request_then_the_real_server_hello() {
    let mut dec = TlsDecryptor::default();
    assert_app_data(&run(&mut dec, &mut keylog(&ALL), &connection(true, false), 5));
}

#[test]
fn early_data_with_its_secret_is_delivered_as_early() {
    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keylog(&ALL), &connection(true, true), 1000);
    assert_app_data(&seen);
    assert_eq!(seen.early, b"early GET /0rtt");
    assert_eq!(dec.summary().client.early_data_bytes, 15);
}

#[test]
fn early_data_without_its_secret_is_skipped() {
    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keylog(&ALL[1..]), &connection(false, true), 1000);
    assert_app_data(&seen);
    assert!(seen.early.is_empty());
    assert_eq!(dec.summary().client.skipped_records, 2);
}

#[test]
fn only_application_secrets_logged() {
    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keylog(&ALL[3..]), &connection(false, false), 1000);
    assert_app_data(&seen);
    let s = dec.summary();
    assert_eq!((s.client.skipped_records, s.server.skipped_records), (1, 1));
}

#[test]
fn a_corrupted_record_is_skipped_and_counted() {
    let mut chunks = connection(false, false);
    // The server's second application data record (a first one failing would mean a wrong key).
    let bad = chunks.len() - 3;
    let n = chunks[bad].1.len();
    chunks[bad].1[n - 1] ^= 1;
    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keylog(&ALL), &chunks, 1000);
    assert_eq!(seen.app[1], b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(dec.summary().server.auth_failures, 1);
}

#[test]
fn stream_errors_stop_one_direction_with_a_reason() {
    let mut keys = keylog(&ALL);
    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keys, &[(ToServer, b"GET / HTTP/1.1\r\n".to_vec())], 1000);
    assert_eq!(seen.stops, [(ToServer, StopReason::NotTls)]);
    assert_eq!(dec.status(ToClient), Status::Waiting);

    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keys, &[(ToClient, vec![23, 3, 3, 0xff, 0xff])], 1000);
    assert_eq!(seen.stops, [(ToClient, StopReason::RecordTooLong)]);

    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keys, &[(ToClient, record(23, &[0; 40]))], 1000);
    assert_eq!(seen.stops, [(ToClient, StopReason::MissingClientHello)]);

    let mut dec = TlsDecryptor::default();
    let seen = run(&mut dec, &mut keys, &[(ToServer, client_hello(false)), (ToServer, record(23, &[0; 40]))], 1000);
    assert_eq!(seen.stops, [(ToServer, StopReason::MissingServerHello)]);

    // A gap in the server's direction stops it; the client's carries on.
    let chunks = connection(false, false);
    let mut dec = TlsDecryptor::default();
    let mut stops = Vec::new();
    run(&mut dec, &mut keys, &chunks[..4], 1000);
    dec.gap(ToClient, 100, |o| {
        if let Output::Stopped { dir, reason } = o {
            stops.push((dir, reason))
        }
    });
    let seen = run(&mut dec, &mut keys, &chunks[4..], 1000);
    assert_eq!(stops, [(ToClient, StopReason::Gap)]);
    assert!(seen.app[1].is_empty());
    assert_eq!(dec.summary().server_status, Status::Stopped(StopReason::Gap));
    assert_eq!(dec.summary().server.ignored_bytes, chunks[4..].iter().map(|c| c.1.len() as u64).sum::<u64>());
}

#[test]
fn unsupported_suite_is_named() {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[1; 32]);
    sh.extend_from_slice(&[0, 0x00, 0x0a, 0]); // TLS_RSA_WITH_3DES_EDE_CBC_SHA, no extensions
    let chunks = vec![
        (ToServer, client_hello(false)),
        (ToClient, record(22, &hs(2, &sh))),
        (ToServer, record(20, &[1])),
        (ToClient, record(20, &[1])),
    ];
    let mut dec = TlsDecryptor::new(TlsConfig::default());
    let seen = run(&mut dec, &mut KeyLog::new(), &chunks, 1000);
    assert_eq!(
        seen.stops,
        [(ToServer, StopReason::UnsupportedSuite(0x000a)), (ToClient, StopReason::UnsupportedSuite(0x000a))]
    );
    assert_eq!(dec.summary().reason().unwrap().to_string(), "unsupported_cipher_suite (0x000a)");
}

//! Record decryption throughput: TLS 1.3 AES-128-GCM application data, 16 KiB records (what
//! bulk downloads use), fed whole and in 1448-byte TCP segments.
//!
//! `cargo bench -p phonehome-decrypt --bench decrypt`

use std::hint::black_box;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hkdf::Hkdf;
use phonehome_decrypt::{KeyLog, Output, TlsConfig, TlsDecryptor};
use phonehome_model::Direction;
use sha2::Sha256;

const RECORDS: usize = 64;
const PLAINTEXT: usize = 16 * 1024;

fn expand_label(secret: &[u8], label: &[u8], out: &mut [u8]) {
    let mut info = vec![0, out.len() as u8, (6 + label.len()) as u8];
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    Hkdf::<Sha256>::from_prk(secret).unwrap().expand(&info, out).unwrap();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A ClientHello and a TLS 1.3 ServerHello (AES-128-GCM) as records, and `RECORDS` server
/// application data records. Only the traffic secrets are logged, so the decryptor goes to
/// application keys with the first record.
fn connection() -> (KeyLog, Vec<u8>, Vec<u8>, Vec<u8>) {
    let random = [7u8; 32];
    let secret = [9u8; 32];
    let mut keys = KeyLog::new();
    keys.add_text(format!("SERVER_TRAFFIC_SECRET_0 {} {}\n", hex(&random), hex(&secret)).as_bytes());
    keys.add_text(format!("CLIENT_TRAFFIC_SECRET_0 {} {}\n", hex(&random), hex(&[8u8; 32])).as_bytes());

    let mut ch = vec![3, 3];
    ch.extend_from_slice(&random);
    ch.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0, 0, 0]);
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[1u8; 32]);
    sh.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4]);
    let record = |ty: u8, body: &[u8]| {
        let mut r = vec![ty, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    };
    let hs = |ty: u8, body: &[u8]| {
        let mut m = vec![ty, 0, (body.len() >> 8) as u8, body.len() as u8];
        m.extend_from_slice(body);
        m
    };
    let client = record(22, &hs(1, &ch));
    let hello = record(22, &hs(2, &sh));

    let mut key = [0u8; 16];
    let mut iv = [0u8; 12];
    expand_label(&secret, b"key", &mut key);
    expand_label(&secret, b"iv", &mut iv);
    let aead = Aes128Gcm::new(&key.into());
    let mut stream = Vec::new();
    for seq in 0..RECORDS as u64 {
        let mut body = vec![b'x'; PLAINTEXT];
        body.push(23);
        let len = (body.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let mut nonce = iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let tag = aead.encrypt_inout_detached(&nonce.into(), &header, body.as_mut_slice().into()).unwrap();
        stream.extend_from_slice(&header);
        stream.extend_from_slice(&body);
        stream.extend_from_slice(&tag);
    }
    (keys, client, hello, stream)
}

fn run(keys: &mut KeyLog, client: &[u8], hello: &[u8], stream: &[u8], segment: usize) -> usize {
    let mut dec = TlsDecryptor::new(TlsConfig::default());
    let mut got = 0;
    let mut sink = |o: Output<'_>| {
        if let Output::AppData { data, .. } = o {
            got += black_box(data).len();
        }
    };
    dec.feed(Direction::ToServer, client, keys, &mut sink);
    dec.feed(Direction::ToClient, hello, keys, &mut sink);
    for piece in stream.chunks(segment) {
        dec.feed(Direction::ToClient, piece, keys, &mut sink);
    }
    got
}

fn bench(c: &mut Criterion) {
    let (mut keys, client, hello, stream) = connection();
    assert_eq!(run(&mut keys, &client, &hello, &stream, stream.len()), RECORDS * PLAINTEXT);
    let mut g = c.benchmark_group("tls13_aes128gcm");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("16k_records_whole", |b| b.iter(|| run(&mut keys, &client, &hello, &stream, stream.len())));
    g.bench_function("16k_records_1448_byte_segments", |b| b.iter(|| run(&mut keys, &client, &hello, &stream, 1448)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Fuzzes the passive TLS decryptor (`phonehome_decrypt::TlsDecryptor`).
//!
//! Input: one byte of knobs, then records `[dir: u8][len: u16 LE][bytes]`: the bytes of one
//! direction (low bit of `dir`: 0 to server, 1 to client; `dir` 0xff is a gap in the direction
//! of its low bit, len ignored). The key log is fixed: the key logs of
//! crates/decrypt/tests/data, so seeds made from those captures' TCP streams (see
//! docs/FUZZING.md) decrypt, and mutations start from real handshakes and records.
//!
//! Each input is run twice: as written, and with every chunk cut in pieces of 1-16 bytes
//! (knobs & 15, plus one), with small handshake/pending caps when knobs & 0x10.
//!
//! Checked: no panic; chunking changes nothing (delivered plaintext, handshake messages,
//! alerts, stop reasons, statuses and summaries are equal); a direction stops at most once and
//! delivers nothing after; no handshake message exceeds the cap.
//!
//! With knobs & 0x40 the chunks are UDP datagrams for a `QuicDecryptor` instead, keyed with
//! illustrated-quic's client random (seeds: that capture's datagrams): no panic, frames lie
//! inside their datagram, decrypted packets never outnumber packets, and a second run gives
//! the same frames.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phonehome_decrypt::{KeyLog, Output, QuicDecryptor, QuicOutput, TlsConfig, TlsDecryptor};
use phonehome_model::Direction;

fn keys() -> &'static KeyLog {
    static KEYS: OnceLock<KeyLog> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut k = KeyLog::new();
        for text in [
            &include_bytes!("../../crates/decrypt/tests/data/snet__log.txt")[..],
            include_bytes!("../../crates/decrypt/tests/data/snet__tls1_2.keylog"),
            include_bytes!("../../crates/decrypt/tests/data/snet__TLS1_3_TLS_AES_128_GCM_SHA256.txt"),
            include_bytes!("../../crates/decrypt/tests/data/illustrated-tls12__keylog.txt"),
            include_bytes!("../../crates/decrypt/tests/data/illustrated-tls13__keylog.txt"),
            include_bytes!("../../crates/decrypt/tests/data/zeek__tls12-decryption.keylog"),
            include_bytes!("../../crates/decrypt/tests/data/loopback.keylog"),
            include_bytes!("../../crates/decrypt/tests/data/illustrated-quic__keylog.txt"),
        ] {
            k.add_text(text);
        }
        k
    })
}

#[derive(Debug, PartialEq, Eq, Default)]
struct Seen {
    app: [Vec<u8>; 2],
    handshakes: Vec<(usize, u8, Vec<u8>, bool)>,
    alerts: Vec<(usize, u8, u8, bool)>,
    stops: Vec<(usize, String)>,
}

fn ix(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

fn run(chunks: &[(Direction, Option<&[u8]>)], piece: usize, config: TlsConfig) -> (Seen, String) {
    let cap = config.max_handshake_message;
    let mut dec = TlsDecryptor::new(config);
    let mut keys = keys().clone();
    let mut seen = Seen::default();
    let mut sink = |o: Output<'_>| match o {
        Output::AppData { dir, data, .. } => {
            assert!(!seen.stops.iter().any(|(d, _)| *d == ix(dir)), "data after stop");
            assert!(!data.is_empty());
            seen.app[ix(dir)].extend_from_slice(data);
        }
        Output::Handshake { dir, msg_type, body, encrypted } => {
            assert!(body.len() <= cap);
            seen.handshakes.push((ix(dir), msg_type, body.to_vec(), encrypted));
        }
        Output::Alert { dir, level, description, encrypted } => {
            seen.alerts.push((ix(dir), level, description, encrypted))
        }
        Output::Stopped { dir, reason } => {
            assert!(!seen.stops.iter().any(|(d, _)| *d == ix(dir)), "stopped twice");
            seen.stops.push((ix(dir), reason.to_string()));
        }
    };
    for (dir, bytes) in chunks {
        match bytes {
            Some(b) if piece == 0 => dec.feed(*dir, b, &mut keys, &mut sink),
            Some(b) => {
                for p in b.chunks(piece) {
                    dec.feed(*dir, p, &mut keys, &mut sink);
                }
            }
            None => dec.gap(*dir, 1, &mut sink),
        }
    }
    let summary =
        format!("{:?} {:?} {:?}", dec.summary(), dec.status(Direction::ToServer), dec.status(Direction::ToClient));
    (seen, summary)
}

/// QUIC mode: the chunks as datagrams (gaps skipped). Returns the frames seen.
fn run_quic(chunks: &[(Direction, Option<&[u8]>)]) -> Vec<(usize, u64, u64, Vec<u8>, bool)> {
    let mut dec = QuicDecryptor::new();
    dec.set_client_random(std::array::from_fn(|i| i as u8));
    let mut frames = Vec::new();
    for (dir, bytes) in chunks {
        let Some(b) = bytes else { continue };
        dec.datagram(*dir, b, keys(), |o| match o {
            QuicOutput::Stream { dir, stream_id, offset, data, fin } => {
                assert!(data.len() <= b.len());
                frames.push((ix(dir), stream_id, offset, data.to_vec(), fin));
            }
            QuicOutput::Datagram { data, .. } => assert!(data.len() <= b.len()),
        });
    }
    for d in [Direction::ToServer, Direction::ToClient] {
        let s = dec.stats(d);
        assert!(s.decrypted <= s.packets);
    }
    frames
}

fuzz_target!(|data: &[u8]| {
    let [knobs, rest @ ..] = data else { return };
    let mut rest: &[u8] = rest;
    let mut chunks = Vec::new();
    while let &[dir, a, b, ref tail @ ..] = rest {
        let d = if dir & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
        if dir == 0xff {
            chunks.push((d, None));
            rest = tail;
            continue;
        }
        let len = usize::from(u16::from_le_bytes([a, b])).min(tail.len());
        chunks.push((d, Some(&tail[..len])));
        rest = &tail[len..];
    }
    if knobs & 0x40 != 0 {
        assert_eq!(run_quic(&chunks), run_quic(&chunks));
        return;
    }
    let config = if knobs & 0x10 != 0 {
        TlsConfig { max_handshake_message: 256, max_pending: 512, lenient_cbc_mac: knobs & 0x20 != 0 }
    } else {
        TlsConfig { lenient_cbc_mac: knobs & 0x20 != 0, ..TlsConfig::default() }
    };
    let whole = run(&chunks, 0, config.clone());
    let pieces = run(&chunks, usize::from(knobs & 15) + 1, config);
    assert_eq!(whole, pieces);
});

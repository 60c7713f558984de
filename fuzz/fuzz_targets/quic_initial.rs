//! Fuzzes QUIC Initial handling: datagrams from both sides into one `QuicConnection`.
//!
//! Input: one byte of knobs, then records of a 2-byte header (bit 15: from the server; bit 14:
//! seal; low 14 bits: length, cut to what is left) and the datagram's bytes. A sealed record's
//! bytes become the frames of a client Initial protected under a fixed DCID (v2 with knob
//! 0x01; every other sealed record addressed to another DCID with knob 0x02, as after the
//! server's Initial), so the frame parser, the CRYPTO reassembler and the ClientHello parser
//! are reached through the real decryption path: a fuzzer cannot forge AEAD tags. Unsealed
//! records reach the header parsers, trial decryption and the Google QUIC CHLO parser.
//!
//! Checked: no panic; a hello is returned at most once, and only before the connection says
//! it is done; a done connection returns nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_protocols::quic::{self, QuicConnection, testing};

const DCID: &[u8] = &[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
const OTHER_DCID: &[u8] = &[7, 7, 7, 7, 7];

fuzz_target!(|data: &[u8]| {
    let [knobs, records @ ..] = data else { return };
    let mut rest = records;
    let version = if knobs & 0x01 != 0 { quic::VERSION_2 } else { quic::VERSION_1 };
    let mut conn = QuicConnection::new();
    let mut hellos = 0;
    let mut sealed = 0u32;
    while let [h0, h1, tail @ ..] = rest {
        let header = u16::from_be_bytes([*h0, *h1]);
        let len = usize::from(header & 0x3fff).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        let datagram = if header & 0x4000 != 0 {
            let to = if knobs & 0x02 != 0 && sealed % 2 == 1 { OTHER_DCID } else { DCID };
            sealed += 1;
            testing::seal_initial(version, DCID, to, sealed, bytes)
        } else {
            bytes.to_vec()
        };
        let _ = quic::datagram_version(&datagram);
        if header & 0x8000 != 0 {
            conn.server_datagram(&datagram);
            continue;
        }
        let was_done = conn.is_done();
        if let Some(hello) = conn.client_datagram(&datagram) {
            assert!(!was_done, "a hello after the connection was done");
            hellos += 1;
            assert!(conn.is_done());
            let _ = quic::version_name(hello.version);
            if !hello.gquic {
                assert_eq!(hello.ja4.len(), 36, "{}", hello.ja4);
                assert_eq!(hello.sni, hello.client_hello.server_name);
            }
        }
    }
    assert!(hellos <= 1);
    let _ = conn.anomalies();
});

//! Fuzzes the Content-Encoding decoders under small output limits.
//!
//! Input: one byte choosing the codings (every single coding, pairs of them, identity, an
//! unsupported one), one byte for the limit (0-4080 bytes), one byte seeding the piece sizes,
//! then the body.
//!
//! Checked: no panic, no hang; the output never exceeds the limit (a bomb stops there);
//! decoding in pieces gives what one push gives; and a larger limit gives the same bytes,
//! only more of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_protocols::body::{self, Codings, Decoder};

const CODINGS: &[&str] = &[
    "gzip",
    "deflate",
    "br",
    "zstd",
    "identity",
    "x-gzip",
    "gzip, br",
    "br, gzip",
    "deflate, zstd",
    "zstd, deflate",
    "gzip, gzip",
    "compress",
    "gzip, deflate, br",
];

fuzz_target!(|data: &[u8]| {
    let [which, limit, seed, input @ ..] = data else { return };
    let codings = Codings::parse(CODINGS[usize::from(*which) % CODINGS.len()].as_bytes());
    let limit = usize::from(*limit) * 16;

    let mut whole = Vec::new();
    let outcome = body::decode(&codings, input, limit, &mut whole);
    assert!(whole.len() <= limit, "limit exceeded");

    let mut d = Decoder::new(&codings, limit);
    let mut pieces = Vec::new();
    let (mut rest, mut x) = (input, u32::from(*seed) | 1);
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x as usize % 97 + 1).min(rest.len());
        d.push(&rest[..n], &mut pieces);
        assert!(pieces.len() <= limit, "limit exceeded");
        rest = &rest[n..];
    }
    let pieces_outcome = d.finish();
    if outcome.error || pieces_outcome.error {
        // Output decoded but not yet flushed when the damage is found is lost inside the
        // decoder (brotli's ring buffer, zstd's window), and how much that is depends on
        // where the input was cut: one output must still be a prefix of the other.
        let n = pieces.len().min(whole.len());
        assert_eq!(pieces[..n], whole[..n], "pieces changed the bytes");
        // Flushing more often may reach the limit before the damage.
        for o in [outcome, pieces_outcome] {
            assert!(o.error || o.truncated, "an error depends on the cut: {outcome:?} {pieces_outcome:?}");
        }
    } else {
        assert_eq!((&pieces, pieces_outcome), (&whole, outcome), "pieces changed the output");
    }

    let mut big = Vec::new();
    let big_outcome = body::decode(&codings, input, 1 << 20, &mut big);
    assert!(big.len() <= 1 << 20);
    let n = whole.len().min(big.len());
    assert_eq!(whole[..n], big[..n], "a larger limit changed the bytes");
    if !outcome.truncated && !big_outcome.truncated && !outcome.error {
        assert_eq!(whole, big);
    }
});

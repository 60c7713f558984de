//! Feeds several frames to one `Decoder`, so fragment state carries over between them.
//!
//! Input: repeated [link type selector][length: u16 LE][frame]. The selector picks one of the
//! link types the decoder knows (or an unknown one); timestamps advance by the selector byte in
//! seconds so fragment timeouts fire too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_decode::{Decoder, DecoderConfig, Transport};
use phonehome_model::{Counters, LinkType, Timestamp};

const LINK_TYPES: &[u32] =
    &[1, 0, 101, 228, 229, 12, 14, 108, 113, 276, 9, 50, 51, 104, 239, 10, 147, 7, 129, 105, 127, 192, 258, 149];

fuzz_target!(|data: &[u8]| {
    // Small caps, so the cap paths are reached with small inputs.
    let config = DecoderConfig {
        frag_max_bytes: 4096,
        frag_max_datagrams: 4,
        frag_max_per_datagram: 8,
        max_tunnel_depth: 3,
        ..Default::default()
    };
    let mut decoder = Decoder::new(config);
    let mut counters = Counters::default();
    let mut ts = 0i64;
    let mut rest = data;
    while let [sel, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let (frame, next) = tail.split_at(len);
        rest = next;
        let link_type = LinkType(LINK_TYPES[usize::from(*sel) % LINK_TYPES.len()]);
        ts += i64::from(*sel >> 4) * 1_000_000_000;
        if let Some(p) = decoder.decode(Timestamp(ts), link_type, frame, &mut counters) {
            // Touch what borrows the frame or the reassembly buffer.
            let n = match p.transport {
                Transport::Tcp(t) => t.payload.len(),
                Transport::Udp { payload, .. } => payload.len(),
                _ => 0,
            };
            std::hint::black_box((n, p.app.map(<[u8]>::len), p.ip_len));
        }
    }
});

//! Fuzzes the TCP reassembler with arbitrary segment sequences under small caps.
//!
//! Input: one byte choosing the caps, then 4-byte records `[delta lo, delta hi, flags, len]`:
//! the sequence number moves by the signed 16-bit delta (shifted left by 16 with flag 0x10,
//! for wild jumps and wraparound), then flags 0x01 = SYN at that number (payload at +1),
//! 0x20 = payload length × 64, 0x02 = FIN after the payload, 0x04 = flush afterwards.
//! Payload bytes are a function of their sequence number, so every data byte handed on can
//! be checked against its stream offset.
//!
//! Checked: no panic; chunks are contiguous from offset 0, non-empty, and carry the right
//! bytes; caps and the budget are never exceeded; a final flush releases everything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_flow::tcp::{Budget, Chunk, Reassembler, ReassemblyConfig};
use phonehome_model::Counters;

fn byte_at(seq: u32) -> u8 {
    (seq ^ (seq >> 8) ^ (seq >> 19)) as u8
}

/// What the reassembler must have handed on so far.
struct Expect {
    /// Sequence number of offset 0, mirroring the reassembler's policy: the last SYN + 1
    /// before any data, else the first data.
    base: Option<u32>,
    data_seen: bool,
    next: u64,
}

impl Expect {
    fn chunk(&mut self, chunk: Chunk<'_>) {
        match chunk {
            Chunk::Data { bytes, offset, .. } => {
                assert_eq!(offset, self.next, "data out of place");
                assert!(!bytes.is_empty(), "empty data chunk");
                let base = self.base.expect("data before a stream start");
                for (i, &b) in bytes.iter().enumerate() {
                    let seq = base.wrapping_add((offset + i as u64) as u32);
                    assert_eq!(b, byte_at(seq), "wrong byte at offset {}", offset + i as u64);
                }
                self.next += bytes.len() as u64;
            }
            Chunk::Gap { offset, len } => {
                assert_eq!(offset, self.next, "gap out of place");
                assert!(len > 0, "empty gap");
                self.next += len;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, records)) = data.split_first() else { return };
    let cfg = ReassemblyConfig {
        max_buffer_per_direction: 16 << (knobs & 7),
        max_segments_per_direction: usize::from((knobs >> 3) & 7),
    };
    let mut budget = Budget::new(if knobs & 0x40 != 0 { 300 } else { 1 << 20 });
    let mut counters = Counters::default();
    let mut r = Reassembler::new();
    let mut expect = Expect { base: None, data_seen: false, next: 0 };
    let mut seq = 0u32;
    let mut payload = Vec::new();
    for rec in records.chunks_exact(4) {
        let delta = i16::from_le_bytes([rec[0], rec[1]]) as i32 as u32;
        let flags = rec[2];
        seq = seq.wrapping_add(if flags & 0x10 != 0 { delta << 16 } else { delta });
        let len = usize::from(rec[3]) * if flags & 0x20 != 0 { 64 } else { 1 };
        let mut at = seq;
        if flags & 0x01 != 0 {
            r.syn(seq);
            at = seq.wrapping_add(1);
            if !expect.data_seen {
                expect.base = Some(at);
            }
        }
        payload.clear();
        payload.extend((0..len as u32).map(|i| byte_at(at.wrapping_add(i))));
        if len > 0 {
            expect.base.get_or_insert(at);
            expect.data_seen = true;
        }
        r.segment(at, &payload, 0, &cfg, &mut budget, &mut counters, &mut |c| expect.chunk(c));
        if flags & 0x02 != 0 {
            r.fin(at.wrapping_add(len as u32));
        }
        if flags & 0x04 != 0 {
            r.flush(&mut budget, &mut counters, &mut |c| expect.chunk(c));
            assert_eq!(r.buffered(), 0);
        }
        assert_eq!(r.delivered(), expect.next);
        assert!(r.buffered() <= cfg.max_buffer_per_direction);
        assert!(budget.used <= budget.cap);
    }
    r.flush(&mut budget, &mut counters, &mut |c| expect.chunk(c));
    assert_eq!(r.delivered(), expect.next);
    assert_eq!((r.buffered(), budget.used), (0, 0), "flush releases everything");
});

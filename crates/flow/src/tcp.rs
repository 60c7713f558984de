//! TCP stream reassembly: one direction of one connection, segments in, ordered bytes out.
//!
//! A [`Reassembler`] turns the payloads of one direction's segments, in capture order, into
//! [`Chunk`]s in stream order. Bytes that continue the stream are handed on straight from the
//! packet (no copy); only bytes that arrive ahead of a hole are copied, into a store keyed by
//! stream offset that holds no two copies of the same byte.
//!
//! Policies:
//!
//! * **Stream start.** A SYN sets offset 0 to its sequence number + 1. Several SYNs with
//!   different numbers before any data (a server that answered a retransmitted SYN with a
//!   new SYN-ACK) move the start to the latest one, as tshark does; after data they are
//!   ignored. Without a SYN the first segment with data is offset 0 (mid-stream start), and
//!   bytes before it are treated as old: they may be a reordered earlier segment, but they
//!   belong to a part of the stream that was never going to be complete anyway.
//! * **Old and overlapping bytes.** The first copy of every byte wins: bytes already handed
//!   on or already held are never replaced. A segment made only of such bytes (including a
//!   keepalive, 1 byte at next − 1) counts [`Counter::TcpRetransmission`]; one that is partly
//!   new counts [`Counter::TcpOverlap`]. Contents are not compared.
//! * **Caps.** Held bytes are bounded per direction (bytes and segments, see
//!   [`ReassemblyConfig`]) and across all flows ([`Budget`]). When holding a segment would
//!   pass a cap, the cap's counter is incremented (once per segment) and the stream is moved
//!   forward over its oldest hole, which becomes a [`Chunk::Gap`]: what was held after the
//!   hole is handed on and its memory freed, until the new bytes fit or have become in
//!   order themselves. Nothing received is dropped silently; the price is that bytes of the
//!   hole arriving later count as retransmissions. The total budget is shared, so a flow
//!   that hits it frees its own store, never another flow's.
//! * **Far jumps.** Sequence numbers are compared within ±2^31 of the next expected byte
//!   (older is "old", newer is "ahead"), so a wild jump is only ever held like any
//!   out-of-order segment: bounded by the caps, and at the latest it ends as a gap at
//!   [`Reassembler::flush`].
//! * **FIN.** The first FIN's sequence number marks the end of the stream; if bytes before
//!   it are still missing at [`Reassembler::flush`], they end as a trailing gap. Bytes past
//!   the FIN are still handed on, since a bogus FIN should not cost real data.
//!
//! Offsets are `u64` counted from the stream start, so streams longer than 4 GiB, whose
//! sequence numbers wrap, keep increasing offsets.

use std::collections::BTreeMap;
use std::ops::Bound;

use phonehome_model::{Counter, Counters};

/// Bytes of [`Budget`] charged for each held segment on top of its payload: the map entry
/// and allocation overhead, so a flood of 1-byte segments cannot hold far more memory than
/// the budget says.
pub const SEGMENT_OVERHEAD: usize = 64;

/// Bytes handed on in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Stream bytes. `offset` is the stream offset of `bytes[0]` (0 = first byte after the
    /// SYN, or the first byte seen); `frame` is the capture frame number of the segment they
    /// came from, for evidence.
    Data { bytes: &'a [u8], offset: u64, frame: u64 },
    /// A hole of `len` bytes at `offset` that will never be filled (capture loss, or a cap
    /// forced the stream past it); the stream continues after it.
    Gap { offset: u64, len: u64 },
}

/// Memory budget for held out-of-order data, shared by all flows.
///
/// `used` counts held payload bytes plus [`SEGMENT_OVERHEAD`] per held segment; it returns
/// to zero once every reassembler has been flushed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// Bytes charged now.
    pub used: usize,
    /// Bytes that may be charged at most.
    pub cap: usize,
}

impl Budget {
    /// An unused budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Budget { used: 0, cap }
    }
}

/// Per-direction reassembly limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Out-of-order payload bytes held per direction. Default 1 MiB.
    pub max_buffer_per_direction: usize,
    /// Out-of-order segments held per direction; bounds the work and the overhead of many
    /// tiny segments. Default 1024.
    pub max_segments_per_direction: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig { max_buffer_per_direction: 1 << 20, max_segments_per_direction: 1024 }
    }
}

/// A held segment: a copy of bytes that arrived ahead of a hole.
#[derive(Debug)]
struct Held {
    bytes: Box<[u8]>,
    frame: u64,
}

/// Out-of-order bytes keyed by stream offset. Entries never overlap each other and all start
/// after the next byte to hand on.
#[derive(Debug, Default)]
struct Store {
    segs: BTreeMap<u64, Held>,
    bytes: usize,
}

/// One direction of one TCP connection.
///
/// Small (48 bytes) and allocation-free until out-of-order data arrives; the store is freed
/// again as soon as it empties. Call [`flush`](Self::flush) before dropping it, or the bytes
/// it holds stay charged to the [`Budget`].
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of offset 0 (valid once `started`).
    base: u32,
    started: bool,
    /// Data arrived (handed on, held, or old): a SYN can no longer move the start.
    data_seen: bool,
    /// Offset of the next byte to hand on: everything before it was delivered or skipped.
    next: u64,
    gaps: u64,
    /// Offset of the FIN, once seen.
    fin: Option<u64>,
    store: Option<Box<Store>>,
}

impl Reassembler {
    /// A direction that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The SYN (or SYN-ACK) of this direction was seen with sequence number `isn`: the stream
    /// starts at `isn + 1`. Ignored once data has been seen.
    pub fn syn(&mut self, isn: u32) {
        if self.data_seen {
            return;
        }
        self.base = isn.wrapping_add(1);
        self.started = true;
        self.fin = None;
    }

    /// A segment's payload, starting at sequence number `seq` (for a SYN carrying data, the
    /// SYN's number + 1). Whatever becomes contiguous is passed to `out` in stream order:
    /// bytes of `payload` directly, held bytes from the store.
    // The shared state (config, budget, counters, sink) belongs to the flow table; bundling
    // it into a struct per call would only move the same arguments around.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        frame: u64,
        cfg: &ReassemblyConfig,
        budget: &mut Budget,
        counters: &mut Counters,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        if payload.is_empty() {
            return;
        }
        if !self.started {
            self.base = seq;
            self.started = true;
        }
        self.data_seen = true;
        // Signed distance from the next expected byte, so wrapping sequence numbers compare
        // correctly as long as the stream does not jump by 2 GiB at once.
        let diff = seq.wrapping_sub(self.base).wrapping_sub(self.next as u32) as i32;
        // Some bytes of the segment were already handed on or held.
        let mut seen = false;
        let (start, payload) = if diff < 0 {
            let back = diff.unsigned_abs() as usize;
            if back >= payload.len() {
                counters.add(Counter::TcpRetransmission, 1);
                return;
            }
            seen = true;
            (self.next, &payload[back..])
        } else {
            (self.next + diff as u64, payload)
        };
        let end = start + payload.len() as u64;
        let (mut fresh, mut held, mut flow_cap, mut total_cap) = (false, false, false, false);
        let mut pos = start;
        while pos < end {
            if pos < self.next {
                seen = true;
                pos = self.next;
                continue;
            }
            let first = self.first_held();
            if pos == self.next {
                let lim = first.map_or(end, |f| f.min(end));
                if lim > pos {
                    let bytes = &payload[(pos - start) as usize..(lim - start) as usize];
                    out(Chunk::Data { bytes, offset: pos, frame });
                    self.next = lim;
                    pos = lim;
                    fresh = true;
                }
                self.drain(budget, out);
                continue;
            }
            // Ahead of a hole: skip bytes already held, hold the rest piece by piece.
            let mut piece_end = end;
            if let Some(store) = &self.store {
                if let Some((&k, h)) = store.segs.range(..=pos).next_back() {
                    let held_end = k + h.bytes.len() as u64;
                    if held_end > pos {
                        seen = true;
                        pos = held_end.min(end);
                        continue;
                    }
                }
                if let Some((&k, _)) = store.segs.range((Bound::Excluded(pos), Bound::Unbounded)).next() {
                    piece_end = piece_end.min(k);
                }
            }
            let len = (piece_end - pos) as usize;
            let (held_bytes, held_segs) = self.store.as_ref().map_or((0, 0), |s| (s.bytes, s.segs.len()));
            let over_flow = held_bytes.saturating_add(len) > cfg.max_buffer_per_direction
                || held_segs >= cfg.max_segments_per_direction;
            let over_total = budget.used.saturating_add(len).saturating_add(SEGMENT_OVERHEAD) > budget.cap;
            if !over_flow && !over_total {
                let bytes = Box::from(&payload[(pos - start) as usize..(piece_end - start) as usize]);
                let store = self.store.get_or_insert_with(Box::default);
                store.segs.insert(pos, Held { bytes, frame });
                store.bytes += len;
                budget.used += len + SEGMENT_OVERHEAD;
                held = true;
                pos = piece_end;
                continue;
            }
            if over_flow && !flow_cap {
                counters.add(Counter::TcpFlowBufferCap, 1);
                flow_cap = true;
            }
            if over_total && !total_cap {
                counters.add(Counter::TcpTotalBufferCap, 1);
                total_cap = true;
            }
            // Make room by giving up the oldest hole: either the one before the held data,
            // or, if these bytes come first (or nothing is held), the one before them, which
            // makes them in order.
            match first {
                Some(f) if f < pos => {
                    self.skip_to(f, counters, out);
                    self.drain(budget, out);
                }
                _ => self.skip_to(pos, counters, out),
            }
        }
        if held {
            counters.add(Counter::TcpOutOfOrder, 1);
        }
        if seen {
            let c = if fresh || held { Counter::TcpOverlap } else { Counter::TcpRetransmission };
            counters.add(c, 1);
        }
    }

    /// A FIN was seen with sequence number `seq` (its payload, if any, comes before it): the
    /// stream ends there. Only the first FIN counts; one before the bytes already handed on,
    /// or before any stream start, is ignored.
    pub fn fin(&mut self, seq: u32) {
        if !self.started || self.fin.is_some() {
            return;
        }
        let diff = seq.wrapping_sub(self.base).wrapping_sub(self.next as u32) as i32;
        if diff >= 0 {
            self.fin = Some(self.next + diff as u64);
        }
    }

    /// The flow ends (FIN/RST, timeout, end of capture) or is about to: hand on everything
    /// held, with a [`Chunk::Gap`] for each hole before it (and before the FIN, if one was
    /// seen), and release its budget. The reassembler stays usable: later segments continue
    /// after what was handed on.
    pub fn flush(&mut self, budget: &mut Budget, counters: &mut Counters, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(f) = self.first_held() {
            if f > self.next {
                self.skip_to(f, counters, out);
            }
            self.drain(budget, out);
        }
        if let Some(fin) = self.fin
            && fin > self.next
        {
            self.skip_to(fin, counters, out);
        }
    }

    /// Stream bytes handed on so far, gaps included: the offset of the next byte.
    pub fn delivered(&self) -> u64 {
        self.next
    }

    /// Holes skipped so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Out-of-order payload bytes held now.
    pub fn buffered(&self) -> usize {
        self.store.as_ref().map_or(0, |s| s.bytes)
    }

    fn first_held(&self) -> Option<u64> {
        self.store.as_ref().and_then(|s| s.segs.first_key_value()).map(|(&k, _)| k)
    }

    /// Declares the bytes from `next` up to `to` lost.
    fn skip_to(&mut self, to: u64, counters: &mut Counters, out: &mut dyn FnMut(Chunk<'_>)) {
        debug_assert!(to > self.next);
        let len = to - self.next;
        out(Chunk::Gap { offset: self.next, len });
        counters.add(Counter::TcpGap, 1);
        counters.add(Counter::TcpGapBytes, len);
        self.gaps += 1;
        self.next = to;
    }

    /// Hands on held segments that have become contiguous with the stream.
    fn drain(&mut self, budget: &mut Budget, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(store) = self.store.as_mut() else { return };
        while let Some(entry) = store.segs.first_entry() {
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let h = entry.remove();
            store.bytes -= h.bytes.len();
            budget.used = budget.used.saturating_sub(h.bytes.len() + SEGMENT_OVERHEAD);
            let end = k + h.bytes.len() as u64;
            if end > self.next {
                let bytes = &h.bytes[(self.next - k) as usize..];
                out(Chunk::Data { bytes, offset: self.next, frame: h.frame });
                self.next = end;
            }
        }
        if store.segs.is_empty() {
            self.store = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reassembler with everything it needs, recording what it hands on.
    struct Harness {
        r: Reassembler,
        cfg: ReassemblyConfig,
        budget: Budget,
        counters: Counters,
        /// Data chunks as (offset, bytes, frame), gaps as (offset, len).
        data: Vec<(u64, Vec<u8>, u64)>,
        gaps: Vec<(u64, u64)>,
        /// The stream as text, gaps written as `[len]`.
        text: String,
        next: u64,
    }

    impl Harness {
        fn new() -> Self {
            Self::with(ReassemblyConfig::default(), 1 << 30)
        }

        fn with(cfg: ReassemblyConfig, total: usize) -> Self {
            Harness {
                r: Reassembler::new(),
                cfg,
                budget: Budget::new(total),
                counters: Counters::default(),
                data: Vec::new(),
                gaps: Vec::new(),
                text: String::new(),
                next: 0,
            }
        }

        fn record(&mut self, chunk: Chunk<'_>) {
            match chunk {
                Chunk::Data { bytes, offset, frame } => {
                    assert_eq!(offset, self.next, "data must continue the stream");
                    assert!(!bytes.is_empty(), "no empty chunks");
                    self.next += bytes.len() as u64;
                    self.text.push_str(std::str::from_utf8(bytes).unwrap());
                    self.data.push((offset, bytes.to_vec(), frame));
                }
                Chunk::Gap { offset, len } => {
                    assert_eq!(offset, self.next, "gaps must continue the stream");
                    assert!(len > 0, "no empty gaps");
                    self.next += len;
                    self.text.push_str(&format!("[{len}]"));
                    self.gaps.push((offset, len));
                }
            }
        }

        fn seg(&mut self, seq: u32, payload: &str, frame: u64) -> &mut Self {
            let mut got = Vec::new();
            self.r.segment(seq, payload.as_bytes(), frame, &self.cfg, &mut self.budget, &mut self.counters, &mut |c| {
                got.push(own(c))
            });
            for c in got {
                self.record(c.borrow());
            }
            assert_eq!(self.r.delivered(), self.next);
            self
        }

        fn flush(&mut self) -> &mut Self {
            let mut got = Vec::new();
            self.r.flush(&mut self.budget, &mut self.counters, &mut |c| got.push(own(c)));
            for c in got {
                self.record(c.borrow());
            }
            assert_eq!(self.r.delivered(), self.next);
            assert_eq!(self.r.buffered(), 0);
            assert_eq!(self.budget.used, 0, "flush releases the budget");
            self
        }

        fn count(&self, c: Counter) -> u64 {
            self.counters.get(c)
        }
    }

    enum OwnedChunk {
        Data(Vec<u8>, u64, u64),
        Gap(u64, u64),
    }

    impl OwnedChunk {
        fn borrow(&self) -> Chunk<'_> {
            match self {
                OwnedChunk::Data(b, offset, frame) => Chunk::Data { bytes: b, offset: *offset, frame: *frame },
                OwnedChunk::Gap(offset, len) => Chunk::Gap { offset: *offset, len: *len },
            }
        }
    }

    fn own(c: Chunk<'_>) -> OwnedChunk {
        match c {
            Chunk::Data { bytes, offset, frame } => OwnedChunk::Data(bytes.to_vec(), offset, frame),
            Chunk::Gap { offset, len } => OwnedChunk::Gap(offset, len),
        }
    }

    #[test]
    fn in_order_is_handed_on_at_once_without_holding() {
        let mut h = Harness::new();
        h.r.syn(99);
        h.seg(100, "GET ", 1).seg(104, "/ HTTP", 2);
        assert_eq!(h.text, "GET / HTTP");
        assert_eq!(h.data[1], (4, b"/ HTTP".to_vec(), 2));
        assert!(h.r.store.is_none(), "in-order data allocates nothing");
        h.flush();
        assert_eq!(h.text, "GET / HTTP");
        assert_eq!(h.r.gaps(), 0);
        for c in [Counter::TcpOutOfOrder, Counter::TcpRetransmission, Counter::TcpOverlap, Counter::TcpGap] {
            assert_eq!(h.count(c), 0, "{c:?}");
        }
    }

    #[test]
    fn reordered_segments_are_held_then_handed_on() {
        let mut h = Harness::new();
        h.r.syn(0);
        h.seg(7, "world", 2).seg(12, "!", 3);
        assert_eq!(h.text, "");
        assert_eq!(h.r.buffered(), 6);
        assert_eq!(h.budget.used, 6 + 2 * SEGMENT_OVERHEAD);
        h.seg(1, "hello ", 1);
        assert_eq!(h.text, "hello world!");
        assert_eq!(h.data.iter().map(|d| (d.0, d.2)).collect::<Vec<_>>(), [(0, 1), (6, 2), (11, 3)], "frames kept");
        assert_eq!(h.r.buffered(), 0);
        assert_eq!(h.budget.used, 0);
        assert!(h.r.store.is_none(), "store freed once empty");
        assert_eq!(h.count(Counter::TcpOutOfOrder), 2);
        assert_eq!(h.count(Counter::TcpGap), 0);
    }

    #[test]
    fn retransmissions_and_keepalives_are_dropped_and_counted() {
        let mut h = Harness::new();
        h.r.syn(1000);
        h.seg(1001, "abcdef", 1);
        h.seg(1001, "abcdef", 2); // full retransmission
        h.seg(1006, "f", 3); // keepalive: 1 byte at next - 1
        h.seg(1003, "cd", 4); // old bytes inside what was delivered
        assert_eq!(h.count(Counter::TcpRetransmission), 3);
        // A held segment sent again is a retransmission too.
        h.seg(1010, "jk", 5).seg(1010, "jk", 6);
        assert_eq!(h.count(Counter::TcpRetransmission), 4);
        assert_eq!(h.count(Counter::TcpOutOfOrder), 1);
        h.seg(1007, "ghi", 7);
        assert_eq!(h.text, "abcdefghijk");
        assert_eq!(h.count(Counter::TcpOverlap), 0);
    }

    #[test]
    fn partial_overlaps_keep_the_first_copy() {
        let mut h = Harness::new();
        h.r.syn(0);
        h.seg(1, "abcd", 1);
        // Overlaps delivered bytes: only "ef" is new; "XX" differs but the first copy wins.
        h.seg(3, "XXef", 2);
        assert_eq!(h.text, "abcdef");
        assert_eq!(h.count(Counter::TcpOverlap), 1);
        // Held "ij" and "mn"; a segment across both holds only what fills the holes.
        h.seg(9, "ij", 3).seg(13, "mn", 4);
        h.seg(8, "hYYklZZo", 5);
        assert_eq!(h.count(Counter::TcpOverlap), 2);
        assert_eq!(h.r.buffered(), 8);
        h.seg(7, "g", 6);
        assert_eq!(h.text, "abcdefghijklmno");
        // An in-order segment running into held bytes: held copy wins, the rest continues.
        h.seg(20, "uv", 7);
        h.seg(16, "pqrsQQwx", 8);
        assert_eq!(h.text, "abcdefghijklmnopqrsuvwx");
        assert_eq!(h.count(Counter::TcpOverlap), 3);
        assert_eq!(h.count(Counter::TcpRetransmission), 0);
        let frames: Vec<u64> = h.data.iter().map(|d| d.2).collect();
        assert_eq!(frames, [1, 2, 6, 5, 3, 5, 4, 5, 8, 7, 8]);
    }

    #[test]
    fn flush_turns_holes_into_gaps() {
        let mut h = Harness::new();
        h.r.syn(0);
        h.seg(1, "ab", 1).seg(6, "fg", 2).seg(11, "kl", 3).seg(9, "i", 4);
        assert_eq!(h.text, "ab");
        h.flush();
        assert_eq!(h.text, "ab[3]fg[1]i[1]kl");
        assert_eq!(h.gaps, [(2, 3), (7, 1), (9, 1)]);
        assert_eq!((h.r.gaps(), h.count(Counter::TcpGap), h.count(Counter::TcpGapBytes)), (3, 3, 5));
        // The stream goes on after the flush; the hole's bytes are now old.
        h.seg(13, "m", 5).seg(3, "cde", 6);
        assert_eq!(h.text, "ab[3]fg[1]i[1]klm");
        assert_eq!(h.count(Counter::TcpRetransmission), 1);
        h.flush();
        assert_eq!(h.r.gaps(), 3, "a second flush adds nothing");
    }

    #[test]
    fn lost_first_segment_is_a_gap_at_offset_zero() {
        let mut h = Harness::new();
        h.r.syn(41);
        h.seg(45, "efg", 1).flush();
        assert_eq!(h.text, "[3]efg");
        assert_eq!(h.gaps, [(0, 3)]);
    }

    #[test]
    fn midstream_start_takes_the_first_data_and_drops_earlier_bytes() {
        let mut h = Harness::new();
        h.seg(5000, "middle", 1);
        assert_eq!(h.data[0].0, 0, "offsets count from the first byte seen");
        h.seg(4990, "0123456789", 2); // before the start: old
        h.seg(4998, "..mid", 3); // straddles the start: only what follows counts
        h.seg(5006, " end", 4);
        assert_eq!(h.text, "middle end");
        assert_eq!(h.count(Counter::TcpRetransmission), 2);
        h.r.syn(4000); // a late SYN cannot move a started stream
        h.seg(5010, "!", 5);
        assert_eq!(h.text, "middle end!");
    }

    #[test]
    fn latest_syn_before_data_sets_the_start() {
        let mut h = Harness::new();
        h.r.syn(100);
        h.r.syn(7000);
        h.r.syn(7000);
        h.seg(7001, "data", 1);
        assert_eq!(h.text, "data");
        assert_eq!(h.data[0].0, 0);
    }

    #[test]
    fn sequence_numbers_wrap_around_2_32() {
        let mut h = Harness::new();
        h.r.syn(u32::MAX - 5);
        h.seg(u32::MAX - 4, "abc", 1);
        // Held across the wrap, then filled by a segment straddling it.
        h.seg(2, "hij", 3);
        h.seg(u32::MAX - 1, "defg", 2);
        assert_eq!(h.text, "abcdefghij");
        h.seg(u32::MAX, "fg", 4);
        assert_eq!(h.count(Counter::TcpRetransmission), 1);
        assert_eq!(h.r.delivered(), 10);

        // Offsets keep growing past 4 GiB of stream.
        let mut r = Reassembler::new();
        let (cfg, mut budget, mut counters) = (ReassemblyConfig::default(), Budget::new(1 << 20), Counters::default());
        r.syn(7);
        let chunk = vec![b'x'; 60_000];
        let mut seq = 8u32;
        let mut last = 0;
        for frame in 0..80_000u64 {
            r.segment(seq, &chunk, frame, &cfg, &mut budget, &mut counters, &mut |c| {
                let Chunk::Data { offset, .. } = c else { panic!("no gaps expected") };
                assert_eq!(offset, frame * 60_000);
                last = offset;
            });
            seq = seq.wrapping_add(60_000);
        }
        assert_eq!(r.delivered(), 80_000 * 60_000);
        assert!(last > 1 << 32);
        assert_eq!(counters.get(Counter::TcpRetransmission), 0);
    }

    #[test]
    fn per_direction_byte_cap_gives_up_the_oldest_hole() {
        let cfg = ReassemblyConfig { max_buffer_per_direction: 10, max_segments_per_direction: 100 };
        let mut h = Harness::with(cfg, 1 << 20);
        h.r.syn(0);
        h.seg(1, "a", 1);
        h.seg(4, "defg", 2).seg(10, "jklmn", 3); // 9 bytes held, holes at 1..3 and 7..9
        assert_eq!(h.r.buffered(), 9);
        h.seg(16, "pq", 4); // would hold 11
        assert_eq!(h.count(Counter::TcpFlowBufferCap), 1);
        // The first hole went, which freed "defg"; "pq" then fit.
        assert_eq!(h.text, "a[2]defg");
        assert_eq!(h.r.buffered(), 7);
        assert!(h.r.buffered() <= 10);
        assert_eq!((h.count(Counter::TcpGap), h.count(Counter::TcpGapBytes)), (1, 2));
        // A segment larger than the whole cap: every hole before it goes, it is handed on.
        h.seg(30, "0123456789AB", 5);
        assert_eq!(h.text, "a[2]defg[2]jklmn[1]pq[12]0123456789AB");
        assert_eq!(h.count(Counter::TcpFlowBufferCap), 2);
        assert_eq!(h.r.buffered(), 0);
        assert_eq!(h.budget.used, 0);
        // Late bytes of a hole given up are old now.
        h.seg(2, "bc", 6);
        assert_eq!(h.count(Counter::TcpRetransmission), 1);
        h.flush();
        assert_eq!(h.r.gaps(), 4);
    }

    #[test]
    fn per_direction_segment_cap_bounds_tiny_segments() {
        let cfg = ReassemblyConfig { max_buffer_per_direction: 1 << 20, max_segments_per_direction: 4 };
        let mut h = Harness::with(cfg, 1 << 20);
        h.r.syn(0);
        // Every other byte, far apart: 1-byte segments with 1-byte holes.
        for i in 0..6u32 {
            h.seg(3 + 2 * i, "x", u64::from(i));
            assert!(h.r.store.as_ref().is_none_or(|s| s.segs.len() <= 4));
        }
        assert_eq!(h.count(Counter::TcpFlowBufferCap), 2);
        assert_eq!(h.text, "[2]x[1]x");
        h.flush();
        assert_eq!(h.text, "[2]x[1]x[1]x[1]x[1]x[1]x");
    }

    #[test]
    fn total_budget_is_shared_and_a_flow_frees_only_its_own() {
        let cfg = ReassemblyConfig::default();
        let cap = 2 * (100 + SEGMENT_OVERHEAD);
        let mut budget = Budget::new(cap);
        let mut counters = Counters::default();
        let (mut a, mut b) = (Reassembler::new(), Reassembler::new());
        a.syn(0);
        b.syn(0);
        let mut from_a = Vec::new();
        let mut from_b = Vec::new();
        let block = [b'z'; 100];
        a.segment(11, &block, 1, &cfg, &mut budget, &mut counters, &mut |c| from_a.push(own(c)));
        a.segment(211, &block, 2, &cfg, &mut budget, &mut counters, &mut |c| from_a.push(own(c)));
        assert_eq!(budget.used, cap);
        // B cannot hold anything: with nothing of its own to free, it skips to the segment.
        b.segment(51, &block[..5], 3, &cfg, &mut budget, &mut counters, &mut |c| from_b.push(own(c)));
        assert_eq!(counters.get(Counter::TcpTotalBufferCap), 1);
        assert_eq!(counters.get(Counter::TcpFlowBufferCap), 0);
        assert!(matches!(from_b[..], [OwnedChunk::Gap(0, 50), OwnedChunk::Data(ref d, 50, 3)] if d.len() == 5));
        assert_eq!(a.buffered(), 200, "another flow's data is untouched");
        // A frees its oldest held segment to make room for a third one.
        a.segment(411, &block, 4, &cfg, &mut budget, &mut counters, &mut |c| from_a.push(own(c)));
        assert_eq!(counters.get(Counter::TcpTotalBufferCap), 2);
        assert!(matches!(from_a[..], [OwnedChunk::Gap(0, 10), OwnedChunk::Data(_, 10, 1)]));
        assert_eq!(a.buffered(), 200);
        assert!(budget.used <= cap);
        a.flush(&mut budget, &mut counters, &mut |c| from_a.push(own(c)));
        b.flush(&mut budget, &mut counters, &mut |c| from_b.push(own(c)));
        assert_eq!(budget.used, 0);
        assert_eq!(a.delivered(), 510);
        assert_eq!(a.gaps(), 3);
    }

    #[test]
    fn a_wild_jump_ends_as_a_gap_not_as_unbounded_memory() {
        let cfg = ReassemblyConfig { max_buffer_per_direction: 1000, max_segments_per_direction: 8 };
        let mut h = Harness::with(cfg, 1 << 20);
        h.r.syn(0);
        h.seg(1, "abc", 1);
        h.seg(1 + (1 << 30) + 7, "junk", 2); // > 1 GiB ahead
        assert_eq!(h.r.buffered(), 4);
        // The real stream goes on in order, unaffected.
        h.seg(4, "def", 3);
        assert_eq!(h.text, "abcdef");
        h.flush();
        assert_eq!(h.gaps, [(6, (1 << 30) + 1)]);
        assert!(h.text.ends_with("junk"));
    }

    #[test]
    fn fin_marks_the_end_and_missing_tail_bytes_become_a_gap() {
        let mut h = Harness::new();
        h.r.syn(0);
        h.seg(1, "abc", 1);
        h.r.fin(10); // bytes 3..9 never seen
        h.r.fin(20); // only the first FIN counts
        h.flush();
        assert_eq!(h.text, "abc[6]");
        assert_eq!(h.r.delivered(), 9);

        let mut h = Harness::new();
        h.r.syn(0);
        h.seg(1, "abc", 1);
        h.r.fin(4); // complete: nothing to add
        h.seg(1, "abc", 2);
        h.flush();
        assert_eq!(h.text, "abc");
        assert_eq!(h.r.gaps(), 0);

        // A FIN before any stream start or before delivered bytes is ignored.
        let mut h = Harness::new();
        h.r.fin(50);
        h.seg(100, "abcd", 1);
        h.r.fin(102);
        h.flush();
        assert_eq!(h.text, "abcd");
    }

    #[test]
    fn empty_payloads_are_ignored() {
        let mut h = Harness::new();
        h.seg(5, "", 1);
        h.seg(10, "x", 2);
        assert_eq!(h.data[0].0, 0, "an empty segment does not start the stream");
        assert_eq!(h.count(Counter::TcpRetransmission), 0);
    }

    #[test]
    fn hostile_tiny_overlapping_segments_stay_cheap_and_bounded() {
        let mut h = Harness::new();
        h.r.syn(0);
        let filler = "y".repeat(4000);
        let start = std::time::Instant::now();
        // Tiny overlapping segments, scattered behind a hole that is never filled.
        for i in 0..20_000u32 {
            let at = 3 + (i.wrapping_mul(7919) % 50_000);
            h.seg(at, &filler[..1 + (i % 5) as usize], u64::from(i));
        }
        // 1-byte segments with 1-byte holes, and now and then one long segment across the
        // last thousands of them that would fill every hole at once.
        for i in 0..20_000u32 {
            h.seg(60_000 + 2 * i, "y", u64::from(i));
            if i % 500 == 499 {
                h.seg(60_000 + 2 * i - 3998, &filler, u64::from(i));
            }
            if let Some(store) = &h.r.store {
                assert!(store.segs.len() <= 1024);
                assert_eq!(store.bytes, store.segs.values().map(|s| s.bytes.len()).sum::<usize>());
            }
        }
        assert!(h.count(Counter::TcpFlowBufferCap) > 0);
        h.flush();
        assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
        assert!(h.data.iter().all(|d| d.1.iter().all(|&b| b == b'y')));
        assert_eq!(h.r.delivered(), 60_000 + 2 * 19_999 + 1);
    }

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<Reassembler>() <= 48);
    }
}

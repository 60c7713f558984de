//! Property tests of the TCP reassembler: a random byte stream, cut into random segments,
//! reordered within a window, with duplicates and overlapping copies (whose bytes differ
//! wherever they are not the first copy, to check that the first copy wins) must come out exactly
//! as it went in; segments left out must come out as gaps of exactly their length; and with
//! tight caps the output must still be a consistent, contiguous view of the stream.

use phonehome_flow::tcp::{Budget, Chunk, Reassembler, ReassemblyConfig};
use phonehome_model::{Counter, Counters};
use proptest::prelude::*;
use proptest::sample::Index;

/// One segment to feed: stream offsets `start..end`, and when it arrives (sort key).
#[derive(Clone, Debug)]
struct Feed {
    start: usize,
    end: usize,
    key: u64,
    /// The stream's bytes where this segment brings the first copy, and different bytes
    /// where an earlier segment already brought them: the first copy must win, so those
    /// never show.
    payload: Vec<u8>,
}

/// What the reassembler handed on, checked for contiguity as it arrives.
#[derive(Default)]
struct Output {
    next: u64,
    /// Runs in order: `Ok(bytes)` for data (adjacent data chunks merged), `Err(len)` for gaps.
    runs: Vec<Result<Vec<u8>, u64>>,
}

impl Output {
    fn push(&mut self, chunk: Chunk<'_>) {
        match chunk {
            Chunk::Data { bytes, offset, .. } => {
                assert_eq!(offset, self.next, "data chunk out of place");
                assert!(!bytes.is_empty());
                self.next += bytes.len() as u64;
                match self.runs.last_mut() {
                    Some(Ok(run)) => run.extend_from_slice(bytes),
                    _ => self.runs.push(Ok(bytes.to_vec())),
                }
            }
            Chunk::Gap { offset, len } => {
                assert_eq!(offset, self.next, "gap chunk out of place");
                assert!(len > 0);
                self.next += len;
                self.runs.push(Err(len));
            }
        }
    }
}

/// Stream cut into consecutive segments with the given lengths (cycled).
fn cut(len: usize, lens: &[usize]) -> Vec<(usize, usize)> {
    let mut segs = Vec::new();
    let mut at = 0;
    for &l in lens.iter().cycle() {
        if at >= len {
            break;
        }
        let end = (at + l).min(len);
        segs.push((at, end));
        at = end;
    }
    segs
}

#[derive(Debug, Clone)]
struct Case {
    stream: Vec<u8>,
    isn: u32,
    lens: Vec<usize>,
    /// Per segment: how many places later it may arrive.
    jitter: Vec<u64>,
    /// Per segment: left out of the capture.
    removed: Vec<bool>,
    /// (segment, delay) pairs: a second copy of that segment, arriving later.
    dups: Vec<(Index, u64)>,
    /// (stream position, length, delay): an extra segment repeating bytes already sent.
    overlaps: Vec<(Index, usize, u64)>,
}

fn case(max_len: usize) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(any::<u8>(), 0..max_len),
        prop_oneof![any::<u32>(), (u32::MAX - 4000)..=u32::MAX],
        prop::collection::vec(1usize..150, 1..40),
        prop::collection::vec(0u64..8, 1..40),
        prop::collection::vec(prop::bool::weighted(0.15), 1..40),
        prop::collection::vec((any::<Index>(), 0u64..10), 0..15),
        prop::collection::vec((any::<Index>(), 1usize..400, 0u64..10), 0..15),
    )
        .prop_map(|(stream, isn, lens, jitter, removed, dups, overlaps)| Case {
            stream,
            isn,
            lens,
            jitter,
            removed,
            dups,
            overlaps,
        })
}

/// The segments of `case` in arrival order, without the removed ones if `remove`, and the
/// stream ranges that are missing as a result.
fn plan(case: &Case, remove: bool) -> (Vec<Feed>, Vec<(usize, usize)>) {
    let segs = cut(case.stream.len(), &case.lens);
    let gone = |i: usize| remove && case.removed[i % case.removed.len()];
    let key = |i: usize| (i as u64 + case.jitter[i % case.jitter.len()]) * 16;
    let mut feeds = Vec::new();
    let mut missing: Vec<(usize, usize)> = Vec::new();
    for (i, &(start, end)) in segs.iter().enumerate() {
        if gone(i) {
            match missing.last_mut() {
                Some(m) if m.1 == start => m.1 = end,
                _ => missing.push((start, end)),
            }
        } else {
            feeds.push(Feed { start, end, key: key(i), payload: Vec::new() });
        }
    }
    if !segs.is_empty() {
        for &(which, delay) in &case.dups {
            let i = which.index(segs.len());
            if !gone(i) {
                feeds.push(Feed {
                    start: segs[i].0,
                    end: segs[i].1,
                    key: key(i) + delay * 16 + 1,
                    payload: Vec::new(),
                });
            }
        }
        for &(at, len, delay) in &case.overlaps {
            let a = at.index(case.stream.len());
            // Stay within the bytes that were really sent, so no copy fills a missing range;
            // arriving anywhere near the first original it covers, it brings the first copy
            // of some bytes and repeats others.
            if missing.iter().any(|&(s, e)| (s..e).contains(&a)) {
                continue;
            }
            let limit = missing.iter().map(|m| m.0).find(|&s| s > a).unwrap_or(case.stream.len());
            let end = (a + len).min(limit);
            let i = segs.iter().position(|&(s, e)| (s..e).contains(&a)).unwrap();
            feeds.push(Feed { start: a, end, key: key(i) + delay * 16 + 2, payload: Vec::new() });
        }
    }
    // Stable: on equal keys the original comes first.
    feeds.sort_by_key(|f| f.key);
    let mut seen = vec![false; case.stream.len()];
    for f in &mut feeds {
        f.payload = (f.start..f.end)
            .map(|i| if std::mem::replace(&mut seen[i], true) { !case.stream[i] } else { case.stream[i] })
            .collect();
    }
    (feeds, missing)
}

fn run(case: &Case, feeds: &[Feed], fin: bool, cfg: &ReassemblyConfig, budget: &mut Budget) -> (Output, Counters) {
    let mut r = Reassembler::new();
    let mut counters = Counters::default();
    let mut out = Output::default();
    r.syn(case.isn);
    for (frame, f) in feeds.iter().enumerate() {
        let seq = case.isn.wrapping_add(1).wrapping_add(f.start as u32);
        r.segment(seq, &f.payload, frame as u64, cfg, budget, &mut counters, &mut |c| out.push(c));
        assert!(r.buffered() <= cfg.max_buffer_per_direction);
        assert!(budget.used <= budget.cap);
    }
    if fin {
        r.fin(case.isn.wrapping_add(1).wrapping_add(case.stream.len() as u32));
    }
    r.flush(budget, &mut counters, &mut |c| out.push(c));
    assert_eq!(r.delivered(), out.next);
    assert_eq!(r.buffered(), 0);
    assert_eq!(budget.used, 0, "flush releases everything");
    (out, counters)
}

fn roomy() -> (ReassemblyConfig, Budget) {
    (ReassemblyConfig { max_buffer_per_direction: 1 << 20, max_segments_per_direction: 1 << 16 }, Budget::new(1 << 30))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn reordered_duplicated_overlapping_segments_rebuild_the_stream(case in case(3000), fin in any::<bool>()) {
        let (feeds, missing) = plan(&case, false);
        prop_assert!(missing.is_empty());
        let (cfg, mut budget) = roomy();
        let (out, counters) = run(&case, &feeds, fin, &cfg, &mut budget);
        let data: Vec<u8> = out.runs.iter().flat_map(|r| r.as_ref().expect("no gap expected").clone()).collect();
        prop_assert_eq!(data, case.stream.clone());
        prop_assert_eq!(counters.get(Counter::TcpGap), 0);
        prop_assert_eq!(counters.get(Counter::TcpFlowBufferCap) + counters.get(Counter::TcpTotalBufferCap), 0);
        let dups = case.dups.len() as u64 * u64::from(!case.stream.is_empty());
        prop_assert!(counters.get(Counter::TcpRetransmission) >= dups, "every duplicate is a retransmission");
    }

    #[test]
    fn missing_segments_become_gaps_of_their_exact_length(case in case(3000), fin in any::<bool>()) {
        let (feeds, missing) = plan(&case, true);
        let (cfg, mut budget) = roomy();
        let (out, counters) = run(&case, &feeds, fin, &cfg, &mut budget);

        // Expected runs: the stream with each missing range as a gap, except a missing tail,
        // which only a FIN reveals.
        let mut expected: Vec<Result<Vec<u8>, u64>> = Vec::new();
        let mut at = 0;
        for &(s, e) in &missing {
            if s > at {
                expected.push(Ok(case.stream[at..s].to_vec()));
            }
            if e < case.stream.len() || fin {
                expected.push(Err((e - s) as u64));
            }
            at = e;
        }
        if at < case.stream.len() {
            expected.push(Ok(case.stream[at..].to_vec()));
        }
        prop_assert_eq!(&out.runs, &expected);
        let gaps = expected.iter().filter(|r| r.is_err()).count() as u64;
        prop_assert_eq!(counters.get(Counter::TcpGap), gaps);
        let gap_bytes: u64 = expected.iter().filter_map(|r| r.as_ref().err()).sum();
        prop_assert_eq!(counters.get(Counter::TcpGapBytes), gap_bytes);
    }

    #[test]
    fn tight_caps_keep_a_consistent_contiguous_stream(
        case in case(3000),
        remove in any::<bool>(),
        syn in any::<bool>(),
        max_bytes in 0usize..600,
        max_segs in 0usize..12,
        total in 0usize..2000,
    ) {
        let (feeds, _) = plan(&case, remove);
        let cfg = ReassemblyConfig { max_buffer_per_direction: max_bytes, max_segments_per_direction: max_segs };
        let mut budget = Budget::new(total);
        let mut r = Reassembler::new();
        let mut counters = Counters::default();
        let mut out = Output::default();
        if syn {
            r.syn(case.isn);
        }
        // Without a SYN the stream starts at the first segment fed.
        let base = if syn { 0 } else { feeds.first().map_or(0, |f| f.start) };
        let mut end = base;
        // Gaps as (offset, len, index of the feed during which they were declared).
        let mut gaps = Vec::new();
        let mut note = |c: Chunk<'_>, out: &mut Output, when: usize| {
            if let Chunk::Gap { offset, len } = c {
                gaps.push((offset, len, when));
            }
            out.push(c);
        };
        for (frame, f) in feeds.iter().enumerate() {
            let seq = case.isn.wrapping_add(1).wrapping_add(f.start as u32);
            r.segment(seq, &f.payload, frame as u64, &cfg, &mut budget, &mut counters, &mut |c| note(c, &mut out, frame));
            prop_assert!(r.buffered() <= max_bytes);
            prop_assert!(budget.used <= total);
            end = end.max(f.end);
        }
        r.flush(&mut budget, &mut counters, &mut |c| note(c, &mut out, feeds.len()));
        // A cap may give up a hole, never bytes that were already fed: each gap only covers
        // bytes no segment up to then carried.
        let mut first_fed = vec![usize::MAX; case.stream.len()];
        for (i, f) in feeds.iter().enumerate() {
            for p in &mut first_fed[f.start..f.end] {
                *p = (*p).min(i);
            }
        }
        for &(offset, len, when) in &gaps {
            let from = base + offset as usize;
            for (p, &fed) in first_fed[from..from + len as usize].iter().enumerate() {
                prop_assert!(fed > when, "gap at {} covers a byte fed by segment {fed}", from + p);
            }
        }
        prop_assert_eq!(budget.used, 0);
        // Every byte fed was handed on or was old: the stream reaches the furthest one.
        prop_assert_eq!(out.next, (end - base) as u64);
        // Whatever is handed on as data is the stream's byte at that offset.
        let mut at = base;
        for run in &out.runs {
            match run {
                Ok(bytes) => {
                    prop_assert_eq!(&bytes[..], &case.stream[at..at + bytes.len()]);
                    at += bytes.len();
                }
                Err(len) => at += *len as usize,
            }
        }
        prop_assert_eq!(counters.get(Counter::TcpGapBytes), out.runs.iter().filter_map(|r| r.as_ref().err()).sum::<u64>());
    }
}

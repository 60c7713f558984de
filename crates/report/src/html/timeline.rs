//! Findings and bytes over capture time, in a bounded number of buckets whose width doubles
//! whenever the events seen so far would need more (so memory is fixed however long the
//! capture, and the chart always has between `MAX_BUCKETS / 2` and `MAX_BUCKETS` columns
//! once the capture spans more than a few buckets).

use std::collections::BTreeMap;

use phonehome_model::Timestamp;

/// Buckets kept at most.
pub const MAX_BUCKETS: i64 = 96;
/// Stretches of activity kept apart at most.
pub const MAX_SEGMENTS: usize = 4;
/// Silence that separates two stretches: an hour (longer than the flow idle timeouts, so a
/// flow never spans a gap).
pub const GAP: i64 = 3_600_000_000_000;
/// The narrowest bucket: one second.
const START_WIDTH: i64 = 1_000_000_000;

/// What happened in one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Identifier findings.
    pub findings: u64,
    /// Bytes the device sent (flows spread evenly over their lifetime).
    pub bytes_out: u64,
    /// Bytes it received (likewise).
    pub bytes_in: u64,
    /// Flows that started.
    pub flows: u64,
    /// HTTP transactions (for HAR inputs, which have no flows).
    pub requests: u64,
}

impl Bucket {
    fn add(&mut self, b: &Bucket) {
        self.findings += b.findings;
        self.bytes_out = self.bytes_out.saturating_add(b.bytes_out);
        self.bytes_in = self.bytes_in.saturating_add(b.bytes_in);
        self.flows += b.flows;
        self.requests += b.requests;
    }
}

/// One stretch of activity, bucketed.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Bucket width in nanoseconds.
    width: i64,
    /// Bucket index (time / width, floored) → counts; the keys span at most `MAX_BUCKETS`.
    buckets: BTreeMap<i64, Bucket>,
    /// First and last instant seen.
    first: Timestamp,
    last: Timestamp,
}

impl Segment {
    fn new(first: Timestamp, last: Timestamp) -> Segment {
        Segment { width: START_WIDTH, buckets: BTreeMap::new(), first, last }
    }

    /// First and last instant seen.
    pub fn span(&self) -> (Timestamp, Timestamp) {
        (self.first, self.last)
    }

    /// Takes in `other`'s buckets (at the coarser of the two widths).
    fn absorb(&mut self, mut other: Segment) {
        while self.width < other.width {
            self.coarsen();
        }
        while other.width < self.width {
            other.coarsen();
        }
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        let (a, b) = (other.first, other.last);
        for (k, o) in other.buckets {
            let m = self.buckets.entry(k).or_default();
            m.add(&o);
        }
        // Bring the span back under the cap.
        self.fit(a, b);
    }

    /// Bucket width in nanoseconds.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// `(start of bucket, counts)` for every bucket from the first to the last, empty ones
    /// included.
    pub fn buckets(&self) -> Vec<(Timestamp, Bucket)> {
        let (Some(lo), Some(hi)) = (self.buckets.keys().next(), self.buckets.keys().next_back()) else {
            return Vec::new();
        };
        (*lo..=*hi)
            .map(|k| (Timestamp(k.saturating_mul(self.width)), self.buckets.get(&k).copied().unwrap_or_default()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Makes room for the bucket indexes of `from..=to` (coarsening as needed) and returns
    /// their indexes at the final width.
    fn fit(&mut self, from: Timestamp, to: Timestamp) -> (i64, i64) {
        loop {
            let (a, b) = (from.0.div_euclid(self.width), to.0.div_euclid(self.width));
            let lo = self.buckets.keys().next().map_or(a, |k| (*k).min(a));
            let hi = self.buckets.keys().next_back().map_or(b, |k| (*k).max(b));
            if hi - lo < MAX_BUCKETS || self.width > i64::MAX / 4 {
                return (a, b);
            }
            self.coarsen();
        }
    }

    /// Doubles the width, merging pairs of buckets.
    fn coarsen(&mut self) {
        self.width *= 2;
        let old = std::mem::take(&mut self.buckets);
        for (k, b) in old {
            self.buckets.entry(k.div_euclid(2)).or_default().add(&b);
        }
    }

    fn finding(&mut self, t: Timestamp) {
        let (k, _) = self.fit(t, t);
        self.buckets.entry(k).or_default().findings += 1;
    }

    fn request(&mut self, t: Timestamp) {
        let (k, _) = self.fit(t, t);
        self.buckets.entry(k).or_default().requests += 1;
    }

    fn flow(&mut self, start: Timestamp, end: Timestamp, bytes_out: u64, bytes_in: u64) {
        let (a, b) = self.fit(start, end);
        self.buckets.entry(a).or_default().flows += 1;
        let dur = (i128::from(end.0) - i128::from(start.0)) as u128;
        let width = i128::from(self.width);
        let mut given = (0u64, 0u64);
        for k in a..=b {
            let bucket = self.buckets.entry(k).or_default();
            let (share_out, share_in) = if k == b || dur == 0 {
                (bytes_out.saturating_sub(given.0), bytes_in.saturating_sub(given.1))
            } else {
                let lo = i128::from(start.0).max(i128::from(k) * width);
                let hi = i128::from(end.0).min((i128::from(k) + 1) * width);
                let part = (hi - lo).clamp(0, dur as i128) as u128;
                // `part` is at most one bucket (under 2^63 ns), so the product fits in u128.
                ((u128::from(bytes_out) * part / dur) as u64, (u128::from(bytes_in) * part / dur) as u64)
            };
            bucket.bytes_out = bucket.bytes_out.saturating_add(share_out);
            bucket.bytes_in = bucket.bytes_in.saturating_add(share_in);
            given.0 = given.0.saturating_add(share_out);
            given.1 = given.1.saturating_add(share_in);
            if dur == 0 {
                break;
            }
        }
    }
}

/// Stretches of activity separated by more than [`GAP`] (captures joined together, a device
/// that slept), each bucketed on its own axis, so that two minutes of traffic six years apart
/// are two readable charts rather than two slivers at the ends of one.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// In time order, not overlapping; at most [`MAX_SEGMENTS`].
    segments: Vec<Segment>,
}

impl Timeline {
    /// The stretches of activity, in time order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The index of the segment `from..=to` belongs to, after joining the segments it
    /// bridges, or of a new one.
    fn segment(&mut self, from: Timestamp, to: Timestamp) -> usize {
        let near = |s: &Segment| from.0 <= s.last.0.saturating_add(GAP) && to.0 >= s.first.0.saturating_sub(GAP);
        let hits: Vec<usize> = (0..self.segments.len()).filter(|&i| near(&self.segments[i])).collect();
        let at = match hits.first() {
            None => {
                let at = self.segments.partition_point(|s| s.first < from);
                self.segments.insert(at, Segment::new(from, to));
                at
            }
            Some(&first) => {
                // The hits are contiguous (segments are ordered and apart): fold them in.
                for &i in hits[1..].iter().rev() {
                    let s = self.segments.remove(i);
                    self.segments[first].absorb(s);
                }
                let s = &mut self.segments[first];
                s.first = s.first.min(from);
                s.last = s.last.max(to);
                first
            }
        };
        if self.segments.len() <= MAX_SEGMENTS {
            return at;
        }
        // Too many: join the two neighbours closest in time.
        let i = (0..self.segments.len() - 1)
            .min_by_key(|&i| self.segments[i + 1].first.0.saturating_sub(self.segments[i].last.0))
            .unwrap_or(0);
        let s = self.segments.remove(i + 1);
        self.segments[i].absorb(s);
        if at > i { at - 1 } else { at }
    }

    /// One finding at `t`.
    pub fn finding(&mut self, t: Timestamp) {
        let i = self.segment(t, t);
        self.segments[i].finding(t);
    }

    /// One HTTP transaction at `t`.
    pub fn request(&mut self, t: Timestamp) {
        let i = self.segment(t, t);
        self.segments[i].request(t);
    }

    /// A flow from `start` to `end` with its bytes each way, spread evenly over its lifetime.
    pub fn flow(&mut self, start: Timestamp, end: Timestamp, bytes_out: u64, bytes_in: u64) {
        let end = end.max(start);
        let i = self.segment(start, end);
        self.segments[i].flow(start, end, bytes_out, bytes_in);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: i64) -> Timestamp {
        Timestamp::from_secs_nanos(secs, 0)
    }

    #[test]
    fn buckets_stay_bounded_and_totals_are_kept() {
        let mut t = Timeline::default();
        for i in 0..10_000 {
            t.finding(s(1_000_000 + i * 7));
        }
        t.flow(s(999_000), s(1_090_000), 1_000_003, 77);
        t.request(s(1_000_000));
        assert_eq!(t.segments().len(), 1);
        let seg = &t.segments()[0];
        let b = seg.buckets();
        assert!(b.len() as i64 <= MAX_BUCKETS && b.len() as i64 > MAX_BUCKETS / 2, "{}", b.len());
        assert_eq!(b.iter().map(|x| x.1.findings).sum::<u64>(), 10_000);
        assert_eq!(b.iter().map(|x| x.1.bytes_out).sum::<u64>(), 1_000_003);
        assert_eq!(b.iter().map(|x| x.1.bytes_in).sum::<u64>(), 77);
        assert_eq!(b.iter().map(|x| x.1.flows).sum::<u64>(), 1);
        assert_eq!(b.iter().map(|x| x.1.requests).sum::<u64>(), 1);
        // Buckets are contiguous and aligned to the width.
        for w in b.windows(2) {
            assert_eq!(w[1].0.0 - w[0].0.0, seg.width());
        }
        assert_eq!(b[0].0.0 % seg.width(), 0);
    }

    #[test]
    fn a_flow_is_spread_over_its_lifetime() {
        let mut t = Timeline::default();
        t.finding(s(0));
        t.finding(s(9));
        t.flow(s(0), s(10), 1000, 0);
        let b = t.segments()[0].buckets();
        assert_eq!(b.len(), 11);
        assert_eq!(b[0].1.bytes_out, 100);
        assert_eq!(b[5].1.bytes_out, 100);
        assert_eq!(b[10].1.bytes_out, 0);
        assert_eq!(b.iter().map(|x| x.1.bytes_out).sum::<u64>(), 1000);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut t = Timeline::default();
        t.finding(Timestamp(i64::MIN));
        t.finding(Timestamp(i64::MAX));
        t.flow(Timestamp(i64::MIN), Timestamp(i64::MAX), u64::MAX, u64::MAX);
        assert_eq!(t.segments().len(), 1, "the flow joins both ends");
        let b = t.segments()[0].buckets();
        assert!(b.len() as i64 <= MAX_BUCKETS);
        assert_eq!(b.iter().map(|x| x.1.findings).sum::<u64>(), 2);
    }

    #[test]
    fn stretches_apart_get_their_own_axis() {
        // examples/1kxun.pcap: two minutes in 2016, two minutes in 2022.
        let mut t = Timeline::default();
        let later = 6 * 365 * 86_400;
        for i in 0..120 {
            t.finding(s(later + i));
            t.finding(s(i));
        }
        t.flow(s(10), s(100), 500, 500);
        let segs = t.segments();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].span(), (s(0), s(119)));
        assert_eq!(segs[1].span(), (s(later), s(later + 119)));
        assert_eq!(segs[0].width(), 2_000_000_000);
        assert_eq!(segs[1].buckets().iter().map(|b| b.1.findings).sum::<u64>(), 120);
        // A flow that bridges two stretches joins them.
        t.flow(s(100), s(100 + 3000), 1, 1);
        t.flow(s(100 + 6000), s(later - 1000), 1, 1);
        assert_eq!(t.segments().len(), 1);
        // Many stretches: the closest are joined, nothing is lost.
        let mut t = Timeline::default();
        for i in 0..50 {
            t.finding(s(i * i * 10_000));
        }
        assert!(t.segments().len() <= MAX_SEGMENTS);
        let total: u64 = t.segments().iter().flat_map(|g| g.buckets()).map(|b| b.1.findings).sum();
        assert_eq!(total, 50);
        for w in t.segments().windows(2) {
            assert!(w[0].span().1 < w[1].span().0);
        }
    }
}

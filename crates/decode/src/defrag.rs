//! IPv4 and IPv6 fragment reassembly.
//!
//! Datagrams are keyed by (source, destination, identification, protocol) — the protocol is
//! part of the IPv4 key only, as RFC 791 and RFC 8200 say. Each pending datagram keeps its
//! bytes at their final offsets and the list of byte ranges received, so holes and
//! out-of-order fragments need no special case, and overlaps keep the bytes that came first.
//! Expiry walks a queue ordered by first-seen time, so the per-packet cost is one comparison.

use std::collections::VecDeque;
use std::net::IpAddr;

use hashbrown::HashMap;
use phonehome_model::{Counter, Counters};

use crate::DecoderConfig;
use crate::ip::Frag;

/// Largest fragmentable part of a datagram: the 16-bit length field bounds the whole
/// datagram, and no reassembled payload is allowed past it.
const MAX_PAYLOAD: u32 = 65535;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4's protocol; 0 for IPv6.
    pub proto: u8,
}

struct Pending {
    /// Identifies this datagram in the expiry queue (keys are reused).
    serial: u64,
    /// Payload bytes at their offsets; holes are zero until filled.
    buf: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    /// Payload length, once the last fragment has been seen.
    total: Option<u32>,
    fragments: usize,
    /// From the fragment at offset 0: protocol and header length of the datagram.
    first: Option<(u8, u32)>,
}

/// A pending datagram's byte buffer and range list, kept for reuse.
type Buffers = (Vec<u8>, Vec<(u32, u32)>);

/// A datagram rebuilt from its fragments.
pub(crate) struct Reassembled<'s> {
    pub payload: &'s [u8],
    pub proto: u8,
    pub hdr_len: u32,
}

pub(crate) struct Defrag {
    pending: HashMap<Key, Pending, foldhash::fast::RandomState>,
    /// (first seen, key, serial), in arrival order; entries of completed datagrams go stale
    /// and are skipped.
    queue: VecDeque<(i64, Key, u64)>,
    /// Buffers of finished datagrams, reused so steady state does not allocate.
    pool: Vec<Buffers>,
    /// The last reassembled datagram; swapped with the pending buffer, not copied.
    out: Vec<u8>,
    bytes: usize,
    serial: u64,
}

impl Defrag {
    pub(crate) fn new() -> Defrag {
        Defrag {
            pending: HashMap::default(),
            queue: VecDeque::new(),
            pool: Vec::new(),
            out: Vec::new(),
            bytes: 0,
            serial: 0,
        }
    }

    /// Drops datagrams first seen more than `timeout` before `now`. O(1) unless some are due.
    #[inline]
    pub(crate) fn expire(&mut self, now: i64, timeout: i64, counters: &mut Counters) {
        while let Some(&(first_seen, key, serial)) = self.queue.front() {
            if now.saturating_sub(first_seen) <= timeout {
                break;
            }
            self.queue.pop_front();
            if self.pending.get(&key).is_some_and(|p| p.serial == serial) {
                self.remove(&key);
                counters.add(Counter::FragmentTimeout, 1);
            }
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(p) = self.pending.remove(key) {
            self.bytes = self.bytes.saturating_sub(p.buf.len());
            self.recycle(p.buf, p.have);
        }
    }

    fn recycle(&mut self, mut buf: Vec<u8>, mut have: Vec<(u32, u32)>) {
        // Keep a few buffers; an attack's worth of them would pin memory for nothing.
        if self.pool.len() < 64 {
            buf.clear();
            have.clear();
            self.pool.push((buf, have));
        }
    }

    /// Adds one fragment. Returns the datagram once every byte of it has arrived.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        key: Key,
        frag: Frag,
        data: &[u8],
        proto: u8,
        hdr_len: u32,
        now: i64,
        cfg: &DecoderConfig,
        counters: &mut Counters,
    ) -> Option<Reassembled<'_>> {
        let start = frag.offset;
        let end = match u32::try_from(data.len()).ok().and_then(|l| start.checked_add(l)) {
            Some(e) if e <= MAX_PAYLOAD => e,
            _ => {
                counters.add(Counter::MalformedIp, 1);
                return None;
            }
        };
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= cfg.frag_max_datagrams {
                counters.add(Counter::FragmentCap, 1);
                return None;
            }
            let (buf, have) = self.pool.pop().unwrap_or_default();
            self.serial = self.serial.wrapping_add(1);
            self.pending
                .insert(key, Pending { serial: self.serial, buf, have, total: None, fragments: 0, first: None });
            self.queue.push_back((now, key, self.serial));
            self.compact_queue();
        }
        let p = self.pending.get_mut(&key)?;
        if p.fragments >= cfg.frag_max_per_datagram {
            counters.add(Counter::FragmentCap, 1);
            self.remove(&key);
            return None;
        }
        if self.bytes.saturating_add((end as usize).saturating_sub(p.buf.len())) > cfg.frag_max_bytes {
            counters.add(Counter::FragmentCap, 1);
            return None;
        }
        p.fragments += 1;
        // A last fragment that disagrees about where the datagram ends is an overlap too (a
        // rewrite attempt): the first word stands. Bytes of other fragments past the known
        // end are dropped, the rest is used, as tshark does.
        let max_have = p.have.last().map_or(0, |r| r.1);
        let (conflicting, clip) = match (p.total, frag.more) {
            (Some(t), false) => (end != t, end),
            (Some(t), true) => (false, end.min(t)),
            (None, false) => (max_have > end, end),
            (None, true) => (false, end),
        };
        if conflicting {
            counters.add(Counter::FragmentOverlap, 1);
            return None;
        }
        let (end, data) = if clip < end {
            counters.add(Counter::FragmentOverlap, 1);
            (clip, data.get(..(clip.saturating_sub(start)) as usize).unwrap_or_default())
        } else {
            (end, data)
        };
        // An empty fragment records no range, so it must not grow the buffer either.
        let grow = if data.is_empty() { 0 } else { (end as usize).saturating_sub(p.buf.len()) };
        if !frag.more {
            p.total = Some(end);
        }
        if start == 0 && p.first.is_none() {
            p.first = Some((proto, hdr_len));
        }
        if grow > 0 {
            p.buf.resize(end as usize, 0);
            self.bytes += grow;
        }
        if fill(&mut p.have, &mut p.buf, start, data) {
            counters.add(Counter::FragmentOverlap, 1);
        }
        let done = matches!((p.total, p.have.as_slice()), (Some(t), [(0, e)]) if *e == t);
        if !done {
            return None;
        }
        let p = self.pending.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(p.buf.len());
        let (proto, hdr_len) = p.first.unwrap_or((proto, hdr_len));
        let total = p.total.map_or(0, |t| t as usize);
        let old = std::mem::replace(&mut self.out, p.buf);
        self.recycle(old, p.have);
        // The datagram ends at its total, whatever grew the buffer before the end was known.
        self.out.truncate(total);
        counters.add(Counter::Reassembled, 1);
        Some(Reassembled { payload: &self.out, proto, hdr_len })
    }

    /// Drops stale queue entries once they outnumber the live ones, so completed datagrams do
    /// not pile up in the queue until their timeout; amortised O(1) per datagram.
    fn compact_queue(&mut self) {
        if self.queue.len() > 64 && self.queue.len() > 2 * self.pending.len() {
            let pending = &self.pending;
            self.queue.retain(|(_, k, s)| pending.get(k).is_some_and(|p| p.serial == *s));
        }
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        (self.pending.len(), self.bytes)
    }
}

impl Default for Defrag {
    fn default() -> Self {
        Defrag::new()
    }
}

/// Copies the parts of `data` (at `start`) not yet received into `buf` and records them in
/// `have`. Returns whether any byte was already there.
fn fill(have: &mut Vec<(u32, u32)>, buf: &mut [u8], start: u32, data: &[u8]) -> bool {
    let end = start + data.len() as u32;
    if start == end {
        return false;
    }
    let mut overlap = false;
    let mut pos = start;
    // Ranges are sorted and disjoint: copy the gaps between those that touch [start, end).
    for &(a, b) in have.iter() {
        if b <= pos {
            continue;
        }
        if a >= end {
            break;
        }
        if a > pos {
            copy(buf, data, start, pos, a);
        }
        overlap = true;
        pos = pos.max(b);
        if pos >= end {
            break;
        }
    }
    if pos < end {
        copy(buf, data, start, pos, end);
    }
    // Merge [start, end) into the range list.
    let i = have.partition_point(|r| r.1 < start);
    let mut j = i;
    let (mut lo, mut hi) = (start, end);
    while let Some(&(a, b)) = have.get(j) {
        if a > hi {
            break;
        }
        lo = lo.min(a);
        hi = hi.max(b);
        j += 1;
    }
    have.splice(i..j, std::iter::once((lo, hi)));
    overlap
}

fn copy(buf: &mut [u8], data: &[u8], start: u32, from: u32, to: u32) {
    let (s, e) = ((from - start) as usize, (to - start) as usize);
    if let (Some(dst), Some(src)) = (buf.get_mut(from as usize..to as usize), data.get(s..e)) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> Key {
        Key { src: IpAddr::V4(Ipv4Addr::LOCALHOST), dst: IpAddr::V4(Ipv4Addr::BROADCAST), id, proto: 17 }
    }

    fn frag(offset: u32, more: bool) -> Frag {
        Frag { offset, more, id: 1 }
    }

    fn add(d: &mut Defrag, c: &mut Counters, id: u32, off: u32, more: bool, data: &[u8]) -> Option<Vec<u8>> {
        let cfg = DecoderConfig::default();
        d.insert(key(id), frag(off, more), data, 17, 20, 0, &cfg, c).map(|r| r.payload.to_vec())
    }

    #[test]
    fn out_of_order_with_overlap_keeps_first_copy() {
        let (mut d, mut c) = (Defrag::new(), Counters::default());
        assert_eq!(add(&mut d, &mut c, 1, 16, false, &[3; 8]), None);
        assert_eq!(add(&mut d, &mut c, 1, 0, true, &[1; 8]), None);
        // Overlaps both neighbours; only the hole [8, 16) is taken from it.
        let got = add(&mut d, &mut c, 1, 4, true, &[2; 16]).unwrap();
        let mut want = vec![1; 8];
        want.extend([2; 8]);
        want.extend([3; 8]);
        assert_eq!(got, want);
        assert_eq!(c.get(Counter::FragmentOverlap), 1);
        assert_eq!(c.get(Counter::Reassembled), 1);
        assert_eq!(d.held(), (0, 0));
    }

    /// Regression (fuzz target `ip_defrag`): an empty fragment past the end of the datagram
    /// grew the buffer without recording a range, and the rebuilt datagram came out with
    /// zero bytes after its real end (here 584 bytes instead of 24).
    #[test]
    fn an_empty_fragment_past_the_end_does_not_lengthen_the_datagram() {
        let (mut d, mut c) = (Defrag::new(), Counters::default());
        assert_eq!(add(&mut d, &mut c, 1, 584, true, &[]), None);
        assert_eq!(d.held(), (1, 0), "an empty fragment holds no bytes");
        assert_eq!(add(&mut d, &mut c, 1, 0, true, &[1; 16]), None);
        let got = add(&mut d, &mut c, 1, 8, false, &[2; 16]).unwrap();
        let mut want = vec![1; 16];
        want.extend([2; 8]);
        assert_eq!(got, want);
        assert_eq!(d.held(), (0, 0));
    }

    #[test]
    fn caps_and_timeout() {
        let (mut d, mut c) = (Defrag::new(), Counters::default());
        let cfg = DecoderConfig {
            frag_max_datagrams: 2,
            frag_max_per_datagram: 2,
            frag_max_bytes: 100,
            ..Default::default()
        };
        for id in 0..3 {
            assert!(d.insert(key(id), frag(0, true), &[0; 8], 17, 20, 0, &cfg, &mut c).is_none());
        }
        assert_eq!(c.get(Counter::FragmentCap), 1);
        // Too many fragments for datagram 0: it is dropped.
        assert!(d.insert(key(0), frag(8, true), &[0; 8], 17, 20, 0, &cfg, &mut c).is_none());
        assert!(d.insert(key(0), frag(16, true), &[0; 8], 17, 20, 0, &cfg, &mut c).is_none());
        assert_eq!(c.get(Counter::FragmentCap), 2);
        assert_eq!(d.held(), (1, 8));
        // Byte cap.
        assert!(d.insert(key(1), frag(8, true), &[0; 200], 17, 20, 0, &cfg, &mut c).is_none());
        assert_eq!(c.get(Counter::FragmentCap), 3);
        d.expire(cfg.frag_timeout_ns, cfg.frag_timeout_ns, &mut c);
        assert_eq!(c.get(Counter::FragmentTimeout), 0);
        d.expire(cfg.frag_timeout_ns + 1, cfg.frag_timeout_ns, &mut c);
        assert_eq!(c.get(Counter::FragmentTimeout), 1);
        assert_eq!(d.held(), (0, 0));
    }

    #[test]
    fn conflicting_ends_and_bounds() {
        let (mut d, mut c) = (Defrag::new(), Counters::default());
        assert_eq!(add(&mut d, &mut c, 1, 8, false, &[3; 8]), None);
        assert_eq!(add(&mut d, &mut c, 1, 16, true, &[3; 8]), None);
        assert_eq!(c.get(Counter::FragmentOverlap), 1);
        assert_eq!(add(&mut d, &mut c, 2, 65530, false, &[3; 8]), None);
        assert_eq!(c.get(Counter::MalformedIp), 1);
        assert_eq!(add(&mut d, &mut c, 1, 0, true, &[1; 8]).map(|v| v.len()), Some(16));
    }

    #[test]
    fn fill_merges_ranges() {
        let mut have = vec![(0, 4), (8, 12)];
        let mut buf = [0u8; 20];
        assert!(fill(&mut have, &mut buf, 2, &[7; 14]));
        assert_eq!(have, vec![(0, 16)]);
        assert_eq!(&buf[..16], &[0, 0, 0, 0, 7, 7, 7, 7, 0, 0, 0, 0, 7, 7, 7, 7]);
        assert!(!fill(&mut have, &mut buf, 18, &[1; 2]));
        assert_eq!(have, vec![(0, 16), (18, 20)]);
        assert!(!fill(&mut have, &mut buf, 16, &[2; 2]));
        assert_eq!(have, vec![(0, 20)]);
    }
}

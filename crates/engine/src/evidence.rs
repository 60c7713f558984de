//! `--evidence-pcap`: the packets of the flows that carry findings, written to a pcapng file
//! so a user opens exactly those in Wireshark.
//!
//! The pipeline streams and keeps no packets, so this is a second pass. During the run,
//! [`EvidenceFlows`] (an [`EventSink`] beside the report's) notes each flow that has a `leak`
//! event: its input, its endpoints (both directions), the frame that started it and its packet
//! count (from its `flow` event). [`write_pcapng`] then reads the file inputs again with the
//! same reader and decoder and copies, per flow, the packets with those endpoints from its
//! first frame on until its count is reached: exactly the flow's packets, since the flows with
//! one set of endpoints in an input follow each other (a flow ends before the next one on the
//! same ports starts). IP fragments of a datagram of such a flow are held (bounded, like the
//! decoder's own buffer) until the frame that completes the datagram shows whose it is, and
//! written with it. Packets keep their timestamps, captured and original lengths and link
//! types; each input interface becomes a pcapng interface, and each packet's comment names
//! its input and frame number (and the findings it completed), so it maps back to the
//! original capture.
//!
//! Memory: at most [`MAX_EVIDENCE_FLOWS`] flows and [`MAX_MARKED_FRAMES`] frame comments are
//! kept; further ones are counted in [`EvidenceOutcome`].

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Write};
use std::net::IpAddr;

use phonehome_capture::{CaptureReader, PcapngWriter, Record};
use phonehome_decode::{Decoder, FragmentId, Packet, Transport};
use phonehome_model::event::FlowRef;
use phonehome_model::{Counters, Event, EventBody, EventSink, LinkType, Timestamp};

use crate::Config;

/// Flows with findings remembered for the evidence file.
pub const MAX_EVIDENCE_FLOWS: usize = 100_000;
/// Frames whose findings are named in their packet comment.
pub const MAX_MARKED_FRAMES: usize = 100_000;
/// Longest list of findings in one packet comment.
const MAX_MARK_LEN: usize = 300;

/// A flow's endpoints in canonical order, within one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    input: u64,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    proto: u8,
}

impl Key {
    fn new(input: u64, x: (IpAddr, u16), y: (IpAddr, u16), proto: u8) -> Key {
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        Key { input, a, b, proto }
    }

    fn of_flow(input: u64, f: &FlowRef) -> Key {
        Key::new(input, (f.src_ip, f.src_port.unwrap_or(0)), (f.dest_ip, f.dest_port.unwrap_or(0)), f.proto.0)
    }
}

/// One flow to copy: from frame `first` on, `remaining` more packets with its endpoints.
#[derive(Clone, Copy, Debug)]
struct Span {
    first: u64,
    remaining: u64,
}

/// The input index and frame number in a flow id (docs/OUTPUT.md, `flow_id`).
fn split_flow_id(id: u64) -> (u64, u64) {
    (id >> 42, (id >> 1) & ((1 << 41) - 1))
}

/// Collects the flows that carry findings while the pipeline runs (feed it every event, e.g.
/// through [`phonehome_model::event::Tee`]).
#[derive(Debug)]
pub struct EvidenceFlows {
    max_flows: usize,
    max_marks: usize,
    /// Flows with a finding whose `flow` event has not come yet.
    pending: HashSet<u64>,
    spans: HashMap<Key, Vec<Span>>,
    /// Flows in `spans`.
    flows: usize,
    /// Flows with findings left out because of [`MAX_EVIDENCE_FLOWS`] (counted when they end)...
    over_cap: u64,
    /// ... and those of them still live (no more than the flow table holds).
    refused: HashSet<u64>,
    /// (input, frame) → the findings that frame completed, for its comment.
    marks: HashMap<(u64, u64), String>,
    marks_over_cap: u64,
    /// Address pairs (sorted) of the flows, to decide which fragments may be worth holding.
    pairs: HashSet<(IpAddr, IpAddr)>,
    /// Packets of the flows, per input.
    packets: HashMap<u64, u64>,
    /// Findings without a frame (HAR entries), per input.
    without_packets: HashMap<u64, u64>,
}

impl Default for EvidenceFlows {
    fn default() -> Self {
        EvidenceFlows::with_caps(MAX_EVIDENCE_FLOWS, MAX_MARKED_FRAMES)
    }
}

impl EvidenceFlows {
    /// With the default caps ([`MAX_EVIDENCE_FLOWS`], [`MAX_MARKED_FRAMES`]).
    pub fn new() -> EvidenceFlows {
        EvidenceFlows::default()
    }

    /// Keeping at most `max_flows` flows and `max_marks` frame comments.
    pub fn with_caps(max_flows: usize, max_marks: usize) -> EvidenceFlows {
        EvidenceFlows {
            max_flows,
            max_marks,
            pending: HashSet::new(),
            refused: HashSet::new(),
            spans: HashMap::new(),
            flows: 0,
            over_cap: 0,
            marks: HashMap::new(),
            marks_over_cap: 0,
            pairs: HashSet::new(),
            packets: HashMap::new(),
            without_packets: HashMap::new(),
        }
    }

    /// Flows with findings that will be written.
    pub fn flows(&self) -> usize {
        self.flows
    }

    /// Flows with findings left out (over [`MAX_EVIDENCE_FLOWS`]).
    pub fn flows_over_cap(&self) -> u64 {
        self.over_cap
    }

    /// Findings not named in their frame's comment (their frame came after
    /// [`MAX_MARKED_FRAMES`] others had a comment).
    pub fn marks_over_cap(&self) -> u64 {
        self.marks_over_cap
    }

    /// Packets the flows of input `index` had in the run (what the second pass should find).
    pub fn packets_of_input(&self, index: u64) -> u64 {
        self.packets.get(&index).copied().unwrap_or(0)
    }

    /// Findings of input `index` that came with no packet (a HAR's entries).
    pub fn findings_without_packets(&self, index: u64) -> u64 {
        self.without_packets.get(&index).copied().unwrap_or(0)
    }

    fn leak(&mut self, flow: &FlowRef, frame: u64, what: String) {
        let (input, _) = split_flow_id(flow.flow_id);
        if !self.pending.contains(&flow.flow_id) {
            if self.pending.len() + self.flows < self.max_flows {
                self.pending.insert(flow.flow_id);
            } else {
                // Counted once, when the flow ends.
                self.refused.insert(flow.flow_id);
                return;
            }
        }
        let n = self.marks.len();
        match self.marks.entry((input, frame)) {
            Entry::Occupied(mut e) => {
                let s = e.get_mut();
                if !s.split(", ").any(|x| x == what) && s.len() + what.len() < MAX_MARK_LEN {
                    s.push_str(", ");
                    s.push_str(&what);
                }
            }
            Entry::Vacant(e) if n < self.max_marks => {
                e.insert(what);
            }
            Entry::Vacant(_) => self.marks_over_cap += 1,
        }
    }

    fn flow_ended(&mut self, flow: &FlowRef, packets: u64) {
        if !self.pending.remove(&flow.flow_id) {
            if self.refused.remove(&flow.flow_id) {
                self.over_cap += 1;
            }
            return;
        }
        let (input, first) = split_flow_id(flow.flow_id);
        let spans = self.spans.entry(Key::of_flow(input, flow)).or_default();
        let at = spans.partition_point(|s| s.first < first);
        spans.insert(at, Span { first, remaining: packets });
        self.flows += 1;
        *self.packets.entry(input).or_default() += packets;
        let (x, y) = (flow.src_ip, flow.dest_ip);
        self.pairs.insert(if x <= y { (x, y) } else { (y, x) });
    }

    /// The flow `key` that frame `frame` belongs to takes one more packet, if it is one of
    /// ours and still expects packets.
    fn take(&mut self, key: &Key, frame: u64) -> bool {
        let Some(spans) = self.spans.get_mut(key) else { return false };
        // The flows on these endpoints follow each other: the frame belongs to the latest
        // one that started at or before it.
        let at = spans.partition_point(|s| s.first <= frame);
        match at.checked_sub(1).map(|i| &mut spans[i]) {
            Some(s) if s.remaining > 0 => {
                s.remaining -= 1;
                true
            }
            _ => false,
        }
    }

    fn remaining(&self, input: u64) -> u64 {
        self.spans.iter().filter(|(k, _)| k.input == input).flat_map(|(_, v)| v).map(|s| s.remaining).sum()
    }

    fn may_hold(&self, f: &FragmentId) -> bool {
        let (x, y) = (f.src(), f.dst());
        self.pairs.contains(&if x <= y { (x, y) } else { (y, x) })
    }
}

impl EventSink for EvidenceFlows {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match (&event.body, &event.flow) {
            // A finding without a frame came from a HAR: no packets to copy.
            (EventBody::Leak(r), Some(flow)) => match r.frame {
                Some(frame) => {
                    let what = match &r.label {
                        Some(l) => format!("{}/{l} in {}", r.kind, r.location),
                        None => format!("{} in {}", r.kind, r.location),
                    };
                    self.leak(flow, frame, what);
                }
                None => *self.without_packets.entry(split_flow_id(flow.flow_id).0).or_default() += 1,
            },
            (EventBody::Flow(r), Some(flow)) => self.flow_ended(flow, r.counts.pkts_toserver + r.counts.pkts_toclient),
            _ => {}
        }
        Ok(())
    }
}

/// One input to read again: its index in the run (position among the inputs given to
/// [`crate::run`]), its name as the user gave it, and a fresh reader of the same file.
pub struct EvidenceInput {
    pub index: u64,
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

/// What [`write_pcapng`] wrote.
#[derive(Debug, Default)]
pub struct EvidenceOutcome {
    /// Packets written (fragments included).
    pub packets: u64,
    /// Of `packets`: IP fragments written with the frame that completed their datagram.
    pub fragments: u64,
    /// Flows whose packets were written.
    pub flows: usize,
    /// Fragments let go to stay under the hold's byte cap before their datagram completed; if
    /// it was an evidence flow's, they are missing from the file. (Datagrams that never
    /// complete, or time out as in the decoder, are in no flow and not counted.)
    pub fragments_dropped: u64,
    /// Problems, one line each ("FILE: ...").
    pub problems: Vec<String>,
}

/// A fragment frame held until its datagram completes.
struct Held {
    frame: u64,
    ts: Timestamp,
    link_type: LinkType,
    interface: u32,
    orig_len: u32,
    data: Vec<u8>,
}

/// Fragments held per datagram, oldest datagram first, under a byte cap.
struct Hold {
    map: HashMap<FragmentId, (Timestamp, Vec<Held>)>,
    order: VecDeque<(Timestamp, FragmentId)>,
    bytes: usize,
    cap: usize,
    timeout_ns: i64,
    dropped: u64,
}

impl Hold {
    fn new(config: &Config) -> Hold {
        Hold {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            // Frames, with their link and IP headers, of the datagrams the decoder holds (it
            // counts payload bytes only): twice its cap.
            cap: config.decoder.frag_max_bytes.saturating_mul(2).max(1 << 16),
            timeout_ns: config.decoder.frag_timeout_ns,
            dropped: 0,
        }
    }

    fn add(&mut self, id: FragmentId, h: Held) {
        // As the decoder does: a datagram first seen longer ago than the timeout is gone.
        // That is not a loss: the decoder let it go too, so it is in no flow. Making room under
        // the cap is one (counted).
        while let Some(&(t, old)) = self.order.front() {
            let expired = h.ts.0.saturating_sub(t.0) > self.timeout_ns;
            if !expired && self.bytes + h.data.len() <= self.cap {
                break;
            }
            self.order.pop_front();
            self.drop_if(old, t, !expired);
        }
        if h.data.len() > self.cap {
            self.dropped += 1;
            return;
        }
        // Completed datagrams leave stale entries in `order`; keep it near the map's size
        // (a hostile capture could otherwise complete datagrams forever within one timeout).
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order.retain(|(t, id)| map.get(id).is_some_and(|(first, _)| first == t));
        }
        self.bytes += h.data.len();
        let e = self.map.entry(id).or_insert_with(|| {
            self.order.push_back((h.ts, id));
            (h.ts, Vec::new())
        });
        e.1.push(h);
    }

    /// Drops the datagram `id` if it is the one first seen at `t` (keys are reused); its
    /// fragments count as dropped if `lost`.
    fn drop_if(&mut self, id: FragmentId, t: Timestamp, lost: bool) {
        if let Some((first, _)) = self.map.get(&id)
            && *first == t
            && let Some((_, v)) = self.map.remove(&id)
        {
            if lost {
                self.dropped += v.len() as u64;
            }
            self.bytes -= v.iter().map(|h| h.data.len()).sum::<usize>();
        }
    }

    fn take(&mut self, id: FragmentId) -> Vec<Held> {
        match self.map.remove(&id) {
            Some((_, v)) => {
                self.bytes -= v.iter().map(|h| h.data.len()).sum::<usize>();
                v
            }
            None => Vec::new(),
        }
    }

    /// At the end of an input: what is held never completed, so it is in no flow.
    fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }
}

/// The keys a decoded packet may belong to: its own endpoints and, for a tunnelled packet,
/// its carrier's (the flow table counts both).
fn packet_keys(input: u64, p: &Packet<'_>) -> [Option<Key>; 2] {
    let own = match p.transport {
        Transport::Tcp(t) => Some((t.src_port, t.dst_port)),
        Transport::Udp { src_port, dst_port, .. } => Some((src_port, dst_port)),
        Transport::Icmp { .. } => Some((0, 0)),
        // The flow table makes no flow of other protocols.
        Transport::Other => None,
    }
    .map(|(s, d)| Key::new(input, (p.src, s), (p.dst, d), p.proto.0));
    let carrier = p.carrier.map(|c| Key::new(input, (c.src, c.src_port), (c.dst, c.dst_port), 17));
    [carrier, own]
}

/// Reads `inputs` again and writes the packets of the flows in `flows` to `out` as pcapng.
/// Inputs without such flows are not read. Problems with an input (it changed, it cannot be
/// read) are reported in the outcome; only an error writing `out` is an `Err`.
pub fn write_pcapng<W: Write>(
    mut flows: EvidenceFlows,
    inputs: Vec<EvidenceInput>,
    config: &Config,
    out: W,
) -> std::io::Result<EvidenceOutcome> {
    let mut outcome = EvidenceOutcome::default();
    let app = format!("phonehome {} (--evidence-pcap)", env!("CARGO_PKG_VERSION"));
    let mut w = PcapngWriter::new(out, &app)?;
    let mut interfaces: HashMap<(u64, u32, LinkType), u32> = HashMap::new();
    let mut hold = Hold::new(config);
    for input in inputs {
        let expected = flows.packets_of_input(input.index);
        if expected == 0 {
            continue;
        }
        let mut reader = match CaptureReader::with_config(input.reader, config.reader.clone()) {
            Ok(r) => r,
            Err(e) => {
                outcome.problems.push(format!("{}: {e} when read again", input.name));
                continue;
            }
        };
        outcome.flows +=
            flows.spans.iter().filter(|(k, _)| k.input == input.index).map(|(_, v)| v.len()).sum::<usize>();
        let mut decoder = Decoder::new(config.decoder.clone());
        let mut counters = Counters::default();
        let mut frame = 0u64;
        loop {
            let p = match reader.next_record() {
                Ok(Some(Record::Packet(p))) => p,
                Ok(Some(_)) => continue,
                Ok(None) => break,
                // The run met the same error at the same place (unless the file changed,
                // which the count below tells).
                Err(_) => break,
            };
            frame += 1;
            let matched = decoder.decode(p.ts, p.link_type, p.data, &mut counters).map(|pkt| {
                packet_keys(input.index, &pkt).iter().flatten().fold(false, |any, k| flows.take(k, frame) | any)
            });
            let fragment = decoder.last_fragment();
            match (matched, fragment) {
                (None, Some(id)) if flows.may_hold(&id) => hold.add(
                    id,
                    Held {
                        frame,
                        ts: p.ts,
                        link_type: p.link_type,
                        interface: p.interface,
                        orig_len: p.orig_len,
                        data: p.data.to_vec(),
                    },
                ),
                (Some(m), fragment) => {
                    let held = fragment.map(|id| hold.take(id)).unwrap_or_default();
                    if !m {
                        continue;
                    }
                    for h in &held {
                        let comment = format!(
                            "{} frame {}: IP fragment of the datagram completed in frame {frame}",
                            input.name, h.frame
                        );
                        let id =
                            interface(&mut w, &mut interfaces, &input.name, input.index, h.interface, h.link_type)?;
                        w.write_packet(id, h.ts, &h.data, h.orig_len, Some(&comment))?;
                        outcome.fragments += 1;
                    }
                    let mut comment = format!("{} frame {frame}", input.name);
                    if let Some(m) = flows.marks.get(&(input.index, frame)) {
                        comment.push_str(": finding ");
                        comment.push_str(m);
                    }
                    let id = interface(&mut w, &mut interfaces, &input.name, input.index, p.interface, p.link_type)?;
                    w.write_packet(id, p.ts, p.data, p.orig_len, Some(&comment))?;
                }
                _ => {}
            }
        }
        hold.clear();
        let missing = flows.remaining(input.index);
        if missing > 0 {
            outcome.problems.push(format!(
                "{}: {missing} of the {expected} packets of its flows with findings were not found when it was read \
                 again (did the file change?)",
                input.name
            ));
        }
    }
    outcome.packets = w.packets();
    outcome.fragments_dropped = hold.dropped;
    w.finish()?;
    Ok(outcome)
}

/// The output interface for an input's interface and link type, declared on first use.
fn interface<W: Write>(
    w: &mut PcapngWriter<W>,
    interfaces: &mut HashMap<(u64, u32, LinkType), u32>,
    name: &str,
    index: u64,
    iface: u32,
    link_type: LinkType,
) -> std::io::Result<u32> {
    if let Some(id) = interfaces.get(&(index, iface, link_type)) {
        return Ok(*id);
    }
    let id = w.add_interface(
        link_type,
        &format!("{name}#{iface}"),
        &format!("interface {iface} of {name} (link type {})", link_type.0),
    )?;
    interfaces.insert((index, iface, link_type), id);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use phonehome_model::event::{EndReason, FlowCounts, FlowRecord, LeakRecord};
    use phonehome_model::{EventBody, IpProto};

    use super::*;

    fn flow_ref(input: u64, frame: u64, port: u16) -> FlowRef {
        FlowRef {
            flow_id: input << 42 | frame << 1,
            src_ip: "10.0.0.2".parse().unwrap(),
            dest_ip: "192.0.2.1".parse().unwrap(),
            src_port: Some(port),
            dest_port: Some(443),
            proto: IpProto::TCP,
        }
    }

    fn event(flow: &FlowRef, body: EventBody) -> Event {
        Event { timestamp: Timestamp(0), input: Some(Arc::from("x")), flow: Some(flow.clone()), body }
    }

    fn leak(flow: &FlowRef, frame: Option<u64>) -> Event {
        event(
            flow,
            EventBody::Leak(Box::new(LeakRecord {
                kind: "imei",
                location: "url".into(),
                frame,
                ..LeakRecord::default()
            })),
        )
    }

    fn ended(flow: &FlowRef, packets: u64) -> Event {
        let record = FlowRecord {
            counts: FlowCounts { pkts_toserver: packets, ..FlowCounts::default() },
            reason: EndReason::Closed,
            ..FlowRecord::default()
        };
        event(flow, EventBody::Flow(Box::new(record)))
    }

    #[test]
    fn flows_and_comments_are_capped_and_counted() {
        let mut e = EvidenceFlows::with_caps(2, 1);
        let flows: Vec<FlowRef> = (0..3).map(|i| flow_ref(0, 10 * i + 1, 40000 + i as u16)).collect();
        for (i, f) in flows.iter().enumerate() {
            e.event(&leak(f, Some(10 * i as u64 + 2))).unwrap();
            e.event(&leak(f, Some(10 * i as u64 + 2))).unwrap();
        }
        for f in &flows {
            e.event(&ended(f, 5)).unwrap();
        }
        assert_eq!((e.flows(), e.flows_over_cap()), (2, 1), "the third flow is counted once");
        assert_eq!(e.marks.len(), 1);
        assert_eq!(e.marks_over_cap(), 2, "the second flow's two findings");
        assert_eq!(e.marks[&(0, 2)], "imei in url", "a finding is named once per frame");
        assert_eq!(e.packets_of_input(0), 10);
        // A HAR's finding has no frame: counted, not kept.
        e.event(&leak(&flow_ref(1, 3, 1), None)).unwrap();
        assert_eq!(e.findings_without_packets(1), 1);
        assert_eq!(e.flows(), 2);
    }

    #[test]
    fn flows_on_the_same_ports_follow_each_other() {
        let mut e = EvidenceFlows::new();
        // Flows on the same endpoints start at frames 10 (with a finding, 3 packets), 20
        // (without) and 30 (with, 2 packets).
        let (a, b, c) = (flow_ref(0, 10, 40000), flow_ref(0, 20, 40000), flow_ref(0, 30, 40000));
        for ev in [leak(&a, Some(11)), ended(&a, 3), ended(&b, 4), leak(&c, Some(30)), ended(&c, 2)] {
            e.event(&ev).unwrap();
        }
        let key = Key::of_flow(0, &a);
        let reversed = Key::new(0, (a.dest_ip, 443), (a.src_ip, 40000), 6);
        assert_eq!(key, reversed, "both directions");
        let taken: Vec<u64> = (1..40).filter(|&f| e.take(&key, f)).collect();
        assert_eq!(taken, [10, 11, 12, 30, 31]);
        assert_eq!(e.remaining(0), 0);
        assert!(!e.take(&Key::of_flow(1, &a), 10), "another input");
    }

    #[test]
    fn held_fragments_are_bounded() {
        let mut config = Config::default();
        config.decoder.frag_max_bytes = 1 << 16;
        config.decoder.frag_timeout_ns = 1000;
        let mut hold = Hold::new(&config);
        let mut decoder = Decoder::new(config.decoder.clone());
        let mut ids = Vec::new();
        // Three first fragments of datagrams 1, 2, 3 (RAW IPv4, MF set, offset 0).
        for id in 1..=3u8 {
            let mut p = vec![0x45, 0, 0, 28, 0, id, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 2, 192, 0, 2, 1];
            p.extend_from_slice(&[0; 8]);
            assert!(decoder.decode(Timestamp(0), LinkType::RAW, &p, &mut Counters::default()).is_none());
            ids.push(decoder.last_fragment().unwrap());
        }
        let held = |ts: i64, len: usize| Held {
            frame: 1,
            ts: Timestamp(ts),
            link_type: LinkType::RAW,
            interface: 0,
            orig_len: len as u32,
            data: vec![0; len],
        };
        // The hold's cap is twice the decoder's: 128 KiB.
        hold.add(ids[0], held(0, 60_000));
        hold.add(ids[0], held(1, 40_000));
        // Over the byte cap: the oldest datagram goes, counted.
        hold.add(ids[1], held(2, 40_000));
        assert_eq!(hold.dropped, 2);
        assert!(hold.take(ids[0]).is_empty());
        // Too old: gone when the next fragment comes, as in the decoder; not a loss.
        hold.add(ids[2], held(5000, 10));
        assert_eq!(hold.dropped, 2);
        assert!(hold.take(ids[1]).is_empty());
        assert_eq!(hold.take(ids[2]).len(), 1);
        assert_eq!(hold.bytes, 0);
        // Datagrams that complete leave no trace behind.
        for _ in 0..1000 {
            hold.add(ids[1], held(5002, 10));
            hold.take(ids[1]);
        }
        assert!(hold.order.len() <= 2 * hold.map.len() + 65, "{}", hold.order.len());
        // Bigger than the cap on its own: not held, counted.
        hold.add(ids[0], held(5001, 1 << 18));
        assert_eq!((hold.dropped, hold.bytes), (3, 0));
    }
}

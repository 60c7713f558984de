//! The flow table: one entry per live flow, ended by FIN/RST, idle timeout, eviction, port
//! reuse or the end of the capture.
//!
//! Flows live in a slab (`Vec` of slots) indexed from a hash map keyed by the endpoints in a
//! canonical order, so both directions find the same flow. Expiry uses a min-heap of
//! deadlines with lazy re-insertion: a packet never touches the heap, and each flow is
//! looked at again only when its recorded deadline passes. That keeps the per-packet cost at
//! one hash lookup whatever the number of flows, and eviction picks the flow nearest its
//! deadline in O(log n) instead of scanning.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;

use hashbrown::HashMap;
use phonehome_decode::{Packet, Transport};
use phonehome_model::event::{EndReason, FlowCounts, FlowRef};
use phonehome_model::{Counter, Counters, Direction, IpProto, Timestamp};

use crate::tcp::{Budget, Chunk, Reassembler, ReassemblyConfig};

const SEC: i64 = 1_000_000_000;

/// TCP flag bits.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// Timeouts and caps of the flow table. Times are capture time, in nanoseconds.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Idle timeout of an open TCP connection. Default 600 s.
    pub tcp_timeout_ns: i64,
    /// How long a TCP flow stays after FIN/RST to absorb trailing ACKs, retransmissions and
    /// late resends on the same ports (a new SYN still starts a new flow at once). Default
    /// 120 s: shorter splits connections that tshark and users see as one.
    pub tcp_closed_timeout_ns: i64,
    /// Idle timeout of UDP flows. Default 180 s.
    pub udp_timeout_ns: i64,
    /// Idle timeout of ICMP and other flows. Default 60 s.
    pub other_timeout_ns: i64,
    /// Live flows held at once; beyond it the flow nearest its timeout is evicted.
    /// Default 1,000,000.
    pub max_flows: usize,
    /// Out-of-order bytes buffered for all TCP flows together. Default 256 MiB.
    pub tcp_max_buffer_total: usize,
    /// Per-direction reassembly limits.
    pub reassembly: ReassemblyConfig,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp_timeout_ns: 600 * SEC,
            tcp_closed_timeout_ns: 120 * SEC,
            udp_timeout_ns: 180 * SEC,
            other_timeout_ns: 60 * SEC,
            max_flows: 1_000_000,
            tcp_max_buffer_total: 256 << 20,
            reassembly: ReassemblyConfig::default(),
        }
    }
}

/// What a handler is told about a flow.
#[derive(Clone, Debug)]
pub struct FlowInfo {
    /// Identity and endpoints; `src` is the side that started the flow.
    pub flow_ref: FlowRef,
    pub start: Timestamp,
    pub last: Timestamp,
    pub counts: FlowCounts,
    /// TCP only: whether the handshake (a SYN from the client) was seen.
    pub tcp_handshake: Option<bool>,
    /// TCP only: holes skipped in either byte stream.
    pub tcp_gaps: u64,
    /// Android app name from a PCAPdroid trailer (first one seen).
    pub app: Option<Box<[u8]>>,
    /// Outermost tunnel of the flow's first packet.
    pub tunnel: Option<&'static str>,
}

/// Payload handed to a [`FlowHandler`].
#[derive(Debug)]
pub enum Payload<'a> {
    /// TCP bytes in stream order, or a hole.
    Stream(Chunk<'a>),
    /// One UDP datagram (or ICMP/other payload is not delivered).
    Datagram { bytes: &'a [u8], frame: u64 },
}

impl Payload<'_> {
    /// Capture frame number of the packet that delivered the payload; none for a hole.
    pub fn frame(&self) -> Option<u64> {
        match self {
            Payload::Stream(Chunk::Data { frame, .. }) | Payload::Datagram { frame, .. } => Some(*frame),
            Payload::Stream(Chunk::Gap { .. }) => None,
        }
    }
}

/// The next stage: receives every flow's payload and its end.
pub trait FlowHandler {
    /// Per-flow state the handler keeps (protocol parsers, names...). Created on the first
    /// packet of a flow.
    type State: Default;

    /// A flow starts (its first packet is about to be counted).
    fn on_start(&mut self, flow: &FlowInfo, state: &mut Self::State) {
        let _ = (flow, state);
    }

    /// Payload of a flow in `dir`, in order.
    fn on_payload(&mut self, flow: &FlowInfo, state: &mut Self::State, dir: Direction, payload: Payload<'_>);

    /// The flow ended; its state is handed back for the last time.
    fn on_end(&mut self, flow: FlowInfo, state: Self::State, reason: EndReason);
}

/// Endpoints in canonical order (lower address/port first), so both directions hash alike.
/// Addresses are plain integers: hashing and comparing them is the per-packet cost of the
/// table, and `IpAddr`'s enum costs a branch and a wider hash input on every use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    a: u128,
    b: u128,
    /// `a_port << 16 | b_port`.
    ports: u32,
    proto: u8,
    /// An IPv4 key never equals an IPv6 one, even for v4-mapped addresses.
    v6: bool,
}

impl FlowKey {
    /// The key, and whether `src` is the key's `a` side.
    fn new(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8) -> (FlowKey, bool) {
        let (s, d, v6) = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (u128::from(u32::from(s)), u128::from(u32::from(d)), false),
            (s, d) => (v6_bits(s), v6_bits(d), true),
        };
        if (s, sport) <= (d, dport) {
            (FlowKey { a: s, b: d, ports: u32::from(sport) << 16 | u32::from(dport), proto, v6 }, true)
        } else {
            (FlowKey { a: d, b: s, ports: u32::from(dport) << 16 | u32::from(sport), proto, v6 }, false)
        }
    }
}

fn v6_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Per-connection TCP state, boxed so UDP flows do not carry it.
struct TcpConn {
    streams: [Reassembler; 2],
    /// Client's initial sequence number when its SYN was seen.
    client_isn: Option<u32>,
    fin: [bool; 2],
    rst: bool,
}

impl TcpConn {
    fn closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }
}

struct Flow<S> {
    key: FlowKey,
    info: FlowInfo,
    /// Whether the client (`src`) is the key's `a` side.
    client_is_a: bool,
    tcp: Option<Box<TcpConn>>,
    state: S,
    /// Bumped when the slot is reused, so stale heap entries are recognised.
    generation: u32,
}

/// The flow table. Generic over the next stage, so the handler's calls are static.
pub struct FlowTable<H: FlowHandler> {
    config: FlowConfig,
    handler: H,
    map: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Option<Flow<H::State>>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    /// (deadline, slot, generation); lazily corrected when popped.
    deadlines: BinaryHeap<Reverse<(i64, u32, u32)>>,
    budget: Budget,
    /// Latest capture time seen: captures are not always in time order.
    now: Timestamp,
    /// Prefix for flow ids (the input's index), see [`FlowRef::flow_id`].
    id_prefix: u64,
    /// Flows started, by protocol.
    pub flows_tcp: u64,
    pub flows_udp: u64,
    pub flows_other: u64,
    pub icmp_packets: u64,
}

impl<H: FlowHandler> FlowTable<H> {
    /// An empty table feeding `handler`.
    pub fn new(config: FlowConfig, handler: H) -> FlowTable<H> {
        let budget = Budget { used: 0, cap: config.tcp_max_buffer_total };
        FlowTable {
            config,
            handler,
            map: HashMap::default(),
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            deadlines: BinaryHeap::new(),
            budget,
            now: Timestamp(i64::MIN),
            id_prefix: 0,
            flows_tcp: 0,
            flows_udp: 0,
            flows_other: 0,
            icmp_packets: 0,
        }
    }

    /// The handler, e.g. to collect what it gathered.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The handler, taking it out of the table (after [`FlowTable::flush`], to keep what
    /// it gathered).
    pub fn into_handler(self) -> H {
        self.handler
    }

    /// Flows currently live.
    pub fn live_flows(&self) -> usize {
        self.map.len()
    }

    /// Out-of-order TCP bytes currently buffered.
    pub fn buffered_bytes(&self) -> usize {
        self.budget.used
    }

    /// Sets the input index used as the high bits of flow ids (one table may read several
    /// inputs in turn; ids stay unique).
    pub fn set_input_index(&mut self, index: u64) {
        self.id_prefix = (index & INPUT_MASK) << 42;
    }

    /// Feeds one decoded packet. `frame` is its 1-based number in the input (Wireshark's
    /// frame number), used for flow ids and evidence.
    pub fn packet(&mut self, ts: Timestamp, frame: u64, pkt: &Packet<'_>, counters: &mut Counters) {
        self.carrier(ts, frame, pkt, counters);
        self.inner(ts, frame, pkt, counters);
    }

    /// The first half of [`FlowTable::packet`]: the tunnel carrier's flow, if the packet came
    /// through one. A sharded engine feeds the two halves to the tables owning each flow.
    pub fn carrier(&mut self, ts: Timestamp, frame: u64, pkt: &Packet<'_>, counters: &mut Counters) {
        if let Some(c) = pkt.carrier {
            // The tunnel's own UDP conversation is a flow too (tshark counts it), without
            // payload: what it carries is analysed as the inner flow.
            let outer = Packet {
                src: c.src,
                dst: c.dst,
                proto: IpProto::UDP,
                ip_len: c.ip_len,
                transport: Transport::Udp { src_port: c.src_port, dst_port: c.dst_port, payload: &[] },
                tunnel: None,
                app: pkt.app,
                carrier: None,
            };
            self.process(ts, flow_id(self.id_prefix, frame, 1), &outer, counters);
        }
    }

    /// The second half of [`FlowTable::packet`]: the packet's own (innermost) flow.
    pub fn inner(&mut self, ts: Timestamp, frame: u64, pkt: &Packet<'_>, counters: &mut Counters) {
        self.process(ts, flow_id(self.id_prefix, frame, 0), pkt, counters);
    }

    /// Moves capture time forward to `now` without a packet, ending the flows whose deadline
    /// passed, as a packet of another flow stamped `now` would. A sharded engine calls it
    /// when another table's packet advances the time, so timeouts do not depend on how the
    /// flows were shared out.
    pub fn advance(&mut self, now: Timestamp, counters: &mut Counters) {
        if now > self.now {
            self.now = now;
            self.expire(counters);
        }
    }

    fn process(&mut self, ts: Timestamp, id: u64, pkt: &Packet<'_>, counters: &mut Counters) {
        self.advance(ts, counters);
        let (sport, dport, tcp_flags) = match pkt.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, Some(t.flags)),
            Transport::Udp { src_port, dst_port, .. } => (src_port, dst_port, None),
            Transport::Icmp { .. } => {
                self.icmp_packets += 1;
                (0, 0, None)
            }
            Transport::Other => {
                counters.add(Counter::OtherIpProtocol, 1);
                return;
            }
        };
        let (key, src_is_a) = FlowKey::new(pkt.src, sport, pkt.dst, dport, pkt.proto.0);

        let slot = match self.map.get(&key) {
            Some(&slot) => {
                if let Some(flags) = tcp_flags
                    && self.is_port_reuse(slot, src_is_a, flags, pkt)
                {
                    counters.add(Counter::TcpPortReuse, 1);
                    self.end(slot, EndReason::PortReuse, counters);
                    self.create(key, src_is_a, ts, id, pkt, counters)
                } else {
                    slot
                }
            }
            None => self.create(key, src_is_a, ts, id, pkt, counters),
        };
        self.update(slot, src_is_a, ts, id >> 1 & FRAME_MASK, pkt, counters);
    }

    /// Ends every live flow (end of capture), in order of their ids so output is stable.
    pub fn flush(&mut self, counters: &mut Counters) {
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|f| (f.info.flow_ref.flow_id, i as u32)))
            .collect();
        live.sort_unstable();
        for (_, slot) in live {
            self.end(slot, EndReason::EndOfCapture, counters);
        }
        self.deadlines.clear();
        self.now = Timestamp(i64::MIN);
    }

    /// A SYN (without ACK) from the client on a flow that is closed, or whose client ISN
    /// differs, starts a new connection on the same ports: tshark numbers it as a new
    /// stream too.
    fn is_port_reuse(&self, slot: u32, src_is_a: bool, flags: u8, pkt: &Packet<'_>) -> bool {
        if flags & (SYN | ACK) != SYN {
            return false;
        }
        let Some(flow) = self.slots[slot as usize].as_ref() else { return false };
        let Some(tcp) = flow.tcp.as_ref() else { return false };
        let seq = match pkt.transport {
            Transport::Tcp(t) => t.seq,
            _ => return false,
        };
        let from_client = src_is_a == flow.client_is_a;
        if tcp.closed() {
            return tcp.client_isn != Some(seq) || !from_client;
        }
        match tcp.client_isn {
            Some(isn) => from_client && isn != seq && flow.info.counts.pkts_toclient > 0,
            // Flow first seen mid-stream, now a fresh handshake on the same ports.
            None => flow.info.counts.pkts_toserver + flow.info.counts.pkts_toclient > 1,
        }
    }

    fn create(
        &mut self,
        key: FlowKey,
        src_is_a: bool,
        ts: Timestamp,
        id: u64,
        pkt: &Packet<'_>,
        counters: &mut Counters,
    ) -> u32 {
        if self.map.len() >= self.config.max_flows.max(1) {
            self.evict_one(counters);
        }
        // Which side started the flow: the packet's sender, unless it is evidently the
        // server (a SYN-ACK, or a reply from a well-known port to an ephemeral one).
        let sender_is_client = match pkt.transport {
            Transport::Tcp(t) if t.flags & (SYN | ACK) == SYN | ACK => false,
            Transport::Tcp(t) if t.flags & SYN != 0 => true,
            Transport::Tcp(t) => !(t.src_port < 1024 && t.dst_port >= 1024),
            Transport::Udp { src_port, dst_port, .. } => !(src_port < 1024 && dst_port >= 1024),
            _ => true,
        };
        let client_is_a = sender_is_client == src_is_a;
        let (client, client_port, server, server_port) = if sender_is_client {
            (pkt.src, key_port(&key, src_is_a), pkt.dst, key_port(&key, !src_is_a))
        } else {
            (pkt.dst, key_port(&key, !src_is_a), pkt.src, key_port(&key, src_is_a))
        };
        let has_ports = matches!(pkt.transport, Transport::Tcp(_) | Transport::Udp { .. });
        let tcp = match pkt.transport {
            Transport::Tcp(t) => {
                self.flows_tcp += 1;
                let handshake = t.flags & SYN != 0;
                if !handshake {
                    counters.add(Counter::TcpMidstream, 1);
                }
                Some(Box::new(TcpConn {
                    streams: [Reassembler::new(), Reassembler::new()],
                    client_isn: None,
                    fin: [false; 2],
                    rst: false,
                }))
            }
            Transport::Udp { .. } => {
                self.flows_udp += 1;
                None
            }
            _ => {
                self.flows_other += 1;
                None
            }
        };
        let info = FlowInfo {
            flow_ref: FlowRef {
                flow_id: id,
                src_ip: client,
                dest_ip: server,
                src_port: has_ports.then_some(client_port),
                dest_port: has_ports.then_some(server_port),
                proto: pkt.proto,
            },
            start: ts,
            last: ts,
            counts: FlowCounts::default(),
            tcp_handshake: tcp.as_ref().map(|_| false),
            tcp_gaps: 0,
            app: pkt.app.map(Box::from),
            tunnel: pkt.tunnel,
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        let generation = self.generations[slot as usize].wrapping_add(1);
        self.generations[slot as usize] = generation;
        let mut flow = Flow { key, info, client_is_a, tcp, state: H::State::default(), generation };
        self.handler.on_start(&flow.info, &mut flow.state);
        let deadline = ts.0.saturating_add(self.timeout(&flow));
        self.slots[slot as usize] = Some(flow);
        self.map.insert(key, slot);
        self.deadlines.push(Reverse((deadline, slot, generation)));
        slot
    }

    fn update(
        &mut self,
        slot: u32,
        src_is_a: bool,
        ts: Timestamp,
        frame: u64,
        pkt: &Packet<'_>,
        counters: &mut Counters,
    ) {
        let Some(flow) = self.slots[slot as usize].as_mut() else { return };
        let dir = if src_is_a == flow.client_is_a { Direction::ToServer } else { Direction::ToClient };
        flow.info.last = flow.info.last.max(ts);
        let c = &mut flow.info.counts;
        match dir {
            Direction::ToServer => {
                c.pkts_toserver += 1;
                c.bytes_toserver += u64::from(pkt.ip_len);
            }
            Direction::ToClient => {
                c.pkts_toclient += 1;
                c.bytes_toclient += u64::from(pkt.ip_len);
            }
        }
        if flow.info.app.is_none()
            && let Some(app) = pkt.app
        {
            flow.info.app = Some(Box::from(app));
        }
        let handler = &mut self.handler;
        match pkt.transport {
            Transport::Udp { payload, .. } if !payload.is_empty() => {
                handler.on_payload(&flow.info, &mut flow.state, dir, Payload::Datagram { bytes: payload, frame });
            }
            Transport::Tcp(t) => {
                let Some(tcp) = flow.tcp.as_mut() else { return };
                let was_closed = tcp.closed();
                let d = dir.index();
                if t.flags & SYN != 0 {
                    tcp.streams[d].syn(t.seq);
                    if dir == Direction::ToServer && t.flags & ACK == 0 {
                        tcp.client_isn = Some(t.seq);
                        flow.info.tcp_handshake = Some(true);
                    }
                }
                let info = &flow.info;
                let state = &mut flow.state;
                let mut deliver = |chunk: Chunk<'_>| handler.on_payload(info, state, dir, Payload::Stream(chunk));
                if !t.payload.is_empty() {
                    let seq = if t.flags & SYN != 0 { t.seq.wrapping_add(1) } else { t.seq };
                    tcp.streams[d].segment(
                        seq,
                        t.payload,
                        frame,
                        &self.config.reassembly,
                        &mut self.budget,
                        counters,
                        &mut deliver,
                    );
                }
                if t.flags & FIN != 0 {
                    tcp.streams[d].fin(t.seq.wrapping_add(t.payload.len() as u32));
                    tcp.fin[d] = true;
                }
                if t.flags & RST != 0 {
                    tcp.rst = true;
                }
                if !was_closed && tcp.closed() {
                    // Hand on what is buffered now rather than at the deadline, so events
                    // come out near the packets that caused them.
                    // Each stream in its own direction, not the direction of this packet.
                    for (s, sdir) in tcp.streams.iter_mut().zip([Direction::ToServer, Direction::ToClient]) {
                        s.flush(&mut self.budget, counters, &mut |chunk| {
                            handler.on_payload(info, state, sdir, Payload::Stream(chunk))
                        });
                    }
                    // The grace period is shorter than the queued idle deadline.
                    let deadline = ts.0.saturating_add(self.config.tcp_closed_timeout_ns);
                    self.deadlines.push(Reverse((deadline, slot, flow.generation)));
                }
            }
            _ => {}
        }
    }

    fn timeout(&self, flow: &Flow<H::State>) -> i64 {
        match &flow.tcp {
            Some(tcp) if tcp.closed() => self.config.tcp_closed_timeout_ns,
            Some(_) => self.config.tcp_timeout_ns,
            None if flow.info.flow_ref.proto == IpProto::UDP => self.config.udp_timeout_ns,
            None => self.config.other_timeout_ns,
        }
    }

    /// Ends flows whose deadline passed; re-queues those that saw packets since.
    fn expire(&mut self, counters: &mut Counters) {
        while let Some(&Reverse((deadline, slot, generation))) = self.deadlines.peek() {
            if deadline > self.now.0 {
                break;
            }
            self.deadlines.pop();
            let Some(flow) = self.slots[slot as usize].as_ref() else { continue };
            if flow.generation != generation {
                continue;
            }
            let real = flow.info.last.0.saturating_add(self.timeout(flow));
            if real <= self.now.0 {
                let closed = flow.tcp.as_ref().is_some_and(|t| t.closed());
                if !closed {
                    counters.add(Counter::FlowTimeout, 1);
                }
                self.end(slot, if closed { EndReason::Closed } else { EndReason::Timeout }, counters);
            } else {
                self.deadlines.push(Reverse((real, slot, generation)));
            }
        }
    }

    /// Makes room for one more flow: ends the flow whose (possibly stale) deadline comes
    /// first. Stale entries are corrected on the way, so this stays O(log n) amortised.
    fn evict_one(&mut self, counters: &mut Counters) {
        while let Some(Reverse((_, slot, generation))) = self.deadlines.pop() {
            let Some(flow) = self.slots[slot as usize].as_ref() else { continue };
            if flow.generation != generation {
                continue;
            }
            let real = flow.info.last.0.saturating_add(self.timeout(flow));
            // A flow active since its entry was queued gets its real deadline and another
            // chance, unless it is still the earliest.
            if let Some(&Reverse((next, _, _))) = self.deadlines.peek()
                && real > next
            {
                self.deadlines.push(Reverse((real, slot, generation)));
                continue;
            }
            counters.add(Counter::FlowEvicted, 1);
            self.end(slot, EndReason::Eviction, counters);
            return;
        }
    }

    fn end(&mut self, slot: u32, reason: EndReason, counters: &mut Counters) {
        let Some(mut flow) = self.slots[slot as usize].take() else { return };
        self.map.remove(&flow.key);
        self.free.push(slot);
        if let Some(tcp) = flow.tcp.as_mut() {
            let handler = &mut self.handler;
            for (d, dir) in [(0, Direction::ToServer), (1, Direction::ToClient)] {
                let info = &flow.info;
                let state = &mut flow.state;
                tcp.streams[d].flush(&mut self.budget, counters, &mut |chunk| {
                    handler.on_payload(info, state, dir, Payload::Stream(chunk))
                });
            }
            flow.info.tcp_gaps = tcp.streams[0].gaps() + tcp.streams[1].gaps();
        }
        let reason = match (reason, flow.tcp.as_ref()) {
            (EndReason::EndOfCapture | EndReason::Timeout, Some(tcp)) if tcp.closed() => EndReason::Closed,
            (r, _) => r,
        };
        self.handler.on_end(flow.info, flow.state, reason);
    }
}

/// Frame numbers kept in flow ids (2^41, far beyond any capture).
const FRAME_MASK: u64 = (1 << 41) - 1;
/// Inputs distinguished in flow ids; ids stay below 2^53 so JSON tools that read numbers as
/// doubles (jq, JavaScript) keep them exact.
const INPUT_MASK: u64 = (1 << 11) - 1;

/// `input << 42 | frame << 1 | layer`: layer 1 is a tunnel's carrier, 0 the packet itself.
/// Each frame starts at most one flow per layer, so ids are unique and do not depend on the
/// order flows are processed in.
fn flow_id(prefix: u64, frame: u64, layer: u64) -> u64 {
    prefix | (frame & FRAME_MASK) << 1 | layer
}

fn key_port(key: &FlowKey, a_side: bool) -> u16 {
    if a_side { (key.ports >> 16) as u16 } else { key.ports as u16 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonehome_decode::TcpSegment;

    #[derive(Default)]
    struct Ended(Vec<(FlowInfo, EndReason, Vec<u8>)>);

    impl FlowHandler for Ended {
        type State = Vec<u8>;

        fn on_payload(&mut self, _: &FlowInfo, s: &mut Vec<u8>, dir: Direction, p: Payload<'_>) {
            if let (Direction::ToServer, Payload::Stream(Chunk::Data { bytes, .. }) | Payload::Datagram { bytes, .. }) =
                (dir, p)
            {
                s.extend_from_slice(bytes);
            }
        }

        fn on_end(&mut self, flow: FlowInfo, s: Vec<u8>, reason: EndReason) {
            self.0.push((flow, reason, s));
        }
    }

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [93, 184, 216, 34];

    fn tcp<'a>(from_client: bool, flags: u8, seq: u32, payload: &'a [u8]) -> Packet<'a> {
        let (src, dst, sp, dp) = if from_client { (C, S, 40000, 443) } else { (S, C, 443, 40000) };
        Packet {
            src: IpAddr::from(src),
            dst: IpAddr::from(dst),
            proto: IpProto::TCP,
            ip_len: 40 + payload.len() as u32,
            transport: Transport::Tcp(TcpSegment {
                src_port: sp,
                dst_port: dp,
                seq,
                ack: 0,
                flags,
                window: 1000,
                payload,
            }),
            tunnel: None,
            app: None,
            carrier: None,
        }
    }

    fn udp(from: [u8; 4], to: [u8; 4], sp: u16, dp: u16) -> Packet<'static> {
        Packet {
            src: IpAddr::from(from),
            dst: IpAddr::from(to),
            proto: IpProto::UDP,
            ip_len: 30,
            transport: Transport::Udp { src_port: sp, dst_port: dp, payload: b"hi" },
            tunnel: None,
            app: None,
            carrier: None,
        }
    }

    fn secs(s: i64) -> Timestamp {
        Timestamp(s * SEC)
    }

    fn table() -> FlowTable<Ended> {
        FlowTable::new(FlowConfig::default(), Ended::default())
    }

    #[test]
    fn handshake_data_and_close() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(1), 1, &tcp(true, SYN, 100, b""), &mut c);
        t.packet(secs(1), 2, &tcp(false, SYN | ACK, 900, b""), &mut c);
        t.packet(secs(1), 3, &tcp(true, ACK, 101, b"GET /"), &mut c);
        t.packet(secs(2), 4, &tcp(true, ACK | FIN, 106, b""), &mut c);
        t.packet(secs(2), 5, &tcp(false, ACK | FIN, 901, b""), &mut c);
        assert_eq!(t.live_flows(), 1, "closed flows linger for trailing ACKs");
        let grace = FlowConfig::default().tcp_closed_timeout_ns / SEC;
        t.packet(secs(2 + grace - 1), 6, &udp(C, S, 5000, 53), &mut c);
        assert!(t.handler().0.is_empty(), "still within the grace period");
        t.packet(secs(2 + grace), 7, &udp(C, S, 5000, 53), &mut c);
        let ended = &t.handler().0;
        assert_eq!(ended.len(), 1);
        let (info, reason, data) = &ended[0];
        assert_eq!(*reason, EndReason::Closed);
        assert_eq!(data, b"GET /");
        assert_eq!(info.flow_ref.src_ip, IpAddr::from(C));
        assert_eq!(info.flow_ref.dest_port, Some(443));
        assert_eq!(info.flow_ref.flow_id, flow_id(0, 1, 0));
        assert_eq!((info.counts.pkts_toserver, info.counts.pkts_toclient), (3, 2));
        assert_eq!(info.tcp_handshake, Some(true));
        assert_eq!(c.get(Counter::TcpMidstream), 0);
    }

    #[test]
    fn syn_ack_first_makes_the_receiver_the_client() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(1), 1, &tcp(false, SYN | ACK, 900, b""), &mut c);
        t.flush(&mut c);
        let info = &t.handler().0[0].0;
        assert_eq!(info.flow_ref.src_ip, IpAddr::from(C));
        assert_eq!(info.counts.pkts_toclient, 1);
    }

    #[test]
    fn midstream_reply_from_well_known_port_is_the_server() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(1), 1, &tcp(false, ACK, 900, b"HTTP/1.1 200 OK"), &mut c);
        t.flush(&mut c);
        let (info, reason, _) = &t.handler().0[0];
        assert_eq!(info.flow_ref.dest_port, Some(443));
        assert_eq!(info.tcp_handshake, Some(false));
        assert_eq!(*reason, EndReason::EndOfCapture);
        assert_eq!(c.get(Counter::TcpMidstream), 1);
    }

    #[test]
    fn port_reuse_starts_a_new_flow() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(1), 1, &tcp(true, SYN, 100, b""), &mut c);
        t.packet(secs(1), 2, &tcp(false, SYN | ACK, 900, b""), &mut c);
        t.packet(secs(1), 3, &tcp(true, RST, 101, b""), &mut c);
        // Retransmitted SYN of the old connection would carry seq 100; this one is new.
        t.packet(secs(2), 4, &tcp(true, SYN, 5000, b""), &mut c);
        t.flush(&mut c);
        let ended = &t.handler().0;
        assert_eq!(ended.len(), 2);
        assert_eq!(ended[0].1, EndReason::PortReuse);
        assert_eq!(ended[1].0.flow_ref.flow_id, flow_id(0, 4, 0));
        assert_eq!(c.get(Counter::TcpPortReuse), 1);
    }

    #[test]
    fn retransmitted_syn_is_not_port_reuse() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(1), 1, &tcp(true, SYN, 100, b""), &mut c);
        t.packet(secs(2), 2, &tcp(true, SYN, 100, b""), &mut c);
        t.flush(&mut c);
        assert_eq!(t.handler().0.len(), 1);
    }

    #[test]
    fn idle_flows_time_out_and_active_ones_do_not() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(0), 1, &udp(C, S, 5000, 53), &mut c);
        t.packet(secs(0), 2, &udp(C, S, 5001, 53), &mut c);
        for s in (10..=170).step_by(10) {
            t.packet(secs(s), 3, &udp(C, S, 5001, 53), &mut c);
        }
        t.packet(secs(200), 4, &udp(C, S, 5002, 53), &mut c);
        let ended = &t.handler().0;
        assert_eq!(ended.len(), 1, "only the idle flow ended");
        assert_eq!(ended[0].1, EndReason::Timeout);
        assert_eq!(ended[0].0.flow_ref.src_port, Some(5000));
        assert_eq!(c.get(Counter::FlowTimeout), 1);
    }

    #[test]
    fn a_full_table_evicts_the_stalest_flow() {
        let config = FlowConfig { max_flows: 2, ..FlowConfig::default() };
        let mut t = FlowTable::new(config, Ended::default());
        let mut c = Counters::default();
        t.packet(secs(0), 1, &udp(C, S, 1, 53), &mut c);
        t.packet(secs(1), 2, &udp(C, S, 2, 53), &mut c);
        t.packet(secs(2), 3, &udp(C, S, 1, 53), &mut c);
        t.packet(secs(3), 4, &udp(C, S, 3, 53), &mut c);
        assert_eq!(t.live_flows(), 2);
        let ended = &t.handler().0;
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Eviction);
        assert_eq!(ended[0].0.flow_ref.src_port, Some(2), "port 1 was seen more recently");
        assert_eq!(c.get(Counter::FlowEvicted), 1);
    }

    #[test]
    fn both_directions_share_a_flow_and_flush_is_ordered() {
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(0), 7, &udp(S, C, 53, 5000), &mut c);
        t.packet(secs(0), 8, &udp(C, S, 5000, 53), &mut c);
        t.packet(secs(0), 9, &udp(C, S, 6000, 53), &mut c);
        t.flush(&mut c);
        let ended = &t.handler().0;
        assert_eq!(ended.len(), 2);
        assert_eq!(ended[0].0.flow_ref.flow_id, flow_id(0, 7, 0));
        assert_eq!(ended[0].0.flow_ref.src_port, Some(5000), "reply first, but the client is the ephemeral side");
        assert_eq!(ended[0].0.counts.pkts_toserver, 1);
        assert_eq!(ended[0].0.counts.pkts_toclient, 1);
        assert_eq!(ended[1].0.flow_ref.flow_id, flow_id(0, 9, 0));
    }

    #[test]
    fn a_tunnel_carrier_is_a_flow_of_its_own_without_payload() {
        let mut t = table();
        let mut c = Counters::default();
        let mut inner = tcp(true, SYN, 1, b"");
        inner.carrier = Some(phonehome_decode::UdpCarrier {
            src: IpAddr::from([192, 0, 2, 1]),
            dst: IpAddr::from([192, 0, 2, 2]),
            src_port: 50000,
            dst_port: 4789,
            ip_len: 120,
        });
        t.packet(secs(0), 3, &inner, &mut c);
        t.flush(&mut c);
        let ended = &t.handler().0;
        assert_eq!(ended.len(), 2);
        let ids: Vec<u64> = ended.iter().map(|e| e.0.flow_ref.flow_id).collect();
        assert_eq!(ids, vec![flow_id(0, 3, 0), flow_id(0, 3, 1)]);
        let outer = &ended[1];
        assert_eq!(outer.0.flow_ref.dest_port, Some(4789));
        assert_eq!(outer.0.counts.bytes_toserver, 120);
        assert!(outer.2.is_empty(), "the carrier's payload is analysed as the inner flow only");
    }

    #[test]
    fn closing_hands_on_each_streams_data_in_its_own_direction() {
        // Regression: the flush on close used the closing packet's direction for both streams.
        let mut t = table();
        let mut c = Counters::default();
        t.packet(secs(1), 1, &tcp(true, SYN, 100, b""), &mut c);
        t.packet(secs(1), 2, &tcp(false, SYN | ACK, 900, b""), &mut c);
        // Client bytes 101..103 are lost; 104.. is held out of order.
        t.packet(secs(1), 3, &tcp(true, ACK, 104, b"held"), &mut c);
        t.packet(secs(2), 4, &tcp(false, RST, 901, b""), &mut c);
        t.flush(&mut c);
        let (_, reason, to_server) = &t.handler().0[0];
        assert_eq!(*reason, EndReason::Closed);
        assert_eq!(to_server, b"held", "the client's held bytes stay client-to-server");
    }
}

//! The threaded engine (`Config::threads` above 1; docs/DESIGN.md, "Threads").
//!
//! The caller's thread reads and decodes every packet (so IP fragments are reassembled by
//! one decoder, exactly as on one thread), copies what the flow table needs into a batch
//! and routes each packet to a worker by a symmetric hash of its flow's endpoints: both
//! directions of a flow reach the same worker, which owns the flow's table entry and the
//! handler state (dissectors, scanners, attribution caches). A tunnelled packet may touch
//! two workers: the one owning the carrier's flow and the one owning the inner flow.
//!
//! Every worker reads its packets of every batch in order. Items that are not packets (a
//! new input, key material from the capture, the end of an input) are acted on by all of
//! them, and so is each step of capture time: a packet that moves time forward ends, in every worker, the
//! flows whose deadline it passes, as it would in the one flow table of the single-threaded
//! engine. Each event a worker produces is tagged with its place in that single-threaded
//! order: the position of the item that caused it, the phase (0: flows ended by time or at
//! the end of the input; 1: the packet's carrier flow; 2: the packet's own flow), and for
//! phase 0 the id of the ending flow. The caller's thread merges the workers' events of a
//! batch by that tag and sends them to the one sink, so the output depends neither on the
//! number of workers nor on which worker had which flow (only where a per-worker cap is hit).
//! When the sink writes bytes per event (NDJSON, `EventSink::encoder`), the workers make
//! those bytes themselves for every event the merge will not change.
//!
//! Names from DNS answers cross flows, hence workers: a worker does not remember them but
//! hands each answer on as a tagged item like an event, and the merge applies them, in the
//! same order, to the one name table that names flows and leaks without a name of their
//! own. Every flow therefore gets the name the single-threaded engine would give it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use phonehome_decode::{Decoder, Packet, TcpSegment, Transport};
use phonehome_flow::FlowTable;
use phonehome_model::event::{Encoder, Event, EventBody, StatsRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Counters, EventSink, LinkType, Timestamp};

use crate::attribution::Attributor;
use crate::dissect::{DnsNames, Learnt};
use crate::handler::Handler;
use crate::{Config, Input, Outcome, Stage};

/// A batch is handed to the workers when it holds this many items...
const BATCH_ITEMS: usize = 1024;
/// ...or this many bytes of payload. Small enough that a batch is still in the caches
/// when a worker reads it (larger batches cost more CPU time for the same instructions).
const BATCH_BYTES: usize = 512 << 10;
/// Batches handed to the workers and not yet merged: enough for the workers to go on with
/// the next batches while the caller's thread merges one and reads another, and for the
/// pipeline to ride out a thread descheduled for a few milliseconds (more threads than
/// cores, or other jobs).
const IN_FLIGHT: usize = 8;

/// Runs `inputs` with `threads` workers (2 or more); see the module documentation.
pub(crate) fn run(
    inputs: Vec<Input>,
    config: &Config,
    sink: &mut dyn EventSink,
    threads: usize,
) -> std::io::Result<Outcome> {
    run_batched(inputs, config, sink, threads, BATCH_ITEMS)
}

/// [`run`] with batches of at most `batch_items` items.
fn run_batched(
    inputs: Vec<Input>,
    config: &Config,
    sink: &mut dyn EventSink,
    threads: usize,
    batch_items: usize,
) -> std::io::Result<Outcome> {
    // The caps on memory held for flows are shared out: each worker gets its part.
    let mut per_worker = config.clone();
    per_worker.flow.max_flows = config.flow.max_flows.div_ceil(threads).max(1);
    per_worker.flow.tcp_max_buffer_total = config.flow.tcp_max_buffer_total.div_ceil(threads);
    let per_worker = &per_worker;
    // NDJSON is written on the workers: only bytes cross to this thread.
    let encoder = sink.encoder();
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(threads);
        for id in 0..threads {
            let (to_worker, batches) = sync_channel(IN_FLIGHT + 1);
            let (results, from_worker) = sync_channel(IN_FLIGHT + 1);
            let encoder = encoder.clone();
            std::thread::Builder::new()
                .name(format!("phonehome-flows-{id}"))
                .spawn_scoped(scope, move || worker(per_worker, id as u8, encoder, batches, results))?;
            workers.push(WorkerLink { to: to_worker, from: from_worker, merged: Vec::new() });
        }
        crate::drive(inputs, config, Parallel::new(sink, config, workers, batch_items))
    })
}

/// One packet, decoded by the caller's thread.
struct PacketItem {
    ts: Timestamp,
    frame: u64,
    /// The decoded packet with its payload and app name left empty: they are in the
    /// batch's arena at `payload` and `app`.
    packet: Packet<'static>,
    payload: (u32, u32),
    app: Option<(u32, u32)>,
    /// The worker owning the carrier's flow (for a tunnelled packet) and the packet's own.
    carrier_worker: u8,
    inner_worker: u8,
}

enum Item {
    /// Input `index` starts.
    Input {
        index: u64,
        name: Arc<str>,
    },
    Packet(PacketItem),
    /// A pcapng Decryption Secrets Block (the data is in the arena).
    Secrets {
        secrets_type: u32,
        data: (u32, u32),
    },
    /// The input that started can hold TLS secrets of its own (pcapng).
    CarriesSecrets,
    /// The input ended: every live flow ends.
    Flush,
}

/// Items numbered from `base` (the position of the first one in the run), the bytes they
/// refer to, and which worker needs which: a worker reads only its own packets, the steps
/// of time and the items for all, not the whole batch.
#[derive(Default)]
struct Batch {
    base: u64,
    items: Vec<Item>,
    arena: Vec<u8>,
    /// Per worker, the indices of the packets whose carrier or own flow it owns.
    lanes: Vec<Vec<u32>>,
    /// Indices of the items for every worker (all but packets).
    common: Vec<u32>,
    /// The packets that move capture time forward (later than every packet before them
    /// in the input), with their time.
    steps: Vec<(u32, Timestamp)>,
}

impl Batch {
    fn push_bytes(&mut self, bytes: &[u8]) -> (u32, u32) {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        (start as u32, self.arena.len() as u32)
    }

    fn bytes(&self, (start, end): (u32, u32)) -> &[u8] {
        &self.arena[start as usize..end as usize]
    }

    /// Adds an item for every worker.
    fn push_common(&mut self, item: Item) {
        self.common.push(self.items.len() as u32);
        self.items.push(item);
    }

    fn clear(&mut self) {
        self.items.clear();
        self.arena.clear();
        self.lanes.iter_mut().for_each(Vec::clear);
        self.common.clear();
        self.steps.clear();
    }
}

enum ToWorker {
    /// A batch, and the worker's earlier output back from the merge: dropped (and its
    /// buffer reused) by the worker, because glibc's allocator is slow at freeing on one
    /// thread what another allocated.
    Batch(Arc<Batch>, Vec<Output>),
    Stop,
}

enum FromWorker {
    /// A batch's output, in the order of [`Tagged::key`].
    Batch(Output),
    /// The worker's totals, after [`ToWorker::Stop`].
    End(Box<Totals>),
}

/// What a worker made of one batch.
#[derive(Default)]
struct Output {
    tagged: Vec<Tagged>,
    /// What the sink's encoder made of the events it could take (`Out::Bytes`).
    bytes: Vec<u8>,
}

impl Output {
    /// Adds what was made at `place`.
    fn push(&mut self, (pos, phase): (u64, u8), out: Out) {
        // A flow that ends produces a run of its own events (and DNS answers it taught,
        // tied in `in_order`): the run is tied to the flow's id.
        let tie = if phase == 0 { out.flow_id().unwrap_or(u64::MAX) } else { 0 };
        self.tagged.push(Tagged { pos, phase, tie, out });
    }

    fn clear(&mut self) {
        self.tagged.clear();
        self.bytes.clear();
    }
}

/// What a worker produced, with its place in the single-threaded order.
struct Tagged {
    /// Position of the item that caused it.
    pos: u64,
    /// 0: flows ended by time or by the end of the input; 1: the carrier's flow; 2: the
    /// packet's own flow.
    phase: u8,
    /// In phase 0, the id of the flow whose end produced it; in phases 1 and 2 all output
    /// comes from one flow table and keeps its order.
    tie: u64,
    out: Out,
}

impl Tagged {
    fn key(&self) -> (u64, u8, u64) {
        (self.pos, self.phase, self.tie)
    }
}

enum Out {
    Event(Event),
    /// An event that the sink's encoder made into `Output::bytes[start..end]`.
    Bytes {
        start: usize,
        end: usize,
        flow_id: Option<u64>,
    },
    /// What a DNS answer taught (applied to the name table when merged).
    Names(Learnt),
}

impl Out {
    fn flow_id(&self) -> Option<u64> {
        match self {
            Out::Event(e) => e.flow.as_ref().map(|f| f.flow_id),
            Out::Bytes { flow_id, .. } => *flow_id,
            Out::Names(_) => None,
        }
    }
}

/// A worker's flow totals and counters.
#[derive(Default)]
struct Totals {
    counters: Counters,
    tcp: u64,
    udp: u64,
    other: u64,
    icmp_packets: u64,
}

struct WorkerLink {
    to: SyncSender<ToWorker>,
    from: Receiver<FromWorker>,
    /// Merged output to hand back with the next batch.
    merged: Vec<Output>,
}

/// The caller's thread: reads, decodes and routes packets; merges the workers' output.
struct Parallel<'s> {
    config: &'s Config,
    sink: &'s mut dyn EventSink,
    /// The sink's first error; nothing is sent after it.
    error: Option<std::io::Error>,
    workers: Vec<WorkerLink>,
    decoder: Decoder,
    /// Latest capture time of the input so far (the flow tables' clock).
    now: Timestamp,
    input: Option<Arc<str>>,
    batch: Batch,
    in_flight: VecDeque<Arc<Batch>>,
    /// Merged batches, kept to be filled again (their buffers are warm).
    spare: Vec<Batch>,
    /// Names from DNS answers, applied in capture order.
    names: DnsNames,
    attributor: Attributor,
    /// Counters of this thread's stages (the name table, HAR inputs).
    counters: Counters,
    findings_dropped: u64,
    batch_items: usize,
}

impl<'s> Parallel<'s> {
    fn new(
        sink: &'s mut dyn EventSink,
        config: &'s Config,
        workers: Vec<WorkerLink>,
        batch_items: usize,
    ) -> Parallel<'s> {
        Parallel {
            batch_items: batch_items.max(1),
            config,
            sink,
            error: None,
            workers,
            decoder: Decoder::new(config.decoder.clone()),
            now: Timestamp(i64::MIN),
            input: None,
            batch: Batch::default(),
            in_flight: VecDeque::new(),
            spare: Vec::new(),
            names: DnsNames::new(config.protocols.dns_names_max),
            attributor: Attributor::new(config.attribution.clone()),
            counters: Counters::default(),
            findings_dropped: 0,
        }
    }

    /// Hands the batch being filled to every worker, and merges the oldest batches beyond
    /// [`IN_FLIGHT`].
    fn dispatch(&mut self) {
        if !self.batch.items.is_empty() {
            let base = self.batch.base + self.batch.items.len() as u64;
            let mut next = self.spare.pop().unwrap_or_default();
            next.base = base;
            let batch = Arc::new(std::mem::replace(&mut self.batch, next));
            for w in &mut self.workers {
                let merged = std::mem::take(&mut w.merged);
                w.to.send(ToWorker::Batch(batch.clone(), merged)).expect("a flow worker thread failed");
            }
            self.in_flight.push_back(batch);
        }
        while self.in_flight.len() > IN_FLIGHT {
            self.merge_oldest();
        }
    }

    /// Hands on the batch being filled and merges everything handed on.
    fn drain(&mut self) {
        self.dispatch();
        while !self.in_flight.is_empty() {
            self.merge_oldest();
        }
    }

    /// Waits for every worker's output of the oldest batch in flight and sends it to the
    /// sink in order.
    fn merge_oldest(&mut self) {
        let Some(batch) = self.in_flight.pop_front() else { return };
        let mut outputs: Vec<Output> = Vec::with_capacity(self.workers.len());
        for w in &self.workers {
            match w.from.recv() {
                Ok(FromWorker::Batch(out)) => outputs.push(out),
                _ => panic!("a flow worker thread failed"),
            }
        }
        // Every worker is done with the batch: keep its buffers for a later one.
        if let Ok(mut b) = Arc::try_unwrap(batch) {
            b.clear();
            self.spare.push(b);
        }
        let mut next = vec![0usize; outputs.len()];
        loop {
            let mut best: Option<(usize, (u64, u8, u64))> = None;
            for (i, out) in outputs.iter().enumerate() {
                if let Some(t) = out.tagged.get(next[i])
                    && best.is_none_or(|(_, key)| t.key() < key)
                {
                    best = Some((i, t.key()));
                }
            }
            let Some((i, _)) = best else { break };
            let Output { tagged, bytes } = &mut outputs[i];
            let tagged = &mut tagged[next[i]];
            next[i] += 1;
            match &mut tagged.out {
                Out::Bytes { start, end, .. } => {
                    if self.error.is_none()
                        && let Err(e) = self.sink.encoded(&bytes[*start..*end])
                    {
                        self.error = Some(e);
                    }
                }
                Out::Names(learnt) => {
                    if self.names.remember(std::mem::take(learnt)) {
                        self.counters.add(Counter::DnsNamesTable, 1);
                    }
                }
                Out::Event(event) => {
                    self.name_from_dns(event);
                    if self.error.is_none()
                        && let Err(e) = self.sink.event(event)
                    {
                        self.error = Some(e);
                    }
                }
            }
        }
        for (w, out) in self.workers.iter_mut().zip(outputs) {
            w.merged.push(out);
        }
    }

    /// Names a `flow` or `leak` event that has no name of its own from the DNS answers seen
    /// before it, as the handler does on one thread.
    fn name_from_dns(&mut self, event: &mut Event) {
        let Some(flow) = &event.flow else { return };
        let ip = flow.dest_ip;
        let (dest_hostname, dest) = match &mut event.body {
            EventBody::Flow(f) if f.dest_hostname.is_none() => {
                let Some(name) = self.names.name_of(&ip) else { return };
                let name = WireText(name.as_bytes().to_vec());
                f.dest = self.attributor.destination(ip, Some(&name));
                f.dest_hostname = Some((name, "dns"));
                return;
            }
            EventBody::Leak(l) if l.dest_hostname.is_none() => (&mut l.dest_hostname, &mut l.dest),
            _ => return,
        };
        let Some(name) = self.names.name_of(&ip) else { return };
        let name = WireText(name.as_bytes().to_vec());
        *dest = self.attributor.destination(ip, Some(&name));
        *dest_hostname = Some(name);
    }
}

impl Stage for Parallel<'_> {
    fn start_input(&mut self, index: u64, name: Arc<str>) {
        self.decoder = Decoder::new(self.config.decoder.clone());
        self.now = Timestamp(i64::MIN);
        self.input = Some(name.clone());
        self.batch.push_common(Item::Input { index, name });
    }

    fn packet(&mut self, ts: Timestamp, link_type: LinkType, data: &[u8], frame: u64, counters: &mut Counters) {
        let Some(pkt) = self.decoder.decode(ts, link_type, data, counters) else { return };
        let (sport, dport, payload) = match pkt.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, t.payload),
            Transport::Udp { src_port, dst_port, payload } => (src_port, dst_port, payload),
            Transport::Icmp { .. } | Transport::Other => (0, 0, &[][..]),
        };
        let n = self.workers.len();
        let inner_worker = route(pkt.src, sport, pkt.dst, dport, pkt.proto.0, n);
        let carrier_worker = pkt.carrier.map_or(0, |c| route(c.src, c.src_port, c.dst, c.dst_port, 17, n));
        let packet = detach(&pkt);
        let batch = &mut self.batch;
        let index = batch.items.len() as u32;
        if ts > self.now {
            self.now = ts;
            batch.steps.push((index, ts));
        }
        batch.lanes.resize_with(n, Vec::new);
        batch.lanes[usize::from(inner_worker)].push(index);
        if packet.carrier.is_some() && carrier_worker != inner_worker {
            batch.lanes[usize::from(carrier_worker)].push(index);
        }
        let payload = batch.push_bytes(payload);
        let app = pkt.app.map(|a| batch.push_bytes(a));
        batch.items.push(Item::Packet(PacketItem { ts, frame, packet, payload, app, carrier_worker, inner_worker }));
        if self.batch.items.len() >= self.batch_items || self.batch.arena.len() >= BATCH_BYTES {
            self.dispatch();
        }
    }

    fn secrets(&mut self, secrets_type: u32, data: &[u8]) {
        let data = self.batch.push_bytes(data);
        self.batch.push_common(Item::Secrets { secrets_type, data });
    }

    fn input_carries_secrets(&mut self) {
        self.batch.push_common(Item::CarriesSecrets);
    }

    fn flush(&mut self, _counters: &mut Counters) {
        self.batch.push_common(Item::Flush);
        self.dispatch();
    }

    fn har(
        &mut self,
        bytes: &[u8],
        index: u64,
        counters: &mut Counters,
    ) -> Result<crate::har::HarRead, phonehome_har::HarError> {
        // Entries are not flows: read on this thread, after every event before them.
        self.drain();
        let mut handler = Handler::new(&mut *self.sink, self.config);
        handler.set_input(self.input.clone().unwrap_or_else(|| Arc::from("-")));
        let read = handler.run_har(bytes, index, counters);
        self.counters.merge(&handler.counters);
        self.findings_dropped += handler.findings_dropped();
        self.counters.add(Counter::IdentifierDecoding, handler.findings_decode_capped());
        if let Err(e) = handler.take_error() {
            self.error.get_or_insert(e);
        }
        read
    }

    fn take_error(&mut self) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    fn finish(&mut self, stats: &mut StatsRecord, counters: &mut Counters) -> std::io::Result<&mut dyn EventSink> {
        self.drain();
        for w in &self.workers {
            w.to.send(ToWorker::Stop).expect("a flow worker thread failed");
        }
        for w in &self.workers {
            let Ok(FromWorker::End(t)) = w.from.recv() else { panic!("a flow worker thread failed") };
            stats.tcp_flows += t.tcp;
            stats.udp_flows += t.udp;
            stats.flows += t.tcp + t.udp + t.other;
            stats.icmp_packets += t.icmp_packets;
            counters.merge(&t.counters);
        }
        counters.merge(&self.counters);
        counters.add(Counter::FindingsCap, self.findings_dropped);
        self.take_error()?;
        Ok(&mut *self.sink)
    }
}

/// A flow worker: its own flow table and handler, fed its share of every batch.
fn worker(
    config: &Config,
    me: u8,
    encoder: Option<Encoder>,
    batches: Receiver<ToWorker>,
    results: SyncSender<FromWorker>,
) {
    let output: Rc<RefCell<Output>> = Rc::default();
    // The tag of what the handler produces now: (position, phase).
    let place = Rc::new(Cell::new((0u64, 0u8)));
    let mut sink = Collect { output: output.clone(), place: place.clone(), encoder };
    let mut handler = Handler::new(&mut sink, config);
    {
        let (output, place) = (output.clone(), place.clone());
        handler.defer_names(Box::new(move |learnt| output.borrow_mut().push(place.get(), Out::Names(learnt))));
    }
    let mut table = FlowTable::new(config.flow.clone(), handler);
    let mut counters = Counters::default();
    while let Ok(ToWorker::Batch(batch, merged)) = batches.recv() {
        for mut old in merged {
            old.clear();
            let mut output = output.borrow_mut();
            if output.tagged.capacity() < old.tagged.capacity() {
                *output = old;
            }
        }
        let own = batch.lanes.get(usize::from(me)).map_or(&[][..], Vec::as_slice);
        let (mut own, mut common, mut steps) =
            (own.iter().peekable(), batch.common.iter().peekable(), &batch.steps[..]);
        // The worker's items and the common ones, in batch order, each after the steps of
        // time up to it.
        loop {
            let i = match (own.peek(), common.peek()) {
                (Some(&&o), Some(&&c)) if c < o => common.next(),
                (Some(_), _) => own.next(),
                (None, _) => common.next(),
            };
            let i = i.map_or(u32::MAX, |&i| i);
            while let [(at, now), rest @ ..] = steps
                && *at <= i
            {
                place.set((batch.base + u64::from(*at), 0));
                table.advance(*now, &mut counters);
                steps = rest;
            }
            let Some(item) = batch.items.get(i as usize) else { break };
            let pos = batch.base + u64::from(i);
            match item {
                Item::Input { index, name } => {
                    table.set_input_index(*index);
                    table.handler_mut().set_input(name.clone());
                }
                Item::Packet(p) => {
                    let pkt = attach(&p.packet, batch.bytes(p.payload), p.app.map(|a| batch.bytes(a)));
                    if p.packet.carrier.is_some() && p.carrier_worker == me {
                        place.set((pos, 1));
                        table.carrier(p.ts, p.frame, &pkt, &mut counters);
                    }
                    if p.inner_worker == me {
                        place.set((pos, 2));
                        table.inner(p.ts, p.frame, &pkt, &mut counters);
                    }
                }
                Item::Secrets { secrets_type, data } => {
                    table.handler_mut().add_secrets(*secrets_type, batch.bytes(*data));
                }
                Item::CarriesSecrets => table.handler_mut().input_carries_secrets(),
                Item::Flush => {
                    place.set((pos, 0));
                    table.flush(&mut counters);
                }
            }
        }
        drop(batch);
        let out = in_order(std::mem::take(&mut *output.borrow_mut()));
        if results.send(FromWorker::Batch(out)).is_err() {
            return;
        }
    }
    let handler = table.handler_mut();
    counters.merge(&handler.counters);
    counters.add(Counter::FindingsCap, handler.findings_dropped());
    counters.add(Counter::IdentifierDecoding, handler.findings_decode_capped());
    let totals = Totals {
        counters,
        tcp: table.flows_tcp,
        udp: table.flows_udp,
        other: table.flows_other,
        icmp_packets: table.icmp_packets,
    };
    let _ = results.send(FromWorker::End(Box::new(totals)));
}

/// A worker's output of one batch, sorted by [`Tagged::key`]. Flows ended together (by one
/// step of time, or at the end of an input) each produce a run of their own events, tied
/// to their id, so such flows come out in id order, whichever workers they were on. A DNS
/// answer a flow taught as it ended belongs to its run: it takes the tie of what follows.
fn in_order(mut out: Output) -> Output {
    let mut next: Option<(u64, u64)> = None;
    for t in out.tagged.iter_mut().rev().filter(|t| t.phase == 0) {
        if let Out::Names(_) = t.out {
            t.tie = match next {
                Some((pos, tie)) if pos == t.pos => tie,
                _ => u64::MAX,
            };
        }
        next = Some((t.pos, t.tie));
    }
    // Stable, and linear on the runs already in order.
    out.tagged.sort_by_key(Tagged::key);
    out
}

/// The worker's sink: keeps each event with its tag, as the sink's bytes when it can.
struct Collect {
    output: Rc<RefCell<Output>>,
    place: Rc<Cell<(u64, u8)>>,
    encoder: Option<Encoder>,
}

impl EventSink for Collect {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.event_owned(event.clone())
    }

    fn event_owned(&mut self, event: Event) -> std::io::Result<()> {
        let mut output = self.output.borrow_mut();
        let output = &mut *output;
        // Events that may still be named from DNS answers other workers saw go as they are.
        let named_later = match &event.body {
            EventBody::Flow(f) => f.dest_hostname.is_none(),
            EventBody::Leak(l) => l.dest_hostname.is_none(),
            _ => false,
        };
        if let Some(encode) = self.encoder.as_ref().filter(|_| !named_later) {
            let start = output.bytes.len();
            if encode(&event, &mut output.bytes).is_ok() {
                let (end, flow_id) = (output.bytes.len(), event.flow.as_ref().map(|f| f.flow_id));
                output.push(self.place.get(), Out::Bytes { start, end, flow_id });
                return Ok(());
            }
            // Sent as it is: the sink reports the error.
            output.bytes.truncate(start);
        }
        output.push(self.place.get(), Out::Event(event));
        Ok(())
    }
}

/// `pkt` without its borrowed bytes, to keep in a batch.
fn detach(pkt: &Packet<'_>) -> Packet<'static> {
    let transport = match pkt.transport {
        Transport::Tcp(t) => Transport::Tcp(TcpSegment {
            src_port: t.src_port,
            dst_port: t.dst_port,
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            payload: &[],
        }),
        Transport::Udp { src_port, dst_port, .. } => Transport::Udp { src_port, dst_port, payload: &[] },
        Transport::Icmp { icmp_type, code } => Transport::Icmp { icmp_type, code },
        Transport::Other => Transport::Other,
    };
    Packet {
        src: pkt.src,
        dst: pkt.dst,
        proto: pkt.proto,
        ip_len: pkt.ip_len,
        transport,
        tunnel: pkt.tunnel,
        app: None,
        carrier: pkt.carrier,
    }
}

/// A detached packet with its bytes back.
fn attach<'a>(pkt: &Packet<'static>, payload: &'a [u8], app: Option<&'a [u8]>) -> Packet<'a> {
    let mut pkt: Packet<'a> = *pkt;
    match &mut pkt.transport {
        Transport::Tcp(t) => t.payload = payload,
        Transport::Udp { payload: p, .. } => *p = payload,
        Transport::Icmp { .. } | Transport::Other => {}
    }
    pkt.app = app;
    pkt
}

/// Which of `n` workers owns the flow between `a`:`pa` and `b`:`pb` (protocol `proto`),
/// whichever way the packet goes.
fn route(a: IpAddr, pa: u16, b: IpAddr, pb: u16, proto: u8, n: usize) -> u8 {
    let h = mix(side(a, pa).wrapping_add(side(b, pb)) ^ u64::from(proto));
    ((u128::from(h) * n as u128) >> 64) as u8
}

/// One endpoint, hashed; the sum of both sides' hashes is the same either way round.
fn side(ip: IpAddr, port: u16) -> u64 {
    let bits = match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let x = u128::from(v6);
            (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
        }
    };
    mix(bits ^ u64::from(port) << 40)
}

/// SplitMix64's finaliser: fixed, so a run shares flows out the same way every time.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of a run, as text, and the outcome's stats.
    /// A sink that writes each event's `Debug` form on a line, with an encoder that the
    /// workers use (as NDJSON's).
    struct Lines(Vec<u8>);

    fn line(event: &Event, out: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::Write;
        writeln!(out, "{event:?}")
    }

    impl EventSink for Lines {
        fn event(&mut self, event: &Event) -> std::io::Result<()> {
            line(event, &mut self.0)
        }

        fn encoder(&self) -> Option<Encoder> {
            Some(Arc::new(line))
        }

        fn encoded(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }
    }

    /// Every event of a run, as text, and the outcome's stats; through the encoder or not.
    fn events(inputs: &[&str], config: &Config, threads: usize, batch_items: usize) -> (Vec<String>, String) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
        let open = || inputs.iter().map(|i| Input::open(&format!("{root}{i}")).unwrap()).collect::<Vec<_>>();
        let mut plain = phonehome_model::event::VecSink::default();
        let mut lines = Lines(Vec::new());
        let (outcome, again) = match threads {
            1 => (crate::run(open(), config, &mut plain), crate::run(open(), config, &mut lines)),
            n => (
                run_batched(open(), config, &mut plain, n, batch_items),
                run_batched(open(), config, &mut lines, n, batch_items),
            ),
        };
        let (outcome, again) = (outcome.unwrap(), again.unwrap());
        let events: Vec<String> = plain.0.iter().map(|e| format!("{e:?}")).collect();
        let encoded: Vec<String> = String::from_utf8(lines.0).unwrap().lines().map(String::from).collect();
        assert!(events == encoded, "{threads} threads: the encoded events differ from the events");
        assert_eq!(format!("{:?}", outcome.stats), format!("{:?}", again.stats));
        (events, format!("{:?}", outcome.stats))
    }

    #[test]
    fn output_depends_neither_on_threads_nor_on_batches_and_matches_one_thread() {
        let inputs =
            ["examples/1kxun.pcap", "fixtures/captures/zeek__tunnels__vxlan.pcap", "fixtures/har/1kxun_chrome.har"];
        let config = Config { attribution: crate::Attribution::embedded(), ..Config::default() };
        let (want, want_stats) = events(&inputs, &config, 2, BATCH_ITEMS);
        assert!(want.len() > 600);
        for (threads, batch) in [(2, 1), (3, 7), (4, 100), (2, 1000)] {
            let (got, stats) = events(&inputs, &config, threads, batch);
            assert!(got == want, "{threads} threads, batches of {batch}");
            assert_eq!(stats, want_stats);
        }
        let (mut one, one_stats) = events(&inputs, &config, 1, 0);
        let mut sorted = want.clone();
        one.sort();
        sorted.sort();
        assert!(one == sorted, "other events than on one thread");
        assert_eq!(one_stats, want_stats);
    }

    #[test]
    fn flows_ended_together_come_out_in_id_order() {
        // Three flows ended by one step of time, in heap order 9, 4, 7 on one worker (7 as
        // the encoder's bytes); a DNS answer taught while flow 4 ended stays with it.
        let flow = |id| {
            Out::Event(Event {
                timestamp: Timestamp(0),
                input: None,
                flow: Some(phonehome_model::event::FlowRef {
                    flow_id: id,
                    src_ip: IpAddr::from([1, 1, 1, 1]),
                    dest_ip: IpAddr::from([2, 2, 2, 2]),
                    src_port: None,
                    dest_port: None,
                    proto: phonehome_model::IpProto::UDP,
                }),
                body: EventBody::Flow(Box::new(phonehome_model::event::FlowRecord {
                    reason: phonehome_model::event::EndReason::Timeout,
                    ..Default::default()
                })),
            })
        };
        let names = || Out::Names((Vec::new(), String::new()));
        let mut out = Output::default();
        out.push((5, 0), flow(9));
        out.push((5, 0), names());
        out.push((5, 0), flow(4));
        out.push((5, 0), Out::Bytes { start: 0, end: 0, flow_id: Some(7) });
        out.push((5, 2), names());
        out.push((6, 0), flow(1));
        let out = in_order(out);
        let keys: Vec<_> = out.tagged.iter().map(Tagged::key).collect();
        assert_eq!(keys, [(5, 0, 4), (5, 0, 4), (5, 0, 7), (5, 0, 9), (5, 2, 0), (6, 0, 1)]);
        assert!(matches!(out.tagged[0].out, Out::Names(_)), "the answer stays before its flow's event");
    }

    #[test]
    fn both_directions_go_to_the_same_worker_and_flows_spread() {
        let server: IpAddr = "2001:db8::1".parse().unwrap();
        for n in 2..8 {
            let mut used = vec![0u32; n];
            for i in 0..1000u16 {
                let client = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
                let w = route(client, 40000 + i, server, 443, 6, n);
                assert_eq!(w, route(server, 443, client, 40000 + i, 6, n));
                used[usize::from(w)] += 1;
            }
            // Roughly even: no worker gets less than half its share.
            assert!(used.iter().all(|&u| u as usize > 1000 / n / 2), "{used:?}");
        }
    }
}

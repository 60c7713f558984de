//! The flow table's next stage: per-flow protocol state, and events out to the sink.

use std::sync::Arc;

use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::event::{Decryption, EndReason, Event, EventBody, FlowRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Counter, Counters, Direction, EventSink, IpProto};
use phonehome_protocols::sniff::{self, Carrier};

use crate::Config;
use crate::attribution::Attributor;
use crate::dissect::{self, Context, Dissector, DnsNames, Keys, ProtocolLimits, RawStream};
use crate::findings::{Findings, Origin};
use phonehome_detect::Location;

/// How many client chunks of an unrecognised or non-TLS stream are checked for a TLS
/// ClientHello starting late (STARTTLS, CONNECT, SOCKS): enough for those exchanges, few
/// enough to cost nothing on long streams.
const LATE_TLS_CHUNKS: u8 = 16;
/// How many datagrams of a UDP flow are tried before it is left unrecognised.
const UDP_SNIFF_DATAGRAMS: u8 = 8;

/// What the engine keeps per flow.
#[derive(Default)]
pub(crate) struct FlowState {
    app_proto: Option<&'static str>,
    /// Whether each direction's first payload was looked at already.
    sniffed: [bool; 2],
    /// Datagrams of an unrecognised UDP flow looked at so far.
    datagrams_sniffed: u8,
    /// The dissector of a recognised flow.
    dissector: Option<Box<dyn Dissector>>,
    /// Client chunks still to check for a ClientHello starting late.
    late_tls_budget: u8,
    /// Server name found in the flow itself (TLS or QUIC SNI, HTTP Host), with its source.
    hostname: Option<(WireText, &'static str)>,
    /// Identifier search over the raw stream, for TCP flows no dissector reads (MQTT, XMPP,
    /// vendor push channels...).
    raw: RawStream,
    /// Chunks of a named-in-band protocol (MiPush) still to read a server name from.
    name_budget: u8,
    /// Whether a TLS or QUIC flow was decrypted, as its dissector reported at the end.
    decryption: Option<Decryption>,
}

/// Turns flows into events. Holds the first sink error, since the flow table's callbacks
/// cannot return one; the engine checks it after each input.
pub(crate) struct Handler<'s> {
    sink: &'s mut dyn EventSink,
    input: Option<Arc<str>>,
    error: Option<std::io::Error>,
    /// Names from DNS answers seen so far, for flows that carry no name of their own.
    names: DnsNames,
    /// Events completed by the current payload, reused to avoid an allocation per packet.
    scratch: Vec<EventBody>,
    limits: ProtocolLimits,
    /// Anomalies and caps the dissectors hit; merged into the run's counters at the end.
    pub(crate) counters: Counters,
    findings: Findings,
    attributor: Attributor,
    keys: Keys,
}

impl<'s> Handler<'s> {
    pub(crate) fn new(sink: &'s mut dyn EventSink, config: &Config) -> Handler<'s> {
        let limits = config.protocols.clone();
        Handler {
            findings: Findings::new(config.detection.clone()),
            attributor: Attributor::new(config.attribution.clone()),
            sink,
            input: None,
            error: None,
            names: DnsNames::new(limits.dns_names_max),
            limits,
            scratch: Vec::new(),
            counters: Counters::default(),
            keys: Keys { log: config.keylog.clone(), input_carries_secrets: false },
        }
    }

    /// Starts the next input.
    pub(crate) fn set_input(&mut self, name: Arc<str>) {
        self.input = Some(name);
        self.keys.input_carries_secrets = false;
    }

    /// The current input's format can hold TLS secrets of its own (pcapng's Decryption
    /// Secrets Blocks): TLS and QUIC flows set up decryptors even while the key log is empty.
    pub(crate) fn input_carries_secrets(&mut self) {
        self.keys.input_carries_secrets = true;
    }

    /// Adds the content of a pcapng Decryption Secrets Block to the run's key log; returns
    /// whether it was a TLS key log.
    pub(crate) fn add_secrets(&mut self, secrets_type: u32, data: &[u8]) -> bool {
        self.keys.log.add_dsb(secrets_type, data)
    }

    /// What a dissector may touch, for a flow whose server name so far is `hostname`.
    fn context<'a>(
        &'a mut self,
        hostname: &'a mut Option<(WireText, &'static str)>,
        decryption: &'a mut Option<Decryption>,
        frame: Option<u64>,
        udp: bool,
    ) -> Context<'a> {
        Context {
            names: &mut self.names,
            out: &mut self.scratch,
            hostname,
            counters: &mut self.counters,
            findings: &mut self.findings,
            frame,
            udp,
            keys: &mut self.keys,
            decryption,
        }
    }

    /// Findings the scanner's caps dropped (counted in `stats.caps.findings`).
    pub(crate) fn findings_dropped(&self) -> u64 {
        self.findings.dropped
    }

    /// Scans whose decoding stopped at its budget (counted in `stats.caps.identifier_decoding`).
    pub(crate) fn findings_decode_capped(&self) -> u64 {
        self.findings.decode_capped
    }

    pub(crate) fn take_error(&mut self) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    pub(crate) fn sink(&mut self) -> &mut dyn EventSink {
        &mut *self.sink
    }

    /// Reads a HAR input (docs/DESIGN.md, "har"): its entries' events go to the sink.
    pub(crate) fn run_har(
        &mut self,
        bytes: &[u8],
        input_index: u64,
        counters: &mut Counters,
    ) -> Result<crate::har::HarRead, phonehome_har::HarError> {
        let input = self.input.clone().unwrap_or_else(|| Arc::from("-"));
        let (sink, error, attributor) = (&mut self.sink, &mut self.error, &mut self.attributor);
        crate::har::run(bytes, &input, input_index, &mut self.findings, counters, &mut |mut event| {
            if let (Some(f), EventBody::Leak(leak)) = (&event.flow, &mut event.body) {
                leak.dest = attributor.destination(f.dest_ip, leak.dest_hostname.as_ref());
            }
            if error.is_none()
                && let Err(e) = sink.event_owned(event)
            {
                *error = Some(e);
            }
        })
    }

    /// Hands what DNS answers teach to `to` instead of remembering it here: the threaded
    /// engine (parallel.rs) applies every worker's answers to one table in capture order
    /// and names the events there.
    pub(crate) fn defer_names(&mut self, to: Box<dyn FnMut(crate::dissect::Learnt)>) {
        self.names.defer(to);
    }

    /// Sends the events in `scratch` as events of `flow`, whose server name so far is
    /// `hostname`.
    fn flush_scratch(&mut self, flow: &FlowInfo, hostname: &Option<(WireText, &'static str)>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for mut body in scratch.drain(..) {
            if let EventBody::Leak(leak) = &mut body {
                leak.dest_hostname = hostname
                    .as_ref()
                    .map(|(n, _)| n.clone())
                    .or_else(|| self.names.name_of(&flow.flow_ref.dest_ip).map(|n| WireText(n.as_bytes().to_vec())));
                leak.dest = self.attributor.destination(flow.flow_ref.dest_ip, leak.dest_hostname.as_ref());
            }
            let event =
                Event { timestamp: flow.last, input: self.input.clone(), flow: Some(flow.flow_ref.clone()), body };
            self.emit(event);
        }
        self.scratch = scratch;
    }

    fn emit(&mut self, event: Event) {
        if self.error.is_none()
            && let Err(e) = self.sink.event_owned(event)
        {
            self.error = Some(e);
        }
    }
}

/// Names a MiPush flow from a connection request: the host the client dialled outranks the
/// service domain either side states.
fn name_mipush(state: &mut FlowState, dir: Direction, bytes: &[u8]) {
    let Some(hello) = phonehome_protocols::mipush::parse_hello(bytes) else { return };
    let dialled = dir == Direction::ToServer && hello.host.as_deref() == hello.server_name();
    if let Some(name) = hello.server_name()
        && (state.hostname.is_none() || dialled)
    {
        state.hostname = Some((WireText(name.as_bytes().to_vec()), "mipush"));
    }
    if dialled {
        state.name_budget = 0;
    }
}

/// The flow's (client, server) ports; 0 for portless protocols.
fn ports_toward_server(flow: &FlowInfo) -> (u16, u16) {
    let f = &flow.flow_ref;
    (f.src_port.unwrap_or(0), f.dest_port.unwrap_or(0))
}

impl Handler<'_> {
    /// Searches the payload of a flow no dissector reads.
    fn scan_raw(&mut self, flow: &FlowInfo, state: &mut FlowState, dir: Direction, payload: Payload<'_>) {
        match payload {
            Payload::Datagram { bytes, frame } => {
                let origin = Origin { dir, udp: true, frame: Some(frame), http: None };
                if self.findings.scans(&origin) {
                    self.findings.scan(bytes, Location::Payload, origin, &mut self.scratch);
                }
            }
            Payload::Stream(chunk) => state.raw.chunk(&mut self.findings, dir, chunk, &mut self.scratch),
        }
        if !self.scratch.is_empty() {
            self.flush_scratch(flow, &state.hostname);
        }
    }
}

impl FlowHandler for Handler<'_> {
    type State = FlowState;

    fn on_payload(&mut self, flow: &FlowInfo, state: &mut FlowState, dir: Direction, payload: Payload<'_>) {
        let d = dir.index();
        // A stream is recognised by its start only; a UDP flow by any of its first datagrams,
        // since one lost or mangled datagram must not hide the rest (each is a message).
        let sniff = match payload {
            Payload::Stream(_) => !state.sniffed[d],
            Payload::Datagram { .. } => state.datagrams_sniffed < UDP_SNIFF_DATAGRAMS,
        };
        if sniff && state.app_proto.is_none() {
            state.sniffed[d] = true;
            state.datagrams_sniffed = state.datagrams_sniffed.saturating_add(1);
            let (carrier, bytes) = match payload {
                Payload::Stream(Chunk::Data { bytes, .. }) => (Carrier::TcpStream, bytes),
                // After a hole the stream's start is lost; recognition would be a guess.
                Payload::Stream(Chunk::Gap { .. }) => return,
                Payload::Datagram { bytes, .. } => (Carrier::Udp, bytes),
            };
            let ports = ports_toward_server(flow);
            let ports = if dir == Direction::ToServer { ports } else { (ports.1, ports.0) };
            state.app_proto = sniff::app_proto(carrier, bytes, ports);
            state.dissector = state.app_proto.and_then(|p| dissect::for_flow(p, carrier, &self.limits));
            if carrier == Carrier::TcpStream && state.app_proto != Some("tls") {
                state.late_tls_budget = LATE_TLS_CHUNKS;
            }
            if state.app_proto == Some("mipush") {
                state.name_budget = 4;
            }
        }
        if state.name_budget > 0
            && let Payload::Stream(Chunk::Data { bytes, .. }) = payload
        {
            state.name_budget -= 1;
            name_mipush(state, dir, bytes);
        }
        // Bytes of this chunk that belong to what came before the handshake (a PROXY header).
        let mut skip = 0;
        if let (Direction::ToServer, Payload::Stream(Chunk::Data { bytes, .. })) = (dir, &payload)
            && state.late_tls_budget > 0
        {
            state.late_tls_budget -= 1;
            if let Some((tls, at)) = dissect::late_tls(bytes, &self.limits) {
                skip = at;
                state.late_tls_budget = 0;
                let mut cx = self.context(&mut state.hostname, &mut state.decryption, payload.frame(), false);
                if let Some(old) = state.dissector.replace(tls) {
                    old.finish(&mut cx);
                }
                state.app_proto.get_or_insert("tls");
                self.counters.add(Counter::TlsAfterCleartext, 1);
            } else if state.dissector.is_none()
                && let Some(http) = dissect::late_http(bytes, ports_toward_server(flow), &self.limits)
            {
                state.dissector = Some(http);
                state.app_proto.get_or_insert("http");
                self.counters.add(Counter::HttpAfterCleartext, 1);
            }
        }
        if state.dissector.is_none() {
            self.scan_raw(flow, state, dir, payload);
            return;
        }
        let Some(dissector) = state.dissector.as_mut().filter(|d| !d.done()) else { return };
        let udp = matches!(payload, Payload::Datagram { .. });
        let mut cx = self.context(&mut state.hostname, &mut state.decryption, payload.frame(), udp);
        match payload {
            Payload::Datagram { bytes, .. } => dissector.datagram(dir, bytes, &mut cx),
            Payload::Stream(Chunk::Data { bytes, offset, frame }) => {
                let chunk = Chunk::Data { bytes: &bytes[skip..], offset: offset + skip as u64, frame };
                dissector.stream(dir, chunk, &mut cx)
            }
            Payload::Stream(gap) => dissector.stream(dir, gap, &mut cx),
        }
        if !self.scratch.is_empty() {
            self.flush_scratch(flow, &state.hostname);
        }
    }

    fn on_end(&mut self, flow: FlowInfo, mut state: FlowState, reason: EndReason) {
        if let Some(d) = state.dissector.take() {
            let udp = flow.flow_ref.proto == IpProto::UDP;
            let mut cx = self.context(&mut state.hostname, &mut state.decryption, None, udp);
            d.finish(&mut cx);
        }
        state.raw.finish(&mut self.findings, &mut self.scratch);
        if !self.scratch.is_empty() {
            self.flush_scratch(&flow, &state.hostname);
        }
        let dest_hostname = state
            .hostname
            .or_else(|| self.names.name_of(&flow.flow_ref.dest_ip).map(|n| (WireText(n.as_bytes().to_vec()), "dns")));
        let dest = self.attributor.destination(flow.flow_ref.dest_ip, dest_hostname.as_ref().map(|(n, _)| n));
        let record = FlowRecord {
            counts: flow.counts,
            start: flow.start,
            end: flow.last,
            reason,
            app_proto: state.app_proto,
            tcp_handshake: flow.tcp_handshake,
            tcp_gaps: flow.tcp_gaps,
            app: flow.app.map(|a| WireText(a.into_vec())),
            tunnel: flow.tunnel,
            dest_hostname,
            dest,
            decryption: state.decryption,
        };
        let event = Event {
            timestamp: flow.last,
            input: self.input.clone(),
            flow: Some(flow.flow_ref),
            body: EventBody::Flow(Box::new(record)),
        };
        self.emit(event);
    }
}

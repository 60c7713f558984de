//! The flow table's next stage: per-flow protocol state, and events out to the sink.

use std::sync::Arc;

use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::event::{EndReason, Event, EventBody, FlowRecord};
use phonehome_model::text::WireText;
use phonehome_model::{Direction, EventSink};
use phonehome_protocols::sniff::{self, Carrier};

/// What the engine keeps per flow.
#[derive(Default)]
pub(crate) struct FlowState {
    app_proto: Option<&'static str>,
    /// Whether each direction's first payload was looked at already.
    sniffed: [bool; 2],
}

/// Turns flows into events. Holds the first sink error, since the flow table's callbacks
/// cannot return one; the engine checks it after each input.
pub(crate) struct Handler<'s> {
    sink: &'s mut dyn EventSink,
    input: Option<Arc<str>>,
    error: Option<std::io::Error>,
}

impl<'s> Handler<'s> {
    pub(crate) fn new(sink: &'s mut dyn EventSink) -> Handler<'s> {
        Handler { sink, input: None, error: None }
    }

    pub(crate) fn set_input(&mut self, name: Arc<str>) {
        self.input = Some(name);
    }

    pub(crate) fn take_error(&mut self) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    pub(crate) fn sink(&mut self) -> &mut dyn EventSink {
        &mut *self.sink
    }

    fn emit(&mut self, event: Event) {
        if self.error.is_none()
            && let Err(e) = self.sink.event(&event)
        {
            self.error = Some(e);
        }
    }
}

impl FlowHandler for Handler<'_> {
    type State = FlowState;

    fn on_payload(&mut self, flow: &FlowInfo, state: &mut FlowState, dir: Direction, payload: Payload<'_>) {
        let d = dir.index();
        if state.sniffed[d] || state.app_proto.is_some() {
            return;
        }
        let (carrier, bytes) = match payload {
            Payload::Stream(Chunk::Data { bytes, .. }) => (Carrier::TcpStream, bytes),
            // After a hole the stream's start is lost; recognition would be a guess.
            Payload::Stream(Chunk::Gap { .. }) => {
                state.sniffed[d] = true;
                return;
            }
            Payload::Datagram { bytes, .. } => (Carrier::Udp, bytes),
        };
        state.sniffed[d] = true;
        let f = &flow.flow_ref;
        let ports = (f.src_port.unwrap_or(0), f.dest_port.unwrap_or(0));
        let ports = if dir == Direction::ToServer { ports } else { (ports.1, ports.0) };
        state.app_proto = sniff::app_proto(carrier, bytes, ports);
    }

    fn on_end(&mut self, flow: FlowInfo, state: FlowState, reason: EndReason) {
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

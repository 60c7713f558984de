//! The flow engine: packets to flows, TCP segments to ordered byte streams.
//!
//! [`FlowTable`] keys packets by their endpoints, decides which side started each flow, ends
//! flows (FIN/RST, idle timeout, eviction when full, port reuse, end of capture) and hands
//! each flow's payload, in order, to a [`FlowHandler`] together with per-flow state the
//! handler owns. The table knows nothing about application protocols: later stages plug in
//! through the handler, so adding one never changes this crate.
#![forbid(unsafe_code)]

pub mod table;
pub mod tcp;

pub use table::{FlowConfig, FlowHandler, FlowInfo, FlowTable, Payload};

//! Application protocols: recognise what a flow carries and parse its messages.
//!
//! Each protocol is a module of pure functions over byte slices (no I/O, no flow state of its
//! own); the engine keeps per-flow state and feeds them. Recognition is by content, never by
//! port alone, because devices phone home on any port.
#![forbid(unsafe_code)]

pub mod body;
pub mod dns;
pub mod h2;
pub mod h3;
pub mod hpack;
pub mod http;
pub mod mipush;
pub mod qpack;
pub mod quic;
pub mod sniff;
pub mod tls;

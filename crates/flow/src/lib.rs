//! The flow engine: packets to flows, TCP segments to ordered byte streams.
#![forbid(unsafe_code)]

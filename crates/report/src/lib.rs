//! Report sinks: where events go (NDJSON, text summary).
#![forbid(unsafe_code)]

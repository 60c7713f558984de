//! Report sinks: where events go. Each implements [`phonehome_model::EventSink`], so the
//! engine feeds NDJSON, the text summary and tests through one interface.
#![forbid(unsafe_code)]

pub mod data;
mod ndjson;
pub mod summary;
mod text;

pub use ndjson::NdjsonSink;
pub use text::TextSummary;

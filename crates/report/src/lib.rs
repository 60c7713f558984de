//! Report sinks: where events go. Each implements [`phonehome_model::EventSink`], so the
//! engine feeds NDJSON, the text summary and tests through one interface.
#![forbid(unsafe_code)]

pub mod csv;
pub mod data;
pub mod diff;
pub mod document;
pub mod html;
pub mod json;
mod ndjson;
pub mod policy;
pub mod style;
pub mod summary;
pub mod text;

pub use csv::CsvSink;
pub use document::{JsonReport, Report};
pub use html::HtmlReport;
pub use ndjson::NdjsonSink;
pub use style::Style;
pub use text::{TextSummary, render as render_text};

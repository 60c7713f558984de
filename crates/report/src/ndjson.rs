//! EVE-style NDJSON: one JSON object per line, written as events arrive.

use std::io::Write;

use phonehome_model::{Event, EventSink};

/// Writes each event as one line of JSON (schema in docs/OUTPUT.md).
pub struct NdjsonSink<W: Write> {
    out: W,
}

impl<W: Write> NdjsonSink<W> {
    /// Writes to `out`; wrap files and stdout in a `BufWriter`.
    pub fn new(out: W) -> NdjsonSink<W> {
        NdjsonSink { out }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> EventSink for NdjsonSink<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

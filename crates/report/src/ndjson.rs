//! EVE-style NDJSON: one JSON object per line, written as events arrive.

use std::io::Write;

use phonehome_model::event::Encoder;
use phonehome_model::{Event, EventSink};

/// Writes each event as one line of JSON (schema in docs/OUTPUT.md).
pub struct NdjsonSink<W: Write> {
    out: W,
    /// The line being written: serialising into it and writing it whole costs less than
    /// sending each token through `out` (a `BufWriter` behind a `dyn Write`).
    line: Vec<u8>,
}

impl<W: Write> NdjsonSink<W> {
    /// Writes to `out`; wrap files and stdout in a `BufWriter`.
    pub fn new(out: W) -> NdjsonSink<W> {
        NdjsonSink { out, line: Vec::with_capacity(4096) }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One event's line, newline included.
fn encode(event: &Event, line: &mut Vec<u8>) -> std::io::Result<()> {
    crate::json::to_vec(event, line)?;
    line.push(b'\n');
    Ok(())
}

impl<W: Write> EventSink for NdjsonSink<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.line.clear();
        encode(event, &mut self.line)?;
        self.out.write_all(&self.line)
    }

    fn encoder(&self) -> Option<Encoder> {
        Some(std::sync::Arc::new(encode))
    }

    fn encoded(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

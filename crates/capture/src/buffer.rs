//! The read buffer: one growable `Vec<u8>` that records are parsed from in place.
//!
//! Records are handed out as ranges into the buffer, so nothing is copied per packet. The
//! buffer is only compacted (the unconsumed tail moved to the front) when a record does not
//! fit behind the current position, which moves at most one partial record per refill.

use std::io::{self, Read};
use std::ops::Range;

/// The buffer's working size: large enough that syscalls and gzip's per-call overhead vanish
/// next to parsing.
pub(crate) const CHUNK: usize = 2 << 20;

/// The buffer starts small and doubles up to [`CHUNK`] as the input proves long, so a short
/// capture (or a test opening thousands of prefixes) does not pay for 2 MiB up front.
const INITIAL: usize = 64 << 10;

pub(crate) struct Input {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// Input offset of `buf[0]`.
    base: u64,
    eof: bool,
}

impl Input {
    /// `prefix` holds bytes already taken from `src` while sniffing the format; they are
    /// read first.
    pub(crate) fn new(src: Box<dyn Read + Send>, prefix: Vec<u8>) -> Input {
        let mut buf = prefix;
        let end = buf.len();
        buf.resize(INITIAL.max(end), 0);
        Input { src, buf, start: 0, end, base: 0, eof: false }
    }

    /// Input offset of the first unconsumed byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The unconsumed bytes that are in the buffer.
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `need` unconsumed bytes available. `Ok(false)` means the input ended
    /// first (what is left stays available, so the caller can tell a clean end from a cut).
    pub(crate) fn fill(&mut self, need: usize) -> io::Result<bool> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        if self.start + need > self.buf.len() {
            // Compact before growing: the tail is at most one partial record.
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
            if need > self.buf.len() {
                // Grow to the record plus a chunk so the next reads are still large. The
                // caller has checked `need` against the record cap.
                self.buf.resize(need + CHUNK, 0);
            } else if self.buf.len() < CHUNK {
                self.buf.resize((self.buf.len() * 2).min(CHUNK), 0);
            }
        }
        while self.end - self.start < need {
            if self.eof {
                return Ok(false);
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n.min(self.buf.len() - self.end),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Consumes `n` available bytes and returns their range in the buffer, valid until the
    /// next `fill`.
    pub(crate) fn consume(&mut self, n: usize) -> Range<usize> {
        debug_assert!(self.start + n <= self.end);
        let r = self.start..self.start + n;
        self.start += n;
        r
    }

    /// Bytes of a range returned by [`Input::consume`].
    pub(crate) fn slice(&self, r: Range<usize>) -> &[u8] {
        &self.buf[r]
    }
}

/// Reads until `out` holds `n` bytes or the source ends; used to sniff magic numbers.
pub(crate) fn read_prefix(src: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    src.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

//! Capture sources: turn a byte stream (file, stdin, gzip) into capture records.
//!
//! The reader detects the format by magic number (never by file extension), handles pcap in
//! both byte orders and both resolutions, pcapng with several sections and interfaces, and
//! gzip-compressed input of either. It never trusts a length field: a record larger than the
//! cap or a truncated tail ends reading with a [`CaptureError`] that names the byte offset,
//! after every record before it was delivered.
//!
//! Everything is parsed in place in one large read buffer: a [`Record`] borrows it, so the
//! reader is a lending iterator ([`CaptureReader::next_record`]) and no packet is copied or
//! allocated.
//!
//! [`PcapngWriter`] writes pcapng (the evidence file of `--evidence-pcap`).
#![forbid(unsafe_code)]

mod buffer;
mod pcap;
mod pcapng;
mod writer;

use std::io::Read;
use std::net::IpAddr;
use std::ops::Range;

use flate2::read::MultiGzDecoder;
use phonehome_model::{LinkType, Timestamp};

use crate::buffer::{Input, read_prefix};
use crate::pcap::Pcap;
use crate::pcapng::PcapNg;
pub use crate::writer::PcapngWriter;

/// One packet as the capture recorded it.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time. pcapng timestamps are scaled by the interface's `if_tsresol` and shifted
    /// by its `if_tsoffset`; a Simple Packet Block has none and repeats the previous packet's.
    pub ts: Timestamp,
    /// Link type of the pcap file or of the packet's pcapng interface.
    pub link_type: LinkType,
    /// The captured bytes (may be shorter than `orig_len` when the snapshot length cut it).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// pcapng interface id (0 for pcap).
    pub interface: u32,
    /// Byte offset of the record in the (decompressed) input.
    pub offset: u64,
}

/// A record of a capture file.
#[derive(Debug)]
pub enum Record<'a> {
    /// A captured packet (pcap record, or pcapng Enhanced, Simple or obsolete Packet Block).
    Packet(Packet<'a>),
    /// A pcapng Decryption Secrets Block (`secrets_type` 0x544c534b = TLS key log).
    DecryptionSecrets { secrets_type: u32, data: &'a [u8] },
    /// Entries of a pcapng Name Resolution Block.
    NameResolution(Vec<(IpAddr, String)>),
}

/// Why reading a capture stopped. Offsets count bytes of the decompressed input and point at
/// the start of the record (pcap record header or pcapng block) where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The first bytes are no pcap, pcapng or gzip magic number. `magic` holds the bytes
    /// looked at (after decompression for gzip input): empty for an empty input, which is
    /// reported this way too.
    #[error("not a pcap or pcapng capture (magic {magic:02x?})")]
    NotACapture { magic: Vec<u8> },
    /// The input ends inside the record at `offset` (also for a gzip stream that is cut
    /// short).
    #[error("file ends inside a record at byte offset {offset}")]
    Truncated { offset: u64 },
    /// A length or header field of the record at `offset` is impossible.
    #[error("corrupt record at byte offset {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    /// The record at `offset` says it is `len` bytes long, more than
    /// [`ReaderConfig::max_record_len`] (`max`): corrupt, or a record too big to hold.
    #[error("record at byte offset {offset} is {len} bytes long, above the {max}-byte cap")]
    TooLarge { offset: u64, len: u64, max: usize },
    /// The source failed (or the gzip stream is corrupt) while reading the record at `offset`.
    #[error("read error at byte offset {offset}: {source}")]
    Io { offset: u64, source: std::io::Error },
}

/// Limits for [`CaptureReader`].
#[derive(Clone, Debug)]
pub struct ReaderConfig {
    /// Largest record (pcap packet or pcapng block) accepted; a larger length field ends
    /// reading ([`CaptureError::TooLarge`]). Default 16 MiB.
    pub max_record_len: usize,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig { max_record_len: 16 << 20 }
    }
}

/// What the reader passed over without yielding it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// pcapng sections read (0 for pcap).
    pub sections: u64,
    /// pcapng Interface Description Blocks read, over all sections.
    pub interfaces: u64,
    /// Blocks read but not yielded: statistics, custom, unknown and malformed auxiliary
    /// blocks, and packets of undefined interfaces (section and interface blocks do not
    /// count).
    pub skipped_blocks: u64,
    /// Of `skipped_blocks`: packet blocks naming an interface the section did not declare.
    pub undefined_interface_packets: u64,
    /// Of `skipped_blocks`: Name Resolution or Decryption Secrets blocks whose contents
    /// overrun the block.
    pub malformed_blocks: u64,
}

/// A record located in the buffer; turned into a [`Record`] once no more buffer mutation
/// can happen in the call (records borrow the buffer, so parsing hands out ranges).
pub(crate) enum Pending {
    Packet { ts: Timestamp, link_type: LinkType, data: Range<usize>, orig_len: u32, interface: u32, offset: u64 },
    Secrets { secrets_type: u32, data: Range<usize> },
    Names(Vec<(IpAddr, String)>),
}

impl Pending {
    /// Moves block-relative ranges to buffer positions.
    pub(crate) fn shifted(self, by: usize) -> Pending {
        match self {
            Pending::Packet { ts, link_type, data, orig_len, interface, offset } => {
                Pending::Packet { ts, link_type, data: data.start + by..data.end + by, orig_len, interface, offset }
            }
            Pending::Secrets { secrets_type, data } => {
                Pending::Secrets { secrets_type, data: data.start + by..data.end + by }
            }
            names => names,
        }
    }
}

enum Format {
    Pcap(Pcap),
    PcapNg(PcapNg),
}

/// Streams records from a pcap or pcapng capture, optionally gzip-compressed.
///
/// Memory is bounded by the read buffer plus `max_record_len`. Records borrow the reader's
/// buffer, so each must be used before the next call (a lending iterator).
pub struct CaptureReader {
    input: Input,
    format: Format,
    gzip: bool,
    max_record_len: usize,
    /// Set at the end of input and after an error: later calls return `Ok(None)`.
    done: bool,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl CaptureReader {
    /// Detects the format from the first bytes of `input` (gzip, pcap, pcapng).
    ///
    /// Reads the pcap global header (or the start of the first pcapng section header); an
    /// input that ends inside it is [`CaptureError::Truncated`] at offset 0.
    pub fn new(input: impl std::io::Read + Send + 'static) -> Result<CaptureReader, CaptureError> {
        Self::with_config(input, ReaderConfig::default())
    }

    /// As [`CaptureReader::new`] with explicit limits.
    pub fn with_config(
        input: impl std::io::Read + Send + 'static,
        config: ReaderConfig,
    ) -> Result<CaptureReader, CaptureError> {
        let mut src: Box<dyn Read + Send> = Box::new(input);
        let mut prefix = read_prefix(&mut src, 4).map_err(|e| io_error(0, e))?;
        let gzip = prefix.starts_with(&GZIP_MAGIC);
        if gzip {
            // Concatenated members (as `cat a.gz b.gz` makes) are one stream to gzip(1), so
            // MultiGzDecoder rather than GzDecoder, which stops after the first.
            src = Box::new(MultiGzDecoder::new(std::io::Cursor::new(prefix).chain(src)));
            prefix = read_prefix(&mut src, 4).map_err(|e| io_error(0, e))?;
        }
        let not_a_capture = |magic: &[u8]| CaptureError::NotACapture { magic: magic.to_vec() };
        if prefix.len() < 4 {
            return Err(not_a_capture(&prefix));
        }
        let magic = [prefix[0], prefix[1], prefix[2], prefix[3]];
        let is_pcap = [u32::from_le_bytes(magic), u32::from_be_bytes(magic)]
            .iter()
            .any(|&m| m == pcap::MAGIC_USEC || m == pcap::MAGIC_NSEC);
        let mut input = Input::new(src, prefix);
        let format = if is_pcap {
            if !input.fill(pcap::GLOBAL_HEADER_LEN).map_err(|e| io_error(0, e))? {
                return Err(CaptureError::Truncated { offset: 0 });
            }
            let r = input.consume(pcap::GLOBAL_HEADER_LEN);
            Format::Pcap(Pcap::from_header(input.slice(r)))
        } else if magic == pcapng::SHB_MAGIC {
            // 0a0d0d0a alone is weak evidence (it is CR LF CR LF); the byte-order magic
            // right after the length confirms pcapng.
            if !input.fill(12).map_err(|e| io_error(0, e))? {
                return Err(CaptureError::Truncated { offset: 0 });
            }
            let head = &input.available()[..12];
            if pcapng::shb_byte_order(head).is_none() {
                return Err(not_a_capture(head));
            }
            Format::PcapNg(PcapNg::new())
        } else {
            return Err(not_a_capture(&magic));
        };
        Ok(CaptureReader { input, format, gzip, max_record_len: config.max_record_len, done: false })
    }

    /// The next record; `Ok(None)` at the end, and after an error has been returned once.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let next = match &mut self.format {
            Format::Pcap(p) => p.next(&mut self.input, self.max_record_len),
            Format::PcapNg(p) => p.next(&mut self.input, self.max_record_len),
        };
        let pending = match next {
            Ok(Some(p)) => p,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        Ok(Some(match pending {
            Pending::Packet { ts, link_type, data, orig_len, interface, offset } => {
                Record::Packet(Packet { ts, link_type, data: self.input.slice(data), orig_len, interface, offset })
            }
            Pending::Secrets { secrets_type, data } => {
                Record::DecryptionSecrets { secrets_type, data: self.input.slice(data) }
            }
            Pending::Names(entries) => Record::NameResolution(entries),
        }))
    }

    /// "pcap" or "pcapng", with "+gzip" when the input was compressed.
    pub fn format(&self) -> &'static str {
        match (&self.format, self.gzip) {
            (Format::Pcap(_), false) => "pcap",
            (Format::Pcap(_), true) => "pcap+gzip",
            (Format::PcapNg(_), false) => "pcapng",
            (Format::PcapNg(_), true) => "pcapng+gzip",
        }
    }

    /// Bytes of (decompressed) input consumed so far: the offset of the next record, or of
    /// the record an error was reported for.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// Blocks read and passed over (see [`ReaderStats::skipped_blocks`]); 0 for pcap.
    pub fn skipped_blocks(&self) -> u64 {
        self.stats().skipped_blocks
    }

    /// Counts of what was read but not yielded so far.
    pub fn stats(&self) -> ReaderStats {
        match &self.format {
            Format::Pcap(_) => ReaderStats::default(),
            Format::PcapNg(p) => p.stats,
        }
    }
}

/// A gzip stream that ends early surfaces as `UnexpectedEof` from the decoder: the input was
/// cut, which is what [`CaptureError::Truncated`] reports.
pub(crate) fn io_error(offset: u64, e: std::io::Error) -> CaptureError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        CaptureError::Truncated { offset }
    } else {
        CaptureError::Io { offset, source: e }
    }
}

/// The u32 at `off` in the given byte order; callers have checked the bounds.
#[inline]
pub(crate) fn rd_u32(be: bool, b: &[u8], off: usize) -> u32 {
    let a = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if be { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
}

/// The u16 at `off` in the given byte order; callers have checked the bounds.
#[inline]
pub(crate) fn rd_u16(be: bool, b: &[u8], off: usize) -> u16 {
    let a = [b[off], b[off + 1]];
    if be { u16::from_be_bytes(a) } else { u16::from_le_bytes(a) }
}

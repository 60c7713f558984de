//! Capture sources: turn a byte stream (file, stdin, gzip) into capture records.
//!
//! The reader detects the format by magic number (never by file extension), handles pcap in
//! both byte orders and both resolutions, pcapng with several sections and interfaces, and
//! gzip-compressed input of either. It never trusts a length field: a record larger than the
//! cap or a truncated tail ends reading with a [`CaptureError`] that names the byte offset,
//! after every record before it was delivered.
#![forbid(unsafe_code)]

use std::net::IpAddr;

use phonehome_model::{LinkType, Timestamp};

/// One packet as the capture recorded it.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
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
    Packet(Packet<'a>),
    /// A pcapng Decryption Secrets Block (`secrets_type` 0x544c534b = TLS key log).
    DecryptionSecrets { secrets_type: u32, data: &'a [u8] },
    /// Entries of a pcapng Name Resolution Block.
    NameResolution(Vec<(IpAddr, String)>),
}

/// Why reading a capture stopped.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("not a pcap or pcapng capture (magic {magic:02x?})")]
    NotACapture { magic: Vec<u8> },
    #[error("file ends inside a record at byte offset {offset}")]
    Truncated { offset: u64 },
    #[error("corrupt record at byte offset {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error("read error at byte offset {offset}: {source}")]
    Io { offset: u64, source: std::io::Error },
}

/// Limits for [`CaptureReader`].
#[derive(Clone, Debug)]
pub struct ReaderConfig {
    /// Largest record (pcap packet or pcapng block) accepted; a larger length field is
    /// treated as corruption. Default 16 MiB.
    pub max_record_len: usize,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig { max_record_len: 16 << 20 }
    }
}

/// Streams records from a pcap or pcapng capture, optionally gzip-compressed.
///
/// Memory is bounded by the read buffer plus `max_record_len`. Records borrow the reader's
/// buffer, so each must be used before the next call (a lending iterator).
pub struct CaptureReader {
    // Implementation in progress (issue 2): see DESIGN.md.
    _private: (),
}

impl CaptureReader {
    /// Detects the format from the first bytes of `input` (gzip, pcap, pcapng).
    pub fn new(input: impl std::io::Read + Send + 'static) -> Result<CaptureReader, CaptureError> {
        Self::with_config(input, ReaderConfig::default())
    }

    /// As [`CaptureReader::new`] with explicit limits.
    pub fn with_config(
        input: impl std::io::Read + Send + 'static,
        config: ReaderConfig,
    ) -> Result<CaptureReader, CaptureError> {
        let _ = (input, config);
        unimplemented!("issue 2")
    }

    /// The next record; `Ok(None)` at the end, and after an error has been returned once.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        unimplemented!("issue 2")
    }

    /// "pcap" or "pcapng", with "+gzip" when the input was compressed.
    pub fn format(&self) -> &'static str {
        unimplemented!("issue 2")
    }

    /// Bytes of (decompressed) input consumed so far.
    pub fn offset(&self) -> u64 {
        unimplemented!("issue 2")
    }
}

//! Classic pcap: a 24-byte global header, then 16-byte record headers each followed by the
//! captured bytes.
//!
//! Both headers are parsed by hand rather than with `pcap-parser`: they are fixed layouts, the
//! record header must be read before the record is complete (to know how much to buffer), and
//! pcap-parser's errors do not carry the offset we report.

use phonehome_model::{LinkType, Timestamp};

use crate::buffer::Input;
use crate::{CaptureError, Pending, rd_u32};

pub(crate) const MAGIC_USEC: u32 = 0xa1b2_c3d4;
pub(crate) const MAGIC_NSEC: u32 = 0xa1b2_3c4d;

pub(crate) const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Above this a captured length must also fit the file's snapshot length. Wireshark's
/// ceiling for ordinary link types is the same 256 KiB.
const PLAIN_MAX_CAPLEN: u32 = 256 << 10;

/// Per-file state, from the global header.
pub(crate) struct Pcap {
    be: bool,
    nanos: bool,
    link_type: LinkType,
    snaplen: u32,
    /// Format versions before 2.3 wrote orig_len before caplen; 2.3 writers did either.
    /// libpcap (sf-pcap.c `lengths_swapped`) and Wireshark both undo this, and real files need
    /// it (nDPI's fuzz-2021-10-13.pcap is version 2.0).
    lengths: Lengths,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lengths {
    Normal,
    Swapped,
    MaybeSwapped,
}

impl Pcap {
    /// Parses the global header; `h` holds its 24 bytes and starts with a known magic.
    pub(crate) fn from_header(h: &[u8]) -> Pcap {
        let magic_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let be = !(magic_le == MAGIC_USEC || magic_le == MAGIC_NSEC);
        let magic = rd_u32(be, h, 0);
        let major = u16::from_le_bytes([h[4], h[5]]);
        let minor = u16::from_le_bytes([h[6], h[7]]);
        let (major, minor) = if be { (major.swap_bytes(), minor.swap_bytes()) } else { (major, minor) };
        let lengths = match (major, minor) {
            (2, 0..=2) => Lengths::Swapped,
            (2, 3) => Lengths::MaybeSwapped,
            _ => Lengths::Normal,
        };
        // The upper 16 bits carry libpcap's FCS-length flag and field (LT_FCS_LENGTH_PRESENT,
        // LT_FCS_LENGTH) and reserved bits; LT_LINKTYPE is the low 16 bits only.
        let link_type = LinkType(rd_u32(be, h, 20) & 0xffff);
        Pcap { be, nanos: magic == MAGIC_NSEC, link_type, snaplen: rd_u32(be, h, 16), lengths }
    }

    /// The next packet, or `None` at a clean end of input.
    pub(crate) fn next(&mut self, input: &mut Input, max_len: usize) -> Result<Option<Pending>, CaptureError> {
        let offset = input.offset();
        if !input.fill(RECORD_HEADER_LEN).map_err(|e| crate::io_error(offset, e))? {
            return if input.available().is_empty() { Ok(None) } else { Err(CaptureError::Truncated { offset }) };
        }
        let h = &input.available()[..RECORD_HEADER_LEN];
        let secs = rd_u32(self.be, h, 0);
        let frac = rd_u32(self.be, h, 4);
        let mut caplen = rd_u32(self.be, h, 8);
        let mut orig_len = rd_u32(self.be, h, 12);
        if self.lengths == Lengths::Swapped || (self.lengths == Lengths::MaybeSwapped && caplen > orig_len) {
            std::mem::swap(&mut caplen, &mut orig_len);
        }
        if caplen > PLAIN_MAX_CAPLEN && caplen > self.snaplen {
            return Err(corrupt(
                offset,
                format!("captured length {caplen} exceeds the snapshot length {} and 256 KiB", self.snaplen),
            ));
        }
        // A length the file allows but that is over the cap (records of a file whose snapshot
        // length is huge): not known to be corrupt, only too big to hold.
        if caplen as usize > max_len {
            return Err(CaptureError::TooLarge { offset, len: u64::from(caplen), max: max_len });
        }
        let total = RECORD_HEADER_LEN + caplen as usize;
        if !input.fill(total).map_err(|e| crate::io_error(offset, e))? {
            return Err(CaptureError::Truncated { offset });
        }
        let r = input.consume(total);
        // Fractions at or above one second are kept as they are (added, not rejected), as
        // Wireshark does for tcpdump's timestamp_invalid_* captures.
        let sub_ns = if self.nanos { i64::from(frac) } else { i64::from(frac) * 1000 };
        let ts = Timestamp(i64::from(secs) * 1_000_000_000 + sub_ns);
        Ok(Some(Pending::Packet {
            ts,
            link_type: self.link_type,
            data: r.start + RECORD_HEADER_LEN..r.end,
            orig_len,
            interface: 0,
            offset,
        }))
    }
}

fn corrupt(offset: u64, reason: String) -> CaptureError {
    CaptureError::Corrupt { offset, reason }
}

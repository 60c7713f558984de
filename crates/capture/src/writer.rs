//! A pcapng writer: one section, interfaces added as packets need them, Enhanced Packet
//! Blocks with an optional comment. Small on purpose (the evidence file is its one user), and
//! written by hand like the reader's framing: the layout is fixed (pcapng, draft-ietf-opsawg-
//! pcapng), and the pcap crates at hand either only read or would pull in a packet-building
//! stack for four block types.
//!
//! Everything is little-endian. Interfaces declare `if_tsresol` = 9 (nanoseconds), so every
//! timestamp the reader produced is kept exactly, whatever the original resolution was.

use std::io::{self, Write};

use phonehome_model::{LinkType, Timestamp};

const BT_SHB: u32 = 0x0a0d_0d0a;
const BT_IDB: u32 = 0x0000_0001;
const BT_EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;

/// Longest option value written: the option length field is 16 bits. Longer text is cut at
/// a character boundary.
const MAX_OPTION: usize = 0xfff0;

/// Writes a pcapng file to `W`.
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: u32,
    packets: u64,
    /// One block is assembled here, then written in one call.
    block: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts the file: a Section Header Block naming `application` (`shb_userappl`).
    pub fn new(out: W, application: &str) -> io::Result<PcapngWriter<W>> {
        let mut w = PcapngWriter { out, interfaces: 0, packets: 0, block: Vec::with_capacity(2048) };
        w.begin(BT_SHB);
        w.u32(BYTE_ORDER_MAGIC);
        w.u16(1); // major version
        w.u16(0); // minor version
        w.block.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        w.option(SHB_USERAPPL, application.as_bytes());
        w.end_options();
        w.end()?;
        Ok(w)
    }

    /// Declares an interface (Interface Description Block) and returns its id for
    /// [`PcapngWriter::write_packet`]. `name` and `description` become `if_name` and
    /// `if_description` (skipped when empty). The snapshot length is 0: not limited.
    pub fn add_interface(&mut self, link_type: LinkType, name: &str, description: &str) -> io::Result<u32> {
        // pcapng's link type field is 16 bits (upper bits of pcap's are FCS flags, which the
        // reader drops as well).
        let lt = u16::try_from(link_type.0).unwrap_or(link_type.0 as u16);
        self.begin(BT_IDB);
        self.u16(lt);
        self.u16(0); // reserved
        self.u32(0); // snaplen: no limit
        self.option(IF_NAME, name.as_bytes());
        self.option(IF_DESCRIPTION, description.as_bytes());
        self.option(IF_TSRESOL, &[9]);
        self.end_options();
        self.end()?;
        let id = self.interfaces;
        self.interfaces += 1;
        Ok(id)
    }

    /// Writes one packet (Enhanced Packet Block) on an interface returned by
    /// [`PcapngWriter::add_interface`], with `comment` as its `opt_comment`. A timestamp
    /// before 1970 is written as 1970 (pcapng timestamps are unsigned).
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        comment: Option<&str>,
    ) -> io::Result<()> {
        if interface >= self.interfaces {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "packet on an undeclared pcapng interface"));
        }
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet larger than 4 GiB"))?;
        let ns = u64::try_from(ts.0).unwrap_or(0);
        self.begin(BT_EPB);
        self.u32(interface);
        self.u32((ns >> 32) as u32);
        self.u32(ns as u32);
        self.u32(caplen);
        self.u32(orig_len.max(caplen));
        self.block.extend_from_slice(data);
        self.pad();
        if let Some(c) = comment {
            self.option(OPT_COMMENT, c.as_bytes());
            self.end_options();
        }
        self.end()?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn begin(&mut self, block_type: u32) {
        self.block.clear();
        self.u32(block_type);
        self.u32(0); // total length, set by `end`
    }

    /// Sets both length fields and writes the block.
    fn end(&mut self) -> io::Result<()> {
        let len = self.block.len() as u32 + 4;
        self.block[4..8].copy_from_slice(&len.to_le_bytes());
        self.u32(len);
        self.out.write_all(&self.block)
    }

    fn u16(&mut self, v: u16) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn pad(&mut self) {
        while !self.block.len().is_multiple_of(4) {
            self.block.push(0);
        }
    }

    /// One option, its value cut to [`MAX_OPTION`] bytes (at a UTF-8 boundary, as every
    /// value written here is text or a single byte); empty values are left out.
    fn option(&mut self, code: u16, value: &[u8]) {
        if value.is_empty() {
            return;
        }
        let mut n = value.len().min(MAX_OPTION);
        while n < value.len() && n > 0 && (value[n] & 0xc0) == 0x80 {
            n -= 1;
        }
        self.u16(code);
        self.u16(n as u16);
        self.block.extend_from_slice(&value[..n]);
        self.pad();
    }

    fn end_options(&mut self) {
        self.u16(OPT_END);
        self.u16(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureReader, Record};

    #[test]
    fn what_is_written_reads_back() {
        let mut w = PcapngWriter::new(Vec::new(), "phonehome test").unwrap();
        let eth = w.add_interface(LinkType::ETHERNET, "a.pcap#0", "interface 0 of a.pcap").unwrap();
        let raw = w.add_interface(LinkType::RAW, "", "").unwrap();
        let ts = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
        w.write_packet(eth, ts, &[1, 2, 3, 4, 5], 60, Some("a.pcap frame 7")).unwrap();
        w.write_packet(raw, Timestamp(-5), &[0x45; 21], 21, None).unwrap();
        // A comment longer than an option can hold is cut, not refused.
        let long = "é".repeat(40_000);
        w.write_packet(raw, ts, &[], 0, Some(&long)).unwrap();
        assert!(w.write_packet(2, ts, &[], 0, None).is_err(), "undeclared interface");
        assert_eq!(w.packets(), 3);
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() % 4, 0);

        let mut r = CaptureReader::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(r.format(), "pcapng");
        let mut got = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            if let Record::Packet(p) = rec {
                got.push((p.link_type, p.ts, p.data.to_vec(), p.orig_len, p.interface));
            }
        }
        assert_eq!(
            got,
            vec![
                (LinkType::ETHERNET, ts, vec![1, 2, 3, 4, 5], 60, 0),
                (LinkType::RAW, Timestamp(0), vec![0x45; 21], 21, 1),
                (LinkType::RAW, ts, vec![], 0, 1),
            ]
        );
        assert_eq!(r.stats().sections, 1);
        assert_eq!(r.stats().interfaces, 2);
        assert_eq!(r.stats().skipped_blocks, 0);
    }

    #[test]
    fn options_are_padded_and_cut_at_a_character() {
        let mut w = PcapngWriter::new(Vec::new(), "x").unwrap();
        w.begin(BT_EPB);
        w.option(OPT_COMMENT, "abcde".as_bytes());
        assert_eq!(w.block.len(), 8 + 4 + 8);
        assert_eq!(&w.block[8..12], &[1, 0, 5, 0]);
        w.begin(BT_EPB);
        // One ASCII byte first, so that MAX_OPTION (even) falls inside an "é": the cut backs
        // off one byte.
        w.option(OPT_COMMENT, format!("a{}", "é".repeat(MAX_OPTION)).as_bytes());
        let n = u16::from_le_bytes([w.block[10], w.block[11]]) as usize;
        assert_eq!(n, MAX_OPTION - 1);
        assert!(std::str::from_utf8(&w.block[12..12 + n]).is_ok());
    }
}

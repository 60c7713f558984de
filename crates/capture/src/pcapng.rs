//! pcapng: a sequence of blocks `type, length, body, length`, grouped in sections that each
//! start with a Section Header Block (which sets the byte order) and declare their own
//! interfaces (each with its own link type and timestamp resolution).
//!
//! Framing (type and both length fields) is done by hand so that a block is complete in the
//! buffer before anything parses it: pcap-parser then never sees a partial block, and every
//! error names the block's offset. The packet blocks (EPB, SPB, PB) are also read by hand:
//! their layout is fixed and pcap-parser would build a `Vec` of options for each packet. The
//! Name Resolution and Decryption Secrets blocks are read by hand as well, because pcap-parser
//! hands out their values with the alignment padding included (the NRB record's real length
//! is lost). Interface Description Blocks, with their variable options, go through pcap-parser,
//! but `if_tsresol` and `if_tsoffset` are decoded here: its helpers reject every base-2
//! resolution and read `if_tsoffset` as little-endian even in big-endian sections.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pcap_parser::pcapng::{OptionCode, parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le};
use phonehome_model::{LinkType, Timestamp};

use crate::buffer::Input;
use crate::{CaptureError, Pending, ReaderStats, rd_u16, rd_u32};

pub(crate) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BOM_BE: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];
const BOM_LE: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];

const BT_SHB: u32 = 0x0a0d_0d0a;
const BT_IDB: u32 = 0x0000_0001;
const BT_PB: u32 = 0x0000_0002;
const BT_SPB: u32 = 0x0000_0003;
const BT_NRB: u32 = 0x0000_0004;
const BT_EPB: u32 = 0x0000_0006;
const BT_DSB: u32 = 0x0000_000a;

const BLOCK_HEADER_LEN: usize = 12;

/// Interfaces kept per section. Every IDB is at least 20 bytes, so without a cap a hostile
/// file could grow this table with the input; IDBs beyond it are counted and their packets
/// are skipped as undefined-interface packets.
const MAX_INTERFACES: usize = 1 << 16;

/// Returns the byte order a Section Header Block declares (`Some(true)` = big-endian), from
/// the 12 bytes starting at the block.
pub(crate) fn shb_byte_order(h: &[u8]) -> Option<bool> {
    match [h[8], h[9], h[10], h[11]] {
        BOM_BE => Some(true),
        BOM_LE => Some(false),
        _ => None,
    }
}

/// How an interface's timestamp units become nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsScale {
    Mul(u64),
    Div(u64),
    /// Units of 2^-n seconds.
    Pow2(u32),
    /// Units so small (10^-29 s or finer) that every 64-bit count is under a nanosecond.
    Zero,
}

impl TsScale {
    /// From an `if_tsresol` byte: the high bit selects base 2, the rest is the exponent.
    fn from_tsresol(r: u8) -> TsScale {
        let e = u32::from(r & 0x7f);
        if r & 0x80 != 0 {
            return TsScale::Pow2(e);
        }
        if e <= 9 {
            TsScale::Mul(10u64.pow(9 - e))
        } else {
            10u64.checked_pow(e - 9).map_or(TsScale::Zero, TsScale::Div)
        }
    }

    /// Nanoseconds for `units`, saturating: a hostile resolution must not overflow.
    fn to_ns(self, units: u64) -> i64 {
        let ns: u128 = match self {
            TsScale::Mul(m) => u128::from(units) * u128::from(m),
            TsScale::Div(d) => u128::from(units / d),
            // e <= 127, so the shift is in range; the product fits u128 (2^64 * 2^30).
            TsScale::Pow2(e) => (u128::from(units) * 1_000_000_000) >> e,
            TsScale::Zero => 0,
        };
        i64::try_from(ns).unwrap_or(i64::MAX)
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    scale: TsScale,
    /// `if_tsoffset` in nanoseconds (the option is in seconds).
    offset_ns: i64,
    snaplen: u32,
}

impl Interface {
    fn timestamp(&self, high: u32, low: u32) -> Timestamp {
        let units = (u64::from(high) << 32) | u64::from(low);
        Timestamp(self.scale.to_ns(units).saturating_add(self.offset_ns))
    }
}

pub(crate) struct PcapNg {
    /// Byte order of the current section.
    be: bool,
    interfaces: Vec<Interface>,
    /// Simple Packet Blocks carry no timestamp; they get the previous packet's.
    last_ts: Timestamp,
    pub(crate) stats: ReaderStats,
}

impl PcapNg {
    pub(crate) fn new() -> PcapNg {
        PcapNg { be: false, interfaces: Vec::new(), last_ts: Timestamp(0), stats: ReaderStats::default() }
    }

    /// The next record, or `None` at a clean end of input.
    pub(crate) fn next(&mut self, input: &mut Input, max_len: usize) -> Result<Option<Pending>, CaptureError> {
        loop {
            let offset = input.offset();
            if !input.fill(BLOCK_HEADER_LEN).map_err(|e| crate::io_error(offset, e))? {
                return if input.available().is_empty() { Ok(None) } else { Err(CaptureError::Truncated { offset }) };
            }
            let h = &input.available()[..BLOCK_HEADER_LEN];
            let mut be = self.be;
            if h[..4] == SHB_MAGIC {
                // The SHB's type reads the same in both orders; its length is in the order
                // it declares, which may differ from the previous section's.
                be = shb_byte_order(h).ok_or_else(|| corrupt(offset, "unknown byte-order magic in section header"))?;
            }
            let block_type = rd_u32(be, h, 0);
            let len = rd_u32(be, h, 4) as usize;
            if len < BLOCK_HEADER_LEN || !len.is_multiple_of(4) {
                return Err(corrupt(offset, format!("block length {len} is not a multiple of 4 of at least 12")));
            }
            if len > max_len {
                return Err(CaptureError::TooLarge { offset, len: len as u64, max: max_len });
            }
            if !input.fill(len).map_err(|e| crate::io_error(offset, e))? {
                return Err(CaptureError::Truncated { offset });
            }
            // Validate before consuming, so that after an error `offset()` is still the bad
            // block's. Ranges below are relative to the block until it is consumed.
            let b = &input.available()[..len];
            if rd_u32(be, b, len - 4) as usize != len {
                return Err(corrupt(offset, "the block's two length fields differ"));
            }
            let found = match block_type {
                BT_SHB => {
                    if len < 28 {
                        return Err(corrupt(offset, "section header block shorter than 28 bytes"));
                    }
                    let major = rd_u16(be, b, 12);
                    if major != 1 {
                        return Err(corrupt(offset, format!("unsupported pcapng major version {major}")));
                    }
                    self.be = be;
                    self.interfaces.clear();
                    self.stats.sections += 1;
                    None
                }
                BT_IDB => {
                    self.interface(b, offset)?;
                    None
                }
                BT_EPB | BT_PB => {
                    if len < 32 {
                        return Err(corrupt(offset, "packet block shorter than 32 bytes"));
                    }
                    let id = if block_type == BT_EPB { rd_u32(be, b, 8) } else { u32::from(rd_u16(be, b, 8)) };
                    let caplen = rd_u32(be, b, 20) as usize;
                    if caplen > len - 32 {
                        return Err(corrupt(offset, format!("captured length {caplen} overruns its {len}-byte block")));
                    }
                    match self.interfaces.get(id as usize) {
                        None => {
                            self.skip_undefined();
                            None
                        }
                        Some(iface) => {
                            let ts = iface.timestamp(rd_u32(be, b, 12), rd_u32(be, b, 16));
                            self.last_ts = ts;
                            Some(Pending::Packet {
                                ts,
                                link_type: iface.link_type,
                                data: 28..28 + caplen,
                                orig_len: rd_u32(be, b, 24),
                                interface: id,
                                offset,
                            })
                        }
                    }
                }
                BT_SPB => {
                    if len < 16 {
                        return Err(corrupt(offset, "simple packet block shorter than 16 bytes"));
                    }
                    let orig_len = rd_u32(be, b, 8);
                    match self.interfaces.first() {
                        None => {
                            self.skip_undefined();
                            None
                        }
                        Some(iface) => {
                            // The captured length is implied: the original length cut by
                            // interface 0's snapshot length. Like Wireshark, a block too short
                            // to hold it is corrupt rather than quietly shortened.
                            let mut caplen = orig_len as usize;
                            if iface.snaplen != 0 {
                                caplen = caplen.min(iface.snaplen as usize);
                            }
                            if caplen > len - 16 {
                                return Err(corrupt(
                                    offset,
                                    format!("simple packet of {caplen} bytes overruns its {len}-byte block"),
                                ));
                            }
                            Some(Pending::Packet {
                                ts: self.last_ts,
                                link_type: iface.link_type,
                                data: 12..12 + caplen,
                                orig_len,
                                interface: 0,
                                offset,
                            })
                        }
                    }
                }
                BT_DSB => {
                    let secrets_len = if len >= 20 { rd_u32(be, b, 12) as usize } else { usize::MAX };
                    if secrets_len > len.saturating_sub(20) {
                        self.skip_malformed();
                        None
                    } else {
                        Some(Pending::Secrets { secrets_type: rd_u32(be, b, 8), data: 16..16 + secrets_len })
                    }
                }
                BT_NRB => match parse_nrb(be, &b[8..len - 4]) {
                    Some(entries) => Some(Pending::Names(entries)),
                    None => {
                        self.skip_malformed();
                        None
                    }
                },
                // Interface statistics, custom (0xBAD, 0x40000BAD), systemd journal, process
                // information and unknown blocks: nothing we use.
                _ => {
                    self.stats.skipped_blocks += 1;
                    None
                }
            };
            let start = input.consume(len).start;
            if let Some(p) = found {
                return Ok(Some(p.shifted(start)));
            }
        }
    }

    fn skip_undefined(&mut self) {
        self.stats.skipped_blocks += 1;
        self.stats.undefined_interface_packets += 1;
    }

    fn skip_malformed(&mut self) {
        self.stats.skipped_blocks += 1;
        self.stats.malformed_blocks += 1;
    }

    fn interface(&mut self, b: &[u8], offset: u64) -> Result<(), CaptureError> {
        let parsed =
            if self.be { parse_interfacedescriptionblock_be(b) } else { parse_interfacedescriptionblock_le(b) };
        let idb = parsed.map_err(|_| corrupt(offset, "malformed interface description block"))?.1;
        self.stats.interfaces += 1;
        if self.interfaces.len() >= MAX_INTERFACES {
            self.stats.skipped_blocks += 1;
            return Ok(());
        }
        let mut iface = Interface {
            // The IDB's link type field is 16 bits; pcap-parser widens it to i32.
            link_type: LinkType(u32::from(idb.linktype.0 as u16)),
            scale: TsScale::Mul(1000),
            offset_ns: 0,
            snaplen: idb.snaplen,
        };
        // Each option may appear once; should one repeat, the first wins.
        let (mut saw_resol, mut saw_offset) = (false, false);
        for opt in &idb.options {
            let v = opt.value();
            if opt.code == OptionCode::IfTsresol && !saw_resol && !v.is_empty() {
                saw_resol = true;
                iface.scale = TsScale::from_tsresol(v[0]);
            } else if opt.code == OptionCode::IfTsoffset && !saw_offset && v.len() >= 8 {
                saw_offset = true;
                let bytes: [u8; 8] = v[..8].try_into().unwrap_or_default();
                let secs = if self.be { i64::from_be_bytes(bytes) } else { i64::from_le_bytes(bytes) };
                iface.offset_ns = secs.saturating_mul(1_000_000_000);
            }
        }
        self.interfaces.push(iface);
        Ok(())
    }
}

/// Name Resolution Block records (`body` is the block without its 8-byte header and 4-byte
/// trailer). IPv4 and IPv6 records give one entry per name; other record types are skipped.
/// `None` when a record overruns the block.
fn parse_nrb(be: bool, body: &[u8]) -> Option<Vec<(IpAddr, String)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= body.len() {
        let rtype = rd_u16(be, body, i);
        let rlen = usize::from(rd_u16(be, body, i + 2));
        let value = body.get(i + 4..i + 4 + rlen)?;
        i += 4 + rlen.next_multiple_of(4);
        let (addr, names): (IpAddr, &[u8]) = match rtype {
            0 => break,
            1 if rlen >= 4 => {
                let a: [u8; 4] = value[..4].try_into().ok()?;
                (Ipv4Addr::from(a).into(), &value[4..])
            }
            2 if rlen >= 16 => {
                let a: [u8; 16] = value[..16].try_into().ok()?;
                (Ipv6Addr::from(a).into(), &value[16..])
            }
            _ => continue,
        };
        for name in names.split(|&c| c == 0).filter(|n| !n.is_empty()) {
            out.push((addr, String::from_utf8_lossy(name).into_owned()));
        }
    }
    Some(out)
}

fn corrupt(offset: u64, reason: impl Into<String>) -> CaptureError {
    CaptureError::Corrupt { offset, reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_scales() {
        assert_eq!(TsScale::from_tsresol(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(TsScale::from_tsresol(9).to_ns(7), 7);
        assert_eq!(TsScale::from_tsresol(12).to_ns(7_000), 7);
        assert_eq!(TsScale::from_tsresol(0).to_ns(3), 3_000_000_000);
        // 2^-10 s units: 1024 units are one second.
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1024), 1_000_000_000);
        assert_eq!(TsScale::from_tsresol(0x80 | 30).to_ns(1 << 30), 1_000_000_000);
        // Hostile values saturate or vanish instead of panicking.
        assert_eq!(TsScale::from_tsresol(0).to_ns(u64::MAX), i64::MAX);
        assert_eq!(TsScale::from_tsresol(0x80).to_ns(u64::MAX), i64::MAX);
        assert_eq!(TsScale::from_tsresol(0xff).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(127).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(28).to_ns(u64::MAX), 1);
        assert_eq!(TsScale::from_tsresol(29), TsScale::Zero);
    }

    #[test]
    fn nrb_records() {
        let mut body = Vec::new();
        // IPv4 record with two names, padded to 4 bytes with garbage that must not leak.
        let v4 = b"\x0a\x00\x00\x01a.example\0bc\0";
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&(v4.len() as u16).to_le_bytes());
        body.extend_from_slice(v4);
        body.extend_from_slice(&[0xff; 3]);
        // Unknown record type, skipped.
        body.extend_from_slice(&[9, 0, 4, 0, 1, 2, 3, 4]);
        body.extend_from_slice(&[0, 0, 0, 0]);
        let got = parse_nrb(false, &body).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(got, vec![(a, "a.example".to_string()), (a, "bc".to_string())]);
        // A record longer than the block.
        assert!(parse_nrb(false, &[1, 0, 200, 0, 1, 2, 3, 4]).is_none());
    }
}

//! Helpers shared by the capture integration tests: read a whole capture into owned values,
//! load fixtures, and build synthetic pcap / pcapng files block by block.
#![allow(dead_code)]

use std::io::Cursor;
use std::net::IpAddr;
use std::path::PathBuf;

use phonehome_capture::{CaptureError, CaptureReader, ReaderConfig, ReaderStats, Record};

/// A packet copied out of the reader (records borrow the reader, tests want to keep them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkt {
    pub ts: i64,
    pub link: u32,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub iface: u32,
    pub offset: u64,
}

impl From<&phonehome_capture::Packet<'_>> for Pkt {
    fn from(p: &phonehome_capture::Packet<'_>) -> Pkt {
        Pkt {
            ts: p.ts.0,
            link: p.link_type.0,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
            iface: p.interface,
            offset: p.offset,
        }
    }
}

/// Everything a capture yields.
#[derive(Debug)]
pub struct ReadAll {
    pub format: &'static str,
    pub packets: Vec<Pkt>,
    pub secrets: Vec<(u32, Vec<u8>)>,
    pub names: Vec<Vec<(IpAddr, String)>>,
    /// The error that ended reading, if any.
    pub error: Option<CaptureError>,
    pub stats: ReaderStats,
    /// `offset()` after the end.
    pub end_offset: u64,
}

impl ReadAll {
    pub fn first_ts(&self) -> i64 {
        self.packets.first().expect("no packets").ts
    }
    pub fn last_ts(&self) -> i64 {
        self.packets.last().expect("no packets").ts
    }
    pub fn cap_bytes(&self) -> usize {
        self.packets.iter().map(|p| p.data.len()).sum()
    }
    pub fn orig_bytes(&self) -> u64 {
        self.packets.iter().map(|p| u64::from(p.orig_len)).sum()
    }
}

/// Reads every record; checks on the way that records come in input order and that the
/// reader stays at `Ok(None)` once it has ended.
pub fn read_all_with(bytes: &[u8], config: ReaderConfig) -> Result<ReadAll, CaptureError> {
    let mut r = CaptureReader::with_config(Cursor::new(bytes.to_vec()), config)?;
    let format = r.format();
    let mut out = ReadAll {
        format,
        packets: Vec::new(),
        secrets: Vec::new(),
        names: Vec::new(),
        error: None,
        stats: ReaderStats::default(),
        end_offset: 0,
    };
    let mut guard = 0usize;
    loop {
        guard += 1;
        assert!(guard <= bytes.len() + 2, "more records than bytes: the reader is not progressing");
        match r.next_record() {
            Ok(Some(Record::Packet(p))) => {
                if let Some(prev) = out.packets.last() {
                    assert!(p.offset > prev.offset, "packet offsets must increase");
                }
                out.packets.push(Pkt::from(&p));
                let last = out.packets.last().unwrap().offset;
                assert!(last < r.offset(), "offset() must be past the record");
            }
            Ok(Some(Record::DecryptionSecrets { secrets_type, data })) => {
                out.secrets.push((secrets_type, data.to_vec()))
            }
            Ok(Some(Record::NameResolution(v))) => out.names.push(v),
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    for _ in 0..2 {
        assert!(matches!(r.next_record(), Ok(None)), "the reader must stay ended");
    }
    out.stats = r.stats();
    assert_eq!(r.skipped_blocks(), out.stats.skipped_blocks);
    out.end_offset = r.offset();
    Ok(out)
}

pub fn read_all(bytes: &[u8]) -> Result<ReadAll, CaptureError> {
    read_all_with(bytes, ReaderConfig::default())
}

/// Reads a fixture and requires it to open and end cleanly.
pub fn read_ok(bytes: &[u8]) -> ReadAll {
    let r = read_all(bytes).expect("capture should open");
    assert!(r.error.is_none(), "unexpected error: {:?}", r.error);
    assert_eq!(r.end_offset, bytes.len() as u64, "a clean read consumes the whole input");
    r
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/captures").join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixture_path(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Seconds and a nanosecond fraction as `Timestamp` nanoseconds.
pub fn ns(secs: i64, nanos: i64) -> i64 {
    secs * 1_000_000_000 + nanos
}

/// Builds a pcapng file block by block; the byte order follows the last section header.
#[derive(Clone)]
pub struct Ng {
    pub out: Vec<u8>,
    be: bool,
}

impl Default for Ng {
    fn default() -> Self {
        Self::new()
    }
}

impl Ng {
    pub fn new() -> Ng {
        Ng { out: Vec::new(), be: false }
    }

    pub fn u16(&self, v: u16) -> [u8; 2] {
        if self.be { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    pub fn u32(&self, v: u32) -> [u8; 4] {
        if self.be { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    /// Offset the next block will start at.
    pub fn pos(&self) -> u64 {
        self.out.len() as u64
    }

    /// Any block: type, length, body padded to 4 bytes, length.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().next_multiple_of(4);
        let len = (12 + padded) as u32;
        let (t, l) = (self.u32(block_type), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&l);
        self
    }

    /// Options list (code, value) with the end-of-options marker.
    pub fn options(&self, opts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut o = Vec::new();
        if opts.is_empty() {
            return o;
        }
        for (code, v) in opts {
            o.extend_from_slice(&self.u16(*code));
            o.extend_from_slice(&self.u16(v.len() as u16));
            o.extend_from_slice(v);
            o.resize(o.len().next_multiple_of(4), 0);
        }
        o.extend_from_slice(&[0, 0, 0, 0]);
        o
    }

    pub fn shb(&mut self, be: bool) -> &mut Self {
        self.be = be;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        body.extend_from_slice(&self.options(&[(4, b"phonehome tests".to_vec())]));
        self.block(0x0a0d_0d0a, &body)
    }

    pub fn idb(&mut self, link: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(link));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(snaplen));
        body.extend_from_slice(&self.options(opts));
        self.block(1, &body)
    }

    /// `if_tsresol` option.
    pub fn tsresol(r: u8) -> (u16, Vec<u8>) {
        (9, vec![r])
    }

    /// `if_tsoffset` option in this builder's current byte order.
    pub fn tsoffset(&self, secs: i64) -> (u16, Vec<u8>) {
        (14, if self.be { secs.to_be_bytes().to_vec() } else { secs.to_le_bytes().to_vec() })
    }

    pub fn epb(&mut self, iface: u32, ts: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(iface));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        // An epb_flags option, as Wireshark writes: must be skipped without allocation.
        body.extend_from_slice(&self.options(&[(2, self.u32(1).to_vec())]));
        self.block(6, &body)
    }

    /// Obsolete Packet Block (type 2): 16-bit interface id and drop count.
    pub fn pb(&mut self, iface: u16, ts: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(iface));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    pub fn spb(&mut self, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    pub fn dsb(&mut self, secrets_type: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(secrets_type));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(10, &body)
    }

    /// Name Resolution Block from (record type, value) pairs, plus the end record.
    pub fn nrb(&mut self, records: &[(u16, Vec<u8>)]) -> &mut Self {
        let mut body = Vec::new();
        for (t, v) in records {
            body.extend_from_slice(&self.u16(*t));
            body.extend_from_slice(&self.u16(v.len() as u16));
            body.extend_from_slice(v);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(4, &body)
    }

    /// Custom block (0xBAD copyable, 0x40000BAD not): private enterprise number, payload.
    pub fn custom(&mut self, block_type: u32, payload: &[u8]) -> &mut Self {
        let mut body = self.u32(32473).to_vec();
        body.extend_from_slice(payload);
        self.block(block_type, &body)
    }
}

/// A classic pcap file: byte order, resolution (nanosecond magic or not), link type field.
pub struct Pcap {
    pub out: Vec<u8>,
    be: bool,
}

impl Pcap {
    pub fn new(be: bool, nanos: bool, linktype: u32, snaplen: u32) -> Pcap {
        let mut p = Pcap { out: Vec::new(), be };
        let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        p.u32(magic);
        p.u16(2);
        p.u16(4);
        p.u32(0);
        p.u32(0);
        p.u32(snaplen);
        p.u32(linktype);
        p
    }

    fn u16(&mut self, v: u16) {
        let b = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
        self.out.extend_from_slice(&b);
    }

    pub fn u32(&mut self, v: u32) {
        let b = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
        self.out.extend_from_slice(&b);
    }

    pub fn packet(&mut self, secs: u32, frac: u32, data: &[u8], orig_len: u32) -> &mut Self {
        self.u32(secs);
        self.u32(frac);
        self.u32(data.len() as u32);
        self.u32(orig_len);
        self.out.extend_from_slice(data);
        self
    }
}

/// Byte-swaps a classic pcap (header and record headers) to the other byte order.
pub fn swap_pcap(input: &[u8]) -> Vec<u8> {
    let be = input[0] == 0xa1;
    let mut out = input.to_vec();
    out[0..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    for i in [8, 12, 16, 20] {
        out[i..i + 4].reverse();
    }
    let mut off = 24;
    while off + 16 <= out.len() {
        let raw: [u8; 4] = out[off + 8..off + 12].try_into().unwrap();
        let caplen = if be { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) } as usize;
        for i in 0..4 {
            out[off + 4 * i..off + 4 * i + 4].reverse();
        }
        off += 16 + caplen;
    }
    out
}

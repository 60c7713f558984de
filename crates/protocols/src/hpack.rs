//! HPACK (RFC 7541): the header compression of HTTP/2, decoding side, for a passive reader.
//!
//! A [`Decoder`] holds one direction's dynamic table and turns header blocks (the payload of a
//! HEADERS or PUSH_PROMISE frame and its CONTINUATIONs, padding and priority removed) into a
//! [`FieldList`]. It must see every block of its direction in order, because blocks insert
//! into the table that later blocks refer to; after a block it could not decode, it refuses
//! the following ones ([`Error::Desync`]) rather than hand out values from a table it has
//! lost track of.
//!
//! Also here: the Huffman code (Appendix B), shared with QPACK ([`crate::qpack`]), and the
//! prefixed-integer and string primitives (§5). Encoding helpers ([`encode_integer`],
//! [`huffman_encode`]) exist for tests and for tools that build header blocks.
//!
//! Hostile input costs bounded memory and linear time: the table never holds more than the
//! cap it was built with (a size update above it is clamped and counted), a block's output
//! stops at [`BlockLimits::max_fields`] fields and [`BlockLimits::max_list_size`] bytes while
//! its table updates are still applied (so the table stays right), strings are never longer
//! than the block that carries them, integers are refused past 2^32, and table entries share
//! their bytes (`Arc`) so a one-byte reference to a large entry costs no copy unless it is
//! output. Written here rather than taken from a crate: see `Cargo.toml`.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::http::Header;

/// Per-entry overhead in table size accounting (RFC 7541 §4.1).
pub const ENTRY_OVERHEAD: usize = 32;

/// The table size a decoder starts with (RFC 9113 §6.5.2, SETTINGS_HEADER_TABLE_SIZE's
/// initial value).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Largest integer accepted from the wire. Every length and index a header block can
/// meaningfully carry is far below it; larger ones are refused instead of wrapped.
const MAX_INT: u64 = u32::MAX as u64;

/// The static table (RFC 7541 Appendix A), index 1 first.
pub const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Why a header block could not be decoded (the fields before the failure are kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The block ends inside a representation.
    Truncated,
    /// An integer longer than [`MAX_INT`] allows.
    Integer,
    /// A reference to index 0 or past the end of the tables.
    Index(u64),
    /// A Huffman string with invalid padding or the EOS symbol in it.
    Huffman,
    /// A string longer than what is left of the block.
    StringLength,
    /// An earlier block of this direction could not be decoded, so the dynamic table is no
    /// longer known: this block was not decoded.
    Desync,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("header block ends inside a field"),
            Error::Integer => f.write_str("integer too large"),
            Error::Index(i) => write!(f, "table index {i} out of range"),
            Error::Huffman => f.write_str("invalid Huffman string"),
            Error::StringLength => f.write_str("string longer than the header block"),
            Error::Desync => f.write_str("dynamic table lost after an earlier error"),
        }
    }
}

impl std::error::Error for Error {}

/// Output caps of one header block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLimits {
    /// Fields kept per block.
    pub max_fields: usize,
    /// Bytes kept per block, counted as RFC 7541 §4.1 counts an entry (name + value + 32),
    /// as SETTINGS_MAX_HEADER_LIST_SIZE does.
    pub max_list_size: usize,
}

/// Decoded header fields, in order, in one reusable buffer. A field that would pass the
/// block's limits is dropped with every later one, and the list is flagged
/// [`truncated`](FieldList::truncated).
#[derive(Clone, Debug, Default)]
pub struct FieldList {
    bytes: Vec<u8>,
    /// (start in `bytes`, name length, value length).
    spans: Vec<(usize, usize, usize)>,
    size: usize,
    /// Fields were dropped at a limit.
    pub truncated: bool,
    /// How many fields the block held, dropped ones included.
    pub total: usize,
}

impl FieldList {
    /// An empty list.
    pub fn new() -> FieldList {
        FieldList::default()
    }

    /// Empties the list, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.size = 0;
        self.truncated = false;
        self.total = 0;
        // A huge block's buffers are not kept for the connection's life.
        if self.bytes.capacity() > 256 << 10 {
            self.bytes = Vec::new();
        }
    }

    /// Number of fields kept.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no field was kept.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Header<'_>> + '_ {
        self.spans.iter().map(|&(s, n, v)| Header { name: &self.bytes[s..s + n], value: &self.bytes[s + n..s + n + v] })
    }

    /// Whether a field of these lengths fits the limits; counts it either way.
    fn admit(&mut self, name: usize, value: usize, limits: &BlockLimits) -> bool {
        self.total += 1;
        let size = name + value + ENTRY_OVERHEAD;
        if self.truncated || self.spans.len() >= limits.max_fields || self.size + size > limits.max_list_size {
            self.truncated = true;
            return false;
        }
        self.size += size;
        true
    }

    /// Appends a field that [`admit`](Self::admit) let in.
    fn push(&mut self, name: &[u8], value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        self.spans.push((start, name.len(), value.len()));
    }

    /// Appends a field whose name and value are already the last bytes of the buffer.
    fn push_tail(&mut self, start: usize, name: usize) {
        self.spans.push((start, name, self.bytes.len() - start - name));
    }

    /// Adds a field from outside a decoder (QPACK): admitted against `limits` like decoded ones.
    pub(crate) fn add(&mut self, name: &[u8], value: &[u8], limits: &BlockLimits) {
        if self.admit(name.len(), value.len(), limits) {
            self.push(name, value);
        }
    }
}

/// A dynamic table entry: name and value shared, so that inserting a name taken from
/// another entry, or duplicating an entry (QPACK), copies nothing.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) name: Arc<[u8]>,
    pub(crate) value: Arc<[u8]>,
}

impl Entry {
    pub(crate) fn size(&self) -> usize {
        self.name.len() + self.value.len() + ENTRY_OVERHEAD
    }
}

/// A dynamic table (RFC 7541 §2.3.2, §4; the same rules serve QPACK's, RFC 9204 §3.2):
/// newest entry first, evicted from the oldest end, never over its maximum size.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    /// Newest at the back (so that the absolute index of QPACK is `inserted - 1 - i`).
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// What `max_size` may never exceed, whatever the peer says.
    cap: usize,
    /// Entries ever inserted (QPACK's insert count).
    pub(crate) inserted: u64,
}

impl Table {
    pub(crate) fn new(max_size: usize, cap: usize) -> Table {
        Table { entries: VecDeque::new(), size: 0, max_size: max_size.min(cap), cap, inserted: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// Sets the maximum size; returns false when `size` was over the cap (then clamped).
    pub(crate) fn set_max_size(&mut self, size: u64) -> bool {
        let fits = size <= self.cap as u64;
        self.max_size = if fits { size as usize } else { self.cap };
        self.evict_to(self.max_size);
        fits
    }

    fn evict_to(&mut self, room: usize) {
        while self.size > room {
            match self.entries.pop_front() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }

    /// Inserts an entry, evicting the oldest ones to make room. An entry larger than the
    /// table empties it and is not kept (RFC 7541 §4.4); it still counts as inserted.
    pub(crate) fn insert(&mut self, entry: Entry) {
        self.inserted += 1;
        let size = entry.size();
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        self.entries.push_back(entry);
    }

    /// The entry `i` places from the newest (0 is the newest).
    pub(crate) fn get(&self, i: u64) -> Option<&Entry> {
        let i = usize::try_from(i).ok()?;
        self.entries.len().checked_sub(i + 1).and_then(|j| self.entries.get(j))
    }
}

/// One direction's HPACK decoding state.
#[derive(Clone, Debug)]
pub struct Decoder {
    table: Table,
    /// The largest size the peer's decoder allowed (SETTINGS_HEADER_TABLE_SIZE), if known.
    setting: Option<u64>,
    broken: bool,
    /// Name and value scratch for literals that are inserted but not output.
    scratch: Vec<u8>,
    stats: DecoderStats,
}

/// What a decoder noticed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Size updates above the decoder's cap (clamped; references to entries the peer
    /// thinks still exist may then fail).
    pub table_capped: u64,
    /// Size updates above what SETTINGS_HEADER_TABLE_SIZE allowed (accepted anyway, up to
    /// the cap: the SETTINGS may not have been seen, or be in flight).
    pub over_setting: u64,
}

impl Decoder {
    /// A decoder whose dynamic table never grows past `cap` bytes (RFC 7541 §4.1 sizes).
    pub fn new(cap: usize) -> Decoder {
        Decoder {
            table: Table::new(DEFAULT_TABLE_SIZE, cap),
            setting: None,
            broken: false,
            scratch: Vec::new(),
            stats: DecoderStats::default(),
        }
    }

    /// The peer's decoder announced SETTINGS_HEADER_TABLE_SIZE = `size`: the encoder may
    /// now size the table up to it (with a size update in a block). A limit below the
    /// current size shrinks the table at once, as the encoder must do.
    pub fn set_setting(&mut self, size: u64) {
        self.setting = Some(size);
        if (self.table.max_size() as u64) > size {
            self.table.set_max_size(size);
        }
    }

    /// Counters.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Whether a block failed, so that later ones are refused.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the table as lost (a header block was skipped: a hole, a block over a cap).
    pub fn lose(&mut self) {
        self.broken = true;
    }

    /// The current maximum size of the dynamic table.
    pub fn table_size(&self) -> usize {
        self.table.max_size()
    }

    /// Entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Decodes one complete header block, appending its fields to `out` (which is not
    /// cleared). On error the fields decoded before it stay in `out`, and the decoder
    /// refuses every later block.
    pub fn decode(&mut self, block: &[u8], limits: &BlockLimits, out: &mut FieldList) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Desync);
        }
        let r = self.decode_inner(block, limits, out);
        if r.is_err() {
            self.broken = true;
        }
        r
    }

    fn decode_inner(&mut self, block: &[u8], limits: &BlockLimits, out: &mut FieldList) -> Result<(), Error> {
        let mut pos = 0;
        while pos < block.len() {
            let b = block[pos];
            if b & 0x80 != 0 {
                // Indexed field (§6.1).
                let index = integer(block, &mut pos, 7)?;
                let (name, value) = self.lookup(index)?;
                if out.admit(name.len(), value.len(), limits) {
                    out.push(name, value);
                }
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3). Allowed anywhere: some encoders send it
                // late, and refusing it would lose the connection for nothing.
                let size = integer(block, &mut pos, 5)?;
                if self.setting.is_some_and(|s| size > s) {
                    self.stats.over_setting += 1;
                }
                if !self.table.set_max_size(size) {
                    self.stats.table_capped += 1;
                }
            } else {
                // Literal (§6.2): with incremental indexing (01), without (0000), never
                // indexed (0001).
                let (prefix, insert) = if b & 0x40 != 0 { (6, true) } else { (4, false) };
                let index = integer(block, &mut pos, prefix)?;
                self.literal(block, &mut pos, index, insert, limits, out)?;
            }
        }
        Ok(())
    }

    fn lookup(&self, index: u64) -> Result<(&[u8], &[u8]), Error> {
        match index {
            0 => Err(Error::Index(0)),
            1..=61 => {
                let (n, v) = STATIC_TABLE[index as usize - 1];
                Ok((n, v))
            }
            _ => self.table.get(index - 62).map(|e| (&e.name[..], &e.value[..])).ok_or(Error::Index(index)),
        }
    }

    fn literal(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        index: u64,
        insert: bool,
        limits: &BlockLimits,
        out: &mut FieldList,
    ) -> Result<(), Error> {
        // The name: from a table (shared when the entry is inserted) or a literal.
        let mut shared_name: Option<Arc<[u8]>> = None;
        let mut static_name: &'static [u8] = b"";
        let name_lit = if index == 0 {
            Some(string(block, pos)?)
        } else {
            if index <= 61 {
                static_name = STATIC_TABLE[index as usize - 1].0;
            } else {
                let e = self.table.get(index - 62).ok_or(Error::Index(index))?;
                shared_name = Some(e.name.clone());
            }
            None
        };
        let value_lit = string(block, pos)?;
        // Decoded lengths are needed to know whether the field is kept; Huffman strings are
        // decoded straight into the output (or into scratch when only inserted).
        // A literal that is neither kept nor inserted is stepped over undecoded (it is still
        // counted). One that is inserted is decoded even past the output caps: the table
        // must stay what the encoder thinks it is. Either way the cost is linear in the block.
        let wanted = !out.truncated && out.spans.len() < limits.max_fields;
        if !wanted && !insert {
            out.total += 1;
            out.truncated = true;
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        match &name_lit {
            Some(s) => s.decode_into(&mut buf)?,
            None => buf.extend_from_slice(shared_name.as_deref().unwrap_or(static_name)),
        }
        let name_len = buf.len();
        value_lit.decode_into(&mut buf)?;
        let (name, value) = buf.split_at(name_len);
        if out.admit(name.len(), value.len(), limits) {
            let start = out.bytes.len();
            out.bytes.extend_from_slice(&buf);
            out.push_tail(start, name_len);
        }
        if insert {
            let name = shared_name.unwrap_or_else(|| Arc::from(name));
            self.table.insert(Entry { name, value: Arc::from(value) });
        }
        self.scratch = buf;
        if self.scratch.capacity() > 64 << 10 {
            self.scratch = Vec::new();
        }
        Ok(())
    }
}

/// A string literal as found in a block: its raw bytes and whether they are Huffman-coded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Str<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) huffman: bool,
}

impl Str<'_> {
    pub(crate) fn decode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.huffman {
            huffman_decode(self.raw, out)
        } else {
            out.extend_from_slice(self.raw);
            Ok(())
        }
    }
}

/// Reads a string literal (§5.2): H flag and 7-bit-prefix length, then the bytes.
fn string<'a>(block: &'a [u8], pos: &mut usize) -> Result<Str<'a>, Error> {
    string_prefixed(block, pos, 7)
}

/// Reads a string whose H flag is the bit above an `n`-bit length prefix (QPACK puts
/// strings after other flags in the same byte).
pub(crate) fn string_prefixed<'a>(block: &'a [u8], pos: &mut usize, n: u8) -> Result<Str<'a>, Error> {
    let first = *block.get(*pos).ok_or(Error::Truncated)?;
    let huffman = first & (1 << n) != 0;
    let len = integer(block, pos, n)?;
    let rest = block.len() - *pos;
    if len > rest as u64 {
        return Err(if *pos == block.len() { Error::Truncated } else { Error::StringLength });
    }
    let raw = &block[*pos..*pos + len as usize];
    *pos += len as usize;
    Ok(Str { raw, huffman })
}

/// Reads an integer with an `n`-bit prefix (§5.1) at `pos` (the prefix's byte), moving
/// `pos` past it. Values over 2^32 are refused.
pub fn integer(block: &[u8], pos: &mut usize, n: u8) -> Result<u64, Error> {
    let mask = ((1u16 << n) - 1) as u8;
    let first = *block.get(*pos).ok_or(Error::Truncated)?;
    *pos += 1;
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let b = *block.get(*pos).ok_or(Error::Truncated)?;
        *pos += 1;
        // Past 5 continuation bytes a value is over 2^32 (or padded with zero groups,
        // which no encoder writes): refused either way, so the loop is bounded.
        if shift > 28 {
            return Err(Error::Integer);
        }
        value += u64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    if value > MAX_INT {
        return Err(Error::Integer);
    }
    Ok(value)
}

/// Writes `value` with an `n`-bit prefix, `flags` holding the bits above the prefix.
pub fn encode_integer(value: u64, n: u8, flags: u8, out: &mut Vec<u8>) {
    let mask = (1u64 << n) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    let mut v = value - mask;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Code lengths of the HPACK Huffman code (RFC 7541 Appendix B), symbols 0-255 then EOS.
/// The code is canonical (codes of one length are consecutive, in symbol order, and
/// shorter codes come first), so the lengths define it.
const CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28,
    28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12,
    10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6,
    5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22,
    22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20,
    22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28,
    27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28,
    27, 27, 27, 27, 27, 26, 30,
];

const EOS: u16 = 256;
const MAX_CODE_LEN: usize = 30;

/// The canonical code, computed at compile time: for each length, the first code, how many
/// codes have it, and where its symbols start in `symbols` (sorted by length, then symbol).
struct Canonical {
    first: [u32; MAX_CODE_LEN + 1],
    count: [u16; MAX_CODE_LEN + 1],
    offset: [u16; MAX_CODE_LEN + 1],
    symbols: [u16; 257],
    codes: [u32; 257],
}

const HUFFMAN: Canonical = canonical();

const fn canonical() -> Canonical {
    let mut count = [0u16; MAX_CODE_LEN + 1];
    let mut i = 0;
    while i < 257 {
        count[CODE_LENGTHS[i] as usize] += 1;
        i += 1;
    }
    let mut offset = [0u16; MAX_CODE_LEN + 1];
    let mut first = [0u32; MAX_CODE_LEN + 1];
    let mut code = 0u32;
    let mut at = 0u16;
    let mut len = 1;
    while len <= MAX_CODE_LEN {
        code <<= 1;
        first[len] = code;
        offset[len] = at;
        code += count[len] as u32;
        at += count[len];
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut codes = [0u32; 257];
    let mut next = offset;
    let mut s = 0;
    while s < 257 {
        let l = CODE_LENGTHS[s] as usize;
        symbols[next[l] as usize] = s as u16;
        codes[s] = first[l] + (next[l] - offset[l]) as u32;
        next[l] += 1;
        s += 1;
    }
    Canonical { first, count, offset, symbols, codes }
}

/// Decodes a Huffman string (§5.2, Appendix B), appending to `out`. The padding must be
/// at most 7 bits, all ones (a prefix of EOS); EOS itself is refused. At most 8/5 bytes
/// out per byte in, and one step per bit.
pub fn huffman_decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let h = &HUFFMAN;
    out.reserve(input.len() * 8 / 5);
    let mut code = 0u32;
    let mut len = 0usize;
    for &byte in input {
        for bit in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> bit) & 1);
            len += 1;
            let k = code.wrapping_sub(h.first[len]);
            if k < u32::from(h.count[len]) {
                let sym = h.symbols[usize::from(h.offset[len]) + k as usize];
                if sym == EOS {
                    return Err(Error::Huffman);
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            } else if len >= MAX_CODE_LEN {
                // Cannot happen with a complete code; kept so that `len` stays in range.
                return Err(Error::Huffman);
            }
        }
    }
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(Error::Huffman);
    }
    Ok(())
}

/// Huffman-encodes `input` (§5.2), appending to `out`, padded with ones.
pub fn huffman_encode(input: &[u8], out: &mut Vec<u8>) {
    let h = &HUFFMAN;
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &b in input {
        let len = u32::from(CODE_LENGTHS[usize::from(b)]);
        acc = (acc << len) | u64::from(h.codes[usize::from(b)]);
        bits += len;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1u64 << bits) - 1;
    }
    if bits > 0 {
        out.push(((acc << (8 - bits)) | ((1u64 << (8 - bits)) - 1)) as u8);
    }
}

/// Length of `input` once Huffman-encoded.
pub fn huffman_len(input: &[u8]) -> usize {
    let bits: usize = input.iter().map(|&b| usize::from(CODE_LENGTHS[usize::from(b)])).sum();
    bits.div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: BlockLimits = BlockLimits { max_fields: 1000, max_list_size: 1 << 20 };

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn fields(l: &FieldList) -> Vec<(String, String)> {
        l.iter()
            .map(|h| (String::from_utf8_lossy(h.name).into_owned(), String::from_utf8_lossy(h.value).into_owned()))
            .collect()
    }

    fn table(d: &Decoder) -> Vec<(String, String, usize)> {
        (0..d.table.len() as u64)
            .map(|i| {
                let e = d.table.get(i).unwrap();
                (
                    String::from_utf8_lossy(&e.name).into_owned(),
                    String::from_utf8_lossy(&e.value).into_owned(),
                    e.size(),
                )
            })
            .collect()
    }

    fn decode(d: &mut Decoder, block: &str) -> Vec<(String, String)> {
        let mut out = FieldList::new();
        d.decode(&hex(block), &BIG, &mut out).unwrap();
        fields(&out)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn entries(v: &[(&str, &str, usize)]) -> Vec<(String, String, usize)> {
        v.iter().map(|(a, b, s)| (a.to_string(), b.to_string(), *s)).collect()
    }

    #[test]
    fn canonical_code_matches_appendix_b_samples() {
        // A few rows of Appendix B, checked by hand: '0' (48) = 00000 (5 bits),
        // 'a' (97) = 00011, ' ' (32) = 010100, '\0' = 1111111111000 (13), EOS = 30 ones.
        assert_eq!(HUFFMAN.codes[48], 0x0);
        assert_eq!(HUFFMAN.codes[97], 0x3);
        assert_eq!(HUFFMAN.codes[32], 0x14);
        assert_eq!(HUFFMAN.codes[0], 0x1ff8);
        assert_eq!(HUFFMAN.codes[256], 0x3fff_ffff);
        assert_eq!(HUFFMAN.codes[255], 0x3ff_ffee);
    }

    // RFC 7541 C.1: integer representation.
    #[test]
    fn c1_integers() {
        let mut v = Vec::new();
        encode_integer(10, 5, 0, &mut v);
        assert_eq!(v, [0x0a]);
        v.clear();
        encode_integer(1337, 5, 0, &mut v);
        assert_eq!(v, [0x1f, 0x9a, 0x0a]);
        v.clear();
        encode_integer(42, 8, 0, &mut v);
        assert_eq!(v, [0x2a]);
        for (bytes, n, want) in [(&[0x0a][..], 5, 10), (&[0x1f, 0x9a, 0x0a], 5, 1337), (&[0x2a], 8, 42)] {
            let mut pos = 0;
            assert_eq!(integer(bytes, &mut pos, n), Ok(want));
            assert_eq!(pos, bytes.len());
        }
    }

    #[test]
    fn integers_are_bounded() {
        let mut pos = 0;
        assert_eq!(integer(&[0x1f, 0xff, 0xff, 0xff, 0x0f], &mut pos, 5), Ok((1 << 25) + 30));
        let mut pos = 0;
        assert_eq!(integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f], &mut pos, 5), Err(Error::Integer));
        let mut pos = 0;
        assert_eq!(integer(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &mut pos, 5), Err(Error::Integer));
        let mut pos = 0;
        assert_eq!(integer(&[0x1f, 0x80], &mut pos, 5), Err(Error::Truncated));
        let mut v = Vec::new();
        encode_integer(u64::from(u32::MAX), 7, 0x80, &mut v);
        let mut pos = 0;
        assert_eq!(integer(&v, &mut pos, 7), Ok(u64::from(u32::MAX)));
        assert_eq!(pos, v.len());
    }

    // C.2: literal representations, no Huffman.
    #[test]
    fn c2_1_literal_with_indexing() {
        let mut d = Decoder::new(4096);
        let got = decode(&mut d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        assert_eq!(got, pairs(&[("custom-key", "custom-header")]));
        assert_eq!(table(&d), entries(&[("custom-key", "custom-header", 55)]));
    }

    #[test]
    fn c2_2_literal_without_indexing() {
        let mut d = Decoder::new(4096);
        let got = decode(&mut d, "040c 2f73 616d 706c 652f 7061 7468");
        assert_eq!(got, pairs(&[(":path", "/sample/path")]));
        assert!(table(&d).is_empty());
    }

    #[test]
    fn c2_3_literal_never_indexed() {
        let mut d = Decoder::new(4096);
        let got = decode(&mut d, "1008 7061 7373 776f 7264 0673 6563 7265 74");
        assert_eq!(got, pairs(&[("password", "secret")]));
        assert!(table(&d).is_empty());
    }

    #[test]
    fn c2_4_indexed() {
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, "82"), pairs(&[(":method", "GET")]));
        assert!(table(&d).is_empty());
    }

    fn c3_c4(blocks: [&str; 3]) {
        let mut d = Decoder::new(4096);
        assert_eq!(
            decode(&mut d, blocks[0]),
            pairs(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")])
        );
        assert_eq!(table(&d), entries(&[(":authority", "www.example.com", 57)]));
        assert_eq!(
            decode(&mut d, blocks[1]),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
                ("cache-control", "no-cache")
            ])
        );
        assert_eq!(table(&d), entries(&[("cache-control", "no-cache", 53), (":authority", "www.example.com", 57)]));
        assert_eq!(
            decode(&mut d, blocks[2]),
            pairs(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value")
            ])
        );
        assert_eq!(
            table(&d),
            entries(&[
                ("custom-key", "custom-value", 54),
                ("cache-control", "no-cache", 53),
                (":authority", "www.example.com", 57)
            ])
        );
    }

    // C.3: requests without Huffman.
    #[test]
    fn c3_requests() {
        c3_c4([
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ]);
    }

    // C.4: the same requests with Huffman.
    #[test]
    fn c4_requests_huffman() {
        c3_c4([
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ]);
    }

    fn c5_c6(blocks: [&str; 3]) {
        let mut d = Decoder::new(4096);
        d.table.set_max_size(256);
        assert_eq!(
            decode(&mut d, blocks[0]),
            pairs(&[
                (":status", "302"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                ("location", "https://www.example.com")
            ])
        );
        assert_eq!(
            table(&d),
            entries(&[
                ("location", "https://www.example.com", 63),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT", 65),
                ("cache-control", "private", 52),
                (":status", "302", 42)
            ])
        );
        assert_eq!(
            decode(&mut d, blocks[1]),
            pairs(&[
                (":status", "307"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                ("location", "https://www.example.com")
            ])
        );
        assert_eq!(
            table(&d),
            entries(&[
                (":status", "307", 42),
                ("location", "https://www.example.com", 63),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT", 65),
                ("cache-control", "private", 52)
            ])
        );
        assert_eq!(
            decode(&mut d, blocks[2]),
            pairs(&[
                (":status", "200"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                ("location", "https://www.example.com"),
                ("content-encoding", "gzip"),
                ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")
            ])
        );
        assert_eq!(
            table(&d),
            entries(&[
                ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", 98),
                ("content-encoding", "gzip", 52),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT", 65)
            ])
        );
    }

    // C.5: responses without Huffman, table of 256 bytes (evictions).
    #[test]
    fn c5_responses() {
        c5_c6([
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
        ]);
    }

    // C.6: the same responses with Huffman.
    #[test]
    fn c6_responses_huffman() {
        c5_c6([
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ]);
    }

    #[test]
    fn huffman_round_trip_all_bytes() {
        let all: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        let mut enc = Vec::new();
        huffman_encode(&all, &mut enc);
        assert_eq!(enc.len(), huffman_len(&all));
        let mut dec = Vec::new();
        huffman_decode(&enc, &mut dec).unwrap();
        assert_eq!(dec, all);
    }

    #[test]
    fn huffman_rejects_bad_padding_and_eos() {
        let mut out = Vec::new();
        // 'a' (00011) then padding 000: not ones.
        assert_eq!(huffman_decode(&[0b0001_1000], &mut out), Err(Error::Huffman));
        // A whole byte of padding (8 ones).
        assert_eq!(huffman_decode(&[0xff], &mut out), Err(Error::Huffman));
        // EOS (30 ones) plus 2 bits of padding.
        assert_eq!(huffman_decode(&[0xff, 0xff, 0xff, 0xff], &mut out), Err(Error::Huffman));
        out.clear();
        assert_eq!(huffman_decode(&[], &mut out), Ok(()));
    }

    #[test]
    fn errors_leave_the_decoder_refusing() {
        let mut d = Decoder::new(4096);
        let mut out = FieldList::new();
        assert_eq!(d.decode(&[0x80], &BIG, &mut out), Err(Error::Index(0)));
        assert_eq!(d.decode(&[0x82], &BIG, &mut out), Err(Error::Desync));
        let mut d = Decoder::new(4096);
        assert_eq!(d.decode(&[0xbe], &BIG, &mut out), Err(Error::Index(62)));
        let mut d = Decoder::new(4096);
        assert_eq!(d.decode(&[0x40, 0x05, b'a'], &BIG, &mut out), Err(Error::StringLength));
        let mut d = Decoder::new(4096);
        assert_eq!(d.decode(&[0x40], &BIG, &mut out), Err(Error::Truncated));
    }

    #[test]
    fn size_updates_are_clamped_to_the_cap() {
        let mut d = Decoder::new(100);
        let mut out = FieldList::new();
        // Update to 4096 (0x3f e1 1f), then insert a 60-byte entry twice: only one fits.
        let mut block = vec![0x3f, 0xe1, 0x1f];
        for _ in 0..2 {
            block.extend_from_slice(&[0x40, 0x04]);
            block.extend_from_slice(b"name");
            block.push(24);
            block.extend_from_slice(&[b'v'; 24]);
        }
        d.decode(&block, &BIG, &mut out).unwrap();
        assert_eq!(d.stats().table_capped, 1);
        assert_eq!(d.table_size(), 100);
        assert_eq!(d.table_len(), 1);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn output_caps_keep_the_table_in_step() {
        let limits = BlockLimits { max_fields: 1, max_list_size: 1 << 20 };
        let mut d = Decoder::new(4096);
        let mut out = FieldList::new();
        // Two literals with indexing: only the first is output, both are inserted.
        let block = hex("4001 6101 3140 0162 0132");
        d.decode(&block, &limits, &mut out).unwrap();
        assert_eq!(fields(&out), pairs(&[("a", "1")]));
        assert!(out.truncated);
        assert_eq!(out.total, 2);
        assert_eq!(table(&d), entries(&[("b", "2", 34), ("a", "1", 34)]));
        // The next block refers to both.
        let mut out = FieldList::new();
        d.decode(&[0xbe, 0xbf], &BIG, &mut out).unwrap();
        assert_eq!(fields(&out), pairs(&[("b", "2"), ("a", "1")]));
    }

    #[test]
    fn list_size_cap_counts_name_value_and_overhead() {
        let limits = BlockLimits { max_fields: 100, max_list_size: 2 * (7 + 3 + 32) };
        let mut d = Decoder::new(4096);
        let mut out = FieldList::new();
        d.decode(&[0x82, 0x82, 0x82], &limits, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.truncated);
        assert_eq!(out.total, 3);
    }

    #[test]
    fn oversized_entry_empties_the_table() {
        let mut d = Decoder::new(4096);
        let mut out = FieldList::new();
        d.decode(&hex("4001 6101 31"), &BIG, &mut out).unwrap();
        assert_eq!(d.table_len(), 1);
        // Shrink to 40 (the 34-byte entry stays), then insert a 35-byte one: it evicts the
        // first; then one of 41 bytes: larger than the table, which it empties.
        d.decode(&hex("3f09 4001 6202 3232"), &BIG, &mut out).unwrap();
        assert_eq!(d.table_size(), 40);
        assert_eq!(table(&d), entries(&[("b", "22", 35)]));
        d.decode(&hex("4001 6308 3333 3333 3333 3333"), &BIG, &mut out).unwrap();
        assert_eq!(d.table_len(), 0);
        assert_eq!(fields(&out).len(), 3);
    }
}

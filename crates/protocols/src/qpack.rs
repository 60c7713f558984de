//! QPACK (RFC 9204): the header compression of HTTP/3, decoding side, for a passive reader.
//!
//! A [`Decoder`] holds the dynamic table of one direction: it reads that direction's encoder
//! stream ([`Decoder::encoder_stream`]: Set Dynamic Table Capacity, Insert With Name
//! Reference, Insert With Literal Name, Duplicate) and decodes the field sections of that
//! direction's HEADERS and PUSH_PROMISE frames ([`Decoder::decode`]): the static table
//! (Appendix A), literals, and dynamic references (relative and post-base). Decoding a field
//! section does not change the table (only the encoder stream does), so one bad section
//! spoils nothing else. The decoder stream (acknowledgements) changes nothing a reader needs
//! and is not read.
//!
//! A section that needs inserts the encoder stream has not delivered yet (its Required Insert
//! Count is above the inserts seen) is not waited for: it is reported with
//! [`Error::Blocked`]. Feed a packet's encoder-stream bytes before its request-stream bytes,
//! as they were sent, and this only happens when the encoder stream was lost. After an
//! encoder stream instruction that cannot be read (or a hole in the stream), the table is no
//! longer known and sections that refer to it fail with [`Error::Desync`]; sections that use
//! only the static table and literals still decode.
//!
//! The Required Insert Count is encoded modulo twice the table's entry count (§4.5.1.1),
//! which depends on SETTINGS_QPACK_MAX_TABLE_CAPACITY: the value the peer announced when it
//! was seen ([`Decoder::set_max_capacity`]), else the largest capacity the encoder set. Memory
//! is bounded as for HPACK ([`crate::hpack`]): the table by its cap, an encoder instruction
//! being assembled by the same cap (plus a few bytes), the output by
//! [`BlockLimits`](crate::hpack::BlockLimits); an instruction's bytes are parsed once they
//! are all there, never re-scanned byte by byte.

use std::sync::Arc;

use crate::hpack::{self, BlockLimits, Entry, FieldList, Table, integer, string_prefixed};

/// The static table (RFC 9204 Appendix A), index 0 first.
pub const STATIC_TABLE: [(&[u8], &[u8]); 99] = [
    (b":authority", b""),
    (b":path", b"/"),
    (b"age", b"0"),
    (b"content-disposition", b""),
    (b"content-length", b"0"),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"referer", b""),
    (b"set-cookie", b""),
    (b":method", b"CONNECT"),
    (b":method", b"DELETE"),
    (b":method", b"GET"),
    (b":method", b"HEAD"),
    (b":method", b"OPTIONS"),
    (b":method", b"POST"),
    (b":method", b"PUT"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"103"),
    (b":status", b"200"),
    (b":status", b"304"),
    (b":status", b"404"),
    (b":status", b"503"),
    (b"accept", b"*/*"),
    (b"accept", b"application/dns-message"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"accept-ranges", b"bytes"),
    (b"access-control-allow-headers", b"cache-control"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-allow-origin", b"*"),
    (b"cache-control", b"max-age=0"),
    (b"cache-control", b"max-age=2592000"),
    (b"cache-control", b"max-age=604800"),
    (b"cache-control", b"no-cache"),
    (b"cache-control", b"no-store"),
    (b"cache-control", b"public, max-age=31536000"),
    (b"content-encoding", b"br"),
    (b"content-encoding", b"gzip"),
    (b"content-type", b"application/dns-message"),
    (b"content-type", b"application/javascript"),
    (b"content-type", b"application/json"),
    (b"content-type", b"application/x-www-form-urlencoded"),
    (b"content-type", b"image/gif"),
    (b"content-type", b"image/jpeg"),
    (b"content-type", b"image/png"),
    (b"content-type", b"text/css"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-type", b"text/plain"),
    (b"content-type", b"text/plain;charset=utf-8"),
    (b"range", b"bytes=0-"),
    (b"strict-transport-security", b"max-age=31536000"),
    (b"strict-transport-security", b"max-age=31536000; includesubdomains"),
    (b"strict-transport-security", b"max-age=31536000; includesubdomains; preload"),
    (b"vary", b"accept-encoding"),
    (b"vary", b"origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-xss-protection", b"1; mode=block"),
    (b":status", b"100"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"302"),
    (b":status", b"400"),
    (b":status", b"403"),
    (b":status", b"421"),
    (b":status", b"425"),
    (b":status", b"500"),
    (b"accept-language", b""),
    (b"access-control-allow-credentials", b"FALSE"),
    (b"access-control-allow-credentials", b"TRUE"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-allow-methods", b"get"),
    (b"access-control-allow-methods", b"get, post, options"),
    (b"access-control-allow-methods", b"options"),
    (b"access-control-expose-headers", b"content-length"),
    (b"access-control-request-headers", b"content-type"),
    (b"access-control-request-method", b"get"),
    (b"access-control-request-method", b"post"),
    (b"alt-svc", b"clear"),
    (b"authorization", b""),
    (b"content-security-policy", b"script-src 'none'; object-src 'none'; base-uri 'none'"),
    (b"early-data", b"1"),
    (b"expect-ct", b""),
    (b"forwarded", b""),
    (b"if-range", b""),
    (b"origin", b""),
    (b"purpose", b"prefetch"),
    (b"server", b""),
    (b"timing-allow-origin", b"*"),
    (b"upgrade-insecure-requests", b"1"),
    (b"user-agent", b""),
    (b"x-forwarded-for", b""),
    (b"x-frame-options", b"deny"),
    (b"x-frame-options", b"sameorigin"),
];

/// Why a field section (or an encoder instruction) could not be decoded. The fields before
/// the failure are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The section ends inside a field line.
    Truncated,
    /// An integer over 2^32.
    Integer,
    /// A static table index over 98.
    StaticIndex(u64),
    /// A dynamic reference to an entry that was never inserted, or is outside the section's
    /// Required Insert Count or Base.
    DynamicIndex(u64),
    /// A dynamic reference to an entry that was evicted (possible when the table was capped
    /// below what the peer allowed).
    Evicted(u64),
    /// A Huffman string with invalid padding or the EOS symbol.
    Huffman,
    /// A string longer than the rest of the section.
    StringLength,
    /// An encoded Required Insert Count that cannot be (§4.5.1.1).
    InsertCount,
    /// The section needs `required` inserts and only `inserted` were seen on the encoder
    /// stream: it was not decoded.
    Blocked {
        /// The section's Required Insert Count.
        required: u64,
        /// Inserts seen.
        inserted: u64,
    },
    /// The section refers to the dynamic table, which is no longer known (an encoder stream
    /// instruction could not be read, or the stream had a hole).
    Desync,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("field section ends inside a field line"),
            Error::Integer => f.write_str("integer too large"),
            Error::StaticIndex(i) => write!(f, "static table index {i} out of range"),
            Error::DynamicIndex(i) => write!(f, "dynamic table index {i} out of range"),
            Error::Evicted(i) => write!(f, "dynamic table entry {i} evicted"),
            Error::Huffman => f.write_str("invalid Huffman string"),
            Error::StringLength => f.write_str("string longer than the field section"),
            Error::InsertCount => f.write_str("invalid Required Insert Count"),
            Error::Blocked { required, inserted } => {
                write!(f, "needs {required} dynamic table inserts, {inserted} seen")
            }
            Error::Desync => f.write_str("dynamic table lost"),
        }
    }
}

impl std::error::Error for Error {}

impl From<hpack::Error> for Error {
    fn from(e: hpack::Error) -> Error {
        match e {
            hpack::Error::Truncated => Error::Truncated,
            hpack::Error::Integer => Error::Integer,
            hpack::Error::Index(i) => Error::StaticIndex(i),
            hpack::Error::Huffman => Error::Huffman,
            hpack::Error::StringLength => Error::StringLength,
            hpack::Error::Desync => Error::Desync,
        }
    }
}

/// What a decoder noticed on its encoder stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Instructions applied.
    pub instructions: u64,
    /// Capacities over the decoder's cap (clamped).
    pub table_capped: u64,
    /// An instruction that could not be read (the table is lost from there).
    pub encoder_errors: u64,
}

/// One direction's QPACK decoding state.
#[derive(Clone, Debug)]
pub struct Decoder {
    table: Table,
    cap: usize,
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY of the peer, when seen.
    max_capacity: Option<u64>,
    /// Largest capacity the encoder set.
    seen_capacity: u64,
    broken: bool,
    /// An encoder instruction being assembled.
    pending: Vec<u8>,
    /// `pending` must hold this many bytes before the instruction is parsed again.
    need: usize,
    scratch: Vec<u8>,
    stats: DecoderStats,
}

/// An encoder instruction's parse: done, or how many bytes it needs at least.
enum Parsed {
    Done(usize),
    Need(usize),
}

impl Decoder {
    /// A decoder whose dynamic table never grows past `cap` bytes. The table starts with
    /// capacity 0, as QPACK's does.
    pub fn new(cap: usize) -> Decoder {
        Decoder {
            table: Table::new(0, cap),
            cap,
            max_capacity: None,
            seen_capacity: 0,
            broken: false,
            pending: Vec::new(),
            need: 0,
            scratch: Vec::new(),
            stats: DecoderStats::default(),
        }
    }

    /// The peer (this direction's decoder) announced SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    pub fn set_max_capacity(&mut self, capacity: u64) {
        self.max_capacity = Some(capacity);
    }

    /// Counters.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Entries inserted so far.
    pub fn insert_count(&self) -> u64 {
        self.table.inserted
    }

    /// Marks the table as lost (the encoder stream had a hole).
    pub fn lose(&mut self) {
        self.broken = true;
        self.pending = Vec::new();
    }

    /// Whether the table is lost.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Encoder stream bytes (after the stream type), in order, in chunks of any size.
    pub fn encoder_stream(&mut self, mut data: &[u8]) {
        if self.broken {
            return;
        }
        while !data.is_empty() {
            if self.pending.is_empty() {
                // Whole instructions straight from the chunk.
                match self.instruction(data) {
                    Ok(Parsed::Done(n)) => {
                        data = &data[n..];
                        continue;
                    }
                    Ok(Parsed::Need(n)) => self.need = n,
                    Err(()) => return,
                }
            }
            // An instruction cut by the chunk: gather its bytes, parse it once they are there.
            let room = self.need.saturating_sub(self.pending.len()).max(1);
            let take = room.min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() >= self.need {
                let pending = std::mem::take(&mut self.pending);
                match self.instruction(&pending) {
                    Ok(Parsed::Done(n)) => {
                        // The instruction may have ended before the bytes gathered (`need` was a
                        // lower bound): the rest belongs to the next one.
                        let rest = pending[n..].to_vec();
                        self.need = 0;
                        if !rest.is_empty() {
                            self.encoder_stream(&rest);
                        }
                    }
                    Ok(Parsed::Need(n)) => {
                        self.pending = pending;
                        self.need = n;
                    }
                    Err(()) => return,
                }
            }
        }
    }

    /// Parses and applies one instruction at the start of `b`.
    fn instruction(&mut self, b: &[u8]) -> Result<Parsed, ()> {
        match self.try_instruction(b) {
            Ok(p) => Ok(p),
            Err(e) => {
                let _ = e;
                self.stats.encoder_errors += 1;
                self.lose();
                Err(())
            }
        }
    }

    fn try_instruction(&mut self, b: &[u8]) -> Result<Parsed, Error> {
        // Longest instruction accepted: one whose entry could fit the table, plus its
        // integers. A longer one could only be refused or empty the table, and holding it
        // would let a peer make us buffer without bound.
        let max = self.cap + 32;
        let need = |e: hpack::Error, at_least: usize| -> Result<Parsed, Error> {
            match e {
                hpack::Error::Truncated | hpack::Error::StringLength if at_least <= max => Ok(Parsed::Need(at_least)),
                hpack::Error::Truncated | hpack::Error::StringLength => Err(Error::StringLength),
                e => Err(e.into()),
            }
        };
        let first = b[0];
        let mut pos = 0;
        if first & 0x80 != 0 {
            // Insert With Name Reference.
            let index = match integer(b, &mut pos, 6) {
                Ok(i) => i,
                Err(e) => return need(e, b.len() + 1),
            };
            let value = match string_at(b, &mut pos, 7) {
                Ok(v) => v,
                Err((e, n)) => return need(e, n),
            };
            let name: Arc<[u8]> = if first & 0x40 != 0 {
                let (n, _) = *STATIC_TABLE.get(index as usize).ok_or(Error::StaticIndex(index))?;
                Arc::from(n)
            } else {
                self.relative(index)?.name.clone()
            };
            let value = self.decode_str(value)?;
            self.table.insert(Entry { name, value });
        } else if first & 0x40 != 0 {
            // Insert With Literal Name.
            let name = match string_at(b, &mut pos, 5) {
                Ok(v) => v,
                Err((e, n)) => return need(e, n),
            };
            let value = match string_at(b, &mut pos, 7) {
                Ok(v) => v,
                Err((e, n)) => return need(e, n),
            };
            let name = self.decode_str(name)?;
            let value = self.decode_str(value)?;
            self.table.insert(Entry { name, value });
        } else if first & 0x20 != 0 {
            // Set Dynamic Table Capacity.
            let cap = match integer(b, &mut pos, 5) {
                Ok(i) => i,
                Err(e) => return need(e, b.len() + 1),
            };
            self.seen_capacity = self.seen_capacity.max(cap);
            if !self.table.set_max_size(cap) {
                self.stats.table_capped += 1;
            }
        } else {
            // Duplicate.
            let index = match integer(b, &mut pos, 5) {
                Ok(i) => i,
                Err(e) => return need(e, b.len() + 1),
            };
            let e = self.relative(index)?.clone();
            self.table.insert(e);
        }
        self.stats.instructions += 1;
        Ok(Parsed::Done(pos))
    }

    fn decode_str(&mut self, s: hpack::Str<'_>) -> Result<Arc<[u8]>, Error> {
        self.scratch.clear();
        s.decode_into(&mut self.scratch)?;
        Ok(Arc::from(&self.scratch[..]))
    }

    /// An entry by encoder-stream relative index (0 is the newest).
    fn relative(&self, index: u64) -> Result<&Entry, Error> {
        let abs = self.table.inserted.checked_sub(index + 1).ok_or(Error::DynamicIndex(index))?;
        self.table.get(index).ok_or(Error::Evicted(abs))
    }

    /// An entry by absolute index.
    fn absolute(&self, abs: u64) -> Result<&Entry, Error> {
        if self.broken {
            return Err(Error::Desync);
        }
        if abs >= self.table.inserted {
            return Err(Error::DynamicIndex(abs));
        }
        self.table.get(self.table.inserted - 1 - abs).ok_or(Error::Evicted(abs))
    }

    /// The entries the Required Insert Count wraps around (§4.5.1.1).
    fn max_entries(&self) -> u64 {
        self.max_capacity.unwrap_or(self.seen_capacity) / 32
    }

    /// Decodes one field section (a HEADERS or PUSH_PROMISE frame's payload), appending its
    /// fields to `out`.
    pub fn decode(&self, section: &[u8], limits: &BlockLimits, out: &mut FieldList) -> Result<(), Error> {
        let mut pos = 0;
        let encoded = integer(section, &mut pos, 8)?;
        let required = self.required_insert_count(encoded)?;
        let sign = *section.get(pos).ok_or(Error::Truncated)? & 0x80 != 0;
        let delta = integer(section, &mut pos, 7)?;
        let base = if sign {
            required.checked_sub(delta + 1).ok_or(Error::InsertCount)?
        } else {
            required.checked_add(delta).ok_or(Error::InsertCount)?
        };
        if required > 0 && self.broken {
            return Err(Error::Desync);
        }
        if required > self.table.inserted {
            return Err(Error::Blocked { required, inserted: self.table.inserted });
        }
        let mut buf = Vec::new();
        while pos < section.len() {
            let b = section[pos];
            if b & 0x80 != 0 {
                // Indexed field line.
                let index = integer(section, &mut pos, 6)?;
                let (name, value) = if b & 0x40 != 0 {
                    let (n, v) = *STATIC_TABLE.get(index as usize).ok_or(Error::StaticIndex(index))?;
                    (n, v)
                } else {
                    let abs = base.checked_sub(index + 1).ok_or(Error::DynamicIndex(index))?;
                    let e = self.in_section(abs, required)?;
                    (&e.name[..], &e.value[..])
                };
                out.add(name, value, limits);
            } else if b & 0x40 != 0 {
                // Literal field line with name reference.
                let index = integer(section, &mut pos, 4)?;
                let value = string_prefixed(section, &mut pos, 7)?;
                let name: &[u8] = if b & 0x10 != 0 {
                    STATIC_TABLE.get(index as usize).ok_or(Error::StaticIndex(index))?.0
                } else {
                    let abs = base.checked_sub(index + 1).ok_or(Error::DynamicIndex(index))?;
                    &self.in_section(abs, required)?.name
                };
                buf.clear();
                value.decode_into(&mut buf)?;
                out.add(name, &buf, limits);
            } else if b & 0x20 != 0 {
                // Literal field line with literal name.
                let name = string_prefixed(section, &mut pos, 3)?;
                let value = string_prefixed(section, &mut pos, 7)?;
                buf.clear();
                name.decode_into(&mut buf)?;
                let n = buf.len();
                value.decode_into(&mut buf)?;
                out.add(&buf[..n], &buf[n..], limits);
            } else if b & 0x10 != 0 {
                // Indexed field line with post-base index.
                let index = integer(section, &mut pos, 4)?;
                let abs = base.checked_add(index).ok_or(Error::DynamicIndex(index))?;
                let e = self.in_section(abs, required)?;
                out.add(&e.name, &e.value, limits);
            } else {
                // Literal field line with post-base name reference.
                let index = integer(section, &mut pos, 3)?;
                let value = string_prefixed(section, &mut pos, 7)?;
                let abs = base.checked_add(index).ok_or(Error::DynamicIndex(index))?;
                let name = &self.in_section(abs, required)?.name;
                buf.clear();
                value.decode_into(&mut buf)?;
                out.add(name, &buf, limits);
            }
        }
        Ok(())
    }

    /// A dynamic entry a section may use: below its Required Insert Count.
    fn in_section(&self, abs: u64, required: u64) -> Result<&Entry, Error> {
        if abs >= required {
            return Err(Error::DynamicIndex(abs));
        }
        self.absolute(abs)
    }

    fn required_insert_count(&self, encoded: u64) -> Result<u64, Error> {
        if encoded == 0 {
            return Ok(0);
        }
        let max_entries = self.max_entries();
        let full_range = 2 * max_entries;
        if encoded > full_range {
            return Err(Error::InsertCount);
        }
        let max_value = self.table.inserted + max_entries;
        let max_wrapped = (max_value / full_range) * full_range;
        let mut required = max_wrapped + encoded - 1;
        if required > max_value {
            if required <= full_range {
                return Err(Error::InsertCount);
            }
            required -= full_range;
        }
        if required == 0 {
            return Err(Error::InsertCount);
        }
        Ok(required)
    }
}

/// A string at `pos` whose length has an `n`-bit prefix; on a short buffer, the error and
/// how many bytes the instruction needs at least.
fn string_at<'a>(b: &'a [u8], pos: &mut usize, n: u8) -> Result<hpack::Str<'a>, (hpack::Error, usize)> {
    let mut q = *pos;
    let len = integer(b, &mut q, n).map_err(|e| (e, b.len() + 1))?;
    let end = q.saturating_add(len as usize);
    if end > b.len() {
        // The length was read: the instruction needs its whole string.
        return Err((hpack::Error::StringLength, end));
    }
    string_prefixed(b, pos, n).map_err(|e| (e, b.len() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: BlockLimits = BlockLimits { max_fields: 1000, max_list_size: 1 << 20 };

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn decode(d: &Decoder, section: &str) -> Result<Vec<(String, String)>, Error> {
        let mut out = FieldList::new();
        d.decode(&hex(section), &BIG, &mut out)?;
        Ok(out
            .iter()
            .map(|h| (String::from_utf8_lossy(h.name).into_owned(), String::from_utf8_lossy(h.value).into_owned()))
            .collect())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn table(d: &Decoder) -> Vec<(String, String)> {
        (0..d.table.len() as u64)
            .rev()
            .map(|i| {
                let e = d.table.get(i).unwrap();
                (String::from_utf8_lossy(&e.name).into_owned(), String::from_utf8_lossy(&e.value).into_owned())
            })
            .collect()
    }

    // RFC 9204 Appendix B, in order: the decoder of the client's requests, with the peer's
    // SETTINGS_QPACK_MAX_TABLE_CAPACITY of 220 the examples assume.
    #[test]
    fn appendix_b() {
        let mut d = Decoder::new(4096);
        d.set_max_capacity(220);
        // B.1: literal with static name reference.
        assert_eq!(decode(&d, "0000 510b 2f69 6e64 6578 2e68 746d 6c"), Ok(pairs(&[(":path", "/index.html")])));
        // B.2: dynamic table.
        d.encoder_stream(&hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468"));
        assert_eq!(d.table.max_size(), 220);
        assert_eq!(table(&d), pairs(&[(":authority", "www.example.com"), (":path", "/sample/path")]));
        assert_eq!(
            decode(&d, "0381 10 11"),
            Ok(pairs(&[(":authority", "www.example.com"), (":path", "/sample/path")]))
        );
        // B.3: speculative insert.
        d.encoder_stream(&hex("4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565"));
        assert_eq!(d.insert_count(), 3);
        // B.4: duplicate, then a section using it.
        d.encoder_stream(&hex("02"));
        assert_eq!(
            decode(&d, "0500 80 c1 81"),
            Ok(pairs(&[(":authority", "www.example.com"), (":path", "/"), ("custom-key", "custom-value")]))
        );
        // B.5: insert with a dynamic name reference, evicting the oldest entry.
        d.encoder_stream(&hex("810d 6375 7374 6f6d 2d76 616c 7565 32"));
        assert_eq!(
            table(&d),
            pairs(&[
                (":path", "/sample/path"),
                ("custom-key", "custom-value"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value2")
            ])
        );
        // The evicted entry 0 can no longer be referred to.
        assert_eq!(decode(&d, "0381 10"), Err(Error::Evicted(0)));
    }

    #[test]
    fn encoder_stream_in_any_chunks() {
        let stream = hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468 \
             4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565 02 \
             810d 6375 7374 6f6d 2d76 616c 7565 32");
        let mut whole = Decoder::new(4096);
        whole.encoder_stream(&stream);
        for size in 1..stream.len() {
            let mut d = Decoder::new(4096);
            for c in stream.chunks(size) {
                d.encoder_stream(c);
            }
            assert_eq!(table(&d), table(&whole), "chunks of {size}");
            assert_eq!(d.insert_count(), 5);
        }
        for k in 0..=stream.len() {
            let mut d = Decoder::new(4096);
            d.encoder_stream(&stream[..k]);
            d.encoder_stream(&stream[k..]);
            assert_eq!(table(&d), table(&whole), "split at {k}");
        }
    }

    #[test]
    fn blocked_and_lost() {
        let mut d = Decoder::new(4096);
        d.set_max_capacity(220);
        assert_eq!(decode(&d, "0381 10 11"), Err(Error::Blocked { required: 2, inserted: 0 }));
        d.encoder_stream(&[0x3f, 0xbd, 0x01, 0xc0, 0x0f]);
        d.encoder_stream(b"www.example.com");
        d.lose();
        assert_eq!(decode(&d, "0381 10"), Err(Error::Desync));
        // Static-only sections still decode.
        assert_eq!(decode(&d, "0000 d1"), Ok(pairs(&[(":method", "GET")])));
    }

    #[test]
    fn bad_instructions_lose_the_table() {
        let mut d = Decoder::new(4096);
        d.encoder_stream(&[0x3f, 0xbd, 0x01, 0xff, 0x64, 0x00]); // static index 163
        assert!(d.is_broken());
        assert_eq!(d.stats().encoder_errors, 1);
        // An instruction longer than the cap is refused without being buffered.
        let mut d = Decoder::new(100);
        let mut v = vec![0x3f, 0x45]; // capacity 100
        v.push(0x4a);
        v.extend_from_slice(b"custom-key");
        hpack::encode_integer(1 << 20, 7, 0, &mut v);
        d.encoder_stream(&v);
        assert!(d.is_broken());
        assert!(d.pending.capacity() < 1000);
    }

    #[test]
    fn required_insert_count_wraps() {
        // §4.5.1.1 with MaxEntries 6 (capacity 220): after 20 inserts, an encoded 9 means 20.
        let mut d = Decoder::new(4096);
        d.set_max_capacity(220);
        d.encoder_stream(&[0x3f, 0xbd, 0x01]);
        for i in 0..20u8 {
            d.encoder_stream(&[0x41, b'a' + i, 0x01, b'v']);
        }
        assert_eq!(d.required_insert_count(9), Ok(20));
        assert_eq!(d.required_insert_count(13), Err(Error::InsertCount));
        assert_eq!(decode(&d, "0900 80"), Ok(pairs(&[("t", "v")])));
    }
}

//! Compact JSON for NDJSON lines, byte for byte what `serde_json::to_writer` writes, faster.
//!
//! Serialising events was a fifth of a run's instructions, and most of that was serde_json's
//! string escaping: every string and every field name goes through a byte-by-byte loop over
//! an escape table. Here field names (static, known clean) are copied as they are and other
//! strings are checked eight bytes at a time for the three things JSON escapes (`"`, `\` and
//! control bytes), so clean text is one copy. Everything else is serde_json's format: numbers
//! through `itoa` (as serde_json does) and floats through serde_json itself (rare in events).
//! What this serializer does not handle (map keys other than strings, integers and bools) is
//! an [`Unsupported`] error, and [`to_vec`] writes that value with serde_json instead.
//!
//! `tests` compares the two on every event of real captures and on arbitrary strings.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Appends `value` as compact JSON to `out`: the bytes `serde_json::to_writer` writes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let start = out.len();
    if value.serialize(Json { out: &mut *out }).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    serde_json::to_writer(out, value)
}

/// A value this serializer leaves to serde_json (or a `Serialize` impl's own error).
#[derive(Debug)]
pub struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_json")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Unsupported
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

/// The lanes of `w` (eight bytes, little-endian) holding `"`, `\` or a byte below 0x20,
/// as their high bits (the bit-twiddling "has zero/less byte" tests). A borrow can also flag
/// a lane above a flagged one, never below: the lowest flag is always exact.
#[inline(always)]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

#[inline(always)]
fn load(s: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"))
}

/// Length of the prefix of `s` that needs no escaping.
#[inline]
fn clean_prefix(s: &[u8]) -> usize {
    let first = |at: usize, m: u64| at + (m.trailing_zeros() / 8) as usize;
    if s.len() < 8 {
        let mut pad = [b'a'; 8];
        pad[..s.len()].copy_from_slice(s);
        let m = escape_mask(u64::from_le_bytes(pad));
        return if m == 0 { s.len() } else { first(0, m) };
    }
    let mut i = 0;
    while i + 8 <= s.len() {
        let m = escape_mask(load(s, i));
        if m != 0 {
            return first(i, m);
        }
        i += 8;
    }
    // The last 0-7 bytes, in a word that overlaps clean ones (which cannot be flagged).
    let m = escape_mask(load(s, s.len() - 8));
    if m == 0 { s.len() } else { first(s.len() - 8, m) }
}

/// `s` as a JSON string, escaped as serde_json escapes.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let mut s = s.as_bytes();
    out.reserve(s.len() + 2);
    out.push(b'"');
    loop {
        let n = clean_prefix(s);
        out.extend_from_slice(&s[..n]);
        let Some((&b, rest)) = s[n..].split_first() else { break };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
        s = rest;
    }
    out.push(b'"');
}

fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_float<T: Serialize>(out: &mut Vec<u8>, v: T) -> Result {
    serde_json::to_writer(out, &v).map_err(|_| Unsupported)
}

struct Json<'a> {
    out: &'a mut Vec<u8>,
}

/// An array or object being written: whether an element has been written yet.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    /// Closing bytes: `]`, `}`, or `]}` / `}}` for enum variants.
    close: &'static [u8],
}

impl Compound<'_> {
    fn comma(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn end(self) -> Result {
        self.out.extend_from_slice(self.close);
        Ok(())
    }
}

/// `{"variant":` before a variant's content.
fn variant_open(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_str(out, variant);
    out.push(b':');
}

macro_rules! ints {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result {
            write_int(self.out, v);
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for Json<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    ints!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
          serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> Result {
        write_float(self.out, v)
    }

    fn serialize_f64(self, v: f64) -> Result {
        write_float(self.out, v)
    }

    fn serialize_char(self, v: char) -> Result {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        variant_open(self.out, variant);
        value.serialize(Json { out: &mut *self.out })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>> {
        self.out.push(b'[');
        Ok(Compound { out: self.out, first: true, close: b"]" })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Compound<'a>> {
        variant_open(self.out, variant);
        self.out.push(b'[');
        Ok(Compound { out: self.out, first: true, close: b"]}" })
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>> {
        self.out.push(b'{');
        Ok(Compound { out: self.out, first: true, close: b"}" })
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>> {
        variant_open(self.out, variant);
        self.out.push(b'{');
        Ok(Compound { out: self.out, first: true, close: b"}}" })
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.comma();
        value.serialize(Json { out: &mut *self.out })
    }

    fn end(self) -> Result {
        Compound::end(self)
    }
}

/// Tuples of every kind are arrays, written as sequences are.
macro_rules! like_seq {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                ser::SerializeSeq::serialize_element(self, value)
            }

            fn end(self) -> Result {
                Compound::end(self)
            }
        }
    )*};
}

like_seq!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.comma();
        key.serialize(Key { out: &mut *self.out })?;
        self.out.push(b':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(Json { out: &mut *self.out })
    }

    fn end(self) -> Result {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.comma();
        // Field names are Rust identifiers or serde renames: no escaping needed, but check
        // rather than trust (one pass over a short static string).
        if clean_prefix(key.as_bytes()) == key.len() {
            self.out.push(b'"');
            self.out.extend_from_slice(key.as_bytes());
            self.out.extend_from_slice(b"\":");
        } else {
            write_str(self.out, key);
            self.out.push(b':');
        }
        value.serialize(Json { out: &mut *self.out })
    }

    fn end(self) -> Result {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result {
        Compound::end(self)
    }
}

/// A map key: strings as they are, integers and bools quoted (as serde_json writes them);
/// anything else is left to serde_json.
struct Key<'a> {
    out: &'a mut Vec<u8>,
}

macro_rules! quoted_ints {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result {
            self.out.push(b'"');
            write_int(self.out, v);
            self.out.push(b'"');
            Ok(())
        }
    )*};
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.out.extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }

    quoted_ints!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
                 serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_f32(self, _: f32) -> Result {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result {
        Err(Unsupported)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn same<T: Serialize + ?Sized>(v: &T) {
        let mut ours = Vec::new();
        to_vec(v, &mut ours).unwrap();
        assert_eq!(String::from_utf8_lossy(&ours), serde_json::to_string(v).unwrap());
    }

    #[test]
    fn escapes_as_serde_json_does() {
        let all: String = (0u8..0x80).map(char::from).collect();
        same(&all);
        for s in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "tab\tnl\ncr\r",
            "\u{7f}\u{e9}\u{1F600}",
            "12345678\"",
            "1234567\u{1}8",
        ] {
            same(s);
        }
        same(&'"');
    }

    #[test]
    fn the_clean_prefix_ends_at_the_first_escape() {
        let special = [b'"', b'\\', 0, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, b'a'];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for n in 0..20_000 {
            let len = n % 24;
            let mut s = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(if x.is_multiple_of(3) { special[(x >> 8) as usize % special.len()] } else { (x >> 16) as u8 });
            }
            let want = s.iter().position(|b| matches!(b, b'"' | b'\\' | 0..=0x1f)).unwrap_or(s.len());
            assert_eq!(clean_prefix(&s), want, "{s:?}");
        }
        for lane in 0..8 {
            for b in 0u8..=255 {
                let mut w = [b'a'; 8];
                w[lane] = b;
                let want = if matches!(b, b'"' | b'\\' | 0..=0x1f) { lane } else { 8 };
                assert_eq!(clean_prefix(&w), want, "byte {b:#x} in lane {lane}");
            }
        }
    }

    #[test]
    fn shapes_as_serde_json_writes_them() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, i64),
            Struct { a: Option<u8>, b: f64 },
        }
        #[derive(Serialize)]
        struct S<'a> {
            n: i64,
            u: u128,
            f: f32,
            nan: f64,
            t: (bool, char),
            v: Vec<E>,
            m: BTreeMap<String, u8>,
            k: BTreeMap<u16, bool>,
            #[serde(rename = "we\"ird")]
            w: &'a str,
            bytes: &'a [u8],
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            empty: Vec<u8>,
        }
        let s = S {
            n: -42,
            u: u128::MAX,
            f: 1.5,
            nan: f64::NAN,
            t: (true, 'x'),
            v: vec![E::Unit, E::New(1), E::Tuple(2, -3), E::Struct { a: None, b: 0.1 }],
            m: [("k\n".to_string(), 1), ("z".to_string(), 2)].into(),
            k: [(7, true)].into(),
            w: "x",
            bytes: b"\x00\xff",
            skipped: None,
            empty: vec![],
        };
        same(&s);
        // Float keys are serde_json's to write.
        let floats: BTreeMap<String, BTreeMap<u8, f64>> = [("a".into(), [(1, 2.5)].into())].into();
        same(&floats);
    }
}

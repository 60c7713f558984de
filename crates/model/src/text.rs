//! How bytes taken from traffic are carried in JSON output.
//!
//! Traffic is full of bytes that are not UTF-8. A field holding such bytes is a JSON string
//! when the bytes are valid UTF-8 (the usual case, so `jq` filters stay simple) and otherwise
//! an object `{"bytes": "<standard base64>"}` that keeps every byte. docs/OUTPUT.md says the same.

use serde::{Serialize, Serializer};

/// Bytes from the wire, serialised as described in the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct WireText(pub Vec<u8>);

impl WireText {
    /// Copies `bytes`.
    pub fn new(bytes: &[u8]) -> WireText {
        WireText(bytes.to_vec())
    }

    /// The text for humans: invalid UTF-8 shown with replacement characters.
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl From<&str> for WireText {
    fn from(s: &str) -> WireText {
        WireText(s.as_bytes().to_vec())
    }
}

impl Serialize for WireText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("bytes", &base64_standard(&self.0))?;
                m.end()
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648 §4). Small enough not to need a crate here.
pub fn base64_standard(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_a_string_and_other_bytes_are_base64() {
        assert_eq!(serde_json::to_string(&WireText::from("héllo")).unwrap(), "\"héllo\"");
        let raw = WireText(vec![0x66, 0xff, 0x6f]);
        assert_eq!(serde_json::to_string(&raw).unwrap(), r#"{"bytes":"Zv9v"}"#);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64_standard(i.as_bytes()), o);
        }
    }
}

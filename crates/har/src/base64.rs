//! Lenient base64 for HAR bodies: standard and URL-safe alphabets, with or without padding,
//! with whitespace anywhere (some writers wrap lines at 76). A handful of lines instead of a
//! dependency, because the only thing needed is decoding, forgivingly.

/// Decodes `text`; `None` when it holds a character outside both alphabets, data after the
/// padding, or a length no encoder produces (one character left over).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut n = 0u32;
    let mut padded = false;
    for &c in text.as_bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padded = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padded {
            return None;
        }
        acc = acc << 6 | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        0 => {}
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn alphabets_padding_whitespace() {
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode("aGVs\r\nbG8=\n").unwrap(), b"hello");
        assert_eq!(decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode("H4sIAAAAAAAA").unwrap()[..3], [0x1f, 0x8b, 0x08]);
    }

    #[test]
    fn rejects() {
        assert_eq!(decode("aGVsbG8=x"), None);
        assert_eq!(decode("a"), None);
        assert_eq!(decode("aGVsbG8*"), None);
        assert_eq!(decode("{\"json\": true}"), None);
    }
}

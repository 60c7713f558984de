//! The one way text reaches the HTML report: [`esc`]. Everything that is not a literal of
//! this crate (host names, URLs, headers, excerpts, DNS names, labels, file names, owner
//! names from user lists, even country codes from a user's database) goes through it, in
//! element content and in attribute values alike (attribute values are always quoted with
//! `"`).
//!
//! Besides the five markup characters it makes invisible or misleading characters visible:
//! control characters (C0, DEL, C1) and the Unicode format characters that reorder or hide
//! text (bidirectional overrides and isolates, zero-width characters, the BOM) are written as
//! `\xNN` or `\u{NNNN}`, so a host name cannot pretend to be another one on screen. Bytes
//! that were not UTF-8 arrive here already replaced by U+FFFD (`WireText::lossy`).

use std::fmt;

/// Text from anywhere, escaped for HTML content and double- or single-quoted attributes.
pub struct Esc<'a>(pub &'a str);

/// Shorthand for [`Esc`].
pub fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

/// Characters written as an escape sequence instead of themselves.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                  // soft hyphen
            | '\u{061C}'                // Arabic letter mark
            | '\u{180E}'                // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'   // line/paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, isolates
            | '\u{FEFF}'                // BOM / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotations
        )
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let rep: Option<&str> = match c {
                '&' => Some("&amp;"),
                '<' => Some("&lt;"),
                '>' => Some("&gt;"),
                '"' => Some("&quot;"),
                '\'' => Some("&#39;"),
                _ => None,
            };
            if rep.is_none() && !hidden(c) {
                continue;
            }
            f.write_str(&s[start..i])?;
            match rep {
                Some(r) => f.write_str(r)?,
                None if (c as u32) < 0x100 => write!(f, "\\x{:02x}", c as u32)?,
                None => write!(f, "\\u{{{:04x}}}", c as u32)?,
            }
            start = i + c.len_utf8();
        }
        f.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_is_text() {
        assert_eq!(esc("<script>alert(1)</script>").to_string(), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(esc("\"><img src=x onerror=alert(1)>").to_string(), "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(esc("' onmouseover='x").to_string(), "&#39; onmouseover=&#39;x");
        assert_eq!(esc("a&b&amp;").to_string(), "a&amp;b&amp;amp;");
        assert_eq!(esc("plain.example.com/p?q=1").to_string(), "plain.example.com/p?q=1");
    }

    #[test]
    fn invisible_characters_are_shown() {
        assert_eq!(esc("a\0b\x1b[31m\x7f\u{85}").to_string(), "a\\x00b\\x1b[31m\\x7f\\x85");
        assert_eq!(esc("line\r\nbreak\t").to_string(), "line\\x0d\\x0abreak\\x09");
        // "evil.com" hiding behind a right-to-left override, and a zero-width space.
        assert_eq!(esc("moc.live\u{202E}x").to_string(), "moc.live\\u{202e}x");
        assert_eq!(esc("goo\u{200B}gle").to_string(), "goo\\u{200b}gle");
    }

    #[test]
    fn non_utf8_bytes_arrive_replaced() {
        let text = String::from_utf8_lossy(b"host\xff\xfe<x>");
        assert_eq!(esc(&text).to_string(), "host\u{FFFD}\u{FFFD}&lt;x&gt;");
        assert_eq!(esc("héllo 日本").to_string(), "héllo 日本");
    }
}

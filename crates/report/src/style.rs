//! Colour for the text reports (summary, diff, check), when the CLI decides the terminal
//! wants it (`--color`, `NO_COLOR`). Modest on purpose: headings bold, identifier kinds in
//! yellow (as is what appeared in a diff), what should worry the reader (third parties, identifiers now sent, violations) in
//! red, its good news in green, asides dim. Only this module writes escape sequences; text
//! from traffic goes through `printable`, which turns every control character (ESC among
//! them) into `?`, so no capture can colour or move the terminal.

/// How text is painted; [`Style::PLAIN`] writes no escape sequence at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };
    pub const COLOR: Style = Style { color: true };

    fn paint(self, sgr: &str, text: &str) -> String {
        if self.color && !text.is_empty() { format!("\x1b[{sgr}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Section headings.
    pub fn heading(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Identifier kinds (`imei`, `android_id`).
    pub fn kind(self, text: &str) -> String {
        self.paint("1;33", text)
    }

    /// Bad news: third party, identifiers now sent, a violated rule, FAIL.
    pub fn bad(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Good news: first party, no longer sent, PASS.
    pub fn good(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// News to look at, neither good nor bad: what appeared in a diff.
    pub fn attention(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Asides: "... and 12 more"; what disappeared in a diff.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn plain_is_plain() {
        assert_eq!(Style::PLAIN.bad("third party"), "third party");
        assert_eq!(Style::COLOR.bad("third party"), "\x1b[31mthird party\x1b[0m");
        assert_eq!(Style::COLOR.heading(""), "");
    }
}

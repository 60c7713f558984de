//! Fuzzes the NSS key log parser (`phonehome_decrypt::KeyLog`), for files and pcapng DSBs.
//!
//! Input: one byte of knobs, then key log text. The text is read whole, then again split at
//! its first newline after a seeded point into two inputs, and once more under small caps
//! (knobs pick the byte and connection caps).
//!
//! Checked: no panic; splitting at a line boundary does not change what is stored; lines,
//! secrets and client randoms never exceed what the text and the caps allow; every stored
//! secret is looked up again; `Debug` never shows a secret's hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_decrypt::{KeyLog, KeyLogLimits, Label, TLS_KEY_LOG};

fuzz_target!(|data: &[u8]| {
    let [knobs, text @ ..] = data else { return };

    let mut whole = KeyLog::new();
    whole.add_text(text);
    let s = whole.stats().clone();
    let newlines = text.iter().filter(|b| **b == b'\n').count() as u64;
    assert!(s.lines <= newlines + 1);
    assert_eq!(
        s.lines,
        s.comments
            + s.junk_lines
            + s.unsupported_lines
            + s.secrets
            + s.duplicates
            + s.conflicts
            + s.dropped_connections
    );
    assert!(whole.len() as u64 <= s.secrets);

    // The same text split at a line boundary, as two DSBs.
    let at = usize::from(*knobs) * text.len() / 256;
    let cut = text[at..].iter().position(|b| *b == b'\n').map_or(text.len(), |p| at + p + 1);
    let mut split = KeyLog::new();
    assert!(split.add_dsb(TLS_KEY_LOG, &text[..cut]));
    split.add_dsb(TLS_KEY_LOG, &text[cut..]);
    assert_eq!(split.len(), whole.len());
    assert_eq!(split.stats().secrets, s.secrets);
    assert_eq!(split.stats().junk_lines, s.junk_lines);

    // Debug output is redacted: no stored secret appears in hex or as a byte list.
    let dbg = format!("{whole:?}");
    for line in text.split(|b| *b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).collect();
        if let [_, random, secret] = fields[..]
            && let (Ok(r), Ok(sec)) = (std::str::from_utf8(random), std::str::from_utf8(secret))
            && r.len() == 64
            && (sec.len() == 64 || sec.len() == 96)
            && let Some(r) = unhex32(r)
            && whole.get(&r).is_some()
        {
            assert!(!dbg.to_ascii_lowercase().contains(&sec.to_ascii_lowercase()));
            let found = Label::ALL.iter().filter_map(|l| whole.secret(&r, *l)).count();
            assert!(found >= 1);
        }
    }

    // Small caps.
    let limits = KeyLogLimits {
        max_bytes: u64::from(knobs & 0x0f) * 64,
        max_connections: usize::from(knobs >> 4),
        max_sessions: 1,
    };
    let mut capped = KeyLog::with_limits(limits.clone());
    capped.add_text(text);
    capped.add_text(text);
    assert!(capped.len() <= limits.max_connections);
    let read = 2 * text.len() as u64 - capped.stats().dropped_bytes;
    assert!(read <= limits.max_bytes);
});

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

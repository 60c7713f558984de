//! Fuzzes the HAR reader (`phonehome-har`).
//!
//! Input: a knob byte, then the file. The file is parsed as it is, under the default limits
//! and under tiny ones (so every cap's path runs), whole (`parse`) and streamed
//! (`parse_each`). Depending on the knob, the same file is also wrapped the ways real HARs
//! arrive and parsed again: in zlib (mitmproxy's `.zhar`, as stored deflate blocks built here),
//! or as UTF-16LE with a byte order mark (when the file is UTF-8, so the conversion loses
//! nothing). `sniff` runs on everything.
//!
//! Checked: no panic, hang or runaway allocation; streamed equals whole; the report adds up
//! (read + skipped + over cap = seen, entry indices increase and name items that exist,
//! skip records and lists within their caps); a wrapped file gives the same entries and
//! errors as the bare one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_har::{Har, HarError, Limits, parse, parse_each};

fuzz_target!(|data: &[u8]| {
    let Some((&knob, file)) = data.split_first() else {
        return;
    };
    let _ = phonehome_har::sniff(file);

    let default = Limits::default();
    let tiny = Limits {
        max_input_bytes: 1 << 20,
        max_entry_bytes: 64 + usize::from(knob) * 8,
        max_entries: 3,
        max_items: 2,
        max_pages: 1,
        max_skip_records: 2,
    };
    let whole = parse(file, &default);
    for limits in [&default, &tiny] {
        let res = if std::ptr::eq(limits, &default) { whole.clone() } else { parse(file, limits) };
        let mut streamed = Vec::new();
        let log = parse_each(file, limits, |e| streamed.push(e));
        match (&res, log) {
            (Ok(h), Ok(log)) => {
                assert_eq!(h.log, log);
                assert_eq!(h.entries, streamed);
                check(h, limits);
            }
            (Err(a), Err(b)) => assert_eq!(a, &b),
            (a, b) => panic!("parse and parse_each disagree: {a:?} / {b:?}"),
        }
    }

    // A file that is itself compressed is inflated once, not twice: wrapping it changes what
    // is read, so the comparisons below only hold for uncompressed files.
    if looks_compressed(file) {
        return;
    }
    match knob & 3 {
        2 => {
            let wrapped = parse(&zlib_stored(file), &default);
            same(&whole, &wrapped, |r| r.compressed = None);
        }
        3 if std::str::from_utf8(file).is_ok() && !file.starts_with(b"\xef\xbb\xbf") => {
            let mut utf16 = vec![0xff, 0xfe];
            utf16.extend(std::str::from_utf8(file).unwrap().encode_utf16().flat_map(u16::to_le_bytes));
            if utf16.len() <= default.max_input_bytes {
                let wrapped = parse(&utf16, &default);
                // Byte offsets are the file's: two bytes a UTF-16 unit, after the mark.
                let text = std::str::from_utf8(file).unwrap();
                let mut expected = whole.clone();
                map_offsets(&mut expected, |at| utf16_offset(text, at));
                same(&expected, &wrapped, |r| r.bom = None);
            }
        }
        _ => {}
    }
});

/// gzip or zlib magic, as the reader sniffs it.
fn looks_compressed(b: &[u8]) -> bool {
    match b {
        [0x1f, 0x8b, ..] => true,
        [cmf, flg, ..] => cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// The report adds up and every cap holds.
fn check(h: &Har, limits: &Limits) {
    let r = &h.log.report;
    assert_eq!(r.entries_read, h.entries.len());
    assert_eq!(r.entries_read + r.entries_skipped + r.entries_over_cap, r.entries_seen);
    assert!(r.skipped.len() <= limits.max_skip_records && r.skipped.len() <= r.entries_skipped);
    assert!(h.log.pages.len() <= limits.max_pages);
    assert!(h.entries.len() <= limits.max_entries);
    let mut last = None;
    for e in &h.entries {
        assert!(e.index < r.entries_seen);
        assert!(last.is_none_or(|l| e.index > l));
        last = Some(e.index);
        let q = &e.request;
        for n in [q.headers.len(), q.cookies.len(), q.query.len(), e.websocket.len()] {
            assert!(n <= limits.max_items);
        }
        if let Some(p) = &q.post_data {
            assert!(p.params.len() <= limits.max_items);
        }
        if let Some(resp) = &e.response {
            assert!(resp.headers.len() <= limits.max_items && resp.cookies.len() <= limits.max_items);
        }
        // Touch what the engine will call.
        let _ = (q.host(), q.header_host(), q.header("host"));
        for b in q.post_data.iter().filter_map(|p| p.text.as_ref()) {
            let _ = (b.latin1(), b.compressed_as());
        }
    }
    for s in &r.skipped {
        assert!(s.index < r.entries_seen);
        assert!(h.entries.iter().all(|e| e.index != s.index));
    }
}

/// A wrapped file reads like the bare one, once the wrapper's own report field is cleared.
fn same(bare: &Result<Har, HarError>, wrapped: &Result<Har, HarError>, clear: fn(&mut phonehome_har::Report)) {
    match (bare, wrapped) {
        (Ok(a), Ok(b)) => {
            let mut b = b.clone();
            clear(&mut b.log.report);
            assert_eq!(a.entries, b.entries);
            // Error positions (line/column) are the same text's; byte offsets the caller's.
            assert_eq!(a.log, b.log);
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("bare and wrapped disagree: {a:?} / {b:?}"),
    }
}

/// The byte offsets a result names (an error's, or where reading stopped), mapped by `f`.
fn map_offsets(res: &mut Result<Har, HarError>, f: impl Fn(usize) -> usize) {
    match res {
        Ok(h) => {
            if let Some(st) = &mut h.log.report.stopped {
                st.offset = f(st.offset);
            }
        }
        Err(HarError::Json { offset, .. } | HarError::Truncated { offset, .. }) => *offset = f(*offset),
        Err(_) => {}
    }
}

/// The offset in `text` as UTF-16LE with a byte order mark of byte `at` of `text` (of the
/// character holding it).
fn utf16_offset(text: &str, at: usize) -> usize {
    let units: usize =
        text.char_indices().take_while(|&(i, c)| i + c.len_utf8() <= at).map(|(_, c)| c.len_utf16()).sum();
    2 + 2 * units
}

/// zlib (RFC 1950) with stored deflate blocks (RFC 1951 §3.2.4): no compressor needed.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

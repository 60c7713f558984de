//! HAR (HTTP Archive) input: the requests and responses a browser, mitmproxy or PCAPdroid
//! recorded, read so the detection engine can search them like reassembled HTTP.
//!
//! A pure parser over bytes: no files, no I/O. [`parse`] returns the whole [`Har`];
//! [`parse_each`] hands each [`Entry`] to a callback as soon as it is read and keeps none, so
//! memory is the input plus one entry.
//!
//! ```
//! let bytes = br#"{"log": {"version": "1.2", "creator": {"name": "PCAPdroid", "version": "1.8"},
//!   "entries": [{"startedDateTime": "2024-05-01T12:00:00.250+02:00",
//!     "request": {"method": "GET", "url": "http://t.example/p?aid=42",
//!       "headers": [{"name": "Host", "value": "t.example"}]},
//!     "response": {"status": "200", "content": {"mimeType": "text/plain",
//!       "text": "aGVsbG8=", "encoding": "base64"}}}]}}"#;
//!
//! let har = phonehome_har::parse(bytes, &phonehome_har::Limits::default())?;
//! assert_eq!(har.log.producer(), phonehome_har::Producer::Pcapdroid);
//! let e = &har.entries[0];
//! assert_eq!(e.started.unwrap().secs, 1_714_557_600);
//! assert_eq!(e.request.host().as_deref(), Some("t.example"));
//! assert_eq!(e.request.query.len(), 0); // not written by this tool: search `url` too
//! let r = e.response.as_ref().unwrap();
//! assert_eq!(r.status, 200); // "200" was a string
//! assert_eq!(r.content.text.as_ref().unwrap().bytes, b"hello"); // base64 decoded
//! assert_eq!(e.anomalies, ["number_as_string"]);
//!
//! // Or entry by entry, keeping none:
//! let log = phonehome_har::parse_each(bytes, &Default::default(), |entry| {
//!     let _ = (entry.index, &entry.request.url, &entry.request.headers);
//! })?;
//! assert_eq!(log.report.entries_read, 1);
//! # Ok::<(), phonehome_har::HarError>(())
//! ```
//!
//! # What is read
//!
//! HAR 1.1 and 1.2 as Chrome/Edge, Firefox, Safari, mitmproxy (`save.har`, `hardump`, the
//! old `har_dump.py`) and PCAPdroid write them: per entry the start time, the request
//! (method, URL, version, headers in order with duplicates and HTTP/2 pseudo-headers, cookies,
//! query string, `postData` with text and params), the response (status, headers, cookies,
//! `content` with `encoding: "base64"` decoded), `serverIPAddress`, `connection` and
//! `_webSocketMessages`; for the log, version, creator (see [`Log::producer`]), browser and
//! pages. Other fields, `_`-prefixed extensions included (`_initiator`, `_priority`,
//! `_transferSize`...), are skipped without being parsed into anything.
//!
//! # Tolerance
//!
//! Real files are often not what the spec says. The whole file is refused ([`HarError`]) only
//! when it is over [`Limits::max_input_bytes`], not JSON, JSON but not a HAR (no `log` object
//! with entries or a creator), or broken before its first entry. Everything else is read:
//!
//! - Input: gzip or zlib compression (mitmproxy's `.zhar`), a UTF-8 byte order mark, UTF-16
//!   with a byte order mark, invalid UTF-8 (replaced by U+FFFD), lone UTF-16 surrogate escapes
//!   (from JavaScript strings), raw control characters inside strings, Python's `NaN` and
//!   `Infinity`, bytes after the document. Each is counted in [`Report`].
//! - Entries: an item that is not an object, has no `request` object, or is over
//!   [`Limits::max_entry_bytes`] is skipped and recorded with its index ([`Report::skipped`]).
//!   A file that ends (or breaks) inside the entries keeps every entry before the break; the
//!   cut entry is recorded as skipped and the place as [`Report::stopped`].
//! - Fields: missing or `null` fields are empty or `None`; numbers written as strings are read;
//!   strings written as numbers become text; lists written as `{name: value}` objects are read.
//!   What had to be bent is named in [`Entry::anomalies`]:
//!
//! | anomaly | meaning |
//! |---|---|
//! | `no_response` | the entry has no `response` (or it is `null`) |
//! | `bad_response` | `response` is not an object |
//! | `no_url` | the request has no `url` |
//! | `relative_url` | the `url` has no scheme and host (host comes from the headers) |
//! | `host_mismatch` | the URL's host differs from `:authority`/`Host` (see [`Request::host`]) |
//! | `bad_time` | `startedDateTime` missing or not a date |
//! | `time_without_offset` | `startedDateTime` has no UTC offset (read as UTC) |
//! | `time_as_number` | `startedDateTime` is a number (epoch seconds or milliseconds) |
//! | `number_as_string` | a number was written as a string (`"status": "200"`) |
//! | `non_string_value` | a number or boolean where text was expected (kept as its text) |
//! | `bad_type` | an array or object where text was expected (ignored) |
//! | `bad_status` | `status` unreadable or outside 0..=999 (0 is used) |
//! | `bad_base64` | `encoding: "base64"` but the text is not base64 (the text is kept) |
//! | `unknown_content_encoding` | `content.encoding` other than base64 (the text is kept) |
//! | `text_not_string` | a body's `text` is not a string (its JSON is kept as the body) |
//! | `post_data_as_string` | `postData` is a string, not an object (taken as its text) |
//! | `bad_item` | an item of a list is not a `{name, value}` object (dropped) |
//! | `pairs_as_object` | headers, cookies or query written as an object, not a list |
//! | `items_capped` | a list was longer than [`Limits::max_items`] |
//! | `bad_server_ip` | `serverIPAddress` is not an IP address (dropped) |
//!
//! # Bounded memory
//!
//! A HAR is one JSON document, so the caller holds it whole; the caps bound everything else.
//! The input is refused over [`Limits::max_input_bytes`] (compressed input is refused as soon
//! as it inflates past it). Preparation copies the text at most once more, and only when it
//! needs a repair. Each entry is parsed only after its size is checked against
//! [`Limits::max_entry_bytes`], lists inside it are cut at [`Limits::max_items`], entries past
//! [`Limits::max_entries`] are counted, not parsed, and pages past [`Limits::max_pages`] are
//! counted, not kept. All of it is counted in [`Report`]. With [`parse_each`], at most one
//! entry exists at a time.
//!
//! # Not done
//!
//! No content coding is undone: HAR writers store bodies decoded, and [`Body::compressed_as`]
//! names the bodies that are still gzip, zlib or zstd so the caller can run its own decoder.
//! Bodies written one byte per character are not guessed at (see [`Body::latin1`]). Cookies
//! keep only name and value. Timings are not read. Nothing is validated against the spec's
//! "required" fields: a field that is missing is simply empty.
#![forbid(unsafe_code)]

mod base64;
mod convert;
mod model;
mod prepare;
mod reader;
mod time;

pub use model::{
    Body, Content, Creator, Entry, EpochTime, Har, Log, NameValue, Page, Param, PostData, Producer, Report, Request,
    Response, SkipReason, Skipped, Stopped, WsMessage,
};

use reader::{Root, State};
use serde::de::DeserializeSeed;

/// Caps that bound memory and work on hostile or huge files. Every cap hit is counted in
/// [`Report`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest input, in bytes, after decompression. Larger input is refused
    /// ([`HarError::TooLarge`]). Default 512 MiB: browser exports with bodies reach hundreds
    /// of megabytes, and the parsed entries take about as much again.
    pub max_input_bytes: usize,
    /// Largest entry, as the length of its JSON text. Larger entries are skipped
    /// ([`SkipReason::TooLarge`]). Default 64 MiB (a video in base64 is bigger, and carries no
    /// identifier worth its memory).
    pub max_entry_bytes: usize,
    /// Entries parsed; the rest are counted in [`Report::entries_over_cap`]. Default 1 000 000.
    pub max_entries: usize,
    /// Items kept in each list of an entry (headers, cookies, query parameters, form
    /// parameters, WebSocket messages). Default 10 000.
    pub max_items: usize,
    /// Pages kept. Default 10 000.
    pub max_pages: usize,
    /// Skipped entries recorded with their index ([`Report::skipped`]); all are counted.
    /// Default 1000.
    pub max_skip_records: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 512 << 20,
            max_entry_bytes: 64 << 20,
            max_entries: 1_000_000,
            max_items: 10_000,
            max_pages: 10_000,
            max_skip_records: 1000,
        }
    }
}

/// Why a file could not be read as a HAR at all. Problems inside entries never end up here:
/// they skip the entry (see [`Report`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HarError {
    /// The input (after decompression) is over [`Limits::max_input_bytes`].
    #[error("input is {len} bytes or more, over the {max}-byte limit for a HAR")]
    TooLarge {
        /// Its length (for compressed input, how far it inflated before being stopped).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Compressed input that does not inflate.
    #[error("{kind}-compressed input does not decompress: {message}")]
    Decompress {
        /// "gzip" or "zlib".
        kind: &'static str,
        /// The decompressor's message.
        message: String,
    },
    /// Not JSON, or JSON that breaks before the first entry.
    #[error("not valid JSON at byte offset {offset} (line {line}, column {column}): {message}")]
    Json {
        /// Byte offset of the problem in the input (for compressed input, in the decompressed
        /// data).
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column, in bytes.
        column: usize,
        /// The JSON parser's message.
        message: String,
    },
    /// The text ends before the first entry.
    #[error("HAR ends at byte offset {offset} (line {line}, column {column}), before its first entry")]
    Truncated {
        /// The input's length (for compressed input, the decompressed data's).
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column, in bytes.
        column: usize,
    },
    /// Valid JSON, but not a HAR.
    #[error("not a HAR: {reason}")]
    NotHar {
        /// What was found instead.
        reason: &'static str,
    },
}

/// Reads a whole HAR. Entries come in file order; those that could not be read are counted
/// and listed in `har.log.report`.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Har, HarError> {
    let mut entries = Vec::new();
    let log = parse_each(bytes, limits, |e| entries.push(e))?;
    Ok(Har { log, entries })
}

/// Reads a HAR and calls `on_entry` with each entry as soon as it is read, in file order,
/// keeping none. Returns the log's header (creator, pages) and the [`Report`], which are
/// complete only at the end: a file may put `pages` or `creator` after its entries.
///
/// When the file breaks inside or after the entries, the entries before the break have been
/// delivered and the result is still `Ok`, with [`Report::stopped`] set.
pub fn parse_each<F: FnMut(Entry)>(bytes: &[u8], limits: &Limits, on_entry: F) -> Result<Log, HarError> {
    let mut report = Report::default();
    let text = prepare::prepare(bytes, limits, &mut report)?;
    let mut st = State {
        limits,
        on_entry,
        log: Log { report, ..Log::default() },
        base: text.as_ptr() as usize,
        saw_log: false,
        saw_creator: false,
        saw_entries: false,
        in_entries: false,
        last_entry_end: 0,
        not_har: None,
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    match Root(&mut st).deserialize(&mut de) {
        Ok(()) => {
            if de.end().is_err() {
                st.log.report.trailing_bytes = true;
            }
        }
        Err(e) => {
            if let Some(reason) = st.not_har {
                return Err(HarError::NotHar { reason });
            }
            let (line, column, eof) = (e.line(), e.column(), e.is_eof());
            // Where in the input: found again from the text's position, on this path only.
            let at = text_offset(&text, line, column, eof);
            drop(de);
            let cut = st.saw_entries && st.in_entries && cut_entry(&text, &st);
            drop(text);
            let offset = prepare::input_offset(bytes, limits, at);
            if !st.saw_entries {
                return Err(if eof {
                    HarError::Truncated { offset, line, column }
                } else {
                    HarError::Json { offset, line, column, message: message(&e) }
                });
            }
            if cut {
                let index = st.log.report.entries_seen;
                st.log.report.entries_seen += 1;
                st.skip(index, if eof { SkipReason::Truncated } else { SkipReason::Malformed });
            }
            st.log.report.stopped = Some(Stopped { offset, line, column, eof, message: message(&e) });
        }
    }
    if !(st.saw_entries || (st.saw_log && st.saw_creator)) {
        return Err(HarError::NotHar { reason: "no \"log\" object with entries or a creator" });
    }
    Ok(st.log)
}

/// The byte offset in `text` of serde_json's error position (1-based line, byte column): the
/// last byte the parser read, or the end of the text when it ran out.
fn text_offset(text: &str, line: usize, column: usize, eof: bool) -> usize {
    if eof {
        return text.len();
    }
    let line_start = match line {
        0 | 1 => 0,
        n => text.bytes().enumerate().filter(|&(_, b)| b == b'\n').nth(n - 2).map_or(text.len(), |(i, _)| i + 1),
    };
    (line_start + column).saturating_sub(1).min(text.len())
}

/// Whether the text after the last complete entry holds the beginning of another one (so the
/// break cut an entry), rather than only a separator.
fn cut_entry<F>(text: &str, st: &State<'_, F>) -> bool {
    let tail = if st.last_entry_end > 0 {
        text.get(st.last_entry_end..).unwrap_or("")
    } else {
        // No entry was complete: look after the `[` that opens the entries. The key is the
        // last `"entries"` in the text, since the break is inside its array.
        let Some(k) = text.rfind("\"entries\"") else {
            return false;
        };
        let Some(open) = text[k..].find('[') else {
            return false;
        };
        &text[k + open + 1..]
    };
    let rest = tail.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    !rest.is_empty() && !rest.starts_with(']')
}

/// serde_json's message without its " at line L column C" suffix, which the error's own
/// fields carry.
fn message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Whether `bytes` look like a HAR: a JSON object (after an optional byte order mark and
/// whitespace, and gzip/zlib decompression) whose first 4 KiB mention `"log"` or `"entries"`.
/// For choosing a reader by content when the file name does not tell; [`parse`] decides.
pub fn sniff(bytes: &[u8]) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let bytes = match prepare::compression(bytes) {
        Some(kind) => {
            let r: Box<dyn Read> = if kind == "gzip" {
                Box::new(flate2::read::MultiGzDecoder::new(bytes))
            } else {
                Box::new(flate2::read::ZlibDecoder::new(bytes))
            };
            // A short or corrupt stream gives what it has; that is enough to look at.
            let _ = r.take(4096).read_to_end(&mut head);
            &head[..]
        }
        None => &bytes[..bytes.len().min(4096)],
    };
    let text: String = match bytes {
        [0xff, 0xfe, rest @ ..] => char::decode_utf16(rest.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
            .map(|r| r.unwrap_or('\u{fffd}'))
            .collect(),
        [0xfe, 0xff, rest @ ..] => char::decode_utf16(rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
            .map(|r| r.unwrap_or('\u{fffd}'))
            .collect(),
        _ => String::from_utf8_lossy(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)).into_owned(),
    };
    text.trim_start().starts_with('{') && (text.contains("\"log\"") || text.contains("\"entries\""))
}

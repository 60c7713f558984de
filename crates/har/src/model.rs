//! What a HAR holds, as the detection engine needs it.
//!
//! Text stays `String` (a HAR is JSON, so every header and URL is already Unicode text; bytes
//! that were not valid UTF-8 in the file arrive as U+FFFD). Bodies are bytes ([`Body`]),
//! because `encoding: "base64"` bodies are decoded here and are often binary.

use std::net::IpAddr;

/// A whole HAR: the log's header and every entry that could be read, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Har {
    /// Version, creator, pages, and the report of what was repaired or skipped.
    pub log: Log,
    /// The entries, in the order of `log.entries`; skipped entries leave a gap in
    /// [`Entry::index`] and are listed in [`Report::skipped`].
    pub entries: Vec<Entry>,
}

/// The `log` object without its entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    /// `log.version` as written ("1.2", "1.1"; a number is turned into its text).
    pub version: Option<String>,
    /// `log.creator`: the tool that wrote the file. See [`Log::producer`].
    pub creator: Creator,
    /// `log.browser`, when present (Firefox writes it).
    pub browser: Option<Creator>,
    /// `log.pages`, at most [`Limits::max_pages`](crate::Limits::max_pages) of them.
    pub pages: Vec<Page>,
    /// `log.comment`.
    pub comment: Option<String>,
    /// What the reader repaired, skipped or capped.
    pub report: Report,
}

impl Log {
    /// Which tool wrote the file, from `creator.name` (then `browser.name`).
    pub fn producer(&self) -> Producer {
        let names = [Some(&self.creator.name), self.browser.as_ref().map(|b| &b.name)];
        for name in names.into_iter().flatten() {
            let n = name.to_ascii_lowercase();
            // Names as the tools write them: Chrome/Edge/Opera DevTools "WebInspector",
            // Safari "WebKit Web Inspector", Firefox "Firefox", mitmproxy "mitmproxy exporthar"
            // (10.1+) or "mitmproxy har_dump" (the older contrib script), PCAPdroid "PCAPdroid".
            return if n.contains("mitmproxy") {
                Producer::Mitmproxy
            } else if n.contains("pcapdroid") {
                Producer::Pcapdroid
            } else if n.contains("webkit") || n.contains("safari") {
                Producer::Safari
            } else if n == "webinspector" || n.contains("chrom") || n.contains("edge") {
                Producer::Chromium
            } else if n.contains("firefox") {
                Producer::Firefox
            } else {
                continue;
            };
        }
        Producer::Other
    }
}

/// The tool that wrote a HAR, as told by its creator name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Producer {
    /// Chrome, Edge, Opera and other Chromium DevTools ("WebInspector").
    Chromium,
    /// Firefox DevTools.
    Firefox,
    /// Safari / WebKit Web Inspector.
    Safari,
    /// mitmproxy (`save.har`, `--set hardump=`, the `har_dump.py` script).
    Mitmproxy,
    /// PCAPdroid's HTTP log export (Android; HTTPS decrypted by its mitm add-on).
    Pcapdroid,
    /// Anything else, or no creator.
    Other,
}

/// `log.creator` or `log.browser`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creator {
    /// Tool name; empty when missing.
    pub name: String,
    /// Tool version; empty when missing.
    pub version: String,
    /// Free text (mitmproxy puts its real version here).
    pub comment: Option<String>,
}

/// One `log.pages` item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// `id`, which entries point to with `pageref`.
    pub id: String,
    /// `title` (browsers write the page URL).
    pub title: String,
    /// `startedDateTime`, when it could be read.
    pub started: Option<EpochTime>,
}

/// A point in time: whole seconds since the Unix epoch (UTC) and nanoseconds within it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochTime {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// 0..1_000_000_000.
    pub nanos: u32,
}

/// One `log.entries` item: a request, its response if any, and where it went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// Position in `log.entries` (0-based), counting skipped entries too, so it names the
    /// entry in the file.
    pub index: usize,
    /// `startedDateTime`; `None` when missing or unreadable (then "bad_time" is in
    /// [`Entry::anomalies`]).
    pub started: Option<EpochTime>,
    /// `time`: total milliseconds, when given.
    pub time_ms: Option<f64>,
    /// `pageref`.
    pub pageref: Option<String>,
    /// The request (always present: an entry without one is skipped).
    pub request: Request,
    /// The response; `None` when the entry has none (or it is not an object).
    pub response: Option<Response>,
    /// `serverIPAddress` (Chrome writes IPv6 in brackets; they are removed).
    pub server_ip: Option<IpAddr>,
    /// `connection`: the tool's connection id (Chrome's socket id, Firefox's port,
    /// PCAPdroid's connection number).
    pub connection: Option<String>,
    /// `_webSocketMessages` (Chrome's extension, also written by mitmproxy and PCAPdroid).
    pub websocket: Vec<WsMessage>,
    /// What was odd about this entry and was read anyway, e.g. "number_as_string",
    /// "bad_base64", "host_mismatch": each name once, in the order first met. The list is in
    /// the crate documentation.
    pub anomalies: Vec<&'static str>,
}

/// A `name`/`value` pair: a header, cookie, query parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameValue {
    /// Name as written (headers keep their case; HTTP/2 pseudo-headers such as `:authority`
    /// are kept as headers).
    pub name: String,
    /// Value as written; a JSON number or boolean becomes its text, `null` an empty string.
    pub value: String,
}

/// `entry.request`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// `method` ("GET"...); empty when missing.
    pub method: String,
    /// `url` as written; empty when missing.
    pub url: String,
    /// `httpVersion` as written ("HTTP/1.1", "h2", "http/2.0", "HTTP/3"...).
    pub http_version: String,
    /// `headers` in file order, duplicates kept.
    pub headers: Vec<NameValue>,
    /// `cookies` (name and value only).
    pub cookies: Vec<NameValue>,
    /// `queryString` (tools write them URL-decoded; the raw form is in `url`).
    pub query: Vec<NameValue>,
    /// `postData`, when present.
    pub post_data: Option<PostData>,
}

impl Request {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The host the request was sent to: the host of `url` when it has one, else the
    /// `:authority` pseudo-header, else the `Host` header. Lowercase, without port, userinfo
    /// or IPv6 brackets.
    ///
    /// Why the URL first: browsers, mitmproxy and PCAPdroid build it from the connection the
    /// request went out on (for HTTPS, the name the TLS handshake was made for), which matches
    /// the capture path, where the TLS SNI outranks an HTTP `Host` when naming a flow. The
    /// `Host` header is text the client wrote; when it names another host (domain fronting, a
    /// proxy, a hand-edited file) the entry carries the "host_mismatch" anomaly, and
    /// [`Request::header_host`] gives the header's host for reporting both.
    pub fn host(&self) -> Option<String> {
        url_host(&self.url).or_else(|| self.header_host())
    }

    /// The host named by `:authority` (HTTP/2 and 3) or, failing that, `Host`; lowercase,
    /// without port or IPv6 brackets.
    pub fn header_host(&self) -> Option<String> {
        self.header(":authority").or_else(|| self.header("host")).and_then(authority_host)
    }
}

/// `request.postData`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostData {
    /// `mimeType`; empty when missing.
    pub mime_type: String,
    /// `text` as bytes (base64-decoded when the tool wrote `encoding: "base64"`, as PCAPdroid
    /// does for binary bodies); `None` when the tool wrote no text.
    pub text: Option<Body>,
    /// `params` (forms; `fileName` and `contentType` of uploads too).
    pub params: Vec<Param>,
}

/// One `postData.params` item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Param {
    /// `name`.
    pub name: String,
    /// `value`; empty when missing.
    pub value: String,
    /// `fileName` of an upload.
    pub file_name: Option<String>,
    /// `contentType` of an upload.
    pub content_type: Option<String>,
}

/// `entry.response`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// `status`; 0 when missing or unreadable (tools also write 0 for "no response").
    pub status: u16,
    /// `statusText`.
    pub status_text: String,
    /// `httpVersion` as written.
    pub http_version: String,
    /// `headers` in file order, duplicates kept.
    pub headers: Vec<NameValue>,
    /// `cookies` (name and value only).
    pub cookies: Vec<NameValue>,
    /// `content`.
    pub content: Content,
    /// `redirectURL`.
    pub redirect_url: String,
    /// `_error` (Chrome, mitmproxy: why there was no response).
    pub error: Option<String>,
}

impl Response {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// `response.content`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Content {
    /// `mimeType`; empty when missing.
    pub mime_type: String,
    /// `size` (length of the decoded body as the tool counted it), when readable.
    pub size: Option<i64>,
    /// `compression` (bytes saved by the content coding), when given.
    pub compression: Option<i64>,
    /// `text` as bytes, base64-decoded when `encoding` says so; `None` when the tool did not
    /// keep the body.
    pub text: Option<Body>,
    /// `encoding` as written, when present ("base64"; anything else is kept verbatim and the
    /// text left as it is).
    pub encoding: Option<String>,
}

/// A body (`postData.text`, `content.text`, a WebSocket message's `data`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// The bytes: base64-decoded, or the text's UTF-8.
    pub bytes: Vec<u8>,
    /// The file held it in base64 and it was decoded.
    pub base64: bool,
}

impl Body {
    /// The content coding the bytes still carry, by magic number: "gzip", "deflate" (zlib)
    /// or "zstd". HAR writers store bodies decoded (browsers, mitmproxy and PCAPdroid do), but
    /// a body served as a `.gz` file, or kept by a tool that did not decode it, is still
    /// compressed: hand it to a body decoder before searching it.
    pub fn compressed_as(&self) -> Option<&'static str> {
        match self.bytes.as_slice() {
            [0x1f, 0x8b, 8, ..] => Some("gzip"),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
            [cmf, flg, ..]
                if *cmf == 0x78 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 && !self.bytes.is_ascii() =>
            {
                Some("deflate")
            }
            _ => None,
        }
    }

    /// The text as Latin-1 bytes, when it is made only of characters U+0000..U+00FF and has
    /// at least one above U+007F; else `None` (and always for base64 bodies).
    ///
    /// Some writers put a binary body into JSON one byte per character, so the text's UTF-8
    /// is not the bytes that were sent (a gzipped or protobuf upload). Nothing in the file
    /// says so; this is the other reading for the caller to try.
    pub fn latin1(&self) -> Option<Vec<u8>> {
        if self.base64 {
            return None;
        }
        let text = std::str::from_utf8(&self.bytes).ok()?;
        let mut high = false;
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let b = u8::try_from(u32::from(c)).ok()?;
            high |= b >= 0x80;
            out.push(b);
        }
        high.then_some(out)
    }
}

/// One `_webSocketMessages` item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WsMessage {
    /// `type == "send"`: the client sent it.
    pub sent: bool,
    /// `time` (seconds since the epoch, as Chrome writes it).
    pub time: Option<f64>,
    /// `opcode` (1 text, 2 binary).
    pub opcode: Option<u8>,
    /// `data`; binary messages (opcode 2, or `encoding: "base64"`) base64-decoded.
    pub data: Body,
}

/// What the reader did besides reading: repairs, skips and caps, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Items in `log.entries`, read or not.
    pub entries_seen: usize,
    /// Entries delivered.
    pub entries_read: usize,
    /// Entries skipped (all of them, including those past the record cap).
    pub entries_skipped: usize,
    /// The first [`Limits::max_skip_records`](crate::Limits::max_skip_records) skipped
    /// entries, with their index and why.
    pub skipped: Vec<Skipped>,
    /// Entries past [`Limits::max_entries`](crate::Limits::max_entries), not parsed.
    pub entries_over_cap: usize,
    /// Pages past [`Limits::max_pages`](crate::Limits::max_pages), not kept.
    pub pages_over_cap: usize,
    /// Headers, cookies, parameters and WebSocket messages past
    /// [`Limits::max_items`](crate::Limits::max_items) in their list, dropped.
    pub items_over_cap: usize,
    /// The input was compressed: "gzip" or "zlib" (mitmproxy's `.zhar`).
    pub compressed: Option<&'static str>,
    /// The input started with a byte order mark: "utf-8", "utf-16le" or "utf-16be" (UTF-16
    /// input is converted).
    pub bom: Option<&'static str>,
    /// Byte sequences that were not UTF-8 were replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// `\uD800`-style escapes of lone UTF-16 surrogates (JavaScript strings allow them, JSON
    /// parsers do not), replaced by U+FFFD.
    pub lone_surrogates: usize,
    /// Raw control characters inside strings (invalid JSON that naive writers produce),
    /// escaped before parsing.
    pub control_chars: usize,
    /// `NaN`, `Infinity`, `-Infinity` (Python's `json.dump` writes them), read as `null`.
    pub non_finite_numbers: usize,
    /// Bytes after the end of the JSON document, ignored.
    pub trailing_bytes: bool,
    /// The entries were at the top level, not inside a `log` object.
    pub no_log_wrapper: bool,
    /// Reading stopped before the end of the document (a truncated or corrupt file); every
    /// entry before that point was delivered.
    pub stopped: Option<Stopped>,
}

/// An entry that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Its position in `log.entries`.
    pub index: usize,
    /// Why.
    pub reason: SkipReason,
}

/// Why an entry was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The item is not a JSON object (`null`, a number, a string...).
    NotAnObject,
    /// The object has no `request` object (`{}` and the like).
    NoRequest,
    /// Its JSON text is longer than [`Limits::max_entry_bytes`](crate::Limits::max_entry_bytes).
    TooLarge {
        /// Length of its JSON text.
        bytes: usize,
    },
    /// The file ends inside it.
    Truncated,
    /// The JSON breaks inside it (a syntax error); reading stopped there.
    Malformed,
}

/// Where and why reading stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Byte offset of the problem in the input (for compressed input, in the decompressed
    /// data); the input's length when it ends early.
    pub offset: usize,
    /// 1-based line of the problem, in the text as parsed (after decompression and UTF-16
    /// conversion, if any).
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
    /// The input ended (truncated) rather than broke (corrupt).
    pub eof: bool,
    /// The JSON parser's message.
    pub message: String,
}

fn header<'a>(headers: &'a [NameValue], name: &str) -> Option<&'a str> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
}

/// The host of an absolute URL (`scheme://[userinfo@]host[:port]/...`), normalised as in
/// [`authority_host`].
pub(crate) fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    authority_host(&rest[..end])
}

/// `[userinfo@]host[:port]` → lowercase host without port or brackets; `None` if empty.
pub(crate) fn authority_host(authority: &str) -> Option<String> {
    let a = authority.trim();
    let a = a.rsplit_once('@').map_or(a, |(_, h)| h);
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h)
    } else if a.bytes().filter(|&b| b == b':').count() > 1 {
        // A bare IPv6 address: some writers build URLs without the brackets.
        a
    } else {
        a.split_once(':').map_or(a, |(h, _)| h)
    };
    // "example.com." names the same host as "example.com".
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

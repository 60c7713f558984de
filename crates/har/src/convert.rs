//! From one entry's JSON value to an [`Entry`], by hand rather than by derived `Deserialize`:
//! a derived struct refuses a whole entry for one field of the wrong type, while real files
//! have `null` for strings, strings for numbers, objects for arrays. Here every field is read
//! for what it can give, and what had to be bent is named in `Entry::anomalies`.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::Limits;
use crate::base64;
use crate::model::{
    Body, Content, Creator, Entry, NameValue, Page, Param, PostData, Request, Response, SkipReason, WsMessage,
    authority_host, url_host,
};
use crate::time::{self, TimeNote};

/// Per-entry state: the anomalies found and the items dropped by the caps.
pub(crate) struct Cx<'l> {
    pub limits: &'l Limits,
    pub anomalies: Vec<&'static str>,
    pub items_over_cap: usize,
}

impl Cx<'_> {
    fn note(&mut self, a: &'static str) {
        if !self.anomalies.contains(&a) {
            self.anomalies.push(a);
        }
    }
}

/// Reads one `log.entries` item.
pub(crate) fn entry(v: &Value, index: usize, limits: &Limits, items_over_cap: &mut usize) -> Result<Entry, SkipReason> {
    let Value::Object(o) = v else {
        return Err(SkipReason::NotAnObject);
    };
    let Some(Value::Object(req)) = o.get("request") else {
        return Err(SkipReason::NoRequest);
    };
    let mut cx = Cx { limits, anomalies: Vec::new(), items_over_cap: 0 };
    let request = request(req, &mut cx);
    let response = match o.get("response") {
        Some(Value::Object(r)) => Some(response(r, &mut cx)),
        None | Some(Value::Null) => {
            cx.note("no_response");
            None
        }
        Some(_) => {
            cx.note("bad_response");
            None
        }
    };
    let started = match o.get("startedDateTime") {
        Some(Value::String(s)) => match time::parse_iso8601(s) {
            Some((t, TimeNote::Clean)) => Some(t),
            Some((t, TimeNote::NoOffset)) => {
                cx.note("time_without_offset");
                Some(t)
            }
            None => {
                cx.note("bad_time");
                None
            }
        },
        Some(Value::Number(n)) => {
            cx.note("time_as_number");
            n.as_f64().and_then(time::from_number)
        }
        _ => {
            cx.note("bad_time");
            None
        }
    };
    let server_ip = match o.get("serverIPAddress") {
        Some(Value::String(s)) if !s.is_empty() => {
            let ip = parse_ip(s);
            if ip.is_none() {
                cx.note("bad_server_ip");
            }
            ip
        }
        _ => None,
    };
    let websocket = match o.get("_webSocketMessages") {
        Some(Value::Array(msgs)) => {
            let kept = cap(msgs, &mut cx);
            kept.iter().filter_map(|m| ws_message(m, &mut cx)).collect()
        }
        _ => Vec::new(),
    };
    let mut e = Entry {
        index,
        started,
        time_ms: o.get("time").and_then(|v| float(v, &mut cx)),
        pageref: o.get("pageref").and_then(|v| string(v, &mut cx)),
        request,
        response,
        server_ip,
        connection: o.get("connection").and_then(|v| string(v, &mut cx)).filter(|s| !s.is_empty()),
        websocket,
        anomalies: Vec::new(),
    };
    if let (Some(u), Some(h)) = (url_host(&e.request.url), e.request.header_host())
        && u != h
    {
        cx.note("host_mismatch");
    }
    if url_host(&e.request.url).is_none() && !e.request.url.is_empty() {
        cx.note("relative_url");
    }
    e.anomalies = cx.anomalies;
    *items_over_cap += cx.items_over_cap;
    Ok(e)
}

fn request(o: &Map<String, Value>, cx: &mut Cx) -> Request {
    let url = field_string(o, "url", cx);
    if url.is_empty() {
        cx.note("no_url");
    }
    let post_data = match o.get("postData") {
        Some(Value::Object(p)) => Some(post_data(p, cx)),
        // mitmproxy and others write a string body directly now and then.
        Some(Value::String(s)) => {
            cx.note("post_data_as_string");
            Some(PostData { mime_type: String::new(), text: Some(text_body(s, false, cx)), params: Vec::new() })
        }
        _ => None,
    };
    Request {
        method: field_string(o, "method", cx),
        url,
        http_version: field_string(o, "httpVersion", cx),
        headers: pairs(o.get("headers"), cx),
        cookies: pairs(o.get("cookies"), cx),
        query: pairs(o.get("queryString"), cx),
        post_data,
    }
}

fn post_data(p: &Map<String, Value>, cx: &mut Cx) -> PostData {
    let base64 = is_base64(p.get("encoding"));
    let text = match p.get("text") {
        Some(Value::String(s)) => Some(text_body(s, base64, cx)),
        Some(Value::Null) | None => None,
        Some(other) => {
            cx.note("text_not_string");
            Some(Body { bytes: other.to_string().into_bytes(), base64: false })
        }
    };
    let params = match p.get("params") {
        Some(Value::Array(items)) => {
            let kept = cap(items, cx);
            kept.iter()
                .filter_map(|item| {
                    let Value::Object(m) = item else {
                        cx.note("bad_item");
                        return None;
                    };
                    Some(Param {
                        name: field_string(m, "name", cx),
                        value: field_string(m, "value", cx),
                        file_name: m.get("fileName").and_then(|v| string(v, cx)),
                        content_type: m.get("contentType").and_then(|v| string(v, cx)),
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    };
    PostData { mime_type: field_string(p, "mimeType", cx), text, params }
}

fn response(o: &Map<String, Value>, cx: &mut Cx) -> Response {
    let status = match o.get("status") {
        None | Some(Value::Null) => 0,
        Some(v) => match int(v, cx) {
            Some(s) if (0..=999).contains(&s) => s as u16,
            _ => {
                cx.note("bad_status");
                0
            }
        },
    };
    let content = match o.get("content") {
        Some(Value::Object(c)) => content(c, cx),
        _ => Content::default(),
    };
    Response {
        status,
        status_text: field_string(o, "statusText", cx),
        http_version: field_string(o, "httpVersion", cx),
        headers: pairs(o.get("headers"), cx),
        cookies: pairs(o.get("cookies"), cx),
        content,
        redirect_url: field_string(o, "redirectURL", cx),
        error: o.get("_error").and_then(|v| string(v, cx)),
    }
}

fn content(c: &Map<String, Value>, cx: &mut Cx) -> Content {
    let encoding = c.get("encoding").and_then(|v| string(v, cx)).filter(|e| !e.is_empty());
    let base64 = is_base64(c.get("encoding"));
    if encoding.is_some() && !base64 {
        cx.note("unknown_content_encoding");
    }
    let text = match c.get("text") {
        Some(Value::String(s)) => Some(text_body(s, base64, cx)),
        Some(Value::Null) | None => None,
        Some(other) => {
            cx.note("text_not_string");
            Some(Body { bytes: other.to_string().into_bytes(), base64: false })
        }
    };
    Content {
        mime_type: field_string(c, "mimeType", cx),
        size: c.get("size").and_then(|v| int(v, cx)),
        compression: c.get("compression").and_then(|v| int(v, cx)),
        text,
        encoding,
    }
}

fn ws_message(m: &Value, cx: &mut Cx) -> Option<WsMessage> {
    let Value::Object(m) = m else {
        cx.note("bad_item");
        return None;
    };
    let opcode = m.get("opcode").and_then(|v| int(v, cx)).and_then(|o| u8::try_from(o).ok());
    // Chrome marks binary frames by opcode 2 and writes them in base64 without an `encoding`;
    // PCAPdroid writes `encoding: "base64"`.
    let base64 = is_base64(m.get("encoding")) || opcode == Some(2);
    let data = match m.get("data") {
        Some(Value::String(s)) => text_body(s, base64, cx),
        _ => Body::default(),
    };
    let sent = matches!(m.get("type"), Some(Value::String(t)) if t.eq_ignore_ascii_case("send"));
    Some(WsMessage { sent, time: m.get("time").and_then(|v| float(v, cx)), opcode, data })
}

/// A body's text: base64-decoded when so marked and decodable, else its UTF-8.
fn text_body(s: &str, base64: bool, cx: &mut Cx) -> Body {
    if base64 {
        if let Some(bytes) = base64::decode(s) {
            return Body { bytes, base64: true };
        }
        // Marked base64 but not: keep the text, which is still worth searching.
        cx.note("bad_base64");
    }
    Body { bytes: s.as_bytes().to_vec(), base64: false }
}

fn is_base64(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(e)) if e.trim().eq_ignore_ascii_case("base64"))
}

/// A `[{name, value}, ...]` list (headers, cookies, queryString), in order, capped. Items
/// without a name are dropped; an object `{"Name": "value", ...}` (written by some scripts)
/// is read too, in key order.
fn pairs(v: Option<&Value>, cx: &mut Cx) -> Vec<NameValue> {
    match v {
        Some(Value::Array(items)) => {
            let kept = cap(items, cx);
            kept.iter()
                .filter_map(|item| match item {
                    Value::Object(m) => match m.get("name") {
                        Some(n @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                            let name = string(n, cx).unwrap_or_default();
                            Some(NameValue { name, value: field_string(m, "value", cx) })
                        }
                        _ => {
                            cx.note("bad_item");
                            None
                        }
                    },
                    _ => {
                        cx.note("bad_item");
                        None
                    }
                })
                .collect()
        }
        Some(Value::Object(m)) => {
            cx.note("pairs_as_object");
            let n = m.len().min(cx.limits.max_items);
            cx.items_over_cap += m.len() - n;
            m.iter()
                .take(n)
                .map(|(k, v)| NameValue { name: k.clone(), value: string(v, cx).unwrap_or_default() })
                .collect()
        }
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            cx.note("bad_item");
            Vec::new()
        }
    }
}

/// The first `max_items` of a list; the rest are counted.
fn cap<'v>(items: &'v [Value], cx: &mut Cx) -> &'v [Value] {
    let n = items.len().min(cx.limits.max_items);
    if n < items.len() {
        cx.items_over_cap += items.len() - n;
        cx.note("items_capped");
    }
    &items[..n]
}

/// A string field, empty when missing or `null`.
fn field_string(o: &Map<String, Value>, key: &str, cx: &mut Cx) -> String {
    o.get(key).and_then(|v| string(v, cx)).unwrap_or_default()
}

/// A string; numbers and booleans become their text (noted); `null` is `None`; arrays and
/// objects are not strings.
fn string(v: &Value, cx: &mut Cx) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => {
            cx.note("non_string_value");
            Some(n.to_string())
        }
        Value::Bool(b) => {
            cx.note("non_string_value");
            Some(b.to_string())
        }
        Value::Null => None,
        _ => {
            cx.note("bad_type");
            None
        }
    }
}

/// An integer; a string holding one (`"200"`, `" 42 "`, `"3.0"`) is read too (noted).
fn int(v: &Value, cx: &mut Cx) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            cx.note("number_as_string");
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
        }
        _ => None,
    }
}

/// A float; a string holding one is read too (noted).
fn float(v: &Value, cx: &mut Cx) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            cx.note("number_as_string");
            s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
        }
        _ => None,
    }
}

/// `serverIPAddress`: plain, or in brackets (Chrome's IPv6), or with a port.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse().ok().or_else(|| authority_host(s)?.parse().ok())
}

/// `log.creator` / `log.browser`.
pub(crate) fn creator(v: &Value) -> Creator {
    let Value::Object(o) = v else {
        return Creator::default();
    };
    let get = |k: &str| match o.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Creator {
        name: get("name").unwrap_or_default(),
        version: get("version").unwrap_or_default(),
        comment: get("comment"),
    }
}

/// One `log.pages` item; `None` when it is not an object.
pub(crate) fn page(v: &Value) -> Option<Page> {
    let Value::Object(o) = v else {
        return None;
    };
    let get = |k: &str| match o.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let started = match o.get("startedDateTime") {
        Some(Value::String(s)) => time::parse_iso8601(s).map(|(t, _)| t),
        Some(Value::Number(n)) => n.as_f64().and_then(time::from_number),
        _ => None,
    };
    Some(Page { id: get("id"), title: get("title"), started })
}

/// `log.version`: text, or a number's text (`1.2` written unquoted).
pub(crate) fn version(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

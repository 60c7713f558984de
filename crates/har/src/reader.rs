//! The streaming walk over the document: serde visitors that go through `log` key by key and
//! hand each entry on as soon as it is read.
//!
//! Each entry is first taken as a borrowed slice of the text (`&RawValue`, no allocation), so
//! its size is checked before it is parsed into a `Value`, and an entry that fails to convert
//! is skipped alone. State lives outside the visitors ([`State`]), so that when the JSON
//! breaks (a truncated file) everything read before the break is still there.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Limits;
use crate::convert;
use crate::model::{Entry, Log, SkipReason, Skipped};

pub(crate) struct State<'l, F> {
    pub limits: &'l Limits,
    pub on_entry: F,
    pub log: Log,
    /// Address of the text, to turn a borrowed slice into an offset.
    pub base: usize,
    /// A `log` object was seen.
    pub saw_log: bool,
    /// A `creator` was seen (in `log`, or at the top level).
    pub saw_creator: bool,
    /// An `entries` array was opened.
    pub saw_entries: bool,
    /// Inside the `entries` array now (so a parse error there cuts an entry).
    pub in_entries: bool,
    /// Offset just past the last complete entry (0 until one is complete).
    pub last_entry_end: usize,
    /// Why the document is JSON but not a HAR, when that was found.
    pub not_har: Option<&'static str>,
}

impl<F: FnMut(Entry)> State<'_, F> {
    fn entry(&mut self, index: usize, raw: &str) {
        let r = &mut self.log.report;
        let outcome = if raw.len() > self.limits.max_entry_bytes {
            Err(SkipReason::TooLarge { bytes: raw.len() })
        } else {
            match serde_json::from_str::<Value>(raw) {
                Ok(v) => convert::entry(&v, index, self.limits, &mut r.items_over_cap),
                // Valid JSON that serde_json still refuses as a Value (nesting deeper than its
                // recursion limit).
                Err(_) => Err(SkipReason::Malformed),
            }
        };
        match outcome {
            Ok(e) => {
                r.entries_read += 1;
                (self.on_entry)(e);
            }
            Err(reason) => self.skip(index, reason),
        }
    }

    pub(crate) fn skip(&mut self, index: usize, reason: SkipReason) {
        let r = &mut self.log.report;
        r.entries_skipped += 1;
        if r.skipped.len() < self.limits.max_skip_records {
            r.skipped.push(Skipped { index, reason });
        }
    }
}

/// The top-level value: `{"log": {...}}`, or (some scripts) the log's fields at the top.
pub(crate) struct Root<'s, 'l, F>(pub &'s mut State<'l, F>);

impl<'de, F: FnMut(Entry)> DeserializeSeed<'de> for Root<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn not_har<E: de::Error, F>(st: &mut State<'_, F>, why: &'static str) -> Result<(), E> {
    st.not_har = Some(why);
    Err(E::custom(why))
}

impl<'de, F: FnMut(Entry)> Visitor<'de> for Root<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "log" => map.next_value_seed(LogSeed(&mut *self.0))?,
                "entries" | "pages" | "creator" | "browser" | "version" => {
                    self.0.log.report.no_log_wrapper = true;
                    log_field(&key, &mut map, self.0)?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        not_har(self.0, "the top level is an array, not an object with a \"log\"")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        not_har(self.0, "the top level is a string, not an object with a \"log\"")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        not_har(self.0, "the top level is a boolean, not an object with a \"log\"")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        not_har(self.0, "the top level is a number, not an object with a \"log\"")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        not_har(self.0, "the top level is a number, not an object with a \"log\"")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        not_har(self.0, "the top level is a number, not an object with a \"log\"")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        not_har(self.0, "the top level is null, not an object with a \"log\"")
    }
}

/// One field of the log object.
fn log_field<'de, A: MapAccess<'de>, F: FnMut(Entry)>(
    key: &str,
    map: &mut A,
    st: &mut State<'_, F>,
) -> Result<(), A::Error> {
    match key {
        "entries" => map.next_value_seed(EntriesSeed(st)),
        "pages" => map.next_value_seed(PagesSeed(st)),
        "creator" => {
            st.saw_creator = true;
            st.log.creator = convert::creator(&map.next_value::<Value>()?);
            Ok(())
        }
        "browser" => {
            let v = map.next_value::<Value>()?;
            st.log.browser = v.is_object().then(|| convert::creator(&v));
            Ok(())
        }
        "version" => {
            st.log.version = convert::version(&map.next_value::<Value>()?);
            Ok(())
        }
        "comment" => {
            st.log.comment = convert::version(&map.next_value::<Value>()?);
            Ok(())
        }
        _ => map.next_value::<IgnoredAny>().map(drop),
    }
}

struct LogSeed<'s, 'l, F>(&'s mut State<'l, F>);

impl<'de, F: FnMut(Entry)> DeserializeSeed<'de> for LogSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Entry)> Visitor<'de> for LogSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the HAR log object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.saw_log = true;
        while let Some(key) = map.next_key::<String>()? {
            log_field(&key, &mut map, self.0)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        not_har(self.0, "\"log\" is not an object")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        not_har(self.0, "\"log\" is not an object")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        not_har(self.0, "\"log\" is not an object")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        not_har(self.0, "\"log\" is not an object")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        not_har(self.0, "\"log\" is not an object")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        not_har(self.0, "\"log\" is not an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        not_har(self.0, "\"log\" is null")
    }
}

struct EntriesSeed<'s, 'l, F>(&'s mut State<'l, F>);

impl<'de, F: FnMut(Entry)> DeserializeSeed<'de> for EntriesSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Entry)> Visitor<'de> for EntriesSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the entries array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.0;
        st.saw_entries = true;
        st.in_entries = true;
        loop {
            let index = st.log.report.entries_seen;
            if index >= st.limits.max_entries {
                // Over the cap: walk the rest without building anything, to count them.
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                st.log.report.entries_seen += 1;
                st.log.report.entries_over_cap += 1;
                continue;
            }
            let Some(raw) = seq.next_element::<&'de RawValue>()? else {
                break;
            };
            let text = raw.get();
            // Safe pointer arithmetic: `text` is a slice of the document (borrowed RawValue).
            st.last_entry_end = (text.as_ptr() as usize).saturating_sub(st.base) + text.len();
            st.log.report.entries_seen += 1;
            st.entry(index, text);
        }
        st.in_entries = false;
        Ok(())
    }

    // `"entries": null` (or any non-array) inside a `log` object: no entries, but the file is
    // still a HAR. At the top level (no `log`), only an array makes a HAR: `{"entries": 5}`
    // is some other JSON.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.saw_entries = self.0.saw_log;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.saw_entries = self.0.saw_log;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.0.saw_entries = self.0.saw_log;
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.saw_entries = self.0.saw_log;
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.0.saw_entries = self.0.saw_log;
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.0.saw_entries = self.0.saw_log;
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.0.saw_entries = self.0.saw_log;
        Ok(())
    }
}

struct PagesSeed<'s, 'l, F>(&'s mut State<'l, F>);

impl<'de, F> DeserializeSeed<'de> for PagesSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F> Visitor<'de> for PagesSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the pages array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.0;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if st.log.pages.len() >= st.limits.max_pages || raw.get().len() > st.limits.max_entry_bytes {
                st.log.report.pages_over_cap += 1;
                continue;
            }
            if let Some(p) = serde_json::from_str::<Value>(raw.get()).ok().as_ref().and_then(convert::page) {
                st.log.pages.push(p);
            }
        }
        Ok(())
    }

    // Anything but an array: no pages.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
}

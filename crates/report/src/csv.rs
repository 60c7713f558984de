//! `--format csv`: one row per flow and per leak, for spreadsheets (docs/OUTPUT.md, "CSV").
//!
//! Both kinds share one header; `record` says which, and columns that do not apply are
//! empty. Fields are quoted as RFC 4180 says, and text from traffic that a spreadsheet would
//! take for a formula (`=`, `+`, `-`, `@`, tab, carriage return first) is prefixed with `'`:
//! a capture must not run formulas on the analyst's machine.

use std::io::Write;

use phonehome_model::dest::Destination;
use phonehome_model::{Event, EventBody, EventSink};

const HEADER: &[&str] = &[
    "record",
    "timestamp",
    "input",
    "flow_id",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "app_proto",
    "dest_hostname",
    "dest_scope",
    "dest_country",
    "dest_asn",
    "dest_as_org",
    "dest_domain",
    "dest_org",
    "dest_org_country",
    "dest_category",
    "third_party",
    "pkts_toserver",
    "pkts_toclient",
    "bytes_toserver",
    "bytes_toclient",
    "leak_kind",
    "leak_label",
    "leak_declared",
    "leak_encoding",
    "leak_location",
    "leak_confidence",
    "leak_direction",
    "leak_excerpt",
    "pcap_cnt",
    "http_url",
];

/// Writes flows and leaks as CSV rows as they come.
pub struct CsvSink<W: Write> {
    out: W,
    header_written: bool,
    row: Vec<String>,
}

impl<W: Write> CsvSink<W> {
    pub fn new(out: W) -> CsvSink<W> {
        CsvSink { out, header_written: false, row: Vec::with_capacity(HEADER.len()) }
    }

    fn write_row(&mut self) -> std::io::Result<()> {
        let mut line = String::new();
        for (i, f) in self.row.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            field(&mut line, f);
        }
        line.push_str("\r\n");
        self.out.write_all(line.as_bytes())
    }
}

/// One field: quoted when it holds a separator, quote or line break; defused when a
/// spreadsheet would read it as a formula.
fn field(line: &mut String, f: &str) {
    let formula = f.starts_with(['=', '+', '-', '@', '\t', '\r']) && f.parse::<f64>().is_err();
    let quote = formula || f.contains([',', '"', '\n', '\r']);
    if quote {
        line.push('"');
    }
    if formula {
        line.push('\'');
    }
    for c in f.chars() {
        if c == '"' {
            line.push('"');
        }
        line.push(c);
    }
    if quote {
        line.push('"');
    }
}

fn dest_columns(row: &mut Vec<String>, dest: Option<&Destination>) {
    let a = dest.map(|d| &d.address);
    let n = dest.and_then(|d| d.name.as_deref());
    let org = n.and_then(|n| n.org.as_deref());
    row.push(a.map(|a| a.scope.to_string()).unwrap_or_default());
    row.push(a.and_then(|a| a.country_str()).unwrap_or_default().to_string());
    row.push(a.and_then(|a| a.asn.as_ref()).map(|x| x.number.to_string()).unwrap_or_default());
    row.push(a.and_then(|a| a.asn.as_ref()).map(|x| x.org.to_string()).unwrap_or_default());
    row.push(n.and_then(|n| n.domain.clone()).unwrap_or_default());
    row.push(org.map(|o| o.name.clone()).unwrap_or_default());
    row.push(org.and_then(|o| o.country.clone()).unwrap_or_default());
    row.push(n.and_then(|n| n.category).unwrap_or_default().to_string());
    row.push(n.and_then(|n| n.third_party).map(|t| t.to_string()).unwrap_or_default());
}

impl<W: Write> EventSink for CsvSink<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        if !self.header_written {
            self.row = HEADER.iter().map(|h| h.to_string()).collect();
            self.write_row()?;
            self.header_written = true;
        }
        let (record, hostname, dest) = match &event.body {
            EventBody::Flow(r) => {
                ("flow", r.dest_hostname.as_ref().map(|(n, _)| n.lossy().into_owned()), r.dest.as_ref())
            }
            EventBody::Leak(r) => ("leak", r.dest_hostname.as_ref().map(|n| n.lossy().into_owned()), r.dest.as_ref()),
            _ => return Ok(()),
        };
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        row.push(record.into());
        row.push(event.timestamp.rfc3339().to_string());
        row.push(event.input.as_deref().unwrap_or_default().to_string());
        let f = event.flow.as_ref();
        row.push(f.map(|f| f.flow_id.to_string()).unwrap_or_default());
        row.push(f.map(|f| f.src_ip.to_string()).unwrap_or_default());
        row.push(f.and_then(|f| f.src_port).map(|p| p.to_string()).unwrap_or_default());
        row.push(f.map(|f| f.dest_ip.to_string()).unwrap_or_default());
        row.push(f.and_then(|f| f.dest_port).map(|p| p.to_string()).unwrap_or_default());
        row.push(f.map(|f| f.proto.name().into_owned()).unwrap_or_default());
        match &event.body {
            EventBody::Flow(r) => row.push(r.app_proto.unwrap_or_default().to_string()),
            _ => row.push(String::new()),
        }
        row.push(hostname.unwrap_or_default());
        dest_columns(&mut row, dest);
        match &event.body {
            EventBody::Flow(r) => {
                let c = &r.counts;
                for n in [c.pkts_toserver, c.pkts_toclient, c.bytes_toserver, c.bytes_toclient] {
                    row.push(n.to_string());
                }
                row.extend(std::iter::repeat_n(String::new(), 10));
            }
            EventBody::Leak(l) => {
                row.extend(std::iter::repeat_n(String::new(), 4));
                row.push(l.kind.to_string());
                row.push(l.label.clone().unwrap_or_default());
                row.push(l.declared.to_string());
                row.push(l.encoding.clone());
                row.push(l.location.clone());
                row.push(l.confidence.to_string());
                row.push(l.direction.to_string());
                row.push(l.excerpt.clone());
                row.push(l.frame.map(|n| n.to_string()).unwrap_or_default());
                row.push(l.http.as_ref().map(|(_, url)| url.lossy().into_owned()).unwrap_or_default());
            }
            _ => {}
        }
        debug_assert_eq!(row.len(), HEADER.len());
        self.row = row;
        self.write_row()
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let f = |s: &str| {
            let mut l = String::new();
            field(&mut l, s);
            l
        };
        assert_eq!(f("plain"), "plain");
        assert_eq!(f("a,b"), "\"a,b\"");
        assert_eq!(f("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(f("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(f("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(f("-12.5"), "-12.5", "numbers stay numbers");
        assert_eq!(f("line\nbreak"), "\"line\nbreak\"");
    }
}

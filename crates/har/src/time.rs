//! `startedDateTime`: ISO 8601 / RFC 3339 with the variants HAR writers produce.
//!
//! Chrome writes `2022-06-04T23:25:29.123Z`, Firefox and PCAPdroid a local time with an
//! offset (`...123+02:00`), PCAPdroid before Android 7 `+0200`, mitmproxy Python's
//! `isoformat()` (`2022-06-04T23:25:29.123456+00:00`). Also read: a space instead of `T`,
//! lowercase `t`/`z`, any number of fraction digits (nanoseconds kept, more truncated), an
//! hour-only offset (`+02`), no offset (taken as UTC and flagged), a comma as decimal mark,
//! and a JSON number of epoch seconds or milliseconds.

use crate::model::EpochTime;

/// How a timestamp was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeNote {
    /// A well-formed timestamp with an offset.
    Clean,
    /// No UTC offset: read as UTC.
    NoOffset,
}

/// Parses an ISO 8601 date-time; `None` when it is not one.
pub(crate) fn parse_iso8601(s: &str) -> Option<(EpochTime, TimeNote)> {
    let b = s.trim().as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = i64::from(p.digits(4, 4)?);
    p.eat(b'-')?;
    let month = p.digits(2, 2)?;
    p.eat(b'-')?;
    let day = p.digits(2, 2)?;
    if !matches!(p.peek(), Some(b'T' | b't' | b' ')) {
        return None;
    }
    p.i += 1;
    let hour = p.digits(2, 2)?;
    p.eat(b':')?;
    let minute = p.digits(2, 2)?;
    // Seconds are optional in ISO 8601 ("2022-06-04T23:25Z").
    let second = if p.peek() == Some(b':') {
        p.i += 1;
        p.digits(2, 2)?
    } else {
        0
    };
    let mut nanos = 0u32;
    if matches!(p.peek(), Some(b'.' | b',')) {
        p.i += 1;
        let start = p.i;
        while let Some(d) = p.peek().filter(u8::is_ascii_digit) {
            if p.i - start < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            p.i += 1;
        }
        let n = p.i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let (offset, note) = match p.peek() {
        None => (0, TimeNote::NoOffset),
        Some(b'Z' | b'z') => {
            p.i += 1;
            (0, TimeNote::Clean)
        }
        Some(sign @ (b'+' | b'-')) => {
            p.i += 1;
            let oh = p.digits(2, 2)?;
            if p.peek() == Some(b':') {
                p.i += 1;
            }
            let om = if p.peek().is_some() { p.digits(2, 2)? } else { 0 };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            (if sign == b'-' { -off } else { off }, TimeNote::Clean)
        }
        Some(_) => return None,
    };
    if p.i != b.len() || !(1..=12).contains(&month) || hour > 24 || minute > 59 || second > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second) - offset;
    Some((EpochTime { secs, nanos }, note))
}

/// A JSON number as epoch time: seconds, or milliseconds when it is too large to be seconds
/// (over 1e11, i.e. after the year 5138).
pub(crate) fn from_number(n: f64) -> Option<EpochTime> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    // Split before scaling: 1654385129123 ms / 1000 is not exact in binary floating point,
    // but the whole seconds and the remainder in milliseconds are.
    let (secs, sub, scale) = if n >= 1e11 {
        let s = (n / 1000.0).trunc();
        (s, n - s * 1000.0, 1e6)
    } else {
        (n.trunc(), n - n.trunc(), 1e9)
    };
    if secs >= 1e13 {
        return None;
    }
    let nanos = (sub * scale).round().clamp(0.0, 999_999_999.0) as u32;
    Some(EpochTime { secs: secs as i64, nanos })
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// `min..=max` ASCII digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v = 0u32;
        while self.i - start < max {
            match self.peek() {
                Some(d) if d.is_ascii_digit() => {
                    v = v * 10 + u32::from(d - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(v)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<(i64, u32, TimeNote)> {
        parse_iso8601(s).map(|(e, n)| (e.secs, e.nanos, n))
    }

    #[test]
    fn writers_formats() {
        // 2022-06-04T23:25:29Z = 1654385129 (the 1kxun capture's clock).
        assert_eq!(t("2022-06-04T23:25:29.123Z"), Some((1654385129, 123_000_000, TimeNote::Clean)));
        assert_eq!(t("2022-06-05T01:25:29.123+02:00"), Some((1654385129, 123_000_000, TimeNote::Clean)));
        assert_eq!(t("2022-06-05T01:25:29.123+0200"), Some((1654385129, 123_000_000, TimeNote::Clean)));
        assert_eq!(t("2022-06-04T18:25:29.5-05"), Some((1654385129, 500_000_000, TimeNote::Clean)));
        assert_eq!(t("2022-06-04T23:25:29.123456+00:00"), Some((1654385129, 123_456_000, TimeNote::Clean)));
        assert_eq!(t("2022-06-04 23:25:29,1234567891z"), Some((1654385129, 123_456_789, TimeNote::Clean)));
        assert_eq!(t("2022-06-04T23:25:29"), Some((1654385129, 0, TimeNote::NoOffset)));
        assert_eq!(t("2022-06-04T23:25Z"), Some((1654385100, 0, TimeNote::Clean)));
        assert_eq!(t(" 1970-01-01T00:00:00Z "), Some((0, 0, TimeNote::Clean)));
        assert_eq!(t("1969-12-31T23:59:59.5Z"), Some((-1, 500_000_000, TimeNote::Clean)));
        assert_eq!(t("2000-02-29T00:00:00Z"), Some((951782400, 0, TimeNote::Clean)));
    }

    #[test]
    fn rejects_non_dates() {
        for s in [
            "",
            "yesterday",
            "2022-06-04",
            "2022-13-01T00:00:00Z",
            "2022-02-30T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2022-06-04T23:25:29.Z",
            "2022-06-04T23:25:29Zjunk",
            "2022-06-04T23:25:29+2400",
            "22-06-04T23:25:29Z",
            "2022-06-04T99:00:00Z",
        ] {
            assert_eq!(t(s), None, "{s}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(from_number(1654385129.5), Some(EpochTime { secs: 1654385129, nanos: 500_000_000 }));
        assert_eq!(from_number(1654385129123.0), Some(EpochTime { secs: 1654385129, nanos: 123_000_000 }));
        assert_eq!(from_number(-1.0), None);
        assert_eq!(from_number(f64::NAN), None);
        assert_eq!(from_number(1e30), None);
    }
}

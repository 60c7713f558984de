//! Capture timestamps.

use std::fmt;

/// A point in time as nanoseconds since the Unix epoch (UTC). Captures carry micro- or
/// nanosecond (or other `if_tsresol`) resolution; nanoseconds hold all of them until 2262.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From whole seconds and a nanosecond remainder.
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(i64::from(nanos)))
    }

    /// Whole seconds since the epoch (floor).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// `self - earlier` in nanoseconds, saturating.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2014-03-04T12:00:00.123456Z`.
    pub fn rfc3339(self) -> Rfc3339 {
        Rfc3339(self)
    }
}

/// Display and Serialize adapter for [`Timestamp::rfc3339`]. Formats into a stack buffer
/// without the `fmt` machinery: every event carries timestamps, so this is on the output's
/// hot path.
pub struct Rfc3339(Timestamp);

impl Rfc3339 {
    /// The 27 ASCII bytes `YYYY-MM-DDTHH:MM:SS.ffffffZ`. An i64 of nanoseconds spans the
    /// years 1677 to 2262, so four year digits always suffice.
    fn bytes(&self) -> [u8; 27] {
        let secs = self.0.secs();
        let micros = self.0.subsec_nanos() / 1000;
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y.clamp(0, 9999) as u32);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, sod / 3600);
        put(14, 2, (sod / 60) % 60);
        put(17, 2, sod % 60);
        put(20, 6, micros);
        b
    }
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes();
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.bytes();
        s.serialize_str(std::str::from_utf8(&b).unwrap_or_default())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp(0).rfc3339().to_string(), "1970-01-01T00:00:00.000000Z");
        // 2014-03-04T12:34:56.789012Z
        let t = Timestamp::from_secs_nanos(1_393_936_496, 789_012_345);
        assert_eq!(t.rfc3339().to_string(), "2014-03-04T12:34:56.789012Z");
        // Leap day, and before the epoch.
        let t = Timestamp::from_secs_nanos(951_782_400, 0);
        assert_eq!(t.rfc3339().to_string(), "2000-02-29T00:00:00.000000Z");
        let t = Timestamp(-1);
        assert_eq!(t.rfc3339().to_string(), "1969-12-31T23:59:59.999999Z");
        // The ends of the representable range.
        assert_eq!(Timestamp(i64::MIN).rfc3339().to_string(), "1677-09-21T00:12:43.145224Z");
        assert_eq!(Timestamp(i64::MAX).rfc3339().to_string(), "2262-04-11T23:47:16.854775Z");
        assert_eq!(serde_json::to_string(&Timestamp(0).rfc3339()).unwrap(), "\"1970-01-01T00:00:00.000000Z\"");
    }
}

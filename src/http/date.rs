//! IMF-fixdate formatting (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7)
//! with a one-second cache.
//!
//! The wall time is passed in; nothing here reads a clock.
//!
//! Tested by: src/http/date.rs (unit tests)

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate.
pub const IMF_FIXDATE_LEN: usize = 29;

/// The latest second representable with a four-digit year (9999-12-31 23:59:59).
const MAX_SECS: u64 = 253_402_300_799;

const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A `Date` header value that is reformatted only when the second changes.
#[derive(Clone, Debug)]
pub struct DateCache {
    second: Option<u64>,
    text: [u8; IMF_FIXDATE_LEN],
}

impl Default for DateCache {
    fn default() -> DateCache {
        DateCache::new()
    }
}

impl DateCache {
    /// A cache holding the epoch until the first [`update`](Self::update).
    pub fn new() -> DateCache {
        let mut text = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(0, &mut text);
        DateCache { second: None, text }
    }

    /// Brings the cached text to `now`; returns true if the text changed.
    /// Times before the epoch format as the epoch.
    pub fn update(&mut self, now: SystemTime) -> bool {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.second == Some(second) {
            return false;
        }
        self.second = Some(second);
        format_imf_fixdate(second, &mut self.text);
        true
    }

    /// The current IMF-fixdate text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }
}

/// Writes the IMF-fixdate for `unix_secs` (clamped to year 9999) into `out`.
pub fn format_imf_fixdate(unix_secs: u64, out: &mut [u8; IMF_FIXDATE_LEN]) {
    let secs = unix_secs.min(MAX_SECS);
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    out[..3].copy_from_slice(WEEKDAYS[((days + 4) % 7) as usize]);
    out[3..5].copy_from_slice(b", ");
    two_digits(&mut out[5..7], day);
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    out[11] = b' ';
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    out[16] = b' ';
    two_digits(&mut out[17..19], of_day / 3600);
    out[19] = b':';
    two_digits(&mut out[20..22], of_day / 60 % 60);
    out[22] = b':';
    two_digits(&mut out[23..25], of_day % 60);
    out[25..].copy_from_slice(b" GMT");
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Converts days since 1970-01-01 to (year, month 1–12, day 1–31) in the
/// proleptic Gregorian calendar, using 400-year eras starting on March 1st.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fmt(secs: u64) -> String {
        let mut out = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(secs, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The RFC 9110 example date formats exactly.
    #[test]
    fn rfc_example() {
        assert_eq!(fmt(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    /// The epoch is a Thursday.
    #[test]
    fn epoch() {
        assert_eq!(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    /// Leap days in leap years (including the 400-year rule) format correctly.
    #[test]
    fn leap_days() {
        assert_eq!(fmt(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(fmt(1_709_164_800), "Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(fmt(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(fmt(1_709_251_200), "Fri, 01 Mar 2024 00:00:00 GMT");
    }

    /// 2100 is not a leap year: 28 Feb is followed by 1 Mar.
    #[test]
    fn century_non_leap() {
        assert_eq!(fmt(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 GMT");
        assert_eq!(fmt(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
    }

    /// Year boundaries and the 2038 32-bit rollover format correctly.
    #[test]
    fn boundaries() {
        assert_eq!(fmt(946_684_799), "Fri, 31 Dec 1999 23:59:59 GMT");
        assert_eq!(fmt(2_147_483_648), "Tue, 19 Jan 2038 03:14:08 GMT");
    }

    /// Far-future times clamp to the last second of year 9999.
    #[test]
    fn clamps_far_future() {
        assert_eq!(fmt(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    /// Every day from 1970 to 2400 advances the civil date by exactly one day.
    #[test]
    fn civil_dates_are_contiguous() {
        let days_in = |y: u64, m: u64| match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut expected = (1970, 1, 1);
        for days in 0..157_000 {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            let (y, m, d) = expected;
            expected = if d < days_in(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    /// The cache reformats only when the second changes.
    #[test]
    fn cache_updates_per_second() {
        let mut cache = DateCache::new();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert!(cache.update(t));
        assert_eq!(cache.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(!cache.update(t + Duration::from_millis(999)));
        assert!(cache.update(t + Duration::from_secs(1)));
        assert_eq!(cache.as_bytes(), b"Sun, 06 Nov 1994 08:49:38 GMT");
    }

    /// Times before the epoch format as the epoch.
    #[test]
    fn before_epoch() {
        let mut cache = DateCache::new();
        cache.update(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(cache.as_bytes(), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }
}

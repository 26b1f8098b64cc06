//! Validators and conditional requests (RFC 9110 §8.8 and §13): HTTP dates, entity tags, and
//! the order in which `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since`
//! and `If-Range` are evaluated.
//!
//! Tested by: src/static_files/conditional.rs (unit tests), reactor_tests/static_files/

use crate::http::date::{IMF_FIXDATE_LEN, format_imf_fixdate};

/// What a file's validators are: its modification second and its entity tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Validators {
    /// Whole seconds since the epoch of the last modification.
    pub(crate) modified: u64,
    /// A strong entity tag, quotes included.
    pub(crate) etag: String,
}

impl Validators {
    /// Validators of a file modified at `secs`.`nanos` with `size` bytes; `variant` names a
    /// precompressed sibling (so each encoding has its own tag).
    pub(crate) fn new(secs: u64, nanos: u32, size: u64, variant: Option<&str>) -> Validators {
        // `"secs.nanos-size[-variant]"`, in hex; written by hand, as this runs for every file
        // served and the formatting machinery costs several times more.
        let mut text = [0; 2 + 16 + 1 + 8 + 1 + 16];
        let mut at = 0;
        text[at] = b'"';
        at += 1;
        at += put_hex(&mut text[at..], secs);
        text[at] = b'.';
        at += 1;
        at += put_hex(&mut text[at..], u64::from(nanos));
        text[at] = b'-';
        at += 1;
        at += put_hex(&mut text[at..], size);
        let mut etag = String::with_capacity(at + 1 + variant.map_or(0, |v| v.len() + 1));
        // Only ASCII was written.
        etag.push_str(std::str::from_utf8(&text[..at]).unwrap_or_default());
        if let Some(variant) = variant {
            etag.push('-');
            etag.push_str(variant);
        }
        etag.push('"');
        Validators {
            modified: secs,
            etag,
        }
    }

    /// The `Last-Modified` value.
    pub(crate) fn last_modified(&self) -> [u8; IMF_FIXDATE_LEN] {
        let mut text = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(self.modified, &mut text);
        text
    }
}

/// Writes `value` in lower-case hex without leading zeros (`0` for zero) at the start of
/// `out`, which has room for 16 digits; returns how many digits.
fn put_hex(out: &mut [u8], value: u64) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let count = (64 - value.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, digit) in out[..count].iter_mut().enumerate() {
        let shift = 4 * (count - 1 - i);
        *digit = DIGITS[((value >> shift) & 0xf) as usize];
    }
    count
}

/// The outcome of the preconditions of a GET or HEAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve the representation.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// The request fields that make a request conditional.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Conditions<'a> {
    pub(crate) if_match: Option<&'a [u8]>,
    pub(crate) if_unmodified_since: Option<&'a [u8]>,
    pub(crate) if_none_match: Option<&'a [u8]>,
    pub(crate) if_modified_since: Option<&'a [u8]>,
}

/// Evaluates the preconditions in RFC 9110 §13.2.2's order (for GET and HEAD).
pub(crate) fn evaluate(conditions: &Conditions<'_>, validators: &Validators) -> Precondition {
    if let Some(field) = conditions.if_match {
        if !tag_list_matches(field, &validators.etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(since) = conditions.if_unmodified_since.and_then(parse_http_date) {
        if validators.modified > since {
            return Precondition::Failed;
        }
    }
    if let Some(field) = conditions.if_none_match {
        if tag_list_matches(field, &validators.etag, false) {
            return Precondition::NotModified;
        }
    } else if let Some(since) = conditions.if_modified_since.and_then(parse_http_date) {
        if validators.modified <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// Whether an `If-Range` value still names this representation: a strong tag equal to ours,
/// or a date equal to `Last-Modified` (RFC 9110 §13.1.5). Weak tags never match.
pub(crate) fn if_range_holds(field: &[u8], validators: &Validators) -> bool {
    let field = trim(field);
    if field.starts_with(b"\"") || field.starts_with(b"W/") {
        return field == validators.etag.as_bytes();
    }
    parse_http_date(field) == Some(validators.modified)
}

/// Whether a comma-separated list of entity tags (or `*`) matches `etag`. The strong
/// comparison (for `If-Match`) refuses weak tags; the weak one ignores the `W/` prefix.
fn tag_list_matches(field: &[u8], etag: &str, strong: bool) -> bool {
    if trim(field) == b"*" {
        return true;
    }
    let ours = etag.as_bytes();
    field.split(|&b| b == b',').map(trim).any(|tag| {
        let (weak, opaque) = match tag.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        opaque == ours && !(strong && weak)
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Parses an HTTP date in any of the three formats RFC 9110 §5.6.7 requires recipients to
/// accept (IMF-fixdate, RFC 850, asctime); `None` when it is none of them.
pub(crate) fn parse_http_date(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(trim(text)).ok()?;
    let (_, rest) = text.split_once(' ')?;
    let words: Vec<&str> = rest.split([' ', '-']).filter(|w| !w.is_empty()).collect();
    let (day, month, year, time) = match words.as_slice() {
        // IMF-fixdate: "06 Nov 1994 08:49:37 GMT"; RFC 850: "06-Nov-94 08:49:37 GMT".
        [day, month, year, time, "GMT"] => (*day, *month, *year, *time),
        // asctime: "Nov  6 08:49:37 1994".
        [month, day, time, year] => (*day, *month, *year, *time),
        _ => return None,
    };
    let month = MONTHS.iter().position(|m| m == &month.as_bytes())? as u32 + 1;
    let day: u32 = number(day)?;
    let mut year: i64 = number(year)?;
    if year < 100 {
        // RFC 850's two-digit year: the nearest century that is not more than 50 years ahead.
        year += if year < 70 { 2000 } else { 1900 };
    }
    let mut clock = time.split(':');
    let hour: u64 = number(clock.next()?)?;
    let minute: u64 = number(clock.next()?)?;
    let second: u64 = number(clock.next()?)?;
    if clock.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days
        .checked_mul(86_400)?
        .checked_add((hour * 3600 + minute * 60 + second) as i64)?;
    u64::try_from(secs).ok()
}

fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats seconds since the epoch as an IMF-fixdate.
    fn http_date(secs: u64) -> String {
        let mut text = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(secs, &mut text);
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Entity tags are the modification time, size and variant in hex, quoted.
    #[test]
    fn entity_tag_format() {
        assert_eq!(Validators::new(0, 0, 0, None).etag, "\"0.0-0\"");
        assert_eq!(
            Validators::new(0x6543_21ff, 0x3b9a_c9ff, u64::MAX, Some("gzip")).etag,
            "\"654321ff.3b9ac9ff-ffffffffffffffff-gzip\""
        );
        assert_eq!(
            Validators::new(0x10, 1, 1024, None).last_modified(),
            *b"Thu, 01 Jan 1970 00:00:16 GMT"
        );
    }

    /// The three date formats parse to the same instant, and formatting round-trips.
    #[test]
    fn dates_in_three_formats() {
        let expected = Some(784_111_777);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), expected);
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(b"yesterday"), None);
        assert_eq!(parse_http_date(b"Sun, 32 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 PST"), None);
    }

    fn validators() -> Validators {
        Validators::new(1000, 5, 42, None)
    }

    /// If-None-Match wins over If-Modified-Since, and weak tags match it.
    #[test]
    fn none_match_before_modified_since() {
        let v = validators();
        let weak = format!("W/{}", v.etag);
        let c = Conditions {
            if_none_match: Some(weak.as_bytes()),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&c, &v), Precondition::NotModified);
        let old = http_date(10);
        let c = Conditions {
            if_none_match: Some(b"\"other\""),
            if_modified_since: Some(old.as_bytes()),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&c, &v), Precondition::Proceed);
        let now = http_date(1000);
        let c = Conditions {
            if_modified_since: Some(now.as_bytes()),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&c, &v), Precondition::NotModified);
    }

    /// If-Match needs a strong match; If-Unmodified-Since fails for newer files.
    #[test]
    fn match_and_unmodified_since() {
        let v = validators();
        let weak = format!("W/{}", v.etag);
        let c = Conditions {
            if_match: Some(weak.as_bytes()),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&c, &v), Precondition::Failed);
        let list = format!("\"x\", {}", v.etag);
        let c = Conditions {
            if_match: Some(list.as_bytes()),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&c, &v), Precondition::Proceed);
        let before = http_date(999);
        let c = Conditions {
            if_unmodified_since: Some(before.as_bytes()),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&c, &v), Precondition::Failed);
    }

    /// If-Range holds for our strong tag or our exact date, never for a weak tag.
    #[test]
    fn if_range() {
        let v = validators();
        assert!(if_range_holds(v.etag.as_bytes(), &v));
        assert!(!if_range_holds(format!("W/{}", v.etag).as_bytes(), &v));
        assert!(if_range_holds(http_date(1000).as_bytes(), &v));
        assert!(!if_range_holds(http_date(1001).as_bytes(), &v));
    }
}

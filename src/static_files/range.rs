//! `Range: bytes=…` (RFC 9110 §14): parsing byte-range sets and resolving them against a
//! file's size.
//!
//! Tested by: src/static_files/range.rs (unit tests), reactor_tests/static_files/

/// More ranges than this in one request are ignored (the whole file is sent): a long list of
/// tiny or overlapping ranges costs the server far more than the bytes are worth.
pub(crate) const MAX_RANGES: usize = 64;

/// One satisfiable range: `start..start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub(crate) start: u64,
    pub(crate) len: u64,
}

impl ByteRange {
    /// The `Content-Range` value for this range of a `size`-byte file.
    pub(crate) fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.start + self.len - 1)
    }
}

/// What to do with a `Range` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// Ignore it and send the whole file (not bytes, malformed, or too many ranges).
    Whole,
    /// Send these ranges, in the order asked.
    Partial(Vec<ByteRange>),
    /// `416 Range Not Satisfiable`.
    Unsatisfiable,
}

/// Resolves a `Range` value against a file of `size` bytes.
pub(crate) fn resolve(field: &[u8], size: u64) -> RangeAnswer {
    let Some(specs) = parse(field) else {
        return RangeAnswer::Whole;
    };
    if specs.len() > MAX_RANGES {
        return RangeAnswer::Whole;
    }
    let ranges: Vec<ByteRange> = specs.iter().filter_map(|spec| spec.within(size)).collect();
    let total = ranges.iter().fold(0u64, |sum, r| sum.saturating_add(r.len));
    if ranges.is_empty() {
        RangeAnswer::Unsatisfiable
    } else if ranges.len() > 1 && total > size {
        // Overlapping ranges asking for more than the file: send the file once instead.
        RangeAnswer::Whole
    } else {
        RangeAnswer::Partial(ranges)
    }
}

#[derive(Clone, Copy, Debug)]
enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-suffix`: the last `suffix` bytes.
    Suffix(u64),
}

impl Spec {
    fn within(self, size: u64) -> Option<ByteRange> {
        match self {
            Spec::From { first, last } => {
                if first >= size {
                    return None;
                }
                let end = last.map_or(size - 1, |last| last.min(size - 1));
                Some(ByteRange {
                    start: first,
                    len: end - first + 1,
                })
            }
            Spec::Suffix(0) => None,
            Spec::Suffix(suffix) => {
                let len = suffix.min(size);
                (len > 0).then(|| ByteRange {
                    start: size - len,
                    len,
                })
            }
        }
    }
}

/// The specs of a `bytes=` range set; `None` if anything is malformed.
fn parse(field: &[u8]) -> Option<Vec<Spec>> {
    let field = field.trim_ascii();
    let (unit, set) = field.split_at(field.iter().position(|&b| b == b'=')?);
    if !unit.trim_ascii().eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for spec in set[1..].split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        if spec.is_empty() {
            continue;
        }
        let dash = spec.iter().position(|&b| b == b'-')?;
        let (first, last) = (&spec[..dash], &spec[dash + 1..]);
        specs.push(match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => Spec::Suffix(number(last)?),
            (false, true) => Spec::From {
                first: number(first)?,
                last: None,
            },
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                if last < first {
                    return None;
                }
                Spec::From {
                    first,
                    last: Some(last),
                }
            }
        });
        if specs.len() > MAX_RANGES {
            break;
        }
    }
    (!specs.is_empty()).then_some(specs)
}

fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, len: u64) -> ByteRange {
        ByteRange { start, len }
    }

    /// Closed, open and suffix ranges resolve against the size, clamped at its end.
    #[test]
    fn forms() {
        assert_eq!(
            resolve(b"bytes=0-9", 100),
            RangeAnswer::Partial(vec![r(0, 10)])
        );
        assert_eq!(
            resolve(b"bytes=90-", 100),
            RangeAnswer::Partial(vec![r(90, 10)])
        );
        assert_eq!(
            resolve(b"bytes=-5", 100),
            RangeAnswer::Partial(vec![r(95, 5)])
        );
        assert_eq!(
            resolve(b"bytes=-500", 100),
            RangeAnswer::Partial(vec![r(0, 100)])
        );
        assert_eq!(
            resolve(b"bytes=50-500", 100),
            RangeAnswer::Partial(vec![r(50, 50)])
        );
        assert_eq!(
            resolve(b"Bytes = 0-0, ,-1", 100),
            RangeAnswer::Partial(vec![r(0, 1), r(99, 1)])
        );
    }

    /// Malformed sets are ignored; sets with nothing satisfiable are unsatisfiable.
    #[test]
    fn malformed_and_unsatisfiable() {
        for bad in [
            &b"items=0-1"[..],
            b"bytes=",
            b"bytes=5-1",
            b"bytes=a-b",
            b"bytes=-",
            b"0-1",
        ] {
            assert_eq!(resolve(bad, 100), RangeAnswer::Whole, "{bad:?}");
        }
        assert_eq!(resolve(b"bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(resolve(b"bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(resolve(b"bytes=0-", 0), RangeAnswer::Unsatisfiable);
        assert_eq!(
            resolve(b"bytes=200-300,0-1", 100),
            RangeAnswer::Partial(vec![r(0, 2)])
        );
    }

    /// Too many ranges, or overlapping ones adding up past the size, send the whole file.
    #[test]
    fn abusive_sets_ignored() {
        let many: Vec<String> = (0..=MAX_RANGES).map(|i| format!("{i}-{i}")).collect();
        let field = format!("bytes={}", many.join(","));
        assert_eq!(resolve(field.as_bytes(), 1000), RangeAnswer::Whole);
        assert_eq!(resolve(b"bytes=0-99,0-99", 100), RangeAnswer::Whole);
    }
}

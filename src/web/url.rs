//! Percent-decoding of path segments and query strings.
//!
//! Tested by: reactor_tests/web.rs

use super::Args;

/// Decodes `%XX` escapes; malformed escapes are kept as they are (as
/// Python's `unquote` does).
pub fn unquote(input: &[u8]) -> Vec<u8> {
    decode(input, false)
}

/// Parses an `application/x-www-form-urlencoded` query into [`Args`]:
/// `&`-separated fields, `+` meaning space, blank values kept (a field
/// without `=` has an empty value), empty fields skipped.
pub fn parse_query(query: &[u8]) -> Args {
    let mut args = Args::default();
    for field in query.split(|&b| b == b'&') {
        if field.is_empty() {
            continue;
        }
        let (name, value) = match field.iter().position(|&b| b == b'=') {
            Some(eq) => (&field[..eq], &field[eq + 1..]),
            None => (field, &[][..]),
        };
        args.push(decode(name, true), decode(value, true));
    }
    args
}

fn decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&byte) = input.get(i) {
        let escaped = match (byte, input.get(i + 1), input.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                i += 1;
            }
        }
    }
    out
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

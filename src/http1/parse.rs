//! Incremental request-head parsing: request line and field lines.
//!
//! The parser walks the head line by line with `memchr`, validating each
//! line as soon as its LF arrives, so errors are found in wire order and the
//! result does not depend on how the input was split. Limits are checked on
//! partial lines with the same arithmetic as on complete ones, for the same
//! reason. Field spans are recorded relative to the request line; the
//! finished head is copied once into the [`RequestHead`]'s buffer.
//!
//! Strictness (RFC 9112 §2.2, §3, §5): lines must end in CRLF (bare LF and
//! bare CR are rejected), fields may not be folded, field names must be
//! tokens immediately followed by `:`, values may not contain control bytes
//! other than HTAB. Empty lines before the request line are skipped.
//!
//! Tested by: src/http1/parse.rs (unit tests) and conformance/http1.rs

use memchr::memchr;

use super::Config;
use super::error::ProtocolError;
use crate::http::{Entry, Headers, Method, RequestHead, Span, TOKEN, Version};

/// Result of feeding bytes to the [`HeadParser`].
#[derive(Debug)]
pub(crate) enum HeadProgress {
    /// The head is not complete yet; call again with more bytes.
    Partial,
    /// The head ended after `len` bytes of the buffer.
    Complete {
        /// The parsed head.
        head: RequestHead,
        /// Bytes of the buffer the head occupied (leading empty lines included).
        len: usize,
    },
}

/// The parsed request line; `target` is relative to the request line start.
#[derive(Debug)]
struct RequestLine {
    method: Method,
    target: Span,
    version: Version,
}

/// Incremental head parser; offsets are relative to the start of the
/// buffer, which must begin at the same byte on every call until the head
/// completes (the buffer may only grow).
#[derive(Debug, Default)]
pub(crate) struct HeadParser {
    next_line: usize,
    searched: usize,
    request_start: usize,
    request_line: Option<RequestLine>,
    entries: Vec<Entry>,
    /// An emptied header set whose room the next head reuses.
    pub(crate) spare: Headers,
}

impl HeadParser {
    /// Forgets any partial head.
    pub(crate) fn reset(&mut self) {
        self.next_line = 0;
        self.searched = 0;
        self.request_start = 0;
        self.request_line = None;
        self.entries.clear();
    }

    /// Scans `buf` (everything received since the head began) for the end of the head.
    pub(crate) fn advance(
        &mut self,
        buf: &[u8],
        config: &Config,
    ) -> Result<HeadProgress, ProtocolError> {
        loop {
            let from = self.searched.max(self.next_line);
            let Some(offset) = memchr(b'\n', buf.get(from..).unwrap_or_default()) else {
                self.searched = buf.len();
                self.check_size(buf.len().saturating_sub(self.next_line), config)?;
                return Ok(HeadProgress::Partial);
            };
            let lf = from + offset;
            self.check_size(lf - self.next_line, config)?;
            let line_start = self.next_line;
            self.next_line = lf + 1;
            let line = strip_cr(&buf[line_start..lf])?;
            if let Some(head) = self.on_line(buf, line, line_start, config)? {
                let len = self.next_line;
                self.reset();
                return Ok(HeadProgress::Complete { head, len });
            }
        }
    }

    /// Applies the size limits to the current line, `line_len` bytes long so far.
    ///
    /// The error is the one whose threshold the growing line crosses first,
    /// so it is the same whether the line is seen whole or piecemeal.
    fn check_size(&self, line_len: usize, config: &Config) -> Result<(), ProtocolError> {
        let head_room = config.max_head_size.saturating_sub(self.next_line);
        let line_room = if self.request_line.is_none() {
            config.max_request_line
        } else {
            usize::MAX
        };
        if line_len <= head_room.min(line_room) {
            return Ok(());
        }
        Err(if line_room <= head_room {
            ProtocolError::RequestLineTooLong
        } else {
            ProtocolError::HeadTooLarge
        })
    }

    /// Handles one complete line (CRLF removed); returns the head after its final empty line.
    fn on_line(
        &mut self,
        buf: &[u8],
        line: &[u8],
        line_start: usize,
        config: &Config,
    ) -> Result<Option<RequestHead>, ProtocolError> {
        if self.request_line.is_none() {
            if line.is_empty() {
                self.request_start = self.next_line;
            } else {
                self.request_line = Some(parse_request_line(line).map_err(|e| refine_cr(e, line))?);
            }
            return Ok(None);
        }
        if line.is_empty() {
            return Ok(self.request_line.take().map(|rl| self.build(buf, rl)));
        }
        if self.entries.len() >= config.max_headers {
            return Err(ProtocolError::TooManyHeaders);
        }
        let entry = parse_field_line(line).map_err(|e| refine_cr(e, line))?;
        if self.entries.capacity() == 0 {
            self.entries.reserve(16);
        }
        let base = line_start - self.request_start;
        self.entries.push(Entry {
            name: entry.name.shift(base),
            value: entry.value.shift(base),
        });
        Ok(None)
    }

    /// Copies the head out of `buf` into its own buffer (one allocation for
    /// the bytes, one for the field index, unless a spare set has the room).
    fn build(&mut self, buf: &[u8], line: RequestLine) -> RequestHead {
        let raw = buf
            .get(self.request_start..self.next_line)
            .unwrap_or_default();
        let mut headers = std::mem::take(&mut self.spare);
        headers.refill(raw, &self.entries);
        RequestHead::from_parsed(line.method, line.target, line.version, headers)
    }
}

/// Removes the CR of a CRLF ending; a line ending in bare LF is an error.
fn strip_cr(line: &[u8]) -> Result<&[u8], ProtocolError> {
    match line.split_last() {
        Some((b'\r', rest)) => Ok(rest),
        _ => Err(ProtocolError::BareLineFeed),
    }
}

/// Reports a 400 on a line that contains a stray CR as the bare CR it is.
fn refine_cr(error: ProtocolError, line: &[u8]) -> ProtocolError {
    let is_400 = error.status().as_u16() == 400;
    if is_400 && memchr(b'\r', line).is_some() {
        ProtocolError::BareCarriageReturn
    } else {
        error
    }
}

/// Parses `method SP request-target SP HTTP-version` (exactly single spaces).
fn parse_request_line(line: &[u8]) -> Result<RequestLine, ProtocolError> {
    let sp1 = memchr(b' ', line).ok_or(ProtocolError::MalformedRequestLine)?;
    if sp1 == 0 {
        return Err(ProtocolError::MalformedRequestLine);
    }
    let method = Method::from_bytes(&line[..sp1]).ok_or(ProtocolError::InvalidMethod)?;
    let target_start = sp1 + 1;
    let sp2 = memchr(b' ', &line[target_start..]).ok_or(ProtocolError::MalformedRequestLine)?
        + target_start;
    let version = parse_version(&line[sp2 + 1..])?;
    validate_target(&method, &line[target_start..sp2])?;
    Ok(RequestLine {
        method,
        target: Span::new(target_start, sp2),
        version,
    })
}

/// `HTTP/1.0` and `HTTP/1.1`; higher 1.x minors are treated as 1.1 (RFC 9110 §6.2).
pub(crate) fn parse_version(v: &[u8]) -> Result<Version, ProtocolError> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Ok(Version::Http10),
                (b'1', _) => Ok(Version::Http11),
                _ => Err(ProtocolError::UnsupportedVersion),
            }
        }
        _ => Err(ProtocolError::MalformedVersion),
    }
}

/// Checks the target's bytes and that its form suits the method (RFC 9112 §3.2).
fn validate_target(method: &Method, target: &[u8]) -> Result<(), ProtocolError> {
    let valid_bytes = !target.is_empty() && !has_control_or_space(target);
    let valid_form = match target {
        _ if *method == Method::Connect => is_authority_form(target),
        b"*" => *method == Method::Options,
        [b'/', ..] => true,
        _ => is_absolute_form(target),
    };
    if valid_bytes && valid_form {
        Ok(())
    } else {
        Err(ProtocolError::InvalidTarget)
    }
}

/// `host:port` without path, query or userinfo.
fn is_authority_form(target: &[u8]) -> bool {
    !target.is_empty()
        && !target
            .iter()
            .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@'))
}

/// `scheme ":" ...` with a well-formed scheme.
fn is_absolute_form(target: &[u8]) -> bool {
    let Some(colon) = memchr(b':', target) else {
        return false;
    };
    let scheme = &target[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A field line split into name and OWS-trimmed value, spans relative to the line.
pub(crate) fn parse_field_line(line: &[u8]) -> Result<Entry, ProtocolError> {
    let mut name_len = 0;
    while name_len < line.len() && is_tchar(line[name_len]) {
        name_len += 1;
    }
    if line.get(name_len) != Some(&b':') || name_len == 0 {
        return Err(field_line_error(line));
    }
    let value = trim_ows(Span::new(name_len + 1, line.len()), line);
    if !is_field_value(value.of(line)) {
        return Err(ProtocolError::InvalidHeaderValue);
    }
    Ok(Entry {
        name: Span::new(0, name_len),
        value,
    })
}

/// Classifies a field line whose name is not a token directly followed by `:`.
#[cold]
fn field_line_error(line: &[u8]) -> ProtocolError {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return ProtocolError::ObsoleteLineFolding;
    }
    let Some(colon) = memchr(b':', line) else {
        return ProtocolError::MissingColon;
    };
    if matches!(line[..colon].last(), Some(b' ' | b'\t')) {
        ProtocolError::WhitespaceBeforeColon
    } else {
        ProtocolError::InvalidHeaderName
    }
}

/// Narrows `span` to exclude leading and trailing SP/HTAB.
pub(crate) fn trim_ows(mut span: Span, buf: &[u8]) -> Span {
    while span.start < span.end && matches!(buf[span.start], b' ' | b'\t') {
        span.start += 1;
    }
    while span.end > span.start && matches!(buf[span.end - 1], b' ' | b'\t') {
        span.end -= 1;
    }
    span
}

/// The slice without leading and trailing SP/HTAB.
pub(crate) fn trim_ows_slice(bytes: &[u8]) -> &[u8] {
    trim_ows(Span::new(0, bytes.len()), bytes).of(bytes)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// True if any byte of `x` is below `n` (exact for `n <= 128`).
const fn has_byte_below(x: u64, n: u8) -> bool {
    x.wrapping_sub(LO * n as u64) & !x & HI != 0
}

/// True if any byte of `x` equals `b`.
const fn has_byte(x: u64, b: u8) -> bool {
    let y = x ^ (LO * b as u64);
    y.wrapping_sub(LO) & !y & HI != 0
}

/// True if any byte is a control byte, SP or DEL (eight bytes at a time).
fn has_control_or_space(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut found = false;
    for word in words.by_ref() {
        let x = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        found |= has_byte_below(x, 0x21) || has_byte(x, 0x7f);
    }
    found || words.remainder().iter().any(|&b| b <= 0x20 || b == 0x7f)
}

/// True if `bytes` is a valid field value: no controls except HTAB, no DEL.
pub(crate) fn is_field_value(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in words.by_ref() {
        let x = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        if (has_byte_below(x, 0x20) || has_byte(x, 0x7f)) && !word.iter().all(|&b| is_field_byte(b))
        {
            return false;
        }
    }
    words.remainder().iter().all(|&b| is_field_byte(b))
}

/// HTAB, SP, VCHAR or obs-text.
const fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// True if `b` is a token character.
pub(crate) fn is_tchar(b: u8) -> bool {
    TOKEN[b as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<HeadProgress, ProtocolError> {
        HeadParser::default().advance(input, &Config::default())
    }

    fn head(input: &[u8]) -> RequestHead {
        match parse(input) {
            Ok(HeadProgress::Complete { head, .. }) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    /// A simple GET parses into method, target, version and ordered fields.
    #[test]
    fn parses_simple_get() {
        let h = head(b"GET /a?b HTTP/1.1\r\nHost: x\r\nAccept:  */* \r\n\r\n");
        assert_eq!(*h.method(), Method::Get);
        assert_eq!(h.target(), b"/a?b");
        assert_eq!(h.version(), Version::Http11);
        assert_eq!(h.headers().get("accept"), Some(&b"*/*"[..]));
        assert_eq!(h.headers().len(), 2);
    }

    /// A head parsed into a reused header set holds only its own target and fields.
    #[test]
    fn spare_header_set_keeps_nothing_old() {
        let mut spare = Headers::with_capacity(4, 256);
        spare.append("Stale", "field from an earlier request");
        let mut parser = HeadParser {
            spare,
            ..HeadParser::default()
        };
        let input = b"GET /new HTTP/1.1\r\nHost: x\r\n\r\n";
        let Ok(HeadProgress::Complete { head: h, .. }) = parser.advance(input, &Config::default())
        else {
            panic!("expected a complete head");
        };
        assert_eq!(h.target(), b"/new");
        assert_eq!(h.headers().len(), 1);
        assert_eq!(h.headers().get("host"), Some(&b"x"[..]));
        assert!(h.headers().get("stale").is_none());
        assert_eq!(parser.spare.capacity_bytes(), 0);
    }

    /// The reported head length covers exactly the head, not what follows.
    #[test]
    fn reports_head_length() {
        let input = b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
        match parse(input) {
            Ok(HeadProgress::Complete { len, head }) => {
                assert_eq!(len, input.len() - 4);
                assert_eq!(head.target(), b"/");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Feeding a head one byte at a time completes at the same point as feeding it whole.
    #[test]
    fn incremental_matches_whole() {
        let input = b"POST /x HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n";
        let mut parser = HeadParser::default();
        for end in 1..input.len() {
            assert!(matches!(
                parser.advance(&input[..end], &Config::default()),
                Ok(HeadProgress::Partial)
            ));
        }
        match parser.advance(input, &Config::default()) {
            Ok(HeadProgress::Complete { head, len }) => {
                assert_eq!(len, input.len());
                assert_eq!(head, self::head(input));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Versions: 1.0 and 1.1 accepted, 1.x treated as 1.1, other majors 505, junk 400.
    #[test]
    fn version_rules() {
        assert_eq!(parse_version(b"HTTP/1.0"), Ok(Version::Http10));
        assert_eq!(parse_version(b"HTTP/1.9"), Ok(Version::Http11));
        assert_eq!(
            parse_version(b"HTTP/2.0"),
            Err(ProtocolError::UnsupportedVersion)
        );
        assert_eq!(
            parse_version(b"HTTP/0.9"),
            Err(ProtocolError::UnsupportedVersion)
        );
        assert_eq!(
            parse_version(b"http/1.1"),
            Err(ProtocolError::MalformedVersion)
        );
        assert_eq!(
            parse_version(b"HTTP/1.10"),
            Err(ProtocolError::MalformedVersion)
        );
        assert_eq!(
            parse_version(b"HTTP/1"),
            Err(ProtocolError::MalformedVersion)
        );
    }

    /// Field values may hold HTAB and obs-text but no other control byte or DEL.
    #[test]
    fn field_value_bytes() {
        assert!(is_field_value(b"a\tb \x80\xff long value with spaces"));
        assert!(!is_field_value(b"abcdefgh\0"));
        assert!(!is_field_value(b"abcdefghijklmno\x7f"));
        assert!(!is_field_value(b"a\rb"));
        assert!(!is_field_value(b"\x01"));
        assert!(is_field_value(b"tab\tin the first word"));
    }

    /// Targets reject controls, SP and DEL anywhere, including after eight bytes.
    #[test]
    fn target_bytes() {
        assert!(!has_control_or_space(b"/abcdefghijkl\xe2\x82\xac"));
        assert!(has_control_or_space(b"/abcdefgh\x7f"));
        assert!(has_control_or_space(b"/abcdefg\x00"));
        assert!(has_control_or_space(b"/a\tb"));
    }

    /// Target forms: `*` only for OPTIONS, authority-form only for CONNECT.
    #[test]
    fn target_forms() {
        assert!(validate_target(&Method::Options, b"*").is_ok());
        assert!(validate_target(&Method::Get, b"*").is_err());
        assert!(validate_target(&Method::Connect, b"example.com:443").is_ok());
        assert!(validate_target(&Method::Connect, b"/x").is_err());
        assert!(validate_target(&Method::Get, b"http://a/b").is_ok());
        assert!(validate_target(&Method::Get, b"example.com:443").is_ok());
        assert!(validate_target(&Method::Get, b"1http://a").is_err());
        assert!(validate_target(&Method::Get, b"nocolon").is_err());
    }

    /// Field-line errors: folding, missing colon, empty or bad name, space before colon.
    #[test]
    fn field_line_errors() {
        assert_eq!(
            parse_field_line(b" folded").err(),
            Some(ProtocolError::ObsoleteLineFolding)
        );
        assert_eq!(
            parse_field_line(b"NoColon").err(),
            Some(ProtocolError::MissingColon)
        );
        assert_eq!(
            parse_field_line(b": v").err(),
            Some(ProtocolError::InvalidHeaderName)
        );
        assert_eq!(
            parse_field_line(b"Na me: v").err(),
            Some(ProtocolError::InvalidHeaderName)
        );
        assert_eq!(
            parse_field_line(b"Name : v").err(),
            Some(ProtocolError::WhitespaceBeforeColon)
        );
        assert_eq!(
            parse_field_line(b"Name\t: v").err(),
            Some(ProtocolError::WhitespaceBeforeColon)
        );
    }

    /// The request-line limit wins over the head limit when it is crossed first, and vice versa.
    #[test]
    fn limit_precedence() {
        let mut config = Config {
            max_request_line: 10,
            max_head_size: 20,
            ..Config::default()
        };
        let long = b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n";
        let whole = HeadParser::default().advance(long, &config).err();
        let partial = HeadParser::default().advance(&long[..12], &config).err();
        assert_eq!(whole, Some(ProtocolError::RequestLineTooLong));
        assert_eq!(partial, whole);
        config.max_request_line = 30;
        let whole = HeadParser::default().advance(long, &config).err();
        let partial = HeadParser::default().advance(&long[..22], &config).err();
        assert_eq!(whole, Some(ProtocolError::HeadTooLarge));
        assert_eq!(partial, whole);
    }
}

//! Request body decoding: fixed length and chunked (RFC 9112 §6.3, §7.1).
//!
//! The decoder never copies body bytes: each [`Step`] reports which range of
//! the input is body data, and the connection copies it once into the event.
//!
//! Chunked strictness: the size is `1*HEXDIG` immediately followed by `;` or
//! CRLF (no sign, no `0x`, no whitespace, no overflow); extensions must match
//! `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )` and are
//! bounded per line and per body; data must be followed by exactly CRLF;
//! trailers are field lines bounded in size and count.
//!
//! Tested by: src/http1/decode.rs (unit tests) and conformance/http1.rs

use std::ops::Range;

use memchr::memchr;

use super::Config;
use super::error::ProtocolError;
use super::parse::{is_tchar, parse_field_line};
use crate::http::Headers;

/// What one decoding step did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Step {
    /// Input bytes consumed (0 means more input is needed).
    pub(crate) consumed: usize,
    /// Body data inside the consumed bytes.
    pub(crate) data: Option<Range<usize>>,
    /// The body is complete.
    pub(crate) done: bool,
}

/// Decoder for one request body.
#[derive(Debug)]
pub(crate) enum BodyDecoder {
    /// `Content-Length` framing.
    Length { remaining: u64 },
    /// Chunked framing.
    Chunked(Chunked),
}

impl BodyDecoder {
    /// Decodes the next piece of `input`; call again while it consumes bytes.
    pub(crate) fn step(&mut self, input: &[u8], config: &Config) -> Result<Step, ProtocolError> {
        match self {
            BodyDecoder::Length { remaining } => Ok(take_data(remaining, input, 0)),
            BodyDecoder::Chunked(chunked) => chunked.step(input, config),
        }
    }

    /// Body bytes still expected, when known.
    pub(crate) fn known_remaining(&self) -> Option<u64> {
        match self {
            BodyDecoder::Length { remaining } => Some(*remaining),
            BodyDecoder::Chunked(_) => None,
        }
    }

    /// The trailers of a finished chunked body (empty otherwise).
    pub(crate) fn take_trailers(&mut self) -> Headers {
        match self {
            BodyDecoder::Length { .. } => Headers::new(),
            BodyDecoder::Chunked(chunked) => std::mem::take(&mut chunked.trailers),
        }
    }
}

/// Consumes up to `remaining` bytes of `input` as data, offset by `skip` already-consumed bytes.
fn take_data(remaining: &mut u64, input: &[u8], skip: usize) -> Step {
    let n = usize::try_from(*remaining)
        .unwrap_or(usize::MAX)
        .min(input.len());
    *remaining -= n as u64;
    let data = (n > 0).then(|| skip..skip + n);
    Step {
        consumed: n,
        data,
        done: *remaining == 0,
    }
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading trailer field lines after the last chunk.
    Trailers,
}

/// Chunked body decoder.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: ChunkState,
    extension_bytes: usize,
    trailer_bytes: usize,
    trailers: Headers,
}

impl Chunked {
    /// A decoder positioned before the first chunk-size line.
    pub(crate) fn new() -> Chunked {
        Chunked {
            state: ChunkState::Size,
            extension_bytes: 0,
            trailer_bytes: 0,
            trailers: Headers::new(),
        }
    }

    fn step(&mut self, input: &[u8], config: &Config) -> Result<Step, ProtocolError> {
        match self.state {
            ChunkState::Size => self.size_line(input, config),
            ChunkState::Data { mut remaining } => {
                let step = take_data(&mut remaining, input, 0);
                self.state = if remaining == 0 {
                    ChunkState::DataEnd
                } else {
                    ChunkState::Data { remaining }
                };
                Ok(Step {
                    done: false,
                    ..step
                })
            }
            ChunkState::DataEnd => self.data_end(input),
            ChunkState::Trailers => self.trailer_line(input, config),
        }
    }

    fn size_line(&mut self, input: &[u8], config: &Config) -> Result<Step, ProtocolError> {
        let Some(lf) = complete_line(
            input,
            config.max_chunk_line,
            ProtocolError::ChunkLineTooLong,
        )?
        else {
            return Ok(Step::default());
        };
        let line = strip_cr(&input[..lf])?;
        let (size, extensions) = parse_size_line(line)?;
        self.extension_bytes += extensions;
        if self.extension_bytes > config.max_chunk_extensions {
            return Err(ProtocolError::ChunkExtensionsTooLong);
        }
        self.state = if size == 0 {
            ChunkState::Trailers
        } else {
            ChunkState::Data { remaining: size }
        };
        Ok(Step {
            consumed: lf + 1,
            ..Step::default()
        })
    }

    fn data_end(&mut self, input: &[u8]) -> Result<Step, ProtocolError> {
        match input {
            [] | [b'\r'] => Ok(Step::default()),
            [b'\r', b'\n', ..] => {
                self.state = ChunkState::Size;
                Ok(Step {
                    consumed: 2,
                    ..Step::default()
                })
            }
            _ => Err(ProtocolError::MissingChunkTerminator),
        }
    }

    fn trailer_line(&mut self, input: &[u8], config: &Config) -> Result<Step, ProtocolError> {
        let room = config.max_trailer_size.saturating_sub(self.trailer_bytes);
        let Some(lf) = complete_line(input, room, ProtocolError::TrailersTooLarge)? else {
            return Ok(Step::default());
        };
        let line = strip_cr(&input[..lf])?;
        self.trailer_bytes += lf + 1;
        if line.is_empty() {
            return Ok(Step {
                consumed: lf + 1,
                data: None,
                done: true,
            });
        }
        if self.trailers.len() >= config.max_trailers {
            return Err(ProtocolError::TooManyTrailers);
        }
        let entry = parse_field_line(line)?;
        self.trailers
            .append(entry.name.of(line), entry.value.of(line));
        Ok(Step {
            consumed: lf + 1,
            ..Step::default()
        })
    }
}

/// Finds the LF ending the line at the start of `input`, enforcing that the
/// line (CR included, LF excluded) is at most `limit` bytes whether or not
/// it is complete yet.
fn complete_line(
    input: &[u8],
    limit: usize,
    too_long: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    let lf = memchr(b'\n', input);
    if lf.unwrap_or(input.len()) > limit {
        return Err(too_long);
    }
    Ok(lf)
}

fn strip_cr(line: &[u8]) -> Result<&[u8], ProtocolError> {
    match line.split_last() {
        Some((b'\r', rest)) => Ok(rest),
        _ => Err(ProtocolError::BareLineFeed),
    }
}

/// Parses `chunk-size [ chunk-ext ]`; returns the size and the extension length.
fn parse_size_line(line: &[u8]) -> Result<(u64, usize), ProtocolError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ProtocolError::InvalidChunkSize);
    }
    let size = line[..digits]
        .iter()
        .try_fold(0u64, |n, &b| {
            n.checked_mul(16)?.checked_add(u64::from(hex_value(b)))
        })
        .ok_or(ProtocolError::InvalidChunkSize)?;
    let extensions = &line[digits..];
    match extensions.first() {
        None => Ok((size, 0)),
        Some(b';') if valid_extensions(extensions) => Ok((size, extensions.len())),
        Some(b';') => Err(ProtocolError::InvalidChunkExtension),
        Some(_) => Err(ProtocolError::InvalidChunkSize),
    }
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// Validates `*( BWS ";" BWS name [ BWS "=" BWS value ] )`.
fn valid_extensions(ext: &[u8]) -> bool {
    let mut cursor = Cursor { bytes: ext, pos: 0 };
    while cursor.skip_ws() {
        if !(cursor.eat(b';') && cursor.skip_ws() && cursor.token()) {
            return false;
        }
        let before_ws = cursor.pos;
        cursor.skip_ws();
        if cursor.eat(b'=') {
            cursor.skip_ws();
            if !(cursor.token() || cursor.quoted_string()) {
                return false;
            }
        } else {
            cursor.pos = before_ws;
        }
    }
    true
}

/// A tiny scanner over an extension string.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// Skips SP/HTAB; returns true if input remains.
    fn skip_ws(&mut self) -> bool {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos < self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// Consumes a non-empty token.
    fn token(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `"` *( qdtext / quoted-pair ) `"`.
    fn quoted_string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return true,
                b'\\' => match self.peek() {
                    Some(escaped)
                        if is_qtext_or_ws(escaped) || escaped == b'"' || escaped == b'\\' =>
                    {
                        self.pos += 1
                    }
                    _ => return false,
                },
                _ if is_qtext_or_ws(b) => {}
                _ => return false,
            }
        }
        false
    }
}

/// qdtext: HTAB, SP, visible ASCII except `"` and `\`, obs-text.
fn is_qtext_or_ws(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` whole; returns the body and trailers, or the error.
    fn decode(input: &[u8]) -> Result<(Vec<u8>, Headers, usize), ProtocolError> {
        let config = Config::default();
        let mut decoder = BodyDecoder::Chunked(Chunked::new());
        let (mut pos, mut body) = (0, Vec::new());
        loop {
            let step = decoder.step(&input[pos..], &config)?;
            if let Some(range) = step.data {
                body.extend_from_slice(&input[pos + range.start..pos + range.end]);
            }
            pos += step.consumed;
            if step.done {
                return Ok((body, decoder.take_trailers(), pos));
            }
            assert!(step.consumed > 0, "stalled on complete input {input:?}");
        }
    }

    /// Chunks concatenate, the decoder stops right after the final CRLF, trailers are kept.
    #[test]
    fn chunks_and_trailers() {
        let input = b"5\r\nhello\r\n6;a=b;c=\"q \\\" x\"\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (body, trailers, end) = decode(input).expect("valid");
        assert_eq!(body, b"hello world");
        assert_eq!(trailers.get("x-t"), Some(&b"1"[..]));
        assert_eq!(end, input.len() - 4);
    }

    /// Chunk sizes are plain hex: no sign, prefix, whitespace or overflow.
    #[test]
    fn invalid_sizes() {
        for bad in ["0x5", "-5", "+5", " 5", "5 ", "", "g", "10000000000000000"] {
            assert_eq!(
                parse_size_line(bad.as_bytes()).err(),
                Some(ProtocolError::InvalidChunkSize),
                "{bad}"
            );
        }
        assert_eq!(
            parse_size_line(b"fFfFfFfFfFfFfFfF").map(|s| s.0),
            Ok(u64::MAX)
        );
        assert_eq!(
            parse_size_line(b"0000000000000000000000a").map(|s| s.0),
            Ok(10)
        );
    }

    /// Extensions follow the RFC grammar; malformed ones are rejected.
    #[test]
    fn extension_grammar() {
        for good in [";a", ";a=b", "; a = b ; c", ";a=\"x;y\"", ";a=\"\\\"\""] {
            assert!(valid_extensions(good.as_bytes()), "{good}");
        }
        for bad in [
            ";",
            ";=b",
            ";a=",
            ";a=\"open",
            ";a b",
            ";a=b c",
            ";a=\"\x01\"",
        ] {
            assert!(!valid_extensions(bad.as_bytes()), "{bad}");
        }
    }

    /// Data not followed by CRLF is rejected, including a bare CR.
    #[test]
    fn missing_data_terminator() {
        assert_eq!(
            decode(b"3\r\nabcX").err(),
            Some(ProtocolError::MissingChunkTerminator)
        );
        assert_eq!(
            decode(b"3\r\nabc\r\r\n").err(),
            Some(ProtocolError::MissingChunkTerminator)
        );
        assert_eq!(
            decode(b"3\r\nabc\n0\r\n\r\n").err(),
            Some(ProtocolError::MissingChunkTerminator)
        );
    }

    /// Size lines ending in a bare LF are rejected.
    #[test]
    fn bare_lf_size_line() {
        assert_eq!(
            decode(b"3\nabc\r\n0\r\n\r\n").err(),
            Some(ProtocolError::BareLineFeed)
        );
    }

    /// Over-long size lines are rejected before their LF arrives.
    #[test]
    fn size_line_limit_on_partial_input() {
        let config = Config::default();
        let mut decoder = BodyDecoder::Chunked(Chunked::new());
        let long = vec![b'0'; config.max_chunk_line + 1];
        assert_eq!(
            decoder.step(&long, &config).err(),
            Some(ProtocolError::ChunkLineTooLong)
        );
    }

    /// Total extension bytes per body are bounded.
    #[test]
    fn extension_budget() {
        let mut input = Vec::new();
        for _ in 0..400 {
            input.extend_from_slice(
                b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n",
            );
        }
        input.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            decode(&input).err(),
            Some(ProtocolError::ChunkExtensionsTooLong)
        );
    }

    /// Trailer size and count are bounded.
    #[test]
    fn trailer_limits() {
        let mut many = b"0\r\n".to_vec();
        for i in 0..40 {
            many.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(decode(&many).err(), Some(ProtocolError::TooManyTrailers));
        let big = [&b"0\r\nT: "[..], &vec![b'v'; 20_000], b"\r\n\r\n"].concat();
        assert_eq!(decode(&big).err(), Some(ProtocolError::TrailersTooLarge));
    }

    /// A fixed-length decoder hands out exactly the declared bytes.
    #[test]
    fn fixed_length() {
        let mut decoder = BodyDecoder::Length { remaining: 5 };
        let step = decoder
            .step(b"abc", &Config::default())
            .expect("infallible");
        assert_eq!(
            step,
            Step {
                consumed: 3,
                data: Some(0..3),
                done: false
            }
        );
        let step = decoder
            .step(b"deNEXT", &Config::default())
            .expect("infallible");
        assert_eq!(
            step,
            Step {
                consumed: 2,
                data: Some(0..2),
                done: true
            }
        );
    }
}

//! An incremental HTTP/1.1 response reader for a client with one request in flight.
//!
//! It reads the status line and the header fields up to the blank line, then frames the body
//! by `Content-Length` or by the `chunked` transfer coding (decoded, extensions and trailers
//! skipped). A body delimited by the server closing the connection is refused: a keep-alive
//! benchmark cannot tell it apart from a server that fails. Interim (1xx) responses are
//! skipped. Nothing is allocated per response: a head split across reads is carried in one
//! buffer that keeps its capacity.

use std::fmt;
/// The longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// What a piece of input completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// The response is not complete yet.
    Incomplete,
    /// The response ended with the last byte given.
    Complete {
        /// The status code.
        status: u16,
        /// Whether the server closes the connection after this response.
        close: bool,
    },
}

/// Why a response cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProtocolError(&'static str);

impl ProtocolError {
    /// An error described by `what`.
    pub(crate) const fn new(what: &'static str) -> Self {
        Self(what)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads one response after another from the bytes of one connection.
#[derive(Debug)]
pub(crate) struct ResponseReader {
    /// The start of a head that did not arrive whole.
    carried: Vec<u8>,
    state: State,
    /// Status and connection handling of the response whose body is being read.
    status: u16,
    close: bool,
}

/// Where the reader is within a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    /// Bytes of a `Content-Length` body still to come.
    Length(u64),
    Chunked(Chunk),
}

/// Where the reader is within a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Hexadecimal digits of a chunk size; `digits` counts them.
    Size { size: u64, digits: u8 },
    /// A chunk extension, skipped up to its CR.
    Extension { size: u64 },
    /// The LF that ends a size line.
    SizeLf { size: u64 },
    /// Bytes of chunk data still to come.
    Data(u64),
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// A trailer line (after the last chunk); `empty` while it has no byte but its CR.
    Trailer { empty: bool },
    /// The LF that ends a trailer line.
    TrailerLf { empty: bool },
}

/// How a piece of input ended inside [`ResponseReader::advance`].
enum Step {
    /// A whole response ended at this offset.
    Complete(usize),
    /// A head started at this offset and did not end.
    HeadIncomplete(usize),
    /// The input ended inside a body.
    BodyIncomplete,
}

impl ResponseReader {
    /// A reader waiting for the first response.
    pub(crate) fn new() -> Self {
        Self {
            carried: Vec::with_capacity(1024),
            state: State::Head,
            status: 0,
            close: false,
        }
    }

    /// Reads `input`, the next bytes from the server.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] when the response is malformed, framed by the connection's end, or
    /// followed by bytes no request asked for.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<Progress, ProtocolError> {
        if self.carried.is_empty() {
            let step = self.advance(input)?;
            if let Step::HeadIncomplete(from) = step {
                self.carry(&input[from..])?;
            }
            return self.finish(step, input.len());
        }
        let mut carried = std::mem::take(&mut self.carried);
        carried.extend_from_slice(input);
        let length = carried.len();
        let step = self.advance(&carried);
        match step {
            Ok(Step::HeadIncomplete(from)) if carried.len() - from <= MAX_HEAD => {
                carried.drain(..from);
            }
            Ok(Step::HeadIncomplete(_)) => return Err(ProtocolError("response head too long")),
            _ => carried.clear(),
        }
        self.carried = carried;
        self.finish(step?, length)
    }

    fn carry(&mut self, head_start: &[u8]) -> Result<(), ProtocolError> {
        if head_start.len() > MAX_HEAD {
            return Err(ProtocolError("response head too long"));
        }
        self.carried.extend_from_slice(head_start);
        Ok(())
    }

    fn finish(&mut self, step: Step, length: usize) -> Result<Progress, ProtocolError> {
        match step {
            Step::Complete(end) if end < length => Err(ProtocolError(
                "bytes after the response, which no request asked for",
            )),
            Step::Complete(_) => {
                self.state = State::Head;
                Ok(Progress::Complete {
                    status: self.status,
                    close: self.close,
                })
            }
            Step::HeadIncomplete(_) | Step::BodyIncomplete => Ok(Progress::Incomplete),
        }
    }

    /// Reads as far into `input` as it goes.
    fn advance(&mut self, input: &[u8]) -> Result<Step, ProtocolError> {
        let mut at = 0;
        loop {
            match self.state {
                State::Head => match self.read_head(&input[at..])? {
                    None => return Ok(Step::HeadIncomplete(at)),
                    Some(length) => at += length,
                },
                State::Length(0) => return Ok(Step::Complete(at)),
                State::Length(remaining) => {
                    let available = (input.len() - at) as u64;
                    let taken = remaining.min(available);
                    self.state = State::Length(remaining - taken);
                    at += taken as usize;
                    if taken == available && remaining > taken {
                        return Ok(Step::BodyIncomplete);
                    }
                }
                State::Chunked(chunk) => match read_chunked(chunk, input, &mut at)? {
                    Some(next) => {
                        self.state = State::Chunked(next);
                        return Ok(Step::BodyIncomplete);
                    }
                    None => return Ok(Step::Complete(at)),
                },
            }
        }
    }

    /// Reads the head at the start of `input` (lines ended by CRLF, up to an empty one) and
    /// sets how its body is framed; returns its length, or `None` if it has not all arrived
    /// (a head is read again from its start when more comes: it is short, and rarely split).
    fn read_head(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let mut lines = HeadLines { rest: input };
        let Some(status_line) = lines.next_line()? else {
            return Ok(None);
        };
        let (minor, status) = parse_status_line(status_line)?;
        let mut framing = Framing::default();
        loop {
            match lines.next_line()? {
                None => return Ok(None),
                Some([]) => break,
                Some(line) => framing.add_field(line)?,
            }
        }
        self.status = status;
        self.close = framing.close || (minor == 0 && !framing.keep_alive);
        self.state = match status {
            101 => return Err(ProtocolError("the server switched protocols (101)")),
            100..=199 => State::Head,
            204 | 304 => State::Length(0),
            _ if framing.chunked => State::Chunked(Chunk::Size { size: 0, digits: 0 }),
            _ => match framing.length {
                Some(length) => State::Length(length),
                None => {
                    return Err(ProtocolError(
                        "response body delimited by closing the connection \
                         (neither Content-Length nor chunked)",
                    ));
                }
            },
        };
        Ok(Some(input.len() - lines.rest.len()))
    }
}

/// The lines of a head, each ended by CRLF.
struct HeadLines<'a> {
    rest: &'a [u8],
}

impl<'a> HeadLines<'a> {
    fn next_line(&mut self) -> Result<Option<&'a [u8]>, ProtocolError> {
        let Some(end) = memchr::memchr(b'\n', self.rest) else {
            return Ok(None);
        };
        let line = self.rest[..end]
            .strip_suffix(b"\r")
            .ok_or(ProtocolError("a head line ends in a bare LF"))?;
        self.rest = &self.rest[end + 1..];
        Ok(Some(line))
    }
}

/// What a head's fields say about its body and connection.
#[derive(Default)]
struct Framing {
    length: Option<u64>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

impl Framing {
    fn add_field(&mut self, line: &[u8]) -> Result<(), ProtocolError> {
        if matches!(line.first(), None | Some(b' ' | b'\t')) {
            return Err(ProtocolError("obsolete line folding in a header"));
        }
        let colon = memchr::memchr(b':', line).ok_or(ProtocolError("a header line without ':'"))?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.last().is_some_and(u8::is_ascii_whitespace) {
            return Err(ProtocolError("whitespace before ':' in a header"));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_decimal(value)?;
            if self.length.is_some_and(|earlier| earlier != length) {
                return Err(ProtocolError("conflicting Content-Length headers"));
            }
            self.length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&byte| byte == b',').next().unwrap_or(b"");
            if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(ProtocolError(
                    "a transfer coding other than chunked ends the body",
                ));
            }
            self.chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&byte| byte == b',') {
                let option = option.trim_ascii();
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        Ok(())
    }
}

/// `HTTP/1.x NNN reason` → (x, NNN).
fn parse_status_line(line: &[u8]) -> Result<(u8, u16), ProtocolError> {
    let bad = ProtocolError("malformed status line");
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(bad)?;
    match rest {
        [minor @ b'0'..=b'9', b' ', a, b, c, tail @ ..]
            if [a, b, c].iter().all(|digit| digit.is_ascii_digit())
                && (tail.is_empty() || tail[0] == b' ') =>
        {
            let status = [a, b, c]
                .iter()
                .fold(0, |total, &&digit| total * 10 + u16::from(digit - b'0'));
            if status < 100 {
                return Err(bad);
            }
            Ok((minor - b'0', status))
        }
        _ => Err(bad),
    }
}

fn parse_decimal(value: &[u8]) -> Result<u64, ProtocolError> {
    let bad = ProtocolError("malformed Content-Length");
    if value.is_empty() {
        return Err(bad);
    }
    value.iter().try_fold(0u64, |total, &byte| {
        if !byte.is_ascii_digit() {
            return Err(bad);
        }
        total
            .checked_mul(10)
            .and_then(|total| total.checked_add(u64::from(byte - b'0')))
            .ok_or(bad)
    })
}

/// Reads chunked framing from `input[*at..]`; `None` when the body (trailers included) ended.
fn read_chunked(
    mut chunk: Chunk,
    input: &[u8],
    at: &mut usize,
) -> Result<Option<Chunk>, ProtocolError> {
    while *at < input.len() {
        if let Chunk::Data(remaining) = chunk {
            let taken = remaining.min((input.len() - *at) as u64);
            *at += taken as usize;
            chunk = if taken == remaining {
                Chunk::DataCr
            } else {
                Chunk::Data(remaining - taken)
            };
            continue;
        }
        let byte = input[*at];
        *at += 1;
        chunk = match next_chunk_state(chunk, byte)? {
            Some(next) => next,
            None => return Ok(None),
        };
    }
    Ok(Some(chunk))
}

/// One byte of chunked framing outside chunk data; `None` when it ends the body.
fn next_chunk_state(chunk: Chunk, byte: u8) -> Result<Option<Chunk>, ProtocolError> {
    let next = match (chunk, byte) {
        (Chunk::Size { size, digits }, _) if byte.is_ascii_hexdigit() => {
            if digits >= 16 {
                return Err(ProtocolError("chunk size too large"));
            }
            let digit = char::from(byte).to_digit(16).unwrap_or(0);
            Chunk::Size {
                size: size << 4 | u64::from(digit),
                digits: digits + 1,
            }
        }
        (Chunk::Size { size, digits }, b';') if digits > 0 => Chunk::Extension { size },
        (Chunk::Size { size, digits }, b'\r') if digits > 0 => Chunk::SizeLf { size },
        (Chunk::Size { .. }, _) => return Err(ProtocolError("malformed chunk size")),
        (Chunk::Extension { size }, b'\r') => Chunk::SizeLf { size },
        (Chunk::Extension { size }, _) => Chunk::Extension { size },
        (Chunk::SizeLf { size: 0 }, b'\n') => Chunk::Trailer { empty: true },
        (Chunk::SizeLf { size }, b'\n') => Chunk::Data(size),
        (Chunk::DataCr, b'\r') => Chunk::DataLf,
        (Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
        (Chunk::Trailer { empty }, b'\r') => Chunk::TrailerLf { empty },
        (Chunk::Trailer { .. }, _) => Chunk::Trailer { empty: false },
        (Chunk::TrailerLf { empty: true }, b'\n') => return Ok(None),
        (Chunk::TrailerLf { empty: false }, b'\n') => Chunk::Trailer { empty: true },
        _ => return Err(ProtocolError("malformed chunked framing (CRLF expected)")),
    };
    Ok(Some(next))
}

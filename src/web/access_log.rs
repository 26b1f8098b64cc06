//! The access log, one line per finished response in Twisted's "combined"
//! format:
//!
//! ```text
//! "127.0.0.1" - - [06/Nov/1994:08:49:37 +0000] "GET /x HTTP/1.1" 200 5 "-" "curl/8.5.0"
//! ```
//!
//! The client address is quoted (as Twisted does); the length is `-` when no
//! body bytes were sent; bytes outside printable ASCII, `"` and `\` are
//! escaped as in a Python bytes literal.
//!
//! Tested by: reactor_tests/web.rs

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::date::{IMF_FIXDATE_LEN, format_imf_fixdate};

/// What one access-log line records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogEntry {
    /// The client's IP address, or `-` when it has none (UNIX sockets).
    pub client: String,
    /// When the response finished (wall-clock time).
    pub time: SystemTime,
    /// The request method.
    pub method: Vec<u8>,
    /// The request-target as received.
    pub uri: Vec<u8>,
    /// The protocol, such as `HTTP/1.1`.
    pub protocol: Vec<u8>,
    /// The response status code.
    pub code: u16,
    /// Body bytes sent, if any.
    pub length: Option<u64>,
    /// The `Referer` request header.
    pub referrer: Option<Vec<u8>>,
    /// The `User-Agent` request header.
    pub agent: Option<Vec<u8>>,
}

/// Formats `entry` as one combined-format line, without the newline.
pub fn combined_log_line(entry: &AccessLogEntry) -> String {
    let length = entry
        .length
        .map_or_else(|| "-".to_string(), |n| n.to_string());
    format!(
        "\"{}\" - - {} \"{} {} {}\" {} {} \"{}\" \"{}\"",
        Escaped(entry.client.as_bytes()),
        LogTime(entry.time),
        Escaped(&entry.method),
        Escaped(&entry.uri),
        Escaped(&entry.protocol),
        entry.code,
        length,
        Escaped(entry.referrer.as_deref().unwrap_or(b"-")),
        Escaped(entry.agent.as_deref().unwrap_or(b"-")),
    )
}

/// Bytes escaped for a double-quoted log field.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &byte in self.0 {
            match byte {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\t' => f.write_str("\\t")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                0x20..=0x7e => write!(f, "{}", char::from(byte))?,
                _ => write!(f, "\\x{byte:02x}")?,
            }
        }
        Ok(())
    }
}

/// `[dd/Mon/yyyy:HH:MM:SS +0000]`, in UTC.
struct LogTime(SystemTime);

impl fmt::Display for LogTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut text = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(secs, &mut text);
        // `Sun, 06 Nov 1994 08:49:37 GMT`: day 5..7, month 8..11, year 12..16, time 17..25.
        let part = |range: std::ops::Range<usize>| {
            std::str::from_utf8(text.get(range).unwrap_or_default()).unwrap_or("?")
        };
        write!(
            f,
            "[{}/{}/{}:{} +0000]",
            part(5..7),
            part(8..11),
            part(12..16),
            part(17..25)
        )
    }
}

/// Where access-log lines go.
///
/// Lines written with [`record`](Self::record) reach the sink at once; a log made by
/// [`open`](Self::open) buffers them (up to 64 KiB) until [`flush`](Self::flush), so a busy
/// server does not pay a system call per request.
pub struct AccessLog {
    sink: Box<dyn Write>,
    buffered: bool,
}

/// The most an opened access log buffers before writing.
const ACCESS_LOG_BUFFER: usize = 64 * 1024;

impl AccessLog {
    /// Writes lines to `sink`, one `write_all` and flush per line.
    pub fn to_writer(sink: Box<dyn Write>) -> AccessLog {
        AccessLog {
            sink,
            buffered: false,
        }
    }

    /// Appends to the file at `path`, or writes to standard output for `-`; lines are buffered
    /// until [`flush`](Self::flush) or until the buffer fills.
    pub fn open(path: &Path) -> io::Result<AccessLog> {
        let sink: Box<dyn Write> = if path == Path::new("-") {
            Box::new(io::BufWriter::with_capacity(
                ACCESS_LOG_BUFFER,
                io::stdout(),
            ))
        } else {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            Box::new(io::BufWriter::with_capacity(ACCESS_LOG_BUFFER, file))
        };
        Ok(AccessLog {
            sink,
            buffered: true,
        })
    }

    /// Writes `entry` as one line; a failing sink is reported, not fatal.
    pub fn record(&mut self, entry: &AccessLogEntry) {
        let mut line = combined_log_line(entry);
        line.push('\n');
        let mut written = self.sink.write_all(line.as_bytes());
        if !self.buffered {
            written = written.and_then(|()| self.sink.flush());
        }
        if let Err(error) = written {
            crate::log::error(format_args!("cannot write the access log: {error}"));
        }
    }

    /// Writes out buffered lines.
    pub fn flush(&mut self) {
        if let Err(error) = self.sink.flush() {
            crate::log::error(format_args!("cannot write the access log: {error}"));
        }
    }
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

//! Error codes (RFC 9113 §7) and the typed errors of the HTTP/2 core.
//!
//! A [`ConnectionError`] ends the whole connection with a GOAWAY; a
//! [`StreamError`] resets one stream with RST_STREAM. Both name the RFC error
//! code the peer receives. [`UserError`] is for a handler that misuses the
//! connection (answering a stream twice, writing after the end).
//!
//! Tested by: src/http2/tests/

use std::fmt;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown or no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// An unspecific protocol error.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// An unexpected internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The peer violated flow control.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// A SETTINGS frame was not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived after the stream was half-closed.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The header compression context cannot be maintained.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// A CONNECT tunnel failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// The transport's security properties are insufficient.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// HTTP/1.1 is required instead.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The code's name from RFC 9113, or `UNKNOWN`.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        usize::try_from(self.0)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("UNKNOWN")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The peer broke the protocol in a way that ends the connection (a GOAWAY
/// with `code` is sent, then the connection closes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    /// The code sent in the GOAWAY.
    pub code: ErrorCode,
    /// What was wrong, in a few words (also sent as GOAWAY debug data).
    pub reason: &'static str,
}

impl ConnectionError {
    pub(crate) const fn new(code: ErrorCode, reason: &'static str) -> ConnectionError {
        ConnectionError { code, reason }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

impl std::error::Error for ConnectionError {}

/// The peer broke the protocol on one stream: it is reset with `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The stream.
    pub stream: u32,
    /// The code sent in the RST_STREAM.
    pub code: ErrorCode,
    /// What was wrong, in a few words.
    pub reason: &'static str,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream {}: {} ({})", self.stream, self.reason, self.code)
    }
}

impl std::error::Error for StreamError {}

/// Either kind of protocol error: what a frame handler returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum H2Error {
    Connection(ConnectionError),
    Stream(StreamError),
}

impl From<ConnectionError> for H2Error {
    fn from(error: ConnectionError) -> H2Error {
        H2Error::Connection(error)
    }
}

impl From<StreamError> for H2Error {
    fn from(error: StreamError) -> H2Error {
        H2Error::Stream(error)
    }
}

/// Shorthand for a connection error.
pub(crate) const fn conn_err(code: ErrorCode, reason: &'static str) -> H2Error {
    H2Error::Connection(ConnectionError::new(code, reason))
}

/// Shorthand for a stream error.
pub(crate) const fn stream_err(stream: u32, code: ErrorCode, reason: &'static str) -> H2Error {
    H2Error::Stream(StreamError {
        stream,
        code,
        reason,
    })
}

/// A handler misused the connection; the command had no effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserError {
    /// The stream is gone (reset, finished, or never existed); nothing to do.
    StreamGone,
    /// The response head was already sent.
    HeadAlreadySent,
    /// Body or finish before the response head.
    HeadNotSent,
    /// The response was already finished.
    AlreadyFinished,
    /// The response status is informational (1xx); only final responses are sent.
    InformationalStatus,
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StreamGone => "the stream is closed",
            Self::HeadAlreadySent => "the response head was already sent",
            Self::HeadNotSent => "the response head was not sent yet",
            Self::AlreadyFinished => "the response is already finished",
            Self::InformationalStatus => "1xx responses cannot be sent by a handler",
        })
    }
}

impl std::error::Error for UserError {}

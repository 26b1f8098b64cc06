//! Errors, typed by who must act on them.
//!
//! [`ProtocolError`] is the peer's fault: each maps to the status code of the
//! error response the connection sends before closing. [`UserError`] is
//! misuse of the [`ServerConn`](super::ServerConn) API by the web layer; it
//! never touches the wire.
//!
//! Tested by: conformance/http1.rs

use std::fmt;

use crate::http::StatusCode;

/// A request the peer got wrong; answered with [`status`](Self::status) and a close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The request line exceeds `Config::max_request_line`.
    RequestLineTooLong,
    /// The head exceeds `Config::max_head_size`.
    HeadTooLarge,
    /// More than `Config::max_headers` header fields.
    TooManyHeaders,
    /// The request line is not `method SP target SP version`.
    MalformedRequestLine,
    /// The method is not a token.
    InvalidMethod,
    /// The request-target has forbidden bytes or the wrong form for the method.
    InvalidTarget,
    /// The version is not `HTTP/<digit>.<digit>`.
    MalformedVersion,
    /// A well-formed version other than HTTP/1.x.
    UnsupportedVersion,
    /// A line ended in LF without the preceding CR.
    BareLineFeed,
    /// A CR that is not part of a CRLF line ending.
    BareCarriageReturn,
    /// A field line starting with whitespace (obsolete line folding).
    ObsoleteLineFolding,
    /// A field line without a colon.
    MissingColon,
    /// A field name that is empty or not a token.
    InvalidHeaderName,
    /// Whitespace between a field name and its colon.
    WhitespaceBeforeColon,
    /// A field value containing NUL or another forbidden control byte.
    InvalidHeaderValue,
    /// An HTTP/1.1 request without `Host`.
    MissingHost,
    /// More than one `Host` field.
    MultipleHost,
    /// A `Host` value with bytes no authority may contain.
    InvalidHost,
    /// A `Content-Length` that is not a plain decimal number.
    InvalidContentLength,
    /// More than one `Content-Length` value (repeated fields or a list).
    MultipleContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`.
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request.
    TransferEncodingInHttp10,
    /// `Transfer-Encoding` that is empty or not a list of codings.
    InvalidTransferEncoding,
    /// `Transfer-Encoding` whose final coding is not `chunked`.
    ChunkedNotFinal,
    /// `chunked` applied more than once.
    ChunkedTwice,
    /// A transfer coding other than `chunked` (we decode none).
    UnsupportedTransferCoding,
    /// A chunk size that is not 1*HEXDIG, or overflows 64 bits.
    InvalidChunkSize,
    /// A chunk-size line longer than `Config::max_chunk_line`.
    ChunkLineTooLong,
    /// A malformed chunk extension.
    InvalidChunkExtension,
    /// Chunk extensions beyond `Config::max_chunk_extensions` bytes in one body.
    ChunkExtensionsTooLong,
    /// Chunk data not followed by CRLF.
    MissingChunkTerminator,
    /// Trailer section beyond `Config::max_trailer_size`.
    TrailersTooLarge,
    /// More than `Config::max_trailers` trailer fields.
    TooManyTrailers,
    /// The head did not arrive within `Config::header_timeout`.
    HeadTimeout,
    /// The body stalled for `Config::body_timeout`.
    BodyTimeout,
}

impl ProtocolError {
    /// The status code of the error response.
    pub fn status(self) -> StatusCode {
        use ProtocolError::*;
        match self {
            RequestLineTooLong => StatusCode::URI_TOO_LONG,
            HeadTooLarge | TooManyHeaders | TrailersTooLarge | TooManyTrailers => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            HeadTimeout | BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A short human-readable explanation, used in the error response body.
    pub fn description(self) -> &'static str {
        use ProtocolError::*;
        match self {
            RequestLineTooLong => "request line too long",
            HeadTooLarge => "request head too large",
            TooManyHeaders => "too many header fields",
            MalformedRequestLine => "malformed request line",
            InvalidMethod => "invalid method",
            InvalidTarget => "invalid request target",
            MalformedVersion => "malformed HTTP version",
            UnsupportedVersion => "unsupported HTTP version",
            BareLineFeed => "line not terminated by CRLF",
            BareCarriageReturn => "bare CR",
            ObsoleteLineFolding => "obsolete line folding",
            MissingColon => "header line without colon",
            InvalidHeaderName => "invalid header name",
            WhitespaceBeforeColon => "whitespace before colon",
            InvalidHeaderValue => "invalid header value",
            MissingHost => "missing Host",
            MultipleHost => "multiple Host fields",
            InvalidHost => "invalid Host",
            InvalidContentLength => "invalid Content-Length",
            MultipleContentLength => "multiple Content-Length values",
            ContentLengthWithTransferEncoding => "Content-Length with Transfer-Encoding",
            TransferEncodingInHttp10 => "Transfer-Encoding in HTTP/1.0",
            InvalidTransferEncoding => "invalid Transfer-Encoding",
            ChunkedNotFinal => "chunked is not the final transfer coding",
            ChunkedTwice => "chunked applied twice",
            UnsupportedTransferCoding => "unsupported transfer coding",
            InvalidChunkSize => "invalid chunk size",
            ChunkLineTooLong => "chunk size line too long",
            InvalidChunkExtension => "invalid chunk extension",
            ChunkExtensionsTooLong => "chunk extensions too long",
            MissingChunkTerminator => "chunk data not followed by CRLF",
            TrailersTooLarge => "trailer section too large",
            TooManyTrailers => "too many trailer fields",
            HeadTimeout => "timed out reading request head",
            BodyTimeout => "timed out reading request body",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.status())
    }
}

impl std::error::Error for ProtocolError {}

/// Misuse of the connection API; the call had no effect on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserError {
    /// The id was never issued by this connection.
    UnknownRequest,
    /// The connection gave up on this request (see `Event::RequestAborted`)
    /// or is closing; the call is ignored.
    RequestAborted,
    /// `send_response` was already called for this request.
    ResponseAlreadyStarted,
    /// `send_body`/`finish` before `send_response`.
    ResponseNotStarted,
    /// The response was already finished.
    AlreadyFinished,
    /// A 1xx status passed to `send_response`.
    InformationalStatus,
    /// `send_informational` with a status that is not 1xx, or is 100/101.
    NotInformational,
    /// A header name that is not a token, or a value containing CR, LF or NUL.
    InvalidHeader,
    /// A reason phrase containing CR, LF or NUL.
    InvalidReason,
    /// A `Content-Length` that is not a decimal number, or several of them.
    InvalidContentLength,
    /// More body bytes than the declared `Content-Length`.
    BodyExceedsContentLength,
    /// `send_body_external` when `external_body` did not answer `Direct`.
    ExternalBodyUnavailable,
}

impl UserError {
    /// A short human-readable explanation.
    pub fn description(self) -> &'static str {
        use UserError::*;
        match self {
            UnknownRequest => "unknown request id",
            RequestAborted => "request was aborted",
            ResponseAlreadyStarted => "response already started",
            ResponseNotStarted => "response not started",
            AlreadyFinished => "response already finished",
            InformationalStatus => "1xx status passed as final response",
            NotInformational => "not a sendable informational status",
            InvalidHeader => "invalid header name or value",
            InvalidReason => "invalid reason phrase",
            InvalidContentLength => "invalid Content-Length",
            BodyExceedsContentLength => "body exceeds Content-Length",
            ExternalBodyUnavailable => "body bytes cannot be sent directly now",
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for UserError {}

//! A sans-IO HTTP/1.1 server connection: bytes and `now` in, events and bytes out.
//!
//! [`ServerConn`] owns no socket, clock or thread. The transport adapter feeds
//! it received bytes ([`ServerConn::handle_input`]), end of stream
//! ([`ServerConn::handle_eof`]) and expired deadlines
//! ([`ServerConn::handle_timeout`]); the web layer consumes [`Event`]s and
//! issues responses with [`ServerConn::send_response`],
//! [`ServerConn::send_body`] and [`ServerConn::finish`]; the adapter writes
//! whatever [`ServerConn::poll_transmit`] appends to its buffer.
//!
//! # Call order
//!
//! After **any** `handle_*` call or command (`send_*`, `finish`, `abort`):
//!
//! 1. drain [`ServerConn::poll_event`] until `None` (commands can produce
//!    events too: finishing a response may let pipelined input be parsed);
//! 2. drain [`ServerConn::poll_transmit`] and write the bytes;
//! 3. re-arm the timer from [`ServerConn::poll_timeout`];
//! 4. pause reading while [`ServerConn::wants_read`] is false; once
//!    [`ServerConn::is_closed`] is true, flush what was polled and close.
//!
//! # The single-mutation invariant
//!
//! Every state change happens inside exactly one `handle_*` call or command,
//! and each input byte is examined by exactly one parser state, exactly once
//! (apart from re-scanning the unterminated tail of a line). The `poll_*`
//! methods only drain queues; the one exception is that `poll_transmit`
//! emits a deferred `100 Continue` (see below), which is decided there
//! precisely because it must reflect every command issued before it. As a
//! consequence the events and output are a function of the byte stream and
//! the commands alone: any split of the same input produces the same events
//! (with `Data` chunks re-cut along the split points) and the same output.
//!
//! # State
//!
//! The read side moves `Head` → `Body` → `Head` … → `Closed` (see the
//! diagram below); each request, once its head is parsed, owns a response
//! slot that moves `Awaiting` → `Streaming` → `Done` and is written out
//! only when every earlier slot is `Done`:
//!
//! ```text
//!  read side:  Head{idle} --byte--> Head{started} --head--> Body --end--> Head{idle}
//!                 |                     |                    |
//!                 +--idle timeout/EOF---+--error/timeout-----+--error/EOF/close--> Closed
//!
//!  per request: Awaiting --send_response--> Streaming --finish--> Done --front--> written
//!                  |                            |                  ^
//!                  +------- abort, body error, peer EOF -----------+  (then close)
//! ```
//!
//! The connection is closed ([`ServerConn::is_closed`]) once the read side
//! is `Closed` and every queued response is written.
//!
//! # Framing rules
//!
//! * Requests: `Transfer-Encoding` (only `chunked`, only in HTTP/1.1, never
//!   with `Content-Length`), else a single decimal `Content-Length`, else no
//!   body. Anything ambiguous is rejected with 400, unknown codings with 501.
//! * Lines must end in CRLF. Bare LF and bare CR are both rejected (400).
//! * Responses: a handler's `Content-Length` is honoured; otherwise chunked
//!   for HTTP/1.1 clients and close-delimited for HTTP/1.0 clients.
//!   Handler-supplied `Transfer-Encoding` and `Connection` fields are removed
//!   (the connection owns framing and persistence); `Connection: close` from
//!   the handler makes the connection close after the response. 1xx and 204
//!   responses lose any `Content-Length`; 304 keeps it. Responses to HEAD
//!   carry the headers a GET would get, and no body bytes.
//! * Empty lines between requests are skipped without starting the head timer.
//!
//! # Not supported
//!
//! `CONNECT` tunnels and `Upgrade` (including h2c) are not implemented: such
//! requests reach the handler like any other, which should refuse them.
//!
//! Tested by: conformance/http1.rs
#![forbid(unsafe_code)]

mod conn;
mod decode;
mod encode;
mod error;
mod framing;
mod parse;
mod respond;

use std::time::Duration;

pub use conn::ServerConn;
pub use error::{ProtocolError, UserError};
pub use respond::ExternalBody;

use crate::http::{Headers, RequestHead};

/// Parses one request head from the start of `buf` with the limits of
/// `config`, exactly as [`ServerConn`] does (framing fields are not
/// interpreted). Returns the head and its length in bytes, or `None` if
/// `buf` holds only part of a head.
pub fn parse_request_head(
    buf: &[u8],
    config: &Config,
) -> Result<Option<(RequestHead, usize)>, ProtocolError> {
    match parse::HeadParser::default().advance(buf, config)? {
        parse::HeadProgress::Partial => Ok(None),
        parse::HeadProgress::Complete { head, len } => Ok(Some((head, len))),
    }
}

/// Limits and timeouts of a connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Longest request line in bytes (CR included); longer gets 414.
    pub max_request_line: usize,
    /// Largest request head in bytes (request line + fields); larger gets 431.
    pub max_head_size: usize,
    /// Most header fields in one request; more gets 431.
    pub max_headers: usize,
    /// Longest chunk-size line (size + extensions) in bytes; longer gets 400.
    pub max_chunk_line: usize,
    /// Most chunk-extension bytes in one body; more gets 400.
    pub max_chunk_extensions: usize,
    /// Largest trailer section in bytes; larger gets 431.
    pub max_trailer_size: usize,
    /// Most trailer fields; more gets 431.
    pub max_trailers: usize,
    /// Most requests parsed ahead and not yet answered (pipelining depth).
    pub max_in_flight: usize,
    /// Most unread request-body bytes skipped after an early response to keep
    /// the connection alive; beyond this the connection closes instead.
    pub max_discard: u64,
    /// Time allowed from the first byte of a head to its end; then 408.
    pub header_timeout: Duration,
    /// Time a request body may stall without progress; then 408 or abort.
    pub body_timeout: Duration,
    /// Time an idle keep-alive connection is kept open.
    pub idle_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_request_line: 16 * 1024,
            max_head_size: 64 * 1024,
            max_headers: 100,
            max_chunk_line: 4 * 1024,
            max_chunk_extensions: 16 * 1024,
            max_trailer_size: 16 * 1024,
            max_trailers: 32,
            max_in_flight: 16,
            max_discard: 64 * 1024,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Identifies one request on a connection; ids increase in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    /// The sequence number (0 for the first request on the connection).
    pub fn index(self) -> u64 {
        self.0
    }
}

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyKind {
    /// No body (no `Content-Length` and no `Transfer-Encoding`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked; length unknown until the last chunk.
    Chunked,
}

/// Why the connection gave up on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// The peer closed the stream before the body was complete.
    PeerClosed,
    /// The body was malformed or stalled; an error response replaces the
    /// handler's if the handler had not started one.
    Malformed(ProtocolError),
    /// An earlier response closed the connection before this one could be sent.
    ConnectionClosing,
}

/// Something the web layer must act on.
///
/// Per request: one `Request`, zero or more `Data`, then exactly one of
/// `EndOfMessage` or `RequestAborted` — unless the response was finished
/// before the body was read, after which the body is discarded silently.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A request head arrived.
    Request {
        /// The request's id, used for all responses to it.
        id: RequestId,
        /// Method, target, version and fields.
        head: RequestHead,
        /// How the body is framed.
        body: BodyKind,
        /// The client sent `Expect: 100-continue` and will wait for it before
        /// sending the body; the connection sends the 100 lazily.
        expects_continue: bool,
    },
    /// Request body bytes; chunk boundaries follow arrival, not the wire framing.
    Data {
        /// The request.
        id: RequestId,
        /// Decoded body bytes.
        chunk: Vec<u8>,
    },
    /// The request body is complete.
    EndOfMessage {
        /// The request.
        id: RequestId,
        /// Trailer fields of a chunked body (empty otherwise).
        trailers: Headers,
    },
    /// The request is dead; further commands for it return
    /// [`UserError::RequestAborted`] and have no effect.
    RequestAborted {
        /// The request.
        id: RequestId,
        /// Why.
        reason: AbortReason,
    },
    /// A request head was rejected; an error response is queued and the
    /// connection closes after it (for logging).
    ProtocolError {
        /// What was wrong.
        error: ProtocolError,
    },
}

//! A sans-IO HTTP/2 server connection (RFC 9113): bytes and `now` in,
//! events and bytes out.
//!
//! [`ServerConn`] owns no socket, clock or thread. The adapter feeds it
//! received bytes ([`ServerConn::handle_input`]) and expired deadlines
//! ([`ServerConn::handle_timeout`]); the web layer consumes [`Event`]s
//! (one per request head, body chunk, end of body or reset) and answers
//! with [`ServerConn::send_response`], [`ServerConn::send_data`] and
//! [`ServerConn::finish`]; the adapter writes whatever
//! [`ServerConn::poll_transmit`] appends to its buffer.
//!
//! # Call order
//!
//! After any `handle_*` call or command:
//!
//! 1. drain [`ServerConn::poll_event`] until `None`;
//! 2. when the transport can take more, call [`ServerConn::poll_transmit`]
//!    and write what it appended (control frames first, then response
//!    heads, then DATA frames taken round-robin across the streams, as far
//!    as flow control allows);
//! 3. re-arm the timer from [`ServerConn::poll_timeout`];
//! 4. once [`ServerConn::is_closed`] is true, write what was polled and close.
//!
//! Response heads are HPACK-encoded when they are written out, never
//! earlier, so the order of header blocks on the wire is the order the
//! encoder saw them (the decoder on the other side depends on it).
//!
//! # Streams
//!
//! ```text
//!            HEADERS                         END_STREAM received
//!   idle ─────────────────> open ─────────────────────────────> half-closed (remote)
//!     │   HEADERS+END_STREAM  │                                        │
//!     └───────────────────────┼────────────────────────────────────────┤
//!                             │ END_STREAM sent                         │ END_STREAM sent
//!                             v                                        v
//!                   half-closed (local) ──END_STREAM received──>    closed
//!                   (RST_STREAM NO_ERROR: the rest of the body is refused)
//!   any state ──RST_STREAM sent or received──> closed
//! ```
//!
//! A stream is forgotten once closed. Frames for a stream this side reset
//! are ignored (their DATA still counts against the connection window);
//! frames for a stream that closed normally are a `STREAM_CLOSED` error.
//!
//! # Protections
//!
//! Every limit is a [`Config`] field: concurrent streams (`REFUSED_STREAM`
//! beyond it), header list size (the HPACK decoder stops there), header
//! block size and CONTINUATION count (a flood ends the connection with
//! `ENHANCE_YOUR_CALM`), resets per time window (Rapid Reset, CVE-2023-44487:
//! streams the client resets or makes the server reset), control frames
//! queued and not yet written (SETTINGS and PING floods), SETTINGS
//! acknowledgement timeout, idle timeout, and the time a stream or the
//! connection may stay unable to send because the peer keeps its window
//! shut.
//!
//! Tested by: src/http2/tests/
#![forbid(unsafe_code)]

mod conn;
mod error;
mod fields;
pub mod frame;
mod header_block;
mod input;
mod send;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use conn::ServerConn;
pub use error::{ConnectionError, ErrorCode, StreamError, UserError};

use crate::http::{Headers, RequestHead};

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `bytes` could be the start of the client preface: `Some(true)`
/// once all 24 bytes match, `Some(false)` if they cannot, `None` while the
/// bytes so far are a prefix of it.
pub fn match_preface(bytes: &[u8]) -> Option<bool> {
    let n = bytes.len().min(PREFACE.len());
    if bytes[..n] != PREFACE[..n] {
        Some(false)
    } else if n == PREFACE.len() {
        Some(true)
    } else {
        None
    }
}

/// Limits, windows and timeouts of a connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much request body a stream may send ahead.
    pub stream_window: u32,
    /// The connection-level receive window (announced with a WINDOW_UPDATE).
    pub connection_window: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: decoded size of a header list (RFC 9113 §6.5.2).
    pub max_header_list_size: u32,
    /// Largest encoded header block across HEADERS and CONTINUATION frames.
    pub max_header_block_size: usize,
    /// Most CONTINUATION frames in one header block.
    pub max_continuation_frames: usize,
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table the peer's encoder may use.
    pub header_table_size: u32,
    /// Most HPACK table size this side's encoder uses, whatever the peer allows.
    pub max_encoder_table_size: u32,
    /// Most streams the client resets (or makes this side reset) per `reset_window`.
    pub max_resets_per_window: u32,
    /// The time window of `max_resets_per_window`.
    pub reset_window: Duration,
    /// Most control frames (PING and SETTINGS acks, resets) queued unwritten.
    pub max_queued_control_frames: usize,
    /// Time the peer has to acknowledge this side's SETTINGS.
    pub settings_timeout: Duration,
    /// Time a connection with no streams is kept open.
    pub idle_timeout: Duration,
    /// Time a stream (or the connection) with output waiting may stay
    /// unable to send because the peer's window is shut.
    pub send_stall_timeout: Duration,
    /// Bytes of DATA written per `poll_transmit` call at most.
    pub transmit_budget: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_concurrent_streams: 100,
            stream_window: 1 << 20,
            connection_window: 16 << 20,
            max_header_list_size: 64 * 1024,
            max_header_block_size: 64 * 1024,
            max_continuation_frames: 64,
            header_table_size: 4096,
            max_encoder_table_size: 4096,
            max_resets_per_window: 100,
            reset_window: Duration::from_secs(10),
            max_queued_control_frames: 1000,
            settings_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_stall_timeout: Duration::from_secs(30),
            transmit_budget: 256 * 1024,
        }
    }
}

/// A stream identifier (odd: opened by the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub(crate) u32);

impl StreamId {
    /// The identifier as sent on the wire.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Something the web layer must act on.
///
/// Per stream: one `Request`, zero or more `Data`, then `EndOfMessage` —
/// or a `StreamReset` at any point after `Request`, after which commands
/// for the stream return [`UserError::StreamGone`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A request head arrived.
    Request {
        /// The stream carrying it.
        id: StreamId,
        /// Method, target (`:path`), version `HTTP/2`, and the fields with
        /// `:authority` as `host` and every `cookie` joined by `"; "`.
        head: RequestHead,
        /// The request has no body (END_STREAM on the head).
        end_stream: bool,
    },
    /// Request body bytes; call [`ServerConn::release_capacity`] once they
    /// are consumed so the client may send more.
    Data {
        /// The stream.
        id: StreamId,
        /// Body bytes.
        chunk: Vec<u8>,
    },
    /// The request body is complete.
    EndOfMessage {
        /// The stream.
        id: StreamId,
        /// Trailer fields (empty when there were none).
        trailers: Headers,
    },
    /// The stream is dead: reset by the client, or by this side because
    /// the client broke the protocol on it, or lost with the connection.
    StreamReset {
        /// The stream.
        id: StreamId,
        /// The RST_STREAM (or GOAWAY) code.
        code: ErrorCode,
        /// The client reset it.
        by_peer: bool,
    },
    /// The connection failed; a GOAWAY is queued and it closes after it.
    ConnectionError {
        /// What went wrong.
        error: ConnectionError,
    },
}

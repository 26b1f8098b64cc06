//! The WSGI bridge: runs a PEP 3333 application on a pool of Python threads and reports its
//! responses to the reactor thread as [`WsgiEvent`]s.
//!
//! The HTTP layer parses a request, buffers its body, and submits a [`WsgiRequest`] (plain
//! `Send` data) to a [`WorkerPool`]. A worker builds the environ, calls the application, and
//! sends events through a [`ThreadSender`](crate::reactor::ThreadSender): the response head
//! ([`WsgiEvent::Start`]), body chunks ([`WsgiEvent::Body`]), and exactly one terminal event
//! ([`WsgiEvent::Complete`], [`WsgiEvent::Finished`] or [`WsgiEvent::Failed`]). Through the
//! request's shared [`RequestControl`] the reactor grants output credit and reports client
//! disconnects.
//!
//! What differs from Twisted Web's `WSGIResource` (all on purpose): `close()` is called on every
//! path; an application that never calls `start_response` fails the request instead of hanging
//! it; `wsgi.input` can seek; `wsgi.input_terminated`, `wsgi.file_wrapper` and `SERVER_SOFTWARE`
//! are provided; `Content-Type`/`Content-Length` are not duplicated as `HTTP_*` keys; a
//! `Cookie` header repeated is joined with `"; "`; request headers whose names contain `_` are
//! dropped (they would alias the dashed spelling); output is flow-controlled; start_response
//! enforces PEP 3333 (a second call needs `exc_info`, hop-by-hop headers are refused).
//!
//! Tested by: reactor_tests/wsgi.rs
mod control;
mod embed;
mod environ;
mod head;
mod input;
mod load;
mod pool;
mod resource;
mod respond;
mod streams;

pub use control::{DEFAULT_OUTPUT_CREDIT, RequestControl};
pub use embed::InterpreterError;
pub use load::{LoadError, WsgiApp};
pub use pool::WorkerPool;
pub use resource::WsgiResource;

/// Starts the embedded interpreter (once per process; [`WsgiApp::load`] does it too), with the
/// Python selection described in docs/python.md. The GIL is free afterwards.
pub fn start_interpreter() -> Result<(), InterpreterError> {
    embed::ensure_started()
}

use std::sync::Arc;

use crate::http::Headers;
use crate::payload::Payload;

/// Identifies a request between the HTTP layer and the pool; chosen by the HTTP layer.
pub type RequestId = u64;

/// The scheme the request arrived over (`wsgi.url_scheme`).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum UrlScheme {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTP over TLS.
    Https,
}

/// The request body, fully received before the application runs: in memory, or spooled to a
/// temporary file past the site's threshold.
pub use crate::web::Content as RequestBody;

/// One request for the application, built by the HTTP layer.
///
/// Byte fields are kept as they came off the wire; the bridge decodes them as ISO-8859-1, as
/// PEP 3333 requires.
#[derive(Debug)]
pub struct WsgiRequest {
    /// Identifies the request in the events sent back.
    pub id: RequestId,
    /// `REQUEST_METHOD`.
    pub method: Vec<u8>,
    /// `SCRIPT_NAME`: the (percent-decoded) part of the path the application is mounted at.
    pub script_name: Vec<u8>,
    /// `PATH_INFO`: the rest of the percent-decoded path.
    pub path_info: Vec<u8>,
    /// `QUERY_STRING`: everything after the first `?`, not decoded.
    pub query_string: Vec<u8>,
    /// `SERVER_NAME`: the Host header's name, or the local address (shared with other requests
    /// that have the same).
    pub server_name: Arc<str>,
    /// `SERVER_PORT`: the local port.
    pub server_port: u16,
    /// `SERVER_PROTOCOL`, such as `HTTP/1.1`.
    pub server_protocol: &'static str,
    /// `REMOTE_ADDR`: the peer's address (empty for a UNIX socket peer), shared with other
    /// requests from the same address.
    pub remote_addr: Arc<str>,
    /// `REMOTE_PORT`, when the peer has one (the key is left out otherwise).
    pub remote_port: Option<u16>,
    /// `wsgi.url_scheme`.
    pub url_scheme: UrlScheme,
    /// The request headers, raw and in arrival order.
    pub headers: Headers,
    /// The request body (`wsgi.input`).
    pub body: RequestBody,
    /// Shared with the reactor: output credit and disconnect.
    pub control: Arc<RequestControl>,
}

/// The status line and headers an application chose, validated and encoded as ISO-8859-1.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ResponseHead {
    /// The status code (the first three digits of the status).
    pub code: u16,
    /// The whole status as the application gave it, such as `b"200 OK"`.
    pub status_line: Vec<u8>,
    /// The headers in the application's order (never hop-by-hop headers).
    pub headers: Headers,
}

impl ResponseHead {
    /// The `Content-Length` the application set, if it set a valid one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(b"content-length"))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
            .and_then(|value| value.trim().parse().ok())
    }
}

/// What a worker reports to the reactor. Each request ends with exactly one of
/// [`Complete`](Self::Complete), [`File`](Self::File), [`Finished`](Self::Finished) or
/// [`Failed`](Self::Failed).
#[derive(Debug)]
pub enum WsgiEvent {
    /// The response head; body chunks follow.
    Start {
        /// The request.
        id: RequestId,
        /// Status and headers.
        head: ResponseHead,
    },
    /// A non-empty body chunk, to be acknowledged through [`RequestControl::acknowledge`] once
    /// written.
    Body {
        /// The request.
        id: RequestId,
        /// The bytes.
        chunk: Payload,
    },
    /// The whole response in one event (the application returned a list, or produced no body
    /// before finishing): the HTTP layer knows the length.
    Complete {
        /// The request.
        id: RequestId,
        /// Status and headers.
        head: ResponseHead,
        /// The whole body.
        body: Payload,
    },
    /// The whole response is `len` bytes of `file` from `offset` (the application returned a
    /// `wsgi.file_wrapper` over a regular file): the HTTP layer sends it straight from the file
    /// (`sendfile(2)` where the connection allows).
    File {
        /// The request.
        id: RequestId,
        /// Status and headers.
        head: ResponseHead,
        /// The file, on a descriptor of its own (the application's file object is closed).
        file: std::fs::File,
        /// Where the body starts in the file (the file object's position).
        offset: u64,
        /// How many bytes to send.
        len: u64,
    },
    /// The response after [`Start`](Self::Start) is complete. Also sent, with nothing before
    /// it, for a request whose client disconnected before the head was sent.
    Finished {
        /// The request.
        id: RequestId,
    },
    /// The application failed. Before output the HTTP layer answers 500; after output it
    /// aborts the connection.
    Failed {
        /// The request.
        id: RequestId,
        /// One line: the exception type and message, or what the application did wrong.
        message: String,
        /// The Python traceback text (empty when there is no Python exception).
        traceback: String,
        /// Whether [`Start`](Self::Start) was already sent.
        after_output: bool,
    },
}

impl WsgiEvent {
    /// The request the event belongs to.
    pub fn id(&self) -> RequestId {
        match self {
            Self::Start { id, .. }
            | Self::Body { id, .. }
            | Self::Complete { id, .. }
            | Self::File { id, .. }
            | Self::Finished { id }
            | Self::Failed { id, .. } => *id,
        }
    }

    /// Whether this is the request's last event.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Complete { .. } | Self::File { .. } | Self::Finished { .. } | Self::Failed { .. }
        )
    }
}

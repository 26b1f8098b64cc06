//! [`Site`]: the connection factory of a web server and what its requests
//! share (Twisted's `twisted.web.server.Site`).
//!
//! Tested by: reactor_tests/web.rs

use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::SystemTime;

use super::SERVER_VERSION;
use super::access_log::{AccessLog, AccessLogEntry};
use super::channel::{self, Http1Connections};
use super::content::ContentLimits;
use super::dispatch::HttpDispatch;
use super::h2_channel::{self, Http2Connections};
use super::request::Request;
use super::resource::{Render, Resource, locate, render_checked};
use crate::defer::Deferred;
use crate::http::Headers;
use crate::http::date::{DateCache, IMF_FIXDATE_LEN};
use crate::log::panic_message;
use crate::time::Clock;
use crate::transport::{Address, Factory, Protocol};
use crate::{http1, http2};

/// How a [`Site`] serves requests.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    /// Error pages show what went wrong (a panic's message); off by default
    /// (Twisted's `displayTracebacks`).
    pub display_tracebacks: bool,
    /// Header fields added to every response (`--add-header "Name: Value"`).
    pub added_headers: Vec<(String, Vec<u8>)>,
    /// The `Server` header; `None` sends none. Defaults to `torsion/<version>`.
    pub server_header: Option<Vec<u8>>,
    /// Limits and timeouts of HTTP/1.1 connections.
    pub http1: http1::Config,
    /// How large request bodies may be and when they move from memory to a temporary file.
    pub body_limits: ContentLimits,
    /// Serve HTTP/2 (ALPN `h2`, prior knowledge, `Upgrade: h2c`); on by default.
    pub enable_http2: bool,
    /// Limits, windows and timeouts of HTTP/2 connections.
    pub http2: http2::Config,
}

impl Default for SiteConfig {
    fn default() -> SiteConfig {
        SiteConfig {
            display_tracebacks: false,
            added_headers: Vec::new(),
            server_header: Some(SERVER_VERSION.as_bytes().to_vec()),
            http1: http1::Config::default(),
            body_limits: ContentLimits::default(),
            enable_http2: true,
            http2: http2::Config::default(),
        }
    }
}

/// Why an `--add-header` argument was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddedHeaderError {
    /// No `:` between name and value.
    MissingColon,
    /// The name is empty or not a token.
    InvalidName,
    /// The value contains CR, LF or NUL.
    InvalidValue,
}

impl fmt::Display for AddedHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingColon => "expected \"Name: Value\"",
            Self::InvalidName => "the header name is not a valid token",
            Self::InvalidValue => "the header value contains CR, LF or NUL",
        })
    }
}

impl std::error::Error for AddedHeaderError {}

/// Parses an `--add-header` argument, `"Name: Value"`; both sides are trimmed.
pub fn parse_added_header(text: &str) -> Result<(String, Vec<u8>), AddedHeaderError> {
    let (name, value) = text.split_once(':').ok_or(AddedHeaderError::MissingColon)?;
    let (name, value) = (name.trim(), value.trim());
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(AddedHeaderError::InvalidName);
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(AddedHeaderError::InvalidValue);
    }
    Ok((name.to_string(), value.as_bytes().to_vec()))
}

/// A web site: the root resource, shared settings, and the factory that
/// serves each connection with an [`HttpDispatch`](super::HttpDispatch) (HTTP/1.1 or HTTP/2). Clones share one site.
#[derive(Clone)]
pub struct Site {
    shared: Rc<SiteShared>,
}

/// What every request and channel of a site shares.
pub(crate) struct SiteShared {
    root: Rc<dyn Resource>,
    config: SiteConfig,
    clock: Clock,
    date: RefCell<SharedDate>,
    access_log: RefCell<Option<AccessLog>>,
    http2_connections: Http2Connections,
    http1_connections: Http1Connections,
    /// Emptied header sets of finished responses, reused by the next ones.
    spare_headers: RefCell<Vec<Headers>>,
}

/// How many emptied header sets a site keeps for reuse.
const MAX_SPARE_HEADERS: usize = 256;

/// Header sets holding room for more than this are not kept for reuse.
const MAX_SPARE_HEADERS_BYTES: usize = 8 * 1024;

/// The `Date` value, reformatted once per second; `generation` counts changes.
struct SharedDate {
    cache: DateCache,
    generation: u64,
}

impl Site {
    /// A site serving `root` with the default configuration; `clock` is the
    /// reactor's (timeouts, `Date`, log times).
    pub fn new(clock: Clock, root: Rc<dyn Resource>) -> Site {
        Site::with_config(clock, root, SiteConfig::default())
    }

    /// A site serving `root` with `config`.
    pub fn with_config(clock: Clock, root: Rc<dyn Resource>, config: SiteConfig) -> Site {
        let shared = SiteShared {
            root,
            config,
            clock,
            date: RefCell::new(SharedDate {
                cache: DateCache::new(),
                generation: 0,
            }),
            access_log: RefCell::new(None),
            http2_connections: Http2Connections::default(),
            http1_connections: Http1Connections::default(),
            spare_headers: RefCell::new(Vec::new()),
        };
        Site {
            shared: Rc::new(shared),
        }
    }

    /// Sends a line per finished response to `log` (`None` turns logging off).
    pub fn set_access_log(&self, log: Option<AccessLog>) {
        *self.shared.access_log.borrow_mut() = log;
    }

    /// Writes out access-log lines still buffered (call it periodically and at shutdown).
    pub fn flush_access_log(&self) {
        if let Some(log) = self.shared.access_log.borrow_mut().as_mut() {
            log.flush();
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.shared.config
    }

    /// The root resource.
    pub fn root(&self) -> Rc<dyn Resource> {
        self.shared.root.clone()
    }

    /// Begins a graceful shutdown of the site's HTTP/2 connections: each
    /// sends GOAWAY with the last stream it accepted, refuses newer streams
    /// (REFUSED_STREAM, which clients retry elsewhere), lets the streams in
    /// flight finish and closes; connections that turn to HTTP/2 later start
    /// that way. The Deferred fires once every one of them has closed.
    /// HTTP/1.1 connections are not affected.
    pub fn drain_http2(&self) -> Deferred<()> {
        h2_channel::go_away_all(&self.shared.http2_connections)
    }

    /// Begins a graceful shutdown of the site's HTTP/1.1 connections: each answers the
    /// requests it has already received (the last response with `Connection: close`) and then
    /// closes, an idle one at once (over TLS, with close_notify); connections accepted later
    /// close the same way. The Deferred fires once every one of them has closed.
    pub fn close_http1(&self) -> Deferred<()> {
        channel::close_all(&self.shared.http1_connections)
    }

    /// How many HTTP/1.1 connections the site is serving (HTTP/2 ones not included).
    pub fn http1_connection_count(&self) -> usize {
        self.shared.http1_connections.count()
    }

    /// How many HTTP/2 connections the site is serving.
    pub fn http2_connection_count(&self) -> usize {
        self.shared.http2_connections.count()
    }

    pub(crate) fn shared(&self) -> &Rc<SiteShared> {
        &self.shared
    }
}

impl Factory for Site {
    fn build_protocol(&mut self, _peer: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(HttpDispatch::new(self.shared.clone())))
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl SiteShared {
    pub(crate) fn config(&self) -> &SiteConfig {
        &self.config
    }

    pub(crate) fn http2_connections(&self) -> &Http2Connections {
        &self.http2_connections
    }

    pub(crate) fn http1_connections(&self) -> &Http1Connections {
        &self.http1_connections
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn wall_time(&self) -> SystemTime {
        self.clock.wall_time()
    }

    /// `Server` and the added headers, which every response starts with.
    pub(crate) fn initial_response_headers(&self) -> Headers {
        let mut headers = self.spare_headers();
        if headers.capacity_bytes() == 0 {
            // Room for the application's usual few headers too, so that they fit without growing.
            headers = Headers::with_capacity(8 + self.config.added_headers.len(), 256);
        }
        if let Some(server) = &self.config.server_header {
            headers.append("Server", server);
        }
        for (name, value) in &self.config.added_headers {
            headers.append(name, value);
        }
        headers
    }

    /// An empty header set, reusing the room of one a finished response gave back.
    pub(crate) fn spare_headers(&self) -> Headers {
        self.spare_headers.borrow_mut().pop().unwrap_or_default()
    }

    /// Takes back a header set that is no longer needed, emptied, for reuse.
    pub(crate) fn recycle_headers(&self, mut headers: Headers) {
        let room = headers.capacity_bytes();
        if room == 0 || room > MAX_SPARE_HEADERS_BYTES {
            return;
        }
        let Ok(mut spare) = self.spare_headers.try_borrow_mut() else {
            return;
        };
        if spare.len() < MAX_SPARE_HEADERS {
            headers.clear();
            spare.push(headers);
        }
    }

    /// The current `Date` value if it changed since generation `seen`
    /// (which is then updated).
    pub(crate) fn date_if_changed(&self, seen: &mut u64) -> Option<[u8; IMF_FIXDATE_LEN]> {
        let mut date = self.date.borrow_mut();
        if date.cache.update(self.clock.wall_time()) || date.generation == 0 {
            date.generation += 1;
        }
        if *seen == date.generation {
            return None;
        }
        *seen = date.generation;
        let mut text = [0; IMF_FIXDATE_LEN];
        text.copy_from_slice(date.cache.as_bytes());
        Some(text)
    }

    pub(crate) fn logs_access(&self) -> bool {
        self.access_log.borrow().is_some()
    }

    pub(crate) fn log_access(&self, entry: &AccessLogEntry) {
        if let Some(log) = self.access_log.borrow_mut().as_mut() {
            log.record(entry);
        }
    }
}

/// Finds the resource for `request` and renders it; a panic becomes a 500
/// (with detail only when `display_tracebacks` is on) and an error report.
pub(crate) fn process(request: &Request) {
    let root = request.site().root.clone();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let resource = locate(root, request);
        render_checked(&*resource, request)
    }));
    match outcome {
        Ok(Render::Body(body)) => request.finish_with_body(body),
        Ok(Render::NotDoneYet) => {}
        Err(payload) => {
            let message = panic_message(&*payload);
            crate::log::error(format_args!(
                "rendering {} {} panicked: {message}",
                String::from_utf8_lossy(request.method().as_bytes()),
                String::from_utf8_lossy(&request.uri()),
            ));
            request.processing_failed(message);
        }
    }
}

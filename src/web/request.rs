//! [`Request`]: one HTTP request as a resource sees it, and the response it
//! builds (Twisted's `twisted.web.server.Request`).
//!
//! A `Request` is a cheap handle (`Clone` shares one request). It knows
//! nothing about HTTP/1: the response leaves through a [`ResponseSink`]
//! supplied by the channel that received the request.
//!
//! Tested by: reactor_tests/web.rs

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io;
use std::rc::Rc;

use super::access_log::AccessLogEntry;
use super::content::{Content, ContentError};
use super::resource::error_page_html;
use super::site::{Site, SiteShared};
use super::{Args, BodyEncoder, ConnectionLost, ResponseSink, url};
use crate::defer::Deferred;
use crate::http::{Headers, Method, RequestHead, ResponseHead, StatusCode, Version};
use crate::payload::Payload;
use crate::transport::{Address, Producer};

/// What the protocol knows about a request when it arrives.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// Method, target, version and header fields.
    pub head: RequestHead,
    /// The client's address.
    pub client: Address,
    /// Our address on this connection.
    pub host: Address,
    /// Whether the connection is encrypted.
    pub secure: bool,
}

/// A borrowed view of a [`Request`], lent by [`Request::with_view`].
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// Method, target, version, headers and addresses.
    pub info: &'a RequestInfo,
    /// The decoded path segments traversal has consumed so far.
    pub prepath: &'a [Vec<u8>],
    /// The decoded path segments not yet consumed by traversal.
    pub postpath: &'a [Vec<u8>],
}

/// One HTTP request and its response (Twisted's `Request`, in snake_case).
///
/// Writing after [`finish`](Self::finish) or after the client disconnected
/// does nothing, as in Twisted.
#[derive(Clone)]
pub struct Request {
    inner: Rc<Inner>,
}

struct Inner {
    state: RefCell<State>,
    sink: Box<dyn ResponseSink>,
    site: Rc<SiteShared>,
}

struct State {
    info: RequestInfo,
    args: Args,
    prepath: Vec<Vec<u8>>,
    postpath: Vec<Vec<u8>>,
    content: Content,
    /// The body was refused (413 or 500); what follows of it is dropped.
    content_refused: bool,
    code: StatusCode,
    response_headers: Headers,
    /// A reason phrase other than the status code's canonical one.
    reason: Option<Vec<u8>>,
    started: bool,
    finished: bool,
    disconnected: bool,
    sent_length: u64,
    finish_waiters: Vec<Deferred<()>>,
    /// Called if the client goes away before the response finishes.
    lost_watcher: Option<Box<dyn FnOnce()>>,
    producer: Option<Rc<dyn Producer>>,
    /// Encodes the body; dropped when it declines the response.
    encoder: Option<Box<dyn BodyEncoder>>,
}

/// What a request that ends releases: its producer, its `notify_finish` waiters and its
/// connection-lost watcher.
type Released = (
    Option<Rc<dyn Producer>>,
    Vec<Deferred<()>>,
    Option<Box<dyn FnOnce()>>,
);

impl State {
    /// The response head for the first write, its headers copied into `spare` (a set whose
    /// room is reused); adds the default content type.
    fn response_head(&self, mut spare: Headers) -> ResponseHead {
        let mut head = ResponseHead::new(self.code);
        head.reason = self.reason.clone();
        spare.clone_from(&self.response_headers);
        head.headers = spare;
        if !self.code.forbids_body() && !head.headers.contains("Content-Type") {
            head.headers.set("Content-Type", "text/html");
        }
        head
    }

    /// The head to send: [`response_head`](Self::response_head) as the encoder leaves it.
    fn outgoing_head(&mut self, spare: Headers) -> ResponseHead {
        let mut head = self.response_head(spare);
        let method = self.info.head.method().clone();
        if let Some(encoder) = self.encoder.as_mut() {
            if !encoder.start(&mut head, &method) {
                self.encoder = None;
            }
        }
        head
    }

    /// Marks the request over; returns the producer, waiters and watcher to release.
    fn close(&mut self) -> Released {
        (
            self.producer.take(),
            std::mem::take(&mut self.finish_waiters),
            self.lost_watcher.take(),
        )
    }

    fn over(&self) -> bool {
        self.finished || self.disconnected
    }
}

impl Drop for Inner {
    /// Gives the room of the request's and the response's header sets back to the site for
    /// the next requests.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let response_headers = std::mem::take(&mut state.response_headers);
        self.site.recycle_headers(response_headers);
        self.site.recycle_headers(state.info.head.take_headers());
    }
}

impl Request {
    /// A request that answers through `sink`, served by `site`. The
    /// response starts as `200 OK` with the site's `Server` and added headers.
    pub fn new(info: RequestInfo, site: &Site, sink: Box<dyn ResponseSink>) -> Request {
        Request::with_shared(info, site.shared().clone(), sink)
    }

    pub(crate) fn with_shared(
        info: RequestInfo,
        site: Rc<SiteShared>,
        sink: Box<dyn ResponseSink>,
    ) -> Request {
        let args = info.head.query().map(url::parse_query).unwrap_or_default();
        let path = info.head.path();
        let postpath = path
            .strip_prefix(b"/")
            .unwrap_or(path)
            .split(|&b| b == b'/')
            .map(url::unquote)
            .collect();
        let response_headers = site.initial_response_headers();
        let state = State {
            info,
            args,
            prepath: Vec::new(),
            postpath,
            content: Content::default(),
            content_refused: false,
            code: StatusCode::OK,
            response_headers,
            reason: None,
            started: false,
            finished: false,
            disconnected: false,
            sent_length: 0,
            finish_waiters: Vec::new(),
            lost_watcher: None,
            producer: None,
            encoder: None,
        };
        Request {
            inner: Rc::new(Inner {
                state: RefCell::new(state),
                sink,
                site,
            }),
        }
    }

    fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.inner.state.borrow())
    }

    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.inner.state.borrow_mut())
    }

    /// The request method.
    pub fn method(&self) -> Method {
        self.read(|s| s.info.head.method().clone())
    }

    /// The request-target exactly as received (path and query).
    pub fn uri(&self) -> Vec<u8> {
        self.read(|s| s.info.head.target().to_vec())
    }

    /// The path part of the target, still percent-encoded.
    pub fn path(&self) -> Vec<u8> {
        self.read(|s| s.info.head.path().to_vec())
    }

    /// The query arguments.
    pub fn args(&self) -> Args {
        self.read(|s| s.args.clone())
    }

    /// The first value of query argument `name`.
    pub fn arg(&self, name: &[u8]) -> Option<Vec<u8>> {
        self.read(|s| s.args.get(name).map(<[u8]>::to_vec))
    }

    /// The decoded path segments traversal has consumed so far.
    pub fn prepath(&self) -> Vec<Vec<u8>> {
        self.read(|s| s.prepath.clone())
    }

    /// The decoded path segments not yet consumed by traversal.
    pub fn postpath(&self) -> Vec<Vec<u8>> {
        self.read(|s| s.postpath.clone())
    }

    /// The HTTP version the client used.
    pub fn version(&self) -> Version {
        self.read(|s| s.info.head.version())
    }

    /// The first value of request header `name` (Twisted's `getHeader`).
    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.read(|s| s.info.head.headers().get(name).map(<[u8]>::to_vec))
    }

    /// All request header fields.
    pub fn request_headers(&self) -> Headers {
        self.read(|s| s.info.head.headers().clone())
    }

    /// The request body received so far (all of it once rendering starts), read back from its
    /// temporary file when it was spooled to disk.
    pub fn content(&self) -> io::Result<Vec<u8>> {
        self.read(|s| s.content.to_vec())
    }

    /// How many body bytes were received.
    pub fn content_length(&self) -> u64 {
        self.read(|s| s.content.len())
    }

    /// Takes the request body out, leaving it empty: for a resource that consumes the body
    /// whole and would otherwise copy it (or reopen its temporary file).
    pub fn take_content(&self) -> Content {
        self.update(|s| std::mem::take(&mut s.content))
    }

    /// Runs `f` on a borrowed view of the request (head, addresses, path segments), for code
    /// that reads many of them and need not copy any.
    pub fn with_view<R>(&self, f: impl FnOnce(RequestView<'_>) -> R) -> R {
        self.read(|s| {
            f(RequestView {
                info: &s.info,
                prepath: &s.prepath,
                postpath: &s.postpath,
            })
        })
    }

    /// The client's address (Twisted's `getClientAddress`).
    pub fn client_address(&self) -> Address {
        self.read(|s| s.info.client.clone())
    }

    /// Our address on this connection (Twisted's `getHost`).
    pub fn host_address(&self) -> Address {
        self.read(|s| s.info.host.clone())
    }

    /// Whether the request came over an encrypted connection.
    pub fn is_secure(&self) -> bool {
        self.read(|s| s.info.secure)
    }

    /// Sets the response status; ignored once the head was sent.
    pub fn set_response_code(&self, code: StatusCode) {
        self.update(|s| s.code = code);
    }

    /// Sets the response status with its own reason phrase (Twisted's
    /// `setResponseCode(code, message)`); ignored once the head was sent.
    pub fn set_response_code_with_message(&self, code: StatusCode, message: &[u8]) {
        self.update(|s| {
            s.code = code;
            s.reason = Some(message.to_vec());
        });
    }

    /// The response status.
    pub fn code(&self) -> StatusCode {
        self.read(|s| s.code)
    }

    /// Replaces response header `name` with one `value`.
    pub fn set_header(&self, name: &str, value: impl AsRef<[u8]>) {
        self.update(|s| s.response_headers.set(name, value));
    }

    /// Adds a value to response header `name`.
    pub fn add_header(&self, name: &str, value: impl AsRef<[u8]>) {
        self.update(|s| s.response_headers.append(name, value));
    }

    /// Runs `f` on the response status, its reason phrase (`None`: the canonical one) and the
    /// response headers in one borrow, for code that sets many of them at once.
    pub(crate) fn with_response<R>(
        &self,
        f: impl FnOnce(&mut StatusCode, &mut Option<Vec<u8>>, &mut Headers) -> R,
    ) -> R {
        self.update(|s| f(&mut s.code, &mut s.reason, &mut s.response_headers))
    }

    /// The first value of response header `name`.
    pub fn response_header(&self, name: &str) -> Option<Vec<u8>> {
        self.read(|s| s.response_headers.get(name).map(<[u8]>::to_vec))
    }

    /// Whether the response head was sent (Twisted's `startedWriting`).
    pub fn started_writing(&self) -> bool {
        self.read(|s| s.started)
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn finished(&self) -> bool {
        self.read(|s| s.finished)
    }

    /// Whether the client went away (or the response was aborted).
    pub fn disconnected(&self) -> bool {
        self.read(|s| s.disconnected)
    }

    /// Body bytes written so far (not counting a HEAD response's dropped body).
    pub fn sent_length(&self) -> u64 {
        self.read(|s| s.sent_length)
    }

    /// Writes body bytes; the first call sends the response head.
    pub fn write(&self, data: &[u8]) {
        if self.start_body(data.len()) && !data.is_empty() {
            match self.encode(data) {
                Some(encoded) => self.send_encoded(encoded),
                None => self.inner.sink.send_body(data),
            }
        }
    }

    /// [`write`](Self::write) for bytes the caller gives up: they may be sent without a copy.
    pub fn write_owned(&self, data: impl Into<Payload>) {
        let data = data.into();
        if self.start_body(data.len()) && !data.is_empty() {
            match self.encode(&data) {
                Some(encoded) => self.send_encoded(encoded),
                None => self.inner.sink.send_body_owned(data),
            }
        }
    }

    /// Passes the body of this response through `encoder` (see [`BodyEncoder`]); set it
    /// before anything is written.
    pub fn set_body_encoder(&self, encoder: Box<dyn BodyEncoder>) {
        self.update(|s| {
            if !s.started {
                s.encoder = Some(encoder);
            }
        });
    }

    /// The encoded form of `data`, or `None` when no encoder is at work.
    fn encode(&self, data: &[u8]) -> Option<Vec<u8>> {
        self.update(|s| s.encoder.as_mut().map(|encoder| encoder.encode(data)))
    }

    fn send_encoded(&self, encoded: Vec<u8>) {
        if !encoded.is_empty() {
            self.inner.sink.send_body_owned(encoded.into());
        }
    }

    /// Writes `len` bytes of `file` from `offset` as body bytes, sent by the kernel straight
    /// from the file where the connection allows it (plain TCP and UNIX sockets with a
    /// `Content-Length` body). The first call sends the response head. Returns `false` when
    /// nothing was sent this way: the caller then reads the bytes and [`write`](Self::write)s
    /// them. A finished or disconnected request takes (and drops) anything.
    pub fn send_file(&self, file: &Rc<File>, offset: u64, len: u64) -> bool {
        if self.read(State::over) {
            return true;
        }
        if !self.start_body(0) {
            return true;
        }
        if self.read(|s| s.encoder.is_some()) || !self.inner.sink.send_file(file, offset, len) {
            return false;
        }
        self.update(|s| {
            if *s.info.head.method() != Method::Head {
                s.sent_length += len;
            }
        });
        true
    }

    /// [`write_owned`](Self::write_owned) then [`finish`](Self::finish), handed to the
    /// protocol in one step (a whole response in one go costs one round of its bookkeeping).
    pub fn write_and_finish(&self, data: impl Into<Payload>) {
        let data = data.into();
        if self.read(|s| s.encoder.is_some()) {
            // The encoder takes the body in steps.
            self.write_owned(data);
            self.finish();
            return;
        }
        let closing = self.update(|s| {
            if s.over() {
                return None;
            }
            if *s.info.head.method() != Method::Head {
                s.sent_length += data.len() as u64;
            }
            let head = if s.started {
                None
            } else {
                s.started = true;
                Some(s.outgoing_head(self.inner.site.spare_headers()))
            };
            s.finished = true;
            Some((head, s.close()))
        });
        let Some((head, (producer, waiters, watcher))) = closing else {
            return;
        };
        drop(watcher);
        if producer.is_some() {
            self.inner.sink.unregister_producer();
        }
        self.inner.sink.send_rest(head, data);
        self.finished_over(waiters);
    }

    /// Counts `len` body bytes and sends the head first if due; false once the response is over.
    fn start_body(&self, len: usize) -> bool {
        let head = self.update(|s| {
            if s.over() {
                return Err(());
            }
            if *s.info.head.method() != Method::Head {
                s.sent_length += len as u64;
            }
            if s.started {
                return Ok(None);
            }
            s.started = true;
            Ok(Some(s.outgoing_head(self.inner.site.spare_headers())))
        });
        let Ok(head) = head else { return false };
        if let Some(head) = head {
            self.inner.sink.send_head(head);
        }
        true
    }

    /// Ends the response, logs it and fires [`notify_finish`](Self::notify_finish).
    pub fn finish(&self) {
        let closing = self.update(|s| {
            if s.over() {
                return None;
            }
            let head = if s.started {
                None
            } else {
                if !s.response_headers.contains("Content-Length") && !s.code.forbids_body() {
                    s.response_headers.set("Content-Length", "0");
                }
                s.started = true;
                Some(s.outgoing_head(self.inner.site.spare_headers()))
            };
            s.finished = true;
            let tail = s.encoder.take().map(|mut encoder| encoder.finish());
            Some((head, tail, s.close()))
        });
        let Some((head, tail, (producer, waiters, watcher))) = closing else {
            return;
        };
        drop(watcher);
        if producer.is_some() {
            self.inner.sink.unregister_producer();
        }
        if let Some(head) = head {
            self.inner.sink.send_head(head);
        }
        if let Some(tail) = tail {
            self.send_encoded(tail);
        }
        self.inner.sink.finish();
        self.finished_over(waiters);
    }

    /// After the response ended: logs it and fires the `notify_finish` waiters.
    fn finished_over(&self, waiters: Vec<Deferred<()>>) {
        if self.inner.site.logs_access() {
            let entry = self.access_log_entry();
            self.inner.site.log_access(&entry);
        }
        for waiter in waiters {
            let _ = waiter.callback(());
        }
    }

    /// A Deferred that fires when the response is finished, or fails with
    /// [`ConnectionLost`] if the client goes away first.
    pub fn notify_finish(&self) -> Deferred<()> {
        self.update(|s| {
            if s.finished {
                Deferred::succeeded(())
            } else if s.disconnected {
                Deferred::failed(ConnectionLost)
            } else {
                let waiter = Deferred::new();
                s.finish_waiters.push(waiter.clone());
                waiter
            }
        })
    }

    /// Calls `on_lost` once if the client goes away before the response is finished (never if
    /// it finishes; at once if the client is already gone): the failure half of
    /// [`notify_finish`](Self::notify_finish), without a Deferred.
    pub fn notify_connection_lost(&self, on_lost: Box<dyn FnOnce()>) {
        let now = self.update(|s| {
            if s.finished {
                return None;
            }
            if s.disconnected {
                return Some(on_lost);
            }
            s.lost_watcher = Some(match s.lost_watcher.take() {
                Some(earlier) => Box::new(move || {
                    earlier();
                    on_lost();
                }),
                None => on_lost,
            });
            None
        });
        if let Some(on_lost) = now {
            on_lost();
        }
    }

    /// Streams the body from `producer`, paused and resumed with the
    /// outgoing buffer (`streaming`: a push producer; else a pull producer
    /// asked for each chunk). Stopped at once if the client is gone.
    pub fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool) {
        let live = self.update(|s| {
            if s.over() {
                return false;
            }
            s.producer = Some(producer.clone());
            true
        });
        if live {
            self.inner.sink.register_producer(producer, streaming);
        } else {
            producer.stop_producing();
        }
    }

    /// Removes the registered producer (finishing does it too).
    pub fn unregister_producer(&self) {
        if self.update(|s| s.producer.take()).is_some() {
            self.inner.sink.unregister_producer();
        }
    }

    /// The site serving this request.
    pub(crate) fn site(&self) -> &Rc<SiteShared> {
        &self.inner.site
    }

    /// Appends request body bytes (spooling them to disk past the site's threshold). When the
    /// body cannot be kept, the request is answered with 413 (too large) or 500 (the temporary
    /// file failed, which is logged) and the error says which; the bytes that follow are
    /// dropped.
    pub(crate) fn append_content(&self, chunk: Vec<u8>) -> Result<(), ContentError> {
        let limits = &self.inner.site.config().body_limits;
        let appended = self.update(|s| match s.content_refused {
            true => Ok(()),
            false => s.content.append(chunk, limits),
        });
        if let Err(error) = &appended {
            self.refuse_content(error);
        }
        appended
    }

    /// Answers a request whose body could not be kept; later body bytes are dropped.
    pub(crate) fn refuse_content(&self, error: &ContentError) {
        let first = self.update(|s| {
            let first = !s.content_refused;
            s.content_refused = true;
            s.content = Content::default();
            first
        });
        if !first {
            return;
        }
        match error {
            ContentError::TooLarge { .. } => self.respond_error(
                StatusCode::CONTENT_TOO_LARGE,
                "Request Entity Too Large",
                "The request body exceeds the size this server accepts.",
            ),
            ContentError::Spool(_) => {
                crate::log::error(format_args!("{error}"));
                self.respond_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "The server could not store the request body.",
                );
            }
        }
    }

    /// Moves the next `postpath` segment to `prepath` and returns it.
    pub(crate) fn advance_path(&self) -> Option<Vec<u8>> {
        self.update(|s| {
            if s.postpath.is_empty() {
                return None;
            }
            let segment = s.postpath.remove(0);
            s.prepath.push(segment.clone());
            Some(segment)
        })
    }

    /// Answers with an error page and finishes, unless writing started.
    pub(crate) fn respond_error(&self, code: StatusCode, brief: &str, detail: &str) {
        if self.read(|s| s.started || s.over()) {
            return;
        }
        let body = error_page_html(code, brief, detail);
        self.set_response_code(code);
        self.set_header("Content-Type", "text/html; charset=utf-8");
        self.finish_with_body(body);
    }

    /// Sets `Content-Length` (if nothing was written), writes `body`, finishes.
    pub(crate) fn finish_with_body(&self, body: Vec<u8>) {
        if self.read(State::over) {
            return;
        }
        if !self.started_writing() {
            self.set_header("Content-Length", body.len().to_string());
        }
        self.write_and_finish(body);
    }

    /// Rendering failed: a 500 page if nothing was sent, else the response
    /// is cut off and the connection closed.
    pub(crate) fn processing_failed(&self, detail: &str) {
        if self.read(State::over) {
            return;
        }
        if !self.started_writing() {
            let shown = if self.inner.site.config().display_tracebacks {
                detail
            } else {
                "An error occurred while processing this request."
            };
            self.respond_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                shown,
            );
            return;
        }
        self.inner.sink.abort();
        self.connection_lost(true);
    }

    /// The client is gone: fail `notify_finish` waiters and stop the producer
    /// (when `stop_producer`; the transport stops its own on close).
    pub(crate) fn connection_lost(&self, stop_producer: bool) {
        let released = self.update(|s| {
            let was_over = s.over();
            s.disconnected = true;
            (!was_over).then(|| s.close())
        });
        let Some((producer, waiters, watcher)) = released else {
            return;
        };
        if let Some(producer) = producer.filter(|_| stop_producer) {
            self.inner.sink.unregister_producer();
            producer.stop_producing();
        }
        if let Some(watcher) = watcher {
            watcher();
        }
        for waiter in waiters {
            let _ = waiter.errback(ConnectionLost);
        }
    }

    fn access_log_entry(&self) -> AccessLogEntry {
        let time = self.inner.site.wall_time();
        self.read(|s| {
            let head = &s.info.head;
            let header = |name: &str| head.headers().get(name).map(<[u8]>::to_vec);
            AccessLogEntry {
                client: match &s.info.client {
                    Address::Tcp(addr) => addr.ip().to_string(),
                    _ => "-".to_string(),
                },
                time,
                method: head.method().as_bytes().to_vec(),
                uri: head.target().to_vec(),
                protocol: head.version().as_str().as_bytes().to_vec(),
                code: s.code.as_u16(),
                length: (s.sent_length > 0).then_some(s.sent_length),
                referrer: header("referer"),
                agent: header("user-agent"),
            }
        })
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Request");
        if let Ok(state) = self.inner.state.try_borrow() {
            out.field("method", state.info.head.method())
                .field("uri", &String::from_utf8_lossy(state.info.head.target()))
                .field("code", &state.code)
                .field("finished", &state.finished)
                .field("disconnected", &state.disconnected);
        }
        out.finish_non_exhaustive()
    }
}

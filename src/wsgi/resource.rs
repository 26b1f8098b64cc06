//! [`WsgiResource`]: a WSGI application as a leaf of the web layer's resource tree (Twisted's
//! `WSGIResource`).
//!
//! Rendering turns the [`Request`] into a [`WsgiRequest`], hands it to the worker pool and
//! answers `NotDoneYet`; the pool's events come back on the reactor thread and are written to
//! the request. Back-pressure runs end to end: each request registers a push producer with its
//! transport, and output credit is acknowledged to the worker only while the transport is not
//! paused, so a worker producing faster than the client reads blocks (with the GIL released)
//! instead of filling memory. A client that disconnects is told to the worker, which stops
//! iterating and calls `close()`.
//!
//! Tested by: reactor_tests/wsgi_http.rs

use std::cell::{Cell, RefCell};
use std::io;
use std::net::IpAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use super::{
    DEFAULT_OUTPUT_CREDIT, RequestControl, RequestId, ResponseHead, UrlScheme, WorkerPool, WsgiApp,
    WsgiEvent, WsgiRequest,
};
use crate::defer::Deferred;
use crate::http::{IdMap, Method, StatusCode, Version, decimal, id_map};
use crate::log;
use crate::reactor::{Flush, Reactor, ReactorInner};
use crate::transport::{Address, Producer};
use crate::web::{Render, Request, Resource};

/// Acknowledges output to the worker while the transport takes it (a push producer).
struct Flow {
    control: Arc<RequestControl>,
    paused: Cell<bool>,
    unacknowledged: Cell<usize>,
}

impl Flow {
    fn wrote(&self, bytes: usize) {
        if self.paused.get() {
            self.unacknowledged.set(self.unacknowledged.get() + bytes);
        } else {
            self.control.acknowledge(bytes);
        }
    }
}

impl Producer for Flow {
    fn resume_producing(&self) {
        self.paused.set(false);
        let owed = self.unacknowledged.replace(0);
        if owed > 0 {
            self.control.acknowledge(owed);
        }
    }

    fn pause_producing(&self) {
        self.paused.set(true);
    }

    fn stop_producing(&self) {
        self.control.disconnect();
    }
}

struct Pending {
    request: Request,
    control: Arc<RequestControl>,
    /// Made when the response starts streaming (a whole response at once needs none).
    flow: Option<Rc<Flow>>,
}

/// The reactor side of the bridge: the pool, and the requests waiting for it.
struct Bridge {
    pool: RefCell<Option<WorkerPool>>,
    pending: RefCell<IdMap<RequestId, Pending>>,
    next_id: Cell<RequestId>,
    credit: usize,
    /// The reactor the pool reports to; requests rendered in one step of its turn are
    /// submitted together at the end of that step.
    reactor: RefCell<Option<Weak<ReactorInner>>>,
    /// Requests rendered in this step of the turn, not yet submitted.
    batch: RefCell<Vec<WsgiRequest>>,
    /// Fired when the last pending request ends, for a graceful shutdown.
    drained: RefCell<Vec<Deferred<()>>>,
    /// The server name and peer address of recent requests.
    names: RefCell<Names>,
}

/// The `SERVER_NAME` and `REMOTE_ADDR` text of the latest request, shared with the next one
/// when it has the same (as requests on one connection, or from one client, do).
#[derive(Default)]
struct Names {
    host_header: Vec<u8>,
    host: Option<Address>,
    server_name: Option<Arc<str>>,
    client_ip: Option<IpAddr>,
    remote_addr: Option<Arc<str>>,
}

impl Names {
    /// The Host header without its port (and an IPv6 literal without brackets), else our address.
    fn server_name(&mut self, host_header: Option<&[u8]>, host: &Address) -> Arc<str> {
        if let Some(name) = &self.server_name {
            let same = match host_header {
                Some(header) => self.host.is_none() && self.host_header == header,
                None => self.host.as_ref() == Some(host),
            };
            if same {
                return name.clone();
            }
        }
        let (name, from_header) = server_name(host_header, host);
        let name: Arc<str> = name.into();
        self.host_header.clear();
        if from_header {
            self.host_header
                .extend_from_slice(host_header.unwrap_or_default());
            self.host = None;
        } else {
            self.host = Some(host.clone());
        }
        self.server_name = Some(name.clone());
        name
    }

    /// The peer's IP address as text; empty for a peer without one (a UNIX socket).
    fn remote_addr(&mut self, client: &Address) -> Arc<str> {
        let Some(ip) = client.tcp().map(|addr| addr.ip()) else {
            return "".into();
        };
        match &self.remote_addr {
            Some(text) if self.client_ip == Some(ip) => text.clone(),
            _ => {
                let text: Arc<str> = ip.to_string().into();
                self.client_ip = Some(ip);
                self.remote_addr = Some(text.clone());
                text
            }
        }
    }
}

/// A WSGI application served under a path of the resource tree.
#[derive(Clone)]
pub struct WsgiResource {
    bridge: Rc<Bridge>,
}

impl WsgiResource {
    /// A resource for an application whose pool is started later with [`start`](Self::start).
    pub fn new() -> Self {
        Self {
            bridge: Rc::new(Bridge {
                pool: RefCell::new(None),
                pending: RefCell::new(id_map()),
                next_id: Cell::new(1),
                credit: DEFAULT_OUTPUT_CREDIT,
                reactor: RefCell::new(None),
                batch: RefCell::new(Vec::new()),
                drained: RefCell::new(Vec::new()),
                names: RefCell::new(Names::default()),
            }),
        }
    }

    /// Starts `threads` workers running `app`, with their events delivered on `reactor`'s
    /// thread. Call it once the reactor runs (`call_when_running`), never before a fork.
    pub fn start(&self, reactor: &Reactor, app: &WsgiApp, threads: usize) -> io::Result<()> {
        let bridge = self.bridge.clone();
        let events = reactor.thread_channel(move |event: WsgiEvent| bridge.handle(event));
        let pool = WorkerPool::start(app, threads, events)?;
        *self.bridge.pool.borrow_mut() = Some(pool);
        *self.bridge.reactor.borrow_mut() = Some(reactor.downgrade());
        Ok(())
    }

    /// How many requests are with the application.
    pub fn in_flight(&self) -> usize {
        self.bridge.pending.borrow().len()
    }

    /// A Deferred that fires once no request is with the application.
    pub fn wait_for_idle(&self) -> Deferred<()> {
        if self.in_flight() == 0 {
            return Deferred::succeeded(());
        }
        let waiter = Deferred::new();
        self.bridge.drained.borrow_mut().push(waiter.clone());
        waiter
    }

    /// Stops the workers, giving requests still running `grace` to end; returns how many
    /// workers were still busy.
    pub fn stop(&self, grace: Duration) -> usize {
        let pool = self.bridge.pool.borrow_mut().take();
        pool.map_or(0, |mut pool| pool.shutdown(grace))
    }
}

impl std::fmt::Debug for WsgiResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsgiResource")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Default for WsgiResource {
    fn default() -> Self {
        Self::new()
    }
}

impl Resource for WsgiResource {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[Method] {
        &[]
    }

    fn render(&self, request: &Request) -> Render {
        self.bridge.submit(request);
        Render::NotDoneYet
    }
}

impl Bridge {
    fn submit(self: &Rc<Self>, request: &Request) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let control = RequestControl::new(self.credit);
        let wsgi_request = {
            let mut names = self.names.borrow_mut();
            build_request(id, request, control.clone(), &mut names)
        };
        let reactor = self.reactor.borrow().as_ref().and_then(Weak::upgrade);
        let submitted = match (self.pool.borrow().as_ref(), reactor) {
            (Some(_), Some(reactor)) => {
                let mut batch = self.batch.borrow_mut();
                if batch.is_empty() {
                    let flush: Rc<dyn Flush> = self.clone();
                    Reactor::from_inner(reactor).schedule_step_end(flush);
                }
                batch.push(wsgi_request);
                true
            }
            (Some(pool), None) => pool.submit(wsgi_request).is_ok(),
            (None, _) => false,
        };
        if !submitted {
            request.respond_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "The server is shutting down.",
            );
            return;
        }
        let watched = control.clone();
        request.notify_connection_lost(Box::new(move || watched.disconnect()));
        let pending = Pending {
            request: request.clone(),
            control,
            flow: None,
        };
        self.pending.borrow_mut().insert(id, pending);
    }

    fn handle(&self, event: WsgiEvent) {
        let id = event.id();
        let terminal = event.is_terminal();
        let starts_streaming = matches!(event, WsgiEvent::Start { .. });
        let found = {
            let mut pending = self.pending.borrow_mut();
            pending.get_mut(&id).map(|p| {
                if starts_streaming && p.flow.is_none() {
                    p.flow = Some(Rc::new(Flow {
                        control: p.control.clone(),
                        paused: Cell::new(false),
                        unacknowledged: Cell::new(0),
                    }));
                }
                (p.request.clone(), p.flow.clone())
            })
        };
        if let Some((request, flow)) = found {
            respond(&request, flow.as_ref(), event);
        }
        if terminal {
            self.pending.borrow_mut().remove(&id);
            self.notify_if_drained();
        }
    }

    /// Fires the graceful-shutdown waiters once no request is pending.
    fn notify_if_drained(&self) {
        if self.pending.borrow().is_empty() {
            let waiters = std::mem::take(&mut *self.drained.borrow_mut());
            for waiter in waiters {
                let _ = waiter.callback(());
            }
        }
    }
}

impl Flush for Bridge {
    /// Submits the requests rendered in this step of the turn, with one wakeup of the pool.
    fn flush(&self, _reactor: &Reactor) {
        let mut batch = std::mem::take(&mut *self.batch.borrow_mut());
        if batch.is_empty() {
            return;
        }
        let refused = match self.pool.borrow().as_ref() {
            Some(pool) => pool.submit_all(batch.drain(..)),
            None => std::mem::take(&mut batch),
        };
        // The emptied vector keeps its room for the next step's batch.
        let mut next = self.batch.borrow_mut();
        if next.is_empty() {
            *next = batch;
        }
        drop(next);
        for wsgi_request in refused {
            let found = self.pending.borrow_mut().remove(&wsgi_request.id);
            if let Some(pending) = found {
                pending.request.respond_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "The server is shutting down.",
                );
            }
        }
        self.notify_if_drained();
    }
}

/// Writes one event of the application's response to the request.
/// `flow` is the request's, once its response started streaming.
fn respond(request: &Request, flow: Option<&Rc<Flow>>, event: WsgiEvent) {
    match event {
        WsgiEvent::Start { head, .. } => {
            apply_head(request, &head, None);
            if let Some(flow) = flow {
                let producer: Rc<dyn Producer> = flow.clone();
                request.register_producer(producer, true);
            }
            request.write(&[]);
        }
        WsgiEvent::Body { chunk, .. } => {
            let len = chunk.len();
            request.write_owned(chunk);
            if let Some(flow) = flow {
                flow.wrote(len);
            }
        }
        WsgiEvent::Complete { head, body, .. } => {
            apply_head(request, &head, Some(body.len() as u64));
            request.write_and_finish(body);
        }
        WsgiEvent::File {
            head,
            file,
            offset,
            len,
            ..
        } => {
            apply_head(request, &head, Some(len));
            crate::static_files::send_region(request, Rc::new(file), offset, len);
        }
        WsgiEvent::Finished { .. } => request.finish(),
        WsgiEvent::Failed {
            message, traceback, ..
        } => {
            log::error(format_args!(
                "WSGI application error: {message}\n{traceback}"
            ));
            let detail = if traceback.is_empty() {
                message
            } else {
                format!("{message}\n\n{traceback}")
            };
            request.processing_failed(&detail);
        }
    }
}

/// Sets the status and headers the application chose, in one borrow of the request; `Server`
/// and `Date` stay the server's. With `body_length`, also sets `Content-Length` to it unless the
/// application set one.
fn apply_head(request: &Request, head: &ResponseHead, body_length: Option<u64>) {
    let code = StatusCode::from_u16(head.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = head.status_line.get(4..).unwrap_or_default();
    request.with_response(|status, custom_reason, headers| {
        *status = code;
        // The canonical phrase needs no copy: it is what an unset reason sends.
        let canonical = code.canonical_reason().map(str::as_bytes);
        *custom_reason = (canonical != Some(reason)).then(|| reason.to_vec());
        for (name, value) in &head.headers {
            let server_owned = match name.len() {
                4 => name.eq_ignore_ascii_case(b"date"),
                6 => name.eq_ignore_ascii_case(b"server"),
                _ => false,
            };
            if server_owned || (!name.is_ascii() && std::str::from_utf8(name).is_err()) {
                continue;
            }
            headers.append(name, value);
        }
        if let Some(length) = body_length {
            if !headers.contains("Content-Length") {
                let mut digits = [0; 20];
                headers.append("Content-Length", decimal(length, &mut digits));
            }
        }
    });
}

/// The WSGI view of a request: SCRIPT_NAME from the path consumed so far, PATH_INFO from the
/// rest (both percent-decoded, as Twisted does). Reads the request through one borrow and
/// moves its body.
fn build_request(
    id: RequestId,
    request: &Request,
    control: Arc<RequestControl>,
    names: &mut Names,
) -> WsgiRequest {
    let body = request.take_content();
    request.with_view(|view| {
        let head = &view.info.head;
        let uri = head.target();
        let query_string = match memchr::memchr(b'?', uri) {
            Some(at) => uri[at + 1..].to_vec(),
            None => Vec::new(),
        };
        let host = &view.info.host;
        let client = &view.info.client;
        let headers = head.headers();
        WsgiRequest {
            id,
            method: head.method().as_bytes().to_vec(),
            script_name: joined_path(view.prepath),
            path_info: joined_path(view.postpath),
            query_string,
            server_name: names.server_name(headers.get("host"), host),
            server_port: host.tcp().map_or(0, |addr| addr.port()),
            server_protocol: protocol_name(head.version()),
            remote_addr: names.remote_addr(client),
            remote_port: client.tcp().map(|a| a.port()),
            url_scheme: if view.info.secure {
                UrlScheme::Https
            } else {
                UrlScheme::Http
            },
            headers: headers.clone(),
            body,
            control,
        }
    })
}

/// `""` for no segments, otherwise `/` before each segment.
fn joined_path(segments: &[Vec<u8>]) -> Vec<u8> {
    let mut path = Vec::with_capacity(segments.iter().map(|s| s.len() + 1).sum());
    for segment in segments {
        path.push(b'/');
        path.extend_from_slice(segment);
    }
    path
}

/// The Host header without its port (and an IPv6 literal without brackets), else our address;
/// and whether it came from the header.
fn server_name(host_header: Option<&[u8]>, host: &Address) -> (String, bool) {
    if let Some(value) = host_header.and_then(|v| std::str::from_utf8(v).ok()) {
        let name = match value.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => value.rsplit_once(':').map_or(value, |(name, _)| name),
        };
        if !name.is_empty() {
            return (name.to_owned(), true);
        }
    }
    let name = match host {
        Address::Tcp(addr) => addr.ip().to_string(),
        Address::Unix(Some(path)) => path.display().to_string(),
        Address::Unix(None) => "localhost".to_owned(),
    };
    (name, false)
}

fn protocol_name(version: Version) -> &'static str {
    match version {
        Version::Http10 => "HTTP/1.0",
        Version::Http2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

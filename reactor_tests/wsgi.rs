//! WSGI bridge tests: small Python applications written to temporary directories, run by a real
//! [`WorkerPool`] whose events reach a real reactor through a thread channel.

mod environ;
mod input;
mod lifecycle;
mod load;
mod response;
mod reuse;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use torsion::http::Headers;
use torsion::reactor::Reactor;
use torsion::wsgi::{
    RequestBody, RequestControl, ResponseHead, UrlScheme, WorkerPool, WsgiApp, WsgiEvent,
    WsgiRequest,
};

use crate::util::{TempDir, new_reactor, turn_until};

/// Turns allowed for one request to finish (each waits at most 20 ms for a wakeup).
const MAX_TURNS: usize = 500;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_MODULE: AtomicUsize = AtomicUsize::new(0);

/// A Python module in its own directory, loaded as `module:app`.
pub(crate) struct PyModule {
    pub(crate) dir: TempDir,
    pub(crate) name: String,
}

impl PyModule {
    pub(crate) fn new(source: &str) -> Self {
        let name = format!(
            "torsion_wsgi_case_{}_{}",
            std::process::id(),
            NEXT_MODULE.fetch_add(1, Ordering::Relaxed)
        );
        let dir = TempDir::new("wsgi");
        std::fs::write(dir.join(&format!("{name}.py")), source).expect("write the module");
        Self { dir, name }
    }

    pub(crate) fn load(&self, attr: &str) -> WsgiApp {
        WsgiApp::load_with_paths(&format!("{}:{attr}", self.name), [self.dir.path()])
            .unwrap_or_else(|error| panic!("load {}: {error}", self.name))
    }
}

/// A reactor, a pool running one application, and the events it has sent.
pub(crate) struct Harness {
    pub(crate) reactor: Reactor,
    pub(crate) pool: WorkerPool,
    pub(crate) events: Rc<RefCell<Vec<WsgiEvent>>>,
    pub(crate) module: PyModule,
}

impl Harness {
    /// Runs `source`'s `app` on `threads` workers.
    pub(crate) fn with_threads(source: &str, threads: usize) -> Self {
        let module = PyModule::new(source);
        let app = module.load("app");
        let reactor = new_reactor();
        let events = Rc::new(RefCell::new(Vec::new()));
        let sink = events.clone();
        let sender = reactor.thread_channel(move |event: WsgiEvent| sink.borrow_mut().push(event));
        let pool = WorkerPool::start(&app, threads, sender).expect("start the pool");
        Self {
            reactor,
            pool,
            events,
            module,
        }
    }

    pub(crate) fn new(source: &str) -> Self {
        Self::with_threads(source, 1)
    }

    /// Submits `request` and turns the reactor until its terminal event; returns its events.
    pub(crate) fn run(&self, request: WsgiRequest) -> Vec<WsgiEvent> {
        let id = request.id;
        self.pool.submit(request).expect("submit");
        self.finish(id)
    }

    /// Turns the reactor until request `id` has ended; returns (and forgets) its events.
    pub(crate) fn finish(&self, id: u64) -> Vec<WsgiEvent> {
        turn_until(&self.reactor, MAX_TURNS, || {
            self.events
                .borrow()
                .iter()
                .any(|event| event.id() == id && event.is_terminal())
        });
        self.take(id)
    }

    /// The events of request `id` received so far (forgotten afterwards).
    pub(crate) fn take(&self, id: u64) -> Vec<WsgiEvent> {
        let mut all = self.events.borrow_mut();
        let (mine, others) = all.drain(..).partition(|event| event.id() == id);
        *all = others;
        mine
    }

    /// Runs a GET of `path` and returns the body as text, failing on anything but success.
    pub(crate) fn text(&self, request: WsgiRequest) -> String {
        let events = self.run(request);
        String::from_utf8(body(&events)).expect("a UTF-8 body")
    }
}

/// A GET request for `path` with default peer and server details.
pub(crate) fn get(path: &str) -> WsgiRequest {
    WsgiRequest {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        method: b"GET".to_vec(),
        script_name: Vec::new(),
        path_info: path.as_bytes().to_vec(),
        query_string: Vec::new(),
        server_name: "example.test".into(),
        server_port: 8080,
        server_protocol: "HTTP/1.1",
        remote_addr: "192.0.2.7".into(),
        remote_port: Some(54321),
        url_scheme: UrlScheme::Http,
        headers: Headers::new(),
        body: RequestBody::Memory(Vec::new()),
        control: RequestControl::with_default_credit(),
    }
}

/// A POST of `body` to `/`.
pub(crate) fn post(body: &[u8]) -> WsgiRequest {
    let mut request = get("/");
    request.method = b"POST".to_vec();
    request.body = RequestBody::Memory(body.to_vec());
    request
}

/// Adds a header to `request`.
pub(crate) fn header(mut request: WsgiRequest, name: &str, value: &str) -> WsgiRequest {
    request.headers.append(name, value);
    request
}

/// With a given output credit.
pub(crate) fn with_credit(
    mut request: WsgiRequest,
    limit: usize,
) -> (WsgiRequest, Arc<RequestControl>) {
    let control = RequestControl::new(limit);
    request.control = control.clone();
    (request, control)
}

/// The response body, from a `Complete` event or the `Body` events; panics on a failure.
#[track_caller]
pub(crate) fn body(events: &[WsgiEvent]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for event in events {
        match event {
            WsgiEvent::Complete { body, .. } => bytes.extend_from_slice(body),
            WsgiEvent::Body { chunk, .. } => bytes.extend_from_slice(chunk),
            WsgiEvent::File {
                file, offset, len, ..
            } => bytes.extend_from_slice(&file_region(file, *offset, *len)),
            WsgiEvent::Failed {
                message, traceback, ..
            } => panic!("the request failed: {message}\n{traceback}"),
            WsgiEvent::Start { .. } | WsgiEvent::Finished { .. } => {}
        }
    }
    bytes
}

/// The response head, from a `Start` or `Complete` event.
#[track_caller]
pub(crate) fn head(events: &[WsgiEvent]) -> ResponseHead {
    events
        .iter()
        .find_map(|event| match event {
            WsgiEvent::Start { head, .. } | WsgiEvent::Complete { head, .. } => Some(head.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no response head in {events:?}"))
}

/// The `Failed` event's message and whether it came after output.
#[track_caller]
pub(crate) fn failure(events: &[WsgiEvent]) -> (String, String, bool) {
    match events.last() {
        Some(WsgiEvent::Failed {
            message,
            traceback,
            after_output,
            ..
        }) => (message.clone(), traceback.clone(), *after_output),
        _ => panic!("expected a failure, got {events:?}"),
    }
}

/// A short label per event, for comparing sequences.
/// `len` bytes of `file` from `offset`.
fn file_region(file: &std::fs::File, offset: u64, len: u64) -> Vec<u8> {
    let mut bytes = vec![0; len as usize];
    std::os::unix::fs::FileExt::read_exact_at(file, &mut bytes, offset).expect("read the file");
    bytes
}

pub(crate) fn kinds(events: &[WsgiEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| match event {
            WsgiEvent::Start { .. } => "start".to_owned(),
            WsgiEvent::Body { chunk, .. } => format!("body:{}", String::from_utf8_lossy(chunk)),
            WsgiEvent::Complete { body, .. } => {
                format!("complete:{}", String::from_utf8_lossy(body))
            }
            WsgiEvent::File {
                file, offset, len, ..
            } => format!(
                "file@{offset}:{}",
                String::from_utf8_lossy(&file_region(file, *offset, *len))
            ),
            WsgiEvent::Finished { .. } => "finished".to_owned(),
            WsgiEvent::Failed { .. } => "failed".to_owned(),
        })
        .collect()
}

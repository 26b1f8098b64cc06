//! Running one request: `start_response` (a native callable that validates as PEP 3333 asks),
//! the `write()` callable, iteration of the result with back-pressure and disconnect checks,
//! `close()` on every path, and the events that report it all.
//!
//! A worker's [`RequestRunner`] keeps the `StartResponse` object (and the bound methods handed
//! out as `start_response` and `write`) for the next request when, once a request is over, its
//! own references are the only ones left: the application cannot reach them any more, so
//! resetting them cannot be observed.
//!
//! Tested by: reactor_tests/wsgi.rs
use std::sync::Arc;

use pyo3::exceptions::{PyConnectionAbortedError, PyRuntimeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString};
use pyo3::{PyTraverseError, PyVisit};

use super::control::RequestControl;
use super::embed::reference_count;
use super::environ::EnvironTemplate;
use super::head::{HeadCache, type_name};
use super::load::exception_line;
use super::streams::{FileRegion, FileWrapper};
use super::{RequestId, ResponseHead, WsgiEvent, WsgiRequest};
use crate::payload::Payload;
use crate::reactor::ThreadSender;

/// What has been told to the reactor about one response.
struct Emitter {
    id: RequestId,
    events: ThreadSender<WsgiEvent>,
    control: Arc<RequestControl>,
    /// The status and headers from the last `start_response`.
    head: Option<ResponseHead>,
    head_sent: bool,
    /// Whether `write()` refused data because the client had gone.
    refused_after_disconnect: bool,
}

impl Emitter {
    /// Sends a non-empty chunk, preceded by the head the first time; returns whether the
    /// worker must wait for credit.
    fn send_chunk(&mut self, chunk: Payload) -> PyResult<bool> {
        let len = chunk.len();
        let id = self.id;
        let sent = if self.head_sent {
            self.events.send(WsgiEvent::Body { id, chunk }).is_ok()
        } else {
            let head = self.head.clone().ok_or_else(|| {
                PyRuntimeError::new_err(
                    "the application produced body data before calling start_response()",
                )
            })?;
            self.head_sent = true;
            self.events
                .send_all([WsgiEvent::Start { id, head }, WsgiEvent::Body { id, chunk }])
        };
        if !sent {
            // The reactor is gone: nobody will read this response.
            self.control.disconnect();
        }
        Ok(self.control.record_sent(len))
    }

    fn send(&self, event: WsgiEvent) {
        // A reactor that is gone no longer needs to hear about the request.
        let _ = self.events.send(event);
    }
}

/// What the application gets as `start_response` (the bound method of that name, which
/// Python calls without building an argument tuple) and `write()` (the bound `write` method).
#[pyclass(module = "torsion", name = "StartResponse")]
pub(crate) struct StartResponse {
    emitter: Emitter,
    /// The bound `write` method to return, while a request runs (it refers back to this
    /// object: see `__traverse__`).
    write: Option<Py<PyAny>>,
    /// The status and header objects of earlier calls, already validated.
    heads: HeadCache,
}

#[pymethods]
impl StartResponse {
    /// PEP 3333's `start_response(status, headers, exc_info=None)`: validates and records the
    /// response head, and returns `write`.
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn start_response<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        {
            let mut this = slf.borrow_mut();
            let this = &mut *this;
            match exc_info.filter(|info| !info.is_none()) {
                Some(info) if this.emitter.head_sent => return Err(reraise(info)),
                Some(_) => {}
                None if this.emitter.head.is_some() => {
                    return Err(PyRuntimeError::new_err(
                        "start_response() called a second time without exc_info",
                    ));
                }
                None => {}
            }
            this.emitter.head = Some(this.heads.parse(status, headers)?);
            if let Some(write) = &this.write {
                return Ok(write.bind(py).clone());
            }
        }
        slf.getattr(intern!(py, "write"))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(write) = &self.write {
            visit.call(write)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.write = None;
    }

    /// PEP 3333's `write(data)`: sends `data` at once, blocking while too much is unsent.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "write() argument must be bytes, not {}",
                type_name(data)
            ))
        })?;
        let control = {
            let mut this = slf.borrow_mut();
            if this.emitter.head.is_none() {
                return Err(PyRuntimeError::new_err(
                    "write() called before start_response()",
                ));
            }
            if this.emitter.control.is_disconnected() {
                this.emitter.refused_after_disconnect = true;
                return Err(PyConnectionAbortedError::new_err("the client disconnected"));
            }
            if bytes.as_bytes().is_empty() || !this.emitter.send_chunk(payload_of(bytes))? {
                return Ok(());
            }
            this.emitter.control.clone()
        };
        slf.py().detach(|| control.wait_for_credit());
        Ok(())
    }
}

/// The exception of `exc_info`, with its traceback, to raise again.
fn reraise(info: &Bound<'_, PyAny>) -> PyErr {
    let value = match info.get_item(1) {
        Ok(value) => value,
        Err(error) => return error,
    };
    let value = match info.get_item(2) {
        Ok(traceback) if !traceback.is_none() => value
            .call_method1(intern!(info.py(), "with_traceback"), (traceback,))
            .unwrap_or(value),
        _ => value,
    };
    PyErr::from_value(value)
}

/// How running the application ended, when it did not raise.
enum Ran {
    /// A list response, collected whole and not yet sent.
    Collected(Payload),
    /// A `wsgi.file_wrapper` over a regular file, to be sent from the file by the reactor.
    File(FileRegion),
    /// Chunks (if any) were sent as they came.
    Streamed,
}

/// A [`StartResponse`] and its bound methods.
struct Callables {
    responder: Py<StartResponse>,
    start_response: Py<PyAny>,
    write: Py<PyAny>,
}

/// What a worker keeps from one request to the next: the environ builder, and the
/// `start_response` callable with its `write` while the application keeps neither.
pub(crate) struct RequestRunner {
    template: EnvironTemplate,
    spare: Option<Callables>,
}

impl RequestRunner {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Self> {
        Ok(Self {
            template: EnvironTemplate::new(py)?,
            spare: None,
        })
    }

    /// Runs `request` to its end; sends the events, always ending with one terminal event.
    pub(crate) fn run(
        &mut self,
        py: Python<'_>,
        app: &Bound<'_, PyAny>,
        mut request: WsgiRequest,
        events: &ThreadSender<WsgiEvent>,
    ) {
        let id = request.id;
        let body = std::mem::take(&mut request.body);
        let (responder, start_response, write) = match self.callables(py, &request, events) {
            Ok(callables) => callables,
            Err(error) => {
                let _ = events.send(failure(py, id, &error, false));
                return;
            }
        };
        let ran = self
            .template
            .build(py, &request, body)
            .and_then(|environ| run_app(py, app, environ, &responder, &start_response));
        self.template.release_input(py);
        let Ok(mut this) = responder.try_borrow_mut() else {
            // Another thread still holds the application's start_response: report what we
            // know (the object is collected with its `write` once released).
            let _ = events.send(WsgiEvent::Failed {
                id,
                message: "start_response() was still in use when the application returned".into(),
                traceback: String::new(),
                after_output: true,
            });
            return;
        };
        this.write = None;
        let event = outcome(py, id, &mut this.emitter, ran);
        this.emitter.send(event);
        drop(this);
        // Held here and by its two methods only, none can be reached by the application any
        // more.
        if reference_count(responder.as_any()) == 3
            && reference_count(&start_response) == 1
            && reference_count(&write) == 1
        {
            self.spare = Some(Callables {
                responder: responder.unbind(),
                start_response: start_response.unbind(),
                write: write.unbind(),
            });
        }
    }

    /// The [`StartResponse`] for `request` with its `start_response` and `write` methods:
    /// the spare ones when there are.
    #[allow(clippy::type_complexity)]
    fn callables<'py>(
        &mut self,
        py: Python<'py>,
        request: &WsgiRequest,
        events: &ThreadSender<WsgiEvent>,
    ) -> PyResult<(
        Bound<'py, StartResponse>,
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
    )> {
        if let Some(spare) = self.spare.take() {
            let (responder, write) = (spare.responder.into_bound(py), spare.write);
            {
                let mut this = responder.try_borrow_mut()?;
                let emitter = &mut this.emitter;
                emitter.id = request.id;
                emitter.control = request.control.clone();
                emitter.head = None;
                emitter.head_sent = false;
                emitter.refused_after_disconnect = false;
                this.write = Some(write.clone_ref(py));
            }
            let start_response = spare.start_response.into_bound(py);
            return Ok((responder, start_response, write.into_bound(py)));
        }
        let emitter = Emitter {
            id: request.id,
            events: events.clone(),
            control: request.control.clone(),
            head: None,
            head_sent: false,
            refused_after_disconnect: false,
        };
        let responder = Bound::new(
            py,
            StartResponse {
                emitter,
                write: None,
                heads: HeadCache::default(),
            },
        )?;
        let start_response = responder.getattr(intern!(py, "start_response"))?;
        let write = responder.getattr(intern!(py, "write"))?;
        responder.borrow_mut().write = Some(write.clone().unbind());
        Ok((responder, start_response, write))
    }
}

/// The terminal event of a request whose application ended with `ran`.
fn outcome(py: Python<'_>, id: RequestId, emitter: &mut Emitter, ran: PyResult<Ran>) -> WsgiEvent {
    let after_output = emitter.head_sent;
    match ran {
        Err(error)
            if emitter.refused_after_disconnect
                && error.is_instance_of::<PyConnectionAbortedError>(py) =>
        {
            WsgiEvent::Finished { id }
        }
        Err(error) => failure(py, id, &error, after_output),
        Ok(_) if after_output => WsgiEvent::Finished { id },
        Ok(ran) => match emitter.head.take() {
            Some(head) => match ran {
                Ran::File(region) => WsgiEvent::File {
                    id,
                    head,
                    file: region.file,
                    offset: region.offset,
                    len: region.len,
                },
                Ran::Collected(body) => WsgiEvent::Complete { id, head, body },
                Ran::Streamed => WsgiEvent::Complete {
                    id,
                    head,
                    body: Payload::new(),
                },
            },
            None if emitter.control.is_disconnected() => WsgiEvent::Finished { id },
            None => WsgiEvent::Failed {
                id,
                message: "the application returned without calling start_response()".into(),
                traceback: String::new(),
                after_output: false,
            },
        },
    }
}

fn failure(py: Python<'_>, id: RequestId, error: &PyErr, after_output: bool) -> WsgiEvent {
    WsgiEvent::Failed {
        id,
        message: exception_line(py, error),
        traceback: format_exception(py, error),
        after_output,
    }
}

/// Calls the application and consumes its result; `close()` is called whatever happens.
fn run_app(
    py: Python<'_>,
    app: &Bound<'_, PyAny>,
    environ: Bound<'_, pyo3::types::PyDict>,
    responder: &Bound<'_, StartResponse>,
    start_response: &Bound<'_, PyAny>,
) -> PyResult<Ran> {
    let result = app.call1((environ, start_response))?;
    if let Ok(list) = result.cast_exact::<PyList>() {
        if !responder.borrow().emitter.head_sent {
            // A list has no close(); collect it for one event with a known length. A list of
            // one item is passed on as it is; otherwise the body is sized first, so that it is
            // allocated once and each item copied once.
            if list.len() == 1 {
                if let Ok(item) = list.get_item(0) {
                    return Ok(Ran::Collected(payload_of(chunk_bytes(&item)?)));
                }
            }
            let mut total = 0;
            for item in list.iter() {
                total += chunk_bytes(&item)?.as_bytes().len();
            }
            let mut body = Vec::with_capacity(total);
            for item in list.iter() {
                body.extend_from_slice(chunk_bytes(&item)?.as_bytes());
            }
            return Ok(Ran::Collected(body.into()));
        }
    }
    if let Ok(wrapper) = result.cast_exact::<FileWrapper>() {
        if !responder.borrow().emitter.head_sent {
            let limit = responder
                .borrow()
                .emitter
                .head
                .as_ref()
                .and_then(ResponseHead::content_length);
            // A file-like object without a usable descriptor is iterated like any result.
            if let Some(region) = wrapper.borrow().file_region(py, limit)? {
                wrapper.borrow().close(py)?;
                return Ok(Ran::File(region));
            }
        }
    }
    let iterated = iterate(py, &result, responder);
    let closed = match result.getattr_opt(intern!(py, "close")) {
        Ok(Some(close)) => close.call0().map(drop),
        Ok(None) => Ok(()),
        Err(error) => Err(error),
    };
    // The first failure is the one to report.
    iterated.and_then(|ran| closed.map(|()| ran))
}

fn iterate(
    py: Python<'_>,
    result: &Bound<'_, PyAny>,
    responder: &Bound<'_, StartResponse>,
) -> PyResult<Ran> {
    let control = responder.borrow().emitter.control.clone();
    let mut items = result.try_iter()?;
    loop {
        // A client that has gone gets no more chunks pulled from the application.
        if control.is_disconnected() {
            break;
        }
        let Some(item) = items.next() else {
            break;
        };
        let item = item?;
        let chunk = chunk_bytes(&item)?;
        if chunk.as_bytes().is_empty() {
            continue;
        }
        let wait = responder
            .try_borrow_mut()?
            .emitter
            .send_chunk(payload_of(chunk))?;
        if wait {
            py.detach(|| control.wait_for_credit());
        }
    }
    Ok(Ran::Streamed)
}

/// Bodies at least this large are handed to the reactor in their Python `bytes` object (which
/// is immutable) instead of being copied; smaller ones are copied, which costs less than
/// releasing the object from the reactor thread later.
const SHARE_MIN: usize = 8 * 1024;

/// The bytes of `chunk` for the reactor: shared when large, copied otherwise.
fn payload_of(chunk: &Bound<'_, PyBytes>) -> Payload {
    if chunk.as_bytes().len() >= SHARE_MIN {
        Payload::Shared(Box::new(PyBackedBytes::from(chunk.clone())))
    } else {
        Payload::Vec(chunk.as_bytes().to_vec())
    }
}

fn chunk_bytes<'a, 'py>(item: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyBytes>> {
    item.cast::<PyBytes>().map_err(|_| {
        PyTypeError::new_err(format!(
            "the application must produce bytes, not {}",
            type_name(item)
        ))
    })
}

/// The traceback text of `error`, as Python prints it.
pub(crate) fn format_exception(py: Python<'_>, error: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|traceback| {
        traceback.call_method1(
            "format_exception",
            (
                error.get_type(py),
                error.value(py),
                error
                    .traceback(py)
                    .map(|tb| tb.into_any())
                    .unwrap_or_else(|| py.None().into_bound(py)),
            ),
        )
    });
    match formatted.and_then(|lines| PyString::new(py, "").call_method1("join", (lines,))) {
        Ok(text) => text.to_string(),
        Err(_) => exception_line(py, error),
    }
}

//! Running one request: `start_response` (a native callable that validates as PEP 3333 asks),
//! the `write()` callable, iteration of the result with back-pressure and disconnect checks,
//! `close()` on every path, and the events that report it all.
//!
//! Tested by: reactor_tests/wsgi.rs
use std::sync::Arc;

use pyo3::exceptions::{PyConnectionAbortedError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use super::control::RequestControl;
use super::environ::EnvironTemplate;
use super::load::exception_line;
use super::streams::{FileRegion, FileWrapper};
use super::{RequestId, ResponseHead, WsgiEvent, WsgiRequest};
use crate::http::Headers;
use crate::payload::Payload;
use crate::reactor::ThreadSender;

/// Response headers PEP 3333 forbids an application to set.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

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

/// The `start_response` callable; its `write` method is the `write()` callable it returns.
#[pyclass(module = "torsion", name = "StartResponse")]
pub(crate) struct StartResponse {
    emitter: Emitter,
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        {
            let mut this = slf.borrow_mut();
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
            this.emitter.head = Some(parse_head(status, headers)?);
        }
        slf.getattr(intern!(py, "write"))
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

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Encodes `text` as ISO-8859-1, or None when a character is outside it.
fn latin1_bytes(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    latin1_into(text, &mut bytes).then_some(bytes)
}

/// Appends `text` encoded as ISO-8859-1 to `bytes`; false when a character is outside it.
fn latin1_into(text: &str, bytes: &mut Vec<u8>) -> bool {
    if text.is_ascii() {
        bytes.extend_from_slice(text.as_bytes());
        return true;
    }
    for c in text.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(byte) => bytes.push(byte),
            Err(_) => return false,
        }
    }
    true
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Validates and encodes the arguments of `start_response`.
fn parse_head(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<ResponseHead> {
    let status_text = status.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("status must be str, not {}", type_name(status)))
    })?;
    let status_text = status_text.to_cow()?;
    let line = latin1_bytes(&status_text)
        .filter(|line| {
            line.len() >= 4
                && line[..3].iter().all(u8::is_ascii_digit)
                && line[0] != b'0'
                && line[3] == b' '
                && !line.iter().any(|byte| byte.is_ascii_control())
        })
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "status must look like '200 OK' (three digits, a space, a reason), not {status_text:?}"
            ))
        })?;
    let code = line[..3]
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    let list = headers.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "headers must be a list, not {}",
            type_name(headers)
        ))
    })?;
    let mut parsed = Headers::with_capacity(list.len(), 32 * list.len());
    let mut value_bytes = Vec::new();
    for header in list.iter() {
        let pair = header
            .cast::<PyTuple>()
            .ok()
            .filter(|pair| pair.len() == 2)
            .ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "each header must be a (str, str) tuple, not {}",
                    header.repr().map(|r| r.to_string()).unwrap_or_default()
                ))
            })?;
        let name = pair.get_item(0)?;
        let value = pair.get_item(1)?;
        let (Ok(name), Ok(value)) = (name.cast::<PyString>(), value.cast::<PyString>()) else {
            return Err(PyTypeError::new_err(format!(
                "header must be (str, str), not ({}, {})",
                type_name(&name),
                type_name(&value)
            )));
        };
        let name = name.to_cow()?;
        let value = value.to_cow()?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(PyValueError::new_err(format!(
                "invalid header name {name:?}"
            )));
        }
        if HOP_BY_HOP
            .iter()
            .any(|hop| hop.len() == name.len() && hop.eq_ignore_ascii_case(&name))
        {
            return Err(PyValueError::new_err(format!(
                "hop-by-hop header {name:?} is not allowed in a WSGI response (PEP 3333)"
            )));
        }
        let latin1 = if value.is_ascii() {
            Some(value.as_bytes())
        } else {
            value_bytes.clear();
            latin1_into(&value, &mut value_bytes).then_some(value_bytes.as_slice())
        };
        let Some(bytes) =
            latin1.filter(|bytes| !bytes.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')))
        else {
            return Err(PyValueError::new_err(format!(
                "header {name} value must be ISO-8859-1 text without CR, LF or NUL, not {value:?}"
            )));
        };
        parsed.append(name.as_bytes(), bytes);
    }
    Ok(ResponseHead {
        code,
        status_line: line,
        headers: parsed,
    })
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

/// Runs `request` to its end; sends the events, always ending with one terminal event.
pub(crate) fn run_request(
    py: Python<'_>,
    template: &EnvironTemplate,
    app: &Bound<'_, PyAny>,
    mut request: WsgiRequest,
    events: &ThreadSender<WsgiEvent>,
) {
    let id = request.id;
    let body = std::mem::take(&mut request.body);
    let emitter = Emitter {
        id,
        events: events.clone(),
        control: request.control.clone(),
        head: None,
        head_sent: false,
        refused_after_disconnect: false,
    };
    let responder = match Bound::new(py, StartResponse { emitter }) {
        Ok(responder) => responder,
        Err(error) => {
            let _ = events.send(failure(py, id, &error, false));
            return;
        }
    };
    let ran = template
        .build(py, &request, body)
        .and_then(|environ| run_app(py, app, environ, &responder));
    template.release_input(py);
    let Ok(mut this) = responder.try_borrow_mut() else {
        // Another thread still holds the application's start_response: report what we know.
        let _ = events.send(WsgiEvent::Failed {
            id,
            message: "start_response() was still in use when the application returned".into(),
            traceback: String::new(),
            after_output: true,
        });
        return;
    };
    let emitter = &mut this.emitter;
    let after_output = emitter.head_sent;
    let event = match ran {
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
    };
    emitter.send(event);
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
) -> PyResult<Ran> {
    let result = app.call1((environ, responder))?;
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

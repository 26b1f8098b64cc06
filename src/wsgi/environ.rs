//! Building the environ: a `dict` with `str` keys, copied from a prepared base (the constant
//! entries) and filled with interned keys, so a request costs few Python allocations.
//!
//! Also `wsgi.errors` (lines go to the server log) and `wsgi.file_wrapper` (iterates the file
//! in blocks; the server does not yet send it with `sendfile`).
//!
//! Tested by: reactor_tests/wsgi.rs
use std::borrow::Cow;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use super::embed::latin1;
use super::input::InputStream;
use super::{RequestBody, UrlScheme, WsgiRequest};
use crate::log;

/// `SERVER_SOFTWARE`.
const SERVER_SOFTWARE: &str = concat!("torsion/", env!("CARGO_PKG_VERSION"));

/// Request headers whose `HTTP_*` key is interned; the first two have CGI names instead.
const COMMON_HEADERS: [(&str, &str); 26] = [
    ("content-type", "CONTENT_TYPE"),
    ("content-length", "CONTENT_LENGTH"),
    ("host", "HTTP_HOST"),
    ("user-agent", "HTTP_USER_AGENT"),
    ("accept", "HTTP_ACCEPT"),
    ("accept-encoding", "HTTP_ACCEPT_ENCODING"),
    ("accept-language", "HTTP_ACCEPT_LANGUAGE"),
    ("connection", "HTTP_CONNECTION"),
    ("cookie", "HTTP_COOKIE"),
    ("referer", "HTTP_REFERER"),
    ("cache-control", "HTTP_CACHE_CONTROL"),
    (
        "upgrade-insecure-requests",
        "HTTP_UPGRADE_INSECURE_REQUESTS",
    ),
    ("origin", "HTTP_ORIGIN"),
    ("authorization", "HTTP_AUTHORIZATION"),
    ("if-none-match", "HTTP_IF_NONE_MATCH"),
    ("if-modified-since", "HTTP_IF_MODIFIED_SINCE"),
    ("x-forwarded-for", "HTTP_X_FORWARDED_FOR"),
    ("x-forwarded-proto", "HTTP_X_FORWARDED_PROTO"),
    ("x-real-ip", "HTTP_X_REAL_IP"),
    ("x-requested-with", "HTTP_X_REQUESTED_WITH"),
    ("pragma", "HTTP_PRAGMA"),
    ("dnt", "HTTP_DNT"),
    ("sec-fetch-dest", "HTTP_SEC_FETCH_DEST"),
    ("sec-fetch-mode", "HTTP_SEC_FETCH_MODE"),
    ("sec-fetch-site", "HTTP_SEC_FETCH_SITE"),
    ("sec-fetch-user", "HTTP_SEC_FETCH_USER"),
];
const COOKIE: usize = 8;

const METHODS: [&str; 7] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];
const PROTOCOLS: [&str; 3] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2"];

/// Interned keys and values, and the base dict, built once per pool.
pub(crate) struct EnvironTemplate {
    base: Py<PyDict>,
    request_method: Py<PyString>,
    script_name: Py<PyString>,
    path_info: Py<PyString>,
    query_string: Py<PyString>,
    server_name: Py<PyString>,
    server_port: Py<PyString>,
    server_protocol: Py<PyString>,
    remote_addr: Py<PyString>,
    remote_port: Py<PyString>,
    url_scheme: Py<PyString>,
    input: Py<PyString>,
    http: Py<PyString>,
    https: Py<PyString>,
    headers: Vec<Py<PyString>>,
    methods: Vec<Py<PyString>>,
    protocols: Vec<Py<PyString>>,
}

/// An environ key for one request header.
#[derive(PartialEq)]
enum Key {
    Common(usize),
    Other(String),
}

impl EnvironTemplate {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Self> {
        let intern = |text: &str| PyString::intern(py, text).unbind();
        let base = PyDict::new(py);
        base.set_item(intern("CONTENT_TYPE"), "")?;
        base.set_item(intern("CONTENT_LENGTH"), "")?;
        base.set_item(intern("SERVER_SOFTWARE"), SERVER_SOFTWARE)?;
        base.set_item(intern("wsgi.version"), PyTuple::new(py, [1, 0])?)?;
        base.set_item(intern("wsgi.errors"), Py::new(py, ErrorStream::default())?)?;
        base.set_item(intern("wsgi.multithread"), PyBool::new(py, true))?;
        base.set_item(intern("wsgi.multiprocess"), PyBool::new(py, false))?;
        base.set_item(intern("wsgi.run_once"), PyBool::new(py, false))?;
        base.set_item(intern("wsgi.input_terminated"), PyBool::new(py, true))?;
        base.set_item(intern("wsgi.file_wrapper"), py.get_type::<FileWrapper>())?;
        Ok(Self {
            base: base.unbind(),
            request_method: intern("REQUEST_METHOD"),
            script_name: intern("SCRIPT_NAME"),
            path_info: intern("PATH_INFO"),
            query_string: intern("QUERY_STRING"),
            server_name: intern("SERVER_NAME"),
            server_port: intern("SERVER_PORT"),
            server_protocol: intern("SERVER_PROTOCOL"),
            remote_addr: intern("REMOTE_ADDR"),
            remote_port: intern("REMOTE_PORT"),
            url_scheme: intern("wsgi.url_scheme"),
            input: intern("wsgi.input"),
            http: intern("http"),
            https: intern("https"),
            headers: COMMON_HEADERS.iter().map(|(_, key)| intern(key)).collect(),
            methods: METHODS.iter().map(|method| intern(method)).collect(),
            protocols: PROTOCOLS.iter().map(|protocol| intern(protocol)).collect(),
        })
    }

    /// The environ for `request`; `body` becomes `wsgi.input`.
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        request: &WsgiRequest,
        body: RequestBody,
    ) -> PyResult<Bound<'py, PyDict>> {
        let environ = self.base.bind(py).copy()?;
        let method = match METHODS
            .iter()
            .position(|known| known.as_bytes() == request.method.as_slice())
        {
            Some(index) => self.methods[index].bind(py).clone(),
            None => latin1(py, &request.method)?,
        };
        environ.set_item(&self.request_method, method)?;
        environ.set_item(&self.script_name, latin1(py, &request.script_name)?)?;
        environ.set_item(&self.path_info, latin1(py, &request.path_info)?)?;
        environ.set_item(&self.query_string, latin1(py, &request.query_string)?)?;
        environ.set_item(&self.server_name, request.server_name.as_str())?;
        environ.set_item(&self.server_port, request.server_port.to_string())?;
        let protocol = match PROTOCOLS
            .iter()
            .position(|known| *known == request.server_protocol)
        {
            Some(index) => self.protocols[index].bind(py).clone(),
            None => PyString::new(py, &request.server_protocol),
        };
        environ.set_item(&self.server_protocol, protocol)?;
        environ.set_item(&self.remote_addr, request.remote_addr.as_str())?;
        if let Some(port) = request.remote_port {
            environ.set_item(&self.remote_port, port.to_string())?;
        }
        let scheme = match request.url_scheme {
            UrlScheme::Http => &self.http,
            UrlScheme::Https => &self.https,
        };
        environ.set_item(&self.url_scheme, scheme)?;
        environ.set_item(&self.input, Py::new(py, InputStream::new(body))?)?;
        self.add_headers(py, &environ, &request.headers)?;
        Ok(environ)
    }

    fn add_headers(
        &self,
        py: Python<'_>,
        environ: &Bound<'_, PyDict>,
        headers: &[(Vec<u8>, Vec<u8>)],
    ) -> PyResult<()> {
        let mut merged: Vec<(Key, Cow<'_, [u8]>)> = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            // `X_Foo` would alias `X-Foo`: drop it, as nginx and gunicorn do.
            if name.contains(&b'_') {
                continue;
            }
            let key = match COMMON_HEADERS
                .iter()
                .position(|(known, _)| known.as_bytes().eq_ignore_ascii_case(name))
            {
                Some(index) => Key::Common(index),
                None => Key::Other(
                    "HTTP_"
                        .chars()
                        .chain(name.iter().map(|byte| match byte {
                            b'-' => '_',
                            byte => char::from(byte.to_ascii_uppercase()),
                        }))
                        .collect(),
                ),
            };
            let value: Cow<'_, [u8]> = if value.contains(&b'\n') {
                Cow::Owned(
                    value
                        .iter()
                        .map(|byte| if *byte == b'\n' { b' ' } else { *byte })
                        .collect(),
                )
            } else {
                Cow::Borrowed(value)
            };
            match merged.iter_mut().find(|(known, _)| *known == key) {
                Some((_, joined)) => {
                    let separator: &[u8] = if key == Key::Common(COOKIE) {
                        b"; "
                    } else {
                        b","
                    };
                    let joined = joined.to_mut();
                    joined.extend_from_slice(separator);
                    joined.extend_from_slice(&value);
                }
                None => merged.push((key, value)),
            }
        }
        for (key, value) in merged {
            let value = latin1(py, &value)?;
            match key {
                Key::Common(index) => environ.set_item(&self.headers[index], value)?,
                Key::Other(key) => environ.set_item(key, value)?,
            }
        }
        Ok(())
    }
}

/// `wsgi.errors`: text written to it reaches the server log one line at a time.
#[pyclass(module = "torsion", name = "ErrorStream")]
#[derive(Default)]
pub(crate) struct ErrorStream {
    pending: Mutex<String>,
}

impl ErrorStream {
    fn emit_lines(&self, text: &str, flush: bool) {
        let mut pending = self.pending.lock();
        pending.push_str(text);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            log::error(format_args!(
                "wsgi: {}",
                line.trim_end_matches(['\n', '\r'])
            ));
        }
        if flush && !pending.is_empty() {
            let line = std::mem::take(&mut *pending);
            log::error(format_args!("wsgi: {line}"));
        }
    }
}

#[pymethods]
impl ErrorStream {
    /// Writes text (a `str`, as PEP 3333 requires).
    fn write(&self, data: &Bound<'_, PyString>) -> PyResult<()> {
        self.emit_lines(&data.to_cow()?, false);
        Ok(())
    }

    /// Writes each string of `lines`.
    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            let line = line?;
            self.emit_lines(&line.cast::<PyString>()?.to_cow()?, false);
        }
        Ok(())
    }

    /// Logs any unfinished line.
    fn flush(&self) {
        self.emit_lines("", true);
    }
}

/// A stretch of a regular file to send as a whole response body.
pub(crate) struct FileRegion {
    pub(crate) file: std::fs::File,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// `wsgi.file_wrapper(filelike, block_size=8192)`: iterates `filelike.read(block_size)` until it
/// returns nothing, and closes the file when the server calls `close()`. Returned as the
/// response itself over a regular file, it is not iterated: the server sends the file from
/// its current position straight from the kernel (see [`FileWrapper::file_region`]).
#[pyclass(module = "torsion", name = "FileWrapper")]
pub(crate) struct FileWrapper {
    filelike: Py<PyAny>,
    block_size: usize,
}

impl FileWrapper {
    /// The rest of the wrapped file from its current position (at most `limit` bytes, the
    /// response's Content-Length), on a descriptor of our own; `None` when the object has no
    /// `fileno()` or is not a regular file, and is then iterated instead.
    pub(crate) fn file_region(
        &self,
        py: Python<'_>,
        limit: Option<u64>,
    ) -> PyResult<Option<FileRegion>> {
        let filelike = self.filelike.bind(py);
        let Ok(Some(fileno)) = filelike.getattr_opt("fileno") else {
            return Ok(None);
        };
        let Ok(fd) = fileno.call0().and_then(|fd| fd.extract::<i32>()) else {
            return Ok(None);
        };
        let Ok(fd) = crate::sys::duplicate_descriptor(fd) else {
            return Ok(None);
        };
        let file = std::fs::File::from(fd);
        let Ok(metadata) = file.metadata() else {
            return Ok(None);
        };
        if !metadata.is_file() {
            return Ok(None);
        }
        // The Python-level position: a buffered reader may have read ahead of the descriptor.
        let offset = match filelike.getattr_opt("tell")? {
            Some(tell) => tell.call0()?.extract::<u64>()?,
            None => 0,
        };
        let available = metadata.len().saturating_sub(offset);
        let len = limit.map_or(available, |limit| limit.min(available));
        Ok(Some(FileRegion { file, offset, len }))
    }
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, block_size = 8192))]
    fn new(filelike: Py<PyAny>, block_size: usize) -> Self {
        Self {
            filelike,
            block_size: block_size.max(1),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1("read", (self.block_size,))?;
        Ok(data.is_truthy()?.then_some(data))
    }

    /// Closes the file, if it can be closed.
    pub(crate) fn close(&self, py: Python<'_>) -> PyResult<()> {
        let filelike = self.filelike.bind(py);
        if filelike.hasattr("close")? {
            filelike.call_method0("close")?;
        }
        Ok(())
    }
}

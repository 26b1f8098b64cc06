//! Building the environ: a `dict` with `str` keys, copied from a prepared base (the constant
//! entries) and filled with interned keys, so a request costs few Python allocations.
//!
//! Also `wsgi.errors` (lines go to the server log) and `wsgi.file_wrapper` (iterates the file
//! in blocks; the server does not yet send it with `sendfile`).
//!
//! Tested by: reactor_tests/wsgi.rs
use std::borrow::Cow;
use std::cell::RefCell;

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
const HOST: usize = 2;
const COOKIE: usize = 8;

const METHODS: [&str; 7] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];
const PROTOCOLS: [&str; 3] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2"];

/// Interned keys and values, the base dict, and the values of recent requests, owned by one
/// worker.
///
/// The base dict holds every constant entry and, with placeholder values, every key each
/// request sets (and `HTTP_HOST`, which nearly every request has): a copy of it is a clone of a
/// hash table already large enough for the request's entries, so filling it in replaces values
/// in place and adds the header keys without resizing.
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
    recent: RefCell<Recent>,
}

/// The last value of each slot that tends to repeat from one request to the next (the path,
/// the server and peer, common header values): a request that repeats it reuses the `str`.
#[derive(Default)]
struct Recent {
    script_name: Option<RecentValue>,
    path_info: Option<RecentValue>,
    query_string: Option<RecentValue>,
    server_name: Option<RecentValue>,
    server_port: Option<RecentValue>,
    remote_addr: Option<RecentValue>,
    remote_port: Option<RecentValue>,
    headers: [Option<RecentValue>; COMMON_HEADERS.len()],
    /// Scratch space for `HTTP_*` keys of uncommon headers.
    key: String,
}

struct RecentValue {
    bytes: Vec<u8>,
    value: Py<PyString>,
}

/// The `str` for `bytes` (decoded as ISO-8859-1): the one in `slot` if it has the same bytes,
/// else a new one, which `slot` then keeps.
fn recent_or_new<'py>(
    py: Python<'py>,
    slot: &mut Option<RecentValue>,
    bytes: &[u8],
) -> PyResult<Bound<'py, PyString>> {
    if let Some(recent) = slot.as_ref().filter(|recent| recent.bytes == bytes) {
        return Ok(recent.value.bind(py).clone());
    }
    let value = latin1(py, bytes)?;
    match slot {
        Some(recent) => {
            recent.bytes.clear();
            recent.bytes.extend_from_slice(bytes);
            recent.value = value.clone().unbind();
        }
        None => {
            *slot = Some(RecentValue {
                bytes: bytes.to_vec(),
                value: value.clone().unbind(),
            })
        }
    }
    Ok(value)
}

/// The index in [`COMMON_HEADERS`] of header `name`, compared ignoring ASCII case.
fn common_header(name: &[u8]) -> Option<usize> {
    COMMON_HEADERS.iter().position(|(known, _)| {
        known.len() == name.len() && known.as_bytes().eq_ignore_ascii_case(name)
    })
}

/// An environ key for one request header.
#[derive(PartialEq)]
enum Key {
    Common(usize),
    Other(String),
}

impl Key {
    fn of(name: &[u8]) -> Key {
        match common_header(name) {
            Some(index) => Key::Common(index),
            None => {
                let mut key = String::with_capacity(5 + name.len());
                push_http_key(&mut key, name);
                Key::Other(key)
            }
        }
    }
}

/// Appends `HTTP_` and `name` upper-cased with `-` as `_` to `key`.
fn push_http_key(key: &mut String, name: &[u8]) {
    key.push_str("HTTP_");
    key.extend(name.iter().map(|byte| match byte {
        b'-' => '_',
        byte => char::from(byte.to_ascii_uppercase()),
    }));
}

/// `value` in decimal, written into `digits`.
fn decimal(mut value: u16, digits: &mut [u8; 5]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &digits[start..];
        }
    }
}

/// Header bytes with each LF replaced by a space.
fn without_newlines(value: &[u8]) -> Cow<'_, [u8]> {
    if value.contains(&b'\n') {
        Cow::Owned(
            value
                .iter()
                .map(|byte| if *byte == b'\n' { b' ' } else { *byte })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

impl EnvironTemplate {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Self> {
        let intern = |text: &str| PyString::intern(py, text).unbind();
        let template = Self {
            base: PyDict::new(py).unbind(),
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
            recent: RefCell::new(Recent::default()),
        };
        let base = template.base.bind(py);
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
        // Placeholders, each replaced (or removed) by `build`.
        for key in [
            &template.request_method,
            &template.script_name,
            &template.path_info,
            &template.query_string,
            &template.server_name,
            &template.server_port,
            &template.server_protocol,
            &template.remote_addr,
            &template.remote_port,
            &template.url_scheme,
            &template.input,
            &template.headers[HOST],
        ] {
            base.set_item(key, py.None())?;
        }
        Ok(template)
    }

    /// The environ for `request`; `body` becomes `wsgi.input`.
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        request: &WsgiRequest,
        body: RequestBody,
    ) -> PyResult<Bound<'py, PyDict>> {
        let environ = self.base.bind(py).copy()?;
        let mut recent = self.recent.borrow_mut();
        let recent = &mut *recent;
        let method = match METHODS
            .iter()
            .position(|known| known.as_bytes() == request.method.as_slice())
        {
            Some(index) => self.methods[index].bind(py).clone(),
            None => latin1(py, &request.method)?,
        };
        environ.set_item(&self.request_method, method)?;
        let script_name = recent_or_new(py, &mut recent.script_name, &request.script_name)?;
        environ.set_item(&self.script_name, script_name)?;
        let path_info = recent_or_new(py, &mut recent.path_info, &request.path_info)?;
        environ.set_item(&self.path_info, path_info)?;
        let query = recent_or_new(py, &mut recent.query_string, &request.query_string)?;
        environ.set_item(&self.query_string, query)?;
        let server_name = request.server_name.as_bytes();
        let server_name = recent_or_new(py, &mut recent.server_name, server_name)?;
        environ.set_item(&self.server_name, server_name)?;
        let mut digits = [0; 5];
        let port = decimal(request.server_port, &mut digits);
        let port = recent_or_new(py, &mut recent.server_port, port)?;
        environ.set_item(&self.server_port, port)?;
        let protocol = match PROTOCOLS
            .iter()
            .position(|known| *known == request.server_protocol)
        {
            Some(index) => self.protocols[index].bind(py).clone(),
            None => PyString::new(py, request.server_protocol),
        };
        environ.set_item(&self.server_protocol, protocol)?;
        let remote_addr = request.remote_addr.as_bytes();
        let remote_addr = recent_or_new(py, &mut recent.remote_addr, remote_addr)?;
        environ.set_item(&self.remote_addr, remote_addr)?;
        match request.remote_port {
            Some(port) => {
                let port = decimal(port, &mut digits);
                let port = recent_or_new(py, &mut recent.remote_port, port)?;
                environ.set_item(&self.remote_port, port)?;
            }
            None => environ.del_item(&self.remote_port)?,
        }
        let scheme = match request.url_scheme {
            UrlScheme::Http => &self.http,
            UrlScheme::Https => &self.https,
        };
        environ.set_item(&self.url_scheme, scheme)?;
        environ.set_item(&self.input, Py::new(py, InputStream::new(body))?)?;
        let headers = request.headers.iter();
        if !self.add_distinct_headers(py, &environ, recent, headers.clone())? {
            self.add_headers(py, &environ, headers)?;
        }
        if !request.headers.contains("host") {
            environ.del_item(&self.headers[HOST])?;
        }
        Ok(environ)
    }

    /// Adds the `HTTP_*` (and CGI) keys of `headers` when no name is repeated; false (and
    /// nothing added) when one is, for [`add_headers`](Self::add_headers) to join them.
    fn add_distinct_headers<'a>(
        &self,
        py: Python<'_>,
        environ: &Bound<'_, PyDict>,
        recent: &mut Recent,
        headers: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    ) -> PyResult<bool> {
        let mut seen = 0u32;
        let mut uncommon = 0;
        for (name, _) in headers.clone() {
            match common_header(name) {
                Some(index) if seen & (1 << index) != 0 => return Ok(false),
                Some(index) => seen |= 1 << index,
                None => uncommon += 1,
            }
        }
        if uncommon > 1 {
            let mut others = headers
                .clone()
                .filter(|(name, _)| common_header(name).is_none())
                .map(|(name, _)| name);
            while let Some(name) = others.next() {
                if others.clone().any(|other| other.eq_ignore_ascii_case(name)) {
                    return Ok(false);
                }
            }
        }
        for (name, value) in headers {
            // `X_Foo` would alias `X-Foo`: drop it, as nginx and gunicorn do.
            if name.contains(&b'_') {
                continue;
            }
            let value = without_newlines(value);
            match common_header(name) {
                Some(index) => {
                    let value = recent_or_new(py, &mut recent.headers[index], &value)?;
                    environ.set_item(&self.headers[index], value)?;
                }
                None => {
                    recent.key.clear();
                    push_http_key(&mut recent.key, name);
                    environ.set_item(recent.key.as_str(), latin1(py, &value)?)?;
                }
            }
        }
        Ok(true)
    }

    /// Adds the `HTTP_*` (and CGI) keys of `headers`, joining the values of a repeated name.
    fn add_headers<'a>(
        &self,
        py: Python<'_>,
        environ: &Bound<'_, PyDict>,
        headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> PyResult<()> {
        let mut merged: Vec<(Key, Cow<'_, [u8]>)> = Vec::new();
        for (name, value) in headers {
            // `X_Foo` would alias `X-Foo`: drop it, as nginx and gunicorn do.
            if name.contains(&b'_') {
                continue;
            }
            let key = Key::of(name);
            let value = without_newlines(value);
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

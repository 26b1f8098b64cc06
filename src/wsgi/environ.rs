//! Building the environ: a `dict` copied from a per-worker base that already holds the previous
//! request's entries, so a request pays only for what differs from the one before.
//!
//! The base holds the constant entries (`wsgi.version`, `SERVER_SOFTWARE`, ...), one entry per
//! CGI variable (a *slot*) with the last request's value, and the `HTTP_*` entries of the last
//! request's header names (the base's *shape*). Each entry remembers the request bytes its
//! value was made from. A request whose header names are the shape's, in the same order and
//! spelled the same, costs a comparison of those bytes, a replacement in the base of the few
//! values that differ (in place: the base's hash table keeps its size) and a copy of the base (a
//! clone of that table). The base's `wsgi.input` stream is given the new body when nobody but
//! the base holds it, and replaced otherwise. A request with other header names gets a dict built
//! entry by entry; the second request in a row with the same new names makes its shape the
//! base's, so a client that keeps sending the same headers soon takes the short way again.
//!
//! Tested by: reactor_tests/wsgi/environ.rs
use std::borrow::Cow;
use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use super::embed::{latin1, reference_count};
use super::input::InputStream;
use super::streams::{ErrorStream, FileWrapper};
use super::{RequestBody, UrlScheme, WsgiRequest};
use crate::http::Headers;

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
const CONTENT_TYPE_HEADER: usize = 0;
const CONTENT_LENGTH_HEADER: usize = 1;
const HOST: usize = 2;
const COOKIE: usize = 8;

const METHODS: [&str; 7] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];
const PROTOCOLS: [&str; 3] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2"];

/// The CGI variables every environ has, in [`Slots`] order.
const SLOT_KEYS: [&str; 11] = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "wsgi.url_scheme",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
];
const METHOD: usize = 0;
const SCRIPT_NAME: usize = 1;
const PATH_INFO: usize = 2;
const QUERY_STRING: usize = 3;
const SERVER_NAME: usize = 4;
const SERVER_PORT: usize = 5;
const SERVER_PROTOCOL: usize = 6;
const REMOTE_ADDR: usize = 7;
const URL_SCHEME: usize = 8;
const CONTENT_TYPE: usize = 9;
const CONTENT_LENGTH: usize = 10;

/// How many `REMOTE_PORT` strings a worker keeps (by port modulo this): the peers of a busy
/// server's connections tend to have neighbouring ports.
const PORT_CACHE: usize = 256;

/// One environ entry and the bytes its value was made from: the value is
/// `latin1(without_newlines(bytes))` for request text (for ports, `bytes` is the number).
struct Entry {
    key: Py<PyString>,
    bytes: Vec<u8>,
    value: Py<PyString>,
}

/// An `HTTP_*` entry of the base's shape, with the header name it came from, as spelled.
struct HeaderEntry {
    name: Vec<u8>,
    entry: Entry,
}

/// What a worker keeps from one request to the next.
struct State {
    /// The dict each environ is copied from; its entries are `slots`, `remote_port` (when
    /// `has_remote_port`), `shape`, and the template's constants.
    base: Py<PyDict>,
    slots: Vec<Entry>,
    remote_port: Entry,
    has_remote_port: bool,
    shape: Vec<HeaderEntry>,
    /// The header names (and peer-port presence) of the last request that did not fit the
    /// shape: a second one like it becomes the shape.
    pending: Option<(Vec<Vec<u8>>, bool)>,
    ports: Vec<Option<(u16, Py<PyString>)>>,
    /// The `wsgi.input` in `base`, reused for the next body when nobody else holds it.
    input: Py<InputStream>,
}

/// The environ builder of one worker: interned keys and values, a dict of the constant
/// entries, and the base (see the module documentation).
pub(crate) struct EnvironTemplate {
    /// The constant entries and, with placeholder values, every key a request sets (and
    /// `HTTP_HOST`), so that filling a copy replaces values without resizing.
    constants: Py<PyDict>,
    input_key: Py<PyString>,
    http: Py<PyString>,
    https: Py<PyString>,
    headers: Vec<Py<PyString>>,
    methods: Vec<Py<PyString>>,
    protocols: Vec<Py<PyString>>,
    state: RefCell<State>,
}

/// The index in [`COMMON_HEADERS`] of header `name`, compared ignoring ASCII case.
fn common_header(name: &[u8]) -> Option<usize> {
    COMMON_HEADERS.iter().position(|(known, _)| {
        known.len() == name.len() && known.as_bytes().eq_ignore_ascii_case(name)
    })
}

/// The CGI slot a header fills instead of an `HTTP_*` key, if any.
fn content_slot(name: &[u8]) -> Option<usize> {
    if name.len() == COMMON_HEADERS[CONTENT_TYPE_HEADER].0.len()
        && name.eq_ignore_ascii_case(COMMON_HEADERS[CONTENT_TYPE_HEADER].0.as_bytes())
    {
        Some(CONTENT_TYPE)
    } else if name.len() == COMMON_HEADERS[CONTENT_LENGTH_HEADER].0.len()
        && name.eq_ignore_ascii_case(COMMON_HEADERS[CONTENT_LENGTH_HEADER].0.as_bytes())
    {
        Some(CONTENT_LENGTH)
    } else {
        None
    }
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
                key.push_str("HTTP_");
                key.extend(name.iter().map(|byte| match byte {
                    b'-' => '_',
                    byte => char::from(byte.to_ascii_uppercase()),
                }));
                Key::Other(key)
            }
        }
    }
}

/// A request header for the environ: repeats of a name joined into one value.
struct Merged<'a> {
    /// The name as first spelled.
    name: &'a [u8],
    key: Key,
    value: Cow<'a, [u8]>,
}

/// The request's headers as environ entries, in arrival order: names with `_` dropped (they
/// would alias the dashed spelling, so nginx and gunicorn drop them too), newlines replaced
/// and repeated names joined with `,` (`; ` for Cookie).
fn merge_headers(headers: &Headers) -> Vec<Merged<'_>> {
    let mut merged: Vec<Merged<'_>> = Vec::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        if name.contains(&b'_') {
            continue;
        }
        let key = Key::of(name);
        let value = without_newlines(value);
        match merged.iter_mut().find(|known| known.key == key) {
            Some(known) => {
                let separator: &[u8] = if key == Key::Common(COOKIE) {
                    b"; "
                } else {
                    b","
                };
                let joined = known.value.to_mut();
                joined.extend_from_slice(separator);
                joined.extend_from_slice(&value);
            }
            None => merged.push(Merged { name, key, value }),
        }
    }
    merged
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

/// Gives `entry` the value for `bytes`, made by `make` and replaced in `base`, unless it has it.
#[inline]
fn refresh<'py>(
    base: &Bound<'py, PyDict>,
    entry: &mut Entry,
    bytes: &[u8],
    make: impl FnOnce(&[u8]) -> PyResult<Bound<'py, PyString>>,
) -> PyResult<()> {
    if !same_bytes(&entry.bytes, bytes) {
        let value = make(bytes)?;
        base.set_item(&entry.key, &value)?;
        entry.bytes.clear();
        entry.bytes.extend_from_slice(bytes);
        entry.value = value.unbind();
    }
    Ok(())
}

/// Whether `a` and `b` hold the same bytes. Environ values are mostly short, and comparing
/// them inline (without an early exit, so the loop vectorises) costs less than the library
/// call a slice comparison makes.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 64 {
        return a == b;
    }
    a.iter().zip(b).fold(0, |differ, (x, y)| differ | (x ^ y)) == 0
}

/// The request text of `bytes` as a `str`, each LF replaced by a space.
fn header_text<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    latin1(py, &without_newlines(bytes))
}

impl EnvironTemplate {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Self> {
        let intern = |text: &str| PyString::intern(py, text).unbind();
        let empty = PyString::new(py, "").unbind();
        let entry = |key: &str| Entry {
            key: intern(key),
            bytes: Vec::new(),
            value: empty.clone_ref(py),
        };
        let slots: Vec<Entry> = SLOT_KEYS.iter().map(|key| entry(key)).collect();
        let remote_port = entry("REMOTE_PORT");
        let headers: Vec<Py<PyString>> =
            COMMON_HEADERS.iter().map(|(_, key)| intern(key)).collect();
        let input_key = intern("wsgi.input");

        let constants = PyDict::new(py);
        constants.set_item(intern("SERVER_SOFTWARE"), SERVER_SOFTWARE)?;
        constants.set_item(intern("wsgi.version"), PyTuple::new(py, [1, 0])?)?;
        constants.set_item(intern("wsgi.errors"), Py::new(py, ErrorStream::default())?)?;
        constants.set_item(intern("wsgi.multithread"), PyBool::new(py, true))?;
        constants.set_item(intern("wsgi.multiprocess"), PyBool::new(py, false))?;
        constants.set_item(intern("wsgi.run_once"), PyBool::new(py, false))?;
        constants.set_item(intern("wsgi.input_terminated"), PyBool::new(py, true))?;
        constants.set_item(intern("wsgi.file_wrapper"), py.get_type::<FileWrapper>())?;
        // Placeholders, each replaced (or removed) when an environ is filled in.
        for key in
            slots
                .iter()
                .map(|slot| &slot.key)
                .chain([&remote_port.key, &input_key, &headers[HOST]])
        {
            constants.set_item(key, py.None())?;
        }
        // The first base: the slots' empty values, no peer port, no headers. It is consistent
        // with the slots; the first requests do not fit its shape and are built entry by entry.
        let base = constants.copy()?;
        for slot in &slots {
            base.set_item(&slot.key, &slot.value)?;
        }
        base.del_item(&remote_port.key)?;
        base.del_item(&headers[HOST])?;
        let input = Py::new(py, InputStream::new(RequestBody::default()))?;
        base.set_item(&input_key, &input)?;
        Ok(Self {
            constants: constants.unbind(),
            input_key,
            http: intern("http"),
            https: intern("https"),
            headers,
            methods: METHODS.iter().map(|method| intern(method)).collect(),
            protocols: PROTOCOLS.iter().map(|protocol| intern(protocol)).collect(),
            state: RefCell::new(State {
                base: base.unbind(),
                slots,
                remote_port,
                has_remote_port: false,
                shape: Vec::new(),
                pending: None,
                ports: (0..PORT_CACHE).map(|_| None).collect(),
                input,
            }),
        })
    }

    /// The environ for `request`; `body` becomes `wsgi.input`.
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        request: &WsgiRequest,
        body: RequestBody,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let base = state.base.bind(py).clone();
        self.refresh_input(py, state, &base, body)?;
        self.refresh_request_slots(py, state, &base, request)?;
        match self.refresh_shape(py, state, &base, request)? {
            true => base.copy(),
            false => self.build_unshaped(py, state, &base, request),
        }
    }

    /// Brings the slots that do not come from headers up to date with `request`.
    fn refresh_request_slots(
        &self,
        py: Python<'_>,
        state: &mut State,
        base: &Bound<'_, PyDict>,
        request: &WsgiRequest,
    ) -> PyResult<()> {
        let text = |bytes: &[u8]| latin1(py, bytes);
        let slots = &mut state.slots;
        refresh(
            base,
            &mut slots[METHOD],
            &request.method,
            |method| match METHODS.iter().position(|known| known.as_bytes() == method) {
                Some(index) => Ok(self.methods[index].bind(py).clone()),
                None => latin1(py, method),
            },
        )?;
        refresh(base, &mut slots[SCRIPT_NAME], &request.script_name, text)?;
        refresh(base, &mut slots[PATH_INFO], &request.path_info, text)?;
        refresh(base, &mut slots[QUERY_STRING], &request.query_string, text)?;
        let server_name = request.server_name.as_bytes();
        refresh(base, &mut slots[SERVER_NAME], server_name, text)?;
        let port = request.server_port;
        refresh(base, &mut slots[SERVER_PORT], &port.to_be_bytes(), |_| {
            latin1(py, decimal(port, &mut [0; 5]))
        })?;
        let protocol = request.server_protocol;
        refresh(
            base,
            &mut slots[SERVER_PROTOCOL],
            protocol.as_bytes(),
            |_| {
                Ok(
                    match PROTOCOLS.iter().position(|known| *known == protocol) {
                        Some(index) => self.protocols[index].bind(py).clone(),
                        None => PyString::new(py, protocol),
                    },
                )
            },
        )?;
        let remote_addr = request.remote_addr.as_bytes();
        refresh(base, &mut slots[REMOTE_ADDR], remote_addr, text)?;
        let scheme: &[u8] = match request.url_scheme {
            UrlScheme::Http => b"http",
            UrlScheme::Https => b"https",
        };
        refresh(base, &mut slots[URL_SCHEME], scheme, |_| {
            Ok(match request.url_scheme {
                UrlScheme::Http => self.http.bind(py).clone(),
                UrlScheme::Https => self.https.bind(py).clone(),
            })
        })?;
        if let Some(port) = request.remote_port {
            let ports = &mut state.ports;
            refresh(base, &mut state.remote_port, &port.to_be_bytes(), |_| {
                let cached = &mut ports[usize::from(port) % PORT_CACHE];
                match cached {
                    Some((known, value)) if *known == port => Ok(value.bind(py).clone()),
                    _ => {
                        let value = latin1(py, decimal(port, &mut [0; 5]))?;
                        *cached = Some((port, value.clone().unbind()));
                        Ok(value)
                    }
                }
            })?;
        }
        Ok(())
    }

    /// Whether `request`'s header names (and whether it has a peer port) are the base's shape;
    /// if so, brings the base's header entries and content slots up to date with its values.
    fn refresh_shape(
        &self,
        py: Python<'_>,
        state: &mut State,
        base: &Bound<'_, PyDict>,
        request: &WsgiRequest,
    ) -> PyResult<bool> {
        if request.remote_port.is_some() != state.has_remote_port {
            return Ok(false);
        }
        let mut content: [Option<&[u8]>; 2] = [None, None];
        let mut shape = state.shape.iter_mut();
        for (name, value) in request.headers.iter() {
            if name.contains(&b'_') {
                continue;
            }
            if let Some(slot) = content_slot(name) {
                let seen = &mut content[slot - CONTENT_TYPE];
                if seen.is_some() {
                    // Repeated: the values are joined on the long way.
                    return Ok(false);
                }
                *seen = Some(value);
                continue;
            }
            let Some(header) = shape.next().filter(|header| same_bytes(&header.name, name)) else {
                return Ok(false);
            };
            refresh(base, &mut header.entry, value, |bytes| {
                header_text(py, bytes)
            })?;
        }
        if shape.next().is_some() {
            return Ok(false);
        }
        for (offset, value) in content.into_iter().enumerate() {
            let slot = &mut state.slots[CONTENT_TYPE + offset];
            refresh(base, slot, value.unwrap_or_default(), |bytes| {
                header_text(py, bytes)
            })?;
        }
        Ok(true)
    }

    /// The environ of a request that does not fit the base's shape, built from the constants;
    /// a second request in a row with the same header names makes it the base.
    fn build_unshaped<'py>(
        &self,
        py: Python<'py>,
        state: &mut State,
        base: &Bound<'py, PyDict>,
        request: &WsgiRequest,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut merged = merge_headers(&request.headers);
        for slot in [CONTENT_TYPE, CONTENT_LENGTH] {
            let header = slot - CONTENT_TYPE + CONTENT_TYPE_HEADER;
            let value = match merged.iter().position(|m| m.key == Key::Common(header)) {
                Some(at) => merged.remove(at).value,
                None => Cow::Borrowed(&b""[..]),
            };
            refresh(base, &mut state.slots[slot], &value, |bytes| {
                latin1(py, bytes)
            })?;
        }
        let has_remote_port = request.remote_port.is_some();
        let environ = self.constants.bind(py).copy()?;
        environ.set_item(&self.input_key, &state.input)?;
        for slot in &state.slots {
            environ.set_item(&slot.key, &slot.value)?;
        }
        if has_remote_port {
            environ.set_item(&state.remote_port.key, &state.remote_port.value)?;
        } else {
            environ.del_item(&state.remote_port.key)?;
        }
        let mut shape = Vec::with_capacity(merged.len());
        for header in &merged {
            let key = match &header.key {
                Key::Common(index) => self.headers[*index].clone_ref(py),
                Key::Other(key) => PyString::new(py, key).unbind(),
            };
            let value = latin1(py, &header.value)?;
            environ.set_item(&key, &value)?;
            shape.push(HeaderEntry {
                name: header.name.to_vec(),
                entry: Entry {
                    key,
                    bytes: header.value.to_vec(),
                    value: value.unbind(),
                },
            });
        }
        if !merged.iter().any(|header| header.key == Key::Common(HOST)) {
            environ.del_item(&self.headers[HOST])?;
        }
        let seen_before = state.pending.as_ref().is_some_and(|(names, port)| {
            *port == has_remote_port
                && names.len() == shape.len()
                && names.iter().zip(&shape).all(|(a, b)| *a == b.name)
        });
        if !seen_before {
            let names = shape.into_iter().map(|header| header.name).collect();
            state.pending = Some((names, has_remote_port));
            return Ok(environ);
        }
        let copy = environ.copy()?;
        state.base = environ.unbind();
        state.shape = shape;
        state.has_remote_port = has_remote_port;
        state.pending = None;
        Ok(copy)
    }

    /// Puts `body` behind the base's `wsgi.input`: in the same stream when only the base and
    /// the template hold it, else in a new one that replaces it in the base.
    fn refresh_input(
        &self,
        py: Python<'_>,
        state: &mut State,
        base: &Bound<'_, PyDict>,
        body: RequestBody,
    ) -> PyResult<()> {
        let input = state.input.bind(py);
        if reference_count(input.as_any()) == 2 {
            if let Ok(mut stream) = input.try_borrow_mut() {
                stream.reset(body);
                return Ok(());
            }
        }
        let input = Py::new(py, InputStream::new(body))?;
        base.set_item(&self.input_key, &input)?;
        state.input = input;
        Ok(())
    }

    /// After a request: frees the body behind its `wsgi.input` unless the application kept
    /// the stream (which then keeps its body, and the next request gets a new stream).
    pub(crate) fn release_input(&self, py: Python<'_>) {
        let state = self.state.borrow();
        let input = state.input.bind(py);
        if reference_count(input.as_any()) == 2 {
            if let Ok(mut stream) = input.try_borrow_mut() {
                stream.reset(RequestBody::default());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    /// The inline comparison agrees with slice equality for every length up to past its
    /// cut-over, for equal slices and for slices differing in one byte at any position.
    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        for len in 0..80usize {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "length {len}, differing at {at}");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same_bytes(&a, &longer));
        }
    }
}

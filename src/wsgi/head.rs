//! The arguments of `start_response`, validated as PEP 3333 asks and encoded as ISO-8859-1.
//!
//! Applications mostly pass the same status object and the same header tuples (constants of
//! their code) on every request: a worker remembers the last status and the tuple at each
//! position of the header list, with what they were validated into, and reuses that for the
//! very same (immutable) objects instead of checking them again.
//!
//! Tested by: reactor_tests/wsgi/response.rs
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::ResponseHead;
use crate::http::{Headers, is_token};

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

/// How many header positions are remembered.
const REMEMBERED_HEADERS: usize = 16;

/// The name of `object`'s type, for error messages.
pub(crate) fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "?".to_owned())
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

/// A status or header object seen before, and what it was validated into.
struct Remembered {
    object: Py<PyAny>,
    name: Vec<u8>,
    value: Vec<u8>,
}

/// The objects of the last `start_response` calls, with their validated bytes.
#[derive(Default)]
pub(crate) struct HeadCache {
    /// The status object, its code (in `name`, two bytes) and its line (in `value`).
    status: Option<Remembered>,
    headers: Vec<Remembered>,
}

impl HeadCache {
    /// Validates and encodes the arguments of `start_response`.
    pub(crate) fn parse(
        &mut self,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
    ) -> PyResult<ResponseHead> {
        let (code, status_line) = self.status(status)?;
        let list = headers.cast::<PyList>().map_err(|_| {
            PyTypeError::new_err(format!(
                "headers must be a list, not {}",
                type_name(headers)
            ))
        })?;
        let mut parsed = Headers::with_capacity(list.len(), 32 * list.len());
        for (index, header) in list.iter().enumerate() {
            match self.headers.get_mut(index) {
                Some(known) if known.object.is(&header) => {}
                Some(known) => {
                    if let Err(error) = parse_header(&header, &mut known.name, &mut known.value) {
                        // Its bytes no longer match its object.
                        self.headers.truncate(index);
                        return Err(error);
                    }
                    known.object = header.unbind();
                }
                None if index < REMEMBERED_HEADERS => {
                    let mut known = Remembered {
                        object: header.clone().unbind(),
                        name: Vec::new(),
                        value: Vec::new(),
                    };
                    parse_header(&header, &mut known.name, &mut known.value)?;
                    self.headers.push(known);
                }
                None => {
                    let (mut name, mut value) = (Vec::new(), Vec::new());
                    parse_header(&header, &mut name, &mut value)?;
                    parsed.append(name, value);
                    continue;
                }
            }
            let known = &self.headers[index];
            parsed.append(&known.name, &known.value);
        }
        Ok(ResponseHead {
            code,
            status_line,
            headers: parsed,
        })
    }

    /// The code and line of `status`.
    fn status(&mut self, status: &Bound<'_, PyAny>) -> PyResult<(u16, Vec<u8>)> {
        if let Some(known) = self.status.as_ref().filter(|known| known.object.is(status)) {
            let code = u16::from_be_bytes([known.name[0], known.name[1]]);
            return Ok((code, known.value.clone()));
        }
        let (code, line) = parse_status(status)?;
        self.status = Some(Remembered {
            object: status.clone().unbind(),
            name: code.to_be_bytes().to_vec(),
            value: line.clone(),
        });
        Ok((code, line))
    }
}

/// Validates a status: a `str` of three digits, a space and a reason, in ISO-8859-1.
fn parse_status(status: &Bound<'_, PyAny>) -> PyResult<(u16, Vec<u8>)> {
    let status_text = status.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("status must be str, not {}", type_name(status)))
    })?;
    let status_text = status_text.to_cow()?;
    let mut line = Vec::with_capacity(status_text.len());
    let valid = latin1_into(&status_text, &mut line)
        && line.len() >= 4
        && line[..3].iter().all(u8::is_ascii_digit)
        && line[0] != b'0'
        && line[3] == b' '
        && !line.iter().any(|byte| byte.is_ascii_control());
    if !valid {
        return Err(PyValueError::new_err(format!(
            "status must look like '200 OK' (three digits, a space, a reason), not {status_text:?}"
        )));
    }
    let code = line[..3]
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    Ok((code, line))
}

/// Validates one header, a `(str, str)` tuple, into `name` and `value` (replacing their
/// contents): a token name, not hop-by-hop, and an ISO-8859-1 value without CR, LF or NUL.
fn parse_header(
    header: &Bound<'_, PyAny>,
    name_bytes: &mut Vec<u8>,
    value_bytes: &mut Vec<u8>,
) -> PyResult<()> {
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
    if !is_token(name.as_bytes()) {
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
    value_bytes.clear();
    let valid = latin1_into(&value, value_bytes)
        && !value_bytes
            .iter()
            .any(|b| matches!(b, b'\r' | b'\n' | b'\0'));
    if !valid {
        return Err(PyValueError::new_err(format!(
            "header {name} value must be ISO-8859-1 text without CR, LF or NUL, not {value:?}"
        )));
    }
    name_bytes.clear();
    name_bytes.extend_from_slice(name.as_bytes());
    Ok(())
}

//! `wsgi.input`: a seekable, file-like view of the request body (read, readline, readlines,
//! iteration, seek, tell), which Twisted's `_InputStream` lacks seeking for (#11875).
//!
//! Tested by: reactor_tests/wsgi.rs
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::RequestBody;

/// The body stream handed to the application.
#[pyclass(module = "torsion", name = "InputStream")]
pub(crate) struct InputStream {
    body: RequestBody,
    position: usize,
}

impl InputStream {
    pub(crate) fn new(body: RequestBody) -> Self {
        Self { body, position: 0 }
    }

    fn bytes(&self) -> &[u8] {
        match &self.body {
            RequestBody::Memory(bytes) => bytes,
        }
    }

    fn remaining(&self) -> &[u8] {
        let bytes = self.bytes();
        &bytes[self.position.min(bytes.len())..]
    }

    /// The next line (up to and including `\n`), at most `limit` bytes when one is given.
    fn take_line(&mut self, limit: Option<usize>) -> &[u8] {
        let start = self.position.min(self.bytes().len());
        let rest = self.remaining();
        let mut end = memchr::memchr(b'\n', rest).map_or(rest.len(), |at| at + 1);
        if let Some(limit) = limit {
            end = end.min(limit);
        }
        self.position = start + end;
        &self.bytes()[start..start + end]
    }
}

/// A size argument: `None` or negative means "no limit".
fn limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|size| usize::try_from(size).ok())
}

#[pymethods]
impl InputStream {
    /// Reads at most `size` bytes (all that is left when `size` is omitted, None or negative).
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> Bound<'py, PyBytes> {
        let rest = self.remaining();
        let take = limit(size).map_or(rest.len(), |size| size.min(rest.len()));
        let chunk = PyBytes::new(py, &rest[..take]);
        self.position += take;
        chunk
    }

    /// Reads one line, or at most `size` bytes of it.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.take_line(limit(size)))
    }

    /// Reads lines until at least `hint` bytes were read (all lines without a hint).
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hint = limit(hint).filter(|hint| *hint > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.take_line(None);
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.append(PyBytes::new(py, line))?;
            if hint.is_some_and(|hint| total >= hint) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let line = self.take_line(None);
        (!line.is_empty()).then(|| PyBytes::new(py, line))
    }

    /// Moves to `offset` from the start (`whence` 0), the current position (1) or the end (2).
    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&mut self, offset: i64, whence: i32) -> PyResult<u64> {
        let base = match whence {
            0 => 0,
            1 => self.position as i64,
            2 => self.bytes().len() as i64,
            _ => return Err(PyValueError::new_err(format!("invalid whence ({whence})"))),
        };
        let target = base
            .checked_add(offset)
            .filter(|target| *target >= 0)
            .ok_or_else(|| PyOSError::new_err(format!("negative seek position {offset}")))?;
        self.position = usize::try_from(target).unwrap_or(usize::MAX);
        Ok(target as u64)
    }

    /// The current position.
    fn tell(&self) -> usize {
        self.position
    }

    /// Always true.
    fn readable(&self) -> bool {
        true
    }

    /// Always true.
    fn seekable(&self) -> bool {
        true
    }

    /// Does nothing: the server owns the body.
    fn close(&self) {}
}

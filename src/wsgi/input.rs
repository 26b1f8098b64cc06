//! `wsgi.input`: a seekable, file-like view of the request body (read, readline, readlines,
//! iteration, seek, tell), which Twisted's `_InputStream` lacks seeking for (#11875).
//!
//! Tested by: reactor_tests/wsgi.rs
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::RequestBody;

/// How much of a spooled body one scan for a line end reads at a time.
const LINE_SCAN_CHUNK: usize = 8 * 1024;

/// The body stream handed to the application.
#[pyclass(module = "torsion", name = "InputStream")]
pub(crate) struct InputStream {
    body: RequestBody,
    position: u64,
}

impl InputStream {
    pub(crate) fn new(body: RequestBody) -> Self {
        Self { body, position: 0 }
    }

    /// Starts over on `body` (the previous one is dropped).
    pub(crate) fn reset(&mut self, body: RequestBody) {
        self.body = body;
        self.position = 0;
    }

    fn remaining(&self) -> u64 {
        self.body.len().saturating_sub(self.position)
    }

    /// Reads `len` bytes at the current position (fewer at the end) and moves past them.
    fn take<'py>(&mut self, py: Python<'py>, len: u64) -> PyResult<Bound<'py, PyBytes>> {
        let len = len.min(self.remaining());
        if len == 0 {
            // Also past the end, where the position may lie beyond the body.
            return Ok(PyBytes::new(py, b""));
        }
        let start = self.position;
        self.position += len;
        let bytes = match &self.body {
            // start + len <= the body's length, so both fit in usize.
            RequestBody::Memory(bytes) => {
                PyBytes::new(py, &bytes[start as usize..(start + len) as usize])
            }
            body => {
                let len = usize::try_from(len)
                    .map_err(|_| PyValueError::new_err("read size too large"))?;
                PyBytes::new_with(py, len, |buffer| {
                    body.read_at(start, buffer).map(|_| ()).map_err(|error| {
                        PyOSError::new_err(format!("cannot read the request body: {error}"))
                    })
                })?
            }
        };
        Ok(bytes)
    }

    /// The length of the next line (up to and including `\n`), at most `limit` bytes.
    fn line_length(&self, limit: Option<u64>) -> PyResult<u64> {
        let bound = limit.map_or(self.remaining(), |limit| limit.min(self.remaining()));
        if bound == 0 {
            return Ok(0);
        }
        if let RequestBody::Memory(bytes) = &self.body {
            // bound <= remaining, so the range lies inside the body.
            let start = self.position as usize;
            let rest = &bytes[start..start + bound as usize];
            return Ok(memchr::memchr(b'\n', rest).map_or(bound, |at| at as u64 + 1));
        }
        let mut scanned = 0;
        let mut chunk = vec![0; LINE_SCAN_CHUNK];
        while scanned < bound {
            let want = (bound - scanned).min(LINE_SCAN_CHUNK as u64) as usize;
            let read = self
                .body
                .read_at(self.position + scanned, &mut chunk[..want])
                .map_err(|error| {
                    PyOSError::new_err(format!("cannot read the request body: {error}"))
                })?;
            if read == 0 {
                break;
            }
            if let Some(at) = memchr::memchr(b'\n', &chunk[..read]) {
                return Ok(scanned + at as u64 + 1);
            }
            scanned += read as u64;
        }
        Ok(scanned.min(bound))
    }

    /// The next line (up to and including `\n`), at most `limit` bytes when one is given.
    fn take_line<'py>(
        &mut self,
        py: Python<'py>,
        limit: Option<u64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let length = self.line_length(limit)?;
        self.take(py, length)
    }
}

/// A size argument: `None` or negative means "no limit".
fn limit(size: Option<isize>) -> Option<u64> {
    size.and_then(|size| u64::try_from(size).ok())
}

#[pymethods]
impl InputStream {
    /// Reads at most `size` bytes (all that is left when `size` is omitted, None or negative).
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let take = limit(size).unwrap_or(u64::MAX);
        self.take(py, take)
    }

    /// Reads one line, or at most `size` bytes of it.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<isize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.take_line(py, limit(size))
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
            let line = self.take_line(py, None)?;
            let length = line.as_bytes().len() as u64;
            if length == 0 {
                break;
            }
            total += length;
            lines.append(line)?;
            if hint.is_some_and(|hint| total >= hint) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.take_line(py, None)?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }

    /// Moves to `offset` from the start (`whence` 0), the current position (1) or the end (2).
    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&mut self, offset: i64, whence: i32) -> PyResult<u64> {
        let base = match whence {
            0 => 0,
            1 => i64::try_from(self.position).unwrap_or(i64::MAX),
            2 => i64::try_from(self.body.len()).unwrap_or(i64::MAX),
            _ => return Err(PyValueError::new_err(format!("invalid whence ({whence})"))),
        };
        let target = base
            .checked_add(offset)
            .filter(|target| *target >= 0)
            .ok_or_else(|| PyOSError::new_err(format!("negative seek position {offset}")))?;
        self.position = target as u64;
        Ok(self.position)
    }

    /// The current position.
    fn tell(&self) -> u64 {
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

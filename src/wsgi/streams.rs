//! The objects the environ hands to the application besides text: `wsgi.errors` (lines go to
//! the server log) and `wsgi.file_wrapper` (iterates a file in blocks, or hands a regular file
//! to the server to send from the kernel).
//!
//! Tested by: reactor_tests/wsgi/environ.rs
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::log;

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

//! Starting the embedded interpreter, and the few raw CPython calls the bridge needs. The only
//! module of the crate allowed `unsafe`.
//!
//! Which Python runs (see docs/python.md): the binary is linked, with a run path, against the
//! `libpython` of the interpreter it was built with. At startup the interpreter is configured
//! through `PyConfig` before initialisation: its program name is `$VIRTUAL_ENV/bin/python` when
//! a virtualenv is active (so CPython's own path calculation finds `pyvenv.cfg` and sets
//! `sys.prefix` and site-packages to the venv's), and otherwise the build interpreter's
//! executable (so `sys.executable` names a real Python). Environment variables such as
//! `PYTHONPATH` are honoured; Python's signal handlers are not installed (the reactor owns
//! signals).
//!
//! Tested by: reactor_tests/wsgi.rs
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fmt;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// `major.minor` of the Python this binary was built against.
pub(crate) const BUILD_VERSION: &str = env!("TORSION_PYTHON_VERSION");
/// That installation's interpreter executable (empty when the build could not tell).
const BUILD_EXECUTABLE: &str = env!("TORSION_PYTHON_EXECUTABLE");

/// Why the embedded interpreter could not start.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum InterpreterError {
    /// `VIRTUAL_ENV` names a directory without `bin/python`.
    VenvWithoutPython {
        /// The virtualenv.
        venv: PathBuf,
    },
    /// The active virtualenv was made with another Python version.
    VenvVersion {
        /// The virtualenv.
        venv: PathBuf,
        /// The version its `pyvenv.cfg` records.
        venv_version: String,
    },
    /// CPython refused to start.
    Startup {
        /// CPython's message.
        message: String,
    },
}

impl fmt::Display for InterpreterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VenvWithoutPython { venv } => write!(
                f,
                "VIRTUAL_ENV={} has no bin/python (activate a working virtualenv, or unset VIRTUAL_ENV)",
                venv.display()
            ),
            Self::VenvVersion { venv, venv_version } => write!(
                f,
                "the virtualenv {} uses Python {venv_version} but torsion was built against \
                 Python {BUILD_VERSION} (rebuild torsion with that Python, or use a \
                 {BUILD_VERSION} virtualenv)",
                venv.display()
            ),
            Self::Startup { message } => write!(
                f,
                "the Python interpreter did not start: {message} (check PYTHONHOME and PYTHONPATH)"
            ),
        }
    }
}

impl std::error::Error for InterpreterError {}

static STARTED: OnceLock<Result<(), InterpreterError>> = OnceLock::new();

/// Starts the interpreter once per process (later calls return the first outcome). The GIL is
/// released afterwards, so any thread may attach.
pub(crate) fn ensure_started() -> Result<(), InterpreterError> {
    STARTED.get_or_init(start).clone()
}

/// The program name to give CPython, if any.
fn program_name() -> Result<Option<PathBuf>, InterpreterError> {
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|venv| !venv.is_empty()) {
        let venv = PathBuf::from(venv);
        let python = venv.join("bin").join("python");
        if !python.exists() {
            return Err(InterpreterError::VenvWithoutPython { venv });
        }
        if let Some(venv_version) = venv_version(&venv) {
            let same = venv_version == BUILD_VERSION
                || venv_version.starts_with(&format!("{BUILD_VERSION}."));
            if !same {
                return Err(InterpreterError::VenvVersion { venv, venv_version });
            }
        }
        return Ok(Some(python));
    }
    let build = Path::new(BUILD_EXECUTABLE);
    Ok((!BUILD_EXECUTABLE.is_empty() && build.exists()).then(|| build.to_path_buf()))
}

/// The Python version a virtualenv's `pyvenv.cfg` records.
fn venv_version(venv: &Path) -> Option<String> {
    let text = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info").then(|| value.trim().to_owned())
    })
}

fn start() -> Result<(), InterpreterError> {
    // SAFETY: Py_IsInitialized may be called at any time, even before initialisation.
    if unsafe { ffi::Py_IsInitialized() } != 0 {
        return Ok(());
    }
    let program = match program_name()? {
        Some(path) => Some(CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            InterpreterError::Startup {
                message: format!("the path {} contains a NUL byte", path.display()),
            }
        })?),
        None => None,
    };
    let mut config = MaybeUninit::<ffi::PyConfig>::zeroed();
    let config = config.as_mut_ptr();
    // SAFETY: `config` points to writable storage for a PyConfig, which PyConfig_InitPythonConfig
    // initialises before any field is read or written; every string set on it is copied by
    // CPython; PyConfig_Clear frees those copies after Py_InitializeFromConfig, which does not
    // keep the pointer. This runs once (OnceLock), before any other thread can touch Python.
    let status = unsafe {
        ffi::PyConfig_InitPythonConfig(config);
        (*config).install_signal_handlers = 0;
        (*config).configure_c_stdio = 0;
        (*config).parse_argv = 0;
        let mut status = ffi::PyStatus_Ok();
        if let Some(program) = &program {
            status = ffi::PyConfig_SetBytesString(
                config,
                &raw mut (*config).program_name,
                program.as_ptr(),
            );
        }
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::Py_InitializeFromConfig(config);
        }
        ffi::PyConfig_Clear(config);
        status
    };
    // SAFETY: `status` was returned by CPython; its err_msg is null or a static C string.
    if unsafe { ffi::PyStatus_Exception(status) } != 0 {
        let message = if status.err_msg.is_null() {
            format!("exit code {}", status.exitcode)
        } else {
            // SAFETY: a non-null err_msg is a NUL-terminated static string (see PyStatus docs).
            unsafe { CStr::from_ptr(status.err_msg) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(InterpreterError::Startup { message });
    }
    // SAFETY: the interpreter was just initialised on this thread, which holds the GIL; saving
    // the thread state releases it so any thread (including this one) can attach later.
    unsafe {
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Decodes `bytes` as ISO-8859-1 into a `str` (every byte is one code point), as PEP 3333 asks
/// for every environ value that comes from the request.
pub(crate) fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    let len = ffi::Py_ssize_t::try_from(bytes.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("value too long"))?;
    // SAFETY: the pointer and length describe `bytes`, which outlives the call; the `py` token
    // proves the GIL is held; a null `errors` means strict, and latin-1 decoding cannot fail
    // except for lack of memory, which from_owned_ptr_or_err turns into the pending exception.
    let object = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyUnicode_DecodeLatin1(bytes.as_ptr().cast(), len, std::ptr::null()),
        )
    }?;
    Ok(object.cast_into::<PyString>()?)
}

/// How many references to `object` exist. Equal to the number the caller holds, it proves
/// nothing else (the application included) can reach the object, which may then be reused.
pub(crate) fn reference_count(object: &Bound<'_, PyAny>) -> isize {
    // SAFETY: `object` is a live object (the Bound holds a reference) and the Bound's `py`
    // token proves the GIL is held, so the count is not changing under us.
    unsafe { ffi::Py_REFCNT(object.as_ptr()) }
}

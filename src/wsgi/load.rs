//! Finding the application: `pkg.module.attr` or `pkg.module:attr.sub`, imported with the
//! current directory first on `sys.path` (as `twist web --wsgi` does).
//!
//! Tested by: reactor_tests/wsgi.rs
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::{PyAttributeError, PyModuleNotFoundError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::embed::{self, InterpreterError};
use super::respond::format_exception;

/// Why an application could not be loaded. Each prints as one line that names the fix.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum LoadError {
    /// The spec is not `module.attr` or `module:attr`.
    BadSpec {
        /// The spec as given.
        spec: String,
    },
    /// The interpreter could not start.
    Interpreter(InterpreterError),
    /// The module (or a package above it) was not found.
    NoModule {
        /// The missing module.
        name: String,
    },
    /// Importing the module raised.
    ImportFailed {
        /// The module being imported.
        module: String,
        /// The exception, on one line.
        message: String,
        /// The traceback text.
        traceback: String,
    },
    /// An attribute on the path to the application is missing.
    NoAttribute {
        /// The object that lacks it (a module or `module.attr`).
        owner: String,
        /// The missing attribute.
        attr: String,
        /// Whether `owner` is the module itself.
        owner_is_module: bool,
    },
    /// The object found cannot be called.
    NotCallable {
        /// `module.attr` as found.
        path: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSpec { spec } => write!(
                f,
                "'{spec}' does not name an application (write it as package.module.application \
                 or package.module:application)"
            ),
            Self::Interpreter(error) => error.fmt(f),
            Self::NoModule { name } => write!(
                f,
                "no module named '{name}' (run torsion from the directory that contains it, or \
                 set PYTHONPATH)"
            ),
            Self::ImportFailed {
                module, message, ..
            } => write!(
                f,
                "importing '{module}' raised {message} (fix the module; the traceback follows \
                 in the log)"
            ),
            Self::NoAttribute {
                owner,
                attr,
                owner_is_module,
            } => {
                let kind = if *owner_is_module { "module " } else { "" };
                write!(
                    f,
                    "{kind}'{owner}' has no attribute '{attr}' (check the name after the module \
                     in the application spec)"
                )
            }
            Self::NotCallable { path } => write!(
                f,
                "'{path}' is not callable (name the WSGI application object itself)"
            ),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<InterpreterError> for LoadError {
    fn from(error: InterpreterError) -> Self {
        Self::Interpreter(error)
    }
}

/// A loaded WSGI application: a Python callable, cheap to clone and `Send`.
#[derive(Clone)]
pub struct WsgiApp {
    callable: Arc<Py<PyAny>>,
    spec: Arc<str>,
}

impl WsgiApp {
    /// Imports the application named by `spec`, with the current directory importable.
    pub fn load(spec: &str) -> Result<Self, LoadError> {
        let cwd = std::env::current_dir().ok();
        Self::load_with_paths(spec, cwd.as_deref())
    }

    /// Imports the application named by `spec` after putting `paths` first on `sys.path`
    /// (the first path ends up first).
    pub fn load_with_paths<'a>(
        spec: &str,
        paths: impl IntoIterator<Item = &'a Path>,
    ) -> Result<Self, LoadError> {
        let (module, attrs) = parse_spec(spec)?;
        let paths: Vec<PathBuf> = paths.into_iter().map(Path::to_path_buf).collect();
        embed::ensure_started()?;
        let callable = Python::attach(|py| {
            prepend_paths(py, &paths).map_err(|error| LoadError::ImportFailed {
                module: module.to_owned(),
                message: exception_line(py, &error),
                traceback: format_exception(py, &error),
            })?;
            let mut object = import(py, module)?;
            let mut owner = module.to_owned();
            for attr in &attrs {
                object = match object.getattr(*attr) {
                    Ok(next) => next,
                    Err(error) if error.is_instance_of::<PyAttributeError>(py) => {
                        return Err(LoadError::NoAttribute {
                            owner_is_module: owner == module,
                            owner,
                            attr: (*attr).to_owned(),
                        });
                    }
                    Err(error) => {
                        return Err(LoadError::ImportFailed {
                            module: module.to_owned(),
                            message: exception_line(py, &error),
                            traceback: format_exception(py, &error),
                        });
                    }
                };
                owner = format!("{owner}.{attr}");
            }
            if !object.is_callable() {
                return Err(LoadError::NotCallable { path: owner });
            }
            Ok(object.unbind())
        })?;
        Ok(Self {
            callable: Arc::new(callable),
            spec: spec.into(),
        })
    }

    /// The spec the application was loaded from.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    pub(crate) fn callable<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.callable.bind(py)
    }
}

impl fmt::Debug for WsgiApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsgiApp").field("spec", &self.spec).finish()
    }
}

/// Splits a spec into the module and the attribute path.
fn parse_spec(spec: &str) -> Result<(&str, Vec<&str>), LoadError> {
    let bad = || LoadError::BadSpec {
        spec: spec.to_owned(),
    };
    let (module, attrs) = match spec.split_once(':') {
        Some((module, attrs)) => (module, attrs.split('.').collect::<Vec<_>>()),
        None => {
            let (module, attr) = spec.rsplit_once('.').ok_or_else(bad)?;
            (module, vec![attr])
        }
    };
    let valid = |part: &str| {
        !part.is_empty()
            && part.chars().all(|c| c == '_' || c.is_alphanumeric())
            && !part.starts_with(|c: char| c.is_ascii_digit())
    };
    if !module.split('.').all(valid) || !attrs.iter().all(|attr| valid(attr)) {
        return Err(bad());
    }
    Ok((module, attrs))
}

fn prepend_paths(py: Python<'_>, paths: &[PathBuf]) -> PyResult<()> {
    let sys_path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
    for path in paths.iter().rev() {
        let path = path.to_string_lossy();
        let present = sys_path
            .iter()
            .any(|entry| entry.extract::<&str>().is_ok_and(|entry| entry == path));
        if !present {
            sys_path.insert(0, path.as_ref())?;
        }
    }
    Ok(())
}

fn import<'py>(py: Python<'py>, module: &str) -> Result<Bound<'py, PyAny>, LoadError> {
    match py.import(module) {
        Ok(imported) => Ok(imported.into_any()),
        Err(error) if error.is_instance_of::<PyModuleNotFoundError>(py) => {
            let missing: Option<String> = error
                .value(py)
                .getattr("name")
                .ok()
                .and_then(|name| name.extract().ok());
            match missing {
                // The module itself, or a package above it: the user named something absent.
                Some(name) if module == name || module.starts_with(&format!("{name}.")) => {
                    Err(LoadError::NoModule { name })
                }
                // Something the module imports is missing: the module's problem.
                _ => Err(LoadError::ImportFailed {
                    module: module.to_owned(),
                    message: exception_line(py, &error),
                    traceback: format_exception(py, &error),
                }),
            }
        }
        Err(error) => Err(LoadError::ImportFailed {
            module: module.to_owned(),
            message: exception_line(py, &error),
            traceback: format_exception(py, &error),
        }),
    }
}

/// `TypeName: message` on one line.
pub(crate) fn exception_line(py: Python<'_>, error: &PyErr) -> String {
    let name = error
        .get_type(py)
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = error
        .value(py)
        .str()
        .map(|text| text.to_string())
        .unwrap_or_default();
    let message = message.lines().next().unwrap_or("");
    if message.is_empty() {
        name
    } else {
        format!("{name}: {message}")
    }
}

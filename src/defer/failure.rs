//! [`Failure`], the error half of a Deferred's result, and the typed errors
//! that the chain machinery itself produces.

use std::any::type_name;
use std::error::Error;
use std::fmt;
use std::rc::Rc;

/// An error travelling down a Deferred's errback path (Twisted's `Failure`).
///
/// Cloning is cheap (one reference count): the same error can be handed to
/// several errbacks, recorded by a combinator and still be reported.
///
/// `Failure` deliberately does not implement [`Error`] itself, so that every
/// error type converts into it with `?` or `.into()`; use [`Failure::error`]
/// to reach the wrapped error as `&dyn Error`.
#[derive(Clone)]
pub struct Failure {
    error: Rc<dyn Error + 'static>,
    type_name: &'static str,
    traceback: Option<Rc<str>>,
}

impl Failure {
    /// Wraps `error`, remembering its type name for display.
    pub fn new<E: Error + 'static>(error: E) -> Self {
        Self {
            error: Rc::new(error),
            type_name: type_name::<E>(),
            traceback: None,
        }
    }

    /// Returns the same failure carrying `traceback`, a free-form context
    /// text (for example a Python traceback rendered by the WSGI bridge).
    #[must_use]
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> Self {
        self.traceback = Some(Rc::from(traceback.into()));
        self
    }

    /// The attached traceback or context text, if any.
    pub fn traceback(&self) -> Option<&str> {
        self.traceback.as_deref()
    }

    /// The wrapped error.
    pub fn error(&self) -> &(dyn Error + 'static) {
        &*self.error
    }

    /// The Rust type name of the wrapped error, as given to [`Failure::new`].
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Whether the wrapped error is an `E` (Twisted's `Failure.check`).
    pub fn check<E: Error + 'static>(&self) -> bool {
        self.error.is::<E>()
    }

    /// The wrapped error as an `E`, if it is one.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }

    /// Twisted's `Failure.trap`: `Ok(&E)` when the wrapped error is an `E`,
    /// otherwise `Err` with this failure so an errback can re-raise it with
    /// `?`:
    ///
    /// ```
    /// use torsion::defer::{CancelledError, Failure};
    ///
    /// fn ignore_cancel(failure: Failure) -> Result<u32, Failure> {
    ///     failure.trap::<CancelledError>()?;
    ///     Ok(0)
    /// }
    /// assert_eq!(ignore_cancel(Failure::new(CancelledError)).ok(), Some(0));
    /// ```
    pub fn trap<E: Error + 'static>(&self) -> Result<&E, Failure> {
        self.downcast_ref::<E>().ok_or_else(|| self.clone())
    }
}

impl<E: Error + 'static> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::new(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.type_name, self.error)?;
        if let Some(traceback) = &self.traceback {
            write!(f, "\n{traceback}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("type", &self.type_name)
            .field("error", &self.error)
            .field("traceback", &self.traceback)
            .finish()
    }
}

/// The failure a cancelled Deferred errbacks with, unless its canceller
/// fired it some other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelledError;

impl fmt::Display for CancelledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferred was cancelled")
    }
}

impl Error for CancelledError {}

/// The failure of an operation that did not finish in its allotted time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeoutError;

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferred timed out")
    }
}

impl Error for TimeoutError {}

/// Returned by `callback`/`errback` on a Deferred that has already fired:
/// the caller fired it twice, which is a bug on the firing side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlreadyCalledError;

impl fmt::Display for AlreadyCalledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferred has already been called")
    }
}

impl Error for AlreadyCalledError {}

/// The first failure among a combinator's inputs, with the input's position.
#[derive(Debug, Clone)]
pub struct FirstError {
    /// Position of the failing input in the list given to the combinator.
    pub index: usize,
    /// The failure that input produced.
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input {} failed first: {}", self.index, self.failure)
    }
}

impl Error for FirstError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.failure.error())
    }
}

/// Several failures at once, in input order (for example when every input
/// of `race` failed).
#[derive(Debug, Clone, Default)]
pub struct FailureGroup(pub Vec<Failure>);

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failures", self.0.len())?;
        for (position, failure) in self.0.iter().enumerate() {
            let separator = if position == 0 { ": " } else { "; " };
            write!(f, "{separator}{failure}")?;
        }
        Ok(())
    }
}

impl Error for FailureGroup {}

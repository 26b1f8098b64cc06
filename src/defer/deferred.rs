//! The typed [`Deferred`] handle and its chain-building methods.

use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use super::chain::{Core, Outcome, StepOutput, TypeTag, Value};
use super::failure::{AlreadyCalledError, Failure};

/// A result that is not available yet, and the chain of callbacks that will
/// process it (Twisted's `Deferred`).
///
/// A `Deferred<T>` is a cheap, single-threaded handle: clones share one
/// chain. `T` is the type the chain produces *at this handle*: adding a step
/// consumes the handle and returns one typed with the step's output. The
/// firer keeps a clone taken before any step was added and fires through it
/// with [`callback`](Deferred::callback) or [`errback`](Deferred::errback).
///
/// Misuse panics with a message naming the mistake: adding a step through a
/// stale handle (whose `T` is no longer the chain's output type), firing
/// through a handle whose `T` is not the chain's head type, adding a step
/// after the result was handed to another chain or awaited, and a callback
/// returning the very Deferred it is attached to. Firing twice is the
/// firer's error and is returned as [`AlreadyCalledError`].
///
/// A callback that panics is a bug: the panic propagates to whoever fired
/// (or added the step) and the chain is abandoned.
pub struct Deferred<T> {
    core: Rc<Core>,
    marker: PhantomData<fn(T) -> T>,
}

impl<T: 'static> Deferred<T> {
    /// A new, unfired Deferred without a canceller.
    pub fn new() -> Self {
        Self::from_core(Core::new(TypeTag::of::<T>(), None))
    }

    /// A new, unfired Deferred whose [`cancel`](Deferred::cancel) first
    /// runs `canceller` with the Deferred. The canceller stops the pending
    /// operation and may fire the Deferred itself; if it does not, the
    /// Deferred errbacks with `CancelledError`.
    pub fn with_canceller(canceller: impl FnOnce(&Deferred<T>) + 'static) -> Self {
        let erased = move |core: &Rc<Core>| canceller(&Deferred::from_core(core.clone()));
        Self::from_core(Core::new(TypeTag::of::<T>(), Some(Box::new(erased))))
    }

    /// A Deferred already fired with `value` (Twisted's `succeed`).
    pub fn succeeded(value: T) -> Self {
        let deferred = Self::new();
        deferred.fire(Ok(Box::new(value)));
        deferred
    }

    /// A Deferred already failed with `failure` (Twisted's `fail`).
    pub fn failed(failure: impl Into<Failure>) -> Self {
        let deferred = Self::new();
        deferred.fire(Err(failure.into()));
        deferred
    }

    /// Wraps an existing chain.
    pub(crate) fn from_core(core: Rc<Core>) -> Self {
        Self {
            core,
            marker: PhantomData,
        }
    }

    /// The shared chain, for combinators that cancel inputs.
    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Fires a Deferred that was just created.
    fn fire(&self, outcome: Outcome) {
        let fired = self.core.fire(outcome);
        debug_assert!(fired.is_ok(), "a new Deferred is unfired");
    }

    /// Fires the chain with a success value.
    ///
    /// # Errors
    /// [`AlreadyCalledError`] if the Deferred was already fired; the value
    /// is dropped. After a cancel of a Deferred without a canceller, the
    /// first such late firing is silently ignored instead.
    ///
    /// # Panics
    /// If `T` is not the chain's head type (this handle was taken after a
    /// step changed the type).
    pub fn callback(&self, value: T) -> Result<(), AlreadyCalledError> {
        self.core.check_head(TypeTag::of::<T>());
        self.core.fire(Ok(Box::new(value)))
    }

    /// Fires the chain with a failure; allowed through any handle.
    ///
    /// # Errors
    /// As for [`callback`](Deferred::callback).
    pub fn errback(&self, failure: impl Into<Failure>) -> Result<(), AlreadyCalledError> {
        self.core.fire(Err(failure.into()))
    }

    /// Whether `callback` or `errback` has been called (Twisted's `called`).
    pub fn is_called(&self) -> bool {
        self.core.is_called()
    }

    /// Whether the chain is held by [`pause`](Deferred::pause).
    pub fn is_paused(&self) -> bool {
        self.core.is_paused()
    }

    /// Stops steps from running until a matching [`unpause`](Deferred::unpause).
    pub fn pause(&self) {
        self.core.pause();
    }

    /// Undoes one [`pause`](Deferred::pause); once none remain, the steps
    /// queued meanwhile run.
    ///
    /// # Panics
    /// If there is no outstanding `pause`.
    pub fn unpause(&self) {
        self.core.unpause();
    }

    /// Cancels the operation behind this Deferred.
    ///
    /// Unfired: runs the canceller, then errbacks with `CancelledError` if
    /// the canceller did not fire it. Waiting on a Deferred returned by a
    /// callback: cancels that one instead. Otherwise does nothing.
    pub fn cancel(&self) {
        self.core.cancel();
    }

    /// Appends a step, typed `T -> U`, and returns the handle typed `U`.
    fn then<U: 'static>(self, step: impl FnOnce(Outcome) -> StepOutput + 'static) -> Deferred<U> {
        let output = Some(TypeTag::of::<U>());
        self.core
            .push_step(TypeTag::of::<T>(), output, Box::new(step));
        Deferred::from_core(self.core)
    }

    /// Adds a callback and an errback at the same level of the chain
    /// (Twisted's `addCallbacks`): exactly one of them runs.
    pub fn add_callbacks<U: 'static>(
        self,
        on_success: impl FnOnce(T) -> Result<U, Failure> + 'static,
        on_failure: impl FnOnce(Failure) -> Result<U, Failure> + 'static,
    ) -> Deferred<U> {
        self.then(move |outcome| {
            let next = match outcome {
                Ok(value) => on_success(unbox(value)),
                Err(failure) => on_failure(failure),
            };
            StepOutput::Done(next.map(boxed))
        })
    }

    /// Adds a callback: `Ok` continues down the callbacks, `Err` skips to
    /// the next errback. A failure arriving here passes by untouched.
    pub fn add_callback<U: 'static>(
        self,
        on_success: impl FnOnce(T) -> Result<U, Failure> + 'static,
    ) -> Deferred<U> {
        self.then(move |outcome| {
            StepOutput::Done(outcome.and_then(|value| on_success(unbox(value)).map(boxed)))
        })
    }

    /// Adds an errback: `Ok` recovers and puts the chain back on the
    /// callback path, `Err` keeps it failing. A success passes by untouched.
    pub fn add_errback(
        self,
        on_failure: impl FnOnce(Failure) -> Result<T, Failure> + 'static,
    ) -> Deferred<T> {
        self.then(move |outcome| {
            StepOutput::Done(outcome.or_else(|failure| on_failure(failure).map(boxed)))
        })
    }

    /// Adds one function that sees either outcome (Twisted's `addBoth`).
    pub fn add_both<U: 'static>(
        self,
        on_either: impl FnOnce(Result<T, Failure>) -> Result<U, Failure> + 'static,
    ) -> Deferred<U> {
        self.then(move |outcome| StepOutput::Done(on_either(outcome.map(unbox)).map(boxed)))
    }

    /// Adds a callback that returns another Deferred: the chain pauses until
    /// that Deferred has a result and then continues with it. Cancelling
    /// this chain meanwhile cancels the returned Deferred.
    pub fn add_callback_deferred<U: 'static>(
        self,
        on_success: impl FnOnce(T) -> Deferred<U> + 'static,
    ) -> Deferred<U> {
        self.then(move |outcome| match outcome {
            Ok(value) => on_success(unbox(value)).into_chained(),
            Err(failure) => StepOutput::Done(Err(failure)),
        })
    }

    /// Adds an errback that returns another Deferred, whose result the
    /// chain then continues with.
    pub fn add_errback_deferred(
        self,
        on_failure: impl FnOnce(Failure) -> Deferred<T> + 'static,
    ) -> Deferred<T> {
        self.then(move |outcome| match outcome {
            Ok(value) => StepOutput::Done(Ok(value)),
            Err(failure) => on_failure(failure).into_chained(),
        })
    }

    /// Adds one function that sees either outcome and returns another
    /// Deferred, whose result the chain then continues with.
    pub fn add_both_deferred<U: 'static>(
        self,
        on_either: impl FnOnce(Result<T, Failure>) -> Deferred<U> + 'static,
    ) -> Deferred<U> {
        self.then(move |outcome| on_either(outcome.map(unbox)).into_chained())
    }

    /// Makes `other` fire with this chain's result at this point (Twisted's
    /// `chainDeferred`). This chain continues with `()`; if `other` was
    /// already fired, it continues with an `AlreadyCalledError` failure.
    /// Firing `other` does not affect this chain.
    pub fn chain_deferred(self, other: Deferred<T>) -> Deferred<()> {
        self.add_both(move |outcome| {
            match outcome {
                Ok(value) => other.callback(value),
                Err(failure) => other.errback(failure),
            }
            .map_err(Failure::new)
        })
    }

    /// Checks this handle is current and gives its chain to a waiting step.
    fn into_chained(self) -> StepOutput {
        self.core
            .check_tail(TypeTag::of::<T>(), "return it from a callback");
        StepOutput::Chain(self.core)
    }
}

impl<T: 'static> Default for Deferred<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            marker: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("type", &std::any::type_name::<T>())
            .field("state", &self.core.describe())
            .finish()
    }
}

impl<T: 'static> From<Result<T, Failure>> for Deferred<T> {
    fn from(result: Result<T, Failure>) -> Self {
        match result {
            Ok(value) => Deferred::succeeded(value),
            Err(failure) => Deferred::failed(failure),
        }
    }
}

/// Things a function may return where a Deferred is expected: a Deferred
/// itself, or an immediate `Result`.
pub trait IntoDeferred<T> {
    /// Converts into a Deferred, already fired for an immediate result.
    fn into_deferred(self) -> Deferred<T>;
}

impl<T: 'static> IntoDeferred<T> for Deferred<T> {
    fn into_deferred(self) -> Deferred<T> {
        self
    }
}

impl<T: 'static> IntoDeferred<T> for Result<T, Failure> {
    fn into_deferred(self) -> Deferred<T> {
        Deferred::from(self)
    }
}

/// A Deferred already fired with `value` (Twisted's `succeed`).
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred::succeeded(value)
}

/// A Deferred already failed with `failure` (Twisted's `fail`).
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred::failed(failure)
}

/// Calls `f` and gives its result as a Deferred, whether `f` returned a
/// Deferred or an immediate `Result` (Twisted's `maybeDeferred`).
pub fn maybe_deferred<T: 'static, R: IntoDeferred<T>>(f: impl FnOnce() -> R) -> Deferred<T> {
    f().into_deferred()
}

/// Boxes a step's output value.
fn boxed<U: 'static>(value: U) -> Value {
    Box::new(value)
}

/// Recovers a step's input value.
pub(crate) fn unbox<T: 'static>(value: Value) -> T {
    *value
        .downcast::<T>()
        .expect("invariant: the chain's tail type tag matches the value flowing into the step")
}

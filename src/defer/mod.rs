//! Deferreds: Twisted's callback chains, typed, single-threaded, awaitable.
//!
//! A [`Deferred<T>`] stands for a result that is not available yet. Code
//! that will produce the result keeps a handle and eventually fires it with
//! [`Deferred::callback`] or [`Deferred::errback`]; code that wants the
//! result adds steps to the chain. The rules are Twisted's:
//!
//! * Steps run in the order added, each receiving the previous step's
//!   output. A step added after the Deferred fired runs at once.
//! * A chain level has a callback side and an errback side. A success runs
//!   the next callback; a failure ([`Failure`]) skips callbacks and runs the
//!   next errback. A callback returning `Err` switches to the errback path;
//!   an errback returning `Ok` recovers onto the callback path.
//! * A step may return another Deferred (`add_callback_deferred` and
//!   friends): the chain waits for that Deferred and continues with its
//!   result. Long runs of such chaining unwind in a loop, not by recursion.
//! * [`Deferred::pause`] holds the chain; the matching
//!   [`Deferred::unpause`] lets it continue.
//! * [`Deferred::cancel`] runs the canceller of an unfired Deferred and,
//!   unless that fired it, errbacks with [`CancelledError`]; a chain that
//!   is waiting on another Deferred cancels that one instead.
//! * A chain dropped while holding a failure reports it through the
//!   per-thread hook set by [`set_unhandled_error_reporter`].
//!
//! Typing: adding a step consumes the handle and returns one typed with the
//! step's output; the firer keeps a clone made before steps were added.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use torsion::defer::{Deferred, Failure};
//!
//! let firer: Deferred<u32> = Deferred::new();
//! let seen = Rc::new(Cell::new(String::new()));
//! let sink = seen.clone();
//! firer
//!     .clone()
//!     .add_callback(|n| if n > 10 { Ok(n * 2) } else { Err(Failure::new(std::fmt::Error)) })
//!     .add_errback(|_failure| Ok(0))
//!     .add_callback(move |n| {
//!         sink.set(format!("got {n}"));
//!         Ok(())
//!     });
//! firer.callback(21).expect("fired once");
//! assert_eq!(seen.take(), "got 42");
//! ```
//!
//! Combinators live in [`DeferredList`], [`gather_results`] and [`race`];
//! `Deferred<T>` is also a `Future<Output = Result<T, Failure>>`. See
//! `docs/deferred.md` for the mapping to Twisted and the differences.
//!
//! Tested by: reactor_tests/defer.rs

mod chain;
mod combinators;
mod deferred;
mod failure;
mod future;
mod unhandled;

pub use combinators::{
    DeferredList, DeferredListResult, gather_results, gather_results_consuming_errors, race,
};
pub use deferred::{Deferred, IntoDeferred, fail, maybe_deferred, succeed};
pub use failure::{
    AlreadyCalledError, CancelledError, Failure, FailureGroup, FirstError, TimeoutError,
};
pub use unhandled::{
    UnhandledErrorReporter, reset_unhandled_error_reporter, set_unhandled_error_reporter,
    unhandled_error_message,
};

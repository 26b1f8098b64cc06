//! Deferred rules: one test per rule of the callback chain, cancellation,
//! unhandled-failure reporting, the combinators and the Future bridge.

mod cancel;
mod chain;
mod chaining;
mod combinators;
mod failures;
mod futures;
mod unhandled;

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use torsion::defer::{
    Deferred, Failure, reset_unhandled_error_reporter, set_unhandled_error_reporter,
};

/// A plain test error carrying a label.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Boom(&'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

impl Error for Boom {}

/// A second error type, for checks that must tell types apart.
#[derive(Debug)]
struct Other;

impl fmt::Display for Other {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("other")
    }
}

impl Error for Other {}

/// A shared slot that receives a chain's final outcome.
type OutcomeSlot<T> = Rc<RefCell<Option<Result<T, Failure>>>>;

/// Ends `deferred`'s chain with a step storing the outcome (which handles
/// any failure).
fn outcome_of<T: 'static>(deferred: Deferred<T>) -> OutcomeSlot<T> {
    let slot: OutcomeSlot<T> = Rc::new(RefCell::new(None));
    let sink = slot.clone();
    deferred.add_both(move |outcome| {
        *sink.borrow_mut() = Some(outcome);
        Ok(())
    });
    slot
}

/// The stored outcome; panics if the chain has not reached its end.
fn taken<T>(slot: &OutcomeSlot<T>) -> Result<T, Failure> {
    slot.borrow_mut()
        .take()
        .expect("the chain should have reached its final step")
}

/// Whether the chain reached its final step.
fn arrived<T>(slot: &OutcomeSlot<T>) -> bool {
    slot.borrow().is_some()
}

/// A shared log that steps append to.
type Log<T> = Rc<RefCell<Vec<T>>>;

/// A fresh empty log.
fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Captures this thread's unhandled-failure reports until dropped.
struct CapturedReports {
    reports: Log<String>,
}

impl CapturedReports {
    /// Installs a capturing reporter on this thread.
    fn install() -> Self {
        let reports = log();
        let sink = reports.clone();
        set_unhandled_error_reporter(Box::new(move |failure| {
            sink.borrow_mut().push(failure.to_string());
        }));
        Self { reports }
    }

    /// The reports so far.
    fn reports(&self) -> Vec<String> {
        self.reports.borrow().clone()
    }
}

impl Drop for CapturedReports {
    fn drop(&mut self) {
        reset_unhandled_error_reporter();
    }
}

/// A waker that counts how often it was woken.
struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker and its count.
fn counting_waker() -> (Waker, Arc<CountingWaker>) {
    let counter = Arc::new(CountingWaker {
        wakes: AtomicUsize::new(0),
    });
    (Waker::from(counter.clone()), counter)
}

impl CountingWaker {
    /// How often this waker was woken.
    fn count(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

/// Polls `future` once with `waker`.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

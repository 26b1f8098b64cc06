//! Cancellation: cancellers, CancelledError, suppression, forwarding.

use std::rc::Rc;

use super::{Boom, arrived, log, outcome_of, taken};
use torsion::defer::{AlreadyCalledError, CancelledError, Deferred, succeed};

/// Cancelling an unfired Deferred without a canceller errbacks it with CancelledError.
#[test]
fn cancel_without_canceller_fails_cancelled() {
    let firer: Deferred<u32> = Deferred::new();
    let result = outcome_of(firer.clone());
    firer.cancel();
    assert!(
        taken(&result)
            .expect_err("cancelled")
            .check::<CancelledError>()
    );
}

/// Cancel runs the canceller once, with the Deferred being cancelled.
#[test]
fn cancel_runs_canceller_with_the_deferred() {
    let calls = log();
    let sink = calls.clone();
    let firer: Deferred<u32> = Deferred::with_canceller(move |deferred| {
        sink.borrow_mut().push(deferred.is_called());
    });
    let result = outcome_of(firer.clone());
    firer.cancel();
    firer.cancel();
    assert_eq!(*calls.borrow(), vec![false]);
    assert!(
        taken(&result)
            .expect_err("cancelled")
            .check::<CancelledError>()
    );
}

/// A canceller that fires the Deferred itself replaces the CancelledError.
#[test]
fn canceller_that_fires_prevents_cancelled_error() {
    let firer: Deferred<u32> = Deferred::with_canceller(|deferred| {
        deferred.callback(0).expect("canceller fires first");
    });
    let result = outcome_of(firer.clone());
    firer.cancel();
    assert_eq!(taken(&result).ok(), Some(0));
}

/// With a canceller that did not fire it, a later firing after cancel is still AlreadyCalledError.
#[test]
fn cancel_with_canceller_does_not_suppress_late_firing() {
    let firer: Deferred<u32> = Deferred::with_canceller(|_| {});
    drop(outcome_of(firer.clone()));
    firer.cancel();
    assert_eq!(firer.callback(1), Err(AlreadyCalledError));
}

/// After a cancel without canceller, the firer's first late callback is silently ignored.
#[test]
fn late_firing_after_cancel_is_suppressed_once() {
    let firer: Deferred<u32> = Deferred::new();
    let result = outcome_of(firer.clone());
    firer.cancel();
    assert_eq!(firer.callback(7), Ok(()));
    assert!(
        taken(&result)
            .expect_err("stays cancelled")
            .check::<CancelledError>()
    );
}

/// Only one late firing is suppressed; a second one is AlreadyCalledError.
#[test]
fn second_late_firing_after_cancel_is_an_error() {
    let firer: Deferred<u32> = Deferred::new();
    drop(outcome_of(firer.clone()));
    firer.cancel();
    assert_eq!(firer.errback(Boom("late")), Ok(()));
    assert_eq!(firer.callback(1), Err(AlreadyCalledError));
}

/// Cancelling a Deferred that already has a result does nothing.
#[test]
fn cancel_after_firing_does_nothing() {
    let calls = log();
    let sink = calls.clone();
    let firer: Deferred<u32> = Deferred::with_canceller(move |_| sink.borrow_mut().push(()));
    let result = outcome_of(firer.clone());
    firer.callback(3).expect("first firing");
    firer.cancel();
    assert!(calls.borrow().is_empty());
    assert_eq!(taken(&result).ok(), Some(3));
}

/// Cancelling a chain that waits on a returned Deferred cancels that inner Deferred.
#[test]
fn cancel_while_waiting_cancels_inner() {
    let cancelled_inner = log();
    let sink = cancelled_inner.clone();
    let inner: Deferred<u32> = Deferred::with_canceller(move |_| sink.borrow_mut().push(()));
    let returned = inner.clone();
    let outer = succeed(0u32).add_callback_deferred(move |_| returned);
    let handle = outer.clone();
    let result = outcome_of(outer);
    handle.cancel();
    assert_eq!(cancelled_inner.borrow().len(), 1);
    assert!(inner.is_called());
    assert!(
        taken(&result)
            .expect_err("cancelled")
            .check::<CancelledError>()
    );
}

/// A canceller may cancel other Deferreds without borrow conflicts.
#[test]
fn canceller_cancels_other_deferreds() {
    let other: Deferred<u32> = Deferred::new();
    let other_result = outcome_of(other.clone());
    let firer: Deferred<u32> = Deferred::with_canceller(move |_| other.cancel());
    let result = outcome_of(firer.clone());
    firer.cancel();
    assert!(
        taken(&other_result)
            .expect_err("cancelled")
            .check::<CancelledError>()
    );
    assert!(taken(&result).is_err());
}

/// A callback may cancel another pending Deferred.
#[test]
fn callback_cancels_another_deferred() {
    let other: Deferred<u32> = Deferred::new();
    let other_result = outcome_of(other.clone());
    succeed(()).add_callback(move |()| {
        other.cancel();
        Ok(())
    });
    assert!(
        taken(&other_result)
            .expect_err("cancelled")
            .check::<CancelledError>()
    );
}

/// Firing releases the canceller, so whatever it captured is freed.
#[test]
fn firing_drops_the_canceller() {
    let captured = Rc::new(());
    let held = captured.clone();
    let firer: Deferred<u32> = Deferred::with_canceller(move |_| drop(held));
    assert_eq!(Rc::strong_count(&captured), 2);
    firer.callback(1).expect("first firing");
    assert_eq!(Rc::strong_count(&captured), 1);
}

/// A cancelled Deferred whose steps were added later still delivers CancelledError to them.
#[test]
fn steps_added_after_cancel_see_cancelled_error() {
    let firer: Deferred<u32> = Deferred::new();
    firer.cancel();
    let result = outcome_of(firer.clone());
    assert!(arrived(&result));
    assert!(
        taken(&result)
            .expect_err("cancelled")
            .check::<CancelledError>()
    );
}

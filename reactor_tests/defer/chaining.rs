//! Chaining (a step returning a Deferred), pausing, and deep chains.

use super::{Boom, arrived, log, outcome_of, taken};
use torsion::defer::{Deferred, Failure, fail, succeed};

/// Depth used by the stack-safety tests; far beyond what recursion survives.
const DEEP: usize = 100_000;

/// A callback returning a pending Deferred makes the chain wait, then continue with its result.
#[test]
fn chain_waits_for_returned_deferred() {
    let inner: Deferred<u32> = Deferred::new();
    let returned = inner.clone();
    let result = outcome_of(
        succeed(1u32)
            .add_callback_deferred(move |_| returned)
            .add_callback(|n| Ok(n * 2)),
    );
    assert!(!arrived(&result));
    inner.callback(21).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(42));
}

/// A callback returning an already-fired Deferred continues at once with its result.
#[test]
fn returned_fired_deferred_continues_at_once() {
    let result = outcome_of(succeed(2u32).add_callback_deferred(|n| succeed(n + 1)));
    assert_eq!(taken(&result).ok(), Some(3));
}

/// The returned Deferred's own callbacks run before the outer chain continues.
#[test]
fn returned_deferred_steps_run_first() {
    let inner: Deferred<u32> = Deferred::new();
    let transformed = inner.clone().add_callback(|n| Ok(n + 1000));
    let result = outcome_of(succeed(0u32).add_callback_deferred(move |_| transformed));
    inner.callback(1).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(1001));
}

/// A failure of the returned Deferred continues down the outer chain's errbacks.
#[test]
fn returned_deferred_failure_reaches_outer_errback() {
    let inner: Deferred<u32> = Deferred::new();
    let returned = inner.clone();
    let result = outcome_of(
        succeed(1u32)
            .add_callback_deferred(move |_| returned)
            .add_callback(|n| Ok(n + 1))
            .add_errback(|failure| {
                failure.trap::<Boom>()?;
                Ok(0)
            }),
    );
    inner.errback(Boom("inner")).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(0));
}

/// An errback returning a Deferred recovers with that Deferred's result.
#[test]
fn errback_deferred_recovers_with_its_result() {
    let result = outcome_of(fail::<u32>(Boom("x")).add_errback_deferred(|_| succeed(5)));
    assert_eq!(taken(&result).ok(), Some(5));
}

/// add_both_deferred sees the outcome and continues with the returned Deferred's result.
#[test]
fn both_deferred_continues_with_returned_result() {
    let result = outcome_of(fail::<u32>(Boom("x")).add_both_deferred(|outcome| {
        succeed(if outcome.is_err() {
            "was error"
        } else {
            "was ok"
        })
    }));
    assert_eq!(taken(&result).ok(), Some("was error"));
}

/// A failure arriving at add_callback_deferred skips it without calling it.
#[test]
fn callback_deferred_skipped_on_failure() {
    let called = log();
    let sink = called.clone();
    let result = outcome_of(fail::<u32>(Boom("x")).add_callback_deferred(move |n| {
        sink.borrow_mut().push(n);
        succeed(n)
    }));
    assert!(called.borrow().is_empty());
    assert!(taken(&result).is_err());
}

/// Adding a step through the returned Deferred after it was chained panics.
#[test]
#[should_panic(expected = "already handed on")]
fn adding_to_chained_deferred_panics() {
    let inner: Deferred<u32> = Deferred::new();
    let returned = inner.clone();
    let _outer = succeed(1u32).add_callback_deferred(move |_| returned);
    inner.add_callback(Ok);
}

/// A callback that returns the Deferred it is attached to panics instead of waiting forever.
#[test]
#[should_panic(expected = "attached to")]
fn callback_returning_own_deferred_panics() {
    let firer: Deferred<u32> = Deferred::new();
    let same = firer.clone();
    firer.clone().add_callback_deferred(move |_| same);
    let _ = firer.callback(1);
}

/// Steps do not run while the Deferred is paused, and run on unpause.
#[test]
fn paused_chain_runs_on_unpause() {
    let firer: Deferred<u32> = Deferred::new();
    firer.pause();
    let result = outcome_of(firer.clone().add_callback(|n| Ok(n + 1)));
    firer.callback(1).expect("first firing");
    assert!(!arrived(&result));
    firer.unpause();
    assert_eq!(taken(&result).ok(), Some(2));
}

/// Pauses nest: the chain resumes only after as many unpauses as pauses.
#[test]
fn pauses_nest() {
    let firer = succeed(1u32);
    firer.pause();
    firer.pause();
    let result = outcome_of(firer.clone().add_callback(|n| Ok(n + 1)));
    firer.unpause();
    assert!(!arrived(&result) && firer.is_paused());
    firer.unpause();
    assert_eq!(taken(&result).ok(), Some(2));
}

/// unpause without a matching pause is a usage error and panics.
#[test]
#[should_panic(expected = "without a matching pause")]
fn unpause_without_pause_panics() {
    Deferred::<u32>::new().unpause();
}

/// A callback pausing its own chain stops the following steps until unpaused.
#[test]
fn pause_inside_callback_holds_later_steps() {
    let firer: Deferred<u32> = Deferred::new();
    let handle = firer.clone();
    let result = outcome_of(
        firer
            .clone()
            .add_callback(move |n| {
                handle.pause();
                Ok(n + 1)
            })
            .add_callback(|n| Ok(n * 10)),
    );
    firer.callback(1).expect("first firing");
    assert!(!arrived(&result));
    firer.unpause();
    assert_eq!(taken(&result).ok(), Some(20));
}

/// A returned Deferred that has fired but is paused holds the outer chain until unpaused.
#[test]
fn paused_returned_deferred_holds_outer() {
    let inner = succeed(4u32);
    inner.pause();
    let returned = inner.clone();
    let result = outcome_of(succeed(0u32).add_callback_deferred(move |_| returned));
    assert!(!arrived(&result));
    inner.unpause();
    assert_eq!(taken(&result).ok(), Some(4));
}

/// A long chain of callbacks each returning an already-fired Deferred runs without stack overflow.
#[test]
fn deep_chain_of_fired_deferreds_is_stack_safe() {
    let firer: Deferred<usize> = Deferred::new();
    let mut chain = firer.clone();
    for _ in 0..DEEP {
        chain = chain.add_callback_deferred(|n| succeed(n + 1));
    }
    let result = outcome_of(chain);
    firer.callback(0).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(DEEP));
}

/// Firing the innermost of a long nest of waiting Deferreds unwinds without stack overflow.
#[test]
fn deep_nest_of_waiting_deferreds_is_stack_safe() {
    let innermost: Deferred<usize> = Deferred::new();
    let mut waiting = innermost.clone();
    for _ in 0..DEEP {
        let outer: Deferred<usize> = Deferred::new();
        let inner = waiting;
        waiting = outer.clone().add_callback_deferred(move |_| inner);
        outer.callback(0).expect("first firing");
    }
    let result = outcome_of(waiting.add_callback(|n| Ok(n + 1)));
    assert!(!arrived(&result));
    innermost.callback(41).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(42));
}

/// Cancelling the outermost of a long nest of waiting Deferreds reaches the innermost without stack overflow.
#[test]
fn deep_cancel_is_stack_safe() {
    let cancelled = log();
    let sink = cancelled.clone();
    let innermost: Deferred<usize> = Deferred::with_canceller(move |_| sink.borrow_mut().push(()));
    let mut waiting = innermost.clone();
    for _ in 0..DEEP {
        let outer: Deferred<usize> = Deferred::new();
        let inner = waiting;
        waiting = outer.clone().add_callback_deferred(move |_| inner);
        outer.callback(0).expect("first firing");
    }
    let handle = waiting.clone();
    let result = outcome_of(waiting);
    handle.cancel();
    assert_eq!(cancelled.borrow().len(), 1);
    let failure: Failure = taken(&result).expect_err("cancelled");
    assert!(failure.check::<torsion::defer::CancelledError>());
}

//! Awaiting Deferreds.

use std::pin::pin;
use std::task::Poll;

use super::{Boom, CapturedReports, counting_waker, poll_once};
use torsion::defer::{Deferred, fail, succeed};

/// Awaiting an already-fired Deferred is ready on the first poll.
#[test]
fn awaiting_fired_deferred_is_ready_at_once() {
    let (waker, counter) = counting_waker();
    let mut future = succeed(5u32);
    let polled = poll_once(pin!(&mut future), &waker);
    assert!(matches!(polled, Poll::Ready(Ok(5))));
    assert_eq!(counter.count(), 0);
}

/// Awaiting a pending Deferred is pending until it fires, which wakes the waker.
#[test]
fn awaiting_pending_deferred_wakes_on_fire() {
    let (waker, counter) = counting_waker();
    let firer: Deferred<u32> = Deferred::new();
    let mut future = firer.clone().add_callback(|n| Ok(n + 1));
    assert!(poll_once(pin!(&mut future), &waker).is_pending());
    firer.callback(1).expect("fires once");
    assert_eq!(counter.count(), 1);
    assert!(matches!(
        poll_once(pin!(&mut future), &waker),
        Poll::Ready(Ok(2))
    ));
}

/// Awaiting a failed Deferred yields its failure, which is then not reported as unhandled.
#[test]
fn awaiting_failure_yields_err_and_consumes_it() {
    let capture = CapturedReports::install();
    let (waker, _) = counting_waker();
    let mut future = fail::<u32>(Boom("awaited"));
    let polled = poll_once(pin!(&mut future), &waker);
    assert!(matches!(polled, Poll::Ready(Err(ref f)) if f.check::<Boom>()));
    drop(future);
    assert!(capture.reports().is_empty());
}

/// Only the waker from the latest poll is woken.
#[test]
fn latest_waker_is_woken() {
    let (first, first_count) = counting_waker();
    let (second, second_count) = counting_waker();
    let firer: Deferred<u32> = Deferred::new();
    let mut future = firer.clone();
    assert!(poll_once(pin!(&mut future), &first).is_pending());
    assert!(poll_once(pin!(&mut future), &second).is_pending());
    firer.callback(1).expect("fires once");
    assert_eq!((first_count.count(), second_count.count()), (0, 1));
}

/// Dropping the future before the Deferred fires is harmless; the later value is discarded.
#[test]
fn dropping_future_before_firing_discards_result() {
    let (waker, counter) = counting_waker();
    let firer: Deferred<u32> = Deferred::new();
    let mut future = firer.clone();
    assert!(poll_once(pin!(&mut future), &waker).is_pending());
    drop(future);
    assert_eq!(firer.callback(1), Ok(()));
    assert_eq!(counter.count(), 1);
}

/// A failure arriving after its awaiting future was dropped is reported as unhandled.
#[test]
fn failure_after_dropped_future_is_reported() {
    let capture = CapturedReports::install();
    let (waker, _) = counting_waker();
    let firer: Deferred<u32> = Deferred::new();
    let mut future = firer.clone();
    assert!(poll_once(pin!(&mut future), &waker).is_pending());
    drop(future);
    firer.errback(Boom("nobody listening")).expect("fires once");
    drop(firer);
    assert_eq!(capture.reports().len(), 1);
}

/// An async block can await several Deferreds in sequence.
#[test]
fn async_block_awaits_in_sequence() {
    let (waker, counter) = counting_waker();
    let first: Deferred<u32> = Deferred::new();
    let second: Deferred<u32> = Deferred::new();
    let (a, b) = (first.clone(), second.clone());
    let mut task = Box::pin(async move { Ok::<_, torsion::defer::Failure>(a.await? + b.await?) });
    assert!(poll_once(task.as_mut(), &waker).is_pending());
    first.callback(1).expect("fires once");
    assert!(poll_once(task.as_mut(), &waker).is_pending());
    second.callback(2).expect("fires once");
    assert_eq!(counter.count(), 2);
    assert!(matches!(
        poll_once(task.as_mut(), &waker),
        Poll::Ready(Ok(3))
    ));
}

/// Polling an awaited Deferred again after it completed panics.
#[test]
#[should_panic(expected = "polled again")]
fn polling_after_completion_panics() {
    let (waker, _) = counting_waker();
    let mut future = succeed(1u32);
    let _ = poll_once(pin!(&mut future), &waker);
    let _ = poll_once(pin!(&mut future), &waker);
}

/// Adding a step to a chain that is being awaited panics: the awaiter owns the result.
#[test]
#[should_panic(expected = "already handed on")]
fn adding_step_after_await_panics() {
    let (waker, _) = counting_waker();
    let firer: Deferred<u32> = Deferred::new();
    let mut future = firer.clone();
    let _ = poll_once(pin!(&mut future), &waker);
    firer.add_callback(Ok);
}

//! Delayed calls, the fake clock, looping calls, `defer_later` and `add_timeout`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use torsion::defer::{Deferred, Failure, TimeoutError};
use torsion::reactor::Reactor;
use torsion::time::{DelayedCallError, FakeClock, LoopingCall, LoopingCallError, defer_later};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A log of labels that closures append to.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    fn recorder(&self, entry: &str) -> impl FnOnce() + 'static {
        let (log, entry) = (self.clone(), entry.to_owned());
        move || log.push(entry)
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// A delayed call runs once its delay has fully passed, and not before.
#[test]
fn call_runs_when_its_delay_has_passed() {
    let clock = FakeClock::new();
    let log = Log::default();
    clock.call_later(secs(5), log.recorder("ran"));
    clock.advance(millis(4_999));
    assert!(log.take().is_empty());
    clock.advance(millis(1));
    assert_eq!(log.take(), ["ran"]);
}

/// Calls due at the same instant run in the order they were scheduled.
#[test]
fn calls_due_together_run_in_scheduling_order() {
    let clock = FakeClock::new();
    let log = Log::default();
    for label in ["a", "b", "c", "d"] {
        clock.call_later(secs(1), log.recorder(label));
    }
    clock.advance(secs(1));
    assert_eq!(log.take(), ["a", "b", "c", "d"]);
}

/// Calls run in order of due time whatever order they were scheduled in.
#[test]
fn calls_run_in_due_time_order() {
    let clock = FakeClock::new();
    let log = Log::default();
    clock.call_later(secs(3), log.recorder("3"));
    clock.call_later(secs(1), log.recorder("1"));
    clock.call_later(secs(2), log.recorder("2"));
    clock.advance(secs(10));
    assert_eq!(log.take(), ["1", "2", "3"]);
}

/// A cancelled call never runs and is no longer active.
#[test]
fn cancelled_call_never_runs() {
    let clock = FakeClock::new();
    let log = Log::default();
    let call = clock.call_later(secs(1), log.recorder("ran"));
    assert!(call.active());
    call.cancel().unwrap();
    assert!(!call.active() && call.cancelled());
    clock.advance(secs(2));
    assert!(log.take().is_empty());
}

/// Cancelling drops the closure at once, releasing what it captured.
#[test]
fn cancel_releases_captured_values() {
    let clock = FakeClock::new();
    let captured = Rc::new(());
    let held = captured.clone();
    let call = clock.call_later(secs(1), move || drop(held));
    assert_eq!(Rc::strong_count(&captured), 2);
    call.cancel().unwrap();
    assert_eq!(Rc::strong_count(&captured), 1);
}

/// Cancelling twice reports AlreadyCancelled.
#[test]
fn cancel_twice_is_already_cancelled() {
    let clock = FakeClock::new();
    let call = clock.call_later(secs(1), || {});
    call.cancel().unwrap();
    assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCancelled));
}

/// Cancelling, resetting or delaying a call that already ran reports AlreadyCalled.
#[test]
fn changing_a_call_that_ran_is_already_called() {
    let clock = FakeClock::new();
    let call = clock.call_later(secs(1), || {});
    clock.advance(secs(1));
    assert!(call.called());
    assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCalled));
    assert_eq!(call.reset(secs(1)), Err(DelayedCallError::AlreadyCalled));
    assert_eq!(call.delay(secs(1)), Err(DelayedCallError::AlreadyCalled));
}

/// Resetting or delaying a cancelled call reports AlreadyCancelled.
#[test]
fn changing_a_cancelled_call_is_already_cancelled() {
    let clock = FakeClock::new();
    let call = clock.call_later(secs(1), || {});
    call.cancel().unwrap();
    assert_eq!(call.reset(secs(1)), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(call.delay(secs(1)), Err(DelayedCallError::AlreadyCancelled));
}

/// reset moves the call to the given delay from the current time, earlier or later.
#[test]
fn reset_moves_the_call_relative_to_now() {
    let clock = FakeClock::new();
    let log = Log::default();
    let call = clock.call_later(secs(10), log.recorder("ran"));
    clock.advance(secs(2));
    call.reset(secs(1)).unwrap();
    assert_eq!(call.time(), clock.now() + secs(1));
    clock.advance(secs(1));
    assert_eq!(log.take(), ["ran"]);
    let later = clock.call_later(secs(1), log.recorder("later"));
    later.reset(secs(5)).unwrap();
    clock.advance(secs(4));
    assert!(log.take().is_empty());
    clock.advance(secs(1));
    assert_eq!(log.take(), ["later"]);
}

/// delay postpones the call by the given amount beyond its current time.
#[test]
fn delay_postpones_beyond_current_time() {
    let clock = FakeClock::new();
    let log = Log::default();
    let call = clock.call_later(secs(2), log.recorder("ran"));
    call.delay(secs(3)).unwrap();
    clock.advance(secs(4));
    assert!(log.take().is_empty());
    clock.advance(secs(1));
    assert_eq!(log.take(), ["ran"]);
}

/// A reset call runs after calls already scheduled for its new instant.
#[test]
fn reset_call_runs_after_calls_already_due_then() {
    let clock = FakeClock::new();
    let log = Log::default();
    let moved = clock.call_later(secs(1), log.recorder("moved"));
    clock.call_later(secs(5), log.recorder("first"));
    moved.reset(secs(5)).unwrap();
    clock.advance(secs(5));
    assert_eq!(log.take(), ["first", "moved"]);
}

/// The fake clock lists pending calls, earliest first, and forgets ran or cancelled ones.
#[test]
fn delayed_calls_lists_pending_calls_in_time_order() {
    let clock = FakeClock::new();
    let late = clock.call_later(secs(3), || {});
    let early = clock.call_later(secs(1), || {});
    let cancelled = clock.call_later(secs(2), || {});
    cancelled.cancel().unwrap();
    let pending = clock.delayed_calls();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].time(), early.time());
    assert_eq!(pending[1].time(), late.time());
    clock.advance(secs(1));
    assert_eq!(clock.delayed_calls().len(), 1);
    assert_eq!(clock.pending_count(), 1);
}

/// pump advances by each amount in turn, running calls as each step passes them.
#[test]
fn pump_advances_step_by_step() {
    let clock = FakeClock::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    for at in [1, 2, 3] {
        let (seen, clock2) = (seen.clone(), clock.clock());
        clock.call_later(secs(at), move || seen.borrow_mut().push(clock2.now()));
    }
    let start = clock.now();
    clock.pump(&[secs(1), secs(1), secs(1)]);
    let offsets: Vec<Duration> = seen.borrow().iter().map(|t| *t - start).collect();
    assert_eq!(offsets, [secs(1), secs(2), secs(3)]);
}

/// Under the fake clock, a call scheduled by a running call runs in the same advance if due.
#[test]
fn fake_clock_runs_calls_scheduled_during_advance() {
    let clock = FakeClock::new();
    let log = Log::default();
    let (inner_clock, inner_log) = (clock.clock(), log.clone());
    clock.call_later(secs(1), move || {
        inner_log.push("outer");
        inner_clock.call_later(Duration::ZERO, inner_log.recorder("inner"));
    });
    clock.advance(secs(1));
    assert_eq!(log.take(), ["outer", "inner"]);
}

/// The fake clock's wall time starts at the epoch (or the given time) and moves with it.
#[test]
fn fake_wall_time_follows_advances() {
    let start = std::time::UNIX_EPOCH + secs(1_700_000_000);
    let clock = FakeClock::starting_at(start);
    clock.advance(secs(90));
    assert_eq!(clock.wall_time(), start + secs(90));
    assert_eq!(FakeClock::new().wall_time(), std::time::UNIX_EPOCH);
}

/// Scheduling and cancelling a million calls leaves the timer heap small.
#[test]
fn many_cancelled_calls_do_not_grow_memory() {
    let clock = FakeClock::new();
    for i in 0..1_000_000u64 {
        let call = clock.call_later(Duration::from_nanos(i), || {});
        call.cancel().unwrap();
    }
    assert_eq!(clock.pending_count(), 0);
    assert!(
        clock.timer_heap_len() < 4096,
        "heap holds {}",
        clock.timer_heap_len()
    );
}

/// Resetting one call a million times leaves the timer heap small.
#[test]
fn many_resets_do_not_grow_memory() {
    let clock = FakeClock::new();
    let call = clock.call_later(secs(1), || {});
    for i in 0..1_000_000u64 {
        call.reset(Duration::from_nanos(i % 1000 + 1)).unwrap();
    }
    assert_eq!(clock.pending_count(), 1);
    assert!(
        clock.timer_heap_len() < 4096,
        "heap holds {}",
        clock.timer_heap_len()
    );
}

/// Thousands of calls with scattered, often equal due times, some cancelled and some reset, run
/// in due-time order and, within one instant, in scheduling order (a reset counting as a new
/// scheduling): the order the timer queue must keep at any size.
#[test]
fn many_scattered_calls_run_in_time_then_scheduling_order() {
    const CALLS: u64 = 5_000;
    let clock = FakeClock::new();
    let ran = Rc::new(RefCell::new(Vec::new()));
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut scattered_nanos = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % 500 + 1
    };
    let mut calls = Vec::new();
    for id in 0..CALLS {
        let due = scattered_nanos();
        let log = ran.clone();
        let call = clock.call_later(Duration::from_nanos(due), move || log.borrow_mut().push(id));
        calls.push((id, due, call));
    }
    let mut expected = Vec::new();
    let mut next_order = CALLS;
    for (id, due, call) in &calls {
        match id % 7 {
            // Enough cancels and resets that the queue compacts itself along the way.
            0 | 1 | 2 | 4 => call.cancel().unwrap(),
            3 => {
                let moved = scattered_nanos();
                call.reset(Duration::from_nanos(moved)).unwrap();
                expected.push((moved, next_order, *id));
                next_order += 1;
            }
            _ => expected.push((*due, *id, *id)),
        }
    }
    expected.sort_unstable();
    clock.advance(Duration::from_micros(1));
    let expected_ids: Vec<u64> = expected.into_iter().map(|(_, _, id)| id).collect();
    assert_eq!(*ran.borrow(), expected_ids);
}

/// A call scheduled very far in the future neither overflows nor runs early.
#[test]
fn far_future_call_does_not_overflow() {
    let clock = FakeClock::new();
    let log = Log::default();
    let call = clock.call_later(Duration::MAX, log.recorder("ran"));
    clock.advance(secs(1_000_000_000));
    assert!(log.take().is_empty());
    assert!(call.active());
}

/// Under a reactor, a call scheduled by a due call waits for the next turn.
#[test]
fn reactor_runs_calls_scheduled_during_a_turn_next_turn() {
    let clock = FakeClock::new();
    let reactor = Reactor::builder()
        .clock(clock.clock())
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let log = Log::default();
    let (inner, inner_log) = (reactor.clone(), log.clone());
    reactor.call_later(Duration::ZERO, move || {
        inner_log.push("first");
        inner.call_later(Duration::ZERO, inner_log.recorder("second"));
    });
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.take(), ["first"]);
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.take(), ["second"]);
}

/// A panicking delayed call under a reactor is reported and the other calls still run.
#[test]
fn reactor_survives_a_panicking_call() {
    let clock = FakeClock::new();
    let reactor = Reactor::builder()
        .clock(clock.clock())
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let log = Log::default();
    reactor.call_later(Duration::ZERO, || panic!("deliberate"));
    reactor.call_later(Duration::ZERO, log.recorder("after"));
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.take(), ["after"]);
}

fn counting_loop(clock: &FakeClock, counts: &Rc<RefCell<Vec<u64>>>) -> LoopingCall {
    let counts = counts.clone();
    LoopingCall::with_count(&clock.clock(), move |count| counts.borrow_mut().push(count))
}

/// A looping call started with now=true runs at once and then every interval.
#[test]
fn looping_call_runs_now_and_every_interval() {
    let clock = FakeClock::new();
    let counts = Rc::new(RefCell::new(Vec::new()));
    let looping = counting_loop(&clock, &counts);
    looping.start(secs(1), true).unwrap();
    assert_eq!(counts.borrow().len(), 1);
    clock.pump(&[secs(1), secs(1), secs(1)]);
    assert_eq!(*counts.borrow(), [1, 1, 1, 1]);
}

/// A looping call started with now=false first runs after one interval.
#[test]
fn looping_call_without_now_waits_one_interval() {
    let clock = FakeClock::new();
    let counts = Rc::new(RefCell::new(Vec::new()));
    counting_loop(&clock, &counts)
        .start(secs(2), false)
        .unwrap();
    clock.advance(secs(1));
    assert!(counts.borrow().is_empty());
    clock.advance(secs(1));
    assert_eq!(*counts.borrow(), [1]);
}

/// Missed intervals are skipped, not queued, and counted.
#[test]
fn looping_call_skips_and_counts_missed_intervals() {
    let clock = FakeClock::new();
    let counts = Rc::new(RefCell::new(Vec::new()));
    let looping = counting_loop(&clock, &counts);
    looping.start(secs(1), true).unwrap();
    clock.advance(millis(3_500));
    assert_eq!(*counts.borrow(), [1, 3]);
    assert_eq!(looping.skipped(), 2);
    clock.advance(millis(500));
    assert_eq!(*counts.borrow(), [1, 3, 1]);
}

/// The schedule stays aligned to the start time.
#[test]
fn looping_call_stays_aligned_to_start() {
    let clock = FakeClock::new();
    let times = Rc::new(RefCell::new(Vec::new()));
    let (seen, inner) = (times.clone(), clock.clock());
    let start = clock.now();
    let looping = LoopingCall::new(&clock.clock(), move || {
        seen.borrow_mut().push(inner.now() - start)
    });
    looping.start(secs(1), false).unwrap();
    clock.advance(millis(1_300));
    clock.advance(millis(700));
    assert_eq!(*times.borrow(), [millis(1_300), secs(2)]);
}

/// stop fires the start Deferred and no further runs happen.
#[test]
fn looping_call_stop_fires_its_deferred() {
    let clock = FakeClock::new();
    let counts = Rc::new(RefCell::new(Vec::new()));
    let looping = counting_loop(&clock, &counts);
    let done = looping.start(secs(1), true).unwrap();
    let stopped = Rc::new(Cell::new(false));
    let flag = stopped.clone();
    done.add_callback(move |()| {
        flag.set(true);
        Ok(())
    });
    looping.stop().unwrap();
    assert!(stopped.get() && !looping.running());
    clock.advance(secs(5));
    assert_eq!(counts.borrow().len(), 1);
    assert_eq!(looping.stop(), Err(LoopingCallError::NotRunning));
}

/// A failing function stops the loop and fails the start Deferred with its error.
#[test]
fn looping_call_failure_stops_and_reports() {
    let clock = FakeClock::new();
    let runs = Rc::new(Cell::new(0));
    let counter = runs.clone();
    let looping = LoopingCall::new(&clock.clock(), move || -> Result<(), Failure> {
        counter.set(counter.get() + 1);
        if counter.get() == 2 {
            return Err(Failure::new(std::io::Error::other("boom")));
        }
        Ok(())
    });
    let done = looping.start(secs(1), true).unwrap();
    let failed = Rc::new(RefCell::new(None));
    let slot = failed.clone();
    done.add_errback(move |failure| {
        *slot.borrow_mut() = Some(failure.to_string());
        Ok(())
    });
    clock.pump(&[secs(1), secs(1), secs(1)]);
    assert_eq!(runs.get(), 2);
    assert!(!looping.running());
    assert!(
        failed
            .borrow()
            .as_deref()
            .is_some_and(|text| text.contains("boom"))
    );
}

/// When the function returns a Deferred, the next run waits for it to fire.
#[test]
fn looping_call_waits_for_returned_deferred() {
    let clock = FakeClock::new();
    let pending: Rc<RefCell<Vec<Deferred<()>>>> = Rc::new(RefCell::new(Vec::new()));
    let store = pending.clone();
    let looping = LoopingCall::new(&clock.clock(), move || {
        let deferred = Deferred::new();
        store.borrow_mut().push(deferred.clone());
        deferred
    });
    looping.start(secs(1), true).unwrap();
    clock.pump(&[secs(1), secs(1), secs(1)]);
    assert_eq!(pending.borrow().len(), 1);
    let first = pending.borrow()[0].clone();
    first.callback(()).unwrap();
    clock.advance(secs(1));
    assert_eq!(pending.borrow().len(), 2);
}

/// Starting a running looping call is refused.
#[test]
fn looping_call_cannot_start_twice() {
    let clock = FakeClock::new();
    let looping = LoopingCall::new(&clock.clock(), || {});
    looping.start(secs(1), false).unwrap();
    assert!(matches!(
        looping.start(secs(1), false),
        Err(LoopingCallError::AlreadyRunning)
    ));
}

/// A zero interval runs the function once per advance step without looping forever.
#[test]
fn looping_call_with_zero_interval_runs_once_per_turn_under_a_reactor() {
    let clock = FakeClock::new();
    let reactor = Reactor::builder()
        .clock(clock.clock())
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let runs = Rc::new(Cell::new(0));
    let counter = runs.clone();
    let looping = LoopingCall::new(reactor.clock(), move || counter.set(counter.get() + 1));
    looping.start(Duration::ZERO, true).unwrap();
    for _ in 0..3 {
        reactor.iterate(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(runs.get(), 4);
}

/// defer_later fires with the function's result once the delay passes.
#[test]
fn defer_later_fires_after_delay() {
    let clock = FakeClock::new();
    let result = Rc::new(Cell::new(0));
    let slot = result.clone();
    defer_later(&clock.clock(), secs(2), || 42).add_callback(move |value| {
        slot.set(value);
        Ok(())
    });
    clock.advance(secs(1));
    assert_eq!(result.get(), 0);
    clock.advance(secs(1));
    assert_eq!(result.get(), 42);
}

/// Cancelling a defer_later Deferred cancels its call and fails it with CancelledError.
#[test]
fn defer_later_cancel_cancels_the_call() {
    let clock = FakeClock::new();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let deferred = defer_later(&clock.clock(), secs(2), move || flag.set(true));
    let cancelled = Rc::new(Cell::new(false));
    let seen = cancelled.clone();
    let handled = deferred.clone().add_errback(move |failure| {
        seen.set(failure.check::<torsion::defer::CancelledError>());
        Ok(())
    });
    deferred.cancel();
    clock.advance(secs(5));
    assert!(!ran.get() && cancelled.get());
    assert_eq!(clock.pending_count(), 0);
    drop(handled);
}

/// add_timeout fails a Deferred that has not fired in time with TimeoutError.
#[test]
fn add_timeout_fails_with_timeout_error() {
    let clock = FakeClock::new();
    let deferred: Deferred<u32> = Deferred::new();
    let outcome = Rc::new(RefCell::new(None));
    let slot = outcome.clone();
    deferred
        .clone()
        .add_timeout(secs(3), &clock.clock())
        .add_both(move |result| {
            *slot.borrow_mut() = Some(result.map_err(|f| f.check::<TimeoutError>()));
            Ok(())
        });
    clock.advance(secs(3));
    assert_eq!(*outcome.borrow(), Some(Err(true)));
}

/// add_timeout leaves a Deferred that fires in time untouched and cancels its timer.
#[test]
fn add_timeout_passes_timely_results() {
    let clock = FakeClock::new();
    let deferred: Deferred<u32> = Deferred::new();
    let outcome = Rc::new(Cell::new(0));
    let slot = outcome.clone();
    deferred
        .clone()
        .add_timeout(secs(3), &clock.clock())
        .add_callback(move |value| {
            slot.set(value);
            Ok(())
        });
    deferred.callback(7).unwrap();
    assert_eq!(outcome.get(), 7);
    assert_eq!(clock.pending_count(), 0);
}

//! Repeating and deferred calls on a [`Clock`]: [`LoopingCall`], [`defer_later`] and
//! [`Deferred::add_timeout`] (Twisted's `task.LoopingCall`, `task.deferLater`,
//! `Deferred.addTimeout`).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::timers::duration_nanos;
use super::{Clock, DelayedCall};
use crate::defer::{CancelledError, Deferred, Failure, TimeoutError};

/// What one run of a looping function may return.
pub trait LoopResult {
    /// `Ok(None)`: run again at the next interval; `Ok(Some(d))`: wait for `d` first;
    /// `Err`: stop the loop and fail its Deferred.
    fn into_step(self) -> Result<Option<Deferred<()>>, Failure>;
}

impl LoopResult for () {
    fn into_step(self) -> Result<Option<Deferred<()>>, Failure> {
        Ok(None)
    }
}

impl LoopResult for Result<(), Failure> {
    fn into_step(self) -> Result<Option<Deferred<()>>, Failure> {
        self.map(|()| None)
    }
}

impl LoopResult for Deferred<()> {
    fn into_step(self) -> Result<Option<Deferred<()>>, Failure> {
        Ok(Some(self))
    }
}

/// Why a [`LoopingCall`] refused a request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum LoopingCallError {
    /// `start` while already running.
    AlreadyRunning,
    /// `stop` or `reset` while not running.
    NotRunning,
}

impl fmt::Display for LoopingCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AlreadyRunning => "the looping call is already running",
            Self::NotRunning => "the looping call is not running",
        })
    }
}

impl std::error::Error for LoopingCallError {}

type LoopFn = Box<dyn FnMut(u64) -> Result<Option<Deferred<()>>, Failure>>;

struct LoopState {
    clock: Clock,
    function: Option<LoopFn>,
    interval: Duration,
    start: Instant,
    run_at_start: bool,
    /// When the function last ran (for counting elapsed intervals).
    last_run: Option<Instant>,
    running: bool,
    call: Option<DelayedCall>,
    finished: Option<Deferred<()>>,
    skipped: u64,
}

/// Calls a function repeatedly at a fixed rate (Twisted's `task.LoopingCall`).
///
/// The schedule is aligned to the start time: runs happen at `start + k × interval`. If a run
/// overruns (or the process was busy), the intervals missed are skipped, not queued, and
/// [`with_count`](Self::with_count) tells the function how many intervals have passed. If the
/// function returns a Deferred, the next run waits for it. If the function fails, the loop stops
/// and the Deferred from [`start`](Self::start) fails with its error; [`stop`](Self::stop) fires
/// that Deferred with success.
#[derive(Clone)]
pub struct LoopingCall {
    state: Rc<RefCell<LoopState>>,
}

impl LoopingCall {
    /// A looping call of `function` on `clock`.
    pub fn new<R: LoopResult>(clock: &Clock, mut function: impl FnMut() -> R + 'static) -> Self {
        Self::with_count(clock, move |_| function())
    }

    /// A looping call of `function`, which receives how many intervals have passed since it last
    /// ran (1 when on schedule; more when runs were skipped).
    pub fn with_count<R: LoopResult>(
        clock: &Clock,
        mut function: impl FnMut(u64) -> R + 'static,
    ) -> Self {
        let function: LoopFn = Box::new(move |count| function(count).into_step());
        Self {
            state: Rc::new(RefCell::new(LoopState {
                clock: clock.clone(),
                function: Some(function),
                interval: Duration::ZERO,
                start: clock.now(),
                run_at_start: false,
                last_run: None,
                running: false,
                call: None,
                finished: None,
                skipped: 0,
            })),
        }
    }

    /// Starts calling every `interval` (zero: once per reactor turn), first at once when
    /// `now` is true, otherwise after one interval. The Deferred fires when the loop stops.
    pub fn start(&self, interval: Duration, now: bool) -> Result<Deferred<()>, LoopingCallError> {
        let finished = {
            let mut state = self.state.borrow_mut();
            if state.running {
                return Err(LoopingCallError::AlreadyRunning);
            }
            let finished = Deferred::new();
            state.running = true;
            state.interval = interval;
            state.start = state.clock.now();
            state.run_at_start = now;
            state.last_run = None;
            state.finished = Some(finished.clone());
            finished
        };
        if now {
            self.run_once();
        } else {
            let start = self.state.borrow().start;
            self.schedule_from(start);
        }
        Ok(finished)
    }

    /// Stops the loop and fires the Deferred returned by `start`.
    pub fn stop(&self) -> Result<(), LoopingCallError> {
        let (call, finished) = {
            let mut state = self.state.borrow_mut();
            if !state.running {
                return Err(LoopingCallError::NotRunning);
            }
            state.running = false;
            (state.call.take(), state.finished.take())
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(finished) = finished {
            let _ = finished.callback(());
        }
        Ok(())
    }

    /// Restarts the schedule from now: the next run is one interval away.
    pub fn reset(&self) -> Result<(), LoopingCallError> {
        let call = {
            let mut state = self.state.borrow_mut();
            if !state.running {
                return Err(LoopingCallError::NotRunning);
            }
            state.start = state.clock.now();
            state.call.take()
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        let start = self.state.borrow().start;
        self.schedule_from(start);
        Ok(())
    }

    /// Whether the loop is running.
    pub fn running(&self) -> bool {
        self.state.borrow().running
    }

    /// How many scheduled runs have been skipped because earlier ones ran late.
    pub fn skipped(&self) -> u64 {
        self.state.borrow().skipped
    }

    /// The interval passed to `start`.
    pub fn interval(&self) -> Duration {
        self.state.borrow().interval
    }

    fn run_once(&self) {
        let (function, count) = {
            let mut state = self.state.borrow_mut();
            state.call = None;
            let now = state.clock.now();
            let count = intervals_since_last(&state, now);
            if count > 0 {
                state.last_run = Some(now);
                state.skipped += count - 1;
            }
            (state.function.take(), count)
        };
        let Some(mut function) = function else { return };
        let step = if count > 0 { function(count) } else { Ok(None) };
        self.state.borrow_mut().function = Some(function);
        match step {
            Ok(None) => self.schedule_next(),
            Ok(Some(wait)) => {
                let call = self.clone();
                wait.add_both(move |result| {
                    match result {
                        Ok(()) => call.schedule_next(),
                        Err(failure) => call.fail(failure),
                    }
                    Ok(())
                });
            }
            Err(failure) => self.fail(failure),
        }
    }

    fn schedule_next(&self) {
        let now = {
            let state = self.state.borrow();
            if !state.running {
                return;
            }
            state.clock.now()
        };
        self.schedule_from(now);
    }

    fn schedule_from(&self, when: Instant) {
        let mut state = self.state.borrow_mut();
        if !state.running {
            return;
        }
        let delay = delay_until_next_interval(&state, when);
        // The pending call keeps the loop alive, as the reactor keeps Twisted's; the cycle ends
        // when the call runs or is cancelled by `stop`.
        let me = self.clone();
        let call = state.clock.call_later(delay, move || me.run_once());
        state.call = Some(call);
    }

    fn fail(&self, failure: Failure) {
        let finished = {
            let mut state = self.state.borrow_mut();
            if !state.running {
                return;
            }
            state.running = false;
            state.finished.take()
        };
        if let Some(finished) = finished {
            let _ = finished.errback(failure);
        }
    }
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("LoopingCall")
            .field("interval", &state.interval)
            .field("running", &state.running)
            .field("skipped", &state.skipped)
            .finish()
    }
}

/// The delay from `when` to the next multiple of the interval after the start time.
fn delay_until_next_interval(state: &LoopState, when: Instant) -> Duration {
    let interval = duration_nanos(state.interval);
    if interval == 0 {
        return Duration::ZERO;
    }
    let running_for = duration_nanos(when.saturating_duration_since(state.start));
    Duration::from_nanos(interval - running_for % interval)
}

/// How many whole intervals lie between the last run (or the start) and `now`.
fn intervals_since_last(state: &LoopState, now: Instant) -> u64 {
    let interval = duration_nanos(state.interval);
    if interval == 0 {
        return 1;
    }
    let index_of = |t: Instant| duration_nanos(t.saturating_duration_since(state.start)) / interval;
    match state.last_run {
        Some(last) => index_of(now) - index_of(last),
        None if state.run_at_start => index_of(now) + 1,
        None => index_of(now),
    }
}

/// A Deferred that fires with `f()` after `delay` on `clock` (Twisted's `deferLater`).
/// Cancelling it cancels the call and fails it with `CancelledError`.
pub fn defer_later<T: 'static>(
    clock: &Clock,
    delay: Duration,
    f: impl FnOnce() -> T + 'static,
) -> Deferred<T> {
    let pending: Rc<RefCell<Option<DelayedCall>>> = Rc::new(RefCell::new(None));
    let cancel_pending = pending.clone();
    let deferred = Deferred::with_canceller(move |_: &Deferred<T>| {
        if let Some(call) = cancel_pending.borrow_mut().take() {
            let _ = call.cancel();
        }
    });
    let firer = deferred.clone();
    let call = clock.call_later(delay, move || {
        let _ = firer.callback(f());
    });
    *pending.borrow_mut() = Some(call);
    deferred
}

impl<T: 'static> Deferred<T> {
    /// Cancels this Deferred if it has not fired within `timeout` on `clock`; the cancellation
    /// then shows as a [`TimeoutError`] (Twisted's `addTimeout`).
    pub fn add_timeout(self, timeout: Duration, clock: &Clock) -> Deferred<T> {
        let target = self.clone();
        let timed_out = Rc::new(std::cell::Cell::new(false));
        let flag = timed_out.clone();
        let call = clock.call_later(timeout, move || {
            flag.set(true);
            target.cancel();
        });
        self.add_both(move |result| {
            let _ = call.cancel();
            match result {
                Err(failure) if timed_out.get() && failure.check::<CancelledError>() => {
                    Err(Failure::new(TimeoutError))
                }
                other => other,
            }
        })
    }
}

//! [`Clock`] and [`FakeClock`]: the only place that reads the operating system's clocks.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use super::timers::{DelayedCall, TimerQueue, duration_nanos, run_slot};

/// Reads the monotonic clock. Every other module receives time as a parameter.
#[allow(clippy::disallowed_methods)]
pub(crate) fn read_monotonic() -> Instant {
    Instant::now()
}

#[allow(clippy::disallowed_methods)]
fn read_wall() -> SystemTime {
    SystemTime::now()
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Kind {
    System,
    Fake,
}

/// The state behind a [`Clock`] handle.
pub(crate) struct ClockInner {
    kind: Kind,
    /// The instant that nanosecond offset 0 stands for.
    origin: Instant,
    /// For a fake clock, the wall time at `origin`.
    wall_origin: SystemTime,
    /// The current time, in nanoseconds since `origin`.
    now: Cell<u64>,
    pub(crate) timers: RefCell<TimerQueue>,
}

impl ClockInner {
    /// The due time of a call made `delay` from now.
    pub(crate) fn deadline_after(&self, delay: Duration) -> u64 {
        self.now.get().saturating_add(duration_nanos(delay))
    }

    fn instant_of(&self, nanos: u64) -> Instant {
        self.origin + Duration::from_nanos(nanos)
    }

    fn nanos_of(&self, when: Instant) -> u64 {
        duration_nanos(when.saturating_duration_since(self.origin))
    }
}

/// Tells the time and schedules calls (Twisted's `IReactorTime`).
///
/// A `Clock` is a cheap handle (`Clone`, not `Send`): every clone shares the same time and the
/// same pending calls. Get the reactor's with [`Reactor::clock`](crate::reactor::Reactor::clock),
/// or make a deterministic one with [`FakeClock::new`].
///
/// The time a system clock reports is the time of the reactor's current turn (the reactor reads
/// the OS clock as each turn starts and after each poll); `call_later` delays count from the
/// moment of the call.
#[derive(Clone)]
pub struct Clock {
    inner: Rc<ClockInner>,
}

impl Clock {
    /// A clock that follows the operating system's monotonic clock.
    pub fn system() -> Self {
        let origin = read_monotonic();
        Self::with(Kind::System, origin, read_wall())
    }

    fn with(kind: Kind, origin: Instant, wall_origin: SystemTime) -> Self {
        Self {
            inner: Rc::new(ClockInner {
                kind,
                origin,
                wall_origin,
                now: Cell::new(0),
                timers: RefCell::new(TimerQueue::new()),
            }),
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.inner.instant_of(self.inner.now.get())
    }

    /// The current wall-clock time (for Date headers and logs, never for scheduling).
    pub fn wall_time(&self) -> SystemTime {
        match self.inner.kind {
            Kind::System => read_wall(),
            Kind::Fake => self.inner.wall_origin + Duration::from_nanos(self.inner.now.get()),
        }
    }

    /// Schedules `f` to run once, `delay` from now (Twisted's `callLater`).
    ///
    /// On a system clock the delay counts from the OS clock's reading at this call, so work done
    /// before the reactor runs (importing an application, say) does not make calls fire early.
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        self.refresh();
        let at = self.inner.deadline_after(delay);
        self.schedule_at(at, f)
    }

    /// Schedules `f` to run once at `when`, or as soon as possible if `when` has passed.
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> DelayedCall {
        let at = self.inner.nanos_of(when);
        self.schedule_at(at, f)
    }

    fn schedule_at(&self, at: u64, f: impl FnOnce() + 'static) -> DelayedCall {
        let slot = self.inner.timers.borrow_mut().schedule(at, f);
        DelayedCall::new(slot, Rc::downgrade(&self.inner), self.inner.origin)
    }

    /// The calls still pending, earliest first (Twisted's `getDelayedCalls`).
    pub fn delayed_calls(&self) -> Vec<DelayedCall> {
        let slots = self.inner.timers.borrow().pending();
        let clock = Rc::downgrade(&self.inner);
        slots
            .into_iter()
            .map(|slot| DelayedCall::new(slot, clock.clone(), self.inner.origin))
            .collect()
    }

    /// How many calls are pending.
    pub fn pending_count(&self) -> usize {
        self.inner.timers.borrow().len()
    }

    /// When the earliest pending call is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        let next = self.inner.timers.borrow_mut().next_due();
        next.map(|at| self.inner.instant_of(at))
    }

    /// Whether this is a [`FakeClock`]'s clock, which moves only when advanced.
    pub fn is_fake(&self) -> bool {
        self.inner.kind == Kind::Fake
    }

    /// Moves a system clock to the OS clock's current reading; a fake clock does not move.
    pub(crate) fn refresh(&self) -> Instant {
        if self.inner.kind == Kind::System {
            let nanos = self.inner.nanos_of(read_monotonic());
            self.inner.now.set(nanos.max(self.inner.now.get()));
        }
        self.now()
    }

    /// Runs the calls due now that were scheduled before this call started (one reactor turn).
    ///
    /// `on_panic` receives the payload of any call that panicked; the remaining calls still run.
    pub(crate) fn run_due_turn(&self, on_panic: &dyn Fn(Box<dyn std::any::Any + Send>)) -> usize {
        let limit = self.inner.timers.borrow().next_seq();
        let now = self.inner.now.get();
        let mut ran = 0;
        loop {
            let due = self.inner.timers.borrow_mut().pop_due(now, limit);
            let Some(slot) = due else { break };
            ran += 1;
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_slot(&slot)));
            if let Err(payload) = outcome {
                on_panic(payload);
            }
        }
        ran
    }

    /// Number of timer heap entries, live or stale (for memory tests).
    #[doc(hidden)]
    pub fn timer_heap_len(&self) -> usize {
        self.inner.timers.borrow().heap_len()
    }

    fn advance_to(&self, target: u64) {
        self.inner.now.set(target);
        loop {
            let due = self.inner.timers.borrow_mut().pop_due(target, u64::MAX);
            let Some(slot) = due else { break };
            run_slot(&slot);
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("kind", &self.inner.kind)
            .field("now_nanos", &self.inner.now.get())
            .field("pending", &self.pending_count())
            .finish()
    }
}

/// A deterministic clock for tests: time stands still until [`advance`](Self::advance) moves it
/// (Twisted's `task.Clock`).
///
/// `FakeClock` dereferences to [`Clock`], so code under test takes `&Clock` and the test drives
/// it:
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use torsion::time::FakeClock;
///
/// let clock = FakeClock::new();
/// let fired = Rc::new(Cell::new(false));
/// let flag = fired.clone();
/// clock.call_later(Duration::from_secs(5), move || flag.set(true));
/// clock.advance(Duration::from_secs(4));
/// assert!(!fired.get());
/// clock.advance(Duration::from_secs(1));
/// assert!(fired.get());
/// ```
///
/// Its wall time starts at the Unix epoch unless [`starting_at`](Self::starting_at) says
/// otherwise. A [`Reactor`](crate::reactor::Reactor) built with
/// [`with_clock`](crate::reactor::Reactor::with_clock) uses a fake clock for all of its timers,
/// so whole servers can be tested with real sockets and fake time.
///
/// Panics raised by calls run from `advance` propagate to the caller, as exceptions do from
/// Twisted's `Clock.advance`.
#[derive(Clone, Debug)]
pub struct FakeClock {
    clock: Clock,
}

impl FakeClock {
    /// A fake clock whose wall time starts at the Unix epoch.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::UNIX_EPOCH)
    }

    /// A fake clock whose wall time starts at `wall`.
    pub fn starting_at(wall: SystemTime) -> Self {
        Self {
            clock: Clock::with(Kind::Fake, read_monotonic(), wall),
        }
    }

    /// Moves time forward by `amount` and runs every call that comes due, in order, including
    /// calls that those calls schedule within the new time.
    pub fn advance(&self, amount: Duration) {
        let target = self.clock.inner.deadline_after(amount);
        self.clock.advance_to(target);
    }

    /// Advances by each amount in turn (Twisted's `Clock.pump`).
    pub fn pump(&self, amounts: &[Duration]) {
        for amount in amounts {
            self.advance(*amount);
        }
    }

    /// The [`Clock`] handle to give to the code under test.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for FakeClock {
    type Target = Clock;

    fn deref(&self) -> &Clock {
        &self.clock
    }
}

//! The reactor: a single-threaded event loop on mio (epoll on Linux, kqueue on the BSDs).
//!
//! One turn of the loop, as [`Reactor::iterate`] runs it:
//!
//! 1. read the clock once; every call made during the turn sees that instant;
//! 2. run the calls queued from other threads ([`ReactorHandle::call_from_thread`]) and the
//!    messages of [`ThreadSender`]s, as they stood when the turn began;
//! 3. run the delayed calls that are due (calls scheduled during this step wait for the next
//!    turn);
//! 4. poll the local `async` tasks that were woken;
//! 5. flush the transports that were written to;
//! 6. wait for I/O: not at all if work is already waiting, otherwise until the next delayed call
//!    is due (rounded up to the millisecond, so a sub-millisecond wait never becomes a busy loop)
//!    or the caller's limit;
//! 7. read the clock again and dispatch the I/O events, then flush again.
//!
//! Fairness: a listener accepts at most [`ACCEPTS_PER_TURN`] connections and a connection reads
//! at most [`READS_PER_TURN`] times per turn; a source cut short is carried over to the next turn
//! without waiting for the poller, so one busy peer cannot starve the others.
//!
//! Re-entrancy: the reactor never holds a borrow of its own state while it runs user code, so
//! callbacks may schedule calls, write, close connections, register sources or stop the reactor.
//!
//! Tested by: reactor_tests/reactor.rs, reactor_tests/time.rs, reactor_tests/threads.rs,
//! reactor_tests/events.rs, reactor_tests/signals.rs
mod blocking;
mod events;
mod signals;
mod tasks;
mod threads;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::defer::Deferred;
use crate::log;
use crate::time::{Clock, DelayedCall, FakeClock};

pub use blocking::ThreadPanicked;
pub use events::{Phase, TriggerId, TriggerResult};
pub use signals::Signal;
pub use threads::{ReactorHandle, ThreadSender};

/// Connections a listener accepts per turn before yielding to other sources.
pub const ACCEPTS_PER_TURN: usize = 64;
/// Reads a connection makes per turn before yielding to other sources.
pub const READS_PER_TURN: usize = 4;
/// Size of the buffer every connection reads into.
pub const READ_BUFFER_SIZE: usize = 64 * 1024;

/// How many times one flush step goes round transports that were written to again.
const FLUSH_ROUNDS: usize = 16;
const WAKER_TOKEN: Token = Token(usize::MAX);
const SIGNAL_TOKEN_BASE: usize = usize::MAX - 16;
/// The longest the reactor sleeps in one poll (Twisted caps at about 24 days; so do we).
const MAX_POLL_WAIT: Duration = Duration::from_secs(2_147_483);

/// Readiness reported for a registered source.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Readiness {
    /// The source can be read (or accepted from) without blocking, or has reached end of file.
    pub readable: bool,
    /// The source can be written without blocking.
    pub writable: bool,
    /// The peer will send nothing more (it shut its sending side or closed): after the data
    /// still queued, a read sees end of file.
    pub read_closed: bool,
    /// The peer closed or the source failed; the next read or write reports how.
    pub closed: bool,
}

/// Something registered with the reactor that reacts to readiness.
///
/// The reactor calls [`ready`](Self::ready) with the readiness it saw. Sources are registered
/// edge-triggered: a handler must read or write until the operation would block, or call
/// [`Reactor::carry_over`] to be called again next turn without a new event.
pub trait IoHandler {
    /// The source is ready for what `readiness` says.
    fn ready(&self, reactor: &Reactor, readiness: Readiness);

    /// The reactor is shutting down (its "during shutdown" phase): close the source.
    fn reactor_shutdown(&self, _reactor: &Reactor) {}
}

impl Readiness {
    /// Readable only: what a source carried over to read again next turn reports.
    pub const READABLE: Self = Self {
        readable: true,
        writable: false,
        closed: false,
        read_closed: false,
    };
}

/// A key identifying a registered source.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct SourceKey(usize);

/// What a reactor is doing.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum RunState {
    /// Not yet run.
    Idle,
    /// Firing the startup event.
    Starting,
    /// Running: the startup event has completed.
    Running,
    /// Firing the shutdown event.
    Stopping,
    /// `run` has returned; a reactor cannot be run twice.
    Stopped,
}

/// Why the reactor refused a request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ReactorError {
    /// `run` was called while the reactor runs (Twisted's `ReactorAlreadyRunning`).
    AlreadyRunning,
    /// `run` was called after the reactor had stopped (Twisted's `ReactorNotRestartable`).
    NotRestartable,
    /// `stop` was called while the reactor was not running (Twisted's `ReactorNotRunning`).
    NotRunning,
}

impl fmt::Display for ReactorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AlreadyRunning => "the reactor is already running",
            Self::NotRestartable => "the reactor has stopped and cannot be run again",
            Self::NotRunning => "the reactor is not running",
        })
    }
}

impl std::error::Error for ReactorError {}

/// Options for building a [`Reactor`].
#[derive(Debug)]
pub struct Builder {
    clock: Option<Clock>,
    install_signal_handlers: bool,
    events_capacity: usize,
}

impl Builder {
    /// Use `clock` for every delayed call (for example a [`FakeClock`]'s).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Whether `run` installs handlers for SIGINT and SIGTERM (orderly shutdown) and for the
    /// signals hooked with [`Reactor::on_signal`]. On by default; tools that embed the reactor
    /// and handle signals themselves turn it off.
    pub fn install_signal_handlers(mut self, install: bool) -> Self {
        self.install_signal_handlers = install;
        self
    }

    /// How many readiness events one poll can return (default 1024).
    pub fn events_capacity(mut self, capacity: usize) -> Self {
        self.events_capacity = capacity.max(1);
        self
    }

    /// Builds the reactor.
    pub fn build(self) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let shared = Arc::new(threads::Shared::new(mio::Waker::new(
            poll.registry(),
            WAKER_TOKEN,
        )?));
        let inner = Rc::new_cyclic(|weak| ReactorInner {
            weak: weak.clone(),
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(self.events_capacity)),
            sources: RefCell::new(Slab::new()),
            carried: RefCell::new(Vec::new()),
            dispatching: RefCell::new(Vec::new()),
            flushes: RefCell::new(Vec::new()),
            flushing: RefCell::new(Vec::new()),
            step_ends: RefCell::new(Vec::new()),
            clock: self.clock.unwrap_or_else(Clock::system),
            shared,
            channels: RefCell::new(Vec::new()),
            state: Cell::new(RunState::Idle),
            stop_requested: Cell::new(false),
            crash_requested: Cell::new(false),
            events_registry: RefCell::new(events::SystemEvents::new()),
            install_signal_handlers: self.install_signal_handlers,
            signals: RefCell::new(signals::Signals::new()),
            tasks: tasks::Tasks::new(),
            thread_jobs: blocking::ThreadJobs::new(),
            read_buffer: RefCell::new(vec![0; READ_BUFFER_SIZE]),
        });
        Ok(Reactor { inner })
    }
}

/// The state behind a [`Reactor`] handle.
pub(crate) struct ReactorInner {
    weak: Weak<ReactorInner>,
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    sources: RefCell<Slab<Rc<dyn IoHandler>>>,
    /// Sources to dispatch next turn without a new event, with the readiness they keep.
    carried: RefCell<Vec<(usize, Readiness)>>,
    /// Scratch list of this turn's dispatches (kept to reuse its allocation).
    dispatching: RefCell<Vec<(usize, Readiness)>>,
    /// Transports written to since their last flush.
    flushes: RefCell<Vec<Rc<dyn Flush>>>,
    /// Scratch list of the transports being flushed (kept to reuse its allocation).
    flushing: RefCell<Vec<Rc<dyn Flush>>>,
    /// Batches to hand on once this step of the turn has dispatched all its events.
    step_ends: RefCell<Vec<Rc<dyn Flush>>>,
    clock: Clock,
    shared: Arc<threads::Shared>,
    channels: RefCell<Vec<Rc<dyn threads::Drain>>>,
    state: Cell<RunState>,
    stop_requested: Cell<bool>,
    crash_requested: Cell<bool>,
    events_registry: RefCell<events::SystemEvents>,
    install_signal_handlers: bool,
    signals: RefCell<signals::Signals>,
    tasks: tasks::Tasks,
    thread_jobs: blocking::ThreadJobs,
    read_buffer: RefCell<Vec<u8>>,
}

/// A transport with buffered output, flushed by the reactor after user code has run.
pub(crate) trait Flush {
    /// Writes what can be written now and completes a pending close.
    fn flush(&self, reactor: &Reactor);
}

/// The event loop (Twisted's reactor). A cheap handle: clones share one loop. Not `Send`; other
/// threads reach it through [`Reactor::handle`].
#[derive(Clone)]
pub struct Reactor {
    inner: Rc<ReactorInner>,
}

impl Reactor {
    /// A reactor on the system clock.
    pub fn new() -> io::Result<Self> {
        Self::builder().build()
    }

    /// A reactor whose delayed calls follow `clock`; time moves only when the test advances it.
    pub fn with_clock(clock: &FakeClock) -> io::Result<Self> {
        Self::builder().clock(clock.clock()).build()
    }

    /// Options for building a reactor.
    pub fn builder() -> Builder {
        Builder {
            clock: None,
            install_signal_handlers: true,
            events_capacity: 1024,
        }
    }

    /// Runs the loop: fires the startup event, turns until [`stop`](Self::stop) is called, fires
    /// the shutdown event (turning on while its "before" triggers are pending) and returns.
    pub fn run(&self) -> Result<(), ReactorError> {
        match self.inner.state.get() {
            RunState::Idle => {}
            RunState::Stopped => return Err(ReactorError::NotRestartable),
            _ => return Err(ReactorError::AlreadyRunning),
        }
        self.inner.clock.refresh();
        self.inner.state.set(RunState::Starting);
        self.fire_system_event("startup");
        while !self.inner.crash_requested.get() {
            if let Err(error) = self.iterate(None) {
                log::error(format_args!("reactor poll failed: {error}"));
                break;
            }
            self.begin_shutdown_if_requested();
        }
        self.inner.signals.borrow_mut().uninstall();
        self.inner.state.set(RunState::Stopped);
        Ok(())
    }

    /// Asks the loop to stop: at the end of the current turn the shutdown event fires, and
    /// `run` returns once its triggers have completed.
    pub fn stop(&self) -> Result<(), ReactorError> {
        match self.inner.state.get() {
            RunState::Starting | RunState::Running if !self.inner.stop_requested.get() => {
                self.inner.stop_requested.set(true);
                self.inner.shared.wake();
                Ok(())
            }
            _ => Err(ReactorError::NotRunning),
        }
    }

    /// Stops the loop at the end of the current turn without firing the shutdown event
    /// (Twisted's `crash`).
    pub fn crash(&self) {
        self.inner.crash_requested.set(true);
        self.inner.shared.wake();
    }

    /// What the reactor is doing.
    pub fn state(&self) -> RunState {
        self.inner.state.get()
    }

    /// Whether the reactor is running (its startup event has completed and it is not stopping).
    pub fn running(&self) -> bool {
        self.inner.state.get() == RunState::Running
    }

    /// Runs one turn of the loop, waiting at most `timeout` for I/O (`None`: until the next
    /// delayed call, or indefinitely). For tests and for embedding the loop in another one.
    pub fn iterate(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.clock.refresh();
        self.run_thread_calls();
        self.run_due_calls();
        self.inner.tasks.run_ready(self);
        self.run_step_ends();
        self.flush_transports();
        let wait = self.poll_wait(timeout);
        self.poll_io(wait)?;
        self.inner.clock.refresh();
        self.dispatch_io();
        self.run_step_ends();
        self.flush_transports();
        Ok(())
    }

    /// The reactor's clock: tells the time and schedules delayed calls.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Schedules `f` to run `delay` from now (Twisted's `callLater`).
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        self.inner.clock.call_later(delay, f)
    }

    /// The time of the current turn.
    pub fn now(&self) -> Instant {
        self.inner.clock.now()
    }

    /// A `Send + Clone` handle through which other threads reach this reactor.
    pub fn handle(&self) -> ReactorHandle {
        ReactorHandle::new(self.inner.shared.clone())
    }

    /// A typed channel from other threads: every value sent is passed to `handler` on the
    /// reactor thread, in order, early in the next turn. Many values sent together cost one
    /// wakeup.
    pub fn thread_channel<T: Send + 'static>(
        &self,
        handler: impl FnMut(T) + 'static,
    ) -> ThreadSender<T> {
        let (sender, drain) = threads::channel(self.inner.shared.clone(), handler);
        self.inner.channels.borrow_mut().push(drain);
        sender
    }

    /// Registers `source` for `interest`, edge-triggered; `handler` is called on readiness.
    pub fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: Interest,
        handler: Rc<dyn IoHandler>,
    ) -> io::Result<SourceKey> {
        let key = self.inner.sources.borrow_mut().insert(handler);
        let registered = self
            .inner
            .poll
            .borrow()
            .registry()
            .register(source, Token(key), interest);
        if let Err(error) = registered {
            self.inner.sources.borrow_mut().remove(key);
            return Err(error);
        }
        Ok(SourceKey(key))
    }

    /// Changes the interest of a registered source.
    pub fn reregister(
        &self,
        source: &mut impl mio::event::Source,
        key: SourceKey,
        interest: Interest,
    ) -> io::Result<()> {
        let poll = self.inner.poll.borrow();
        poll.registry().reregister(source, Token(key.0), interest)
    }

    /// Removes a registered source; its handler is dropped once no event refers to it.
    pub fn deregister(
        &self,
        source: &mut impl mio::event::Source,
        key: SourceKey,
    ) -> io::Result<()> {
        let removed = self.inner.sources.borrow_mut().try_remove(key.0);
        drop(removed);
        let poll = self.inner.poll.borrow();
        poll.registry().deregister(source)
    }

    /// Has the source dispatched again next turn with `readiness`, without waiting for an event
    /// (for handlers that stopped early to be fair, or that resume after a pause).
    pub fn carry_over(&self, key: SourceKey, readiness: Readiness) {
        self.inner.carried.borrow_mut().push((key.0, readiness));
        self.inner.shared.wake();
    }

    /// How many sources are registered (listeners, connections and the like).
    pub fn source_count(&self) -> usize {
        self.inner.sources.borrow().len()
    }

    /// Adds a trigger for `event` ("startup", "shutdown" or a name of your own) in `phase`
    /// (Twisted's `addSystemEventTrigger`). A "before" trigger may return a `Deferred<()>`; the
    /// next phase waits for it, while I/O goes on.
    pub fn add_system_event_trigger<R: TriggerResult>(
        &self,
        phase: Phase,
        event: &str,
        trigger: impl FnOnce() -> R + 'static,
    ) -> TriggerId {
        let boxed: events::Trigger = Box::new(move || trigger().into_deferred());
        self.inner
            .events_registry
            .borrow_mut()
            .add(phase, event, boxed)
    }

    /// Removes a trigger that has not run yet; returns whether it was found.
    pub fn remove_system_event_trigger(&self, id: TriggerId) -> bool {
        self.inner.events_registry.borrow_mut().remove(id)
    }

    /// Fires `event`: its "before" triggers, then (once their Deferreds have fired) its "during"
    /// and "after" triggers. Each trigger runs once.
    pub fn fire_system_event(&self, event: &str) {
        events::fire(self, event);
    }

    /// Runs `f` once the reactor is running: now if it already is, otherwise as an
    /// "after startup" trigger (Twisted's `callWhenRunning`).
    pub fn call_when_running(&self, f: impl FnOnce() + 'static) -> Option<TriggerId> {
        if self.running() {
            f();
            return None;
        }
        Some(self.add_system_event_trigger(Phase::After, "startup", f))
    }

    /// Calls `hook` on the reactor thread each time the process receives `signal` while the
    /// reactor runs with signal handlers installed.
    pub fn on_signal(&self, signal: Signal, hook: impl FnMut() + 'static) -> io::Result<()> {
        signals::add_hook(self, signal, Box::new(hook))
    }

    /// Runs `future` on the reactor thread as a local task; the returned Deferred fires with its
    /// output (Twisted's `ensureDeferred`). Tasks are polled in the turn after they are woken.
    pub fn spawn_local<T: 'static>(
        &self,
        future: impl std::future::Future<Output = T> + 'static,
    ) -> Deferred<T> {
        self.inner.tasks.spawn(&self.inner.shared, future)
    }

    /// Asks for `transport` to be flushed at the end of the current step of the turn.
    pub(crate) fn schedule_flush(&self, transport: Rc<dyn Flush>) {
        self.inner.flushes.borrow_mut().push(transport);
    }

    /// Asks for `batch` to be flushed once the current step of the turn (the thread calls and
    /// timers, or the I/O dispatch) has run for every source, before transports are flushed:
    /// work gathered from many connections is handed on together (one wakeup of a worker
    /// pool for all the requests read in a turn).
    pub(crate) fn schedule_step_end(&self, batch: Rc<dyn Flush>) {
        self.inner.step_ends.borrow_mut().push(batch);
    }

    fn run_step_ends(&self) {
        for _ in 0..FLUSH_ROUNDS {
            let pending = std::mem::take(&mut *self.inner.step_ends.borrow_mut());
            if pending.is_empty() {
                return;
            }
            for batch in pending {
                self.guard("end of step", || batch.flush(self));
            }
        }
    }

    /// Lends the shared read buffer to `f` (connections read into it one at a time).
    pub(crate) fn with_read_buffer<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut buffer = std::mem::take(&mut *self.inner.read_buffer.borrow_mut());
        if buffer.len() < READ_BUFFER_SIZE {
            buffer.resize(READ_BUFFER_SIZE, 0);
        }
        let result = f(&mut buffer);
        *self.inner.read_buffer.borrow_mut() = buffer;
        result
    }

    pub(crate) fn thread_jobs(&self) -> &blocking::ThreadJobs {
        &self.inner.thread_jobs
    }

    pub(crate) fn from_inner(inner: Rc<ReactorInner>) -> Self {
        Self { inner }
    }

    pub(crate) fn downgrade(&self) -> Weak<ReactorInner> {
        self.inner.weak.clone()
    }

    pub(crate) fn set_state(&self, state: RunState) {
        self.inner.state.set(state);
    }

    pub(crate) fn events_registry(&self) -> &RefCell<events::SystemEvents> {
        &self.inner.events_registry
    }

    pub(crate) fn signals(&self) -> &RefCell<signals::Signals> {
        &self.inner.signals
    }

    pub(crate) fn signal_handlers_wanted(&self) -> bool {
        self.inner.install_signal_handlers
    }

    pub(crate) fn registry_register(
        &self,
        source: &mut impl mio::event::Source,
        token: usize,
    ) -> io::Result<()> {
        let poll = self.inner.poll.borrow();
        poll.registry()
            .register(source, Token(token), Interest::READABLE)
    }

    fn run_thread_calls(&self) {
        self.inner.shared.clear_notified();
        for call in self.inner.shared.take_calls() {
            self.guard("call from thread", || call(self));
        }
        let channels = self.inner.channels.borrow().clone();
        for channel in channels {
            self.guard("thread channel handler", || channel.drain());
        }
    }

    fn run_due_calls(&self) {
        self.inner.clock.run_due_turn(&|payload| {
            log::error(format_args!(
                "Unhandled panic in delayed call: {}",
                log::panic_message(&*payload)
            ));
        });
    }

    /// Runs `f`, logging (instead of propagating) a panic, so one failing callback cannot take
    /// the whole loop down.
    pub(crate) fn guard(&self, what: &str, f: impl FnOnce()) {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            log::error(format_args!(
                "Unhandled panic in {what}: {}",
                log::panic_message(&*payload)
            ));
        }
    }

    /// Flushes the transports written to. Flushing can resume producers that write again, so
    /// this goes round a bounded number of times; what is left waits for the next turn.
    fn flush_transports(&self) {
        for _ in 0..FLUSH_ROUNDS {
            if self.inner.flushes.borrow().is_empty() {
                return;
            }
            // Swap the queue with the (empty) scratch list, so that neither allocates per flush;
            // a nested flush finds the scratch list taken and simply uses a new one.
            let mut pending = std::mem::take(&mut *self.inner.flushing.borrow_mut());
            std::mem::swap(&mut pending, &mut *self.inner.flushes.borrow_mut());
            for transport in pending.drain(..) {
                self.guard("transport flush", || transport.flush(self));
            }
            *self.inner.flushing.borrow_mut() = pending;
        }
    }

    fn poll_wait(&self, limit: Option<Duration>) -> Option<Duration> {
        let busy = self.inner.crash_requested.get()
            || self.inner.stop_requested.get() && self.inner.state.get() == RunState::Running
            || !self.inner.carried.borrow().is_empty()
            || !self.inner.flushes.borrow().is_empty()
            || !self.inner.step_ends.borrow().is_empty()
            || self.inner.shared.has_pending()
            || self.inner.tasks.has_ready();
        if busy {
            return Some(Duration::ZERO);
        }
        let until_timer = self.inner.clock.next_deadline().map(|deadline| {
            let now = self.inner.clock.now();
            if self.inner.clock.is_fake() && deadline > now {
                MAX_POLL_WAIT
            } else {
                round_up_to_millis(deadline.saturating_duration_since(now))
            }
        });
        let wait = match (until_timer, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Some(wait.unwrap_or(MAX_POLL_WAIT).min(MAX_POLL_WAIT))
    }

    fn poll_io(&self, wait: Option<Duration>) -> io::Result<()> {
        let mut events = self.inner.events.borrow_mut();
        let polled = self.inner.poll.borrow_mut().poll(&mut events, wait);
        match polled {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
        let mut dispatching = self.inner.dispatching.borrow_mut();
        dispatching.clear();
        dispatching.append(&mut self.inner.carried.borrow_mut());
        for event in events.iter() {
            let readiness = Readiness {
                readable: event.is_readable() || event.is_read_closed(),
                writable: event.is_writable() || event.is_write_closed(),
                read_closed: event.is_read_closed(),
                closed: event.is_error() || event.is_read_closed() && event.is_write_closed(),
            };
            dispatching.push((event.token().0, readiness));
        }
        Ok(())
    }

    fn dispatch_io(&self) {
        let mut batch = std::mem::take(&mut *self.inner.dispatching.borrow_mut());
        for (token, readiness) in batch.drain(..) {
            self.dispatch_one(token, readiness);
        }
        *self.inner.dispatching.borrow_mut() = batch;
    }

    fn dispatch_one(&self, token: usize, readiness: Readiness) {
        if token == WAKER_TOKEN.0 {
            return;
        }
        if token >= SIGNAL_TOKEN_BASE {
            signals::dispatch(self, token - SIGNAL_TOKEN_BASE);
            return;
        }
        let handler = self.inner.sources.borrow().get(token).cloned();
        if let Some(handler) = handler {
            self.guard("I/O handler", || handler.ready(self, readiness));
            self.flush_transports();
        }
    }

    fn begin_shutdown_if_requested(&self) {
        if self.inner.stop_requested.get() && self.inner.state.get() == RunState::Running {
            self.inner.state.set(RunState::Stopping);
            self.fire_system_event("shutdown");
        }
    }

    /// The built-in "during shutdown" step: close every source, then end the loop.
    pub(crate) fn disconnect_all(&self) {
        let handlers: Vec<Rc<dyn IoHandler>> = self
            .inner
            .sources
            .borrow()
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for handler in handlers {
            self.guard("shutdown of a source", || handler.reactor_shutdown(self));
        }
    }

    /// Ends the loop after the current turn (the last step of the shutdown event).
    pub(crate) fn finish_shutdown(&self) {
        self.inner.crash_requested.set(true);
    }

    pub(crate) fn signal_token(index: usize) -> usize {
        SIGNAL_TOKEN_BASE + index
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("state", &self.inner.state.get())
            .field("sources", &self.inner.sources.borrow().len())
            .field("clock", &self.inner.clock)
            .finish()
    }
}

/// Rounds a wait up to whole milliseconds, the poller's resolution, so that a timer a fraction
/// of a millisecond away does not make the loop spin.
fn round_up_to_millis(wait: Duration) -> Duration {
    let millis = wait.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wait shorter than a millisecond becomes one millisecond, never zero.
    #[test]
    fn sub_millisecond_waits_round_up() {
        assert_eq!(
            round_up_to_millis(Duration::from_micros(300)),
            Duration::from_millis(1)
        );
        assert_eq!(
            round_up_to_millis(Duration::from_nanos(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            round_up_to_millis(Duration::from_micros(1_001)),
            Duration::from_millis(2)
        );
        assert_eq!(round_up_to_millis(Duration::ZERO), Duration::ZERO);
        assert_eq!(
            round_up_to_millis(Duration::from_millis(7)),
            Duration::from_millis(7)
        );
    }
}

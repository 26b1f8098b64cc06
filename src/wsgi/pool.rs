//! The worker pool: threads that each attach to the interpreter once, release the GIL while
//! they wait for work, and run one request at a time.
//!
//! Wakeups are rationed: a submit wakes a worker only when none is awake, and a worker that
//! finishes a request takes the next one without parking or releasing the GIL, so one worker
//! runs a busy stream of short requests without a thread switch per request. Each worker parks
//! on its own condition variable and the most recently parked one is woken first, so the
//! worker whose objects are warm in the cache takes the next batch. So that a slow or blocking
//! application cannot starve the queue, one parked worker (the watcher) wakes every [`STALL`]
//! while the pool is busy and takes a request if none was taken meanwhile. The watcher keeps
//! its post from batch to batch: one is recruited only when the pool turns busy without one,
//! and it steps down after a whole period with nothing running.
//!
//! Threads are created by [`WorkerPool::start`] only, so a process may fork (daemonise) before
//! any exist. [`WorkerPool::shutdown`] cancels queued requests, releases workers blocked on
//! back-pressure (as if their clients had gone: iteration stops and `close()` is called), and
//! waits a bounded time for them.
//!
//! Tested by: reactor_tests/wsgi.rs
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};
use pyo3::prelude::*;

use super::control::RequestControl;
use super::respond::RequestRunner;
use super::{WsgiApp, WsgiEvent, WsgiRequest};
use crate::log;
use crate::reactor::ThreadSender;

/// How long the queue may go without a request being taken, while a worker runs, before a
/// parked worker steps in: an application that blocks (or is slow) must not starve the queue.
const STALL: Duration = Duration::from_millis(5);

struct Queue {
    requests: VecDeque<WsgiRequest>,
    stopping: bool,
    /// Workers not parked: running a request, about to take one, or called to take one.
    awake: usize,
    /// Parked workers that are not watching, the most recently parked last.
    idle: Vec<usize>,
    /// The parked worker that wakes every [`STALL`], if any (also while it is being called
    /// to the post and has not run yet).
    watcher: Option<usize>,
    /// Why each worker was last woken; read and cleared by the worker itself.
    calls: Vec<Call>,
    /// Requests taken so far: the watcher's measure of progress.
    taken: u64,
}

/// What a parked worker is asked to do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    /// Nothing yet (a wakeup without a call is spurious).
    None,
    /// Take a request (the caller counted the worker as awake).
    Take,
    /// Become the watcher.
    Watch,
}

/// How a watcher's watch ended.
enum Watched {
    /// It takes a request (and counts as awake).
    Take,
    /// The pool was idle a whole period: it parks as an ordinary idle worker.
    StepDown,
    /// The pool is stopping.
    Stop,
}

struct Shared {
    queue: Mutex<Queue>,
    /// One per worker: where it parks.
    bells: Vec<Condvar>,
    /// The control of the request each worker is running.
    running: Vec<Mutex<Option<Arc<RequestControl>>>>,
    /// Workers that have not exited yet.
    alive: Mutex<usize>,
    exited: Condvar,
}

impl Shared {
    /// The next request for worker `index`. Parks when `block` (see the module documentation).
    fn take(&self, index: usize, block: bool) -> Taken {
        let mut queue = self.queue.lock();
        loop {
            if queue.stopping {
                return Taken::Stop;
            }
            if let Some(request) = queue.requests.pop_front() {
                queue.taken += 1;
                if queue.watcher.is_none() {
                    // Someone must watch the queue while this request runs.
                    self.recruit_watcher(&mut queue);
                }
                *self.running[index].lock() = Some(request.control.clone());
                return Taken::Request(request);
            }
            if !block {
                return Taken::Empty;
            }
            queue.awake -= 1;
            if !self.park(&mut queue, index) {
                queue.awake += 1;
                return Taken::Stop;
            }
        }
    }

    /// Wakes a parked worker to take a request, if one is needed: only when none is awake to
    /// take it (one that is awake takes the next request without sleeping; a stalled one is
    /// covered by the watcher). The most recently parked worker is preferred, the watcher
    /// called only when no other is parked.
    fn wake_taker(&self, queue: &mut Queue) {
        if queue.awake > 0 || queue.requests.is_empty() {
            return;
        }
        let Some(worker) = queue.idle.pop().or_else(|| queue.watcher.take()) else {
            return;
        };
        queue.calls[worker] = Call::Take;
        queue.awake += 1;
        self.bells[worker].notify_one();
    }

    /// Calls the parked worker that has waited longest to become the watcher.
    fn recruit_watcher(&self, queue: &mut Queue) {
        if queue.idle.is_empty() {
            return;
        }
        let worker = queue.idle.remove(0);
        queue.calls[worker] = Call::Watch;
        queue.watcher = Some(worker);
        self.bells[worker].notify_one();
    }

    /// Parks worker `index` (already counted as not awake) until it is called to take a
    /// request, watching if others run and nobody watches; false when the pool is stopping.
    fn park(&self, queue: &mut MutexGuard<'_, Queue>, index: usize) -> bool {
        if queue.watcher.is_none() && queue.awake > 0 {
            // Requests run and nobody watches them: this worker does.
            queue.watcher = Some(index);
            queue.calls[index] = Call::Watch;
        } else {
            queue.idle.push(index);
        }
        loop {
            if queue.stopping {
                queue.idle.retain(|worker| *worker != index);
                if queue.watcher == Some(index) {
                    queue.watcher = None;
                }
                return false;
            }
            match std::mem::replace(&mut queue.calls[index], Call::None) {
                Call::Take => return true,
                Call::Watch => match self.watch(queue, index) {
                    Watched::Take => return true,
                    // Cold after a whole idle period: the last to be called to take.
                    Watched::StepDown => queue.idle.insert(0, index),
                    Watched::Stop => return false,
                },
                Call::None => self.bells[index].wait(queue),
            }
        }
    }

    /// Watches as worker `index`: wakes every [`STALL`] and takes a request when none was
    /// taken for a whole period; steps down once the pool has been idle that long.
    fn watch(&self, queue: &mut MutexGuard<'_, Queue>, index: usize) -> Watched {
        let mut seen = queue.taken;
        loop {
            if queue.stopping {
                queue.watcher = None;
                return Watched::Stop;
            }
            if std::mem::replace(&mut queue.calls[index], Call::None) == Call::Take {
                // Called by a submit that found no other parked worker; no longer the watcher.
                return Watched::Take;
            }
            let timed_out = self.bells[index].wait_for(queue, STALL).timed_out();
            if !timed_out || queue.calls[index] != Call::None {
                // Woken, or called just as the period ended: the call comes first.
                continue;
            }
            let stalled = queue.taken == seen;
            if !queue.requests.is_empty() && (stalled || queue.awake == 0) {
                queue.watcher = None;
                queue.awake += 1;
                return Watched::Take;
            }
            if stalled && queue.awake == 0 {
                queue.watcher = None;
                return Watched::StepDown;
            }
            seen = queue.taken;
        }
    }
}

// Moved out at once, never stored: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Taken {
    Request(WsgiRequest),
    Empty,
    Stop,
}

/// Runs requests for one [`WsgiApp`] on a fixed number of threads.
pub struct WorkerPool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    events: ThreadSender<WsgiEvent>,
}

impl WorkerPool {
    /// Starts `threads` workers (at least one) running `app`; their events go to `events`.
    pub fn start(
        app: &WsgiApp,
        threads: usize,
        events: ThreadSender<WsgiEvent>,
    ) -> io::Result<Self> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                requests: VecDeque::new(),
                stopping: false,
                awake: threads,
                idle: Vec::with_capacity(threads),
                watcher: None,
                calls: vec![Call::None; threads],
                taken: 0,
            }),
            bells: (0..threads).map(|_| Condvar::new()).collect(),
            running: (0..threads).map(|_| Mutex::new(None)).collect(),
            alive: Mutex::new(0),
            exited: Condvar::new(),
        });
        let mut pool = Self {
            shared,
            threads: Vec::with_capacity(threads),
            events,
        };
        for index in 0..threads {
            let shared = pool.shared.clone();
            let app = app.clone();
            let events = pool.events.clone();
            *pool.shared.alive.lock() += 1;
            let spawned = std::thread::Builder::new()
                .name(format!("wsgi-{index}"))
                .spawn(move || work(&shared, index, &app, &events));
            match spawned {
                Ok(handle) => pool.threads.push(handle),
                Err(error) => {
                    *pool.shared.alive.lock() -= 1;
                    pool.shutdown(Duration::ZERO);
                    return Err(error);
                }
            }
        }
        Ok(pool)
    }

    /// Queues `request`; gives it back if the pool is shutting down. Wakes a worker only when
    /// none is awake, so the requests submitted in one reactor turn cost one wakeup, and a
    /// worker that finishes a request takes the next without sleeping or releasing the GIL.
    pub fn submit(&self, request: WsgiRequest) -> Result<(), Box<WsgiRequest>> {
        let mut queue = self.shared.queue.lock();
        if queue.stopping {
            return Err(Box::new(request));
        }
        queue.requests.push_back(request);
        self.shared.wake_taker(&mut queue);
        Ok(())
    }

    /// Queues every request of `requests` under one lock, with at most one wakeup (see
    /// [`submit`](Self::submit)); returns the ones refused because the pool is shutting down.
    pub fn submit_all(&self, requests: impl IntoIterator<Item = WsgiRequest>) -> Vec<WsgiRequest> {
        let mut queue = self.shared.queue.lock();
        if queue.stopping {
            return requests.into_iter().collect();
        }
        queue.requests.extend(requests);
        self.shared.wake_taker(&mut queue);
        Vec::new()
    }

    /// Requests waiting for a free worker.
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().requests.len()
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.shared.running.len()
    }

    /// Stops the pool: each queued request is answered with [`WsgiEvent::Failed`], each running
    /// request is treated as disconnected (a worker blocked on back-pressure wakes, stops
    /// iterating and calls `close()`), and the workers are waited for up to `grace`. Returns
    /// how many were still busy in application code after that (they are left to finish on
    /// their own). Idempotent.
    pub fn shutdown(&mut self, grace: Duration) -> usize {
        let cancelled: Vec<WsgiRequest> = {
            let mut queue = self.shared.queue.lock();
            queue.stopping = true;
            queue.requests.drain(..).collect()
        };
        for bell in &self.shared.bells {
            bell.notify_all();
        }
        for request in cancelled {
            let _ = self.events.send(WsgiEvent::Failed {
                id: request.id,
                message: "the server is shutting down".into(),
                traceback: String::new(),
                after_output: false,
            });
        }
        for slot in &self.shared.running {
            if let Some(control) = slot.lock().as_ref() {
                control.disconnect();
            }
        }
        let busy = {
            let mut alive = self.shared.alive.lock();
            self.shared
                .exited
                .wait_while_for(&mut alive, |alive| *alive > 0, grace);
            *alive
        };
        if busy == 0 {
            for handle in self.threads.drain(..) {
                if handle.join().is_err() {
                    log::error(format_args!("a WSGI worker thread panicked"));
                }
            }
        }
        busy
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("threads", &self.threads())
            .field("queued", &self.queued())
            .finish()
    }
}

/// Decrements the live-worker (and awake-worker) count however the worker ends.
struct AliveGuard<'a>(&'a Shared);

impl Drop for AliveGuard<'_> {
    fn drop(&mut self) {
        {
            let mut queue = self.0.queue.lock();
            queue.awake = queue.awake.saturating_sub(1);
        }
        *self.0.alive.lock() -= 1;
        self.0.exited.notify_all();
    }
}

/// One worker's life: attached to the interpreter throughout, detached while waiting.
fn work(shared: &Shared, index: usize, app: &WsgiApp, events: &ThreadSender<WsgiEvent>) {
    let _alive = AliveGuard(shared);
    Python::attach(|py| {
        let mut runner = match RequestRunner::new(py) {
            Ok(runner) => runner,
            Err(error) => {
                log::error(format_args!("a WSGI worker could not start: {error}"));
                return;
            }
        };
        let app = app.callable(py);
        loop {
            let request = match shared.take(index, false) {
                Taken::Request(request) => request,
                Taken::Stop => break,
                Taken::Empty => match py.detach(|| shared.take(index, true)) {
                    Taken::Request(request) => request,
                    Taken::Empty | Taken::Stop => break,
                },
            };
            let id = request.id;
            let ran = catch_unwind(AssertUnwindSafe(|| {
                runner.run(py, app, request, events);
            }));
            if let Err(panic) = ran {
                let message = log::panic_message(panic.as_ref()).to_owned();
                let _ = events.send(WsgiEvent::Failed {
                    id,
                    message: format!("internal error in the WSGI bridge: {message}"),
                    traceback: String::new(),
                    after_output: true,
                });
            }
            *shared.running[index].lock() = None;
        }
    });
}

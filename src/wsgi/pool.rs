//! The worker pool: threads that each attach to the interpreter once, release the GIL while
//! they wait for work, and run one request at a time.
//!
//! Wakeups are rationed: a submit wakes a worker only when none is awake, and a worker that
//! finishes a request takes the next one without parking or releasing the GIL, so one worker
//! runs a busy stream of short requests without a thread switch per request. So that a slow or
//! blocking application cannot starve the queue, one parked worker (the watcher) wakes every
//! [`STALL`] while others are busy and takes a request if none was taken meanwhile; a worker
//! that takes a request when nobody watches wakes a parked one to watch.
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
    /// Workers not parked: running a request or about to take one.
    awake: usize,
    /// Workers woken by a submit that have not yet run.
    woken: usize,
    /// Whether a parked worker is waking every [`STALL`] to check that the queue moves.
    watching: bool,
    /// Whether a parked worker was woken to become the watcher and has not yet woken.
    recruiting: bool,
    /// Requests taken so far: the watcher's measure of progress.
    taken: u64,
}

impl Queue {
    /// Whether a submit must wake a parked worker: only when none is awake to take the request
    /// (one that is awake takes the next request without sleeping; a stalled one is covered by
    /// the watcher).
    fn needs_wakeup(&self) -> bool {
        self.awake + self.woken == 0
    }
}

/// Why a parked worker runs again.
enum Woke {
    /// To take a request.
    Take,
    /// To look again (the pool may be stopping, or the worker is to watch).
    Look,
}

struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
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
        let mut may_take = true;
        loop {
            if queue.stopping {
                return Taken::Stop;
            }
            if may_take {
                if let Some(request) = queue.requests.pop_front() {
                    queue.taken += 1;
                    if !queue.watching && !queue.recruiting {
                        // Someone must watch the queue while this request runs.
                        queue.recruiting = self.work.notify_one();
                    }
                    *self.running[index].lock() = Some(request.control.clone());
                    return Taken::Request(request);
                }
            }
            if !block {
                return Taken::Empty;
            }
            queue.awake -= 1;
            let woke = if queue.watching {
                self.park(&mut queue)
            } else {
                self.watch(&mut queue)
            };
            queue.awake += 1;
            may_take = matches!(woke, Woke::Take);
        }
    }

    /// Parks until a submit or the recruitment of a watcher wakes this worker.
    fn park(&self, queue: &mut MutexGuard<'_, Queue>) -> Woke {
        self.work.wait(queue);
        self.woken_by_notify(queue)
    }

    /// What a wakeup that was not a timeout was for.
    fn woken_by_notify(&self, queue: &mut MutexGuard<'_, Queue>) -> Woke {
        if queue.recruiting {
            queue.recruiting = false;
            Woke::Look
        } else {
            queue.woken = queue.woken.saturating_sub(1);
            Woke::Take
        }
    }

    /// Parks as the watcher: wakes every [`STALL`], and takes a request when none was taken
    /// for a whole period; stops watching (and parks) once the pool has been idle that long.
    fn watch(&self, queue: &mut MutexGuard<'_, Queue>) -> Woke {
        queue.watching = true;
        let mut seen = queue.taken;
        let woke = loop {
            if queue.stopping {
                break Woke::Look;
            }
            if !self.work.wait_for(queue, STALL).timed_out() {
                break self.woken_by_notify(queue);
            }
            let stalled = queue.taken == seen;
            if !queue.requests.is_empty() && (stalled || queue.awake == 0) {
                break Woke::Take;
            }
            if stalled && queue.awake == 0 {
                queue.watching = false;
                return self.park(queue);
            }
            seen = queue.taken;
        };
        queue.watching = false;
        woke
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
                woken: 0,
                watching: false,
                recruiting: false,
                taken: 0,
            }),
            work: Condvar::new(),
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
        if queue.needs_wakeup() && self.shared.work.notify_one() {
            queue.woken += 1;
        }
        Ok(())
    }

    /// Queues every request of `requests` under one lock, with at most one wakeup (see
    /// [`submit`](Self::submit)); returns the ones refused because the pool is shutting down.
    pub fn submit_all(&self, requests: impl IntoIterator<Item = WsgiRequest>) -> Vec<WsgiRequest> {
        let mut queue = self.shared.queue.lock();
        if queue.stopping {
            return requests.into_iter().collect();
        }
        let before = queue.requests.len();
        queue.requests.extend(requests);
        if queue.requests.len() > before && queue.needs_wakeup() && self.shared.work.notify_one() {
            queue.woken += 1;
        }
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
        self.shared.work.notify_all();
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

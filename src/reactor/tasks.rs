//! Local `async` tasks: [`Reactor::spawn_local`] runs a future on the reactor thread and
//! returns a Deferred for its output (Twisted's `ensureDeferred`).
//!
//! A woken task is polled in the reactor's next turn. Wakers are `Send`: waking from another
//! thread queues the task and wakes the reactor's poll. Cancelling the returned Deferred drops
//! the future (and with it whatever it was awaiting) and fails the Deferred with
//! `CancelledError`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use parking_lot::Mutex;
use slab::Slab;

use super::Reactor;
use super::threads::Shared;
use crate::defer::Deferred;

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

struct Task {
    /// `None` while the task is being polled.
    future: Option<LocalFuture>,
    waker: Waker,
}

/// Task ids woken and waiting to be polled.
struct ReadyQueue {
    ids: Mutex<Vec<usize>>,
    shared: Mutex<Option<Arc<Shared>>>,
}

struct TaskWaker {
    id: usize,
    ready: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.ids.lock().push(self.id);
        if let Some(shared) = self.ready.shared.lock().as_ref() {
            shared.wake();
        }
    }
}

/// The reactor's local tasks.
pub(crate) struct Tasks {
    tasks: Rc<RefCell<Slab<Task>>>,
    ready: Arc<ReadyQueue>,
}

impl Tasks {
    pub(crate) fn new() -> Self {
        Self {
            tasks: Rc::new(RefCell::new(Slab::new())),
            ready: Arc::new(ReadyQueue {
                ids: Mutex::new(Vec::new()),
                shared: Mutex::new(None),
            }),
        }
    }

    pub(crate) fn spawn<T: 'static>(
        &self,
        shared: &Arc<Shared>,
        future: impl Future<Output = T> + 'static,
    ) -> Deferred<T> {
        self.ready
            .shared
            .lock()
            .get_or_insert_with(|| shared.clone());
        let slot = Rc::new(RefCell::new(None::<usize>));
        let tasks: Weak<RefCell<Slab<Task>>> = Rc::downgrade(&self.tasks);
        let cancel_slot = slot.clone();
        let deferred = Deferred::with_canceller(move |_: &Deferred<T>| {
            let (Some(tasks), Some(id)) = (tasks.upgrade(), cancel_slot.borrow_mut().take()) else {
                return;
            };
            let removed = tasks.borrow_mut().try_remove(id);
            drop(removed);
        });
        let firer = deferred.clone();
        let done_slot = slot.clone();
        let wrapped = async move {
            let output = future.await;
            done_slot.borrow_mut().take();
            let _ = firer.callback(output);
        };
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let id = entry.key();
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            ready: self.ready.clone(),
        }));
        entry.insert(Task {
            future: Some(Box::pin(wrapped)),
            waker,
        });
        *slot.borrow_mut() = Some(id);
        self.ready.ids.lock().push(id);
        deferred
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.ids.lock().is_empty()
    }

    /// Polls every task woken before this call.
    pub(crate) fn run_ready(&self, reactor: &Reactor) {
        let ids = std::mem::take(&mut *self.ready.ids.lock());
        for id in ids {
            self.poll_task(reactor, id);
        }
    }

    fn poll_task(&self, reactor: &Reactor, id: usize) {
        let taken = {
            let mut tasks = self.tasks.borrow_mut();
            tasks
                .get_mut(id)
                .and_then(|task| Some((task.future.take()?, task.waker.clone())))
        };
        let Some((mut future, waker)) = taken else {
            return;
        };
        // A task that panics is finished: polling it again would only panic again.
        let mut finished = true;
        reactor.guard("local task", || {
            let mut cx = Context::from_waker(&waker);
            finished = future.as_mut().poll(&mut cx).is_ready();
        });
        let mut tasks = self.tasks.borrow_mut();
        if finished {
            tasks.try_remove(id);
        } else if let Some(task) = tasks.get_mut(id) {
            task.future = Some(future);
        }
    }
}

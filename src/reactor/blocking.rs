//! Running blocking work off the reactor thread: [`Reactor::defer_to_thread`] (Twisted's
//! `deferToThread`).

use std::any::Any;
use std::cell::RefCell;
use std::fmt;

use slab::Slab;

use super::Reactor;
use crate::defer::{Deferred, Failure};

type Completion = Box<dyn FnOnce(Result<Box<dyn Any + Send>, Failure>)>;

/// The Deferreds waiting for work running on other threads.
pub(crate) struct ThreadJobs {
    waiting: RefCell<Slab<Completion>>,
}

/// A function run by `defer_to_thread` panicked.
#[derive(Debug)]
pub struct ThreadPanicked {
    message: String,
}

impl fmt::Display for ThreadPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the function run in a thread panicked: {}", self.message)
    }
}

impl std::error::Error for ThreadPanicked {}

impl ThreadJobs {
    pub(crate) fn new() -> Self {
        Self {
            waiting: RefCell::new(Slab::new()),
        }
    }
}

impl Reactor {
    /// Runs `f` on a new thread and fires the returned Deferred with its result on the reactor
    /// thread; a panic in `f` fails the Deferred with [`ThreadPanicked`]. For occasional
    /// blocking calls (name lookups, file system walks); request handling uses a worker pool.
    pub fn defer_to_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Deferred<T> {
        let deferred = Deferred::new();
        let firer = deferred.clone();
        let completion: Completion = Box::new(move |outcome| {
            let _ = match outcome.map(|value| value.downcast::<T>()) {
                Ok(Ok(value)) => firer.callback(*value),
                Ok(Err(_)) => unreachable!("a thread job's result has the job's type"),
                Err(failure) => firer.errback(failure),
            };
        });
        let id = self.thread_jobs().waiting.borrow_mut().insert(completion);
        let handle = self.handle();
        let spawned = std::thread::Builder::new()
            .name("torsion-defer".into())
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                    .map(|value| Box::new(value) as Box<dyn Any + Send>)
                    .map_err(|payload| crate::log::panic_message(&*payload).to_owned());
                handle.call_from_thread(move |reactor| reactor.complete_thread_job(id, result));
            });
        if let Err(error) = spawned {
            let completion = self.thread_jobs().waiting.borrow_mut().remove(id);
            completion(Err(Failure::new(error)));
        }
        deferred
    }

    fn complete_thread_job(&self, id: usize, result: Result<Box<dyn Any + Send>, String>) {
        let completion = self.thread_jobs().waiting.borrow_mut().try_remove(id);
        if let Some(completion) = completion {
            completion(result.map_err(|message| Failure::new(ThreadPanicked { message })));
        }
    }
}

//! Reaching the reactor from other threads: [`ReactorHandle::call_from_thread`] and typed
//! [`ThreadSender`] channels, both woken through mio's `Waker` (an eventfd on Linux).
//!
//! A wakeup is written only when the queue goes from quiet to busy: a thread that sends a
//! hundred calls while the reactor is busy costs one wakeup, and the reactor drains the calls
//! present when its turn began (calls sent meanwhile run next turn, so a thread flooding the
//! queue cannot starve I/O).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::Reactor;
use crate::log;

type ThreadCall = Box<dyn FnOnce(&Reactor) + Send>;

/// The part of a reactor that other threads share.
pub(crate) struct Shared {
    calls: Mutex<Vec<ThreadCall>>,
    /// Whether a wakeup has been written since the reactor last cleared it.
    notified: AtomicBool,
    /// Whether any call or channel message is waiting.
    pending: AtomicBool,
    waker: mio::Waker,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            waker,
        }
    }

    /// Makes the reactor's current or next poll return at once.
    pub(crate) fn wake(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            if let Err(error) = self.waker.wake() {
                log::error(format_args!("could not wake the reactor: {error}"));
            }
        }
    }

    fn mark_pending(&self) {
        self.pending.store(true, Ordering::Release);
        self.wake();
    }

    pub(crate) fn clear_notified(&self) {
        self.notified.store(false, Ordering::Release);
        self.pending.store(false, Ordering::Release);
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    pub(crate) fn take_calls(&self) -> Vec<ThreadCall> {
        std::mem::take(&mut *self.calls.lock())
    }

    fn push_call(&self, call: ThreadCall) {
        self.calls.lock().push(call);
        self.mark_pending();
    }
}

/// A `Send + Clone` handle to a reactor, for other threads.
#[derive(Clone)]
pub struct ReactorHandle {
    shared: Arc<Shared>,
}

impl ReactorHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs `f` on the reactor thread early in its next turn (Twisted's `callFromThread`).
    /// Calls from one thread run in the order they were made.
    pub fn call_from_thread(&self, f: impl FnOnce(&Reactor) + Send + 'static) {
        self.shared.push_call(Box::new(f));
    }

    /// Asks the reactor to stop, from any thread.
    pub fn stop(&self) {
        self.call_from_thread(|reactor| {
            let _ = reactor.stop();
        });
    }

    /// Wakes the reactor's poll without queueing anything.
    pub fn wake(&self) {
        self.shared.wake();
    }
}

impl fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorHandle").finish_non_exhaustive()
    }
}

/// The queue of one typed channel.
struct ChannelQueue<T> {
    items: Mutex<Vec<T>>,
    shared: Arc<Shared>,
    /// Whether the reactor side still exists.
    open: AtomicBool,
}

/// The sending end of [`Reactor::thread_channel`]: `Send + Clone`.
pub struct ThreadSender<T> {
    queue: Arc<ChannelQueue<T>>,
}

impl<T> Clone for ThreadSender<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Send> ThreadSender<T> {
    /// Sends `value` to the reactor thread; returns it back if the reactor is gone.
    pub fn send(&self, value: T) -> Result<(), T> {
        if !self.queue.open.load(Ordering::Acquire) {
            return Err(value);
        }
        let was_empty = {
            let mut items = self.queue.items.lock();
            items.push(value);
            items.len() == 1
        };
        if was_empty {
            self.queue.shared.mark_pending();
        }
        Ok(())
    }

    /// Sends several values with one lock and at most one wakeup.
    pub fn send_all(&self, values: impl IntoIterator<Item = T>) -> bool {
        if !self.queue.open.load(Ordering::Acquire) {
            return false;
        }
        let wake = {
            let mut items = self.queue.items.lock();
            let before = items.len();
            items.extend(values);
            before == 0 && !items.is_empty()
        };
        if wake {
            self.queue.shared.mark_pending();
        }
        true
    }
}

impl<T> fmt::Debug for ThreadSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadSender").finish_non_exhaustive()
    }
}

/// The reactor side of a channel: hands queued values to the handler.
pub(crate) trait Drain {
    fn drain(&self);
}

struct ChannelReceiver<T, F> {
    queue: Arc<ChannelQueue<T>>,
    handler: std::cell::RefCell<F>,
    /// Reused between drains so a busy channel does not allocate per turn.
    spare: std::cell::RefCell<Vec<T>>,
    _not_send: PhantomData<*const ()>,
}

impl<T, F: FnMut(T)> Drain for ChannelReceiver<T, F> {
    fn drain(&self) {
        let mut batch = std::mem::take(&mut *self.spare.borrow_mut());
        std::mem::swap(&mut batch, &mut *self.queue.items.lock());
        let Ok(mut handler) = self.handler.try_borrow_mut() else {
            // A handler that re-entered the reactor; its values wait for the next turn.
            self.queue.items.lock().splice(0..0, batch);
            return;
        };
        for value in batch.drain(..) {
            handler(value);
        }
        drop(handler);
        *self.spare.borrow_mut() = batch;
    }
}

impl<T, F> Drop for ChannelReceiver<T, F> {
    fn drop(&mut self) {
        self.queue.open.store(false, Ordering::Release);
    }
}

pub(crate) fn channel<T: Send + 'static, F: FnMut(T) + 'static>(
    shared: Arc<Shared>,
    handler: F,
) -> (ThreadSender<T>, std::rc::Rc<dyn Drain>) {
    let queue = Arc::new(ChannelQueue {
        items: Mutex::new(Vec::new()),
        shared,
        open: AtomicBool::new(true),
    });
    let receiver = ChannelReceiver {
        queue: queue.clone(),
        handler: std::cell::RefCell::new(handler),
        spare: std::cell::RefCell::new(Vec::new()),
        _not_send: PhantomData,
    };
    (ThreadSender { queue }, std::rc::Rc::new(receiver))
}

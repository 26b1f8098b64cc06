//! [`Connections`]: the open connections of one protocol on a site, so that a shutdown can
//! reach each of them and learn when the last one has closed.
//!
//! Tested by: reactor_tests/web/shutdown.rs, reactor_tests/http2/drain.rs

use std::cell::{Cell, RefCell};
use std::mem;
use std::rc::{Rc, Weak};

use slab::Slab;

use crate::defer::Deferred;

/// Weak references to a site's connections of one kind, each under the key [`add`] gave it.
///
/// [`add`]: Connections::add
pub(crate) struct Connections<C> {
    live: RefCell<Slab<Weak<C>>>,
    /// [`close_all`](Self::close_all) was called: connections opened later close too.
    closing: Cell<bool>,
    /// Fired once the last connection is removed after `close_all`.
    closed: RefCell<Vec<Deferred<()>>>,
}

impl<C> Default for Connections<C> {
    fn default() -> Self {
        Connections {
            live: RefCell::new(Slab::new()),
            closing: Cell::new(false),
            closed: RefCell::new(Vec::new()),
        }
    }
}

impl<C> Connections<C> {
    /// Adds `connection`; the key returned removes it.
    pub(crate) fn add(&self, connection: &Rc<C>) -> usize {
        self.live.borrow_mut().insert(Rc::downgrade(connection))
    }

    /// Removes the connection added under `key` (a key already removed is ignored).
    pub(crate) fn remove(&self, key: usize) {
        self.live.borrow_mut().try_remove(key);
        self.notify_if_closed();
    }

    /// How many connections are open.
    pub(crate) fn count(&self) -> usize {
        self.live.borrow().len()
    }

    /// Whether [`close_all`](Self::close_all) was called: a connection opened now must start
    /// closing at once.
    pub(crate) fn closing(&self) -> bool {
        self.closing.get()
    }

    /// Starts closing every open connection with `close` (called with no borrow held, so it
    /// may remove connections) and marks the set closing; the Deferred fires once every
    /// connection has been removed, at once when none is open.
    pub(crate) fn close_all(&self, close: impl Fn(&Rc<C>)) -> Deferred<()> {
        self.closing.set(true);
        let open: Vec<Rc<C>> = self
            .live
            .borrow()
            .iter()
            .filter_map(|(_, connection)| connection.upgrade())
            .collect();
        for connection in &open {
            close(connection);
        }
        drop(open);
        let closed = Deferred::new();
        self.closed.borrow_mut().push(closed.clone());
        self.notify_if_closed();
        closed
    }

    fn notify_if_closed(&self) {
        if !self.closing.get() || self.count() > 0 {
            return;
        }
        let waiters = mem::take(&mut *self.closed.borrow_mut());
        for waiter in waiters {
            let _ = waiter.callback(());
        }
    }
}

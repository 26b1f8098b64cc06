//! The state a request shares between its worker and the reactor: output credit (back-pressure)
//! and client disconnect.
//!
//! Tested by: reactor_tests/wsgi.rs
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

/// Body bytes a worker may send before it waits for acknowledgement, unless configured.
pub const DEFAULT_OUTPUT_CREDIT: usize = 256 * 1024;

#[derive(Default)]
struct Credit {
    /// Body bytes sent and not yet acknowledged.
    outstanding: usize,
}

/// Shared by a request's worker and the reactor (through an `Arc`).
///
/// The worker counts every body byte it sends; once more than the limit is outstanding it
/// blocks (with the GIL released) until the reactor calls [`acknowledge`](Self::acknowledge) or
/// [`disconnect`](Self::disconnect).
pub struct RequestControl {
    credit: Mutex<Credit>,
    changed: Condvar,
    disconnected: AtomicBool,
    limit: usize,
}

impl RequestControl {
    /// A control allowing `limit` unacknowledged body bytes (at least one chunk is always
    /// allowed, however large).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            credit: Mutex::new(Credit::default()),
            changed: Condvar::new(),
            disconnected: AtomicBool::new(false),
            limit,
        })
    }

    /// A control with [`DEFAULT_OUTPUT_CREDIT`].
    pub fn with_default_credit() -> Arc<Self> {
        Self::new(DEFAULT_OUTPUT_CREDIT)
    }

    /// Reactor side: `bytes` of body sent earlier have been written out; wakes a waiting worker.
    pub fn acknowledge(&self, bytes: usize) {
        let mut credit = self.credit.lock();
        credit.outstanding = credit.outstanding.saturating_sub(bytes);
        if credit.outstanding <= self.limit {
            self.changed.notify_all();
        }
    }

    /// Reactor side: the client has gone. The worker stops iterating after the current chunk,
    /// calls `close()`, and a blocked worker is released at once.
    pub fn disconnect(&self) {
        self.disconnected.store(true, Ordering::Release);
        let _credit = self.credit.lock();
        self.changed.notify_all();
    }

    /// Whether [`disconnect`](Self::disconnect) was called.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected.load(Ordering::Acquire)
    }

    /// Body bytes sent and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.credit.lock().outstanding
    }

    /// The configured limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Worker side: `bytes` were sent; returns whether the worker must now wait.
    pub(crate) fn record_sent(&self, bytes: usize) -> bool {
        let mut credit = self.credit.lock();
        credit.outstanding = credit.outstanding.saturating_add(bytes);
        credit.outstanding > self.limit
    }

    /// Worker side: blocks until the outstanding bytes fit the limit or the client is gone.
    /// Returns whether the client is still there.
    pub(crate) fn wait_for_credit(&self) -> bool {
        let mut credit = self.credit.lock();
        while credit.outstanding > self.limit && !self.is_disconnected() {
            self.changed.wait(&mut credit);
        }
        !self.is_disconnected()
    }
}

impl fmt::Debug for RequestControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestControl")
            .field("outstanding", &self.outstanding())
            .field("limit", &self.limit)
            .field("disconnected", &self.is_disconnected())
            .finish()
    }
}

//! The timer queue behind every [`Clock`](super::Clock), and the [`DelayedCall`] handle.
//!
//! Times are kept as nanoseconds since the clock's origin (`u64`), which makes heap entries small
//! and comparisons cheap. Each scheduled call is one allocation: a [`CallSlot`] holding its state
//! and its closure, shared by the heap entry and the user's handle.
//!
//! Cancelling a call drops its closure at once (freeing whatever it captured) and leaves a stale
//! heap entry behind; resetting a call pushes a fresh entry and makes the old one stale. Stale
//! entries are discarded when they reach the top of the heap, and the heap is compacted whenever
//! they outnumber the live ones, so memory stays proportional to the calls still pending however
//! many are cancelled.
//!
//! The heap is 4-ary ([`QuadHeap`]): with a million calls pending, popping the next one walks
//! half as many levels as in a binary heap, and each level's children share cache lines.

use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::clock::ClockInner;

/// Compaction runs only when at least this many stale entries have piled up.
const COMPACT_MIN_STALE: usize = 1024;

/// Where a scheduled call is in its life.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum CallState {
    Pending,
    Called,
    Cancelled,
}

/// What a slot's closure storage can do, independent of the closure's type.
pub(crate) trait Runnable {
    /// Takes the closure out and runs it; does nothing if it was already taken.
    fn run(&self);
    /// Drops the closure without running it.
    fn discard(&self);
}

impl<F: FnOnce()> Runnable for Cell<Option<F>> {
    fn run(&self) {
        if let Some(f) = self.take() {
            f();
        }
    }

    fn discard(&self) {
        drop(self.take());
    }
}

/// One scheduled call: its state and time, followed by its closure (unsized, so the whole slot is
/// a single allocation).
pub(crate) struct CallSlot<R: ?Sized + Runnable> {
    state: Cell<CallState>,
    /// Due time, in nanoseconds since the clock's origin.
    at: Cell<u64>,
    /// Sequence number of the heap entry that currently represents this call.
    seq: Cell<u64>,
    callback: R,
}

type Slot = Rc<CallSlot<dyn Runnable>>;

/// A heap entry; the heap is a max-heap, so ordering is reversed to pop the earliest first.
struct Entry {
    at: u64,
    seq: u64,
    slot: Slot,
}

impl Entry {
    fn is_live(&self) -> bool {
        self.slot.state.get() == CallState::Pending && self.slot.seq.get() == self.seq
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The pending calls of one clock, ordered by (due time, scheduling order).
pub(crate) struct TimerQueue {
    heap: QuadHeap<Entry>,
    next_seq: u64,
    live: usize,
    stale: usize,
}

impl TimerQueue {
    pub(crate) fn new() -> Self {
        Self {
            heap: QuadHeap::new(),
            next_seq: 0,
            live: 0,
            stale: 0,
        }
    }

    /// Schedules `f` at `at` and returns its slot.
    pub(crate) fn schedule<F: FnOnce() + 'static>(&mut self, at: u64, f: F) -> Slot {
        let seq = self.take_seq();
        let slot: Slot = Rc::new(CallSlot {
            state: Cell::new(CallState::Pending),
            at: Cell::new(at),
            seq: Cell::new(seq),
            callback: Cell::new(Some(f)),
        });
        self.heap.push(Entry {
            at,
            seq,
            slot: slot.clone(),
        });
        self.live += 1;
        slot
    }

    /// The sequence number the next scheduled (or rescheduled) call will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Number of calls still pending.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Number of heap entries, live or stale (for memory tests).
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
    }

    /// The earliest pending due time, discarding stale entries on the way.
    pub(crate) fn next_due(&mut self) -> Option<u64> {
        self.drop_stale_top();
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns the earliest pending call if it is due at `now` and was scheduled
    /// before `seq_limit`; the call is marked as called before it is returned.
    pub(crate) fn pop_due(&mut self, now: u64, seq_limit: u64) -> Option<Slot> {
        self.drop_stale_top();
        let top = self.heap.peek()?;
        if top.at > now || top.seq >= seq_limit {
            return None;
        }
        let entry = self.heap.pop()?;
        entry.slot.state.set(CallState::Called);
        self.live -= 1;
        Some(entry.slot)
    }

    /// The pending calls, earliest first.
    pub(crate) fn pending(&self) -> Vec<Slot> {
        let mut live: Vec<&Entry> = self.heap.iter().filter(|e| e.is_live()).collect();
        live.sort_by_key(|e| (e.at, e.seq));
        live.into_iter().map(|e| e.slot.clone()).collect()
    }

    fn cancel(&mut self, slot: &Slot) {
        slot.state.set(CallState::Cancelled);
        slot.callback.discard();
        self.live -= 1;
        self.note_stale();
    }

    fn reschedule(&mut self, slot: &Slot, at: u64) {
        let seq = self.take_seq();
        slot.at.set(at);
        slot.seq.set(seq);
        self.heap.push(Entry {
            at,
            seq,
            slot: slot.clone(),
        });
        self.note_stale();
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn drop_stale_top(&mut self) {
        while self.heap.peek().is_some_and(|e| !e.is_live()) {
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
    }

    fn note_stale(&mut self) {
        self.stale += 1;
        if self.stale >= COMPACT_MIN_STALE && self.stale > self.live {
            self.heap.retain(Entry::is_live);
            self.stale = 0;
        }
    }
}

/// A call scheduled by [`Clock::call_later`](super::Clock::call_later) (Twisted's
/// `DelayedCall`).
///
/// The handle is cheap to clone. Dropping it does not cancel the call.
#[derive(Clone)]
pub struct DelayedCall {
    slot: Slot,
    clock: Weak<ClockInner>,
    origin: Instant,
}

/// Why a [`DelayedCall`] could not be changed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum DelayedCallError {
    /// The call has already run (Twisted's `AlreadyCalled`).
    AlreadyCalled,
    /// The call was cancelled (Twisted's `AlreadyCancelled`).
    AlreadyCancelled,
    /// The clock that scheduled the call no longer exists.
    ClockGone,
}

impl fmt::Display for DelayedCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AlreadyCalled => "the delayed call has already run",
            Self::AlreadyCancelled => "the delayed call was cancelled",
            Self::ClockGone => "the clock of the delayed call no longer exists",
        })
    }
}

impl std::error::Error for DelayedCallError {}

impl DelayedCall {
    pub(crate) fn new(slot: Slot, clock: Weak<ClockInner>, origin: Instant) -> Self {
        Self {
            slot,
            clock,
            origin,
        }
    }

    /// Cancels the call: it will never run, and what its closure captured is dropped now.
    pub fn cancel(&self) -> Result<(), DelayedCallError> {
        let clock = self.pending_clock()?;
        clock.timers.borrow_mut().cancel(&self.slot);
        Ok(())
    }

    /// Moves the call to `delay` from the clock's current time.
    pub fn reset(&self, delay: Duration) -> Result<(), DelayedCallError> {
        let clock = self.pending_clock()?;
        let at = clock.deadline_after(delay);
        clock.timers.borrow_mut().reschedule(&self.slot, at);
        Ok(())
    }

    /// Postpones the call by `later` beyond its current time.
    pub fn delay(&self, later: Duration) -> Result<(), DelayedCallError> {
        let clock = self.pending_clock()?;
        let at = self.slot.at.get().saturating_add(duration_nanos(later));
        clock.timers.borrow_mut().reschedule(&self.slot, at);
        Ok(())
    }

    /// Whether the call is still pending: neither run nor cancelled.
    pub fn active(&self) -> bool {
        self.slot.state.get() == CallState::Pending && self.clock.strong_count() > 0
    }

    /// Whether the call has run (or is running).
    pub fn called(&self) -> bool {
        self.slot.state.get() == CallState::Called
    }

    /// Whether the call was cancelled.
    pub fn cancelled(&self) -> bool {
        self.slot.state.get() == CallState::Cancelled
    }

    /// When the call is (or was) due.
    pub fn time(&self) -> Instant {
        self.origin + Duration::from_nanos(self.slot.at.get())
    }

    fn pending_clock(&self) -> Result<Rc<ClockInner>, DelayedCallError> {
        match self.slot.state.get() {
            CallState::Called => Err(DelayedCallError::AlreadyCalled),
            CallState::Cancelled => Err(DelayedCallError::AlreadyCancelled),
            CallState::Pending => self.clock.upgrade().ok_or(DelayedCallError::ClockGone),
        }
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("state", &self.slot.state.get())
            .field("at_nanos", &self.slot.at.get())
            .finish()
    }
}

/// Runs one popped slot's closure.
pub(crate) fn run_slot(slot: &Slot) {
    slot.callback.run();
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A 4-ary max-heap. Popping from a binary heap walks a path as deep as log2(n), one cache miss
/// per level once the queue outgrows the cache; four children per node halve that depth, and the
/// four siblings compared at each level sit in adjacent memory.
struct QuadHeap<T> {
    items: Vec<T>,
}

impl<T: Ord> QuadHeap<T> {
    const ARITY: usize = 4;

    fn new() -> Self {
        Self { items: Vec::new() }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn peek(&self) -> Option<&T> {
        self.items.first()
    }

    fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    fn push(&mut self, item: T) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1);
    }

    fn pop(&mut self) -> Option<T> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.items[0], last);
        self.sift_down(0);
        Some(top)
    }

    /// Keeps the items for which `keep` holds, then restores the heap order.
    fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
        if self.items.len() > 1 {
            let last_parent = (self.items.len() - 2) / Self::ARITY;
            for pos in (0..=last_parent).rev() {
                self.sift_down(pos);
            }
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / Self::ARITY;
            if self.items[pos] <= self.items[parent] {
                return;
            }
            self.items.swap(pos, parent);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let first = pos * Self::ARITY + 1;
            let end = (first + Self::ARITY).min(self.items.len());
            if first >= end {
                return;
            }
            let mut largest = first;
            for child in first + 1..end {
                if self.items[child] > self.items[largest] {
                    largest = child;
                }
            }
            if self.items[largest] <= self.items[pos] {
                return;
            }
            self.items.swap(pos, largest);
            pos = largest;
        }
    }
}

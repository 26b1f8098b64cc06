//! The timer queue behind every [`Clock`](super::Clock), and the [`DelayedCall`] handle.
//!
//! Times are kept as nanoseconds since the clock's origin (`u64`). Each scheduled call is one
//! allocation: a [`CallSlot`] holding its state and its closure, shared by the queue's entry and
//! the user's handle. Calls run in (due time, sequence number) order; a reset takes a new
//! sequence number, so it runs behind the calls already due at its new instant.
//!
//! The queue is a handful of sorted runs rather than a heap. Scheduling appends an entry to an
//! unsorted `fresh` list (in sequence order). Reading the queue (the next due time, or popping)
//! first sorts `fresh` by the full key and either appends it to the last run, when it falls
//! entirely after it (timeouts of one length armed one after another), or adds it as a new run
//! and merges runs of similar length, so there are about log2(n) runs at most and each entry is
//! moved that many times. Popping takes the smallest head among the runs.
//!
//! Why: with a million calls pending in random order, a heap's pop walks a path through the
//! whole array, one dependent cache miss per deep level, and its stale-entry check adds a miss on
//! the call's slot. A sorted run is read front to back, so the entries' own loads are sequential
//! and the slot loads of successive calls do not depend on one another. A sort of the whole batch
//! costs less than a million heap pops, and ordered batches cost one linear pass. The slot loads
//! are still a cache miss each, so every eighth pop reads the slots of the next eight calls in one
//! go ([`preload`]) and their misses overlap (measured faster than one miss as each call runs, or
//! one read ahead per pop). Freeing an emptied run's buffer can make the allocator consolidate
//! every small block freed since (one miss per fired call), so the largest emptied buffer is
//! kept for reuse.
//!
//! Cancelling a call drops its closure at once (freeing whatever it captured) and leaves a stale
//! entry behind; resetting a call adds a fresh entry and makes the old one stale. Stale entries
//! are discarded when they reach the head of a run, and the whole queue is compacted whenever
//! they outnumber the live ones, so memory stays proportional to the calls still pending however
//! many are cancelled.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::clock::ClockInner;

/// Compaction runs only when at least this many stale entries have piled up.
const COMPACT_MIN_STALE: usize = 1024;

/// How many calls ahead of the one being popped [`preload`] reads, and how many at a time.
const PRELOAD: usize = 8;

/// Reads the state of each entry's slot, so that the cache misses of a group of calls about to
/// run overlap instead of being taken one at a time as each call runs.
fn preload<'a>(entries: impl Iterator<Item = &'a Entry>) {
    let pending = entries
        .filter(|e| e.slot.state.get() == CallState::Pending)
        .count();
    std::hint::black_box(pending);
}

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

/// A queued entry: a call as of one (re)scheduling.
struct Entry {
    at: u64,
    seq: u64,
    slot: Slot,
}

impl Entry {
    fn is_live(&self) -> bool {
        self.slot.state.get() == CallState::Pending && self.slot.seq.get() == self.seq
    }

    /// The order calls run in: by due time, then by scheduling order.
    fn key(&self) -> (u64, u64) {
        (self.at, self.seq)
    }
}

/// The pending calls of one clock, ordered by (due time, scheduling order).
pub(crate) struct TimerQueue {
    /// Entries added since the queue was last read, in scheduling order.
    fresh: Vec<Entry>,
    /// Sorted runs, each in (due time, seq) order; a run is never much shorter than the next.
    runs: Vec<VecDeque<Entry>>,
    /// An emptied run kept for reuse: freeing a buffer this large can make the allocator
    /// consolidate every small block freed since, which costs a cache miss per fired call.
    spare: VecDeque<Entry>,
    next_seq: u64,
    live: usize,
    stale: usize,
}

impl TimerQueue {
    pub(crate) fn new() -> Self {
        Self {
            fresh: Vec::new(),
            runs: Vec::new(),
            spare: VecDeque::new(),
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
        self.fresh.push(Entry {
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

    /// Number of entries held, live or stale (for memory tests).
    pub(crate) fn heap_len(&self) -> usize {
        self.fresh.len() + self.runs.iter().map(VecDeque::len).sum::<usize>()
    }

    /// The earliest pending due time, discarding stale entries on the way.
    pub(crate) fn next_due(&mut self) -> Option<u64> {
        let run = self.live_min_run()?;
        self.runs[run].front().map(|e| e.at)
    }

    /// Removes and returns the earliest pending call if it is due at `now` and was scheduled
    /// before `seq_limit`; the call is marked as called before it is returned.
    pub(crate) fn pop_due(&mut self, now: u64, seq_limit: u64) -> Option<Slot> {
        let index = self.live_min_run()?;
        let run = &mut self.runs[index];
        let top = run.front()?;
        if top.at > now || top.seq >= seq_limit {
            return None;
        }
        let entry = run.pop_front()?;
        if run.len() % PRELOAD == 0 {
            preload(run.range(PRELOAD.min(run.len())..(2 * PRELOAD).min(run.len())));
        }
        if run.is_empty() {
            self.retire_run(index);
        }
        entry.slot.state.set(CallState::Called);
        self.live -= 1;
        Some(entry.slot)
    }

    /// The pending calls, earliest first.
    pub(crate) fn pending(&self) -> Vec<Slot> {
        let mut live: Vec<&Entry> = self.entries().filter(|e| e.is_live()).collect();
        live.sort_by_key(|e| e.key());
        live.into_iter().map(|e| e.slot.clone()).collect()
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.fresh.iter().chain(self.runs.iter().flatten())
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
        self.fresh.push(Entry {
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

    /// The index of the run whose head is the earliest pending call, after sorting the fresh
    /// entries into the runs and discarding stale heads.
    fn live_min_run(&mut self) -> Option<usize> {
        self.absorb_fresh();
        loop {
            let index = self.min_run()?;
            let run = &mut self.runs[index];
            if run.front().is_some_and(Entry::is_live) {
                return Some(index);
            }
            run.pop_front();
            if run.is_empty() {
                self.retire_run(index);
            }
            self.stale = self.stale.saturating_sub(1);
        }
    }

    /// The index of the run with the earliest head, live or stale.
    fn min_run(&self) -> Option<usize> {
        let mut best: Option<(usize, (u64, u64))> = None;
        for (index, run) in self.runs.iter().enumerate() {
            if let Some(head) = run.front() {
                let key = head.key();
                if best.is_none_or(|(_, best_key)| key < best_key) {
                    best = Some((index, key));
                }
            }
        }
        best.map(|(index, _)| index)
    }

    /// Sorts the fresh entries into a run of their own, then merges runs of similar length, so
    /// that there are never more than about log2(n) of them.
    fn absorb_fresh(&mut self) {
        if self.fresh.is_empty() {
            return;
        }
        // The full key, so no stable sort (and no scratch buffer) is needed.
        self.fresh.sort_unstable_by_key(Entry::key);
        // Most new calls (timeouts of one length, say) fall after all pending ones.
        if let Some(last) = self.runs.last_mut()
            && let (Some(back), Some(front)) = (last.back(), self.fresh.first())
            && back.key() < front.key()
        {
            last.extend(self.fresh.drain(..));
            return;
        }
        let mut run = std::mem::take(&mut self.spare);
        run.extend(self.fresh.drain(..));
        self.runs.push(run);
        while let [.., longer, shorter] = self.runs.as_slice()
            && shorter.len() * 2 >= longer.len()
        {
            let (Some(shorter), Some(longer)) = (self.runs.pop(), self.runs.pop()) else {
                break;
            };
            let merged = merge(longer, shorter, std::mem::take(&mut self.spare));
            self.runs.push(merged);
        }
    }

    /// Removes the (empty) run at `index`, keeping the largest buffer for reuse.
    fn retire_run(&mut self, index: usize) {
        let run = self.runs.swap_remove(index);
        self.keep_spare(run);
    }

    fn keep_spare(&mut self, mut run: VecDeque<Entry>) {
        if run.capacity() > self.spare.capacity() {
            run.clear();
            self.spare = run;
        }
    }

    fn note_stale(&mut self) {
        self.stale += 1;
        if self.stale >= COMPACT_MIN_STALE && self.stale > self.live {
            self.fresh.retain(Entry::is_live);
            for run in &mut self.runs {
                run.retain(Entry::is_live);
                if run.capacity() > 2 * run.len() + 16 {
                    run.shrink_to_fit();
                }
            }
            self.runs.retain(|run| !run.is_empty());
            if self.fresh.capacity() > 2 * self.fresh.len() + 16 {
                self.fresh.shrink_to_fit();
            }
            self.spare = VecDeque::new();
            self.stale = 0;
        }
    }
}

/// Merges two sorted runs into one, in `into` (an empty buffer to reuse).
fn merge(a: VecDeque<Entry>, b: VecDeque<Entry>, mut into: VecDeque<Entry>) -> VecDeque<Entry> {
    into.reserve(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let next = if y.key() < x.key() {
            b.next()
        } else {
            a.next()
        };
        into.extend(next);
    }
    into.extend(a);
    into.extend(b);
    into
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A xorshift64 generator: deterministic, so a failure replays.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % bound
        }
    }

    /// The reference: pending calls as (due time, sequence number, id), kept sorted.
    #[derive(Default)]
    struct Model {
        calls: Vec<(u64, u64, u64)>,
    }

    impl Model {
        fn insert(&mut self, call: (u64, u64, u64)) {
            let at = self.calls.partition_point(|c| *c < call);
            self.calls.insert(at, call);
        }

        fn remove(&mut self, id: u64) {
            self.calls.retain(|c| c.2 != id);
        }

        fn pop_due(&mut self, now: u64, seq_limit: u64) -> Option<u64> {
            let &(at, seq, _) = self.calls.first()?;
            (at <= now && seq < seq_limit).then(|| self.calls.remove(0).2)
        }
    }

    /// Random schedules, cancels, resets and turns (with the reactor's sequence limit, and new
    /// calls made by running ones) fire in exactly the order of a sorted reference list.
    #[test]
    fn random_operations_fire_in_reference_order() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut queue = TimerQueue::new();
        let mut model = Model::default();
        let fired = Rc::new(RefCell::new(Vec::new()));
        let mut handles: Vec<(u64, Slot)> = Vec::new();
        let mut now = 0;
        let mut next_id = 0;
        let mut expected = Vec::new();
        for step in 0..100_000u64 {
            match rng.below(10) {
                // Few distinct due times, so many calls share an instant; some are in the past.
                0..=4 => {
                    let spread = if rng.below(8) == 0 { 1_000_000 } else { 200 };
                    let at = (now + rng.below(spread)).saturating_sub(20);
                    let log = fired.clone();
                    let id = next_id;
                    next_id += 1;
                    let seq = queue.next_seq();
                    handles.push((id, queue.schedule(at, move || log.borrow_mut().push(id))));
                    model.insert((at, seq, id));
                }
                5 if !handles.is_empty() => {
                    let (id, slot) = handles.swap_remove(rng.below(handles.len() as u64) as usize);
                    queue.cancel(&slot);
                    model.remove(id);
                }
                6 | 7 if !handles.is_empty() => {
                    let (id, slot) = &handles[rng.below(handles.len() as u64) as usize];
                    let at = now + rng.below(200);
                    model.remove(*id);
                    model.insert((at, queue.next_seq(), *id));
                    queue.reschedule(slot, at);
                }
                _ => {
                    now += rng.below(40);
                    let limit = queue.next_seq();
                    assert_eq!(
                        queue.next_due(),
                        model.calls.first().map(|c| c.0),
                        "step {step}"
                    );
                    while let Some(slot) = queue.pop_due(now, limit) {
                        run_slot(&slot);
                        expected.extend(model.pop_due(now, limit));
                        handles.retain(|(_, h)| !Rc::ptr_eq(h, &slot));
                    }
                    assert_eq!(model.pop_due(now, limit), None, "step {step}");
                }
            }
            assert_eq!(queue.len(), model.calls.len());
        }
        let pending: Vec<u64> = queue.pending().iter().map(|s| s.at.get()).collect();
        let model_pending: Vec<u64> = model.calls.iter().map(|c| c.0).collect();
        assert_eq!(pending, model_pending);
        while let Some(slot) = queue.pop_due(u64::MAX, u64::MAX) {
            run_slot(&slot);
            expected.extend(model.pop_due(u64::MAX, u64::MAX));
        }
        assert!(model.calls.is_empty());
        assert_eq!(*fired.borrow(), expected);
    }

    /// Calls due at one instant, scheduled across several reads of the queue (so spread over
    /// several runs), still run in scheduling order.
    #[test]
    fn equal_due_times_across_runs_keep_scheduling_order() {
        let mut queue = TimerQueue::new();
        let fired = Rc::new(RefCell::new(Vec::new()));
        for batch in 0..10u64 {
            for i in 0..100 {
                let log = fired.clone();
                let id = batch * 100 + i;
                // Later batches also add earlier times, so they cannot be appended to a run.
                queue.schedule(1_000 - batch * (i % 2), move || log.borrow_mut().push(id));
            }
            queue.next_due();
        }
        while let Some(slot) = queue.pop_due(u64::MAX, u64::MAX) {
            run_slot(&slot);
        }
        let fired = fired.borrow();
        let mut expected: Vec<(u64, u64)> = (0..1_000)
            .map(|id| (1_000 - (id / 100) * ((id % 100) % 2), id))
            .collect();
        expected.sort_unstable();
        assert_eq!(*fired, expected.iter().map(|e| e.1).collect::<Vec<_>>());
    }

    /// Cancelling most calls of a large sorted queue compacts it, and the rest still fire in
    /// order.
    #[test]
    fn cancelling_most_calls_compacts_the_runs() {
        let mut queue = TimerQueue::new();
        let slots: Vec<Slot> = (0..100_000u64)
            .map(|i| queue.schedule(i % 977, || {}))
            .collect();
        queue.next_due();
        for (i, slot) in slots.iter().enumerate() {
            if i % 100 != 0 {
                queue.cancel(slot);
            }
        }
        assert!(queue.heap_len() < 4_096, "holds {}", queue.heap_len());
        let mut last = (0, 0);
        while let Some(slot) = queue.pop_due(u64::MAX, u64::MAX) {
            let key = (slot.at.get(), slot.seq.get());
            assert!(key >= last);
            last = key;
        }
        assert_eq!(queue.len(), 0);
    }
}

//! The type-erased callback chain behind every [`Deferred`](super::Deferred).
//!
//! Values travel as `Box<dyn Any>`; the typed handle guarantees, through the
//! head and tail type tags kept here, that each step receives the type it
//! was written for. No `RefCell` borrow is ever held while user code (a
//! step, a canceller, a waker, a drop of user data) runs: state is read and
//! updated in short borrows around those calls.

use std::any::{Any, TypeId, type_name};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::mem;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::failure::{AlreadyCalledError, CancelledError, Failure};
use super::unhandled::report_unhandled;

/// A value in flight, its static type known only to the typed handles.
pub(crate) type Value = Box<dyn Any>;

/// What flows between steps: a value or a failure.
pub(crate) type Outcome = Result<Value, Failure>;

/// One erased step: consumes the current outcome, produces the next.
pub(crate) type StepFn = Box<dyn FnOnce(Outcome) -> StepOutput>;

/// An erased canceller, given the chain it cancels.
pub(crate) type CancellerFn = Box<dyn FnOnce(&Rc<Core>)>;

/// What a step returned.
pub(crate) enum StepOutput {
    /// The next outcome, available now.
    Done(Outcome),
    /// Another chain whose result becomes the next outcome once it has one.
    Chain(Rc<Core>),
}

/// A static type identity plus its name for misuse messages.
#[derive(Clone, Copy)]
pub(crate) struct TypeTag {
    id: TypeId,
    name: &'static str,
}

impl TypeTag {
    /// The tag of `T`.
    pub(crate) fn of<T: 'static>() -> Self {
        Self {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
        }
    }
}

/// A queued step.
enum Step {
    /// A user step.
    Run(StepFn),
    /// Hand this chain's outcome to a chain that is waiting on it.
    Continue(Rc<Core>),
}

/// Where the chain's current result is.
enum Slot {
    /// Not fired yet.
    Pending,
    /// The current outcome, waiting for the next step.
    Ready(Outcome),
    /// Taken out while a step runs.
    Running,
    /// A step returned this chain; its outcome has not arrived yet.
    Waiting(Rc<Core>),
}

/// Progress of an `.await` on this chain.
enum AwaitState {
    /// Nobody has polled.
    Idle,
    /// A step delivering to the awaiter is queued; wake this when it runs.
    Registered(Option<Waker>),
    /// The outcome arrived and has not been taken by the awaiter yet.
    Delivered(Outcome),
    /// The awaiter took the outcome.
    Taken,
}

/// Mutable chain state, only touched in short borrows.
struct State {
    slot: Slot,
    steps: VecDeque<Step>,
    called: bool,
    paused: usize,
    running: bool,
    suppress_already_called: bool,
    canceller: Option<CancellerFn>,
    head: TypeTag,
    /// Output type of the last step; `None` once the result was handed to
    /// another chain or to an awaiter, after which no step may be added.
    tail: Option<TypeTag>,
    awaiting: AwaitState,
}

impl State {
    /// Moves a delivered awaited outcome out, leaving `Taken`.
    fn take_delivered(&mut self) -> Outcome {
        match mem::replace(&mut self.awaiting, AwaitState::Taken) {
            AwaitState::Delivered(outcome) => outcome,
            _ => unreachable!("callers check the outcome was delivered"),
        }
    }
}

/// One callback chain, shared by all handles to it.
pub(crate) struct Core {
    state: RefCell<State>,
}

/// What `cancel` found to do, decided inside a borrow and done outside it.
enum CancelAction {
    /// Not fired: run the canceller (if any), then errback if still unfired.
    Cancel(Option<CancellerFn>),
    /// Waiting on another chain: cancel that one instead.
    Forward(Rc<Core>),
    /// Already has a result: nothing to cancel.
    Nothing,
}

/// What advancing one chain on the run stack ended with.
enum Advance {
    /// Nothing more can run on this chain now.
    Stopped,
    /// The outcome was handed to this waiting chain, which runs next.
    HandedTo(Rc<Core>),
}

impl Core {
    /// A fresh, unfired chain accepting `head` values.
    pub(crate) fn new(head: TypeTag, canceller: Option<CancellerFn>) -> Rc<Core> {
        Rc::new(Core {
            state: RefCell::new(State {
                slot: Slot::Pending,
                steps: VecDeque::new(),
                called: false,
                paused: 0,
                running: false,
                suppress_already_called: false,
                canceller,
                head,
                tail: Some(head),
                awaiting: AwaitState::Idle,
            }),
        })
    }

    /// Panics unless `callback` may be given `tag` values.
    pub(crate) fn check_head(&self, tag: TypeTag) {
        let head = self.state.borrow().head;
        assert!(
            head.id == tag.id,
            "Deferred::callback called through a Deferred<{}> handle, but the chain's head type \
             is {}; fire it through a handle taken before steps changed the type",
            tag.name,
            head.name
        );
    }

    /// Panics unless the chain's current output type is `tag`; `action`
    /// names the attempted operation in the message.
    pub(crate) fn check_tail(&self, tag: TypeTag, action: &str) {
        match self.state.borrow().tail {
            Some(tail) if tail.id == tag.id => {}
            Some(tail) => panic!(
                "stale Deferred handle: cannot {action} through a Deferred<{}> because the chain \
                 now produces {}; use the handle returned by the last add_* call",
                tag.name, tail.name
            ),
            None => panic!(
                "cannot {action} through a Deferred<{}>: its result was already handed on \
                 (returned from a callback or awaited)",
                tag.name
            ),
        }
    }

    /// Appends `step` after checking the chain produces `expected`, records
    /// its output type, and runs it at once if the chain has a result.
    pub(crate) fn push_step(
        self: &Rc<Self>,
        expected: TypeTag,
        output: Option<TypeTag>,
        step: StepFn,
    ) {
        self.check_tail(expected, "add a step");
        let called = {
            let mut state = self.state.borrow_mut();
            state.tail = output;
            state.steps.push_back(Step::Run(step));
            state.called
        };
        if called {
            run_callbacks(self.clone());
        }
    }

    /// Whether `callback` or `errback` has been called.
    pub(crate) fn is_called(&self) -> bool {
        self.state.borrow().called
    }

    /// Whether the chain is paused by `pause`.
    pub(crate) fn is_paused(&self) -> bool {
        self.state.borrow().paused > 0
    }

    /// Gives the chain its result and runs the queued steps.
    pub(crate) fn fire(self: &Rc<Self>, outcome: Outcome) -> Result<(), AlreadyCalledError> {
        let canceller = {
            let mut state = self.state.borrow_mut();
            if state.called {
                if mem::take(&mut state.suppress_already_called) {
                    return Ok(());
                }
                return Err(AlreadyCalledError);
            }
            state.called = true;
            state.slot = Slot::Ready(outcome);
            state.canceller.take()
        };
        // Dropped outside the borrow: it may own other chains.
        drop(canceller);
        run_callbacks(self.clone());
        Ok(())
    }

    /// Twisted's `Deferred.cancel`, following waiting links iteratively.
    pub(crate) fn cancel(self: &Rc<Self>) {
        let mut target = self.clone();
        loop {
            match target.cancel_action() {
                CancelAction::Forward(inner) => target = inner,
                CancelAction::Cancel(canceller) => {
                    if let Some(canceller) = canceller {
                        canceller(&target);
                    }
                    if !target.is_called() {
                        let fired = target.fire(Err(Failure::new(CancelledError)));
                        debug_assert!(fired.is_ok(), "chain checked unfired just above");
                    }
                    return;
                }
                CancelAction::Nothing => return,
            }
        }
    }

    /// Decides what cancelling this chain means right now.
    fn cancel_action(&self) -> CancelAction {
        let mut state = self.state.borrow_mut();
        if !state.called {
            let canceller = state.canceller.take();
            // Without a canceller the firer does not know about the cancel
            // and will still fire once; that firing is swallowed.
            state.suppress_already_called = canceller.is_none();
            return CancelAction::Cancel(canceller);
        }
        match &state.slot {
            Slot::Waiting(inner) => CancelAction::Forward(inner.clone()),
            _ => CancelAction::Nothing,
        }
    }

    /// Stops steps from running until the matching `unpause`.
    pub(crate) fn pause(&self) {
        self.state.borrow_mut().paused += 1;
    }

    /// Undoes one `pause`; resumes the chain when none remain.
    pub(crate) fn unpause(self: &Rc<Self>) {
        let resume = {
            let mut state = self.state.borrow_mut();
            assert!(
                state.paused > 0,
                "Deferred::unpause called without a matching pause"
            );
            state.paused -= 1;
            state.paused == 0 && state.called
        };
        if resume {
            run_callbacks(self.clone());
        }
    }

    /// Drives an `.await` on this chain whose output type is `tag`.
    ///
    /// The first poll queues a step that moves the outcome into the await
    /// state and wakes the latest waker; later polls collect it.
    pub(crate) fn poll_awaited(self: &Rc<Self>, tag: TypeTag, waker: &Waker) -> Poll<Outcome> {
        {
            let mut state = self.state.borrow_mut();
            match &mut state.awaiting {
                AwaitState::Idle => {}
                AwaitState::Registered(registered) => {
                    // The old waker is dropped after the borrow ends.
                    let replaced = registered.replace(waker.clone());
                    drop(state);
                    drop(replaced);
                    return Poll::Pending;
                }
                AwaitState::Delivered(_) => return Poll::Ready(state.take_delivered()),
                AwaitState::Taken => panic!("Deferred polled again after its result was taken"),
            }
        }
        self.check_tail(tag, "await the result");
        self.state.borrow_mut().awaiting = AwaitState::Registered(None);
        let weak = Rc::downgrade(self);
        let deliver = move |outcome: Outcome| {
            if let Some(core) = weak.upgrade() {
                core.deliver_awaited(outcome);
            }
            StepOutput::Done(Ok(Box::new(())))
        };
        self.push_step(tag, None, Box::new(deliver));
        let mut state = self.state.borrow_mut();
        if let AwaitState::Delivered(_) = state.awaiting {
            return Poll::Ready(state.take_delivered());
        }
        state.awaiting = AwaitState::Registered(Some(waker.clone()));
        Poll::Pending
    }

    /// Stores the awaited outcome and wakes the awaiter.
    fn deliver_awaited(&self, outcome: Outcome) {
        let waker = {
            let mut state = self.state.borrow_mut();
            match mem::replace(&mut state.awaiting, AwaitState::Delivered(outcome)) {
                AwaitState::Registered(waker) => waker,
                _ => None,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A short description of the chain's state for `Debug`.
    pub(crate) fn describe(&self) -> String {
        let Ok(state) = self.state.try_borrow() else {
            return "busy".to_owned();
        };
        let result = match &state.slot {
            Slot::Pending => "pending".to_owned(),
            Slot::Ready(Ok(_)) if state.tail.is_none() => "result handed on".to_owned(),
            Slot::Ready(Ok(_)) => "succeeded".to_owned(),
            Slot::Ready(Err(failure)) => format!("failed: {failure}"),
            Slot::Running => "running a callback".to_owned(),
            Slot::Waiting(_) => "waiting on another Deferred".to_owned(),
        };
        if state.paused > 0 {
            format!("{result} (paused)")
        } else {
            result
        }
    }

    /// Runs this chain's next steps until it stops or hands its outcome to
    /// a waiting chain.
    fn advance(self: &Rc<Self>) -> Advance {
        loop {
            let (step, outcome) = {
                let mut state = self.state.borrow_mut();
                if state.paused > 0 || state.running || !matches!(state.slot, Slot::Ready(_)) {
                    return Advance::Stopped;
                }
                let Some(step) = state.steps.pop_front() else {
                    return Advance::Stopped;
                };
                let Slot::Ready(outcome) = mem::replace(&mut state.slot, Slot::Running) else {
                    unreachable!("slot checked Ready just above");
                };
                (step, outcome)
            };
            match step {
                Step::Continue(waiter) => {
                    self.set_slot(Slot::Ready(Ok(Box::new(()))));
                    waiter.set_slot(Slot::Ready(outcome));
                    return Advance::HandedTo(waiter);
                }
                Step::Run(step) => {
                    let output = {
                        let _running = RunningGuard::enter(self);
                        step(outcome)
                    };
                    match output {
                        StepOutput::Done(outcome) => drop(self.set_slot(Slot::Ready(outcome))),
                        StepOutput::Chain(inner) => self.wait_on(inner),
                    }
                }
            }
        }
    }

    /// Makes this chain continue with `inner`'s outcome: taken at once when
    /// `inner` has finished, otherwise by queueing a continuation on it.
    fn wait_on(self: &Rc<Self>, inner: Rc<Core>) {
        assert!(
            !Rc::ptr_eq(self, &inner),
            "a callback returned the Deferred it is attached to; it would wait on itself forever"
        );
        let stolen = {
            let mut state = inner.state.borrow_mut();
            state.tail = None;
            let finished = state.paused == 0 && !state.running && state.steps.is_empty();
            match &state.slot {
                Slot::Ready(_) if finished => {
                    Some(mem::replace(&mut state.slot, Slot::Ready(Ok(Box::new(())))))
                }
                _ => {
                    state.steps.push_back(Step::Continue(self.clone()));
                    None
                }
            }
        };
        match stolen {
            Some(slot) => drop(self.set_slot(slot)),
            None => drop(self.set_slot(Slot::Waiting(inner))),
        }
    }

    /// Replaces the slot, returning the old one to be dropped by the caller
    /// outside the borrow.
    fn set_slot(&self, slot: Slot) -> Slot {
        mem::replace(&mut self.state.borrow_mut().slot, slot)
    }
}

/// Marks a chain as running a user step; cleared even if the step panics.
struct RunningGuard<'a> {
    core: &'a Core,
}

impl<'a> RunningGuard<'a> {
    /// Sets the running flag on `core`.
    fn enter(core: &'a Core) -> Self {
        core.state.borrow_mut().running = true;
        Self { core }
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.core.state.borrow_mut().running = false;
    }
}

/// Twisted's `_runCallbacks`: runs `start`'s steps, and when a finished
/// chain hands its outcome to a chain waiting on it, continues with that
/// chain in the same loop instead of recursing, so arbitrarily long chains
/// of chained Deferreds unwind in constant stack.
fn run_callbacks(start: Rc<Core>) {
    if start.state.borrow().running {
        // A step of this chain is on the stack; its loop picks up the rest.
        return;
    }
    let mut stack = vec![start];
    while let Some(current) = stack.last().cloned() {
        match current.advance() {
            Advance::Stopped => {
                stack.pop();
            }
            Advance::HandedTo(waiter) => stack.push(waiter),
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let lost = match (&state.slot, &state.awaiting) {
            (Slot::Ready(Err(failure)), _) | (_, AwaitState::Delivered(Err(failure))) => {
                Some(failure.clone())
            }
            _ => None,
        };
        if let Some(failure) = lost {
            report_unhandled(&failure);
        }
    }
}

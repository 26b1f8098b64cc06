//! System event triggers: "startup", "shutdown" and events of the application's own
//! (Twisted's `addSystemEventTrigger` and `_ThreePhaseEvent`).
//!
//! Firing an event runs its phases in order:
//!
//! ```text
//!   fire("x") ──▶ before triggers ──(their Deferreds all fired)──▶ during ──▶ after
//! ```
//!
//! Rules: triggers run once each, in the order they were added, phase by phase; a trigger added
//! to a phase that is running (or yet to run) in the current firing runs in that firing; a
//! "before" trigger may return a `Deferred<()>` and the "during" phase waits until every one of
//! them has fired, with success or failure, while the loop keeps turning; a failing or panicking
//! trigger is logged and does not stop the others. The reactor adds its own steps: at the start
//! of "during startup" it becomes running and installs its signal handlers; at the start of
//! "during shutdown" it closes every source; after "after shutdown" its loop ends.

use std::collections::HashMap;
use std::rc::Rc;

use std::cell::Cell;

use super::{Reactor, RunState};
use crate::defer::Deferred;
use crate::log;

/// The phases of a system event.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Phase {
    /// Runs first; may return a Deferred that the next phase waits for.
    Before,
    /// Runs once every "before" Deferred has fired.
    During,
    /// Runs last.
    After,
}

/// Identifies an added trigger, for removal.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct TriggerId(u64);

/// What a trigger may return: nothing, or a `Deferred<()>` for the next phase to wait for.
pub trait TriggerResult {
    /// The Deferred to wait for, if any.
    fn into_deferred(self) -> Option<Deferred<()>>;
}

impl TriggerResult for () {
    fn into_deferred(self) -> Option<Deferred<()>> {
        None
    }
}

impl TriggerResult for Deferred<()> {
    fn into_deferred(self) -> Option<Deferred<()>> {
        Some(self)
    }
}

impl TriggerResult for Option<Deferred<()>> {
    fn into_deferred(self) -> Option<Deferred<()>> {
        self
    }
}

pub(crate) type Trigger = Box<dyn FnOnce() -> Option<Deferred<()>>>;

#[derive(Default)]
struct EventTriggers {
    before: Vec<(TriggerId, Trigger)>,
    during: Vec<(TriggerId, Trigger)>,
    after: Vec<(TriggerId, Trigger)>,
}

impl EventTriggers {
    fn phase(&mut self, phase: Phase) -> &mut Vec<(TriggerId, Trigger)> {
        match phase {
            Phase::Before => &mut self.before,
            Phase::During => &mut self.during,
            Phase::After => &mut self.after,
        }
    }
}

/// Every event's pending triggers.
pub(crate) struct SystemEvents {
    next_id: u64,
    events: HashMap<String, EventTriggers>,
}

impl SystemEvents {
    pub(crate) fn new() -> Self {
        Self {
            next_id: 0,
            events: HashMap::new(),
        }
    }

    pub(crate) fn add(&mut self, phase: Phase, event: &str, trigger: Trigger) -> TriggerId {
        self.next_id += 1;
        let id = TriggerId(self.next_id);
        let triggers = self.events.entry(event.to_owned()).or_default();
        triggers.phase(phase).push((id, trigger));
        id
    }

    pub(crate) fn remove(&mut self, id: TriggerId) -> bool {
        for triggers in self.events.values_mut() {
            for phase in [Phase::Before, Phase::During, Phase::After] {
                let list = triggers.phase(phase);
                if let Some(index) = list.iter().position(|(i, _)| *i == id) {
                    drop(list.remove(index));
                    return true;
                }
            }
        }
        false
    }

    /// Takes the first pending trigger of `event` in `phase`.
    fn pop(&mut self, event: &str, phase: Phase) -> Option<Trigger> {
        let list = self.events.get_mut(event)?.phase(phase);
        if list.is_empty() {
            None
        } else {
            Some(list.remove(0).1)
        }
    }
}

/// Fires `event`: runs its "before" triggers now and the rest once their Deferreds fire.
pub(crate) fn fire(reactor: &Reactor, event: &str) {
    let waiting = Rc::new(Cell::new(1usize));
    while let Some(trigger) = pop(reactor, event, Phase::Before) {
        let Some(deferred) = run_trigger(reactor, event, trigger) else {
            continue;
        };
        waiting.set(waiting.get() + 1);
        let (reactor, event, waiting) = (reactor.clone(), event.to_owned(), waiting.clone());
        deferred.add_both(move |result| {
            if let Err(failure) = &result {
                log::error(format_args!("'before {event}' trigger failed: {failure}"));
            }
            countdown(&reactor, &event, &waiting);
            Ok(())
        });
    }
    countdown(reactor, event, &waiting);
}

fn countdown(reactor: &Reactor, event: &str, waiting: &Cell<usize>) {
    waiting.set(waiting.get() - 1);
    if waiting.get() == 0 {
        continue_firing(reactor, event);
    }
}

fn continue_firing(reactor: &Reactor, event: &str) {
    match event {
        "startup" => {
            reactor.set_state(RunState::Running);
            super::signals::install(reactor);
        }
        "shutdown" => reactor.disconnect_all(),
        _ => {}
    }
    for phase in [Phase::During, Phase::After] {
        while let Some(trigger) = pop(reactor, event, phase) {
            drop(run_trigger(reactor, event, trigger));
        }
    }
    if event == "shutdown" {
        reactor.finish_shutdown();
    }
}

fn pop(reactor: &Reactor, event: &str, phase: Phase) -> Option<Trigger> {
    reactor.events_registry().borrow_mut().pop(event, phase)
}

fn run_trigger(reactor: &Reactor, event: &str, trigger: Trigger) -> Option<Deferred<()>> {
    let mut result = None;
    reactor.guard(&format!("'{event}' trigger"), || result = trigger());
    result
}

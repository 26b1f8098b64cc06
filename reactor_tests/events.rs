//! System event triggers: phases, ordering, waiting on "before" Deferreds, startup and shutdown.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use torsion::defer::{Deferred, Failure};
use torsion::reactor::{Phase, Reactor, ReactorError, RunState};

fn reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("a reactor")
}

#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<&'static str>>>);

impl Log {
    fn recorder(&self, entry: &'static str) -> impl FnOnce() + 'static {
        let log = self.clone();
        move || log.0.borrow_mut().push(entry)
    }

    fn entries(&self) -> Vec<&'static str> {
        self.0.borrow().clone()
    }
}

/// Phases run in order before, during, after, whatever order triggers were added in.
#[test]
fn phases_run_before_during_after() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::After, "custom", log.recorder("after"));
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("during"));
    reactor.add_system_event_trigger(Phase::Before, "custom", log.recorder("before"));
    reactor.fire_system_event("custom");
    assert_eq!(log.entries(), ["before", "during", "after"]);
}

/// Triggers of one phase run in the order they were added.
#[test]
fn triggers_of_a_phase_run_in_order_added() {
    let reactor = reactor();
    let log = Log::default();
    for entry in ["one", "two", "three"] {
        reactor.add_system_event_trigger(Phase::During, "custom", log.recorder(entry));
    }
    reactor.fire_system_event("custom");
    assert_eq!(log.entries(), ["one", "two", "three"]);
}

/// Each trigger runs once: firing an event again runs only triggers added since.
#[test]
fn triggers_run_once() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("first"));
    reactor.fire_system_event("custom");
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("second"));
    reactor.fire_system_event("custom");
    assert_eq!(log.entries(), ["first", "second"]);
}

/// Triggers of other events do not run.
#[test]
fn triggers_of_other_events_do_not_run() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::During, "other", log.recorder("other"));
    reactor.fire_system_event("custom");
    assert!(log.entries().is_empty());
}

/// A removed trigger does not run, and removing it again reports that it is gone.
#[test]
fn removed_trigger_does_not_run() {
    let reactor = reactor();
    let log = Log::default();
    let id = reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("removed"));
    assert!(reactor.remove_system_event_trigger(id));
    assert!(!reactor.remove_system_event_trigger(id));
    reactor.fire_system_event("custom");
    assert!(log.entries().is_empty());
}

/// The during phase waits until every Deferred returned by a before trigger has fired.
#[test]
fn during_waits_for_before_deferreds() {
    let reactor = reactor();
    let log = Log::default();
    let first: Deferred<()> = Deferred::new();
    let second: Deferred<()> = Deferred::new();
    let (a, b) = (first.clone(), second.clone());
    reactor.add_system_event_trigger(Phase::Before, "custom", move || a);
    reactor.add_system_event_trigger(Phase::Before, "custom", move || b);
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("during"));
    reactor.fire_system_event("custom");
    assert!(log.entries().is_empty());
    first.callback(()).unwrap();
    assert!(log.entries().is_empty());
    second.callback(()).unwrap();
    assert_eq!(log.entries(), ["during"]);
}

/// A before Deferred that fails still lets the event go on (the failure is logged).
#[test]
fn failed_before_deferred_does_not_block_the_event() {
    let reactor = reactor();
    let log = Log::default();
    let waiting: Deferred<()> = Deferred::new();
    let handle = waiting.clone();
    reactor.add_system_event_trigger(Phase::Before, "custom", move || handle);
    reactor.add_system_event_trigger(Phase::After, "custom", log.recorder("after"));
    reactor.fire_system_event("custom");
    waiting
        .errback(Failure::new(std::io::Error::other("no")))
        .unwrap();
    assert_eq!(log.entries(), ["after"]);
}

/// A trigger added to the during phase while before Deferreds are pending runs in that firing.
#[test]
fn trigger_added_while_waiting_runs_in_the_same_firing() {
    let reactor = reactor();
    let log = Log::default();
    let waiting: Deferred<()> = Deferred::new();
    let handle = waiting.clone();
    reactor.add_system_event_trigger(Phase::Before, "custom", move || handle);
    reactor.fire_system_event("custom");
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("late"));
    waiting.callback(()).unwrap();
    assert_eq!(log.entries(), ["late"]);
}

/// A before trigger that adds another before trigger has it run in the same firing.
#[test]
fn before_trigger_added_by_a_before_trigger_runs() {
    let reactor = reactor();
    let log = Log::default();
    let (inner, inner_log) = (reactor.clone(), log.clone());
    reactor.add_system_event_trigger(Phase::Before, "custom", move || {
        inner.add_system_event_trigger(Phase::Before, "custom", inner_log.recorder("added"));
    });
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("during"));
    reactor.fire_system_event("custom");
    assert_eq!(log.entries(), ["added", "during"]);
}

/// A panicking trigger is reported and the remaining triggers still run.
#[test]
fn panicking_trigger_does_not_stop_the_others() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::During, "custom", || -> () { panic!("deliberate") });
    reactor.add_system_event_trigger(Phase::During, "custom", log.recorder("next"));
    reactor.fire_system_event("custom");
    assert_eq!(log.entries(), ["next"]);
}

/// run fires startup (before, during, after), call_when_running callbacks, then turns.
#[test]
fn startup_phases_and_call_when_running() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::Before, "startup", log.recorder("before"));
    reactor.add_system_event_trigger(Phase::After, "startup", log.recorder("after"));
    let (inner, inner_log) = (reactor.clone(), log.clone());
    reactor.call_when_running(move || {
        inner_log.0.borrow_mut().push("running");
        assert!(inner.running());
        inner.stop().unwrap();
    });
    reactor.run().unwrap();
    assert_eq!(log.entries(), ["before", "after", "running"]);
}

/// call_when_running on a running reactor runs the function at once.
#[test]
fn call_when_running_while_running_runs_now() {
    let reactor = reactor();
    let log = Log::default();
    let (inner, inner_log) = (reactor.clone(), log.clone());
    reactor.call_when_running(move || {
        assert!(inner.call_when_running(inner_log.recorder("now")).is_none());
        inner_log.0.borrow_mut().push("after call");
        inner.stop().unwrap();
    });
    reactor.run().unwrap();
    assert_eq!(log.entries(), ["now", "after call"]);
}

/// stop fires shutdown's phases, and run returns once they have completed.
#[test]
fn stop_fires_shutdown_phases_then_run_returns() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::Before, "shutdown", log.recorder("before"));
    reactor.add_system_event_trigger(Phase::During, "shutdown", log.recorder("during"));
    reactor.add_system_event_trigger(Phase::After, "shutdown", log.recorder("after"));
    let inner = reactor.clone();
    reactor.call_when_running(move || inner.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(log.entries(), ["before", "during", "after"]);
    assert_eq!(reactor.state(), RunState::Stopped);
}

/// The loop keeps running delayed calls while a before-shutdown Deferred is pending.
#[test]
fn loop_keeps_turning_while_shutdown_waits() {
    let reactor = reactor();
    let log = Log::default();
    let (inner, inner_log) = (reactor.clone(), log.clone());
    reactor.add_system_event_trigger(Phase::Before, "shutdown", move || {
        let waiting: Deferred<()> = Deferred::new();
        let (firer, log) = (waiting.clone(), inner_log.clone());
        inner.call_later(Duration::from_millis(5), move || {
            log.0.borrow_mut().push("timer during shutdown");
            firer.callback(()).unwrap();
        });
        waiting
    });
    reactor.add_system_event_trigger(Phase::After, "shutdown", log.recorder("after"));
    let stopper = reactor.clone();
    reactor.call_when_running(move || stopper.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(log.entries(), ["timer during shutdown", "after"]);
}

/// Stopping a reactor that is not running, or running a stopped one, is refused.
#[test]
fn stop_and_run_state_errors() {
    let reactor = reactor();
    assert_eq!(reactor.stop(), Err(ReactorError::NotRunning));
    let inner = reactor.clone();
    reactor.call_when_running(move || {
        inner.stop().unwrap();
        assert_eq!(inner.stop(), Err(ReactorError::NotRunning));
        assert_eq!(inner.run(), Err(ReactorError::AlreadyRunning));
    });
    reactor.run().unwrap();
    assert_eq!(reactor.run(), Err(ReactorError::NotRestartable));
}

/// crash ends the loop without firing shutdown.
#[test]
fn crash_skips_shutdown() {
    let reactor = reactor();
    let log = Log::default();
    reactor.add_system_event_trigger(Phase::Before, "shutdown", log.recorder("shutdown"));
    let inner = reactor.clone();
    reactor.call_when_running(move || inner.crash());
    reactor.run().unwrap();
    assert!(log.entries().is_empty());
}

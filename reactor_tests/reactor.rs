//! The loop itself: turns, waiting, other threads, local tasks and signals.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use torsion::defer::{CancelledError, Deferred};
use torsion::reactor::{Reactor, Signal, ThreadPanicked};
use torsion::time::{FakeClock, defer_later};

fn reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("a reactor")
}

/// Turns `reactor` until `done` holds, failing after `turns` turns.
fn turn_until(reactor: &Reactor, turns: usize, done: impl Fn() -> bool) {
    for _ in 0..turns {
        if done() {
            return;
        }
        reactor.iterate(Some(Duration::from_millis(50))).unwrap();
    }
    assert!(done(), "condition not reached within {turns} turns");
}

/// A call from another thread wakes a reactor blocked in poll and runs on the reactor thread.
#[test]
fn call_from_thread_wakes_a_blocked_poll() {
    let reactor = reactor();
    let ran_on = Rc::new(Cell::new(None));
    let handle = reactor.handle();
    let reactor_thread = std::thread::current().id();
    let thread = std::thread::spawn(move || {
        handle.call_from_thread(move |r| {
            assert_eq!(std::thread::current().id(), reactor_thread);
            r.crash();
        });
    });
    thread.join().unwrap();
    let seen = ran_on.clone();
    reactor.call_later(Duration::ZERO, move || seen.set(Some(())));
    // With nothing else to do, this turn would block for an hour without the wakeup.
    reactor.iterate(Some(Duration::from_secs(3600))).unwrap();
    reactor.iterate(Some(Duration::from_secs(3600))).unwrap();
    assert!(ran_on.get().is_some());
}

/// Calls from one thread run in the order they were made.
#[test]
fn calls_from_a_thread_run_in_order() {
    let reactor = reactor();
    let order = Rc::new(RefCell::new(Vec::new()));
    let sink = reactor.thread_channel({
        let order = order.clone();
        move |n: usize| order.borrow_mut().push(n)
    });
    let handle = reactor.handle();
    std::thread::spawn(move || {
        for n in 0..100 {
            let sink = sink.clone();
            handle.call_from_thread(move |_| sink.send(n).unwrap());
        }
    })
    .join()
    .unwrap();
    turn_until(&reactor, 20, || order.borrow().len() == 100);
    assert_eq!(*order.borrow(), (0..100).collect::<Vec<_>>());
}

/// A call from a thread queued while the reactor runs thread calls waits for the next turn.
#[test]
fn calls_queued_during_a_turn_wait_for_the_next() {
    let reactor = reactor();
    let runs = Arc::new(AtomicUsize::new(0));
    let handle = reactor.handle();
    let (requeue, counter) = (handle.clone(), runs.clone());
    handle.call_from_thread(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        let again = counter.clone();
        requeue.call_from_thread(move |_| {
            again.fetch_add(1, Ordering::SeqCst);
        });
    });
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the requeued call waits for the next turn"
    );
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// Values sent through a thread channel reach the handler in order, many per wakeup.
#[test]
fn thread_channel_delivers_in_order() {
    let reactor = reactor();
    let received = Rc::new(RefCell::new(Vec::new()));
    let sink = received.clone();
    let sender = reactor.thread_channel(move |value: u32| sink.borrow_mut().push(value));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    sender.send(t * 1000 + i).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    turn_until(&reactor, 20, || received.borrow().len() == 1000);
    for t in 0..4 {
        let mine: Vec<u32> = received
            .borrow()
            .iter()
            .copied()
            .filter(|v| v / 1000 == t)
            .collect();
        assert_eq!(mine, (0..250).map(|i| t * 1000 + i).collect::<Vec<_>>());
    }
}

/// Sending to a channel whose reactor is gone hands the value back.
#[test]
fn thread_channel_send_fails_after_reactor_drops() {
    let reactor = reactor();
    let sender = reactor.thread_channel(|_: u8| {});
    drop(reactor);
    assert_eq!(sender.send(7), Err(7));
}

/// spawn_local runs a future that awaits a Deferred and fires its own Deferred with the output.
#[test]
fn spawn_local_awaits_deferreds() {
    let reactor = reactor();
    let input: Deferred<u32> = Deferred::new();
    let awaited = input.clone();
    let output = reactor.spawn_local(async move { awaited.await.unwrap() * 2 });
    let result = Rc::new(Cell::new(0));
    let slot = result.clone();
    output.add_callback(move |v| {
        slot.set(v);
        Ok(())
    });
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert_eq!(result.get(), 0);
    input.callback(21).unwrap();
    turn_until(&reactor, 5, || result.get() == 42);
}

/// A local task can await a timer through defer_later on the reactor's fake clock.
#[test]
fn spawn_local_awaits_timers() {
    let clock = FakeClock::new();
    let reactor = Reactor::builder()
        .clock(clock.clock())
        .install_signal_handlers(false)
        .build()
        .unwrap();
    let timer_clock = reactor.clock().clone();
    let done = Rc::new(Cell::new(false));
    let flag = done.clone();
    let _task = reactor.spawn_local(async move {
        defer_later(&timer_clock, Duration::from_secs(10), || ())
            .await
            .unwrap();
        flag.set(true);
    });
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    clock.advance(Duration::from_secs(9));
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert!(!done.get());
    clock.advance(Duration::from_secs(1));
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    assert!(done.get());
}

/// Cancelling a spawned task's Deferred drops the future and fails with CancelledError.
#[test]
fn cancelling_a_task_drops_its_future() {
    let reactor = reactor();
    let never: Deferred<()> = Deferred::new();
    let dropped = Rc::new(Cell::new(false));
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let flag = Flag(dropped.clone());
    let awaited = never.clone();
    let task = reactor.spawn_local(async move {
        let _flag = flag;
        let _ = awaited.await;
    });
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    let cancelled = Rc::new(Cell::new(false));
    let seen = cancelled.clone();
    let handled = task.clone().add_errback(move |failure| {
        seen.set(failure.check::<CancelledError>());
        Ok(())
    });
    task.cancel();
    assert!(dropped.get() && cancelled.get());
    drop(handled);
}

/// defer_to_thread runs the function elsewhere and fires the Deferred on the reactor thread.
#[test]
fn defer_to_thread_returns_the_result() {
    let reactor = reactor();
    let reactor_thread = std::thread::current().id();
    let result = Rc::new(Cell::new(None));
    let slot = result.clone();
    reactor
        .defer_to_thread(move || std::thread::current().id() != reactor_thread)
        .add_callback(move |other_thread| {
            slot.set(Some(other_thread));
            Ok(())
        });
    turn_until(&reactor, 20, || result.get().is_some());
    assert_eq!(result.get(), Some(true));
}

/// A panic in a defer_to_thread function fails the Deferred with ThreadPanicked.
#[test]
fn defer_to_thread_panic_fails_the_deferred() {
    let reactor = reactor();
    let failed = Rc::new(Cell::new(false));
    let slot = failed.clone();
    reactor
        .defer_to_thread(|| -> u8 { panic!("deliberate") })
        .add_errback(move |failure| {
            slot.set(failure.check::<ThreadPanicked>());
            Ok(0)
        });
    turn_until(&reactor, 20, || failed.get());
}

/// A pending timer is waited for: the loop neither spins on it nor sleeps past it.
#[test]
fn pending_timer_is_waited_for() {
    let reactor = reactor();
    let fired_at = Rc::new(Cell::new(None));
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    let start = reactor.now();
    let (slot, clock, handle) = (fired_at.clone(), reactor.clock().clone(), reactor.handle());
    reactor.call_later(Duration::from_millis(20), move || {
        slot.set(Some(clock.now()));
        handle.wake();
    });
    let mut turns = 0;
    while fired_at.get().is_none() {
        reactor.iterate(Some(Duration::from_secs(5))).unwrap();
        turns += 1;
        assert!(turns <= 3, "the loop spun {turns} times for one timer");
    }
    let waited = fired_at.get().unwrap() - start;
    assert!(
        waited < Duration::from_secs(1),
        "the loop overslept: {waited:?}"
    );
}

/// A delay counts from the call, not from a turn that started long before it.
#[test]
#[allow(clippy::disallowed_methods)]
fn call_later_counts_from_the_call() {
    let reactor = reactor();
    reactor.iterate(Some(Duration::ZERO)).unwrap();
    let turn_start = reactor.now();
    // Busy (not sleeping) for a while after the turn began, as an application import would be.
    while std::time::Instant::now() < turn_start + Duration::from_millis(30) {
        std::hint::spin_loop();
    }
    let call = reactor.call_later(Duration::from_millis(10), || {});
    assert!(call.time() >= turn_start + Duration::from_millis(40));
}

/// With a fake clock the loop does not wait on real time for fake timers.
#[test]
fn fake_clock_timers_wait_for_advance() {
    let clock = FakeClock::new();
    let reactor = Reactor::with_clock(&clock).unwrap();
    let fired = Rc::new(Cell::new(false));
    let flag = fired.clone();
    reactor.call_later(Duration::from_secs(60), move || flag.set(true));
    reactor.iterate(Some(Duration::from_millis(1))).unwrap();
    assert!(!fired.get());
    clock.advance(Duration::from_secs(60));
    assert!(fired.get());
}

/// A stop requested from another thread ends run.
#[test]
fn handle_stop_from_another_thread_ends_run() {
    let reactor = reactor();
    let handle = reactor.handle();
    let stopped = Arc::new(AtomicUsize::new(0));
    let seen = stopped.clone();
    reactor.call_when_running(move || {
        std::thread::spawn(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            handle.stop();
        });
    });
    reactor.run().unwrap();
    assert_eq!(stopped.load(Ordering::SeqCst), 1);
}

const SIGNAL_CHILD: &str = "TORSION_SIGNAL_TEST_CHILD";

/// Runs this test binary again as a child that executes `test` with `mode` set.
fn run_child(test: &str, mode: &str, signal: libc::c_int) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(SIGNAL_CHILD, mode)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // A watchdog: a child that never finishes is killed, so the test fails instead of hanging.
    let watchdog = std::thread::spawn(move || {
        for _ in 0..300 {
            std::thread::park_timeout(Duration::from_millis(100));
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut output = String::new();
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        // libtest may print "test NAME ... " on the same line before the child's own output.
        if line.contains("child-ready") {
            let pid = i32::try_from(child.id()).unwrap();
            std::process::Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .status()
                .unwrap();
        }
        output.push_str(&line);
        line.clear();
    }
    let status = child.wait().unwrap();
    watchdog.thread().unpark();
    assert!(status.success(), "child failed ({status}):\n{output}");
    output
}

/// In the child: runs a reactor with signal handlers and reports what happened.
fn signal_child(mode: &str) {
    let reactor = Reactor::new().unwrap();
    reactor.add_system_event_trigger(torsion::reactor::Phase::Before, "shutdown", || {
        println!("shutdown");
    });
    if mode == "hup" {
        let stopper = reactor.clone();
        reactor
            .on_signal(Signal::Hangup, move || {
                println!("hangup");
                stopper.stop().unwrap();
            })
            .unwrap();
    }
    reactor.call_when_running(|| println!("child-ready"));
    reactor.run().unwrap();
    println!("returned");
}

/// SIGTERM starts an orderly shutdown: shutdown triggers run and run returns.
#[test]
fn sigterm_shuts_down_in_order() {
    if let Ok(mode) = std::env::var(SIGNAL_CHILD) {
        return signal_child(&mode);
    }
    let output = run_child(
        "reactor::sigterm_shuts_down_in_order",
        "term",
        libc::SIGTERM,
    );
    assert!(
        output.contains("child-ready\nshutdown\nreturned"),
        "{output}"
    );
}

/// SIGINT starts an orderly shutdown too.
#[test]
fn sigint_shuts_down_in_order() {
    if let Ok(mode) = std::env::var(SIGNAL_CHILD) {
        return signal_child(&mode);
    }
    let output = run_child("reactor::sigint_shuts_down_in_order", "int", libc::SIGINT);
    assert!(
        output.contains("child-ready\nshutdown\nreturned"),
        "{output}"
    );
}

/// A SIGHUP hook runs on the reactor thread instead of the process dying.
#[test]
fn sighup_reaches_its_hook() {
    if let Ok(mode) = std::env::var(SIGNAL_CHILD) {
        return signal_child(&mode);
    }
    let output = run_child("reactor::sighup_reaches_its_hook", "hup", libc::SIGHUP);
    assert!(
        output.contains("child-ready\nhangup\nshutdown\nreturned"),
        "{output}"
    );
}

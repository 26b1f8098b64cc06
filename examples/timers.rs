//! Time with the deterministic fake clock: delayed calls, cancel/reset, a looping call that
//! skips missed intervals, and `defer_later`. Runs instantly: no real time passes.
//!
//! `cargo run --example timers`

use std::time::Duration;

use torsion::time::{FakeClock, LoopingCall, defer_later};

fn main() {
    let clock = FakeClock::new();
    let start = clock.now();

    let reminder = clock.call_later(Duration::from_secs(10), || println!("never printed"));
    let report = clock.clock();
    clock.call_later(Duration::from_secs(3), move || {
        println!("3 s: a delayed call ran at +{:?}", report.now() - start);
    });
    reminder.reset(Duration::from_secs(20)).expect("pending");
    reminder.cancel().expect("pending");

    let ticks = clock.clock();
    let looping = LoopingCall::with_count(&clock.clock(), move |count| {
        println!(
            "tick at +{:?} ({count} interval(s) since the last)",
            ticks.now() - start
        );
    });
    let stopped = looping
        .start(Duration::from_secs(1), true)
        .expect("not running");
    stopped.add_callback(|()| {
        println!("the looping call stopped");
        Ok(())
    });

    defer_later(&clock.clock(), Duration::from_secs(4), || 6 * 7).add_callback(|answer| {
        println!("4 s: defer_later fired with {answer}");
        Ok(())
    });

    clock.pump(&[Duration::from_secs(1); 3]);
    clock.advance(Duration::from_millis(2_500)); // late: two intervals are skipped, and counted
    looping.stop().expect("running");
    println!("pending calls left: {}", clock.pending_count());
}

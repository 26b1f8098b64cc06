//! Delayed-call costs: schedule + cancel, and firing, one million calls at a time.
//!
//! Cases, each the best of a few repetitions, each printed as one `RESULT key=value ...` line:
//!
//! - `schedule_cancel` / `interleaved`: schedule a call and cancel it at once, a million times
//!   (a timeout armed and disarmed per request); on a `FakeClock` and on a reactor's clock;
//!   the heap length and the growth of resident memory afterwards show that cancelled calls
//!   leave nothing behind;
//! - `schedule_cancel` / `batch`: schedule a million calls, then cancel them all;
//! - `fire` / `distinct`: schedule a million calls at distinct times, in shuffled order, on a
//!   `FakeClock`, then `advance` past them all; the schedule and the firing are timed apart;
//! - `fire` / `identical`: the same with every call due at one instant;
//! - `fire` / `reactor`: schedule a million calls on a reactor's clock, then `iterate` until
//!   they have all run.
//!
//! Run with `cargo bench --bench timers`, or as part of `benches/run.sh`.

#[path = "support/proc_stats.rs"]
mod proc_stats;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::reactor::Reactor;
use torsion::time::{Clock, DelayedCall, FakeClock};

const CALLS: u64 = 1_000_000;
const REPETITIONS: usize = 5;
/// A prime coprime with `CALLS`: `i * SHUFFLE % CALLS` visits every slot once, out of order.
const SHUFFLE: u64 = 999_983;

/// Counts the calls that ran.
type Counter = Rc<Cell<u64>>;

/// Best times of one case, per call.
struct Timing {
    schedule: Duration,
    fire: Duration,
}

fn main() {
    // `cargo bench` passes `--bench`; there are no options to read.
    schedule_cancel_case("interleaved", "fake", || FakeClock::new().clock());
    schedule_cancel_case("interleaved", "reactor", reactor_clock);
    schedule_cancel_case("batch", "fake", || FakeClock::new().clock());
    schedule_cancel_case("batch", "reactor", reactor_clock);
    fire_case("distinct", || fire_on_fake_clock(shuffled_delay));
    fire_case("identical", || {
        fire_on_fake_clock(|_| Duration::from_millis(1))
    });
    fire_case("reactor", fire_on_reactor);
}

#[allow(clippy::disallowed_methods)]
fn clock_now() -> Instant {
    Instant::now()
}

fn reactor_clock() -> Clock {
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("a reactor for the timer bench");
    reactor.clock().clone()
}

fn shuffled_delay(index: u64) -> Duration {
    Duration::from_nanos(index * SHUFFLE % CALLS + 1)
}

fn counting_call(counter: &Counter) -> impl FnOnce() + 'static {
    let counter = counter.clone();
    move || counter.set(counter.get() + 1)
}

/// Nanoseconds per call of a run of `CALLS` calls that took `total`.
fn ns_per_call(total: Duration) -> f64 {
    total.as_secs_f64() * 1e9 / CALLS as f64
}

fn schedule_cancel_case(order: &str, clock_kind: &str, make_clock: impl Fn() -> Clock) {
    let rss_before = proc_stats::resident_bytes("self").expect("read VmRSS");
    let mut best = Duration::MAX;
    let mut heap_len_after = 0;
    for _ in 0..REPETITIONS {
        let clock = make_clock();
        let counter = Counter::default();
        let elapsed = match order {
            "interleaved" => schedule_cancel_interleaved(&clock, &counter),
            _ => schedule_cancel_batch(&clock, &counter),
        };
        best = best.min(elapsed);
        heap_len_after = clock.timer_heap_len();
        assert_eq!(clock.pending_count(), 0, "cancelled calls are not pending");
        assert_eq!(counter.get(), 0, "no cancelled call ran");
    }
    let rss_after = proc_stats::resident_bytes("self").expect("read VmRSS");
    println!(
        "RESULT bench=timers case=schedule_cancel order={order} clock={clock_kind} calls={CALLS} \
         ns_per_op={:.1} heap_len_after={heap_len_after} rss_growth_kib={}",
        ns_per_call(best),
        rss_after.saturating_sub(rss_before) / 1024,
    );
}

fn schedule_cancel_interleaved(clock: &Clock, counter: &Counter) -> Duration {
    let start = clock_now();
    for index in 0..CALLS {
        let call = clock.call_later(shuffled_delay(index), counting_call(counter));
        call.cancel().expect("a pending call cancels");
    }
    clock_now() - start
}

fn schedule_cancel_batch(clock: &Clock, counter: &Counter) -> Duration {
    let mut calls: Vec<DelayedCall> = Vec::with_capacity(CALLS as usize);
    let start = clock_now();
    for index in 0..CALLS {
        calls.push(clock.call_later(shuffled_delay(index), counting_call(counter)));
    }
    for call in &calls {
        call.cancel().expect("a pending call cancels");
    }
    let elapsed = clock_now() - start;
    drop(calls);
    elapsed
}

fn fire_case(case: &str, run_once: impl Fn() -> Timing) {
    let mut schedule = Duration::MAX;
    let mut fire = Duration::MAX;
    for _ in 0..REPETITIONS {
        let timing = run_once();
        schedule = schedule.min(timing.schedule);
        fire = fire.min(timing.fire);
    }
    println!(
        "RESULT bench=timers case=fire order={case} calls={CALLS} schedule_ns_per_op={:.1} \
         fire_ns_per_op={:.1}",
        ns_per_call(schedule),
        ns_per_call(fire),
    );
}

fn fire_on_fake_clock(delay_of: impl Fn(u64) -> Duration) -> Timing {
    let clock = FakeClock::new();
    let counter = Counter::default();
    let start = clock_now();
    for index in 0..CALLS {
        clock.call_later(delay_of(index), counting_call(&counter));
    }
    let scheduled = clock_now();
    clock.advance(Duration::from_secs(1));
    let fired = clock_now();
    assert_eq!(counter.get(), CALLS, "every call ran");
    Timing {
        schedule: scheduled - start,
        fire: fired - scheduled,
    }
}

fn fire_on_reactor() -> Timing {
    let reactor = Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("a reactor for the timer bench");
    let counter = Counter::default();
    let start = clock_now();
    for index in 0..CALLS {
        reactor.call_later(shuffled_delay(index), counting_call(&counter));
    }
    let scheduled = clock_now();
    // Every call is due within a millisecond of the first one's scheduling.
    std::thread::sleep(Duration::from_millis(2));
    let slept = clock_now();
    while counter.get() < CALLS {
        reactor
            .iterate(Some(Duration::ZERO))
            .expect("a reactor turn");
    }
    let fired = clock_now();
    Timing {
        schedule: scheduled - start,
        fire: fired - slept,
    }
}

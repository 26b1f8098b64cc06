//! Delayed-call costs: schedule + cancel, and firing, one million calls at a time.
//!
//! Cases, each the best of a few repetitions, each printed as one `RESULT key=value ...` line:
//!
//! - `schedule_cancel` / `interleaved`: schedule a call and cancel it at once, a million times
//!   (a timeout armed and disarmed per request); on a `FakeClock` and on a reactor's clock;
//!   the heap length and the growth of resident memory afterwards show that cancelled calls
//!   leave nothing behind;
//! - `schedule_cancel` / `batch`: schedule a million calls, then cancel them all;
//! - `fire` on a `FakeClock`: schedule a million calls, then `advance` past them all; the
//!   schedule and the firing are timed apart. `shuffled`: distinct due times in random order;
//!   `ascending`: distinct due times in scheduling order (timeouts of one length armed one
//!   after another); `identical`: all due at one instant;
//! - `fire` on a reactor's clock: the same through `Reactor::iterate` until all have run.
//!
//! Delays are a few nanoseconds to a millisecond, so the calls are due at once.
//!
//! Run with `cargo bench --bench timers [-- CASE...]` (case names as in `main`), or as part of
//! `benches/run.sh`.

#[path = "support/proc_stats.rs"]
mod proc_stats;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::reactor::Reactor;
use torsion::time::{Clock, DelayedCall, FakeClock};

const CALLS: u64 = 1_000_000;
const REPETITIONS: usize = 5;

/// Counts the calls that ran.
type Counter = Rc<Cell<u64>>;

/// Best times of one case, per call.
struct Timing {
    schedule: Duration,
    fire: Duration,
}

fn main() {
    // Optional arguments pick cases by name (`cargo bench` passes `--bench`, which is ignored).
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let shuffled = shuffled_delays();
    let ascending: Vec<Duration> = (1..=CALLS).map(Duration::from_nanos).collect();
    let identical = vec![Duration::from_millis(1); CALLS as usize];
    let fake = || FakeClock::new().clock();
    let cases: [(&str, &dyn Fn()); 9] = [
        ("cancel-interleaved-fake", &|| {
            schedule_cancel_case("interleaved", "fake", fake, &shuffled)
        }),
        ("cancel-interleaved-reactor", &|| {
            schedule_cancel_case("interleaved", "reactor", reactor_clock, &shuffled)
        }),
        ("cancel-batch-fake", &|| {
            schedule_cancel_case("batch", "fake", fake, &shuffled)
        }),
        ("cancel-batch-reactor", &|| {
            schedule_cancel_case("batch", "reactor", reactor_clock, &shuffled)
        }),
        ("fire-shuffled", &|| {
            let clock = FakeClock::new();
            fire_case("shuffled", "fake", || fire_on_fake_clock(&clock, &shuffled))
        }),
        ("fire-ascending", &|| {
            let clock = FakeClock::new();
            fire_case("ascending", "fake", || {
                fire_on_fake_clock(&clock, &ascending)
            })
        }),
        ("fire-identical", &|| {
            let clock = FakeClock::new();
            fire_case("identical", "fake", || {
                fire_on_fake_clock(&clock, &identical)
            })
        }),
        ("fire-reactor-shuffled", &|| {
            let reactor = quiet_reactor();
            fire_case("shuffled", "reactor", || {
                fire_on_reactor(&reactor, &shuffled)
            })
        }),
        ("fire-reactor-ascending", &|| {
            let reactor = quiet_reactor();
            fire_case("ascending", "reactor", || {
                fire_on_reactor(&reactor, &ascending)
            })
        }),
    ];
    for (name, run) in cases {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            run();
        }
    }
}

#[allow(clippy::disallowed_methods)]
fn clock_now() -> Instant {
    Instant::now()
}

fn quiet_reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("a reactor for the timer bench")
}

fn reactor_clock() -> Clock {
    quiet_reactor().clock().clone()
}

/// The delays 1..=CALLS nanoseconds, each once, in a fixed pseudo-random order.
fn shuffled_delays() -> Vec<Duration> {
    let mut delays: Vec<Duration> = (1..=CALLS).map(Duration::from_nanos).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for index in (1..delays.len()).rev() {
        // xorshift64: deterministic, and good enough to scatter the heap positions.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let other = (state % (index as u64 + 1)) as usize;
        delays.swap(index, other);
    }
    delays
}

fn counting_call(counter: &Counter) -> impl FnOnce() + 'static {
    let counter = counter.clone();
    move || counter.set(counter.get() + 1)
}

/// Nanoseconds per call of a run of `CALLS` calls that took `total`.
fn ns_per_call(total: Duration) -> f64 {
    total.as_secs_f64() * 1e9 / CALLS as f64
}

fn schedule_cancel_case(
    order: &str,
    clock_kind: &str,
    make_clock: impl Fn() -> Clock,
    delays: &[Duration],
) {
    let rss_before = proc_stats::resident_bytes("self").expect("read VmRSS");
    let mut best = Duration::MAX;
    let mut heap_len_after = 0;
    // One clock and one list of handles for all repetitions: later ones run on warm memory.
    let clock = make_clock();
    let mut calls = Vec::with_capacity(delays.len());
    for _ in 0..REPETITIONS {
        let counter = Counter::default();
        let elapsed = match order {
            "interleaved" => schedule_cancel_interleaved(&clock, &counter, delays),
            _ => schedule_cancel_batch(&clock, &counter, delays, &mut calls),
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

fn schedule_cancel_interleaved(clock: &Clock, counter: &Counter, delays: &[Duration]) -> Duration {
    let start = clock_now();
    for &delay in delays {
        let call = clock.call_later(delay, counting_call(counter));
        call.cancel().expect("a pending call cancels");
    }
    clock_now() - start
}

fn schedule_cancel_batch(
    clock: &Clock,
    counter: &Counter,
    delays: &[Duration],
    calls: &mut Vec<DelayedCall>,
) -> Duration {
    let start = clock_now();
    for &delay in delays {
        calls.push(clock.call_later(delay, counting_call(counter)));
    }
    for call in calls.iter() {
        call.cancel().expect("a pending call cancels");
    }
    let elapsed = clock_now() - start;
    calls.clear();
    elapsed
}

fn fire_case(order: &str, clock_kind: &str, mut run_once: impl FnMut() -> Timing) {
    let mut schedule = Duration::MAX;
    let mut fire = Duration::MAX;
    for _ in 0..REPETITIONS {
        let timing = run_once();
        schedule = schedule.min(timing.schedule);
        fire = fire.min(timing.fire);
    }
    println!(
        "RESULT bench=timers case=fire order={order} clock={clock_kind} calls={CALLS} \
         schedule_ns_per_op={:.1} \
         fire_ns_per_op={:.1}",
        ns_per_call(schedule),
        ns_per_call(fire),
    );
}

fn fire_on_fake_clock(clock: &FakeClock, delays: &[Duration]) -> Timing {
    let counter = Counter::default();
    let start = clock_now();
    for &delay in delays {
        clock.call_later(delay, counting_call(&counter));
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

fn fire_on_reactor(reactor: &Reactor, delays: &[Duration]) -> Timing {
    let counter = Counter::default();
    let start = clock_now();
    for &delay in delays {
        reactor.call_later(delay, counting_call(&counter));
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

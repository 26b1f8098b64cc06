//! Other threads and async code: `call_from_thread`, a typed thread channel (many messages per
//! wakeup), `defer_to_thread`, and a local async task awaiting Deferreds and timers.
//!
//! `cargo run --example threads_and_tasks`

use std::time::Duration;

use torsion::reactor::Reactor;
use torsion::time::defer_later;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;

    let handle = reactor.handle();
    let results = reactor.thread_channel(|line: String| println!("channel: {line}"));
    std::thread::spawn(move || {
        for n in 1..=3 {
            let _ = results.send(format!("message {n} from a worker thread"));
        }
        handle.call_from_thread(|_| println!("call_from_thread: on the reactor thread"));
    });

    let lookup = reactor.defer_to_thread(|| (1..=1_000_000u64).sum::<u64>());
    let clock = reactor.clock().clone();
    let stopper = reactor.clone();
    reactor.spawn_local(async move {
        let sum = lookup.await.expect("the sum");
        println!("task: defer_to_thread gave {sum}");
        defer_later(&clock, Duration::from_millis(20), || ())
            .await
            .expect("a timer");
        println!("task: 20 ms later, stopping");
        let _ = stopper.stop();
    });
    reactor.run()?;
    Ok(())
}

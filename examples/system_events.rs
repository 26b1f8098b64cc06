//! System event triggers: startup and shutdown phases, a "before shutdown" trigger that
//! returns a Deferred the loop waits for (while still turning), and an event of our own.
//!
//! `cargo run --example system_events`

use std::time::Duration;

use torsion::defer::Deferred;
use torsion::reactor::{Phase, Reactor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    reactor.add_system_event_trigger(Phase::Before, "startup", || println!("before startup"));
    reactor.add_system_event_trigger(Phase::After, "startup", || println!("after startup"));

    let drain = reactor.clone();
    reactor.add_system_event_trigger(Phase::Before, "shutdown", move || {
        println!("before shutdown: finishing in-flight work for 50 ms");
        let done: Deferred<()> = Deferred::new();
        let firer = done.clone();
        drain.call_later(Duration::from_millis(50), move || {
            println!("in-flight work finished");
            let _ = firer.callback(());
        });
        done
    });
    reactor.add_system_event_trigger(Phase::During, "shutdown", || println!("during shutdown"));
    reactor.add_system_event_trigger(Phase::After, "shutdown", || println!("after shutdown"));

    reactor.add_system_event_trigger(Phase::During, "reload", || println!("reloading"));
    let running = reactor.clone();
    reactor.call_when_running(move || {
        println!("running");
        running.fire_system_event("reload");
        let _ = running.stop();
    });
    reactor.run()?;
    println!("run returned");
    Ok(())
}

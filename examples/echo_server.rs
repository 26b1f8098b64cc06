//! A TCP echo server on the reactor: `cargo run --example echo_server -- 127.0.0.1:8000`,
//! then `nc 127.0.0.1 8000`. Ctrl-C stops it through an orderly shutdown.

use std::rc::Rc;

use torsion::reactor::{Phase, Reactor};
use torsion::transport::{Address, ListenOptions, Protocol, Transport, listen_tcp};

/// Sends every byte it receives straight back.
#[derive(Default)]
struct Echo {
    transport: Option<Rc<dyn Transport>>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8000".into());
    let reactor = Reactor::new()?;
    let factory = |_peer: &Address| Some(Box::new(Echo::default()) as Box<dyn Protocol>);
    let port = listen_tcp(
        &reactor,
        address.parse()?,
        &ListenOptions::default(),
        factory,
    )?;
    println!("echoing on {}", port.address());
    reactor.add_system_event_trigger(Phase::Before, "shutdown", || println!("shutting down"));
    reactor.run()?;
    Ok(())
}

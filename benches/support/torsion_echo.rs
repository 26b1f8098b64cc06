//! The echo server on the torsion reactor: a `Protocol` that writes back what it receives, as
//! in `examples/echo_server.rs`.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use torsion::reactor::Reactor;
use torsion::transport::{Address, ListenOptions, Port, Protocol, Transport, listen_tcp};

/// Length of the listen queue: large enough that a burst of connects is never dropped.
const BACKLOG: u32 = 1024;

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

/// Listens on `address` with the echo protocol.
pub(crate) fn listen(reactor: &Reactor, address: SocketAddr) -> io::Result<Port> {
    let options = ListenOptions {
        backlog: BACKLOG,
        ..ListenOptions::default()
    };
    let factory = |_peer: &Address| Some(Box::new(Echo::default()) as Box<dyn Protocol>);
    listen_tcp(reactor, address, &options, factory)
}

/// The bound TCP address of `port`, for the "listening on" line.
pub(crate) fn bound_address(port: &Port) -> String {
    match port.address().tcp() {
        Some(address) => address.to_string(),
        None => port.address().to_string(),
    }
}

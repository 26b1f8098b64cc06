//! Endpoint strings: parse a server and a client description, listen on one, connect with the
//! other, exchange a line, and show the one-line error a malformed string gets.
//!
//! `cargo run --example endpoints`

use std::rc::Rc;
use std::time::Duration;

use torsion::endpoints::{connect, listen, parse_client, parse_server};
use torsion::reactor::Reactor;
use torsion::transport::{Address, DisconnectReason, Protocol, Transport};

/// Answers each chunk with its upper-case version.
#[derive(Default)]
struct Shout(Option<Rc<dyn Transport>>);

impl Protocol for Shout {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.0 = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            t.write(&data.to_ascii_uppercase());
        }
    }
}

/// Prints what comes back and stops the reactor.
struct Client(Reactor);

impl Protocol for Client {
    fn data_received(&mut self, data: &[u8]) {
        println!("client got {:?}", String::from_utf8_lossy(data));
        let _ = self.0.stop();
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        println!("client: {reason}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Err(error) = parse_server("tcp:80x:backlog=5") {
        println!("{error}");
    }
    let reactor = Reactor::new()?;
    let server = parse_server(r"tcp:0:interface=127.0.0.1")?;
    let factory = |_: &Address| Some(Box::new(Shout::default()) as Box<dyn Protocol>);
    let port = listen(&reactor, &server, factory)?;
    let Some(addr) = port.address().tcp() else {
        return Err("expected a TCP address".into());
    };
    println!("listening on {server} (bound to {addr})");

    let client = parse_client(&format!("tcp:127.0.0.1:{}:timeout=5", addr.port()))?;
    connect(&reactor, &client, Box::new(Client(reactor.clone()))).add_callback(|transport| {
        println!("connected to {}", transport.peer_address());
        transport.write(b"hello, endpoints");
        Ok(())
    });
    let guard = reactor.clone();
    reactor.call_later(Duration::from_secs(5), move || {
        let _ = guard.stop();
    });
    reactor.run()?;
    Ok(())
}

//! The channel's own duties: output batching (seen through an in-memory
//! transport) and half-closed connections.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use torsion::time::FakeClock;
use torsion::transport::{Address, Factory, Producer, Transport};
use torsion::web::{Render, Site, SiteConfig, StaticData};

use super::support::{FnResource, MAX_TURNS, Server, parse_responses};
use crate::util::{Peer, new_reactor, turn_until};

/// A transport that records each write and whether it was asked to close.
#[derive(Default)]
struct MemoryTransport {
    writes: RefCell<Vec<Vec<u8>>>,
    closing: Cell<bool>,
}

impl Transport for MemoryTransport {
    fn write(&self, data: &[u8]) {
        self.writes.borrow_mut().push(data.to_vec());
    }

    fn lose_connection(&self) {
        self.closing.set(true);
    }

    fn abort_connection(&self) {
        self.closing.set(true);
    }

    fn write_eof(&self) {}

    fn peer_address(&self) -> Address {
        Address::Tcp(SocketAddr::from(([192, 0, 2, 1], 40000)))
    }

    fn host_address(&self) -> Address {
        Address::Tcp(SocketAddr::from(([192, 0, 2, 2], 80)))
    }

    fn register_producer(&self, _producer: Rc<dyn Producer>, _streaming: bool) {}

    fn unregister_producer(&self) {}

    fn pause_producing(&self) {}

    fn resume_producing(&self) {}

    fn set_write_watermarks(&self, _low: usize, _high: usize) {}

    fn buffered_len(&self) -> usize {
        0
    }

    fn is_connected(&self) -> bool {
        !self.closing.get()
    }
}

/// Pipelined requests answered within one input leave in a single transport write.
#[test]
fn pipelined_responses_leave_in_one_write() {
    let clock = FakeClock::new();
    let root = Rc::new(StaticData::new("hi", "text/plain"));
    let mut site = Site::with_config(clock.clock(), root, SiteConfig::default());
    let transport = Rc::new(MemoryTransport::default());
    let mut channel = site
        .build_protocol(&transport.peer_address())
        .expect("a channel");
    channel.connection_made(transport.clone());
    channel.data_received(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let writes = transport.writes.borrow();
    assert_eq!(writes.len(), 1, "{} writes", writes.len());
    let responses = parse_responses(&writes[0]);
    assert_eq!(responses.len(), 3);
    assert!(responses.iter().all(|r| r.text() == "hi"));
    assert!(
        transport.closing.get(),
        "Connection: close was not honoured"
    );
}

/// A client that half-closes after its request still gets the (late) response.
#[test]
fn half_closed_client_still_gets_its_response() {
    let reactor = new_reactor();
    let clock = reactor.clock().clone();
    let root = FnResource::new(move |request| {
        let request = request.clone();
        clock.call_later(Duration::from_millis(20), move || {
            request.write(b"after eof");
            request.finish();
        });
        Render::NotDoneYet
    });
    let server = Server::start_with(reactor, root, SiteConfig::default());
    let mut peer = Peer::connect(&server.address);
    peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    peer.stream.shutdown_write().expect("half-close");
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        peer.ended()
    });
    let responses = parse_responses(&peer.received);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].text(), "after eof");
    assert!(peer.error.is_none(), "{:?}", peer.error);
}

//! Behaviours every stream transport shares, written once and run over TCP (tcp.rs) and UNIX
//! sockets (unix.rs).

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use torsion::payload::Payload;
use torsion::reactor::Reactor;
use torsion::transport::{
    Address, Factory, ListenOptions, Port, Producer, Protocol, Transport, listen_tcp, listen_unix,
};

use crate::util::{
    Accepted, Ended, Log, Peer, PeerStream, Recorder, TempDir, new_reactor, pattern, turn_until,
};

/// A socket family to run a case over.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Family {
    Tcp,
    Unix,
}

/// A listening port and, for UNIX sockets, the directory holding its socket file.
pub(crate) struct Server {
    pub(crate) port: Port,
    pub(crate) address: Address,
    _dir: Option<TempDir>,
}

/// Listens on a fresh local address of `family` with default options.
pub(crate) fn listen(family: Family, reactor: &Reactor, factory: impl Factory + 'static) -> Server {
    listen_with(family, reactor, &ListenOptions::default(), factory)
}

/// Listens on a fresh local address of `family`.
pub(crate) fn listen_with(
    family: Family,
    reactor: &Reactor,
    options: &ListenOptions,
    factory: impl Factory + 'static,
) -> Server {
    let (port, dir) = match family {
        Family::Tcp => {
            let addr = "127.0.0.1:0".parse().expect("address");
            let port = listen_tcp(reactor, addr, options, factory).expect("listen on TCP");
            (port, None)
        }
        Family::Unix => {
            let dir = TempDir::new("listen");
            let path = dir.join("s.sock");
            let port = listen_unix(reactor, &path, options, factory).expect("listen on UNIX");
            (port, Some(dir))
        }
    };
    let address = port.address();
    Server {
        port,
        address,
        _dir: dir,
    }
}

/// Turns until the `index`th accepted connection has been made; returns its log.
fn accepted_connection(reactor: &Reactor, accepted: &Accepted, index: usize) -> Log {
    turn_until(reactor, 200, || {
        accepted.len() > index && accepted.nth(index).borrow().made == 1
    });
    accepted.nth(index)
}

pub(crate) fn echo_round_trip_small(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(Recorder::echoing));
    let mut peer = Peer::connect(&server.address);
    peer.send(b"hello, reactor");
    turn_until(&reactor, 200, || {
        peer.pump();
        peer.received.len() >= 14 || peer.ended()
    });
    assert_eq!(peer.received, b"hello, reactor");
}

pub(crate) fn echo_round_trip_large(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(Recorder::echoing));
    let payload = pattern(4 * 1024 * 1024 + 13, 7);
    let mut peer = Peer::connect(&server.address);
    peer.send(&payload);
    turn_until(&reactor, 2_000, || {
        peer.pump();
        peer.received.len() >= payload.len() || peer.ended()
    });
    assert_eq!(peer.received.len(), payload.len());
    assert!(peer.received == payload, "the echoed bytes differ");
}

pub(crate) fn concurrent_connections_get_their_own_bytes(family: Family) {
    const CONNECTIONS: usize = 64;
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let options = ListenOptions {
        backlog: 128,
        ..ListenOptions::default()
    };
    let server = listen_with(
        family,
        &reactor,
        &options,
        accepted.factory(Recorder::echoing),
    );
    let payloads: Vec<Vec<u8>> = (0..CONNECTIONS)
        .map(|i| pattern(3000 + i * 17, i as u8))
        .collect();
    let mut peers: Vec<Peer> = (0..CONNECTIONS)
        .map(|_| Peer::connect(&server.address))
        .collect();
    for (peer, payload) in peers.iter_mut().zip(&payloads) {
        peer.send(payload);
    }
    turn_until(&reactor, 2_000, || {
        peers.iter_mut().for_each(Peer::pump);
        peers
            .iter()
            .zip(&payloads)
            .all(|(peer, payload)| peer.received.len() >= payload.len() || peer.ended())
    });
    assert_eq!(accepted.len(), CONNECTIONS);
    for (index, (peer, payload)) in peers.iter().zip(&payloads).enumerate() {
        assert!(
            peer.received == *payload,
            "connection {index} got {} bytes that are not its own {}",
            peer.received.len(),
            payload.len()
        );
    }
}

pub(crate) fn lose_connection_flushes_then_closes_once(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    let payload = pattern(8 * 1024 * 1024, 1);
    transport.write(&payload);
    assert!(
        transport.buffered_len() > 0,
        "the payload should not fit in the socket at once"
    );
    transport.lose_connection();
    reactor.iterate(Some(Duration::ZERO)).expect("turn");
    assert!(
        log.borrow().ended.is_empty(),
        "closed before the buffer was sent"
    );
    turn_until(&reactor, 2_000, || {
        peer.pump_reads();
        peer.ended()
    });
    assert!(peer.error.is_none(), "peer error: {:?}", peer.error);
    assert!(peer.eof);
    assert_eq!(peer.received.len(), payload.len());
    assert!(
        peer.received == payload,
        "the bytes sent before closing differ"
    );
    for _ in 0..3 {
        reactor.iterate(Some(Duration::ZERO)).expect("turn");
    }
    assert_eq!(log.borrow().ended, [Ended::Done]);
    assert!(!transport.is_connected());
}

pub(crate) fn abort_connection_discards_buffer(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    let payload = pattern(16 * 1024 * 1024, 2);
    transport.write(&payload);
    assert!(transport.buffered_len() > 0);
    transport.abort_connection();
    turn_until(&reactor, 2_000, || {
        peer.pump_reads();
        peer.ended()
    });
    assert!(
        peer.received.len() < payload.len(),
        "the buffered data was sent anyway"
    );
    assert!(payload.starts_with(&peer.received));
    assert_eq!(log.borrow().ended, [Ended::Aborted]);
    assert_eq!(transport.buffered_len(), 0);
}

pub(crate) fn writes_after_lose_connection_are_dropped(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    transport.write(b"before");
    transport.lose_connection();
    transport.write(b"after");
    assert_eq!(transport.buffered_len(), 6);
    peer.read_to_end(&reactor);
    assert!(peer.eof);
    assert_eq!(peer.received, b"before");
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

pub(crate) fn half_closed_connection_can_still_reply(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(
        family,
        &reactor,
        accepted.factory(Recorder::keeping_open_on_eof),
    );
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    peer.send(b"question");
    peer.stream.shutdown_write().expect("shutdown");
    turn_until(&reactor, 200, || log.borrow().eofs == 1);
    for _ in 0..3 {
        reactor.iterate(Some(Duration::ZERO)).expect("turn");
    }
    let transport = log.borrow().transport();
    assert!(
        transport.is_connected(),
        "closed although eof_received returned true"
    );
    assert!(log.borrow().ended.is_empty());
    assert_eq!(log.borrow().received, b"question");
    transport.write(b"answer");
    transport.lose_connection();
    peer.read_to_end(&reactor);
    assert!(peer.eof);
    assert_eq!(peer.received, b"answer");
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

pub(crate) fn default_eof_closes_after_flushing(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    let payload = pattern(8 * 1024 * 1024, 4);
    transport.write(&payload);
    peer.send(b"go");
    peer.stream.shutdown_write().expect("shutdown");
    turn_until(&reactor, 200, || log.borrow().eofs == 1);
    assert!(log.borrow().ended.is_empty(), "closed before flushing");
    assert!(transport.buffered_len() > 0);
    turn_until(&reactor, 2_000, || {
        peer.pump_reads();
        peer.ended()
    });
    assert!(peer.eof);
    assert!(
        peer.received == payload,
        "the buffered bytes did not all arrive"
    );
    assert_eq!(log.borrow().received, b"go");
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

pub(crate) fn write_eof_half_closes_from_server(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    transport.write(b"bye");
    transport.write_eof();
    peer.read_to_end(&reactor);
    assert!(peer.eof);
    assert_eq!(peer.received, b"bye");
    peer.send(b"still here");
    turn_until(&reactor, 200, || log.borrow().received.len() >= 10);
    assert_eq!(log.borrow().received, b"still here");
    assert!(log.borrow().ended.is_empty());
    peer.stream.shutdown_write().expect("shutdown");
    turn_until(&reactor, 200, || !log.borrow().ended.is_empty());
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

/// A push producer that records how the transport paused and resumed it.
#[derive(Default)]
struct PushProducer {
    transport: RefCell<Option<Weak<dyn Transport>>>,
    paused: Cell<bool>,
    pauses: Cell<usize>,
    resumes: Cell<usize>,
    stops: Cell<usize>,
    /// The transport's buffered bytes at each pause and each resume.
    buffered_at_pause: RefCell<Vec<usize>>,
    buffered_at_resume: RefCell<Vec<usize>>,
}

impl PushProducer {
    fn buffered(&self) -> usize {
        let transport = self.transport.borrow();
        let transport = transport.as_ref().and_then(Weak::upgrade);
        transport.map_or(0, |transport| transport.buffered_len())
    }
}

impl Producer for PushProducer {
    fn resume_producing(&self) {
        self.paused.set(false);
        self.resumes.set(self.resumes.get() + 1);
        self.buffered_at_resume.borrow_mut().push(self.buffered());
    }

    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
        self.buffered_at_pause.borrow_mut().push(self.buffered());
    }

    fn stop_producing(&self) {
        self.stops.set(self.stops.get() + 1);
    }
}

pub(crate) fn push_producer_paused_and_resumed_by_watermarks(family: Family) {
    const LOW: usize = 2 * 1024;
    const HIGH: usize = 8 * 1024;
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    transport.set_write_watermarks(LOW, HIGH);
    let producer = Rc::new(PushProducer::default());
    *producer.transport.borrow_mut() = Some(Rc::downgrade(&transport));
    transport.register_producer(producer.clone(), true);

    // Small writes accumulate in the buffer; the one that passes HIGH pauses the producer.
    let chunk = [0x5a_u8; 1024];
    let mut sent = Vec::new();
    while !producer.paused.get() {
        assert!(
            transport.buffered_len() <= HIGH,
            "not paused above the high watermark"
        );
        transport.write(&chunk);
        sent.extend_from_slice(&chunk);
    }
    assert_eq!(*producer.buffered_at_pause.borrow(), [HIGH + 1024]);
    // A flush sends it all to the socket: drained below LOW, the producer is resumed.
    reactor.iterate(Some(Duration::ZERO)).expect("turn");
    assert_eq!(*producer.buffered_at_resume.borrow(), [0]);

    // Keep producing while the peer does not read, until the socket is full: the producer
    // then stays paused, with the buffer above LOW, turn after turn.
    let block = pattern(64 * 1024, 9);
    let mut stuck_turns = 0;
    let mut resumes_seen = producer.resumes.get();
    turn_until(&reactor, 1_000, || {
        let resumed = producer.resumes.get() != resumes_seen;
        resumes_seen = producer.resumes.get();
        if producer.paused.get() && !resumed && transport.buffered_len() > LOW {
            stuck_turns += 1;
        } else {
            stuck_turns = 0;
        }
        while !producer.paused.get() {
            transport.write(&block);
            sent.extend_from_slice(&block);
        }
        stuck_turns >= 5
    });
    let resumes_while_full = producer.resumes.get();

    // The peer reads: the buffer drains and the producer is resumed at or below LOW.
    turn_until(&reactor, 1_000, || {
        peer.pump_reads();
        producer.resumes.get() > resumes_while_full
    });
    let at_resume = *producer
        .buffered_at_resume
        .borrow()
        .last()
        .expect("resumed");
    assert!(at_resume <= LOW, "resumed with {at_resume} bytes buffered");
    turn_until(&reactor, 1_000, || {
        peer.pump_reads();
        peer.received.len() >= sent.len() || peer.ended()
    });
    assert!(peer.received == sent, "the produced stream arrived altered");
    assert!(
        producer
            .buffered_at_pause
            .borrow()
            .iter()
            .all(|&b| b > HIGH)
    );
    assert_eq!(producer.stops.get(), 0);
}

/// A pull producer that writes one chunk of a fixed stream each time it is asked.
struct PullSource {
    transport: Weak<dyn Transport>,
    data: Vec<u8>,
    chunk: usize,
    next: Cell<usize>,
    requests: Cell<usize>,
    max_buffered: Cell<usize>,
}

impl Producer for PullSource {
    fn resume_producing(&self) {
        self.requests.set(self.requests.get() + 1);
        let Some(transport) = self.transport.upgrade() else {
            return;
        };
        let start = self.next.get();
        if start >= self.data.len() {
            transport.unregister_producer();
            transport.lose_connection();
            return;
        }
        let end = (start + self.chunk).min(self.data.len());
        transport.write(&self.data[start..end]);
        self.next.set(end);
        let buffered = transport.buffered_len();
        self.max_buffered.set(self.max_buffered.get().max(buffered));
    }

    fn stop_producing(&self) {}
}

pub(crate) fn pull_producer_streams_with_bounded_buffer(family: Family) {
    const CHUNK: usize = 32 * 1024;
    const LOW: usize = 16 * 1024;
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    transport.set_write_watermarks(LOW, 4 * LOW);
    let source = Rc::new(PullSource {
        transport: Rc::downgrade(&transport),
        data: pattern(6 * 1024 * 1024 + 5, 11),
        chunk: CHUNK,
        next: Cell::new(0),
        requests: Cell::new(0),
        max_buffered: Cell::new(0),
    });
    transport.register_producer(source.clone(), false);
    turn_until(&reactor, 2_000, || {
        peer.pump_reads();
        peer.ended()
    });
    assert!(peer.eof, "peer error: {:?}", peer.error);
    assert!(
        peer.received == source.data,
        "the pulled stream arrived altered"
    );
    let chunks = source.data.len().div_ceil(CHUNK);
    assert_eq!(source.requests.get(), chunks + 1);
    let max = source.max_buffered.get();
    assert!(max <= LOW + CHUNK, "{max} bytes were buffered at once");
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

pub(crate) fn producer_stopped_when_connection_closes(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let producer = Rc::new(PushProducer::default());
    log.borrow()
        .transport()
        .register_producer(producer.clone(), true);
    drop(peer);
    turn_until(&reactor, 200, || !log.borrow().ended.is_empty());
    assert_eq!(producer.stops.get(), 1);
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

pub(crate) fn paused_transport_stops_reading(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut paused_peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    paused_peer.send(b"first ");
    turn_until(&reactor, 200, || log.borrow().received.len() == 6);
    let transport = log.borrow().transport();
    transport.pause_producing();
    paused_peer.send(b"queued while paused");
    // A second connection whose bytes were sent later shows that the reactor has been reading.
    let mut other = Peer::connect(&server.address);
    other.send(b"sync");
    let other_log = accepted_connection(&reactor, &accepted, 1);
    turn_until(&reactor, 200, || other_log.borrow().received == b"sync");
    for _ in 0..3 {
        reactor.iterate(Some(Duration::ZERO)).expect("turn");
    }
    assert_eq!(log.borrow().received, b"first ", "read while paused");
    transport.resume_producing();
    turn_until(&reactor, 200, || log.borrow().received.len() >= 25);
    assert_eq!(log.borrow().received, b"first queued while paused");
}

pub(crate) fn paused_transport_delivers_eof_after_resume(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(|r| r));
    let mut paused_peer = Peer::connect(&server.address);
    let log = accepted_connection(&reactor, &accepted, 0);
    let transport = log.borrow().transport();
    transport.pause_producing();
    paused_peer.send(b"last words");
    paused_peer.stream.shutdown_write().expect("shutdown");
    // A second connection whose bytes were sent later shows that the reactor has been reading.
    let mut other = Peer::connect(&server.address);
    other.send(b"sync");
    let other_log = accepted_connection(&reactor, &accepted, 1);
    turn_until(&reactor, 200, || other_log.borrow().received == b"sync");
    assert!(log.borrow().received.is_empty(), "read while paused");
    assert_eq!(log.borrow().eofs, 0, "end of file delivered while paused");
    transport.resume_producing();
    turn_until(&reactor, 200, || !log.borrow().ended.is_empty());
    assert_eq!(log.borrow().received, b"last words");
    assert_eq!(log.borrow().eofs, 1);
    assert_eq!(log.borrow().ended, [Ended::Done]);
}

pub(crate) fn flooding_peer_does_not_starve_others(family: Family) {
    const MAX_TURNS_FOR_ANSWER: usize = 5;
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let sink_logs = Accepted::default();
    let mut sink_factory = sink_logs.factory(Recorder::counting_only);
    let mut echo_factory = accepted.factory(Recorder::echoing);
    let mut first = true;
    let factory = move |peer: &Address| -> Option<Box<dyn Protocol>> {
        if std::mem::take(&mut first) {
            sink_factory.build_protocol(peer)
        } else {
            echo_factory.build_protocol(peer)
        }
    };
    let server = listen(family, &reactor, factory);
    let mut flood = PeerStream::connect(&server.address).expect("connect");
    let sink = accepted_connection(&reactor, &sink_logs, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let flooder = std::thread::spawn(move || {
        let block = vec![0xf1_u8; 64 * 1024];
        while !stop_flag.load(Ordering::Relaxed) {
            if flood.write_all(&block).is_err() {
                break;
            }
        }
    });
    turn_until(&reactor, 2_000, || {
        sink.borrow().received_len > 4 * 1024 * 1024
    });

    let mut peer = Peer::connect(&server.address);
    accepted_connection(&reactor, &accepted, 0);
    for round in 0..5 {
        let question = format!("ping {round}");
        let expected = peer.received.len() + question.len();
        peer.send(question.as_bytes());
        let turns = turn_until(&reactor, 100, || {
            peer.pump();
            peer.received.len() >= expected
        });
        assert!(
            turns <= MAX_TURNS_FOR_ANSWER,
            "the answer took {turns} turns while another peer flooded"
        );
    }
    let flooded = sink.borrow().received_len;
    turn_until(&reactor, 200, || sink.borrow().received_len > flooded);
    stop.store(true, Ordering::Relaxed);
    sink.borrow().transport().abort_connection();
    turn_until(&reactor, 200, || !sink.borrow().ended.is_empty());
    flooder.join().expect("flooding thread");
    assert_eq!(sink.borrow().ended, [Ended::Aborted]);
}

pub(crate) fn factory_refusal_closes_connection(family: Family) {
    let reactor = new_reactor();
    let asked = Rc::new(Cell::new(0));
    let counter = asked.clone();
    let factory = move |_peer: &Address| -> Option<Box<dyn Protocol>> {
        counter.set(counter.get() + 1);
        None
    };
    let server = listen(family, &reactor, factory);
    let mut peer = Peer::connect(&server.address);
    peer.read_to_end(&reactor);
    assert!(peer.received.is_empty());
    assert_eq!(asked.get(), 1);
    assert_eq!(
        reactor.source_count(),
        1,
        "only the listener stays registered"
    );
}

pub(crate) fn stop_listening_keeps_existing_connections(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let server = listen(family, &reactor, accepted.factory(Recorder::echoing));
    let mut peer = Peer::connect(&server.address);
    accepted_connection(&reactor, &accepted, 0);
    server.port.stop_listening();
    assert!(!server.port.is_listening());
    let refused = PeerStream::connect(&server.address);
    assert!(refused.is_err(), "connected after stop_listening");
    peer.send(b"still served");
    turn_until(&reactor, 200, || {
        peer.pump();
        peer.received.len() >= 12 || peer.ended()
    });
    assert_eq!(peer.received, b"still served");
    assert_eq!(accepted.len(), 1);
}

pub(crate) fn reactor_stop_closes_connections_and_listeners(family: Family) {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let mut recording = accepted.factory(|r| r);
    let stopper = reactor.clone();
    let factory = move |peer: &Address| -> Option<Box<dyn Protocol>> {
        let reactor = stopper.clone();
        stopper.call_later(Duration::ZERO, move || {
            reactor.stop().expect("stop a running reactor");
        });
        recording.build_protocol(peer)
    };
    let server = listen(family, &reactor, factory);
    let mut peer = Peer::connect(&server.address);
    reactor.run().expect("run");
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted.nth(0).borrow().ended, [Ended::Shutdown]);
    assert!(!server.port.is_listening());
    assert_eq!(reactor.source_count(), 0);
    peer.read_to_end_blocking(Duration::from_secs(10));
    assert!(peer.eof);
}

/// Sends owned bodies around borrowed bytes as soon as the connection is made, then closes;
/// every other body is a shared buffer (which the transport must copy, not keep, when the
/// socket takes only part of it).
struct OwnedWriter {
    bodies: Vec<Vec<u8>>,
}

impl Protocol for OwnedWriter {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        for (i, body) in self.bodies.drain(..).enumerate() {
            let body = if i % 2 == 0 {
                Payload::Shared(Box::new(body))
            } else {
                Payload::from(body)
            };
            transport.write_owned(format!("head{i}:").as_bytes(), body);
            transport.write(b";");
        }
        transport.lose_connection();
    }

    fn data_received(&mut self, _data: &[u8]) {}
}

pub(crate) fn owned_writes_arrive_whole_and_in_order(family: Family) {
    let reactor = new_reactor();
    let bodies = vec![
        pattern(4 * 1024 * 1024 + 13, 3),
        pattern(100_000, 5),
        pattern(10, 9),
    ];
    let mut expected = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        expected.extend_from_slice(format!("head{i}:").as_bytes());
        expected.extend_from_slice(body);
        expected.push(b';');
    }
    let factory = move |_peer: &Address| -> Option<Box<dyn Protocol>> {
        Some(Box::new(OwnedWriter {
            bodies: bodies.clone(),
        }))
    };
    let server = listen(family, &reactor, factory);
    let mut peer = Peer::connect(&server.address);
    turn_until(&reactor, 2_000, || {
        peer.pump_reads();
        peer.ended()
    });
    assert_eq!(peer.received.len(), expected.len());
    assert!(peer.received == expected, "the bytes differ");
}

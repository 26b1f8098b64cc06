//! Request lifecycles: answers finished later, notify_finish, persistent
//! connections, pipelining, and streaming through a producer.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};
use torsion::time::Clock;
use torsion::transport::Producer;
use torsion::web::{ConnectionLost, Render, Request, SiteConfig, StaticData, Tree};

use super::support::{FnResource, MAX_TURNS, Record, Server, parse_responses};
use crate::util::{Peer, new_reactor, pattern, turn_until};

/// A leaf that answers `text` after `delay`, recording `text` in `finished` when it does.
fn delayed(
    clock: &Clock,
    delay: Duration,
    text: &'static str,
    finished: &Record<&'static str>,
) -> Rc<FnResource> {
    let clock = clock.clone();
    let finished = finished.clone();
    FnResource::new(move |request| {
        let request = request.clone();
        let finished = finished.clone();
        clock.call_later(delay, move || {
            request.write(text.as_bytes());
            request.finish();
            finished.borrow_mut().push(text);
        });
        Render::NotDoneYet
    })
}

/// A resource returning NOT_DONE_YET finishes the request later, from a call_later.
#[test]
fn not_done_yet_is_finished_from_call_later() {
    let reactor = new_reactor();
    let finished = Record::default();
    let root = delayed(
        reactor.clock(),
        Duration::from_millis(30),
        "late answer",
        &finished,
    );
    let server = Server::start_with(reactor, root, SiteConfig::default());
    let responses = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].text(), "late answer");
    assert_eq!(responses[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(*finished.borrow(), ["late answer"]);
}

/// write_and_finish ends a response in one step: after earlier writes (chunked) or as the
/// whole body, on one persistent connection, and fires notify_finish.
#[test]
fn write_and_finish_ends_the_response() {
    let reactor = new_reactor();
    let clock = reactor.clock().clone();
    let finished = Rc::new(Cell::new(0));
    let counted = finished.clone();
    let root = FnResource::new(move |request| {
        let counted = counted.clone();
        request.notify_finish().add_callback(move |()| {
            counted.set(counted.get() + 1);
            Ok(())
        });
        let request = request.clone();
        clock.call_later(Duration::from_millis(5), move || {
            if request.uri() == b"/streamed" {
                request.write(b"early ");
            } else {
                request.set_header("Content-Length", "4");
            }
            request.write_and_finish(b"late".to_vec());
            request.write_and_finish(b"ignored".to_vec());
        });
        Render::NotDoneYet
    });
    let server = Server::start_with(reactor, root, SiteConfig::default());
    let responses = server.exchange(
        b"GET /streamed HTTP/1.1\r\nHost: x\r\n\r\nGET /whole HTTP/1.1\r\nHost: x\r\n\r\n",
        2,
    );
    assert_eq!(responses[0].text(), "early late");
    assert_eq!(responses[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(responses[1].text(), "late");
    assert_eq!(responses[1].header("content-length"), Some("4"));
    assert_eq!(finished.get(), 2);
}

/// notify_finish fires with success once the resource finishes the request, and a
/// connection-lost watcher is never called.
#[test]
fn notify_finish_fires_on_finish() {
    let reactor = new_reactor();
    let clock = reactor.clock().clone();
    let outcomes: Record<Result<(), String>> = Record::default();
    let seen = outcomes.clone();
    let root = FnResource::new(move |request| {
        let seen = seen.clone();
        let lost = seen.clone();
        request.notify_connection_lost(Box::new(move || {
            lost.borrow_mut().push(Err("connection lost".into()))
        }));
        request.notify_finish().add_both(move |outcome| {
            seen.borrow_mut().push(outcome.map_err(|f| f.to_string()));
            Ok(())
        });
        let request = request.clone();
        clock.call_later(Duration::from_millis(10), move || request.finish());
        Render::NotDoneYet
    });
    let server = Server::start_with(reactor, root, SiteConfig::default());
    let responses = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("content-length"), Some("0"));
    assert_eq!(*outcomes.borrow(), [Ok(())]);
}

/// notify_finish fails with ConnectionLost when the client disconnects mid-response, each
/// connection-lost watcher is called once (one registered afterwards at once), and later
/// writes are silently dropped.
#[test]
fn notify_finish_fails_when_client_disconnects() {
    let requests: Record<Request> = Record::default();
    let lost = Rc::new(Cell::new(0));
    let (kept, counted) = (requests.clone(), lost.clone());
    let root = FnResource::new(move |request| {
        request.write(b"partial");
        kept.borrow_mut().push(request.clone());
        for _ in 0..2 {
            let watched = counted.clone();
            request.notify_connection_lost(Box::new(move || watched.set(watched.get() + 10)));
        }
        let counted = counted.clone();
        request.notify_finish().add_errback(move |failure| {
            assert!(failure.check::<ConnectionLost>(), "{failure}");
            counted.set(counted.get() + 1);
            Ok(())
        });
        Render::NotDoneYet
    });
    let server = Server::start(root);
    let mut client = TcpStream::connect(server.socket_address()).expect("connect");
    client.set_nonblocking(true).expect("non-blocking");
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send the request");
    let mut received = Vec::new();
    turn_until(&server.reactor, MAX_TURNS, || {
        let mut buffer = [0; 4096];
        if let Ok(n) = client.read(&mut buffer) {
            received.extend_from_slice(&buffer[..n]);
        }
        received.windows(7).any(|w| w == b"partial")
    });
    // Reset rather than close, so the server learns at once.
    SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("linger 0");
    drop(client);
    turn_until(&server.reactor, MAX_TURNS, || lost.get() > 0);
    let request = requests.borrow()[0].clone();
    assert!(request.disconnected());
    assert!(!request.finished());
    request.write(b"ignored");
    request.finish();
    assert!(!request.finished(), "finish after a disconnect is a no-op");
    assert_eq!(lost.get(), 21);
    assert!(request.notify_finish().add_errback(|_| Ok(())).is_called());
    let late = lost.clone();
    request.notify_connection_lost(Box::new(move || late.set(late.get() + 100)));
    assert_eq!(lost.get(), 121);
}

/// Two requests are served one after the other on one persistent connection.
#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let clients: Record<String> = Record::default();
    let seen = clients.clone();
    let root = FnResource::new(move |request| {
        seen.borrow_mut().push(request.client_address().to_string());
        Render::Body(b"again".to_vec())
    });
    let server = Server::start(root);
    let mut peer = Peer::connect(&server.address);
    peer.send(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(server.await_responses(&mut peer, 1).len(), 1);
    assert!(
        !peer.ended(),
        "the connection closed after the first response"
    );
    peer.send(b"GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        peer.ended()
    });
    let responses = parse_responses(&peer.received);
    assert_eq!(responses.len(), 2);
    assert!(responses.iter().all(|r| r.text() == "again"));
    let clients = clients.borrow();
    assert_eq!(clients.len(), 2);
    assert_eq!(
        clients[0], clients[1],
        "the requests came over different connections"
    );
}

/// Each request on a connection sees only its own header fields, and each response carries
/// only the fields set for it (header sets are reused from one request to the next).
#[test]
fn later_requests_see_nothing_of_earlier_ones() {
    let seen: Record<Option<Vec<u8>>> = Record::default();
    let record = seen.clone();
    let root = FnResource::new(move |request| {
        record.borrow_mut().push(request.header("x-first"));
        if request.path() == b"/one" {
            request.set_header("X-Only-First", "yes");
            request.add_header("Set-Cookie", "a=1");
        }
        Render::Body(request.path())
    });
    let server = Server::start(root);
    let responses = server.exchange(
        b"GET /one HTTP/1.1\r\nHost: x\r\nX-First: here\r\nAccept: */*\r\n\r\n\
          GET /two HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /three HTTP/1.1\r\nHost: x\r\n\r\n",
        3,
    );
    let bodies: Vec<String> = responses.iter().map(|r| r.text()).collect();
    assert_eq!(bodies, ["/one", "/two", "/three"]);
    assert_eq!(responses[0].header("x-only-first"), Some("yes"));
    for later in &responses[1..] {
        assert_eq!(later.header("x-only-first"), None);
        assert_eq!(later.header("set-cookie"), None);
        let servers = later
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("server"));
        assert_eq!(servers.count(), 1, "one Server field per response");
    }
    assert_eq!(
        *seen.borrow(),
        [Some(b"here".to_vec()), None, None],
        "a later request saw an earlier request's field"
    );
}

/// Pipelined requests answered out of order still get their responses in request order.
#[test]
fn pipelined_responses_stay_in_request_order() {
    let reactor = new_reactor();
    let finished = Record::default();
    let root = Tree::new();
    root.put_child(
        "slow",
        delayed(
            reactor.clock(),
            Duration::from_millis(80),
            "slow",
            &finished,
        ),
    );
    root.put_child(
        "fast",
        delayed(reactor.clock(), Duration::from_millis(5), "fast", &finished),
    );
    root.put_child("static", Rc::new(StaticData::new("static", "text/plain")));
    let server = Server::start_with(reactor, Rc::new(root), SiteConfig::default());
    let responses = server.exchange(
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /fast HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /static HTTP/1.1\r\nHost: x\r\n\r\n",
        3,
    );
    let bodies: Vec<String> = responses.iter().map(|r| r.text()).collect();
    assert_eq!(bodies, ["slow", "fast", "static"]);
    assert_eq!(
        *finished.borrow(),
        ["fast", "slow"],
        "fast did not finish first"
    );
}

/// A push producer writing 16 KiB chunks while resumed.
struct Streamer {
    request: Request,
    payload: Vec<u8>,
    sent: Cell<usize>,
    paused: Cell<bool>,
    producing: Cell<bool>,
    pauses: Cell<usize>,
    client_received: Arc<AtomicUsize>,
    max_outstanding: Cell<usize>,
}

impl Streamer {
    /// Writes until paused or done; finishes the request at the end.
    fn produce(&self) {
        if self.producing.replace(true) {
            return;
        }
        while !self.paused.get() && self.sent.get() < self.payload.len() {
            let start = self.sent.get();
            let end = (start + 16 * 1024).min(self.payload.len());
            self.request.write(&self.payload[start..end]);
            self.sent.set(end);
            let outstanding = end - self.client_received.load(Ordering::SeqCst);
            self.max_outstanding
                .set(self.max_outstanding.get().max(outstanding));
        }
        if self.sent.get() == self.payload.len() && !self.request.finished() {
            self.request.unregister_producer();
            self.request.finish();
        }
        self.producing.set(false);
    }
}

impl Producer for Streamer {
    fn resume_producing(&self) {
        self.paused.set(false);
        self.produce();
    }

    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
    }

    fn stop_producing(&self) {
        self.paused.set(true);
    }
}

/// Reads `request`'s answer through a small receive buffer, pausing between reads.
fn slow_read(address: SocketAddr, request: &'static [u8], received: Arc<AtomicUsize>) -> Vec<u8> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("client socket");
    socket
        .set_recv_buffer_size(32 * 1024)
        .expect("small receive buffer");
    socket.connect(&address.into()).expect("connect");
    let mut stream = TcpStream::from(socket);
    stream.write_all(request).expect("send the request");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut all = Vec::new();
    let mut buffer = [0; 8 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return all,
            Ok(n) => {
                all.extend_from_slice(&buffer[..n]);
                received.fetch_add(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("reading the stream: {error}"),
        }
    }
}

/// A 1 MiB response streamed by a producer arrives intact through a slow reader,
/// with the producer paused so the server never buffers the whole body.
#[test]
fn producer_streams_a_large_body_with_back_pressure() {
    const SIZE: usize = 1024 * 1024;
    let streamers: Record<Rc<Streamer>> = Record::default();
    let client_received = Arc::new(AtomicUsize::new(0));
    let (kept, counter) = (streamers.clone(), client_received.clone());
    let root = FnResource::new(move |request| {
        request.set_header("content-type", "application/octet-stream");
        request.set_header("content-length", SIZE.to_string());
        let streamer = Rc::new(Streamer {
            request: request.clone(),
            payload: pattern(SIZE, 7),
            sent: Cell::new(0),
            paused: Cell::new(false),
            producing: Cell::new(false),
            pauses: Cell::new(0),
            client_received: counter.clone(),
            max_outstanding: Cell::new(0),
        });
        request.register_producer(streamer.clone(), true);
        kept.borrow_mut().push(streamer.clone());
        streamer.produce();
        Render::NotDoneYet
    });
    let server = Server::start_with_send_buffer(root, 32 * 1024);
    let address = server.socket_address();
    let raw = server.run_beside(move || {
        slow_read(
            address,
            b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            client_received,
        )
    });
    let responses = parse_responses(&raw);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].body.len(), SIZE);
    assert!(
        responses[0].body == pattern(SIZE, 7),
        "the body was corrupted"
    );
    let streamer = streamers.borrow()[0].clone();
    assert!(streamer.pauses.get() > 0, "the producer was never paused");
    assert!(
        streamer.max_outstanding.get() < SIZE / 2,
        "{} bytes were outstanding at once",
        streamer.max_outstanding.get()
    );
    assert!(streamer.request.finished());
    eprintln!(
        "paused {} times; at most {} bytes outstanding",
        streamer.pauses.get(),
        streamer.max_outstanding.get()
    );
}

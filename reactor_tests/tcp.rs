//! TCP transports: listening, accepting, connecting, closing, back-pressure and resource
//! exhaustion, against real loopback sockets.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};
use std::os::fd::IntoRawFd;
use std::process::Command;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use torsion::transport::{
    Address, ListenOptions, Protocol, adopt_listener, connect_tcp, connect_tcp_addr, listen_tcp,
};

use crate::stream_cases::{self as cases, Family};
use crate::util::{
    Accepted, ConnectFailure, Ended, Log, Peer, Recorder, TURN, connect_failure,
    fake_clock_reactor, new_reactor, set_open_files_soft_limit, turn_until, watch_connect,
};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

/// A small payload written by a client comes back unchanged from an echoing server.
#[test]
fn echo_round_trips_small_payload() {
    cases::echo_round_trip_small(Family::Tcp);
}

/// A 4 MiB payload comes back from an echoing server complete and in order.
#[test]
fn echo_round_trips_four_mebibytes() {
    cases::echo_round_trip_large(Family::Tcp);
}

/// Sixty-four simultaneous connections to one listener each get exactly their own bytes back.
#[test]
fn concurrent_connections_each_get_their_own_bytes() {
    cases::concurrent_connections_get_their_own_bytes(Family::Tcp);
}

/// `lose_connection` sends everything buffered, then closes; connection_lost(Done) comes once.
#[test]
fn lose_connection_sends_buffered_data_then_closes_once() {
    cases::lose_connection_flushes_then_closes_once(Family::Tcp);
}

/// `abort_connection` closes at once, drops what was buffered and reports Aborted.
#[test]
fn abort_connection_discards_buffered_data() {
    cases::abort_connection_discards_buffer(Family::Tcp);
}

/// Bytes written after `lose_connection` never reach the peer.
#[test]
fn writes_after_lose_connection_are_dropped() {
    cases::writes_after_lose_connection_are_dropped(Family::Tcp);
}

/// When `eof_received` returns true the server can still reply after the peer's half-close.
#[test]
fn eof_received_true_keeps_connection_open_for_a_reply() {
    cases::half_closed_connection_can_still_reply(Family::Tcp);
}

/// The default `eof_received` closes the connection only after buffered output is sent.
#[test]
fn default_eof_received_closes_after_flushing() {
    cases::default_eof_closes_after_flushing(Family::Tcp);
}

/// After the server's `write_eof` the client reads EOF while the server still receives.
#[test]
fn write_eof_lets_the_server_keep_receiving() {
    cases::write_eof_half_closes_from_server(Family::Tcp);
}

/// A push producer is paused above the high watermark and resumed at the low one.
#[test]
fn push_producer_follows_write_watermarks() {
    cases::push_producer_paused_and_resumed_by_watermarks(Family::Tcp);
}

/// A pull producer is asked chunk by chunk; the stream arrives intact with a bounded buffer.
#[test]
fn pull_producer_streams_with_a_bounded_buffer() {
    cases::pull_producer_streams_with_bounded_buffer(Family::Tcp);
}

/// A registered producer is told to stop when its connection closes.
#[test]
fn producer_is_stopped_when_the_connection_closes() {
    cases::producer_stopped_when_connection_closes(Family::Tcp);
}

/// A transport paused with `pause_producing` delivers nothing until resumed, then everything.
#[test]
fn paused_transport_reads_nothing_until_resumed() {
    cases::paused_transport_stops_reading(Family::Tcp);
}

/// A half-close that arrives while the transport is paused is delivered after it resumes.
#[test]
fn paused_transport_delivers_eof_after_resume() {
    cases::paused_transport_delivers_eof_after_resume(Family::Tcp);
}

/// A peer flooding the server does not delay another peer's answer beyond a few turns.
#[test]
fn flooding_peer_does_not_starve_request_response() {
    cases::flooding_peer_does_not_starve_others(Family::Tcp);
}

/// A factory returning None makes the listener close the accepted connection.
#[test]
fn factory_returning_none_closes_the_connection() {
    cases::factory_refusal_closes_connection(Family::Tcp);
}

/// After `stop_listening` new connections are refused while existing ones keep working.
#[test]
fn stop_listening_refuses_new_connections_keeps_existing() {
    cases::stop_listening_keeps_existing_connections(Family::Tcp);
}

/// `stop()` inside `run()` closes connections with Shutdown, closes listeners, and returns.
#[test]
fn reactor_stop_closes_connections_and_listeners() {
    cases::reactor_stop_closes_connections_and_listeners(Family::Tcp);
}

/// connection_made sees the client's address as peer and the listener's real port as host.
#[test]
fn connection_made_sees_peer_and_host_addresses() {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_tcp(
        &reactor,
        loopback(),
        &ListenOptions::default(),
        accepted.factory(|r| r),
    )
    .expect("listen");
    let bound = port.address().tcp().expect("a TCP address");
    assert_ne!(
        bound.port(),
        0,
        "port 0 should report the port actually bound"
    );
    let peer = Peer::connect(&port.address());
    turn_until(&reactor, 200, || accepted.len() == 1);
    let log = accepted.nth(0);
    let log = log.borrow();
    assert_eq!(log.peer, Some(peer.stream.local_address()));
    assert_eq!(log.host, Some(Address::Tcp(bound)));
}

/// A reset from the peer (SO_LINGER 0, then close) ends the connection as Lost.
#[test]
fn peer_reset_reports_connection_lost() {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_tcp(
        &reactor,
        loopback(),
        &ListenOptions::default(),
        accepted.factory(|r| r),
    )
    .expect("listen");
    let peer = std::net::TcpStream::connect(port.address().tcp().expect("TCP")).expect("connect");
    turn_until(&reactor, 200, || accepted.len() == 1);
    SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(peer);
    let log = accepted.nth(0);
    turn_until(&reactor, 200, || !log.borrow().ended.is_empty());
    assert_eq!(
        log.borrow().ended,
        [Ended::Lost(io::ErrorKind::ConnectionReset)]
    );
}

/// A listening descriptor taken from a std TcpListener is served by adopt_listener.
#[test]
fn adopt_listener_serves_a_std_tcp_listener() {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let listener = TcpListener::bind(loopback()).expect("bind");
    let bound = listener.local_addr().expect("address");
    let port = adopt_listener(
        &reactor,
        listener.into_raw_fd(),
        accepted.factory(Recorder::echoing),
    )
    .expect("adopt");
    assert_eq!(port.address(), Address::Tcp(bound));
    let mut peer = Peer::connect(&port.address());
    peer.send(b"adopted");
    turn_until(&reactor, 200, || {
        peer.pump();
        peer.received.len() >= 7 || peer.ended()
    });
    assert_eq!(peer.received, b"adopted");
}

/// adopt_listener refuses a bound TCP socket that is not listening, saying so.
#[test]
fn adopt_listener_refuses_a_socket_that_is_not_listening() {
    let reactor = new_reactor();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.bind(&SockAddr::from(loopback())).expect("bind");
    let Err(error) = adopt_listener(
        &reactor,
        socket.into_raw_fd(),
        Accepted::default().factory(|r| r),
    ) else {
        panic!("a socket that is not listening was adopted");
    };
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("not listening"), "{error}");
    assert_eq!(reactor.source_count(), 0);
}

/// adopt_listener refuses a datagram socket, saying it is not a stream socket.
#[test]
fn adopt_listener_refuses_a_datagram_socket() {
    let reactor = new_reactor();
    let socket = UdpSocket::bind(loopback()).expect("bind");
    let Err(error) = adopt_listener(
        &reactor,
        socket.into_raw_fd(),
        Accepted::default().factory(|r| r),
    ) else {
        panic!("a datagram socket was adopted");
    };
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("not a stream socket"), "{error}");
}

/// connect_tcp fires its Deferred with the transport, after the protocol's connection_made.
#[test]
fn connect_tcp_fires_with_transport_after_connection_made() {
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_tcp(
        &reactor,
        loopback(),
        &ListenOptions::default(),
        accepted.factory(|r| r),
    )
    .expect("listen");
    let server = port.address().tcp().expect("TCP");
    let client = Log::default();
    let made_when_fired = Rc::new(std::cell::Cell::new(None));
    let seen = made_when_fired.clone();
    let watched = client.clone();
    let attempt = connect_tcp(
        &reactor,
        "127.0.0.1",
        server.port(),
        Duration::from_secs(10),
        Box::new(Recorder::new(client.clone())),
    )
    .add_callback(move |transport| {
        seen.set(Some(watched.borrow().made));
        Ok(transport)
    });
    let outcome = watch_connect(attempt);
    turn_until(&reactor, 200, || outcome.borrow().is_some());
    assert_eq!(
        made_when_fired.get(),
        Some(1),
        "fired before connection_made"
    );
    let transport = match outcome.borrow_mut().take() {
        Some(Ok(transport)) => transport,
        other => panic!("connect failed: {:?}", other.map(|r| r.err())),
    };
    assert_eq!(transport.peer_address(), Address::Tcp(server));
    transport.write(b"from the client");
    turn_until(&reactor, 200, || {
        accepted.len() == 1 && accepted.nth(0).borrow().received.len() >= 15
    });
    assert_eq!(accepted.nth(0).borrow().received, b"from the client");
    assert_eq!(
        accepted.nth(0).borrow().peer,
        Some(transport.host_address())
    );
}

/// connect_tcp to a port nobody listens on fails with ConnectError::Failed (refused).
#[test]
fn connect_tcp_to_a_closed_port_fails() {
    let reactor = new_reactor();
    let closed = TcpListener::bind(loopback())
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let client = Log::default();
    let outcome = watch_connect(connect_tcp_addr(
        &reactor,
        closed,
        Duration::from_secs(10),
        Box::new(Recorder::new(client.clone())),
    ));
    turn_until(&reactor, 200, || outcome.borrow().is_some());
    assert_eq!(
        connect_failure(&outcome),
        ConnectFailure::Failed(io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(client.borrow().made, 0);
    assert_eq!(reactor.source_count(), 0);
}

/// connect_tcp resolves "localhost" off the reactor thread and connects to its first address.
#[test]
fn connect_tcp_resolves_localhost() {
    let reactor = new_reactor();
    let first = ("localhost", 0)
        .to_socket_addrs()
        .expect("resolve localhost")
        .next()
        .expect("an address for localhost");
    let accepted = Accepted::default();
    let port = listen_tcp(
        &reactor,
        first,
        &ListenOptions::default(),
        accepted.factory(|r| r),
    )
    .expect("listen");
    let server = port.address().tcp().expect("TCP");
    let outcome = watch_connect(connect_tcp(
        &reactor,
        "localhost",
        server.port(),
        Duration::from_secs(10),
        Box::new(Recorder::new(Log::default())),
    ));
    assert!(
        outcome.borrow().is_none(),
        "a name cannot resolve synchronously"
    );
    turn_until(&reactor, 500, || outcome.borrow().is_some());
    match &*outcome.borrow() {
        Some(Ok(transport)) => assert_eq!(transport.peer_address(), Address::Tcp(server)),
        Some(Err(failure)) => panic!("connect failed: {failure:?}"),
        None => unreachable!(),
    }
    turn_until(&reactor, 200, || accepted.len() == 1);
}

/// A connection attempt the listener never answers fails with TimedOut once the fake clock
/// passes the timeout, and not before.
#[test]
fn connect_tcp_times_out_when_the_fake_clock_passes_the_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(30);
    let (reactor, clock) = fake_clock_reactor();
    // A listener that never accepts, with the smallest backlog: once its accept queue is full
    // the kernel drops new SYNs, so further connection attempts hang.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    listener.bind(&SockAddr::from(loopback())).expect("bind");
    listener.listen(0).expect("listen");
    let address = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("address");
    let mut queued = Vec::new();
    loop {
        assert!(queued.len() < 16, "the accept queue never filled up");
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        match socket.connect_timeout(&SockAddr::from(address), Duration::from_millis(250)) {
            Ok(()) => queued.push(socket),
            Err(error) if error.kind() == io::ErrorKind::TimedOut => break,
            Err(error) => panic!("filling the accept queue: {error}"),
        }
    }

    let client = Log::default();
    let outcome = watch_connect(connect_tcp_addr(
        &reactor,
        address,
        TIMEOUT,
        Box::new(Recorder::new(client.clone())),
    ));
    for _ in 0..5 {
        reactor.iterate(Some(TURN)).expect("turn");
    }
    assert!(
        outcome.borrow().is_none(),
        "settled although the listener never answered"
    );
    clock.advance(TIMEOUT - Duration::from_millis(1));
    assert!(outcome.borrow().is_none(), "timed out early");
    clock.advance(Duration::from_millis(2));
    assert_eq!(connect_failure(&outcome), ConnectFailure::TimedOut(TIMEOUT));
    assert_eq!(client.borrow().made, 0);
    assert!(client.borrow().ended.is_empty());
    assert_eq!(
        reactor.source_count(),
        0,
        "the failed attempt stays registered"
    );
}

const DESCRIPTOR_CHILD_ENV: &str = "TORSION_TEST_OUT_OF_DESCRIPTORS_CHILD";
const DESCRIPTOR_CHILD_DONE: &str = "accepted after backing off";

/// A listener that hits EMFILE backs off on a timer instead of spinning, and accepts the
/// waiting connection once descriptors are free and the backoff has passed (in a child process).
#[test]
fn listener_backs_off_when_out_of_descriptors() {
    if std::env::var_os(DESCRIPTOR_CHILD_ENV).is_some() {
        return out_of_descriptors_in_child();
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "tcp::listener_backs_off_when_out_of_descriptors",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DESCRIPTOR_CHILD_ENV, "1")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(DESCRIPTOR_CHILD_DONE),
        "child output:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}

/// The child side of `listener_backs_off_when_out_of_descriptors`.
fn out_of_descriptors_in_child() {
    let (reactor, clock) = fake_clock_reactor();
    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = reports.clone();
    torsion::log::set_error_sink(move |message| {
        sink.lock().expect("reports").push(message.to_owned());
    });
    let accepted = Accepted::default();
    let port = listen_tcp(
        &reactor,
        loopback(),
        &ListenOptions::default(),
        accepted.factory(|r| r),
    )
    .expect("listen");
    let address = port.address().tcp().expect("TCP");
    let client = Socket::new(Domain::IPV4, Type::STREAM, None).expect("client socket");
    client.set_nonblocking(true).expect("non-blocking");

    // Leave a few free descriptors below a lowered limit, then use them up.
    let highest_open = std::fs::read_dir("/proc/self/fd")
        .expect("list descriptors")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("some descriptor is open");
    set_open_files_soft_limit(highest_open + 8).expect("lower RLIMIT_NOFILE");
    let mut fillers = Vec::new();
    loop {
        assert!(
            (fillers.len() as u64) < highest_open + 8,
            "the descriptor limit was not reached"
        );
        match File::open("/dev/null") {
            Ok(file) => fillers.push(file),
            Err(error) if error.raw_os_error() == Some(libc::EMFILE) => break,
            Err(error) => panic!("opening /dev/null: {error}"),
        }
    }
    match client.connect(&SockAddr::from(address)) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(error) => panic!("connect: {error}"),
    }

    assert_eq!(clock.pending_count(), 0);
    turn_until(&reactor, 200, || clock.pending_count() > 0);
    assert_eq!(accepted.len(), 0);
    let retry = clock.delayed_calls();
    assert_eq!(retry.len(), 1);
    let backoff = retry[0].time() - clock.now();
    assert!(
        backoff > Duration::ZERO && backoff <= Duration::from_secs(1),
        "{backoff:?}"
    );
    for _ in 0..10 {
        reactor.iterate(Some(Duration::ZERO)).expect("turn");
    }
    assert_eq!(
        clock.pending_count(),
        1,
        "more than one retry was scheduled"
    );
    {
        let reports = reports.lock().expect("reports");
        assert_eq!(
            reports.len(),
            1,
            "accept was retried without waiting: {reports:?}"
        );
        assert!(reports[0].contains("retrying"), "{reports:?}");
    }
    assert_eq!(accepted.len(), 0);

    fillers.truncate(fillers.len() - 4);
    clock.advance(backoff - Duration::from_nanos(1));
    assert_eq!(accepted.len(), 0, "accepted before the backoff passed");
    clock.advance(Duration::from_nanos(1));
    assert_eq!(accepted.len(), 1, "the waiting connection was not accepted");
    assert_eq!(accepted.nth(0).borrow().made, 1);
    assert_eq!(clock.pending_count(), 0);
    torsion::log::reset_error_sink();
    println!("{DESCRIPTOR_CHILD_DONE}");
}

/// Protocols built by a closure factory see the same peer the factory was asked about.
#[test]
fn factory_is_asked_with_the_peer_address() {
    let reactor = new_reactor();
    let asked = Rc::new(std::cell::RefCell::new(Vec::new()));
    let recorded = asked.clone();
    let accepted = Accepted::default();
    let mut inner = accepted.factory(|r| r);
    let factory = move |peer: &Address| -> Option<Box<dyn Protocol>> {
        recorded.borrow_mut().push(peer.clone());
        torsion::transport::Factory::build_protocol(&mut inner, peer)
    };
    let port =
        listen_tcp(&reactor, loopback(), &ListenOptions::default(), factory).expect("listen");
    let peer = Peer::connect(&port.address());
    turn_until(&reactor, 200, || accepted.len() == 1);
    assert_eq!(*asked.borrow(), [peer.stream.local_address()]);
    assert_eq!(
        accepted.nth(0).borrow().peer,
        Some(peer.stream.local_address())
    );
}

/// Owned writes larger than the socket takes at once arrive whole and in order with borrowed ones.
#[test]
fn owned_writes_arrive_whole_and_in_order() {
    cases::owned_writes_arrive_whole_and_in_order(Family::Tcp);
}

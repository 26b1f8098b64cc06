//! UNIX-socket transports: the shared stream behaviours, plus socket files, lock files,
//! permissions, adopted listeners and outgoing connections.

use std::fs;
use std::io;
use std::os::fd::IntoRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use torsion::transport::{Address, ListenOptions, Port, adopt_listener, connect_unix, listen_unix};

use crate::stream_cases::{self as cases, Family};
use crate::util::{
    Accepted, ConnectFailure, Ended, Log, Peer, Recorder, TempDir, connect_failure, new_reactor,
    turn_until, watch_connect,
};

/// The lock file guarding the socket at `path`.
fn lock_path(path: &Path) -> PathBuf {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    PathBuf::from(lock)
}

/// A process id that no running process has.
fn dead_pid() -> u32 {
    (999_999..)
        .find(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        .expect("a free pid")
}

/// Listens at `path` with an echoing recorder.
fn listen_echo(reactor: &torsion::reactor::Reactor, path: &Path, accepted: &Accepted) -> Port {
    listen_unix(
        reactor,
        path,
        &ListenOptions::default(),
        accepted.factory(Recorder::echoing),
    )
    .expect("listen")
}

/// A small payload written by a client comes back unchanged from an echoing server.
#[test]
fn echo_round_trips_small_payload() {
    cases::echo_round_trip_small(Family::Unix);
}

/// A 4 MiB payload comes back from an echoing server complete and in order.
#[test]
fn echo_round_trips_four_mebibytes() {
    cases::echo_round_trip_large(Family::Unix);
}

/// Sixty-four simultaneous connections to one listener each get exactly their own bytes back.
#[test]
fn concurrent_connections_each_get_their_own_bytes() {
    cases::concurrent_connections_get_their_own_bytes(Family::Unix);
}

/// `lose_connection` sends everything buffered, then closes; connection_lost(Done) comes once.
#[test]
fn lose_connection_sends_buffered_data_then_closes_once() {
    cases::lose_connection_flushes_then_closes_once(Family::Unix);
}

/// `abort_connection` closes at once, drops what was buffered and reports Aborted.
#[test]
fn abort_connection_discards_buffered_data() {
    cases::abort_connection_discards_buffer(Family::Unix);
}

/// Bytes written after `lose_connection` never reach the peer.
#[test]
fn writes_after_lose_connection_are_dropped() {
    cases::writes_after_lose_connection_are_dropped(Family::Unix);
}

/// When `eof_received` returns true the server can still reply after the peer's half-close.
#[test]
fn eof_received_true_keeps_connection_open_for_a_reply() {
    cases::half_closed_connection_can_still_reply(Family::Unix);
}

/// The default `eof_received` closes the connection only after buffered output is sent.
#[test]
fn default_eof_received_closes_after_flushing() {
    cases::default_eof_closes_after_flushing(Family::Unix);
}

/// After the server's `write_eof` the client reads EOF while the server still receives.
#[test]
fn write_eof_lets_the_server_keep_receiving() {
    cases::write_eof_half_closes_from_server(Family::Unix);
}

/// A push producer is paused above the high watermark and resumed at the low one.
#[test]
fn push_producer_follows_write_watermarks() {
    cases::push_producer_paused_and_resumed_by_watermarks(Family::Unix);
}

/// A pull producer is asked chunk by chunk; the stream arrives intact with a bounded buffer.
#[test]
fn pull_producer_streams_with_a_bounded_buffer() {
    cases::pull_producer_streams_with_bounded_buffer(Family::Unix);
}

/// A registered producer is told to stop when its connection closes.
#[test]
fn producer_is_stopped_when_the_connection_closes() {
    cases::producer_stopped_when_connection_closes(Family::Unix);
}

/// A transport paused with `pause_producing` delivers nothing until resumed, then everything.
#[test]
fn paused_transport_reads_nothing_until_resumed() {
    cases::paused_transport_stops_reading(Family::Unix);
}

/// A half-close that arrives while the transport is paused is delivered after it resumes.
#[test]
fn paused_transport_delivers_eof_after_resume() {
    cases::paused_transport_delivers_eof_after_resume(Family::Unix);
}

/// A peer flooding the server does not delay another peer's answer beyond a few turns.
#[test]
fn flooding_peer_does_not_starve_request_response() {
    cases::flooding_peer_does_not_starve_others(Family::Unix);
}

/// A factory returning None makes the listener close the accepted connection.
#[test]
fn factory_returning_none_closes_the_connection() {
    cases::factory_refusal_closes_connection(Family::Unix);
}

/// After `stop_listening` new connections are refused while existing ones keep working.
#[test]
fn stop_listening_refuses_new_connections_keeps_existing() {
    cases::stop_listening_keeps_existing_connections(Family::Unix);
}

/// `stop()` inside `run()` closes connections with Shutdown, closes listeners, and returns.
#[test]
fn reactor_stop_closes_connections_and_listeners() {
    cases::reactor_stop_closes_connections_and_listeners(Family::Unix);
}

/// connection_made sees the socket path as host and an unnamed client as peer.
#[test]
fn connection_made_sees_socket_path_and_unnamed_peer() {
    let dir = TempDir::new("addresses");
    let path = dir.join("s.sock");
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_echo(&reactor, &path, &accepted);
    assert_eq!(port.address(), Address::Unix(Some(path.clone())));
    let _peer = Peer::connect(&port.address());
    turn_until(&reactor, 200, || accepted.len() == 1);
    let log = accepted.nth(0);
    assert_eq!(log.borrow().host, Some(Address::Unix(Some(path))));
    assert_eq!(log.borrow().peer, Some(Address::Unix(None)));
}

/// The socket file gets exactly the permission bits asked for.
#[test]
fn socket_file_gets_the_requested_mode() {
    let dir = TempDir::new("mode");
    let reactor = new_reactor();
    for mode in [0o600, 0o640, 0o666] {
        let path = dir.join(&format!("s{mode:o}.sock"));
        let options = ListenOptions {
            mode,
            ..ListenOptions::default()
        };
        let _port = listen_unix(
            &reactor,
            &path,
            &options,
            Accepted::default().factory(|r| r),
        )
        .expect("listen");
        let actual = fs::metadata(&path)
            .expect("socket file")
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(actual, mode, "mode of {}", path.display());
    }
}

/// While listening, `PATH.lock` holds this process's id.
#[test]
fn lock_file_holds_our_pid_while_listening() {
    let dir = TempDir::new("lock");
    let path = dir.join("s.sock");
    let reactor = new_reactor();
    let _port = listen_echo(&reactor, &path, &Accepted::default());
    let owner = fs::read_to_string(lock_path(&path)).expect("lock file");
    assert_eq!(owner.trim(), std::process::id().to_string());
}

/// A lock naming a dead process and its leftover socket file are replaced by a new listener.
#[test]
fn stale_lock_and_socket_file_are_replaced() {
    let dir = TempDir::new("stale");
    let path = dir.join("s.sock");
    drop(UnixListener::bind(&path).expect("leave a socket file behind"));
    fs::write(lock_path(&path), dead_pid().to_string()).expect("stale lock");
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_echo(&reactor, &path, &accepted);
    let owner = fs::read_to_string(lock_path(&path)).expect("lock file");
    assert_eq!(owner.trim(), std::process::id().to_string());
    let mut peer = Peer::connect(&port.address());
    peer.send(b"fresh");
    turn_until(&reactor, 200, || {
        peer.pump();
        peer.received.len() >= 5 || peer.ended()
    });
    assert_eq!(peer.received, b"fresh");
}

/// A leftover socket file with no lock at all is replaced by a new listener.
#[test]
fn leftover_socket_file_without_lock_is_replaced() {
    let dir = TempDir::new("leftover");
    let path = dir.join("s.sock");
    drop(UnixListener::bind(&path).expect("leave a socket file behind"));
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_echo(&reactor, &path, &accepted);
    let _peer = Peer::connect(&port.address());
    turn_until(&reactor, 200, || accepted.len() == 1);
}

/// A lock naming a live process is refused with AddrInUse and the existing files are untouched.
#[test]
fn lock_held_by_a_live_process_is_refused() {
    let dir = TempDir::new("live");
    let path = dir.join("s.sock");
    let owner = UnixListener::bind(&path).expect("the owner's socket");
    let our_pid = std::process::id().to_string();
    fs::write(lock_path(&path), &our_pid).expect("lock");
    let reactor = new_reactor();
    let Err(error) = listen_unix(
        &reactor,
        &path,
        &ListenOptions::default(),
        Accepted::default().factory(|r| r),
    ) else {
        panic!("took a socket whose lock names a live process");
    };
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
    assert_eq!(fs::read_to_string(lock_path(&path)).expect("lock"), our_pid);
    let _client = UnixStream::connect(&path).expect("the owner's socket still works");
    owner.accept().expect("the owner still accepts");
    assert_eq!(reactor.source_count(), 0);
}

/// Without a lock file, listening on a path that already exists fails and leaves it alone.
#[test]
fn existing_path_without_lock_file_is_refused() {
    let dir = TempDir::new("nolock");
    let path = dir.join("s.sock");
    fs::write(&path, b"not ours").expect("existing file");
    let options = ListenOptions {
        lockfile: false,
        ..ListenOptions::default()
    };
    let reactor = new_reactor();
    let Err(error) = listen_unix(
        &reactor,
        &path,
        &options,
        Accepted::default().factory(|r| r),
    ) else {
        panic!("listened over an existing file");
    };
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
    assert_eq!(fs::read(&path).expect("file kept"), b"not ours");
    assert!(!lock_path(&path).exists());
}

/// `stop_listening` removes the socket file and its lock file.
#[test]
fn stop_listening_removes_socket_and_lock_files() {
    let dir = TempDir::new("cleanup");
    let path = dir.join("s.sock");
    let reactor = new_reactor();
    let port = listen_echo(&reactor, &path, &Accepted::default());
    assert!(path.exists() && lock_path(&path).exists());
    port.stop_listening();
    assert!(!path.exists(), "socket file left behind");
    assert!(!lock_path(&path).exists(), "lock file left behind");
    assert_eq!(reactor.source_count(), 0);
}

/// A listening descriptor taken from a std UnixListener is served by adopt_listener.
#[test]
fn adopt_listener_serves_a_std_unix_listener() {
    let dir = TempDir::new("adopt");
    let path = dir.join("s.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = adopt_listener(
        &reactor,
        listener.into_raw_fd(),
        accepted.factory(Recorder::echoing),
    )
    .expect("adopt");
    assert_eq!(port.address(), Address::Unix(Some(path)));
    let mut peer = Peer::connect(&port.address());
    peer.send(b"adopted");
    turn_until(&reactor, 200, || {
        peer.pump();
        peer.received.len() >= 7 || peer.ended()
    });
    assert_eq!(peer.received, b"adopted");
}

/// connect_unix fires with a transport whose peer is the socket path, and data flows both ways.
#[test]
fn connect_unix_connects_and_exchanges_data() {
    let dir = TempDir::new("connect");
    let path = dir.join("s.sock");
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let _port = listen_echo(&reactor, &path, &accepted);
    let client = Log::default();
    let outcome = watch_connect(connect_unix(
        &reactor,
        &path,
        Duration::from_secs(10),
        Box::new(Recorder::new(client.clone())),
    ));
    turn_until(&reactor, 200, || outcome.borrow().is_some());
    let transport = match outcome.borrow_mut().take() {
        Some(Ok(transport)) => transport,
        other => panic!("connect failed: {:?}", other.map(|r| r.err())),
    };
    assert_eq!(client.borrow().made, 1);
    assert_eq!(transport.peer_address(), Address::Unix(Some(path)));
    transport.write(b"round trip");
    turn_until(&reactor, 200, || client.borrow().received.len() >= 10);
    assert_eq!(client.borrow().received, b"round trip");
}

/// connect_unix to a path with no socket fails with ConnectError::Failed (not found).
#[test]
fn connect_unix_to_a_missing_path_fails() {
    let dir = TempDir::new("missing");
    let reactor = new_reactor();
    let client = Log::default();
    let outcome = watch_connect(connect_unix(
        &reactor,
        &dir.join("nobody.sock"),
        Duration::from_secs(10),
        Box::new(Recorder::new(client.clone())),
    ));
    turn_until(&reactor, 200, || outcome.borrow().is_some());
    assert_eq!(
        connect_failure(&outcome),
        ConnectFailure::Failed(io::ErrorKind::NotFound)
    );
    assert_eq!(client.borrow().made, 0);
}

/// A peer that closes with unread data resets the connection: connection_lost(Lost(_)).
#[test]
fn peer_closing_with_unread_data_reports_connection_lost() {
    let dir = TempDir::new("reset");
    let path = dir.join("s.sock");
    let reactor = new_reactor();
    let accepted = Accepted::default();
    let port = listen_unix(
        &reactor,
        &path,
        &ListenOptions::default(),
        accepted.factory(|r| r),
    )
    .expect("listen");
    let peer = Peer::connect(&port.address());
    turn_until(&reactor, 200, || accepted.len() == 1);
    let log = accepted.nth(0);
    let transport = log.borrow().transport();
    transport.write(b"never read");
    turn_until(&reactor, 200, || transport.buffered_len() == 0);
    drop(peer);
    turn_until(&reactor, 200, || !log.borrow().ended.is_empty());
    assert_eq!(
        log.borrow().ended,
        [Ended::Lost(io::ErrorKind::ConnectionReset)]
    );
}

/// Owned writes larger than the socket takes at once arrive whole and in order with borrowed ones.
#[test]
fn owned_writes_arrive_whole_and_in_order() {
    cases::owned_writes_arrive_whole_and_in_order(Family::Unix);
}

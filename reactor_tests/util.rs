//! Test support shared by the stream-transport tests: reactors, a protocol that records what
//! happens to it, a non-blocking peer driven between reactor turns, and temporary directories.

use std::cell::RefCell;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use torsion::defer::{Deferred, Failure};
use torsion::reactor::Reactor;
use torsion::time::FakeClock;
use torsion::transport::{Address, ConnectError, DisconnectReason, Factory, Protocol, Transport};

/// How long one reactor turn may wait for I/O in tests.
pub(crate) const TURN: Duration = Duration::from_millis(20);

/// A reactor on the system clock that leaves signal handlers alone.
pub(crate) fn new_reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build a reactor")
}

/// A reactor whose timers follow a fake clock, and that clock.
pub(crate) fn fake_clock_reactor() -> (Reactor, FakeClock) {
    let clock = FakeClock::new();
    let reactor = Reactor::builder()
        .clock(clock.clock())
        .install_signal_handlers(false)
        .build()
        .expect("build a reactor");
    (reactor, clock)
}

/// Turns `reactor` until `done` holds (checked before each turn); returns how many turns ran.
/// Fails the test after `max_turns` turns.
#[track_caller]
pub(crate) fn turn_until(
    reactor: &Reactor,
    max_turns: usize,
    mut done: impl FnMut() -> bool,
) -> usize {
    for turn in 0..=max_turns {
        if done() {
            return turn;
        }
        if turn < max_turns {
            reactor.iterate(Some(TURN)).expect("reactor turn");
        }
    }
    panic!("the awaited condition still did not hold after {max_turns} reactor turns");
}

/// A deterministic payload of `len` bytes in which a shifted or truncated copy is easy to spot.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

/// How a connection ended, as recorded by [`Recorder`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Ended {
    Done,
    Aborted,
    Shutdown,
    Lost(io::ErrorKind),
}

impl Ended {
    fn of(reason: &DisconnectReason) -> Self {
        match reason {
            DisconnectReason::Done => Self::Done,
            DisconnectReason::Aborted => Self::Aborted,
            DisconnectReason::Shutdown => Self::Shutdown,
            DisconnectReason::Lost(error) => Self::Lost(error.kind()),
            other => panic!("unexpected disconnect reason {other:?}"),
        }
    }
}

/// What happened to one connection's protocol.
#[derive(Default)]
pub(crate) struct Events {
    pub(crate) transport: Option<Rc<dyn Transport>>,
    pub(crate) made: usize,
    pub(crate) peer: Option<Address>,
    pub(crate) host: Option<Address>,
    /// Bytes received, unless the recorder only counts them.
    pub(crate) received: Vec<u8>,
    pub(crate) received_len: usize,
    pub(crate) eofs: usize,
    pub(crate) ended: Vec<Ended>,
}

impl Events {
    /// The connection's transport (the connection must have been made).
    pub(crate) fn transport(&self) -> Rc<dyn Transport> {
        self.transport.clone().expect("connection_made was called")
    }
}

/// Shared record of one connection's events.
pub(crate) type Log = Rc<RefCell<Events>>;

/// A protocol that records its events; optionally echoes, keeps half-closed connections open or
/// only counts received bytes.
#[derive(Default)]
pub(crate) struct Recorder {
    log: Log,
    echo: bool,
    keep_open_on_eof: bool,
    count_only: bool,
}

impl Recorder {
    /// A recorder writing to `log`.
    pub(crate) fn new(log: Log) -> Self {
        Self {
            log,
            ..Self::default()
        }
    }

    /// Also writes every received byte back.
    pub(crate) fn echoing(mut self) -> Self {
        self.echo = true;
        self
    }

    /// Returns `true` from `eof_received` (the connection stays open for writing).
    pub(crate) fn keeping_open_on_eof(mut self) -> Self {
        self.keep_open_on_eof = true;
        self
    }

    /// Counts received bytes without keeping them.
    pub(crate) fn counting_only(mut self) -> Self {
        self.count_only = true;
        self
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let mut log = self.log.borrow_mut();
        log.made += 1;
        log.peer = Some(transport.peer_address());
        log.host = Some(transport.host_address());
        log.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut log = self.log.borrow_mut();
        log.received_len += data.len();
        if !self.count_only {
            log.received.extend_from_slice(data);
        }
        if self.echo {
            log.transport().write(data);
        }
    }

    fn eof_received(&mut self) -> bool {
        self.log.borrow_mut().eofs += 1;
        self.keep_open_on_eof
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.log.borrow_mut().ended.push(Ended::of(&reason));
    }
}

/// The logs of every connection a listener accepted, in order.
#[derive(Clone, Default)]
pub(crate) struct Accepted(Rc<RefCell<Vec<Log>>>);

impl Accepted {
    /// A factory that gives each connection a recorder made by `configure`, logging here.
    pub(crate) fn factory(&self, configure: fn(Recorder) -> Recorder) -> impl Factory + 'static {
        let logs = self.0.clone();
        move |_peer: &Address| {
            let log = Log::default();
            logs.borrow_mut().push(log.clone());
            Some(Box::new(configure(Recorder::new(log))) as Box<dyn Protocol>)
        }
    }

    /// How many connections were accepted.
    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// The log of the `index`th connection.
    pub(crate) fn nth(&self, index: usize) -> Log {
        self.0.borrow()[index].clone()
    }
}

/// A client socket of either family.
#[derive(Debug)]
pub(crate) enum PeerStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl PeerStream {
    /// Connects (blocking) to a listener's address.
    pub(crate) fn connect(address: &Address) -> io::Result<Self> {
        match address {
            Address::Tcp(addr) => TcpStream::connect(addr).map(Self::Tcp),
            Address::Unix(Some(path)) => UnixStream::connect(path).map(Self::Unix),
            other => panic!("cannot connect to {other}"),
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_nonblocking(nonblocking),
            Self::Unix(stream) => stream.set_nonblocking(nonblocking),
        }
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_read_timeout(timeout),
            Self::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    /// Shuts the sending side.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.shutdown(Shutdown::Write),
            Self::Unix(stream) => stream.shutdown(Shutdown::Write),
        }
    }

    /// The local address, as the server sees it as a peer.
    pub(crate) fn local_address(&self) -> Address {
        match self {
            Self::Tcp(stream) => Address::Tcp(stream.local_addr().expect("local address")),
            Self::Unix(stream) => Address::Unix(
                stream
                    .local_addr()
                    .expect("local address")
                    .as_pathname()
                    .map(Path::to_path_buf),
            ),
        }
    }
}

impl Read for PeerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.read(buf),
            Self::Unix(stream) => stream.read(buf),
        }
    }
}

impl Write for PeerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.write(buf),
            Self::Unix(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A non-blocking client, advanced with [`Peer::pump`] between reactor turns (typically from a
/// [`turn_until`] condition), so the test needs no threads.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) stream: PeerStream,
    pub(crate) received: Vec<u8>,
    pub(crate) eof: bool,
    pub(crate) error: Option<io::Error>,
    outgoing: Vec<u8>,
    sent: usize,
}

impl Peer {
    /// Connects to a listener's address.
    pub(crate) fn connect(address: &Address) -> Self {
        let stream = PeerStream::connect(address)
            .unwrap_or_else(|error| panic!("connect to {address}: {error}"));
        Self::from_stream(stream)
    }

    /// Wraps a connected stream.
    pub(crate) fn from_stream(stream: PeerStream) -> Self {
        stream.set_nonblocking(true).expect("non-blocking peer");
        Self {
            stream,
            received: Vec::new(),
            eof: false,
            error: None,
            outgoing: Vec::new(),
            sent: 0,
        }
    }

    /// Queues `data` and sends what the socket takes now.
    pub(crate) fn send(&mut self, data: &[u8]) {
        self.outgoing.extend_from_slice(data);
        self.pump_writes();
    }

    /// Whether everything queued has been sent.
    pub(crate) fn all_sent(&self) -> bool {
        self.sent == self.outgoing.len()
    }

    /// Sends what it can of the queued data, then reads everything available.
    pub(crate) fn pump(&mut self) {
        self.pump_writes();
        self.pump_reads();
    }

    /// Sends what it can; returns whether everything is sent.
    pub(crate) fn pump_writes(&mut self) -> bool {
        while self.sent < self.outgoing.len() && self.error.is_none() {
            match self.stream.write(&self.outgoing[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => self.error = Some(error),
            }
        }
        self.all_sent()
    }

    /// Reads everything available now.
    pub(crate) fn pump_reads(&mut self) {
        let mut buffer = vec![0; 64 * 1024];
        while !self.eof && self.error.is_none() {
            match self.stream.read(&mut buffer) {
                Ok(0) => self.eof = true,
                Ok(n) => self.received.extend_from_slice(&buffer[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => self.error = Some(error),
            }
        }
    }

    /// Reads until end of file or an error, blocking (for when no reactor needs to turn); fails
    /// the test if nothing ends the stream within `timeout` of silence.
    pub(crate) fn read_to_end_blocking(&mut self, timeout: Duration) {
        self.stream.set_nonblocking(false).expect("blocking peer");
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        let mut buffer = vec![0; 64 * 1024];
        while !self.eof && self.error.is_none() {
            match self.stream.read(&mut buffer) {
                Ok(0) => self.eof = true,
                Ok(n) => self.received.extend_from_slice(&buffer[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    panic!("the stream neither ended nor sent anything for {timeout:?}")
                }
                Err(error) => self.error = Some(error),
            }
        }
        self.stream
            .set_nonblocking(true)
            .expect("non-blocking peer");
    }

    /// Turns `reactor` while reading, until the stream ends (fails the test after 200 turns).
    pub(crate) fn read_to_end(&mut self, reactor: &Reactor) {
        turn_until(reactor, 200, || {
            self.pump_reads();
            self.ended()
        });
    }

    /// Whether the stream has ended, cleanly or not.
    pub(crate) fn ended(&self) -> bool {
        self.eof || self.error.is_some()
    }
}

/// A directory removed (with its contents) when dropped.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh, empty directory whose name includes `label`.
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("torsion-{}-{unique}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary directory");
        Self { path }
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Sets the soft limit on open descriptors of this process (the hard limit is unchanged).
#[allow(unsafe_code)]
pub(crate) fn set_open_files_soft_limit(soft: u64) -> io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the valid, exclusively borrowed `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    limit.rlim_cur = soft.min(limit.rlim_max);
    // SAFETY: setrlimit only reads the valid `rlimit` it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Where the result of a connection attempt lands once its Deferred fires.
pub(crate) type ConnectOutcome = Rc<RefCell<Option<Result<Rc<dyn Transport>, Failure>>>>;

/// Keeps the result of a connection attempt's Deferred.
pub(crate) fn watch_connect(attempt: Deferred<Rc<dyn Transport>>) -> ConnectOutcome {
    let outcome = ConnectOutcome::default();
    let slot = outcome.clone();
    // The chain is kept alive by whoever fires it; this handle is not needed.
    drop(attempt.add_both(move |result| {
        *slot.borrow_mut() = Some(result);
        Ok(())
    }));
    outcome
}

/// The gist of a [`ConnectError`], comparable in assertions.
#[derive(Debug, Eq, PartialEq)]
pub(crate) enum ConnectFailure {
    Resolve,
    TimedOut(Duration),
    Failed(io::ErrorKind),
}

/// How a settled connection attempt failed; fails the test if it did not fail with a
/// [`ConnectError`].
#[track_caller]
pub(crate) fn connect_failure(outcome: &ConnectOutcome) -> ConnectFailure {
    match &*outcome.borrow() {
        None => panic!("the connection attempt has not settled"),
        Some(Ok(transport)) => panic!("connected to {}", transport.peer_address()),
        Some(Err(failure)) => match failure.downcast_ref::<ConnectError>() {
            Some(ConnectError::Resolve { .. }) => ConnectFailure::Resolve,
            Some(ConnectError::TimedOut { timeout, .. }) => ConnectFailure::TimedOut(*timeout),
            Some(ConnectError::Failed { error, .. }) => ConnectFailure::Failed(error.kind()),
            Some(other) => panic!("unexpected connection error {other:?}"),
            None => panic!("failed with something other than a ConnectError: {failure:?}"),
        },
    }
}

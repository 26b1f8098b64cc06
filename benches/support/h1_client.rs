//! The HTTP/1.1 load loop: closed-loop keep-alive clients on one mio loop, over TCP or TLS.
//!
//! Every connection has exactly one request in flight: when a response is complete the next
//! request is written at once. What it does per request is kept to the minimum so that the
//! server, not this loop, is what a run measures:
//!
//! - each socket is registered once, edge-triggered, for reading and writing; nothing is
//!   re-registered per request;
//! - a readable socket is read into one 64 KiB buffer shared by all connections, until a read
//!   comes back short or would block, or a response is complete (with one request in flight
//!   nothing else can follow it, and Linux signals new data with a new edge);
//! - the request is written straight after the response, and waits for a writable event only
//!   if the socket does not take it;
//! - the clock is read once per poll turn;
//! - TLS goes through rustls's `ClientConnection`: ciphertext read from the socket is handed to
//!   `read_tls` from the shared buffer and the plaintext read into a second one.
//!
//! A connection that fails (closed by the server, a malformed response, a TLS error) counts one
//! error and is replaced by a new one, unless it failed before completing any response, in
//! which case retrying would fail the same way: it is retired. The run ends early when every
//! connection is retired.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::h1_response::{Progress, ProtocolError, ResponseReader};
use super::latency_histogram::LatencyHistogram;
use super::proc_stats;

const BUFFER_SIZE: usize = 64 * 1024;
/// How long the first connections may take to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The only ALPN protocol offered.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Where and what to request.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) address: SocketAddr,
    /// The whole request, written as it is for every request.
    pub(crate) request: Vec<u8>,
    /// The client configuration and the name to ask for, for `https` URLs.
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

/// What to run.
#[derive(Debug)]
pub(crate) struct LoadOptions {
    pub(crate) target: Target,
    pub(crate) connections: usize,
    pub(crate) warmup: Duration,
    pub(crate) measure: Duration,
    /// The server's process id, to report how busy it was.
    pub(crate) server_pid: Option<String>,
}

/// What a run counted during its measured window.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) tally: Tally,
    /// How long the measured window lasted (shorter than asked if every connection failed).
    pub(crate) elapsed: Duration,
    /// Cores used by this process over the window (1.0: one core, all the time).
    pub(crate) client_cpu: f64,
    /// Cores used by the server, when its process id was given.
    pub(crate) server_cpu: Option<f64>,
    /// Connections still open at the end.
    pub(crate) live_connections: usize,
}

/// Why a connection failed.
#[derive(Debug)]
enum Failure {
    Connect(io::Error),
    Closed,
    Protocol(ProtocolError),
    Tls(rustls::Error),
    Io(io::Error),
}

impl Failure {
    fn kind(&self) -> usize {
        match self {
            Self::Connect(_) => 0,
            Self::Closed => 1,
            Self::Protocol(_) => 2,
            Self::Tls(_) => 3,
            Self::Io(_) => 4,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Connect(error) => format!("connect: {error}"),
            Self::Closed => "the server closed the connection".to_string(),
            Self::Protocol(error) => format!("bad response: {error}"),
            Self::Tls(error @ rustls::Error::InvalidCertificate(_)) => {
                format!("TLS: {error} (--ca FILE trusts its issuer, --insecure any certificate)")
            }
            Self::Tls(error) => format!("TLS: {error}"),
            Self::Io(error) => format!("socket: {error}"),
        }
    }
}

/// The names of the failure kinds, in [`Failure::kind`] order.
pub(crate) const FAILURE_KINDS: [&str; 5] = ["connect", "closed", "protocol", "tls", "io"];

/// Responses and failures counted while measuring.
#[derive(Debug)]
pub(crate) struct Tally {
    measuring: bool,
    pub(crate) ok: u64,
    pub(crate) non_2xx: u64,
    /// Failures by kind, in [`FAILURE_KINDS`] order.
    pub(crate) errors: [u64; 5],
    pub(crate) latency: LatencyHistogram,
    /// The first failure of the run (warm-up included), described.
    pub(crate) first_error: Option<String>,
    /// The first status outside 2xx of the run (warm-up included).
    pub(crate) first_non_2xx: Option<u16>,
}

impl Tally {
    fn response(&mut self, status: u16, latency: Duration) {
        if !(200..300).contains(&status) {
            self.first_non_2xx.get_or_insert(status);
        }
        if self.measuring {
            if (200..300).contains(&status) {
                self.ok += 1;
            } else {
                self.non_2xx += 1;
            }
            self.latency.record(latency);
        }
    }

    fn failure(&mut self, failure: &Failure) {
        if self.first_error.is_none() {
            self.first_error = Some(failure.describe());
        }
        if self.measuring {
            self.errors[failure.kind()] += 1;
        }
    }

    /// Failures of every kind.
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// The request/response state of one connection.
#[derive(Debug)]
struct Exchange {
    reader: ResponseReader,
    in_flight: bool,
    sent_at: Instant,
    /// Whether a response completed since the connection was made.
    answered: bool,
}

impl Exchange {
    /// Reads `input`; true when it completed the response in flight.
    fn deliver(&mut self, input: &[u8], now: Instant, tally: &mut Tally) -> Result<bool, Failure> {
        if !self.in_flight {
            let error = ProtocolError::new("bytes after the response, which no request asked for");
            return Err(Failure::Protocol(error));
        }
        match self.reader.feed(input).map_err(Failure::Protocol)? {
            Progress::Incomplete => Ok(false),
            Progress::Complete { status, close } => {
                self.in_flight = false;
                self.answered = true;
                tally.response(status, now.saturating_duration_since(self.sent_at));
                if close {
                    Err(Failure::Closed)
                } else {
                    Ok(true)
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// A non-blocking connect is under way.
    Connecting,
    Open,
}

/// One client connection.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    phase: Phase,
    tls: Option<ClientConnection>,
    /// Whether the ALPN choice was checked after the handshake.
    alpn_checked: bool,
    /// Bytes at the end of the request not yet written (cleartext only: rustls keeps its own).
    unsent: usize,
    exchange: Exchange,
}

impl Connection {
    fn new(
        stream: TcpStream,
        phase: Phase,
        target: &Target,
        now: Instant,
    ) -> Result<Self, Failure> {
        let tls = match &target.tls {
            Some((config, name)) => {
                Some(ClientConnection::new(config.clone(), name.clone()).map_err(Failure::Tls)?)
            }
            None => None,
        };
        Ok(Self {
            stream,
            phase,
            tls,
            alpn_checked: false,
            unsent: 0,
            exchange: Exchange {
                reader: ResponseReader::new(),
                in_flight: false,
                sent_at: now,
                answered: false,
            },
        })
    }

    /// Handles one readiness event.
    fn on_event(
        &mut self,
        event: &Event,
        buffers: &mut Buffers,
        target: &Target,
        now: Instant,
        tally: &mut Tally,
    ) -> Result<(), Failure> {
        if self.phase == Phase::Connecting {
            return self.finish_connect(target, now);
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            let completed = match self.tls.is_some() {
                false => self.read_cleartext(&mut buffers.socket, now, tally)?,
                true => self.read_tls(buffers, now, tally)?,
            };
            if completed && event.is_read_closed() {
                // The end of the stream came with the response: the read stopped before it.
                return Err(Failure::Closed);
            }
            if completed {
                return self.send_request(target, now);
            }
        }
        self.flush(target)
    }

    /// Completes a non-blocking connect and sends the first request.
    fn finish_connect(&mut self, target: &Target, now: Instant) -> Result<(), Failure> {
        if let Some(error) = self.stream.take_error().map_err(Failure::Connect)? {
            return Err(Failure::Connect(error));
        }
        match self.stream.peer_addr() {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotConnected => return Ok(()),
            Err(error) => return Err(Failure::Connect(error)),
        }
        self.stream.set_nodelay(true).map_err(Failure::Connect)?;
        self.phase = Phase::Open;
        self.send_request(target, now)
    }

    /// Reads cleartext responses; true when the one in flight completed.
    fn read_cleartext(
        &mut self,
        buffer: &mut [u8],
        now: Instant,
        tally: &mut Tally,
    ) -> Result<bool, Failure> {
        loop {
            let length = match read_socket(&mut self.stream, buffer)? {
                Some(length) => length,
                None => return Ok(false),
            };
            if self.exchange.deliver(&buffer[..length], now, tally)? {
                return Ok(true);
            }
            if length < buffer.len() {
                return Ok(false);
            }
        }
    }

    /// Reads TLS records and the responses inside; true when the one in flight completed.
    fn read_tls(
        &mut self,
        buffers: &mut Buffers,
        now: Instant,
        tally: &mut Tally,
    ) -> Result<bool, Failure> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(false);
        };
        let mut completed = false;
        loop {
            let length = match read_socket(&mut self.stream, &mut buffers.socket)? {
                Some(length) => length,
                None => break,
            };
            let mut ciphertext = &buffers.socket[..length];
            while !ciphertext.is_empty() {
                if tls.read_tls(&mut ciphertext).map_err(Failure::Io)? == 0 {
                    // rustls takes nothing once the server has ended the session.
                    return Err(Failure::Closed);
                }
                tls.process_new_packets().map_err(Failure::Tls)?;
                if !self.alpn_checked && !tls.is_handshaking() {
                    check_alpn(tls)?;
                    self.alpn_checked = true;
                }
                completed |=
                    drain_plaintext(tls, &mut self.exchange, &mut buffers.plaintext, now, tally)?;
            }
            if completed || length < buffers.socket.len() {
                break;
            }
        }
        // Handshake messages and alerts rustls wants to answer with.
        flush_tls(tls, &mut self.stream)?;
        Ok(completed)
    }

    /// Writes the request (the same bytes every time) and starts its clock.
    fn send_request(&mut self, target: &Target, now: Instant) -> Result<(), Failure> {
        self.exchange.in_flight = true;
        self.exchange.sent_at = now;
        match self.tls.as_mut() {
            // Before the handshake completes rustls keeps the plaintext and sends it after.
            Some(tls) => tls
                .writer()
                .write_all(&target.request)
                .map_err(Failure::Io)?,
            None => self.unsent = target.request.len(),
        }
        self.flush(target)
    }

    /// Writes what the socket takes of what is waiting.
    fn flush(&mut self, target: &Target) -> Result<(), Failure> {
        if let Some(tls) = self.tls.as_mut() {
            return flush_tls(tls, &mut self.stream);
        }
        while self.unsent > 0 {
            let request = &target.request;
            match self.stream.write(&request[request.len() - self.unsent..]) {
                Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero.into())),
                Ok(written) => self.unsent -= written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(Failure::Io(error)),
            }
        }
        Ok(())
    }
}

/// One read from the socket: `None` when it would block.
fn read_socket(stream: &mut TcpStream, buffer: &mut [u8]) -> Result<Option<usize>, Failure> {
    loop {
        match stream.read(buffer) {
            Ok(0) => return Err(Failure::Closed),
            Ok(length) => return Ok(Some(length)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(Failure::Io(error)),
        }
    }
}

/// Hands the plaintext rustls decrypted to the exchange; true when a response completed.
fn drain_plaintext(
    tls: &mut ClientConnection,
    exchange: &mut Exchange,
    plaintext: &mut [u8],
    now: Instant,
    tally: &mut Tally,
) -> Result<bool, Failure> {
    let mut completed = false;
    loop {
        match tls.reader().read(plaintext) {
            Ok(0) => return Err(Failure::Closed),
            Ok(length) => completed |= exchange.deliver(&plaintext[..length], now, tally)?,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(completed),
            Err(error) => return Err(Failure::Io(error)),
        }
    }
}

fn check_alpn(tls: &ClientConnection) -> Result<(), Failure> {
    match tls.alpn_protocol() {
        None | Some(ALPN_HTTP1) => Ok(()),
        Some(_) => Err(Failure::Protocol(ProtocolError::new(
            "the server chose an ALPN protocol other than http/1.1",
        ))),
    }
}

fn flush_tls(tls: &mut ClientConnection, stream: &mut TcpStream) -> Result<(), Failure> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero.into())),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(Failure::Io(error)),
        }
    }
    Ok(())
}

/// The buffers every connection reads into.
#[derive(Debug)]
struct Buffers {
    socket: Vec<u8>,
    plaintext: Vec<u8>,
}

/// The loop's state.
struct Load<'a> {
    options: &'a LoadOptions,
    poll: Poll,
    /// Indexed by token; `None` once retired.
    connections: Vec<Option<Connection>>,
    live: usize,
    buffers: Buffers,
    tally: Tally,
}

/// Runs the load and returns what the measured window counted.
///
/// # Errors
///
/// When the poller cannot be made or a first connection cannot be made.
pub(crate) fn run(options: &LoadOptions) -> io::Result<Outcome> {
    let mut load = Load {
        options,
        poll: Poll::new()?,
        connections: Vec::with_capacity(options.connections),
        live: 0,
        buffers: Buffers {
            socket: vec![0; BUFFER_SIZE],
            plaintext: vec![0; BUFFER_SIZE],
        },
        tally: Tally {
            measuring: false,
            ok: 0,
            non_2xx: 0,
            errors: [0; 5],
            latency: LatencyHistogram::new(),
            first_error: None,
            first_non_2xx: None,
        },
    };
    let streams = connect_all(options.target.address, options.connections)?;
    // The run starts once every connection is made: a slow accept queue eats no warm-up.
    let start = clock();
    for (index, stream) in streams.into_iter().enumerate() {
        load.add(index, TcpStream::from_std(stream), Phase::Open, start)?;
    }
    load.drive(start)
}

/// Makes the first `count` connections to `address`, blocking, one after another.
fn connect_all(address: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let stream =
            std::net::TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot connect to {address}: {error}"),
                )
            })?;
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    Ok(streams)
}

impl Load<'_> {
    /// Registers `stream` as connection `index`; an open one sends its request at once.
    fn add(
        &mut self,
        index: usize,
        mut stream: TcpStream,
        phase: Phase,
        now: Instant,
    ) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(&mut stream, Token(index), interest)?;
        let open = phase == Phase::Open;
        let result =
            Connection::new(stream, phase, &self.options.target, now).and_then(|mut connection| {
                if open {
                    connection.send_request(&self.options.target, now)?;
                }
                Ok(connection)
            });
        if index == self.connections.len() {
            self.connections.push(None);
        }
        match result {
            Ok(connection) => {
                self.connections[index] = Some(connection);
                self.live += 1;
            }
            Err(failure) => self.tally.failure(&failure),
        }
        Ok(())
    }

    /// Polls until the measured window ends or no connection is left.
    fn drive(mut self, start: Instant) -> io::Result<Outcome> {
        let measure_from = start + self.options.warmup;
        let end = measure_from + self.options.measure;
        let mut events = Events::with_capacity(1024);
        let mut window: Option<(Instant, CpuReading)> = None;
        let mut now = start;
        loop {
            if window.is_none() && now >= measure_from {
                window = Some((now, self.read_cpu()?));
                self.tally.measuring = true;
            }
            if now >= end || self.live == 0 {
                break;
            }
            let next_stop = if window.is_some() { end } else { measure_from };
            match self.poll.poll(&mut events, Some(next_stop - now)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
            now = clock();
            for event in &events {
                self.on_event(event, now)?;
            }
        }
        let (measured_from, before) = match window {
            Some(window) => window,
            None => (now, self.read_cpu()?),
        };
        let after = self.read_cpu()?;
        let elapsed = now.saturating_duration_since(measured_from);
        // A window that never opened (every connection failed in the warm-up) used no CPU.
        let seconds = elapsed.as_secs_f64();
        let share = |used: f64| if seconds > 0.0 { used / seconds } else { 0.0 };
        Ok(Outcome {
            elapsed,
            client_cpu: share(after.client - before.client),
            server_cpu: after
                .server
                .zip(before.server)
                .map(|(later, earlier)| share(later - earlier)),
            live_connections: self.live,
            tally: self.tally,
        })
    }

    fn on_event(&mut self, event: &Event, now: Instant) -> io::Result<()> {
        let index = event.token().0;
        let Some(connection) = self.connections.get_mut(index).and_then(Option::as_mut) else {
            return Ok(());
        };
        let target = &self.options.target;
        let result = connection.on_event(event, &mut self.buffers, target, now, &mut self.tally);
        match result {
            Ok(()) => Ok(()),
            Err(failure) => self.replace(index, &failure, now),
        }
    }

    /// Counts `failure` and replaces connection `index` by a new one, or retires it if it never
    /// completed a response.
    fn replace(&mut self, index: usize, failure: &Failure, now: Instant) -> io::Result<()> {
        self.tally.failure(failure);
        let Some(mut connection) = self.connections[index].take() else {
            return Ok(());
        };
        self.live -= 1;
        self.poll.registry().deregister(&mut connection.stream)?;
        if !connection.exchange.answered {
            return Ok(());
        }
        match TcpStream::connect(self.options.target.address) {
            Ok(stream) => self.add(index, stream, Phase::Connecting, now),
            Err(error) => {
                self.tally.failure(&Failure::Connect(error));
                Ok(())
            }
        }
    }

    fn read_cpu(&self) -> io::Result<CpuReading> {
        let server = match &self.options.server_pid {
            Some(pid) => Some(proc_stats::cpu_seconds(pid).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot read the CPU time of process {pid}: {error}"),
                )
            })?),
            None => None,
        };
        Ok(CpuReading {
            server,
            client: proc_stats::cpu_seconds("self")?,
        })
    }
}

/// CPU seconds used by the server and by this process, read at one moment.
struct CpuReading {
    server: Option<f64>,
    client: f64,
}

/// Reads the monotonic clock (benches time themselves).
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

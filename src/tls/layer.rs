//! The adapter between a transport and a protocol: a [`Protocol`] to the outer (socket)
//! transport that owns a rustls connection, and a [`Transport`] to the inner protocol.
//!
//! Ciphertext from the socket goes straight from the reactor's read buffer into rustls; the
//! plaintext of one read is handed to the inner protocol in one `data_received`. What the inner
//! protocol writes collects in one plaintext buffer and is encrypted when its callback returns
//! (or at the reactor's flush, for writes made elsewhere), so a response written in pieces
//! becomes one TLS record and one write to the socket transport. Writes of a record's size or
//! more are encrypted at once, so the outer buffer — and with it back-pressure — follows the
//! inner protocol's writes as it does without TLS.
//!
//! Like every transport, this one never calls the inner protocol from inside one of its own
//! methods: deliveries happen in the outer protocol callbacks and in the reactor's flush.

use std::cell::{OnceCell, RefCell};
use std::io::{self, Read, Write};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use crate::payload::Payload;
use crate::reactor::{Flush, Reactor, ReactorInner};
use crate::time::DelayedCall;
use crate::transport::{Address, DisconnectReason, Producer, Protocol, Transport};

/// The largest plaintext a TLS record carries: writes this large are encrypted at once.
const RECORD_PLAINTEXT: usize = 16 * 1024;
/// Buffers keep at most this much capacity once emptied (idle connections stay small).
const RETAINED_CAPACITY: usize = 64 * 1024;
/// Encrypted output at least this large is handed to the socket transport without a copy.
const HAND_OVER_MIN: usize = 64 * 1024;
/// How long a handshake may take before the connection is dropped, unless configured.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Told once whether the handshake completed (with the TLS transport) or why not.
pub(crate) type HandshakeOutcome = Box<dyn FnOnce(Result<Rc<dyn Transport>, io::Error>)>;

/// How the inner protocol asked the connection to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closing {
    Open,
    /// `lose_connection`: close_notify once the plaintext is out, then close.
    Lose,
    /// `write_eof`: close_notify once the plaintext is out, then shut the socket's write side.
    WriteEof,
    /// Aborted, failed or already closed: nothing more is sent.
    Done,
}

struct State {
    tls: Connection,
    outer: Option<Rc<dyn Transport>>,
    /// Plaintext written by the inner protocol and not yet encrypted.
    plain_out: Vec<u8>,
    /// Scratch space for rustls's output on its way to the socket transport.
    tls_out: Vec<u8>,
    /// Decrypted bytes not yet handed to the inner protocol.
    plain_in: Vec<u8>,
    /// The inner protocol asked to stop reading.
    inner_paused: bool,
    /// The socket transport was asked to stop reading (only once the handshake is done).
    outer_paused: bool,
    /// The peer's close_notify arrived and the inner protocol has not been told yet.
    eof_pending: bool,
    /// The inner protocol's answer to `eof_received`, once asked.
    keep_open: Option<bool>,
    closing: Closing,
    close_notify_sent: bool,
    /// The socket transport has been told to close or half-close.
    outer_closed: bool,
    flush_scheduled: bool,
    /// A callback of the outer transport is running: it pushes output out when it ends.
    in_callback: bool,
    /// Why the TLS session failed, reported to the inner protocol in `connection_lost`.
    failure: Option<io::Error>,
    /// A producer registered during the handshake (paused if it pushes), handed to the socket
    /// transport once the handshake is done.
    waiting_producer: Option<(Rc<dyn Producer>, bool)>,
    /// The handshake is done and the inner protocol has had its `connection_made`.
    started: bool,
    handshake_timeout: Duration,
    handshake_timer: Option<DelayedCall>,
    on_handshake: Option<HandshakeOutcome>,
}

impl State {
    fn new(mut tls: Connection) -> Self {
        // Plaintext is held in `plain_out` until the handshake is done and is encrypted as it
        // is handed over, so rustls's own buffers never need a limit.
        tls.set_buffer_limit(None);
        Self {
            tls,
            outer: None,
            plain_out: Vec::new(),
            tls_out: Vec::new(),
            plain_in: Vec::new(),
            inner_paused: false,
            outer_paused: false,
            eof_pending: false,
            keep_open: None,
            closing: Closing::Open,
            close_notify_sent: false,
            outer_closed: false,
            flush_scheduled: false,
            in_callback: false,
            failure: None,
            waiting_producer: None,
            started: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            handshake_timer: None,
            on_handshake: None,
        }
    }

    /// Feeds `input` to rustls and collects the plaintext; a TLS failure is returned.
    fn absorb(&mut self, mut input: &[u8]) -> Result<(), io::Error> {
        while !input.is_empty() {
            match self.tls.read_tls(&mut input) {
                // After the peer's close_notify nothing more is read.
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
            }
            let io_state = self
                .tls
                .process_new_packets()
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            let available = io_state.plaintext_bytes_to_read();
            if available > 0 {
                let start = self.plain_in.len();
                self.plain_in.resize(start + available, 0);
                self.tls.reader().read_exact(&mut self.plain_in[start..])?;
            }
            if io_state.peer_has_closed() && self.keep_open.is_none() {
                self.eof_pending = true;
            }
        }
        Ok(())
    }

    /// Encrypts pending plaintext (once the handshake allows), adds close_notify when the
    /// inner protocol is closing, and collects everything rustls has to send into `tls_out`.
    fn seal(&mut self) {
        if self.closing == Closing::Done && self.failure.is_none() {
            return;
        }
        if !self.tls.is_handshaking() && !self.plain_out.is_empty() {
            // With no buffer limit rustls takes everything.
            let _ = self.tls.writer().write_all(&self.plain_out);
            self.plain_out.clear();
            shrink(&mut self.plain_out);
        }
        let closing = matches!(self.closing, Closing::Lose | Closing::WriteEof);
        if closing && !self.close_notify_sent && self.plain_out.is_empty() {
            self.tls.send_close_notify();
            self.close_notify_sent = true;
        }
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.tls_out).is_err() {
                break;
            }
        }
    }

    /// Encrypts `chunks` directly, after any pending plaintext (the handshake is done).
    fn seal_chunks(&mut self, chunks: &[&[u8]]) {
        self.seal();
        for chunk in chunks {
            let _ = self.tls.writer().write_all(chunk);
        }
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.tls_out).is_err() {
                break;
            }
        }
    }
}

fn shrink(buffer: &mut Vec<u8>) {
    if buffer.capacity() > RETAINED_CAPACITY {
        *buffer = Vec::new();
    }
}

/// The TLS session of one connection: the inner protocol's transport, and what the outer
/// protocol ([`TlsProtocol`]) drives.
struct TlsLayer {
    me: Weak<TlsLayer>,
    reactor: Weak<ReactorInner>,
    state: RefCell<State>,
    inner: RefCell<Option<Box<dyn Protocol>>>,
    peer: OnceCell<Address>,
    host: OnceCell<Address>,
}

impl TlsLayer {
    fn new(reactor: &Reactor, tls: Connection, inner: Box<dyn Protocol>) -> Rc<Self> {
        Rc::new_cyclic(|me| Self {
            me: me.clone(),
            reactor: reactor.downgrade(),
            state: RefCell::new(State::new(tls)),
            inner: RefCell::new(Some(inner)),
            peer: OnceCell::new(),
            host: OnceCell::new(),
        })
    }

    fn transport(&self) -> Rc<dyn Transport> {
        match self.me.upgrade() {
            Some(me) => me,
            None => unreachable!("a TLS layer's methods run only while it is alive"),
        }
    }

    /// Asks the reactor to flush this layer, unless an outer callback will push output anyway.
    fn wake(&self, state: &mut State) {
        if !state.in_callback {
            self.schedule(state);
        }
    }

    /// Asks the reactor to flush this layer.
    fn schedule(&self, state: &mut State) {
        if state.flush_scheduled {
            return;
        }
        let (Some(reactor), Some(me)) = (self.reactor.upgrade(), self.me.upgrade()) else {
            return;
        };
        state.flush_scheduled = true;
        Reactor::from_inner(reactor).schedule_flush(me);
    }

    /// Hands what rustls produced to the socket transport (one write), then closes or
    /// half-closes it once close_notify is out.
    fn push_out(&self) {
        let (output, outer, close) = {
            let mut state = self.state.borrow_mut();
            let Some(outer) = state.outer.clone() else {
                return;
            };
            state.seal();
            let close = if state.close_notify_sent && !state.outer_closed {
                state.outer_closed = true;
                Some(state.closing)
            } else {
                None
            };
            (std::mem::take(&mut state.tls_out), outer, close)
        };
        self.send(&outer, output);
        match close {
            Some(Closing::Lose) => outer.lose_connection(),
            Some(Closing::WriteEof) => outer.write_eof(),
            _ => {}
        }
    }

    /// Writes `output` to the socket transport (no borrow held) and keeps the buffer.
    fn send(&self, outer: &Rc<dyn Transport>, mut output: Vec<u8>) {
        if output.is_empty() {
            self.state.borrow_mut().tls_out = output;
            return;
        }
        if output.len() >= HAND_OVER_MIN {
            outer.write_owned(&[], output.into());
            return;
        }
        outer.write(&output);
        output.clear();
        let mut state = self.state.borrow_mut();
        if state.tls_out.is_empty() {
            state.tls_out = output;
        }
    }

    /// Queues plaintext from the inner protocol.
    fn queue(&self, chunks: &[&[u8]]) {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if total == 0 {
            return;
        }
        let mut state = self.state.borrow_mut();
        if state.closing != Closing::Open || state.outer.is_none() {
            return;
        }
        let eager =
            !state.tls.is_handshaking() && state.plain_out.len() + total >= RECORD_PLAINTEXT;
        if !eager {
            for chunk in chunks {
                state.plain_out.extend_from_slice(chunk);
            }
            return self.wake(&mut state);
        }
        // A record's worth or more: encrypt now, so the socket transport's buffer (and the
        // producer pausing that goes with it) follows the write.
        let small_head = chunks.len() > 1 && chunks[0].len() < RECORD_PLAINTEXT / 4;
        if small_head {
            // A response head joins the pending plaintext rather than making its own record.
            state.plain_out.extend_from_slice(chunks[0]);
            state.seal_chunks(&chunks[1..]);
        } else {
            state.seal_chunks(chunks);
        }
        let output = std::mem::take(&mut state.tls_out);
        let outer = state.outer.clone();
        drop(state);
        if let Some(outer) = outer {
            self.send(&outer, output);
        }
    }

    /// Hands buffered plaintext and a pending end of input to the inner protocol.
    fn deliver(&self) {
        let (data, eof) = {
            let mut state = self.state.borrow_mut();
            let failed = state.closing == Closing::Done && state.failure.is_some();
            if !state.started || state.inner_paused || failed {
                return;
            }
            let eof = std::mem::take(&mut state.eof_pending);
            (std::mem::take(&mut state.plain_in), eof)
        };
        if !data.is_empty() {
            if let Ok(mut inner) = self.inner.try_borrow_mut() {
                if let Some(inner) = inner.as_mut() {
                    inner.data_received(&data);
                }
            }
        }
        let mut data = data;
        data.clear();
        shrink(&mut data);
        let paused_meanwhile = {
            let mut state = self.state.borrow_mut();
            state.plain_in = data;
            state.inner_paused
        };
        if eof {
            if paused_meanwhile {
                self.state.borrow_mut().eof_pending = true;
                return;
            }
            self.deliver_eof();
        }
    }

    /// Tells the inner protocol the peer sends nothing more; closes unless it keeps writing.
    fn deliver_eof(&self) -> bool {
        let keep_open = match self.inner.try_borrow_mut() {
            Ok(mut inner) => inner.as_mut().is_some_and(|p| p.eof_received()),
            Err(_) => false,
        };
        self.state.borrow_mut().keep_open = Some(keep_open);
        if !keep_open {
            self.lose_connection();
        }
        keep_open
    }

    /// Runs `f` as an outer callback: inner writes made meanwhile go out when it returns.
    fn in_callback(&self, f: impl FnOnce()) {
        self.state.borrow_mut().in_callback = true;
        f();
        self.state.borrow_mut().in_callback = false;
        self.push_out();
    }

    /// The TLS session failed: send rustls's alert and close. The inner protocol hears
    /// `error` in `connection_lost`, or, before the handshake was done, whoever waits for it.
    fn fail(&self, error: io::Error) {
        let (outer, waiting) = {
            let mut state = self.state.borrow_mut();
            let waiting = if state.started {
                state.failure = Some(error);
                None
            } else {
                state.on_handshake.take().map(|outcome| (outcome, error))
            };
            state.closing = Closing::Done;
            state.plain_out.clear();
            state.outer_closed = true;
            if let Some(timer) = state.handshake_timer.take() {
                let _ = timer.cancel();
            }
            (state.outer.clone(), waiting)
        };
        if let Some((outcome, error)) = waiting {
            outcome(Err(error));
        }
        self.push_alert(outer.as_ref());
        if let Some(outer) = outer {
            outer.lose_connection();
        }
    }

    fn push_alert(&self, outer: Option<&Rc<dyn Transport>>) {
        let output = {
            let mut state = self.state.borrow_mut();
            while state.tls.wants_write() {
                let State { tls, tls_out, .. } = &mut *state;
                if tls.write_tls(tls_out).is_err() {
                    break;
                }
            }
            std::mem::take(&mut state.tls_out)
        };
        if let Some(outer) = outer {
            self.send(outer, output);
        }
    }

    /// Once the handshake is done: the inner protocol's `connection_made`, then whoever waits
    /// for the handshake.
    fn start_inner(&self) {
        let (timer, outcome) = {
            let mut state = self.state.borrow_mut();
            if state.started || state.tls.is_handshaking() || state.closing == Closing::Done {
                return;
            }
            state.started = true;
            (state.handshake_timer.take(), state.on_handshake.take())
        };
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        let transport = self.transport();
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            if let Some(inner) = inner.as_mut() {
                inner.connection_made(transport.clone());
            }
        }
        if let Some(outcome) = outcome {
            outcome(Ok(transport));
        }
    }

    /// Drops the connection if the handshake is not done by now.
    fn handshake_timed_out(&self) {
        let waiting = {
            let state = self.state.borrow();
            !state.started && state.closing != Closing::Done
        };
        if waiting {
            self.fail(io::Error::new(
                io::ErrorKind::TimedOut,
                "the TLS handshake did not complete in time",
            ));
        }
    }

    /// Once the handshake is done, hands a producer registered meanwhile to the socket
    /// transport and lets it produce.
    fn release_producer(&self) {
        let (producer, streaming, outer) = {
            let mut state = self.state.borrow_mut();
            if state.tls.is_handshaking() || state.waiting_producer.is_none() {
                return;
            }
            let Some(outer) = state.outer.clone() else {
                return;
            };
            let Some((producer, streaming)) = state.waiting_producer.take() else {
                return;
            };
            (producer, streaming, outer)
        };
        outer.register_producer(producer.clone(), streaming);
        if streaming {
            producer.resume_producing();
        }
    }

    /// Pauses the socket transport if the inner protocol asked for it and the handshake, which
    /// must go on regardless, is done.
    fn apply_pause(&self) {
        let outer = {
            let mut state = self.state.borrow_mut();
            if !state.inner_paused || state.outer_paused || state.tls.is_handshaking() {
                return;
            }
            state.outer_paused = true;
            state.outer.clone()
        };
        if let Some(outer) = outer {
            outer.pause_producing();
        }
    }
}

impl Flush for TlsLayer {
    fn flush(&self, _reactor: &Reactor) {
        let deliver = {
            let mut state = self.state.borrow_mut();
            state.flush_scheduled = false;
            !state.inner_paused && (!state.plain_in.is_empty() || state.eof_pending)
        };
        if deliver {
            self.in_callback(|| self.deliver());
        } else {
            self.push_out();
        }
    }
}

impl Transport for TlsLayer {
    fn write(&self, data: &[u8]) {
        self.queue(&[data]);
    }

    fn write_sequence(&self, data: &[&[u8]]) {
        self.queue(data);
    }

    fn write_owned(&self, head: &[u8], body: Payload) {
        self.queue(&[head, &body]);
    }

    fn lose_connection(&self) {
        let mut state = self.state.borrow_mut();
        if state.closing != Closing::Open {
            return;
        }
        state.closing = Closing::Lose;
        self.wake(&mut state);
    }

    fn abort_connection(&self) {
        let outer = {
            let mut state = self.state.borrow_mut();
            state.closing = Closing::Done;
            state.outer_closed = true;
            state.plain_out.clear();
            state.outer.clone()
        };
        if let Some(outer) = outer {
            outer.abort_connection();
        }
    }

    fn write_eof(&self) {
        let mut state = self.state.borrow_mut();
        if state.closing != Closing::Open {
            return;
        }
        state.closing = Closing::WriteEof;
        self.wake(&mut state);
    }

    fn peer_address(&self) -> Address {
        self.peer.get().cloned().unwrap_or(Address::Unix(None))
    }

    fn host_address(&self) -> Address {
        self.host.get().cloned().unwrap_or(Address::Unix(None))
    }

    fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool) {
        let (outer, handshaking) = {
            let mut state = self.state.borrow_mut();
            let handshaking = state.tls.is_handshaking() && state.closing == Closing::Open;
            if handshaking {
                // Nothing can be sent before the handshake is done: a push producer waits.
                state.waiting_producer = Some((producer.clone(), streaming));
            }
            (state.outer.clone(), handshaking)
        };
        match outer {
            Some(_) if handshaking => {
                if streaming {
                    producer.pause_producing();
                }
            }
            Some(outer) => outer.register_producer(producer, streaming),
            None => producer.stop_producing(),
        }
    }

    fn unregister_producer(&self) {
        let outer = {
            let mut state = self.state.borrow_mut();
            state.waiting_producer = None;
            state.outer.clone()
        };
        if let Some(outer) = outer {
            outer.unregister_producer();
        }
    }

    fn pause_producing(&self) {
        self.state.borrow_mut().inner_paused = true;
        self.apply_pause();
    }

    fn resume_producing(&self) {
        let outer = {
            let mut state = self.state.borrow_mut();
            if !state.inner_paused {
                return;
            }
            state.inner_paused = false;
            if !state.plain_in.is_empty() || state.eof_pending {
                // Delivered at the reactor's flush, never from inside this method.
                self.schedule(&mut state);
            }
            let was_paused = std::mem::take(&mut state.outer_paused);
            if was_paused {
                state.outer.clone()
            } else {
                None
            }
        };
        if let Some(outer) = outer {
            outer.resume_producing();
        }
    }

    fn set_write_watermarks(&self, low: usize, high: usize) {
        let outer = self.state.borrow().outer.clone();
        if let Some(outer) = outer {
            outer.set_write_watermarks(low, high);
        }
    }

    fn buffered_len(&self) -> usize {
        let state = self.state.borrow();
        let outer = state.outer.as_ref().map_or(0, |outer| outer.buffered_len());
        outer + state.plain_out.len()
    }

    fn is_connected(&self) -> bool {
        let state = self.state.borrow();
        state.closing == Closing::Open && state.outer.as_ref().is_some_and(|o| o.is_connected())
    }

    fn set_tcp_nodelay(&self, enabled: bool) -> io::Result<()> {
        let outer = self.state.borrow().outer.clone();
        match outer {
            Some(outer) => outer.set_tcp_nodelay(enabled),
            None => Ok(()),
        }
    }

    fn negotiated_protocol(&self) -> Option<Vec<u8>> {
        self.state.borrow().tls.alpn_protocol().map(<[u8]>::to_vec)
    }

    fn is_secure(&self) -> bool {
        true
    }
}

/// The protocol a TLS connection runs on its socket: decrypts for, and encrypts from, the
/// protocol it wraps, which sees a [`Transport`] of its own.
///
/// The wrapped protocol's `connection_made` comes once the handshake is done, so the negotiated
/// ALPN protocol is known then. A handshake that fails or takes longer than its timeout closes
/// the connection without troubling the wrapped protocol (a client's connection attempt fails
/// instead). A bad record later closes the connection, and the wrapped protocol's
/// `connection_lost` gets [`DisconnectReason::Lost`] with an [`io::Error`] of kind
/// `InvalidData` carrying the [`rustls::Error`].
pub struct TlsProtocol {
    layer: Rc<TlsLayer>,
}

impl std::fmt::Debug for TlsProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.layer.state.borrow();
        f.debug_struct("TlsProtocol")
            .field("handshaking", &state.tls.is_handshaking())
            .field("closing", &state.closing)
            .finish_non_exhaustive()
    }
}

impl TlsProtocol {
    /// The server side of a TLS connection running `inner`.
    ///
    /// # Errors
    ///
    /// What rustls says when the configuration cannot make a connection.
    pub fn server(
        reactor: &Reactor,
        config: Arc<ServerConfig>,
        inner: Box<dyn Protocol>,
    ) -> Result<Self, rustls::Error> {
        let tls = ServerConnection::new(config)?;
        Ok(Self {
            layer: TlsLayer::new(reactor, tls.into(), inner),
        })
    }

    /// The client side of a TLS connection to `server_name` (a DNS name, checked against the
    /// server's certificate, or an IP address) running `inner`.
    ///
    /// # Errors
    ///
    /// A name that is neither a DNS name nor an IP address, or what rustls says.
    pub fn client(
        reactor: &Reactor,
        config: Arc<ClientConfig>,
        server_name: &str,
        inner: Box<dyn Protocol>,
    ) -> Result<Self, rustls::Error> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|_| {
            rustls::Error::General(format!("{server_name:?} is not a valid server name"))
        })?;
        let tls = ClientConnection::new(config, name)?;
        Ok(Self {
            layer: TlsLayer::new(reactor, tls.into(), inner),
        })
    }

    /// The transport the wrapped protocol writes to.
    pub fn transport(&self) -> Rc<dyn Transport> {
        self.layer.transport()
    }

    /// Drops connections whose handshake takes longer than `timeout` (30 s by default).
    #[must_use]
    pub fn with_handshake_timeout(self, timeout: Duration) -> Self {
        self.layer.state.borrow_mut().handshake_timeout = timeout;
        self
    }

    /// Calls `outcome` once the handshake is done (with the TLS transport, after the wrapped
    /// protocol's `connection_made`) or has failed (with why).
    pub(crate) fn on_handshake(self, outcome: HandshakeOutcome) -> Self {
        self.layer.state.borrow_mut().on_handshake = Some(outcome);
        self
    }
}

impl Protocol for TlsProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let layer = &self.layer;
        let _ = layer.peer.set(transport.peer_address());
        let _ = layer.host.set(transport.host_address());
        let timeout = {
            let mut state = layer.state.borrow_mut();
            state.outer = Some(transport);
            state.handshake_timeout
        };
        if let Some(reactor) = layer.reactor.upgrade().map(Reactor::from_inner) {
            let waiting = Rc::downgrade(layer);
            let timer = reactor.call_later(timeout, move || {
                if let Some(layer) = waiting.upgrade() {
                    layer.handshake_timed_out();
                }
            });
            layer.state.borrow_mut().handshake_timer = Some(timer);
        }
        // A client's hello goes out now.
        layer.push_out();
    }

    fn data_received(&mut self, data: &[u8]) {
        let layer = &self.layer;
        let absorbed = {
            let mut state = layer.state.borrow_mut();
            if state.closing == Closing::Done {
                return;
            }
            state.absorb(data)
        };
        if let Err(error) = absorbed {
            return layer.fail(error);
        }
        layer.in_callback(|| {
            layer.start_inner();
            layer.apply_pause();
            layer.release_producer();
            layer.deliver();
        });
    }

    fn eof_received(&mut self) -> bool {
        let layer = &self.layer;
        let (started, answered) = {
            let state = layer.state.borrow();
            (state.started, state.keep_open)
        };
        if !started {
            layer.fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection during the TLS handshake",
            ));
            return false;
        }
        if let Some(keep_open) = answered {
            // The peer's close_notify came first and the inner protocol has answered.
            return keep_open;
        }
        // The socket ended without close_notify: the inner protocol hears the end of input
        // all the same (as most HTTP clients end that way).
        let mut keep_open = false;
        layer.in_callback(|| keep_open = layer.deliver_eof());
        keep_open
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let layer = &self.layer;
        let (failure, outer, waiting, started, outcome, timer) = {
            let mut state = layer.state.borrow_mut();
            state.closing = Closing::Done;
            (
                state.failure.take(),
                state.outer.take(),
                state.waiting_producer.take(),
                state.started,
                state.on_handshake.take(),
                state.handshake_timer.take(),
            )
        };
        drop(outer);
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        if let Some((producer, _)) = waiting {
            producer.stop_producing();
        }
        if !started {
            // The wrapped protocol never saw the connection; whoever waited hears why.
            layer.inner.borrow_mut().take();
            if let Some(outcome) = outcome {
                outcome(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!("the connection ended during the TLS handshake ({reason})"),
                )));
            }
            return;
        }
        let reason = match failure {
            Some(error) if !matches!(reason, DisconnectReason::Aborted) => {
                DisconnectReason::Lost(error)
            }
            _ => reason,
        };
        let inner = layer.inner.borrow_mut().take();
        if let Some(mut inner) = inner {
            inner.connection_lost(reason);
        }
    }
}

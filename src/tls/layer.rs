//! The adapter between a transport and a protocol: [`TlsLayer`] is the [`Transport`] of the
//! inner protocol and what [`TlsProtocol`] (the outer, socket transport's protocol) drives; its
//! records are the [`Session`]'s.
//!
//! Ciphertext from the socket is decrypted as it arrives; the plaintext of one read is handed
//! to the inner protocol in one `data_received`. What the inner
//! protocol writes collects in one plaintext buffer and is encrypted when its callback returns
//! (or at the reactor's flush, for writes made elsewhere), so a response written in pieces
//! becomes one TLS record and one write to the socket transport. Writes of a record's size or
//! more are encrypted at once, so the outer buffer — and with it back-pressure — follows the
//! inner protocol's writes as it does without TLS. The session encrypts into one buffer that is
//! written to the socket transport and reused; output of 64 KiB or more is handed over whole
//! instead, without a copy.
//!
//! Like every transport, this one never calls the inner protocol from inside one of its own
//! methods: deliveries happen in the outer protocol callbacks and in the reactor's flush.

use std::cell::{OnceCell, RefCell};
use std::io;
use std::rc::{Rc, Weak};
use std::time::Duration;

#[cfg(doc)]
use super::TlsProtocol;
use super::session::{RECORD_PLAINTEXT, Session};

use crate::payload::Payload;
use crate::reactor::{Flush, Reactor, ReactorInner};
use crate::time::DelayedCall;
use crate::transport::{Address, Producer, Protocol, Transport};

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
pub(super) enum Closing {
    Open,
    /// `lose_connection`: close_notify once the plaintext is out, then close.
    Lose,
    /// `write_eof`: close_notify once the plaintext is out, then shut the socket's write side.
    WriteEof,
    /// Aborted, failed or already closed: nothing more is sent.
    Done,
}

pub(super) struct State {
    pub(super) session: Session,
    pub(super) outer: Option<Rc<dyn Transport>>,
    /// Plaintext written by the inner protocol and not yet encrypted.
    pub(super) plain_out: Vec<u8>,
    /// Decrypted bytes not yet handed to the inner protocol.
    pub(super) plain_in: Vec<u8>,
    /// The inner protocol asked to stop reading.
    pub(super) inner_paused: bool,
    /// The socket transport was asked to stop reading (only once the handshake is done).
    pub(super) outer_paused: bool,
    /// The peer's close_notify arrived and the inner protocol has not been told yet.
    pub(super) eof_pending: bool,
    /// The inner protocol's answer to `eof_received`, once asked.
    pub(super) keep_open: Option<bool>,
    pub(super) closing: Closing,
    pub(super) close_notify_sent: bool,
    /// The socket transport has been told to close or half-close.
    pub(super) outer_closed: bool,
    pub(super) flush_scheduled: bool,
    /// A callback of the outer transport is running: it pushes output out when it ends.
    pub(super) in_callback: bool,
    /// Why the TLS session failed, reported to the inner protocol in `connection_lost`.
    pub(super) failure: Option<io::Error>,
    /// A producer registered during the handshake (paused if it pushes), handed to the socket
    /// transport once the handshake is done.
    pub(super) waiting_producer: Option<(Rc<dyn Producer>, bool)>,
    /// The handshake is done and the inner protocol has had its `connection_made`.
    pub(super) started: bool,
    pub(super) handshake_timeout: Duration,
    pub(super) handshake_timer: Option<DelayedCall>,
    pub(super) on_handshake: Option<HandshakeOutcome>,
}

impl State {
    fn new(session: Session) -> Self {
        Self {
            session,
            outer: None,
            plain_out: Vec::new(),
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

    /// Feeds `input` to the session and collects the plaintext; a TLS failure is returned.
    pub(super) fn absorb(&mut self, input: &[u8]) -> Result<(), io::Error> {
        let closed_before = self.session.peer_closed();
        self.session
            .receive(input, &mut self.plain_in)
            .map_err(invalid_data)?;
        if !closed_before && self.session.peer_closed() && self.keep_open.is_none() {
            self.eof_pending = true;
        }
        Ok(())
    }

    /// Encrypts pending plaintext (once the handshake allows) and adds close_notify when the
    /// inner protocol is closing; the records collect in the session's outgoing buffer.
    fn seal(&mut self) -> Result<(), io::Error> {
        if self.closing == Closing::Done {
            return Ok(());
        }
        if !self.plain_out.is_empty()
            && self
                .session
                .encrypt(&[&self.plain_out])
                .map_err(invalid_data)?
        {
            self.plain_out.clear();
            shrink(&mut self.plain_out);
        }
        let closing = matches!(self.closing, Closing::Lose | Closing::WriteEof);
        if closing && !self.close_notify_sent && self.plain_out.is_empty() {
            // Closing goes ahead even where close_notify cannot be sent.
            self.close_notify_sent = true;
            self.session.close_notify().map_err(invalid_data)?;
        }
        Ok(())
    }

    /// Encrypts `chunks` directly, after any pending plaintext (the handshake is done).
    fn seal_chunks(&mut self, chunks: &[&[u8]]) -> Result<(), io::Error> {
        self.seal()?;
        self.session.encrypt(chunks).map_err(invalid_data)?;
        Ok(())
    }
}

/// A TLS failure, as the inner protocol hears it.
pub(super) fn invalid_data(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

fn shrink(buffer: &mut Vec<u8>) {
    if buffer.capacity() > RETAINED_CAPACITY {
        *buffer = Vec::new();
    }
}

/// The TLS session of one connection: the inner protocol's transport, and what the outer
/// protocol ([`TlsProtocol`]) drives.
pub(super) struct TlsLayer {
    pub(super) me: Weak<TlsLayer>,
    pub(super) reactor: Weak<ReactorInner>,
    pub(super) state: RefCell<State>,
    pub(super) inner: RefCell<Option<Box<dyn Protocol>>>,
    pub(super) peer: OnceCell<Address>,
    pub(super) host: OnceCell<Address>,
}

impl TlsLayer {
    pub(super) fn new(reactor: &Reactor, session: Session, inner: Box<dyn Protocol>) -> Rc<Self> {
        Rc::new_cyclic(|me| Self {
            me: me.clone(),
            reactor: reactor.downgrade(),
            state: RefCell::new(State::new(session)),
            inner: RefCell::new(Some(inner)),
            peer: OnceCell::new(),
            host: OnceCell::new(),
        })
    }

    pub(super) fn transport(&self) -> Rc<dyn Transport> {
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

    /// Hands what the session produced to the socket transport (one write), then closes or
    /// half-closes it once close_notify is out.
    pub(super) fn push_out(&self) {
        let (output, outer, close) = {
            let mut state = self.state.borrow_mut();
            let Some(outer) = state.outer.clone() else {
                return;
            };
            if let Err(error) = state.seal() {
                drop(state);
                return self.fail(error);
            }
            let close = if state.close_notify_sent && !state.outer_closed {
                state.outer_closed = true;
                Some(state.closing)
            } else {
                None
            };
            if close.is_none() && state.session.outgoing().is_empty() {
                return;
            }
            (std::mem::take(state.session.outgoing()), outer, close)
        };
        self.send(&outer, output);
        match close {
            Some(Closing::Lose) => outer.lose_connection(),
            Some(Closing::WriteEof) => outer.write_eof(),
            _ => {}
        }
    }

    /// Writes `output` to the socket transport (no borrow held) and gives the buffer back to
    /// the session.
    fn send(&self, outer: &Rc<dyn Transport>, mut output: Vec<u8>) {
        if output.is_empty() {
            return;
        }
        if output.len() >= HAND_OVER_MIN {
            outer.write_owned(&[], output.into());
            return;
        }
        outer.write(&output);
        output.clear();
        let mut state = self.state.borrow_mut();
        let outgoing = state.session.outgoing();
        if outgoing.is_empty() && outgoing.capacity() < output.capacity() {
            *outgoing = output;
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
            state.plain_out.len() + total >= RECORD_PLAINTEXT && !state.session.is_handshaking();
        if !eager {
            for chunk in chunks {
                state.plain_out.extend_from_slice(chunk);
            }
            return self.wake(&mut state);
        }
        // A record's worth or more: encrypt now, so the socket transport's buffer (and the
        // producer pausing that goes with it) follows the write.
        let small_head = chunks.len() > 1 && chunks[0].len() < RECORD_PLAINTEXT / 4;
        let sealed = if small_head {
            // A response head joins the pending plaintext rather than making its own record.
            state.plain_out.extend_from_slice(chunks[0]);
            state.seal_chunks(&chunks[1..])
        } else {
            state.seal_chunks(chunks)
        };
        let output = std::mem::take(state.session.outgoing());
        let outer = state.outer.clone();
        drop(state);
        if let Err(error) = sealed {
            return self.fail(error);
        }
        if let Some(outer) = outer {
            self.send(&outer, output);
        }
    }

    /// Hands buffered plaintext and a pending end of input to the inner protocol.
    pub(super) fn deliver(&self) {
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
    pub(super) fn deliver_eof(&self) -> bool {
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
    pub(super) fn in_callback(&self, f: impl FnOnce()) {
        self.state.borrow_mut().in_callback = true;
        f();
        self.state.borrow_mut().in_callback = false;
        self.push_out();
    }

    /// The TLS session failed: send rustls's alert and close. The inner protocol hears
    /// `error` in `connection_lost`, or, before the handshake was done, whoever waits for it.
    pub(super) fn fail(&self, error: io::Error) {
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

    /// Sends what the session has left to say (the alert rustls made of a failure).
    fn push_alert(&self, outer: Option<&Rc<dyn Transport>>) {
        let output = std::mem::take(self.state.borrow_mut().session.outgoing());
        if let Some(outer) = outer {
            self.send(outer, output);
        }
    }

    /// Once the handshake is done: the inner protocol's `connection_made`, then whoever waits
    /// for the handshake.
    pub(super) fn start_inner(&self) {
        let (timer, outcome) = {
            let mut state = self.state.borrow_mut();
            if state.started || state.session.is_handshaking() || state.closing == Closing::Done {
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
    pub(super) fn handshake_timed_out(&self) {
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
    pub(super) fn release_producer(&self) {
        let (producer, streaming, outer) = {
            let mut state = self.state.borrow_mut();
            if state.session.is_handshaking() || state.waiting_producer.is_none() {
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
    pub(super) fn apply_pause(&self) {
        let outer = {
            let mut state = self.state.borrow_mut();
            if !state.inner_paused || state.outer_paused || state.session.is_handshaking() {
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
            let handshaking = state.session.is_handshaking() && state.closing == Closing::Open;
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
        self.state
            .borrow()
            .session
            .alpn_protocol()
            .map(<[u8]>::to_vec)
    }

    fn is_secure(&self) -> bool {
        true
    }
}

//! [`Http2Channel`]: the protocol that runs a sans-IO HTTP/2
//! [`ServerConn`](crate::http2::ServerConn) over a transport and hands each
//! stream's request to the site as a [`Request`] (Twisted's `H2Connection`).
//!
//! The pump is the HTTP/1.1 channel's: every input and every command ends
//! in draining the connection's events (dispatched with no borrow held),
//! one transport write of what it produced, one timer re-armed. Output is
//! taken from the connection only while the transport is not above its
//! high watermark: the channel registers itself as the transport's
//! producer, and a paused channel leaves DATA queued in the connection,
//! where flow control and round-robin decide what goes next. Each stream's
//! own producer is paused while the stream has more than
//! [`STREAM_HIGH_WATER`] bytes queued (its window is shut or the transport
//! is full) and resumed once it drains below [`STREAM_LOW_WATER`].
//!
//! A site that shuts down tells every HTTP/2 connection it serves to go away
//! ([`Http2Connections::go_away`]): each sends GOAWAY naming the last stream
//! it accepted, refuses newer streams, finishes the ones in flight, and
//! closes; the site hears when the last one has closed.
//!
//! Tested by: reactor_tests/http2.rs, conformance/http2/

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::mem;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::registry::Connections;
use super::request::{Request, RequestInfo};
use super::sink::ResponseSink;
use super::site::{SiteShared, process};
use crate::defer::Deferred;
use crate::http::{RequestHead, ResponseHead};
use crate::http2::{ErrorCode, Event, ServerConn, StreamId, UserError};
use crate::payload::Payload;
use crate::time::DelayedCall;
use crate::transport::{DisconnectReason, Producer, Protocol, Transport};

/// A stream's producer is paused above this many queued bytes.
pub const STREAM_HIGH_WATER: usize = 64 * 1024;
/// A paused stream producer is resumed at or below this many queued bytes.
pub const STREAM_LOW_WATER: usize = 16 * 1024;
/// Rounds of producer notifications per pump at most.
const PRODUCER_ROUNDS: usize = 16;

/// Serves HTTP/2 on one connection for a [`Site`](super::Site).
pub struct Http2Channel {
    shared: Rc<Channel>,
}

pub(crate) struct Channel {
    site: Rc<SiteShared>,
    pumping: Cell<bool>,
    /// A pump is scheduled for the next reactor turn.
    pump_scheduled: Cell<bool>,
    state: RefCell<State>,
    /// Its key among the site's [`Http2Connections`] until the connection is gone.
    registered: Cell<Option<usize>>,
}

struct StreamProducer {
    producer: Rc<dyn Producer>,
    streaming: bool,
    paused: bool,
}

struct State {
    conn: ServerConn,
    transport: Option<Rc<dyn Transport>>,
    requests: HashMap<StreamId, Request>,
    producers: HashMap<StreamId, StreamProducer>,
    out: Vec<u8>,
    timer: Option<(Instant, DelayedCall)>,
    /// The transport is above its high watermark.
    transport_full: bool,
    closing: bool,
    date_generation: u64,
}

impl Http2Channel {
    /// A channel for a client that starts with the HTTP/2 preface.
    pub(crate) fn new(site: Rc<SiteShared>) -> Http2Channel {
        let now = site.clock().now();
        let conn = ServerConn::new(site.config().http2.clone(), now);
        Http2Channel::with_conn(site, conn)
    }

    /// A channel taking over from HTTP/1.1 after `Upgrade: h2c`; `head` becomes stream 1.
    pub(crate) fn upgraded(
        site: Rc<SiteShared>,
        settings: &[u8],
        head: RequestHead,
    ) -> Option<Http2Channel> {
        let now = site.clock().now();
        let conn = ServerConn::upgraded(site.config().http2.clone(), now, settings, head).ok()?;
        Some(Http2Channel::with_conn(site, conn))
    }

    fn with_conn(site: Rc<SiteShared>, mut conn: ServerConn) -> Http2Channel {
        if site.http2_connections().closing() {
            conn.shutdown();
        }
        let state = State {
            conn,
            transport: None,
            requests: HashMap::new(),
            producers: HashMap::new(),
            out: Vec::new(),
            timer: None,
            transport_full: false,
            closing: false,
            date_generation: 0,
        };
        let shared = Rc::new(Channel {
            site,
            pumping: Cell::new(false),
            pump_scheduled: Cell::new(false),
            state: RefCell::new(state),
            registered: Cell::new(None),
        });
        let key = shared.site.http2_connections().add(&shared);
        shared.registered.set(Some(key));
        Http2Channel { shared }
    }
}

/// The live HTTP/2 connections of a site, so that a shutdown reaches them all.
pub(crate) type Http2Connections = Connections<Channel>;

/// Sends every connection of `connections` a GOAWAY (those opened later start with one); the
/// Deferred fires once all of them have finished their streams and closed.
pub(crate) fn go_away_all(connections: &Http2Connections) -> Deferred<()> {
    connections.close_all(|channel| channel.go_away())
}

impl fmt::Debug for Http2Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Http2Channel");
        if let Ok(state) = self.shared.state.try_borrow() {
            out.field("requests", &state.requests.len())
                .field("closing", &state.closing);
        }
        out.finish_non_exhaustive()
    }
}

/// The channel as its transport's producer: paused while the transport is full.
struct TransportWatch(Weak<Channel>);

impl Producer for TransportWatch {
    fn resume_producing(&self) {
        if let Some(channel) = self.0.upgrade() {
            if let Ok(mut state) = channel.state.try_borrow_mut() {
                state.transport_full = false;
            }
            channel.pump();
        }
    }

    fn pause_producing(&self) {
        if let Some(channel) = self.0.upgrade() {
            if let Ok(mut state) = channel.state.try_borrow_mut() {
                state.transport_full = true;
            }
        }
    }

    fn stop_producing(&self) {}
}

impl Protocol for Http2Channel {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let watch = Rc::new(TransportWatch(Rc::downgrade(&self.shared)));
        transport.register_producer(watch, true);
        let _ = transport.set_tcp_nodelay(true);
        self.shared.state.borrow_mut().transport = Some(transport);
        self.shared.pump();
    }

    fn data_received(&mut self, data: &[u8]) {
        self.shared.input(|conn, now| conn.handle_input(now, data));
    }

    fn eof_received(&mut self) -> bool {
        false
    }

    fn connection_lost(&mut self, _reason: DisconnectReason) {
        let (requests, timer) = {
            let mut state = self.shared.state.borrow_mut();
            state.closing = true;
            state.transport = None;
            state.producers.clear();
            (mem::take(&mut state.requests), state.timer.take())
        };
        if let Some((_, call)) = timer {
            let _ = call.cancel();
        }
        let mut requests: Vec<_> = requests.into_iter().collect();
        requests.sort_by_key(|(id, _)| *id);
        for (_, request) in requests {
            request.connection_lost(true);
        }
        self.shared.unregister();
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// Clears the pumping flag even if a callback panics through the pump.
struct PumpGuard<'a>(&'a Cell<bool>);

impl Drop for PumpGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// What to tell a stream's producer once no borrow is held.
enum Nudge {
    Pause(Rc<dyn Producer>),
    Resume(Rc<dyn Producer>),
}

impl Channel {
    /// Leaves the site's registry (the connection is gone).
    fn unregister(&self) {
        if let Some(key) = self.registered.take() {
            self.site.http2_connections().remove(key);
        }
    }

    /// Starts a graceful shutdown of the connection (GOAWAY), then pumps.
    fn go_away(self: &Rc<Self>) {
        {
            let mut state = self.state.borrow_mut();
            if state.transport.is_none() {
                return;
            }
            state.conn.shutdown();
        }
        self.pump();
    }

    fn input(self: &Rc<Self>, feed: impl FnOnce(&mut ServerConn, Instant)) {
        {
            let mut state = self.state.borrow_mut();
            let now = self.site.clock().now();
            feed(&mut state.conn, now);
        }
        self.pump();
    }

    fn pump(self: &Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        let _guard = PumpGuard(&self.pumping);
        let mut producers_still_asking = false;
        for _ in 0..PRODUCER_ROUNDS {
            loop {
                let mut dispatched = false;
                while let Some(event) = self.next_event() {
                    dispatched = true;
                    self.dispatch(event);
                }
                if !self.transmit() && !dispatched {
                    break;
                }
            }
            let nudges = self.producer_nudges();
            producers_still_asking = !nudges.is_empty();
            if nudges.is_empty() {
                break;
            }
            for nudge in nudges {
                match nudge {
                    Nudge::Pause(p) => p.pause_producing(),
                    Nudge::Resume(p) => p.resume_producing(),
                }
            }
        }
        if producers_still_asking {
            // The rounds ran out with producers still wanting to write and room for them: go
            // on in the next reactor turn, after other connections had theirs.
            self.pump_next_turn();
        }
        self.settle();
    }

    /// Runs a pump in the next reactor turn (once, however often this is asked).
    fn pump_next_turn(self: &Rc<Self>) {
        if self.pump_scheduled.replace(true) {
            return;
        }
        let channel = Rc::downgrade(self);
        self.site.clock().call_later(Duration::ZERO, move || {
            if let Some(channel) = channel.upgrade() {
                channel.pump_scheduled.set(false);
                channel.pump();
            }
        });
    }

    fn next_event(&self) -> Option<Event> {
        self.state.borrow_mut().conn.poll_event()
    }

    fn request(&self, id: StreamId) -> Option<Request> {
        self.state.borrow().requests.get(&id).cloned()
    }

    fn dispatch(self: &Rc<Self>, event: Event) {
        match event {
            Event::Request { id, head, .. } => self.begin_request(id, head),
            Event::Data { id, chunk } => {
                let len = chunk.len();
                if let Some(request) = self.request(id) {
                    // A refused body has been answered; the rest of it is discarded.
                    let _ = request.append_content(chunk);
                }
                self.state.borrow_mut().conn.release_capacity(id, len);
            }
            Event::EndOfMessage { id, .. } => {
                if let Some(request) = self.request(id) {
                    if !request.finished() {
                        process(&request);
                    }
                }
            }
            Event::StreamReset { id, .. } => {
                let (request, producer) = {
                    let mut state = self.state.borrow_mut();
                    (state.requests.remove(&id), state.producers.remove(&id))
                };
                drop(producer);
                if let Some(request) = request {
                    request.connection_lost(true);
                }
            }
            Event::ConnectionError { .. } => {}
        }
    }

    fn begin_request(self: &Rc<Self>, id: StreamId, head: RequestHead) {
        let Some(transport) = self.state.borrow().transport.clone() else {
            return;
        };
        let info = RequestInfo {
            head,
            client: transport.peer_address(),
            host: transport.host_address(),
            secure: transport.is_secure(),
        };
        let sink = Http2Sink {
            channel: Rc::downgrade(self),
            id,
        };
        let request = Request::with_shared(info, self.site.clone(), Box::new(sink));
        self.state.borrow_mut().requests.insert(id, request);
    }

    /// Writes what the connection has ready, unless the transport is full.
    fn transmit(&self) -> bool {
        let (mut out, transport) = {
            let mut state = self.state.borrow_mut();
            if state.transport_full || state.transport.is_none() {
                return false;
            }
            if let Some(date) = self.site.date_if_changed(&mut state.date_generation) {
                state.conn.set_date(&date);
            }
            let mut out = mem::take(&mut state.out);
            let _ = state.conn.poll_transmit(&mut out);
            (out, state.transport.clone())
        };
        let wrote = !out.is_empty();
        if let Some(transport) = transport.filter(|_| wrote) {
            transport.write(&out);
        }
        out.clear();
        self.state.borrow_mut().out = out;
        wrote
    }

    /// Decides which stream producers to pause or resume.
    fn producer_nudges(&self) -> Vec<Nudge> {
        let mut state = self.state.borrow_mut();
        let State {
            conn,
            producers,
            transport_full,
            ..
        } = &mut *state;
        let mut nudges = Vec::new();
        for (id, entry) in producers.iter_mut() {
            let queued = conn.buffered(*id);
            if entry.streaming {
                if !entry.paused && (*transport_full || queued > STREAM_HIGH_WATER) {
                    entry.paused = true;
                    nudges.push(Nudge::Pause(entry.producer.clone()));
                } else if entry.paused && !*transport_full && queued <= STREAM_LOW_WATER {
                    entry.paused = false;
                    nudges.push(Nudge::Resume(entry.producer.clone()));
                }
            } else if !*transport_full && queued <= STREAM_LOW_WATER {
                // A pull producer is asked for one chunk per round while there is room.
                nudges.push(Nudge::Resume(entry.producer.clone()));
            }
        }
        nudges
    }

    /// Re-arms the timer and closes once the connection is done.
    fn settle(self: &Rc<Self>) {
        let mut state = self.state.borrow_mut();
        if state.transport.is_none() {
            return;
        }
        let deadline = state.conn.poll_timeout();
        self.arm_timer(&mut state, deadline);
        let close = state.conn.is_closed() && !state.closing && !state.conn.has_pending_output();
        state.closing |= close;
        let transport = state.transport.clone();
        drop(state);
        if let (true, Some(transport)) = (close, transport) {
            transport.lose_connection();
        }
    }

    fn arm_timer(self: &Rc<Self>, state: &mut State, deadline: Option<Instant>) {
        let armed_at = state
            .timer
            .as_ref()
            .filter(|(_, call)| call.active())
            .map(|(at, _)| *at);
        if armed_at == deadline {
            return;
        }
        if let Some((_, call)) = state.timer.take() {
            let _ = call.cancel();
        }
        let Some(at) = deadline else { return };
        let channel = Rc::downgrade(self);
        let call = self.site.clock().call_at(at, move || {
            if let Some(channel) = channel.upgrade() {
                channel.state.borrow_mut().timer = None;
                channel.input(|conn, now| conn.handle_timeout(now));
            }
        });
        state.timer = Some((at, call));
    }

    /// Runs one command for stream `id`, then pumps.
    fn command(
        self: &Rc<Self>,
        id: StreamId,
        run: impl FnOnce(&mut ServerConn) -> Result<(), UserError>,
    ) {
        let result = {
            let mut state = self.state.borrow_mut();
            if state.transport.is_none() {
                return;
            }
            run(&mut state.conn)
        };
        match result {
            Ok(()) | Err(UserError::StreamGone) => {}
            Err(error) => {
                crate::log::error(format_args!(
                    "response on HTTP/2 stream {} refused: {error}",
                    id.get()
                ));
                self.state
                    .borrow_mut()
                    .conn
                    .reset(id, ErrorCode::INTERNAL_ERROR);
            }
        }
        self.pump();
    }

    fn forget(&self, id: StreamId) {
        let removed = {
            let mut state = self.state.borrow_mut();
            (state.requests.remove(&id), state.producers.remove(&id))
        };
        drop(removed);
    }
}

/// The [`ResponseSink`] of one stream.
struct Http2Sink {
    channel: Weak<Channel>,
    id: StreamId,
}

impl Http2Sink {
    fn with_channel(&self, f: impl FnOnce(&Rc<Channel>)) {
        if let Some(channel) = self.channel.upgrade() {
            f(&channel);
        }
    }
}

impl ResponseSink for Http2Sink {
    fn send_head(&self, head: ResponseHead) {
        let id = self.id;
        self.with_channel(|ch| ch.command(id, |conn| conn.send_response(id, head)));
    }

    fn send_body(&self, data: &[u8]) {
        let id = self.id;
        self.with_channel(|ch| ch.command(id, |conn| conn.send_data(id, data)));
    }

    fn send_body_owned(&self, data: Payload) {
        let id = self.id;
        self.with_channel(|ch| ch.command(id, |conn| conn.send_data_owned(id, data)));
    }

    fn finish(&self) {
        let id = self.id;
        self.with_channel(|ch| {
            ch.forget(id);
            ch.command(id, |conn| conn.finish(id));
        });
    }

    fn abort(&self) {
        let id = self.id;
        self.with_channel(|ch| {
            ch.forget(id);
            ch.command(id, |conn| {
                conn.reset(id, ErrorCode::INTERNAL_ERROR);
                Ok(())
            });
        });
    }

    fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool) {
        let id = self.id;
        self.with_channel(|ch| {
            let live = {
                let mut state = ch.state.borrow_mut();
                let live = state.transport.is_some() && state.conn.is_open(id);
                if live {
                    state.producers.insert(
                        id,
                        StreamProducer {
                            producer: producer.clone(),
                            streaming,
                            paused: false,
                        },
                    );
                }
                live
            };
            if live {
                ch.pump();
            } else {
                producer.stop_producing();
            }
        });
    }

    fn unregister_producer(&self) {
        let id = self.id;
        self.with_channel(|ch| {
            let removed = ch.state.borrow_mut().producers.remove(&id);
            drop(removed);
        });
    }
}

//! [`Http1Channel`]: the protocol that runs a sans-IO
//! [`ServerConn`](crate::http1::ServerConn) over a transport and hands its
//! requests to the site (Twisted's `HTTPChannel`).
//!
//! Every input (bytes, end of stream, an expired deadline) and every
//! command from a request ends in one *pump*: drain the connection's events
//! (dispatching each with no borrow held, so resources may call back in),
//! write everything it produced in one transport write, tell the connection
//! the current time (so timers started by commands count from now), re-arm the single
//! per-connection timer, pause or resume reading, and close once the
//! connection says so. A command issued while a pump is running (a
//! resource answering from inside `render`) only mutates the connection;
//! the running pump picks the result up, so pipelined responses produced in
//! one turn leave in one write.
//!
//! Tested by: reactor_tests/web.rs

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::File;
use std::mem;
use std::rc::{Rc, Weak};
use std::time::Instant;

use super::content::ContentError;
use super::dispatch::{h2c_upgrade, upgraded_head};
use super::registry::Connections;
use super::request::{Request, RequestInfo};
use super::sink::ResponseSink;
use super::site::{SiteShared, process};
use crate::defer::Deferred;
use crate::http::{IdMap, RequestHead, ResponseHead, id_map};
use crate::http1::{BodyKind, Event, ExternalBody, RequestId, ServerConn, UserError};
use crate::payload::Payload;
use crate::time::DelayedCall;
use crate::transport::{DisconnectReason, Producer, Protocol, Transport};

/// Output held while a pump runs before it is written at once anyway.
const EAGER_FLUSH_BYTES: usize = 64 * 1024;

/// Serves HTTP/1.1 on one connection for a [`Site`](super::Site).
pub struct Http1Channel {
    shared: Rc<Channel>,
}

/// The channel's state, shared with its requests' sinks and its timer.
pub(crate) struct Channel {
    site: Rc<SiteShared>,
    /// A pump is running; commands leave their output to it.
    pumping: Cell<bool>,
    state: RefCell<ChannelState>,
    /// Its key among the site's [`Http1Connections`] while it has a transport.
    registered: Cell<Option<usize>>,
}

struct ChannelState {
    conn: ServerConn,
    transport: Option<Rc<dyn Transport>>,
    requests: IdMap<RequestId, Request>,
    /// Reused output buffer.
    out: Vec<u8>,
    timer: Option<(Instant, DelayedCall)>,
    reading_paused: bool,
    closing: bool,
    date_generation: u64,
    /// An `Upgrade: h2c` request set aside for HTTP/2 (head, settings).
    upgrade: Option<(RequestHead, Vec<u8>)>,
}

impl Http1Channel {
    pub(crate) fn new(site: Rc<SiteShared>) -> Http1Channel {
        let now = site.clock().now();
        let conn = ServerConn::new(site.config().http1.clone(), now);
        let state = ChannelState {
            conn,
            transport: None,
            requests: id_map(),
            out: Vec::new(),
            timer: None,
            reading_paused: false,
            closing: false,
            date_generation: 0,
            upgrade: None,
        };
        Http1Channel {
            shared: Rc::new(Channel {
                site,
                pumping: Cell::new(false),
                state: RefCell::new(state),
                registered: Cell::new(None),
            }),
        }
    }
}

impl Http1Channel {
    /// Takes the `Upgrade: h2c` request this channel set aside, if any: the
    /// connection is to continue in HTTP/2 with it as stream 1.
    pub(crate) fn take_upgrade(&self) -> Option<(RequestHead, Vec<u8>)> {
        self.shared.state.borrow_mut().upgrade.take()
    }

    /// Lets go of the transport for good (another protocol takes over).
    pub(crate) fn detach(&self) {
        self.shared.unregister();
        let timer = {
            let mut state = self.shared.state.borrow_mut();
            state.closing = true;
            state.transport = None;
            state.timer.take()
        };
        if let Some((_, call)) = timer {
            let _ = call.cancel();
        }
    }
}

impl fmt::Debug for Http1Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.try_borrow();
        let mut out = f.debug_struct("Http1Channel");
        if let Ok(state) = state {
            out.field("requests", &state.requests.len())
                .field("closing", &state.closing);
        }
        out.finish_non_exhaustive()
    }
}

impl Protocol for Http1Channel {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.shared.state.borrow_mut().transport = Some(transport);
        let connections = self.shared.site.http1_connections();
        self.shared
            .registered
            .set(Some(connections.add(&self.shared)));
        if connections.closing() {
            // The server is shutting down: a connection accepted meanwhile is not kept open.
            self.shared.close_gracefully();
        } else {
            self.shared.pump();
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        self.shared.input(|conn, now| conn.handle_input(now, data));
    }

    fn eof_received(&mut self) -> bool {
        self.shared.input(|conn, now| conn.handle_eof(now));
        !self.shared.state.borrow().conn.is_closed()
    }

    fn connection_lost(&mut self, _reason: DisconnectReason) {
        self.shared.unregister();
        let (requests, timer) = {
            let mut state = self.shared.state.borrow_mut();
            state.closing = true;
            state.transport = None;
            (mem::take(&mut state.requests), state.timer.take())
        };
        if let Some((_, call)) = timer {
            let _ = call.cancel();
        }
        let mut requests: Vec<_> = requests.into_iter().collect();
        requests.sort_by_key(|(id, _)| *id);
        for (_, request) in requests {
            request.connection_lost(false);
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// The site's open HTTP/1.1 connections, so that a shutdown can close them gracefully.
pub(crate) type Http1Connections = Connections<Channel>;

/// Closes every connection of `connections` once the requests it has received are answered
/// (idle ones at once; see [`ServerConn::close_gracefully`]), and those opened later as soon
/// as they open; the Deferred fires once all of them have closed.
pub(crate) fn close_all(connections: &Http1Connections) -> Deferred<()> {
    connections.close_all(|channel| channel.close_gracefully())
}

/// Clears the pumping flag even if a callback panics through the pump.
struct PumpGuard<'a>(&'a Cell<bool>);

impl Drop for PumpGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Channel {
    /// Asks the connection to close once the requests it has received are answered.
    fn close_gracefully(self: &Rc<Self>) {
        self.input(|conn, now| conn.close_gracefully(now));
    }

    /// Leaves the site's registry (the connection is gone or another protocol took over).
    fn unregister(&self) {
        if let Some(key) = self.registered.take() {
            self.site.http1_connections().remove(key);
        }
    }

    /// Feeds one input to the connection at the current time, then pumps.
    fn input(self: &Rc<Self>, feed: impl FnOnce(&mut ServerConn, Instant)) {
        {
            let mut state = self.state.borrow_mut();
            self.refresh_date(&mut state);
            if state.conn.wants_spare_headers() {
                state.conn.offer_spare_headers(self.site.spare_headers());
            }
            let now = self.site.clock().now();
            feed(&mut state.conn, now);
        }
        self.pump();
    }

    fn refresh_date(&self, state: &mut ChannelState) {
        if let Some(date) = self.site.date_if_changed(&mut state.date_generation) {
            state.conn.set_date(&date);
        }
    }

    /// Dispatches events and writes output until both are exhausted, then
    /// updates the timer, read pausing and closing.
    fn pump(self: &Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        let _guard = PumpGuard(&self.pumping);
        let mut next = None;
        loop {
            if let Some(event) = next.take().or_else(|| self.next_event()) {
                self.dispatch(event);
                continue;
            }
            let wrote = self.transmit();
            self.observe_time();
            next = self.next_event();
            if !wrote && next.is_none() {
                break;
            }
        }
        self.settle();
    }

    /// Tells the connection the current time, so timers started by commands
    /// (which carry no time) count from now rather than from the moment the
    /// timer would fire; otherwise an idle timeout armed by `finish` could
    /// take twice as long.
    fn observe_time(&self) {
        let now = self.site.clock().now();
        self.state.borrow_mut().conn.handle_input(now, &[]);
    }

    fn next_event(&self) -> Option<Event> {
        self.state.borrow_mut().conn.poll_event()
    }

    fn request(&self, id: RequestId) -> Option<Request> {
        self.state.borrow().requests.get(&id).cloned()
    }

    fn dispatch(self: &Rc<Self>, event: Event) {
        match event {
            Event::Request { id, head, body, .. } => self.begin_request(id, head, body),
            Event::Data { id, chunk } => {
                if let Some(request) = self.request(id) {
                    // A refused body has been answered; the rest of it is discarded.
                    let _ = request.append_content(chunk);
                }
            }
            Event::EndOfMessage { id, .. } => {
                if let Some(request) = self.request(id) {
                    process(&request);
                }
            }
            Event::RequestAborted { id, .. } => {
                let request = self.state.borrow_mut().requests.remove(&id);
                if let Some(request) = request {
                    request.connection_lost(true);
                }
            }
            Event::ProtocolError { .. } => {}
        }
    }

    fn begin_request(self: &Rc<Self>, id: RequestId, head: RequestHead, body: BodyKind) {
        let Some(transport) = self.state.borrow().transport.clone() else {
            return;
        };
        if self.site.config().enable_http2 && !transport.is_secure() {
            let mut state = self.state.borrow_mut();
            if state.requests.is_empty() && state.upgrade.is_none() {
                if let Some(settings) = h2c_upgrade(&head, body) {
                    state.upgrade = Some((upgraded_head(&head), settings));
                    return;
                }
            }
        }
        let info = RequestInfo {
            head,
            client: transport.peer_address(),
            host: transport.host_address(),
            secure: transport.is_secure(),
        };
        let sink = Http1Sink {
            channel: Rc::downgrade(self),
            id,
        };
        let request = Request::with_shared(info, self.site.clone(), Box::new(sink));
        self.state.borrow_mut().requests.insert(id, request.clone());
        let limit = self.site.config().body_limits.max_size;
        if matches!(body, BodyKind::Length(n) if n > limit) {
            request.refuse_content(&ContentError::TooLarge { limit });
        }
    }

    /// Writes what the connection produced; false when it produced nothing.
    fn transmit(&self) -> bool {
        let (mut out, owned, transport) = {
            let mut state = self.state.borrow_mut();
            let mut out = mem::take(&mut state.out);
            let owned = state.conn.poll_transmit_owned(&mut out);
            (out, owned, state.transport.clone())
        };
        let wrote = !out.is_empty() || owned.is_some();
        match (transport.filter(|_| wrote), owned) {
            (Some(transport), Some(body)) => transport.write_owned(&out, body),
            (Some(transport), None) => transport.write(&out),
            (None, _) => {}
        }
        out.clear();
        self.state.borrow_mut().out = out;
        wrote
    }

    /// Re-arms the timer, pauses or resumes reading, and closes when done.
    fn settle(self: &Rc<Self>) {
        let mut state = self.state.borrow_mut();
        if state.transport.is_none() {
            return;
        }
        let deadline = state.conn.poll_timeout();
        self.arm_timer(&mut state, deadline);
        let wants_read = state.conn.wants_read();
        let toggle_reading = wants_read == state.reading_paused;
        state.reading_paused = !wants_read;
        let close = state.conn.is_closed() && !state.closing;
        state.closing |= close;
        let transport = state.transport.clone();
        drop(state);
        let Some(transport) = transport else { return };
        if toggle_reading && wants_read {
            transport.resume_producing();
        } else if toggle_reading {
            transport.pause_producing();
        }
        if close {
            transport.lose_connection();
        }
    }

    /// Keeps one timer per connection, due no later than the connection's next deadline. A
    /// timer due earlier is left alone (when it fires, the connection finds nothing expired
    /// and the timer is armed again for the deadline then), so that a busy keep-alive
    /// connection, whose deadline moves with every request, does not reschedule per request.
    fn arm_timer(self: &Rc<Self>, state: &mut ChannelState, deadline: Option<Instant>) {
        let armed_at = state
            .timer
            .as_ref()
            .filter(|(_, call)| call.active())
            .map(|(at, _)| *at);
        match (armed_at, deadline) {
            (Some(_), None) => return,
            (Some(at), Some(due)) if at <= due => return,
            (None, None) => return,
            _ => {}
        }
        if let Some((_, call)) = state.timer.take() {
            let _ = call.cancel();
        }
        let Some(at) = deadline else { return };
        let channel = Rc::downgrade(self);
        let call = self.site.clock().call_at(at, move || {
            if let Some(channel) = channel.upgrade() {
                channel.timer_fired();
            }
        });
        state.timer = Some((at, call));
    }

    fn timer_fired(self: &Rc<Self>) {
        self.state.borrow_mut().timer = None;
        self.input(|conn, now| conn.handle_timeout(now));
    }

    /// Runs one command on the connection for request `id`, then pumps.
    fn command(
        self: &Rc<Self>,
        id: RequestId,
        run: impl FnOnce(&mut ServerConn) -> Result<(), UserError>,
    ) {
        self.command_dated(id, false, run);
    }

    /// [`command`](Self::command), first bringing the `Date` value up to
    /// date when `starts_response`.
    fn command_dated(
        self: &Rc<Self>,
        id: RequestId,
        starts_response: bool,
        run: impl FnOnce(&mut ServerConn) -> Result<(), UserError>,
    ) {
        let (result, pending) = {
            let mut state = self.state.borrow_mut();
            if state.closing && state.transport.is_none() {
                return;
            }
            if starts_response {
                self.refresh_date(&mut state);
            }
            let result = run(&mut state.conn);
            (result, state.conn.pending_output())
        };
        match result {
            Ok(()) | Err(UserError::RequestAborted) => {}
            Err(error) => {
                crate::log::error(format_args!(
                    "response to request {} refused: {error}",
                    id.index()
                ));
                self.state.borrow_mut().conn.abort(id);
            }
        }
        if self.pumping.get() && pending >= EAGER_FLUSH_BYTES {
            // A resource streaming from inside `render`: let the transport see
            // the bytes now so its back-pressure can pause the producer.
            self.transmit();
        }
        self.pump();
    }

    /// Sends a file region as body bytes of `id` through the transport's `send_file`, after
    /// everything the connection produced so far; false when it must go through `send_body`.
    fn send_file(self: &Rc<Self>, id: RequestId, file: &Rc<File>, offset: u64, len: u64) -> bool {
        let plan = {
            let state = self.state.borrow();
            match (&state.transport, state.conn.external_body(id, len)) {
                (Some(_), Ok(plan)) => plan,
                // The request is gone or misused: let `send_body` report or drop it.
                _ => return false,
            }
        };
        match plan {
            ExternalBody::Direct => {}
            ExternalBody::Dropped => return true,
            _ => return false,
        }
        self.transmit();
        let Some(transport) = self.transport() else {
            return true;
        };
        if !transport.send_file(file.clone(), offset, len) {
            return false;
        }
        let recorded = self.state.borrow_mut().conn.send_body_external(id, len);
        if let Err(error) = recorded {
            crate::log::error(format_args!(
                "file body for request {} refused: {error}",
                id.index()
            ));
        }
        self.pump();
        true
    }

    /// Forgets request `id` (its response is over), dropping it outside the borrow.
    fn forget(&self, id: RequestId) {
        let removed = self.state.borrow_mut().requests.remove(&id);
        drop(removed);
    }

    fn transport(&self) -> Option<Rc<dyn Transport>> {
        self.state.borrow().transport.clone()
    }
}

/// The [`ResponseSink`] of one request on an HTTP/1.1 connection.
struct Http1Sink {
    channel: Weak<Channel>,
    id: RequestId,
}

impl Http1Sink {
    fn with_channel(&self, f: impl FnOnce(&Rc<Channel>)) {
        if let Some(channel) = self.channel.upgrade() {
            f(&channel);
        }
    }
}

impl ResponseSink for Http1Sink {
    fn send_head(&self, head: ResponseHead) {
        let id = self.id;
        self.with_channel(|ch| {
            ch.command_dated(id, true, |conn| conn.start_response(id, &head));
            ch.site.recycle_headers(head.headers);
        });
    }

    fn send_body(&self, data: &[u8]) {
        let id = self.id;
        self.with_channel(|ch| ch.command(id, |conn| conn.send_body(id, data)));
    }

    fn send_body_owned(&self, data: Payload) {
        let id = self.id;
        self.with_channel(|ch| ch.command(id, |conn| conn.send_body_owned(id, data)));
    }

    fn send_file(&self, file: &Rc<File>, offset: u64, len: u64) -> bool {
        let id = self.id;
        let mut sent = false;
        self.with_channel(|ch| sent = ch.send_file(id, file, offset, len));
        sent
    }

    fn finish(&self) {
        let id = self.id;
        self.with_channel(|ch| {
            ch.forget(id);
            ch.command(id, |conn| conn.finish(id));
        });
    }

    fn send_rest(&self, head: Option<ResponseHead>, body: Payload) {
        let id = self.id;
        self.with_channel(|ch| {
            ch.forget(id);
            ch.command_dated(id, head.is_some(), |conn| {
                if let Some(head) = &head {
                    conn.start_response(id, head)?;
                }
                if !body.is_empty() {
                    conn.send_body_owned(id, body)?;
                }
                conn.finish(id)
            });
            if let Some(head) = head {
                ch.site.recycle_headers(head.headers);
            }
        });
    }

    fn abort(&self) {
        let id = self.id;
        self.with_channel(|ch| {
            ch.forget(id);
            ch.command(id, |conn| {
                conn.abort(id);
                Ok(())
            });
        });
    }

    fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool) {
        self.with_channel(|ch| match ch.transport() {
            Some(transport) => transport.register_producer(producer, streaming),
            None => producer.stop_producing(),
        });
    }

    fn unregister_producer(&self) {
        self.with_channel(|ch| {
            if let Some(transport) = ch.transport() {
                transport.unregister_producer();
            }
        });
    }
}

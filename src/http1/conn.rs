//! [`ServerConn`]: the read side (parsing, body decoding, timeouts) and the
//! bookkeeping shared with the response side in `respond.rs`.
//!
//! Tested by: conformance/http1.rs

use std::collections::VecDeque;
use std::mem;
use std::ops::Range;
use std::time::{Duration, Instant};

use super::decode::{BodyDecoder, Chunked};
use super::encode::{Framing, RequestFacts};
use super::error::ProtocolError;
use super::framing::analyse;
use super::parse::{HeadParser, HeadProgress};
use super::{AbortReason, BodyKind, Config, Event, RequestId};
use crate::http::{Headers, Method, RequestHead};
use crate::payload::Payload;

/// Buffered input is compacted once this many consumed bytes precede it.
const COMPACT_AFTER: usize = 4096;

/// A server-side HTTP/1.1 connection, without I/O.
///
/// # Call order
///
/// Feed the transport with [`handle_input`](Self::handle_input),
/// [`handle_eof`](Self::handle_eof) and
/// [`handle_timeout`](Self::handle_timeout); answer requests with
/// [`send_response`](Self::send_response), [`send_body`](Self::send_body)
/// and [`finish`](Self::finish) (or [`abort`](Self::abort)). After any of
/// these calls: drain [`poll_event`](Self::poll_event), then
/// [`poll_transmit`](Self::poll_transmit), then re-arm the timer from
/// [`poll_timeout`](Self::poll_timeout); pause reading while
/// [`wants_read`](Self::wants_read) is false and close the transport once
/// [`is_closed`](Self::is_closed) is true and the polled bytes are written.
///
/// Commands take no time argument: time only advances through the
/// `handle_*` calls, and a timer started inside a command counts from the
/// next `handle_*` call (so a slow handler never makes a timer fire early).
///
/// Requests may be answered in any order; bytes always leave in request
/// order, later responses being buffered until earlier ones finish.
#[derive(Debug)]
pub struct ServerConn {
    pub(super) config: Config,
    pub(super) now: Instant,
    /// A command ran since the last `handle_*` call, so `now` may be old.
    pub(super) now_is_stale: bool,
    pub(super) read: ReadState,
    pub(super) head_parser: HeadParser,
    pub(super) inbuf: Vec<u8>,
    pub(super) inbuf_start: usize,
    /// Parsing stopped because `max_in_flight` requests are queued.
    pub(super) parse_blocked: bool,
    pub(super) eof: bool,
    /// Cleared once the connection must close after the current request.
    pub(super) more_requests: bool,
    pub(super) pending_data: Option<(RequestId, Vec<u8>)>,
    pub(super) slots: VecDeque<Slot>,
    pub(super) events: VecDeque<Event>,
    pub(super) out: Vec<u8>,
    /// An owned body that follows `out` on the wire, handed over without copying.
    pub(super) out_owned: Option<Payload>,
    pub(super) date: Vec<u8>,
    pub(super) next_id: u64,
    /// Ids from here up were dropped because the connection is closing.
    pub(super) first_dropped: u64,
    pub(super) idle_since: Option<Stamp>,
    pub(super) closed: bool,
}

/// A point in time, or "the next time we learn the time" when set inside a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stamp {
    At(Instant),
    Pending,
}

/// The read side.
///
/// ```text
///                 +------------ body complete, keep-alive -------------+
///                 v                                                    |
///  new --> Head{None} --first byte--> Head{Some} --head with body--> Body
///           |   ^  ^                   |      |                        |
///           |   |  +-- head without ---+      | bad head, limits,      | bad body, stall, EOF,
///           |   |      body, keep-alive       | head timeout, EOF      | close decided,
///           |   |                             | (error response queued)| not keep-alive
///           +---+ empty line: skipped         v                        |
///           +---- idle timeout, EOF ----> Closed <---------------------+
/// ```
///
/// Parsing of a new head pauses (without leaving `Head`) while
/// `max_in_flight` requests await their responses.
#[derive(Debug)]
pub(super) enum ReadState {
    /// Awaiting or inside a request head; `started` is when its first byte came.
    Head { started: Option<Stamp> },
    /// Inside the body of a request.
    Body(BodyRead),
    /// No further input is read.
    Closed,
}

/// Progress through one request body.
#[derive(Debug)]
pub(super) struct BodyRead {
    pub(super) id: RequestId,
    pub(super) decoder: BodyDecoder,
    pub(super) last_progress: Stamp,
    pub(super) received_any: bool,
    /// Set once the response is finished: the rest of the body is skipped,
    /// up to this many more bytes.
    pub(super) discard: Option<u64>,
}

/// One request awaiting, or producing, its response.
///
/// ```text
///   Awaiting --send_response--> Streaming --finish--> Done --(at front)--> written, popped
///       |                           |                  ^
///       +-------- abort / body error / EOF ------------+
/// ```
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) id: RequestId,
    pub(super) facts: RequestFacts,
    /// The client expects `100 Continue` and none was sent or ruled out yet.
    pub(super) continue_pending: bool,
    pub(super) response: ResponseState,
    /// The connection closes once this response is written.
    pub(super) close_after: bool,
    /// The connection gave up on this request; commands are refused.
    pub(super) aborted: bool,
    /// An error response the connection made up; invisible to the web layer.
    pub(super) synthetic: bool,
    /// Output held back until every earlier response is finished.
    pub(super) buf: Vec<u8>,
}

/// Where a slot's response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseState {
    Awaiting,
    Streaming(Framing),
    Done,
}

impl Slot {
    fn new(id: RequestId, facts: RequestFacts, continue_pending: bool) -> Slot {
        Slot {
            id,
            facts,
            continue_pending,
            response: ResponseState::Awaiting,
            close_after: !facts.keep_alive,
            aborted: false,
            synthetic: false,
            buf: Vec::new(),
        }
    }
}

impl ServerConn {
    /// A fresh connection whose idle timer starts at `now`.
    pub fn new(config: Config, now: Instant) -> ServerConn {
        ServerConn {
            config,
            now,
            now_is_stale: false,
            read: ReadState::Head { started: None },
            head_parser: HeadParser::default(),
            inbuf: Vec::new(),
            inbuf_start: 0,
            parse_blocked: false,
            eof: false,
            more_requests: true,
            pending_data: None,
            slots: VecDeque::new(),
            events: VecDeque::new(),
            out: Vec::new(),
            out_owned: None,
            date: Vec::new(),
            next_id: 0,
            first_dropped: u64::MAX,
            idle_since: Some(Stamp::At(now)),
            closed: false,
        }
    }

    /// Offers an emptied header set whose room the next request head reuses (kept only if
    /// none is waiting yet).
    pub(crate) fn offer_spare_headers(&mut self, headers: Headers) {
        if self.head_parser.spare.capacity_bytes() == 0 {
            self.head_parser.spare = headers;
        }
    }

    /// Whether [`offer_spare_headers`](Self::offer_spare_headers) would keep a set.
    pub(crate) fn wants_spare_headers(&self) -> bool {
        self.head_parser.spare.capacity_bytes() == 0
    }

    /// Feeds bytes received from the peer. Never panics: protocol errors
    /// become an error response followed by a close.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.observe(now);
        if self.reading() && !data.is_empty() {
            self.consume(data);
        }
        self.settle();
    }

    /// The peer will send nothing more. Queued pipelined requests are still
    /// answered; a partial head is dropped; a partial body aborts its request.
    pub fn handle_eof(&mut self, now: Instant) {
        self.observe(now);
        self.eof = true;
        if self.reading() {
            self.drive_buffered();
        }
        self.settle();
    }

    /// Ends the connection the way a server shutting down does: requests already received
    /// are still answered and the body being received is still read, but no further request
    /// is; the last response says `Connection: close` unless its head is already out, and the
    /// connection closes once it is written. An idle connection, or one part way through a
    /// request head, closes at once.
    pub fn close_gracefully(&mut self, now: Instant) {
        self.observe(now);
        match self.read {
            ReadState::Head { .. } => self.stop_reading(),
            ReadState::Body(_) => self.more_requests = false,
            ReadState::Closed => {}
        }
        self.settle();
    }

    /// Fires whichever deadline from [`poll_timeout`](Self::poll_timeout) has passed:
    /// head timeout → 408 and close; body stall → 408 (or abort) and close;
    /// idle keep-alive → close.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        let expired = |stamp: Option<Stamp>, limit: Duration| match stamp {
            Some(Stamp::At(t)) => t.checked_add(limit).is_some_and(|deadline| now >= deadline),
            _ => false,
        };
        match &self.read {
            ReadState::Head { started: Some(s) }
                if expired(Some(*s), self.config.header_timeout) =>
            {
                self.reject(ProtocolError::HeadTimeout);
            }
            ReadState::Head { started: None }
                if expired(self.idle_since, self.config.idle_timeout) =>
            {
                self.stop_reading();
            }
            ReadState::Body(body)
                if expired(Some(body.last_progress), self.config.body_timeout) =>
            {
                let id = body.id;
                self.body_lost(id, AbortReason::Malformed(ProtocolError::BodyTimeout));
            }
            _ => {}
        }
        self.settle();
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let deadline = |stamp: Stamp, limit: Duration| match stamp {
            Stamp::At(t) => t.checked_add(limit),
            Stamp::Pending => self.now.checked_add(limit),
        };
        match &self.read {
            ReadState::Head { started: Some(s) } => deadline(*s, self.config.header_timeout),
            ReadState::Head { started: None } => self
                .idle_since
                .and_then(|s| deadline(s, self.config.idle_timeout)),
            ReadState::Body(body) => deadline(body.last_progress, self.config.body_timeout),
            ReadState::Closed => None,
        }
    }

    /// False while the transport should not be read: enough pipelined
    /// requests are queued, or no more input will be used.
    pub fn wants_read(&self) -> bool {
        let blocked = matches!(self.read, ReadState::Head { .. }) && self.in_flight_full();
        self.reading() && !self.eof && !self.closed && !blocked
    }

    /// True once no more output will be produced beyond what
    /// [`poll_transmit`](Self::poll_transmit) returns: write it, then close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sets the `Date` value added to responses (e.g. from
    /// [`DateCache`](crate::http::date::DateCache)); a value containing CR,
    /// LF or NUL clears it instead.
    pub fn set_date(&mut self, value: &[u8]) {
        self.date.clear();
        if memchr::memchr3(b'\r', b'\n', 0, value).is_none() {
            self.date.extend_from_slice(value);
        }
    }

    /// Bytes of output produced but not yet polled, including responses held
    /// back behind earlier ones (for handler backpressure).
    pub fn pending_output(&self) -> usize {
        self.out.len()
            + self.out_owned.as_ref().map_or(0, |owned| owned.len())
            + self.slots.iter().map(|s| s.buf.len()).sum::<usize>()
    }

    /// Records the time and resolves timers started inside commands.
    fn observe(&mut self, now: Instant) {
        self.now = now;
        self.now_is_stale = false;
        let resolve = |stamp: &mut Stamp| {
            if *stamp == Stamp::Pending {
                *stamp = Stamp::At(now);
            }
        };
        match &mut self.read {
            ReadState::Head { started: Some(s) } => resolve(s),
            ReadState::Body(body) => resolve(&mut body.last_progress),
            _ => {}
        }
        if let Some(s) = &mut self.idle_since {
            resolve(s);
        }
    }

    /// The current time if known, else a timer placeholder.
    pub(super) fn stamp(&self) -> Stamp {
        if self.now_is_stale {
            Stamp::Pending
        } else {
            Stamp::At(self.now)
        }
    }

    pub(super) fn reading(&self) -> bool {
        !matches!(self.read, ReadState::Closed)
    }

    /// Stops reading for good; buffered input is dropped.
    pub(super) fn stop_reading(&mut self) {
        self.read = ReadState::Closed;
        self.more_requests = false;
        self.head_parser.reset();
    }

    fn consume(&mut self, data: &[u8]) {
        if self.inbuf_start < self.inbuf.len() {
            self.inbuf.extend_from_slice(data);
            self.drive_buffered();
            return;
        }
        self.inbuf.clear();
        self.inbuf_start = 0;
        let used = self.drive(data);
        if self.reading() {
            self.inbuf
                .extend_from_slice(data.get(used..).unwrap_or_default());
        }
    }

    /// Processes buffered input (also when empty, to act on EOF).
    pub(super) fn drive_buffered(&mut self) {
        let buf = mem::take(&mut self.inbuf);
        let used = self.drive(buf.get(self.inbuf_start..).unwrap_or_default());
        self.inbuf = buf;
        self.inbuf_start += used;
        if !self.reading() || self.inbuf_start >= self.inbuf.len() {
            self.inbuf.clear();
            self.inbuf_start = 0;
        } else if self.inbuf_start >= COMPACT_AFTER && self.inbuf_start * 2 >= self.inbuf.len() {
            self.inbuf.drain(..self.inbuf_start);
            self.inbuf_start = 0;
        }
    }

    /// Runs the read state machine over `input`; returns the bytes consumed.
    fn drive(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            let step = match self.read {
                ReadState::Head { .. } => self.drive_head(rest),
                ReadState::Body(_) => self.drive_body(rest),
                ReadState::Closed => Some(rest.len()),
            };
            match step {
                Some(n) if self.reading() => pos += n,
                Some(_) | None => {
                    self.flush_data();
                    return if self.reading() { pos } else { input.len() };
                }
            }
        }
    }

    /// Parses a head from `input`; `None` when more input is needed.
    fn drive_head(&mut self, input: &[u8]) -> Option<usize> {
        if self.in_flight_full() {
            self.parse_blocked = true;
            return None;
        }
        let between_requests = matches!(self.read, ReadState::Head { started: None });
        if between_requests && input.starts_with(b"\r\n") {
            return Some(2);
        }
        if input.is_empty() || (between_requests && input == b"\r") {
            if self.eof {
                self.stop_reading();
                return Some(input.len());
            }
            return None;
        }
        let stamp = self.stamp();
        if let ReadState::Head {
            started: started @ None,
        } = &mut self.read
        {
            *started = Some(stamp);
        }
        match self.head_parser.advance(input, &self.config) {
            Ok(HeadProgress::Partial) if self.eof => {
                self.stop_reading();
                Some(input.len())
            }
            Ok(HeadProgress::Partial) => None,
            Ok(HeadProgress::Complete { head, len }) => {
                self.begin_request(head);
                Some(len)
            }
            Err(error) => {
                self.reject(error);
                Some(input.len())
            }
        }
    }

    /// Queues a parsed request and moves on to its body.
    fn begin_request(&mut self, head: RequestHead) {
        let info = match analyse(&head) {
            Ok(info) => info,
            Err(error) => return self.reject(error),
        };
        let id = self.allocate_id();
        let facts = RequestFacts {
            is_head: *head.method() == Method::Head,
            version: head.version(),
            keep_alive: info.keep_alive,
        };
        self.slots
            .push_back(Slot::new(id, facts, info.expects_continue));
        self.events.push_back(Event::Request {
            id,
            head,
            body: info.body,
            expects_continue: info.expects_continue,
        });
        self.more_requests &= info.keep_alive;
        let decoder = match info.body {
            BodyKind::Length(remaining) if remaining > 0 => BodyDecoder::Length { remaining },
            BodyKind::Chunked => BodyDecoder::Chunked(Chunked::new()),
            _ => return self.end_of_body(id, Headers::new(), false),
        };
        let last_progress = self.stamp();
        self.read = ReadState::Body(BodyRead {
            id,
            decoder,
            last_progress,
            received_any: false,
            discard: None,
        });
    }

    /// True when `max_in_flight` (at least 1) requests await responses.
    pub(super) fn in_flight_full(&self) -> bool {
        self.slots.len() >= self.config.max_in_flight.max(1)
    }

    fn allocate_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Decodes body bytes from `input`; `None` when more input is needed.
    fn drive_body(&mut self, input: &[u8]) -> Option<usize> {
        let stamp = self.stamp();
        let ReadState::Body(body) = &mut self.read else {
            return None;
        };
        let id = body.id;
        let step = match body.decoder.step(input, &self.config) {
            Ok(step) => step,
            Err(error) => {
                self.body_lost(id, AbortReason::Malformed(error));
                return Some(input.len());
            }
        };
        if step.consumed > 0 {
            body.last_progress = stamp;
        }
        if let Some(range) = step.data {
            if !self.accept_body_data(id, input, range) {
                self.stop_reading();
                return Some(input.len());
            }
        }
        if step.done {
            self.finish_body(id);
        } else if step.consumed == 0 {
            if !self.eof {
                return None;
            }
            self.body_lost(id, AbortReason::PeerClosed);
        }
        Some(step.consumed)
    }

    /// Gathers decoded body bytes for the next `Data` event, or counts them
    /// against the discard budget; false when the budget is exhausted.
    fn accept_body_data(&mut self, id: RequestId, input: &[u8], range: Range<usize>) -> bool {
        let ReadState::Body(body) = &mut self.read else {
            return false;
        };
        body.received_any = true;
        if let Some(budget) = &mut body.discard {
            let n = range.len() as u64;
            let within = n <= *budget;
            *budget = budget.saturating_sub(n);
            return within;
        }
        let more_in_input = input.len() - range.end;
        let more_in_body = usize::try_from(body.decoder.known_remaining().unwrap_or(u64::MAX))
            .unwrap_or(usize::MAX);
        let capacity = range.len() + more_in_input.min(more_in_body);
        let chunk = input.get(range).unwrap_or_default();
        let pending = self
            .pending_data
            .get_or_insert_with(|| (id, Vec::with_capacity(capacity)));
        pending.1.extend_from_slice(chunk);
        true
    }

    /// The body decoder reached the end of the message.
    fn finish_body(&mut self, id: RequestId) {
        let ReadState::Body(body) = &mut self.read else {
            return;
        };
        let trailers = body.decoder.take_trailers();
        let discarded = body.discard.is_some();
        self.end_of_body(id, trailers, discarded);
    }

    /// Emits the body data gathered during this pass as one event.
    fn flush_data(&mut self) {
        if let Some((id, mut chunk)) = self.pending_data.take() {
            if chunk.capacity() > 2 * chunk.len() + 4096 {
                chunk.shrink_to_fit();
            }
            self.events.push_back(Event::Data { id, chunk });
        }
    }

    fn end_of_body(&mut self, id: RequestId, trailers: Headers, discarded: bool) {
        self.flush_data();
        if !discarded {
            self.events.push_back(Event::EndOfMessage { id, trailers });
        }
        if self.more_requests {
            self.read = ReadState::Head { started: None };
        } else {
            self.stop_reading();
        }
    }

    /// The body of `id` cannot be completed: stop reading and abort the request.
    pub(super) fn body_lost(&mut self, id: RequestId, reason: AbortReason) {
        self.flush_data();
        self.stop_reading();
        let Some(idx) = self.index_of(id) else { return };
        if self.slots[idx].response == ResponseState::Done {
            return;
        }
        self.events.push_back(Event::RequestAborted { id, reason });
        let error = match reason {
            AbortReason::Malformed(error) => Some((error.status(), error.description())),
            _ => None,
        };
        self.abort_slot(idx, error);
    }

    /// Rejects the head being parsed: error response queued, reading stops.
    pub(super) fn reject(&mut self, error: ProtocolError) {
        self.events.push_back(Event::ProtocolError { error });
        self.stop_reading();
        let id = self.allocate_id();
        let facts = RequestFacts {
            is_head: false,
            version: crate::http::Version::Http11,
            keep_alive: false,
        };
        let mut slot = Slot::new(id, facts, false);
        slot.synthetic = true;
        self.slots.push_back(slot);
        let idx = self.slots.len() - 1;
        self.abort_slot(idx, Some((error.status(), error.description())));
    }

    /// The slot index of `id`, if it is still queued.
    pub(super) fn index_of(&self, id: RequestId) -> Option<usize> {
        let front = self.slots.front()?.id.0;
        let idx = usize::try_from(id.0.checked_sub(front)?).ok()?;
        self.slots
            .get(idx)
            .filter(|slot| slot.id == id)
            .map(|_| idx)
    }

    /// Brings everything to rest after a call: flushes finished responses,
    /// resumes parsing that was waiting for a free slot, updates idleness.
    pub(super) fn settle(&mut self) {
        loop {
            self.advance_output();
            if !self.parse_blocked || self.in_flight_full() || !self.reading() {
                break;
            }
            self.parse_blocked = false;
            self.drive_buffered();
        }
        self.update_idle();
    }

    fn update_idle(&mut self) {
        let idle = !self.closed
            && self.slots.is_empty()
            && matches!(self.read, ReadState::Head { started: None });
        if !idle {
            self.idle_since = None;
        } else if self.idle_since.is_none() {
            self.idle_since = Some(self.stamp());
        }
    }
}

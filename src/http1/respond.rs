//! [`ServerConn`]'s response side: commands from the web layer, in-order
//! output, the deferred `100 Continue`, and closing.
//!
//! Tested by: conformance/http1.rs

use std::mem;

use super::conn::{ReadState, ResponseState, ServerConn};
use super::encode::{self, Framing};
use super::error::UserError;
use super::{AbortReason, Event, RequestId};
use crate::payload::Payload;

/// Owned bodies smaller than this are copied into the output like borrowed ones.
const OWNED_BODY_MIN: usize = 8 * 1024;
use crate::http::{ResponseHead, StatusCode, Version};

/// How body bytes that the caller puts on the wire itself (a file region sent by the kernel)
/// can go out; see [`ServerConn::external_body`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExternalBody {
    /// Write them right after every byte [`ServerConn::poll_transmit`] has given out so far,
    /// and record them with [`ServerConn::send_body_external`].
    Direct,
    /// The response carries no body (HEAD, 304): there is nothing to send.
    Dropped,
    /// Not now (a chunked body, or a response waiting behind earlier ones): send the bytes
    /// through [`ServerConn::send_body`] instead.
    Unavailable,
}

impl ServerConn {
    /// Whether `len` body bytes of the response to `id` may be sent by the caller directly,
    /// bypassing the connection's output (for `sendfile(2)`). Changes nothing.
    pub fn external_body(&self, id: RequestId, len: u64) -> Result<ExternalBody, UserError> {
        let idx = self.streaming(id)?;
        let ResponseState::Streaming(framing) = self.slots[idx].response else {
            return Err(UserError::ResponseNotStarted);
        };
        Ok(match framing {
            Framing::NoBody => ExternalBody::Dropped,
            Framing::Length { remaining } if len > remaining => {
                return Err(UserError::BodyExceedsContentLength);
            }
            Framing::Length { .. } | Framing::CloseDelimited if idx == 0 => ExternalBody::Direct,
            Framing::Length { .. } | Framing::CloseDelimited | Framing::Chunked => {
                ExternalBody::Unavailable
            }
        })
    }

    /// Records `len` body bytes of the response to `id` that the caller wrote itself, right
    /// after the output polled so far. Allowed only when
    /// [`external_body`](Self::external_body) answers [`ExternalBody::Direct`].
    pub fn send_body_external(&mut self, id: RequestId, len: u64) -> Result<(), UserError> {
        if self.external_body(id, len)? != ExternalBody::Direct {
            return Err(UserError::ExternalBodyUnavailable);
        }
        self.now_is_stale = true;
        if let ResponseState::Streaming(Framing::Length { remaining }) = &mut self.slots[0].response
        {
            *remaining -= len;
        }
        Ok(())
    }

    /// Starts the final response to `id`: writes the head (or buffers it
    /// behind earlier responses) and fixes the body framing.
    pub fn send_response(&mut self, id: RequestId, head: ResponseHead) -> Result<(), UserError> {
        self.start_response(id, &head)
    }

    /// [`send_response`](Self::send_response) for a head the caller keeps (and may reuse).
    pub(crate) fn start_response(
        &mut self,
        id: RequestId,
        head: &ResponseHead,
    ) -> Result<(), UserError> {
        self.now_is_stale = true;
        let idx = self.awaiting(id)?;
        if head.status.is_informational() {
            return Err(UserError::InformationalStatus);
        }
        let facts = self.response_facts(idx);
        let (sink, date) = self.sink_and_date(idx);
        let plan = encode::write_response_head(sink, head, facts, date)?;
        let slot = &mut self.slots[idx];
        slot.response = ResponseState::Streaming(plan.framing);
        slot.continue_pending = false;
        if plan.close {
            self.close_after(idx);
        }
        self.settle();
        Ok(())
    }

    /// Sends an interim 1xx response (e.g. 103 Early Hints) before the final
    /// one. 100 and 101 are refused; HTTP/1.0 clients get nothing.
    pub fn send_informational(
        &mut self,
        id: RequestId,
        head: ResponseHead,
    ) -> Result<(), UserError> {
        self.now_is_stale = true;
        let code = head.status.as_u16();
        if !head.status.is_informational() || code == 100 || code == 101 {
            return Err(UserError::NotInformational);
        }
        let idx = self.awaiting(id)?;
        if self.slots[idx].facts.version == Version::Http10 {
            return Ok(());
        }
        let (sink, _) = self.sink_and_date(idx);
        encode::write_informational_head(sink, &head)
    }

    /// Sends body bytes. Dropped for HEAD/204/304; beyond a declared
    /// `Content-Length` they are refused whole.
    pub fn send_body(&mut self, id: RequestId, data: &[u8]) -> Result<(), UserError> {
        self.now_is_stale = true;
        let idx = self.streaming(id)?;
        if idx == 0 {
            self.merge_owned();
        }
        let out = &mut self.out;
        let slot = &mut self.slots[idx];
        let sink = if idx == 0 { out } else { &mut slot.buf };
        let ResponseState::Streaming(framing) = &mut slot.response else {
            return Err(UserError::ResponseNotStarted);
        };
        match framing {
            Framing::Length { remaining } => {
                let len = data.len() as u64;
                if len > *remaining {
                    return Err(UserError::BodyExceedsContentLength);
                }
                *remaining -= len;
                sink.extend_from_slice(data);
            }
            Framing::Chunked => encode::write_chunk(sink, data),
            Framing::CloseDelimited => sink.extend_from_slice(data),
            Framing::NoBody => {}
        }
        Ok(())
    }

    /// Sends body bytes the caller gives up, like [`send_body`](Self::send_body).
    /// When the response is first in line and its body is not chunked, a
    /// large body is kept as it is and handed out by
    /// [`poll_transmit_owned`](Self::poll_transmit_owned) instead of copied.
    pub fn send_body_owned(
        &mut self,
        id: RequestId,
        data: impl Into<Payload>,
    ) -> Result<(), UserError> {
        let data = data.into();
        let idx = self.streaming(id)?;
        let ResponseState::Streaming(framing) = &mut self.slots[idx].response else {
            return Err(UserError::ResponseNotStarted);
        };
        let remaining = match framing {
            Framing::Length { remaining } => Some(remaining),
            Framing::CloseDelimited => None,
            Framing::Chunked | Framing::NoBody => return self.send_body(id, &data),
        };
        if idx != 0 || data.len() < OWNED_BODY_MIN {
            return self.send_body(id, &data);
        }
        if let Some(remaining) = remaining {
            let len = data.len() as u64;
            if len > *remaining {
                return Err(UserError::BodyExceedsContentLength);
            }
            *remaining -= len;
        }
        self.now_is_stale = true;
        self.merge_owned();
        self.out_owned = Some(data);
        Ok(())
    }

    /// Moves a held owned body into `out`, so that bytes written next follow it.
    pub(super) fn merge_owned(&mut self) {
        if let Some(owned) = self.out_owned.take() {
            self.out.extend_from_slice(&owned);
        }
    }

    /// Ends the response to `id`. A response shorter than its
    /// `Content-Length` closes the connection (the framing is broken). If
    /// the request body is still unread, it is skipped when at most
    /// `Config::max_discard` bytes remain, else the connection closes.
    pub fn finish(&mut self, id: RequestId) -> Result<(), UserError> {
        self.now_is_stale = true;
        let idx = self.streaming(id)?;
        if idx == 0 && self.slots[0].response == ResponseState::Streaming(Framing::Chunked) {
            self.merge_owned();
        }
        let out = &mut self.out;
        let slot = &mut self.slots[idx];
        let sink = if idx == 0 { out } else { &mut slot.buf };
        match slot.response {
            ResponseState::Streaming(Framing::Chunked) => encode::write_last_chunk(sink),
            ResponseState::Streaming(Framing::Length { remaining }) if remaining > 0 => {
                slot.close_after = true
            }
            _ => {}
        }
        slot.response = ResponseState::Done;
        if slot.close_after {
            self.close_after(idx);
        }
        self.skip_unread_body(idx);
        self.settle();
        Ok(())
    }

    /// The handler failed: if nothing was sent, a 500 replaces the response;
    /// otherwise the response is cut off where it is (a chunked body stays
    /// unterminated). Either way the connection closes after it.
    pub fn abort(&mut self, id: RequestId) {
        self.now_is_stale = true;
        let Ok(idx) = self.live(id) else { return };
        if self.slots[idx].response == ResponseState::Done {
            return;
        }
        self.abort_slot(
            idx,
            Some((StatusCode::INTERNAL_SERVER_ERROR, "request handler failed")),
        );
        self.settle();
    }

    /// Appends all pending output to `out`; returns how many bytes.
    ///
    /// Also emits `100 Continue` for the head-of-line request if the client
    /// is waiting for it and no final response was started by now.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.send_deferred_continue();
        self.merge_owned();
        self.take_out(out)
    }

    /// Like [`poll_transmit`](Self::poll_transmit), but an owned body given
    /// to [`send_body_owned`](Self::send_body_owned) that ends the pending
    /// output is returned as it is: its bytes follow those appended to `out`.
    #[must_use]
    pub fn poll_transmit_owned(&mut self, out: &mut Vec<u8>) -> Option<Payload> {
        self.send_deferred_continue();
        let _ = self.take_out(out);
        self.out_owned.take()
    }

    fn take_out(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        if out.is_empty() {
            mem::swap(out, &mut self.out);
        } else {
            out.extend_from_slice(&self.out);
            self.out.clear();
        }
        n
    }

    fn send_deferred_continue(&mut self) {
        let Some(front) = self.slots.front_mut() else {
            return;
        };
        if !front.continue_pending || front.response != ResponseState::Awaiting {
            return;
        }
        front.continue_pending = false;
        if matches!(&self.read, ReadState::Body(body) if body.id == front.id && !body.received_any)
        {
            self.merge_owned();
            encode::write_continue(&mut self.out);
        }
    }

    /// Where output for slot `idx` goes (the wire if it is at the front),
    /// and the cached date.
    fn sink_and_date(&mut self, idx: usize) -> (&mut Vec<u8>, &[u8]) {
        let sink = if idx == 0 {
            self.merge_owned();
            &mut self.out
        } else {
            &mut self.slots[idx].buf
        };
        (sink, &self.date)
    }

    /// The request facts, with persistence withdrawn when nothing can follow
    /// this response or the client still waits for a `100 Continue`.
    fn response_facts(&self, idx: usize) -> encode::RequestFacts {
        let slot = &self.slots[idx];
        let mut facts = slot.facts;
        let is_last = idx + 1 == self.slots.len();
        let nothing_follows = is_last && (!self.more_requests || self.eof || !self.reading());
        let client_waits = slot.continue_pending
            && matches!(&self.read, ReadState::Body(body) if body.id == slot.id && !body.received_any);
        facts.keep_alive &= !nothing_follows && !client_waits;
        facts
    }

    /// After `id`'s response finished early, skip the rest of its body if it
    /// is small enough, else stop reading.
    fn skip_unread_body(&mut self, idx: usize) {
        let slot_id = self.slots[idx].id;
        let close = self.slots[idx].close_after;
        let max = self.config.max_discard;
        let ReadState::Body(body) = &mut self.read else {
            return;
        };
        if body.id != slot_id || body.discard.is_some() {
            return;
        }
        match body.decoder.known_remaining() {
            _ if close => self.stop_reading(),
            Some(n) if n <= max => body.discard = Some(n),
            None => body.discard = Some(max),
            Some(_) => {
                self.stop_reading();
                self.slots[idx].close_after = true;
            }
        }
    }

    /// Gives up on slot `idx`: an error response if none was started, then close.
    pub(super) fn abort_slot(&mut self, idx: usize, error: Option<(StatusCode, &'static str)>) {
        if self.slots[idx].response == ResponseState::Awaiting {
            if let Some((status, detail)) = error {
                let is_head = self.slots[idx].facts.is_head;
                let (sink, date) = self.sink_and_date(idx);
                encode::write_error_response(sink, status, detail, date, is_head);
            }
        }
        let slot = &mut self.slots[idx];
        slot.response = ResponseState::Done;
        slot.aborted = true;
        slot.continue_pending = false;
        let id = slot.id;
        if matches!(&self.read, ReadState::Body(body) if body.id == id) {
            self.stop_reading();
        }
        self.close_after(idx);
    }

    /// The connection closes after slot `idx`: later requests are dropped.
    fn close_after(&mut self, idx: usize) {
        self.slots[idx].close_after = true;
        self.more_requests = false;
        let id = self.slots[idx].id;
        let reading_other = match &self.read {
            ReadState::Body(body) => body.id != id,
            ReadState::Head { .. } => true,
            ReadState::Closed => false,
        };
        if reading_other {
            self.stop_reading();
        }
        self.drop_slots_from(idx + 1);
    }

    fn drop_slots_from(&mut self, start: usize) {
        if start >= self.slots.len() {
            return;
        }
        for slot in self.slots.drain(start..) {
            self.first_dropped = self.first_dropped.min(slot.id.0);
            if !slot.synthetic && slot.response != ResponseState::Done {
                let reason = AbortReason::ConnectionClosing;
                self.events.push_back(Event::RequestAborted {
                    id: slot.id,
                    reason,
                });
            }
        }
    }

    /// Writes out finished responses in order and closes when due.
    pub(super) fn advance_output(&mut self) {
        while self
            .slots
            .front()
            .is_some_and(|s| s.response == ResponseState::Done)
        {
            let Some(done) = self.slots.pop_front() else {
                break;
            };
            if done.close_after {
                self.close_now();
                return;
            }
            if self.slots.front().is_some_and(|next| !next.buf.is_empty()) {
                self.merge_owned();
            }
            if let Some(next) = self.slots.front_mut() {
                if self.out.is_empty() {
                    mem::swap(&mut self.out, &mut next.buf);
                } else {
                    self.out.append(&mut next.buf);
                }
            }
        }
        if self.slots.is_empty() && !self.reading() {
            self.close_now();
        }
    }

    fn close_now(&mut self) {
        self.drop_slots_from(0);
        self.stop_reading();
        self.inbuf = Vec::new();
        self.inbuf_start = 0;
        self.closed = true;
        self.idle_since = None;
    }

    /// The slot of a request the web layer may still act on.
    fn live(&self, id: RequestId) -> Result<usize, UserError> {
        match self.index_of(id) {
            Some(idx) if self.slots[idx].synthetic => Err(UserError::UnknownRequest),
            Some(idx) if self.slots[idx].aborted => Err(UserError::RequestAborted),
            Some(idx) => Ok(idx),
            None if id.0 >= self.next_id => Err(UserError::UnknownRequest),
            None if id.0 >= self.first_dropped || self.closed => Err(UserError::RequestAborted),
            None => Err(UserError::AlreadyFinished),
        }
    }

    fn awaiting(&self, id: RequestId) -> Result<usize, UserError> {
        let idx = self.live(id)?;
        match self.slots[idx].response {
            ResponseState::Awaiting => Ok(idx),
            ResponseState::Streaming(_) => Err(UserError::ResponseAlreadyStarted),
            ResponseState::Done => Err(UserError::AlreadyFinished),
        }
    }

    fn streaming(&self, id: RequestId) -> Result<usize, UserError> {
        let idx = self.live(id)?;
        match self.slots[idx].response {
            ResponseState::Streaming(_) => Ok(idx),
            ResponseState::Awaiting => Err(UserError::ResponseNotStarted),
            ResponseState::Done => Err(UserError::AlreadyFinished),
        }
    }
}

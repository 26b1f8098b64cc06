//! The response side of [`ServerConn`]: commands from the web layer, the
//! per-stream output queues and `poll_transmit`, which writes control
//! frames, then response heads (HPACK-encoded at that moment), then DATA
//! frames round-robin across streams within both flow-control windows.
//!
//! Tested by: src/http2/tests/

use std::collections::VecDeque;
use std::time::Instant;

use super::StreamId;
use super::conn::ServerConn;
use super::error::{ErrorCode, UserError};
use super::fields::{CONNECTION_SPECIFIC, status_digits};
use super::frame::{self, flag, kind};
use crate::http::{ResponseHead, StatusCode};
use crate::payload::Payload;

/// Small writes are appended to the last queued chunk up to this size.
const COALESCE_LIMIT: usize = 16 * 1024;

/// The response half of one stream.
#[derive(Debug)]
pub(super) struct SendSide {
    /// The request was HEAD: the response carries no body.
    is_head: bool,
    /// `send_response` was called.
    started: bool,
    /// The head waits to be encoded and written.
    head: Option<ResponseHead>,
    body_allowed: bool,
    queue: VecDeque<Payload>,
    /// Bytes of the front chunk already sent.
    offset: usize,
    /// Bytes queued and not yet sent.
    pub(super) queued: usize,
    /// `finish` was called.
    finished: bool,
    /// END_STREAM went out.
    pub(super) end_sent: bool,
    /// The peer's window for this stream.
    pub(super) window: i64,
    pub(super) in_ready: bool,
    /// Since when output has waited on a shut stream window.
    pub(super) blocked_since: Option<Instant>,
}

impl SendSide {
    pub(super) fn new(window: i64, is_head: bool) -> SendSide {
        SendSide {
            is_head,
            started: false,
            head: None,
            body_allowed: !is_head,
            queue: VecDeque::new(),
            offset: 0,
            queued: 0,
            finished: false,
            end_sent: false,
            window,
            in_ready: false,
            blocked_since: None,
        }
    }

    /// Has DATA or END_STREAM to send, and its head is out.
    pub(super) fn wants_turn(&self) -> bool {
        self.started && self.head.is_none() && !self.end_sent && (self.queued > 0 || self.finished)
    }
}

impl ServerConn {
    fn send_side(&mut self, id: StreamId) -> Result<&mut SendSide, UserError> {
        self.streams
            .get_mut(&id.0)
            .map(|s| &mut s.send)
            .ok_or(UserError::StreamGone)
    }

    /// Queues the response head of stream `id`.
    pub fn send_response(&mut self, id: StreamId, head: ResponseHead) -> Result<(), UserError> {
        if head.status.as_u16() < 200 {
            return Err(UserError::InformationalStatus);
        }
        let send = self.send_side(id)?;
        if send.started {
            return Err(UserError::HeadAlreadySent);
        }
        send.started = true;
        send.body_allowed = !send.is_head
            && head.status != StatusCode::NO_CONTENT
            && head.status != StatusCode::NOT_MODIFIED;
        send.head = Some(head);
        self.heads.push_back(id.0);
        Ok(())
    }

    /// Queues body bytes (copied).
    pub fn send_data(&mut self, id: StreamId, data: &[u8]) -> Result<(), UserError> {
        let send = self.body_side(id)?;
        if !send.body_allowed || data.is_empty() {
            return Ok(());
        }
        send.queued += data.len();
        let many = send.queue.len() > 1;
        match send.queue.back_mut() {
            Some(Payload::Vec(last)) if many && last.len() + data.len() <= COALESCE_LIMIT => {
                last.extend_from_slice(data);
            }
            _ => send.queue.push_back(data.to_vec().into()),
        }
        self.schedule(id.0);
        Ok(())
    }

    /// Queues body bytes the caller gives up (not copied until written).
    pub fn send_data_owned(
        &mut self,
        id: StreamId,
        data: impl Into<Payload>,
    ) -> Result<(), UserError> {
        let data = data.into();
        let send = self.body_side(id)?;
        if !send.body_allowed || data.is_empty() {
            return Ok(());
        }
        send.queued += data.len();
        send.queue.push_back(data);
        self.schedule(id.0);
        Ok(())
    }

    fn body_side(&mut self, id: StreamId) -> Result<&mut SendSide, UserError> {
        let send = self.send_side(id)?;
        if !send.started {
            return Err(UserError::HeadNotSent);
        }
        if send.finished {
            return Err(UserError::AlreadyFinished);
        }
        Ok(send)
    }

    /// Ends the response of stream `id` (END_STREAM after the queued body).
    pub fn finish(&mut self, id: StreamId) -> Result<(), UserError> {
        let send = self.body_side(id)?;
        send.finished = true;
        self.schedule(id.0);
        Ok(())
    }

    /// Gives up on stream `id`: RST_STREAM with `code`, queued output dropped.
    pub fn reset(&mut self, id: StreamId, code: ErrorCode) {
        if self.streams.contains_key(&id.0) && !self.failed {
            frame::write_rst_stream(&mut self.out, id.0, code);
            self.remember_reset(id.0);
            if let Some(stream) = self.streams.remove(&id.0) {
                self.release_connection(stream.unreleased);
            }
            self.after_removal();
        }
    }

    /// Bytes of response body queued on stream `id` and not yet written.
    pub fn buffered(&self, id: StreamId) -> usize {
        self.streams.get(&id.0).map_or(0, |s| s.send.queued)
    }

    /// Whether output is waiting for [`poll_transmit`](Self::poll_transmit).
    pub fn has_pending_output(&self) -> bool {
        !self.out.is_empty() || !self.heads.is_empty() || !self.ready.is_empty()
    }

    /// Whether stream `id` is still open.
    pub fn is_open(&self, id: StreamId) -> bool {
        self.streams.contains_key(&id.0)
    }

    /// Sets the `date` value added to responses that lack one; a value
    /// containing CR, LF or NUL clears it.
    pub fn set_date(&mut self, value: &[u8]) {
        self.date.clear();
        if !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            self.date.extend_from_slice(value);
        }
    }

    /// Puts stream `id` in the round-robin if it has something to send.
    fn schedule(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            if stream.send.wants_turn() && !stream.send.in_ready {
                stream.send.in_ready = true;
                self.ready.push_back(id);
            }
        }
    }

    /// Appends what is ready to go to `out`; returns how many bytes.
    ///
    /// Control frames first, then every waiting response head, then DATA
    /// frames (one per stream per round, each at most the peer's
    /// SETTINGS_MAX_FRAME_SIZE) until the windows, the queues or the
    /// per-call budget run out.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.extend_from_slice(&self.out);
        self.out.clear();
        self.queued_control = 0;
        if self.failed {
            return out.len() - start;
        }
        while let Some(id) = self.heads.pop_front() {
            self.write_head(id, out);
        }
        let mut budget = self.config.transmit_budget;
        while budget > 0 {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            if !self.write_data(id, out, &mut budget) {
                break;
            }
        }
        self.conn_blocked_since = if self.conn_send_window <= 0 && !self.ready.is_empty() {
            Some(self.conn_blocked_since.unwrap_or(self.now))
        } else {
            None
        };
        out.len() - start
    }

    /// Encodes and writes the head of stream `id`.
    fn write_head(&mut self, id: u32, out: &mut Vec<u8>) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let Some(head) = stream.send.head.take() else {
            return;
        };
        let send = &mut stream.send;
        let end_stream = send.finished && send.queued == 0;
        let ServerConn {
            encoder,
            names,
            name_ends,
            block_buf,
            date,
            peer_max_frame_size,
            ..
        } = self;
        names.clear();
        name_ends.clear();
        let mut has_date = false;
        for (name, _) in head.headers.iter() {
            names.extend(name.iter().map(u8::to_ascii_lowercase));
            name_ends.push(names.len());
            has_date |= name.eq_ignore_ascii_case(b"date");
        }
        let status = status_digits(&head);
        let date_field =
            (!has_date && !date.is_empty()).then_some((&b"date"[..], &date[..], false));
        let names = &names[..];
        let name_ends = &name_ends[..];
        let fields = head
            .headers
            .iter()
            .enumerate()
            .map(|(i, (_, value))| {
                let begin = if i == 0 { 0 } else { name_ends[i - 1] };
                (&names[begin..name_ends[i]], value, false)
            })
            .filter(|(name, _, _)| !CONNECTION_SPECIFIC.contains(name));
        block_buf.clear();
        encoder.encode(
            std::iter::once((&b":status"[..], &status[..], false))
                .chain(date_field)
                .chain(fields),
            block_buf,
        );
        frame::write_headers(
            out,
            id,
            block_buf,
            end_stream,
            *peer_max_frame_size as usize,
        );
        if end_stream {
            self.end_sent(id, out);
        } else {
            self.schedule(id);
        }
    }

    /// Writes one DATA frame of stream `id` if the windows allow; false when
    /// the connection window is shut (the round stops).
    fn write_data(&mut self, id: u32, out: &mut Vec<u8>, budget: &mut usize) -> bool {
        let conn_window = self.conn_send_window;
        let max_frame = self.peer_max_frame_size as usize;
        let now = self.now;
        let Some(stream) = self.streams.get_mut(&id) else {
            return true;
        };
        let send = &mut stream.send;
        send.in_ready = false;
        if !send.wants_turn() {
            return true;
        }
        let window = send.window.min(conn_window).max(0) as usize;
        let n = send.queued.min(window).min(max_frame).min(*budget);
        if n == 0 && send.queued > 0 {
            if send.window <= 0 {
                send.blocked_since.get_or_insert(now);
                return true;
            }
            send.in_ready = true;
            self.ready.push_front(id);
            return false;
        }
        send.blocked_since = None;
        let end_stream = send.finished && send.queued == n;
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        frame::write_head(out, n, kind::DATA, flags, id);
        let mut need = n;
        while need > 0 {
            let Some(front) = send.queue.front() else {
                break;
            };
            let take = (front.len() - send.offset).min(need);
            out.extend_from_slice(&front[send.offset..send.offset + take]);
            send.offset += take;
            need -= take;
            if send.offset == front.len() {
                send.queue.pop_front();
                send.offset = 0;
            }
        }
        send.queued -= n;
        send.window -= n as i64;
        self.conn_send_window -= n as i64;
        *budget = budget.saturating_sub(n.max(1));
        if end_stream {
            self.end_sent(id, out);
        } else {
            self.schedule(id);
        }
        true
    }

    /// END_STREAM went out on stream `id`: it closes, or, if the request
    /// body is still coming, the client is told to stop (RST_STREAM
    /// NO_ERROR, RFC 9113 §8.1).
    fn end_sent(&mut self, id: u32, out: &mut Vec<u8>) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        stream.send.end_sent = true;
        if stream.recv_open {
            frame::write_rst_stream(out, id, ErrorCode::NO_ERROR);
            self.remember_reset(id);
            if let Some(stream) = self.streams.remove(&id) {
                self.release_connection(stream.unreleased);
            }
            self.after_removal();
        } else {
            self.close_if_done(id);
        }
    }
}

//! The read side of [`ServerConn`]: the preface, frame dispatch, SETTINGS,
//! DATA and receive flow control, RST_STREAM, WINDOW_UPDATE, and the
//! control-frame and Rapid Reset protections.
//!
//! Tested by: src/http2/tests/

use super::conn::{Phase, ServerConn};
use super::error::{ConnectionError, ErrorCode, H2Error, conn_err, stream_err};
use super::frame::{self, Frame, FrameHead, HEADER_LEN, MAX_WINDOW, MIN_MAX_FRAME_SIZE, setting};
use super::{Event, PREFACE, StreamId};
use crate::http::Headers;

impl ServerConn {
    /// Runs frames from `input`; returns the bytes consumed.
    pub(super) fn drive(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        if let Phase::Preface(matched) = self.phase {
            let want = &PREFACE[matched..];
            let n = want.len().min(input.len());
            if input[..n] != want[..n] {
                self.fail(ConnectionError::new(
                    ErrorCode::PROTOCOL_ERROR,
                    "invalid connection preface",
                ));
                return input.len();
            }
            pos = n;
            self.phase = if n == want.len() {
                Phase::FirstSettings
            } else {
                Phase::Preface(matched + n)
            };
            if n < want.len() {
                return pos;
            }
        }
        while !self.failed {
            let Some(head) = FrameHead::parse(&input[pos..]) else {
                break;
            };
            if head.len > MIN_MAX_FRAME_SIZE {
                self.fail(ConnectionError::new(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "frame larger than SETTINGS_MAX_FRAME_SIZE",
                ));
                return input.len();
            }
            let end = pos + HEADER_LEN + head.len as usize;
            let Some(payload) = input.get(pos + HEADER_LEN..end) else {
                break;
            };
            pos = end;
            match self.on_frame(head, payload) {
                Ok(()) => {}
                Err(H2Error::Connection(error)) => {
                    self.fail(error);
                    return input.len();
                }
                Err(H2Error::Stream(error)) => {
                    self.reset_stream(error.stream, error.code);
                    self.note_reset();
                }
            }
        }
        pos
    }

    pub(super) fn on_frame(&mut self, head: FrameHead, payload: &[u8]) -> Result<(), H2Error> {
        if self.phase == Phase::FirstSettings {
            if head.kind != frame::kind::SETTINGS || head.flags & frame::flag::ACK != 0 {
                return Err(conn_err(
                    ErrorCode::PROTOCOL_ERROR,
                    "the preface is not followed by SETTINGS",
                ));
            }
            self.phase = Phase::Frames;
        }
        if let Some(block) = &self.block {
            if head.kind != frame::kind::CONTINUATION || head.stream != block.stream {
                return Err(conn_err(
                    ErrorCode::PROTOCOL_ERROR,
                    "a header block was interrupted by another frame",
                ));
            }
        }
        match frame::parse(head, payload)? {
            Frame::Data {
                stream,
                data,
                flow_len,
                end_stream,
            } => self.on_data(stream, data, flow_len, end_stream),
            Frame::Headers {
                stream,
                fragment,
                end_stream,
                end_headers,
                depends_on_self,
            } => self.on_headers(stream, fragment, end_stream, end_headers, depends_on_self),
            Frame::Continuation {
                fragment,
                end_headers,
                ..
            } => self.on_continuation(fragment, end_headers),
            // Priority signals are parsed and ignored (RFC 9113 §5.3.2).
            Frame::Priority { .. } => Ok(()),
            Frame::RstStream { stream, code } => self.on_rst_stream(stream, code),
            Frame::Settings { ack: true, .. } => {
                self.settings_sent = None;
                Ok(())
            }
            Frame::Settings { ack: false, params } => {
                self.apply_settings(params)?;
                frame::write_settings_ack(&mut self.out);
                self.count_control()
            }
            Frame::Ping { ack: true, .. } => Ok(()),
            Frame::Ping { ack: false, data } => {
                frame::write_ping(&mut self.out, true, data);
                self.count_control()
            }
            Frame::GoAway { .. } => {
                self.draining = true;
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => self.on_window_update(stream, increment),
            Frame::Unknown => Ok(()),
        }
    }

    /// One more control frame queued; too many unwritten is a flood.
    pub(super) fn count_control(&mut self) -> Result<(), H2Error> {
        self.queued_control += 1;
        if self.queued_control > self.config.max_queued_control_frames {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many control frames queued (SETTINGS or PING flood)",
            ));
        }
        Ok(())
    }

    /// One more stream reset by the client or because of it (Rapid Reset).
    pub(super) fn note_reset(&mut self) {
        let now = self.now;
        let window = self.config.reset_window;
        let (start, count) = match self.resets {
            Some((start, count)) if now.saturating_duration_since(start) < window => {
                (start, count + 1)
            }
            _ => (now, 1),
        };
        self.resets = Some((start, count));
        if count > self.config.max_resets_per_window {
            self.fail(ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many stream resets (Rapid Reset)",
            ));
        }
    }

    pub(super) fn apply_settings(&mut self, params: &[u8]) -> Result<(), H2Error> {
        for s in frame::settings(params) {
            frame::check_setting(s)?;
            match s.id {
                setting::HEADER_TABLE_SIZE => {
                    let size = s.value.min(self.config.max_encoder_table_size);
                    self.encoder.set_max_table_size(size as usize);
                }
                setting::INITIAL_WINDOW_SIZE => {
                    let delta = i64::from(s.value) - i64::from(self.peer_initial_window);
                    self.peer_initial_window = s.value;
                    for (id, stream) in &mut self.streams {
                        stream.send.window += delta;
                        if stream.send.window > i64::from(MAX_WINDOW) {
                            return Err(conn_err(
                                ErrorCode::FLOW_CONTROL_ERROR,
                                "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
                            ));
                        }
                        if delta > 0 && stream.send.wants_turn() && !stream.send.in_ready {
                            stream.send.in_ready = true;
                            self.ready.push_back(*id);
                        }
                    }
                }
                setting::MAX_FRAME_SIZE => self.peer_max_frame_size = s.value,
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn on_data(
        &mut self,
        id: u32,
        data: &[u8],
        flow_len: u32,
        end_stream: bool,
    ) -> Result<(), H2Error> {
        let flow = i64::from(flow_len);
        if flow > self.conn_recv_window {
            return Err(conn_err(
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA beyond the connection window",
            ));
        }
        self.conn_recv_window -= flow;
        let padding = u64::from(flow_len) - data.len() as u64;
        let Some(stream) = self.streams.get_mut(&id) else {
            if id > self.highest_stream {
                return Err(conn_err(
                    ErrorCode::PROTOCOL_ERROR,
                    "DATA on an idle stream",
                ));
            }
            self.release_connection(u64::from(flow_len));
            if self.recently_reset.contains(&id) {
                return Ok(());
            }
            return Err(stream_err(
                id,
                ErrorCode::STREAM_CLOSED,
                "DATA on a closed stream",
            ));
        };
        if !stream.recv_open {
            self.release_connection(u64::from(flow_len));
            return Err(stream_err(
                id,
                ErrorCode::STREAM_CLOSED,
                "DATA after END_STREAM",
            ));
        }
        if flow > stream.recv_window {
            self.release_connection(u64::from(flow_len));
            return Err(stream_err(
                id,
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA beyond the stream window",
            ));
        }
        stream.recv_window -= flow;
        stream.received += data.len() as u64;
        stream.unreleased += data.len() as u64;
        stream.recv_unannounced += padding;
        if stream.expected_length.is_some_and(|n| stream.received > n) {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "body longer than content-length",
            ));
        }
        if !data.is_empty() {
            self.gather_data(id, data);
        }
        self.release_connection(padding);
        if end_stream {
            self.end_of_body(id, Headers::new())?;
        }
        Ok(())
    }

    /// Gathers body bytes of one stream arriving in one input into one event.
    pub(super) fn gather_data(&mut self, id: u32, data: &[u8]) {
        if self.pending_data.as_ref().is_some_and(|(s, _)| *s != id) {
            self.flush_data();
        }
        let (_, buf) = self.pending_data.get_or_insert_with(|| (id, Vec::new()));
        buf.extend_from_slice(data);
    }

    pub(super) fn flush_data(&mut self) {
        if let Some((id, chunk)) = self.pending_data.take() {
            self.events.push_back(Event::Data {
                id: StreamId(id),
                chunk,
            });
        }
    }

    pub(super) fn on_rst_stream(&mut self, id: u32, code: ErrorCode) -> Result<(), H2Error> {
        if id > self.highest_stream {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "RST_STREAM on an idle stream",
            ));
        }
        let Some(stream) = self.streams.remove(&id) else {
            return Ok(());
        };
        self.flush_data();
        self.release_connection(stream.unreleased);
        self.events.push_back(Event::StreamReset {
            id: StreamId(id),
            code,
            by_peer: true,
        });
        self.after_removal();
        if !stream.send.end_sent {
            self.note_reset();
        }
        Ok(())
    }

    pub(super) fn on_window_update(&mut self, id: u32, increment: u32) -> Result<(), H2Error> {
        let increment = i64::from(increment);
        if id == 0 {
            self.conn_send_window += increment;
            if self.conn_send_window > i64::from(MAX_WINDOW) {
                return Err(conn_err(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    "connection window above 2^31-1",
                ));
            }
            self.conn_blocked_since = None;
            return Ok(());
        }
        if id > self.highest_stream {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "WINDOW_UPDATE on an idle stream",
            ));
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        stream.send.window += increment;
        if stream.send.window > i64::from(MAX_WINDOW) {
            return Err(stream_err(
                id,
                ErrorCode::FLOW_CONTROL_ERROR,
                "stream window above 2^31-1",
            ));
        }
        if stream.send.window > 0 {
            stream.send.blocked_since = None;
        }
        if stream.send.wants_turn() && !stream.send.in_ready {
            stream.send.in_ready = true;
            self.ready.push_back(id);
        }
        Ok(())
    }
}

//! [`ServerConn`]: the read side (preface, frames, header blocks, request
//! streams, receive flow control, protections, timeouts). The response side
//! is in `send.rs`.
//!
//! Tested by: src/http2/tests/

use std::collections::{HashMap, VecDeque};
use std::mem;
use std::time::Instant;

use super::error::{ConnectionError, ErrorCode, H2Error, conn_err, stream_err};
use super::fields::BlockReader;
use super::frame::{self, Frame, FrameHead, HEADER_LEN, MAX_WINDOW, MIN_MAX_FRAME_SIZE, setting};
use super::send::SendSide;
use super::{Config, Event, PREFACE, StreamId};
use crate::hpack::{DecodeError, Decoder, Encoder};
use crate::http::{Headers, Method, RequestHead, ResponseHead, StatusCode};

/// Streams this side reset, remembered so late frames for them are ignored.
const RECENTLY_RESET: usize = 64;
/// The initial window of every stream and of the connection (RFC 9113 §6.9.2).
const DEFAULT_WINDOW: u32 = 65_535;

/// A server-side HTTP/2 connection, without I/O.
///
/// See the [module documentation](super) for the call order. Commands take
/// no time argument; time advances only through `handle_*` calls (feed an
/// empty input to tell the connection the time).
#[derive(Debug)]
pub struct ServerConn {
    pub(super) config: Config,
    pub(super) now: Instant,
    phase: Phase,
    inbuf: Vec<u8>,
    decoder: Decoder,
    pub(super) encoder: Encoder,
    pub(super) streams: HashMap<u32, Stream>,
    /// The highest stream id the client used.
    highest_stream: u32,
    /// A header block awaiting CONTINUATION frames.
    block: Option<PendingBlock>,
    pub(super) peer_initial_window: u32,
    pub(super) peer_max_frame_size: u32,
    /// When this side's SETTINGS went out unacknowledged.
    settings_sent: Option<Instant>,
    pub(super) conn_send_window: i64,
    conn_recv_window: i64,
    conn_recv_unannounced: u64,
    /// Control frames and resets, written before anything else.
    pub(super) out: Vec<u8>,
    pub(super) queued_control: usize,
    /// Streams with DATA or END_STREAM to send, in round-robin order.
    pub(super) ready: VecDeque<u32>,
    /// Streams whose response head waits to be encoded, in command order.
    pub(super) heads: VecDeque<u32>,
    pub(super) events: VecDeque<Event>,
    pending_data: Option<(u32, Vec<u8>)>,
    /// A GOAWAY (NO_ERROR) was sent, or the peer sent one: no new streams.
    pub(super) draining: bool,
    /// A connection error was sent: nothing more is read or written.
    pub(super) failed: bool,
    resets: Option<(Instant, u32)>,
    pub(super) idle_since: Option<Instant>,
    pub(super) conn_blocked_since: Option<Instant>,
    pub(super) recently_reset: VecDeque<u32>,
    pub(super) date: Vec<u8>,
    pub(super) names: Vec<u8>,
    pub(super) name_ends: Vec<usize>,
    pub(super) block_buf: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// This many bytes of the client preface matched so far.
    Preface(usize),
    /// The preface arrived; the first frame must be SETTINGS.
    FirstSettings,
    Frames,
}

#[derive(Debug)]
struct PendingBlock {
    stream: u32,
    buf: Vec<u8>,
    end_stream: bool,
    depends_on_self: bool,
    continuations: usize,
}

/// One open (or half-closed) stream.
#[derive(Debug)]
pub(super) struct Stream {
    /// The client may still send on it (no END_STREAM yet).
    pub(super) recv_open: bool,
    recv_window: i64,
    recv_unannounced: u64,
    /// Body bytes handed out and not yet released by the application.
    pub(super) unreleased: u64,
    expected_length: Option<u64>,
    received: u64,
    pub(super) send: SendSide,
}

impl ServerConn {
    /// A connection whose client starts with the preface; this side's
    /// SETTINGS and connection WINDOW_UPDATE are queued at once.
    pub fn new(config: Config, now: Instant) -> ServerConn {
        let mut conn = ServerConn {
            now,
            phase: Phase::Preface(0),
            inbuf: Vec::new(),
            decoder: Decoder::new(config.header_table_size as usize),
            encoder: Encoder::new(),
            streams: HashMap::new(),
            highest_stream: 0,
            block: None,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame_size: MIN_MAX_FRAME_SIZE,
            settings_sent: Some(now),
            conn_send_window: i64::from(DEFAULT_WINDOW),
            conn_recv_window: i64::from(config.connection_window.max(DEFAULT_WINDOW)),
            conn_recv_unannounced: 0,
            out: Vec::with_capacity(256),
            queued_control: 0,
            ready: VecDeque::new(),
            heads: VecDeque::new(),
            events: VecDeque::new(),
            pending_data: None,
            draining: false,
            failed: false,
            resets: None,
            idle_since: Some(now),
            conn_blocked_since: None,
            recently_reset: VecDeque::new(),
            date: Vec::new(),
            names: Vec::new(),
            name_ends: Vec::new(),
            block_buf: Vec::new(),
            config,
        };
        conn.encoder
            .set_max_table_size(conn.config.max_encoder_table_size.min(4096) as usize);
        let c = &conn.config;
        frame::write_settings(
            &mut conn.out,
            &[
                (setting::MAX_CONCURRENT_STREAMS, c.max_concurrent_streams),
                (
                    setting::INITIAL_WINDOW_SIZE,
                    c.stream_window.min(MAX_WINDOW),
                ),
                (setting::MAX_HEADER_LIST_SIZE, c.max_header_list_size),
                (setting::HEADER_TABLE_SIZE, c.header_table_size),
            ],
        );
        let extra = c
            .connection_window
            .min(MAX_WINDOW)
            .saturating_sub(DEFAULT_WINDOW);
        if extra > 0 {
            frame::write_window_update(&mut conn.out, 0, extra);
        }
        conn
    }

    /// A connection upgraded from HTTP/1.1 (`Upgrade: h2c`): `settings` is
    /// the decoded `HTTP2-Settings` payload and `head` the request, which
    /// becomes stream 1 (half-closed: its body, if any, came over HTTP/1.1).
    /// The client still sends the preface.
    pub fn upgraded(
        config: Config,
        now: Instant,
        settings: &[u8],
        head: RequestHead,
    ) -> Result<ServerConn, ConnectionError> {
        let mut conn = ServerConn::new(config, now);
        if settings.len() % 6 != 0 {
            return Err(ConnectionError::new(
                ErrorCode::PROTOCOL_ERROR,
                "HTTP2-Settings is not a whole number of settings",
            ));
        }
        conn.apply_settings(settings).map_err(|e| match e {
            H2Error::Connection(e) => e,
            H2Error::Stream(_) => {
                ConnectionError::new(ErrorCode::PROTOCOL_ERROR, "invalid HTTP2-Settings")
            }
        })?;
        conn.queued_control = 0;
        conn.highest_stream = 1;
        let is_head = *head.method() == Method::Head;
        let mut stream = conn.new_stream(None, is_head);
        stream.recv_open = false;
        conn.streams.insert(1, stream);
        conn.idle_since = None;
        conn.events.push_back(Event::Request {
            id: StreamId(1),
            head,
            end_stream: true,
        });
        conn.events.push_back(Event::EndOfMessage {
            id: StreamId(1),
            trailers: Headers::new(),
        });
        Ok(conn)
    }

    fn new_stream(&self, expected_length: Option<u64>, is_head: bool) -> Stream {
        Stream {
            recv_open: true,
            recv_window: i64::from(self.config.stream_window.min(MAX_WINDOW)),
            recv_unannounced: 0,
            unreleased: 0,
            expected_length,
            received: 0,
            send: SendSide::new(i64::from(self.peer_initial_window), is_head),
        }
    }

    /// Feeds received bytes (an empty slice just tells the time).
    pub fn handle_input(&mut self, now: Instant, input: &[u8]) {
        self.now = now;
        if self.failed || input.is_empty() {
            return;
        }
        if self.inbuf.is_empty() {
            let used = self.drive(input);
            if !self.failed {
                self.inbuf.extend_from_slice(&input[used..]);
            }
        } else {
            let mut buf = mem::take(&mut self.inbuf);
            buf.extend_from_slice(input);
            let used = self.drive(&buf);
            buf.drain(..used);
            if !self.failed {
                self.inbuf = buf;
            }
        }
        self.flush_data();
    }

    /// Acts on expired deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.failed {
            return;
        }
        let due = |since: Option<Instant>, limit| {
            since
                .and_then(|t: Instant| t.checked_add(limit))
                .is_some_and(|deadline| now >= deadline)
        };
        if due(self.settings_sent, self.config.settings_timeout) {
            return self.fail(ConnectionError::new(
                ErrorCode::SETTINGS_TIMEOUT,
                "SETTINGS not acknowledged in time",
            ));
        }
        if due(self.conn_blocked_since, self.config.send_stall_timeout) {
            return self.fail(ConnectionError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "the connection window stayed shut",
            ));
        }
        let stalled: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| due(s.send.blocked_since, self.config.send_stall_timeout))
            .map(|(id, _)| *id)
            .collect();
        for id in stalled {
            self.reset_stream(id, ErrorCode::CANCEL);
        }
        if self.streams.is_empty() && due(self.idle_since, self.config.idle_timeout) {
            self.shutdown();
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed {
            return None;
        }
        let at = |since: Option<Instant>, limit| since.and_then(|t: Instant| t.checked_add(limit));
        let stall = self.config.send_stall_timeout;
        let idle = if self.streams.is_empty() && !self.draining {
            at(self.idle_since, self.config.idle_timeout)
        } else {
            None
        };
        [
            at(self.settings_sent, self.config.settings_timeout),
            at(self.conn_blocked_since, stall),
            idle,
        ]
        .into_iter()
        .chain(
            self.streams
                .values()
                .map(|s| at(s.send.blocked_since, stall)),
        )
        .flatten()
        .min()
    }

    /// True once nothing more will be produced beyond what
    /// [`poll_transmit`](Self::poll_transmit) returns: write it, then close.
    pub fn is_closed(&self) -> bool {
        self.failed || (self.draining && self.streams.is_empty())
    }

    /// Starts a graceful shutdown: a GOAWAY naming the last stream accepted;
    /// streams in flight finish, then the connection closes.
    pub fn shutdown(&mut self) {
        if self.draining || self.failed {
            return;
        }
        self.draining = true;
        frame::write_goaway(&mut self.out, self.highest_stream, ErrorCode::NO_ERROR, b"");
    }

    /// The application consumed `n` body bytes of stream `id`: the windows
    /// are refilled (WINDOW_UPDATE) once half of them is used.
    pub fn release_capacity(&mut self, id: StreamId, n: usize) {
        let n = n as u64;
        if let Some(stream) = self.streams.get_mut(&id.0) {
            let n = n.min(stream.unreleased);
            stream.unreleased -= n;
            stream.recv_unannounced += n;
            let threshold = u64::from(self.config.stream_window / 2).max(1);
            if stream.recv_open && stream.recv_unannounced >= threshold {
                let increment = stream.recv_unannounced.min(u64::from(MAX_WINDOW)) as u32;
                stream.recv_unannounced = 0;
                stream.recv_window += i64::from(increment);
                frame::write_window_update(&mut self.out, id.0, increment);
            }
            self.release_connection(n);
        }
    }

    /// Counts `n` bytes as consumed on the connection window.
    pub(super) fn release_connection(&mut self, n: u64) {
        self.conn_recv_unannounced += n;
        let threshold = u64::from(self.config.connection_window / 2).max(1);
        if self.conn_recv_unannounced >= threshold {
            let increment = self.conn_recv_unannounced.min(u64::from(MAX_WINDOW)) as u32;
            self.conn_recv_unannounced = 0;
            self.conn_recv_window += i64::from(increment);
            frame::write_window_update(&mut self.out, 0, increment);
        }
    }

    /// Runs frames from `input`; returns the bytes consumed.
    fn drive(&mut self, input: &[u8]) -> usize {
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

    fn on_frame(&mut self, head: FrameHead, payload: &[u8]) -> Result<(), H2Error> {
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
    fn note_reset(&mut self) {
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

    fn apply_settings(&mut self, params: &[u8]) -> Result<(), H2Error> {
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

    fn on_headers(
        &mut self,
        stream: u32,
        fragment: &[u8],
        end_stream: bool,
        end_headers: bool,
        depends_on_self: bool,
    ) -> Result<(), H2Error> {
        if stream % 2 == 0 {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "even stream id from a client",
            ));
        }
        if fragment.len() > self.config.max_header_block_size {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "header block too large",
            ));
        }
        if end_headers {
            return self.on_block(stream, fragment, end_stream, depends_on_self);
        }
        self.block = Some(PendingBlock {
            stream,
            buf: fragment.to_vec(),
            end_stream,
            depends_on_self,
            continuations: 0,
        });
        Ok(())
    }

    fn on_continuation(&mut self, fragment: &[u8], end_headers: bool) -> Result<(), H2Error> {
        let Some(block) = &mut self.block else {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "CONTINUATION without HEADERS",
            ));
        };
        block.continuations += 1;
        if block.continuations > self.config.max_continuation_frames {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many CONTINUATION frames",
            ));
        }
        if block.buf.len() + fragment.len() > self.config.max_header_block_size {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "header block too large",
            ));
        }
        block.buf.extend_from_slice(fragment);
        if !end_headers {
            return Ok(());
        }
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        self.on_block(
            block.stream,
            &block.buf,
            block.end_stream,
            block.depends_on_self,
        )
    }

    /// A complete header block: decoded first (HPACK state must follow every
    /// block), then judged against the stream's state.
    fn on_block(
        &mut self,
        id: u32,
        block: &[u8],
        end_stream: bool,
        depends_on_self: bool,
    ) -> Result<(), H2Error> {
        let mut reader = BlockReader::with_capacity(block.len());
        let limit = self.config.max_header_list_size as usize;
        match self
            .decoder
            .decode(block, limit, &mut |name, value| reader.field(name, value))
        {
            Ok(()) => {}
            Err(DecodeError::HeaderListTooLarge { .. }) => {
                return self.refuse_oversized(id, end_stream);
            }
            Err(_) => {
                return Err(conn_err(
                    ErrorCode::COMPRESSION_ERROR,
                    "header block cannot be decoded",
                ));
            }
        }
        if let Some(stream) = self.streams.get_mut(&id) {
            // A second block on an open stream: trailers.
            if !stream.recv_open {
                return Err(stream_err(
                    id,
                    ErrorCode::STREAM_CLOSED,
                    "HEADERS after END_STREAM",
                ));
            }
            if !end_stream {
                return Err(stream_err(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    "trailers without END_STREAM",
                ));
            }
            let trailers = reader
                .into_trailers()
                .map_err(|why| stream_err(id, ErrorCode::PROTOCOL_ERROR, why))?;
            return self.end_of_body(id, trailers);
        }
        if id <= self.highest_stream {
            if self.recently_reset.contains(&id) {
                return Ok(());
            }
            return Err(conn_err(
                ErrorCode::STREAM_CLOSED,
                "HEADERS on a closed stream",
            ));
        }
        self.highest_stream = id;
        if self.draining {
            self.reset_stream(id, ErrorCode::REFUSED_STREAM);
            return Ok(());
        }
        if depends_on_self {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "stream depends on itself",
            ));
        }
        if self.streams.len() >= self.config.max_concurrent_streams as usize {
            return Err(stream_err(
                id,
                ErrorCode::REFUSED_STREAM,
                "SETTINGS_MAX_CONCURRENT_STREAMS exceeded",
            ));
        }
        let (head, expected) = reader
            .into_request()
            .map_err(|why| stream_err(id, ErrorCode::PROTOCOL_ERROR, why))?;
        let stream = self.new_stream(expected, *head.method() == Method::Head);
        self.streams.insert(id, stream);
        self.idle_since = None;
        self.flush_data();
        self.events.push_back(Event::Request {
            id: StreamId(id),
            head,
            end_stream,
        });
        if end_stream {
            self.end_of_body(id, Headers::new())?;
        }
        Ok(())
    }

    /// A header list beyond SETTINGS_MAX_HEADER_LIST_SIZE (the decoder read
    /// the whole block, so HPACK stays in step): a new request is answered
    /// 431 by the connection itself; on an open stream it is a reset.
    fn refuse_oversized(&mut self, id: u32, end_stream: bool) -> Result<(), H2Error> {
        let fresh = id > self.highest_stream && !self.draining;
        if !fresh || self.streams.len() >= self.config.max_concurrent_streams as usize {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "header list too large",
            ));
        }
        self.highest_stream = id;
        let mut stream = self.new_stream(None, false);
        stream.recv_open = !end_stream;
        self.streams.insert(id, stream);
        self.idle_since = None;
        let head = ResponseHead::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .with_header("content-length", "0");
        let id = StreamId(id);
        if self.send_response(id, head).is_ok() {
            let _ = self.finish(id);
        }
        self.note_reset();
        Ok(())
    }

    /// The request body of `id` ended (END_STREAM): checks its length.
    fn end_of_body(&mut self, id: u32, trailers: Headers) -> Result<(), H2Error> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if stream.expected_length.is_some_and(|n| n != stream.received) {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "body length differs from content-length",
            ));
        }
        stream.recv_open = false;
        self.flush_data();
        self.events.push_back(Event::EndOfMessage {
            id: StreamId(id),
            trailers,
        });
        self.close_if_done(id);
        Ok(())
    }

    fn on_data(
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
    fn gather_data(&mut self, id: u32, data: &[u8]) {
        if self.pending_data.as_ref().is_some_and(|(s, _)| *s != id) {
            self.flush_data();
        }
        let (_, buf) = self.pending_data.get_or_insert_with(|| (id, Vec::new()));
        buf.extend_from_slice(data);
    }

    fn flush_data(&mut self) {
        if let Some((id, chunk)) = self.pending_data.take() {
            self.events.push_back(Event::Data {
                id: StreamId(id),
                chunk,
            });
        }
    }

    fn on_rst_stream(&mut self, id: u32, code: ErrorCode) -> Result<(), H2Error> {
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

    fn on_window_update(&mut self, id: u32, increment: u32) -> Result<(), H2Error> {
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

    /// Resets stream `id` from this side with `code` (the web layer hears of
    /// it if the stream had reached it).
    pub(super) fn reset_stream(&mut self, id: u32, code: ErrorCode) {
        frame::write_rst_stream(&mut self.out, id, code);
        self.remember_reset(id);
        if let Err(H2Error::Connection(error)) = self.count_control() {
            return self.fail(error);
        }
        if let Some(stream) = self.streams.remove(&id) {
            self.flush_data();
            self.release_connection(stream.unreleased);
            self.events.push_back(Event::StreamReset {
                id: StreamId(id),
                code,
                by_peer: false,
            });
            self.after_removal();
        }
    }

    pub(super) fn remember_reset(&mut self, id: u32) {
        if self.recently_reset.len() == RECENTLY_RESET {
            self.recently_reset.pop_front();
        }
        self.recently_reset.push_back(id);
    }

    /// Removes stream `id` once both sides are closed.
    pub(super) fn close_if_done(&mut self, id: u32) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| !s.recv_open && s.send.end_sent)
        {
            self.streams.remove(&id);
            self.after_removal();
        }
    }

    pub(super) fn after_removal(&mut self) {
        if self.streams.is_empty() {
            self.idle_since = Some(self.now);
        }
    }

    /// Ends the connection with a GOAWAY; every live stream is reset.
    pub(super) fn fail(&mut self, error: ConnectionError) {
        if self.failed {
            return;
        }
        self.flush_data();
        self.failed = true;
        self.block = None;
        self.inbuf = Vec::new();
        frame::write_goaway(
            &mut self.out,
            self.highest_stream,
            error.code,
            error.reason.as_bytes(),
        );
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        self.streams.clear();
        self.ready.clear();
        self.heads.clear();
        for id in ids {
            self.events.push_back(Event::StreamReset {
                id: StreamId(id),
                code: error.code,
                by_peer: false,
            });
        }
        self.events.push_back(Event::ConnectionError { error });
    }
}

//! [`ServerConn`]: the connection's state, its lifecycle (creation, input,
//! timeouts, shutdown, failure) and the stream table. Frames are read in
//! `input.rs`, header blocks judged in `header_block.rs`, and the response
//! side lives in `send.rs`.
//!
//! Tested by: src/http2/tests/

use std::collections::{HashMap, VecDeque};
use std::mem;
use std::time::Instant;

use super::error::{ConnectionError, ErrorCode, H2Error};
use super::frame::{self, MAX_WINDOW, MIN_MAX_FRAME_SIZE, setting};
use super::send::SendSide;
use super::{Config, Event, StreamId};
use crate::hpack::{Decoder, Encoder};
use crate::http::{Headers, Method, RequestHead};

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
    pub(super) phase: Phase,
    pub(super) inbuf: Vec<u8>,
    pub(super) decoder: Decoder,
    pub(super) encoder: Encoder,
    pub(super) streams: HashMap<u32, Stream>,
    /// The highest stream id the client used.
    pub(super) highest_stream: u32,
    /// A header block awaiting CONTINUATION frames.
    pub(super) block: Option<PendingBlock>,
    pub(super) peer_initial_window: u32,
    pub(super) peer_max_frame_size: u32,
    /// When this side's SETTINGS went out unacknowledged.
    pub(super) settings_sent: Option<Instant>,
    pub(super) conn_send_window: i64,
    pub(super) conn_recv_window: i64,
    pub(super) conn_recv_unannounced: u64,
    /// Control frames and resets, written before anything else.
    pub(super) out: Vec<u8>,
    pub(super) queued_control: usize,
    /// Streams with DATA or END_STREAM to send, in round-robin order.
    pub(super) ready: VecDeque<u32>,
    /// Streams whose response head waits to be encoded, in command order.
    pub(super) heads: VecDeque<u32>,
    pub(super) events: VecDeque<Event>,
    pub(super) pending_data: Option<(u32, Vec<u8>)>,
    /// A GOAWAY (NO_ERROR) was sent, or the peer sent one: no new streams.
    pub(super) draining: bool,
    /// A connection error was sent: nothing more is read or written.
    pub(super) failed: bool,
    pub(super) resets: Option<(Instant, u32)>,
    pub(super) idle_since: Option<Instant>,
    pub(super) conn_blocked_since: Option<Instant>,
    pub(super) recently_reset: VecDeque<u32>,
    pub(super) date: Vec<u8>,
    pub(super) names: Vec<u8>,
    pub(super) name_ends: Vec<usize>,
    pub(super) block_buf: Vec<u8>,
}

/// How far the connection got through its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// This many bytes of the client preface matched so far.
    Preface(usize),
    /// The preface arrived; the first frame must be SETTINGS.
    FirstSettings,
    /// Any frame may come.
    Frames,
}

/// A header block whose HEADERS frame came without END_HEADERS.
#[derive(Debug)]
pub(super) struct PendingBlock {
    pub(super) stream: u32,
    pub(super) buf: Vec<u8>,
    pub(super) end_stream: bool,
    pub(super) depends_on_self: bool,
    pub(super) continuations: usize,
}

/// One open (or half-closed) stream.
#[derive(Debug)]
pub(super) struct Stream {
    /// The client may still send on it (no END_STREAM yet).
    pub(super) recv_open: bool,
    pub(super) recv_window: i64,
    pub(super) recv_unannounced: u64,
    /// Body bytes handed out and not yet released by the application.
    pub(super) unreleased: u64,
    pub(super) expected_length: Option<u64>,
    pub(super) received: u64,
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

    pub(super) fn new_stream(&self, expected_length: Option<u64>, is_head: bool) -> Stream {
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

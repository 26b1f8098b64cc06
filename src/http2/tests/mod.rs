//! Unit tests of the HTTP/2 core: a scripted client builds frames with the
//! frame writers and an HPACK encoder, feeds them whole, one byte at a time
//! and at seeded random splits, and reads the server's frames back.

mod behaviour;
mod protections;
mod shutdown;

use std::time::{Duration, Instant};

use super::frame::{self, FrameHead, HEADER_LEN, flag, kind};
use super::{Config, ErrorCode, Event, PREFACE, ServerConn, StreamId};
use crate::hpack::{Decoder, Encoder};
use crate::http::ResponseHead;
use crate::http::StatusCode;

/// A frame the server wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Out {
    pub(super) kind: u8,
    pub(super) flags: u8,
    pub(super) stream: u32,
    pub(super) payload: Vec<u8>,
}

impl Out {
    pub(super) fn code(&self) -> ErrorCode {
        let at = if self.kind == kind::GOAWAY { 4 } else { 0 };
        ErrorCode(u32::from_be_bytes(
            self.payload[at..at + 4].try_into().unwrap(),
        ))
    }
}

/// The client side of a test conversation.
pub(super) struct Client {
    pub(super) encoder: Encoder,
    pub(super) decoder: Decoder,
}

impl Client {
    pub(super) fn new() -> Client {
        Client {
            encoder: Encoder::new(),
            decoder: Decoder::new(4096),
        }
    }

    /// The preface and an empty SETTINGS.
    pub(super) fn preface(&self) -> Vec<u8> {
        let mut out = PREFACE.to_vec();
        frame::write_settings(&mut out, &[]);
        out
    }

    /// A header block for `fields` as one HEADERS frame.
    pub(super) fn headers(&mut self, stream: u32, fields: &[(&str, &str)], end: bool) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.encode(
            fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes(), false)),
            &mut block,
        );
        let mut out = Vec::new();
        frame::write_headers(&mut out, stream, &block, end, 16_384);
        out
    }

    /// A GET for `path`.
    pub(super) fn get(&mut self, stream: u32, path: &'static str) -> Vec<u8> {
        self.headers(stream, &request(path, "GET"), true)
    }

    /// Decodes a HEADERS payload (END_HEADERS, no padding or priority).
    pub(super) fn fields(&mut self, payload: &[u8]) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        self.decoder
            .decode(payload, 1 << 20, &mut |n, v| {
                fields.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ));
            })
            .unwrap();
        fields
    }
}

/// The pseudo-headers of a request.
pub(super) fn request<'a>(path: &'a str, method: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", "example.com"),
        (":path", path),
    ]
}

/// Splits server output into frames.
pub(super) fn frames(mut bytes: &[u8]) -> Vec<Out> {
    let mut out = Vec::new();
    while let Some(head) = FrameHead::parse(bytes) {
        let end = HEADER_LEN + head.len as usize;
        out.push(Out {
            kind: head.kind,
            flags: head.flags,
            stream: head.stream,
            payload: bytes[HEADER_LEN..end].to_vec(),
        });
        bytes = &bytes[end..];
    }
    out
}

/// A fixed starting instant; tests move time only by adding to it.
#[allow(clippy::disallowed_methods)]
pub(super) fn t0() -> Instant {
    Instant::now()
}

/// How a test answers requests.
#[derive(Clone, Copy)]
pub(super) enum Answer {
    /// Leave them unanswered.
    Nothing,
    /// 200 with body `hello <path>` once the body is complete.
    Hello,
}

/// The result of one run.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) events: Vec<String>,
    pub(super) frames: Vec<Out>,
    pub(super) closed: bool,
}

/// Feeds `input` cut at `cuts` to a fresh connection and answers requests.
pub(super) fn run_with(config: &Config, input: &[u8], cuts: &[usize], answer: Answer) -> Run {
    let now = t0();
    let mut conn = ServerConn::new(config.clone(), now);
    let mut events = Vec::new();
    let mut output = Vec::new();
    let mut paths = std::collections::HashMap::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        conn.handle_input(now, &input[start..cut]);
        start = cut;
        while let Some(event) = conn.poll_event() {
            match &event {
                Event::Request { id, head, .. } => {
                    paths.insert(*id, head.path().to_vec());
                }
                Event::Data { id, chunk } => conn.release_capacity(*id, chunk.len()),
                Event::EndOfMessage { id, .. } => {
                    if let Answer::Hello = answer {
                        respond(&mut conn, *id, &paths[id]);
                    }
                }
                _ => {}
            }
            events.push(summary(&event));
        }
        let _ = conn.poll_transmit(&mut output);
    }
    merge_data(&mut events);
    Run {
        events,
        frames: normalise(frames(&output)),
        closed: conn.is_closed(),
    }
}

/// A connection with the default configuration that has read `input`, its events drained, and
/// sent a 200 response head on each stream in `answered`.
pub(super) fn serving(now: Instant, input: &[u8], answered: &[u32]) -> ServerConn {
    let mut conn = ServerConn::new(Config::default(), now);
    conn.handle_input(now, input);
    while conn.poll_event().is_some() {}
    for &id in answered {
        conn.send_response(StreamId(id), ResponseHead::new(StatusCode::OK))
            .unwrap();
    }
    conn
}

/// The preface, SETTINGS that shut every stream's send window, the server's SETTINGS
/// acknowledged, and a GET on stream 1.
pub(super) fn get_with_shut_window(client: &mut Client) -> Vec<u8> {
    let mut input = client.preface();
    frame::write_settings(&mut input, &[(0x4, 0)]);
    frame::write_settings_ack(&mut input);
    input.extend(client.get(1, "/"));
    input
}

fn respond(conn: &mut ServerConn, id: StreamId, path: &[u8]) {
    let mut body = b"hello ".to_vec();
    body.extend_from_slice(path);
    let head =
        ResponseHead::new(StatusCode::OK).with_header("Content-Length", body.len().to_string());
    // The stream may be gone already (reset); then these do nothing.
    if conn.send_response(id, head).is_ok() {
        let _ = conn.send_data(id, &body);
        let _ = conn.finish(id);
    }
}

/// Decodes header blocks (in wire order, as a client would) and orders
/// frames by stream, keeping each stream's order: streams answered at
/// different moments interleave differently under different splits.
fn normalise(mut frames: Vec<Out>) -> Vec<Out> {
    let mut decoder = Decoder::new(4096);
    for frame in &mut frames {
        if frame.kind == kind::HEADERS && frame.flags & flag::END_HEADERS != 0 {
            let mut text = Vec::new();
            let _ = decoder.decode(&frame.payload, 1 << 20, &mut |n, v| {
                text.extend_from_slice(n);
                text.push(b'=');
                text.extend_from_slice(v);
                text.push(b'\n');
            });
            frame.payload = text;
        }
    }
    frames.sort_by_key(|f| f.stream);
    frames
}

/// One line per event; body chunks shown as text.
fn summary(event: &Event) -> String {
    match event {
        Event::Request {
            id,
            head,
            end_stream,
        } => {
            let fields: Vec<String> = head
                .headers()
                .iter()
                .map(|(n, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(n),
                        String::from_utf8_lossy(v)
                    )
                })
                .collect();
            format!(
                "request {} {:?} {} {:?} [{}] end={end_stream}",
                id.get(),
                head.method(),
                String::from_utf8_lossy(head.target()),
                head.version(),
                fields.join(" ")
            )
        }
        Event::Data { id, chunk } => {
            format!("data {} {}", id.get(), String::from_utf8_lossy(chunk))
        }
        Event::EndOfMessage { id, trailers } => {
            format!("end {} trailers={}", id.get(), trailers.len())
        }
        Event::StreamReset { id, code, by_peer } => {
            format!("reset {} {code} peer={by_peer}", id.get())
        }
        Event::ConnectionError { error } => format!("connection error {}", error.code),
    }
}

/// Joins consecutive data events of one stream (split points vary).
fn merge_data(events: &mut Vec<String>) {
    let mut merged: Vec<String> = Vec::new();
    for event in events.drain(..) {
        if let (Some(last), Some(rest)) = (merged.last_mut(), event.strip_prefix("data ")) {
            if let Some((stream, text)) = rest.split_once(' ') {
                let prefix = format!("data {stream} ");
                if last.starts_with(&prefix) {
                    last.push_str(text);
                    continue;
                }
            }
        }
        merged.push(event);
    }
    *events = merged;
}

/// Runs `input` whole, byte by byte and at eight seeded random splits;
/// every run must agree. Returns the whole-input run.
pub(super) fn check(config: &Config, input: &[u8], answer: Answer) -> Run {
    let whole = run_with(config, input, &[], answer);
    let bytes: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        run_with(config, input, &bytes, answer),
        whole,
        "byte-at-a-time run differs"
    );
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..8 {
        let mut cuts: Vec<usize> = (0..6)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % (input.len() as u64 + 1)) as usize
            })
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            run_with(config, input, &cuts, answer),
            whole,
            "random split {cuts:?} differs"
        );
    }
    whole
}

/// The GOAWAY frame of a run, if any.
pub(super) fn goaway(run: &Run) -> Option<&Out> {
    run.frames.iter().find(|f| f.kind == kind::GOAWAY)
}

/// The RST_STREAM frames of a run as (stream, code).
pub(super) fn resets(run: &Run) -> Vec<(u32, ErrorCode)> {
    run.frames
        .iter()
        .filter(|f| f.kind == kind::RST_STREAM)
        .map(|f| (f.stream, f.code()))
        .collect()
}

pub(super) const SECOND: Duration = Duration::from_secs(1);
pub(super) const END_STREAM: u8 = flag::END_STREAM;

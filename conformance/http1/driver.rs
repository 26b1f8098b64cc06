//! Drives a [`ServerConn`] over a byte stream cut at chosen points, with a
//! deterministic handler, and summarises what happened.
//!
//! Tested by: conformance/http1.rs (every case goes through `check`)

use std::time::Instant;

use torsion::http::{Method, ResponseHead, StatusCode};
use torsion::http1::{Config, Event, RequestId, ServerConn, UserError};

/// Everything observable from one run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// Events, with consecutive `Data` of one request merged.
    pub(crate) events: Vec<Event>,
    /// All bytes written.
    pub(crate) output: Vec<u8>,
    /// Whether the connection ended closed.
    pub(crate) closed: bool,
}

/// Tiny xorshift64* generator for reproducible splits.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    /// The next pseudo-random value.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random cut points for `len` bytes.
pub(crate) fn random_cuts(len: usize, rng: &mut XorShift) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..rng.below(len / 2 + 2))
        .map(|_| rng.below(len + 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Feeds `input` cut at `cuts` into a fresh connection, answering each
/// complete request, then (optionally) signals EOF.
pub(crate) fn run(config: &Config, input: &[u8], cuts: &[usize], eof: bool) -> Run {
    let now = test_now();
    let mut conn = ServerConn::new(config.clone(), now);
    let mut handler = Handler::default();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        conn.handle_input(now, &input[start..cut]);
        handler.drain(&mut conn);
        start = cut;
    }
    if eof {
        conn.handle_eof(now);
        handler.drain(&mut conn);
    }
    let mut output = Vec::new();
    let _ = conn.poll_transmit(&mut output);
    Run {
        events: handler.events,
        output,
        closed: conn.is_closed(),
    }
}

/// A base instant for tests; connections only ever see times derived from it.
#[allow(clippy::disallowed_methods)]
pub(crate) fn test_now() -> Instant {
    Instant::now()
}

/// The deterministic web layer: answers each request once its body is complete.
#[derive(Default)]
struct Handler {
    events: Vec<Event>,
}

impl Handler {
    fn drain(&mut self, conn: &mut ServerConn) {
        while let Some(event) = conn.poll_event() {
            if let Event::EndOfMessage { id, .. } = &event {
                respond(conn, *id, self.path_of(*id));
            }
            self.record(event);
        }
    }

    fn path_of(&self, id: RequestId) -> Vec<u8> {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::Request { id: rid, head, .. } if *rid == id => Some(head.path().to_vec()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn record(&mut self, event: Event) {
        if let (
            Event::Data { id, chunk },
            Some(Event::Data {
                id: last_id,
                chunk: last,
            }),
        ) = (&event, self.events.last_mut())
        {
            if id == last_id {
                last.extend_from_slice(chunk);
                return;
            }
        }
        self.events.push(event);
    }
}

/// One step of the test handler.
type HandlerCall<'a> = dyn Fn(&mut ServerConn) -> Result<(), UserError> + 'a;

/// `200 ok` with a length, or chunked for paths starting with `/chunked`.
/// Calls refused because the request was aborted are ignored; any other
/// refusal is a bug.
fn respond(conn: &mut ServerConn, id: RequestId, path: Vec<u8>) {
    let chunked = path.starts_with(b"/chunked");
    let mut head = ResponseHead::new(StatusCode::OK);
    if !chunked {
        head.headers.append("Content-Length", "2");
    }
    let calls: [&HandlerCall<'_>; 4] = [
        &|c| c.send_response(id, head.clone()),
        &|c| c.send_body(id, b"o"),
        &|c| c.send_body(id, b"k"),
        &|c| c.finish(id),
    ];
    for call in calls {
        match call(conn) {
            Ok(()) => {}
            Err(UserError::RequestAborted) => return,
            Err(e) => panic!("handler call failed: {e}"),
        }
    }
}

/// One parsed response from the output stream.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

/// Splits the output into responses; `head_requests[i]` says whether the
/// i-th final response answers a HEAD request. Panics on malformed output.
pub(crate) fn parse_responses(mut output: &[u8], head_requests: &[bool]) -> Vec<Response> {
    let mut responses = Vec::new();
    let mut finals = 0;
    while !output.is_empty() {
        let end =
            find(output, b"\r\n\r\n").unwrap_or_else(|| panic!("unterminated head: {output:?}"));
        let head = String::from_utf8_lossy(&output[..end]).into_owned();
        output = &output[end + 4..];
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line: {head}"));
        assert!(head.starts_with("HTTP/1.1 "), "bad status line: {head}");
        let is_head = status >= 200 && head_requests.get(finals).copied().unwrap_or(false);
        finals += usize::from(status >= 200);
        let no_body = is_head || status < 200 || status == 204 || status == 304;
        let (body, rest) = if no_body {
            (Vec::new(), output)
        } else {
            split_body(&head, output)
        };
        output = rest;
        responses.push(Response { status, head, body });
    }
    responses
}

fn split_body<'a>(head: &str, output: &'a [u8]) -> (Vec<u8>, &'a [u8]) {
    if let Some(length) = field(head, "content-length") {
        let n: usize = length
            .parse()
            .unwrap_or_else(|_| panic!("bad length in {head}"));
        assert!(output.len() >= n, "short body for {head}");
        return (output[..n].to_vec(), &output[n..]);
    }
    if field(head, "transfer-encoding").is_some_and(|v| v == "chunked") {
        return dechunk(output);
    }
    (output.to_vec(), &[])
}

fn dechunk(mut output: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut body = Vec::new();
    loop {
        let line_end =
            find(output, b"\r\n").unwrap_or_else(|| panic!("unterminated chunk size: {output:?}"));
        let size = usize::from_str_radix(&String::from_utf8_lossy(&output[..line_end]), 16)
            .expect("hex chunk size");
        output = &output[line_end + 2..];
        if size == 0 {
            assert!(output.starts_with(b"\r\n"), "missing final CRLF");
            return (body, &output[2..]);
        }
        body.extend_from_slice(&output[..size]);
        assert_eq!(
            &output[size..size + 2],
            b"\r\n",
            "chunk not followed by CRLF"
        );
        output = &output[size + 2..];
    }
}

/// The value of the first field called `name` in a printed head.
pub(crate) fn field<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Which final responses answer HEAD requests, in request order.
pub(crate) fn head_flags(events: &[Event]) -> Vec<bool> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request { head, .. } => Some(*head.method() == Method::Head),
            _ => None,
        })
        .collect()
}

/// `GET /a [body] {trailer=v} aborted | ... => 200 400 closed`
pub(crate) fn summarize(run: &Run) -> String {
    let mut requests: Vec<String> = Vec::new();
    for event in &run.events {
        match event {
            Event::Request { head, .. } => requests.push(format!(
                "{} {}",
                String::from_utf8_lossy(head.method().as_bytes()),
                String::from_utf8_lossy(head.target())
            )),
            Event::Data { chunk, .. } => append(
                &mut requests,
                &format!(" [{}]", String::from_utf8_lossy(chunk)),
            ),
            Event::EndOfMessage { trailers, .. } if !trailers.is_empty() => {
                let fields: Vec<String> = trailers
                    .iter()
                    .map(|(n, v)| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        )
                    })
                    .collect();
                append(&mut requests, &format!(" {{{}}}", fields.join(",")));
            }
            Event::RequestAborted { .. } => append(&mut requests, " aborted"),
            _ => {}
        }
    }
    let mut tail = vec!["=>".to_string()];
    tail.extend(
        parse_responses(&run.output, &head_flags(&run.events))
            .iter()
            .map(|r| r.status.to_string()),
    );
    tail.push(if run.closed { "closed" } else { "open" }.to_string());
    requests.push(tail.join(" "));
    requests.join(" | ").replace(" | =>", " =>")
}

fn append(requests: &mut [String], text: &str) {
    if let Some(last) = requests.last_mut() {
        last.push_str(text);
    }
}

/// Runs `input` whole, byte by byte and at eight seeded random splits;
/// asserts identical runs and the expected summary.
pub(crate) fn check_with(config: &Config, name: &str, input: &[u8], expected: &str) {
    let whole = run(config, input, &[], false);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        run(config, input, &bytewise, false),
        whole,
        "{name}: byte-by-byte differs from whole"
    );
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15 ^ input.len() as u64);
    for seed in 0..8 {
        let cuts = random_cuts(input.len(), &mut rng);
        assert_eq!(
            run(config, input, &cuts, false),
            whole,
            "{name}: random split #{seed} {cuts:?} differs"
        );
    }
    assert_eq!(summarize(&whole), expected, "{name}");
}

/// [`check_with`] under the default configuration.
pub(crate) fn check(name: &str, input: &[u8], expected: &str) {
    check_with(&Config::default(), name, input, expected);
}

/// A connection under manual control, for API-level tests.
pub(crate) struct Harness {
    pub(crate) conn: ServerConn,
    pub(crate) now: Instant,
}

impl Harness {
    /// A connection with the default configuration.
    pub(crate) fn new() -> Harness {
        Harness::with_config(Config::default())
    }

    /// A connection with `config`.
    pub(crate) fn with_config(config: Config) -> Harness {
        let now = test_now();
        Harness {
            conn: ServerConn::new(config, now),
            now,
        }
    }

    /// Feeds bytes and returns the events they produced.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.conn.handle_input(self.now, bytes);
        self.events()
    }

    /// Drains pending events.
    pub(crate) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// Drains pending output as text.
    pub(crate) fn output(&mut self) -> String {
        let mut out = Vec::new();
        let _ = self.conn.poll_transmit(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Moves the clock forward by `secs` seconds.
    pub(crate) fn advance(&mut self, secs: u64) {
        self.now += std::time::Duration::from_secs(secs);
    }

    /// Calls `handle_timeout` at the current time and returns the events.
    pub(crate) fn timeout(&mut self) -> Vec<Event> {
        self.conn.handle_timeout(self.now);
        self.events()
    }

    /// Sends a complete response; panics if the connection refuses.
    pub(crate) fn respond(
        &mut self,
        id: RequestId,
        status: u16,
        fields: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut head = ResponseHead::new(StatusCode::from_u16(status).expect("valid status"));
        for (name, value) in fields {
            head.headers.append(name, value);
        }
        self.conn.send_response(id, head).expect("send_response");
        self.conn.send_body(id, body).expect("send_body");
        self.conn.finish(id).expect("finish");
    }
}

/// The ids of the `Request` events among `events`.
pub(crate) fn request_ids(events: &[Event]) -> Vec<RequestId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// A bodiless HTTP/1.1 GET for `path`.
pub(crate) fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

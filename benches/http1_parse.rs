//! HTTP/1.1 hot-path benchmarks: head parsing, and the full
//! request → response cycle through `ServerConn`, in ns per request.
//!
//! Run with `cargo bench --bench http1_parse`.
//!
//! Tested by: running it (it asserts every request is answered)

use std::hint::black_box;
use std::time::{Duration, Instant};

use torsion::http::{ResponseHead, StatusCode};
use torsion::http1::{Config, Event, ServerConn, parse_request_head};

const WRK_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

const BROWSER_GET: &[u8] = b"GET /articles/2024/http-parsing?page=2&sort=desc HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/articles/2024\r\n\
Connection: keep-alive\r\n\
Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=yes\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\r\n";

/// Runs `f` (which handles `per_call` requests) repeatedly and prints the
/// median of several timed rounds in ns per request.
#[allow(clippy::disallowed_methods)]
fn measure(name: &str, per_call: usize, mut f: impl FnMut()) {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(200) {
        f();
        calls += 1;
    }
    let per_round = (calls / 4).max(1);
    let mut rounds: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                f();
            }
            t.elapsed().as_nanos() as f64 / (per_round as f64 * per_call as f64)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!(
        "{name:<44} {:>8.1} ns/request (best {:.1})",
        rounds[4], rounds[0]
    );
}

fn bench_parse(name: &str, request: &'static [u8]) {
    let config = Config::default();
    measure(name, 1, || {
        let parsed = parse_request_head(black_box(request), &config);
        assert!(matches!(parsed, Ok(Some(_))));
        black_box(parsed.ok());
    });
}

/// The web layer's work per request: answer "Hello, World!" with a length.
fn answer(conn: &mut ServerConn, answered: &mut usize) {
    while let Some(event) = conn.poll_event() {
        if let Event::EndOfMessage { id, .. } = event {
            let head = ResponseHead::new(StatusCode::OK)
                .with_header("Content-Type", "text/plain")
                .with_header("Content-Length", "13");
            let ok = conn.send_response(id, head).is_ok()
                && conn.send_body(id, b"Hello, World!").is_ok()
                && conn.finish(id).is_ok();
            assert!(ok, "response refused");
            *answered += 1;
        }
    }
}

fn bench_cycle(name: &str, request: &'static [u8], pipelined: usize) {
    let input = request.repeat(pipelined);
    let start = test_instant();
    let mut conn = ServerConn::new(Config::default(), start);
    conn.set_date(b"Sun, 06 Nov 1994 08:49:37 GMT");
    let mut out = Vec::with_capacity(64 * 1024);
    measure(name, pipelined, || {
        let mut answered = 0;
        conn.handle_input(start, black_box(&input));
        answer(&mut conn, &mut answered);
        let _ = conn.poll_transmit(&mut out);
        assert_eq!(answered, pipelined);
        black_box(&out);
        out.clear();
    });
}

fn bench_chunked_upload() {
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"400\r\n");
        body.extend_from_slice(&[b'x'; 1024]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let request = [
        &b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        &body,
    ]
    .concat();
    let start = test_instant();
    let mut conn = ServerConn::new(Config::default(), start);
    let mut out = Vec::new();
    measure("cycle chunked POST 64 KiB (64 x 1 KiB)", 1, || {
        let mut answered = 0;
        conn.handle_input(start, black_box(&request));
        answer(&mut conn, &mut answered);
        let _ = conn.poll_transmit(&mut out);
        assert_eq!(answered, 1);
        out.clear();
    });
}

#[allow(clippy::disallowed_methods)]
fn test_instant() -> Instant {
    Instant::now()
}

fn main() {
    // `cargo bench --bench http1_parse -- <substring>` runs matching benchmarks only.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let wanted = |name: &str| name.contains(filter.as_str());
    if wanted("parse wrk") {
        bench_parse("parse wrk GET head (1 field)", WRK_GET);
    }
    if wanted("parse browser") {
        bench_parse("parse browser GET head (12 fields)", BROWSER_GET);
    }
    if wanted("cycle wrk") {
        bench_cycle("cycle wrk GET -> 200", WRK_GET, 1);
    }
    if wanted("cycle browser") {
        bench_cycle("cycle browser GET -> 200", BROWSER_GET, 1);
    }
    if wanted("cycle pipelined") {
        bench_cycle("cycle pipelined 16 wrk GETs -> 200", WRK_GET, 16);
    }
    if wanted("cycle chunked") {
        bench_chunked_upload();
    }
}

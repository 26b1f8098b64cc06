//! Size and count limits on heads, chunk lines and trailers, checked at
//! every split like the corpus.
//!
//! Tested by: conformance/http1.rs

use torsion::http1::Config;

use super::driver::{Harness, check, check_with};

fn request_with_target_len(len: usize) -> Vec<u8> {
    let target = format!("/{}", "a".repeat(len - 1));
    format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

/// A request line exactly at the limit (CR included) is accepted; one byte more is 414.
#[test]
fn request_line_limit() {
    let limit = Config::default().max_request_line;
    let fixed = "GET  HTTP/1.1\r".len();
    let at = request_with_target_len(limit - fixed);
    let target = String::from_utf8_lossy(&at[4..4 + limit - fixed]).into_owned();
    check(
        "request_line_at_limit",
        &at,
        &format!("GET {target} => 200 open"),
    );
    check(
        "request_line_over_limit",
        &request_with_target_len(limit - fixed + 1),
        "=> 414 closed",
    );
}

/// A request line without LF is answered 414 as soon as it exceeds the limit.
#[test]
fn unterminated_request_line_rejected_early() {
    let mut h = Harness::new();
    h.feed(&vec![b'A'; Config::default().max_request_line + 1]);
    assert!(h.output().starts_with("HTTP/1.1 414 URI Too Long\r\n"));
    assert!(h.conn.is_closed());
}

/// One hundred fields are accepted; the 101st is 431.
#[test]
fn header_count_limit() {
    let fields = |n: usize| (0..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
    let ok = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", fields(99));
    check("hundred_fields", ok.as_bytes(), "GET / => 200 open");
    let over = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", fields(100));
    check("hundred_and_one_fields", over.as_bytes(), "=> 431 closed");
}

/// A head larger than the limit is 431, even without its final CRLF.
#[test]
fn head_size_limit() {
    let big = "v".repeat(40_000);
    let input = format!("GET / HTTP/1.1\r\nHost: a\r\nA: {big}\r\nB: {big}\r\n\r\n");
    check("head_too_large", input.as_bytes(), "=> 431 closed");
    let mut h = Harness::new();
    h.feed(format!("GET / HTTP/1.1\r\nHost: a\r\nA: {big}{big}").as_bytes());
    assert!(h.output().starts_with("HTTP/1.1 431 "));
}

/// Smaller configured limits are honoured at every split.
#[test]
fn configured_limits() {
    let mut config = Config::default();
    config.max_request_line = 20;
    config.max_head_size = 40;
    config.max_headers = 1;
    check_with(
        &config,
        "line",
        b"GET /aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
        "=> 414 closed",
    );
    check_with(
        &config,
        "head",
        b"GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
        "=> 431 closed",
    );
    check_with(
        &config,
        "count",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n",
        "=> 431 closed",
    );
    check_with(
        &config,
        "fits",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / => 200 open",
    );
}

fn chunked_post(rest: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{rest}").into_bytes()
}

/// An over-long chunk-size line is 400.
#[test]
fn chunk_line_limit() {
    let line = format!(
        "1;{}\r\nx\r\n0\r\n\r\n",
        "e".repeat(Config::default().max_chunk_line)
    );
    check(
        "chunk_line_too_long",
        &chunked_post(&line),
        "POST / aborted => 400 closed",
    );
}

/// Chunk extensions are bounded per body.
#[test]
fn chunk_extension_budget() {
    let chunk = format!("1;{}\r\nx\r\n", "e".repeat(1000));
    let body = format!("{}0\r\n\r\n", chunk.repeat(20));
    check(
        "extensions_over_budget",
        &chunked_post(&body),
        &format!("POST / [{}] aborted => 400 closed", "x".repeat(16)),
    );
}

/// Trailer sections are bounded in size and field count (431).
#[test]
fn trailer_limits() {
    let many: String = (0..33).map(|i| format!("T{i}: v\r\n")).collect();
    check(
        "too_many_trailers",
        &chunked_post(&format!("0\r\n{many}\r\n")),
        "POST / aborted => 431 closed",
    );
    let big = format!(
        "0\r\nT: {}\r\n\r\n",
        "v".repeat(Config::default().max_trailer_size)
    );
    check(
        "trailers_too_large",
        &chunked_post(&big),
        "POST / aborted => 431 closed",
    );
}

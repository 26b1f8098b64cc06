//! Read-side rules driven by the API: 100-continue, unread bodies, EOF,
//! timeouts and flow control.
//!
//! Tested by: conformance/http1.rs

use torsion::http::{ResponseHead, StatusCode};
use torsion::http1::{AbortReason, BodyKind, Config, Event, ProtocolError};

use super::driver::{Harness, get, request_ids};

const EXPECT_POST: &[u8] =
    b"POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";

/// `100 Continue` is sent lazily when output is polled and no response was started.
#[test]
fn continue_sent_lazily() {
    let mut h = Harness::new();
    let events = h.feed(EXPECT_POST);
    assert!(matches!(
        events[0],
        Event::Request {
            expects_continue: true,
            body: BodyKind::Length(5),
            ..
        }
    ));
    assert_eq!(h.output(), "HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(h.output(), "", "sent only once");
    let events = h.feed(b"hello");
    assert!(matches!(&events[0], Event::Data { chunk, .. } if chunk == b"hello"));
}

/// A handler answering before output is polled suppresses the 100 and closes after its response.
#[test]
fn early_final_response_suppresses_continue() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(EXPECT_POST))[0];
    h.respond(id, 417, &[("Content-Length", "0")], b"");
    let out = h.output();
    assert!(
        out.starts_with("HTTP/1.1 417 Expectation Failed\r\n"),
        "{out}"
    );
    assert!(!out.contains("100 Continue"));
    assert!(out.contains("Connection: close\r\n"));
    assert!(h.conn.is_closed());
}

/// No 100 is sent once body bytes have arrived.
#[test]
fn no_continue_after_body_bytes() {
    let mut h = Harness::new();
    h.feed(EXPECT_POST);
    h.feed(b"he");
    assert_eq!(h.output(), "");
}

/// HTTP/1.0 requests never get a 100.
#[test]
fn no_continue_for_http10() {
    let mut h = Harness::new();
    let events = h.feed(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    assert!(matches!(
        events[0],
        Event::Request {
            expects_continue: false,
            ..
        }
    ));
    assert_eq!(h.output(), "");
}

/// A pipelined request's 100 waits until the earlier response is complete.
#[test]
fn continue_waits_for_earlier_response() {
    let mut h = Harness::new();
    let events = h.feed(&[get("/first"), EXPECT_POST.to_vec()].concat());
    let ids = request_ids(&events);
    assert_eq!(h.output(), "");
    h.respond(ids[0], 200, &[("Content-Length", "0")], b"");
    let out = h.output();
    assert!(
        out.ends_with("\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"),
        "{out}"
    );
}

/// A small unread body is skipped after an early response and the next request is served.
#[test]
fn small_unread_body_is_discarded() {
    let mut h = Harness::new();
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n012"))[0];
    h.respond(id, 413, &[("Content-Length", "0")], b"");
    assert!(h.events().is_empty());
    let events = h.feed(&[&b"3456789"[..], &get("/next")].concat());
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(&events[0], Event::Request { head, .. } if head.path() == b"/next"));
    assert!(!h.conn.is_closed());
}

/// A large unread body closes the connection after the early response.
#[test]
fn large_unread_body_closes() {
    let mut h = Harness::new();
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n012"))
            [0];
    h.respond(id, 413, &[("Content-Length", "0")], b"");
    assert!(h.output().starts_with("HTTP/1.1 413"));
    assert!(h.conn.is_closed());
}

/// An unread chunked body is skipped within the discard budget.
#[test]
fn chunked_unread_body_discarded_within_budget() {
    let mut h = Harness::new();
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
            [0];
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    let events = h.feed(&[&b"3\r\nabc\r\n0\r\n\r\n"[..], &get("/next")].concat());
    assert_eq!(request_ids(&events).len(), 1, "{events:?}");
    assert_eq!(events.len(), 2);
}

/// An unread chunked body beyond the discard budget closes the connection.
#[test]
fn chunked_unread_body_over_budget_closes() {
    let mut config = Config::default();
    config.max_discard = 4;
    let mut h = Harness::with_config(config);
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
            [0];
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    assert!(!h.conn.is_closed());
    h.feed(b"8\r\n01234567\r\n");
    assert!(h.conn.is_closed());
}

/// EOF in the middle of a body aborts the request and closes without output.
#[test]
fn eof_mid_body_aborts() {
    let mut h = Harness::new();
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n012"))[0];
    h.conn.handle_eof(h.now);
    assert_eq!(
        h.events(),
        vec![Event::RequestAborted {
            id,
            reason: AbortReason::PeerClosed
        }]
    );
    assert_eq!(h.output(), "");
    assert!(h.conn.is_closed());
}

/// Pipelined requests received before EOF are still answered, then the connection closes.
#[test]
fn eof_after_pipelined_requests_answers_them() {
    let mut h = Harness::new();
    let ids = request_ids(&h.feed(&[get("/1"), get("/2")].concat()));
    h.conn.handle_eof(h.now);
    h.respond(ids[1], 200, &[("Content-Length", "0")], b"");
    assert!(!h.conn.is_closed());
    h.respond(ids[0], 200, &[("Content-Length", "0")], b"");
    assert_eq!(h.output().matches("HTTP/1.1 200").count(), 2);
    assert!(h.conn.is_closed());
}

/// EOF with a partial head closes silently.
#[test]
fn eof_partial_head_closes_silently() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nHo");
    h.conn.handle_eof(h.now);
    assert!(h.events().is_empty());
    assert_eq!(h.output(), "");
    assert!(h.conn.is_closed());
}

/// A head not completed within the header timeout gets 408 and a close.
#[test]
fn header_timeout_sends_408() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\n");
    let deadline = h.conn.poll_timeout().expect("armed");
    assert_eq!(deadline, h.now + Config::default().header_timeout);
    h.advance(29);
    h.feed(b"Host: a\r\n");
    assert_eq!(
        h.conn.poll_timeout(),
        Some(deadline),
        "trickling does not extend the deadline"
    );
    h.advance(1);
    let events = h.timeout();
    assert_eq!(
        events,
        vec![Event::ProtocolError {
            error: ProtocolError::HeadTimeout
        }]
    );
    assert!(h.output().starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(h.conn.is_closed());
}

/// An early timer call changes nothing.
#[test]
fn early_timeout_is_harmless() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\n");
    h.advance(29);
    assert!(h.timeout().is_empty());
    assert!(!h.conn.is_closed());
}

/// An idle keep-alive connection closes silently at the idle timeout.
#[test]
fn idle_timeout_closes_silently() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    h.output();
    h.advance(1);
    h.conn.handle_input(h.now, b"");
    let deadline = h.conn.poll_timeout().expect("idle timer");
    assert_eq!(deadline, h.now + Config::default().idle_timeout);
    h.advance(60);
    assert!(h.timeout().is_empty());
    assert_eq!(h.output(), "");
    assert!(h.conn.is_closed());
    assert_eq!(h.conn.poll_timeout(), None);
}

/// No timer runs while a handler works on a request.
#[test]
fn no_timer_while_handler_busy() {
    let mut h = Harness::new();
    h.feed(&get("/"));
    assert_eq!(h.conn.poll_timeout(), None);
}

/// A slow handler does not make the idle timer fire right after its response.
#[test]
fn slow_handler_does_not_shorten_idle() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.advance(300);
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    assert!(h.conn.poll_timeout().is_some());
    assert!(h.timeout().is_empty());
    assert!(
        !h.conn.is_closed(),
        "idle time counts from now, not from the request"
    );
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.now + Config::default().idle_timeout)
    );
}

/// A stalled body gets 408 and the request is aborted.
#[test]
fn body_timeout_sends_408() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01"))[0];
    h.advance(59);
    h.feed(b"2");
    h.advance(59);
    assert!(h.timeout().is_empty(), "progress re-arms the body timer");
    h.advance(1);
    let reason = AbortReason::Malformed(ProtocolError::BodyTimeout);
    assert_eq!(h.timeout(), vec![Event::RequestAborted { id, reason }]);
    assert!(h.output().starts_with("HTTP/1.1 408 "));
    assert!(h.conn.is_closed());
}

/// Reading pauses at the in-flight limit and resumes when a response finishes.
#[test]
fn reading_pauses_at_in_flight_limit() {
    let mut config = Config::default();
    config.max_in_flight = 2;
    let mut h = Harness::with_config(config);
    let ids = request_ids(&h.feed(&[get("/1"), get("/2"), get("/3")].concat()));
    assert_eq!(ids.len(), 2);
    assert!(!h.conn.wants_read());
    h.respond(ids[0], 200, &[("Content-Length", "0")], b"");
    let resumed = request_ids(&h.events());
    assert_eq!(
        resumed.len(),
        1,
        "the buffered third request is parsed by finish"
    );
    assert!(!h.conn.wants_read(), "two requests in flight again");
    h.respond(ids[1], 200, &[("Content-Length", "0")], b"");
    assert!(h.conn.wants_read());
}

/// A body is still read while the in-flight limit is reached.
#[test]
fn body_read_at_in_flight_limit() {
    let mut config = Config::default();
    config.max_in_flight = 1;
    let mut h = Harness::with_config(config);
    h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
    assert!(h.conn.wants_read());
    let events = h.feed(b"abc");
    assert!(matches!(events.last(), Some(Event::EndOfMessage { .. })));
    assert!(!h.conn.wants_read());
}

/// After a response the transport is read again and the head timer starts at the next byte.
#[test]
fn head_timer_starts_at_first_byte_of_next_request() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    h.advance(50);
    h.feed(b"G");
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.now + Config::default().header_timeout)
    );
}

/// A response begun while the body is arriving can stream, and the body is still delivered.
#[test]
fn streaming_echo_while_body_arrives() {
    let mut h = Harness::new();
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
            [0];
    h.conn
        .send_response(id, ResponseHead::new(StatusCode::OK))
        .expect("start");
    let events = h.feed(b"2\r\nhi\r\n0\r\n\r\n");
    assert!(matches!(&events[0], Event::Data { chunk, .. } if chunk == b"hi"));
    assert!(matches!(events[1], Event::EndOfMessage { .. }));
    h.conn.send_body(id, b"hi").expect("echo");
    h.conn.finish(id).expect("finish");
    assert!(h.output().ends_with("2\r\nhi\r\n0\r\n\r\n"));
    assert!(!h.conn.is_closed());
}

/// A malformed body after the response started aborts and closes without an error response.
#[test]
fn malformed_body_after_response_started() {
    let mut h = Harness::new();
    let id =
        request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
            [0];
    h.conn
        .send_response(id, ResponseHead::new(StatusCode::OK))
        .expect("start");
    let events = h.feed(b"zz\r\n");
    let reason = AbortReason::Malformed(ProtocolError::InvalidChunkSize);
    assert_eq!(events, vec![Event::RequestAborted { id, reason }]);
    let out = h.output();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && !out.contains("400"),
        "{out}"
    );
    assert!(h.conn.is_closed());
}

/// Empty lines after a body do not start the head timer; the idle timer governs.
#[test]
fn stray_crlf_keeps_connection_idle() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"))[0];
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    h.advance(1);
    h.feed(b"\r\n\r");
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.now + Config::default().idle_timeout)
    );
    h.advance(60);
    assert!(h.timeout().is_empty());
    assert_eq!(h.output().matches("408").count(), 0);
    assert!(h.conn.is_closed());
}

/// An in-flight limit of zero behaves as one.
#[test]
fn zero_in_flight_limit_means_one() {
    let mut config = Config::default();
    config.max_in_flight = 0;
    let mut h = Harness::with_config(config);
    let ids = request_ids(&h.feed(&[get("/1"), get("/2")].concat()));
    assert_eq!(ids.len(), 1);
    h.respond(ids[0], 200, &[("Content-Length", "0")], b"");
    assert_eq!(request_ids(&h.events()).len(), 1);
}

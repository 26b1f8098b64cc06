//! Response-side rules: ordering, framing, field filtering, 100-continue,
//! interim responses, aborts and API misuse.
//!
//! Tested by: conformance/http1.rs

use torsion::http::{ResponseHead, StatusCode};
use torsion::http1::{AbortReason, Event, UserError};

use super::driver::{Harness, get, request_ids};

fn two_requests(h: &mut Harness) -> (torsion::http1::RequestId, torsion::http1::RequestId) {
    let events = h.feed(&[get("/1"), get("/2")].concat());
    let ids = request_ids(&events);
    (ids[0], ids[1])
}

fn head(status: StatusCode) -> ResponseHead {
    ResponseHead::new(status)
}

/// A later response finished first is held back until the earlier one is done (CVE-2023-46137).
#[test]
fn out_of_order_finish_is_reordered() {
    let mut h = Harness::new();
    let (first, second) = two_requests(&mut h);
    h.respond(second, 200, &[("Content-Length", "6")], b"second");
    assert_eq!(h.output(), "");
    h.respond(first, 200, &[("Content-Length", "5")], b"first");
    let out = h.output();
    let a = out.find("first").expect("first body");
    let b = out.find("second").expect("second body");
    assert!(a < b, "{out}");
}

/// A later response streams into a buffer and is flushed once the earlier one finishes.
#[test]
fn later_stream_is_flushed_after_earlier_finish() {
    let mut h = Harness::new();
    let (first, second) = two_requests(&mut h);
    h.conn
        .send_response(second, head(StatusCode::OK))
        .expect("start");
    h.conn.send_body(second, b"partial").expect("body");
    assert_eq!(
        h.conn.pending_output(),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n".len()
    );
    assert_eq!(h.output(), "");
    h.conn
        .send_response(first, head(StatusCode::OK))
        .expect("start first");
    assert!(h.output().starts_with("HTTP/1.1 200 OK\r\n"));
    h.conn.finish(first).expect("finish first");
    let out = h.output();
    assert!(out.starts_with("0\r\n\r\nHTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("7\r\npartial\r\n"), "{out}");
    h.conn.finish(second).expect("finish second");
    assert_eq!(h.output(), "0\r\n\r\n");
}

/// HEAD responses keep the handler's Content-Length but carry no body bytes.
#[test]
fn head_keeps_length_drops_body() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"))[0];
    h.respond(id, 200, &[("Content-Length", "5")], b"hello");
    let out = h.output();
    assert!(out.contains("Content-Length: 5\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "{out}");
    assert!(!out.contains("hello"));
    assert!(!h.conn.is_closed());
}

/// A HEAD response without length announces chunked like a GET would, but sends no chunks.
#[test]
fn head_without_length_mirrors_get() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"))[0];
    h.respond(id, 200, &[], b"hello");
    let out = h.output();
    assert!(out.contains("Transfer-Encoding: chunked\r\n"), "{out}");
    assert!(
        out.ends_with("\r\n\r\n") && !out.contains("0\r\n\r\n"),
        "{out}"
    );
}

/// 204 responses lose Content-Length and body, and get no chunked framing.
#[test]
fn no_content_has_no_framing() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 204, &[("Content-Length", "5")], b"hello");
    assert_eq!(h.output(), "HTTP/1.1 204 No Content\r\n\r\n");
}

/// 304 responses keep Content-Length but send no body.
#[test]
fn not_modified_keeps_length() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(
        id,
        304,
        &[("Content-Length", "10"), ("ETag", "\"x\"")],
        b"ignored",
    );
    assert_eq!(
        h.output(),
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n"
    );
}

/// Handler Transfer-Encoding is removed; the connection frames the body itself.
#[test]
fn handler_transfer_encoding_removed() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 200, &[("Transfer-Encoding", "gzip"), ("X", "y")], b"ok");
    assert_eq!(
        h.output(),
        "HTTP/1.1 200 OK\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    );
}

/// Handler `Connection: close` is honoured: one close field, then the connection closes.
#[test]
fn handler_connection_close_honoured() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(
        id,
        200,
        &[("Connection", "close"), ("Content-Length", "2")],
        b"ok",
    );
    let out = h.output();
    assert_eq!(out.matches("Connection").count(), 1, "{out}");
    assert!(out.contains("Connection: close\r\n"));
    assert!(h.conn.is_closed());
}

/// Other handler Connection values are dropped and do not affect persistence.
#[test]
fn handler_connection_keep_alive_dropped() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(
        id,
        200,
        &[("Connection", "keep-alive"), ("Content-Length", "2")],
        b"ok",
    );
    assert_eq!(h.output(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert!(!h.conn.is_closed());
}

/// Body bytes beyond Content-Length are refused whole and nothing is written.
#[test]
fn excess_body_refused() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn
        .send_response(id, head(StatusCode::OK).with_header("Content-Length", "2"))
        .expect("start");
    let before = h.output();
    assert_eq!(
        h.conn.send_body(id, b"abc"),
        Err(UserError::BodyExceedsContentLength)
    );
    assert_eq!(h.output(), "");
    h.conn.send_body(id, b"ab").expect("fits");
    h.conn.finish(id).expect("finish");
    assert_eq!(
        before + &h.output(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"
    );
}

/// Finishing short of Content-Length closes the connection.
#[test]
fn short_body_closes() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 200, &[("Content-Length", "5")], b"ab");
    assert!(h.conn.is_closed());
}

/// Chunked bodies are framed exactly; empty writes produce nothing.
#[test]
fn chunked_wire_format() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn
        .send_response(id, head(StatusCode::OK))
        .expect("start");
    h.conn.send_body(id, b"").expect("empty");
    h.conn.send_body(id, &[b'x'; 26]).expect("body");
    h.conn.finish(id).expect("finish");
    let expected = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n{}\r\n0\r\n\r\n",
        "x".repeat(26)
    );
    assert_eq!(h.output(), expected);
}

/// HTTP/1.0 clients get a close-delimited body when no length is given.
#[test]
fn http10_close_delimited() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))[0];
    h.respond(id, 200, &[], b"raw");
    assert_eq!(
        h.output(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw"
    );
    assert!(h.conn.is_closed());
}

/// HTTP/1.0 keep-alive responses say `Connection: keep-alive`.
#[test]
fn http10_keep_alive_announced() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))[0];
    h.respond(id, 200, &[("Content-Length", "2")], b"ok");
    assert_eq!(
        h.output(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
    );
}

/// The cached Date is added to responses unless the handler set one.
#[test]
fn date_added_once() {
    let mut h = Harness::new();
    h.conn.set_date(b"Sun, 06 Nov 1994 08:49:37 GMT");
    let (first, second) = two_requests(&mut h);
    h.respond(first, 200, &[("Content-Length", "0")], b"");
    h.respond(
        second,
        200,
        &[("Content-Length", "0"), ("date", "custom")],
        b"",
    );
    let out = h.output();
    assert_eq!(
        out.matches("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
            .count(),
        1,
        "{out}"
    );
    assert!(out.contains("date: custom\r\n"));
}

/// Error responses carry the cached Date too.
#[test]
fn date_on_error_responses() {
    let mut h = Harness::new();
    h.conn.set_date(b"Sun, 06 Nov 1994 08:49:37 GMT");
    h.feed(b"BAD\r\n\r\n");
    assert!(
        h.output()
            .contains("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
    );
}

/// A Date value that would inject a line is refused.
#[test]
fn date_injection_refused() {
    let mut h = Harness::new();
    h.conn.set_date(b"x\r\nSet-Cookie: a=b");
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    assert!(!h.output().contains("Set-Cookie"));
}

/// A reason override replaces the canonical phrase; unregistered codes get an empty one.
#[test]
fn reason_phrases() {
    let mut h = Harness::new();
    let (first, second) = two_requests(&mut h);
    let mut custom = head(StatusCode::NOT_FOUND).with_header("Content-Length", "0");
    custom.reason = Some(b"Gone Fishing".to_vec());
    h.conn.send_response(first, custom).expect("custom");
    h.conn.finish(first).expect("finish");
    let odd = head(StatusCode::from_u16(299).expect("code")).with_header("Content-Length", "0");
    h.conn.send_response(second, odd).expect("odd");
    h.conn.finish(second).expect("finish");
    let out = h.output();
    assert!(out.starts_with("HTTP/1.1 404 Gone Fishing\r\n"), "{out}");
    assert!(out.contains("HTTP/1.1 299 \r\n"), "{out}");
}

/// Misuse is reported as the matching UserError and has no effect.
#[test]
fn misuse_is_reported() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    assert_eq!(
        h.conn.send_body(id, b"x"),
        Err(UserError::ResponseNotStarted)
    );
    assert_eq!(h.conn.finish(id), Err(UserError::ResponseNotStarted));
    assert_eq!(
        h.conn.send_response(id, head(StatusCode::CONTINUE)),
        Err(UserError::InformationalStatus)
    );
    h.conn
        .send_response(id, head(StatusCode::OK))
        .expect("start");
    assert_eq!(
        h.conn.send_response(id, head(StatusCode::OK)),
        Err(UserError::ResponseAlreadyStarted)
    );
    h.conn.finish(id).expect("finish");
    assert_eq!(h.conn.finish(id), Err(UserError::AlreadyFinished));
    assert_eq!(h.conn.send_body(id, b"x"), Err(UserError::AlreadyFinished));
    let unknown = request_ids(&Harness::new().feed(&[get("/"), get("/"), get("/")].concat()))[2];
    assert_eq!(h.conn.finish(unknown), Err(UserError::UnknownRequest));
}

/// Header injection through names, values or the reason phrase is refused, leaving no trace.
#[test]
fn injection_refused() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    let bad_value = head(StatusCode::OK).with_header("X", "a\r\nSet-Cookie: b");
    assert_eq!(
        h.conn.send_response(id, bad_value),
        Err(UserError::InvalidHeader)
    );
    let bad_name = head(StatusCode::OK).with_header("X Y", "a");
    assert_eq!(
        h.conn.send_response(id, bad_name),
        Err(UserError::InvalidHeader)
    );
    let nul = head(StatusCode::OK).with_header("X", "a\0");
    assert_eq!(h.conn.send_response(id, nul), Err(UserError::InvalidHeader));
    let mut bad_reason = head(StatusCode::OK);
    bad_reason.reason = Some(b"OK\r\nX: y".to_vec());
    assert_eq!(
        h.conn.send_response(id, bad_reason),
        Err(UserError::InvalidReason)
    );
    assert_eq!(h.output(), "");
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    assert_eq!(h.output(), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

/// Invalid or conflicting handler Content-Length values are refused.
#[test]
fn bad_handler_length_refused() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    let words = head(StatusCode::OK).with_header("Content-Length", "ten");
    assert_eq!(
        h.conn.send_response(id, words),
        Err(UserError::InvalidContentLength)
    );
    let conflict = head(StatusCode::OK)
        .with_header("Content-Length", "1")
        .with_header("Content-Length", "2");
    assert_eq!(
        h.conn.send_response(id, conflict),
        Err(UserError::InvalidContentLength)
    );
    let same = head(StatusCode::OK)
        .with_header("Content-Length", "1")
        .with_header("content-length", "1");
    h.conn
        .send_response(id, same)
        .expect("equal duplicates collapse");
    assert_eq!(h.output().matches("ength: 1").count(), 1);
}

/// 103 Early Hints go out before the final response; 100/101 and final codes are refused.
#[test]
fn informational_responses() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    let hints = head(StatusCode::EARLY_HINTS).with_header("Link", "</s.css>; rel=preload");
    h.conn.send_informational(id, hints).expect("103");
    assert_eq!(
        h.conn.send_informational(id, head(StatusCode::CONTINUE)),
        Err(UserError::NotInformational)
    );
    assert_eq!(
        h.conn.send_informational(id, head(StatusCode::OK)),
        Err(UserError::NotInformational)
    );
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    let out = h.output();
    assert!(
        out.starts_with(
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
        ),
        "{out}"
    );
}

/// HTTP/1.0 clients never receive interim responses.
#[test]
fn no_informational_for_http10() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"GET / HTTP/1.0\r\n\r\n"))[0];
    h.conn
        .send_informational(id, head(StatusCode::EARLY_HINTS))
        .expect("silently skipped");
    assert_eq!(h.output(), "");
}

/// Aborting before any output sends a 500 and closes.
#[test]
fn abort_before_output_sends_500() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn.abort(id);
    let out = h.output();
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{out}"
    );
    assert!(out.contains("Connection: close\r\n"));
    assert!(h.conn.is_closed());
    assert_eq!(h.conn.finish(id), Err(UserError::RequestAborted));
}

/// Aborting mid-body leaves the chunked body unterminated and closes.
#[test]
fn abort_mid_body_truncates() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn
        .send_response(id, head(StatusCode::OK))
        .expect("start");
    h.conn.send_body(id, b"part").expect("body");
    h.conn.abort(id);
    let out = h.output();
    assert!(out.ends_with("4\r\npart\r\n"), "{out}");
    assert!(h.conn.is_closed());
}

/// Closing after one response aborts the pipelined requests behind it.
#[test]
fn close_aborts_pipelined_requests() {
    let mut h = Harness::new();
    let (first, second) = two_requests(&mut h);
    h.conn
        .send_response(second, head(StatusCode::OK))
        .expect("start second");
    h.respond(
        first,
        200,
        &[("Connection", "close"), ("Content-Length", "0")],
        b"",
    );
    let events = h.events();
    assert_eq!(
        events,
        vec![Event::RequestAborted {
            id: second,
            reason: AbortReason::ConnectionClosing
        }]
    );
    assert_eq!(h.conn.finish(second), Err(UserError::RequestAborted));
    assert_eq!(h.output().matches("HTTP/1.1").count(), 1);
    assert!(h.conn.is_closed());
}

/// After EOF the final response announces the close.
#[test]
fn response_after_eof_announces_close() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn.handle_eof(h.now);
    h.respond(id, 200, &[("Content-Length", "0")], b"");
    assert!(h.output().contains("Connection: close\r\n"));
    assert!(h.conn.is_closed());
}

/// Request ids count up from zero in arrival order.
#[test]
fn ids_are_sequential() {
    let mut h = Harness::new();
    let ids = request_ids(&h.feed(&[get("/"), get("/"), get("/")].concat()));
    assert_eq!(
        ids.iter().map(|id| id.index()).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

/// Error responses are short plain text naming the status and the problem.
#[test]
fn error_response_is_plain_text() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    let out = h.output();
    let responses = super::driver::parse_responses(out.as_bytes(), &[]);
    assert_eq!(responses.len(), 1);
    assert_eq!(
        super::driver::field(&responses[0].head, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        super::driver::field(&responses[0].head, "connection"),
        Some("close")
    );
    assert_eq!(
        responses[0].body,
        b"400 Bad Request: multiple Host fields\n"
    );
}

/// Error responses to HEAD requests carry no body.
#[test]
fn head_error_response_has_no_body() {
    let mut h = Harness::new();
    h.feed(b"HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    let out = h.output();
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "{out}");
    let id = request_ids(&Harness::new().feed(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"))[0];
    let mut h = Harness::new();
    h.feed(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    h.conn.abort(id);
    let out = h.output();
    assert!(
        out.starts_with("HTTP/1.1 500 ") && out.ends_with("\r\n\r\n"),
        "{out}"
    );
}

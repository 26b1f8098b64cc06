//! `close_gracefully`: how a connection ends when the server shuts down — requests already
//! received are answered, nothing further is read, and the connection closes after the last
//! response.
//!
//! Tested by: conformance/http1.rs

use torsion::http::{ResponseHead, StatusCode};
use torsion::http1::Event;

use super::driver::{Harness, get, request_ids};

/// An idle keep-alive connection closes at once, with nothing to send.
#[test]
fn idle_connection_closes_at_once() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.respond(id, 200, &[("Content-Length", "2")], b"ok");
    assert!(h.output().starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(!h.conn.is_closed());
    h.conn.close_gracefully(h.now);
    assert!(h.conn.is_closed());
    assert_eq!(h.output(), "");
}

/// A connection part way through a request head drops it and closes at once.
#[test]
fn partial_head_is_dropped() {
    let mut h = Harness::new();
    assert!(h.feed(b"GET / HTTP/1.1\r\nHo").is_empty());
    h.conn.close_gracefully(h.now);
    assert!(h.conn.is_closed());
    assert!(h.events().is_empty());
    assert_eq!(h.output(), "");
}

/// A request waiting for its response is still answered, with `Connection: close`, and the
/// connection closes after it.
#[test]
fn waiting_request_is_answered_with_connection_close() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/slow")))[0];
    h.conn.close_gracefully(h.now);
    assert!(!h.conn.is_closed());
    h.respond(id, 200, &[("Content-Length", "4")], b"done");
    let out = h.output();
    assert!(out.contains("\r\nConnection: close\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\ndone"), "{out}");
    assert!(h.conn.is_closed());
}

/// Pipelined requests already received are all answered in order; only the last response
/// says `Connection: close`, and a request arriving afterwards is not read.
#[test]
fn received_pipeline_is_answered_then_closed() {
    let mut h = Harness::new();
    let ids = request_ids(&h.feed(&[get("/1"), get("/2")].concat()));
    h.conn.close_gracefully(h.now);
    assert!(h.feed(&get("/3")).is_empty());
    h.respond(ids[0], 200, &[("Content-Length", "1")], b"1");
    h.respond(ids[1], 200, &[("Content-Length", "1")], b"2");
    let out = h.output();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert_eq!(out.matches("Connection: close").count(), 1, "{out}");
    assert!(out.ends_with("\r\n\r\n2"), "{out}");
    let second = out.rfind("HTTP/1.1 200 OK").unwrap();
    assert!(out[second..].contains("Connection: close"), "{out}");
    assert!(h.conn.is_closed());
}

/// A body being received is still read to its end; the request after it is not.
#[test]
fn body_in_progress_is_read_to_its_end() {
    let mut h = Harness::new();
    let events = h.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123");
    let id = request_ids(&events)[0];
    h.conn.close_gracefully(h.now);
    let rest = h.feed(&[b"456789".as_slice(), &get("/next")].concat());
    assert!(
        rest.iter()
            .any(|e| matches!(e, Event::EndOfMessage { id: done, .. } if *done == id)),
        "{rest:?}"
    );
    assert!(request_ids(&rest).is_empty(), "{rest:?}");
    h.respond(id, 200, &[("Content-Length", "2")], b"ok");
    assert!(h.output().contains("Connection: close"));
    assert!(h.conn.is_closed());
}

/// A response whose head is already out keeps its framing and the connection closes once
/// it finishes.
#[test]
fn response_under_way_finishes_then_closes() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/stream")))[0];
    h.conn
        .send_response(id, ResponseHead::new(StatusCode::OK))
        .expect("start");
    h.conn.send_body(id, b"part").expect("body");
    let started = h.output();
    assert!(started.contains("Transfer-Encoding: chunked"), "{started}");
    h.conn.close_gracefully(h.now);
    assert!(!h.conn.is_closed());
    h.conn.finish(id).expect("finish");
    assert_eq!(h.output(), "0\r\n\r\n");
    assert!(h.conn.is_closed());
}

//! Owned response bodies: handed out after the pending output instead of copied, with the
//! same bytes on the wire as borrowed ones.
//!
//! Tested by: conformance/http1.rs

use torsion::http::{ResponseHead, StatusCode};
use torsion::http1::{Config, Event, RequestId, ServerConn, UserError};

use super::driver::{Harness, XorShift, get, random_cuts, request_ids, test_now};

/// A body large enough to be kept rather than copied.
fn big_body(fill: u8) -> Vec<u8> {
    vec![fill; 20 * 1024]
}

fn head_with(fields: &[(&str, String)]) -> ResponseHead {
    let mut head = ResponseHead::new(StatusCode::OK);
    for (name, value) in fields {
        head.headers.append(name, value);
    }
    head
}

fn length_head(len: usize) -> ResponseHead {
    head_with(&[("Content-Length", len.to_string())])
}

/// Everything pending, the owned body appended after the rest; and whether one was owned.
fn drain_owned(conn: &mut ServerConn) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let owned = conn.poll_transmit_owned(&mut out);
    let was_owned = owned.is_some();
    out.extend_from_slice(&owned.unwrap_or_default());
    (out, was_owned)
}

/// Feeds two pipelined GETs cut at `cuts`, answering the second first, every body owned, and
/// collects the wire output after each step.
fn pipelined_owned(input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut conn = ServerConn::new(Config::default(), test_now());
    let mut ids: Vec<RequestId> = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        conn.handle_input(test_now(), &input[start..cut]);
        start = cut;
        while let Some(event) = conn.poll_event() {
            if let Event::Request { id, .. } = event {
                ids.push(id);
            }
        }
    }
    assert_eq!(ids.len(), 2);
    let mut wire = Vec::new();
    for (id, fill) in [(ids[1], b'b'), (ids[0], b'a')] {
        let body = big_body(fill);
        conn.send_response(id, length_head(body.len()))
            .expect("head");
        conn.send_body_owned(id, body).expect("body");
        conn.finish(id).expect("finish");
        wire.extend(drain_owned(&mut conn).0);
    }
    wire
}

/// The front response's large body comes back owned, right after its head.
#[test]
fn front_body_handed_out_owned() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    let body = big_body(b'x');
    h.conn
        .send_response(id, length_head(body.len()))
        .expect("head");
    h.conn.send_body_owned(id, body.clone()).expect("body");
    h.conn.finish(id).expect("finish");
    let mut out = Vec::new();
    let owned = h.conn.poll_transmit_owned(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n") && out.ends_with(b"\r\n\r\n"));
    assert_eq!(owned, Some(body.into()));
    assert_eq!(h.conn.pending_output(), 0);
}

/// Pipelined responses with owned bodies leave in request order, for input fed whole, byte
/// by byte and at random splits.
#[test]
fn pipelined_owned_bodies_in_order() {
    let input = [get("/a"), get("/b")].concat();
    let whole = pipelined_owned(&input, &[]);
    let a = whole.iter().position(|&b| b == b'a').expect("first body");
    let b = whole.iter().position(|&b| b == b'b').expect("second body");
    assert!(a < b, "the first request's body leaves first");
    assert_eq!(whole.iter().filter(|&&b| b == b'a').count(), 20 * 1024);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(pipelined_owned(&input, &bytewise), whole);
    let mut rng = XorShift::new(7);
    for _ in 0..8 {
        let cuts = random_cuts(input.len(), &mut rng);
        assert_eq!(pipelined_owned(&input, &cuts), whole, "cuts {cuts:?}");
    }
}

/// `poll_transmit` and bytes written after an owned body keep it in place on the wire.
#[test]
fn owned_body_merged_in_order() {
    let mut h = Harness::new();
    let ids = request_ids(&h.feed(&[get("/a"), get("/b")].concat()));
    let body = big_body(b'a');
    h.conn
        .send_response(ids[0], length_head(body.len() + 2))
        .expect("head");
    h.conn.send_body_owned(ids[0], body).expect("body");
    h.conn.send_body(ids[0], b"zz").expect("tail");
    h.conn.finish(ids[0]).expect("finish");
    h.respond(ids[1], 200, &[("Content-Length", "1")], b"b");
    let out = h.output();
    let tail = out.find("zz").expect("tail");
    assert_eq!(out[..tail].matches('a').count(), 20 * 1024);
    assert!(out[tail..].starts_with("zzHTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\nb"));
}

/// An owned body beyond `Content-Length` is refused whole.
#[test]
fn owned_body_beyond_length_refused() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn.send_response(id, length_head(10)).expect("head");
    assert_eq!(
        h.conn.send_body_owned(id, big_body(b'x')),
        Err(UserError::BodyExceedsContentLength)
    );
    assert!(!drain_owned(&mut h.conn).1);
}

/// A HEAD response drops an owned body; a chunked one encodes it as a chunk.
#[test]
fn owned_body_head_and_chunked() {
    let mut h = Harness::new();
    let id = request_ids(&h.feed(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"))[0];
    h.conn
        .send_response(id, length_head(20 * 1024))
        .expect("head");
    h.conn.send_body_owned(id, big_body(b'x')).expect("body");
    h.conn.finish(id).expect("finish");
    let (out, owned) = drain_owned(&mut h.conn);
    assert!(!owned && out.ends_with(b"\r\n\r\n") && !out.contains(&b'x'));

    let mut h = Harness::new();
    let id = request_ids(&h.feed(&get("/")))[0];
    h.conn.send_response(id, head_with(&[])).expect("head");
    h.conn.send_body_owned(id, big_body(b'x')).expect("body");
    h.conn.finish(id).expect("finish");
    let (out, owned) = drain_owned(&mut h.conn);
    assert!(!owned);
    assert!(out.windows(8).any(|w| w == b"\r\n5000\r\n") && out.ends_with(b"\r\n0\r\n\r\n"));
}

//! The gzip wrapper for dynamic responses.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

use flate2::read::GzDecoder;
use torsion::web::{GzipResource, Render, Request, Tree};

use crate::util::{Peer, turn_until};
use crate::web::support::{FnResource, Response, Server, parse_responses};

fn text_body() -> Vec<u8> {
    b"All work and no play makes a dull response. ".repeat(200)
}

/// A tree behind the gzip wrapper; `/stream` keeps its request in `held` unfinished.
fn gzip_server(held: Rc<RefCell<Option<Request>>>) -> Server {
    let tree = Tree::new();
    tree.put_child(
        "text",
        FnResource::new(|request| {
            request.set_header("Content-Type", "text/plain; charset=utf-8");
            request.set_header("ETag", "\"v1\"");
            Render::Body(text_body())
        }),
    );
    tree.put_child(
        "small",
        FnResource::new(|request| {
            request.set_header("Content-Type", "text/plain");
            Render::Body(b"tiny".to_vec())
        }),
    );
    tree.put_child(
        "png",
        FnResource::new(|request| {
            request.set_header("Content-Type", "image/png");
            Render::Body(vec![7; 4096])
        }),
    );
    tree.put_child(
        "stream",
        FnResource::new(move |request| {
            request.set_header("Content-Type", "application/json");
            request.write(&noise(256 * 1024));
            *held.borrow_mut() = Some(request.clone());
            Render::NotDoneYet
        }),
    );
    Server::start(Rc::new(GzipResource::new(Rc::new(tree))))
}

fn fetch(server: &Server, target: &str, accept: Option<&str>) -> Response {
    let accept = accept.map_or(String::new(), |a| format!("Accept-Encoding: {a}\r\n"));
    let request = format!("GET {target} HTTP/1.1\r\nHost: h\r\n{accept}Connection: close\r\n\r\n");
    let mut peer = Peer::connect(&server.address);
    peer.send(request.as_bytes());
    peer.read_to_end(&server.reactor);
    parse_responses(&peer.received).remove(0)
}

/// Bytes that do not compress (xorshift), so deflate emits output as it goes.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// A client accepting gzip gets a compressed body, no Content-Length, Vary and a weak ETag.
#[test]
fn accepted_gzip_compresses() {
    let server = gzip_server(Rc::default());
    let response = fetch(&server, "/text", Some("deflate, gzip;q=0.5"));
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    assert_eq!(response.header("etag"), Some("W/\"v1\""));
    assert!(response.body.len() < text_body().len() / 4);
    assert_eq!(gunzip(&response.body), text_body());
}

/// Without gzip in Accept-Encoding (absent, or q=0) the body is sent as it is, still with Vary.
#[test]
fn refused_gzip_sends_identity_with_vary() {
    let server = gzip_server(Rc::default());
    for accept in [None, Some("gzip;q=0"), Some("br"), Some("*;q=0")] {
        let response = fetch(&server, "/text", accept);
        assert_eq!(response.header("content-encoding"), None, "{accept:?}");
        assert_eq!(response.body, text_body());
        assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    }
}

/// Small bodies and already-compressed types are not compressed.
#[test]
fn small_and_compressed_types_are_left_alone() {
    let server = gzip_server(Rc::default());
    let small = fetch(&server, "/small", Some("gzip"));
    assert_eq!(small.header("content-encoding"), None);
    assert_eq!(small.text(), "tiny");
    let png = fetch(&server, "/png", Some("gzip"));
    assert_eq!(png.header("content-encoding"), None);
    assert_eq!(png.header("vary"), None);
    assert_eq!(png.body.len(), 4096);
}

/// Compression streams: compressed bytes of the first write reach the client before the
/// response is finished, and the rest follows when it is.
#[test]
fn compression_streams() {
    let held = Rc::new(RefCell::new(None));
    let server = gzip_server(held.clone());
    let mut peer = Peer::connect(&server.address);
    peer.send(b"GET /stream HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
    turn_until(&server.reactor, 500, || {
        peer.pump();
        peer.received.len() > 2048
    });
    assert!(held.borrow().is_some());
    let request = held.borrow_mut().take().unwrap();
    request.write(b"]");
    request.finish();
    turn_until(&server.reactor, 500, || {
        peer.pump();
        !parse_responses(&peer.received).is_empty()
    });

    let response = parse_responses(&peer.received).remove(0);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    let mut expected = noise(256 * 1024);
    expected.push(b']');
    assert!(
        gunzip(&response.body) == expected,
        "the streamed body differs"
    );
}

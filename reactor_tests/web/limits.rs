//! Limits and failures: request bodies, the header timeout, panicking resources.

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use torsion::http::Method;
use torsion::http1::Config;
use torsion::time::FakeClock;
use torsion::web::{Content, ContentLimits, Render, SiteConfig, StaticData, Tree};

use super::support::{FnResource, MAX_TURNS, Record, Server, parse_responses};
use crate::util::{Peer, fake_clock_reactor, new_reactor, turn_until};

/// `/form` echoes the request body (recording each render); `/hello` is static.
fn form_tree(renders: &Record<Vec<u8>>) -> Rc<Tree> {
    let seen = renders.clone();
    let root = Tree::new();
    root.put_child(
        "form",
        FnResource::with_methods(vec![Method::Post], move |request| {
            let body = request.content().expect("the body reads back");
            seen.borrow_mut().push(body.clone());
            Render::Body(body)
        }),
    );
    root.put_child("hello", Rc::new(StaticData::new("hello", "text/plain")));
    Rc::new(root)
}

/// Bodies up to 16 bytes, spooled to a temporary file past 8.
fn small_body_limit() -> SiteConfig {
    SiteConfig {
        body_limits: ContentLimits {
            max_size: 16,
            spool_threshold: 8,
            spool_directory: None,
        },
        ..SiteConfig::default()
    }
}

/// A request body within the limit reaches the resource as `content()`.
#[test]
fn request_body_reaches_content() {
    let renders = Record::default();
    let server = Server::start_with(new_reactor(), form_tree(&renders), small_body_limit());
    let responses = server.exchange(
        b"POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        1,
    );
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].text(), "hello world");
}

/// `take_content` moves the whole body out (leaving `content()` empty), and `with_view` lends
/// the path segments and head without copies.
#[test]
fn take_content_moves_the_body_and_with_view_lends_the_head() {
    let root = Tree::new();
    root.put_child(
        "take",
        FnResource::with_methods(vec![Method::Post], |request| {
            let body = match request.take_content() {
                Content::Memory(bytes) => bytes,
                spooled => spooled.to_vec().expect("the spooled body reads back"),
            };
            let left = request.content_length();
            let (target, postpath) = request.with_view(|view| {
                (
                    String::from_utf8_lossy(view.info.head.target()).into_owned(),
                    view.postpath.len(),
                )
            });
            Render::Body(
                format!(
                    "{}|{left}|{target}|{postpath}",
                    String::from_utf8_lossy(&body)
                )
                .into_bytes(),
            )
        }),
    );
    let server = Server::start_with(new_reactor(), Rc::new(root), small_body_limit());
    let responses = server.exchange(
        b"POST /take/a/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        1,
    );
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].text(), "hello world|0|/take/a/b|2");
}

/// A body past the spool threshold is kept in a temporary file and reaches the resource whole,
/// while one below it stays in memory.
#[test]
fn body_past_the_threshold_is_spooled_to_a_file() {
    let spooled = Record::default();
    let seen = spooled.clone();
    let root = Tree::new();
    root.put_child(
        "where",
        FnResource::with_methods(vec![Method::Post], move |request| {
            let body = request.take_content();
            seen.borrow_mut().push(body.is_spooled());
            Render::Body(body.to_vec().expect("the body reads back"))
        }),
    );
    let server = Server::start_with(new_reactor(), Rc::new(root), small_body_limit());
    let responses = server.exchange(
        b"POST /where HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nsmal\
          POST /where HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          6\r\nlarger\r\n6\r\n-body!\r\n0\r\n\r\n",
        2,
    );
    assert_eq!(responses[0].text(), "smal");
    assert_eq!(responses[1].text(), "larger-body!");
    assert_eq!(*spooled.borrow(), vec![false, true]);
}

/// A spool directory that cannot hold the body gets 500 (not a hang, not a drop), and the
/// resource never renders.
#[test]
fn unusable_spool_directory_gets_500() {
    let renders = Record::default();
    let config = SiteConfig {
        body_limits: ContentLimits {
            max_size: 1024,
            spool_threshold: 4,
            spool_directory: Some("/nonexistent/spool".into()),
        },
        ..SiteConfig::default()
    };
    let server = Server::start_with(new_reactor(), form_tree(&renders), config);
    let responses = server.exchange(
        b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789\
          GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        2,
    );
    assert_eq!(responses[0].status, 500);
    assert_eq!(responses[1].status, 200);
    assert!(renders.borrow().is_empty(), "the resource rendered anyway");
}

/// A Content-Length over the body limit gets 413 without rendering, and the
/// connection goes on to the next request.
#[test]
fn declared_body_over_limit_gets_413() {
    let renders = Record::default();
    let server = Server::start_with(new_reactor(), form_tree(&renders), small_body_limit());
    let mut request = b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".to_vec();
    request.extend_from_slice(&[b'x'; 100]);
    request.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    let responses = server.exchange(&request, 2);
    assert_eq!(responses[0].status, 413);
    assert_eq!(responses[1].status, 200);
    assert!(renders.borrow().is_empty(), "the resource rendered anyway");
}

/// A chunked body whose received bytes pass the limit gets 413 without rendering.
#[test]
fn received_body_over_limit_gets_413() {
    let renders = Record::default();
    let server = Server::start_with(new_reactor(), form_tree(&renders), small_body_limit());
    let responses = server.exchange(
        b"POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
        1,
    );
    assert_eq!(responses[0].status, 413);
    assert!(renders.borrow().is_empty(), "the resource rendered anyway");
}

/// A head that does not arrive within the header timeout gets 408; the fake
/// clock is advanced instead of waiting.
#[test]
fn slow_head_times_out_with_408() {
    let (reactor, clock) = fake_clock_reactor();
    let timeout = Duration::from_secs(5);
    let mut http1 = Config::default();
    http1.header_timeout = timeout;
    let config = SiteConfig {
        http1,
        ..SiteConfig::default()
    };
    let server = Server::start_with(reactor, Rc::new(StaticData::new("x", "text/plain")), config);
    let head_deadline = clock.now() + timeout;
    let mut peer = Peer::connect(&server.address);
    peer.send(b"GET / HTTP/1.1\r\nHost:");
    // The connection's timer moves from the idle deadline to the head deadline.
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        clock.next_deadline() == Some(head_deadline)
    });
    clock.advance(timeout - Duration::from_millis(1));
    server.reactor.iterate(Some(Duration::ZERO)).expect("turn");
    peer.pump();
    assert!(peer.received.is_empty(), "answered before the timeout");
    clock.advance(Duration::from_millis(1));
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        peer.ended()
    });
    let text = String::from_utf8_lossy(&peer.received).into_owned();
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
}

/// A server with an idle timeout of `idle` on a fake clock.
fn idle_server(idle: Duration) -> (Server, FakeClock) {
    let (reactor, clock) = fake_clock_reactor();
    let mut http1 = Config::default();
    http1.idle_timeout = idle;
    let config = SiteConfig {
        http1,
        ..SiteConfig::default()
    };
    let server = Server::start_with(reactor, Rc::new(StaticData::new("x", "text/plain")), config);
    (server, clock)
}

/// Runs a few turns and checks `peer`'s connection is still open.
fn assert_still_open(server: &Server, peer: &mut Peer, why: &str) {
    for _ in 0..3 {
        server.reactor.iterate(Some(Duration::ZERO)).expect("turn");
    }
    peer.pump();
    assert!(!peer.ended(), "{why}");
}

/// Turns the reactor until the server closes `peer`'s connection.
fn await_close(server: &Server, peer: &mut Peer) {
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        peer.ended()
    });
}

/// An idle keep-alive connection is closed once the idle timeout passes on the fake clock.
#[test]
fn idle_keep_alive_connection_is_closed() {
    let idle = Duration::from_secs(7);
    let (server, clock) = idle_server(idle);
    let mut peer = Peer::connect(&server.address);
    peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(server.await_responses(&mut peer, 1).len(), 1);
    clock.advance(idle - Duration::from_millis(1));
    assert_still_open(&server, &mut peer, "closed before the idle timeout");
    clock.advance(Duration::from_millis(1));
    await_close(&server, &mut peer);
    assert_eq!(parse_responses(&peer.received).len(), 1);
}

/// The idle timeout counts from the latest response: a request made after part of it passed
/// moves the close to idle after that request, not after the first.
#[test]
fn idle_timeout_counts_from_the_latest_request() {
    let idle = Duration::from_secs(7);
    let (server, clock) = idle_server(idle);
    let mut peer = Peer::connect(&server.address);
    peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(server.await_responses(&mut peer, 1).len(), 1);
    clock.advance(Duration::from_secs(3));
    peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(server.await_responses(&mut peer, 2).len(), 2);
    // Past the first request's idle deadline, short of the second's.
    clock.advance(idle - Duration::from_millis(1));
    assert_still_open(
        &server,
        &mut peer,
        "closed before the idle timeout of the latest request",
    );
    clock.advance(Duration::from_millis(1));
    await_close(&server, &mut peer);
}

/// Captures error reports (shared by the tests that check them).
fn capture_errors() -> Arc<Mutex<Vec<String>>> {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    torsion::log::set_error_sink(move |message| {
        if let Ok(mut reports) = sink.lock() {
            reports.push(message.to_owned());
        }
    });
    reports
}

/// `/boom` panics; `/hello` is static.
fn panicking_tree() -> Rc<Tree> {
    let root = Tree::new();
    root.put_child("boom", FnResource::new(|_| panic!("kaboom in render")));
    root.put_child("hello", Rc::new(StaticData::new("hello", "text/plain")));
    Rc::new(root)
}

/// A panicking resource gets a 500 without detail, the panic is reported,
/// and the next request on the same connection is served.
#[test]
fn panicking_resource_gets_500_and_connection_survives() {
    let reports = capture_errors();
    let server = Server::start(panicking_tree());
    let responses = server.exchange(
        b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        2,
    );
    torsion::log::reset_error_sink();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].status, 500);
    assert!(!responses[0].text().contains("kaboom"), "detail shown");
    assert_eq!(responses[1].status, 200);
    assert_eq!(responses[1].text(), "hello");
    let reports = reports.lock().expect("reports");
    assert!(
        reports
            .iter()
            .any(|r| r.contains("GET /boom") && r.contains("kaboom in render")),
        "{reports:?}"
    );
}

/// With display_tracebacks on, the 500 page shows the panic message.
#[test]
fn display_tracebacks_shows_panic_detail() {
    let config = SiteConfig {
        display_tracebacks: true,
        ..SiteConfig::default()
    };
    let server = Server::start_with(new_reactor(), panicking_tree(), config);
    let responses = server.exchange(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].status, 500);
    assert!(responses[0].text().contains("kaboom in render"));
}

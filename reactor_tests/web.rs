//! The web layer end to end: a real `Site` on 127.0.0.1 answering raw
//! sockets and curl. Basic serving, traversal and headers here; request
//! lifecycles, streaming and limits in the submodules.

mod channel;
mod lifecycle;
mod limits;
mod shutdown;
pub(crate) mod support;

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use torsion::http::{Method, StatusCode};
use torsion::reactor::Reactor;
use torsion::time::FakeClock;
use torsion::web::{
    AccessLog, AccessLogEntry, Redirect, Render, SERVER_VERSION, SiteConfig, StaticData, Tree,
    combined_log_line, parse_added_header,
};

use support::{FnResource, Server, SharedBuffer, curl, parse_head_response};

/// A tree with `/hello` (text/plain "hello") and `/api/echo` (shows traversal).
fn sample_tree() -> Rc<Tree> {
    let root = Tree::new();
    root.put_child("hello", Rc::new(StaticData::new("hello", "text/plain")));
    let api = Tree::new();
    api.put_child(
        "echo",
        FnResource::new(|request| {
            let show = |segments: Vec<Vec<u8>>| {
                let texts: Vec<String> = segments
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                texts.join(",")
            };
            let args: Vec<String> = request
                .args()
                .iter()
                .map(|(n, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(n),
                        String::from_utf8_lossy(v)
                    )
                })
                .collect();
            let text = format!(
                "prepath={} postpath={} args={}",
                show(request.prepath()),
                show(request.postpath()),
                args.join("&")
            );
            Render::Body(text.into_bytes())
        }),
    );
    root.put_child("api", Rc::new(api));
    root.put_child("elsewhere", Rc::new(Redirect::new("/hello")));
    Rc::new(root)
}

/// A fake-clock reactor whose wall clock starts at 2024-03-05 06:07:08 UTC.
fn fixed_time_reactor() -> (Reactor, FakeClock) {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_618_828);
    let clock = FakeClock::starting_at(start);
    let reactor = Reactor::builder()
        .clock(clock.clock())
        .install_signal_handlers(false)
        .build()
        .expect("build a reactor");
    (reactor, clock)
}

/// A GET of a static resource returns its bytes and content type (checked with curl).
#[test]
fn get_serves_static_data() {
    let server = Server::start(sample_tree());
    let Some(output) = curl(&server, &["--include", &server.url("/hello")]) else {
        return;
    };
    assert!(output.starts_with("HTTP/1.1 200 OK\r\n"), "{output}");
    assert!(
        output
            .to_lowercase()
            .contains("content-type: text/plain\r\n"),
        "{output}"
    );
    assert!(
        output.to_lowercase().contains("content-length: 5\r\n"),
        "{output}"
    );
    assert!(output.ends_with("\r\n\r\nhello"), "{output}");
}

/// A HEAD of a static resource gets GET's headers and no body.
#[test]
fn head_sends_headers_without_body() {
    let server = Server::start(sample_tree());
    let mut peer = crate::util::Peer::connect(&server.address);
    peer.send(b"HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    crate::util::turn_until(&server.reactor, support::MAX_TURNS, || {
        peer.pump();
        peer.ended()
    });
    let response = parse_head_response(&peer.received).expect("a response");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some("5"));
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert!(response.body.is_empty(), "{:?}", response.text());
}

/// Traversal moves segments from postpath to prepath, decoded, and parses the query in order.
#[test]
fn traversal_fills_prepath_postpath_and_args() {
    let server = Server::start(sample_tree());
    let responses = server.exchange(
        b"GET /api/echo/x/y%20z?a=1&b=two+words&a=3&flag HTTP/1.1\r\nHost: x\r\n\r\n",
        1,
    );
    assert_eq!(responses[0].status, 200);
    assert_eq!(
        responses[0].text(),
        "prepath=api,echo postpath=x,y z args=a=1&b=two words&a=3&flag="
    );
}

/// A path with no matching child gets the 404 page.
#[test]
fn missing_child_is_not_found() {
    let server = Server::start(sample_tree());
    let responses = server.exchange(b"GET /nothing/here HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].status, 404);
    assert!(responses[0].text().contains("No Such Resource"));
    assert_eq!(
        responses[0].header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

/// A method the resource does not render gets 405 with an Allow header (GET implying HEAD).
#[test]
fn unsupported_method_gets_405_with_allow() {
    let root = Tree::new();
    root.put_child(
        "form",
        FnResource::with_methods(vec![Method::Get, Method::Post], |_| {
            Render::Body(b"ok".to_vec())
        }),
    );
    root.put_child("hello", Rc::new(StaticData::new("hello", "text/plain")));
    let server = Server::start(Rc::new(root));
    let responses = server.exchange(
        b"DELETE /form HTTP/1.1\r\nHost: x\r\n\r\nPOST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        2,
    );
    assert_eq!(responses[0].status, 405);
    assert_eq!(responses[0].header("allow"), Some("GET, POST, HEAD"));
    assert_eq!(responses[1].status, 405);
    assert_eq!(responses[1].header("allow"), Some("GET, HEAD"));
}

/// A redirect answers 302 with a Location header.
#[test]
fn redirect_sends_found_with_location() {
    let server = Server::start(sample_tree());
    let responses = server.exchange(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].status, 302);
    assert_eq!(responses[0].header("location"), Some("/hello"));
}

/// Headers configured with `--add-header` appear on every response, error pages included.
#[test]
fn added_headers_are_on_every_response() {
    let config = SiteConfig {
        added_headers: vec![
            parse_added_header("X-Frame-Options: DENY").expect("valid"),
            parse_added_header("X-Team :  web ").expect("valid"),
        ],
        ..SiteConfig::default()
    };
    let server = Server::start_with(crate::util::new_reactor(), sample_tree(), config);
    let Some(output) = curl(&server, &["--include", &server.url("/hello")]) else {
        return;
    };
    assert!(output.contains("X-Frame-Options: DENY\r\n"), "{output}");
    assert!(output.contains("X-Team: web\r\n"), "{output}");
    let responses = server.exchange(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].status, 404);
    assert_eq!(responses[0].header("x-frame-options"), Some("DENY"));
    assert!(parse_added_header("no colon").is_err());
    assert!(parse_added_header("bad name: v").is_err());
}

/// Every response carries `Server: torsion/<version>` and a Date from the reactor's wall clock.
#[test]
fn date_and_server_headers_are_present() {
    let (reactor, _clock) = fixed_time_reactor();
    let server = Server::start_with(reactor, sample_tree(), SiteConfig::default());
    let responses = server.exchange(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses[0].header("server"), Some(SERVER_VERSION));
    assert!(SERVER_VERSION.starts_with("torsion/"));
    assert_eq!(
        responses[0].header("date"),
        Some("Tue, 05 Mar 2024 06:07:08 GMT")
    );
}

/// A finished response is logged as one line in Twisted's combined format.
#[test]
fn access_log_uses_combined_format() {
    let (reactor, clock) = fixed_time_reactor();
    let server = Server::start_with(reactor, sample_tree(), SiteConfig::default());
    let buffer = SharedBuffer::default();
    server
        .site
        .set_access_log(Some(AccessLog::to_writer(Box::new(buffer.clone()))));
    clock.advance(Duration::from_secs(61));
    let responses = server.exchange(
        b"GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nReferer: http://example/\r\nUser-Agent: test \"agent\"\r\n\r\n\
          GET /missing HTTP/1.0\r\n\r\n",
        2,
    );
    assert_eq!(responses.len(), 2);
    let not_found_length = responses[1].body.len();
    assert_eq!(
        buffer.text(),
        format!(
            "\"127.0.0.1\" - - [05/Mar/2024:06:08:09 +0000] \"GET /hello?x=1 HTTP/1.1\" 200 5 \
             \"http://example/\" \"test \\\"agent\\\"\"\n\
             \"127.0.0.1\" - - [05/Mar/2024:06:08:09 +0000] \"GET /missing HTTP/1.0\" 404 \
             {not_found_length} \"-\" \"-\"\n"
        )
    );
}

/// The log formatter quotes the address, escapes bytes and writes `-` for an unknown length.
#[test]
fn combined_log_line_escapes_and_dashes() {
    let entry = AccessLogEntry {
        client: "::1".to_string(),
        time: SystemTime::UNIX_EPOCH + Duration::from_secs(86_399),
        method: b"HEAD".to_vec(),
        uri: b"/a\\b\x01".to_vec(),
        protocol: b"HTTP/1.1".to_vec(),
        code: StatusCode::NO_CONTENT.as_u16(),
        length: None,
        referrer: None,
        agent: Some(b"caf\xc3\xa9".to_vec()),
    };
    assert_eq!(
        combined_log_line(&entry),
        "\"::1\" - - [01/Jan/1970:23:59:59 +0000] \"HEAD /a\\\\b\\x01 HTTP/1.1\" 204 - \"-\" \"caf\\xc3\\xa9\""
    );
}

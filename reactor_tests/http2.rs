//! HTTP/2 end to end: a real `Site` on 127.0.0.1 answering curl (prior
//! knowledge and `Upgrade: h2c`) and h2load, with the same resources that
//! serve HTTP/1.1.

mod drain;

use std::process::Command;
use std::rc::Rc;

use torsion::payload::Payload;
use torsion::web::{Render, SiteConfig};

use crate::web::support::{FnResource, Server, curl};

/// A resource describing the request as HTTP/2 delivered it.
fn echo_server() -> Server {
    Server::start(FnResource::with_methods(
        vec![torsion::http::Method::Get, torsion::http::Method::Post],
        |request| {
            let text = format!(
                "{} {} host={} cookie={} body={}",
                request.version().as_str(),
                String::from_utf8_lossy(&request.uri()),
                String::from_utf8_lossy(&request.header("host").unwrap_or_default()),
                String::from_utf8_lossy(&request.header("cookie").unwrap_or_default()),
                request.content().map_or(0, |c| c.len()),
            );
            Render::Body(text.into_bytes())
        },
    ))
}

/// The body curl fetches from `path` over HTTP/2 with prior knowledge, or `None` if curl cannot
/// be run.
fn fetch_over_h2(server: &Server, path: &str) -> Option<Vec<u8>> {
    let url = server.url(path);
    let out = server.run_beside(move || {
        crate::binary::curl(20)
            .args(["--http2-prior-knowledge", &url])
            .output()
    });
    out.ok().map(|out| out.stdout)
}

/// curl with prior knowledge speaks HTTP/2 and sees `:authority` as Host.
#[test]
fn curl_prior_knowledge() {
    let server = echo_server();
    let url = server.url("/p?q=1");
    let Some(out) = curl(
        &server,
        &["--http2-prior-knowledge", "-w", " v%{http_version}", &url],
    ) else {
        return;
    };
    let host = server.socket_address().to_string();
    assert_eq!(out, format!("HTTP/2 /p?q=1 host={host} cookie= body=0 v2"));
}

/// curl's `--http2` upgrades an HTTP/1.1 request with `Upgrade: h2c`; the request is answered
/// over HTTP/2 as stream 1 and a second request reuses the connection.
#[test]
fn curl_upgrade() {
    let server = echo_server();
    let (a, b) = (server.url("/one"), server.url("/two"));
    let Some(out) = curl(&server, &["--http2", "-w", " v%{http_version}\n", &a, &b]) else {
        return;
    };
    assert!(out.starts_with("HTTP/2 /one"), "{out}");
    assert!(out.contains("v2\nHTTP/2 /two"), "{out}");
}

/// Request bodies arrive whole and several cookie fields are joined with "; ".
#[test]
fn body_and_cookies() {
    let server = echo_server();
    let url = server.url("/post");
    let body = "x".repeat(100_000);
    let Some(out) = curl(
        &server,
        &[
            "--http2-prior-knowledge",
            "-H",
            "cookie: a=1",
            "-H",
            "cookie: b=2",
            "--data-binary",
            &body,
            &url,
        ],
    ) else {
        return;
    };
    assert!(out.ends_with("cookie=a=1; b=2 body=100000"), "{out}");
}

/// A response much larger than the default windows arrives intact.
#[test]
fn large_response() {
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = body.clone();
    let server = Server::start_with(
        crate::util::new_reactor(),
        FnResource::new(move |_| Render::Body(body.clone())),
        SiteConfig::default(),
    );
    let Some(received) = fetch_over_h2(&server, "/big") else {
        return;
    };
    assert!(received == expected, "got {} bytes", received.len());
}

/// A large body handed over in a buffer the server does not own (as a WSGI application's
/// `bytes` object is) is cut into DATA frames from that buffer and arrives intact.
#[test]
fn large_shared_response() {
    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let expected = body.clone();
    let server = Server::start_with(
        crate::util::new_reactor(),
        FnResource::new(move |request| {
            request.write_and_finish(Payload::Shared(Box::new(body.clone())));
            Render::NotDoneYet
        }),
        SiteConfig::default(),
    );
    let Some(received) = fetch_over_h2(&server, "/big") else {
        return;
    };
    assert!(received == expected, "got {} bytes", received.len());
}

/// h2load's many concurrent streams over several connections all succeed.
#[test]
fn h2load_streams() {
    let server = Server::start(FnResource::new(|_| Render::Body(b"hello".to_vec())) as Rc<_>);
    let url = server.url("/");
    let out = server.run_beside(move || {
        Command::new("h2load")
            .args(["-n", "2000", "-c", "4", "-m", "32", &url])
            .output()
    });
    let out = out.expect("h2load is installed (.ci/test installs nghttp2-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    assert!(text.contains("status codes: 2000 2xx"), "{text}");
}

/// A large static file, sent over HTTP/2 by a pull producer reading one chunk at a time
/// (sendfile cannot frame DATA), arrives whole: the producer is asked again until it is done
/// even when the socket takes every chunk at once.
#[test]
fn large_file_from_a_pull_producer_arrives_whole() {
    let dir = crate::util::TempDir::new("h2-static");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(dir.join("big.bin"), &content).unwrap();
    let file = torsion::static_files::File::new(
        dir.join(""),
        torsion::static_files::FileOptions::default(),
    )
    .expect("serve the directory");
    let server = Server::start(Rc::new(file));
    let Some(received) = fetch_over_h2(&server, "/big.bin") else {
        return;
    };
    assert!(received == content, "got {} bytes", received.len());
}

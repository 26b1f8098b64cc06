//! `torsion web --wsgi`: the real binary serving real WSGI applications on 127.0.0.1, talked to
//! with raw sockets and curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::binary::{self, Running, curl, torsion};

const APPS: &str = r#"
import sys

def hello(environ, start_response):
    body = b"Hello, world!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

def echo(environ, start_response):
    start_response("201 Made It", [("Content-Type", "text/plain"), ("Server", "app"), ("X-App", "yes")])
    yield b"method=" + environ["REQUEST_METHOD"].encode() + b"\n"
    yield b"script=" + environ["SCRIPT_NAME"].encode("latin-1") + b"\n"
    yield b"path=" + environ["PATH_INFO"].encode("latin-1") + b"\n"
    yield b"query=" + environ["QUERY_STRING"].encode("latin-1") + b"\n"
    yield b"type=" + environ["CONTENT_TYPE"].encode() + b"\n"
    yield b"http_content=" + str(sorted(k for k in environ if k.startswith("HTTP_CONTENT"))).encode() + b"\n"
    yield b"remote_port=" + str("REMOTE_PORT" in environ).encode() + b"\n"
    yield b"names=" + (environ["SERVER_NAME"] + " " + environ["REMOTE_ADDR"]).encode() + b"\n"
    yield b"body=" + environ["wsgi.input"].read()

def fails_early(environ, start_response):
    raise RuntimeError("deliberate failure before output")

def fails_late(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first part\n"
    raise RuntimeError("deliberate failure after output")

def never_starts(environ, start_response):
    return [b"no start_response"]

def validated_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"validated\n"]

from wsgiref.validate import validator
validated = validator(validated_app)

not_callable = 42

import os, time

def firehose(environ, start_response):
    """Streams 200 MiB as fast as the server takes it."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    chunk = b"z" * 65536
    for _ in range(3200):
        yield chunk

class Tracked:
    """An iterable that records, in a file, how far it got and that close() was called."""
    def __init__(self, marker):
        self.marker = marker
        self.sent = 0
    def __iter__(self):
        chunk = b"t" * 65536
        for _ in range(100000):
            self.sent += 1
            yield chunk
    def close(self):
        with open(self.marker, "w") as f:
            f.write(f"closed after {self.sent}")

def tracked(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return Tracked(environ["QUERY_STRING"])

def send_file(environ, start_response):
    f = open(environ["QUERY_STRING"], "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f)

def big_list(environ, start_response):
    """One large bytes object in a list: 1 MiB of a repeating 251-byte pattern."""
    body = bytes(i % 251 for i in range(251)) * 4178
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]

def big_chunks(environ, start_response):
    """Large and small chunks in turn, each filled with its own index."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for i in range(12):
        yield bytes([i]) * (100000 if i % 2 == 0 else 10)

def slow(environ, start_response):
    time.sleep(1.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"finished despite shutdown"]
"#;

/// A temporary directory holding the test applications, removed on drop.
struct AppDir(PathBuf);

impl AppDir {
    fn new() -> Self {
        let unique = format!(
            "torsion-cli-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], "");
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("apps.py"), APPS).unwrap();
        Self(dir)
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server and its application directory; killed when dropped.
struct Server {
    running: Running,
    address: SocketAddr,
    _dir: AppDir,
}

impl Server {
    fn start(app: &str, extra: &[&str]) -> Self {
        let dir = AppDir::new();
        let mut args = vec![
            "web",
            "--wsgi",
            app,
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ];
        args.extend_from_slice(extra);
        let running = Running::spawn(torsion(&dir.0, &args));
        Self {
            address: running.address(),
            running,
            _dir: dir,
        }
    }

    /// Sends `request` on a new connection and reads until the server closes it.
    fn exchange(&self, request: &str) -> (String, bool) {
        let (response, clean) = self.exchange_bytes(request);
        (String::from_utf8_lossy(&response).into_owned(), clean)
    }

    fn exchange_bytes(&self, request: &str) -> (Vec<u8>, bool) {
        let mut stream = TcpStream::connect(self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let clean = stream.read_to_end(&mut response).is_ok();
        (response, clean)
    }

    fn get_bytes(&self, path: &str) -> Vec<u8> {
        self.exchange_bytes(&format!(
            "GET {path} HTTP/1.1\r\nHost: example.org:8080\r\nConnection: close\r\n\r\n"
        ))
        .0
    }

    fn get(&self, path: &str) -> String {
        self.exchange(&format!(
            "GET {path} HTTP/1.1\r\nHost: example.org:8080\r\nConnection: close\r\n\r\n"
        ))
        .0
    }

    /// Stops the server with `signal` and returns its exit status and remaining stderr.
    fn stop(self, signal: &str) -> (std::process::ExitStatus, String) {
        self.running.stop(signal)
    }
}

/// A hello-world application is served with its own headers plus Date and Server.
#[test]
fn serves_hello_world() {
    let server = Server::start("apps.hello", &[]);
    let response = server.get("/");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("Content-Length: 14\r\n"));
    assert!(response.contains("Date: ") && response.contains("Server: torsion/"));
    assert!(response.ends_with("\r\n\r\nHello, world!\n"));
}

/// Large bodies handed over in their Python bytes objects arrive intact and in order, as one
/// list item with a Content-Length and as large chunks between small ones.
#[test]
fn large_python_bodies_arrive_intact() {
    let server = Server::start("apps.big_list", &[]);
    let pattern: Vec<u8> = (0..251u32).map(|i| i as u8).collect();
    let expected: Vec<u8> = pattern.repeat(4178);
    for _ in 0..3 {
        let response = server.get_bytes("/");
        let at = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&response[..at]);
        assert!(
            head.contains(&format!("Content-Length: {}\r\n", expected.len())),
            "{head}"
        );
        assert!(response[at..] == expected[..], "the 1 MiB body differs");
    }
    let server = Server::start("apps.big_chunks", &[]);
    let mut expected = Vec::new();
    for i in 0..12u8 {
        expected.extend(std::iter::repeat_n(i, if i % 2 == 0 { 100000 } else { 10 }));
    }
    let response = server.get_bytes("/");
    let at = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        dechunk(&response[at..]) == expected,
        "the streamed body differs"
    );
}

/// The body of a chunked response, from its chunks.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The module:attribute form of the application name works too.
#[test]
fn accepts_module_colon_attribute() {
    let server = Server::start("apps:hello", &[]);
    assert!(server.get("/").ends_with("Hello, world!\n"));
}

/// The environ carries the decoded path, the raw query, the body, and no HTTP_CONTENT_* keys.
#[test]
fn environ_reaches_the_application() {
    let server = Server::start("apps.echo", &[]);
    let (response, _) = server.exchange(
        "POST /a/b%20c?x=%2F&y HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert!(
        response.starts_with("HTTP/1.1 201 Made It\r\n"),
        "{response}"
    );
    for line in [
        "method=POST\n",
        "script=\n",
        "path=/a/b c\n",
        "query=x=%2F&y\n",
        "type=text/plain\n",
        "http_content=[]\n",
        "remote_port=True\n",
        "body=hello",
    ] {
        assert!(response.contains(line), "missing {line:?} in {response}");
    }
}

/// SERVER_NAME follows each request's Host header (the local address without one), and
/// REMOTE_ADDR is the peer's address, request after request.
#[test]
fn server_name_follows_each_requests_host() {
    let server = Server::start("apps.echo", &[]);
    for (host, expected) in [
        ("Host: h\r\n", "names=h 127.0.0.1\n"),
        ("Host: h\r\n", "names=h 127.0.0.1\n"),
        ("Host: other.test:81\r\n", "names=other.test 127.0.0.1\n"),
        ("", "names=127.0.0.1 127.0.0.1\n"),
        ("Host: [::1]:80\r\n", "names=::1 127.0.0.1\n"),
    ] {
        let (response, _) = server.exchange(&format!("GET / HTTP/1.0\r\n{host}\r\n"));
        assert!(
            response.contains(expected),
            "missing {expected:?} in {response}"
        );
    }
}

/// The application's Server header is replaced by the server's own, as Twisted does.
#[test]
fn application_server_header_is_replaced() {
    let server = Server::start("apps.echo", &[]);
    let response = server.get("/");
    assert!(response.contains("Server: torsion/"), "{response}");
    assert!(!response.contains("Server: app"), "{response}");
    assert!(response.contains("X-App: yes"));
}

/// HEAD gets the GET headers and no body.
#[test]
fn head_has_no_body() {
    let server = Server::start("apps.hello", &[]);
    let (response, _) = server.exchange("HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert!(response.contains("Content-Length: 14\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\n"), "{response}");
}

/// An exception before any output is a 500, with the traceback in the server's log.
#[test]
fn failure_before_output_is_a_500() {
    let server = Server::start("apps.fails_early", &[]);
    let response = server.get("/");
    assert!(response.starts_with("HTTP/1.1 500 "), "{response}");
    assert!(
        !response.contains("deliberate"),
        "details leak without --display-tracebacks"
    );
    let (_, log) = server.stop("-TERM");
    assert!(log.contains("deliberate failure before output"), "{log}");
}

/// With --display-tracebacks the 500 page shows the error.
#[test]
fn display_tracebacks_shows_the_error() {
    let server = Server::start("apps.fails_early", &["--display-tracebacks"]);
    let response = server.get("/");
    assert!(
        response.contains("deliberate failure before output"),
        "{response}"
    );
}

/// An exception after output cuts the connection: the chunked body is never terminated.
#[test]
fn failure_after_output_aborts_the_response() {
    let server = Server::start("apps.fails_late", &[]);
    let response = server.get("/");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("first part"));
    assert!(
        !response.ends_with("0\r\n\r\n"),
        "the body must not look complete: {response}"
    );
}

/// An application that never calls start_response gets a 500, not a hang.
#[test]
fn never_calling_start_response_is_a_500() {
    let server = Server::start("apps.never_starts", &[]);
    assert!(server.get("/").starts_with("HTTP/1.1 500 "));
}

/// An application wrapped in wsgiref's validator runs cleanly.
#[test]
fn validated_application_runs() {
    let server = Server::start("apps.validated", &[]);
    let response = server.get("/x");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("validated\n"), "{response}");
    assert!(
        response.ends_with("0\r\n\r\n"),
        "the chunked body ends properly: {response}"
    );
}

/// Two requests on one kept-alive connection are both answered.
#[test]
fn keep_alive_serves_several_requests() {
    let server = Server::start("apps.hello", &[]);
    let (response, _) = server.exchange(
        "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(response.matches("Hello, world!").count(), 2, "{response}");
}

/// Many pipelined requests read in one turn are handed to the workers together and still
/// answered in request order.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Server::start("apps.echo", &[]);
    let mut requests = String::new();
    for index in 0..20 {
        let close = if index == 19 {
            "Connection: close\r\n"
        } else {
            ""
        };
        requests.push_str(&format!("GET /p{index} HTTP/1.1\r\nHost: h\r\n{close}\r\n"));
    }
    let (response, _) = server.exchange(&requests);
    let paths: Vec<&str> = response
        .lines()
        .filter_map(|line| line.strip_prefix("path="))
        .collect();
    let expected: Vec<String> = (0..20).map(|index| format!("/p{index}")).collect();
    assert_eq!(paths, expected, "{response}");
}

/// The access log gets one combined-format line per response, written to --logfile.
#[test]
fn access_log_goes_to_logfile() {
    let log = std::env::temp_dir().join(format!("torsion-access-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let server = Server::start("apps.hello", &["--logfile", log.to_str().unwrap()]);
    server.get("/logged?q=1");
    let (status, _) = server.stop("-TERM");
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("\"GET /logged?q=1 HTTP/1.1\" 200 14 \"-\" \"-\""),
        "{text}"
    );
    let _ = std::fs::remove_file(&log);
}

/// --add-header adds the header to every response.
#[test]
fn add_header_is_sent() {
    let server = Server::start("apps.hello", &["--add-header", "X-Frame-Options: DENY"]);
    assert!(server.get("/").contains("X-Frame-Options: DENY\r\n"));
}

/// SIGTERM and SIGINT shut the server down cleanly with exit status 0.
#[test]
fn signals_shut_down_cleanly() {
    for signal in ["-TERM", "-INT"] {
        let server = Server::start("apps.hello", &[]);
        server.get("/");
        let (status, _) = server.stop(signal);
        assert!(status.success(), "{signal}: {status}");
    }
}

/// A UNIX-socket listener serves requests (Twisted #5406), through curl.
#[test]
fn serves_over_a_unix_socket() {
    let dir = AppDir::new();
    let socket = dir.0.join("web.sock");
    let endpoint = format!("unix:{}", socket.display());
    let server = Running::spawn(torsion(
        &dir.0,
        &["web", "--wsgi", "apps.echo", "--listen", &endpoint],
    ));
    let output = Command::new("curl")
        .args([
            "-s",
            "--unix-socket",
            socket.to_str().unwrap(),
            "http://localhost/over/unix",
        ])
        .output()
        .unwrap();
    drop(server);
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(body.contains("path=/over/unix"), "{body}");
    assert!(body.contains("remote_port=False"), "{body}");
}

/// An application producing far faster than the client reads is held back: server memory stays
/// bounded while the client reads nothing, and the whole stream still arrives intact.
#[test]
fn slow_reader_keeps_memory_bounded() {
    let server = Server::start("apps.firehose", &[]);
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let baseline = server.running.rss_kib();
    // The client reads nothing for a while; without back-pressure the server would buffer the
    // whole 200 MiB response.
    let mut peak = baseline;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(50));
        peak = peak.max(server.running.rss_kib());
    }
    assert!(
        peak < baseline + 32 * 1024,
        "RSS grew from {baseline} to {peak} KiB"
    );
    let mut total = 0usize;
    let mut buffer = vec![0u8; 1 << 20];
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    loop {
        match stream.read(&mut buffer).unwrap() {
            0 => break,
            n => total += n,
        }
    }
    assert!(total > 3200 * 65536, "only {total} bytes arrived");
}

/// A client that disconnects mid-response stops the iteration, and close() is called.
#[test]
fn disconnect_stops_iteration_and_calls_close() {
    let server = Server::start("apps.tracked", &[]);
    let marker = std::env::temp_dir().join(format!("torsion-close-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    {
        let mut stream = TcpStream::connect(server.address).unwrap();
        let request = format!("GET /?{} HTTP/1.1\r\nHost: h\r\n\r\n", marker.display());
        stream.write_all(request.as_bytes()).unwrap();
        let mut first = [0u8; 4096];
        let _ = stream.read(&mut first).unwrap();
    }
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(found) = std::fs::read_to_string(&marker) {
            text = found;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(&marker);
    let sent: u64 = text
        .strip_prefix("closed after ")
        .unwrap_or_else(|| panic!("close() was not called: {text:?}"))
        .parse()
        .unwrap();
    assert!(
        sent < 100_000,
        "iteration ran to the end after the client left"
    );
}

/// SIGTERM during a request lets it finish before the server exits with status 0.
#[test]
fn shutdown_waits_for_requests_in_flight() {
    let server = Server::start("apps.slow", &[]);
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.running.signal("-TERM");
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.ends_with("finished despite shutdown"),
        "{response}"
    );
    let (status, _) = server.stop("-TERM");
    assert!(status.success(), "{status}");
}

/// Runs `torsion` with `args` beside the applications, which must fail to start with one line
/// naming `needle`.
fn assert_fails_in_one_line(args: &[&str], needle: &str) {
    let dir = AppDir::new();
    binary::assert_fails_in_one_line(&dir.0, args, needle);
}

/// A body larger than --max-request-body is refused with 413 before the application runs.
#[test]
fn oversized_body_is_refused_with_413() {
    let server = Server::start("apps.echo", &["--max-request-body", "1K"]);
    let (response, _) = server.exchange(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
    let (accepted, _) = server.exchange(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nsmall",
    );
    assert!(accepted.contains("body=small"), "{accepted}");
}

/// A body past --spool-threshold is kept in a temporary file in --spool-directory (which keeps
/// no name for it) and reaches the application whole.
#[test]
fn large_body_is_spooled_and_reaches_the_application() {
    let spool = std::env::temp_dir().join(format!("torsion-cli-spool-{}", std::process::id()));
    std::fs::create_dir_all(&spool).unwrap();
    let directory = spool.to_str().unwrap().to_owned();
    let server = Server::start(
        "apps.echo",
        &["--spool-threshold", "1K", "--spool-directory", &directory],
    );
    let body: String = (0..20_000)
        .map(|n| char::from(b'a' + (n % 26) as u8))
        .collect();
    let (response, _) = server.exchange(&format!(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let left = std::fs::read_dir(&spool).unwrap().count();
    std::fs::remove_dir(&spool).unwrap();
    assert!(response.contains(&format!("body={body}")), "{response}");
    assert_eq!(left, 0, "a temporary file kept its name");
}

/// A spool directory that cannot be used is refused at start-up, naming it and the option.
#[test]
fn unusable_spool_directory_is_refused() {
    assert_fails_in_one_line(
        &[
            "web",
            "--wsgi",
            "apps.hello",
            "--spool-directory",
            "/nonexistent/spool",
        ],
        "/nonexistent/spool",
    );
}

/// A wsgi.file_wrapper response is sent straight from the file, with its length as
/// Content-Length, over HTTP/1.1 (sendfile) and over HTTP/2 (bounded reads), and a HEAD gets
/// the head alone.
#[test]
fn file_wrapper_response_is_sent_from_the_file() {
    let dir = crate::util::TempDir::new("cli-sendfile");
    let path = dir.join("blob.bin");
    let content: Vec<u8> = (0..2_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let server = Server::start("apps.send_file", &[]);
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /?{path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(head.contains("Content-Length: 2000000"), "{head}");
    assert!(response[split + 4..] == content[..], "the body differs");

    let (head_only, _) = server.exchange(&format!(
        "HEAD /?{path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ));
    assert!(head_only.ends_with("\r\n\r\n"), "{head_only}");
    assert!(head_only.contains("Content-Length: 2000000"), "{head_only}");

    let url = format!("http://{}/?{path}", server.address);
    let out = curl(20)
        .args(["--http2-prior-knowledge", &url])
        .output()
        .expect("run curl");
    assert!(
        out.stdout == content,
        "HTTP/2 got {} bytes",
        out.stdout.len()
    );
}

/// A malformed size is refused at start-up with a one-line error.
#[test]
fn bad_size_is_refused() {
    assert_fails_in_one_line(
        &["web", "--wsgi", "apps.hello", "--max-request-body", "12Q"],
        "not a size",
    );
}

/// A missing module is a one-line error naming the fix, and a non-zero exit.
#[test]
fn missing_module_is_a_one_line_error() {
    assert_fails_in_one_line(&["web", "--wsgi", "nosuchmodule.app"], "nosuchmodule");
}

/// A missing attribute is a one-line error naming it.
#[test]
fn missing_attribute_is_a_one_line_error() {
    assert_fails_in_one_line(&["web", "--wsgi", "apps.nothing_here"], "nothing_here");
}

/// An attribute that is not callable is refused.
#[test]
fn not_callable_is_refused() {
    assert_fails_in_one_line(&["web", "--wsgi", "apps.not_callable"], "not callable");
}

/// A malformed endpoint string is refused before anything starts, naming the bad field.
#[test]
fn bad_endpoint_is_refused() {
    assert_fails_in_one_line(
        &["web", "--wsgi", "apps.hello", "--listen", "tcp:80x"],
        "port \"80x\"",
    );
}

/// A port already in use is a one-line error and a non-zero exit.
#[test]
fn port_in_use_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let endpoint = format!("tcp:{port}:interface=127.0.0.1");
    assert_fails_in_one_line(
        &["web", "--wsgi", "apps.hello", "--listen", &endpoint],
        "already in use",
    );
}

/// Without --wsgi there is nothing to serve, and the error says what to add.
#[test]
fn missing_application_is_explained() {
    assert_fails_in_one_line(&["web"], "--wsgi");
}

/// --help lists every option with its default.
#[test]
fn help_lists_every_option() {
    let dir = AppDir::new();
    let output = torsion(&dir.0, &["web", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--listen",
        "--wsgi",
        "--threads",
        "[default: 8]",
        "--logfile",
        "[default: -]",
        "--display-tracebacks",
        "--add-header",
        "--max-request-body",
        "[default: 10M]",
        "[default: tcp:8080]",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

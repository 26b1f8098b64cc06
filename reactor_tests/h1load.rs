//! The HTTP/1.1 load generator of `benches/h1load.rs`: its response reader fed whole, one byte
//! at a time and at random splits, and its load loop against a real site on 127.0.0.1, over
//! TCP and over TLS.

// The bench's own modules; the tests use most, not all, of what the bench does.
#[allow(dead_code)]
#[path = "../benches/support/h1_client.rs"]
mod h1_client;
#[path = "../benches/support/h1_response.rs"]
mod h1_response;
#[path = "../benches/support/h1_tls.rs"]
mod h1_tls;
#[allow(dead_code)]
#[path = "../benches/support/latency_histogram.rs"]
mod latency_histogram;
#[path = "../benches/support/proc_stats.rs"]
mod proc_stats;

use std::cell::Cell;
use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use torsion::endpoints::{Listening, listen_with_tls, parse_server, quote_string_argument};
use torsion::http::StatusCode;
use torsion::reactor::Reactor;
use torsion::tls::TlsOptions;
use torsion::web::{Render, Request, Site};

use crate::util::{TURN, TempDir, new_reactor};
use crate::web::support::{FnResource, Server};
use h1_client::{LoadOptions, Outcome, Target};
use h1_response::{Progress, ResponseReader};

/// How long each load run in these tests lasts.
const RUN: Duration = Duration::from_millis(200);
/// Connections per load run.
const CONNECTIONS: usize = 4;

// ---- the response reader ----

/// A small seeded generator of split points.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The ways `input` is delivered: whole (mode 0), one byte at a time (mode 1), or cut at four
/// places chosen by a generator seeded with the mode (modes 2 to 9).
fn delivery(input: &[u8], mode: u64) -> Vec<&[u8]> {
    match mode {
        0 => vec![input],
        1 => input.chunks(1).collect(),
        _ => {
            let mut rng = XorShift(mode.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut cuts: Vec<usize> = (0..4).map(|_| rng.below(input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                pieces.push(&input[from..cut]);
                from = cut;
            }
            pieces
        }
    }
}

/// Feeds each of `responses` in turn (each the answer to one request) to one reader, each
/// delivered as `mode` says; the outcomes of the pieces that completed a response, or the
/// first error's text.
fn read_all(responses: &[&[u8]], mode: u64) -> Result<Vec<Progress>, String> {
    let mut reader = ResponseReader::new();
    let mut completed = Vec::new();
    for response in responses {
        for piece in delivery(response, mode) {
            match reader.feed(piece) {
                Ok(Progress::Incomplete) => {}
                Ok(progress) => completed.push(progress),
                Err(error) => return Err(error.to_string()),
            }
        }
    }
    Ok(completed)
}

/// Checks that every delivery of `responses` ends the same way: `expected`.
#[track_caller]
fn check(responses: &[&[u8]], expected: Result<Vec<Progress>, &str>) {
    let expected = expected.map_err(str::to_string);
    for mode in 0..10 {
        assert_eq!(read_all(responses, mode), expected, "delivery mode {mode}");
    }
}

fn complete(status: u16, close: bool) -> Progress {
    Progress::Complete { status, close }
}

/// Responses framed by Content-Length complete exactly at their last byte, one after another,
/// however the bytes arrive.
#[test]
fn content_length_responses_complete_at_their_last_byte() {
    check(
        &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
            b"HTTP/1.1 404 Not Found\r\ncontent-length:  0 \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        ],
        Ok(vec![
            complete(200, false),
            complete(404, false),
            complete(200, false),
        ]),
    );
}

/// A chunked body is decoded through chunk extensions and trailer fields, and a header split
/// across reads is put back together.
#[test]
fn chunked_bodies_are_decoded_with_extensions_and_trailers() {
    check(
        &[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              3;name=value\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nExpires: never\r\n\r\n",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n0\r\n\r\n",
        ],
        Ok(vec![complete(200, false), complete(201, false)]),
    );
}

/// Interim 1xx responses are skipped, and 204 and 304 have no body whatever their headers say.
#[test]
fn interim_and_bodyless_responses() {
    check(
        &[
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        ],
        Ok(vec![
            complete(200, false),
            complete(204, false),
            complete(304, false),
        ]),
    );
}

/// `Connection: close`, and HTTP/1.0 without `keep-alive`, say the server will close.
#[test]
fn closing_responses_are_reported() {
    check(
        &[b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n"],
        Ok(vec![complete(200, true)]),
    );
    check(
        &[b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"],
        Ok(vec![complete(200, true)]),
    );
    check(
        &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"],
        Ok(vec![complete(200, false)]),
    );
}

/// Malformed responses, and bodies only the connection's end would delimit, are errors.
#[test]
fn malformed_responses_are_errors() {
    let cases: [(&[u8], &str); 10] = [
        (
            b"HTTP/1.1 200 OK\r\n\r\nbody",
            "response body delimited by closing the connection (neither Content-Length nor chunked)",
        ),
        (
            b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
            "malformed status line",
        ),
        (
            b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
            "malformed status line",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "conflicting Content-Length headers",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "malformed Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
            "a head line ends in a bare LF",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
            "obsolete line folding in a header",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "a transfer coding other than chunked ends the body",
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "the server switched protocols (101)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n",
            "malformed chunked framing (CRLF expected)",
        ),
    ];
    for (input, error) in cases {
        check(&[input], Err(error));
    }
}

/// Bytes after a complete response in the same read are an error: no request asked for them.
#[test]
fn bytes_after_a_response_are_an_error() {
    let mut reader = ResponseReader::new();
    let result = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP");
    assert_eq!(
        result.map_err(|error| error.to_string()),
        Err("bytes after the response, which no request asked for".to_string())
    );
}

// ---- the load loop against a real site ----

/// Runs the load loop on another thread for [`RUN`] while `reactor` serves it.
fn run_load(reactor: &Reactor, address: SocketAddr, path: &str, tls: Option<TlsClient>) -> Outcome {
    let options = LoadOptions {
        target: Target {
            address,
            request: format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").into_bytes(),
            tls: tls.map(|client| (client.config, client.name)),
        },
        connections: CONNECTIONS,
        warmup: Duration::ZERO,
        measure: RUN,
        server_pid: None,
    };
    let handle = std::thread::spawn(move || h1_client::run(&options));
    // The run ends on its own clock; the bound only stops a broken loop from hanging the suite.
    for _ in 0..1_000_000 {
        if handle.is_finished() {
            return handle
                .join()
                .expect("the load thread panicked")
                .expect("the load ran");
        }
        reactor.iterate(Some(TURN)).expect("reactor turn");
    }
    panic!("the load loop did not end");
}

/// A site whose only leaf answers with `render`, counting the requests it rendered.
fn counting_server(render: impl Fn(&Request) -> Render + 'static) -> (Server, Rc<Cell<u64>>) {
    let rendered = Rc::new(Cell::new(0));
    let count = rendered.clone();
    let server = Server::start(FnResource::new(move |request| {
        count.set(count.get() + 1);
        render(request)
    }));
    (server, rendered)
}

/// Every response the site rendered was counted as a 2xx, except at most the one per
/// connection still in flight when the run ended, with no error.
#[test]
fn keep_alive_responses_are_counted() {
    let (server, rendered) = counting_server(|_| Render::Body(b"hello".to_vec()));
    let outcome = run_load(&server.reactor, server.socket_address(), "/", None);
    let tally = &outcome.tally;
    assert!(tally.ok > 0, "{outcome:?}");
    assert_eq!((tally.non_2xx, tally.error_count()), (0, 0), "{outcome:?}");
    assert!(rendered.get() >= tally.ok && rendered.get() <= tally.ok + CONNECTIONS as u64);
    assert_eq!(outcome.live_connections, CONNECTIONS);
}

/// Chunked responses written in several pieces are read to their end.
#[test]
fn chunked_responses_are_read_to_their_end() {
    let (server, rendered) = counting_server(|request| {
        request.write(b"hel");
        request.write(b"lo");
        request.finish();
        Render::NotDoneYet
    });
    let outcome = run_load(&server.reactor, server.socket_address(), "/", None);
    assert!(outcome.tally.ok > 0, "{outcome:?}");
    assert_eq!(outcome.tally.error_count(), 0, "{outcome:?}");
    assert!(rendered.get() <= outcome.tally.ok + CONNECTIONS as u64);
}

/// Responses outside 2xx are counted apart and are not errors.
#[test]
fn non_2xx_responses_are_counted_apart() {
    let (server, _) = counting_server(|request| {
        request.set_response_code(StatusCode::NOT_FOUND);
        Render::Body(b"no".to_vec())
    });
    let outcome = run_load(&server.reactor, server.socket_address(), "/", None);
    let tally = &outcome.tally;
    assert!(tally.non_2xx > 0, "{outcome:?}");
    assert_eq!((tally.ok, tally.error_count()), (0, 0), "{outcome:?}");
    assert_eq!(tally.first_non_2xx, Some(404));
}

/// A connection the server closes after its response is replaced by a new one, and each
/// closing counts as an error of kind "closed".
#[test]
fn closed_connections_are_replaced_and_counted() {
    let (server, rendered) = counting_server(|request| {
        request.set_header("Connection", "close");
        Render::Body(b"bye".to_vec())
    });
    let outcome = run_load(&server.reactor, server.socket_address(), "/", None);
    let tally = &outcome.tally;
    let closed = tally.errors[h1_client::FAILURE_KINDS
        .iter()
        .position(|k| *k == "closed")
        .unwrap()];
    assert!(tally.ok > CONNECTIONS as u64, "{outcome:?}");
    assert_eq!(closed, tally.error_count(), "{outcome:?}");
    assert_eq!(closed, tally.ok, "{outcome:?}");
    assert!(rendered.get() > CONNECTIONS as u64);
    assert_eq!(outcome.live_connections, CONNECTIONS);
}

/// A TLS client configuration and the name it asks for.
struct TlsClient {
    config: std::sync::Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

/// A site answering "hello" behind `ssl:` (HTTP/1.1 only) with a self-signed certificate for
/// 127.0.0.1; the certificate's PEM file.
fn tls_site(reactor: &Reactor, dir: &TempDir) -> (Listening, SocketAddr, PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    let both = dir.join("both.pem");
    let cert = dir.join("cert.pem");
    fs::write(
        &both,
        certified.signing_key.serialize_pem() + &certified.cert.pem(),
    )
    .unwrap();
    fs::write(&cert, certified.cert.pem()).unwrap();
    let description = format!(
        "ssl:0:interface=127.0.0.1:privateKey={}",
        quote_string_argument(&both.to_string_lossy())
    );
    let site = Site::new(
        reactor.clock().clone(),
        FnResource::new(|_| Render::Body(b"hello".to_vec())),
    );
    let endpoint = parse_server(&description).expect("an ssl: description");
    let listening = listen_with_tls(reactor, &endpoint, &TlsOptions::http1_only(), site)
        .expect("listen with TLS");
    let address = listening.port.address().tcp().expect("a TCP port");
    (listening, address, cert)
}

fn tls_client(ca: Option<PathBuf>, insecure: bool) -> TlsClient {
    TlsClient {
        config: h1_tls::client_config(ca, insecure).expect("a client configuration"),
        name: ServerName::try_from("127.0.0.1").expect("an IP address name"),
    }
}

/// Over TLS, trusting the server's certificate file (`--ca`) or any certificate
/// (`--insecure`), every response is a 2xx and nothing fails.
#[test]
fn tls_load_with_ca_file_or_insecure() {
    let reactor = new_reactor();
    let dir = TempDir::new("h1load-tls");
    let (_listening, address, cert) = tls_site(&reactor, &dir);
    for client in [tls_client(Some(cert), false), tls_client(None, true)] {
        let outcome = run_load(&reactor, address, "/", Some(client));
        let tally = &outcome.tally;
        assert!(tally.ok > 0, "{outcome:?}");
        assert_eq!((tally.non_2xx, tally.error_count()), (0, 0), "{outcome:?}");
    }
}

/// A certificate the client does not trust fails every connection's handshake; the failing
/// connections are retired, not retried, and the first error says why.
#[test]
fn untrusted_certificate_retires_every_connection() {
    let reactor = new_reactor();
    let dir = TempDir::new("h1load-untrusted");
    let (_listening, address, _) = tls_site(&reactor, &dir);
    let other = dir.join("other.pem");
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    fs::write(&other, stranger.cert.pem()).unwrap();
    let outcome = run_load(&reactor, address, "/", Some(tls_client(Some(other), false)));
    assert_eq!(outcome.live_connections, 0, "{outcome:?}");
    assert_eq!(outcome.tally.ok + outcome.tally.non_2xx, 0);
    let first = outcome.tally.first_error.as_deref().unwrap_or("");
    assert!(first.contains("invalid peer certificate"), "{first}");
}

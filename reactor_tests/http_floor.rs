//! The floor server of the WSGI benchmark (`benches/http_floor.rs`): its request framing fed
//! whole, one byte at a time and at random splits, and the server itself over TCP on
//! 127.0.0.1 with pipelined, split and refused requests.

#[path = "../benches/support/http_floor.rs"]
mod floor;
#[path = "../benches/support/mio_loop.rs"]
mod mio_loop;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use floor::{MAX_HEAD, Mode, Parsed, parse, respond};

/// Three pipelined requests: a GET, a POST with a body, a GET with odd header spacing.
const PIPELINE: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: a\r\ncontent-LENGTH:  5 \r\n\r\nhello\
GET /x HTTP/1.1\r\nHost:b\r\nAccept:*/*\r\n\r\n";

/// Feeds `chunks` in order, parsing after each, and returns the bodies of the requests found.
fn feed(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut input = Vec::new();
    let mut bodies = Vec::new();
    for chunk in chunks {
        input.extend_from_slice(chunk);
        while let Parsed::Request { head, body } = parse(&input) {
            bodies.push(input[head..head + body].to_vec());
            input.drain(..head + body);
        }
    }
    assert!(
        input.is_empty(),
        "bytes left over: {:?}",
        String::from_utf8_lossy(&input)
    );
    bodies
}

/// A small deterministic generator for split points.
fn splits(seed: u64, len: usize) -> Vec<usize> {
    let mut state = seed;
    let mut at = Vec::new();
    for _ in 0..6 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        at.push((state >> 33) as usize % (len + 1));
    }
    at.sort_unstable();
    at
}

/// Pipelined requests are framed the same whether they arrive whole, byte by byte or split
/// at random points.
#[test]
fn framing_does_not_depend_on_how_the_input_is_split() {
    let expected = vec![Vec::new(), b"hello".to_vec(), Vec::new()];
    assert_eq!(feed(&[PIPELINE]), expected);
    let bytes: Vec<&[u8]> = PIPELINE.chunks(1).collect();
    assert_eq!(feed(&bytes), expected);
    for seed in 0..200 {
        let mut chunks = Vec::new();
        let mut start = 0;
        for at in splits(seed, PIPELINE.len()) {
            chunks.push(&PIPELINE[start..at]);
            start = at;
        }
        chunks.push(&PIPELINE[start..]);
        assert_eq!(feed(&chunks), expected, "seed {seed}");
    }
}

/// A request the floor server does not serve is refused with the status that says why.
#[test]
fn unserved_requests_are_refused_with_a_status() {
    let refused = |input: &[u8]| match parse(input) {
        Parsed::Refused(status) => status,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(input)),
    };
    assert_eq!(
        refused(b"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"),
        "400 Bad Request"
    );
    assert_eq!(
        refused(b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"),
        "400 Bad Request"
    );
    assert_eq!(
        refused(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
        "400 Bad Request"
    );
    assert_eq!(
        refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        "411 Length Required"
    );
    let long = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &vec![b'a'; MAX_HEAD]].concat();
    assert_eq!(refused(&long), "431 Request Header Fields Too Large");
    assert_eq!(parse(&long[..MAX_HEAD - 10]), Parsed::Partial);
}

/// The command line names the three applications of the WSGI benchmark, and nothing else.
#[test]
fn applications_are_named_as_in_the_wsgi_benchmark() {
    assert_eq!(Mode::parse("hello"), Some(Mode::Hello));
    assert_eq!(Mode::parse("big"), Some(Mode::Big));
    assert_eq!(Mode::parse("echo"), Some(Mode::Echo));
    assert_eq!(Mode::parse("Hello"), None);
}

/// Each application's response carries the length of the body it sends.
#[test]
fn responses_carry_their_length() {
    let big = vec![b'x'; 64 * 1024];
    let (head, payload) = respond(Mode::Hello, b"ignored", &big);
    assert_eq!(
        [head, payload.to_vec()].concat(),
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"
    );
    let (head, payload) = respond(Mode::Echo, b"abc", &big);
    assert!(head.ends_with(b"Content-Length: 3\r\n\r\n") && payload == b"abc");
    let (head, payload) = respond(Mode::Big, b"", &big);
    assert!(head.ends_with(b"Content-Length: 65536\r\n\r\n") && payload == big);
}

/// Starts a floor server for `mode` on a thread of its own (it serves until the test process
/// ends) and returns its address.
fn start(mode: Mode) -> SocketAddr {
    let (bound, address) = mpsc::channel();
    std::thread::spawn(move || {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let _ = floor::serve(any, mode, |at| {
            let _ = bound.send(at);
        });
    });
    address.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Reads from `stream` until `expected` bytes arrived, or fails after a timeout.
fn read_exactly(stream: &mut TcpStream, expected: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = vec![0; expected];
    stream.read_exact(&mut got).unwrap();
    got
}

/// Over TCP the echo server answers a body split over two writes and a pipelined pair in
/// order, and closes after refusing a malformed request.
#[test]
fn the_server_answers_split_and_pipelined_requests_in_order() {
    let address = start(Mode::Echo);
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    stream
        .write_all(
            b"def\
POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n1POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n22",
        )
        .unwrap();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ";
    let expected = format!("{head}6\r\n\r\nabcdef{head}1\r\n\r\n1{head}2\r\n\r\n22");
    assert_eq!(
        read_exactly(&mut stream, expected.len()),
        expected.as_bytes()
    );
    stream
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(
        rest,
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// The 64 KiB response reaches a client that reads it whole.
#[test]
fn the_big_response_arrives_whole() {
    let address = start(Mode::Big);
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n";
    let got = read_exactly(&mut stream, head.len() + 65536);
    assert_eq!(&got[..head.len()], head);
    assert!(got[head.len()..].iter().all(|byte| *byte == b'x'));
}

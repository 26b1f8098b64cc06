//! The floor server: the least work an HTTP/1.1 keep-alive server can do for the WSGI
//! benchmark's three applications, on one edge-triggered mio loop. No Python, no routing, no
//! Date header, one fixed response head: what it serves per second is the most the load
//! generator can drive on this machine, the ceiling every real server meets first.
//!
//! It reads each request head up to its blank line, takes `Content-Length` (no chunked bodies:
//! those get 411), waits for the whole body and answers in order, so pipelined requests work.
//! A head over [`MAX_HEAD`] or a malformed length gets a 4xx and the connection closes.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use super::mio_loop::{self, READ_BUFFER_SIZE};

/// The largest request head accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// What the server answers with: the applications of `benches/wsgi/apps.py`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `Hello, world!`
    Hello,
    /// 64 KiB of `x`.
    Big,
    /// The request body.
    Echo,
}

impl Mode {
    pub(crate) fn parse(name: &str) -> Option<Mode> {
        match name {
            "hello" => Some(Mode::Hello),
            "big" => Some(Mode::Big),
            "echo" => Some(Mode::Echo),
            _ => None,
        }
    }
}

/// What the front of a connection's input holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Not a whole request yet.
    Partial,
    /// A whole request: its head is `head` bytes long, its body the `body` bytes after it.
    Request { head: usize, body: usize },
    /// A request the floor server does not serve: answer with this status line and close.
    Refused(&'static str),
}

/// Looks for one whole request at the front of `input`.
pub(crate) fn parse(input: &[u8]) -> Parsed {
    let Some(end) = memchr::memmem::find(input, b"\r\n\r\n") else {
        return if input.len() > MAX_HEAD {
            Parsed::Refused("431 Request Header Fields Too Large")
        } else {
            Parsed::Partial
        };
    };
    let head = end + 4;
    if head > MAX_HEAD {
        return Parsed::Refused("431 Request Header Fields Too Large");
    }
    let mut body = 0;
    for line in input[..end].split(|byte| *byte == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            return Parsed::Refused("400 Bad Request");
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Parsed::Refused("411 Length Required");
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = std::str::from_utf8(value)
                .ok()
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse::<usize>().ok());
            match length {
                Some(length) if length <= READ_BUFFER_SIZE * 16 => body = length,
                _ => return Parsed::Refused("400 Bad Request"),
            }
        }
    }
    if input.len() < head + body {
        return Parsed::Partial;
    }
    Parsed::Request { head, body }
}

/// The response to a request whose body is `body`: its head, and the payload after it.
pub(crate) fn respond<'a>(mode: Mode, body: &'a [u8], big: &'a [u8]) -> (Vec<u8>, &'a [u8]) {
    let (content_type, payload): (&str, &[u8]) = match mode {
        Mode::Hello => ("text/plain", b"Hello, world!"),
        Mode::Big => ("application/octet-stream", big),
        Mode::Echo => ("application/octet-stream", body),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    (head.into_bytes(), payload)
}

/// One accepted connection: bytes not yet parsed, and response bytes the socket has not taken.
struct Client {
    stream: TcpStream,
    input: Vec<u8>,
    unsent: Vec<u8>,
    closing: bool,
}

/// Binds `address` and serves `mode` forever; `on_listening` receives the bound address.
pub(crate) fn serve(
    address: SocketAddr,
    mode: Mode,
    on_listening: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let big = vec![b'x'; 64 * 1024];
    let client = |stream| Client {
        stream,
        input: Vec::new(),
        unsent: Vec::new(),
        closing: false,
    };
    mio_loop::serve(
        address,
        on_listening,
        client,
        |client, buffer, _writable| handle_event(client, buffer, mode, &big),
    )
}

/// Reads what the socket has, answers every whole request, writes; false to drop the client.
fn handle_event(client: &mut Client, buffer: &mut [u8], mode: Mode, big: &[u8]) -> bool {
    let mut eof = false;
    while !client.closing {
        match client.stream.read(buffer) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => {
                answer(client, &buffer[..n], mode, big);
                if n < buffer.len() {
                    break;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    write_unsent(client) && !((eof || client.closing) && client.unsent.is_empty())
}

/// Answers the whole requests in the buffered input followed by `data`.
fn answer(client: &mut Client, data: &[u8], mode: Mode, big: &[u8]) {
    // The common case, a read holding whole requests only, is answered from `data` itself.
    let owned = !client.input.is_empty();
    if owned {
        client.input.extend_from_slice(data);
    }
    let mut consumed = 0;
    loop {
        let input = if owned {
            &client.input[consumed..]
        } else {
            &data[consumed..]
        };
        match parse(input) {
            Parsed::Partial => break,
            Parsed::Request { head, body } => {
                let (response_head, payload) = respond(mode, &input[head..head + body], big);
                send(
                    &mut client.stream,
                    &mut client.unsent,
                    &response_head,
                    payload,
                );
                consumed += head + body;
            }
            Parsed::Refused(status) => {
                let _ = write!(
                    client.unsent,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                client.closing = true;
                client.input.clear();
                return;
            }
        }
    }
    if owned {
        client.input.drain(..consumed);
    } else {
        client.input.extend_from_slice(&data[consumed..]);
    }
}

/// Sends `head` and `payload` with one vectored write when nothing is waiting to be sent (the
/// payload is not copied), and keeps what the socket does not take after what is waiting.
/// A failed write is noticed by the next [`write_unsent`].
fn send(stream: &mut TcpStream, unsent: &mut Vec<u8>, head: &[u8], payload: &[u8]) {
    let mut written = 0;
    let total = head.len() + payload.len();
    while unsent.is_empty() && written < total {
        let slices = if written < head.len() {
            [IoSlice::new(&head[written..]), IoSlice::new(payload)]
        } else {
            [
                IoSlice::new(&payload[written - head.len()..]),
                IoSlice::new(&[]),
            ]
        };
        match stream.write_vectored(&slices) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if written < head.len() {
        unsent.extend_from_slice(&head[written..]);
        unsent.extend_from_slice(payload);
    } else {
        unsent.extend_from_slice(&payload[written - head.len()..]);
    }
}

/// Writes what the socket takes of the unsent responses; false when the connection failed.
fn write_unsent(client: &mut Client) -> bool {
    let mut written = 0;
    while written < client.unsent.len() {
        match client.stream.write(&client.unsent[written..]) {
            Ok(0) => return false,
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    client.unsent.drain(..written);
    true
}

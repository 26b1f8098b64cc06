//! The reference echo server: the simplest correct edge-triggered mio loop on one thread.
//!
//! Each readable event reads into one 64 KiB buffer until the socket would block and writes
//! every chunk straight back; what the socket does not take waits in a per-connection buffer
//! until the next writable event. With `short_read`, a read that returns less than the buffer
//! ends the loop (the socket is then known to be drained), which saves the final `read` that
//! would fail with `WouldBlock`: the same shortcut the torsion reactor takes.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use super::mio_loop;

/// One accepted connection and the echo bytes its socket has not taken yet.
struct Client {
    stream: TcpStream,
    unsent: Vec<u8>,
}

/// Whether a connection stays open after handling an event.
enum Outcome {
    Keep,
    Close,
}

/// Binds `address` and serves echo forever; `on_listening` receives the bound address.
pub(crate) fn serve(
    address: SocketAddr,
    short_read: bool,
    on_listening: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let client = |stream| Client {
        stream,
        unsent: Vec::new(),
    };
    mio_loop::serve(address, on_listening, client, |client, buffer, writable| {
        matches!(
            handle_event(client, buffer, writable, short_read),
            Outcome::Keep
        )
    })
}

fn handle_event(client: &mut Client, buffer: &mut [u8], writable: bool, short: bool) -> Outcome {
    if writable && !client.unsent.is_empty() {
        if let Outcome::Close = write_unsent(client) {
            return Outcome::Close;
        }
    }
    loop {
        match client.stream.read(buffer) {
            Ok(0) => return Outcome::Close,
            Ok(n) => {
                if let Outcome::Close = echo(client, &buffer[..n]) {
                    return Outcome::Close;
                }
                if short && n < buffer.len() {
                    return Outcome::Keep;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Outcome::Keep,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Close,
        }
    }
}

/// Writes `data` back now, keeping what the socket does not take for the next writable event.
fn echo(client: &mut Client, data: &[u8]) -> Outcome {
    if !client.unsent.is_empty() {
        client.unsent.extend_from_slice(data);
        return Outcome::Keep;
    }
    let mut written = 0;
    while written < data.len() {
        match client.stream.write(&data[written..]) {
            Ok(0) => return Outcome::Close,
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Close,
        }
    }
    client.unsent.extend_from_slice(&data[written..]);
    Outcome::Keep
}

fn write_unsent(client: &mut Client) -> Outcome {
    let mut written = 0;
    while written < client.unsent.len() {
        match client.stream.write(&client.unsent[written..]) {
            Ok(0) => return Outcome::Close,
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Close,
        }
    }
    client.unsent.drain(..written);
    Outcome::Keep
}

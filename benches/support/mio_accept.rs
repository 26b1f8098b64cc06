//! Accepting for the benches' single-loop mio servers: every pending connection, Nagle's
//! algorithm off, registered for reading and writing under its key in the servers' slab.

use std::io;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Poll, Token};
use slab::Slab;

/// Accepts until the listener would block; `client` wraps each registered stream.
pub(crate) fn accept_all<C>(
    poll: &Poll,
    listener: &TcpListener,
    clients: &mut Slab<C>,
    client: impl Fn(TcpStream) -> C,
) {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                eprintln!("accept failed: {error}");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let entry = clients.vacant_entry();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if poll
            .registry()
            .register(&mut stream, Token(entry.key()), interest)
            .is_ok()
        {
            entry.insert(client(stream));
        }
    }
}

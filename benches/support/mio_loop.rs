//! The event loop of the benches' single-threaded mio servers: accept every pending connection
//! (Nagle's algorithm off, registered for reading and writing under its slab key), and hand
//! each client event to the server with one shared 64 KiB read buffer.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);
/// The read buffer every client event borrows.
pub(crate) const READ_BUFFER_SIZE: usize = 64 * 1024;

/// Binds `address`, tells `on_listening` the bound address, and serves forever: `client`
/// wraps each accepted stream, and `handle(client, buffer, writable)` runs per event, the
/// client dropped when it returns false.
pub(crate) fn serve<C>(
    address: SocketAddr,
    on_listening: impl FnOnce(SocketAddr),
    client: impl Fn(TcpStream) -> C,
    mut handle: impl FnMut(&mut C, &mut [u8], bool) -> bool,
) -> io::Result<()> {
    let mut listener = TcpListener::bind(address)?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    on_listening(listener.local_addr()?);
    let mut events = Events::with_capacity(1024);
    let mut clients: Slab<C> = Slab::new();
    let mut buffer = vec![0; READ_BUFFER_SIZE];
    loop {
        if let Err(error) = poll.poll(&mut events, None) {
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(&poll, &listener, &mut clients, &client);
                continue;
            }
            let key = event.token().0;
            let Some(open) = clients.get_mut(key) else {
                continue;
            };
            if !handle(open, &mut buffer, event.is_writable()) {
                clients.remove(key);
            }
        }
    }
}

/// Accepts until the listener would block.
fn accept_all<C>(
    poll: &Poll,
    listener: &TcpListener,
    clients: &mut Slab<C>,
    client: &impl Fn(TcpStream) -> C,
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

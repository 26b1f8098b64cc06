//! Large files: sent with sendfile in order with other output, and through the bounded-read
//! fallback when the kernel cannot send them (here: a body encoder is at work), with the
//! server's buffered bytes measured while the client reads nothing.

use std::cell::Cell;
use std::fs;
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::rc::Rc;

use torsion::http::Method;
use torsion::static_files::{File, FileOptions};
use torsion::web::{BodyEncoder, Render, Request, Resource};

use super::{fixture, serve};
use crate::util::{Peer, pattern, turn_until};
use crate::web::support::{Server, parse_responses};

const GIB: u64 = 1 << 30;

/// A multi-megabyte file arrives intact, and a pipelined request behind it is answered after
/// it on the same connection.
#[test]
fn large_file_then_pipelined_request_in_order() {
    let dir = fixture();
    let body = pattern(3 * 1024 * 1024 + 7, 3);
    fs::write(dir.join("root/big.bin"), &body).unwrap();
    let server = serve(&dir, FileOptions::default());
    let mut peer = Peer::connect(&server.address);
    peer.send(
        b"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n\
          GET /digits.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    peer.read_to_end(&server.reactor);
    let responses = parse_responses(&peer.received);
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].status, 200);
    assert!(responses[0].body == body, "the large body differs");
    assert_eq!(responses[1].text(), "0123456789");
}

/// Counts the bytes a request writes, passing them on unchanged (it also makes the request
/// decline sendfile, as an encrypted connection would).
struct Counting(Rc<Cell<u64>>);

impl BodyEncoder for Counting {
    fn start(&mut self, _head: &mut torsion::http::ResponseHead, _method: &Method) -> bool {
        true
    }

    fn encode(&mut self, data: &[u8]) -> Vec<u8> {
        self.0.set(self.0.get() + data.len() as u64);
        data.to_vec()
    }

    fn finish(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

struct CountingResource {
    inner: File,
    written: Rc<Cell<u64>>,
}

impl Resource for CountingResource {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        request.set_body_encoder(Box::new(Counting(self.written.clone())));
        self.inner.render(request)
    }
}

/// Without sendfile, a 1 GiB file is read only as fast as the client takes it: with the client
/// reading nothing, what the server has written beyond what the client read stays within the
/// socket buffers plus a chunk; reading on makes it go on; hanging up stops it.
#[test]
fn fallback_reads_stay_bounded_for_a_slow_reader() {
    let dir = fixture();
    let big = fs::File::create(dir.join("root/sparse.bin")).unwrap();
    big.set_len(GIB).unwrap();
    let written = Rc::new(Cell::new(0));
    let resource = CountingResource {
        inner: File::new(dir.join("root"), FileOptions::default()).unwrap(),
        written: written.clone(),
    };
    let server = Server::start(Rc::new(resource));
    let mut client = TcpStream::connect(server.socket_address()).unwrap();
    std::io::Write::write_all(&mut client, b"GET /sparse.bin HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let mut last = u64::MAX;
    turn_until(&server.reactor, 500, || {
        let now = written.get();
        let settled = now == last && now > 0;
        last = now;
        settled
    });
    let stalled = written.get();
    assert!(
        stalled < 32 << 20,
        "{stalled} bytes written to a client reading nothing"
    );
    client.set_nonblocking(true).unwrap();
    let mut buffer = vec![0; 1 << 20];
    let mut read = 0u64;
    turn_until(&server.reactor, 2000, || {
        loop {
            match client.read(&mut buffer) {
                Ok(0) => panic!("the server closed early"),
                Ok(n) => read += n as u64,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) => panic!("{error}"),
            }
        }
        written.get() > stalled + (64 << 20)
    });
    let ahead = written.get().saturating_sub(read);
    assert!(ahead < 32 << 20, "{ahead} bytes ahead of the reader");
    drop(client);
    turn_until(&server.reactor, 100, || {
        let now = written.get();
        let settled = now == last;
        last = now;
        settled
    });
    assert!(
        written.get() < GIB,
        "the whole file was read for a client that hung up"
    );
}

/// Sends "head", a file region, then "tail" on accepting, and closes.
struct FileSender(Rc<fs::File>);

impl torsion::transport::Protocol for FileSender {
    fn connection_made(&mut self, transport: Rc<dyn torsion::transport::Transport>) {
        transport.write(b"head:");
        assert!(transport.send_file(self.0.clone(), 2, 5));
        transport.write(b":tail");
        transport.lose_connection();
    }

    fn data_received(&mut self, _data: &[u8]) {}
}

/// A transport sends a queued file region in order between the writes around it.
#[test]
fn transport_sends_file_regions_in_order() {
    let dir = crate::util::TempDir::new("sendfile");
    fs::write(dir.join("f"), "0123456789").unwrap();
    let file = Rc::new(fs::File::open(dir.join("f")).unwrap());
    let reactor = crate::util::new_reactor();
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let port = torsion::transport::listen_tcp(
        &reactor,
        any,
        &torsion::transport::ListenOptions::default(),
        move |_: &torsion::transport::Address| {
            Some(Box::new(FileSender(file.clone())) as Box<dyn torsion::transport::Protocol>)
        },
    )
    .unwrap();
    let mut peer = Peer::connect(&port.address());
    peer.read_to_end(&reactor);
    assert_eq!(peer.received, b"head:23456:tail");
}

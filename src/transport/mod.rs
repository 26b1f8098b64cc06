//! Byte streams: protocols, factories, transports, producers and consumers (Twisted's
//! `IProtocol`, `IProtocolFactory`, `ITransport`, `IPushProducer`/`IPullProducer`).
//!
//! A [`Factory`] builds one [`Protocol`] per connection. The reactor hands the protocol a
//! [`Transport`] in `connection_made`, calls `data_received` with what arrives and
//! `connection_lost` exactly once at the end. The protocol writes through its transport.
//!
//! Writes are buffered and flushed by the reactor as soon as the protocol's callback returns, so
//! several writes from one callback go out in one system call. When the buffer passes its high
//! watermark the registered [`Producer`] is paused; when it drains below the low watermark the
//! producer is resumed (a pull producer is asked for more each time). A transport is itself a
//! producer of incoming data: `pause_producing` stops reading, so back-pressure can run end to end
//! (a proxy pauses the inbound side while the outbound side is full).
//!
//! `lose_connection` closes once buffered data is written; `abort_connection` closes now and
//! discards it; `write_eof` half-closes (shuts the write side after the buffer drains).
//!
//! Tested by: reactor_tests/tcp.rs, reactor_tests/unix.rs
mod connect;
mod connection;
mod listener;
mod stream;

use std::fmt;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use crate::payload::Payload;

pub use connect::{ConnectError, connect_tcp, connect_tcp_addr, connect_unix};
pub use connection::{DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK};
pub use listener::{ListenOptions, Port, adopt_listener, listen_tcp, listen_unix};

/// The address of one end of a connection.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Address {
    /// A TCP address (IPv4 or IPv6).
    Tcp(SocketAddr),
    /// A UNIX-socket address: the path, or `None` for an unnamed socket.
    Unix(Option<PathBuf>),
}

impl Address {
    /// The TCP address, if this is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            Self::Tcp(addr) => Some(*addr),
            Self::Unix(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Self::Unix(None) => f.write_str("unix:(unnamed)"),
        }
    }
}

/// Why a connection ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Closed cleanly, by either side (Twisted's `ConnectionDone`).
    Done,
    /// Closed by `abort_connection` (Twisted's `ConnectionAborted`).
    Aborted,
    /// Closed because the reactor shut down.
    Shutdown,
    /// Lost through an error, such as a reset by the peer (Twisted's `ConnectionLost`).
    Lost(io::Error),
}

impl DisconnectReason {
    /// Whether the connection ended cleanly.
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Done)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done => f.write_str("connection closed cleanly"),
            Self::Aborted => f.write_str("connection aborted"),
            Self::Shutdown => f.write_str("connection closed by reactor shutdown"),
            Self::Lost(error) => write!(f, "connection lost: {error}"),
        }
    }
}

/// One side of a conversation over a byte stream (Twisted's `IProtocol`).
///
/// Callbacks are made by the reactor, never from inside a transport method: a protocol may call
/// any transport method from any callback.
pub trait Protocol {
    /// The connection is up; keep `transport` to write and to close.
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let _ = transport;
    }

    /// Bytes arrived.
    fn data_received(&mut self, data: &[u8]);

    /// The peer will send nothing more. Return `true` to keep the connection open for writing
    /// (a half-close); the default, `false`, closes it once buffered output is written.
    fn eof_received(&mut self) -> bool {
        false
    }

    /// The connection has ended; called exactly once.
    fn connection_lost(&mut self, reason: DisconnectReason) {
        let _ = reason;
    }
}

/// Builds a protocol for each connection (Twisted's `IProtocolFactory`).
pub trait Factory {
    /// A protocol for a new connection from `peer`, or `None` to refuse it (it is closed).
    fn build_protocol(&mut self, peer: &Address) -> Option<Box<dyn Protocol>>;
}

impl<F> Factory for F
where
    F: FnMut(&Address) -> Option<Box<dyn Protocol>>,
{
    fn build_protocol(&mut self, peer: &Address) -> Option<Box<dyn Protocol>> {
        self(peer)
    }
}

/// Produces data for a consumer at the consumer's pace (Twisted's `IPushProducer` /
/// `IPullProducer`).
///
/// Methods take `&self` because a transport may call them from inside the producer's own call to
/// `write` (a push producer is paused the moment the buffer passes its high watermark); keep
/// the producer's state in `Cell`s or check `RefCell::try_borrow_mut`.
pub trait Producer {
    /// Stop producing until `resume_producing` (push), or: produce one more chunk (pull).
    fn resume_producing(&self);
    /// Stop producing for now (push producers only).
    fn pause_producing(&self) {}
    /// Stop for good: the consumer is gone.
    fn stop_producing(&self);
}

/// The connection a protocol writes to and closes (Twisted's `ITransport`, `ITCPTransport`,
/// `IConsumer`, `IPushProducer` and `IHalfCloseableDescriptor` in one).
pub trait Transport {
    /// Queues `data` for sending. Writes after the connection closed are dropped.
    fn write(&self, data: &[u8]);

    /// Queues several buffers, in order.
    fn write_sequence(&self, data: &[&[u8]]) {
        for chunk in data {
            self.write(chunk);
        }
    }

    /// Queues `head` then `body`, taking `body` over: a transport may send both in one
    /// vectored write and keep what the socket does not take without copying it.
    fn write_owned(&self, head: &[u8], body: Payload) {
        self.write_sequence(&[head, &body]);
    }

    /// Queues `len` bytes of `file` starting at `offset`, to be sent in order with the other
    /// queued writes without passing through memory (`sendfile(2)` on plain TCP and UNIX
    /// sockets). Returns `false`, queuing nothing, where the transport cannot do this (the
    /// default; an encrypted connection, for example): the caller then reads and writes the
    /// bytes itself. The region must stay readable while queued: a file that shrinks under it
    /// ends the connection, since the promised bytes can no longer be sent.
    fn send_file(&self, file: Rc<File>, offset: u64, len: u64) -> bool {
        let _ = (file, offset, len);
        false
    }

    /// Closes the connection once everything queued has been sent.
    fn lose_connection(&self);

    /// Closes the connection now, discarding anything not yet sent.
    fn abort_connection(&self);

    /// Shuts the sending side once everything queued has been sent; reading goes on.
    fn write_eof(&self);

    /// The remote address.
    fn peer_address(&self) -> Address;

    /// The local address.
    fn host_address(&self) -> Address;

    /// Registers `producer` to be paused and resumed as the write buffer fills and drains.
    /// `streaming` says it is a push producer; otherwise it is asked for each chunk.
    fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool);

    /// Removes the registered producer.
    fn unregister_producer(&self);

    /// Stops reading from the peer (back-pressure towards it).
    fn pause_producing(&self);

    /// Resumes reading from the peer.
    fn resume_producing(&self);

    /// Sets the write buffer's watermarks, in bytes.
    fn set_write_watermarks(&self, low: usize, high: usize);

    /// How many bytes are queued and not yet sent.
    fn buffered_len(&self) -> usize;

    /// Whether the connection is still open for writing.
    fn is_connected(&self) -> bool;

    /// Turns Nagle's algorithm off (`true`) or on; a no-op where it does not apply.
    fn set_tcp_nodelay(&self, enabled: bool) -> io::Result<()> {
        let _ = enabled;
        Ok(())
    }

    /// The protocol negotiated by TLS's ALPN, if any.
    fn negotiated_protocol(&self) -> Option<Vec<u8>> {
        None
    }

    /// Whether the connection is encrypted.
    fn is_secure(&self) -> bool {
        false
    }
}

//! Outgoing connections: TCP (by address or host name) and UNIX sockets, with a timeout.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use super::connection::{ConnectOutcome, Connection};
use super::stream::Stream;
use super::{Address, Protocol, Transport};
use crate::defer::{Deferred, Failure};
use crate::reactor::Reactor;

/// Why an outgoing connection could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve to any address.
    Resolve {
        /// The name that was looked up.
        host: String,
        /// What the resolver said.
        error: io::Error,
    },
    /// No answer within the timeout.
    TimedOut {
        /// The address being connected to.
        address: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The connection attempt failed (refused, unreachable, ...).
    Failed {
        /// The address being connected to.
        address: String,
        /// What the system said.
        error: io::Error,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve { host, error } => write!(f, "could not resolve {host:?}: {error}"),
            Self::TimedOut { address, timeout } => {
                write!(f, "connecting to {address} timed out after {timeout:?}")
            }
            Self::Failed { address, error } => write!(f, "could not connect to {address}: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Connects to `host:port` (an IP literal, or a name resolved off the reactor thread) and runs
/// `protocol` on the connection. The Deferred fires with the transport once connected, after
/// `connection_made`; it fails with a [`ConnectError`] otherwise.
pub fn connect_tcp(
    reactor: &Reactor,
    host: &str,
    port: u16,
    timeout: Duration,
    protocol: Box<dyn Protocol>,
) -> Deferred<Rc<dyn Transport>> {
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return connect_tcp_addr(reactor, SocketAddr::new(ip, port), timeout, protocol);
    }
    let name = host.to_owned();
    let lookup = reactor.defer_to_thread(move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>())
    });
    let reactor = reactor.clone();
    let host = host.to_owned();
    lookup.add_callback_deferred(move |resolved| match resolved {
        Ok(addrs) if !addrs.is_empty() => connect_tcp_addr(&reactor, addrs[0], timeout, protocol),
        Ok(_) => failed(ConnectError::Resolve {
            host,
            error: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        }),
        Err(error) => failed(ConnectError::Resolve { host, error }),
    })
}

/// Connects to a TCP address.
pub fn connect_tcp_addr(
    reactor: &Reactor,
    addr: SocketAddr,
    timeout: Duration,
    protocol: Box<dyn Protocol>,
) -> Deferred<Rc<dyn Transport>> {
    let stream = match mio::net::TcpStream::connect(addr) {
        Ok(stream) => stream,
        Err(error) => {
            return failed(ConnectError::Failed {
                address: addr.to_string(),
                error,
            });
        }
    };
    let _ = stream.set_nodelay(true);
    let host = stream
        .local_addr()
        .map(Address::Tcp)
        .unwrap_or(Address::Tcp(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0)));
    start(
        reactor,
        stream,
        Address::Tcp(addr),
        host,
        addr.to_string(),
        timeout,
        protocol,
    )
}

/// Connects to the UNIX socket at `path`.
pub fn connect_unix(
    reactor: &Reactor,
    path: &Path,
    timeout: Duration,
    protocol: Box<dyn Protocol>,
) -> Deferred<Rc<dyn Transport>> {
    let address = format!("unix:{}", path.display());
    match mio::net::UnixStream::connect(path) {
        Ok(stream) => {
            let peer = Address::Unix(Some(PathBuf::from(path)));
            start(
                reactor,
                stream,
                peer,
                Address::Unix(None),
                address,
                timeout,
                protocol,
            )
        }
        Err(error) => failed(ConnectError::Failed { address, error }),
    }
}

fn start<S: Stream>(
    reactor: &Reactor,
    stream: S,
    peer: Address,
    host: Address,
    address: String,
    timeout: Duration,
    protocol: Box<dyn Protocol>,
) -> Deferred<Rc<dyn Transport>> {
    let result = Deferred::new();
    let firer = result.clone();
    let failed_address = address.clone();
    let outcome: ConnectOutcome = Box::new(move |outcome| {
        let _ = match outcome {
            Ok(transport) => firer.callback(transport),
            Err(error) => firer.errback(Failure::new(ConnectError::Failed {
                address: failed_address,
                error,
            })),
        };
    });
    let connection =
        match Connection::register(reactor, stream, peer, host, protocol, Some(outcome)) {
            Ok(connection) => connection,
            Err(error) => return failed(ConnectError::Failed { address, error }),
        };
    let pending = Rc::downgrade(&connection);
    let timer = reactor.call_later(timeout, move || {
        if let Some(connection) = pending.upgrade() {
            connection.fail_connect(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
    });
    let timeout_address = address;
    result.add_both(move |outcome| {
        let _ = timer.cancel();
        outcome.map_err(|failure| match failure.downcast_ref::<ConnectError>() {
            Some(ConnectError::Failed { error, .. }) if error.kind() == io::ErrorKind::TimedOut => {
                Failure::new(ConnectError::TimedOut {
                    address: timeout_address,
                    timeout,
                })
            }
            _ => failure,
        })
    })
}

fn failed(error: ConnectError) -> Deferred<Rc<dyn Transport>> {
    crate::defer::fail(Failure::new(error))
}

//! TLS for any stream transport, over rustls's sans-IO connection API.
//!
//! TLS is a layer between a transport and a protocol: [`TlsProtocol`] runs on the socket's
//! transport, owns a rustls connection, and gives the protocol it wraps a [`Transport`] of its
//! own, whose writes are encrypted into the socket's transport and whose `lose_connection` and
//! `write_eof` send close_notify. Back-pressure passes through in both directions: a producer
//! registered on the TLS transport is paused as the socket's buffer fills, and pausing the TLS
//! transport stops reading from the socket once the handshake is done.
//!
//! [`ServerTls`] loads a server's keys and certificates (one pair, or a directory chosen by SNI)
//! and reloads them on demand; [`TlsServerFactory`] wraps each connection a factory builds;
//! [`client_config`] makes what a client needs. Endpoints use them for `ssl:`, `sni:` and
//! `tls:` (see `crate::endpoints`).
//!
//! Tested by: reactor_tests/tls.rs, and the record handling alone by `session.rs`'s unit tests
//!
//! [`Transport`]: crate::transport::Transport

mod config;
mod error;
mod layer;
mod protocol;
mod session;

use std::rc::Weak;

pub use config::{
    ALPN_HTTP1, ALPN_HTTP2, CertificateSource, ClientTlsSpec, DEFAULT_CERTIFICATE_FILE, ServerTls,
    TlsOptions, client_config,
};
pub use error::{TlsConfigError, TlsConfigProblem};
pub use layer::DEFAULT_HANDSHAKE_TIMEOUT;
pub(crate) use layer::HandshakeOutcome;
pub use protocol::TlsProtocol;

use crate::log;
use crate::reactor::{Reactor, ReactorInner};
use crate::transport::{Address, Factory, Protocol};

/// A factory whose protocols run over TLS: each connection gets the configuration current when
/// it is accepted.
pub struct TlsServerFactory<F> {
    reactor: Weak<ReactorInner>,
    tls: ServerTls,
    inner: F,
}

impl<F> std::fmt::Debug for TlsServerFactory<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServerFactory")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl<F: Factory> TlsServerFactory<F> {
    /// Wraps `inner`'s protocols in TLS configured by `tls`.
    pub fn new(reactor: &Reactor, tls: ServerTls, inner: F) -> Self {
        Self {
            reactor: reactor.downgrade(),
            tls,
            inner,
        }
    }
}

impl<F: Factory> Factory for TlsServerFactory<F> {
    fn build_protocol(&mut self, peer: &Address) -> Option<Box<dyn Protocol>> {
        let reactor = Reactor::from_inner(self.reactor.upgrade()?);
        let inner = self.inner.build_protocol(peer)?;
        match TlsProtocol::server(&reactor, self.tls.config(), inner) {
            Ok(protocol) => Some(Box::new(
                protocol.with_handshake_timeout(self.tls.options().handshake_timeout),
            )),
            Err(error) => {
                log::error(format_args!("cannot start TLS for {peer}: {error}"));
                None
            }
        }
    }
}

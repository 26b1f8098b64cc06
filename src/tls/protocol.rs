//! [`TlsProtocol`]: the protocol a TLS connection runs on its socket, driving the layer in
//! `layer.rs` from the socket transport's callbacks.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};

use super::layer::{Closing, HandshakeOutcome, TlsLayer};
use super::session::Session;
use crate::reactor::Reactor;
use crate::transport::{DisconnectReason, Protocol, Transport};

/// The protocol a TLS connection runs on its socket: decrypts for, and encrypts from, the
/// protocol it wraps, which sees a [`Transport`] of its own.
///
/// The wrapped protocol's `connection_made` comes once the handshake is done, so the negotiated
/// ALPN protocol is known then. A handshake that fails or takes longer than its timeout closes
/// the connection without troubling the wrapped protocol (a client's connection attempt fails
/// instead). A bad record later closes the connection, and the wrapped protocol's
/// `connection_lost` gets [`DisconnectReason::Lost`] with an [`io::Error`] of kind
/// `InvalidData` carrying the [`rustls::Error`].
pub struct TlsProtocol {
    layer: Rc<TlsLayer>,
}

impl std::fmt::Debug for TlsProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.layer.state.borrow();
        f.debug_struct("TlsProtocol")
            .field("handshaking", &state.session.is_handshaking())
            .field("closing", &state.closing)
            .finish_non_exhaustive()
    }
}

impl TlsProtocol {
    /// The server side of a TLS connection running `inner`.
    ///
    /// # Errors
    ///
    /// What rustls says when the configuration cannot make a connection.
    pub fn server(
        reactor: &Reactor,
        config: Arc<ServerConfig>,
        inner: Box<dyn Protocol>,
    ) -> Result<Self, rustls::Error> {
        Ok(Self {
            layer: TlsLayer::new(reactor, Session::server(config)?, inner),
        })
    }

    /// The client side of a TLS connection to `server_name` (a DNS name, checked against the
    /// server's certificate, or an IP address) running `inner`.
    ///
    /// # Errors
    ///
    /// A name that is neither a DNS name nor an IP address, or what rustls says.
    pub fn client(
        reactor: &Reactor,
        config: Arc<ClientConfig>,
        server_name: &str,
        inner: Box<dyn Protocol>,
    ) -> Result<Self, rustls::Error> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|_| {
            rustls::Error::General(format!("{server_name:?} is not a valid server name"))
        })?;
        Ok(Self {
            layer: TlsLayer::new(reactor, Session::client(config, name)?, inner),
        })
    }

    /// The transport the wrapped protocol writes to.
    pub fn transport(&self) -> Rc<dyn Transport> {
        self.layer.transport()
    }

    /// Drops connections whose handshake takes longer than `timeout` (30 s by default).
    #[must_use]
    pub fn with_handshake_timeout(self, timeout: Duration) -> Self {
        self.layer.state.borrow_mut().handshake_timeout = timeout;
        self
    }

    /// Calls `outcome` once the handshake is done (with the TLS transport, after the wrapped
    /// protocol's `connection_made`) or has failed (with why).
    pub(crate) fn on_handshake(self, outcome: HandshakeOutcome) -> Self {
        self.layer.state.borrow_mut().on_handshake = Some(outcome);
        self
    }
}

impl Protocol for TlsProtocol {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let layer = &self.layer;
        let _ = layer.peer.set(transport.peer_address());
        let _ = layer.host.set(transport.host_address());
        let timeout = {
            let mut state = layer.state.borrow_mut();
            state.outer = Some(transport);
            state.handshake_timeout
        };
        if let Some(reactor) = layer.reactor.upgrade().map(Reactor::from_inner) {
            let waiting = Rc::downgrade(layer);
            let timer = reactor.call_later(timeout, move || {
                if let Some(layer) = waiting.upgrade() {
                    layer.handshake_timed_out();
                }
            });
            layer.state.borrow_mut().handshake_timer = Some(timer);
        }
        // A client's hello goes out now.
        let started = layer.state.borrow_mut().session.start();
        match started {
            Ok(()) => layer.push_out(),
            Err(error) => layer.fail(super::layer::invalid_data(error)),
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        let layer = &self.layer;
        let absorbed = {
            let mut state = layer.state.borrow_mut();
            if state.closing == Closing::Done {
                return;
            }
            state.absorb(data)
        };
        if let Err(error) = absorbed {
            return layer.fail(error);
        }
        layer.in_callback(|| {
            layer.start_inner();
            layer.apply_pause();
            layer.release_producer();
            layer.deliver();
        });
    }

    fn eof_received(&mut self) -> bool {
        let layer = &self.layer;
        let (started, answered) = {
            let state = layer.state.borrow();
            (state.started, state.keep_open)
        };
        if !started {
            layer.fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection during the TLS handshake",
            ));
            return false;
        }
        if let Some(keep_open) = answered {
            // The peer's close_notify came first and the inner protocol has answered.
            return keep_open;
        }
        // The socket ended without close_notify: the inner protocol hears the end of input
        // all the same (as most HTTP clients end that way).
        let mut keep_open = false;
        layer.in_callback(|| keep_open = layer.deliver_eof());
        keep_open
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let layer = &self.layer;
        let (failure, outer, waiting, started, outcome, timer) = {
            let mut state = layer.state.borrow_mut();
            state.closing = Closing::Done;
            (
                state.failure.take(),
                state.outer.take(),
                state.waiting_producer.take(),
                state.started,
                state.on_handshake.take(),
                state.handshake_timer.take(),
            )
        };
        drop(outer);
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        if let Some((producer, _)) = waiting {
            producer.stop_producing();
        }
        if !started {
            // The wrapped protocol never saw the connection; whoever waited hears why.
            layer.inner.borrow_mut().take();
            if let Some(outcome) = outcome {
                outcome(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!("the connection ended during the TLS handshake ({reason})"),
                )));
            }
            return;
        }
        let reason = match failure {
            Some(error) if !matches!(reason, DisconnectReason::Aborted) => {
                DisconnectReason::Lost(error)
            }
            _ => reason,
        };
        let inner = layer.inner.borrow_mut().take();
        if let Some(mut inner) = inner {
            inner.connection_lost(reason);
        }
    }
}

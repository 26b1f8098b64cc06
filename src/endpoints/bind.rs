//! Turning parsed endpoints into listening ports and connections on a reactor.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use super::inherited_descriptors;
use super::{ClientEndpoint, ServerEndpoint, SocketActivationError, SystemdDomain};
use crate::defer::Deferred;
use crate::reactor::Reactor;
use crate::tls::{
    CertificateSource, ClientTlsSpec, HandshakeOutcome, ServerTls, TlsConfigError, TlsOptions,
    TlsProtocol, TlsServerFactory, client_config,
};
use crate::transport::{
    self, Factory, ListenOptions, Port, Protocol, Transport, adopt_listener, listen_tcp,
    listen_unix,
};

/// Why listening on an endpoint failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError {
    /// Binding or listening failed (address in use, permission denied, ...).
    Io {
        /// The endpoint, in canonical form.
        endpoint: String,
        /// What the system said.
        error: io::Error,
    },
    /// The systemd socket-activation environment does not provide the socket asked for.
    SocketActivation {
        /// The endpoint, in canonical form.
        endpoint: String,
        /// What is wrong with the environment.
        error: SocketActivationError,
    },
    /// A TLS endpoint's key, certificate or certificate directory cannot be used.
    Tls {
        /// The endpoint, in canonical form.
        endpoint: String,
        /// The file at fault and what is wrong with it.
        error: Box<TlsConfigError>,
    },
}

impl ListenError {
    /// The underlying I/O error, if the failure was one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::Io { error, .. } => Some(error),
            Self::SocketActivation { .. } | Self::Tls { .. } => None,
        }
    }
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { endpoint, error } if error.kind() == io::ErrorKind::AddrInUse => write!(
                f,
                "cannot listen on {endpoint}: the address is already in use \
                 (stop the other server or choose another port)"
            ),
            Self::Io { endpoint, error } if error.kind() == io::ErrorKind::PermissionDenied => {
                write!(
                    f,
                    "cannot listen on {endpoint}: permission denied \
                     (ports below 1024 need privileges)"
                )
            }
            Self::Io { endpoint, error } => write!(f, "cannot listen on {endpoint}: {error}"),
            Self::SocketActivation { endpoint, error } => {
                write!(f, "cannot listen on {endpoint}: {error}")
            }
            Self::Tls { endpoint, error } => write!(f, "cannot listen on {endpoint}: {error}"),
        }
    }
}

impl std::error::Error for ListenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            Self::SocketActivation { error, .. } => Some(error),
            Self::Tls { error, .. } => Some(&**error),
        }
    }
}

/// Listens on `endpoint`, serving each connection with a protocol from `factory`.
///
/// Systemd endpoints read `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` from the environment.
/// TLS endpoints (`ssl:`, `sni:`) offer the default ALPN protocols ([`TlsOptions::default`]);
/// [`listen_with_tls`] chooses them and gives the handle that reloads certificates.
pub fn listen(
    reactor: &Reactor,
    endpoint: &ServerEndpoint,
    factory: impl Factory + 'static,
) -> Result<Port, ListenError> {
    listen_with_tls(reactor, endpoint, &TlsOptions::default(), factory).map(|l| l.port)
}

/// A listening port, and for TLS endpoints the configuration its connections use.
#[derive(Debug)]
pub struct Listening {
    /// The listening port.
    pub port: Port,
    /// The TLS configuration ([`ServerTls::reload`] reads the files again), for `ssl:` and
    /// `sni:` endpoints.
    pub tls: Option<ServerTls>,
}

/// Listens on `endpoint` like [`listen`]; TLS endpoints use `options` (the ALPN protocols).
///
/// # Errors
///
/// [`ListenError::Tls`] names a key, certificate or directory that cannot be used; the other
/// variants are as for [`listen`].
pub fn listen_with_tls(
    reactor: &Reactor,
    endpoint: &ServerEndpoint,
    options: &TlsOptions,
    factory: impl Factory + 'static,
) -> Result<Listening, ListenError> {
    match endpoint {
        ServerEndpoint::Ssl {
            port,
            interface,
            backlog,
            private_key,
            cert_key,
            extra_cert_chain,
            ca_certs,
        } => {
            let source = CertificateSource::Files {
                private_key: private_key.clone(),
                cert_key: cert_key.clone(),
                extra_cert_chain: extra_cert_chain.clone(),
            };
            let tls = load_tls(endpoint, source, ca_certs.clone(), options)?;
            let factory = TlsServerFactory::new(reactor, tls.clone(), factory);
            let address = SocketAddr::new(*interface, *port);
            let port = listen_tcp_on(reactor, address, *backlog, factory)
                .map_err(|error| io_error(endpoint, error))?;
            Ok(Listening {
                port,
                tls: Some(tls),
            })
        }
        ServerEndpoint::Sni { cert_dir, inner } => {
            let source = CertificateSource::Directory(cert_dir.clone());
            let tls = load_tls(endpoint, source, None, options)?;
            let factory = TlsServerFactory::new(reactor, tls.clone(), factory);
            let port = listen_plain(reactor, inner, factory)?;
            Ok(Listening {
                port,
                tls: Some(tls),
            })
        }
        _ => Ok(Listening {
            port: listen_plain(reactor, endpoint, factory)?,
            tls: None,
        }),
    }
}

/// Loads the certificates `endpoint` names, a failure naming the endpoint.
fn load_tls(
    endpoint: &ServerEndpoint,
    source: CertificateSource,
    ca_certs: Option<PathBuf>,
    options: &TlsOptions,
) -> Result<ServerTls, ListenError> {
    ServerTls::load(source, ca_certs, options.clone()).map_err(|error| ListenError::Tls {
        endpoint: endpoint.to_string(),
        error: Box::new(error),
    })
}

/// `error` from listening on `endpoint`, naming it.
fn io_error(endpoint: &ServerEndpoint, error: io::Error) -> ListenError {
    ListenError::Io {
        endpoint: endpoint.to_string(),
        error,
    }
}

/// Listens on an endpoint without TLS of its own (the inner endpoint of `sni:`).
fn listen_plain(
    reactor: &Reactor,
    endpoint: &ServerEndpoint,
    factory: impl Factory + 'static,
) -> Result<Port, ListenError> {
    let io_error = |error| io_error(endpoint, error);
    match endpoint {
        ServerEndpoint::Tcp {
            port,
            interface,
            backlog,
        } => listen_tcp_on(
            reactor,
            SocketAddr::new(*interface, *port),
            *backlog,
            factory,
        )
        .map_err(io_error),
        ServerEndpoint::Tcp6 {
            port,
            interface,
            backlog,
        } => listen_tcp_on(
            reactor,
            SocketAddr::new((*interface).into(), *port),
            *backlog,
            factory,
        )
        .map_err(io_error),
        ServerEndpoint::Unix {
            path,
            mode,
            backlog,
            lockfile,
        } => {
            let options = ListenOptions {
                backlog: *backlog,
                mode: *mode,
                lockfile: *lockfile,
            };
            listen_unix(reactor, path, &options, factory).map_err(io_error)
        }
        ServerEndpoint::Systemd { domain, selector } => {
            let activation_error = |error| ListenError::SocketActivation {
                endpoint: endpoint.to_string(),
                error,
            };
            let descriptors = inherited_descriptors(
                std::env::var("LISTEN_PID").ok().as_deref(),
                std::env::var("LISTEN_FDS").ok().as_deref(),
                std::env::var("LISTEN_FDNAMES").ok().as_deref(),
                std::process::id(),
            )
            .map_err(activation_error)?;
            let fd = selector.resolve(&descriptors).map_err(activation_error)?;
            let port = adopt_listener(reactor, fd, factory).map_err(io_error)?;
            check_domain(&port, *domain).map_err(io_error)?;
            Ok(port)
        }
        ServerEndpoint::Ssl { .. } | ServerEndpoint::Sni { .. } => Err(io_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TLS cannot be layered on a TLS endpoint",
        ))),
    }
}

fn listen_tcp_on(
    reactor: &Reactor,
    addr: SocketAddr,
    backlog: u32,
    factory: impl Factory + 'static,
) -> io::Result<Port> {
    let options = ListenOptions {
        backlog,
        ..ListenOptions::default()
    };
    listen_tcp(reactor, addr, &options, factory)
}

fn check_domain(port: &Port, domain: SystemdDomain) -> io::Result<()> {
    let matches = match (port.address(), domain) {
        (transport::Address::Tcp(addr), SystemdDomain::Inet) => addr.is_ipv4(),
        (transport::Address::Tcp(addr), SystemdDomain::Inet6) => addr.is_ipv6(),
        (transport::Address::Unix(_), SystemdDomain::Unix) => true,
        _ => false,
    };
    if matches {
        return Ok(());
    }
    port.stop_listening();
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "the inherited socket is {}, not domain={}",
            port.address(),
            domain.as_str()
        ),
    ))
}

/// Connects to `endpoint` and runs `protocol` on the connection; the Deferred fires with the
/// transport once connected (for `tls:`, the TLS transport once the handshake is done; a failed
/// handshake fails the Deferred with an [`io::Error`] carrying the [`rustls::Error`]).
pub fn connect(
    reactor: &Reactor,
    endpoint: &ClientEndpoint,
    protocol: Box<dyn Protocol>,
) -> Deferred<Rc<dyn Transport>> {
    match endpoint {
        ClientEndpoint::Tcp {
            host,
            port,
            timeout,
            ..
        } => transport::connect_tcp(reactor, host, *port, *timeout, protocol),
        ClientEndpoint::Unix { path, timeout, .. } => {
            transport::connect_unix(reactor, path, *timeout, protocol)
        }
        ClientEndpoint::Tls {
            host,
            port,
            timeout,
            ca_certs,
            certificate,
            private_key,
            ..
        } => {
            let spec = ClientTlsSpec {
                ca_certs: ca_certs.clone(),
                certificate: certificate.clone(),
                private_key: private_key.clone(),
                alpn_protocols: Vec::new(),
            };
            let config = match client_config(&spec) {
                Ok(config) => config,
                Err(error) => return Deferred::failed(error),
            };
            let connected = Deferred::new();
            let done = connected.clone();
            let outcome: HandshakeOutcome = Box::new(move |result| {
                let _ = match result {
                    Ok(transport) => done.callback(transport),
                    Err(error) => done.errback(error),
                };
            });
            let tls = match TlsProtocol::client(reactor, config, host, protocol) {
                Ok(tls) => tls.on_handshake(outcome),
                Err(error) => return Deferred::failed(error),
            };
            let failed = connected.clone();
            let attempt = transport::connect_tcp(reactor, host, *port, *timeout, Box::new(tls));
            // Success is told by the handshake; a failure to connect at all is told here.
            drop(attempt.add_both(move |result| {
                if let Err(failure) = result {
                    let _ = failed.errback(failure);
                }
                Ok(())
            }));
            connected
        }
    }
}

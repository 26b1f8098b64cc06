//! The endpoints a description string can name, holding validated values,
//! and their canonical string form.
//!
//! `Display` prints the shortest canonical description: the type in lower
//! case, the first parameter by position, every other parameter by name and
//! only when it differs from its default. Parsing that text gives back an
//! equal value.
//!
//! Tested by: reactor_tests/endpoint_strings.rs

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The listen backlog used when a description does not give one (Twisted's 50).
pub const DEFAULT_BACKLOG: u32 = 50;

/// The permission bits of a unix listening socket when a description does
/// not give a mode (`0o666`).
pub const DEFAULT_UNIX_MODE: u32 = 0o666;

/// How long a client waits for its connection when a description does not
/// give a timeout (30 seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest unix socket path, in bytes, that fits `sockaddr_un.sun_path`
/// together with its terminating NUL (107 on Linux, 103 elsewhere).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const UNIX_PATH_MAX: usize = 107;

/// The longest unix socket path, in bytes, that fits `sockaddr_un.sun_path`
/// together with its terminating NUL (107 on Linux, 103 elsewhere).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const UNIX_PATH_MAX: usize = 103;

/// The interface `tcp:` listens on when none is given: every IPv4 address.
pub const DEFAULT_TCP_INTERFACE: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// The interface `tcp6:` listens on when none is given: every IPv6 address.
pub const DEFAULT_TCP6_INTERFACE: Ipv6Addr = Ipv6Addr::UNSPECIFIED;

/// The key file an `ssl:` endpoint reads when none is given (Twisted's `server.pem`).
pub const DEFAULT_PRIVATE_KEY: &str = "server.pem";

/// A place to listen for connections, as named by a server description.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerEndpoint {
    /// `tcp:PORT[:interface=ADDR][:backlog=N]`: a TCP port on an IPv4 or,
    /// when the interface is an IPv6 literal, an IPv6 address.
    Tcp {
        /// The port; 0 asks the system for any free port.
        port: u16,
        /// The local address to bind; `0.0.0.0` by default.
        interface: IpAddr,
        /// The `listen(2)` backlog.
        backlog: u32,
    },
    /// `tcp6:PORT[:interface=ADDR][:backlog=N]`: a TCP port on an IPv6 address.
    Tcp6 {
        /// The port; 0 asks the system for any free port.
        port: u16,
        /// The local address to bind; `::` by default.
        interface: Ipv6Addr,
        /// The `listen(2)` backlog.
        backlog: u32,
    },
    /// `unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1]`: a unix socket.
    Unix {
        /// The socket's file system path.
        path: PathBuf,
        /// The socket file's permission bits.
        mode: u32,
        /// The `listen(2)` backlog.
        backlog: u32,
        /// Whether to guard the path with a `PATH.lock` file naming our pid.
        lockfile: bool,
    },
    /// `systemd:domain=INET|INET6|UNIX:index=N` or `...:name=FDNAME`: a
    /// listening socket inherited through systemd socket activation.
    Systemd {
        /// The address family of the inherited socket.
        domain: SystemdDomain,
        /// Which inherited descriptor to adopt.
        selector: SystemdSelector,
    },
    /// `ssl:PORT[:privateKey=KEY][:certKey=CERT][:interface=ADDR][:backlog=N]
    /// [:extraCertChain=PEM][:caCerts=PEM_OR_DIR]`: TLS on a TCP port.
    Ssl {
        /// The port; 0 asks the system for any free port.
        port: u16,
        /// The local address to bind; `0.0.0.0` by default.
        interface: IpAddr,
        /// The `listen(2)` backlog.
        backlog: u32,
        /// The PEM file holding the private key (`server.pem` by default).
        private_key: PathBuf,
        /// The PEM file holding the certificate and any intermediates (the key's file by
        /// default).
        cert_key: PathBuf,
        /// A PEM file of further intermediate certificates.
        extra_cert_chain: Option<PathBuf>,
        /// Authorities whose client certificates are required (a PEM file or a directory);
        /// `None`: no client certificate is asked for.
        ca_certs: Option<PathBuf>,
    },
    /// `sni:CERTDIR:INNER` (or `txsni:`): TLS on the inner endpoint, with the certificate
    /// chosen by the name the client asks for from `CERTDIR/NAME.pem` (`DEFAULT.pem` otherwise).
    Sni {
        /// The directory of `NAME.pem` files, each a key and its certificate chain.
        cert_dir: PathBuf,
        /// Where to listen: a `tcp`, `tcp6`, `unix` or `systemd` endpoint.
        inner: Box<ServerEndpoint>,
    },
}

/// The address family of a socket inherited from systemd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemdDomain {
    /// `AF_INET`, written `INET`.
    Inet,
    /// `AF_INET6`, written `INET6`.
    Inet6,
    /// `AF_UNIX`, written `UNIX`.
    Unix,
}

impl SystemdDomain {
    /// The name used in descriptions: `INET`, `INET6` or `UNIX`.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemdDomain::Inet => "INET",
            SystemdDomain::Inet6 => "INET6",
            SystemdDomain::Unix => "UNIX",
        }
    }

    /// The domain called `name`, compared without regard to ASCII case.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            SystemdDomain::Inet,
            SystemdDomain::Inet6,
            SystemdDomain::Unix,
        ]
        .into_iter()
        .find(|domain| domain.as_str().eq_ignore_ascii_case(name))
    }
}

/// Which inherited descriptor a `systemd:` endpoint adopts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SystemdSelector {
    /// The descriptor at this position (0 is file descriptor 3).
    Index(usize),
    /// The descriptor with this `FileDescriptorName=`.
    Name(String),
}

/// A place to connect to, as named by a client description.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientEndpoint {
    /// `tcp:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDR]`.
    Tcp {
        /// A host name or IP address literal, not yet resolved.
        host: String,
        /// The port to connect to.
        port: u16,
        /// How long to wait for the connection to be established.
        timeout: Duration,
        /// The local address to bind before connecting (any port).
        bind_address: Option<IpAddr>,
    },
    /// `unix:PATH[:timeout=SECONDS][:lockfile=0|1]`.
    Unix {
        /// The socket's file system path.
        path: PathBuf,
        /// How long to wait for the connection to be established.
        timeout: Duration,
        /// Whether to refuse to connect unless the server's lock file names a
        /// live process (Twisted's `checkPID`).
        lockfile: bool,
    },
    /// `tls:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDR][:caCerts=PEM_OR_DIR]
    /// [:certificate=PEM][:privateKey=PEM]`: TLS over TCP, the server's certificate checked
    /// against HOST.
    Tls {
        /// A host name or IP address literal: where to connect, and the name the server's
        /// certificate must carry.
        host: String,
        /// The port to connect to.
        port: u16,
        /// How long to wait for the connection to be established.
        timeout: Duration,
        /// The local address to bind before connecting (any port).
        bind_address: Option<IpAddr>,
        /// The authorities trusted (a PEM file or a directory); `None`: the system's.
        ca_certs: Option<PathBuf>,
        /// A client certificate chain to present (PEM).
        certificate: Option<PathBuf>,
        /// The client certificate's key (PEM); the certificate's file by default.
        private_key: Option<PathBuf>,
    },
}

/// Escapes `argument` so that it is read back unchanged as one value of a
/// description: every `\` becomes `\\` and every `:` becomes `\:`.
///
/// Like Twisted's `quoteStringArgument`, `=` is left alone, so the result
/// is safe as a `key=value` value (where later `=` signs are literal) and as
/// a positional value that contains no `=`.
pub fn quote_string_argument(argument: &str) -> String {
    escape(argument, &['\\', ':'])
}

/// Escapes `text` for any position in a description: `\`, `:` and `=`.
fn escape_field(text: &str) -> String {
    escape(text, &['\\', ':', '='])
}

fn escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if special.contains(&character) {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// `duration` as seconds with the shortest exact decimal fraction (`30`, `0.5`).
fn format_seconds(duration: Duration) -> String {
    let nanoseconds = duration.subsec_nanos();
    if nanoseconds == 0 {
        return duration.as_secs().to_string();
    }
    let fraction = format!("{nanoseconds:09}");
    format!("{}.{}", duration.as_secs(), fraction.trim_end_matches('0'))
}

/// Writes `:name=value` when `value` differs from `default`.
fn keyword_unless<T: PartialEq>(
    formatter: &mut fmt::Formatter<'_>,
    name: &str,
    value: T,
    default: T,
    text: impl FnOnce(T) -> String,
) -> fmt::Result {
    if value == default {
        return Ok(());
    }
    write!(formatter, ":{name}={}", text(value))
}

fn path_text(path: &Path) -> String {
    escape_field(&path.to_string_lossy())
}

/// Writes `:name=PATH` when there is a path.
fn optional_path(
    formatter: &mut fmt::Formatter<'_>,
    name: &str,
    path: Option<&PathBuf>,
) -> fmt::Result {
    match path {
        Some(path) => write!(formatter, ":{name}={}", path_text(path)),
        None => Ok(()),
    }
}

/// Writes the `interface` and `backlog` of a TCP listener where they differ from the defaults.
fn tcp_listening<A: PartialEq + fmt::Display>(
    formatter: &mut fmt::Formatter<'_>,
    interface: A,
    default_interface: A,
    backlog: u32,
) -> fmt::Result {
    keyword_unless(formatter, "interface", interface, default_interface, |a| {
        escape_field(&a.to_string())
    })?;
    keyword_unless(formatter, "backlog", backlog, DEFAULT_BACKLOG, |n| {
        n.to_string()
    })
}

/// Writes the `timeout` (unless the default) and `bindAddress` (if any) of a TCP client.
fn tcp_connecting(
    formatter: &mut fmt::Formatter<'_>,
    timeout: Duration,
    bind_address: Option<IpAddr>,
) -> fmt::Result {
    keyword_unless(
        formatter,
        "timeout",
        timeout,
        DEFAULT_CONNECT_TIMEOUT,
        format_seconds,
    )?;
    match bind_address {
        Some(address) => write!(
            formatter,
            ":bindAddress={}",
            escape_field(&address.to_string())
        ),
        None => Ok(()),
    }
}

fn flag_text(value: bool) -> String {
    if value { "1" } else { "0" }.to_owned()
}

impl ServerEndpoint {
    /// Whether connections to this endpoint are encrypted (`ssl:`, `sni:`).
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Ssl { .. } | Self::Sni { .. })
    }
}

impl fmt::Display for ServerEndpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerEndpoint::Tcp {
                port,
                interface,
                backlog,
            } => {
                write!(formatter, "tcp:{port}")?;
                tcp_listening(formatter, *interface, DEFAULT_TCP_INTERFACE, *backlog)
            }
            ServerEndpoint::Tcp6 {
                port,
                interface,
                backlog,
            } => {
                write!(formatter, "tcp6:{port}")?;
                tcp_listening(formatter, *interface, DEFAULT_TCP6_INTERFACE, *backlog)
            }
            ServerEndpoint::Unix {
                path,
                mode,
                backlog,
                lockfile,
            } => {
                write!(formatter, "unix:{}", escape_field(&path.to_string_lossy()))?;
                keyword_unless(formatter, "mode", *mode, DEFAULT_UNIX_MODE, |m| {
                    format!("{m:o}")
                })?;
                keyword_unless(formatter, "backlog", *backlog, DEFAULT_BACKLOG, |n| {
                    n.to_string()
                })?;
                keyword_unless(formatter, "lockfile", *lockfile, true, flag_text)
            }
            ServerEndpoint::Systemd { domain, selector } => {
                write!(formatter, "systemd:domain={}", domain.as_str())?;
                match selector {
                    SystemdSelector::Index(index) => write!(formatter, ":index={index}"),
                    SystemdSelector::Name(name) => {
                        write!(formatter, ":name={}", escape_field(name))
                    }
                }
            }
            ServerEndpoint::Ssl {
                port,
                interface,
                backlog,
                private_key,
                cert_key,
                extra_cert_chain,
                ca_certs,
            } => {
                write!(formatter, "ssl:{port}")?;
                let default_key = PathBuf::from(DEFAULT_PRIVATE_KEY);
                keyword_unless(formatter, "privateKey", private_key, &default_key, |p| {
                    path_text(p)
                })?;
                keyword_unless(formatter, "certKey", cert_key, private_key, |p| {
                    path_text(p)
                })?;
                tcp_listening(formatter, *interface, DEFAULT_TCP_INTERFACE, *backlog)?;
                optional_path(formatter, "extraCertChain", extra_cert_chain.as_ref())?;
                optional_path(formatter, "caCerts", ca_certs.as_ref())
            }
            ServerEndpoint::Sni { cert_dir, inner } => {
                write!(formatter, "sni:{}:{inner}", path_text(cert_dir))
            }
        }
    }
}

impl fmt::Display for ClientEndpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientEndpoint::Tcp {
                host,
                port,
                timeout,
                bind_address,
            } => {
                write!(formatter, "tcp:{}:{port}", escape_field(host))?;
                tcp_connecting(formatter, *timeout, *bind_address)
            }
            ClientEndpoint::Unix {
                path,
                timeout,
                lockfile,
            } => {
                write!(formatter, "unix:{}", escape_field(&path.to_string_lossy()))?;
                keyword_unless(
                    formatter,
                    "timeout",
                    *timeout,
                    DEFAULT_CONNECT_TIMEOUT,
                    format_seconds,
                )?;
                keyword_unless(formatter, "lockfile", *lockfile, false, flag_text)
            }
            ClientEndpoint::Tls {
                host,
                port,
                timeout,
                bind_address,
                ca_certs,
                certificate,
                private_key,
            } => {
                write!(formatter, "tls:{}:{port}", escape_field(host))?;
                tcp_connecting(formatter, *timeout, *bind_address)?;
                optional_path(formatter, "caCerts", ca_certs.as_ref())?;
                optional_path(formatter, "certificate", certificate.as_ref())?;
                optional_path(formatter, "privateKey", private_key.as_ref())
            }
        }
    }
}

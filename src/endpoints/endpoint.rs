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
use std::path::PathBuf;
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

fn flag_text(value: bool) -> String {
    if value { "1" } else { "0" }.to_owned()
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
                let address = |address: IpAddr| escape_field(&address.to_string());
                keyword_unless(
                    formatter,
                    "interface",
                    *interface,
                    DEFAULT_TCP_INTERFACE,
                    address,
                )?;
                keyword_unless(formatter, "backlog", *backlog, DEFAULT_BACKLOG, |n| {
                    n.to_string()
                })
            }
            ServerEndpoint::Tcp6 {
                port,
                interface,
                backlog,
            } => {
                write!(formatter, "tcp6:{port}")?;
                let address = |address: Ipv6Addr| escape_field(&address.to_string());
                keyword_unless(
                    formatter,
                    "interface",
                    *interface,
                    DEFAULT_TCP6_INTERFACE,
                    address,
                )?;
                keyword_unless(formatter, "backlog", *backlog, DEFAULT_BACKLOG, |n| {
                    n.to_string()
                })
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
                keyword_unless(
                    formatter,
                    "timeout",
                    *timeout,
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
        }
    }
}

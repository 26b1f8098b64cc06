//! Client descriptions: `tcp:` and `unix:`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use torsion::endpoints::{
    ClientEndpoint, DEFAULT_CONNECT_TIMEOUT, EndpointErrorKind, UNIX_PATH_MAX,
};

use super::{assert_error, client, client_error};

/// A `tcp:` client endpoint.
fn tcp(host: &str, port: u16, timeout: Duration, bind_address: Option<IpAddr>) -> ClientEndpoint {
    ClientEndpoint::Tcp {
        host: host.to_string(),
        port,
        timeout,
        bind_address,
    }
}

/// A `unix:` client endpoint.
fn unix(path: &str, timeout: Duration, lockfile: bool) -> ClientEndpoint {
    ClientEndpoint::Unix {
        path: PathBuf::from(path),
        timeout,
        lockfile,
    }
}

const THIRTY_SECONDS: Duration = Duration::from_secs(30);

/// The timeout of a `tcp:` client description that must parse.
fn tcp_timeout(timeout: &str) -> Duration {
    match client(&format!("tcp:h:80:timeout={timeout}")) {
        ClientEndpoint::Tcp { timeout, .. } => timeout,
        other => panic!("not tcp: {other:?}"),
    }
}

/// `tcp:HOST:PORT` waits 30 seconds and binds no local address by default.
#[test]
fn tcp_host_and_port_use_defaults() {
    assert_eq!(
        client("tcp:example.com:80"),
        tcp("example.com", 80, THIRTY_SECONDS, None)
    );
    assert_eq!(DEFAULT_CONNECT_TIMEOUT, THIRTY_SECONDS);
}

/// Host and port may both be given by name, in either order.
#[test]
fn tcp_host_and_port_by_name() {
    let expected = tcp("example.com", 80, THIRTY_SECONDS, None);
    assert_eq!(client("tcp:host=example.com:port=80"), expected);
    assert_eq!(client("tcp:port=80:host=example.com"), expected);
}

/// A positional host may be followed by the port given by name.
#[test]
fn tcp_host_by_position_port_by_name() {
    assert_eq!(
        client("tcp:example.com:port=80"),
        tcp("example.com", 80, THIRTY_SECONDS, None)
    );
}

/// A positional value fills the host even when it comes after a keyword field.
#[test]
fn tcp_positional_after_keyword_fills_host() {
    assert_eq!(
        client("tcp:port=80:example.com"),
        tcp("example.com", 80, THIRTY_SECONDS, None)
    );
}

/// With the host given by name, a positional value still means the host, which is then given twice.
#[test]
fn tcp_named_host_then_positional_is_duplicate() {
    let error = client_error("tcp:host=example.com:80");
    assert_error(&error, EndpointErrorKind::DuplicateParameter, Some("host"));
}

/// An IP literal host is kept as text; IPv6 is written escaped, by position or name.
#[test]
fn tcp_ip_literal_hosts() {
    assert_eq!(
        client("tcp:127.0.0.1:80"),
        tcp("127.0.0.1", 80, THIRTY_SECONDS, None)
    );
    assert_eq!(
        client(r"tcp:\:\:1:8080"),
        tcp("::1", 8080, THIRTY_SECONDS, None)
    );
    assert_eq!(
        client(r"tcp:host=\:\:1:port=8080"),
        tcp("::1", 8080, THIRTY_SECONDS, None)
    );
}

/// An unescaped IPv6 host is refused with a hint about escaping colons.
#[test]
fn tcp_unescaped_ipv6_host_hints_at_escaping() {
    let error = client_error("tcp:::1:8080");
    assert_error(&error, EndpointErrorKind::TooManyArguments, None);
    assert!(
        error.to_string().contains(r"write IPv6 addresses as \:\:1"),
        "{error}"
    );
}

/// An empty host is refused.
#[test]
fn tcp_empty_host_is_refused() {
    let error = client_error("tcp::80");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("host"));
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp::80": host "" is empty"#
    );
}

/// A `tcp:` client without a port, or without anything, is refused as missing.
#[test]
fn tcp_missing_host_or_port() {
    assert_error(
        &client_error("tcp:example.com"),
        EndpointErrorKind::MissingParameter,
        Some("port"),
    );
    assert_error(
        &client_error("tcp:port=80"),
        EndpointErrorKind::MissingParameter,
        Some("host"),
    );
    assert_error(
        &client_error("tcp"),
        EndpointErrorKind::MissingParameter,
        Some("host"),
    );
}

/// A client port must be from 1 to 65535.
#[test]
fn tcp_client_port_bounds() {
    assert_eq!(client("tcp:h:1"), tcp("h", 1, THIRTY_SECONDS, None));
    assert_eq!(client("tcp:h:65535"), tcp("h", 65535, THIRTY_SECONDS, None));
    for port in ["0", "65536", "http", "", "-80"] {
        let error = client_error(&format!("tcp:h:{port}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("port"));
    }
    assert!(
        client_error("tcp:h:0")
            .to_string()
            .ends_with(r#"port "0" is not a number from 1 to 65535"#)
    );
}

/// The timeout is a whole or fractional number of seconds, given by name.
#[test]
fn tcp_timeout_whole_and_fractional() {
    assert_eq!(tcp_timeout("5"), Duration::from_secs(5));
    assert_eq!(tcp_timeout("0.5"), Duration::from_millis(500));
    assert_eq!(tcp_timeout(".25"), Duration::from_millis(250));
    assert_eq!(tcp_timeout("2."), Duration::from_secs(2));
    assert_eq!(tcp_timeout("1.000000001"), Duration::new(1, 1));
    assert_eq!(tcp_timeout("007.50"), Duration::from_millis(7500));
}

/// Timeout digits beyond nanoseconds are ignored.
#[test]
fn tcp_timeout_precision_is_nanoseconds() {
    assert_eq!(tcp_timeout("0.0000000019"), Duration::from_nanos(1));
    assert_eq!(
        tcp_timeout("3.1415926535897"),
        Duration::new(3, 141_592_653)
    );
}

/// A timeout that is zero, negative or not a plain decimal number is refused.
#[test]
fn tcp_bad_timeout_is_refused() {
    for timeout in [
        "0",
        "0.0",
        "-1",
        "abc",
        "",
        ".",
        "inf",
        "NaN",
        "1e3",
        "1.2.3",
        "+1",
        " 1",
        "0.0000000001",
    ] {
        let error = client_error(&format!("tcp:h:80:timeout={timeout}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("timeout"));
    }
    assert!(
        client_error("tcp:h:80:timeout=0")
            .to_string()
            .ends_with(r#"timeout "0" is not a number of seconds greater than 0"#)
    );
}

/// A timeout too large for a Duration is refused, not wrapped.
#[test]
fn tcp_huge_timeout_is_refused() {
    let error = client_error("tcp:h:80:timeout=99999999999999999999999");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("timeout"));
    assert_eq!(
        tcp_timeout("18446744073709551615"),
        Duration::from_secs(u64::MAX)
    );
}

/// The timeout may not be given by position (Twisted takes only host and port that way).
#[test]
fn tcp_timeout_by_position_is_too_many() {
    let error = client_error("tcp:h:80:5");
    assert_error(&error, EndpointErrorKind::TooManyArguments, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:h:80:5": tcp takes at most 2 positional fields (host, port) but 3 were given"#
    );
}

/// bindAddress takes an IPv4 or escaped IPv6 literal.
#[test]
fn tcp_bind_address() {
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(
        client("tcp:h:80:bindAddress=10.0.0.2"),
        tcp("h", 80, THIRTY_SECONDS, Some(v4))
    );
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert_eq!(
        client(r"tcp:h:80:bindAddress=\:\:1"),
        tcp("h", 80, THIRTY_SECONDS, Some(v6))
    );
}

/// A bindAddress that is not an IP literal is refused.
#[test]
fn tcp_bad_bind_address_is_refused() {
    let error = client_error("tcp:h:80:bindAddress=localhost");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("bindAddress"));
    assert!(
        error
            .to_string()
            .ends_with(r#"bindAddress "localhost" is not an IPv4 or IPv6 address"#)
    );
    assert_error(
        &client_error("tcp:h:80:bindAddress="),
        EndpointErrorKind::InvalidValue,
        Some("bindAddress"),
    );
}

/// The bindAddress keyword is case-sensitive, as in Twisted.
#[test]
fn tcp_bind_address_keyword_is_case_sensitive() {
    let error = client_error("tcp:h:80:bindaddress=10.0.0.2");
    assert_error(
        &error,
        EndpointErrorKind::UnknownParameter,
        Some("bindaddress"),
    );
    assert!(
        error
            .to_string()
            .ends_with("(known: host, port, timeout, bindAddress)"),
        "{error}"
    );
}

/// Every client tcp parameter may be given by name at once.
#[test]
fn tcp_all_by_name() {
    let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(
        client("tcp:bindAddress=127.0.0.1:timeout=1.5:port=443:host=example.org"),
        tcp("example.org", 443, Duration::from_millis(1500), Some(v4))
    );
}

/// Server-only parameters are unknown to a tcp client.
#[test]
fn tcp_client_refuses_server_parameters() {
    assert_error(
        &client_error("tcp:h:80:backlog=5"),
        EndpointErrorKind::UnknownParameter,
        Some("backlog"),
    );
    assert_error(
        &client_error("tcp:h:80:interface=1.2.3.4"),
        EndpointErrorKind::UnknownParameter,
        Some("interface"),
    );
}

/// A client parameter given twice by name is refused.
#[test]
fn tcp_timeout_twice_is_duplicate() {
    assert_error(
        &client_error("tcp:h:80:timeout=1:timeout=2"),
        EndpointErrorKind::DuplicateParameter,
        Some("timeout"),
    );
}

/// `unix:PATH` waits 30 seconds and checks no lock file by default.
#[test]
fn unix_path_alone_uses_defaults() {
    assert_eq!(
        client("unix:/run/app.sock"),
        unix("/run/app.sock", THIRTY_SECONDS, false)
    );
}

/// The path may be given by name as `path`.
#[test]
fn unix_path_by_name() {
    assert_eq!(
        client("unix:path=/run/app.sock"),
        unix("/run/app.sock", THIRTY_SECONDS, false)
    );
    assert_eq!(
        client("unix:path=/tmp/a=b"),
        unix("/tmp/a=b", THIRTY_SECONDS, false)
    );
}

/// `address` is the server's name for the path and is unknown to a client.
#[test]
fn unix_client_refuses_address() {
    let error = client_error("unix:address=/s");
    assert_error(&error, EndpointErrorKind::UnknownParameter, Some("address"));
    assert!(
        error
            .to_string()
            .ends_with("(known: path, timeout, lockfile, checkPID)"),
        "{error}"
    );
}

/// The client timeout is given by name, whole or fractional.
#[test]
fn unix_timeout() {
    assert_eq!(
        client("unix:/s:timeout=5"),
        unix("/s", Duration::from_secs(5), false)
    );
    assert_eq!(
        client("unix:/s:timeout=0.1"),
        unix("/s", Duration::from_millis(100), false)
    );
    assert_error(
        &client_error("unix:/s:timeout=0"),
        EndpointErrorKind::InvalidValue,
        Some("timeout"),
    );
}

/// The lock file check is turned on by `lockfile=1` or Twisted's `checkPID=1`.
#[test]
fn unix_lockfile_and_check_pid() {
    assert_eq!(
        client("unix:/s:lockfile=1"),
        unix("/s", THIRTY_SECONDS, true)
    );
    assert_eq!(
        client("unix:/s:checkPID=1"),
        unix("/s", THIRTY_SECONDS, true)
    );
    assert_eq!(
        client("unix:/s:checkPID=0"),
        unix("/s", THIRTY_SECONDS, false)
    );
}

/// `lockfile` and `checkPID` are the same parameter, so both together are a duplicate.
#[test]
fn unix_lockfile_and_check_pid_together_is_duplicate() {
    let error = client_error("unix:/s:lockfile=1:checkPID=1");
    assert_error(
        &error,
        EndpointErrorKind::DuplicateParameter,
        Some("lockfile"),
    );
}

/// A lock file flag other than 0 or 1 is refused under either name.
#[test]
fn unix_bad_lockfile_is_refused() {
    assert_error(
        &client_error("unix:/s:lockfile=yes"),
        EndpointErrorKind::InvalidValue,
        Some("lockfile"),
    );
    let error = client_error("unix:/s:checkPID=2");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("lockfile"));
    assert!(
        error.to_string().ends_with(r#"checkPID "2" is not 0 or 1"#),
        "{error}"
    );
}

/// Only the path may be given by position.
#[test]
fn unix_timeout_by_position_is_too_many() {
    let error = client_error("unix:/s:5");
    assert_error(&error, EndpointErrorKind::TooManyArguments, None);
    assert!(
        error
            .to_string()
            .ends_with("unix takes at most 1 positional field (path) but 2 were given"),
        "{error}"
    );
}

/// Empty, missing, too long and NUL-containing client paths are refused.
#[test]
fn unix_bad_paths_are_refused() {
    assert_error(
        &client_error("unix:"),
        EndpointErrorKind::InvalidValue,
        Some("path"),
    );
    assert_error(
        &client_error("unix:timeout=1"),
        EndpointErrorKind::MissingParameter,
        Some("path"),
    );
    let too_long = format!("unix:/{}", "s".repeat(UNIX_PATH_MAX));
    assert_error(
        &client_error(&too_long),
        EndpointErrorKind::PathTooLong,
        Some("path"),
    );
    assert_error(
        &client_error("unix:/a\0"),
        EndpointErrorKind::InvalidValue,
        Some("path"),
    );
}

/// Server-only parameters are unknown to a unix client.
#[test]
fn unix_client_refuses_server_parameters() {
    assert_error(
        &client_error("unix:/s:mode=600"),
        EndpointErrorKind::UnknownParameter,
        Some("mode"),
    );
    assert_error(
        &client_error("unix:/s:backlog=5"),
        EndpointErrorKind::UnknownParameter,
        Some("backlog"),
    );
}

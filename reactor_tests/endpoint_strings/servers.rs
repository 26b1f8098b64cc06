//! Server descriptions: `tcp:`, `tcp6:`, `unix:` and `systemd:`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use torsion::endpoints::{
    DEFAULT_BACKLOG, DEFAULT_UNIX_MODE, EndpointErrorKind, ServerEndpoint, SystemdDomain,
    SystemdSelector, UNIX_PATH_MAX,
};

use super::{assert_error, server, server_error};

/// A `tcp:` server endpoint.
fn tcp(port: u16, interface: IpAddr, backlog: u32) -> ServerEndpoint {
    ServerEndpoint::Tcp {
        port,
        interface,
        backlog,
    }
}

/// A `tcp6:` server endpoint.
fn tcp6(port: u16, interface: Ipv6Addr, backlog: u32) -> ServerEndpoint {
    ServerEndpoint::Tcp6 {
        port,
        interface,
        backlog,
    }
}

/// A `unix:` server endpoint.
fn unix(path: &str, mode: u32, backlog: u32, lockfile: bool) -> ServerEndpoint {
    ServerEndpoint::Unix {
        path: PathBuf::from(path),
        mode,
        backlog,
        lockfile,
    }
}

/// A `systemd:` server endpoint.
fn systemd(domain: SystemdDomain, selector: SystemdSelector) -> ServerEndpoint {
    ServerEndpoint::Systemd { domain, selector }
}

const ANY_V4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const LOOPBACK_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOOPBACK_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// `tcp:PORT` listens on every IPv4 address with the default backlog of 50.
#[test]
fn tcp_port_alone_uses_defaults() {
    assert_eq!(server("tcp:8080"), tcp(8080, ANY_V4, 50));
    assert_eq!(DEFAULT_BACKLOG, 50);
}

/// The port may be given by name as well as by position.
#[test]
fn tcp_port_by_name() {
    assert_eq!(server("tcp:port=8080"), server("tcp:8080"));
}

/// Port 0 (any free port) and port 65535 are both accepted.
#[test]
fn tcp_port_bounds_accepted() {
    assert_eq!(server("tcp:0"), tcp(0, ANY_V4, 50));
    assert_eq!(server("tcp:65535"), tcp(65535, ANY_V4, 50));
}

/// A port that is not a number from 0 to 65535 is refused, naming the port.
#[test]
fn tcp_bad_port_is_refused() {
    let error = server_error("tcp:80x:backlog=5");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("port"));
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:80x:backlog=5": port "80x" is not a number from 0 to 65535"#
    );
    for port in [
        "65536",
        "-1",
        "+80",
        " 80",
        "80 ",
        "",
        "0x50",
        "8_0",
        "99999999999999999999999",
    ] {
        let error = server_error(&format!("tcp:{port}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("port"));
    }
}

/// Leading zeros in a port are just a decimal number.
#[test]
fn tcp_port_leading_zeros_are_decimal() {
    assert_eq!(server("tcp:0080"), tcp(80, ANY_V4, 50));
}

/// The interface may be given by name.
#[test]
fn tcp_interface_by_name() {
    assert_eq!(
        server("tcp:80:interface=127.0.0.1"),
        tcp(80, LOOPBACK_V4, 50)
    );
}

/// The interface may be given as the second positional value.
#[test]
fn tcp_interface_by_position() {
    assert_eq!(server("tcp:80:127.0.0.1"), tcp(80, LOOPBACK_V4, 50));
}

/// An escaped IPv6 interface makes a `tcp:` endpoint listen on IPv6.
#[test]
fn tcp_ipv6_interface_escaped() {
    assert_eq!(server(r"tcp:80:interface=\:\:1"), tcp(80, LOOPBACK_V6, 50));
    assert_eq!(
        server(r"tcp:80:\:\:"),
        tcp(80, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 50)
    );
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap_or(ANY_V4);
    assert_eq!(
        server(r"tcp:80:interface=\:\:ffff\:10.0.0.1"),
        tcp(80, mapped, 50)
    );
}

/// An empty interface means the default, as in Twisted.
#[test]
fn tcp_empty_interface_is_default() {
    assert_eq!(server("tcp:80:interface="), tcp(80, ANY_V4, 50));
}

/// An interface that is not an IP literal is refused, naming the interface.
#[test]
fn tcp_bad_interface_is_refused() {
    let error = server_error("tcp:80:interface=localhost");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("interface"));
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:80:interface=localhost": interface "localhost" is not an IPv4 or IPv6 address"#
    );
    assert_error(
        &server_error("tcp:80:interface=1.2.3.4.5"),
        EndpointErrorKind::InvalidValue,
        Some("interface"),
    );
    assert_error(
        &server_error(r"tcp:80:interface=fe80\:\:1%eth0"),
        EndpointErrorKind::InvalidValue,
        Some("interface"),
    );
}

/// An unescaped IPv6 interface is refused with a hint about escaping colons.
#[test]
fn tcp_unescaped_ipv6_interface_hints_at_escaping() {
    let error = server_error("tcp:80:interface=::1");
    assert_error(
        &error,
        EndpointErrorKind::DuplicateParameter,
        Some("interface"),
    );
    assert!(
        error.to_string().contains(r"write IPv6 addresses as \:\:1"),
        "{error}"
    );
}

/// The backlog may be given by name.
#[test]
fn tcp_backlog_by_name() {
    assert_eq!(server("tcp:80:backlog=128"), tcp(80, ANY_V4, 128));
}

/// The backlog may be given as the third positional value.
#[test]
fn tcp_backlog_by_position() {
    assert_eq!(server("tcp:80:127.0.0.1:7"), tcp(80, LOOPBACK_V4, 7));
}

/// Backlogs from 0 to i32::MAX are accepted; anything else is refused.
#[test]
fn tcp_backlog_bounds() {
    assert_eq!(server("tcp:80:backlog=0"), tcp(80, ANY_V4, 0));
    assert_eq!(
        server("tcp:80:backlog=2147483647"),
        tcp(80, ANY_V4, 2_147_483_647)
    );
    for backlog in ["2147483648", "-1", "many", ""] {
        let error = server_error(&format!("tcp:80:backlog={backlog}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("backlog"));
    }
    assert!(
        server_error("tcp:80:backlog=x")
            .to_string()
            .ends_with(r#"backlog "x" is not a number from 0 to 2147483647"#)
    );
}

/// Every parameter may be given by name, in any order.
#[test]
fn tcp_all_by_name_in_any_order() {
    assert_eq!(
        server("tcp:backlog=3:interface=127.0.0.1:port=81"),
        tcp(81, LOOPBACK_V4, 3)
    );
}

/// Parameter names are case-sensitive, as Python keywords are.
#[test]
fn tcp_parameter_names_are_case_sensitive() {
    let error = server_error("tcp:PORT=80");
    assert_error(&error, EndpointErrorKind::UnknownParameter, Some("PORT"));
}

/// An unknown parameter is refused, naming it and listing the known ones.
#[test]
fn tcp_unknown_parameter_is_refused() {
    let error = server_error("tcp:8080:interfce=::1");
    assert_error(
        &error,
        EndpointErrorKind::UnknownParameter,
        Some("interfce"),
    );
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:8080:interfce=::1": unknown parameter "interfce" for tcp (known: port, interface, backlog)"#
    );
}

/// A parameter given by position and again by name is refused.
#[test]
fn tcp_port_by_position_and_name_is_duplicate() {
    let error = server_error("tcp:80:port=81");
    assert_error(&error, EndpointErrorKind::DuplicateParameter, Some("port"));
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:80:port=81": parameter "port" is given more than once"#
    );
}

/// A parameter given by name twice is refused, even with the same value.
#[test]
fn tcp_backlog_by_name_twice_is_duplicate() {
    let error = server_error("tcp:80:backlog=5:backlog=5");
    assert_error(
        &error,
        EndpointErrorKind::DuplicateParameter,
        Some("backlog"),
    );
}

/// More positional values than parameters are refused.
#[test]
fn tcp_too_many_positional_values() {
    let error = server_error("tcp:80:127.0.0.1:5:6");
    assert_error(&error, EndpointErrorKind::TooManyArguments, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:80:127.0.0.1:5:6": tcp takes at most 3 positional fields (port, interface, backlog) but 4 were given"#
    );
}

/// A `tcp:` server without a port is refused, naming the port.
#[test]
fn tcp_missing_port_is_refused() {
    let error = server_error("tcp:interface=127.0.0.1");
    assert_error(&error, EndpointErrorKind::MissingParameter, Some("port"));
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp:interface=127.0.0.1": missing parameter "port" for tcp (known: port, interface, backlog)"#
    );
    assert_error(
        &server_error("tcp"),
        EndpointErrorKind::MissingParameter,
        Some("port"),
    );
}

/// `tcp6:PORT` listens on every IPv6 address with the default backlog.
#[test]
fn tcp6_port_alone_uses_defaults() {
    assert_eq!(server("tcp6:8080"), tcp6(8080, Ipv6Addr::UNSPECIFIED, 50));
    assert_eq!(server("tcp6:port=8080"), server("tcp6:8080"));
}

/// A `tcp6:` interface may be given by name or by position, escaped.
#[test]
fn tcp6_interface_by_name_and_position() {
    assert_eq!(
        server(r"tcp6:80:interface=\:\:1"),
        tcp6(80, Ipv6Addr::LOCALHOST, 50)
    );
    assert_eq!(server(r"tcp6:80:\:\:1"), tcp6(80, Ipv6Addr::LOCALHOST, 50));
    assert_eq!(
        server("tcp6:80:interface="),
        tcp6(80, Ipv6Addr::UNSPECIFIED, 50)
    );
}

/// A `tcp6:` backlog may be given by name or by position.
#[test]
fn tcp6_backlog_by_name_and_position() {
    assert_eq!(
        server("tcp6:80:backlog=9"),
        tcp6(80, Ipv6Addr::UNSPECIFIED, 9)
    );
    assert_eq!(server(r"tcp6:80:\:\:1:9"), tcp6(80, Ipv6Addr::LOCALHOST, 9));
}

/// An IPv4 interface on `tcp6:` is refused with a pointer to `tcp:`.
#[test]
fn tcp6_ipv4_interface_is_refused() {
    let error = server_error("tcp6:80:interface=127.0.0.1");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("interface"));
    assert!(error.to_string().contains("use tcp for IPv4"), "{error}");
    assert_error(
        &server_error("tcp6:80:interface=nope"),
        EndpointErrorKind::InvalidValue,
        Some("interface"),
    );
}

/// `tcp6:` refuses bad ports, unknown names and surplus values like `tcp:`.
#[test]
fn tcp6_errors_name_tcp6() {
    assert_error(
        &server_error("tcp6:x"),
        EndpointErrorKind::InvalidValue,
        Some("port"),
    );
    let error = server_error("tcp6:80:bogus=1");
    assert!(
        error
            .to_string()
            .contains("for tcp6 (known: port, interface, backlog)"),
        "{error}"
    );
    assert_error(
        &server_error(r"tcp6:80:\:\::1:2"),
        EndpointErrorKind::TooManyArguments,
        None,
    );
    assert_error(
        &server_error("tcp6"),
        EndpointErrorKind::MissingParameter,
        Some("port"),
    );
}

/// `unix:PATH` uses mode 666, backlog 50 and a lock file by default.
#[test]
fn unix_path_alone_uses_defaults() {
    assert_eq!(
        server("unix:/tmp/s.sock"),
        unix("/tmp/s.sock", 0o666, 50, true)
    );
    assert_eq!(DEFAULT_UNIX_MODE, 0o666);
}

/// The path may be given by name as `address` (Twisted's name) or `path`.
#[test]
fn unix_path_by_name_and_alias() {
    assert_eq!(
        server("unix:address=/tmp/s"),
        unix("/tmp/s", 0o666, 50, true)
    );
    assert_eq!(server("unix:path=/tmp/s"), unix("/tmp/s", 0o666, 50, true));
}

/// A relative path is kept as written.
#[test]
fn unix_relative_path_is_kept() {
    assert_eq!(server("unix:run/s"), unix("run/s", 0o666, 50, true));
}

/// Colons and backslashes in a path are written escaped.
#[test]
fn unix_path_with_escapes() {
    assert_eq!(
        server(r"unix:/tmp/a\:b\\c"),
        unix(r"/tmp/a:b\c", 0o666, 50, true)
    );
    assert_eq!(server(r"unix:/tmp/a\=b"), unix("/tmp/a=b", 0o666, 50, true));
    assert_eq!(
        server("unix:address=/tmp/a=b"),
        unix("/tmp/a=b", 0o666, 50, true)
    );
}

/// An unescaped `=` in a positional path turns it into an unknown parameter.
#[test]
fn unix_unescaped_equals_in_path_is_a_keyword() {
    let error = server_error("unix:/tmp/a=b");
    assert_error(&error, EndpointErrorKind::UnknownParameter, Some("/tmp/a"));
    assert!(
        error
            .to_string()
            .contains("(known: address, path, mode, backlog, lockfile)"),
        "{error}"
    );
}

/// The mode is read as octal, by name or by position.
#[test]
fn unix_mode_is_octal() {
    assert_eq!(server("unix:/s:mode=600"), unix("/s", 0o600, 50, true));
    assert_eq!(server("unix:/s:660"), unix("/s", 0o660, 50, true));
    assert_eq!(server("unix:/s:mode=0600"), unix("/s", 0o600, 50, true));
    assert_eq!(server("unix:/s:mode=0o700"), unix("/s", 0o700, 50, true));
    assert_eq!(server("unix:/s:mode=0"), unix("/s", 0, 50, true));
    assert_eq!(server("unix:/s:mode=777"), unix("/s", 0o777, 50, true));
}

/// A mode that is not octal or exceeds 777 is refused, naming the mode.
#[test]
fn unix_bad_mode_is_refused() {
    for mode in [
        "1000",
        "8",
        "9",
        "rw",
        "",
        "-1",
        "0o",
        "0x1ff",
        "7777777777777777",
    ] {
        let error = server_error(&format!("unix:/s:mode={mode}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("mode"));
    }
    assert!(
        server_error("unix:/s:mode=8")
            .to_string()
            .ends_with(r#"mode "8" is not an octal mode from 0 to 777"#)
    );
}

/// The backlog may be given by name or as the third positional value.
#[test]
fn unix_backlog_by_name_and_position() {
    assert_eq!(server("unix:/s:backlog=5"), unix("/s", 0o666, 5, true));
    assert_eq!(server("unix:/s:600:5"), unix("/s", 0o600, 5, true));
    assert_error(
        &server_error("unix:/s:backlog=x"),
        EndpointErrorKind::InvalidValue,
        Some("backlog"),
    );
}

/// The lock file is turned off with 0 and on with 1, by name or by position.
#[test]
fn unix_lockfile_flag() {
    assert_eq!(server("unix:/s:lockfile=0"), unix("/s", 0o666, 50, false));
    assert_eq!(server("unix:/s:lockfile=1"), unix("/s", 0o666, 50, true));
    assert_eq!(server("unix:/s:600:5:0"), unix("/s", 0o600, 5, false));
}

/// A lock file flag other than 0 or 1 is refused.
#[test]
fn unix_bad_lockfile_is_refused() {
    for flag in ["2", "true", "", "yes", "01"] {
        let error = server_error(&format!("unix:/s:lockfile={flag}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("lockfile"));
    }
    assert!(
        server_error("unix:/s:lockfile=2")
            .to_string()
            .ends_with(r#"lockfile "2" is not 0 or 1"#)
    );
}

/// An empty path is refused.
#[test]
fn unix_empty_path_is_refused() {
    let error = server_error("unix:");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("address"));
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "unix:": address "" is empty"#
    );
    let by_alias = server_error("unix:path=");
    assert!(
        by_alias.to_string().ends_with(r#"path "" is empty"#),
        "{by_alias}"
    );
    assert_eq!(by_alias.field(), Some("address"));
}

/// A `unix:` server without any path is refused as missing its address.
#[test]
fn unix_missing_path_is_refused() {
    assert_error(
        &server_error("unix"),
        EndpointErrorKind::MissingParameter,
        Some("address"),
    );
    assert_error(
        &server_error("unix:mode=600"),
        EndpointErrorKind::MissingParameter,
        Some("address"),
    );
}

/// A path of exactly the sun_path limit is accepted; one byte more is refused.
#[test]
fn unix_path_length_limit() {
    let longest = format!("/{}", "a".repeat(UNIX_PATH_MAX - 1));
    assert_eq!(
        server(&format!("unix:{longest}")),
        unix(&longest, 0o666, 50, true)
    );
    let too_long = format!("/{}", "a".repeat(UNIX_PATH_MAX));
    let error = server_error(&format!("unix:{too_long}"));
    assert_error(&error, EndpointErrorKind::PathTooLong, Some("address"));
    let expected = format!(
        "is {} bytes long; unix socket paths may be at most {UNIX_PATH_MAX} bytes",
        UNIX_PATH_MAX + 1
    );
    assert!(error.to_string().ends_with(&expected), "{error}");
}

/// The path limit counts bytes, not characters.
#[test]
fn unix_path_length_counts_bytes() {
    let multibyte = format!("/{}", "é".repeat(UNIX_PATH_MAX / 2 + 1));
    assert!(multibyte.chars().count() <= UNIX_PATH_MAX && multibyte.len() > UNIX_PATH_MAX);
    assert_error(
        &server_error(&format!("unix:{multibyte}")),
        EndpointErrorKind::PathTooLong,
        Some("address"),
    );
}

/// A path containing a NUL byte is refused.
#[test]
fn unix_path_with_nul_is_refused() {
    let error = server_error("unix:/tmp/a\0b");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("address"));
    assert!(
        error
            .to_string()
            .contains(r#""/tmp/a\u{0}b" contains a NUL byte"#),
        "{error}"
    );
}

/// Giving the path both as `address` and `path` is a duplicate.
#[test]
fn unix_address_and_path_alias_is_duplicate() {
    let error = server_error("unix:address=/a:path=/b");
    assert_error(
        &error,
        EndpointErrorKind::DuplicateParameter,
        Some("address"),
    );
    assert_error(
        &server_error("unix:/a:path=/b"),
        EndpointErrorKind::DuplicateParameter,
        Some("address"),
    );
}

/// More than four positional values are refused for a `unix:` server.
#[test]
fn unix_too_many_positional_values() {
    let error = server_error("unix:/s:600:5:1:extra");
    assert_error(&error, EndpointErrorKind::TooManyArguments, None);
    assert!(error.to_string().contains("unix takes at most 4 positional fields (address, mode, backlog, lockfile) but 5 were given"), "{error}");
}

/// A client-only parameter is unknown to a `unix:` server.
#[test]
fn unix_server_refuses_timeout() {
    assert_error(
        &server_error("unix:/s:timeout=5"),
        EndpointErrorKind::UnknownParameter,
        Some("timeout"),
    );
}

/// `systemd:` selects a descriptor by index for each domain.
#[test]
fn systemd_by_index_for_each_domain() {
    assert_eq!(
        server("systemd:domain=INET:index=0"),
        systemd(SystemdDomain::Inet, SystemdSelector::Index(0))
    );
    assert_eq!(
        server("systemd:domain=INET6:index=1"),
        systemd(SystemdDomain::Inet6, SystemdSelector::Index(1))
    );
    assert_eq!(
        server("systemd:domain=UNIX:index=2"),
        systemd(SystemdDomain::Unix, SystemdSelector::Index(2))
    );
}

/// `systemd:` selects a descriptor by its FileDescriptorName.
#[test]
fn systemd_by_name() {
    let expected = systemd(
        SystemdDomain::Inet,
        SystemdSelector::Name("web".to_string()),
    );
    assert_eq!(server("systemd:domain=INET:name=web"), expected);
    let escaped = systemd(
        SystemdDomain::Unix,
        SystemdSelector::Name("a:b".to_string()),
    );
    assert_eq!(server(r"systemd:domain=UNIX:name=a\:b"), escaped);
}

/// The domain is matched without regard to case.
#[test]
fn systemd_domain_is_case_insensitive() {
    assert_eq!(
        server("systemd:domain=inet6:index=0"),
        server("systemd:domain=INET6:index=0")
    );
    assert_eq!(SystemdDomain::from_name("Unix"), Some(SystemdDomain::Unix));
    assert_eq!(SystemdDomain::Inet6.as_str(), "INET6");
}

/// Domain, index and name may all be given by position.
#[test]
fn systemd_by_position() {
    assert_eq!(
        server("systemd:INET:3"),
        systemd(SystemdDomain::Inet, SystemdSelector::Index(3))
    );
    assert_eq!(
        server("systemd:UNIX:index=1"),
        systemd(SystemdDomain::Unix, SystemdSelector::Index(1))
    );
    assert_eq!(
        server("systemd:index=1:domain=UNIX"),
        systemd(SystemdDomain::Unix, SystemdSelector::Index(1))
    );
}

/// Giving both index and name is refused as conflicting.
#[test]
fn systemd_index_and_name_conflict() {
    let error = server_error("systemd:domain=INET:index=0:name=web");
    assert_error(
        &error,
        EndpointErrorKind::ConflictingParameters,
        Some("name"),
    );
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "systemd:domain=INET:index=0:name=web": parameters "index" and "name" exclude each other for systemd (give exactly one)"#
    );
}

/// Giving neither index nor name is refused as missing.
#[test]
fn systemd_neither_index_nor_name_is_missing() {
    let error = server_error("systemd:domain=INET");
    assert_error(&error, EndpointErrorKind::MissingParameter, Some("index"));
    assert!(
        error
            .to_string()
            .ends_with(r#"missing parameter "index" or "name" for systemd (give exactly one)"#)
    );
}

/// A `systemd:` endpoint without a domain is refused, naming the domain.
#[test]
fn systemd_missing_domain() {
    assert_error(
        &server_error("systemd:index=0"),
        EndpointErrorKind::MissingParameter,
        Some("domain"),
    );
}

/// An unknown domain is refused with the list of domains.
#[test]
fn systemd_bad_domain() {
    let error = server_error("systemd:domain=IPX:index=0");
    assert_error(&error, EndpointErrorKind::InvalidValue, Some("domain"));
    assert!(
        error
            .to_string()
            .ends_with(r#"domain "IPX" is not one of INET, INET6, UNIX"#)
    );
}

/// An index that is not a non-negative whole number is refused.
#[test]
fn systemd_bad_index() {
    for index in ["-1", "x", "", "1.5", "99999999999999999999999"] {
        let error = server_error(&format!("systemd:domain=INET:index={index}"));
        assert_error(&error, EndpointErrorKind::InvalidValue, Some("index"));
    }
}

/// An empty descriptor name is refused.
#[test]
fn systemd_empty_name() {
    assert_error(
        &server_error("systemd:domain=INET:name="),
        EndpointErrorKind::InvalidValue,
        Some("name"),
    );
}

/// Unknown parameters and surplus positional values are refused for `systemd:`.
#[test]
fn systemd_unknown_and_surplus() {
    let error = server_error("systemd:domain=INET:index=0:fd=3");
    assert_error(&error, EndpointErrorKind::UnknownParameter, Some("fd"));
    assert!(error.to_string().contains("(known: domain, index, name)"));
    assert_error(
        &server_error("systemd:INET:0:web:x"),
        EndpointErrorKind::TooManyArguments,
        None,
    );
    assert_error(
        &server_error("systemd:INET:domain=UNIX:index=0"),
        EndpointErrorKind::DuplicateParameter,
        Some("domain"),
    );
}

//! Canonical display, quoting and the shape of error messages.

use std::error::Error;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use torsion::endpoints::{
    ClientEndpoint, EndpointErrorKind, ServerEndpoint, SystemdDomain, SystemdSelector,
    parse_client, parse_server, quote_string_argument,
};

use super::{client, client_error, server, server_error};

/// Server descriptions whose canonical form is checked.
const SERVER_CANONICAL: &[(&str, &str)] = &[
    ("tcp:8080", "tcp:8080"),
    ("TCP:port=8080:backlog=50:interface=0.0.0.0", "tcp:8080"),
    ("tcp:80:127.0.0.1:7", "tcp:80:interface=127.0.0.1:backlog=7"),
    (r"tcp:0:interface=\:\:1", r"tcp:0:interface=\:\:1"),
    ("tcp6:443", "tcp6:443"),
    (
        r"tcp6:443:\:\:1:128",
        r"tcp6:443:interface=\:\:1:backlog=128",
    ),
    ("unix:/tmp/s", "unix:/tmp/s"),
    (
        "unix:address=/tmp/s:mode=666:lockfile=1:backlog=50",
        "unix:/tmp/s",
    ),
    (
        "unix:/tmp/s:0600:5:0",
        "unix:/tmp/s:mode=600:backlog=5:lockfile=0",
    ),
    ("unix:path=/tmp/a=b", r"unix:/tmp/a\=b"),
    (r"unix:/tmp/a\:b\\c", r"unix:/tmp/a\:b\\c"),
    ("systemd:INET:0", "systemd:domain=INET:index=0"),
    (
        "systemd:domain=unix:name=web",
        "systemd:domain=UNIX:name=web",
    ),
];

/// Client descriptions whose canonical form is checked.
const CLIENT_CANONICAL: &[(&str, &str)] = &[
    ("tcp:example.com:80", "tcp:example.com:80"),
    ("tcp:host=h:port=80:timeout=30", "tcp:h:80"),
    ("tcp:h:80:timeout=0.50", "tcp:h:80:timeout=0.5"),
    (
        "tcp:h:80:timeout=1.000000001",
        "tcp:h:80:timeout=1.000000001",
    ),
    (
        r"tcp:host=\:\:1:port=80:bindAddress=\:\:1",
        r"tcp:\:\:1:80:bindAddress=\:\:1",
    ),
    (
        "tcp:h:80:bindAddress=10.0.0.1:timeout=7",
        "tcp:h:80:timeout=7:bindAddress=10.0.0.1",
    ),
    ("unix:/s", "unix:/s"),
    (
        "unix:path=/s:timeout=2.5:checkPID=1",
        "unix:/s:timeout=2.5:lockfile=1",
    ),
    ("unix:/s:lockfile=0", "unix:/s"),
];

/// Each server endpoint prints as its shortest canonical description.
#[test]
fn server_display_is_canonical() {
    for (text, canonical) in SERVER_CANONICAL {
        assert_eq!(server(text).to_string(), *canonical, "for {text:?}");
    }
}

/// Each client endpoint prints as its shortest canonical description.
#[test]
fn client_display_is_canonical() {
    for (text, canonical) in CLIENT_CANONICAL {
        assert_eq!(client(text).to_string(), *canonical, "for {text:?}");
    }
}

/// Parsing a server endpoint's display gives back an equal endpoint.
#[test]
fn server_display_round_trips() {
    for (text, _) in SERVER_CANONICAL {
        let endpoint = server(text);
        assert_eq!(server(&endpoint.to_string()), endpoint, "for {text:?}");
    }
}

/// Parsing a client endpoint's display gives back an equal endpoint.
#[test]
fn client_display_round_trips() {
    for (text, _) in CLIENT_CANONICAL {
        let endpoint = client(text);
        assert_eq!(client(&endpoint.to_string()), endpoint, "for {text:?}");
    }
}

/// Endpoints built directly with awkward values also survive display and parse.
#[test]
fn constructed_endpoints_round_trip() {
    let servers = [
        ServerEndpoint::Tcp {
            port: 1,
            interface: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            backlog: 0,
        },
        ServerEndpoint::Tcp6 {
            port: 65535,
            interface: "fe80::1:2".parse().unwrap_or(Ipv6Addr::LOCALHOST),
            backlog: 1,
        },
        ServerEndpoint::Unix {
            path: PathBuf::from(r"/a:b=c\d é"),
            mode: 0,
            backlog: 9,
            lockfile: false,
        },
        ServerEndpoint::Systemd {
            domain: SystemdDomain::Inet6,
            selector: SystemdSelector::Name(r"x:y=z\".into()),
        },
        ServerEndpoint::Systemd {
            domain: SystemdDomain::Unix,
            selector: SystemdSelector::Index(usize::MAX),
        },
    ];
    for endpoint in servers {
        assert_eq!(
            parse_server(&endpoint.to_string()).as_ref(),
            Ok(&endpoint),
            "{endpoint}"
        );
    }
    let clients = [
        ClientEndpoint::Tcp {
            host: r"we:ird=ho\st".into(),
            port: 9,
            timeout: Duration::new(u64::MAX, 999_999_999),
            bind_address: None,
        },
        ClientEndpoint::Unix {
            path: PathBuf::from("=start"),
            timeout: Duration::from_nanos(1),
            lockfile: true,
        },
    ];
    for endpoint in clients {
        assert_eq!(
            parse_client(&endpoint.to_string()).as_ref(),
            Ok(&endpoint),
            "{endpoint}"
        );
    }
}

/// Quoting escapes backslashes and colons and leaves everything else alone.
#[test]
fn quote_string_argument_escapes_backslash_and_colon() {
    assert_eq!(quote_string_argument(r"a:b\c=d"), r"a\:b\\c=d");
    assert_eq!(quote_string_argument("plain"), "plain");
    assert_eq!(quote_string_argument(""), "");
    assert_eq!(quote_string_argument(r"\:"), r"\\\:");
}

/// A quoted path given by name parses back to the same path, `=` included.
#[test]
fn quoted_path_round_trips_by_name() {
    for path in [r"/tmp/a:b", r"C:\x", r"/a\:b", "/x=y=z", "::", r"\", "é:☃"] {
        let quoted = quote_string_argument(path);
        let expected = PathBuf::from(path);
        match server(&format!("unix:address={quoted}")) {
            ServerEndpoint::Unix { path, .. } => assert_eq!(path, expected),
            other => panic!("not unix: {other:?}"),
        }
        match client(&format!("unix:path={quoted}")) {
            ClientEndpoint::Unix { path, .. } => assert_eq!(path, expected),
            other => panic!("not unix: {other:?}"),
        }
    }
}

/// A quoted path without `=` also parses back by position.
#[test]
fn quoted_path_round_trips_by_position() {
    for path in [r"/tmp/a:b", r"C:\x\", "::1", r"\\server\share"] {
        let quoted = quote_string_argument(path);
        match server(&format!("unix:{quoted}:mode=600")) {
            ServerEndpoint::Unix {
                path: parsed, mode, ..
            } => {
                assert_eq!(parsed, PathBuf::from(path));
                assert_eq!(mode, 0o600);
            }
            other => panic!("not unix: {other:?}"),
        }
    }
}

/// One server description per error kind, with the field each error names.
const ONE_PER_KIND: &[(&str, EndpointErrorKind, Option<&str>)] = &[
    ("", EndpointErrorKind::Empty, None),
    (r"tcp:80\", EndpointErrorKind::TrailingBackslash, None),
    ("port=80", EndpointErrorKind::MissingType, None),
    ("quic:443", EndpointErrorKind::UnknownType, None),
    (
        "tcp:80:bogus=1",
        EndpointErrorKind::UnknownParameter,
        Some("bogus"),
    ),
    (
        "tcp:80:port=80",
        EndpointErrorKind::DuplicateParameter,
        Some("port"),
    ),
    ("tcp:1:2:3:4", EndpointErrorKind::TooManyArguments, None),
    (
        "tcp:backlog=1",
        EndpointErrorKind::MissingParameter,
        Some("port"),
    ),
    (
        "systemd:INET:index=0:name=a",
        EndpointErrorKind::ConflictingParameters,
        Some("name"),
    ),
    ("tcp:http", EndpointErrorKind::InvalidValue, Some("port")),
];

/// Every error kind is reported with its kind, field and the description it concerns.
#[test]
fn each_error_kind_has_kind_field_and_description() {
    for (text, kind, field) in ONE_PER_KIND {
        let error = server_error(text);
        assert_eq!(error.kind(), *kind, "{error}");
        assert_eq!(error.field(), *field, "{error}");
        assert_eq!(error.description(), *text);
        let prefix = format!("bad endpoint \"{text}\": ");
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }
    let long = format!("unix:/{}", "x".repeat(200));
    assert_eq!(server_error(&long).kind(), EndpointErrorKind::PathTooLong);
}

/// Messages stay on one line even when the description contains control characters.
#[test]
fn error_message_is_one_line() {
    let error = server_error("tcp:8\n0");
    let message = error.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert_eq!(
        message,
        r#"bad endpoint "tcp:8\n0": port "8\n0" is not a number from 0 to 65535"#
    );
    for text in ["unix:/a\u{2028}b:mode=9", "tcp:\r\t:x=1", "\u{85}:1"] {
        let message = server_error(text).to_string();
        assert_eq!(message.lines().count(), 1, "{message:?}");
    }
}

/// The error is a standard error that can be boxed and has no source.
#[test]
fn error_is_std_error() {
    let boxed: Box<dyn Error + Send + Sync> = Box::new(client_error("tcp:h:0"));
    assert!(boxed.source().is_none());
    assert!(boxed.to_string().starts_with("bad endpoint"));
}

/// Errors compare equal when they concern the same description in the same way.
#[test]
fn errors_are_comparable_and_cloneable() {
    let error = server_error("tcp:x");
    assert_eq!(error.clone(), server_error("tcp:x"));
    assert_ne!(error, server_error("tcp:y"));
}

/// The first problem in parameter order is the one reported.
#[test]
fn first_bad_parameter_is_reported() {
    assert_eq!(
        server_error("tcp:x:interface=y:backlog=z").field(),
        Some("port")
    );
    assert_eq!(
        server_error("tcp:1:interface=y:backlog=z").field(),
        Some("interface")
    );
    assert_eq!(client_error("tcp::0").field(), Some("host"));
}

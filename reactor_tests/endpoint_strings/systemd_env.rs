//! The systemd socket-activation environment and resolving `systemd:` endpoints.

use torsion::endpoints::{
    InheritedDescriptor, MAX_LISTEN_FDS, ServerEndpoint, SocketActivationError, SystemdSelector,
    inherited_descriptors,
};

use super::server;

const OUR_PID: u32 = 4242;

/// An inherited descriptor with the given number and name.
fn descriptor(fd: i32, name: &str) -> InheritedDescriptor {
    InheritedDescriptor {
        fd,
        name: name.to_string(),
    }
}

/// The descriptors for an environment that must be valid, as seen by [`OUR_PID`].
fn descriptors(pid: &str, fds: &str, names: Option<&str>) -> Vec<InheritedDescriptor> {
    inherited_descriptors(Some(pid), Some(fds), names, OUR_PID)
        .unwrap_or_else(|error| panic!("environment should be valid: {error}"))
}

/// The error for an environment that must be invalid, as seen by [`OUR_PID`].
fn activation_error(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
) -> SocketActivationError {
    match inherited_descriptors(pid, fds, names, OUR_PID) {
        Ok(found) => panic!("environment should be refused, gave {found:?}"),
        Err(error) => error,
    }
}

/// Descriptors are numbered from 3 and named from LISTEN_FDNAMES in order.
#[test]
fn descriptors_are_numbered_from_three_with_names() {
    assert_eq!(
        descriptors("4242", "3", Some("web:admin:metrics")),
        [
            descriptor(3, "web"),
            descriptor(4, "admin"),
            descriptor(5, "metrics")
        ]
    );
}

/// Zero descriptors with empty or absent names is an empty list, not an error.
#[test]
fn zero_descriptors_is_empty() {
    assert!(descriptors("4242", "0", Some("")).is_empty());
    assert!(descriptors("4242", "0", None).is_empty());
}

/// Without LISTEN_FDNAMES every descriptor is named "unknown", as systemd reports.
#[test]
fn absent_names_are_unknown() {
    assert_eq!(
        descriptors("4242", "2", None),
        [descriptor(3, "unknown"), descriptor(4, "unknown")]
    );
}

/// Empty names between colons are kept as empty names.
#[test]
fn empty_names_are_kept() {
    assert_eq!(
        descriptors("4242", "2", Some(":b")),
        [descriptor(3, ""), descriptor(4, "b")]
    );
}

/// An unset LISTEN_PID means the process was not socket-activated.
#[test]
fn missing_listen_pid() {
    let error = activation_error(None, Some("1"), Some("web"));
    assert_eq!(error, SocketActivationError::ListenPidMissing);
    assert_eq!(
        error.to_string(),
        "systemd: LISTEN_PID is not set; the process was not socket-activated"
    );
}

/// A LISTEN_PID that is not a plain decimal pid is refused.
#[test]
fn invalid_listen_pid() {
    for pid in ["", "abc", "-1", "+4242", " 4242", "4294967296"] {
        let error = activation_error(Some(pid), Some("1"), None);
        assert_eq!(
            error,
            SocketActivationError::ListenPidInvalid {
                value: pid.to_string()
            }
        );
    }
    assert_eq!(
        activation_error(Some("abc"), Some("1"), None).to_string(),
        r#"systemd: LISTEN_PID="abc" is not a process id"#
    );
}

/// A LISTEN_PID naming another process is refused with both pids.
#[test]
fn listen_pid_not_ours() {
    let error = activation_error(Some("1"), Some("1"), Some("web"));
    assert_eq!(
        error,
        SocketActivationError::ListenPidNotOurs {
            listen_pid: 1,
            our_pid: OUR_PID
        }
    );
    assert_eq!(
        error.to_string(),
        "systemd: LISTEN_PID=1 is not this process (pid 4242); the sockets were meant for another process"
    );
}

/// LISTEN_PID without LISTEN_FDS is refused.
#[test]
fn missing_listen_fds() {
    let error = activation_error(Some("4242"), None, None);
    assert_eq!(error, SocketActivationError::ListenFdsMissing);
    assert_eq!(
        error.to_string(),
        "systemd: LISTEN_PID is set but LISTEN_FDS is not"
    );
}

/// A LISTEN_FDS that is not a plain count, or absurdly large, is refused.
#[test]
fn invalid_listen_fds() {
    for fds in [
        "",
        "x",
        "-1",
        "1.0",
        "99999999999999999999",
        "65537",
        "2147483647",
    ] {
        let error = activation_error(Some("4242"), Some(fds), None);
        assert_eq!(
            error,
            SocketActivationError::ListenFdsInvalid {
                value: fds.to_string()
            }
        );
    }
    assert_eq!(
        activation_error(Some("4242"), Some("x"), None).to_string(),
        r#"systemd: LISTEN_FDS="x" is not a count of descriptors"#
    );
}

/// The largest accepted LISTEN_FDS gives that many consecutive descriptors.
#[test]
fn largest_listen_fds_is_accepted() {
    let all = descriptors("4242", &MAX_LISTEN_FDS.to_string(), None);
    assert_eq!(all.len(), MAX_LISTEN_FDS);
    assert_eq!(
        all.last().map(|d| d.fd),
        i32::try_from(MAX_LISTEN_FDS + 2).ok()
    );
}

/// A LISTEN_FDNAMES with more or fewer names than LISTEN_FDS is refused.
#[test]
fn name_count_mismatch() {
    let error = activation_error(Some("4242"), Some("1"), Some("a:b"));
    assert_eq!(
        error,
        SocketActivationError::NameCountMismatch {
            names: 2,
            descriptors: 1
        }
    );
    assert_eq!(
        error.to_string(),
        "systemd: LISTEN_FDNAMES gives 2 names but LISTEN_FDS=1"
    );
    let empty = activation_error(Some("4242"), Some("1"), Some(""));
    assert_eq!(
        empty,
        SocketActivationError::NameCountMismatch {
            names: 0,
            descriptors: 1
        }
    );
    let one = activation_error(Some("4242"), Some("2"), Some("a"));
    assert_eq!(
        one.to_string(),
        "systemd: LISTEN_FDNAMES gives 1 name but LISTEN_FDS=2"
    );
}

/// An index selects the descriptor at that position.
#[test]
fn resolve_by_index() {
    let passed = descriptors("4242", "2", Some("a:b"));
    assert_eq!(SystemdSelector::Index(0).resolve(&passed), Ok(3));
    assert_eq!(SystemdSelector::Index(1).resolve(&passed), Ok(4));
}

/// An index past the passed descriptors is refused, saying how many were passed.
#[test]
fn resolve_index_out_of_range() {
    let one = descriptors("4242", "1", Some("a"));
    let error = SystemdSelector::Index(2).resolve(&one).err();
    assert_eq!(
        error,
        Some(SocketActivationError::IndexOutOfRange {
            index: 2,
            passed: 1
        })
    );
    let message = error.map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("systemd: index 2 but only 1 descriptor was passed (LISTEN_FDS=1)")
    );
    let three = descriptors("4242", "3", None);
    let message = SystemdSelector::Index(3)
        .resolve(&three)
        .map_err(|e| e.to_string());
    assert_eq!(
        message,
        Err("systemd: index 3 but only 3 descriptors were passed (LISTEN_FDS=3)".to_string())
    );
    let message = SystemdSelector::Index(0)
        .resolve(&[])
        .map_err(|e| e.to_string());
    assert_eq!(
        message,
        Err("systemd: index 0 but no descriptors were passed (LISTEN_FDS=0)".to_string())
    );
}

/// A name selects the one descriptor carrying it.
#[test]
fn resolve_by_name() {
    let passed = descriptors("4242", "3", Some("web:admin:metrics"));
    assert_eq!(
        SystemdSelector::Name("admin".into()).resolve(&passed),
        Ok(4)
    );
}

/// A name no descriptor carries is refused, listing the names passed.
#[test]
fn resolve_name_not_found() {
    let passed = descriptors("4242", "2", Some("web:admin"));
    let error = SystemdSelector::Name("api".into()).resolve(&passed).err();
    let expected = SocketActivationError::NameNotFound {
        name: "api".into(),
        available: vec!["web".into(), "admin".into()],
    };
    assert_eq!(error.as_ref(), Some(&expected));
    assert_eq!(
        expected.to_string(),
        r#"systemd: no descriptor is named "api" (LISTEN_FDNAMES="web:admin")"#
    );
}

/// A name carried by several descriptors is refused as ambiguous.
#[test]
fn resolve_ambiguous_name() {
    let passed = descriptors("4242", "3", Some("web:web:admin"));
    let error = SystemdSelector::Name("web".into()).resolve(&passed).err();
    let expected = SocketActivationError::AmbiguousName {
        name: "web".into(),
        fds: vec![3, 4],
    };
    assert_eq!(error.as_ref(), Some(&expected));
    assert_eq!(
        expected.to_string(),
        r#"systemd: 2 descriptors are named "web" (fds [3, 4]); select one with index= instead"#
    );
}

/// A parsed `systemd:` description resolves against a parsed environment.
#[test]
fn parsed_endpoint_resolves_against_environment() {
    let passed = descriptors("4242", "2", Some("http:https"));
    let ServerEndpoint::Systemd { selector, .. } = server("systemd:domain=INET6:name=https") else {
        panic!("not a systemd endpoint");
    };
    assert_eq!(selector.resolve(&passed), Ok(4));
}

/// Every activation error is a standard error whose message starts with "systemd: " and is one line.
#[test]
fn activation_errors_are_one_line() {
    let errors = [
        activation_error(None, None, None),
        activation_error(Some("x\ny"), Some("1"), None),
        activation_error(Some("4242"), Some("\n"), None),
        activation_error(Some("4242"), Some("1"), Some("a\n:b")),
    ];
    for error in errors {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        let message = boxed.to_string();
        assert!(
            message.starts_with("systemd: ") && !message.contains('\n'),
            "{message:?}"
        );
    }
}

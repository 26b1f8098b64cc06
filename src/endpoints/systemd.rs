//! Interpreting systemd's socket-activation environment, purely.
//!
//! systemd passes listening sockets to a service as consecutive file
//! descriptors starting at 3, and describes them in three environment
//! variables: `LISTEN_PID` (the pid they are meant for), `LISTEN_FDS` (how
//! many) and `LISTEN_FDNAMES` (their `FileDescriptorName=`s, joined by `:`).
//! [`inherited_descriptors`] reads the values of those variables, passed in
//! by the caller, and [`SystemdSelector::resolve`] picks the descriptor a
//! `systemd:` endpoint names.
//!
//! Tested by: reactor_tests/endpoint_strings/systemd_env.rs

use std::fmt;
use std::os::fd::RawFd;

use super::arguments::parse_decimal;
use super::endpoint::SystemdSelector;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// The most descriptors [`inherited_descriptors`] accepts in `LISTEN_FDS`;
/// larger counts are refused as invalid rather than trusted.
pub const MAX_LISTEN_FDS: usize = 65536;

/// The name systemd reports for a descriptor when `LISTEN_FDNAMES` is unset.
pub const UNNAMED_DESCRIPTOR: &str = "unknown";

/// One listening socket passed by systemd.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InheritedDescriptor {
    /// The file descriptor number (3 for the first one).
    pub fd: RawFd,
    /// Its `FileDescriptorName=`, or `"unknown"` when systemd gave no names.
    pub name: String,
}

/// Why the socket-activation environment gives no usable descriptor.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketActivationError {
    /// `LISTEN_PID` is not set: the process was not socket-activated.
    ListenPidMissing,
    /// `LISTEN_PID` is not a process id.
    ListenPidInvalid {
        /// The variable's value.
        value: String,
    },
    /// `LISTEN_PID` names another process (the variables were inherited).
    ListenPidNotOurs {
        /// The pid the descriptors were meant for.
        listen_pid: u32,
        /// This process's pid.
        our_pid: u32,
    },
    /// `LISTEN_PID` is set but `LISTEN_FDS` is not.
    ListenFdsMissing,
    /// `LISTEN_FDS` is not a count of descriptors (or exceeds [`MAX_LISTEN_FDS`]).
    ListenFdsInvalid {
        /// The variable's value.
        value: String,
    },
    /// `LISTEN_FDNAMES` gives a different number of names than `LISTEN_FDS`.
    NameCountMismatch {
        /// How many names `LISTEN_FDNAMES` gives.
        names: usize,
        /// How many descriptors `LISTEN_FDS` announces.
        descriptors: usize,
    },
    /// An `index=` beyond the descriptors passed.
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// How many descriptors were passed.
        passed: usize,
    },
    /// A `name=` that no passed descriptor has.
    NameNotFound {
        /// The name asked for.
        name: String,
        /// The names of the descriptors that were passed, in order.
        available: Vec<String>,
    },
    /// A `name=` that more than one passed descriptor has.
    AmbiguousName {
        /// The name asked for.
        name: String,
        /// The descriptors carrying that name.
        fds: Vec<RawFd>,
    },
}

impl fmt::Display for SocketActivationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("systemd: ")?;
        match self {
            Self::ListenPidMissing => {
                formatter.write_str("LISTEN_PID is not set; the process was not socket-activated")
            }
            Self::ListenPidInvalid { value } => {
                write!(formatter, "LISTEN_PID={value:?} is not a process id")
            }
            Self::ListenPidNotOurs {
                listen_pid,
                our_pid,
            } => write!(
                formatter,
                "LISTEN_PID={listen_pid} is not this process (pid {our_pid}); the sockets were meant for another process"
            ),
            Self::ListenFdsMissing => {
                formatter.write_str("LISTEN_PID is set but LISTEN_FDS is not")
            }
            Self::ListenFdsInvalid { value } => {
                write!(
                    formatter,
                    "LISTEN_FDS={value:?} is not a count of descriptors"
                )
            }
            Self::NameCountMismatch { names, descriptors } => write!(
                formatter,
                "LISTEN_FDNAMES gives {names} name{} but LISTEN_FDS={descriptors}",
                plural(*names)
            ),
            Self::IndexOutOfRange { index, passed } => {
                write_index_out_of_range(formatter, *index, *passed)
            }
            Self::NameNotFound { name, available } => write!(
                formatter,
                "no descriptor is named {name:?} (LISTEN_FDNAMES={:?})",
                available.join(":")
            ),
            Self::AmbiguousName { name, fds } => write!(
                formatter,
                "{} descriptors are named {name:?} (fds {fds:?}); select one with index= instead",
                fds.len()
            ),
        }
    }
}

fn write_index_out_of_range(
    formatter: &mut fmt::Formatter<'_>,
    index: usize,
    passed: usize,
) -> fmt::Result {
    match passed {
        0 => write!(
            formatter,
            "index {index} but no descriptors were passed (LISTEN_FDS=0)"
        ),
        1 => write!(
            formatter,
            "index {index} but only 1 descriptor was passed (LISTEN_FDS=1)"
        ),
        _ => write!(
            formatter,
            "index {index} but only {passed} descriptors were passed (LISTEN_FDS={passed})"
        ),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

impl std::error::Error for SocketActivationError {}

/// The descriptors systemd passed to the process whose pid is `our_pid`,
/// given the values of `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`
/// (`None` for an unset variable).
///
/// Descriptors are numbered from 3. When `LISTEN_FDNAMES` is unset (systemd
/// before version 227) every descriptor is named `"unknown"`, as
/// `sd_listen_fds_with_names` does; when it is set it must give exactly one
/// name per descriptor.
///
/// # Errors
///
/// A [`SocketActivationError`] when `LISTEN_PID` is unset, invalid or not
/// `our_pid`, when `LISTEN_FDS` is unset or invalid, or when the names do
/// not match the count.
pub fn inherited_descriptors(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    listen_fdnames: Option<&str>,
    our_pid: u32,
) -> Result<Vec<InheritedDescriptor>, SocketActivationError> {
    check_listen_pid(listen_pid, our_pid)?;
    let count = descriptor_count(listen_fds)?;
    let names = descriptor_names(listen_fdnames, count)?;
    let descriptors = names
        .into_iter()
        .zip(LISTEN_FDS_START..)
        .map(|(name, fd)| InheritedDescriptor { fd, name })
        .collect();
    Ok(descriptors)
}

fn check_listen_pid(listen_pid: Option<&str>, our_pid: u32) -> Result<(), SocketActivationError> {
    let Some(value) = listen_pid else {
        return Err(SocketActivationError::ListenPidMissing);
    };
    let parsed = parse_decimal(value).and_then(|pid| u32::try_from(pid).ok());
    match parsed {
        None => Err(SocketActivationError::ListenPidInvalid {
            value: value.to_owned(),
        }),
        Some(listen_pid) if listen_pid != our_pid => Err(SocketActivationError::ListenPidNotOurs {
            listen_pid,
            our_pid,
        }),
        Some(_) => Ok(()),
    }
}

/// The number of descriptors, at most [`MAX_LISTEN_FDS`].
fn descriptor_count(listen_fds: Option<&str>) -> Result<usize, SocketActivationError> {
    let Some(value) = listen_fds else {
        return Err(SocketActivationError::ListenFdsMissing);
    };
    parse_decimal(value)
        .and_then(|count| usize::try_from(count).ok())
        .filter(|count| *count <= MAX_LISTEN_FDS)
        .ok_or_else(|| SocketActivationError::ListenFdsInvalid {
            value: value.to_owned(),
        })
}

fn descriptor_names(
    listen_fdnames: Option<&str>,
    count: usize,
) -> Result<Vec<String>, SocketActivationError> {
    let Some(joined) = listen_fdnames else {
        return Ok(vec![UNNAMED_DESCRIPTOR.to_owned(); count]);
    };
    let names: Vec<String> = if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(':').map(str::to_owned).collect()
    };
    if names.len() != count {
        return Err(SocketActivationError::NameCountMismatch {
            names: names.len(),
            descriptors: count,
        });
    }
    Ok(names)
}

impl SystemdSelector {
    /// The file descriptor this selector picks among `descriptors` (as
    /// returned by [`inherited_descriptors`]).
    ///
    /// # Errors
    ///
    /// [`SocketActivationError::IndexOutOfRange`] for an index past the end,
    /// [`SocketActivationError::NameNotFound`] or
    /// [`SocketActivationError::AmbiguousName`] for a name carried by no or
    /// several descriptors.
    pub fn resolve(
        &self,
        descriptors: &[InheritedDescriptor],
    ) -> Result<RawFd, SocketActivationError> {
        match self {
            SystemdSelector::Index(index) => descriptors
                .get(*index)
                .map(|descriptor| descriptor.fd)
                .ok_or(SocketActivationError::IndexOutOfRange {
                    index: *index,
                    passed: descriptors.len(),
                }),
            SystemdSelector::Name(name) => resolve_name(name, descriptors),
        }
    }
}

fn resolve_name(
    name: &str,
    descriptors: &[InheritedDescriptor],
) -> Result<RawFd, SocketActivationError> {
    let fds: Vec<RawFd> = descriptors
        .iter()
        .filter(|descriptor| descriptor.name == name)
        .map(|descriptor| descriptor.fd)
        .collect();
    match fds.as_slice() {
        [fd] => Ok(*fd),
        [] => Err(SocketActivationError::NameNotFound {
            name: name.to_owned(),
            available: descriptors
                .iter()
                .map(|descriptor| descriptor.name.clone())
                .collect(),
        }),
        _ => Err(SocketActivationError::AmbiguousName {
            name: name.to_owned(),
            fds,
        }),
    }
}

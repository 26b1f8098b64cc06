//! Why a TLS configuration could not be loaded: the file (or directory) at fault and what is
//! wrong with it, in one line.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What is wrong with a key, certificate or certificate directory.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsConfigProblem {
    /// The file or directory could not be read.
    Unreadable(io::Error),
    /// The file holds no PEM block of the kind needed (`what` names it).
    Missing(&'static str),
    /// A PEM block could not be decoded.
    BadPem(String),
    /// rustls refused the key or certificate (unsupported key type, key and certificate that do
    /// not belong together, a certificate that is not valid as a trust anchor...).
    Rejected(rustls::Error),
    /// A certificate directory holds no `*.pem` file.
    EmptyDirectory,
    /// The certificate's public key is not the private key's (the key file is named).
    KeyMismatch(PathBuf),
}

/// A key, certificate or certificate directory that cannot be used; displays as one line naming
/// the file, e.g. `certificate file "site.pem" holds no CERTIFICATE block (a PEM file is
/// expected)`.
#[derive(Debug)]
pub struct TlsConfigError {
    path: PathBuf,
    kind: &'static str,
    problem: TlsConfigProblem,
}

impl TlsConfigError {
    pub(crate) fn new(kind: &'static str, path: &Path, problem: TlsConfigProblem) -> Self {
        Self {
            path: path.to_owned(),
            kind,
            problem,
        }
    }

    /// The file or directory at fault.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &TlsConfigProblem {
        &self.problem
    }
}

impl fmt::Display for TlsConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(error) => write!(f, "cannot be read ({error})"),
            Self::Missing(what) => write!(f, "holds no {what} (a PEM file is expected)"),
            Self::BadPem(error) => write!(f, "is not valid PEM ({error})"),
            Self::Rejected(error) => write!(f, "cannot be used ({error})"),
            Self::KeyMismatch(key) => write!(
                f,
                "holds a certificate that does not belong to the private key in \"{}\"",
                key.display()
            ),
            Self::EmptyDirectory => f.write_str(
                "holds no NAME.pem file (each holds a private key and its certificate chain)",
            ),
        }
    }
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = String::new();
        for character in self.path.display().to_string().chars() {
            if character.is_control() {
                path.extend(character.escape_default());
            } else {
                path.push(character);
            }
        }
        write!(f, "{} \"{path}\" {}", self.kind, self.problem)
    }
}

impl std::error::Error for TlsConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            TlsConfigProblem::Unreadable(error) => Some(error),
            TlsConfigProblem::Rejected(error) => Some(error),
            _ => None,
        }
    }
}

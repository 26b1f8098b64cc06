//! Loading keys, certificates and trust anchors from PEM files into rustls configurations, and
//! the server configuration that a SIGHUP reloads.
//!
//! Every failure names the file at fault ([`TlsConfigError`]). PEM is read with
//! `rustls-pki-types`' own parser.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::error::{TlsConfigError, TlsConfigProblem};
use super::layer::DEFAULT_HANDSHAKE_TIMEOUT;

/// The ALPN name of HTTP/2.
pub const ALPN_HTTP2: &[u8] = b"h2";
/// The ALPN name of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";
/// The file in a certificate directory that serves clients without SNI or with an unknown name.
pub const DEFAULT_CERTIFICATE_FILE: &str = "DEFAULT.pem";

/// Server settings that come from the application rather than from the endpoint string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// The protocols offered through ALPN, most preferred first (Twisted's
    /// `acceptableProtocols`). Empty: no ALPN.
    pub alpn_protocols: Vec<Vec<u8>>,
    /// How long a client may take to complete the handshake before it is dropped.
    pub handshake_timeout: Duration,
}

impl Default for TlsOptions {
    /// Offers `h2` then `http/1.1`; handshakes may take 30 seconds.
    fn default() -> Self {
        Self {
            alpn_protocols: vec![ALPN_HTTP2.to_vec(), ALPN_HTTP1.to_vec()],
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl TlsOptions {
    /// Offers `http/1.1` only.
    pub fn http1_only() -> Self {
        Self {
            alpn_protocols: vec![ALPN_HTTP1.to_vec()],
            ..Self::default()
        }
    }
}

/// Where a server's keys and certificates come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CertificateSource {
    /// One key and its certificate chain (an `ssl:` endpoint).
    Files {
        /// The PEM file holding the private key.
        private_key: PathBuf,
        /// The PEM file holding the certificate, then any intermediates (often the key's file).
        cert_key: PathBuf,
        /// A PEM file of further intermediate certificates, sent after `cert_key`'s.
        extra_cert_chain: Option<PathBuf>,
    },
    /// A directory of `HOSTNAME.pem` files, each a key and its chain, chosen by the name the
    /// client asks for (SNI); `DEFAULT.pem` for the rest (an `sni:` endpoint).
    Directory(PathBuf),
}

/// A server's TLS configuration: shared by the listener that uses it and whoever reloads it.
///
/// Each new connection takes the configuration current when it is accepted; [`reload`]
/// (on SIGHUP) swaps in a fresh one, and connections already open keep theirs.
///
/// [`reload`]: ServerTls::reload
#[derive(Clone)]
pub struct ServerTls {
    inner: Rc<ServerTlsInner>,
}

struct ServerTlsInner {
    source: CertificateSource,
    client_ca: Option<PathBuf>,
    options: TlsOptions,
    current: RefCell<Arc<ServerConfig>>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("source", &self.inner.source)
            .field("client_ca", &self.inner.client_ca)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the keys and certificates of `source`; with `client_ca` (a PEM file or a
    /// directory of them), clients must present a certificate issued by one of its authorities.
    ///
    /// # Errors
    ///
    /// A [`TlsConfigError`] naming the file that is missing, unreadable or unusable.
    pub fn load(
        source: CertificateSource,
        client_ca: Option<PathBuf>,
        options: TlsOptions,
    ) -> Result<Self, TlsConfigError> {
        let config = build_server_config(&source, client_ca.as_deref(), &options)?;
        Ok(Self {
            inner: Rc::new(ServerTlsInner {
                source,
                client_ca,
                options,
                current: RefCell::new(config),
            }),
        })
    }

    /// Reads the files again; new handshakes use what was read, open connections are untouched.
    ///
    /// # Errors
    ///
    /// A [`TlsConfigError`] naming the bad file; the previous configuration stays in use.
    pub fn reload(&self) -> Result<(), TlsConfigError> {
        let inner = &self.inner;
        let config =
            build_server_config(&inner.source, inner.client_ca.as_deref(), &inner.options)?;
        *inner.current.borrow_mut() = config;
        Ok(())
    }

    /// The configuration new connections use.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.inner.current.borrow().clone()
    }

    /// The options given to [`ServerTls::load`].
    pub fn options(&self) -> &TlsOptions {
        &self.inner.options
    }

    /// Where the certificates come from.
    pub fn source(&self) -> &CertificateSource {
        &self.inner.source
    }
}

fn provider() -> Arc<CryptoProvider> {
    thread_local! {
        static PROVIDER: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    }
    PROVIDER.with(Arc::clone)
}

fn build_server_config(
    source: &CertificateSource,
    client_ca: Option<&Path>,
    options: &TlsOptions,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = provider();
    let resolver = match source {
        CertificateSource::Files {
            private_key,
            cert_key,
            extra_cert_chain,
        } => {
            let key = load_certified_key(private_key, cert_key, extra_cert_chain.as_deref())?;
            CertificateTable {
                by_name: HashMap::new(),
                default: Some(key),
            }
        }
        CertificateSource::Directory(dir) => load_directory(dir)?,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(setup_error)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let roots = load_roots(path)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|_| {
                    TlsConfigError::new(
                        "client CA file",
                        path,
                        TlsConfigProblem::Missing("CERTIFICATE block"),
                    )
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = options.alpn_protocols.clone();
    Ok(Arc::new(config))
}

/// Certificates by the lower-case host name they serve, and the one for everybody else.
#[derive(Debug)]
struct CertificateTable {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertificateTable {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_name = client_hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()));
        by_name.or(self.default.as_ref()).cloned()
    }
}

fn load_directory(dir: &Path) -> Result<CertificateTable, TlsConfigError> {
    let unreadable = |error| {
        TlsConfigError::new(
            "certificate directory",
            dir,
            TlsConfigProblem::Unreadable(error),
        )
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_some_and(|e| e == "pem") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(TlsConfigError::new(
            "certificate directory",
            dir,
            TlsConfigProblem::EmptyDirectory,
        ));
    }
    paths.sort();
    let mut table = CertificateTable {
        by_name: HashMap::new(),
        default: None,
    };
    for path in paths {
        let key = load_certified_key(&path, &path, None)?;
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path
            .file_name()
            .is_some_and(|n| n == DEFAULT_CERTIFICATE_FILE)
        {
            table.default = Some(key);
        } else {
            table.by_name.insert(stem.to_ascii_lowercase(), key);
        }
    }
    Ok(table)
}

fn read_file(kind: &'static str, path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    fs::read(path)
        .map_err(|error| TlsConfigError::new(kind, path, TlsConfigProblem::Unreadable(error)))
}

fn pem_problem(error: pem::Error, what: &'static str) -> TlsConfigProblem {
    match error {
        pem::Error::NoItemsFound => TlsConfigProblem::Missing(what),
        pem::Error::Io(error) => TlsConfigProblem::Unreadable(error),
        other => TlsConfigProblem::BadPem(other.to_string()),
    }
}

/// rustls refusing the protocol versions or provider, which names no file.
fn setup_error(error: rustls::Error) -> TlsConfigError {
    TlsConfigError::new(
        "TLS setup",
        Path::new(""),
        TlsConfigProblem::Rejected(error),
    )
}

/// Every certificate in the PEM file at `path` (perhaps none).
fn read_certificates(
    kind: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let bytes = read_file(kind, path)?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsConfigError::new(kind, path, pem_problem(error, "CERTIFICATE block")))
}

/// The error for `path` holding no certificate.
fn no_certificates(kind: &'static str, path: &Path) -> TlsConfigError {
    TlsConfigError::new(kind, path, TlsConfigProblem::Missing("CERTIFICATE block"))
}

/// The certificates in the PEM file at `path`, at least one.
fn load_certificates(
    kind: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certificates = read_certificates(kind, path)?;
    if certificates.is_empty() {
        return Err(no_certificates(kind, path));
    }
    Ok(certificates)
}

fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let kind = "private key file";
    let bytes = read_file(kind, path)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|error| TlsConfigError::new(kind, path, pem_problem(error, "PRIVATE KEY block")))
}

/// The key in `private_key` with the chain in `cert_key` (then `extra`), checked to belong
/// together.
fn load_certified_key(
    private_key: &Path,
    cert_key: &Path,
    extra: Option<&Path>,
) -> Result<Arc<CertifiedKey>, TlsConfigError> {
    let key = load_private_key(private_key)?;
    let mut chain = load_certificates("certificate file", cert_key)?;
    if let Some(extra) = extra {
        chain.extend(load_certificates("certificate chain file", extra)?);
    }
    let certified =
        CertifiedKey::from_der(chain, key, &provider()).map_err(|error| match error {
            rustls::Error::InconsistentKeys(_) => TlsConfigError::new(
                "certificate file",
                cert_key,
                TlsConfigProblem::KeyMismatch(private_key.to_owned()),
            ),
            other => TlsConfigError::new(
                "private key file",
                private_key,
                TlsConfigProblem::Rejected(other),
            ),
        })?;
    Ok(Arc::new(certified))
}

/// Trust anchors from a PEM file, or from every file in a directory that holds certificates.
pub(crate) fn load_roots(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let kind = "CA certificate file";
    let mut roots = RootCertStore::empty();
    let files = if path.is_dir() {
        let unreadable =
            |error| TlsConfigError::new(kind, path, TlsConfigProblem::Unreadable(error));
        let mut files = Vec::new();
        for entry in fs::read_dir(path).map_err(unreadable)? {
            let file = entry.map_err(unreadable)?.path();
            if file.is_file() {
                files.push(file);
            }
        }
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    for file in &files {
        for certificate in read_certificates(kind, file)? {
            roots.add(certificate).map_err(|error| {
                TlsConfigError::new(kind, file, TlsConfigProblem::Rejected(error))
            })?;
        }
    }
    if roots.is_empty() {
        return Err(no_certificates(kind, path));
    }
    Ok(roots)
}

/// What a TLS client trusts and presents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClientTlsSpec {
    /// Trust anchors (a PEM file or a directory); `None`: the system's trust store.
    pub ca_certs: Option<PathBuf>,
    /// A client certificate chain (PEM) to present, with `private_key`.
    pub certificate: Option<PathBuf>,
    /// The client certificate's private key (PEM); defaults to `certificate`'s file.
    pub private_key: Option<PathBuf>,
    /// The protocols offered through ALPN, most preferred first.
    pub alpn_protocols: Vec<Vec<u8>>,
}

/// The system trust store: what `/etc/ssl/certs` (or `SSL_CERT_FILE`/`SSL_CERT_DIR`) holds,
/// read once per thread.
fn system_roots() -> Result<Arc<RootCertStore>, TlsConfigError> {
    thread_local! {
        static ROOTS: OnceCell<Arc<RootCertStore>> = const { OnceCell::new() };
    }
    if let Some(roots) = ROOTS.with(|cell| cell.get().cloned()) {
        return Ok(roots);
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let _ = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let place = std::env::var_os("SSL_CERT_FILE")
            .or_else(|| std::env::var_os("SSL_CERT_DIR"))
            .map_or_else(|| PathBuf::from("/etc/ssl/certs"), PathBuf::from);
        return Err(TlsConfigError::new(
            "system trust store",
            &place,
            TlsConfigProblem::Missing("CERTIFICATE block"),
        ));
    }
    let roots = Arc::new(roots);
    ROOTS.with(|cell| cell.get_or_init(|| roots.clone()).clone());
    Ok(roots)
}

/// A client configuration for `spec`.
///
/// # Errors
///
/// A [`TlsConfigError`] naming the CA, certificate or key file that cannot be used.
pub fn client_config(spec: &ClientTlsSpec) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let roots = match &spec.ca_certs {
        Some(path) => Arc::new(load_roots(path)?),
        None => system_roots()?,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(setup_error)?
        .with_root_certificates(roots);
    let mut config = match &spec.certificate {
        None => builder.with_no_client_auth(),
        Some(certificate) => {
            let key_path = spec.private_key.as_deref().unwrap_or(certificate);
            let chain = load_certificates("certificate file", certificate)?;
            let key = load_private_key(key_path)?;
            builder.with_client_auth_cert(chain, key).map_err(|error| {
                TlsConfigError::new(
                    "private key file",
                    key_path,
                    TlsConfigProblem::Rejected(error),
                )
            })?
        }
    };
    config.alpn_protocols = spec.alpn_protocols.clone();
    Ok(Arc::new(config))
}

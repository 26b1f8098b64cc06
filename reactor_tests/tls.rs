//! TLS: servers on 127.0.0.1 behind `ssl:` and `sni:` endpoints, with certificates made by
//! the test (rcgen), talked to through torsion's own `tls:` client, rustls in blocking mode,
//! curl and Python's `ssl`.

mod clients;
mod command_line;
mod descriptions;
mod layer;

use std::cell::RefCell;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use torsion::endpoints::{
    Listening, connect, listen_with_tls, parse_client, parse_server, quote_string_argument,
};
use torsion::reactor::Reactor;
use torsion::tls::TlsOptions;
use torsion::transport::{DisconnectReason, Factory, Protocol, Transport};

use crate::util::{TempDir, turn_until};

/// How many reactor turns a TLS exchange may take.
const MAX_TURNS: usize = 500;

/// A test certificate authority and the files it issued, in a temporary directory.
struct Pki {
    dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca: PathBuf,
}

impl Pki {
    /// A new authority; its certificate is `ca.pem`.
    fn new(label: &str) -> Pki {
        let dir = TempDir::new(label);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("torsion test CA {label}"));
        let key = KeyPair::generate().expect("CA key");
        let certificate = params.self_signed(&key).expect("CA certificate");
        let ca = dir.join("ca.pem");
        fs::write(&ca, certificate.pem()).expect("write ca.pem");
        Pki {
            issuer: Issuer::new(params, key),
            dir,
            ca,
        }
    }

    /// Issues a certificate for `names` (DNS names or IP addresses) and writes its key and
    /// certificate into one PEM file at `path`; returns the certificate (DER).
    fn issue_at(&self, path: &Path, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf parameters");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages.push(purpose);
        let key = KeyPair::generate().expect("leaf key");
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        fs::write(
            path,
            format!("{}{}", key.serialize_pem(), certificate.pem()),
        )
        .expect("write a PEM file");
        certificate.der().to_vec()
    }

    /// A server certificate for `names` in the file `name` of the directory.
    fn server(&self, name: &str, names: &[&str]) -> (PathBuf, Vec<u8>) {
        let path = self.dir.join(name);
        let der = self.issue_at(&path, names, ExtendedKeyUsagePurpose::ServerAuth);
        (path, der)
    }

    /// A client certificate in the file `name` of the directory.
    fn client(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        self.issue_at(&path, &["client.test"], ExtendedKeyUsagePurpose::ClientAuth);
        path
    }

    fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A `tls:` client description connecting to `address` and trusting this authority.
    fn tls_client(&self, address: SocketAddr) -> String {
        format!(
            "tls:127.0.0.1:{}:caCerts={}",
            address.port(),
            quoted(&self.ca)
        )
    }
}

/// `path` as an endpoint-string value.
fn quoted(path: &Path) -> String {
    quote_string_argument(&path.to_string_lossy())
}

/// Listens on `description` (which must listen on 127.0.0.1 port 0) with `options`.
fn serve(
    reactor: &Reactor,
    description: &str,
    options: &TlsOptions,
    factory: impl Factory + 'static,
) -> (Listening, SocketAddr) {
    let endpoint = parse_server(description).expect("a valid server description");
    let listening = listen_with_tls(reactor, &endpoint, options, factory).expect("listen with TLS");
    let address = listening.port.address().tcp().expect("a TCP port");
    (listening, address)
}

/// An `ssl:` server on 127.0.0.1 whose certificate (in `pem`) its own authority issued.
struct SslServer {
    pki: Pki,
    pem: PathBuf,
    listening: Listening,
    address: SocketAddr,
}

impl SslServer {
    /// Listens on `reactor` with `options`, running what `factory` makes; `label` names the
    /// authority and its directory.
    fn start(
        label: &str,
        reactor: &Reactor,
        options: &TlsOptions,
        factory: impl Factory + 'static,
    ) -> SslServer {
        let pki = Pki::new(label);
        let (pem, _) = pki.server("server.pem", &["127.0.0.1"]);
        let (listening, address) = serve(reactor, &ssl_description(&pem), options, factory);
        SslServer {
            pki,
            pem,
            listening,
            address,
        }
    }

    /// A `tls:` client description for this server, trusting its authority.
    fn tls_client(&self) -> String {
        self.pki.tls_client(self.address)
    }
}

/// `ssl:0` on 127.0.0.1 with the key and certificate in `pem`.
fn ssl_description(pem: &Path) -> String {
    format!("ssl:0:interface=127.0.0.1:privateKey={}", quoted(pem))
}

/// What a test protocol saw.
#[derive(Default)]
struct Seen {
    transport: Option<Rc<dyn Transport>>,
    received: Vec<u8>,
    eofs: usize,
    ended: Option<DisconnectReason>,
    /// The ALPN protocol as the first data arrived.
    alpn_at_first_data: Option<Option<Vec<u8>>>,
}

type SeenLog = Rc<RefCell<Seen>>;

/// A protocol that records what happens; optionally writes a greeting when connected, echoes,
/// and answers end of input with a reply.
#[derive(Default)]
struct Probe {
    seen: SeenLog,
    greeting: Vec<u8>,
    echo: bool,
    /// Written, then the connection closed, when the peer's end of input arrives.
    reply_to_eof: Option<Vec<u8>>,
}

impl Probe {
    fn new(seen: &SeenLog) -> Probe {
        Probe {
            seen: seen.clone(),
            ..Probe::default()
        }
    }

    fn greeting(mut self, greeting: &[u8]) -> Probe {
        self.greeting = greeting.to_vec();
        self
    }

    fn echoing(mut self) -> Probe {
        self.echo = true;
        self
    }

    fn replying_to_eof(mut self, reply: &[u8]) -> Probe {
        self.reply_to_eof = Some(reply.to_vec());
        self
    }
}

impl Protocol for Probe {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        if !self.greeting.is_empty() {
            transport.write(&self.greeting);
        }
        self.seen.borrow_mut().transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut seen = self.seen.borrow_mut();
        let transport = seen.transport.clone().expect("connected");
        if seen.alpn_at_first_data.is_none() {
            seen.alpn_at_first_data = Some(transport.negotiated_protocol());
        }
        seen.received.extend_from_slice(data);
        if self.echo {
            transport.write(data);
        }
    }

    fn eof_received(&mut self) -> bool {
        let mut seen = self.seen.borrow_mut();
        seen.eofs += 1;
        match &self.reply_to_eof {
            Some(reply) => {
                let transport = seen.transport.clone().expect("connected");
                transport.write(reply);
                transport.lose_connection();
                true
            }
            None => false,
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.seen.borrow_mut().ended = Some(reason);
    }
}

/// A factory whose connections run probes made by `make`, their logs kept in `logs`.
fn probes(logs: &Rc<RefCell<Vec<SeenLog>>>, make: fn(&SeenLog) -> Probe) -> impl Factory + 'static {
    let logs = logs.clone();
    move |_: &torsion::transport::Address| {
        let seen = SeenLog::default();
        logs.borrow_mut().push(seen.clone());
        Some(Box::new(make(&seen)) as Box<dyn Protocol>)
    }
}

/// Connects through a `tls:` client description, running `probe`.
fn connect_with(reactor: &Reactor, description: &str, probe: Probe) {
    let endpoint = parse_client(description).expect("a valid client description");
    drop(connect(reactor, &endpoint, Box::new(probe)));
}

/// The rustls error inside a `Lost` reason, if that is how the connection ended.
fn rustls_error(reason: Option<&DisconnectReason>) -> Option<rustls::Error> {
    match reason? {
        DisconnectReason::Lost(error) => error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned(),
        _ => None,
    }
}

/// A rustls client configuration trusting `ca` and offering `alpn`.
fn client_config(ca: &Path, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let pem = fs::read(ca).expect("read the CA file");
    for certificate in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        let certificate: CertificateDer<'static> = certificate.expect("CA PEM");
        roots.add(certificate).expect("a usable CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A blocking TLS client (run it beside the reactor, on another thread).
type BlockingClient = StreamOwned<ClientConnection, TcpStream>;

/// Connects a blocking rustls client to `address`, asking for `name`, and completes the
/// handshake.
fn blocking_client(
    address: SocketAddr,
    name: &str,
    config: Arc<ClientConfig>,
) -> io::Result<BlockingClient> {
    let socket = TcpStream::connect(address)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from(name.to_owned()).expect("a valid server name");
    let connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut client = StreamOwned::new(connection, socket);
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    Ok(client)
}

/// The certificate the server presented to `client`.
fn served_certificate(client: &BlockingClient) -> Vec<u8> {
    client
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|certificate| certificate.to_vec())
        .expect("the server presented a certificate")
}

/// Turns `reactor` while `job` runs on another thread; returns its result.
fn beside<T: Send + 'static>(reactor: &Reactor, job: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::spawn(job);
    turn_until(reactor, 5 * MAX_TURNS, || handle.is_finished());
    handle.join().expect("the client thread panicked")
}

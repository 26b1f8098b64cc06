//! The TLS layer between a socket and a protocol, driven in one process: torsion's `tls:`
//! client against `ssl:` servers.

use std::cell::{Cell, RefCell};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use rcgen::ExtendedKeyUsagePurpose;
use torsion::tls::{ALPN_HTTP1, ALPN_HTTP2, TlsOptions, TlsProtocol};
use torsion::transport::{
    DEFAULT_HIGH_WATERMARK, DisconnectReason, Producer, Protocol, Transport, connect_tcp,
};

use torsion::reactor::Reactor;

use super::{
    MAX_TURNS, Pki, Probe, Seen, SeenLog, SslServer, beside, blocking_client, client_config,
    connect_with, probes, quoted, rustls_error, serve, ssl_description,
};
use crate::util::{Peer, fake_clock_reactor, new_reactor, turn_until, watch_connect};

fn first(logs: &Rc<RefCell<Vec<SeenLog>>>) -> SeenLog {
    logs.borrow()[0].clone()
}

/// An `ssl:` server with `options` whose connections echo, their logs kept in `logs`.
fn echo_server(
    label: &str,
    reactor: &Reactor,
    logs: &Rc<RefCell<Vec<SeenLog>>>,
    options: &TlsOptions,
) -> SslServer {
    SslServer::start(
        label,
        reactor,
        options,
        probes(logs, |seen| Probe::new(seen).echoing()),
    )
}

/// Bytes flow both ways through torsion's `tls:` client and an `ssl:` server, both transports
/// say they are secure, and addresses pass through the layer.
#[test]
fn tls_client_and_ssl_server_exchange_bytes() {
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = echo_server("exchange", &reactor, &logs, &TlsOptions::default());
    let client = SeenLog::default();
    connect_with(
        &reactor,
        &server.tls_client(),
        Probe::new(&client).greeting(b"hello over TLS"),
    );
    turn_until(&reactor, MAX_TURNS, || {
        client.borrow().received == b"hello over TLS"
    });
    let seen = first(&logs);
    let server_transport = seen.borrow().transport.clone().unwrap();
    let client_transport = client.borrow().transport.clone().unwrap();
    assert!(server_transport.is_secure() && client_transport.is_secure());
    assert_eq!(
        server_transport.peer_address(),
        client_transport.host_address()
    );
    assert_eq!(server_transport.host_address().tcp(), Some(server.address));
    assert_eq!(seen.borrow().received, b"hello over TLS");
    // The client offered no ALPN protocol, so none was chosen.
    assert_eq!(seen.borrow().alpn_at_first_data, Some(None));
}

/// Connects a torsion client offering `offered` through ALPN; returns what the server and the
/// client saw negotiated.
fn negotiate(options: &TlsOptions, offered: &[&[u8]]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = echo_server("alpn", &reactor, &logs, options);
    let client = SeenLog::default();
    let protocol = TlsProtocol::client(
        &reactor,
        client_config(&server.pki.ca, offered),
        "127.0.0.1",
        Box::new(Probe::new(&client).greeting(b"which protocol?")),
    )
    .expect("a client connection");
    drop(connect_tcp(
        &reactor,
        "127.0.0.1",
        server.address.port(),
        Duration::from_secs(10),
        Box::new(protocol),
    ));
    turn_until(&reactor, MAX_TURNS, || !client.borrow().received.is_empty());
    let server = first(&logs).borrow().alpn_at_first_data.clone().flatten();
    let client = client.borrow().alpn_at_first_data.clone().flatten();
    (server, client)
}

/// By default the server offers h2 then http/1.1, and a client offering both gets h2.
#[test]
fn alpn_prefers_h2_by_default() {
    let (server, client) = negotiate(&TlsOptions::default(), &[ALPN_HTTP2, ALPN_HTTP1]);
    assert_eq!(server.as_deref(), Some(ALPN_HTTP2));
    assert_eq!(client.as_deref(), Some(ALPN_HTTP2));
}

/// With HTTP/2 switched off the same client gets http/1.1.
#[test]
fn alpn_offers_only_http1_when_switched() {
    let (server, client) = negotiate(&TlsOptions::http1_only(), &[ALPN_HTTP2, ALPN_HTTP1]);
    assert_eq!(server.as_deref(), Some(ALPN_HTTP1));
    assert_eq!(client.as_deref(), Some(ALPN_HTTP1));
}

/// A server certificate from an authority the client does not trust fails the connection
/// attempt with the rustls error, and the server's protocol never sees the connection.
#[test]
fn untrusted_certificate_fails_the_connection_attempt() {
    let stranger = Pki::new("stranger");
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = SslServer::start(
        "untrusted",
        &reactor,
        &TlsOptions::default(),
        probes(&logs, Probe::new),
    );
    let client = SeenLog::default();
    let endpoint = torsion::endpoints::parse_client(&stranger.tls_client(server.address)).unwrap();
    let outcome = watch_connect(torsion::endpoints::connect(
        &reactor,
        &endpoint,
        Box::new(Probe::new(&client).greeting(b"never sent")),
    ));
    turn_until(&reactor, MAX_TURNS, || outcome.borrow().is_some());
    let failure = match outcome.borrow_mut().take() {
        Some(Err(failure)) => failure,
        _ => panic!("the connection attempt succeeded"),
    };
    let error = failure
        .downcast_ref::<std::io::Error>()
        .and_then(|error| error.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    assert!(
        matches!(error, Some(rustls::Error::InvalidCertificate(_))),
        "{failure:?}"
    );
    assert!(client.borrow().transport.is_none() && client.borrow().ended.is_none());
    turn_until(&reactor, MAX_TURNS, || !logs.borrow().is_empty());
    let seen = first(&logs);
    assert!(seen.borrow().transport.is_none() && seen.borrow().ended.is_none());
}

/// A client that never completes its handshake is dropped after the handshake timeout (fake
/// clock), without the server's protocol seeing it.
#[test]
fn stalled_handshake_is_dropped_after_the_timeout() {
    let (reactor, clock) = fake_clock_reactor();
    let logs = Rc::default();
    let options = TlsOptions {
        handshake_timeout: Duration::from_secs(10),
        ..TlsOptions::default()
    };
    let server = SslServer::start("stalled", &reactor, &options, probes(&logs, Probe::new));
    let mut peer = Peer::connect(&torsion::transport::Address::Tcp(server.address));
    turn_until(&reactor, MAX_TURNS, || !logs.borrow().is_empty());
    clock.advance(Duration::from_secs(9));
    for _ in 0..5 {
        reactor.iterate(Some(Duration::from_millis(1))).unwrap();
        peer.pump();
    }
    assert!(!peer.ended());
    clock.advance(Duration::from_secs(1));
    turn_until(&reactor, MAX_TURNS, || {
        peer.pump();
        peer.ended()
    });
    assert!(first(&logs).borrow().transport.is_none());
}

/// Bytes that are not TLS get an alert and a close, and the protocol hears why.
#[test]
fn plaintext_on_a_tls_port_is_refused() {
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = SslServer::start(
        "garbage",
        &reactor,
        &TlsOptions::default(),
        probes(&logs, Probe::new),
    );
    let address = server.address;
    let answer = beside(&reactor, move || {
        let mut socket = TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).map(|_| answer)
    });
    let answer = answer.expect("the server closes cleanly after its alert");
    assert_eq!(answer.first(), Some(&0x15), "an alert record: {answer:?}");
    turn_until(&reactor, MAX_TURNS, || !logs.borrow().is_empty());
    for _ in 0..5 {
        reactor.iterate(Some(Duration::from_millis(1))).unwrap();
    }
    // The server's protocol never saw a connection whose handshake failed.
    assert!(first(&logs).borrow().transport.is_none());
    assert!(first(&logs).borrow().ended.is_none());
}

/// Runs an echo server that requires client certificates from `client_ca` and a torsion
/// client presenting `certificate` (if any); returns the client's and the server's logs.
fn with_client_certificate(certificate: bool) -> (SeenLog, SeenLog) {
    let pki = Pki::new("mutual");
    let (pem, _) = pki.server("server.pem", &["127.0.0.1"]);
    let clients = Pki::new("client-ca");
    let client_pem = clients.client("client.pem");
    let reactor = new_reactor();
    let logs = Rc::default();
    let description = format!("{}:caCerts={}", ssl_description(&pem), quoted(&clients.ca));
    let (_listening, address) = serve(
        &reactor,
        &description,
        &TlsOptions::default(),
        probes(&logs, |seen| Probe::new(seen).echoing()),
    );
    let client = SeenLog::default();
    let mut description = pki.tls_client(address);
    if certificate {
        description.push_str(&format!(":certificate={}", quoted(&client_pem)));
    }
    connect_with(
        &reactor,
        &description,
        Probe::new(&client).greeting(b"it is me"),
    );
    turn_until(&reactor, MAX_TURNS, || {
        client.borrow().received == b"it is me" || client.borrow().ended.is_some()
    });
    turn_until(&reactor, MAX_TURNS, || !logs.borrow().is_empty());
    let server = first(&logs);
    (client, server)
}

/// A client certificate issued by the `caCerts` authority is accepted.
#[test]
fn client_certificate_is_accepted() {
    let (client, server) = with_client_certificate(true);
    assert_eq!(client.borrow().received, b"it is me");
    assert!(client.borrow().ended.is_none());
    assert_eq!(server.borrow().received, b"it is me");
}

/// Without a client certificate the server refuses the handshake: its protocol never sees the
/// connection, and the client (which under TLS 1.3 may think itself connected) hears the alert.
#[test]
fn missing_client_certificate_is_refused() {
    let (client, server) = with_client_certificate(false);
    assert!(client.borrow().received.is_empty());
    let error = rustls_error(client.borrow().ended.as_ref());
    assert!(
        matches!(error, Some(rustls::Error::AlertReceived(_))),
        "{error:?}"
    );
    assert!(server.borrow().transport.is_none());
    assert!(server.borrow().received.is_empty());
}

/// Reloading swaps the certificate for new handshakes while a connection made before keeps
/// working.
#[test]
fn reload_serves_new_certificates_and_keeps_open_connections() {
    let new_ca = Pki::new("reload-new");
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = echo_server("reload-old", &reactor, &logs, &TlsOptions::default());
    let before = SeenLog::default();
    connect_with(
        &reactor,
        &server.tls_client(),
        Probe::new(&before).greeting(b"one"),
    );
    turn_until(&reactor, MAX_TURNS, || before.borrow().received == b"one");

    new_ca.issue_at(
        &server.pem,
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    server
        .listening
        .tls
        .as_ref()
        .unwrap()
        .reload()
        .expect("the new files load");

    let after = SeenLog::default();
    connect_with(
        &reactor,
        &new_ca.tls_client(server.address),
        Probe::new(&after).greeting(b"two"),
    );
    let stale = SeenLog::default();
    let endpoint = torsion::endpoints::parse_client(&server.tls_client()).unwrap();
    let stale_attempt = watch_connect(torsion::endpoints::connect(
        &reactor,
        &endpoint,
        Box::new(Probe::new(&stale).greeting(b"three")),
    ));
    turn_until(&reactor, MAX_TURNS, || {
        after.borrow().received == b"two" && stale_attempt.borrow().is_some()
    });
    assert!(
        matches!(*stale_attempt.borrow(), Some(Err(_))),
        "the old authority is still trusted"
    );
    let transport = before.borrow().transport.clone().unwrap();
    transport.write(b" and more");
    turn_until(&reactor, MAX_TURNS, || {
        before.borrow().received == b"one and more"
    });
    assert!(before.borrow().ended.is_none());
}

/// A reload that meets a bad file fails naming it, and the previous certificates stay in use.
#[test]
fn failed_reload_keeps_the_previous_certificates() {
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = echo_server("reload-bad", &reactor, &logs, &TlsOptions::default());
    fs::write(&server.pem, "not a key\n").unwrap();
    let error = server.listening.tls.as_ref().unwrap().reload().unwrap_err();
    assert_eq!(error.path(), server.pem);
    assert!(error.to_string().contains("server.pem"), "{error}");
    let client = SeenLog::default();
    connect_with(
        &reactor,
        &server.tls_client(),
        Probe::new(&client).greeting(b"still fine"),
    );
    turn_until(&reactor, MAX_TURNS, || {
        client.borrow().received == b"still fine"
    });
}

/// A push producer writing chunks until it is paused.
struct Firehose {
    transport: Rc<dyn Transport>,
    paused: Cell<bool>,
    produced: Cell<usize>,
    budget: usize,
    pauses: Cell<usize>,
    most_buffered: Cell<usize>,
}

const CHUNK: usize = 16 * 1024;

impl Producer for Firehose {
    fn resume_producing(&self) {
        self.paused.set(false);
        let chunk = vec![b'x'; CHUNK];
        while !self.paused.get() && self.produced.get() < self.budget {
            self.transport.write(&chunk);
            self.produced.set(self.produced.get() + CHUNK);
            let buffered = self.transport.buffered_len();
            self.most_buffered
                .set(self.most_buffered.get().max(buffered));
        }
        if self.produced.get() >= self.budget {
            self.transport.unregister_producer();
            self.transport.lose_connection();
        }
    }

    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
    }

    fn stop_producing(&self) {
        self.paused.set(true);
    }
}

/// A server protocol that streams with a [`Firehose`] as soon as it is connected.
struct Streamer(Rc<RefCell<Option<Rc<Firehose>>>>);

impl Protocol for Streamer {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let firehose = Rc::new(Firehose {
            transport: transport.clone(),
            paused: Cell::new(false),
            produced: Cell::new(0),
            budget: 64 * 1024 * 1024,
            pauses: Cell::new(0),
            most_buffered: Cell::new(0),
        });
        transport.register_producer(firehose.clone(), true);
        *self.0.borrow_mut() = Some(firehose.clone());
        // A push producer starts on its own.
        firehose.resume_producing();
    }

    fn data_received(&mut self, _data: &[u8]) {}
}

/// A client that stops reading as soon as it is connected and counts what it receives.
struct SlowReader(Rc<RefCell<Seen>>, Rc<Cell<usize>>);

impl Protocol for SlowReader {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        transport.pause_producing();
        self.0.borrow_mut().transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.1.set(self.1.get() + data.len());
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.0.borrow_mut().ended = Some(reason);
    }
}

/// A slow reader pauses the server's producer through TLS, the bytes buffered stay bounded,
/// and everything arrives once it reads again.
#[test]
fn back_pressure_pauses_the_producer_through_tls() {
    let reactor = new_reactor();
    let firehose = Rc::new(RefCell::new(None::<Rc<Firehose>>));
    let made = firehose.clone();
    let server = SslServer::start(
        "pressure",
        &reactor,
        &TlsOptions::default(),
        move |_: &torsion::transport::Address| {
            Some(Box::new(Streamer(made.clone())) as Box<dyn Protocol>)
        },
    );
    let client = SeenLog::default();
    let received = Rc::new(Cell::new(0));
    let endpoint = torsion::endpoints::parse_client(&server.tls_client()).unwrap();
    drop(torsion::endpoints::connect(
        &reactor,
        &endpoint,
        Box::new(SlowReader(client.clone(), received.clone())),
    ));
    let hose = || firehose.borrow().clone();
    turn_until(&reactor, 20 * MAX_TURNS, || {
        hose().is_some_and(|h| h.pauses.get() > 0 && h.produced.get() > 0)
    });
    // Nothing more is produced while the client does not read.
    let hose = hose().unwrap();
    let produced = hose.produced.get();
    for _ in 0..20 {
        reactor.iterate(Some(Duration::from_millis(1))).unwrap();
    }
    assert_eq!(hose.produced.get(), produced);
    assert!(hose.paused.get());
    let bound = DEFAULT_HIGH_WATERMARK + 2 * CHUNK + 4096;
    assert!(
        hose.most_buffered.get() <= bound,
        "{} bytes buffered",
        hose.most_buffered.get()
    );
    assert!(hose.produced.get() < hose.budget);
    assert_eq!(received.get(), 0);

    client
        .borrow()
        .transport
        .clone()
        .unwrap()
        .resume_producing();
    turn_until(&reactor, 100 * MAX_TURNS, || {
        client.borrow().ended.is_some()
    });
    assert_eq!(received.get(), hose.budget);
    assert!(hose.pauses.get() >= 1);
    assert!(hose.most_buffered.get() <= bound);
    assert!(client.borrow().ended.as_ref().unwrap().is_clean());
}

/// A protocol that writes a farewell and closes as soon as it is connected.
struct Farewell;

impl Protocol for Farewell {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        transport.write(b"goodbye");
        transport.lose_connection();
    }

    fn data_received(&mut self, _data: &[u8]) {}
}

/// Serves `protocol` (made afresh per connection) over an `ssl:` server labelled `label`, and
/// reads everything a rustls client receives until the end of the stream.
fn read_all_over_tls(
    label: &str,
    protocol: fn() -> Box<dyn Protocol>,
) -> Result<Vec<u8>, std::io::Error> {
    let reactor = new_reactor();
    let server = SslServer::start(
        label,
        &reactor,
        &TlsOptions::default(),
        move |_: &torsion::transport::Address| Some(protocol()),
    );
    let config = client_config(&server.pki.ca, &[]);
    let address = server.address;
    beside(&reactor, move || {
        let mut client = blocking_client(address, "127.0.0.1", config)?;
        let mut received = Vec::new();
        client.read_to_end(&mut received)?;
        Ok::<_, std::io::Error>(received)
    })
}

/// `lose_connection` sends close_notify after the data: a rustls client reads the data and a
/// clean end, not a truncation.
#[test]
fn lose_connection_sends_close_notify() {
    let outcome = read_all_over_tls("close-notify", || Box::new(Farewell));
    assert_eq!(outcome.expect("a clean close_notify"), b"goodbye");
}

/// The 1 MiB body [`BigResponse`] writes: every byte position distinguishable from its
/// neighbours, so a lost, repeated or reordered record shows.
fn big_body() -> Vec<u8> {
    (0..1u32 << 20).map(|i| (i % 251) as u8).collect()
}

/// A protocol that writes a small head, 1 MiB in one write and a small tail, then closes.
struct BigResponse;

impl Protocol for BigResponse {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        transport.write(b"head;");
        transport.write(&big_body());
        transport.write(b";tail");
        transport.lose_connection();
    }

    fn data_received(&mut self, _data: &[u8]) {}
}

/// A 1 MiB write between two small ones reaches a rustls client intact and in order, before a
/// clean close_notify.
#[test]
fn a_mebibyte_response_is_read_back_intact() {
    let outcome = read_all_over_tls("big-response", || Box::new(BigResponse));
    let received = outcome.expect("the whole response and a clean close_notify");
    let mut expected = b"head;".to_vec();
    expected.extend_from_slice(&big_body());
    expected.extend_from_slice(b";tail");
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "the bytes come back in order");
}

/// `write_eof` sends close_notify: the server protocol hears the end of input, answers on the
/// half-open connection, and both ends close cleanly.
#[test]
fn half_close_through_close_notify() {
    let reactor = new_reactor();
    let logs = Rc::default();
    let server = SslServer::start(
        "half-close",
        &reactor,
        &TlsOptions::default(),
        probes(&logs, |seen| Probe::new(seen).replying_to_eof(b"pong")),
    );
    let client = SeenLog::default();
    connect_with(
        &reactor,
        &server.tls_client(),
        Probe::new(&client).greeting(b"ping"),
    );
    turn_until(&reactor, MAX_TURNS, || {
        logs.borrow()
            .first()
            .is_some_and(|s| s.borrow().received == b"ping")
    });
    client.borrow().transport.clone().unwrap().write_eof();
    turn_until(&reactor, MAX_TURNS, || {
        client.borrow().ended.is_some() && first(&logs).borrow().ended.is_some()
    });
    let server = first(&logs);
    assert_eq!(server.borrow().eofs, 1);
    assert_eq!(client.borrow().received, b"pong");
    assert_eq!(client.borrow().eofs, 1);
    assert!(client.borrow().ended.as_ref().unwrap().is_clean());
    assert!(server.borrow().ended.as_ref().unwrap().is_clean());
}

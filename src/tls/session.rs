//! One TLS session's records, over rustls's unbuffered connection API: ciphertext in and
//! plaintext out, plaintext in and ciphertext out, with no I/O and no clock.
//!
//! [`Session`] keeps two buffers of its own. `incoming` holds ciphertext not yet processed:
//! rustls decrypts records in place there, every whole record is processed as it arrives, so
//! what stays between reads is at most a partial record (or a handshake message still being
//! joined). `outgoing` is the one reused buffer every record is encrypted or encoded into, in
//! order, until the caller takes it to the socket's transport.
//!
//! Why the unbuffered API rather than `rustls::Connection`: the buffered connection copies
//! ciphertext into a deframer buffer of its own (`read_tls`), queues each encrypted record as a
//! `Vec` of its own and copies those out again (`write_tls`), and sums up its I/O state on
//! every call. Here ciphertext is copied once into `incoming`, records are encrypted straight
//! into `outgoing`, and a read that leaves nothing to do stops at its plaintext. That takes
//! about a tenth off what TLS adds to a small keep-alive request (`benches/README.md`). The
//! rest is AES-GCM and rustls's own work per record: rustls 0.23 still copies each received
//! record's plaintext into a `Vec` of its own and seals each outgoing record in one before
//! copying it out (in-place decryption for the caller is not in its API yet). Doing the record
//! protection here instead (rustls's kernel-connection API, with ring's AEAD) would remove that
//! too, but would make this crate answer for nonces, key updates, alerts and confidentiality
//! limits, which rustls gets right; that is not worth a thousand or so instructions a request.

use std::ops::DerefMut;
use std::sync::Arc;

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::pki_types::ServerName;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, EncryptError, InsufficientSizeError,
    UnbufferedConnectionCommon, UnbufferedStatus, WriteTraffic,
};
use rustls::{ClientConfig, ServerConfig};

/// The largest plaintext one TLS record carries.
pub(super) const RECORD_PLAINTEXT: usize = 16 * 1024;
/// More than a record adds to its plaintext: header, content type, tag and (TLS 1.2) explicit
/// nonce. An estimate only: rustls says how much it needs when it is not enough.
const RECORD_OVERHEAD: usize = 64;
/// `incoming` keeps at most this much capacity once emptied.
const RETAINED_INCOMING: usize = 32 * 1024;
/// A handshake's flights, once processed, leave no step that loops: this bounds the loop that
/// drives rustls to the next state worth stopping at.
const MAX_STEPS: usize = 4096;

/// What the caller wants done once the session can send application data.
enum Outbound<'a> {
    Nothing,
    Data(&'a [&'a [u8]]),
    CloseNotify,
}

/// A rustls unbuffered connection of either side.
trait Unbuffered: DerefMut<Target = UnbufferedConnectionCommon<Self::Data>> {
    type Data;

    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Unbuffered for UnbufferedServerConnection {
    type Data = ServerConnectionData;

    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Unbuffered for UnbufferedClientConnection {
    type Data = ClientConnectionData;

    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

enum Side {
    Server(UnbufferedServerConnection),
    Client(UnbufferedClientConnection),
}

/// The session's buffers, borrowed apart from the rustls connection.
#[derive(Default)]
struct Records {
    /// Ciphertext received and not yet processed, from `start` on.
    incoming: Vec<u8>,
    start: usize,
    /// Ciphertext to send, in order.
    outgoing: Vec<u8>,
    /// The peer's close_notify has been processed.
    peer_closed: bool,
}

impl Records {
    /// Moves what is left of `incoming` to its front.
    fn compact(&mut self) {
        if self.start >= self.incoming.len() {
            self.incoming.clear();
            if self.incoming.capacity() > RETAINED_INCOMING {
                self.incoming = Vec::new();
            }
        } else if self.start > 0 {
            self.incoming.drain(..self.start);
        }
        self.start = 0;
    }
}

/// The TLS records of one connection (see the module docs).
pub(super) struct Session {
    side: Side,
    records: Records,
    /// Why the session failed: nothing more is processed.
    failure: Option<rustls::Error>,
}

impl Session {
    /// The server side of a session configured by `config`.
    pub(super) fn server(config: Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        Ok(Self::new(Side::Server(UnbufferedServerConnection::new(
            config,
        )?)))
    }

    /// The client side of a session with `name`, configured by `config`.
    pub(super) fn client(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<Self, rustls::Error> {
        Ok(Self::new(Side::Client(UnbufferedClientConnection::new(
            config, name,
        )?)))
    }

    fn new(side: Side) -> Self {
        Self {
            side,
            records: Records::default(),
            failure: None,
        }
    }

    /// Produces what the session has to say before hearing anything (a client's hello).
    pub(super) fn start(&mut self) -> Result<(), rustls::Error> {
        self.run(&mut Vec::new(), Outbound::Nothing).map(drop)
    }

    /// Processes ciphertext from the peer: plaintext is appended to `plaintext`, and handshake
    /// records to send collect in [`Self::outgoing`]. After the peer's close_notify nothing more
    /// is read. On a TLS failure, the alert rustls sends is in [`Self::outgoing`].
    pub(super) fn receive(
        &mut self,
        input: &[u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<(), rustls::Error> {
        if self.records.peer_closed {
            return Ok(());
        }
        self.records.incoming.extend_from_slice(input);
        let outcome = self.run(plaintext, Outbound::Nothing);
        if self.records.peer_closed || self.failure.is_some() {
            self.records.start = self.records.incoming.len();
        }
        self.records.compact();
        outcome.map(drop)
    }

    /// Encrypts `data`, record by record, into [`Self::outgoing`]; `false` (nothing encrypted)
    /// while the handshake is not done.
    pub(super) fn encrypt(&mut self, data: &[&[u8]]) -> Result<bool, rustls::Error> {
        if self.is_handshaking() {
            return Ok(false);
        }
        self.run(&mut Vec::new(), Outbound::Data(data))
    }

    /// Adds close_notify to [`Self::outgoing`], once the handshake allows it.
    pub(super) fn close_notify(&mut self) -> Result<bool, rustls::Error> {
        self.run(&mut Vec::new(), Outbound::CloseNotify)
    }

    /// The ciphertext waiting to be sent; the caller takes what it sends.
    pub(super) fn outgoing(&mut self) -> &mut Vec<u8> {
        &mut self.records.outgoing
    }

    /// Whether the peer's close_notify has arrived.
    pub(super) fn peer_closed(&self) -> bool {
        self.records.peer_closed
    }

    /// Whether the handshake is still under way.
    pub(super) fn is_handshaking(&self) -> bool {
        match &self.side {
            Side::Server(conn) => conn.is_handshaking(),
            Side::Client(conn) => conn.is_handshaking(),
        }
    }

    /// The protocol ALPN negotiated, if any.
    pub(super) fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.side {
            Side::Server(conn) => conn.alpn_protocol(),
            Side::Client(conn) => conn.alpn_protocol(),
        }
    }

    fn run(&mut self, plaintext: &mut Vec<u8>, send: Outbound<'_>) -> Result<bool, rustls::Error> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let records = &mut self.records;
        let outcome = match &mut self.side {
            Side::Server(conn) => drive(conn, records, plaintext, send),
            Side::Client(conn) => drive(conn, records, plaintext, send),
        };
        if let Err(error) = &outcome {
            self.failure = Some(error.clone());
            match &mut self.side {
                Side::Server(conn) => encode_queued(conn, records),
                Side::Client(conn) => encode_queued(conn, records),
            }
            records.start = records.incoming.len();
        }
        outcome
    }
}

/// Drives `conn` over the pending ciphertext until it waits for the peer, or can send (and
/// then does what `send` asks); returns whether `send` was carried out.
fn drive<C: Unbuffered>(
    conn: &mut C,
    records: &mut Records,
    plaintext: &mut Vec<u8>,
    send: Outbound<'_>,
) -> Result<bool, rustls::Error> {
    for _ in 0..MAX_STEPS {
        let status = conn.process(&mut records.incoming[records.start..]);
        let mut discard = status.discard;
        let state = match status.state {
            Ok(state) => state,
            Err(error) => {
                records.start += discard;
                return Err(error);
            }
        };
        let settled = match state {
            ConnectionState::ReadTraffic(mut traffic) => {
                while let Some(record) = traffic.next_record() {
                    let record = record?;
                    discard += record.discard;
                    plaintext.extend_from_slice(record.payload);
                }
                drop(traffic);
                // With all input read and nothing queued to send, the state rustls would reach
                // next is of no use to a read; a write asks for it afresh.
                let drained = records.start + discard >= records.incoming.len();
                (matches!(send, Outbound::Nothing) && drained && !conn.wants_write())
                    .then_some(false)
            }
            ConnectionState::ReadEarlyData(_) => {
                // No configuration here accepts early data (it could be a replay); should some
                // arrive regardless, the session ends rather than pass it on or stall.
                records.start += discard;
                return Err(rustls::Error::General(
                    "TLS early data is not accepted".to_owned(),
                ));
            }
            ConnectionState::PeerClosed => {
                records.peer_closed = true;
                None
            }
            ConnectionState::EncodeTlsData(mut encode) => {
                encode_into(&mut encode, &mut records.outgoing)?;
                None
            }
            ConnectionState::TransmitTlsData(transmit) => {
                // Encoded records stay queued in `outgoing`, ahead of anything written later.
                transmit.done();
                None
            }
            ConnectionState::WriteTraffic(mut traffic) => {
                Some(carry_out(&mut traffic, &mut records.outgoing, &send)?)
            }
            // Closed, BlockedHandshake, and states of later rustls versions.
            _ => Some(false),
        };
        records.start += discard;
        if let Some(sent) = settled {
            return Ok(sent);
        }
    }
    Err(rustls::Error::General(
        "the TLS session did not settle".to_owned(),
    ))
}

/// Encodes what rustls has queued (its alert, once it failed) into `outgoing`, and nothing
/// more: processing further would read the failed input again.
fn encode_queued<C: Unbuffered>(conn: &mut C, records: &mut Records) {
    while conn.wants_write() {
        let status = conn.process(&mut records.incoming[records.start..]);
        let Ok(ConnectionState::EncodeTlsData(mut encode)) = status.state else {
            return;
        };
        if encode_into(&mut encode, &mut records.outgoing).is_err() {
            return;
        }
    }
}

/// Appends a handshake or alert record to `outgoing`.
fn encode_into<Data>(
    encode: &mut EncodeTlsData<'_, Data>,
    outgoing: &mut Vec<u8>,
) -> Result<(), rustls::Error> {
    append(outgoing, RECORD_OVERHEAD, |buffer| {
        match encode.encode(buffer) {
            Ok(written) => Ok(written),
            Err(EncodeError::InsufficientSize(size)) => Err(Some(size)),
            Err(EncodeError::AlreadyEncoded) => Err(None),
        }
    })
}

/// Encrypts what `send` asks into `outgoing`.
fn carry_out<Data>(
    traffic: &mut WriteTraffic<'_, Data>,
    outgoing: &mut Vec<u8>,
    send: &Outbound<'_>,
) -> Result<bool, rustls::Error> {
    match send {
        Outbound::Nothing => Ok(false),
        Outbound::Data(chunks) => {
            for chunk in chunks.iter().filter(|chunk| !chunk.is_empty()) {
                let records = chunk.len().div_ceil(RECORD_PLAINTEXT);
                let estimate = chunk.len() + records * RECORD_OVERHEAD;
                append(outgoing, estimate, |buffer| {
                    traffic.encrypt(chunk, buffer).map_err(encrypt_problem)
                })?;
            }
            Ok(true)
        }
        Outbound::CloseNotify => {
            append(outgoing, RECORD_OVERHEAD, |buffer| {
                traffic.queue_close_notify(buffer).map_err(encrypt_problem)
            })?;
            Ok(true)
        }
    }
}

fn encrypt_problem(error: EncryptError) -> Option<InsufficientSizeError> {
    match error {
        EncryptError::InsufficientSize(size) => Some(size),
        EncryptError::EncryptExhausted => None,
    }
}

/// Lets `write` fill the end of `outgoing`, growing it once if `estimate` bytes were too few.
/// `write` says how much it wrote, or how much room it needs, or (`None`) that it cannot.
fn append(
    outgoing: &mut Vec<u8>,
    estimate: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Option<InsufficientSizeError>>,
) -> Result<(), rustls::Error> {
    let start = outgoing.len();
    outgoing.resize(start + estimate, 0);
    let written = match write(&mut outgoing[start..]) {
        Ok(written) => Ok(written),
        Err(Some(InsufficientSizeError { required_size })) => {
            outgoing.resize(start + required_size, 0);
            write(&mut outgoing[start..]).map_err(|_| rustls::Error::EncryptError)
        }
        Err(None) => Err(rustls::Error::EncryptError),
    };
    match written {
        Ok(written) => {
            outgoing.truncate(start + written);
            Ok(())
        }
        Err(error) => {
            outgoing.truncate(start);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ClientConnection, RootCertStore};

    use super::*;

    /// A server session with a fresh self-signed certificate for `localhost`, and a rustls
    /// client (the buffered API, as a peer independent of this module) that trusts it.
    fn pair() -> (Session, ClientConnection) {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let certificate = CertificateDer::from(certified.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![certificate.clone()], key)
            .expect("server config");
        let mut roots = RootCertStore::empty();
        roots.add(certificate).expect("root");
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("name");
        let server = Session::server(Arc::new(server)).expect("server session");
        let client = ClientConnection::new(Arc::new(client), name).expect("client");
        (server, client)
    }

    /// What `client` has to send.
    fn from_client(client: &mut ClientConnection) -> Vec<u8> {
        let mut out = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut out).expect("write_tls");
        }
        out
    }

    /// Feeds `bytes` to `client` and returns the plaintext it then has.
    fn to_client(client: &mut ClientConnection, mut bytes: &[u8]) -> Vec<u8> {
        let mut plaintext = Vec::new();
        while !bytes.is_empty() {
            client.read_tls(&mut bytes).expect("read_tls");
            let state = client
                .process_new_packets()
                .expect("client accepts the records");
            let mut chunk = vec![0; state.plaintext_bytes_to_read()];
            client.reader().read_exact(&mut chunk).expect("plaintext");
            plaintext.extend_from_slice(&chunk);
        }
        plaintext
    }

    /// A pair that has finished its handshake.
    fn connected() -> (Session, ClientConnection) {
        let (mut server, mut client) = pair();
        server.start().expect("server start");
        for _ in 0..10 {
            let hello = from_client(&mut client);
            server.receive(&hello, &mut Vec::new()).expect("handshake");
            let answer = std::mem::take(server.outgoing());
            to_client(&mut client, &answer);
            if !server.is_handshaking() && !client.is_handshaking() {
                return (server, client);
            }
        }
        panic!("the handshake did not complete");
    }

    /// A record split in two at every byte is decrypted once whole, to the same plaintext.
    #[test]
    fn a_record_split_at_every_byte_decrypts_once_complete() {
        let (mut server, mut client) = connected();
        for split in 0..=60 {
            let message = format!("GET /{split} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            client.writer().write_all(message.as_bytes()).unwrap();
            let records = from_client(&mut client);
            let (first, second) = records.split_at(split.min(records.len()));
            let mut plaintext = Vec::new();
            server.receive(first, &mut plaintext).unwrap();
            if first.len() < records.len() {
                assert!(plaintext.is_empty(), "nothing before the record is whole");
            }
            server.receive(second, &mut plaintext).unwrap();
            assert_eq!(plaintext, message.as_bytes());
        }
    }

    /// Records fed one byte at a time come out intact.
    #[test]
    fn records_fed_one_byte_at_a_time_decrypt() {
        let (mut server, mut client) = connected();
        client.writer().write_all(b"one").unwrap();
        client.writer().write_all(b"two").unwrap();
        let records = from_client(&mut client);
        let mut plaintext = Vec::new();
        for byte in records.chunks(1) {
            server.receive(byte, &mut plaintext).unwrap();
        }
        assert_eq!(plaintext, b"onetwo");
    }

    /// Many records arriving in one read are all decrypted, in order.
    #[test]
    fn many_records_in_one_read_decrypt_in_order() {
        let (mut server, mut client) = connected();
        let mut expected = Vec::new();
        for n in 0..200 {
            let message = format!("record {n};");
            client.writer().write_all(message.as_bytes()).unwrap();
            expected.extend_from_slice(message.as_bytes());
        }
        let records = from_client(&mut client);
        let mut plaintext = Vec::new();
        server.receive(&records, &mut plaintext).unwrap();
        assert_eq!(plaintext, expected);
    }

    /// One MiB encrypted in one call reaches a rustls client intact, in full-size records.
    #[test]
    fn a_mebibyte_is_encrypted_and_read_back_intact() {
        let (mut server, mut client) = connected();
        let body: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        assert!(server.encrypt(&[b"head:", &body]).unwrap());
        let records = std::mem::take(server.outgoing());
        assert!(records.len() < body.len() + 100 * RECORD_OVERHEAD);
        let plaintext = to_client(&mut client, &records);
        assert_eq!(&plaintext[..5], b"head:");
        assert!(plaintext[5..] == body[..], "the body comes back intact");
    }

    /// Writes encrypted before the handshake is done are refused, so the caller keeps them.
    #[test]
    fn nothing_is_encrypted_during_the_handshake() {
        let (mut server, _client) = pair();
        assert!(!server.encrypt(&[b"early"]).unwrap());
        assert!(server.outgoing().is_empty());
    }

    /// Bytes that are not TLS fail the session, with an alert ready to send.
    #[test]
    fn garbage_fails_with_an_alert() {
        let (mut server, _client) = pair();
        let error = server
            .receive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut Vec::new())
            .unwrap_err();
        assert!(
            matches!(error, rustls::Error::InvalidMessage(_)),
            "{error:?}"
        );
        assert_eq!(server.outgoing().first(), Some(&0x15), "an alert record");
        assert_eq!(server.outgoing().len(), 7, "one alert, once");
        let again = server.receive(b"more", &mut Vec::new()).unwrap_err();
        assert_eq!(again, error, "a failed session stays failed");
    }

    /// close_notify travels both ways: the server sees the client's, and the client reads a
    /// clean end after the server's.
    #[test]
    fn close_notify_both_ways() {
        let (mut server, mut client) = connected();
        client.writer().write_all(b"bye").unwrap();
        client.send_close_notify();
        let records = from_client(&mut client);
        let mut plaintext = Vec::new();
        server.receive(&records, &mut plaintext).unwrap();
        assert_eq!(plaintext, b"bye");
        assert!(server.peer_closed());
        // Nothing after close_notify is read.
        server
            .receive(b"\x17\x03\x03\x00\x01x", &mut plaintext)
            .unwrap();
        assert_eq!(plaintext, b"bye");
        assert!(server.encrypt(&[b"last words"]).unwrap());
        assert!(server.close_notify().unwrap());
        let records = std::mem::take(server.outgoing());
        assert_eq!(to_client(&mut client, &records), b"last words");
        let mut rest = Vec::new();
        assert_eq!(client.reader().read_to_end(&mut rest).unwrap(), 0);
    }
}

//! HTTP/2 connections on the fake clock: the site's graceful shutdown (GOAWAY, streams in
//! flight finishing, newer streams refused, closing without waiting for any timer) and the
//! protocol dispatcher's own bound on a connection that never says which protocol it speaks.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use torsion::hpack::Encoder;
use torsion::http1::Config;
use torsion::http2::frame;
use torsion::http2::{ErrorCode, PREFACE};
use torsion::web::{Render, Request, SiteConfig};

use crate::util::{Peer, fake_clock_reactor, turn_until};
use crate::web::support::{FnResource, MAX_TURNS, Record, Server};

const END_STREAM: u8 = 0x1;

/// Frame types (RFC 9113 §6).
mod kind {
    pub(super) const DATA: u8 = 0x0;
    pub(super) const RST_STREAM: u8 = 0x3;
    pub(super) const SETTINGS: u8 = 0x4;
    pub(super) const GOAWAY: u8 = 0x7;
}

/// A frame read back from the server.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// The whole frames at the start of `bytes`.
fn frames(mut bytes: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        if bytes.len() < 9 + len {
            break;
        }
        out.push(Frame {
            kind: bytes[3],
            flags: bytes[4],
            stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff,
            payload: bytes[9..9 + len].to_vec(),
        });
        bytes = &bytes[9 + len..];
    }
    out
}

fn word(payload: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([
        payload[at],
        payload[at + 1],
        payload[at + 2],
        payload[at + 3],
    ])
}

/// A GET on `stream` encoded with the client's HPACK context.
fn get(encoder: &mut Encoder, stream: u32, path: &str) -> Vec<u8> {
    let fields: [(&[u8], &[u8], bool); 4] = [
        (b":method", b"GET", false),
        (b":scheme", b"http", false),
        (b":authority", b"localhost", false),
        (b":path", path.as_bytes(), false),
    ];
    let mut block = Vec::new();
    encoder.encode(fields, &mut block);
    let mut out = Vec::new();
    frame::write_headers(&mut out, stream, &block, true, 16_384);
    out
}

/// The client preface, its SETTINGS and the acknowledgement of the server's.
fn client_start() -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    frame::write_settings(&mut out, &[]);
    frame::write_settings_ack(&mut out);
    out
}

/// Turns the reactor until `peer` has received a frame matching `wanted` (or ended).
fn await_frame(server: &Server, peer: &mut Peer, wanted: impl Fn(&Frame) -> bool) {
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        peer.ended() || frames(&peer.received).iter().any(&wanted)
    });
}

/// On drain, a connection with a response in progress sends GOAWAY naming stream 1, refuses
/// stream 3, delivers stream 1's response when the resource finishes it and then closes; an
/// idle connection closes at once; the drain's Deferred fires when both are gone — all without
/// the fake clock moving.
#[test]
fn drain_finishes_streams_in_flight_then_closes() {
    let (reactor, _clock) = fake_clock_reactor();
    let held: Record<Request> = Record::default();
    let holder = held.clone();
    let server = Server::start_with(
        reactor,
        FnResource::new(move |request| {
            holder.borrow_mut().push(request.clone());
            Render::NotDoneYet
        }),
        SiteConfig::default(),
    );
    let mut encoder = Encoder::new();
    let mut busy = Peer::connect(&server.address);
    let mut opening = client_start();
    opening.extend(get(&mut encoder, 1, "/slow"));
    busy.send(&opening);
    let mut idle = Peer::connect(&server.address);
    idle.send(&client_start());
    turn_until(&server.reactor, MAX_TURNS, || {
        busy.pump();
        idle.pump();
        held.borrow().len() == 1 && server.site.http2_connection_count() == 2
    });

    let drained = Rc::new(Cell::new(false));
    let flag = drained.clone();
    let drain = server.site.drain_http2().add_callback(move |()| {
        flag.set(true);
        Ok(())
    });
    await_frame(&server, &mut busy, |f| f.kind == kind::GOAWAY);
    let sent = frames(&busy.received);
    let away = sent.iter().find(|f| f.kind == kind::GOAWAY).unwrap();
    assert_eq!(
        (word(&away.payload, 0), ErrorCode(word(&away.payload, 4))),
        (1, ErrorCode::NO_ERROR)
    );
    idle.read_to_end(&server.reactor);
    assert!(
        frames(&idle.received)
            .iter()
            .any(|f| f.kind == kind::GOAWAY)
    );
    assert!(!drained.get(), "drained with a stream in flight");

    busy.send(&get(&mut encoder, 3, "/late"));
    await_frame(&server, &mut busy, |f| f.kind == kind::RST_STREAM);
    let refused = frames(&busy.received)
        .into_iter()
        .find(|f| f.kind == kind::RST_STREAM)
        .unwrap();
    assert_eq!(
        (refused.stream, ErrorCode(word(&refused.payload, 0))),
        (3, ErrorCode::REFUSED_STREAM)
    );
    assert_eq!(
        held.borrow().len(),
        1,
        "a refused stream reached the resource"
    );

    let request = held.borrow()[0].clone();
    request.write(b"finished after GOAWAY");
    request.finish();
    busy.read_to_end(&server.reactor);
    let body: Vec<u8> = frames(&busy.received)
        .iter()
        .filter(|f| f.kind == kind::DATA && f.stream == 1)
        .flat_map(|f| f.payload.clone())
        .collect();
    assert_eq!(body, b"finished after GOAWAY");
    assert!(
        frames(&busy.received)
            .iter()
            .any(|f| f.kind == kind::DATA && f.flags & END_STREAM != 0)
    );
    turn_until(&server.reactor, MAX_TURNS, || drained.get());
    assert!(drain.is_called());
    assert_eq!(server.site.http2_connection_count(), 0);
}

/// A connection that sends one byte of what could be the preface and stops is closed by the
/// dispatcher once the header timeout has passed on the fake clock, not before.
#[test]
fn undecided_connection_is_closed_at_the_header_timeout() {
    let (reactor, clock) = fake_clock_reactor();
    let timeout = Duration::from_secs(5);
    let mut http1 = Config::default();
    http1.header_timeout = timeout;
    http1.idle_timeout = Duration::from_secs(3600);
    let config = SiteConfig {
        http1,
        ..SiteConfig::default()
    };
    let server = Server::start_with(
        reactor,
        FnResource::new(|_| Render::Body(b"x".to_vec())),
        config,
    );
    let mut peer = Peer::connect(&server.address);
    peer.send(b"P");
    let deadline = clock.clock().now() + timeout;
    turn_until(&server.reactor, MAX_TURNS, || {
        peer.pump();
        clock.clock().next_deadline() == Some(deadline)
    });
    clock.advance(timeout - Duration::from_millis(1));
    for _ in 0..3 {
        server.reactor.iterate(Some(Duration::ZERO)).expect("turn");
    }
    peer.pump();
    assert!(!peer.ended(), "closed before the header timeout");
    clock.advance(Duration::from_millis(1));
    peer.read_to_end(&server.reactor);
    assert!(peer.received.is_empty(), "answered an undecided connection");
}

/// Bytes that match the HTTP/1.1-shaped start of the preface and then differ get HTTP/2's
/// answer (SETTINGS, then GOAWAY with PROTOCOL_ERROR) and the connection closes; with header
/// fields after `PRI * HTTP/2.0` it is HTTP/1.1's 505.
#[test]
fn broken_preface_gets_goaway_and_http1_shape_gets_505() {
    let server = Server::start(FnResource::new(|_| Render::Body(b"x".to_vec())));
    let mut peer = Peer::connect(&server.address);
    peer.send(&[&PREFACE[..18], b"XXXXXX"].concat());
    peer.read_to_end(&server.reactor);
    let sent = frames(&peer.received);
    assert_eq!(sent.first().map(|f| f.kind), Some(kind::SETTINGS));
    let away = sent.last().unwrap();
    assert_eq!(
        (away.kind, ErrorCode(word(&away.payload, 4))),
        (kind::GOAWAY, ErrorCode::PROTOCOL_ERROR)
    );

    let responses = server.exchange(b"PRI * HTTP/2.0\r\nHost: x\r\n\r\n", 1);
    assert_eq!(responses.first().map(|r| r.status), Some(505));
}

//! Graceful shutdown: GOAWAY with the last stream accepted, streams in flight
//! finishing (request bodies included), newer streams refused, timers while
//! draining, and the close once the last stream ends.

use super::{Client, END_STREAM, SECOND, frames, get_with_shut_window, request, serving, t0};
use crate::http::{ResponseHead, StatusCode};
use crate::http2::frame::{self, kind};
use crate::http2::{Config, ErrorCode, Event, ServerConn, StreamId};

/// Feeds `input` cut at `cuts`, collecting events and output frames.
fn feed(conn: &mut ServerConn, input: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let now = conn.now;
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        conn.handle_input(now, &input[start..cut]);
        start = cut;
        while let Some(event) = conn.poll_event() {
            if let Event::Data { id, chunk } = &event {
                conn.release_capacity(*id, chunk.len());
            }
            events.push(event);
        }
        let _ = conn.poll_transmit(&mut out);
    }
    (events, out)
}

/// A connection with POST stream 1 open (its body not yet sent) and GOAWAY sent.
fn draining_with_upload(client: &mut Client) -> (ServerConn, Vec<u8>) {
    let now = t0();
    let mut input = client.preface();
    frame::write_settings_ack(&mut input);
    input.extend(client.headers(1, &request("/upload", "POST"), false));
    let mut conn = serving(now, &input, &[]);
    conn.shutdown();
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    (conn, out)
}

/// After GOAWAY the body of a stream already accepted still arrives whole and its response
/// goes out, while a newer stream (whose header list is even oversized) is refused; the
/// connection closes after the last response, at every split of the client's input.
#[test]
fn request_body_in_flight_finishes_after_goaway() {
    let mut client = Client::new();
    let (_, first) = draining_with_upload(&mut client);
    let away: Vec<_> = frames(&first)
        .into_iter()
        .filter(|f| f.kind == kind::GOAWAY)
        .collect();
    assert_eq!(away.len(), 1);
    assert_eq!(&away[0].payload[..8], &[0, 0, 0, 1, 0, 0, 0, 0]);

    let mut later = Vec::new();
    frame::write_head(&mut later, 5, kind::DATA, 0, 1);
    later.extend_from_slice(b"hello");
    later.extend(client.get(3, "/late"));
    let huge = "v".repeat(70_000);
    let mut fields = request("/huge", "GET");
    fields.push(("x-big", &huge));
    later.extend(client.headers(5, &fields, true));
    frame::write_head(&mut later, 6, kind::DATA, END_STREAM, 1);
    later.extend_from_slice(b" world");

    let mut splits: Vec<Vec<usize>> = vec![vec![], (1..later.len()).collect()];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..8 {
        let mut cuts: Vec<usize> = (0..5)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % later.len() as u64) as usize
            })
            .collect();
        cuts.sort_unstable();
        splits.push(cuts);
    }
    for cuts in splits {
        // The HPACK state must match: every run replays the same client.
        let mut client = Client::new();
        let (mut conn, _) = draining_with_upload(&mut client);
        let (events, out) = feed(&mut conn, &later, &cuts);
        let body: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                Event::Data { id, chunk } if id.get() == 1 => Some(chunk.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(body, b"hello world", "split {cuts:?}");
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, Event::Request { .. } | Event::StreamReset { .. })),
            "a refused stream reached the web layer: {events:?}"
        );
        assert!(matches!(
            events.last(),
            Some(Event::EndOfMessage { id, .. }) if id.get() == 1
        ));
        let refused: Vec<(u32, ErrorCode)> = frames(&out)
            .iter()
            .filter(|f| f.kind == kind::RST_STREAM)
            .map(|f| (f.stream, f.code()))
            .collect();
        assert_eq!(
            refused,
            [
                (3, ErrorCode::REFUSED_STREAM),
                (5, ErrorCode::REFUSED_STREAM)
            ],
            "split {cuts:?}"
        );
        assert!(!conn.is_closed(), "closed with stream 1 unanswered");
        let head = ResponseHead::new(StatusCode::OK);
        conn.send_response(StreamId(1), head).unwrap();
        conn.send_data(StreamId(1), b"stored").unwrap();
        conn.finish(StreamId(1)).unwrap();
        let mut out = Vec::new();
        let _ = conn.poll_transmit(&mut out);
        let last = frames(&out).pop().unwrap();
        assert_eq!(
            (last.kind, last.stream, last.flags),
            (kind::DATA, 1, END_STREAM)
        );
        assert!(conn.is_closed());
    }
}

/// A second shutdown sends no second GOAWAY, and an idle connection that shuts down is closed
/// as soon as its GOAWAY is written.
#[test]
fn idle_connection_closes_after_one_goaway() {
    let now = t0();
    let client = Client::new();
    let mut conn = ServerConn::new(Config::default(), now);
    conn.handle_input(now, &client.preface());
    conn.shutdown();
    conn.shutdown();
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let away: Vec<_> = frames(&out)
        .into_iter()
        .filter(|f| f.kind == kind::GOAWAY)
        .collect();
    assert_eq!(away.len(), 1);
    assert_eq!(away[0].code(), ErrorCode::NO_ERROR);
    assert_eq!(&away[0].payload[..4], &0u32.to_be_bytes());
    assert!(conn.is_closed());
}

/// While draining the idle timeout no longer applies, but a stream whose window the client
/// keeps shut is still cancelled after the stall timeout, and the connection then closes.
#[test]
fn draining_stream_stalled_by_flow_control_is_cancelled() {
    let now = t0();
    let mut conn = serving(now, &get_with_shut_window(&mut Client::new()), &[1]);
    conn.send_data(StreamId(1), b"never sent").unwrap();
    conn.finish(StreamId(1)).unwrap();
    conn.shutdown();
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let stall = Config::default().send_stall_timeout;
    assert_eq!(conn.poll_timeout(), Some(now + stall));
    conn.handle_timeout(now + stall - SECOND);
    assert!(!conn.is_closed(), "closed before the stall timeout");
    conn.handle_timeout(now + stall);
    assert!(matches!(
        conn.poll_event(),
        Some(Event::StreamReset { id, code: ErrorCode::CANCEL, by_peer: false }) if id.get() == 1
    ));
    out.clear();
    let _ = conn.poll_transmit(&mut out);
    let last = frames(&out).pop().unwrap();
    assert_eq!(
        (last.kind, last.code()),
        (kind::RST_STREAM, ErrorCode::CANCEL)
    );
    assert!(conn.is_closed());
    assert_eq!(conn.poll_timeout(), None);
}

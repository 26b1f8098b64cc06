//! Request and response flow: preface, events, framing, flow control, fairness.

use super::*;

/// The server opens with SETTINGS and a connection WINDOW_UPDATE, acknowledges the client's
/// SETTINGS, and answers a GET with HEADERS then DATA carrying END_STREAM.
#[test]
fn get_is_answered() {
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.get(1, "/a?b=c"));
    let run = check(&Config::default(), &input, Answer::Hello);
    assert_eq!(
        run.events,
        [
            "request 1 GET /a?b=c Http2 [host=example.com] end=true",
            "end 1 trailers=0"
        ]
    );
    let kinds: Vec<(u8, u8, u32)> = run
        .frames
        .iter()
        .map(|f| (f.kind, f.flags, f.stream))
        .collect();
    assert_eq!(
        kinds,
        [
            (kind::SETTINGS, 0, 0),
            (kind::WINDOW_UPDATE, 0, 0),
            (kind::SETTINGS, flag::ACK, 0),
            (kind::HEADERS, flag::END_HEADERS, 1),
            (kind::DATA, END_STREAM, 1),
        ]
    );
    let fields = String::from_utf8_lossy(&run.frames[3].payload).into_owned();
    assert!(fields.starts_with(":status=200\n"), "{fields}");
    assert!(fields.contains("content-length=8\n"), "{fields}");
    let _ = client.fields(&[]);
    assert_eq!(run.frames[4].payload, b"hello /a");
}

/// A body of several DATA frames and trailers reaches the web layer; cookies are joined.
#[test]
fn body_trailers_and_cookies() {
    let mut client = Client::new();
    let mut input = client.preface();
    let mut fields = request("/post", "POST");
    fields.extend([
        ("cookie", "a=1"),
        ("content-length", "6"),
        ("cookie", "b=2"),
    ]);
    input.extend(client.headers(3, &fields, false));
    frame::write_data(&mut input, 3, b"abc", false);
    frame::write_data(&mut input, 3, b"def", false);
    input.extend(client.headers(3, &[("x-checksum", "1")], true));
    let run = check(&Config::default(), &input, Answer::Hello);
    assert_eq!(
        run.events,
        [
            "request 3 POST /post Http2 [content-length=6 host=example.com cookie=a=1; b=2] end=false",
            "data 3 abcdef",
            "end 3 trailers=1"
        ]
    );
}

/// A body that disagrees with content-length is a stream error (PROTOCOL_ERROR).
#[test]
fn content_length_mismatch() {
    let mut client = Client::new();
    let mut input = client.preface();
    let mut fields = request("/post", "POST");
    fields.push(("content-length", "2"));
    input.extend(client.headers(1, &fields, false));
    frame::write_data(&mut input, 1, b"abc", true);
    let run = check(&Config::default(), &input, Answer::Hello);
    assert_eq!(resets(&run), [(1, ErrorCode::PROTOCOL_ERROR)]);
    assert_eq!(
        run.events.last().unwrap(),
        "reset 1 PROTOCOL_ERROR peer=false"
    );
}

/// Malformed requests (RFC 9113 §8.3) are reset with PROTOCOL_ERROR; the connection lives on.
#[test]
fn malformed_requests_are_reset() {
    let cases: &[&[(&str, &str)]] = &[
        &[(":method", "GET"), (":scheme", "http"), (":authority", "x")],
        &[
            (":method", "GET"),
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("Upper", "x"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("connection", "close"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("te", "gzip"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            ("x", "1"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":status", "200"),
        ],
        &[(":method", "GET"), (":scheme", "http"), (":path", "")],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("x", " padded"),
        ],
    ];
    for fields in cases {
        let mut client = Client::new();
        let mut input = client.preface();
        input.extend(client.headers(1, fields, true));
        input.extend(client.get(3, "/ok"));
        let run = check(&Config::default(), &input, Answer::Hello);
        assert_eq!(resets(&run), [(1, ErrorCode::PROTOCOL_ERROR)], "{fields:?}");
        assert!(
            run.events[0].starts_with("request 3"),
            "{fields:?}: {:?}",
            run.events
        );
        assert!(goaway(&run).is_none());
    }
}

/// A response larger than the client's window stops at the window and resumes on WINDOW_UPDATE.
#[test]
fn flow_control_blocks_and_resumes() {
    let now = t0();
    let mut client = Client::new();
    let mut input = PREFACE.to_vec();
    frame::write_settings(&mut input, &[(0x4, 1000)]);
    input.extend(client.get(1, "/"));
    let mut conn = serving(now, &input, &[1]);
    let id = StreamId(1);
    conn.send_data_owned(id, vec![7; 2500]).unwrap();
    conn.finish(id).unwrap();
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let data: usize = frames(&out)
        .iter()
        .filter(|f| f.kind == kind::DATA)
        .map(|f| f.payload.len())
        .sum();
    assert_eq!(data, 1000);
    assert_eq!(conn.buffered(id), 1500);
    let mut update = Vec::new();
    frame::write_window_update(&mut update, 1, 5000);
    conn.handle_input(now, &update);
    out.clear();
    let _ = conn.poll_transmit(&mut out);
    let sent = frames(&out);
    assert_eq!(sent.iter().map(|f| f.payload.len()).sum::<usize>(), 1500);
    assert_eq!(sent.last().unwrap().flags & END_STREAM, END_STREAM);
}

/// DATA frames of concurrent responses alternate between streams (round-robin).
#[test]
fn data_is_fair_across_streams() {
    let now = t0();
    let mut client = Client::new();
    let mut input = PREFACE.to_vec();
    frame::write_settings(&mut input, &[(0x4, 1 << 20)]);
    frame::write_window_update(&mut input, 0, 1 << 20);
    input.extend(client.get(1, "/"));
    input.extend(client.get(3, "/"));
    let mut conn = serving(now, &input, &[1, 3]);
    for id in [StreamId(1), StreamId(3)] {
        conn.send_data_owned(id, vec![1; 64 * 1024]).unwrap();
        conn.finish(id).unwrap();
    }
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let order: Vec<u32> = frames(&out)
        .iter()
        .filter(|f| f.kind == kind::DATA)
        .map(|f| f.stream)
        .collect();
    assert_eq!(order, [1, 3, 1, 3, 1, 3, 1, 3]);
}

/// Releasing half of the stream window sends WINDOW_UPDATE for the stream and, at half the
/// connection window, for the connection.
#[test]
fn window_update_policy() {
    let config = Config {
        stream_window: 100,
        connection_window: 65_535,
        ..Config::default()
    };
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.headers(1, &request("/", "POST"), false));
    frame::write_data(&mut input, 1, &[0; 49], false);
    frame::write_data(&mut input, 1, &[0; 1], false);
    let run = check(&config, &input, Answer::Nothing);
    let updates: Vec<(u32, Vec<u8>)> = run
        .frames
        .iter()
        .filter(|f| f.kind == kind::WINDOW_UPDATE)
        .map(|f| (f.stream, f.payload.clone()))
        .collect();
    assert_eq!(updates, [(1, 50u32.to_be_bytes().to_vec())]);
}

/// DATA beyond the stream window is a stream error (FLOW_CONTROL_ERROR).
#[test]
fn data_beyond_window() {
    let config = Config {
        stream_window: 10,
        ..Config::default()
    };
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.headers(1, &request("/", "POST"), false));
    frame::write_data(&mut input, 1, &[0; 11], false);
    let run = check(&config, &input, Answer::Nothing);
    assert_eq!(resets(&run), [(1, ErrorCode::FLOW_CONTROL_ERROR)]);
}

/// A client reset reaches the web layer, and later commands on the stream are refused.
#[test]
fn client_reset_is_reported() {
    let now = t0();
    let mut client = Client::new();
    let mut conn = ServerConn::new(Config::default(), now);
    let mut input = client.preface();
    input.extend(client.get(1, "/"));
    frame::write_rst_stream(&mut input, 1, ErrorCode::CANCEL);
    conn.handle_input(now, &input);
    let events: Vec<Event> = std::iter::from_fn(|| conn.poll_event()).collect();
    assert!(matches!(
        events.last(),
        Some(Event::StreamReset {
            by_peer: true,
            code: ErrorCode::CANCEL,
            ..
        })
    ));
    assert_eq!(
        conn.send_response(StreamId(1), ResponseHead::new(StatusCode::OK)),
        Err(super::super::UserError::StreamGone)
    );
}

/// Graceful shutdown: GOAWAY names the last stream, it still completes, newer streams are
/// refused, and the connection closes once idle.
#[test]
fn graceful_goaway() {
    let now = t0();
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.get(1, "/"));
    let mut conn = serving(now, &input, &[]);
    conn.shutdown();
    conn.handle_input(now, &client.get(3, "/"));
    assert!(!conn.is_closed());
    super::respond(&mut conn, StreamId(1), b"/");
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let sent = frames(&out);
    let away = sent.iter().find(|f| f.kind == kind::GOAWAY).unwrap();
    assert_eq!(&away.payload[..4], &1u32.to_be_bytes());
    assert!(sent.iter().any(|f| f.kind == kind::RST_STREAM
        && f.stream == 3
        && f.code() == ErrorCode::REFUSED_STREAM));
    assert!(
        sent.iter()
            .any(|f| f.kind == kind::DATA && f.stream == 1 && f.flags & END_STREAM != 0)
    );
    assert!(conn.is_closed());
}

/// A response finished before the request body ends tells the client to stop (RST NO_ERROR).
#[test]
fn early_response_resets_no_error() {
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.headers(1, &request("/", "POST"), false));
    let now = t0();
    let mut conn = serving(now, &input, &[]);
    super::respond(&mut conn, StreamId(1), b"/");
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let sent = frames(&out);
    let last = sent.last().unwrap();
    assert_eq!(
        (last.kind, last.stream, last.code()),
        (kind::RST_STREAM, 1, ErrorCode::NO_ERROR)
    );
}

/// Frame-level violations end the connection with the RFC's error code.
#[test]
fn connection_errors() {
    /// The client's preface followed by what `write` adds.
    fn after_preface(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut input = Client::new().preface();
        write(&mut input);
        input
    }
    let cases: Vec<(Vec<u8>, ErrorCode)> = vec![
        (
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            {
                let mut v = PREFACE.to_vec();
                frame::write_ping(&mut v, false, [0; 8]);
                v
            },
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            after_preface(|v| {
                frame::write_head(v, 16_385, kind::DATA, 0, 1);
                v.extend([0; 16_385]);
            }),
            ErrorCode::FRAME_SIZE_ERROR,
        ),
        (
            after_preface(|v| frame::write_data(v, 1, b"x", false)),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            after_preface(|v| {
                frame::write_head(v, 4, kind::PING, 0, 0);
                v.extend([0; 4]);
            }),
            ErrorCode::FRAME_SIZE_ERROR,
        ),
        (
            after_preface(|v| frame::write_settings(v, &[(0x2, 2)])),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            after_preface(|v| frame::write_settings(v, &[(0x4, 1 << 31)])),
            ErrorCode::FLOW_CONTROL_ERROR,
        ),
        (
            after_preface(|v| frame::write_window_update(v, 0, (1 << 31) - 1)),
            ErrorCode::FLOW_CONTROL_ERROR,
        ),
        (
            after_preface(|v| frame::write_head(v, 0, kind::PUSH_PROMISE, 4, 1)),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            after_preface(|v| v.extend(Client::new().get(2, "/"))),
            ErrorCode::PROTOCOL_ERROR,
        ),
        (
            after_preface(|v| frame::write_head(v, 0, kind::CONTINUATION, 4, 1)),
            ErrorCode::PROTOCOL_ERROR,
        ),
    ];
    for (i, (input, code)) in cases.into_iter().enumerate() {
        let run = check(&Config::default(), &input, Answer::Hello);
        assert_eq!(goaway(&run).map(Out::code), Some(code), "case {i}");
        assert!(run.closed, "case {i}");
    }
}

/// DATA after END_STREAM is STREAM_CLOSED; HEADERS on a stream that closed ends the connection.
#[test]
fn frames_on_closed_streams() {
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.get(1, "/"));
    frame::write_data(&mut input, 1, b"x", true);
    let run = check(&Config::default(), &input, Answer::Nothing);
    assert_eq!(resets(&run), [(1, ErrorCode::STREAM_CLOSED)]);

    let now = t0();
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.get(1, "/"));
    let mut conn = serving(now, &input, &[]);
    super::respond(&mut conn, StreamId(1), b"/");
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    conn.handle_input(now, &client.get(1, "/"));
    out.clear();
    let _ = conn.poll_transmit(&mut out);
    assert_eq!(
        frames(&out).last().map(Out::code),
        Some(ErrorCode::STREAM_CLOSED)
    );
    assert!(conn.is_closed());
}

/// An h2c upgrade turns the HTTP/1.1 request into stream 1, answered over HTTP/2.
#[test]
fn upgrade_makes_stream_one() {
    let now = t0();
    let head = crate::http::RequestHead::new(
        crate::http::Method::Get,
        b"/up",
        crate::http::Version::Http2,
        crate::http::Headers::new(),
    );
    let settings = [0, 4, 0, 0, 0x10, 0];
    let mut conn = ServerConn::upgraded(Config::default(), now, &settings, head).unwrap();
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Request {
            id: StreamId(1),
            end_stream: true,
            ..
        })
    ));
    assert!(matches!(
        conn.poll_event(),
        Some(Event::EndOfMessage { .. })
    ));
    super::respond(&mut conn, StreamId(1), b"/up");
    let client = Client::new();
    conn.handle_input(now, &client.preface());
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    let sent = frames(&out);
    assert!(
        sent.iter()
            .any(|f| f.kind == kind::DATA && f.stream == 1 && f.payload == b"hello /up")
    );
    assert!(
        ServerConn::upgraded(
            Config::default(),
            now,
            &[1, 2, 3],
            crate::http::RequestHead::new(
                crate::http::Method::Get,
                b"/",
                crate::http::Version::Http2,
                crate::http::Headers::new()
            )
        )
        .is_err()
    );
}

/// HEAD and 204 responses carry no DATA; END_STREAM rides on HEADERS.
#[test]
fn bodiless_responses() {
    let mut client = Client::new();
    let mut input = client.preface();
    input.extend(client.headers(1, &request("/", "HEAD"), true));
    let run = check(&Config::default(), &input, Answer::Hello);
    let last = run.frames.last().unwrap();
    assert_eq!(
        (last.kind, last.flags & END_STREAM),
        (kind::HEADERS, END_STREAM)
    );
    assert!(!run.frames.iter().any(|f| f.kind == kind::DATA));
}

//! Each protection against abusive clients, with the fake passage of time.

use super::*;

/// Rapid Reset (CVE-2023-44487): more stream resets than allowed within the window end the
/// connection with ENHANCE_YOUR_CALM; resets spread beyond the window do not.
#[test]
fn rapid_reset() {
    let config = Config {
        max_resets_per_window: 10,
        ..Config::default()
    };
    let now = t0();
    let mut client = Client::new();
    let mut conn = ServerConn::new(config.clone(), now);
    conn.handle_input(now, &client.preface());
    let mut out = Vec::new();
    for i in 0..11u32 {
        let mut input = client.get(2 * i + 1, "/");
        frame::write_rst_stream(&mut input, 2 * i + 1, ErrorCode::CANCEL);
        conn.handle_input(now, &input);
    }
    let _ = conn.poll_transmit(&mut out);
    let sent = frames(&out);
    let away = sent.iter().find(|f| f.kind == kind::GOAWAY).unwrap();
    assert_eq!(away.code(), ErrorCode::ENHANCE_YOUR_CALM);

    let mut conn = ServerConn::new(config, now);
    let mut client = Client::new();
    conn.handle_input(now, &client.preface());
    for i in 0..30u32 {
        let later = now + 4 * SECOND * i;
        let mut input = client.get(2 * i + 1, "/");
        frame::write_rst_stream(&mut input, 2 * i + 1, ErrorCode::CANCEL);
        conn.handle_input(later, &input);
    }
    assert!(!conn.is_closed());
}

/// A CONTINUATION flood (endless header block) ends the connection with ENHANCE_YOUR_CALM,
/// both by frame count and by block size.
#[test]
fn continuation_flood() {
    let config = Config {
        max_continuation_frames: 8,
        max_header_block_size: 1000,
        ..Config::default()
    };
    let client = Client::new();
    let mut input = client.preface();
    frame::write_head(&mut input, 0, kind::HEADERS, 0, 1);
    for _ in 0..9 {
        frame::write_head(&mut input, 0, kind::CONTINUATION, 0, 1);
    }
    let run = check(&config, &input, Answer::Nothing);
    assert_eq!(
        goaway(&run).map(Out::code),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );

    let mut input = client.preface();
    frame::write_head(&mut input, 600, kind::HEADERS, 0, 1);
    input.extend([0; 600]);
    frame::write_head(&mut input, 600, kind::CONTINUATION, 0, 1);
    input.extend([0; 600]);
    let run = check(&config, &input, Answer::Nothing);
    assert_eq!(
        goaway(&run).map(Out::code),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

/// An HPACK bomb (one big table entry referenced many times) and an oversized header list
/// are answered 431 without ending the connection.
#[test]
fn header_list_size() {
    let config = Config {
        max_header_list_size: 4096,
        ..Config::default()
    };
    let mut client = Client::new();
    let mut input = client.preface();
    let big = "x".repeat(5000);
    let mut fields = request("/", "GET");
    fields.push(("a", &big));
    input.extend(client.headers(1, &fields, true));
    // A bomb: the same indexed field (now in the dynamic table) many times over.
    let mut block = Vec::new();
    client.encoder.encode(
        request("/", "GET")
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes(), false)),
        &mut block,
    );
    block.extend(std::iter::repeat_n(0xbe, 400));
    frame::write_headers(&mut input, 3, &block, true, 16_384);
    input.extend(client.get(5, "/ok"));
    let run = check(&config, &input, Answer::Hello);
    let heads: Vec<(u32, String)> = run
        .frames
        .iter()
        .filter(|f| f.kind == kind::HEADERS)
        .map(|f| {
            (
                f.stream,
                String::from_utf8_lossy(&f.payload[..11]).into_owned(),
            )
        })
        .collect();
    let status = |code: &str| format!(":status={code}");
    assert_eq!(
        heads,
        [(1, status("431")), (3, status("431")), (5, status("200"))]
    );
    assert!(goaway(&run).is_none());
}

/// A PING flood the client does not read ends with ENHANCE_YOUR_CALM; PINGs are echoed.
#[test]
fn ping_and_settings_floods() {
    let config = Config {
        max_queued_control_frames: 50,
        ..Config::default()
    };
    for flood in [kind::PING, kind::SETTINGS] {
        let now = t0();
        let client = Client::new();
        let mut conn = ServerConn::new(config.clone(), now);
        conn.handle_input(now, &client.preface());
        let mut input = Vec::new();
        for i in 0..70u8 {
            if flood == kind::PING {
                frame::write_ping(&mut input, false, [i; 8]);
            } else {
                frame::write_settings(&mut input, &[]);
            }
        }
        let size = if flood == kind::PING { 17 } else { 9 };
        conn.handle_input(now, &input[..size * 10]);
        let mut out = Vec::new();
        let _ = conn.poll_transmit(&mut out);
        if flood == kind::PING {
            assert!(
                frames(&out)
                    .iter()
                    .any(|f| f.kind == kind::PING && f.flags == flag::ACK && f.payload == [3; 8])
            );
        }
        conn.handle_input(now, &input[size * 10..]);
        out.clear();
        let _ = conn.poll_transmit(&mut out);
        let sent = frames(&out);
        let away = sent.iter().find(|f| f.kind == kind::GOAWAY);
        assert_eq!(away.map(Out::code), Some(ErrorCode::ENHANCE_YOUR_CALM));
        assert!(conn.is_closed());
    }
}

/// SETTINGS not acknowledged within the timeout end the connection (SETTINGS_TIMEOUT).
#[test]
fn settings_timeout() {
    let now = t0();
    let mut conn = ServerConn::new(Config::default(), now);
    let mut input = PREFACE.to_vec();
    frame::write_settings(&mut input, &[]);
    conn.handle_input(now, &input);
    let deadline = conn.poll_timeout().unwrap();
    assert_eq!(deadline, now + 10 * SECOND);
    conn.handle_timeout(deadline);
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    assert_eq!(
        frames(&out).last().map(Out::code),
        Some(ErrorCode::SETTINGS_TIMEOUT)
    );

    let mut conn = ServerConn::new(Config::default(), now);
    frame::write_settings_ack(&mut input);
    conn.handle_input(now, &input);
    conn.handle_timeout(now + 10 * SECOND);
    assert!(!conn.is_closed());
}

/// A stream whose window the client keeps shut is reset (CANCEL) after the stall timeout, and
/// a shut connection window ends the connection.
#[test]
fn zero_window_stall() {
    let now = t0();
    let mut conn = serving(now, &get_with_shut_window(&mut Client::new()), &[1]);
    conn.send_data(StreamId(1), b"blocked").unwrap();
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    assert_eq!(conn.poll_timeout(), Some(now + 30 * SECOND));
    conn.handle_timeout(now + 30 * SECOND);
    assert!(matches!(
        std::iter::from_fn(|| conn.poll_event()).last(),
        Some(Event::StreamReset {
            code: ErrorCode::CANCEL,
            ..
        })
    ));
    out.clear();
    let _ = conn.poll_transmit(&mut out);
    assert_eq!(
        frames(&out).last().map(|f| (f.kind, f.code())),
        Some((kind::RST_STREAM, ErrorCode::CANCEL))
    );

    // The connection window: 65,535 bytes and never refilled.
    let mut client = Client::new();
    let mut input = client.preface();
    frame::write_settings_ack(&mut input);
    frame::write_settings(&mut input, &[(0x4, 1 << 20)]);
    input.extend(client.get(3, "/"));
    let mut conn = serving(now, &input, &[3]);
    conn.send_data_owned(StreamId(3), vec![0; 100_000]).unwrap();
    let _ = conn.poll_transmit(&mut out);
    conn.handle_timeout(now + 30 * SECOND);
    out.clear();
    let _ = conn.poll_transmit(&mut out);
    assert_eq!(
        frames(&out).last().map(Out::code),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

/// Streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused (REFUSED_STREAM).
#[test]
fn max_concurrent_streams() {
    let config = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    let mut client = Client::new();
    let mut input = client.preface();
    for id in [1, 3, 5] {
        input.extend(client.get(id, "/"));
    }
    let run = check(&config, &input, Answer::Nothing);
    assert_eq!(resets(&run), [(5, ErrorCode::REFUSED_STREAM)]);
    assert_eq!(run.events.len(), 4);
}

/// An idle connection says GOAWAY (NO_ERROR) and closes after the idle timeout.
#[test]
fn idle_timeout() {
    let now = t0();
    let mut conn = ServerConn::new(Config::default(), now);
    let mut input = Client::new().preface();
    frame::write_settings_ack(&mut input);
    conn.handle_input(now, &input);
    assert_eq!(conn.poll_timeout(), Some(now + 60 * SECOND));
    conn.handle_timeout(now + 60 * SECOND);
    assert!(conn.is_closed());
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    assert_eq!(
        frames(&out).last().map(|f| (f.kind, f.code())),
        Some((kind::GOAWAY, ErrorCode::NO_ERROR))
    );
}

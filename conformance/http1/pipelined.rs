//! Pipelined request sequences on one connection.
//!
//! Tested by: conformance/http1.rs

cases! {
    /// Two pipelined GETs are both answered, in order.
    two_gets: b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" => "GET /1 | GET /2 => 200 200 open";

    /// Bodies of different framings interleave correctly with heads.
    mixed_bodies: b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcPOST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
        => "POST /1 [abc] | POST /2 [de] {T=1} | GET /3 => 200 200 200 open";

    /// `Connection: close` on a pipelined request ends the pipeline there.
    close_ends_pipeline: b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
        => "GET /1 | GET /2 => 200 200 closed";

    /// An HTTP/1.0 request without keep-alive ends the pipeline.
    http10_ends_pipeline: b"GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" => "GET /1 => 200 closed";

    /// A malformed request after good ones is answered after their responses.
    error_after_good: b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nBROKEN\r\n\r\n" => "GET /1 | GET /2 => 200 200 400 closed";

    /// A HEAD response in a pipeline has no body, so the next response follows directly.
    head_then_get: b"HEAD /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" => "HEAD /1 | GET /2 => 200 200 open";

    /// Chunked and length-framed responses alternate in a pipeline.
    chunked_and_length_responses: b"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /chunked2 HTTP/1.1\r\nHost: a\r\n\r\n"
        => "GET /chunked | GET /2 | GET /chunked2 => 200 200 200 open";

    /// Keep-alive HTTP/1.0 requests pipeline.
    http10_keep_alive_pipeline: b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" => "GET /1 | GET /2 => 200 200 open";

    /// A malformed chunked body after a good request answers both, in order.
    bad_body_after_good: b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nXYZ\r\n" => "GET /1 | POST /2 aborted => 200 400 closed";

    /// Empty lines between pipelined requests are skipped.
    empty_lines_between: b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" => "GET /1 | GET /2 => 200 200 open";
}

/// Twenty pipelined requests, more than `max_in_flight`, are all answered in order.
#[test]
fn beyond_in_flight_limit() {
    let one = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    let input = one.repeat(20);
    let expected = format!(
        "{} => {} open",
        vec!["GET /x"; 20].join(" | "),
        vec!["200"; 20].join(" ")
    );
    crate::http1::driver::check("beyond_in_flight_limit", input.as_bytes(), &expected);
}

/// With no parse-ahead, a close-delimited HTTP/1.0 response ends the
/// pipeline before the next request is even parsed.
#[test]
fn close_delimited_ends_pipeline() {
    let mut config = torsion::http1::Config::default();
    config.max_in_flight = 1;
    let input = b"GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    crate::http1::driver::check_with(
        &config,
        "close_delimited_ends_pipeline",
        input,
        "GET /chunked => 200 closed",
    );
}

/// With parse-ahead, the already-parsed request behind a close-delimited
/// response is reported aborted.
#[test]
fn close_delimited_aborts_parsed_successor() {
    let config = torsion::http1::Config::default();
    let input = b"GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let run = crate::http1::driver::run(&config, input, &[], false);
    assert_eq!(
        crate::http1::driver::summarize(&run),
        "GET /chunked | GET /2 aborted => 200 closed"
    );
}

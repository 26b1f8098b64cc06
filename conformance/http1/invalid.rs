//! Malformed requests and the status each one is answered with.
//!
//! Tested by: conformance/http1.rs

cases! {
    /// A request line ending in bare LF is rejected.
    bare_lf_request_line: b"GET / HTTP/1.1\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A field line ending in bare LF is rejected.
    bare_lf_field_line: b"GET / HTTP/1.1\r\nHost: a\n\r\n" => "=> 400 closed";

    /// A head ending in a bare-LF empty line is rejected.
    bare_lf_final_line: b"GET / HTTP/1.1\r\nHost: a\r\n\n" => "=> 400 closed";

    /// A bare CR inside a field value is rejected.
    bare_cr_in_value: b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n" => "=> 400 closed";

    /// A doubled CR before LF is a bare CR and is rejected.
    bare_cr_before_crlf: b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n" => "=> 400 closed";

    /// A bare CR in the request line is rejected.
    bare_cr_in_request_line: b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// Obsolete line folding is rejected.
    obs_fold: b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n" => "=> 400 closed";

    /// Whitespace before the first field line is rejected.
    whitespace_before_first_field: b"GET / HTTP/1.1\r\n Host: a\r\n\r\n" => "=> 400 closed";

    /// A space between field name and colon is rejected.
    space_before_colon: b"GET / HTTP/1.1\r\nHost : a\r\n\r\n" => "=> 400 closed";

    /// A tab between field name and colon is rejected.
    tab_before_colon: b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n" => "=> 400 closed";

    /// NUL in a field value is rejected.
    nul_in_value: b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n" => "=> 400 closed";

    /// DEL in a field value is rejected.
    del_in_value: b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n" => "=> 400 closed";

    /// Control bytes in a field value are rejected.
    control_in_value: b"GET / HTTP/1.1\r\nHost: a\r\nX: \x0b\r\n\r\n" => "=> 400 closed";

    /// Non-token characters in a field name are rejected.
    bad_field_name: b"GET / HTTP/1.1\r\nHost: a\r\nX(Y): 1\r\n\r\n" => "=> 400 closed";

    /// An empty field name is rejected.
    empty_field_name: b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n" => "=> 400 closed";

    /// A field line without colon is rejected.
    missing_colon: b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n" => "=> 400 closed";

    /// HTTP/1.1 without Host is rejected.
    missing_host: b"GET / HTTP/1.1\r\n\r\n" => "=> 400 closed";

    /// Two Host fields are rejected.
    duplicate_host: b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n" => "=> 400 closed";

    /// Two Host fields are rejected in HTTP/1.0 too.
    duplicate_host_http10: b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A Host with a path is rejected.
    host_with_path: b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n" => "=> 400 closed";

    /// A Host with spaces is rejected.
    host_with_space: b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n" => "=> 400 closed";

    /// A Host with userinfo is rejected.
    host_with_userinfo: b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n" => "=> 400 closed";

    /// A lower-case protocol name is rejected.
    lowercase_version: b"GET / http/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// HTTP/2.0 on an HTTP/1 connection is answered 505.
    version_2: b"GET / HTTP/2.0\r\nHost: a\r\n\r\n" => "=> 505 closed";

    /// HTTP/0.9-style versions are answered 505.
    version_0_9: b"GET / HTTP/0.9\r\n\r\n" => "=> 505 closed";

    /// HTTP/3.0 is answered 505.
    version_3: b"GET / HTTP/3.0\r\n\r\n" => "=> 505 closed";

    /// A two-digit minor version is malformed.
    version_two_digits: b"GET / HTTP/1.10\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A version without minor is malformed.
    version_no_minor: b"GET / HTTP/1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A request line without version (HTTP/0.9 simple request) is rejected.
    no_version: b"GET /\r\n\r\n" => "=> 400 closed";

    /// Trailing whitespace after the version is rejected.
    trailing_space_after_version: b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// Two spaces between method and target are rejected.
    double_space: b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A tab as separator in the request line is rejected.
    tab_separator: b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A missing target is rejected.
    missing_target: b"GET HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A leading space before the method is rejected.
    leading_space: b" GET / HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// Non-token characters in the method are rejected.
    bad_method: b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// Control bytes in the target are rejected.
    control_in_target: b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// DEL in the target is rejected.
    del_in_target: b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// `*` is only for OPTIONS.
    asterisk_with_get: b"GET * HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// CONNECT requires authority-form.
    connect_origin_form: b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A relative target without leading slash is rejected.
    relative_target: b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A coding we do not implement before chunked is answered 501.
    unsupported_coding: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" => "=> 501 closed";

    /// An unknown coding list split over two fields is answered 501.
    unsupported_coding_split: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n" => "=> 501 closed";

    /// A final coding other than chunked is rejected.
    final_not_chunked: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n" => "=> 400 closed";

    /// `identity` is no longer a transfer coding; framing is undecidable.
    identity_coding: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n" => "=> 400 closed";

    /// An empty Transfer-Encoding is rejected.
    empty_transfer_encoding: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n" => "=> 400 closed";

    /// Parameters on chunked are rejected.
    chunked_with_parameter: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n" => "=> 400 closed";

    /// Transfer-Encoding in HTTP/1.0 is rejected.
    te_in_http10: b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A Content-Length with a letter is rejected.
    cl_not_a_number: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n" => "=> 400 closed";

    /// An empty Content-Length is rejected.
    cl_empty: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n" => "=> 400 closed";

    /// A negative Content-Length is rejected.
    cl_negative: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n" => "=> 400 closed";

    /// A Content-Length beyond 64 bits is rejected.
    cl_overflow: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n" => "=> 400 closed";

    /// A decimal point in Content-Length is rejected.
    cl_decimal_point: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.0\r\n\r\nx" => "=> 400 closed";

    /// A chunk size that is not hex aborts the request with 400.
    chunk_size_not_hex: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" => "POST / aborted => 400 closed";

    /// An empty chunk-size line is rejected.
    chunk_size_empty: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n" => "POST / aborted => 400 closed";

    /// Chunk data not followed by CRLF is rejected after delivering the data.
    chunk_data_too_long: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n" => "POST / [ab] aborted => 400 closed";

    /// A bare LF ending the chunk-size line is rejected.
    chunk_size_bare_lf: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// A bare LF after chunk data is rejected.
    chunk_data_bare_lf: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n" => "POST / [ab] aborted => 400 closed";

    /// A bare LF ending the trailer section is rejected.
    trailer_bare_lf: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n" => "POST / aborted => 400 closed";

    /// A malformed chunk extension is rejected.
    bad_chunk_extension: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;=x\r\na\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// Whitespace between chunk size and extension is refused (strict, though BWS is in the grammar).
    space_before_chunk_extension: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 ;a\r\nx\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// A folded trailer field is rejected.
    folded_trailer: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n" => "POST / aborted => 400 closed";

    /// A trailer field without colon is rejected.
    trailer_without_colon: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\njunk\r\n\r\n" => "POST / aborted => 400 closed";

    /// Garbage instead of a request is answered 400.
    garbage: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n" => "=> 400 closed";
}

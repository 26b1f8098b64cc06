//! Request-smuggling vectors: every ambiguity in message framing is refused
//! before any body byte is interpreted.
//!
//! Tested by: conformance/http1.rs

cases! {
    /// CL.TE: Content-Length followed by Transfer-Encoding is refused (CVE-2020-10109).
    cl_then_te: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" => "=> 400 closed";

    /// TE.CL: Transfer-Encoding followed by Content-Length is refused.
    te_then_cl: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n" => "=> 400 closed";

    /// Two differing Content-Length fields are refused (CVE-2020-10108).
    duplicate_cl_differing: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" => "=> 400 closed";

    /// Two equal Content-Length fields are refused too.
    duplicate_cl_equal: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" => "=> 400 closed";

    /// A Content-Length list of differing values is refused.
    cl_list_differing: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!" => "=> 400 closed";

    /// A Content-Length list of equal values is refused.
    cl_list_equal: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello" => "=> 400 closed";

    /// A signed Content-Length is refused (CVE-2022-24801).
    cl_plus_sign: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello" => "=> 400 closed";

    /// A hexadecimal Content-Length is refused.
    cl_hex: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello" => "=> 400 closed";

    /// A space inside Content-Length is refused.
    cl_inner_space: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\nhello" => "=> 400 closed";

    /// Content-Length with a space before the colon is refused, not ignored.
    cl_space_before_colon: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello" => "=> 400 closed";

    /// Transfer-Encoding with a space before the colon is refused, not ignored.
    te_space_before_colon: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A look-alike coding name is not chunked.
    te_xchunked: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A quoted coding name is malformed.
    te_quoted: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A vertical tab before the coding is refused.
    te_vertical_tab: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A coding after chunked in a second field leaves chunked not final.
    te_second_field_not_chunked: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// chunked applied twice is refused.
    te_chunked_twice: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// chunked twice across fields is refused.
    te_chunked_twice_fields: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A folded Transfer-Encoding is refused.
    te_folded: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A NUL inside the Transfer-Encoding name is refused.
    te_name_with_nul: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer\0-Encoding: chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// Transfer-Encoding plus Content-Length in HTTP/1.0 is refused.
    te_cl_http10: b"POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";

    /// A `0x` prefix on a chunk size is refused (CVE-2022-24801).
    chunk_size_0x: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// A signed chunk size is refused.
    chunk_size_plus: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// A negative chunk size is refused.
    chunk_size_negative: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// Whitespace before a chunk size is refused.
    chunk_size_leading_space: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// Whitespace after a chunk size is refused.
    chunk_size_trailing_space: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// A chunk size overflowing 64 bits is refused.
    chunk_size_overflow: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nx\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// An underscore inside a chunk size is refused.
    chunk_size_underscore: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\nx\r\n0\r\n\r\n" => "POST / aborted => 400 closed";

    /// A bare LF in the last-chunk line and trailer terminator is refused.
    last_chunk_bare_lf: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\n\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n" => "POST / aborted => 400 closed";

    /// Bytes after a Content-Length body are the next request, nothing more.
    cl_body_then_request: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n" => "POST / [hello] | GET /next => 200 200 open";

    /// Bytes after a chunked body are the next request, nothing more.
    chunked_body_then_request: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n" => "POST / [hello] | GET /next => 200 200 open";

    /// A request smuggled inside a chunk stays body data.
    request_inside_chunk: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n\r\n0\r\n\r\n" => "POST / [GET /x HTTP/1.1\r\nHost: a\r\n\r\n] => 200 open";

    /// A GET with a Content-Length body consumes it; the body is not a request.
    get_with_body: b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 26\r\n\r\nGET /admin HTTP/1.1\r\n\r\n..." => "GET / [GET /admin HTTP/1.1\r\n\r\n...] => 200 open";

    /// Nothing after `Connection: close` is parsed, so nothing can be smuggled.
    after_close_ignored: b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n" => "GET / => 200 closed";

    /// A request after a rejected one is never parsed.
    after_error_ignored: b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n" => "=> 400 closed";

    /// A bare CR used as a line break inside a field does not split it.
    bare_cr_line_break: b"GET / HTTP/1.1\r\nHost: a\r\nX: y\rContent-Length: 10\r\n\r\n" => "=> 400 closed";

    /// A bare LF used as a line break inside the head does not split it.
    bare_lf_line_break: b"GET / HTTP/1.1\r\nHost: a\r\nX: y\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => "=> 400 closed";
}

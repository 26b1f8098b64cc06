//! Valid requests and how they are answered.
//!
//! Tested by: conformance/http1.rs

cases! {
    /// A minimal HTTP/1.1 GET is answered and the connection stays open.
    minimal_get: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" => "GET / => 200 open";

    /// A browser-like GET with many fields is accepted.
    browser_get: b"GET /index.html?lang=en HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nCookie: a=b; c=d\r\n\r\n"
        => "GET /index.html?lang=en => 200 open";

    /// An HTTP/1.0 request closes after its response by default.
    http10_closes: b"GET / HTTP/1.0\r\n\r\n" => "GET / => 200 closed";

    /// An HTTP/1.0 request with `Connection: keep-alive` keeps the connection.
    http10_keep_alive: b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n" => "GET / => 200 open";

    /// HTTP/1.0 with both keep-alive and close closes.
    http10_keep_alive_and_close: b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n" => "GET / => 200 closed";

    /// `Connection: close` on HTTP/1.1 closes after the response.
    http11_close: b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" => "GET / => 200 closed";

    /// `close` is found among other connection options, case-insensitively.
    http11_close_in_list: b"GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n" => "GET / => 200 closed";

    /// A Content-Length body is delivered.
    post_content_length: b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" => "POST /f [hello] => 200 open";

    /// A Content-Length with leading zeros is a plain decimal.
    content_length_leading_zeros: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabc" => "POST / [abc] => 200 open";

    /// `Content-Length: 0` means an empty body.
    content_length_zero: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" => "POST / => 200 open";

    /// A chunked body is decoded.
    post_chunked: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        => "POST / [hello world] => 200 open";

    /// Chunk sizes may use upper-case hex and leading zeros.
    chunked_hex_forms: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0002\r\nab\r\n000\r\n\r\n"
        => "POST / [0123456789ab] => 200 open";

    /// Chunk extensions, including quoted values, are accepted and ignored.
    chunked_extensions: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value;flag\r\nabc\r\n2; q=\"x;y\\\"z\"\r\nde\r\n0;last\r\n\r\n"
        => "POST / [abcde] => 200 open";

    /// Trailer fields are returned with the end of the message.
    chunked_trailers: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Sum: 42\r\nX-Other:  v \r\n\r\n"
        => "POST / [hi] {X-Sum=42,X-Other=v} => 200 open";

    /// The chunked coding name is case-insensitive.
    chunked_case_insensitive: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n1\r\nx\r\n0\r\n\r\n" => "POST / [x] => 200 open";

    /// Empty list elements around `chunked` are ignored.
    chunked_empty_list_elements: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n0\r\n\r\n" => "POST / => 200 open";

    /// A tab as optional whitespace before `chunked` is fine.
    chunked_after_tab: b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n" => "POST / => 200 open";

    /// A HEAD request is answered without body bytes.
    head_request: b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" => "HEAD / => 200 open";

    /// Empty lines before the request line are skipped.
    leading_empty_lines: b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n" => "GET / => 200 open";

    /// Absolute-form targets are accepted.
    absolute_form: b"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n" => "GET http://a.example/x?y => 200 open";

    /// `OPTIONS *` is accepted.
    options_asterisk: b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" => "OPTIONS * => 200 open";

    /// CONNECT with an authority-form target is accepted.
    connect_authority: b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" => "CONNECT example.com:443 => 200 open";

    /// Extension methods are passed through.
    extension_method: b"PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n" => "PURGE /cache => 200 open";

    /// A higher HTTP/1.x minor version is served as HTTP/1.1.
    http_1_9_as_1_1: b"GET / HTTP/1.9\r\nHost: a\r\n\r\n" => "GET / => 200 open";

    /// Field values may contain obs-text and inner tabs.
    obs_text_and_tabs: b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\tau lait\r\n\r\n" => "GET / => 200 open";

    /// An empty field value is allowed.
    empty_field_value: b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank:   \r\n\r\n" => "GET / => 200 open";

    /// IPv6 literal hosts with ports are valid.
    ipv6_host: b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n" => "GET / => 200 open";

    /// An empty Host value is allowed.
    empty_host: b"GET / HTTP/1.1\r\nHost:\r\n\r\n" => "GET / => 200 open";

    /// HTTP/1.0 requests need no Host.
    http10_without_host: b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" => "GET / => 200 open";

    /// An HTTP/1.0 body with Content-Length is delivered.
    http10_post: b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc" => "POST / [abc] => 200 closed";

    /// A chunked response goes to an HTTP/1.1 client.
    chunked_response: b"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n" => "GET /chunked => 200 open";

    /// An HTTP/1.0 client gets a close-delimited response when no length is known.
    close_delimited_response: b"GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" => "GET /chunked => 200 closed";

    /// A body sent with `Expect: 100-continue` before any 100 is simply read.
    expect_with_body_already_sent: b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
        => "PUT /x [abc] => 200 open";

    /// Unknown expectations are left to the handler.
    unknown_expectation: b"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n" => "GET / => 200 open";

    /// Methods are case-sensitive: lower-case `get` is an extension method.
    lowercase_method: b"get / HTTP/1.1\r\nHost: a\r\n\r\n" => "get / => 200 open";

    /// CRLF after a body (sent by some old clients) is skipped as an empty line.
    crlf_after_body: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n" => "POST / [hi] => 200 open";

    /// A partial head waits for more input without answering.
    partial_head_waits: b"GET / HTTP/1.1\r\nHost: a\r\n" => "=> open";

    /// A partial body waits for more input; the request is delivered so far.
    partial_body_waits: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello" => "POST / [hello] => open";
}

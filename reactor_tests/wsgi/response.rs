//! start_response, write(), the response iterable, and how failures are reported.

use super::{Harness, body, failure, get, head, kinds};

/// Calls `start_response` with each argument tuple listed in the query string's Python
/// expression and returns, per call, `ok` or the exception's type and message.
const TRY_START: &str = r#"
from urllib.parse import unquote

def app(environ, start_response):
    results = []
    for args in eval(unquote(environ['QUERY_STRING'])):
        try:
            start_response(*args, sys_exc())
            results.append('ok')
        except Exception as error:
            results.append('%s: %s' % (type(error).__name__, error))
    start_response('200 OK', [], sys_exc())
    return ['\n'.join(results).encode()]

def sys_exc():
    # exc_info lets start_response be called repeatedly before output.
    try:
        raise KeyError('replaced')
    except KeyError:
        import sys
        return sys.exc_info()
"#;

fn try_start(calls: &str) -> String {
    let harness = Harness::new(TRY_START);
    let mut request = get("/");
    request.query_string = calls.as_bytes().to_vec();
    harness.text(request)
}

/// The status must be a str of three digits, a space and a reason, in ISO-8859-1.
#[test]
fn start_response_rejects_bad_statuses() {
    let result = try_start(
        "[(b'200 OK', []), ('200', []), ('200OK', []), ('abc def', []), ('099 Low', []), \
         ('200 O\\nK', []), ('200 \\u20ac', []), ('107 Strange message', [])]",
    );
    assert_eq!(
        result.lines().collect::<Vec<_>>(),
        [
            "TypeError: status must be str, not bytes",
            "ValueError: status must look like '200 OK' (three digits, a space, a reason), not \"200\"",
            "ValueError: status must look like '200 OK' (three digits, a space, a reason), not \"200OK\"",
            "ValueError: status must look like '200 OK' (three digits, a space, a reason), not \"abc def\"",
            "ValueError: status must look like '200 OK' (three digits, a space, a reason), not \"099 Low\"",
            "ValueError: status must look like '200 OK' (three digits, a space, a reason), not \"200 O\\nK\"",
            "ValueError: status must look like '200 OK' (three digits, a space, a reason), not \"200 €\"",
            "ok",
        ]
    );
}

/// Headers must be a list of (str, str) tuples, ISO-8859-1, without CR/LF, never hop-by-hop.
#[test]
fn start_response_rejects_bad_headers() {
    let result = try_start(
        "[('200 OK', (('a', 'b'),)), ('200 OK', [['a', 'b']]), ('200 OK', [('a', 'b', 'c')]), \
         ('200 OK', [(b'a', 'b')]), ('200 OK', [('a b', 'c')]), ('200 OK', [('X', 'a\\r\\nb')]), \
         ('200 OK', [('X', '\\u20ac')]), ('200 OK', [('Transfer-Encoding', 'chunked')]), \
         ('200 OK', [('connection', 'close')]), ('200 OK', [('X', '\\xe9')])]",
    );
    assert_eq!(
        result.lines().collect::<Vec<_>>(),
        [
            "TypeError: headers must be a list, not tuple",
            "TypeError: each header must be a (str, str) tuple, not ['a', 'b']",
            "TypeError: each header must be a (str, str) tuple, not ('a', 'b', 'c')",
            "TypeError: header must be (str, str), not (bytes, str)",
            "ValueError: invalid header name \"a b\"",
            "ValueError: header X value must be ISO-8859-1 text without CR, LF or NUL, not \"a\\r\\nb\"",
            "ValueError: header X value must be ISO-8859-1 text without CR, LF or NUL, not \"€\"",
            "ValueError: hop-by-hop header \"Transfer-Encoding\" is not allowed in a WSGI response (PEP 3333)",
            "ValueError: hop-by-hop header \"connection\" is not allowed in a WSGI response (PEP 3333)",
            "ok",
        ]
    );
}

/// Status and headers reach the reactor verbatim, encoded as ISO-8859-1.
#[test]
fn the_head_is_passed_on_verbatim() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('107 Strange message', [('X-A', 'caf\xe9'), ('Content-Type', 'text/x')])
    return [b'body']
"#,
    );
    let response = head(&harness.run(get("/")));
    assert_eq!(response.code, 107);
    assert_eq!(response.status_line, b"107 Strange message");
    assert_eq!(
        response.headers.iter().collect::<Vec<_>>(),
        [
            (&b"X-A"[..], &b"caf\xe9"[..]),
            (&b"Content-Type"[..], &b"text/x"[..])
        ]
    );
}

/// A second start_response without exc_info is an error (PEP 3333); with it, before output,
/// the new status and headers replace the old.
#[test]
fn exc_info_before_output_replaces_the_head() {
    let harness = Harness::new(
        r#"
import sys
def app(environ, start_response):
    start_response('200 OK', [('X-First', '1')])
    try:
        start_response('201 Created', [])
        second = b'accepted'
    except RuntimeError as error:
        second = str(error).encode()
    try:
        1 / 0
    except ZeroDivisionError:
        start_response('500 Oops', [('X-Second', '2')], sys.exc_info())
    return [second]
"#,
    );
    let events = harness.run(get("/"));
    assert_eq!(
        body(&events),
        b"start_response() called a second time without exc_info"
    );
    let response = head(&events);
    assert_eq!(response.status_line, b"500 Oops");
    assert_eq!(
        response.headers.iter().collect::<Vec<_>>(),
        [(&b"X-Second"[..], &b"2"[..])]
    );
}

/// After output, start_response with exc_info re-raises that exception with its traceback.
#[test]
fn exc_info_after_output_reraises() {
    let harness = Harness::new(
        r#"
import sys
def app(environ, start_response):
    write = start_response('200 OK', [])
    write(b'partial')
    try:
        raise ValueError('original problem')
    except ValueError:
        start_response('500 Oops', [], sys.exc_info())
    return [b'never']
"#,
    );
    let events = harness.run(get("/"));
    assert_eq!(kinds(&events)[..2], ["start", "body:partial"]);
    let (message, traceback, after_output) = failure(&events);
    assert_eq!(message, "ValueError: original problem");
    assert!(
        traceback.contains("raise ValueError('original problem')"),
        "{traceback}"
    );
    assert!(after_output);
}

/// write() sends each chunk at once, before the iterable's chunks.
#[test]
fn write_callable_streams_before_the_iterable() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    write = start_response('200 OK', [])
    write(b'a')
    write(b'')
    write(b'b')
    return [b'c', b'', b'd']
"#,
    );
    assert_eq!(
        kinds(&harness.run(get("/"))),
        ["start", "body:a", "body:b", "body:c", "body:d", "finished"]
    );
}

/// write() refuses str, and refuses to run before start_response.
#[test]
fn write_requires_bytes_after_start_response() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    write = start_response('200 OK', [])
    try:
        write('text')
        outcome = 'accepted str'
    except TypeError as error:
        outcome = str(error)
    return [outcome.encode()]
"#,
    );
    assert_eq!(
        harness.text(get("/")),
        "write() argument must be bytes, not str"
    );
}

/// Empty chunks are skipped and the head waits for the first non-empty chunk.
#[test]
fn empty_chunks_are_skipped_and_delay_the_head() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('200 OK', [])
    def chunks():
        yield b''
        yield b'x'
        yield b''
        yield b'y'
    if environ['PATH_INFO'] == '/empty':
        return iter([b'', b''])
    return chunks()
"#,
    );
    assert_eq!(
        kinds(&harness.run(get("/"))),
        ["start", "body:x", "body:y", "finished"]
    );
    // Nothing but empty chunks: the head goes out at the end, with the (empty) body.
    assert_eq!(kinds(&harness.run(get("/empty"))), ["complete:"]);
}

/// A list response is sent whole, in one event, so its length is known.
#[test]
fn a_list_response_is_one_event() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('200 OK', [])
    return [b'one', b'', b'two']
"#,
    );
    assert_eq!(kinds(&harness.run(get("/"))), ["complete:onetwo"]);
}

/// start_response may be called during the first iteration of a generator (PEP 3333).
#[test]
fn start_response_may_come_during_iteration() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    yield b''
    start_response('203 Late', [])
    yield b'late'
"#,
    );
    let events = harness.run(get("/"));
    assert_eq!(head(&events).status_line, b"203 Late");
    assert_eq!(body(&events), b"late");
}

/// An application that never calls start_response fails the request instead of hanging it.
#[test]
fn never_calling_start_response_fails() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    return [b'no head']
"#,
    );
    let (message, _, after_output) = failure(&harness.run(get("/")));
    assert_eq!(
        message,
        "the application returned without calling start_response()"
    );
    assert!(!after_output);
}

/// An exception before any output fails the request with its traceback, before output.
#[test]
fn exception_before_output_fails_with_traceback() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('200 OK', [])
    return [b'%d' % (1 / 0)]
"#,
    );
    let (message, traceback, after_output) = failure(&harness.run(get("/")));
    assert_eq!(message, "ZeroDivisionError: division by zero");
    assert!(
        traceback.contains("Traceback (most recent call last)"),
        "{traceback}"
    );
    assert!(traceback.contains(&harness.module.name), "{traceback}");
    assert!(!after_output);
}

/// An exception after output fails the request after output, once the chunks were sent.
#[test]
fn exception_after_output_fails_after_output() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('200 OK', [])
    yield b'sent'
    raise OSError('disk gone')
"#,
    );
    let events = harness.run(get("/"));
    assert_eq!(kinds(&events), ["start", "body:sent", "failed"]);
    let (message, _, after_output) = failure(&events);
    assert_eq!(message, "OSError: disk gone");
    assert!(after_output);
}

/// A chunk that is not bytes fails the request with a TypeError.
#[test]
fn non_bytes_chunks_fail() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('200 OK', [])
    return ['text']
"#,
    );
    let (message, _, after_output) = failure(&harness.run(get("/")));
    assert_eq!(
        message,
        "TypeError: the application must produce bytes, not str"
    );
    assert!(!after_output);
}

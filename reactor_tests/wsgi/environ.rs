//! The environ: keys, values and types, as PEP 3333 and Twisted Web define them.

use torsion::wsgi::{UrlScheme, WsgiEvent};

use super::{Harness, get, header, kinds};

/// Returns `repr(environ[key])` for each key named in the query string (or `MISSING`).
const SHOW: &str = r#"
def app(environ, start_response):
    lines = []
    for key in environ['QUERY_STRING'].split('&'):
        lines.append('%s=%s' % (key, repr(environ[key]) if key in environ else 'MISSING'))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return ['\n'.join(lines).encode('utf-8')]
"#;

fn show(harness: &Harness, mut request: torsion::wsgi::WsgiRequest, keys: &str) -> String {
    request.query_string = keys.as_bytes().to_vec();
    harness.text(request)
}

/// The environ is exactly a `dict` whose keys are all `str`.
#[test]
fn environ_is_a_plain_dict_of_str_keys() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    start_response('200 OK', [])
    ok = type(environ) is dict and all(type(key) is str for key in environ)
    return [b'yes' if ok else b'no']
"#,
    );
    let request = header(get("/"), "X-Thing", "1");
    assert_eq!(harness.text(request), "yes");
}

/// The CGI variables carry the request's method, path, query, server and peer, as `str`.
#[test]
fn cgi_variables_describe_the_request() {
    let harness = Harness::new(SHOW);
    let mut request = get("/leaf");
    request.method = b"PUT".to_vec();
    request.script_name = b"/mount".to_vec();
    let keys = "REQUEST_METHOD&SCRIPT_NAME&PATH_INFO&QUERY_STRING&SERVER_NAME&SERVER_PORT\
                &SERVER_PROTOCOL&REMOTE_ADDR&REMOTE_PORT&SERVER_SOFTWARE";
    let expected = format!(
        "REQUEST_METHOD='PUT'\nSCRIPT_NAME='/mount'\nPATH_INFO='/leaf'\nQUERY_STRING='{keys}'\n\
         SERVER_NAME='example.test'\nSERVER_PORT='8080'\nSERVER_PROTOCOL='HTTP/1.1'\n\
         REMOTE_ADDR='192.0.2.7'\nREMOTE_PORT='54321'\nSERVER_SOFTWARE='torsion/{}'",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(show(&harness, request, keys), expected);
}

/// A method outside the interned set and an HTTP/1.0 request come through unchanged.
#[test]
fn uncommon_method_and_protocol_pass_through() {
    let harness = Harness::new(SHOW);
    let mut request = get("/");
    request.method = b"PROPFIND".to_vec();
    request.server_protocol = "HTTP/1.0";
    assert_eq!(
        show(&harness, request, "REQUEST_METHOD&SERVER_PROTOCOL"),
        "REQUEST_METHOD='PROPFIND'\nSERVER_PROTOCOL='HTTP/1.0'"
    );
}

/// CONTENT_TYPE and CONTENT_LENGTH are empty strings when the request has no such headers.
#[test]
fn content_type_and_length_are_empty_when_absent() {
    let harness = Harness::new(SHOW);
    assert_eq!(
        show(&harness, get("/"), "CONTENT_TYPE&CONTENT_LENGTH"),
        "CONTENT_TYPE=''\nCONTENT_LENGTH=''"
    );
}

/// Content-Type and Content-Length fill the CGI keys and never appear as HTTP_* keys.
#[test]
fn content_headers_have_no_http_keys() {
    let harness = Harness::new(SHOW);
    let request = header(
        header(get("/"), "Content-Type", "text/x"),
        "content-length",
        "0",
    );
    assert_eq!(
        show(
            &harness,
            request,
            "CONTENT_TYPE&CONTENT_LENGTH&HTTP_CONTENT_TYPE&HTTP_CONTENT_LENGTH"
        ),
        "CONTENT_TYPE='text/x'\nCONTENT_LENGTH='0'\nHTTP_CONTENT_TYPE=MISSING\n\
         HTTP_CONTENT_LENGTH=MISSING"
    );
}

/// Header names become HTTP_* keys (upper case, dashes to underscores) and repeats join with ",".
#[test]
fn headers_become_http_keys_and_repeats_join_with_commas() {
    let harness = Harness::new(SHOW);
    let request = header(
        header(header(get("/"), "x-Foo-bar", "one"), "Accept", "a/b"),
        "X-FOO-BAR",
        "two",
    );
    assert_eq!(
        show(&harness, request, "HTTP_X_FOO_BAR&HTTP_ACCEPT"),
        "HTTP_X_FOO_BAR='one,two'\nHTTP_ACCEPT='a/b'"
    );
}

/// Repeated Cookie headers are joined with "; " (RFC 9113 §8.2.3), not ",".
#[test]
fn cookie_headers_join_with_semicolons() {
    let harness = Harness::new(SHOW);
    let request = header(header(get("/"), "Cookie", "a=1"), "cookie", "b=2");
    assert_eq!(
        show(&harness, request, "HTTP_COOKIE"),
        "HTTP_COOKIE='a=1; b=2'"
    );
}

/// A header whose name contains "_" is dropped, so it cannot pose as its dashed twin.
#[test]
fn underscore_header_names_are_dropped() {
    let harness = Harness::new(SHOW);
    let request = header(
        header(get("/"), "X_Real_Ip", "6.6.6.6"),
        "X-Real-IP",
        "1.2.3.4",
    );
    assert_eq!(
        show(&harness, request, "HTTP_X_REAL_IP"),
        "HTTP_X_REAL_IP='1.2.3.4'"
    );
}

/// Raw path bytes are decoded as ISO-8859-1, one code point per byte (PEP 3333).
#[test]
fn path_info_is_decoded_as_latin1() {
    let harness = Harness::new(SHOW);
    let mut request = get("");
    request.path_info = b"/foo///bar\xff\xe9".to_vec();
    request.script_name = b"/caf\xe9".to_vec();
    assert_eq!(
        show(&harness, request, "PATH_INFO&SCRIPT_NAME"),
        "PATH_INFO='/foo///bar\u{ff}\u{e9}'\nSCRIPT_NAME='/caf\u{e9}'"
    );
}

/// The wsgi.* keys have PEP 3333's types and this server's values.
#[test]
fn wsgi_keys_have_the_expected_values() {
    let harness = Harness::new(SHOW);
    let mut request = get("/");
    request.url_scheme = UrlScheme::Https;
    assert_eq!(
        show(
            &harness,
            request,
            "wsgi.version&wsgi.url_scheme&wsgi.multithread&wsgi.multiprocess&wsgi.run_once\
             &wsgi.input_terminated"
        ),
        "wsgi.version=(1, 0)\nwsgi.url_scheme='https'\nwsgi.multithread=True\n\
         wsgi.multiprocess=False\nwsgi.run_once=False\nwsgi.input_terminated=True"
    );
    assert_eq!(
        show(&harness, get("/"), "wsgi.url_scheme"),
        "wsgi.url_scheme='http'"
    );
}

/// REMOTE_PORT is left out for a peer without a port (a UNIX socket), instead of failing.
#[test]
fn remote_port_is_absent_without_a_peer_port() {
    let harness = Harness::new(SHOW);
    let mut request = get("/");
    request.remote_addr = "".into();
    request.remote_port = None;
    assert_eq!(
        show(&harness, request, "REMOTE_ADDR&REMOTE_PORT"),
        "REMOTE_ADDR=''\nREMOTE_PORT=MISSING"
    );
}

/// wsgi.errors accepts str (write, writelines, flush) and refuses bytes with a TypeError.
#[test]
fn wsgi_errors_takes_text_only() {
    let harness = Harness::new(
        r#"
def app(environ, start_response):
    errors = environ['wsgi.errors']
    errors.write('torsion wsgi.errors test line\n')
    errors.writelines(['torsion ', 'wsgi.errors test\n'])
    errors.flush()
    try:
        errors.write(b'bytes')
        outcome = 'accepted bytes'
    except TypeError:
        outcome = 'TypeError'
    start_response('200 OK', [])
    return [outcome.encode()]
"#,
    );
    assert_eq!(harness.text(get("/")), "TypeError");
}

/// wsgi.file_wrapper iterates a file in blocks and closes it when the server calls close().
#[test]
fn file_wrapper_iterates_and_closes_the_file() {
    let harness = Harness::new(
        r#"
import io
class Tracked(io.BytesIO):
    closed_by_server = False
    def close(self):
        Tracked.closed_by_server = True
        super().close()

def app(environ, start_response):
    if environ['PATH_INFO'] == '/report':
        start_response('200 OK', [])
        return [repr(Tracked.closed_by_server).encode()]
    start_response('200 OK', [])
    return environ['wsgi.file_wrapper'](Tracked(b'abcdefg'), 3)
"#,
    );
    let events = harness.run(get("/"));
    assert_eq!(
        kinds(&events),
        ["start", "body:abc", "body:def", "body:g", "finished"]
    );
    assert_eq!(harness.text(get("/report")), "True");
}

/// wsgi.file_wrapper over a real file, returned as the response, becomes one File event: the
/// rest of the file from the Python object's position (read-ahead buffering notwithstanding),
/// cut to the Content-Length the application set; the application's file is closed.
#[test]
fn file_wrapper_over_a_real_file_is_handed_over_whole() {
    let dir = crate::util::TempDir::new("file-wrapper");
    let path = dir.join("data.txt");
    std::fs::write(&path, "0123456789abcdef").unwrap();
    let harness = Harness::new(&format!(
        r#"
opened = []

def app(environ, start_response):
    if environ['PATH_INFO'] == '/report':
        start_response('200 OK', [])
        return [repr([f.closed for f in opened]).encode()]
    f = open({path:?}, 'rb')
    opened.append(f)
    f.read(4)
    headers = []
    if environ['PATH_INFO'] == '/cut':
        headers.append(('Content-Length', '5'))
    start_response('200 OK', headers)
    return environ['wsgi.file_wrapper'](f)
"#,
        path = path.to_str().unwrap()
    ));
    assert_eq!(kinds(&harness.run(get("/"))), ["file@4:456789abcdef"]);
    assert_eq!(kinds(&harness.run(get("/cut"))), ["file@4:45678"]);
    assert_eq!(harness.text(get("/report")), "[True, True]");
}

/// An application wrapped in wsgiref's validator runs without any AssertionError escaping.
#[test]
fn wsgiref_validator_accepts_environ_and_responses() {
    let harness = Harness::new(
        r#"
from wsgiref.validate import validator

def inner(environ, start_response):
    body = environ['wsgi.input'].read(5)
    environ['wsgi.input'].readline()
    environ['wsgi.errors'].flush()
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    if environ['PATH_INFO'] == '/write':
        write(b'written,')
    def chunks():
        yield body
        yield b''
        yield b',done'
    return chunks()

app = validator(inner)
"#,
    );
    let mut request = super::post(b"hello\nworld");
    request.path_info = b"/write".to_vec();
    let events = harness.run(request);
    assert!(
        !events.iter().any(|e| matches!(e, WsgiEvent::Failed { .. })),
        "{events:?}"
    );
    assert_eq!(super::body(&events), b"written,hello,done");
    let events = harness.run(header(super::post(b"12345"), "Content-Type", "text/plain"));
    assert_eq!(super::body(&events), b"12345,done");
}

/// A request without a Host header has no HTTP_HOST key, and one with it has its value.
#[test]
fn http_host_is_present_only_with_a_host_header() {
    let harness = Harness::new(SHOW);
    assert_eq!(show(&harness, get("/"), "HTTP_HOST"), "HTTP_HOST=MISSING");
    let request = header(get("/"), "Host", "example.test:8080");
    assert_eq!(
        show(&harness, request, "HTTP_HOST"),
        "HTTP_HOST='example.test:8080'"
    );
}

/// Values reused from one request to the next on a worker never leak: each request sees its
/// own path, server, peer and header values.
#[test]
fn consecutive_requests_see_their_own_values() {
    let harness = Harness::new(SHOW);
    let keys = "PATH_INFO&SERVER_PORT&REMOTE_PORT&HTTP_ACCEPT&HTTP_X_ONE";
    let first = header(header(get("/a"), "Accept", "a/b"), "X-One", "1");
    assert_eq!(
        show(&harness, first, keys),
        "PATH_INFO='/a'\nSERVER_PORT='8080'\nREMOTE_PORT='54321'\nHTTP_ACCEPT='a/b'\nHTTP_X_ONE='1'"
    );
    let mut second = header(get("/b"), "Accept", "c/d");
    second.server_port = 80;
    second.remote_port = Some(7);
    assert_eq!(
        show(&harness, second, keys),
        "PATH_INFO='/b'\nSERVER_PORT='80'\nREMOTE_PORT='7'\nHTTP_ACCEPT='c/d'\nHTTP_X_ONE=MISSING"
    );
}

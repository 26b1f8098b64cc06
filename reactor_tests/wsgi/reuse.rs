//! What a worker keeps from one request to the next (the environ's base and its shape, the
//! wsgi.input stream, start_response and write, validated status and header objects) never
//! shows through: every request sees exactly its own environ and sends exactly its own head.

use torsion::wsgi::{RequestBody, WsgiRequest};

use super::{Harness, body, failure, get, head};

/// Returns every `str` entry of the environ as `key=value` lines, sorted, then the body read
/// from wsgi.input.
const DUMP: &str = r#"
def app(environ, start_response):
    lines = sorted('%s=%s' % (key, value) for key, value in environ.items() if type(value) is str)
    lines.append('body=' + environ['wsgi.input'].read().decode('latin-1'))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return ['\n'.join(lines).encode('latin-1')]
"#;

/// A deterministic pseudo-random sequence (a 64-bit linear congruential generator).
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len())]
    }
}

/// The `str` entries (and body) [`DUMP`] must print for `request`, worked out from PEP 3333
/// and the documented rules: `HTTP_` + upper case with `_` for `-`, names with `_` dropped,
/// repeats joined with `,` (`; ` for Cookie), LF as a space, Content-Type and Content-Length
/// as CGI keys that are empty when absent.
fn expected_dump(request: &WsgiRequest) -> Vec<u8> {
    let text = |bytes: &[u8]| bytes.iter().map(|&b| char::from(b)).collect::<String>();
    let mut entries: Vec<(String, String)> = vec![
        ("REQUEST_METHOD".into(), text(&request.method)),
        ("SCRIPT_NAME".into(), text(&request.script_name)),
        ("PATH_INFO".into(), text(&request.path_info)),
        ("QUERY_STRING".into(), text(&request.query_string)),
        ("SERVER_NAME".into(), request.server_name.to_string()),
        ("SERVER_PORT".into(), request.server_port.to_string()),
        ("SERVER_PROTOCOL".into(), request.server_protocol.into()),
        ("REMOTE_ADDR".into(), request.remote_addr.to_string()),
        ("wsgi.url_scheme".into(), "http".into()),
        (
            "SERVER_SOFTWARE".into(),
            format!("torsion/{}", env!("CARGO_PKG_VERSION")),
        ),
        ("CONTENT_TYPE".into(), String::new()),
        ("CONTENT_LENGTH".into(), String::new()),
    ];
    if let Some(port) = request.remote_port {
        entries.push(("REMOTE_PORT".into(), port.to_string()));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in request.headers.iter() {
        if name.contains(&b'_') {
            continue;
        }
        let upper = text(name).to_ascii_uppercase().replace('-', "_");
        let key = match upper.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
            _ => format!("HTTP_{upper}"),
        };
        let value = text(value).replace('\n', " ");
        match headers.iter_mut().find(|(known, _)| *known == key) {
            Some((_, joined)) => {
                joined.push_str(if key == "HTTP_COOKIE" { "; " } else { "," });
                joined.push_str(&value);
            }
            None => headers.push((key, value)),
        }
    }
    for (key, value) in headers {
        match entries.iter_mut().find(|(known, _)| *known == key) {
            Some((_, old)) => *old = value,
            None => entries.push((key, value)),
        }
    }
    let mut lines: Vec<String> = entries
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    lines.sort();
    let RequestBody::Memory(body) = &request.body else {
        unreachable!("the requests here have bodies in memory")
    };
    lines.push(format!("body={}", text(body)));
    // Every character is one byte in ISO-8859-1, as the application encodes its output.
    lines.join("\n").chars().map(|c| c as u8).collect()
}

/// What [`DUMP`] answers to `request`.
fn dump(harness: &Harness, request: WsgiRequest) -> Vec<u8> {
    body(&harness.run(request))
}

/// A request drawn from a small pool of paths, peers and headers, so that header sets repeat
/// (and fit the worker's base), change, alternate and repeat names.
fn draw(sequence: &mut Sequence) -> WsgiRequest {
    let mut request = get(sequence.pick(&["/", "/a", "/b/c", "/caf\u{e9}"]));
    request.query_string = sequence.pick(&["", "x=1", "x=2"]).as_bytes().to_vec();
    request.method = sequence
        .pick(&["GET", "POST", "PROPFIND"])
        .as_bytes()
        .to_vec();
    request.remote_port = [Some(54321), Some(54322), None][sequence.below(3)];
    request.server_port = [8080, 80][sequence.below(2)];
    request.server_name = sequence.pick(&["example.test", "other.test"]).into();
    request.body = RequestBody::Memory(sequence.pick(&["", "abc", "line\nline"]).into());
    let shapes: [&[&str]; 6] = [
        &["Host", "User-Agent"],
        &["Host", "User-Agent"],
        &["host", "user-agent", "Accept"],
        &["Host", "Cookie", "Cookie", "X-Custom"],
        &[
            "Content-Type",
            "Host",
            "Content-Length",
            "X_Under",
            "X-Custom",
        ],
        &["Accept", "accept", "Content-Length", "content-length"],
    ];
    for name in shapes[sequence.below(shapes.len())] {
        let value = sequence.pick(&["1", "2", "a b", "multi\nline", ""]);
        request.headers.append(*name, value);
    }
    request
}

/// Hundreds of requests on one worker, with header sets that repeat, change, alternate,
/// differ in case and repeat names, each see exactly the environ a fresh build would give.
#[test]
fn every_request_sees_exactly_its_own_environ() {
    let harness = Harness::new(DUMP);
    let mut sequence = Sequence(7);
    for round in 0..120 {
        let request = draw(&mut sequence);
        let expected = expected_dump(&request);
        // Twice in a row now and then, so that the base takes the request's shape.
        let again = (round % 3 == 0).then(|| {
            let mut twin = get("/");
            twin.method = request.method.clone();
            twin.path_info = request.path_info.clone();
            twin.query_string = request.query_string.clone();
            twin.remote_port = request.remote_port;
            twin.server_port = request.server_port;
            twin.server_name = request.server_name.clone();
            twin.headers = request.headers.clone();
            twin.body = RequestBody::Memory(b"twin".to_vec());
            twin
        });
        assert_eq!(dump(&harness, request), expected, "round {round}");
        if let Some(twin) = again {
            let expected = expected_dump(&twin);
            assert_eq!(dump(&harness, twin), expected, "round {round}, again");
        }
    }
}

/// A request with very many distinct headers, then one with none, then the many again: each
/// sees all of its headers and none of another's.
#[test]
fn very_many_headers_come_and_go() {
    let harness = Harness::new(DUMP);
    let mut many = get("/");
    for index in 0..200 {
        many.headers
            .append(format!("X-Header-{index}"), format!("value {index}"));
    }
    let expected = expected_dump(&many);
    let twin = || {
        let mut twin = get("/");
        twin.headers = many.headers.clone();
        twin
    };
    assert_eq!(dump(&harness, twin()), expected);
    assert_eq!(dump(&harness, twin()), expected);
    assert_eq!(dump(&harness, twin()), expected);
    let none = get("/");
    let expected_none = expected_dump(&none);
    assert_eq!(dump(&harness, none), expected_none);
    assert_eq!(dump(&harness, twin()), expected);
}

/// An application that keeps start_response, write and wsgi.input past its request gets
/// them unchanged, and the next request gets fresh ones.
#[test]
fn callables_and_input_kept_by_the_application_stay_its_own() {
    let harness = Harness::new(
        r#"
kept = {}

def app(environ, start_response):
    if environ['PATH_INFO'] == '/keep':
        kept['start_response'] = start_response
        kept['input'] = environ['wsgi.input']
        kept['write'] = start_response('200 OK', [])
        return [b'kept']
    fresh = (start_response is not kept['start_response']
             and environ['wsgi.input'] is not kept['input'])
    write = start_response('200 OK', [])
    fresh = fresh and write is not kept['write']
    old = kept['input'].read()
    new = environ['wsgi.input'].read()
    return [b'%s %s %s' % (b'fresh' if fresh else b'shared', old, new)]
"#,
    );
    let mut keep = super::post(b"first body");
    keep.path_info = b"/keep".to_vec();
    assert_eq!(harness.text(keep), "kept");
    let later = super::post(b"second body");
    assert_eq!(harness.text(later), "fresh first body second body");
    let again = super::post(b"third body");
    assert_eq!(harness.text(again), "fresh  third body");
}

/// Status and header objects validated before are trusted only while they are the very same
/// objects: an invalid header in a remembered position fails, and the earlier objects are
/// validated again afterwards; more headers than are remembered all arrive.
#[test]
fn remembered_response_heads_follow_the_objects() {
    let harness = Harness::new(
        r#"
GOOD = [('X-A', '1'), ('X-B', '2')]
MANY = [('X-%d' % n, str(n)) for n in range(40)]

def app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/bad':
        start_response('200 OK', [GOOD[0], ('X-B', 'bad\n')])
    elif path == '/many':
        start_response('201 Many', MANY + [('X-Dynamic', path)])
    else:
        start_response('200 OK', GOOD)
    return [b'']
"#,
    );
    let pairs = |events: &[torsion::wsgi::WsgiEvent]| {
        head(events)
            .headers
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value)
                )
            })
            .collect::<Vec<_>>()
    };
    let good = vec!["X-A: 1".to_owned(), "X-B: 2".to_owned()];
    assert_eq!(pairs(&harness.run(get("/"))), good);
    let (message, _, _) = failure(&harness.run(get("/bad")));
    assert!(
        message.contains("X-B value must be ISO-8859-1"),
        "{message}"
    );
    assert_eq!(pairs(&harness.run(get("/"))), good);
    let mut many: Vec<String> = (0..40).map(|n| format!("X-{n}: {n}")).collect();
    many.push("X-Dynamic: /many".to_owned());
    for _ in 0..2 {
        let events = harness.run(get("/many"));
        assert_eq!(head(&events).status_line, b"201 Many");
        assert_eq!(pairs(&events), many);
        assert!(body(&events).is_empty());
    }
    assert_eq!(pairs(&harness.run(get("/"))), good);
}

//! wsgi.input: read, readline, readlines, iteration, seek and tell over the request body.

use torsion::web::{Content, ContentLimits};

use super::{Harness, post};

/// `body` as the server keeps it once it passes the spool threshold: in a temporary file.
fn spooled(body: &[u8]) -> Content {
    let limits = ContentLimits {
        spool_threshold: 0,
        ..ContentLimits::default()
    };
    let mut content = Content::default();
    content.append(body.to_vec(), &limits).expect("spooled");
    assert!(content.is_spooled() || body.is_empty());
    content
}

/// Runs the Python expression list in `steps` against `environ['wsgi.input']` (named `f`) and
/// returns the repr of each result, one per line; the body is read from memory and from a
/// spooled file, which must answer alike.
fn steps(body: &[u8], steps: &str) -> String {
    let in_memory = steps_over(body, steps, false);
    let from_file = steps_over(body, steps, true);
    assert_eq!(in_memory, from_file, "a spooled body reads differently");
    in_memory
}

fn steps_over(body: &[u8], steps: &str, spool: bool) -> String {
    let harness = Harness::new(&format!(
        r#"
def app(environ, start_response):
    f = environ['wsgi.input']
    results = []
    for step in eval({steps:?}):
        try:
            results.append(repr(eval(step)))
        except Exception as error:
            results.append(type(error).__name__)
    start_response('200 OK', [])
    return ['\n'.join(results).encode('latin-1')]
"#
    ));
    let mut request = post(body);
    if spool {
        request.body = spooled(body);
    }
    harness.text(request)
}

/// read() returns all that is left; read(n) at most n bytes; None and -1 mean "all".
#[test]
fn read_honours_sizes() {
    let result = steps(
        b"abcdefgh",
        "['f.read(3)', 'f.read(2)', 'f.read()', 'f.read()', 'f.seek(0)', 'f.read(None)', \
         'f.seek(0)', 'f.read(-1)', 'f.seek(6)', 'f.read(100)']",
    );
    assert_eq!(
        result,
        "b'abc'\nb'de'\nb'fgh'\nb''\n0\nb'abcdefgh'\n0\nb'abcdefgh'\n6\nb'gh'"
    );
}

/// readline() returns one line with its newline, readline(n) at most n bytes of it.
#[test]
fn readline_honours_sizes() {
    let result = steps(
        b"first\nsecond\nthird",
        "['f.readline()', 'f.readline(3)', 'f.readline(None)', 'f.readline(-1)', \
         'f.readline()']",
    );
    assert_eq!(result, "b'first\\n'\nb'sec'\nb'ond\\n'\nb'third'\nb''");
}

/// readlines() returns the remaining lines; a hint stops once that many bytes were read (as io does).
#[test]
fn readlines_honours_hints() {
    let result = steps(
        b"a\nbb\nccc\n",
        "['f.readlines(3)', 'f.readlines()', 'f.seek(0)', 'f.readlines(None)', 'f.seek(2)', \
         'f.readlines(-1)']",
    );
    assert_eq!(
        result,
        "[b'a\\n', b'bb\\n']\n[b'ccc\\n']\n0\n[b'a\\n', b'bb\\n', b'ccc\\n']\n2\n\
         [b'bb\\n', b'ccc\\n']"
    );
}

/// Iterating the stream yields its lines, from the current position.
#[test]
fn iteration_yields_lines() {
    let result = steps(
        b"x\ny\nz",
        "['f.read(1)', 'list(f)', 'list(f)', 'iter(f) is f']",
    );
    assert_eq!(result, "b'x'\n[b'\\n', b'y\\n', b'z']\n[]\nTrue");
}

/// seek() moves relative to the start, the position or the end; tell() reports the position.
#[test]
fn seek_and_tell_move_through_the_body() {
    let result = steps(
        b"0123456789",
        "['f.seek(4)', 'f.tell()', 'f.read(2)', 'f.seek(-3, 2)', 'f.read()', 'f.seek(-5, 1)', \
         'f.read(1)', 'f.seek(-1)', 'f.seek(0, 7)', 'f.seekable()', 'f.seek(20)', 'f.read()']",
    );
    assert_eq!(
        result,
        "4\n4\nb'45'\n7\nb'789'\n5\nb'5'\nOSError\nValueError\nTrue\n20\nb''"
    );
}

/// A line longer than the spooled reader's scan window comes back whole, and the next line
/// after it.
#[test]
fn long_lines_read_whole_from_a_spooled_body() {
    let mut body = vec![b'x'; 20_000];
    body.extend_from_slice(b"\nend\n");
    let result = steps(
        &body,
        "['len(f.readline())', 'f.readline()', 'f.readline()', 'f.seek(19_999)', 'f.readline(1)']",
    );
    assert_eq!(result, "20001\nb'end\\n'\nb''\n19999\nb'x'");
}

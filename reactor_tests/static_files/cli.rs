//! `torsion web --path` and `--static`: the real binary on 127.0.0.1.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::fixture;
use crate::binary::{Running, assert_fails_in_one_line, torsion};
use crate::util::TempDir;
use crate::web::support::{Response, parse_responses};

/// A running `torsion web`; killed when dropped.
struct Torsion(Running);

impl Torsion {
    fn start(dir: &Path, args: &[&str]) -> Torsion {
        let mut command = torsion(
            dir,
            &[
                "web",
                "--listen",
                "tcp:0:interface=127.0.0.1",
                "--no-access-log",
            ],
        );
        command.args(args);
        Torsion(Running::spawn(command))
    }

    fn raw(&self, request: &str) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.0.address()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        response
    }

    fn get(&self, target: &str, extra: &str) -> Response {
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: h\r\n{extra}Connection: close\r\n\r\n");
        let raw = self.raw(&request);
        parse_responses(&raw)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no response: {}", String::from_utf8_lossy(&raw)))
    }
}

/// `--path` serves a 1 GiB sparse file to a client that first reads nothing: the server's
/// memory does not grow with the file (sendfile sends it from the page cache), and then the
/// whole gigabyte arrives.
#[test]
fn path_serves_a_gigabyte_with_bounded_memory() {
    let dir = fixture();
    let file = fs::File::create(dir.join("root/sparse.bin")).unwrap();
    file.set_len(1 << 30).unwrap();
    let root = dir.join("root");
    let server = Torsion::start(dir.path(), &["--path", root.to_str().unwrap()]);
    let mut stream = TcpStream::connect(server.0.address()).unwrap();
    stream
        .write_all(b"GET /sparse.bin HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let baseline = server.0.rss_kib();
    let mut peak = baseline;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        peak = peak.max(server.0.rss_kib());
    }
    assert!(
        peak < baseline + 16 * 1024,
        "RSS grew from {baseline} to {peak} KiB"
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buffer).unwrap() {
            0 => break,
            n => total += n as u64,
        }
    }
    assert!(total > 1 << 30, "only {total} bytes arrived");
    assert!(total < (1 << 30) + 1024, "{total} bytes arrived");
    assert!(server.0.rss_kib() < baseline + 16 * 1024);
}

const ECHO_APP: &str = r#"
def echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("script=%s path=%s query=%s" % (
        environ["SCRIPT_NAME"], environ["PATH_INFO"], environ["QUERY_STRING"])).encode()]
"#;

/// `--static /static=DIR` serves files under the prefix and hands everything else to the
/// application with an empty SCRIPT_NAME and the whole path in PATH_INFO.
#[test]
fn static_mounts_beside_the_application() {
    let dir = fixture();
    fs::write(dir.join("apps.py"), ECHO_APP).unwrap();
    let mount = format!("/static={}", dir.join("root").display());
    let server = Torsion::start(dir.path(), &["--wsgi", "apps.echo", "--static", &mount]);
    let file = server.get("/static/a.txt", "");
    assert_eq!(file.text(), "hello world\n");
    assert_eq!(file.header("content-type"), Some("text/plain"));
    let app = server.get("/other/x?q=1", "");
    assert_eq!(app.text(), "script= path=/other/x query=q=1");
    let near = server.get("/staticfoo/a.txt", "");
    assert_eq!(near.text(), "script= path=/staticfoo/a.txt query=");
    let root = server.get("/", "");
    assert_eq!(root.text(), "script= path=/ query=");
    let moved = server.get("/static?v=2", "");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/static/?v=2"));
    let refused = server.get("/static/%2e%2e/apps.py", "");
    assert_eq!(refused.status, 404);
}

/// The file options reach the served directory: default type, index names, ignored
/// extensions, listing off, following links, gzip.
#[test]
fn file_options_from_the_command_line() {
    let dir = fixture();
    let root = dir.join("root");
    let root = root.to_str().unwrap();
    let server = Torsion::start(
        dir.path(),
        &[
            "--path",
            root,
            "--mime-type",
            "text/x-default",
            "--index",
            "b.txt",
            "--ignore-ext",
            ".html",
            "--no-listing",
            "--follow-symlinks",
        ],
    );
    let blob = server.get("/blob.unknownext", "");
    assert_eq!(blob.header("content-type"), Some("text/x-default"));
    assert_eq!(server.get("/docs/", "").text(), "b");
    assert_eq!(server.get("/sub/", "").status, 403);
    assert_eq!(server.get("/about", "").text(), "<p>about</p>");
    assert_eq!(server.get("/escape", "").text(), "TOPSECRET");
    drop(server);
    let server = Torsion::start(
        dir.path(),
        &["--path", root, "--allow-ignore-ext", "--gzip"],
    );
    assert_eq!(server.get("/digits", "").text(), "0123456789");
    fs::write(dir.join("root/long.txt"), "gzip me ".repeat(100)).unwrap();
    let long = server.get("/long.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(long.header("content-encoding"), Some("gzip"));
    assert_eq!(server.get("/escape", "").status, 404);
}

/// Bad paths and bad option values are one-line errors at start-up.
#[test]
fn bad_static_options_are_one_line_errors() {
    let dir = fixture();
    let file = dir.join("root/a.txt");
    let cases: &[(&[&str], &str)] = &[
        (&["web", "--path", "/no/such/dir"], "/no/such/dir"),
        (
            &["web", "--path", file.to_str().unwrap()],
            "not a directory",
        ),
        (&["web", "--path", ".", "--wsgi", "apps.x"], "--wsgi"),
        (&["web", "--static", "static=."], "must start with /"),
        (&["web", "--static", "/static"], "PREFIX=DIR"),
        (
            &["web", "--static", "/static=/no/such/dir"],
            "--static /static",
        ),
        (
            &["web", "--path", ".", "--ignore-ext", "html"],
            "with its dot",
        ),
        (
            &["web", "--path", ".", "--mime-type", "plain"],
            "not a content type",
        ),
        (&["web", "--path", ".", "--index", "a/b"], "not a file name"),
    ];
    for (args, needle) in cases {
        assert_fails_in_one_line(dir.path(), args, needle);
    }
}

/// --help lists the static-file options.
#[test]
fn help_lists_static_options() {
    let dir = TempDir::new("static-help");
    let output = torsion(dir.path(), &["web", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--path",
        "--static",
        "--mime-type",
        "--index",
        "--ignore-ext",
        "--allow-ignore-ext",
        "--no-listing",
        "--follow-symlinks",
        "--no-precompressed",
        "--gzip",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

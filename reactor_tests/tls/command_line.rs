//! `torsion web` with TLS endpoints: the real binary, a WSGI application, rustls clients.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::ExtendedKeyUsagePurpose;
use torsion::tls::{ALPN_HTTP1, ALPN_HTTP2};

use super::{
    BlockingClient, Pki, blocking_client, client_config, quoted, served_certificate,
    ssl_description,
};
use crate::binary::{Running, torsion};

const APPS: &str = r#"
def scheme(environ, start_response):
    body = environ["wsgi.url_scheme"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"#;

/// `torsion web` serving the application in `dir` with `args` added.
fn web(dir: &Path, args: &[&str]) -> Command {
    fs::write(dir.join("tlsapps.py"), APPS).unwrap();
    let mut command = torsion(dir, &["web", "--wsgi", "tlsapps.scheme", "--no-access-log"]);
    command.args(args);
    command
}

/// `torsion web` listening on `ssl:` with a certificate from a new authority named `label`,
/// `args` added; returns the server, the authority, and the file it serves (key and
/// certificate) with the certificate in it.
fn start_over_ssl(label: &str, args: &[&str]) -> (Running, Pki, (PathBuf, Vec<u8>)) {
    let pki = Pki::new(label);
    let issued = pki.server("server.pem", &["127.0.0.1"]);
    let listen = ssl_description(&issued.0);
    let mut command = web(pki.dir.path(), &["--listen", &listen]);
    command.args(args);
    (Running::spawn(command), pki, issued)
}

/// Sends a keep-alive GET on `client` and returns the response body.
fn get(client: &mut BlockingClient) -> String {
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        response.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&response).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse().unwrap())
        .expect("a Content-Length");
    let mut body = vec![0; length];
    client.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// A WSGI application served over `ssl:` sees `wsgi.url_scheme` "https".
#[test]
fn wsgi_url_scheme_is_https() {
    let (server, pki, _) = start_over_ssl("cli-scheme", &[]);
    let mut client =
        blocking_client(server.address(), "127.0.0.1", client_config(&pki.ca, &[])).unwrap();
    assert_eq!(get(&mut client), "https");
}

/// On SIGTERM an idle keep-alive connection is closed with close_notify: the client reads a
/// clean end of the stream, not a truncation.
#[test]
fn shutdown_closes_idle_connections_with_close_notify() {
    let (server, pki, _) = start_over_ssl("cli-shutdown", &[]);
    let mut client =
        blocking_client(server.address(), "127.0.0.1", client_config(&pki.ca, &[])).unwrap();
    assert_eq!(get(&mut client), "https");
    server.signal("-TERM");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("a clean close_notify, not a truncation");
    assert!(rest.is_empty(), "{rest:?}");
}

/// With `--no-http2` a client offering h2 and http/1.1 gets http/1.1.
#[test]
fn no_http2_offers_only_http1() {
    let (server, pki, _) = start_over_ssl("cli-alpn", &["--no-http2"]);
    let config = client_config(&pki.ca, &[ALPN_HTTP2, ALPN_HTTP1]);
    let mut client = blocking_client(server.address(), "127.0.0.1", config).unwrap();
    assert_eq!(client.conn.alpn_protocol(), Some(ALPN_HTTP1));
    assert_eq!(get(&mut client), "https");
}

/// SIGHUP reloads the certificates: a new connection gets the new one, and a connection opened
/// before keeps being served.
#[test]
fn sighup_reloads_certificates_without_dropping_connections() {
    let (mut server, pki, (pem, old)) = start_over_ssl("cli-reload", &[]);
    let config = client_config(&pki.ca, &[]);
    let mut before = blocking_client(server.address(), "127.0.0.1", config.clone()).unwrap();
    assert_eq!(get(&mut before), "https");
    assert_eq!(served_certificate(&before), old);

    let new = pki.issue_at(&pem, &["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
    server.signal("-HUP");
    let line = server.next_line();
    assert!(
        line.contains("reloaded the certificates of ssl:0"),
        "{line:?}"
    );

    let mut after = blocking_client(server.address(), "127.0.0.1", config).unwrap();
    assert_eq!(served_certificate(&after), new);
    assert_eq!(get(&mut after), "https");
    assert_eq!(get(&mut before), "https");
}

/// A SIGHUP that arrives while the application is still being imported does not end the
/// process: it is handled (the certificates are reloaded) once the server runs.
#[test]
fn sighup_during_import_is_kept_for_later() {
    let pki = Pki::new("cli-early-hup");
    let issued = pki.server("server.pem", &["127.0.0.1"]);
    let dir = pki.dir.path();
    fs::write(
        dir.join("slowimport.py"),
        "import time\nopen('importing', 'w').close()\ntime.sleep(1.0)\nfrom tlsapps import scheme\n",
    )
    .unwrap();
    fs::write(dir.join("tlsapps.py"), APPS).unwrap();
    let listen = ssl_description(&issued.0);
    let command = torsion(
        dir,
        &[
            "web",
            "--wsgi",
            "slowimport.scheme",
            "--no-access-log",
            "--listen",
            &listen,
        ],
    );
    let importing = dir.join("importing");
    let mut server = Running::spawn_then(command, |child| {
        for _ in 0..3000 {
            if importing.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(importing.exists(), "the import never started");
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let line = server.next_line();
    assert!(line.contains("reloaded the certificates"), "{line:?}");
    let config = client_config(&pki.ca, &[]);
    let mut client = blocking_client(server.address(), "127.0.0.1", config).unwrap();
    assert_eq!(get(&mut client), "https");
}

/// A reload that meets a bad file says so in one line and keeps serving the old certificate.
#[test]
fn sighup_with_a_bad_file_keeps_the_old_certificates() {
    let (mut server, pki, (pem, old)) = start_over_ssl("cli-reload-bad", &[]);
    let config = client_config(&pki.ca, &[]);
    // A first exchange shows the reactor runs, with its signal handlers installed.
    let mut first = blocking_client(server.address(), "127.0.0.1", config.clone()).unwrap();
    assert_eq!(get(&mut first), "https");
    fs::write(&pem, "garbage\n").unwrap();
    server.signal("-HUP");
    let line = server.next_line();
    assert!(line.contains("kept the previous certificates"), "{line:?}");
    assert!(line.contains("server.pem"), "{line:?}");
    let client = blocking_client(server.address(), "127.0.0.1", config);
    assert_eq!(served_certificate(&client.unwrap()), old);
}

/// Runs `torsion web --listen LISTEN` to its end, which must fail; returns its stderr.
fn fails_to_start(dir: &Path, listen: &str) -> String {
    let output = web(dir, &["--listen", listen]).output().unwrap();
    assert!(!output.status.success(), "started with {listen}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A missing or bad key, certificate, chain, CA file or certificate directory stops the start
/// with one line naming the file.
#[test]
fn bad_tls_files_are_one_line_errors_naming_the_file() {
    let pki = Pki::new("cli-bad");
    let dir = pki.dir.path();
    let (good, _) = pki.server("good.pem", &["127.0.0.1"]);
    let (other, _) = pki.server("other.pem", &["127.0.0.1"]);
    let good_text = fs::read_to_string(&good).unwrap();
    let certificate_only = &good_text[good_text.find("-----BEGIN CERTIFICATE").unwrap()..];
    fs::write(pki.join("cert-only.pem"), certificate_only).unwrap();
    fs::write(pki.join("empty.pem"), "").unwrap();
    fs::create_dir(pki.join("no-certs")).unwrap();
    let cases = [
        (
            format!("ssl:0:privateKey={}", quoted(&pki.join("missing.pem"))),
            "missing.pem",
        ),
        (
            format!("ssl:0:privateKey={}", quoted(&pki.join("cert-only.pem"))),
            "cert-only.pem",
        ),
        (
            format!(
                "ssl:0:privateKey={}:certKey={}",
                quoted(&good),
                quoted(&pki.join("empty.pem"))
            ),
            "empty.pem",
        ),
        (
            format!(
                "ssl:0:privateKey={}:certKey={}",
                quoted(&good),
                quoted(&other)
            ),
            "other.pem",
        ),
        (
            format!(
                "ssl:0:privateKey={}:extraCertChain={}",
                quoted(&good),
                quoted(&pki.join("absent-chain.pem"))
            ),
            "absent-chain.pem",
        ),
        (
            format!(
                "{}:caCerts={}",
                ssl_description(&good),
                quoted(&pki.join("empty.pem"))
            ),
            "empty.pem",
        ),
        (
            format!("sni:{}:tcp:0", quoted(&pki.join("absent-dir"))),
            "absent-dir",
        ),
        (
            format!("sni:{}:tcp:0", quoted(&pki.join("no-certs"))),
            "no-certs",
        ),
    ];
    for (listen, file) in cases {
        let stderr = fails_to_start(dir, &listen);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{listen}: {stderr}");
        assert!(stderr.starts_with("torsion: cannot listen on "), "{stderr}");
        assert!(stderr.contains(file), "{listen}: {stderr}");
    }
}

/// By default ALPN offers h2 first, and the connection then speaks HTTP/2: the server answers
/// the client preface with a SETTINGS frame.
#[test]
fn default_alpn_chooses_http2_and_speaks_it() {
    let (server, pki, _) = start_over_ssl("cli-h2", &[]);
    let config = client_config(&pki.ca, &[ALPN_HTTP2, ALPN_HTTP1]);
    let mut client = blocking_client(server.address(), "127.0.0.1", config).unwrap();
    assert_eq!(client.conn.alpn_protocol(), Some(ALPN_HTTP2));
    client
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut frame_head = [0u8; 9];
    client.read_exact(&mut frame_head).unwrap();
    assert_eq!(frame_head[3], 0x04, "a SETTINGS frame: {frame_head:?}");
}

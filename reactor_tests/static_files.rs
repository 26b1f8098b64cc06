//! Static files end to end: a `File` resource (and `torsion web --path`) on 127.0.0.1 answering
//! raw sockets and curl — one test per rule, a traversal corpus, large files through sendfile
//! and through the bounded-read fallback, gzip, and mounts beside a WSGI application.

mod cli;
mod gzip;
mod large;
mod rules;
mod traversal;

use std::fs;
use std::os::unix::fs::symlink;
use std::rc::Rc;

use torsion::static_files::{File, FileOptions};

use crate::util::TempDir;
use crate::web::support::{Response, Server};

/// A served tree under `root/`, with a secret beside it that must never be reachable.
///
/// ```text
/// secret.txt                      TOPSECRET
/// root/a.txt                      hello world\n
/// root/digits.txt                 0123456789
/// root/blob.unknownext
/// root/about.html
/// root/script.js (+ .gz, .br)
/// root/sub/index.html
/// root/docs/{zdir/, adir/, b.txt, <i>&amp.txt}
/// root/escape -> ../secret.txt    (a link leaving the root)
/// root/inside -> a.txt            (a link staying inside)
/// ```
pub(crate) fn fixture() -> TempDir {
    let dir = TempDir::new("static");
    fs::write(dir.join("secret.txt"), "TOPSECRET").unwrap();
    let root = dir.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join("docs/zdir")).unwrap();
    fs::create_dir_all(root.join("docs/adir")).unwrap();
    fs::write(root.join("a.txt"), "hello world\n").unwrap();
    fs::write(root.join("digits.txt"), "0123456789").unwrap();
    fs::write(root.join("blob.unknownext"), "blob").unwrap();
    fs::write(root.join("about.html"), "<p>about</p>").unwrap();
    fs::write(root.join("script.js"), "console.log('plain');").unwrap();
    fs::write(root.join("script.js.gz"), "GZIPPED-BYTES").unwrap();
    fs::write(root.join("script.js.br"), "BROTLI-BYTES").unwrap();
    fs::write(root.join("sub/index.html"), "<p>sub index</p>").unwrap();
    fs::write(root.join("docs/b.txt"), "b").unwrap();
    fs::write(root.join("docs/<i>&amp.txt"), "odd").unwrap();
    symlink("../secret.txt", root.join("escape")).unwrap();
    symlink("a.txt", root.join("inside")).unwrap();
    dir
}

/// Serves `dir/root` with `options` on a fresh server.
pub(crate) fn serve(dir: &TempDir, options: FileOptions) -> Server {
    let file = File::new(dir.join("root"), options).expect("serve the fixture");
    Server::start(Rc::new(file))
}

/// One request with `extra` header lines (each ending in CRLF); the response.
pub(crate) fn request(server: &Server, method: &str, target: &str, extra: &str) -> Response {
    let text = format!("{method} {target} HTTP/1.1\r\nHost: h\r\n{extra}Connection: close\r\n\r\n");
    let mut peer = crate::util::Peer::connect(&server.address);
    peer.send(text.as_bytes());
    peer.read_to_end(&server.reactor);
    let parsed = if method == "HEAD" {
        crate::web::support::parse_head_response(&peer.received)
    } else {
        crate::web::support::parse_responses(&peer.received)
            .into_iter()
            .next()
    };
    parsed.unwrap_or_else(|| {
        panic!(
            "no response to {method} {target}: {:?}",
            String::from_utf8_lossy(&peer.received)
        )
    })
}

/// A GET with `extra` header lines.
pub(crate) fn get(server: &Server, target: &str, extra: &str) -> Response {
    request(server, "GET", target, extra)
}

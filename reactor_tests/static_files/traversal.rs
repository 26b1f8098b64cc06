//! Path traversal: a corpus of request targets that try to leave the served directory.

use std::os::unix::fs::symlink;

use torsion::static_files::FileOptions;

use super::{fixture, get, serve};
use crate::util::Peer;

/// Targets that name something outside the root, however encoded.
const CORPUS: &[&str] = &[
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%5csecret.txt",
    "/..%5Csecret.txt",
    "/..\\secret.txt",
    "/%252e%252e/secret.txt",
    "/a.txt%00",
    "/a.txt%00.html",
    "/%00",
    "/escape",
    "/escape/",
    "/%65scape",
    "/outside/secret.txt",
    "/outside/root/../secret.txt",
    "//secret.txt",
    "/./../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%2fetc%2fpasswd",
    "/..%00/secret.txt",
];

/// No target of the corpus reaches a file outside the root: each gets a 4xx, never the secret.
#[test]
fn traversal_corpus_is_refused() {
    let dir = fixture();
    symlink("..", dir.join("root/outside")).unwrap();
    let server = serve(&dir, FileOptions::default());
    let mut targets: Vec<String> = CORPUS.iter().map(|t| t.to_string()).collect();
    let absolute = dir
        .join("secret.txt")
        .display()
        .to_string()
        .replace('/', "%2F");
    targets.push(format!("/{absolute}"));
    for target in &targets {
        let mut peer = Peer::connect(&server.address);
        let request = format!("GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        peer.send(request.as_bytes());
        peer.read_to_end(&server.reactor);
        let text = String::from_utf8_lossy(&peer.received);
        assert!(!text.contains("TOPSECRET"), "{target} leaked: {text}");
        let status = text.split(' ').nth(1).unwrap_or("");
        assert!(status.starts_with('4'), "{target} answered {text}");
    }
}

/// A link that stays inside the root is served; one that leaves it is not, unless allowed.
#[test]
fn symlinks_leaving_the_root_need_permission() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    assert_eq!(get(&server, "/inside", "").text(), "hello world\n");
    assert_eq!(get(&server, "/escape", "").status, 404);
    let listing = get(&server, "/", "").text();
    assert!(listing.contains("inside"), "{listing}");
    assert!(
        !listing.contains("escape"),
        "a refused link is listed: {listing}"
    );
    let following = FileOptions {
        follow_symlinks: true,
        ..FileOptions::default()
    };
    let server = serve(&dir, following);
    assert_eq!(get(&server, "/escape", "").text(), "TOPSECRET");
}

/// A precompressed sibling that is a link leaving the root is never served in place of the
/// file; one that stays inside is.
#[test]
fn sibling_links_are_checked_like_any_other() {
    let dir = fixture();
    symlink("../secret.txt", dir.join("root/a.txt.gz")).unwrap();
    symlink("script.js.gz", dir.join("root/about.html.gz")).unwrap();
    let server = serve(&dir, FileOptions::default());
    let plain = get(&server, "/a.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.text(), "hello world\n");
    assert_eq!(plain.header("content-encoding"), None);
    let inside = get(&server, "/about.html", "Accept-Encoding: gzip\r\n");
    assert_eq!(inside.header("content-encoding"), Some("gzip"));
    assert_eq!(inside.text(), "GZIPPED-BYTES");
}

/// A FIFO in the tree is refused with 404 at once (opening it must not wait for a writer), and
/// the server goes on serving.
#[test]
fn a_fifo_is_refused_without_stalling() {
    let dir = fixture();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("root/pipe"))
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let server = serve(&dir, FileOptions::default());
    assert_eq!(get(&server, "/pipe", "").status, 404);
    assert_eq!(get(&server, "/a.txt", "").text(), "hello world\n");
}

//! One test per serving rule of `File`.

use std::fs;
use std::rc::Rc;

use torsion::static_files::{FileOptions, MimeTypes};

use super::{fixture, get, request, serve};
use crate::web::support::curl;

/// Known extensions get their type from the MIME table; unknown ones the default type.
#[test]
fn content_types_from_the_mime_table_and_default() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let text = get(&server, "/a.txt", "");
    assert_eq!(text.status, 200);
    assert_eq!(text.header("content-type"), Some("text/plain"));
    assert_eq!(text.text(), "hello world\n");
    assert_eq!(text.header("content-length"), Some("12"));
    let blob = get(&server, "/blob.unknownext", "");
    assert_eq!(
        blob.header("content-type"),
        Some("application/octet-stream")
    );
    let options = FileOptions {
        default_type: "text/x-chosen".into(),
        mime_types: Rc::new(MimeTypes::built_in()),
        ..FileOptions::default()
    };
    let server = serve(&dir, options);
    let blob = get(&server, "/blob.unknownext", "");
    assert_eq!(blob.header("content-type"), Some("text/x-chosen"));
}

/// A directory with its slash serves the first index name that exists.
#[test]
fn index_names_in_order() {
    let dir = fixture();
    fs::write(dir.join("root/sub/index.htm"), "htm").unwrap();
    let server = serve(&dir, FileOptions::default());
    let index = get(&server, "/sub/", "");
    assert_eq!(index.status, 200);
    assert_eq!(index.text(), "<p>sub index</p>");
    let options = FileOptions {
        index_names: vec!["missing".into(), "index.htm".into()],
        ..FileOptions::default()
    };
    let server = serve(&dir, options);
    assert_eq!(get(&server, "/sub/", "").text(), "htm");
}

/// The listing shows directories first, then files, sorted, names escaped and links encoded.
#[test]
fn directory_listing_is_sorted_and_escaped() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let listing = get(&server, "/docs/", "");
    assert_eq!(listing.status, 200);
    assert_eq!(
        listing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = listing.text();
    let order: Vec<usize> = ["adir/", "zdir/", "&lt;i&gt;&amp;amp.txt", "b.txt"]
        .iter()
        .map(|needle| {
            page.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {page}"))
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "order {order:?} in {page}"
    );
    assert!(page.contains("href=\"%3Ci%3E%26amp.txt\""), "{page}");
    assert!(!page.contains("<i>"), "unescaped name in {page}");
    assert!(page.contains("Directory listing for /docs/"), "{page}");
}

/// With listings off, a directory without an index is 403.
#[test]
fn listing_can_be_turned_off() {
    let dir = fixture();
    let options = FileOptions {
        directory_listing: false,
        ..FileOptions::default()
    };
    let server = serve(&dir, options);
    assert_eq!(get(&server, "/docs/", "").status, 403);
    assert_eq!(get(&server, "/sub/", "").status, 200);
}

/// A directory requested without its slash is redirected to it, keeping the query.
#[test]
fn directory_without_slash_redirects_keeping_query() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let moved = get(&server, "/sub?a=1&b=%20", "");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/sub/?a=1&b=%20"));
}

/// One range gives 206 with Content-Range and just those bytes.
#[test]
fn single_range() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let part = get(&server, "/digits.txt", "Range: bytes=2-5\r\n");
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 2-5/10"));
    assert_eq!(part.header("content-length"), Some("4"));
    assert_eq!(part.text(), "2345");
}

/// A suffix range gives the last bytes; an open range runs to the end.
#[test]
fn suffix_and_open_ranges() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let tail = get(&server, "/digits.txt", "Range: bytes=-3\r\n");
    assert_eq!(tail.header("content-range"), Some("bytes 7-9/10"));
    assert_eq!(tail.text(), "789");
    let open = get(&server, "/digits.txt", "Range: bytes=8-\r\n");
    assert_eq!(open.text(), "89");
}

/// Several ranges give a multipart/byteranges body with one part per range, in order.
#[test]
fn multiple_ranges_are_multipart() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let parts = get(&server, "/digits.txt", "Range: bytes=0-1,-2\r\n");
    assert_eq!(parts.status, 206);
    let content_type = parts.header("content-type").unwrap().to_string();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    let expected = format!(
        "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
         \r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n89\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(parts.text(), expected);
    assert_eq!(
        parts.header("content-length"),
        Some(&*expected.len().to_string())
    );
}

/// Ranges entirely past the end give 416 with `bytes */size`.
#[test]
fn unsatisfiable_range_is_416() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let refused = get(&server, "/digits.txt", "Range: bytes=10-20\r\n");
    assert_eq!(refused.status, 416);
    assert_eq!(refused.header("content-range"), Some("bytes */10"));
}

/// A malformed Range is ignored and the whole file sent.
#[test]
fn malformed_range_sends_everything() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let whole = get(&server, "/digits.txt", "Range: bytes=5-2\r\n");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.text(), "0123456789");
}

/// If-Range with the current ETag honours the range; with an old one sends the whole file.
#[test]
fn if_range_decides_between_part_and_whole() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let etag = get(&server, "/digits.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    let part = get(
        &server,
        "/digits.txt",
        &format!("Range: bytes=0-0\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!(part.status, 206);
    let whole = get(
        &server,
        "/digits.txt",
        "Range: bytes=0-0\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!(whole.status, 200);
    assert_eq!(whole.text(), "0123456789");
}

/// If-Modified-Since at or after Last-Modified gives 304 without a body; earlier gives 200.
#[test]
fn if_modified_since_gives_304() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let first = get(&server, "/a.txt", "");
    let modified = first.header("last-modified").unwrap().to_string();
    let cached = get(
        &server,
        "/a.txt",
        &format!("If-Modified-Since: {modified}\r\n"),
    );
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), first.header("etag"));
    let old = get(
        &server,
        "/a.txt",
        "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT\r\n",
    );
    assert_eq!(old.status, 200);
    let junk = get(&server, "/a.txt", "If-Modified-Since: next tuesday\r\n");
    assert_eq!(junk.status, 200);
}

/// If-None-Match with the ETag (weak or strong, or `*`) gives 304; another tag gives 200.
#[test]
fn if_none_match_gives_304() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let etag = get(&server, "/a.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    for condition in [
        etag.clone(),
        format!("W/{etag}"),
        "*".into(),
        format!("\"x\", {etag}"),
    ] {
        let cached = get(
            &server,
            "/a.txt",
            &format!("If-None-Match: {condition}\r\n"),
        );
        assert_eq!(cached.status, 304, "{condition}");
    }
    assert_eq!(
        get(&server, "/a.txt", "If-None-Match: \"other\"\r\n").status,
        200
    );
}

/// If-Unmodified-Since before the file's modification gives 412.
#[test]
fn if_unmodified_since_gives_412() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let old = get(
        &server,
        "/a.txt",
        "If-Unmodified-Since: Thu, 01 Jan 1998 00:00:00 GMT\r\n",
    );
    assert_eq!(old.status, 412);
    let later = get(
        &server,
        "/a.txt",
        "If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n",
    );
    assert_eq!(later.status, 200);
}

/// HEAD gets the headers GET would get and no body.
#[test]
fn head_sends_headers_only() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let head = request(&server, "HEAD", "/a.txt", "");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("12"));
    assert_eq!(head.header("content-type"), Some("text/plain"));
    assert!(head.body.is_empty());
    let Some(out) = curl(&server, &["--head", &server.url("/a.txt")]) else {
        return;
    };
    assert!(out.contains("Content-Length: 12"), "{out}");
}

/// Methods other than GET and HEAD get 405 with Allow.
#[test]
fn other_methods_get_405_with_allow() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    for method in ["POST", "PUT", "DELETE"] {
        let refused = request(&server, method, "/a.txt", "Content-Length: 0\r\n");
        assert_eq!(refused.status, 405, "{method}");
        assert_eq!(refused.header("allow"), Some("GET, HEAD"));
    }
}

/// Precompressed siblings are chosen by Accept-Encoding and q-values, with Vary.
#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let cases = [
        ("", None, "console.log('plain');"),
        ("Accept-Encoding: gzip\r\n", Some("gzip"), "GZIPPED-BYTES"),
        ("Accept-Encoding: gzip, br\r\n", Some("br"), "BROTLI-BYTES"),
        (
            "Accept-Encoding: br;q=0.5, gzip;q=0.9\r\n",
            Some("gzip"),
            "GZIPPED-BYTES",
        ),
        (
            "Accept-Encoding: br;q=0, gzip;q=0\r\n",
            None,
            "console.log('plain');",
        ),
        ("Accept-Encoding: *\r\n", Some("br"), "BROTLI-BYTES"),
    ];
    let mut etags = Vec::new();
    for (accept, encoding, body) in cases {
        let response = get(&server, "/script.js", accept);
        assert_eq!(response.header("content-encoding"), encoding, "{accept}");
        assert_eq!(response.text(), body, "{accept}");
        assert_eq!(response.header("vary"), Some("Accept-Encoding"));
        assert_eq!(response.header("content-type"), Some("text/javascript"));
        etags.push((encoding, response.header("etag").unwrap().to_string()));
    }
    assert_ne!(etags[0].1, etags[1].1, "each encoding has its own tag");
    let off = FileOptions {
        precompressed: false,
        ..FileOptions::default()
    };
    let server = serve(&dir, off);
    let plain = get(&server, "/script.js", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), None);
}

/// Ignored extensions serve `name.ext` for a missing `name`; `*` takes any extension.
#[test]
fn ignored_extensions() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    assert_eq!(get(&server, "/about", "").status, 404);
    let options = FileOptions {
        ignored_extensions: vec![".htm".into(), ".html".into()],
        ..FileOptions::default()
    };
    let server = serve(&dir, options);
    let about = get(&server, "/about", "");
    assert_eq!(about.status, 200);
    assert_eq!(about.text(), "<p>about</p>");
    assert_eq!(about.header("content-type"), Some("text/html"));
    let any = FileOptions {
        ignored_extensions: vec!["*".into()],
        ..FileOptions::default()
    };
    let server = serve(&dir, any);
    assert_eq!(get(&server, "/digits", "").text(), "0123456789");
    assert_eq!(get(&server, "/nothing", "").status, 404);
}

/// curl downloads a file byte for byte, and resumes a partial download with a range.
#[test]
fn curl_downloads_and_resumes() {
    let dir = fixture();
    let server = serve(&dir, FileOptions::default());
    let Some(whole) = curl(&server, &[&server.url("/digits.txt")]) else {
        return;
    };
    assert_eq!(whole, "0123456789");
    let resumed = curl(&server, &["--range", "4-", &server.url("/digits.txt")]).unwrap();
    assert_eq!(resumed, "456789");
}

//! The HTML directory listing (Twisted's `DirectoryLister`): directories first, then files,
//! each group sorted by name; every name escaped for HTML and percent-encoded in links.
//!
//! Tested by: reactor_tests/static_files/

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::mime::MimeTypes;
use super::resolve::Resolver;
use crate::web::html_escape;

struct Entry {
    name: Vec<u8>,
    directory: bool,
    size: u64,
}

/// The listing page of `directory`, titled with the request's decoded `shown_path`.
pub(crate) fn render_listing(
    directory: &Path,
    shown_path: &[u8],
    resolver: &Resolver<'_>,
    types: &MimeTypes,
    default_type: &str,
) -> std::io::Result<Vec<u8>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        let path = entry.path();
        if !resolver.admits(&path) {
            continue;
        }
        let Ok(metadata) = fs::metadata(&path) else {
            continue;
        };
        entries.push(Entry {
            name: entry.file_name().as_bytes().to_vec(),
            directory: metadata.is_dir(),
            size: metadata.len(),
        });
    }
    entries.sort_by(|a, b| {
        b.directory
            .cmp(&a.directory)
            .then_with(|| a.name.cmp(&b.name))
    });
    let title = format!(
        "Directory listing for {}",
        html_escape(&String::from_utf8_lossy(shown_path))
    );
    let mut page = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>\nth, td {{ padding: 0 1em; text-align: left; }}\n\
         tr.odd {{ background: #f2f2f2; }}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <table>\n<thead><tr><th>Filename</th><th>Size</th><th>Content type</th>\
         <th>Content encoding</th></tr></thead>\n<tbody>\n"
    );
    for (i, entry) in entries.iter().enumerate() {
        let class = if i % 2 == 0 { "odd" } else { "even" };
        let shown = html_escape(&String::from_utf8_lossy(&entry.name));
        let href = percent_encode(&entry.name);
        let row = if entry.directory {
            format!(
                "<tr class=\"{class}\"><td><a href=\"{href}/\">{shown}/</a></td><td></td>\
                 <td>[Directory]</td><td></td></tr>\n"
            )
        } else {
            let content_type = html_escape(types.for_name(&entry.name).unwrap_or(default_type));
            let encoding = encoding_of(&entry.name).unwrap_or("");
            format!(
                "<tr class=\"{class}\"><td><a href=\"{href}\">{shown}</a></td><td>{}</td>\
                 <td>{content_type}</td><td>{encoding}</td></tr>\n",
                format_size(entry.size)
            )
        };
        page.push_str(&row);
    }
    page.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    Ok(page.into_bytes())
}

/// The encoding a precompressed file's name announces.
fn encoding_of(name: &[u8]) -> Option<&'static str> {
    if name.ends_with(b".gz") {
        Some("gzip")
    } else if name.ends_with(b".br") {
        Some("br")
    } else {
        None
    }
}

/// Sizes as Twisted shows them: `512B`, `3K`, `12M`, `2G`.
fn format_size(size: u64) -> String {
    const K: u64 = 1024;
    match size {
        s if s < K => format!("{s}B"),
        s if s < K * K => format!("{}K", s / K),
        s if s < K * K * K => format!("{}M", s / (K * K)),
        s => format!("{}G", s / (K * K * K)),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes use Twisted's units, truncated.
    #[test]
    fn sizes() {
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(1023), "1023B");
        assert_eq!(format_size(1536), "1K");
        assert_eq!(format_size(5 << 20), "5M");
        assert_eq!(format_size(3 << 30), "3G");
    }

    /// Links encode every reserved byte, so names cannot break out of the attribute or path.
    #[test]
    fn link_encoding() {
        assert_eq!(
            percent_encode(b"a b\"<?#/%.txt"),
            "a%20b%22%3C%3F%23%2F%25.txt"
        );
        assert_eq!(
            html_escape("<a href='x'>&"),
            "&lt;a href=&#x27;x&#x27;&gt;&amp;"
        );
    }
}

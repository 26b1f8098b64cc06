//! Content types by file extension: a built-in table, then the system's MIME database
//! (`/etc/mime.types`) over it, then Twisted's own overrides over both — the order Twisted's
//! `loadMimeTypes` produces with Python's `mimetypes`.
//!
//! Tested by: src/static_files/mime.rs (unit tests), reactor_tests/static_files/

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

/// Where the system keeps its MIME database.
pub const SYSTEM_MIME_TYPES: &str = "/etc/mime.types";

/// Types known without any system file, so serving works on a bare machine.
const BUILT_IN: &[(&str, &str)] = &[
    ("7z", "application/x-7z-compressed"),
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("bz2", "application/x-bzip2"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("gif", "image/gif"),
    ("gz", "application/gzip"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ico", "image/vnd.microsoft.icon"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("md", "text/markdown"),
    ("mjs", "text/javascript"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("py", "text/x-python"),
    ("svg", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tgz", "application/gzip"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml"),
    ("xml", "text/xml"),
    ("xz", "application/x-xz"),
    ("zip", "application/zip"),
    ("zst", "application/zstd"),
];

/// Twisted's additions to the system table (`static.loadMimeTypes`), applied last.
const TWISTED_OVERRIDES: &[(&str, &str)] = &[
    ("conf", "text/plain"),
    ("diff", "text/plain"),
    ("flac", "audio/x-flac"),
    ("java", "text/plain"),
    ("oz", "text/x-oz"),
    ("patch", "text/plain"),
    ("swf", "application/x-shockwave-flash"),
    ("wml", "text/vnd.wap.wml"),
    ("xul", "application/vnd.mozilla.xul+xml"),
];

/// A map from lower-case file extension (without the dot) to content type.
#[derive(Clone, Debug)]
pub struct MimeTypes {
    by_extension: HashMap<String, String, BuildHasherDefault<Fnv1a>>,
}

/// Extensions longer than this are lower-cased on the heap rather than on the stack.
const SHORT_EXTENSION: usize = 32;

/// FNV-1a, for the extension table: it is filled once from files the administrator controls,
/// so a keyed hash (the default, against tables an attacker fills) buys nothing there, and on
/// keys this short FNV costs a fraction of it.
#[derive(Clone, Copy, Debug)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for MimeTypes {
    fn default() -> MimeTypes {
        MimeTypes::system()
    }
}

impl MimeTypes {
    /// The built-in table, the system database if it exists, and Twisted's overrides.
    pub fn system() -> MimeTypes {
        MimeTypes::from_files(&[Path::new(SYSTEM_MIME_TYPES)])
    }

    /// The built-in table with Twisted's overrides, ignoring any system file.
    pub fn built_in() -> MimeTypes {
        MimeTypes::from_files(&[])
    }

    /// The built-in table, then each readable file of `mime.types` format in order, then
    /// Twisted's overrides. Files that cannot be read are skipped.
    pub fn from_files(files: &[&Path]) -> MimeTypes {
        let mut types = MimeTypes {
            by_extension: HashMap::default(),
        };
        types.extend(BUILT_IN);
        for file in files {
            if let Ok(text) = std::fs::read(file) {
                types.add_mime_types_text(&String::from_utf8_lossy(&text));
            }
        }
        types.extend(TWISTED_OVERRIDES);
        types
    }

    fn extend(&mut self, pairs: &[(&str, &str)]) {
        for (extension, content_type) in pairs {
            self.by_extension
                .insert((*extension).to_string(), (*content_type).to_string());
        }
    }

    /// Reads `mime.types` lines: `type/subtype ext1 ext2 …`, `#` starting a comment.
    pub fn add_mime_types_text(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(content_type) = words.next() else {
                continue;
            };
            if !content_type.contains('/') {
                continue;
            }
            for extension in words {
                let extension = extension.trim_start_matches('.').to_ascii_lowercase();
                self.by_extension
                    .insert(extension, content_type.to_string());
            }
        }
    }

    /// The type for a file name by its last extension (case-insensitive), if known.
    pub fn for_name(&self, name: &[u8]) -> Option<&str> {
        let dot = name.iter().rposition(|&b| b == b'.')?;
        let extension = &name[dot + 1..];
        let mut short = [0; SHORT_EXTENSION];
        let lower = match short.get_mut(..extension.len()) {
            Some(lower) => {
                lower.copy_from_slice(extension);
                lower.make_ascii_lowercase();
                std::str::from_utf8(lower).ok()?
            }
            None => {
                let lower = std::str::from_utf8(extension).ok()?.to_ascii_lowercase();
                return self.by_extension.get(&lower).map(String::as_str);
            }
        };
        self.by_extension.get(lower).map(String::as_str)
    }

    /// Adds or replaces the type of `extension` (with or without its dot).
    pub fn insert(&mut self, extension: &str, content_type: &str) {
        let extension = extension.trim_start_matches('.').to_ascii_lowercase();
        self.by_extension
            .insert(extension, content_type.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::MimeTypes;

    /// Extensions are matched case-insensitively on the last dot only.
    #[test]
    fn last_extension_case_insensitive() {
        let types = MimeTypes::built_in();
        assert_eq!(types.for_name(b"a.b.PNG"), Some("image/png"));
        assert_eq!(types.for_name(b"archive.tar.gz"), Some("application/gzip"));
        assert_eq!(types.for_name(b"README"), None);
        assert_eq!(types.for_name(b"x.unknownext"), None);
        let mut long = MimeTypes::built_in();
        let extension = "Long".repeat(20);
        long.insert(&extension, "application/x-long");
        let name = format!("a.{}", extension.to_uppercase());
        assert_eq!(long.for_name(name.as_bytes()), Some("application/x-long"));
        assert_eq!(types.for_name(b"bad.\xff"), None);
    }

    /// A mime.types text overrides the built-in table and Twisted's overrides win over both.
    #[test]
    fn file_then_overrides() {
        let dir = std::env::temp_dir().join(format!("torsion-mime-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mime.types");
        std::fs::write(
            &file,
            "# comment\napplication/x-test  tst  .TsT2\ntext/x-fake css\ntext/x-diff diff\n",
        )
        .unwrap();
        let types = MimeTypes::from_files(&[&file]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(types.for_name(b"a.tst"), Some("application/x-test"));
        assert_eq!(types.for_name(b"a.tst2"), Some("application/x-test"));
        assert_eq!(types.for_name(b"a.css"), Some("text/x-fake"));
        assert_eq!(types.for_name(b"a.diff"), Some("text/plain"));
        assert_eq!(types.for_name(b"a.flac"), Some("audio/x-flac"));
    }
}

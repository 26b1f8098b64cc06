//! [`File`]: serves a directory tree (Twisted's `static.File`).
//!
//! Tested by: reactor_tests/static_files/

use std::fmt;
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::body::{self, Piece};
use super::conditional::{self, Conditions, Precondition, Validators};
use super::listing;
use super::mime::MimeTypes;
use super::range::{self, ByteRange, RangeAnswer};
use super::resolve::{Resolver, Target};
use crate::http::{Method, StatusCode};
use crate::web::{ErrorPage, NoResource, Render, Request, Resource, accept_encoding_quality};

/// How a [`File`] serves its tree.
#[derive(Clone, Debug)]
pub struct FileOptions {
    /// The type of files whose extension is unknown (`--mime-type`).
    pub default_type: String,
    /// Names tried, in order, for a directory requested with its slash (`--index`).
    pub index_names: Vec<String>,
    /// Whether a directory without an index file gets an HTML listing (else 403).
    pub directory_listing: bool,
    /// Extensions (`.html`) tried when a requested file is missing, or `*` for any
    /// (`--ignore-ext`, `--allow-ignore-ext`).
    pub ignored_extensions: Vec<String>,
    /// Whether symbolic links may lead outside the root.
    pub follow_symlinks: bool,
    /// Whether `NAME.br` and `NAME.gz` beside `NAME` are served to clients that accept them.
    pub precompressed: bool,
    /// Content types by extension.
    pub mime_types: Rc<MimeTypes>,
}

impl Default for FileOptions {
    fn default() -> FileOptions {
        FileOptions {
            default_type: DEFAULT_TYPE.to_string(),
            index_names: DEFAULT_INDEX_NAMES.iter().map(|n| n.to_string()).collect(),
            directory_listing: true,
            ignored_extensions: Vec::new(),
            follow_symlinks: false,
            precompressed: true,
            mime_types: Rc::new(MimeTypes::system()),
        }
    }
}

/// The type of files with an unknown extension unless `--mime-type` says otherwise.
pub const DEFAULT_TYPE: &str = "application/octet-stream";
/// Index names tried by default, in order.
pub const DEFAULT_INDEX_NAMES: &[&str] = &["index", "index.html", "index.htm"];

/// Precompressed siblings, best first when the client rates them equally.
const PRECOMPRESSED: &[(&str, &str)] = &[("br", ".br"), ("gzip", ".gz")];

/// Why a directory cannot be served.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The path does not exist or cannot be read.
    Unreadable(PathBuf, io::Error),
    /// The path is not a directory.
    NotADirectory(PathBuf),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Unreadable(path, error) => {
                write!(f, "cannot serve {}: {error}", path.display())
            }
            FileError::NotADirectory(path) => write!(
                f,
                "cannot serve {}: not a directory (give the directory that holds it)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for FileError {}

/// Serves the files under one directory: it is a leaf and resolves whatever path remains
/// itself, so traversal checks happen in one place.
#[derive(Clone, Debug)]
pub struct File {
    root: PathBuf,
    options: Rc<FileOptions>,
}

impl File {
    /// Serves `root`, which must be a readable directory.
    pub fn new(root: impl AsRef<Path>, options: FileOptions) -> Result<File, FileError> {
        let given = root.as_ref();
        let root =
            fs::canonicalize(given).map_err(|e| FileError::Unreadable(given.to_path_buf(), e))?;
        let metadata =
            fs::metadata(&root).map_err(|e| FileError::Unreadable(given.to_path_buf(), e))?;
        if !metadata.is_dir() {
            return Err(FileError::NotADirectory(given.to_path_buf()));
        }
        fs::read_dir(&root).map_err(|e| FileError::Unreadable(given.to_path_buf(), e))?;
        Ok(File {
            root,
            options: Rc::new(options),
        })
    }

    /// The served directory, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolver(&self) -> Resolver<'_> {
        Resolver {
            root: &self.root,
            follow_symlinks: self.options.follow_symlinks,
            ignored_extensions: &self.options.ignored_extensions,
        }
    }

    fn content_type(&self, name: &[u8]) -> &str {
        self.options
            .mime_types
            .for_name(name)
            .unwrap_or(&self.options.default_type)
    }

    fn render_directory(&self, request: &Request, path: &Path) -> Render {
        let resolver = self.resolver();
        for name in &self.options.index_names {
            if let Some(index) = resolver.file_in(path, name.as_bytes()) {
                return self.render_file(request, &index);
            }
        }
        if !self.options.directory_listing {
            return ErrorPage::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "This directory has no index and listing it is turned off.",
            )
            .render(request);
        }
        let shown = crate::web::unquote(&request.path());
        match listing::render_listing(
            path,
            &shown,
            &resolver,
            &self.options.mime_types,
            &self.options.default_type,
        ) {
            Ok(page) => {
                request.set_header("Content-Type", "text/html; charset=utf-8");
                Render::Body(page)
            }
            Err(_) => forbidden(request),
        }
    }

    /// The precompressed sibling to send instead of `path`, and whether the choice depends on
    /// Accept-Encoding (always, while precompressed siblings are served: the response then
    /// varies by it whether or not this file has siblings).
    fn variant(&self, request: &Request, path: &Path) -> (Option<(&'static str, PathBuf)>, bool) {
        let name = path.file_name().map_or(&[][..], |n| n.as_bytes());
        if !self.options.precompressed || name.ends_with(b".gz") || name.ends_with(b".br") {
            return (None, false);
        }
        let accept = request.header("accept-encoding");
        let directory = path.parent().unwrap_or(&self.root);
        let resolver = self.resolver();
        let (mut best, mut best_q) = (None, 0.0);
        for (coding, suffix) in PRECOMPRESSED {
            // Only codings the client accepts are looked for (as nginx's gzip_static does), so
            // a client that accepts none costs no lookups.
            let q = accept_encoding_quality(accept.as_deref(), coding);
            if q <= 0.0 {
                continue;
            }
            let mut sibling = name.to_vec();
            sibling.extend_from_slice(suffix.as_bytes());
            let Some(found) = resolver.file_in(directory, &sibling) else {
                continue;
            };
            if q > best_q {
                (best, best_q) = (Some((*coding, found)), q);
            }
        }
        (best, true)
    }

    fn render_file(&self, request: &Request, path: &Path) -> Render {
        let name = path.file_name().map_or(&[][..], |n| n.as_bytes());
        let content_type = self.content_type(name).to_string();
        let (variant, has_variants) = self.variant(request, path);
        if has_variants {
            request.add_header("Vary", "Accept-Encoding");
        }
        let (coding, chosen) = match &variant {
            Some((coding, sibling)) => (Some(*coding), sibling.as_path()),
            None => (None, path),
        };
        let file = match self.open(chosen) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                return forbidden(request);
            }
            Err(_) => return NoResource.render(request),
        };
        let Ok(metadata) = file
            .metadata()
            .map_err(drop)
            .and_then(|m| if m.is_file() { Ok(m) } else { Err(()) })
        else {
            return NoResource.render(request);
        };
        let size = metadata.len();
        let validators = Validators::new(
            u64::try_from(metadata.mtime()).unwrap_or(0),
            u32::try_from(metadata.mtime_nsec()).unwrap_or(0),
            size,
            coding,
        );
        request.set_header("Last-Modified", validators.last_modified());
        request.set_header("ETag", &validators.etag);
        request.set_header("Accept-Ranges", "bytes");
        match precondition(request, &validators) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                request.set_response_code(StatusCode::NOT_MODIFIED);
                request.finish();
                return Render::NotDoneYet;
            }
            Precondition::Failed => {
                return ErrorPage::new(
                    StatusCode::PRECONDITION_FAILED,
                    "Precondition Failed",
                    "The file does not match the request's conditions.",
                )
                .render(request);
            }
        }
        let answer = ranges(request, &validators, size);
        if answer == RangeAnswer::Unsatisfiable {
            request.set_header("Content-Range", format!("bytes */{size}"));
            return ErrorPage::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Range Not Satisfiable",
                "None of the requested ranges lies within the file.",
            )
            .render(request);
        }
        if let Some(coding) = coding {
            request.set_header("Content-Encoding", coding);
        }
        let (length, pieces) = match answer {
            RangeAnswer::Partial(ranges) if ranges.len() == 1 => {
                let range = ranges[0];
                request.set_response_code(StatusCode::PARTIAL_CONTENT);
                request.set_header("Content-Range", range.content_range(size));
                request.set_header("Content-Type", &content_type);
                (range.len, vec![region(range)])
            }
            RangeAnswer::Partial(ranges) => {
                request.set_response_code(StatusCode::PARTIAL_CONTENT);
                multipart(request, &ranges, size, &content_type)
            }
            _ => {
                request.set_header("Content-Type", &content_type);
                (
                    size,
                    vec![Piece::Region {
                        offset: 0,
                        len: size,
                    }],
                )
            }
        };
        request.set_header("Content-Length", length.to_string());
        if request.method() == Method::Head || length == 0 {
            request.finish();
        } else {
            body::send(request, Rc::new(file), pieces);
        }
        Render::NotDoneYet
    }

    fn open(&self, path: &Path) -> io::Result<fs::File> {
        let mut options = OpenOptions::new();
        options.read(true);
        if !self.options.follow_symlinks {
            options.custom_flags(libc::O_NOFOLLOW);
        }
        options.open(path)
    }
}

impl Resource for File {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        match self.resolver().resolve(&request.postpath()) {
            Target::NotFound => NoResource.render(request),
            Target::Directory { slash: false, .. } => redirect_with_slash(request),
            Target::Directory { path, slash: true } => self.render_directory(request, &path),
            Target::File(path) => self.render_file(request, &path),
        }
    }
}

fn region(range: ByteRange) -> Piece {
    Piece::Region {
        offset: range.start,
        len: range.len,
    }
}

fn forbidden(request: &Request) -> Render {
    ErrorPage::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "You are not allowed to read this file.",
    )
    .render(request)
}

fn precondition(request: &Request, validators: &Validators) -> Precondition {
    let if_match = request.header("if-match");
    let if_unmodified_since = request.header("if-unmodified-since");
    let if_none_match = request.header("if-none-match");
    let if_modified_since = request.header("if-modified-since");
    let conditions = Conditions {
        if_match: if_match.as_deref(),
        if_unmodified_since: if_unmodified_since.as_deref(),
        if_none_match: if_none_match.as_deref(),
        if_modified_since: if_modified_since.as_deref(),
    };
    conditional::evaluate(&conditions, validators)
}

/// The ranges to send: only for GET, and only while `If-Range` (if any) still holds.
fn ranges(request: &Request, validators: &Validators, size: u64) -> RangeAnswer {
    if request.method() != Method::Get {
        return RangeAnswer::Whole;
    }
    let Some(field) = request.header("range") else {
        return RangeAnswer::Whole;
    };
    if let Some(condition) = request.header("if-range") {
        if !conditional::if_range_holds(&condition, validators) {
            return RangeAnswer::Whole;
        }
    }
    range::resolve(&field, size)
}

/// A `multipart/byteranges` body: the length and the pieces.
fn multipart(
    request: &Request,
    ranges: &[ByteRange],
    size: u64,
    content_type: &str,
) -> (u64, Vec<Piece>) {
    let boundary = format!("{:016x}", RandomState::new().hash_one(request.uri()));
    request.set_header(
        "Content-Type",
        format!("multipart/byteranges; boundary={boundary}"),
    );
    let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut length = 0;
    for range in ranges {
        let part_head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            range.content_range(size)
        );
        length += part_head.len() as u64 + range.len;
        pieces.push(Piece::Bytes(part_head.into_bytes()));
        pieces.push(region(*range));
    }
    let end = format!("\r\n--{boundary}--\r\n");
    length += end.len() as u64;
    pieces.push(Piece::Bytes(end.into_bytes()));
    (length, pieces)
}

/// Redirects a directory requested without its slash to the same path with one, keeping
/// the query (`301`, with a short HTML body).
fn redirect_with_slash(request: &Request) -> Render {
    let uri = request.uri();
    let (path, query) = match uri.iter().position(|&b| b == b'?') {
        Some(at) => uri.split_at(at),
        None => (&uri[..], &[][..]),
    };
    // Never `//host`: a path starting with several slashes would read as another host.
    let path = &path[path
        .iter()
        .take_while(|&&b| b == b'/')
        .count()
        .saturating_sub(1)..];
    let mut location = path.to_vec();
    location.push(b'/');
    location.extend_from_slice(query);
    request.set_response_code(StatusCode::MOVED_PERMANENTLY);
    request.set_header("Location", &location);
    request.set_header("Content-Type", "text/html; charset=utf-8");
    let target = listing::escape(&String::from_utf8_lossy(&location));
    Render::Body(
        format!(
            "<!DOCTYPE html>\n<html><head><title>Moved Permanently</title></head>\
             <body><p>This directory is at <a href=\"{target}\">{target}</a>.</p></body></html>\n"
        )
        .into_bytes(),
    )
}

//! [`File`]: serves a directory tree (Twisted's `static.File`).
//!
//! Tested by: reactor_tests/static_files/

use std::fmt;
use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::body::{self, Piece};
use super::conditional::{self, Conditions, Precondition, Validators};
use super::listing;
use super::mime::MimeTypes;
use super::range::{self, ByteRange, RangeAnswer};
use super::resolve::{FoundFile, Resolver, Target};
use crate::http::{Method, RequestHead, StatusCode, decimal};
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
const PRECOMPRESSED: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

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
                return self.render_file(request, index);
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

    /// The precompressed sibling to send instead of `file`, if any, given how much the client
    /// wants each coding (`accepted`, in [`PRECOMPRESSED`]'s order). Only codings the client
    /// accepts are looked for (as nginx's gzip_static does), so a client that accepts none
    /// costs no lookups.
    fn variant(
        &self,
        file: &FoundFile,
        accepted: [f32; PRECOMPRESSED.len()],
    ) -> Option<(&'static str, FoundFile)> {
        let name = file.name();
        let resolver = self.resolver();
        let (mut best, mut best_q) = (None, 0.0);
        for ((coding, suffix), q) in PRECOMPRESSED.iter().zip(accepted) {
            if q <= best_q {
                continue;
            }
            let mut sibling = Vec::with_capacity(name.len() + suffix.len());
            sibling.extend_from_slice(name);
            sibling.extend_from_slice(suffix.as_bytes());
            if let Some(found) = resolver.file_in(file.directory(), &sibling) {
                (best, best_q) = (Some((*coding, found)), q);
            }
        }
        best
    }

    fn render_file(&self, request: &Request, file: FoundFile) -> Render {
        let name = file.name();
        let content_type = self.content_type(name);
        // Precompressed siblings are served unless this already is one; the response then
        // varies by Accept-Encoding whether or not this file has siblings.
        let has_variants =
            self.options.precompressed && !name.ends_with(b".gz") && !name.ends_with(b".br");
        let variant = if has_variants {
            request.add_header("Vary", "Accept-Encoding");
            let accepted = request.with_view(|view| {
                let field = view.info.head.headers().get("accept-encoding");
                PRECOMPRESSED.map(|(coding, _)| accept_encoding_quality(field, coding))
            });
            self.variant(&file, accepted)
        } else {
            None
        };
        let (coding, chosen) = match variant {
            Some((coding, sibling)) => (Some(coding), sibling),
            None => (None, file),
        };
        let opened = match chosen.opened {
            Some(opened) => Ok(opened),
            None => self.resolver().open(&chosen.path).and_then(|file| {
                let metadata = file.metadata()?;
                Ok((file, metadata))
            }),
        };
        let (file, metadata) = match opened {
            Ok((file, metadata)) if metadata.is_file() => (file, metadata),
            Ok(_) => return NoResource.render(request),
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                return forbidden(request);
            }
            Err(_) => return NoResource.render(request),
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
        let (precondition, answer, head_only) = request.with_view(|view| {
            let head = &view.info.head;
            (
                precondition(head, &validators),
                ranges(head, &validators, size),
                *head.method() == Method::Head,
            )
        });
        match precondition {
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
                request.set_header("Content-Type", content_type);
                (range.len, Some(vec![region(range)]))
            }
            RangeAnswer::Partial(ranges) => {
                request.set_response_code(StatusCode::PARTIAL_CONTENT);
                let (length, pieces) = multipart(request, &ranges, size, content_type);
                (length, Some(pieces))
            }
            _ => {
                request.set_header("Content-Type", content_type);
                (size, None)
            }
        };
        let mut digits = [0; 20];
        request.set_header("Content-Length", decimal(length, &mut digits));
        if head_only || length == 0 {
            request.finish();
        } else {
            match pieces {
                Some(pieces) => body::send(request, Rc::new(file), pieces),
                None => body::send_region(request, Rc::new(file), 0, size),
            }
        }
        Render::NotDoneYet
    }
}

impl Resource for File {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        match request.with_view(|view| self.resolver().resolve(view.postpath)) {
            Target::NotFound => NoResource.render(request),
            Target::Directory { slash: false, .. } => redirect_with_slash(request),
            Target::Directory { path, slash: true } => self.render_directory(request, &path),
            Target::File(file) => self.render_file(request, file),
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

fn precondition(head: &RequestHead, validators: &Validators) -> Precondition {
    let headers = head.headers();
    let conditions = Conditions {
        if_match: headers.get("if-match"),
        if_unmodified_since: headers.get("if-unmodified-since"),
        if_none_match: headers.get("if-none-match"),
        if_modified_since: headers.get("if-modified-since"),
    };
    conditional::evaluate(&conditions, validators)
}

/// The ranges to send: only for GET, and only while `If-Range` (if any) still holds.
fn ranges(head: &RequestHead, validators: &Validators, size: u64) -> RangeAnswer {
    if *head.method() != Method::Get {
        return RangeAnswer::Whole;
    }
    let Some(field) = head.headers().get("range") else {
        return RangeAnswer::Whole;
    };
    if let Some(condition) = head.headers().get("if-range") {
        if !conditional::if_range_holds(condition, validators) {
            return RangeAnswer::Whole;
        }
    }
    range::resolve(field, size)
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
    let target = crate::web::html_escape(&String::from_utf8_lossy(&location));
    Render::Body(
        format!(
            "<!DOCTYPE html>\n<html><head><title>Moved Permanently</title></head>\
             <body><p>This directory is at <a href=\"{target}\">{target}</a>.</p></body></html>\n"
        )
        .into_bytes(),
    )
}

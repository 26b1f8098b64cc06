//! From request path segments to a file or directory under the served root, such that no
//! request can name anything outside it.
//!
//! Segments arrive percent-decoded, so a decoded segment that still holds `/`, `\`, NUL, or is
//! `.` or `..`, is refused outright (`%2F`, `%2e%2e` and friends end here). Each directory on
//! the way is looked at with `lstat`; a symbolic link is resolved and must land inside the root
//! unless following links outside it was allowed. The last component is opened straight away
//! with `O_NOFOLLOW` (one `open` and one `fstat` on the descriptor, instead of an `lstat`
//! followed by them): a link there makes the open fail, and only then is the link resolved and
//! checked as above. Whatever is served is read through a descriptor opened with `O_NOFOLLOW`
//! (unless links may be followed), so a link swapped in after a check is not followed either.
//!
//! Tested by: reactor_tests/static_files/ (the traversal corpus)

use std::ffi::OsStr;
use std::fs::{self, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What a request path names.
#[derive(Debug)]
pub(crate) enum Target {
    /// A regular file.
    File(FoundFile),
    /// A directory; `slash` says whether the request path ended with `/`.
    Directory { path: PathBuf, slash: bool },
    /// Nothing that may be served.
    NotFound,
}

/// A regular file under the root, already open when finding it opened it.
#[derive(Debug)]
pub(crate) struct FoundFile {
    /// Where it is (a link's target when the name was a link).
    pub(crate) path: PathBuf,
    /// The open file and its metadata, read from the descriptor.
    pub(crate) opened: Option<(fs::File, Metadata)>,
}

impl FoundFile {
    /// The file's own name, as bytes.
    pub(crate) fn name(&self) -> &[u8] {
        file_name(&self.path)
    }

    /// The directory that holds it.
    pub(crate) fn directory(&self) -> &Path {
        let bytes = self.path.as_os_str().as_bytes();
        match bytes.iter().rposition(|&b| b == b'/') {
            Some(0) => Path::new("/"),
            Some(at) => Path::new(OsStr::from_bytes(&bytes[..at])),
            None => Path::new(""),
        }
    }
}

/// What opening a name without following a link there found.
enum Opened {
    /// It is open.
    Open(fs::File, Metadata),
    /// Nothing has that name.
    Missing,
    /// Anything else (a link, no permission, out of descriptors): look at it with `lstat`.
    Unknown,
}

/// Resolves paths under one root.
#[derive(Debug)]
pub(crate) struct Resolver<'a> {
    /// The root, canonical (no links, absolute).
    pub(crate) root: &'a Path,
    pub(crate) follow_symlinks: bool,
    /// Extensions tried for a missing file (`.html`), or `*` for any.
    pub(crate) ignored_extensions: &'a [String],
}

impl Resolver<'_> {
    /// The target of the decoded path `segments` (what traversal left in `postpath`).
    pub(crate) fn resolve(&self, segments: &[Vec<u8>]) -> Target {
        let (names, slash) = match segments.split_last() {
            None => (segments, false),
            Some((last, rest)) if last.is_empty() => (rest, true),
            Some(_) => (segments, false),
        };
        if !names.iter().all(|name| is_plain_name(name)) {
            return Target::NotFound;
        }
        let Some((last, directories)) = names.split_last() else {
            // The root, a directory (checked when the resource was made).
            return Target::Directory {
                path: self.root.to_path_buf(),
                slash,
            };
        };
        let room = names.iter().map(|name| name.len() + 1).sum::<usize>();
        let mut path = self.root.as_os_str().as_bytes().to_vec();
        path.reserve(room);
        for name in directories {
            push_name(&mut path, name);
            let Some((next, metadata)) = self.entry(as_path(&path)) else {
                return Target::NotFound;
            };
            if !metadata.is_dir() {
                return Target::NotFound;
            }
            if let Some(next) = next {
                path = next.into_os_string().into_vec();
            }
        }
        let directory_len = path.len();
        push_name(&mut path, last);
        let found = if slash {
            // Only a directory answers a path ending with `/`: no need to open anything.
            self.entry(as_path(&path))
        } else {
            match self.open_entry(as_path(&path)) {
                Opened::Open(file, metadata) => {
                    return self.classify(path, metadata, Some(file), false);
                }
                Opened::Missing => {
                    path.truncate(directory_len);
                    self.sibling_with_extension(as_path(&path), last)
                        .map(|(found, metadata)| (Some(found), metadata))
                }
                Opened::Unknown => self.entry(as_path(&path)),
            }
        };
        let Some((next, metadata)) = found else {
            return Target::NotFound;
        };
        let path = match next {
            Some(next) => next.into_os_string().into_vec(),
            None => path,
        };
        self.classify(path, metadata, None, slash)
    }

    fn classify(
        &self,
        path: Vec<u8>,
        metadata: Metadata,
        file: Option<fs::File>,
        slash: bool,
    ) -> Target {
        let path = PathBuf::from(std::ffi::OsString::from_vec(path));
        if metadata.is_dir() {
            Target::Directory { path, slash }
        } else if metadata.is_file() && !slash {
            Target::File(FoundFile {
                path,
                opened: file.map(|file| (file, metadata)),
            })
        } else {
            Target::NotFound
        }
    }

    /// The regular file `name` in `directory`, subject to the same checks (opened, unless it
    /// had to be looked at with `lstat`).
    pub(crate) fn file_in(&self, directory: &Path, name: &[u8]) -> Option<FoundFile> {
        if !is_plain_name(name) {
            return None;
        }
        let mut path = directory.as_os_str().as_bytes().to_vec();
        path.reserve(name.len() + 1);
        push_name(&mut path, name);
        let (found, metadata, file) = match self.open_entry(as_path(&path)) {
            Opened::Open(file, metadata) => (None, metadata, Some(file)),
            Opened::Missing => return None,
            Opened::Unknown => {
                let (found, metadata) = self.entry(as_path(&path))?;
                (found, metadata, None)
            }
        };
        if !metadata.is_file() {
            return None;
        }
        let path = found.unwrap_or_else(|| PathBuf::from(std::ffi::OsString::from_vec(path)));
        Some(FoundFile {
            path,
            opened: file.map(|file| (file, metadata)),
        })
    }

    /// Whether the directory entry at `path` may be shown or served (links checked).
    pub(crate) fn admits(&self, path: &Path) -> bool {
        self.entry(path).is_some()
    }

    /// Opens `path` for reading, as files are served: never through a link unless links may
    /// be followed.
    pub(crate) fn open(&self, path: &Path) -> io::Result<fs::File> {
        open_options(!self.follow_symlinks).open(path)
    }

    /// Opens `path` without following a link there, and reads its metadata from the
    /// descriptor. `O_NONBLOCK` keeps a FIFO from stalling the server (it is then refused as
    /// not a regular file); it changes nothing for regular files.
    fn open_entry(&self, path: &Path) -> Opened {
        let file = match open_options(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
        {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Opened::Missing,
            Err(_) => return Opened::Unknown,
        };
        match file.metadata() {
            Ok(metadata) => Opened::Open(file, metadata),
            Err(_) => Opened::Unknown,
        }
    }

    /// The metadata of the entry at `path`, and where it leads when it is a link (`None`: it
    /// is not a link, `path` itself is meant), if that is allowed.
    fn entry(&self, path: &Path) -> Option<(Option<PathBuf>, Metadata)> {
        let metadata = fs::symlink_metadata(path).ok()?;
        if !metadata.file_type().is_symlink() {
            return Some((None, metadata));
        }
        let target = fs::canonicalize(path).ok()?;
        if !self.follow_symlinks && !target.starts_with(self.root) {
            return None;
        }
        let metadata = fs::metadata(&target).ok()?;
        Some((Some(target), metadata))
    }

    /// `name` plus one of the ignored extensions, in the order they were given; `*` takes
    /// the first matching name in byte order (Twisted's `ignoreExt`).
    fn sibling_with_extension(&self, directory: &Path, name: &[u8]) -> Option<(PathBuf, Metadata)> {
        for extension in self.ignored_extensions {
            if extension == "*" {
                let mut prefix = name.to_vec();
                prefix.push(b'.');
                let mut names: Vec<Vec<u8>> = fs::read_dir(directory)
                    .ok()?
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().as_bytes().to_vec())
                    .filter(|entry| entry.starts_with(&prefix))
                    .collect();
                names.sort();
                for candidate in names {
                    if let Some(found) = self.regular(directory, &candidate) {
                        return Some(found);
                    }
                }
            } else {
                let mut candidate = name.to_vec();
                candidate.extend_from_slice(extension.as_bytes());
                if let Some(found) = self.regular(directory, &candidate) {
                    return Some(found);
                }
            }
        }
        None
    }

    fn regular(&self, directory: &Path, name: &[u8]) -> Option<(PathBuf, Metadata)> {
        if !is_plain_name(name) {
            return None;
        }
        let path = directory.join(OsStr::from_bytes(name));
        let (found, metadata) = self.entry(&path)?;
        metadata
            .is_file()
            .then(|| (found.unwrap_or(path), metadata))
    }
}

/// Options that open a file for reading, close-on-exec, refusing a link as the last component
/// when `no_follow`.
fn open_options(no_follow: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true);
    if no_follow {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Appends `/name` to a path held as bytes (no separator doubled after the root `/`).
fn push_name(path: &mut Vec<u8>, name: &[u8]) {
    if path.last() != Some(&b'/') {
        path.push(b'/');
    }
    path.extend_from_slice(name);
}

fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// The last component of an absolute path without a trailing slash, as bytes.
pub(crate) fn file_name(path: &Path) -> &[u8] {
    let bytes = path.as_os_str().as_bytes();
    match bytes.iter().rposition(|&b| b == b'/') {
        Some(at) => &bytes[at + 1..],
        None => bytes,
    }
}

/// A single file name: not empty, not `.` or `..`, no separators or NUL.
fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| matches!(b, b'/' | b'\\' | 0))
}

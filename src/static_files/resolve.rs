//! From request path segments to a file or directory under the served root, such that no
//! request can name anything outside it.
//!
//! Segments arrive percent-decoded, so a decoded segment that still holds `/`, `\`, NUL, or is
//! `.` or `..`, is refused outright (`%2F`, `%2e%2e` and friends end here). Each component is
//! looked at with `lstat`; a symbolic link is resolved and must land inside the root unless
//! following links outside it was allowed. The file is finally opened with `O_NOFOLLOW`, so a
//! link swapped in after the check is not followed either.
//!
//! Tested by: reactor_tests/static_files/ (the traversal corpus)

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a request path names.
#[derive(Debug)]
pub(crate) enum Target {
    /// A regular file.
    File(PathBuf),
    /// A directory; `slash` says whether the request path ended with `/`.
    Directory { path: PathBuf, slash: bool },
    /// Nothing that may be served.
    NotFound,
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
        let mut path = self.root.to_path_buf();
        // `None` stands for the root, a directory (checked when the resource was made).
        let mut metadata: Option<Metadata> = None;
        for (i, name) in names.iter().enumerate() {
            if metadata.as_ref().is_some_and(|m| !m.is_dir()) {
                return Target::NotFound;
            }
            let last = i + 1 == names.len();
            let candidate = path.join(OsStr::from_bytes(name));
            let found = match self.entry(&candidate) {
                Some(found) => Some(found),
                None if last && !slash => self.sibling_with_extension(&path, name),
                None => None,
            };
            let Some((next, next_metadata)) = found else {
                return Target::NotFound;
            };
            path = next;
            metadata = Some(next_metadata);
        }
        match metadata {
            None => Target::Directory { path, slash },
            Some(m) if m.is_dir() => Target::Directory { path, slash },
            Some(m) if m.is_file() && !slash => Target::File(path),
            Some(_) => Target::NotFound,
        }
    }

    /// The regular file `name` in `directory`, subject to the same checks.
    pub(crate) fn file_in(&self, directory: &Path, name: &[u8]) -> Option<PathBuf> {
        if !is_plain_name(name) {
            return None;
        }
        let (path, metadata) = self.entry(&directory.join(OsStr::from_bytes(name)))?;
        metadata.is_file().then_some(path)
    }

    /// Whether the directory entry at `path` may be shown or served (links checked).
    pub(crate) fn admits(&self, path: &Path) -> bool {
        self.entry(path).is_some()
    }

    /// The path to use for `path` and its metadata: itself if it is not a link, else where
    /// the link leads, if that is allowed.
    fn entry(&self, path: &Path) -> Option<(PathBuf, Metadata)> {
        let metadata = fs::symlink_metadata(path).ok()?;
        if !metadata.file_type().is_symlink() {
            return Some((path.to_path_buf(), metadata));
        }
        let target = fs::canonicalize(path).ok()?;
        if !self.follow_symlinks && !target.starts_with(self.root) {
            return None;
        }
        let metadata = fs::metadata(&target).ok()?;
        Some((target, metadata))
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
        let found = self.entry(&directory.join(OsStr::from_bytes(name)))?;
        found.1.is_file().then_some(found)
    }
}

/// A single file name: not empty, not `.` or `..`, no separators or NUL.
fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| matches!(b, b'/' | b'\\' | 0))
}

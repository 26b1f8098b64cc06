//! The request body as it arrives: held in memory up to a threshold, then spooled to an
//! unlinked temporary file, so a large upload costs disk, not memory (Twisted keeps bodies over
//! 100,000 bytes in a temporary file too).
//!
//! Tested by: reactor_tests/web/limits.rs, reactor_tests/wsgi/input.rs

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where request bodies go once they pass the memory threshold, and how large they may grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentLimits {
    /// Largest body accepted; a larger one is refused with 413.
    pub max_size: u64,
    /// Bodies larger than this are moved to a temporary file.
    pub spool_threshold: u64,
    /// The directory of the temporary files; `None` uses `$TMPDIR` or `/tmp`.
    pub spool_directory: Option<PathBuf>,
}

impl Default for ContentLimits {
    fn default() -> ContentLimits {
        ContentLimits {
            max_size: 10 * 1024 * 1024,
            spool_threshold: 1024 * 1024,
            spool_directory: None,
        }
    }
}

/// Why a request body could not be kept.
#[derive(Debug)]
#[non_exhaustive]
pub enum ContentError {
    /// The body passed the configured limit: the client must send less (413).
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The temporary file could not be made or written: the operator must fix the spool
    /// directory or free disk space (500).
    Spool(io::Error),
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "request body larger than {limit} bytes"),
            Self::Spool(error) => write!(f, "cannot spool the request body to disk: {error}"),
        }
    }
}

impl std::error::Error for ContentError {}

/// A request body: bytes in memory, or an unlinked temporary file of `len` bytes.
#[derive(Debug)]
pub enum Content {
    /// Held in memory.
    Memory(Vec<u8>),
    /// Spooled to a temporary file that has no name left on disk (it disappears with the
    /// last descriptor).
    File {
        /// The file, written from offset 0; read it with positioned reads.
        file: File,
        /// How many bytes it holds.
        len: u64,
    },
}

impl Default for Content {
    fn default() -> Content {
        Content::Memory(Vec::new())
    }
}

impl Content {
    /// How many bytes the body holds.
    pub fn len(&self) -> u64 {
        match self {
            Content::Memory(bytes) => bytes.len() as u64,
            Content::File { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the body was moved to a temporary file.
    pub fn is_spooled(&self) -> bool {
        matches!(self, Content::File { .. })
    }

    /// Adds `chunk` at the end, moving the body to a temporary file when it passes the
    /// threshold. Nothing is kept when the body would pass `limits.max_size`.
    pub fn append(&mut self, chunk: Vec<u8>, limits: &ContentLimits) -> Result<(), ContentError> {
        let total = self.len().saturating_add(chunk.len() as u64);
        if total > limits.max_size {
            return Err(ContentError::TooLarge {
                limit: limits.max_size,
            });
        }
        match self {
            Content::Memory(bytes) if total <= limits.spool_threshold => {
                if bytes.is_empty() {
                    // The first chunk (often the whole body) is kept, not copied.
                    *bytes = chunk;
                } else {
                    bytes.extend_from_slice(&chunk);
                }
            }
            Content::Memory(bytes) => {
                let mut file =
                    spool_file(limits.spool_directory.as_deref()).map_err(ContentError::Spool)?;
                file.write_all(bytes).map_err(ContentError::Spool)?;
                file.write_all(&chunk).map_err(ContentError::Spool)?;
                *self = Content::File { file, len: total };
            }
            Content::File { file, len } => {
                file.write_all(&chunk).map_err(ContentError::Spool)?;
                *len = total;
            }
        }
        Ok(())
    }

    /// The whole body as bytes (read back from the file when spooled).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        match self {
            Content::Memory(bytes) => Ok(bytes.clone()),
            Content::File { file, len } => {
                let mut bytes = vec![0; usize::try_from(*len).unwrap_or(usize::MAX)];
                file.read_exact_at(&mut bytes, 0)?;
                Ok(bytes)
            }
        }
    }

    /// Reads up to `buf.len()` bytes starting at `offset`; returns how many were read (0 at
    /// the end).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.len();
        if offset >= len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(len - offset).unwrap_or(usize::MAX));
        match self {
            Content::Memory(bytes) => {
                // offset < len = bytes.len(), so it fits in usize.
                let start = offset as usize;
                buf[..want].copy_from_slice(&bytes[start..start + want]);
                Ok(want)
            }
            Content::File { file, .. } => {
                file.read_exact_at(&mut buf[..want], offset)?;
                Ok(want)
            }
        }
    }
}

/// Distinguishes the names of temporary files made where `O_TMPFILE` is not supported.
static SPOOL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An empty, unlinked, owner-only temporary file in `directory` (or the system's).
pub fn spool_file(directory: Option<&Path>) -> io::Result<File> {
    let directory = directory.map_or_else(std::env::temp_dir, Path::to_path_buf);
    match OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(&directory)
    {
        Ok(file) => return Ok(file),
        // Filesystems without O_TMPFILE answer one of these; make a named file and unlink it.
        Err(error)
            if matches!(
                error.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
            ) => {}
        Err(error) => return Err(spool_error(&directory, error)),
    }
    loop {
        let serial = SPOOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = directory.join(format!("torsion-body-{}-{serial}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path).map_err(|error| spool_error(&directory, error))?;
                return Ok(file);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(spool_error(&directory, error)),
        }
    }
}

fn spool_error(directory: &Path, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("temporary file in {}: {error}", directory.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_size: u64, spool_threshold: u64) -> ContentLimits {
        ContentLimits {
            max_size,
            spool_threshold,
            spool_directory: None,
        }
    }

    /// A body within the threshold stays in memory and keeps its first chunk without copying.
    #[test]
    fn small_body_stays_in_memory() {
        let mut content = Content::default();
        let chunk = b"hello".to_vec();
        let address = chunk.as_ptr();
        content.append(chunk, &limits(100, 10)).unwrap();
        content.append(b" you".to_vec(), &limits(100, 10)).unwrap();
        match &content {
            Content::Memory(bytes) => {
                assert_eq!(bytes, b"hello you");
                assert_eq!(bytes.as_ptr(), address);
            }
            Content::File { .. } => panic!("spooled below the threshold"),
        }
    }

    /// Passing the threshold moves everything received so far, in order, to a file.
    #[test]
    fn passing_the_threshold_spools_to_a_file() {
        let limits = limits(1000, 8);
        let mut content = Content::default();
        content.append(b"abcdef".to_vec(), &limits).unwrap();
        assert!(!content.is_spooled());
        content.append(b"ghijkl".to_vec(), &limits).unwrap();
        assert!(content.is_spooled());
        content.append(b"mn".to_vec(), &limits).unwrap();
        assert_eq!(content.len(), 14);
        assert_eq!(content.to_vec().unwrap(), b"abcdefghijklmn");
        let mut middle = [0; 4];
        assert_eq!(content.read_at(5, &mut middle).unwrap(), 4);
        assert_eq!(&middle, b"fghi");
        let mut tail = [0; 8];
        assert_eq!(content.read_at(12, &mut tail).unwrap(), 2);
        assert_eq!(&tail[..2], b"mn");
        assert_eq!(content.read_at(14, &mut tail).unwrap(), 0);
    }

    /// A chunk that would pass the size limit is refused and the body is left as it was.
    #[test]
    fn over_the_limit_is_refused_and_nothing_kept() {
        let limits = limits(10, 4);
        let mut content = Content::default();
        content.append(b"123456".to_vec(), &limits).unwrap();
        let refused = content.append(b"78901".to_vec(), &limits);
        assert!(matches!(refused, Err(ContentError::TooLarge { limit: 10 })));
        assert_eq!(content.to_vec().unwrap(), b"123456");
    }

    /// A spool directory that does not exist is a typed error naming the directory.
    #[test]
    fn missing_spool_directory_is_a_typed_error() {
        let limits = ContentLimits {
            max_size: 100,
            spool_threshold: 1,
            spool_directory: Some(PathBuf::from("/nonexistent/torsion-spool")),
        };
        let mut content = Content::default();
        match content.append(b"too big for memory".to_vec(), &limits) {
            Err(ContentError::Spool(error)) => {
                assert!(
                    error.to_string().contains("/nonexistent/torsion-spool"),
                    "{error}"
                );
            }
            other => panic!("expected a spool error, got {other:?}"),
        }
    }

    /// The spooled file has no name left in the directory it was made in.
    #[test]
    fn spool_files_leave_no_name_behind() {
        let directory = std::env::temp_dir().join(format!("torsion-spool-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let file = spool_file(Some(&directory)).unwrap();
        file.write_all_at(b"data", 0).unwrap();
        let names = std::fs::read_dir(&directory).unwrap().count();
        std::fs::remove_dir(&directory).unwrap();
        assert_eq!(names, 0);
    }
}

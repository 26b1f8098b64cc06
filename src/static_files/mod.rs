//! Static files the way a production server serves them (Twisted's `static.File`, and more):
//! content types from the system MIME database, index files and HTML directory listings,
//! redirects for directories requested without their slash, byte ranges (single, multipart,
//! suffix, `If-Range`), validators and conditional requests (`Last-Modified`, `ETag`, 304 and
//! 412), precompressed `.br`/`.gz` siblings chosen by `Accept-Encoding`, Twisted's
//! ignored extensions, and path resolution that cannot leave the served directory.
//!
//! Bodies go out with `sendfile(2)` on plain TCP and UNIX connections, and otherwise through
//! a pull producer reading 64 KiB at a time as the client takes them.
//!
//! * [`File`] serves one directory tree (`torsion web --path DIR`).
//! * [`StaticMounts`] puts directories at URL prefixes in front of another resource
//!   (`torsion web --wsgi app --static /static=DIR`).
//!
//! Tested by: reactor_tests/static_files/
#![forbid(unsafe_code)]

mod body;
mod conditional;
mod file;
mod listing;
mod mime;
mod mount;
mod range;
mod resolve;

pub(crate) use body::send_region;
pub use file::{DEFAULT_INDEX_NAMES, DEFAULT_TYPE, File, FileError, FileOptions};
pub use mime::{MimeTypes, SYSTEM_MIME_TYPES};
pub use mount::StaticMounts;

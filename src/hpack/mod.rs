//! HPACK, the header compression of HTTP/2 (RFC 7541), sans-IO.
//!
//! A connection keeps one [`Decoder`] for the header blocks it receives and
//! one [`Encoder`] for those it sends; each holds the dynamic table its
//! peer's counterpart mirrors, so every block of a direction must pass
//! through the same instance, in order. Both work on complete blocks (a
//! HEADERS frame with its CONTINUATION frames joined): HPACK is not
//! streamed.
//!
//! ```
//! use torsion::hpack::{Decoder, Encoder};
//!
//! let mut encoder = Encoder::new();
//! let mut block = Vec::new();
//! encoder.encode(
//!     [
//!         (&b":status"[..], &b"200"[..], false),
//!         (b"content-type", b"text/html", false),
//!         (b"set-cookie", b"token=secret", true),
//!     ],
//!     &mut block,
//! );
//!
//! let mut decoder = Decoder::new(4096);
//! let mut fields = Vec::new();
//! decoder.decode(&block, 16 * 1024, &mut |name, value| {
//!     fields.push((name.to_vec(), value.to_vec()))
//! })?;
//! assert_eq!(fields[1], (b"content-type".to_vec(), b"text/html".to_vec()));
//! # Ok::<(), torsion::hpack::DecodeError>(())
//! ```
//!
//! # Limits
//!
//! The decoder's memory is bounded by the table size it allows and the
//! header list limit passed to [`Decoder::decode`]: an "HPACK bomb" that
//! names one large table entry many times fails with
//! [`DecodeError::HeaderListTooLarge`] without allocating anything.
//!
//! Tested by: src/hpack/tests.rs (every error path, the RFC 7541 Appendix C
//! examples) and conformance/hpack.rs (the public hpack-test-case stories
//! of several encoders, decoded and re-encoded)

mod decoder;
mod encoder;
mod error;
mod huffman;
mod integer;
mod table;
#[cfg(test)]
mod tests;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::DecodeError;

//! Why a header block was refused.
//!
//! Tested by: src/hpack/tests.rs (one test per variant)

use std::fmt;

/// A header block the decoder refused.
///
/// Every variant except [`HeaderListTooLarge`](Self::HeaderListTooLarge) is
/// a compression error: the peer's encoder and our decoder no longer agree
/// on the dynamic table, so the connection must end with `COMPRESSION_ERROR`
/// (RFC 9113 §4.3) and the decoder refuses every later block.
/// `HeaderListTooLarge` leaves the table in step with the peer: only the
/// stream is refused (431 or `RST_STREAM`) and the decoder stays usable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block ends inside a field representation.
    Truncated,
    /// An integer larger than 2³² − 1, or written with more continuation
    /// bytes than such a value needs.
    IntegerOverflow,
    /// An index that is zero or beyond the static and dynamic tables.
    InvalidIndex(usize),
    /// A Huffman-coded string that contains the EOS symbol.
    HuffmanEos,
    /// A Huffman-coded string whose padding is longer than seven bits or not
    /// all ones.
    HuffmanPadding,
    /// A dynamic table size update after the first field of a block.
    SizeUpdateNotAtStart,
    /// A dynamic table size update above the `SETTINGS_HEADER_TABLE_SIZE`
    /// we advertised.
    SizeUpdateTooLarge {
        /// The size the peer asked for.
        size: usize,
        /// The most we allow.
        max: usize,
    },
    /// We lowered `SETTINGS_HEADER_TABLE_SIZE` below the table's size and
    /// the next block did not start with a size update (RFC 7541 §4.2).
    SizeUpdateMissing,
    /// The header list exceeds the limit given to
    /// [`Decoder::decode`](super::Decoder::decode), counting each field's
    /// name and value lengths plus 32 (RFC 9113 §6.5.2). Not a compression
    /// error: the decoder processed the whole block and stays usable.
    HeaderListTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A block given to a decoder that already refused one with a
    /// compression error.
    DecoderFailed,
}

impl DecodeError {
    /// Whether the connection must end with `COMPRESSION_ERROR`: true for
    /// every variant but [`HeaderListTooLarge`](Self::HeaderListTooLarge).
    pub fn is_compression_error(&self) -> bool {
        !matches!(self, DecodeError::HeaderListTooLarge { .. })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("header block ends inside a field"),
            DecodeError::IntegerOverflow => f.write_str("integer too large in header block"),
            DecodeError::InvalidIndex(index) => write!(f, "header table index {index} is invalid"),
            DecodeError::HuffmanEos => f.write_str("Huffman-coded string contains EOS"),
            DecodeError::HuffmanPadding => f.write_str("Huffman-coded string has invalid padding"),
            DecodeError::SizeUpdateNotAtStart => {
                f.write_str("dynamic table size update after the first field")
            }
            DecodeError::SizeUpdateTooLarge { size, max } => {
                write!(
                    f,
                    "dynamic table size update to {size} exceeds the limit {max}"
                )
            }
            DecodeError::SizeUpdateMissing => {
                f.write_str("header block lacks the required dynamic table size update")
            }
            DecodeError::HeaderListTooLarge { limit } => {
                write!(f, "header list exceeds {limit} bytes")
            }
            DecodeError::DecoderFailed => {
                f.write_str("header decoder already failed on an earlier block")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

//! The HPACK encoder, with a policy for a server's responses.
//!
//! - A field in the static or dynamic table is sent as one index.
//! - Fields that repeat across responses (`content-type`, `server`,
//!   `cache-control`, `set-cookie`, a `:status` outside the static table,
//!   …) are added to the dynamic table the first time they are sent.
//! - Fields whose values rarely repeat (`content-length`, `etag`,
//!   `last-modified`, `location`, `:path`, …) and fields larger than half
//!   the table are sent as literals that reuse the name's index but are not
//!   added, so they do not push the useful entries out.
//! - `date` is sent that way too, until the same value is sent twice in a
//!   row: then it is added, so the responses of a busy second carry it as
//!   one byte and the table gains at most one date per second.
//! - Sensitive fields are sent "never indexed" (RFC 7541 §7.1.3).
//! - A string is Huffman-coded only when that makes it shorter.
//!
//! The table never exceeds the peer's `SETTINGS_HEADER_TABLE_SIZE`, nor 4096
//! bytes whatever the peer allows, which bounds the memory each connection
//! spends on it.
//!
//! Tested by: src/hpack/tests.rs and conformance/hpack.rs

use super::huffman;
use super::integer;
use super::table::{DynamicTable, ENTRY_OVERHEAD, StaticMatch, find_static};

/// The largest table the encoder keeps, and its initial size (the protocol's).
const ENCODER_TABLE_LIMIT: usize = 4096;

/// Encodes header blocks of one connection direction, keeping the dynamic
/// table the peer's decoder mirrors.
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// The table size to use from the next block on.
    target_size: usize,
    /// The smallest target since the last block, if the target changed.
    lowest_pending: Option<usize>,
    /// The `date` value last sent as a literal: a value seen twice is
    /// indexed, so a busy connection sends each second's date in full twice
    /// and then as one byte, while the table gains one entry per second at
    /// most.
    last_date: Vec<u8>,
}

/// How a literal affects the peer's table (the first byte's pattern and
/// the name index prefix width).
#[derive(Clone, Copy)]
enum Literal {
    Incremental,
    WithoutIndexing,
    NeverIndexed,
}

impl Literal {
    fn flags_and_prefix(self) -> (u8, u32) {
        match self {
            Literal::Incremental => (0x40, 6),
            Literal::WithoutIndexing => (0x00, 4),
            Literal::NeverIndexed => (0x10, 4),
        }
    }
}

impl Encoder {
    /// An encoder with the protocol's initial table size, 4096.
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(ENCODER_TABLE_LIMIT),
            target_size: ENCODER_TABLE_LIMIT,
            lowest_pending: None,
            last_date: Vec::new(),
        }
    }

    /// The peer's `SETTINGS_HEADER_TABLE_SIZE` changed: the next block
    /// starts with a size update (two if the size went down and up again,
    /// RFC 7541 §4.2). Values above 4096 keep the table at 4096.
    pub fn set_max_table_size(&mut self, size: usize) {
        let target = size.min(ENCODER_TABLE_LIMIT);
        self.target_size = target;
        self.lowest_pending = Some(self.lowest_pending.map_or(target, |low| low.min(target)));
    }

    /// The bytes the dynamic table holds, by the RFC's accounting.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Appends one header block to dst. `sensitive` fields are never indexed.
    ///
    /// Names must already be lowercase (RFC 9113 §8.2.1); they are sent as given.
    pub fn encode<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8], bool)>,
        dst: &mut Vec<u8>,
    ) {
        self.encode_size_updates(dst);
        for (name, value, sensitive) in fields {
            self.encode_field(name, value, sensitive, dst);
        }
    }

    fn encode_size_updates(&mut self, dst: &mut Vec<u8>) {
        let Some(lowest) = self.lowest_pending.take() else {
            return;
        };
        if lowest < self.table.capacity() && lowest < self.target_size {
            integer::encode(lowest, 5, 0x20, dst);
            self.table.set_capacity(lowest);
        }
        if self.target_size != self.table.capacity() {
            integer::encode(self.target_size, 5, 0x20, dst);
            self.table.set_capacity(self.target_size);
        }
    }

    fn encode_field(&mut self, name: &[u8], value: &[u8], sensitive: bool, dst: &mut Vec<u8>) {
        let static_match = find_static(name, value);
        if let (Some(StaticMatch::Field(index)), false) = (static_match, sensitive) {
            integer::encode(index, 7, 0x80, dst);
            return;
        }
        let dynamic_match = self.table.find(name, value);
        if let (Some((position, true)), false) = (dynamic_match, sensitive) {
            integer::encode(62 + position, 7, 0x80, dst);
            return;
        }
        let name_index = match (static_match, dynamic_match) {
            (Some(StaticMatch::Name(index) | StaticMatch::Field(index)), _) => index,
            (None, Some((position, _))) => 62 + position,
            (None, None) => 0,
        };
        let literal = if sensitive {
            Literal::NeverIndexed
        } else if self.worth_indexing(name, value) {
            Literal::Incremental
        } else {
            Literal::WithoutIndexing
        };
        let (flags, prefix) = literal.flags_and_prefix();
        integer::encode(name_index, prefix, flags, dst);
        if name_index == 0 {
            write_string(name, dst);
        }
        write_string(value, dst);
        if let Literal::Incremental = literal {
            self.table.insert(name, value);
        }
    }

    /// Whether a field is likely to be sent again and small enough to keep.
    fn worth_indexing(&mut self, name: &[u8], value: &[u8]) -> bool {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.table.capacity() / 2 {
            return false;
        }
        if name == b"date" {
            if self.last_date == value {
                return true;
            }
            self.last_date.clear();
            self.last_date.extend_from_slice(value);
            return false;
        }
        !value_rarely_repeats(name)
    }
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

/// Fields whose values are mostly unique to one message.
fn value_rarely_repeats(name: &[u8]) -> bool {
    matches!(
        name,
        b":path"
            | b"age"
            | b"content-length"
            | b"content-range"
            | b"etag"
            | b"expires"
            | b"if-modified-since"
            | b"if-none-match"
            | b"if-range"
            | b"if-unmodified-since"
            | b"last-modified"
            | b"location"
            | b"retry-after"
    )
}

/// Appends a string literal, Huffman-coded when that is shorter.
fn write_string(bytes: &[u8], dst: &mut Vec<u8>) {
    let coded_len = huffman::encoded_len(bytes);
    if coded_len < bytes.len() {
        integer::encode(coded_len, 7, 0x80, dst);
        huffman::encode(bytes, dst);
    } else {
        integer::encode(bytes.len(), 7, 0x00, dst);
        dst.extend_from_slice(bytes);
    }
}

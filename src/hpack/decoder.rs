//! The HPACK decoder: one complete header block in, fields out.
//!
//! Memory stays bounded whatever the block says. A field is emitted from
//! the block, the table or a scratch buffer without copying; the scratch
//! buffers only hold Huffman-decoded strings and literals that are added to
//! the table, and they never grow past the larger of the header list limit
//! and the table size. A block that names a large table entry many times
//! runs into the header list limit after the limit's worth of fields and
//! costs no memory at all.
//!
//! Tested by: src/hpack/tests.rs and conformance/hpack.rs

use super::huffman::{self, HuffmanError};
use super::table::{DynamicTable, ENTRY_OVERHEAD, STATIC};
use super::{DecodeError, integer};

/// The dynamic table size both sides start with (RFC 9113 §6.5.2).
const DEFAULT_TABLE_SIZE: usize = 4096;

/// Decodes header blocks of one connection direction, keeping the dynamic
/// table between them.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The `SETTINGS_HEADER_TABLE_SIZE` in force: no size update may exceed it.
    max_table_size: usize,
    /// Set when `max_table_size` fell below the table's capacity: the next
    /// block must start with a size update.
    size_update_required: bool,
    /// Set by a compression error; every later block is refused.
    failed: bool,
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

/// The header list size still available to a block.
struct Budget {
    limit: usize,
    left: usize,
    over: bool,
}

impl Budget {
    /// The longest name plus value a field may still have.
    fn room(&self) -> usize {
        if self.over {
            0
        } else {
            self.left.saturating_sub(ENTRY_OVERHEAD)
        }
    }

    /// Charges a field; false (and over from now on) when it does not fit.
    fn charge(&mut self, name: usize, value: usize) -> bool {
        let cost = name + value + ENTRY_OVERHEAD;
        if !self.over && cost <= self.left {
            self.left -= cost;
            true
        } else {
            self.over = true;
            false
        }
    }
}

impl Decoder {
    /// A decoder whose table may grow to `max_table_size` bytes, the
    /// `SETTINGS_HEADER_TABLE_SIZE` in force for the peer's encoder (4096
    /// until our SETTINGS are acknowledged). The table starts at that size.
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_table_size,
            size_update_required: false,
            failed: false,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Changes the upper bound for size updates; call it when the peer
    /// acknowledges a `SETTINGS_HEADER_TABLE_SIZE` we sent. Lowering it
    /// below the table's current size obliges the peer to start its next
    /// block with a size update (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
        if size < self.table.capacity() {
            self.size_update_required = true;
        }
    }

    /// The bytes the dynamic table holds, by the RFC's accounting (name +
    /// value + 32 per entry).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table's current maximum size, as last set by the peer.
    pub fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// The bytes the scratch buffers hold on to.
    #[cfg(test)]
    pub(super) fn scratch_capacity(&self) -> usize {
        self.name_buf.capacity() + self.value_buf.capacity()
    }

    /// Decodes one complete header block; `emit(name, value)` per field in order.
    ///
    /// Fails with [`DecodeError::HeaderListTooLarge`] once the fields exceed
    /// `max_header_list_size` (name + value + 32 per field, RFC 9113
    /// §6.5.2); the rest of the block is still processed for its effect on
    /// the table, without emitting or keeping anything beyond what the table
    /// holds. Every other error is a compression error (see [`DecodeError`]).
    pub fn decode(
        &mut self,
        block: &[u8],
        max_header_list_size: usize,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        if self.failed {
            return Err(DecodeError::DecoderFailed);
        }
        let mut budget = Budget {
            limit: max_header_list_size,
            left: max_header_list_size,
            over: false,
        };
        match self.decode_block(block, &mut budget, emit) {
            Ok(()) if budget.over => Err(DecodeError::HeaderListTooLarge {
                limit: budget.limit,
            }),
            Ok(()) => Ok(()),
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    fn decode_block(
        &mut self,
        block: &[u8],
        budget: &mut Budget,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        let mut pos = 0;
        let mut at_start = true;
        while let Some(&first) = block.get(pos) {
            if first & 0xe0 == 0x20 {
                // 001xxxxx: dynamic table size update.
                if !at_start {
                    return Err(DecodeError::SizeUpdateNotAtStart);
                }
                let size = integer::decode(block, &mut pos, 5)?;
                if size > self.max_table_size {
                    return Err(DecodeError::SizeUpdateTooLarge {
                        size,
                        max: self.max_table_size,
                    });
                }
                self.table.set_capacity(size);
                self.size_update_required = false;
                continue;
            }
            if self.size_update_required {
                return Err(DecodeError::SizeUpdateMissing);
            }
            at_start = false;
            if first & 0x80 != 0 {
                // 1xxxxxxx: indexed field.
                let index = integer::decode(block, &mut pos, 7)?;
                let (name, value) = self.lookup(index)?;
                if budget.charge(name.len(), value.len()) {
                    emit(name, value);
                }
            } else if first & 0xc0 == 0x40 {
                // 01xxxxxx: literal with incremental indexing.
                let index = integer::decode(block, &mut pos, 6)?;
                self.literal_indexed(block, &mut pos, index, budget, emit)?;
            } else {
                // 0000xxxx without indexing, 0001xxxx never indexed: the
                // same to a decoder that does not re-encode.
                let index = integer::decode(block, &mut pos, 4)?;
                self.literal_not_indexed(block, &mut pos, index, budget, emit)?;
            }
        }
        if self.size_update_required {
            return Err(DecodeError::SizeUpdateMissing);
        }
        Ok(())
    }

    /// The field at HPACK `index` (static 1–61, then dynamic newest first).
    fn lookup(&self, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        match index {
            0 => Err(DecodeError::InvalidIndex(0)),
            1..=61 => Ok(STATIC[index - 1]),
            _ => self
                .table
                .get(index - 62)
                .ok_or(DecodeError::InvalidIndex(index)),
        }
    }

    /// A literal added to the table: name and value are copied into the
    /// scratch buffers (a name taken from the table may be evicted by the
    /// insertion), emitted if the budget allows, then inserted.
    fn literal_indexed(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        index: usize,
        budget: &mut Budget,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        // Strings longer than both what may be emitted and what the table
        // can keep are checked and skipped, never stored.
        let keep = self.table.capacity().saturating_sub(ENTRY_OVERHEAD);
        let limit = budget.room().max(keep);
        let mut name_buf = std::mem::take(&mut self.name_buf);
        name_buf.clear();
        let name_fits = if index == 0 {
            read_string_into(block, pos, &mut name_buf, limit)?
        } else {
            let (name, _) = self.lookup(index)?;
            let fits = name.len() <= limit;
            if fits {
                name_buf.extend_from_slice(name);
            }
            fits
        };
        self.name_buf = name_buf;
        let value_limit = limit.saturating_sub(self.name_buf.len());
        self.value_buf.clear();
        let value_fits = read_string_into(block, pos, &mut self.value_buf, value_limit)?;
        if !(name_fits && value_fits) {
            budget.over = true;
            self.table.insert_oversized();
            return Ok(());
        }
        if budget.charge(self.name_buf.len(), self.value_buf.len()) {
            emit(&self.name_buf, &self.value_buf);
        }
        self.table.insert(&self.name_buf, &self.value_buf);
        Ok(())
    }

    /// A literal not added to the table: emitted straight from the block,
    /// the table or a scratch buffer, or only checked once over budget.
    fn literal_not_indexed(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        index: usize,
        budget: &mut Budget,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        let room = budget.room();
        let name = if index == 0 {
            read_string(block, pos, &mut self.name_buf, room)?
        } else {
            let table = &self.table;
            Some(match index {
                1..=61 => STATIC[index - 1].0,
                _ => {
                    table
                        .get(index - 62)
                        .ok_or(DecodeError::InvalidIndex(index))?
                        .0
                }
            })
        };
        let value_room = room.saturating_sub(name.map_or(0, <[u8]>::len));
        let value = read_string(block, pos, &mut self.value_buf, value_room)?;
        match (name, value) {
            (Some(name), Some(value)) if budget.charge(name.len(), value.len()) => {
                emit(name, value);
            }
            _ => budget.over = true,
        }
        Ok(())
    }
}

/// Reads a string literal at `block[*pos]`: a raw string is borrowed from
/// the block, a Huffman one decoded into `buf`. `None` if a Huffman string
/// decodes to more than `limit` bytes (it is still checked to the end).
fn read_string<'a>(
    block: &'a [u8],
    pos: &mut usize,
    buf: &'a mut Vec<u8>,
    limit: usize,
) -> Result<Option<&'a [u8]>, DecodeError> {
    let (huffman, raw) = string_bytes(block, pos)?;
    if !huffman {
        return Ok(Some(raw));
    }
    buf.clear();
    match huffman::decode(raw, buf, limit) {
        Ok(()) => Ok(Some(&buf[..])),
        Err(HuffmanError::TooLong) => huffman::validate(raw).map(|()| None).map_err(huffman_error),
        Err(error) => Err(huffman_error(error)),
    }
}

/// Reads a string literal at `block[*pos]` into `buf`; false (with `buf`
/// unspecified) if it is longer than `limit` bytes, which is checked but
/// not stored.
fn read_string_into(
    block: &[u8],
    pos: &mut usize,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, DecodeError> {
    let (huffman, raw) = string_bytes(block, pos)?;
    if !huffman {
        if raw.len() > limit {
            return Ok(false);
        }
        buf.extend_from_slice(raw);
        return Ok(true);
    }
    match huffman::decode(raw, buf, limit) {
        Ok(()) => Ok(true),
        Err(HuffmanError::TooLong) => huffman::validate(raw)
            .map(|()| false)
            .map_err(huffman_error),
        Err(error) => Err(huffman_error(error)),
    }
}

/// The Huffman flag and the still-coded bytes of the string literal at
/// `block[*pos]`, advancing `pos` past it.
fn string_bytes<'a>(block: &'a [u8], pos: &mut usize) -> Result<(bool, &'a [u8]), DecodeError> {
    let huffman = block.get(*pos).is_some_and(|b| b & 0x80 != 0);
    let len = integer::decode(block, pos, 7)?;
    let end = pos
        .checked_add(len)
        .filter(|&end| end <= block.len())
        .ok_or(DecodeError::Truncated)?;
    let raw = &block[*pos..end];
    *pos = end;
    Ok((huffman, raw))
}

/// The error of a string that is not valid Huffman coding (`TooLong` is
/// handled by the callers before they get here).
fn huffman_error(error: HuffmanError) -> DecodeError {
    match error {
        HuffmanError::Eos => DecodeError::HuffmanEos,
        HuffmanError::Padding | HuffmanError::TooLong => DecodeError::HuffmanPadding,
    }
}

impl Default for Decoder {
    /// A decoder with the protocol's initial table size, 4096.
    fn default() -> Decoder {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

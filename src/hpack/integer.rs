//! Integers with an N-bit prefix (RFC 7541 §5.1).
//!
//! Tested by: the unit tests below and src/hpack/tests.rs

use super::DecodeError;

/// Continuation bytes enough for any value up to 2³² − 1 from any prefix.
const MAX_CONTINUATION_BYTES: usize = 5;

/// Appends `value` with a `prefix_bits`-bit prefix; `flags` fills the bits
/// above the prefix in the first byte.
pub(super) fn encode(value: usize, prefix_bits: u32, flags: u8, dst: &mut Vec<u8>) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        dst.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// Reads an integer with a `prefix_bits`-bit prefix starting at
/// `block[*pos]`, advancing `pos` past it.
pub(super) fn decode(
    block: &[u8],
    pos: &mut usize,
    prefix_bits: u32,
) -> Result<usize, DecodeError> {
    let max_prefix = (1u64 << prefix_bits) - 1;
    let first = *block.get(*pos).ok_or(DecodeError::Truncated)?;
    *pos += 1;
    let mut value = u64::from(first) & max_prefix;
    if value < max_prefix {
        return Ok(value as usize);
    }
    for i in 0..MAX_CONTINUATION_BYTES {
        let byte = *block.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        value += u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return usize::try_from(value)
                .ok()
                .filter(|&v| v <= u32::MAX as usize)
                .ok_or(DecodeError::IntegerOverflow);
        }
    }
    Err(DecodeError::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: usize, prefix_bits: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, prefix_bits, 0, &mut out);
        out
    }

    /// The examples of RFC 7541 Appendix C.1 encode and decode as published.
    #[test]
    fn rfc_examples() {
        assert_eq!(encoded(10, 5), [0x0a]);
        assert_eq!(encoded(1337, 5), [0x1f, 0x9a, 0x0a]);
        assert_eq!(encoded(42, 8), [0x2a]);
        for (value, prefix, wire) in [
            (10, 5, &[0x0a][..]),
            (1337, 5, &[0x1f, 0x9a, 0x0a]),
            (42, 8, &[0x2a]),
        ] {
            let mut pos = 0;
            assert_eq!(decode(wire, &mut pos, prefix), Ok(value));
            assert_eq!(pos, wire.len());
        }
    }

    /// Values around each prefix's boundary and up to 2³² − 1 round-trip for every prefix.
    #[test]
    fn boundaries_round_trip() {
        for prefix in 1..=8 {
            let max_prefix = (1usize << prefix) - 1;
            for value in [
                0,
                1,
                max_prefix - 1,
                max_prefix,
                max_prefix + 1,
                127,
                128,
                4096,
                1 << 21,
                u32::MAX as usize,
            ] {
                // Flag bits above the prefix are ignored when decoding.
                let mut wire = Vec::new();
                let flags = if prefix == 8 { 0 } else { 0xffu8 << prefix };
                encode(value, prefix, flags, &mut wire);
                let mut pos = 0;
                assert_eq!(
                    decode(&wire, &mut pos, prefix),
                    Ok(value),
                    "{value} in {prefix}"
                );
                assert_eq!(pos, wire.len());
            }
        }
    }

    /// A value above 2³² − 1 is refused.
    #[test]
    fn value_above_u32_is_refused() {
        // 31 + (0x7f..) encoding 2^32 + 30.
        let wire = encoded((u32::MAX as usize) + 1, 5);
        assert_eq!(decode(&wire, &mut 0, 5), Err(DecodeError::IntegerOverflow));
    }

    /// Too many continuation bytes are refused, even when they add only zeros.
    #[test]
    fn long_zero_padding_is_refused() {
        let wire = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(decode(&wire, &mut 0, 5), Err(DecodeError::IntegerOverflow));
        // Four redundant continuation bytes are still accepted.
        let wire = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(decode(&wire, &mut 0, 5), Ok(31));
    }

    /// An integer cut off in its prefix or its continuation bytes is `Truncated`.
    #[test]
    fn truncated_integer() {
        assert_eq!(decode(&[], &mut 0, 5), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x1f], &mut 0, 5), Err(DecodeError::Truncated));
        assert_eq!(
            decode(&[0x1f, 0x9a], &mut 0, 5),
            Err(DecodeError::Truncated)
        );
    }
}

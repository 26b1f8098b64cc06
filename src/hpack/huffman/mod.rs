//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B): encoding, its length,
//! and a table-driven decoder that reads four bits per step.
//!
//! The tables in `table.rs` are generated once by `generate.py` from the
//! code in Appendix B; the decoder is a state machine over the inner nodes
//! of the code tree, so each input byte costs two table lookups and no
//! bit-by-bit walking.
//!
//! Tested by: the unit tests below and conformance/hpack.rs

mod table;

use table::{ACCEPT, CODES, DECODE, EMIT, FAIL};

/// Why a Huffman-coded string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HuffmanError {
    /// The string contains the EOS symbol (RFC 7541 §5.2).
    Eos,
    /// The string ends with more than seven bits of padding, or with
    /// padding that is not all ones.
    Padding,
    /// The decoded string would be longer than the caller allowed.
    TooLong,
}

/// The length in bytes of `src` once Huffman-coded.
pub(super) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(CODES[usize::from(b)].1))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman coding of `src` to `dst`, padded with one-bits.
pub(super) fn encode(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(src));
    // Bits wait in the low `pending` bits of `acc`; whole 32-bit words are
    // written out, so at most 31 + 30 bits are held.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    for &byte in src {
        let (code, len) = CODES[usize::from(byte)];
        acc = (acc << len) | u64::from(code);
        pending += u32::from(len);
        if pending >= 32 {
            pending -= 32;
            dst.extend_from_slice(&((acc >> pending) as u32).to_be_bytes());
        }
    }
    while pending >= 8 {
        pending -= 8;
        dst.push((acc >> pending) as u8);
    }
    if pending > 0 {
        let pad = 8 - pending;
        dst.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

/// Appends the decoding of `src` to `dst`, failing rather than letting the
/// decoded string grow past `limit` bytes (what `dst` held before does not
/// count).
pub(super) fn decode(src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), HuffmanError> {
    // Every symbol is at least five bits long, which bounds the output.
    let most = src.len() * 8 / 5;
    if most > limit {
        return decode_limited(src, dst, limit);
    }
    // Room for every symbol the input can hold plus one: each step writes
    // its symbol byte at `len` unconditionally and advances only on EMIT.
    let start = dst.len();
    dst.resize(start + most + 1, 0);
    let out = &mut dst[start..];
    let mut len = 0;
    let mut state = 0usize;
    let mut flags = ACCEPT;
    let mut failed = 0;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = DECODE[state][usize::from(nibble)];
            out[len] = (step >> 8) as u8;
            len += ((step & EMIT) >> EMIT.trailing_zeros()) as usize;
            state = (step & 0xff) as usize;
            failed |= step & FAIL;
            flags = step;
        }
    }
    dst.truncate(start + len);
    if failed != 0 {
        Err(HuffmanError::Eos)
    } else if flags & ACCEPT == 0 {
        Err(HuffmanError::Padding)
    } else {
        Ok(())
    }
}

/// [`decode`] for input that could decode past `limit`: checks the limit
/// before each symbol.
fn decode_limited(src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), HuffmanError> {
    dst.reserve(limit);
    let start = dst.len();
    walk(src, |symbol| {
        if dst.len() - start == limit {
            return Err(HuffmanError::TooLong);
        }
        dst.push(symbol);
        Ok(())
    })
}

/// Checks that `src` is a valid Huffman coding without keeping the output.
pub(super) fn validate(src: &[u8]) -> Result<(), HuffmanError> {
    walk(src, |_| Ok(()))
}

/// Runs the decoding automaton over `src` a nibble at a time, handing each
/// decoded symbol to `emit`, which may stop the walk with an error.
fn walk(
    src: &[u8],
    mut emit: impl FnMut(u8) -> Result<(), HuffmanError>,
) -> Result<(), HuffmanError> {
    let mut state = 0usize;
    let mut accept = true;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = DECODE[state][usize::from(nibble)];
            if step & FAIL != 0 {
                return Err(HuffmanError::Eos);
            }
            if step & EMIT != 0 {
                emit((step >> 8) as u8)?;
            }
            state = (step & 0xff) as usize;
            accept = step & ACCEPT != 0;
        }
    }
    if accept {
        Ok(())
    } else {
        Err(HuffmanError::Padding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(src, &mut out, usize::MAX).map(|()| out)
    }

    /// Decodes `src` by walking the code bit by bit: an independent oracle
    /// for the table-driven decoder.
    fn decoded_slowly(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        let (mut code, mut len) = (0u32, 0u8);
        for i in 0..src.len() * 8 {
            let bit = (src[i / 8] >> (7 - i % 8)) & 1;
            code = (code << 1) | u32::from(bit);
            len += 1;
            if let Some(symbol) = CODES.iter().position(|&c| c == (code, len)) {
                if symbol == 256 {
                    return Err(HuffmanError::Eos);
                }
                out.push(symbol as u8);
                (code, len) = (0, 0);
            }
        }
        if len > 7 || code != (1 << len) - 1 {
            return Err(HuffmanError::Padding);
        }
        Ok(out)
    }

    /// The examples of RFC 7541 Appendix C.4 encode to the published bytes and back.
    #[test]
    fn rfc_examples_round_trip() {
        let examples: [(&[u8], &str); 4] = [
            (b"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            (b"no-cache", "a8eb10649cbf"),
            (b"custom-key", "25a849e95ba97d7f"),
            (b"custom-value", "25a849e95bb8e8b4bf"),
        ];
        for (plain, hex) in examples {
            let wire: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let mut out = Vec::new();
            encode(plain, &mut out);
            assert_eq!(out, wire);
            assert_eq!(encoded_len(plain), wire.len());
            assert_eq!(decoded(&wire).unwrap(), plain);
        }
    }

    /// Every byte value, alone and in sequence, survives encode then decode.
    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(1).chain([&all[..]]) {
            let mut wire = Vec::new();
            encode(chunk, &mut wire);
            assert_eq!(wire.len(), encoded_len(chunk));
            assert_eq!(decoded(&wire).unwrap(), chunk);
        }
    }

    /// The table-driven decoder agrees with a bit-by-bit walk on every
    /// one- and two-byte input and on many longer pseudo-random ones.
    #[test]
    fn table_agrees_with_bitwise_walk() {
        for a in 0..=255u8 {
            assert_eq!(decoded(&[a]), decoded_slowly(&[a]), "{a:02x}");
            for b in 0..=255u8 {
                assert_eq!(decoded(&[a, b]), decoded_slowly(&[a, b]));
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 3..200 {
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // Mostly short codes, so that strings often decode.
                    (seed as u8) & if seed & 0x100 == 0 { 0x7f } else { 0xff }
                })
                .collect();
            assert_eq!(decoded(&input), decoded_slowly(&input));
            assert_eq!(validate(&input), decoded_slowly(&input).map(|_| ()));
        }
    }

    /// An empty string is valid and decodes to nothing.
    #[test]
    fn empty_string_is_valid() {
        assert_eq!(decoded(b""), Ok(Vec::new()));
        assert_eq!(validate(b""), Ok(()));
    }

    /// A string holding the 30-bit EOS code is refused.
    #[test]
    fn eos_symbol_is_refused() {
        // EOS (30 ones) followed by two one-bits of padding.
        assert_eq!(decoded(&[0xff; 4]), Err(HuffmanError::Eos));
        assert_eq!(validate(&[0xff; 4]), Err(HuffmanError::Eos));
        // 'a' (00011) then EOS then padding.
        let mut wire = vec![0b0001_1111, 0xff, 0xff, 0xff, 0xff];
        wire[4] = 0xff;
        assert_eq!(decoded(&wire), Err(HuffmanError::Eos));
    }

    /// Eight or more bits of padding are refused even when they are all ones.
    #[test]
    fn padding_longer_than_seven_bits_is_refused() {
        let mut wire = Vec::new();
        encode(b"a", &mut wire); // 00011 111
        wire.push(0xff);
        assert_eq!(decoded(&wire), Err(HuffmanError::Padding));
        assert_eq!(validate(&wire), Err(HuffmanError::Padding));
        assert_eq!(decoded(&[0xff]), Err(HuffmanError::Padding));
    }

    /// Padding that is not a prefix of EOS (not all ones) is refused.
    #[test]
    fn padding_with_a_zero_bit_is_refused() {
        // 'a' (00011) then 110 as padding.
        assert_eq!(decoded(&[0b0001_1110]), Err(HuffmanError::Padding));
        // A lone zero byte is 0000 0 ('0') then 000: a truncated code.
        assert_eq!(decoded(&[0x00]), Err(HuffmanError::Padding));
    }

    /// Decoding stops with `TooLong` at the limit and succeeds exactly at it.
    #[test]
    fn limit_bounds_the_output() {
        let mut wire = Vec::new();
        encode(b"abcdef", &mut wire);
        let mut out = b"kept".to_vec();
        assert_eq!(decode(&wire, &mut out, 6), Ok(()));
        assert_eq!(out, b"keptabcdef");
        let mut out = Vec::new();
        assert_eq!(decode(&wire, &mut out, 5), Err(HuffmanError::TooLong));
        assert!(out.len() <= 5);
    }
}

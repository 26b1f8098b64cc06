//! Decoder and encoder behaviour: the RFC 7541 Appendix C examples, every
//! error path, the header list and table bounds, and the encoder's policy.

use super::huffman;
use super::{DecodeError, Decoder, Encoder};

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Bytes from a hex string with optional spaces.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Decodes `block` with a generous list limit.
fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<Fields, DecodeError> {
    decode_limited(decoder, block, 1 << 20)
}

fn decode_limited(
    decoder: &mut Decoder,
    block: &[u8],
    limit: usize,
) -> Result<Fields, DecodeError> {
    let mut fields = Vec::new();
    decoder
        .decode(block, limit, &mut |n, v| {
            fields.push((n.to_vec(), v.to_vec()))
        })
        .map(|()| fields)
}

fn fields(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn encode(encoder: &mut Encoder, list: &[(&str, &str, bool)]) -> Vec<u8> {
    let mut block = Vec::new();
    encoder.encode(
        list.iter()
            .map(|&(n, v, s)| (n.as_bytes(), v.as_bytes(), s)),
        &mut block,
    );
    block
}

/// A raw (not Huffman) string literal.
fn raw(text: &[u8]) -> Vec<u8> {
    assert!(text.len() < 127);
    let mut out = vec![text.len() as u8];
    out.extend_from_slice(text);
    out
}

/// A Huffman-coded string literal.
fn huff(text: &[u8]) -> Vec<u8> {
    let mut coded = Vec::new();
    huffman::encode(text, &mut coded);
    assert!(coded.len() < 127);
    let mut out = vec![0x80 | coded.len() as u8];
    out.extend_from_slice(&coded);
    out
}

// RFC 7541 Appendix C.

/// The four literal representations of RFC 7541 C.2 decode as published,
/// and only incremental indexing fills the table.
#[test]
fn rfc_c2_literal_representations() {
    let cases = [
        (
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            ("custom-key", "custom-header"),
            55,
        ),
        (
            "040c 2f73 616d 706c 652f 7061 7468",
            (":path", "/sample/path"),
            0,
        ),
        (
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            ("password", "secret"),
            0,
        ),
        ("82", (":method", "GET"), 0),
    ];
    for (wire, field, table_size) in cases {
        let mut decoder = Decoder::new(4096);
        assert_eq!(decode(&mut decoder, &hex(wire)), Ok(fields(&[field])));
        assert_eq!(decoder.table_size(), table_size);
    }
}

const C3_FIELDS: [&[(&str, &str)]; 3] = [
    &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ],
    &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ],
    &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ],
];

const C5_FIELDS: [&[(&str, &str)]; 3] = [
    &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ],
    &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ],
    &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ],
];

fn check_sequence(
    table: usize,
    wires: [&str; 3],
    expected: [&[(&str, &str)]; 3],
    sizes: [usize; 3],
) {
    let mut decoder = Decoder::new(table);
    for ((wire, list), size) in wires.into_iter().zip(expected).zip(sizes) {
        assert_eq!(decode(&mut decoder, &hex(wire)), Ok(fields(list)));
        assert_eq!(decoder.table_size(), size);
    }
}

/// The requests of RFC 7541 C.3 (no Huffman) decode in sequence with the published table sizes.
#[test]
fn rfc_c3_requests_without_huffman() {
    let wires = [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ];
    check_sequence(4096, wires, C3_FIELDS, [57, 110, 164]);
}

/// The requests of RFC 7541 C.4 (Huffman) decode in sequence with the published table sizes.
#[test]
fn rfc_c4_requests_with_huffman() {
    let wires = [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];
    check_sequence(4096, wires, C3_FIELDS, [57, 110, 164]);
}

/// The responses of RFC 7541 C.5 (no Huffman, 256-byte table) decode with evictions as published.
#[test]
fn rfc_c5_responses_without_huffman() {
    let wires = [
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a \
         3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 \
         677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 \
         553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ];
    check_sequence(256, wires, C5_FIELDS, [222, 222, 215]);
}

/// The responses of RFC 7541 C.6 (Huffman, 256-byte table) decode with evictions as published.
#[test]
fn rfc_c6_responses_with_huffman() {
    let wires = [
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e \
         919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 \
         821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed \
         4ee5 b106 3d50 07",
    ];
    check_sequence(256, wires, C5_FIELDS, [222, 222, 215]);
}

// Decoder error paths.

/// A block ending inside an integer, a string length or a string body is `Truncated`.
#[test]
fn truncated_representations() {
    let mut cut_string = vec![0x40];
    cut_string.extend_from_slice(&raw(b"name")[..3]);
    for block in [
        &[0xff][..],         // indexed, integer continues past the end
        &[0x40],             // literal without its name
        &[0x40, 0x7f],       // name length continues past the end
        &cut_string,         // name body cut short
        &[0x41],             // indexed name without a value
        &[0x0f],             // without-indexing name index continues past the end
        &[0x10, 0x01, b'a'], // never-indexed literal without a value
        &[0x3f],             // size update continues past the end
    ] {
        let mut decoder = Decoder::new(4096);
        assert_eq!(
            decode(&mut decoder, block),
            Err(DecodeError::Truncated),
            "{block:02x?}"
        );
    }
}

/// A string length larger than the rest of the block is `Truncated`, however large it is.
#[test]
fn string_longer_than_block() {
    let mut block = vec![0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x07]; // 2³¹ + 126
    block.extend_from_slice(b"abc");
    assert_eq!(
        decode(&mut Decoder::new(4096), &block),
        Err(DecodeError::Truncated)
    );
}

/// An index integer beyond 2³² − 1 is `IntegerOverflow`.
#[test]
fn integer_overflow() {
    let block = [0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(
        decode(&mut Decoder::new(4096), &block),
        Err(DecodeError::IntegerOverflow)
    );
}

/// Index zero and indices past the dynamic table are refused in every representation.
#[test]
fn invalid_indices() {
    let cases: [(Vec<u8>, usize); 6] = [
        (vec![0x80], 0),
        (vec![0xbe], 62),
        (vec![0x7e, 0x01, b'v'], 62),
        (vec![0x0f, 0x2f, 0x01, b'v'], 62),
        (vec![0x1f, 0x30, 0x01, b'v'], 63),
        ([vec![0x40], raw(b"a"), raw(b"b"), vec![0xbf]].concat(), 63),
    ];
    for (block, index) in cases {
        let mut decoder = Decoder::new(4096);
        assert_eq!(
            decode(&mut decoder, &block),
            Err(DecodeError::InvalidIndex(index)),
            "{block:02x?}"
        );
    }
}

/// EOS inside a Huffman name or value is refused, whatever the representation.
#[test]
fn huffman_eos_is_refused() {
    let eos = [0x84, 0xff, 0xff, 0xff, 0xff];
    for block in [
        [&[0x40][..], &eos, &raw(b"v")].concat(),
        [&[0x41][..], &eos].concat(),
        [&[0x00][..], &raw(b"n"), &eos].concat(),
        [&[0x10][..], &eos, &raw(b"v")].concat(),
    ] {
        assert_eq!(
            decode(&mut Decoder::new(4096), &block),
            Err(DecodeError::HuffmanEos)
        );
    }
}

/// Huffman padding of eight bits, or with a zero bit, is refused in names and values.
#[test]
fn huffman_bad_padding_is_refused() {
    let long_padding = [0x82, 0x1f, 0xff]; // 'a' then 11 one-bits
    let zero_padding = [0x81, 0x1e]; // 'a' then 110
    for bad in [&long_padding[..], &zero_padding] {
        for block in [
            [&[0x40][..], bad, &raw(b"v")].concat(),
            [&[0x41][..], bad].concat(),
            [&[0x00][..], bad, &raw(b"v")].concat(),
            [&[0x01][..], bad].concat(),
        ] {
            assert_eq!(
                decode(&mut Decoder::new(4096), &block),
                Err(DecodeError::HuffmanPadding)
            );
        }
    }
}

/// A size update after a field is refused.
#[test]
fn size_update_after_a_field() {
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decode(&mut decoder, &[0x82, 0x20]),
        Err(DecodeError::SizeUpdateNotAtStart)
    );
}

/// Size updates at the start of a block resize the table; one above the advertised maximum is refused.
#[test]
fn size_update_bounds() {
    let mut decoder = Decoder::new(4096);
    // Two updates (0 then 100) and a field: allowed.
    let block = [&[0x20, 0x3f, 0x45][..], &[0x40], &raw(b"a"), &raw(b"b")].concat();
    assert_eq!(decode(&mut decoder, &block), Ok(fields(&[("a", "b")])));
    assert_eq!((decoder.table_capacity(), decoder.table_size()), (100, 34));
    // 4097 > 4096.
    let mut update = vec![];
    super::integer::encode(4097, 5, 0x20, &mut update);
    assert_eq!(
        decode(&mut decoder, &update),
        Err(DecodeError::SizeUpdateTooLarge {
            size: 4097,
            max: 4096
        })
    );
}

/// After we lower the table size, a block without a leading size update is
/// refused, an empty one too; one with it is accepted.
#[test]
fn size_update_required_after_lowering() {
    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(1000);
    assert_eq!(
        decode(&mut decoder, &[0x82]),
        Err(DecodeError::SizeUpdateMissing)
    );
    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(1000);
    assert_eq!(
        decode(&mut decoder, &[]),
        Err(DecodeError::SizeUpdateMissing)
    );
    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(1000);
    let mut block = Vec::new();
    super::integer::encode(1000, 5, 0x20, &mut block);
    block.push(0x82);
    assert_eq!(
        decode(&mut decoder, &block),
        Ok(fields(&[(":method", "GET")]))
    );
    assert_eq!(decoder.table_capacity(), 1000);
    // Raising the maximum needs no update; the table keeps its size until one comes.
    decoder.set_max_table_size(8192);
    assert_eq!(
        decode(&mut decoder, &[0x82]),
        Ok(fields(&[(":method", "GET")]))
    );
    assert_eq!(decoder.table_capacity(), 1000);
}

/// A compression error leaves the decoder refusing every later block.
#[test]
fn decoder_fails_for_good_after_a_compression_error() {
    let mut decoder = Decoder::new(4096);
    let error = decode(&mut decoder, &[0x80]).unwrap_err();
    assert!(error.is_compression_error());
    assert_eq!(
        decode(&mut decoder, &[0x82]),
        Err(DecodeError::DecoderFailed)
    );
}

/// Every error has a one-line message; only the list limit is not a compression error.
#[test]
fn error_messages_and_kinds() {
    let errors = [
        DecodeError::Truncated,
        DecodeError::IntegerOverflow,
        DecodeError::InvalidIndex(70),
        DecodeError::HuffmanEos,
        DecodeError::HuffmanPadding,
        DecodeError::SizeUpdateNotAtStart,
        DecodeError::SizeUpdateTooLarge {
            size: 5000,
            max: 4096,
        },
        DecodeError::SizeUpdateMissing,
        DecodeError::HeaderListTooLarge { limit: 100 },
        DecodeError::DecoderFailed,
    ];
    for error in &errors {
        let text = error.to_string();
        assert!(!text.is_empty() && !text.contains('\n'));
        let list_limit = matches!(error, DecodeError::HeaderListTooLarge { .. });
        assert_eq!(error.is_compression_error(), !list_limit);
    }
    assert_eq!(errors[2].to_string(), "header table index 70 is invalid");
}

// The header list limit and HPACK bombs.

/// The limit counts name + value + 32 per field: a list exactly at it passes, one byte less fails.
#[test]
fn header_list_limit_is_exact() {
    let block = [0x82, 0x84]; // :method GET (42), :path / (38)
    assert_eq!(
        decode_limited(&mut Decoder::new(4096), &block, 80).map(|f| f.len()),
        Ok(2)
    );
    assert_eq!(
        decode_limited(&mut Decoder::new(4096), &block, 79),
        Err(DecodeError::HeaderListTooLarge { limit: 79 })
    );
}

/// Fields past the limit are not emitted, whatever their representation.
#[test]
fn nothing_is_emitted_past_the_limit() {
    let block = [
        &[0x82][..], // 42
        &[0x00],
        &raw(b"x"),
        &huff(b"yy"), // 35
        &[0x84],      // 38, over 100
        &[0x40],
        &raw(b"a"),
        &raw(b"b"),
        &[0x10],
        &huff(b"c"),
        &raw(b"d"),
        &[0x01],
        &huff(b"e"),
    ]
    .concat();
    let mut emitted = Vec::new();
    let result = Decoder::new(4096).decode(&block, 100, &mut |n, _| emitted.push(n.to_vec()));
    assert_eq!(result, Err(DecodeError::HeaderListTooLarge { limit: 100 }));
    assert_eq!(emitted, [b":method".to_vec(), b"x".to_vec()]);
}

/// A block over the limit still updates the table, so the next block decodes.
#[test]
fn table_stays_in_step_after_the_limit() {
    let mut decoder = Decoder::new(4096);
    let first = [
        &[0x40][..],
        &raw(b"big"),
        &huff(&[b'v'; 100]),
        &[0x40],
        &raw(b"small"),
        &raw(b"x"),
    ]
    .concat();
    assert_eq!(
        decode_limited(&mut decoder, &first, 50),
        Err(DecodeError::HeaderListTooLarge { limit: 50 })
    );
    assert_eq!(decoder.table_size(), 135 + 38);
    let second = [0xbe, 0xbf];
    let expected = [
        (b"small".to_vec(), b"x".to_vec()),
        (b"big".to_vec(), vec![b'v'; 100]),
    ];
    assert_eq!(decode(&mut decoder, &second), Ok(expected.to_vec()));
}

/// Over budget, an entry larger than the table still empties it, as it does for the peer.
#[test]
fn oversized_entry_past_the_limit_empties_the_table() {
    let mut decoder = Decoder::new(100);
    let first = [&[0x40][..], &raw(b"a"), &raw(b"b")].concat();
    assert!(decode(&mut decoder, &first).is_ok());
    let second = [&[0x40][..], &huff(b"n"), &huff(&[b'z'; 80])].concat();
    assert_eq!(
        decode_limited(&mut decoder, &second, 40),
        Err(DecodeError::HeaderListTooLarge { limit: 40 })
    );
    assert_eq!(decoder.table_size(), 0);
    assert_eq!(
        decode(&mut decoder, &[0xbe]),
        Err(DecodeError::InvalidIndex(62))
    );
}

/// A block naming one large table entry thousands of times fails on the
/// list limit after emitting only what fits.
#[test]
fn hpack_bomb_fails_on_the_list_limit() {
    let mut decoder = Decoder::new(4096);
    let mut block = vec![0x40];
    block.extend_from_slice(&raw(b"x"));
    block.extend_from_slice(&[0x7f, 0xa1, 0x1e]); // value length 4000
    block.extend_from_slice(&[b'a'; 4000]);
    block.extend_from_slice(&[0xbe; 16_000]);
    let mut emitted = 0usize;
    let result = decoder.decode(&block, 64 * 1024, &mut |n, v| {
        emitted += n.len() + v.len() + 32
    });
    assert_eq!(
        result,
        Err(DecodeError::HeaderListTooLarge { limit: 64 * 1024 })
    );
    assert!(emitted <= 64 * 1024);
    assert_eq!(emitted, 16 * 4033);
}

/// Huffman literals that decode past the limit are checked without being
/// stored: the scratch buffers stay within the limit and the table size.
#[test]
fn huffman_literals_past_the_limit_are_not_stored() {
    let mut coded = Vec::new();
    huffman::encode(&[b'a'; 100_000], &mut coded); // 62 500 bytes, 100 000 decoded
    let mut literal = Vec::new();
    super::integer::encode(coded.len(), 7, 0x80, &mut literal);
    literal.extend_from_slice(&coded);
    let mut block = Vec::new();
    for representation in [0x00, 0x10, 0x40] {
        block.extend_from_slice(&[representation]);
        block.extend_from_slice(&raw(b"x"));
        block.extend_from_slice(&literal);
    }
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decode_limited(&mut decoder, &block, 8192),
        Err(DecodeError::HeaderListTooLarge { limit: 8192 })
    );
    assert!(
        decoder.scratch_capacity() <= 2 * 8192,
        "{}",
        decoder.scratch_capacity()
    );
    assert_eq!(decoder.table_size(), 0);
    // A corrupt tail in a skipped literal is still found.
    let mut bad = block.clone();
    bad.extend_from_slice(&[0x00, 0x01, b'y', 0x82, 0x1f, 0xff]);
    assert_eq!(
        decode_limited(&mut Decoder::new(4096), &bad, 8192),
        Err(DecodeError::HuffmanPadding)
    );
}

// Independence from how the block was put together.

/// The same block decodes to the same fields whether it arrives in one
/// piece, is joined from fragments cut at every point, or sits at an odd
/// offset inside a larger buffer.
#[test]
fn decoding_is_independent_of_assembly() {
    let blocks = [
        hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
        hex("8286 84be 5886 a8eb 1064 9cbf"),
        hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    ];
    let mut reference = Decoder::new(4096);
    let expected: Vec<Fields> = blocks
        .iter()
        .map(|b| decode(&mut reference, b).unwrap())
        .collect();
    for cut in 0..=blocks[2].len() {
        let mut decoder = Decoder::new(4096);
        for (block, want) in blocks.iter().zip(&expected) {
            let cut = cut.min(block.len());
            // Fragments as HEADERS + CONTINUATION payloads, joined after a prefix.
            let mut buffer = vec![0xaa; 3];
            buffer.extend_from_slice(&block[..cut]);
            buffer.extend_from_slice(&block[cut..]);
            buffer.push(0x55);
            let got = decode(&mut decoder, &buffer[3..buffer.len() - 1]);
            assert_eq!(got.as_ref(), Ok(want));
        }
    }
}

// The encoder.

/// A repeated response costs one byte per indexable field the second time;
/// `date` and `content-length` reuse their static names but stay literals.
#[test]
fn encoder_indexes_repeating_response_fields() {
    let mut encoder = Encoder::new();
    let response = |date: &'static str| {
        [
            (":status", "200", false),
            ("content-type", "text/html; charset=utf-8", false),
            ("server", "torsion", false),
            ("date", date, false),
            ("content-length", "1234", false),
        ]
    };
    let first = encode(&mut encoder, &response("Mon, 21 Oct 2013 20:13:21 GMT"));
    let second = encode(&mut encoder, &response("Mon, 21 Oct 2013 20:13:22 GMT"));
    assert!(second.len() < first.len());
    assert_eq!(&second[..3], &[0x88, 0xbf, 0xbe]); // :status 200, content-type, server
    assert_eq!(second[3], 0x0f); // date: without indexing, static name 33 (15 + 18)
    assert_eq!(second[4], 0x12);
    assert_eq!(encoder.table_size(), (12 + 24 + 32) + (6 + 7 + 32));
    let mut decoder = Decoder::new(4096);
    decode(&mut decoder, &first).unwrap();
    let list = decode(&mut decoder, &second).unwrap();
    assert_eq!(
        list[3],
        (b"date".to_vec(), b"Mon, 21 Oct 2013 20:13:22 GMT".to_vec())
    );
}

/// A `date` sent twice in a row is indexed the second time and costs one byte from then on.
#[test]
fn encoder_indexes_a_date_seen_twice() {
    let mut encoder = Encoder::new();
    let date = "Mon, 21 Oct 2013 20:13:21 GMT";
    let first = encode(&mut encoder, &[("date", date, false)]);
    assert_eq!(first[0], 0x0f); // without indexing
    let second = encode(&mut encoder, &[("date", date, false)]);
    assert_eq!(second[0], 0x61); // incremental indexing, static name 33
    assert_eq!(encode(&mut encoder, &[("date", date, false)]), [0xbe]);
    let next = encode(
        &mut encoder,
        &[("date", "Mon, 21 Oct 2013 20:13:22 GMT", false)],
    );
    assert_eq!(next[..2], [0x0f, 0x12]);
    let mut decoder = Decoder::new(4096);
    for block in [first, second, vec![0xbe], next] {
        assert_eq!(decode(&mut decoder, &block).map(|f| f.len()), Ok(1));
    }
}

/// Sensitive fields are sent never-indexed, keep their name index, and never enter the table.
#[test]
fn encoder_never_indexes_sensitive_fields() {
    let mut encoder = Encoder::new();
    let block = encode(
        &mut encoder,
        &[("set-cookie", "id=1", true), ("x-secret", "s", true)],
    );
    assert_eq!(block[0], 0x1f); // never indexed, name index 55 = 15 + 40
    assert_eq!(block[1], 40);
    assert_eq!(encoder.table_size(), 0);
    let again = encode(&mut encoder, &[("set-cookie", "id=1", true)]);
    assert_eq!(again, block[..again.len()]);
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decode(&mut decoder, &block),
        Ok(fields(&[("set-cookie", "id=1"), ("x-secret", "s")]))
    );
    // Non-sensitive set-cookie is indexed.
    encode(&mut encoder, &[("set-cookie", "id=1", false)]);
    assert_eq!(encoder.table_size(), 10 + 4 + 32);
}

/// Strings are Huffman-coded only when shorter.
#[test]
fn encoder_uses_huffman_only_when_shorter() {
    let mut encoder = Encoder::new();
    let block = encode(
        &mut encoder,
        &[("x-a", "\u{7f}\u{7f}", false), ("x-b", "aaaaaaaa", false)],
    );
    // x-a: 0x40, name "x-a" (Huffman: 3 bytes → 3 bytes, so raw), value raw.
    let mut expected = vec![0x40, 0x03];
    expected.extend_from_slice(b"x-a");
    expected.extend_from_slice(&[0x02, 0x7f, 0x7f]);
    assert_eq!(block[..expected.len()], expected);
    // x-b's value: eight 5-bit codes fit in five bytes, Huffman-coded.
    assert_eq!(block[block.len() - 6], 0x85);
}

/// Fields larger than half the table are not indexed, so they cannot flush it.
#[test]
fn encoder_does_not_index_large_fields() {
    let mut encoder = Encoder::new();
    let big = "v".repeat(3000);
    let block = encode(&mut encoder, &[("x-big", &big, false)]);
    assert_eq!(block[0], 0x00);
    assert_eq!(encoder.table_size(), 0);
}

/// Lowering the peer's table size emits one update; lowering then raising emits the minimum then the final size.
#[test]
fn encoder_size_updates() {
    let mut encoder = Encoder::new();
    encode(&mut encoder, &[("x-a", "1", false)]);
    encoder.set_max_table_size(0);
    let block = encode(&mut encoder, &[("x-a", "1", false)]);
    assert_eq!(block[0], 0x20);
    assert_eq!(encoder.table_size(), 0);
    // Nothing pending: no update.
    assert_eq!(encode(&mut encoder, &[(":method", "GET", false)]), [0x82]);
    // 0 → 100 → 50 → 2000 in one go: the table never had to shrink, one update.
    encoder.set_max_table_size(100);
    encoder.set_max_table_size(50);
    encoder.set_max_table_size(2000);
    let mut expected = Vec::new();
    super::integer::encode(2000, 5, 0x20, &mut expected);
    assert_eq!(encode(&mut encoder, &[]), expected);
    // 2000 → 100 → 3000: the lowest (100) first, then the final size.
    encoder.set_max_table_size(100);
    encoder.set_max_table_size(3000);
    let mut expected = Vec::new();
    super::integer::encode(100, 5, 0x20, &mut expected);
    super::integer::encode(3000, 5, 0x20, &mut expected);
    assert_eq!(encode(&mut encoder, &[]), expected);
    // Above 4096 the table stays at 4096: one update from 3000 to 4096, then none.
    encoder.set_max_table_size(65_536);
    let block = encode(&mut encoder, &[]);
    let mut expected = Vec::new();
    super::integer::encode(4096, 5, 0x20, &mut expected);
    assert_eq!(block, expected);
    encoder.set_max_table_size(16_384);
    assert_eq!(encode(&mut encoder, &[]), Vec::<u8>::new());
}

/// A peer decoder that lowers its limit accepts the encoder's next block, and both tables agree.
#[test]
fn encoder_and_decoder_agree_across_size_changes() {
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new(4096);
    let list = [
        ("server", "torsion", false),
        ("x-trace", "abc", false),
        ("content-type", "text/plain", false),
    ];
    for size in [4096, 100, 0, 4096, 60, 200] {
        encoder.set_max_table_size(size);
        decoder.set_max_table_size(size);
        for _ in 0..2 {
            let block = encode(&mut encoder, &list);
            let expected: Vec<_> = list.iter().map(|&(n, v, _)| (n, v)).collect();
            assert_eq!(decode(&mut decoder, &block), Ok(fields(&expected)));
            assert_eq!(decoder.table_size(), encoder.table_size());
            assert!(encoder.table_size() <= size);
        }
    }
}

/// Random field lists survive encoder then decoder, with the tables in step.
#[test]
fn random_lists_round_trip() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n) as usize
    };
    let names = [
        "content-type",
        "server",
        "x-id",
        "date",
        ":status",
        "set-cookie",
        "vary",
        "x-long",
    ];
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new(4096);
    for _ in 0..500 {
        let list: Vec<(Vec<u8>, Vec<u8>, bool)> = (0..next(12))
            .map(|_| {
                let name = names[next(names.len() as u64)].as_bytes().to_vec();
                let len = if next(10) == 0 { next(3000) } else { next(12) };
                let value = (0..len).map(|_| next(256) as u8).collect();
                (name, value, next(8) == 0)
            })
            .collect();
        let mut block = Vec::new();
        encoder.encode(
            list.iter().map(|(n, v, s)| (&n[..], &v[..], *s)),
            &mut block,
        );
        let expected: Fields = list.into_iter().map(|(n, v, _)| (n, v)).collect();
        assert_eq!(decode(&mut decoder, &block), Ok(expected));
        assert_eq!(decoder.table_size(), encoder.table_size());
    }
}

//! Conformance of the HPACK codec against the public hpack-test-case
//! stories (conformance/hpack/hpack-test-case, ten encoders' outputs).
//!
//! Every story is decoded in order with one decoder (the cases share a
//! compression context), and every header list of every story is encoded
//! with torsion's encoder and decoded back, with the table size changes the
//! story makes. Mutated story blocks and random bytes check what any input
//! must leave true (no panic, fields within the list limit, the table within
//! its capacity, a compression error final).
//!
//! Tested by: conformance/hpack.rs (run with `cargo test --test conformance hpack`)

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use torsion::hpack::{Decoder, Encoder};

use crate::http1::driver::XorShift;

/// One header block of a story.
struct Case {
    table_size: Option<usize>,
    wire: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A limit no story comes near: the tests pin decoding, not the limit.
const LIST_LIMIT: usize = 1 << 20;

fn stories_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/hpack/hpack-test-case")
}

/// Every story file, sorted, as (encoder directory/file name, path).
fn stories() -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for encoder in fs::read_dir(stories_dir()).expect("stories directory") {
        let encoder = encoder.expect("directory entry").path();
        if !encoder.is_dir() {
            continue;
        }
        for story in fs::read_dir(&encoder).expect("encoder directory") {
            let story = story.expect("directory entry").path();
            if story.extension().is_some_and(|e| e == "json") {
                let name = story
                    .strip_prefix(stories_dir())
                    .expect("inside the stories directory")
                    .display()
                    .to_string();
                found.push((name, story));
            }
        }
    }
    found.sort();
    found
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load(path: &Path) -> Vec<Case> {
    let json: Value = serde_json::from_slice(&fs::read(path).expect("story")).expect("json");
    let cases = json["cases"].as_array().expect("cases");
    cases
        .iter()
        .map(|case| Case {
            table_size: case
                .get("header_table_size")
                .filter(|n| !n.is_null())
                .map(|n| n.as_u64().expect("size") as usize),
            wire: unhex(case["wire"].as_str().expect("wire")),
            headers: case["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .flat_map(|field| field.as_object().expect("field"))
                .map(|(name, value)| {
                    let value = value.as_str().expect("value");
                    (name.as_bytes().to_vec(), value.as_bytes().to_vec())
                })
                .collect(),
        })
        .collect()
}

fn decode_all(decoder: &mut Decoder, block: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields = Vec::new();
    let result = decoder.decode(block, LIST_LIMIT, &mut |name, value| {
        fields.push((name.to_vec(), value.to_vec()));
    });
    if let Err(error) = result {
        panic!("decode failed: {error}");
    }
    fields
}

/// Every story of every encoder decodes, case after case in one context, to the published header lists.
#[test]
fn decodes_every_story() {
    let stories = stories();
    assert!(stories.len() >= 45, "only {} stories found", stories.len());
    let mut blocks = 0;
    for (name, path) in stories {
        let mut decoder = Decoder::new(4096);
        for (seqno, case) in load(&path).into_iter().enumerate() {
            if let Some(size) = case.table_size {
                decoder.set_max_table_size(size);
            }
            let fields = decode_all(&mut decoder, &case.wire);
            assert!(
                fields == case.headers,
                "{name} case {seqno} decodes differently"
            );
            blocks += 1;
        }
    }
    assert!(blocks > 1000, "only {blocks} blocks decoded");
}

/// Every header list of every story survives torsion's encoder and decoder,
/// through the story's table size changes, with both tables in step.
#[test]
fn round_trips_every_header_list() {
    let mut wire_bytes = 0usize;
    let mut our_bytes = 0usize;
    for (name, path) in stories() {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096);
        let mut peer_max = 4096;
        for (seqno, case) in load(&path).into_iter().enumerate() {
            if let Some(size) = case.table_size {
                encoder.set_max_table_size(size);
                decoder.set_max_table_size(size);
                peer_max = size;
            }
            let mut block = Vec::new();
            encoder.encode(
                case.headers.iter().map(|(n, v)| (&n[..], &v[..], false)),
                &mut block,
            );
            let fields = decode_all(&mut decoder, &block);
            assert!(
                fields == case.headers,
                "{name} case {seqno} round-trips differently"
            );
            assert_eq!(
                encoder.table_size(),
                decoder.table_size(),
                "{name} case {seqno}"
            );
            assert!(
                encoder.table_size() <= peer_max.min(4096),
                "{name} case {seqno}"
            );
            wire_bytes += case.wire.len();
            our_bytes += block.len();
            if std::env::var_os("HPACK_SIZES").is_some() {
                eprintln!("{name} {} {}", case.wire.len(), block.len());
            }
        }
    }
    // A sanity bound on the policy: no worse than the average of the
    // published encoders (which include ones that never index).
    assert!(
        our_bytes < wire_bytes,
        "encoded {our_bytes} bytes, the stories {wire_bytes}"
    );
}

/// On a story of real responses, the smallest list limit that admits each
/// list passes, and one byte less fails without a compression error and
/// leaves the table in step, so the blocks that follow still decode.
#[test]
fn list_limit_is_respected_on_real_stories() {
    let (name, path) = stories()
        .into_iter()
        .find(|(name, _)| name.ends_with("nghttp2/story_26.json"))
        .expect("nghttp2 story 26");
    let cases = load(&path);
    // The smallest limit that admits each list passes; one byte less fails
    // with the table still in step, so the following blocks decode.
    let mut decoder = Decoder::new(4096);
    for (seqno, case) in cases.iter().enumerate() {
        let size: usize = case
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 32)
            .sum();
        let limit = if seqno % 2 == 0 { size } else { size - 1 };
        let mut fields = Vec::new();
        let result = decoder.decode(&case.wire, limit, &mut |n, v| {
            fields.push((n.to_vec(), v.to_vec()));
        });
        if seqno % 2 == 0 {
            assert!(
                result.is_ok() && fields == case.headers,
                "{name} case {seqno}"
            );
        } else {
            assert!(
                result.is_err_and(|e| !e.is_compression_error()),
                "{name} case {seqno}"
            );
            assert!(fields.len() < case.headers.len());
        }
    }
}

/// `block` with one to four random edits: a byte replaced, dropped, inserted or bit-flipped,
/// or a run of it repeated elsewhere.
fn mutate(block: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut bytes = block.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if at < bytes.len() => bytes[at] = rng.below(256) as u8,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, rng.below(256) as u8),
            3 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                let run = bytes[at..end].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, run);
            }
        }
    }
    bytes
}

/// Decodes `block` and checks what any input must leave true: fields emitted stay within the
/// list limit, the table within its capacity, and a compression error is final. Returns
/// whether the decoder is still usable.
fn decode_checked(decoder: &mut Decoder, block: &[u8], limit: usize) -> bool {
    let mut emitted = 0;
    let result = decoder.decode(block, limit, &mut |name, value| {
        emitted += name.len() + value.len() + 32;
    });
    assert!(
        emitted <= limit,
        "{emitted} bytes of fields emitted past the limit {limit}"
    );
    assert!(decoder.table_size() <= decoder.table_capacity());
    match result {
        Err(error) if error.is_compression_error() => {
            let again = decoder.decode(&[0x82], limit, &mut |_, _| {});
            assert!(
                again.is_err(),
                "a failed decoder decoded again after {error:?}"
            );
            false
        }
        _ => true,
    }
}

/// Mutated blocks of the real stories, and random bytes, never make the decoder panic, emit
/// past the list limit, outgrow its table or recover from a compression error.
#[test]
fn mutated_and_random_blocks_are_refused_or_decoded_within_limits() {
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    let stories = stories();
    let mut refused = 0;
    let mut decoded = 0;
    for (index, (_, path)) in stories.iter().enumerate() {
        let cases = load(path);
        let mut decoder = Decoder::new(4096);
        for (seqno, case) in cases.iter().enumerate() {
            if rng.below(3) == 0 {
                // The mutated block meets the table the story built up to it.
                let mut replay = Decoder::new(4096);
                for earlier in &cases[..seqno] {
                    if let Some(size) = earlier.table_size {
                        replay.set_max_table_size(size);
                    }
                    assert!(decode_checked(&mut replay, &earlier.wire, LIST_LIMIT));
                }
                if let Some(size) = case.table_size {
                    replay.set_max_table_size(size);
                }
                let limit = if rng.below(4) == 0 {
                    rng.below(400)
                } else {
                    LIST_LIMIT
                };
                if !decode_checked(&mut replay, &mutate(&case.wire, &mut rng), limit) {
                    refused += 1;
                }
            }
            // The story itself goes on, sometimes under a list limit it exceeds.
            if let Some(size) = case.table_size {
                decoder.set_max_table_size(size);
            }
            let limit = if rng.below(4) == 0 {
                rng.below(400)
            } else {
                LIST_LIMIT
            };
            assert!(decode_checked(&mut decoder, &case.wire, limit));
            decoded += 1;
        }
        // Random bytes, mostly small so that they look like representations.
        let mut decoder = Decoder::new(64 + index);
        for _ in 0..50 {
            let block: Vec<u8> = (0..rng.below(64)).map(|_| rng.below(256) as u8).collect();
            if !decode_checked(&mut decoder, &block, 1 + rng.below(2000)) {
                refused += 1;
                decoder = Decoder::new(64 + index);
            }
        }
    }
    assert!(
        refused > 100 && decoded > 1000,
        "refused {refused}, decoded {decoded}"
    );
}

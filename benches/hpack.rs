//! HPACK benchmarks: decoding a browser's request header block and encoding
//! a typical response, first with an empty table and then in steady state
//! (the fields already indexed), plus Huffman decoding of a long literal.
//!
//! Run with `cargo bench --bench hpack`; `-- <substring>` picks benchmarks.
//! Each prints ns per block; on a busy machine count instructions instead:
//! `valgrind --tool=callgrind target/release/deps/hpack-* <name> --iterations 10000`
//! and divide by the iteration count.
//!
//! Tested by: running it (every block is checked to decode to its fields)

use std::hint::black_box;
use std::time::{Duration, Instant};

use torsion::hpack::{Decoder, Encoder};

const REQUEST: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":authority", "www.example.com"),
    (":path", "/articles/2024/http-parsing?page=2&sort=desc"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    ),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    ("accept-language", "en-US,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br"),
    ("referer", "https://www.example.com/articles/2024"),
    (
        "cookie",
        "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=yes",
    ),
    ("upgrade-insecure-requests", "1"),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
];

const RESPONSE: &[(&str, &str)] = &[
    (":status", "200"),
    ("content-type", "text/html; charset=utf-8"),
    ("server", "torsion"),
    ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
    ("content-length", "13"),
    ("cache-control", "no-cache"),
];

/// A header list of static strings.
type Fields = &'static [(&'static str, &'static str)];

/// One benchmark body: its name, how to run it, and the list it works on.
type Bench = fn(&str, Mode, Fields);

fn fields(
    list: &[(&'static str, &'static str)],
) -> impl Iterator<Item = (&'static [u8], &'static [u8], bool)> {
    list.iter()
        .map(|&(n, v)| (n.as_bytes(), v.as_bytes(), false))
}

/// How long each benchmark runs `f`: a fixed count (`--iterations N`, for
/// instruction counting) or timed rounds.
#[derive(Clone, Copy)]
enum Mode {
    Iterations(u64),
    Timed,
}

/// Runs `f` and prints the median of several timed rounds in ns per call,
/// or runs it a fixed number of times.
#[allow(clippy::disallowed_methods)]
fn measure(name: &str, mode: Mode, mut f: impl FnMut()) {
    if let Mode::Iterations(n) = mode {
        for _ in 0..n {
            f();
        }
        println!("{name:<48} {n} iterations");
        return;
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(200) {
        f();
        calls += 1;
    }
    let per_round = (calls / 4).max(1);
    let mut rounds: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_round as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!(
        "{name:<48} {:>8.1} ns/block (best {:.1})",
        rounds[4], rounds[0]
    );
}

/// The first block of a connection (literals, Huffman) and a later one
/// (mostly indexed), as the peer's encoder sends them.
fn blocks(list: &[(&'static str, &'static str)]) -> (Vec<u8>, Vec<u8>) {
    let mut encoder = Encoder::new();
    let mut first = Vec::new();
    encoder.encode(fields(list), &mut first);
    let mut later = Vec::new();
    encoder.encode(fields(list), &mut later);
    (first, later)
}

fn check(block: &[u8], list: &[(&str, &str)]) {
    let mut decoder = Decoder::new(4096);
    let mut count = 0;
    let result = decoder.decode(block, 64 * 1024, &mut |n, v| {
        assert_eq!((n, v), (list[count].0.as_bytes(), list[count].1.as_bytes()));
        count += 1;
    });
    assert!(result.is_ok() && count == list.len());
}

fn bench_decode_first(name: &str, mode: Mode, list: &[(&'static str, &'static str)]) {
    let (first, _) = blocks(list);
    check(&first, list);
    measure(name, mode, || {
        let mut decoder = Decoder::new(4096);
        let mut bytes = 0;
        let result = decoder.decode(black_box(&first), 64 * 1024, &mut |n, v| {
            bytes += n.len() + v.len()
        });
        assert!(result.is_ok());
        black_box(bytes);
    });
}

fn bench_decode_steady(name: &str, mode: Mode, list: &[(&'static str, &'static str)]) {
    let (first, later) = blocks(list);
    let mut decoder = Decoder::new(4096);
    assert!(decoder.decode(&first, 64 * 1024, &mut |_, _| {}).is_ok());
    measure(name, mode, || {
        let mut bytes = 0;
        let result = decoder.decode(black_box(&later), 64 * 1024, &mut |n, v| {
            bytes += n.len() + v.len()
        });
        assert!(result.is_ok());
        black_box(bytes);
    });
}

fn bench_encode_first(name: &str, mode: Mode, list: &[(&'static str, &'static str)]) {
    let mut out = Vec::with_capacity(4096);
    measure(name, mode, || {
        let mut encoder = Encoder::new();
        out.clear();
        encoder.encode(fields(black_box(list)), &mut out);
        black_box(&out);
    });
}

fn bench_encode_steady(name: &str, mode: Mode, list: &[(&'static str, &'static str)]) {
    let mut encoder = Encoder::new();
    let mut out = Vec::with_capacity(4096);
    encoder.encode(fields(list), &mut out);
    encoder.encode(fields(list), &mut out);
    measure(name, mode, || {
        out.clear();
        encoder.encode(fields(black_box(list)), &mut out);
        black_box(&out);
    });
}

fn bench_huffman_literal(mode: Mode) {
    let value =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
            .repeat(12);
    let mut block = Vec::new();
    Encoder::new().encode([(&b"x-long"[..], value.as_bytes(), false)], &mut block);
    check(&block, &[("x-long", value.as_str())]);
    measure("decode one 1 KiB Huffman literal", mode, || {
        let mut decoder = Decoder::new(4096);
        let result = decoder.decode(black_box(&block), 64 * 1024, &mut |_, v| {
            black_box(v);
        });
        assert!(result.is_ok());
    });
}

fn main() {
    let mut filter = String::new();
    let mut mode = Mode::Timed;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--iterations" {
            let n = args.next().and_then(|n| n.parse().ok());
            mode = Mode::Iterations(n.unwrap_or(10_000));
        } else if !arg.starts_with('-') {
            filter = arg;
        }
    }
    let wanted = |name: &str| name.contains(filter.as_str());
    let benches: [(&str, Bench, Fields); 8] = [
        (
            "decode request, first block (13 fields)",
            bench_decode_first,
            REQUEST,
        ),
        (
            "decode request, steady state (13 fields)",
            bench_decode_steady,
            REQUEST,
        ),
        (
            "decode response, first block (6 fields)",
            bench_decode_first,
            RESPONSE,
        ),
        (
            "decode response, steady state (6 fields)",
            bench_decode_steady,
            RESPONSE,
        ),
        (
            "encode response, first block (6 fields)",
            bench_encode_first,
            RESPONSE,
        ),
        (
            "encode response, steady state (6 fields)",
            bench_encode_steady,
            RESPONSE,
        ),
        (
            "encode request, first block (13 fields)",
            bench_encode_first,
            REQUEST,
        ),
        (
            "encode request, steady state (13 fields)",
            bench_encode_steady,
            REQUEST,
        ),
    ];
    for (name, bench, list) in benches {
        if wanted(name) {
            bench(name, mode, list);
        }
    }
    if wanted("decode one 1 KiB Huffman literal") {
        bench_huffman_literal(mode);
    }
}

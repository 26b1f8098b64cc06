//! Property tests: random and mutated input never panics, is split-invariant,
//! and always ends either in well-formed events or in an error response.
//!
//! Tested by: conformance/http1.rs

use torsion::http1::{Config, Event};

use super::driver::{Run, XorShift, head_flags, parse_responses, random_cuts, run};

/// Bytes that matter to the parser, weighted towards structure.
const ALPHABET: &[u8] = b"\r\n\r\n\r\n  \t::;;,,==\"\"\\\x00\x7f\x80\xff0123456789abcdefABCDEFxX+-/?*HTTP/1.1 HTTP/1.0 GET POST HEAD Host: Content-Length: Transfer-Encoding: chunked Connection: close keep-alive Expect: 100-continue ";

fn random_input(rng: &mut XorShift) -> Vec<u8> {
    let len = rng.below(300);
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())])
        .collect()
}

fn mutate(seed: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if at < bytes.len() => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            3 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, copy);
            }
        }
    }
    bytes
}

/// Feeds `input` whole and at three random splits (then EOF), checks that
/// all runs agree and that the outcome is sane.
fn check_sane(input: &[u8], rng: &mut XorShift) {
    let config = Config::default();
    let whole = run(&config, input, &[], true);
    for _ in 0..3 {
        let cuts = random_cuts(input.len(), rng);
        assert_eq!(
            run(&config, input, &cuts, true),
            whole,
            "split {cuts:?} differs for {input:?}"
        );
    }
    assert_outcome(&whole, input);
}

/// Every request ends (message complete or aborted), every completed one
/// is answered unless dropped by a close, a rejected head is answered with
/// an error status last, and the connection is closed after EOF.
fn assert_outcome(run: &Run, input: &[u8]) {
    let responses = parse_responses(&run.output, &head_flags(&run.events));
    let finals: Vec<u16> = responses
        .iter()
        .map(|r| r.status)
        .filter(|s| *s >= 200)
        .collect();
    let requests = count(&run.events, |e| matches!(e, Event::Request { .. }));
    let ended = count(&run.events, |e| {
        matches!(e, Event::EndOfMessage { .. } | Event::RequestAborted { .. })
    });
    assert_eq!(
        requests, ended,
        "unterminated request for {input:?}: {:?}",
        run.events
    );
    assert!(run.closed, "not closed after EOF for {input:?}");
    let rejected = run
        .events
        .iter()
        .any(|e| matches!(e, Event::ProtocolError { .. }));
    if rejected {
        let last = finals.last().copied().unwrap_or(0);
        assert!(
            last >= 400,
            "rejected head not answered with an error for {input:?}: {finals:?}"
        );
    }
    assert!(
        finals.len() <= requests + usize::from(rejected),
        "more responses than requests for {input:?}"
    );
}

fn count(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

/// Random byte strings never panic, are split-invariant and end sanely.
#[test]
fn random_bytes_are_handled() {
    let mut rng = XorShift::new(0x5eed_0001);
    for _ in 0..1500 {
        let input = random_input(&mut rng);
        check_sane(&input, &mut rng);
    }
}

/// Random prefixes of a valid request followed by noise are handled sanely.
#[test]
fn valid_prefix_then_noise() {
    let mut rng = XorShift::new(0x5eed_0002);
    let base = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n\r\n";
    for _ in 0..800 {
        let cut = rng.below(base.len() + 1);
        let mut input = base[..cut].to_vec();
        input.extend(random_input(&mut rng).into_iter().take(40));
        check_sane(&input, &mut rng);
    }
}

/// Mutations of every corpus case are handled sanely.
#[test]
fn mutated_corpus_is_handled() {
    let mut rng = XorShift::new(0x5eed_0003);
    let corpus = [
        super::valid::ALL,
        super::invalid::ALL,
        super::smuggling::ALL,
        super::pipelined::ALL,
    ];
    for (_, seed) in corpus.iter().flat_map(|table| table.iter()) {
        for _ in 0..12 {
            let input = mutate(seed, &mut rng);
            check_sane(&input, &mut rng);
        }
    }
}

/// Every corpus case, followed by EOF, ends sanely.
#[test]
fn corpus_with_eof_is_handled() {
    let mut rng = XorShift::new(0x5eed_0004);
    let corpus = [
        super::valid::ALL,
        super::invalid::ALL,
        super::smuggling::ALL,
        super::pipelined::ALL,
    ];
    for (_, seed) in corpus.iter().flat_map(|table| table.iter()) {
        check_sane(seed, &mut rng);
    }
}

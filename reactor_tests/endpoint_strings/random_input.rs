//! Random descriptions: the parsers never panic, errors stay one line, and
//! whatever parses prints back to an equal endpoint.

use std::path::PathBuf;

use torsion::endpoints::{
    ClientEndpoint, ServerEndpoint, UNIX_PATH_MAX, inherited_descriptors, parse_client,
    parse_server, quote_string_argument, tokenize,
};

/// A tiny deterministic xorshift64 generator.
struct XorShift(u64);

impl XorShift {
    /// The next pseudo-random number.
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A pseudo-random number below `bound` (which must be non-zero).
    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).unwrap_or(0)
    }

    /// A random pick from `choices`.
    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len())]
    }
}

/// Fragments that random descriptions are assembled from, weighted towards the grammar.
const FRAGMENTS: &[&str] = &[
    "tcp",
    "TCP",
    "tcp6",
    "unix",
    "systemd",
    "ssl",
    ":",
    ":",
    ":",
    "=",
    "\\",
    "\\:",
    "\\\\",
    "\\=",
    "port",
    "interface",
    "backlog",
    "mode",
    "lockfile",
    "checkPID",
    "path",
    "address",
    "host",
    "timeout",
    "bindAddress",
    "domain",
    "index",
    "name",
    "INET",
    "INET6",
    "UNIX",
    "0",
    "1",
    "80",
    "65535",
    "65536",
    "0.5",
    ".",
    "777",
    "0o7",
    "::1",
    "127.0.0.1",
    "/tmp/s",
    "é",
    "\n",
    "\0",
    "",
    "-",
    "+",
    "99999999999999999999",
    "\u{2028}",
];

/// A random description assembled from [`FRAGMENTS`].
fn grammar_like(rng: &mut XorShift) -> String {
    let count = rng.below(12);
    (0..count).map(|_| rng.pick(FRAGMENTS)).collect()
}

/// A random string of printable ASCII and a few control characters.
fn random_ascii(rng: &mut XorShift) -> String {
    let length = rng.below(40);
    (0..length)
        .map(|_| char::from(u8::try_from(rng.below(128)).unwrap_or(b'?')))
        .collect()
}

/// Random bytes, read as UTF-8 with replacement characters.
fn random_bytes(rng: &mut XorShift) -> String {
    let length = rng.below(40);
    let bytes: Vec<u8> = (0..length).map(|_| rng.next().to_le_bytes()[0]).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses `text` every way, checking errors are one line and successes round-trip.
fn check_never_panics(text: &str) {
    let _ = tokenize(text);
    match parse_server(text) {
        Ok(endpoint) => assert_server_round_trip(&endpoint),
        Err(error) => assert_one_line(&error.to_string()),
    }
    match parse_client(text) {
        Ok(endpoint) => assert_client_round_trip(&endpoint),
        Err(error) => assert_one_line(&error.to_string()),
    }
}

/// Fails unless `message` is a single line.
fn assert_one_line(message: &str) {
    assert!(!message.contains(['\n', '\r']), "{message:?}");
}

/// Fails unless `endpoint` displays as a description parsing back to itself.
fn assert_server_round_trip(endpoint: &ServerEndpoint) {
    let text = endpoint.to_string();
    assert_eq!(parse_server(&text).as_ref(), Ok(endpoint), "{text:?}");
}

/// Fails unless `endpoint` displays as a description parsing back to itself.
fn assert_client_round_trip(endpoint: &ClientEndpoint) {
    let text = endpoint.to_string();
    assert_eq!(parse_client(&text).as_ref(), Ok(endpoint), "{text:?}");
}

/// Descriptions assembled from grammar fragments never panic, and what parses round-trips.
#[test]
fn grammar_like_descriptions_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        check_never_panics(&grammar_like(&mut rng));
    }
}

/// Random ASCII descriptions never panic, and what parses round-trips.
#[test]
fn random_ascii_never_panics() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    for _ in 0..20_000 {
        check_never_panics(&random_ascii(&mut rng));
    }
}

/// Random byte strings never panic, with or without a known type in front.
#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    for _ in 0..10_000 {
        let tail = random_bytes(&mut rng);
        check_never_panics(&tail);
        let prefix = rng.pick(&["tcp:", "tcp6:", "unix:", "systemd:", "unix:path=", "tcp:h:"]);
        check_never_panics(&format!("{prefix}{tail}"));
    }
}

/// Quoting any string and parsing it as a unix path by name gives the string back.
#[test]
fn quoted_random_paths_round_trip() {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    for _ in 0..10_000 {
        let path = if rng.below(2) == 0 {
            random_ascii(&mut rng)
        } else {
            random_bytes(&mut rng)
        };
        let expected_ok = !path.is_empty() && !path.contains('\0') && path.len() <= UNIX_PATH_MAX;
        let quoted = quote_string_argument(&path);
        match parse_client(&format!("unix:path={quoted}")) {
            Ok(ClientEndpoint::Unix { path: parsed, .. }) => {
                assert!(expected_ok, "{path:?}");
                assert_eq!(parsed, PathBuf::from(&path));
            }
            Ok(other) => panic!("not unix: {other:?}"),
            Err(error) => assert!(!expected_ok, "{path:?}: {error}"),
        }
    }
}

/// Random socket-activation environments never panic and errors stay one line.
#[test]
fn random_activation_environments_never_panic() {
    let mut rng = XorShift(0x0F0F_1234_ABCD_9876);
    let values = [
        "",
        "1",
        "2",
        "4242",
        "x",
        "-1",
        "65536",
        "99999999999999999999",
        "a:b",
        ":",
        "a",
    ];
    for _ in 0..5_000 {
        let maybe = |rng: &mut XorShift| {
            if rng.below(4) == 0 {
                None
            } else {
                Some(rng.pick(&values))
            }
        };
        let (pid, fds, names) = (maybe(&mut rng), maybe(&mut rng), maybe(&mut rng));
        if let Err(error) = inherited_descriptors(pid, fds, names, 4242) {
            assert_one_line(&error.to_string());
        }
    }
}

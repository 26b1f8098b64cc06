//! Conformance of the sans-IO HTTP/1.1 server connection.
//!
//! The corpus (`http1/valid.rs`, `invalid.rs`, `smuggling.rs`,
//! `pipelined.rs`) is a table of wire inputs with the expected outcome,
//! summarised as `METHOD target [body] {trailers} aborted | ... => statuses
//! open|closed`. Every case is fed whole, one byte at a time and at eight
//! seeded random splits, and all runs must produce identical events and
//! output. `behaviour*.rs` pin the API-level rules (ordering, timeouts,
//! 100-continue, framing of responses, misuse); `fuzz.rs` feeds random and
//! mutated input.
//!
//! Tested by: conformance/http1.rs (run with `cargo test --test conformance`)

/// Declares corpus cases: each becomes a `#[test]` and an entry of `ALL`.
macro_rules! cases {
    ($($(#[doc = $doc:expr])+ $name:ident: $input:expr => $expected:expr;)*) => {
        $(
            $(#[doc = $doc])+
            #[test]
            fn $name() {
                crate::http1::driver::check(stringify!($name), $input, $expected);
            }
        )*

        /// Every input of this table, for the fuzzers to mutate.
        #[allow(dead_code)]
        pub(crate) const ALL: &[(&str, &[u8])] = &[$((stringify!($name), $input)),*];
    };
}

mod behaviour;
mod behaviour_body;
mod behaviour_owned;
pub(crate) mod driver;
mod fuzz;
mod graceful;
mod invalid;
mod limits;
mod pipelined;
mod smuggling;
mod valid;

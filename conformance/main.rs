//! Conformance suite.

mod hpack;
mod http1;

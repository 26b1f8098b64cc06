//! Conformance suite.

mod http1;

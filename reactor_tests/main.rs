//! Reactor integration suite.

mod endpoint_strings;
mod stream_cases;
mod tcp;
mod unix;
mod util;

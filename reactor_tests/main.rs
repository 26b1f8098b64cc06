//! Reactor integration suite.

mod endpoint_strings;
mod time;

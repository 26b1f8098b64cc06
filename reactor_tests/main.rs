//! Reactor integration suite.

mod endpoint_strings;

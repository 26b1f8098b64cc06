//! Reactor integration suite.

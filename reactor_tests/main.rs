//! Reactor integration suite.
mod defer;

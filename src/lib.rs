//! torsion: Twisted's reactor and Twisted Web's server and WSGI container, rebuilt in Rust.
#![deny(unsafe_code)]

pub mod cli;
pub mod defer;
pub mod endpoints;
pub mod hpack;
pub mod http;
pub mod http1;
pub mod http2;
pub mod log;
pub mod payload;
pub mod reactor;
pub mod static_files;
mod sys;
pub mod time;
pub mod tls;
pub mod transport;
pub mod web;
pub mod wsgi;

pub use sys::raise_open_files_limit;

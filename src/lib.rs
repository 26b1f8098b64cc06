//! torsion: Twisted Web's reactor, HTTP server and WSGI container, rebuilt in Rust.
#![deny(unsafe_code)]

pub mod http;
pub mod http1;

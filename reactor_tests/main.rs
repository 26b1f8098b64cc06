//! Reactor integration suite: real sockets on 127.0.0.1, real threads and signals, and the
//! fake clock wherever time matters.

mod binary;
mod cli;
mod defer;
mod endpoint_strings;
mod events;
mod h1load;
mod http2;
mod http_floor;
mod reactor;
mod static_files;
mod stream_cases;
mod tcp;
mod time;
mod tls;
mod unix;
mod util;
mod web;
mod wsgi;

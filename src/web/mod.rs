//! Twisted Web's server model: a [`Site`] serves a tree of [`Resource`]s, and
//! each HTTP request reaches its resource as a [`Request`].
//!
//! * [`Site`] is the connection [`Factory`](crate::transport::Factory): it
//!   builds one [`Http1Channel`] per connection and holds what every request
//!   shares (the root resource, added headers, the access log, limits).
//! * [`Http1Channel`] adapts the sans-IO [`ServerConn`](crate::http1::ServerConn)
//!   to a transport: bytes in, events out, one timer per connection,
//!   back-pressure both ways.
//! * [`Http2Channel`] does the same for the sans-IO HTTP/2
//!   [`ServerConn`](crate::http2::ServerConn), one [`Request`] per stream;
//!   [`HttpDispatch`] picks the channel per connection (ALPN, the HTTP/2
//!   preface, or `Upgrade: h2c`).
//! * [`Request`] is what a resource sees and answers through. It is a cheap
//!   handle that does not know which protocol carries it: the protocol side
//!   sits behind [`ResponseSink`].
//! * [`Resource`] is a node of the URL tree: traversal consumes path
//!   segments from `postpath` into `prepath` until a leaf, then renders.
//!
//! Everything runs on the reactor thread; nothing here blocks.
//!
//! Tested by: reactor_tests/web.rs
#![forbid(unsafe_code)]

mod access_log;
mod args;
mod channel;
mod content;
mod dispatch;
mod gzip;
mod h2_channel;
mod registry;
mod request;
mod resource;
mod sink;
mod site;
mod url;

use std::fmt;

pub use access_log::{AccessLog, AccessLogEntry, combined_log_line};
pub use args::Args;
pub use channel::Http1Channel;
pub use content::{Content, ContentError, ContentLimits, spool_file};
pub use dispatch::HttpDispatch;
pub use gzip::{DEFAULT_GZIP_LEVEL, GZIP_MIN_LENGTH, GzipResource, accept_encoding_quality};
pub use h2_channel::{Http2Channel, STREAM_HIGH_WATER, STREAM_LOW_WATER};
pub use request::{Request, RequestInfo, RequestView};
pub use resource::{
    Children, ErrorPage, NoResource, Redirect, Render, Resource, StaticData, Tree, error_page_html,
};
pub(crate) use resource::{html_escape, render_checked};
pub use sink::{BodyEncoder, ResponseSink};
pub use site::{AddedHeaderError, Site, SiteConfig, parse_added_header};
pub use url::{parse_query, unquote};

/// The client went away before the response was finished (Twisted's
/// `ConnectionLost` as delivered by `notifyFinish`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionLost;

impl fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the connection was lost before the response was finished")
    }
}

impl std::error::Error for ConnectionLost {}

/// The `Server` header value: `torsion/<version>`.
pub const SERVER_VERSION: &str = concat!("torsion/", env!("CARGO_PKG_VERSION"));

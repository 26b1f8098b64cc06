//! Protocol-independent HTTP types shared by the HTTP/1.1 (and later HTTP/2)
//! connections and the web layer: versions, methods, status codes, header
//! fields, and request/response heads.
//!
//! A parsed [`RequestHead`] owns one buffer holding the raw head bytes; the
//! target, path, query and every header field are spans into it, so parsing
//! costs O(1) allocations regardless of the number of fields.
//!
//! Tested by: src/http/mod.rs, src/http/headers.rs, src/http/status.rs,
//! src/http/date.rs (unit tests) and conformance/http1.rs
#![forbid(unsafe_code)]

pub mod date;
mod headers;
mod id_map;
mod status;

use std::fmt;

pub(crate) use headers::{Entry, Span};
pub use headers::{GetAll, Headers, Iter};
pub(crate) use id_map::{IdMap, id_map};
pub use status::StatusCode;

/// An HTTP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
    /// HTTP/2
    Http2,
}

impl Version {
    /// The version as it appears on the wire, e.g. `HTTP/1.1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

/// A request method; the registered ones are variants, others keep their bytes.
///
/// Methods are case-sensitive: `get` is an extension method, not `GET`.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other token.
    Other(Box<[u8]>),
}

impl Method {
    /// Parses a method token; `None` if `bytes` is empty or not a token.
    pub fn from_bytes(bytes: &[u8]) -> Option<Method> {
        Some(match bytes {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ if is_token(bytes) => Method::Other(bytes.into()),
            _ => return None,
        })
    }

    /// The method's bytes as sent on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Get => b"GET",
            Method::Head => b"HEAD",
            Method::Post => b"POST",
            Method::Put => b"PUT",
            Method::Delete => b"DELETE",
            Method::Connect => b"CONNECT",
            Method::Options => b"OPTIONS",
            Method::Trace => b"TRACE",
            Method::Patch => b"PATCH",
            Method::Other(bytes) => bytes,
        }
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// `tchar` from RFC 9110 §5.6.2, as a 256-entry table.
pub(crate) const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

/// `value` in decimal, written into `digits`.
pub(crate) fn decimal(value: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            return &digits[at..];
        }
    }
}

/// True when `bytes` is a non-empty RFC 9110 token.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TOKEN[b as usize])
}

/// The request line and header fields of a request.
///
/// `target` is the request-target exactly as received; `path` and `query`
/// split it at the first `?`. For an absolute-form target
/// (`http://host/p?q`) the path starts after the authority and is `/` when
/// empty.
#[derive(Clone)]
pub struct RequestHead {
    method: Method,
    version: Version,
    target: Span,
    path: Span,
    query: Option<Span>,
    absolute_form: bool,
    headers: Headers,
}

impl RequestHead {
    /// Builds a head from parts; the target's bytes are stored in the
    /// headers' buffer (no extra allocation beyond its growth).
    pub fn new(
        method: Method,
        target: &[u8],
        version: Version,
        mut headers: Headers,
    ) -> RequestHead {
        let span = headers.push_raw(target);
        RequestHead::from_parsed(method, span, version, headers)
    }

    /// Builds a head whose target already lies at `target` in `headers`' buffer.
    pub(crate) fn from_parsed(
        method: Method,
        target: Span,
        version: Version,
        headers: Headers,
    ) -> RequestHead {
        let (path, query, absolute_form) = split_target(target.of(headers.raw()));
        RequestHead {
            method,
            version,
            target,
            path: path.shift(target.start),
            query: query.map(|q| q.shift(target.start)),
            absolute_form,
            headers,
        }
    }

    /// Takes the header set out (for its room to be reused), leaving this head empty.
    pub(crate) fn take_headers(&mut self) -> Headers {
        self.target = Span::default();
        self.path = Span::default();
        self.query = None;
        std::mem::take(&mut self.headers)
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The protocol version the client spoke.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The raw request-target (`/a/b?c=d`, `http://h/x`, `*`, `host:443`).
    pub fn target(&self) -> &[u8] {
        self.target.of(self.headers.raw())
    }

    /// The path part of the target (before any `?`), still percent-encoded.
    pub fn path(&self) -> &[u8] {
        let path = self.path.of(self.headers.raw());
        if path.is_empty() && self.absolute_form {
            b"/"
        } else {
            path
        }
    }

    /// The query after the first `?`, without the `?`; `None` if there is no `?`.
    pub fn query(&self) -> Option<&[u8]> {
        self.query.map(|q| q.of(self.headers.raw()))
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, mutably (e.g. for a proxy rewriting them).
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

/// Splits a target into path span, optional query span, and whether it is absolute-form.
fn split_target(target: &[u8]) -> (Span, Option<Span>, bool) {
    let (path_start, absolute) = path_start(target);
    let question = memchr::memchr(b'?', &target[path_start..]).map(|i| i + path_start);
    let path_end = question.unwrap_or(target.len());
    let query = question.map(|q| Span::new(q + 1, target.len()));
    (Span::new(path_start, path_end), query, absolute)
}

/// Where the path begins: 0 for origin-form, after the authority for absolute-form.
fn path_start(target: &[u8]) -> (usize, bool) {
    if target.first() == Some(&b'/') {
        return (0, false);
    }
    let Some(sep) = memchr::memmem::find(target, b"://") else {
        return (0, false);
    };
    let authority = sep + 3;
    let rest = &target[authority..];
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    (authority + end, true)
}

impl PartialEq for RequestHead {
    fn eq(&self, other: &RequestHead) -> bool {
        self.method == other.method
            && self.version == other.version
            && self.target() == other.target()
            && self.headers == other.headers
    }
}

impl Eq for RequestHead {}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("target", &String::from_utf8_lossy(self.target()))
            .field("version", &self.version)
            .field("headers", &self.headers)
            .finish()
    }
}

/// The status line and header fields of a response, as issued by a handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// A reason phrase replacing the canonical one.
    pub reason: Option<Vec<u8>>,
    /// The header fields.
    pub headers: Headers,
}

impl ResponseHead {
    /// A head with `status`, the canonical reason and no fields.
    pub fn new(status: StatusCode) -> ResponseHead {
        ResponseHead {
            status,
            reason: None,
            headers: Headers::new(),
        }
    }

    /// Adds a field (builder style).
    pub fn with_header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> ResponseHead {
        self.headers.append(name, value);
        self
    }

    /// The reason phrase to send: the override, else the canonical one, else empty.
    pub fn reason_phrase(&self) -> &[u8] {
        match &self.reason {
            Some(reason) => reason,
            None => self.status.canonical_reason().unwrap_or("").as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &[u8]) -> RequestHead {
        RequestHead::new(Method::Get, target, Version::Http11, Headers::new())
    }

    /// Origin-form targets split into path and query at the first `?`.
    #[test]
    fn origin_form_split() {
        let h = head(b"/a/b?x=1?y");
        assert_eq!(h.path(), b"/a/b");
        assert_eq!(h.query(), Some(&b"x=1?y"[..]));
        assert_eq!(head(b"/p").query(), None);
        assert_eq!(head(b"/p?").query(), Some(&b""[..]));
    }

    /// Absolute-form targets yield the path after the authority, `/` when empty.
    #[test]
    fn absolute_form_split() {
        let h = head(b"http://example.com:8080/x/y?q");
        assert_eq!(h.path(), b"/x/y");
        assert_eq!(h.query(), Some(&b"q"[..]));
        assert_eq!(head(b"http://example.com").path(), b"/");
        assert_eq!(head(b"http://example.com?z").path(), b"/");
    }

    /// Asterisk-form and authority-form targets are kept whole as the path.
    #[test]
    fn other_forms() {
        assert_eq!(head(b"*").path(), b"*");
        assert_eq!(head(b"example.com:443").path(), b"example.com:443");
    }

    /// Registered methods map to variants; other tokens keep their bytes; non-tokens fail.
    #[test]
    fn method_parsing() {
        assert_eq!(Method::from_bytes(b"GET"), Some(Method::Get));
        assert_eq!(
            Method::from_bytes(b"get").map(|m| m.as_bytes().to_vec()),
            Some(b"get".to_vec())
        );
        assert_eq!(
            Method::from_bytes(b"PURGE").map(|m| m.as_bytes().to_vec()),
            Some(b"PURGE".to_vec())
        );
        assert_eq!(Method::from_bytes(b""), None);
        assert_eq!(Method::from_bytes(b"GE T"), None);
        assert_eq!(Method::from_bytes(b"G(T"), None);
    }

    /// Heads compare by content, including the target bytes.
    #[test]
    fn head_equality() {
        assert_eq!(head(b"/a"), head(b"/a"));
        assert_ne!(head(b"/a"), head(b"/b"));
    }

    /// The reason phrase defaults to the canonical one and can be overridden.
    #[test]
    fn reason_phrase_override() {
        let mut r = ResponseHead::new(StatusCode::NOT_FOUND);
        assert_eq!(r.reason_phrase(), b"Not Found");
        r.reason = Some(b"Nope".to_vec());
        assert_eq!(r.reason_phrase(), b"Nope");
        assert_eq!(
            ResponseHead::new(StatusCode::from_u16(299).unwrap_or(StatusCode::OK)).reason_phrase(),
            b""
        );
    }
}

//! Header fields over HTTP/2 (RFC 9113 §8.2, §8.3): validating a decoded
//! request header block into a [`RequestHead`], validating trailers, and
//! turning a response head into the field list HPACK encodes.
//!
//! Tested by: src/http2/tests/fields.rs

use crate::http::{Headers, Method, RequestHead, ResponseHead, Span, Version};

/// Fields that only mean something to one HTTP/1.1 connection (§8.2.2).
pub(crate) const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"proxy-connection",
    b"keep-alive",
    b"transfer-encoding",
    b"upgrade",
];

/// True when `name` is a valid lowercase HTTP/2 field name (pseudo-headers
/// have their colon stripped before this check).
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b.is_ascii_uppercase() && b != b':')
}

/// True when `value` has no NUL, CR or LF and no surrounding whitespace.
fn valid_value(value: &[u8]) -> bool {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
        && !edge(value.first())
        && !edge(value.last())
}

/// Collects the fields of one header block as the decoder emits them.
#[derive(Debug, Default)]
pub(crate) struct BlockReader {
    headers: Headers,
    method: Option<Span>,
    scheme: Option<Span>,
    authority: Option<Span>,
    path: Option<Span>,
    cookies: Vec<u8>,
    content_length: Option<u64>,
    regular_seen: bool,
    error: Option<&'static str>,
}

impl BlockReader {
    /// A reader with room for a block of about `size` bytes.
    pub(crate) fn with_capacity(size: usize) -> BlockReader {
        BlockReader {
            headers: Headers::with_capacity(16, size + size / 2),
            ..BlockReader::default()
        }
    }

    fn fail(&mut self, why: &'static str) {
        self.error.get_or_insert(why);
    }

    /// Takes one decoded field.
    pub(crate) fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if !valid_value(value) {
            return self.fail("invalid character or whitespace in a field value");
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            if self.regular_seen {
                return self.fail("pseudo-header after a regular field");
            }
            let slot = match pseudo {
                b"method" => &mut self.method,
                b"scheme" => &mut self.scheme,
                b"authority" => &mut self.authority,
                b"path" => &mut self.path,
                _ => return self.fail("unknown or response pseudo-header"),
            };
            if slot.is_some() {
                return self.fail("duplicate pseudo-header");
            }
            *slot = Some(self.headers.push_raw(value));
            return;
        }
        self.regular_seen = true;
        if !valid_name(name) {
            return self.fail("invalid field name (uppercase or forbidden character)");
        }
        if CONNECTION_SPECIFIC.contains(&name) {
            return self.fail("connection-specific field");
        }
        match name {
            b"te" if !value.eq_ignore_ascii_case(b"trailers") => {
                return self.fail("TE other than \"trailers\"");
            }
            b"content-length" => {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok());
                match (parsed, self.content_length) {
                    (None, _) => return self.fail("invalid content-length"),
                    (Some(n), Some(m)) if n != m => {
                        return self.fail("conflicting content-length fields");
                    }
                    (Some(n), _) => self.content_length = Some(n),
                }
            }
            b"cookie" => {
                if !self.cookies.is_empty() {
                    self.cookies.extend_from_slice(b"; ");
                }
                self.cookies.extend_from_slice(value);
                return;
            }
            b"host" if self.authority.is_some() => return,
            _ => {}
        }
        self.headers.append(name, value);
    }

    /// Finishes a request block: the head and its declared body length.
    pub(crate) fn into_request(mut self) -> Result<(RequestHead, Option<u64>), &'static str> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let method_span = self.method.ok_or("missing :method")?;
        let method =
            Method::from_bytes(method_span.of(self.headers.raw())).ok_or("invalid :method")?;
        let target = if method == Method::Connect {
            if self.scheme.is_some() || self.path.is_some() {
                return Err(":scheme or :path in a CONNECT request");
            }
            self.authority.ok_or("CONNECT without :authority")?
        } else {
            self.scheme.ok_or("missing :scheme")?;
            let path = self.path.ok_or("missing :path")?;
            if path.start == path.end {
                return Err("empty :path");
            }
            path
        };
        if let Some(authority) = self.authority {
            let value = authority.of(self.headers.raw()).to_vec();
            self.headers.remove("host");
            self.headers.append("host", value);
        }
        if !self.cookies.is_empty() {
            self.headers.append("cookie", &self.cookies);
        }
        let head = RequestHead::from_parsed(method, target, Version::Http2, self.headers);
        Ok((head, self.content_length))
    }

    /// Finishes a trailer block: regular fields only.
    pub(crate) fn into_trailers(mut self) -> Result<Headers, &'static str> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.method.is_some()
            || self.scheme.is_some()
            || self.authority.is_some()
            || self.path.is_some()
        {
            return Err("pseudo-header in trailers");
        }
        if !self.cookies.is_empty() {
            self.headers.append("cookie", &self.cookies);
        }
        Ok(self.headers)
    }
}

/// The three digits of a status code.
pub(crate) fn status_digits(head: &ResponseHead) -> [u8; 3] {
    let code = head.status.as_u16().min(999);
    [
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]
}

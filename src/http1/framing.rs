//! Request message framing and connection semantics from a parsed head
//! (RFC 9112 §6, §9.3; RFC 9110 §7.2, §10.1.1).
//!
//! Rules, in the order they are checked:
//! 1. `Host`: HTTP/1.1 requires exactly one; no request may have two; the
//!    value may only hold authority characters.
//! 2. `Transfer-Encoding` is refused in HTTP/1.0 and together with
//!    `Content-Length`; its list must be well-formed, end in `chunked`, and
//!    contain `chunked` once. Any other coding is 501 (none is implemented).
//! 3. `Content-Length` must appear once, as plain decimal digits (no sign,
//!    no list, even of equal values), fitting in 64 bits.
//! 4. Persistence: HTTP/1.1 keeps alive unless `Connection: close`; HTTP/1.0
//!    only with `Connection: keep-alive` (and no `close`).
//! 5. `Expect: 100-continue` counts only for HTTP/1.1 requests with a body.
//!
//! Tested by: conformance/http1.rs

use super::BodyKind;
use super::error::ProtocolError;
use super::parse::{is_tchar, trim_ows_slice};
use crate::http::{RequestHead, Version};

/// What the connection needs to know about a request beyond its head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    pub(crate) body: BodyKind,
    pub(crate) keep_alive: bool,
    pub(crate) expects_continue: bool,
}

/// Summary of the fields that matter for framing, collected in one pass.
#[derive(Default)]
struct Fields<'a> {
    hosts: usize,
    host: &'a [u8],
    lengths: usize,
    length: &'a [u8],
    codings: Codings,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// The `Transfer-Encoding` list as seen so far.
#[derive(Default)]
struct Codings {
    present: bool,
    count: usize,
    chunked: usize,
    others: usize,
    last_is_chunked: bool,
    malformed: bool,
}

/// Decides body framing, persistence and the continue expectation.
pub(crate) fn analyse(head: &RequestHead) -> Result<RequestInfo, ProtocolError> {
    let fields = collect(head);
    let version = head.version();
    check_host(&fields, version)?;
    let body = body_kind(&fields, version)?;
    let keep_alive = !fields.close && (version != Version::Http10 || fields.keep_alive);
    let has_body = !matches!(body, BodyKind::Empty | BodyKind::Length(0));
    let expects_continue = fields.expect_continue && version == Version::Http11 && has_body;
    Ok(RequestInfo {
        body,
        keep_alive,
        expects_continue,
    })
}

fn collect(head: &RequestHead) -> Fields<'_> {
    let mut fields = Fields::default();
    for (name, value) in head.headers() {
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                fields.hosts += 1;
                fields.host = value;
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                fields.expect_continue |=
                    list(value).any(|e| e.eq_ignore_ascii_case(b"100-continue"));
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in list(value) {
                    fields.close |= token.eq_ignore_ascii_case(b"close");
                    fields.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                fields.lengths += 1;
                fields.length = value;
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => fields.codings.add(value),
            _ => {}
        }
    }
    fields
}

/// The non-empty, OWS-trimmed elements of a comma-separated list.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows_slice)
        .filter(|e| !e.is_empty())
}

impl Codings {
    /// Adds one `Transfer-Encoding` field value to the list.
    fn add(&mut self, value: &[u8]) {
        self.present = true;
        for element in list(value) {
            self.add_coding(element);
        }
    }

    fn add_coding(&mut self, element: &[u8]) {
        let (name, has_params) = match element.iter().position(|&b| b == b';') {
            Some(semi) => (trim_ows_slice(&element[..semi]), true),
            None => (element, false),
        };
        self.count += 1;
        self.malformed |= name.is_empty() || !name.iter().all(|&b| is_tchar(b));
        self.last_is_chunked = name.eq_ignore_ascii_case(b"chunked");
        if self.last_is_chunked {
            self.chunked += 1;
            self.malformed |= has_params;
        } else {
            self.others += 1;
        }
    }

    /// Validates the whole list; `Ok` means the body is chunked.
    fn check(&self) -> Result<(), ProtocolError> {
        if self.malformed || self.count == 0 {
            Err(ProtocolError::InvalidTransferEncoding)
        } else if !self.last_is_chunked {
            Err(ProtocolError::ChunkedNotFinal)
        } else if self.chunked > 1 {
            Err(ProtocolError::ChunkedTwice)
        } else if self.others > 0 {
            Err(ProtocolError::UnsupportedTransferCoding)
        } else {
            Ok(())
        }
    }
}

fn check_host(fields: &Fields<'_>, version: Version) -> Result<(), ProtocolError> {
    if fields.hosts > 1 {
        Err(ProtocolError::MultipleHost)
    } else if fields.hosts == 0 && version == Version::Http11 {
        Err(ProtocolError::MissingHost)
    } else if !fields.host.iter().all(|&b| is_host_byte(b)) {
        Err(ProtocolError::InvalidHost)
    } else {
        Ok(())
    }
}

/// Bytes allowed in `uri-host [ ":" port ]`: unreserved, sub-delims, `:`, `[`, `]`, `%`.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&b)
}

fn body_kind(fields: &Fields<'_>, version: Version) -> Result<BodyKind, ProtocolError> {
    if fields.codings.present {
        if version == Version::Http10 {
            return Err(ProtocolError::TransferEncodingInHttp10);
        }
        if fields.lengths > 0 {
            return Err(ProtocolError::ContentLengthWithTransferEncoding);
        }
        return fields.codings.check().map(|()| BodyKind::Chunked);
    }
    match fields.lengths {
        0 => Ok(BodyKind::Empty),
        1 => parse_content_length(fields.length).map(BodyKind::Length),
        _ => Err(ProtocolError::MultipleContentLength),
    }
}

/// `1*DIGIT` as a u64; a comma means a list of lengths.
pub(crate) fn parse_content_length(value: &[u8]) -> Result<u64, ProtocolError> {
    if value.contains(&b',') {
        return Err(ProtocolError::MultipleContentLength);
    }
    parse_decimal(value).ok_or(ProtocolError::InvalidContentLength)
}

/// Plain non-empty decimal digits that fit in a u64.
pub(crate) fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Headers, Method};

    fn info(version: Version, fields: &[(&str, &str)]) -> Result<RequestInfo, ProtocolError> {
        let mut headers = Headers::new();
        for (n, v) in fields {
            headers.append(n, v);
        }
        analyse(&RequestHead::new(Method::Post, b"/", version, headers))
    }

    /// Decimal parsing accepts leading zeros and rejects signs, hex, spaces and overflow.
    #[test]
    fn decimal_parsing() {
        assert_eq!(parse_decimal(b"007"), Some(7));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+5", b"-5", b"0x5", b"5 5", b"5a"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    /// HTTP/1.0 persists only with keep-alive; HTTP/1.1 unless close.
    #[test]
    fn persistence() {
        let keep = |v, f: &[(&str, &str)]| info(v, f).map(|i| i.keep_alive);
        assert_eq!(keep(Version::Http10, &[]), Ok(false));
        assert_eq!(
            keep(Version::Http10, &[("Connection", "Keep-Alive")]),
            Ok(true)
        );
        assert_eq!(
            keep(Version::Http10, &[("Connection", "keep-alive, close")]),
            Ok(false)
        );
        assert_eq!(keep(Version::Http11, &[("Host", "a")]), Ok(true));
        assert_eq!(
            keep(
                Version::Http11,
                &[("Host", "a"), ("Connection", "foo, CLOSE")]
            ),
            Ok(false)
        );
    }

    /// The continue expectation needs HTTP/1.1 and a non-empty body.
    #[test]
    fn expectation() {
        let cont = |v, f: &[(&str, &str)]| info(v, f).map(|i| i.expects_continue);
        let h = ("Host", "a");
        let e = ("Expect", "100-Continue");
        assert_eq!(
            cont(Version::Http11, &[h, e, ("Content-Length", "3")]),
            Ok(true)
        );
        assert_eq!(
            cont(Version::Http11, &[h, e, ("Content-Length", "0")]),
            Ok(false)
        );
        assert_eq!(cont(Version::Http11, &[h, e]), Ok(false));
        assert_eq!(
            cont(Version::Http10, &[e, ("Content-Length", "3")]),
            Ok(false)
        );
    }

    /// Transfer-Encoding lists: parameters on chunked and empty lists are malformed.
    #[test]
    fn coding_lists() {
        let te = |v: &str| {
            info(Version::Http11, &[("Host", "a"), ("Transfer-Encoding", v)]).map(|i| i.body)
        };
        assert_eq!(te("chunked"), Ok(BodyKind::Chunked));
        assert_eq!(te(", CHUNKED ,"), Ok(BodyKind::Chunked));
        assert_eq!(
            te("chunked;x=1"),
            Err(ProtocolError::InvalidTransferEncoding)
        );
        assert_eq!(te(" , "), Err(ProtocolError::InvalidTransferEncoding));
        assert_eq!(
            te("gzip;q=1, chunked"),
            Err(ProtocolError::UnsupportedTransferCoding)
        );
        assert_eq!(te("chunked, gzip"), Err(ProtocolError::ChunkedNotFinal));
    }
}

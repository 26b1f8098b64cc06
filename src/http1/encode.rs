//! Response serialisation: status line, fields, and body framing.
//!
//! The connection owns framing and persistence, so handler fields are
//! filtered while being written:
//!
//! * `Transfer-Encoding` and `Connection` are dropped; `Connection: close`
//!   from the handler still makes the connection close after the response.
//! * `Content-Length` (one decimal value) selects length framing; it is
//!   dropped from 1xx and 204 responses, kept on 304 and HEAD responses.
//! * Without a length: chunked for HTTP/1.1 clients, close-delimited for
//!   HTTP/1.0 clients.
//! * `Date` is added from the connection's cached value unless present.
//! * HEAD responses get the fields a GET would get; 1xx/204/304 get no
//!   framing fields. None of them carry body bytes.
//!
//! Names must be tokens and values free of CR, LF and NUL (no response
//! splitting); a bad field fails the whole call and writes nothing.
//!
//! Tested by: src/http1/encode.rs (unit tests) and conformance/http1.rs

use super::error::UserError;
use super::framing::parse_decimal;
use crate::http::{ResponseHead, StatusCode, Version, is_token};

/// How response body bytes go on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many more bytes.
    Length { remaining: u64 },
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes.
    CloseDelimited,
    /// No body may be sent (HEAD, 1xx, 204, 304); body bytes are dropped.
    NoBody,
}

/// What the response needs to know about its request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestFacts {
    pub(crate) is_head: bool,
    pub(crate) version: Version,
    /// The connection may persist after this response.
    pub(crate) keep_alive: bool,
}

/// The outcome of writing a final response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) framing: Framing,
    pub(crate) close: bool,
}

/// What the handler's fields said about framing and persistence.
#[derive(Default)]
struct HandlerFields {
    length: Option<u64>,
    close: bool,
    has_date: bool,
}

/// Writes a final response head for `facts`; on error `out` is unchanged.
pub(crate) fn write_response_head(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    facts: RequestFacts,
    date: &[u8],
) -> Result<Plan, UserError> {
    let start = out.len();
    let result = write_fields(out, head).map(|fields| {
        let plan = plan(head.status, facts, &fields);
        finish_head(out, head.status, facts, &fields, plan, date);
        plan
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Writes an informational (1xx) head; on error `out` is unchanged.
pub(crate) fn write_informational_head(
    out: &mut Vec<u8>,
    head: &ResponseHead,
) -> Result<(), UserError> {
    let start = out.len();
    let result = write_fields(out, head).map(|_| out.extend_from_slice(b"\r\n"));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Writes the status line and the handler's fields, filtering framing ones.
fn write_fields(out: &mut Vec<u8>, head: &ResponseHead) -> Result<HandlerFields, UserError> {
    let reason = head.reason_phrase();
    if !is_clean_value(reason) {
        return Err(UserError::InvalidReason);
    }
    write_status_line(out, head.status, reason);
    let drop_length = head.status.is_informational() || head.status == StatusCode::NO_CONTENT;
    let mut fields = HandlerFields::default();
    for (name, value) in &head.headers {
        if !is_token(name) || !is_clean_value(value) {
            return Err(UserError::InvalidHeader);
        }
        if classify(name, value, &mut fields)?
            && !(drop_length && is_named(name, b"content-length"))
        {
            write_field(out, name, value);
        }
    }
    Ok(fields)
}

/// Records framing-relevant fields; returns whether the field is written through.
fn classify(name: &[u8], value: &[u8], fields: &mut HandlerFields) -> Result<bool, UserError> {
    match name.len() {
        4 if is_named(name, b"date") => fields.has_date = true,
        10 if is_named(name, b"connection") => {
            fields.close |= value
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(b"close"));
            return Ok(false);
        }
        14 if is_named(name, b"content-length") => return record_length(value, fields),
        17 if is_named(name, b"transfer-encoding") => return Ok(false),
        _ => {}
    }
    Ok(true)
}

/// Records a handler Content-Length; equal repeats are dropped, differing ones refused.
fn record_length(value: &[u8], fields: &mut HandlerFields) -> Result<bool, UserError> {
    let length = parse_decimal(value).ok_or(UserError::InvalidContentLength)?;
    if fields.length.is_some_and(|l| l != length) {
        return Err(UserError::InvalidContentLength);
    }
    let first = fields.length.is_none();
    fields.length = Some(length);
    Ok(first)
}

fn plan(status: StatusCode, facts: RequestFacts, fields: &HandlerFields) -> Plan {
    let wire_framing = match fields.length {
        _ if status.forbids_body() => Framing::NoBody,
        Some(remaining) => Framing::Length { remaining },
        None if facts.version == Version::Http11 => Framing::Chunked,
        None => Framing::CloseDelimited,
    };
    let close = !facts.keep_alive || fields.close || wire_framing == Framing::CloseDelimited;
    let framing = if facts.is_head {
        Framing::NoBody
    } else {
        wire_framing
    };
    Plan { framing, close }
}

/// Appends the connection-owned fields and the blank line.
fn finish_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    facts: RequestFacts,
    fields: &HandlerFields,
    plan: Plan,
    date: &[u8],
) {
    if !fields.has_date && !date.is_empty() {
        write_field(out, b"Date", date);
    }
    let chunked =
        !status.forbids_body() && fields.length.is_none() && facts.version == Version::Http11;
    if chunked {
        write_field(out, b"Transfer-Encoding", b"chunked");
    }
    if plan.close {
        write_field(out, b"Connection", b"close");
    } else if facts.version == Version::Http10 {
        write_field(out, b"Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

/// `HTTP/1.1 <code> <reason>\r\n` (the highest version we speak, RFC 9110 §6.2).
pub(crate) fn write_status_line(out: &mut Vec<u8>, status: StatusCode, reason: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&status.digits());
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes one chunk (nothing for empty data, which would end the body).
pub(crate) fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    write_hex(out, data.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and an empty trailer section.
pub(crate) fn write_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

fn write_hex(out: &mut Vec<u8>, n: usize) {
    let digits = (usize::BITS - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[(n >> (i * 4)) & 0xf]);
    }
}

/// A plain-text error response that closes the connection; the body is
/// left out (length kept) when answering a HEAD request.
pub(crate) fn write_error_response(
    out: &mut Vec<u8>,
    status: StatusCode,
    detail: &str,
    date: &[u8],
    is_head: bool,
) {
    let reason = status.canonical_reason().unwrap_or("Error");
    write_status_line(out, status, reason.as_bytes());
    write_field(out, b"Content-Type", b"text/plain; charset=utf-8");
    let body_len = 3 + 1 + reason.len() + 2 + detail.len() + 1;
    write_field(out, b"Content-Length", body_len.to_string().as_bytes());
    write_field(out, b"Connection", b"close");
    if !date.is_empty() {
        write_field(out, b"Date", date);
    }
    out.extend_from_slice(b"\r\n");
    if is_head {
        return;
    }
    out.extend_from_slice(&status.digits());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(detail.as_bytes());
    out.push(b'\n');
}

/// `100 Continue`.
pub(crate) fn write_continue(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

fn is_named(name: &[u8], expected: &[u8]) -> bool {
    name.eq_ignore_ascii_case(expected)
}

/// No CR, LF or NUL (anything else a handler sends is passed through).
fn is_clean_value(value: &[u8]) -> bool {
    // Typical values are short, where a plain loop beats setting up a vector search.
    if value.len() < 64 {
        value
            .iter()
            .all(|&b| b > b'\r' || !matches!(b, b'\r' | b'\n' | 0))
    } else {
        memchr::memchr3(b'\r', b'\n', 0, value).is_none()
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    super::parse::trim_ows_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunk sizes are lower-case hex without leading zeros.
    #[test]
    fn hex_sizes() {
        for (n, text) in [
            (1usize, "1"),
            (15, "f"),
            (16, "10"),
            (255, "ff"),
            (4096, "1000"),
            (0, "0"),
        ] {
            let mut out = Vec::new();
            write_hex(&mut out, n);
            assert_eq!(out, text.as_bytes());
        }
    }

    /// The error body length announced matches the body written.
    #[test]
    fn error_response_length_matches() {
        let mut out = Vec::new();
        write_error_response(
            &mut out,
            StatusCode::URI_TOO_LONG,
            "request line too long",
            b"",
            false,
        );
        let text = String::from_utf8(out).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{text}"
        );
        assert_eq!(body, "414 URI Too Long: request line too long\n");
    }

    /// A refused head leaves the output exactly as it was.
    #[test]
    fn refused_head_writes_nothing() {
        let mut out = b"earlier".to_vec();
        let head = ResponseHead::new(StatusCode::OK)
            .with_header("A", "1")
            .with_header("B", "x\ny");
        let facts = RequestFacts {
            is_head: false,
            version: Version::Http11,
            keep_alive: true,
        };
        assert_eq!(
            write_response_head(&mut out, &head, facts, b""),
            Err(UserError::InvalidHeader)
        );
        assert_eq!(out, b"earlier");
    }
}

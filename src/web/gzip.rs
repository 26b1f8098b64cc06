//! On-the-fly gzip for dynamic responses (Twisted's `EncodingResourceWrapper` with
//! `GzipEncoderFactory`): [`GzipResource`] wraps a resource tree and compresses the bodies
//! of clients that accept gzip, streaming — each write is compressed as it comes, nothing
//! waits for the whole body.
//!
//! A response is left alone when it is small (a `Content-Length` under [`GZIP_MIN_LENGTH`]),
//! already encoded, partial (206), bodiless, or of a type that is already compressed (images
//! other than SVG, audio, video, archives, web fonts). Every response of a compressible type
//! gets `Vary: Accept-Encoding`, whether or not this client's copy is compressed, so caches
//! keep the two apart. A compressed response loses its `Content-Length` (the body is framed
//! by chunks) and its entity tag becomes weak.
//!
//! Compressing responses that reflect user input next to secrets over TLS exposes those
//! secrets to the BREACH attack; see docs/static.md.
//!
//! Tested by: reactor_tests/static_files/gzip.rs

use std::rc::Rc;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::request::Request;
use super::resource::{Children, Render, Resource, render_checked};
use super::sink::BodyEncoder;
use crate::http::{Method, ResponseHead, StatusCode};

/// Responses declaring a shorter `Content-Length` are not compressed: gzip's own header and
/// trailer would eat the gain.
pub const GZIP_MIN_LENGTH: u64 = 256;

/// The default compression level (zlib's 1 = fastest … 9 = smallest).
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

/// Wraps a resource tree so that its responses are gzip-compressed for clients that accept it.
#[derive(Clone)]
pub struct GzipResource {
    inner: Rc<dyn Resource>,
    level: u32,
}

impl GzipResource {
    /// Wraps `inner`, compressing at [`DEFAULT_GZIP_LEVEL`].
    pub fn new(inner: Rc<dyn Resource>) -> GzipResource {
        GzipResource::with_level(inner, DEFAULT_GZIP_LEVEL)
    }

    /// Wraps `inner`, compressing at `level` (clamped to 1..=9).
    pub fn with_level(inner: Rc<dyn Resource>, level: u32) -> GzipResource {
        GzipResource {
            inner,
            level: level.clamp(1, 9),
        }
    }
}

impl std::fmt::Debug for GzipResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipResource")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Resource for GzipResource {
    fn is_leaf(&self) -> bool {
        self.inner.is_leaf()
    }

    fn children(&self) -> Option<&Children> {
        None
    }

    fn child(&self, segment: &[u8], request: &Request) -> Option<Rc<dyn Resource>> {
        let child = self.inner.child(segment, request)?;
        Some(Rc::new(GzipResource {
            inner: child,
            level: self.level,
        }))
    }

    fn allowed_methods(&self) -> &[Method] {
        &[]
    }

    fn render(&self, request: &Request) -> Render {
        let accept = request.header("accept-encoding");
        let accepted = accept_encoding_quality(accept.as_deref(), "gzip") > 0.0;
        request.set_body_encoder(Box::new(GzipBodyEncoder {
            accepted,
            level: self.level,
            encoder: None,
        }));
        render_checked(&*self.inner, request)
    }
}

/// The gzip [`BodyEncoder`] installed by [`GzipResource`].
struct GzipBodyEncoder {
    accepted: bool,
    level: u32,
    encoder: Option<GzipStream>,
}

impl BodyEncoder for GzipBodyEncoder {
    fn start(&mut self, head: &mut ResponseHead, _method: &Method) -> bool {
        if !compressible(head) {
            return false;
        }
        add_vary_accept_encoding(head);
        if !self.accepted {
            return false;
        }
        head.headers.set("Content-Encoding", "gzip");
        head.headers.remove("Content-Length");
        if let Some(tag) = head.headers.get("ETag").map(<[u8]>::to_vec) {
            if !tag.starts_with(b"W/") {
                let mut weak = b"W/".to_vec();
                weak.extend_from_slice(&tag);
                head.headers.set("ETag", weak);
            }
        }
        self.encoder = Some(GzipStream::new(self.level));
        true
    }

    fn encode(&mut self, data: &[u8]) -> Vec<u8> {
        match self.encoder.as_mut() {
            Some(encoder) => encoder.encode(data),
            None => data.to_vec(),
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        self.encoder
            .take()
            .map_or_else(Vec::new, GzipStream::finish)
    }
}

/// The gzip header: deflate, no name, no time, unknown system (RFC 1952 §2.3).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A gzip member written as the body goes: each call returns what deflate has emitted so
/// far, without flushing it (so compression is as good as for a whole body), and memory
/// stays at deflate's own window whatever the body's size.
struct GzipStream {
    deflate: Compress,
    crc: Crc,
    header_sent: bool,
}

impl GzipStream {
    fn new(level: u32) -> GzipStream {
        GzipStream {
            deflate: Compress::new(Compression::new(level), false),
            crc: Crc::new(),
            header_sent: false,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.header_sent {
            self.header_sent = true;
            out.extend_from_slice(&GZIP_HEADER);
        }
    }

    fn encode(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        self.start(&mut out);
        self.crc.update(data);
        let mut input = data;
        while !input.is_empty() {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(4096));
            }
            let before = self.deflate.total_in();
            if self
                .deflate
                .compress_vec(input, &mut out, FlushCompress::None)
                .is_err()
            {
                break;
            }
            let consumed = usize::try_from(self.deflate.total_in() - before).unwrap_or(input.len());
            input = &input[consumed.min(input.len())..];
        }
        out
    }

    fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.start(&mut out);
        loop {
            out.reserve(4096);
            match self
                .deflate
                .compress_vec(&[], &mut out, FlushCompress::Finish)
            {
                Ok(Status::StreamEnd) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        out
    }
}

/// Whether this response is worth compressing.
fn compressible(head: &ResponseHead) -> bool {
    let headers = &head.headers;
    if head.status.forbids_body()
        || head.status == StatusCode::PARTIAL_CONTENT
        || headers.contains("Content-Encoding")
        || headers.contains("Content-Range")
    {
        return false;
    }
    let small = headers
        .get("Content-Length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len < GZIP_MIN_LENGTH);
    let content_type = headers.get("Content-Type").unwrap_or(b"text/html");
    !small && !already_compressed(content_type)
}

/// Types whose bodies are compressed already.
fn already_compressed(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or(&[])
        .trim_ascii()
        .to_ascii_lowercase();
    let essence = String::from_utf8_lossy(&essence);
    if essence == "image/svg+xml" {
        return false;
    }
    ["image/", "audio/", "video/"]
        .iter()
        .any(|prefix| essence.starts_with(prefix))
        || matches!(
            essence.as_ref(),
            "application/gzip"
                | "application/x-gzip"
                | "application/zip"
                | "application/x-bzip2"
                | "application/x-xz"
                | "application/zstd"
                | "application/x-7z-compressed"
                | "application/x-rar-compressed"
                | "application/octet-stream"
                | "application/pdf"
                | "font/woff"
                | "font/woff2"
        )
}

fn add_vary_accept_encoding(head: &mut ResponseHead) {
    let Some(vary) = head.headers.get("Vary").map(<[u8]>::to_vec) else {
        head.headers.set("Vary", "Accept-Encoding");
        return;
    };
    let listed = vary
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|name| name == b"*" || name.eq_ignore_ascii_case(b"accept-encoding"));
    if !listed {
        let mut joined = vary;
        joined.extend_from_slice(b", Accept-Encoding");
        head.headers.set("Vary", joined);
    }
}

/// The quality (0 to 1) an `Accept-Encoding` value gives `coding` (RFC 9110 §12.5.3): its own
/// entry, else `*`'s, else 0. No field at all accepts no coding.
pub fn accept_encoding_quality(field: Option<&[u8]>, coding: &str) -> f32 {
    let Some(field) = field else {
        return 0.0;
    };
    let mut wildcard = None;
    for item in field.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let name = parts.next().unwrap_or(&[]).trim_ascii();
        if name.is_empty() {
            continue;
        }
        let quality = parts
            .filter_map(|param| {
                let param = param.trim_ascii();
                let value = param
                    .strip_prefix(b"q=")
                    .or_else(|| param.strip_prefix(b"Q="))?;
                std::str::from_utf8(value).ok()?.trim().parse::<f32>().ok()
            })
            .next()
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let named = name.eq_ignore_ascii_case(coding.as_bytes())
            || (coding == "gzip" && name.eq_ignore_ascii_case(b"x-gzip"));
        if named {
            return quality;
        }
        if name == b"*" {
            wildcard = Some(quality);
        }
    }
    wildcard.unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// q-values, the wildcard and absent fields give the right quality.
    #[test]
    fn qualities() {
        let q = |field: &[u8], coding| accept_encoding_quality(Some(field), coding);
        assert_eq!(q(b"gzip", "gzip"), 1.0);
        assert_eq!(q(b"br;q=0.5, gzip;q=0.8", "gzip"), 0.8);
        assert_eq!(q(b"br;q=0.5, gzip;q=0", "gzip"), 0.0);
        assert_eq!(q(b"*;q=0.3", "br"), 0.3);
        assert_eq!(q(b"gzip;q=0, *", "gzip"), 0.0);
        assert_eq!(q(b"deflate", "gzip"), 0.0);
        assert_eq!(q(b"x-gzip", "gzip"), 1.0);
        assert_eq!(accept_encoding_quality(None, "gzip"), 0.0);
    }

    /// Compressed media and small bodies are left alone; text is compressed.
    #[test]
    fn what_is_compressible() {
        let head = |t: &str, len: Option<&str>| {
            let mut head = ResponseHead::new(StatusCode::OK).with_header("Content-Type", t);
            if let Some(len) = len {
                head.headers.set("Content-Length", len);
            }
            head
        };
        assert!(compressible(&head("text/html; charset=utf-8", None)));
        assert!(compressible(&head("image/svg+xml", Some("1000"))));
        assert!(!compressible(&head("image/png", None)));
        assert!(!compressible(&head("text/plain", Some("10"))));
        let mut partial = head("text/plain", None);
        partial.status = StatusCode::PARTIAL_CONTENT;
        assert!(!compressible(&partial));
    }
}

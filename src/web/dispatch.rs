//! [`HttpDispatch`]: the protocol a [`Site`](super::Site) builds for each
//! connection. It picks HTTP/2 when TLS negotiated `h2` (ALPN) or when the
//! client opens with the HTTP/2 preface (prior knowledge), HTTP/1.1
//! otherwise — and switches an HTTP/1.1 connection to HTTP/2 when a request
//! asks for it with `Upgrade: h2c` (RFC 7540 §3.2).
//!
//! Tested by: reactor_tests/http2.rs

use std::fmt;
use std::rc::Rc;

use super::channel::Http1Channel;
use super::h2_channel::Http2Channel;
use super::site::SiteShared;
use crate::http::{Headers, RequestHead, Version};
use crate::http1::BodyKind;
use crate::http2::{PREFACE, match_preface};
use crate::transport::{DisconnectReason, Protocol, Transport};

/// The response that switches a connection to HTTP/2.
const SWITCHING: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

/// Chooses HTTP/1.1 or HTTP/2 for one connection and runs that channel.
pub struct HttpDispatch {
    site: Rc<SiteShared>,
    transport: Option<Rc<dyn Transport>>,
    active: Active,
    /// Bytes that may still be the start of the HTTP/2 preface.
    undecided: Vec<u8>,
}

enum Active {
    Http1(Http1Channel),
    Http2(Http2Channel),
}

impl HttpDispatch {
    pub(crate) fn new(site: Rc<SiteShared>) -> HttpDispatch {
        let http1 = Http1Channel::new(site.clone());
        HttpDispatch {
            site,
            transport: None,
            active: Active::Http1(http1),
            undecided: Vec::new(),
        }
    }

    fn start_http2(&mut self, channel: Http2Channel) {
        if let Active::Http1(http1) = &self.active {
            http1.detach();
        }
        let mut channel = channel;
        if let Some(transport) = self.transport.clone() {
            channel.connection_made(transport);
        }
        self.active = Active::Http2(channel);
    }

    /// Takes an `Upgrade: h2c` request the HTTP/1.1 channel set aside, if any.
    fn check_upgrade(&mut self) {
        let Active::Http1(http1) = &self.active else {
            return;
        };
        let Some((head, settings)) = http1.take_upgrade() else {
            return;
        };
        http1.detach();
        if let Some(transport) = &self.transport {
            transport.write(SWITCHING);
        }
        if let Some(channel) = Http2Channel::upgraded(self.site.clone(), &settings, head) {
            self.start_http2(channel);
        } else if let Some(transport) = &self.transport {
            transport.lose_connection();
        }
    }
}

impl fmt::Debug for HttpDispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.active {
            Active::Http1(channel) => channel.fmt(f),
            Active::Http2(channel) => channel.fmt(f),
        }
    }
}

impl Protocol for HttpDispatch {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.transport = Some(transport.clone());
        let h2_negotiated = transport.negotiated_protocol().as_deref() == Some(&b"h2"[..]);
        if h2_negotiated && self.site.config().enable_http2 {
            self.start_http2(Http2Channel::new(self.site.clone()));
            return;
        }
        if let Active::Http1(http1) = &mut self.active {
            http1.connection_made(transport.clone());
        }
        // Undecided until the first bytes show whether this is the preface.
        if self.site.config().enable_http2 && !transport.is_secure() {
            self.undecided.reserve(PREFACE.len());
        } else {
            self.undecided = Vec::new();
            self.undecided.shrink_to_fit();
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        if self.undecided.capacity() > 0 && matches!(self.active, Active::Http1(_)) {
            self.undecided.extend_from_slice(data);
            match match_preface(&self.undecided) {
                None => return,
                Some(true) => {
                    let buffered = std::mem::take(&mut self.undecided);
                    self.start_http2(Http2Channel::new(self.site.clone()));
                    if let Active::Http2(channel) = &mut self.active {
                        channel.data_received(&buffered);
                    }
                    return;
                }
                Some(false) => {
                    let buffered = std::mem::take(&mut self.undecided);
                    if let Active::Http1(http1) = &mut self.active {
                        http1.data_received(&buffered);
                    }
                    self.check_upgrade();
                    return;
                }
            }
        }
        match &mut self.active {
            Active::Http1(http1) => http1.data_received(data),
            Active::Http2(http2) => http2.data_received(data),
        }
        self.check_upgrade();
    }

    fn eof_received(&mut self) -> bool {
        if !self.undecided.is_empty() {
            let buffered = std::mem::take(&mut self.undecided);
            if let Active::Http1(http1) = &mut self.active {
                http1.data_received(&buffered);
            }
        }
        self.undecided = Vec::new();
        match &mut self.active {
            Active::Http1(http1) => http1.eof_received(),
            Active::Http2(http2) => http2.eof_received(),
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        match &mut self.active {
            Active::Http1(http1) => http1.connection_lost(reason),
            Active::Http2(http2) => http2.connection_lost(reason),
        }
    }
}

/// The `HTTP2-Settings` payload of a request that asks for `Upgrade: h2c`
/// (RFC 7540 §3.2) and can be upgraded: no body, `Connection` naming both
/// `Upgrade` and `HTTP2-Settings`, one valid base64url settings value.
pub(crate) fn h2c_upgrade(head: &RequestHead, body: BodyKind) -> Option<Vec<u8>> {
    if head.version() != Version::Http11 || !matches!(body, BodyKind::Empty | BodyKind::Length(0)) {
        return None;
    }
    let headers = head.headers();
    let lists = |name: &'static str, token: &[u8]| {
        headers.get_all(name.as_bytes()).any(|value| {
            value
                .split(|&b| b == b',')
                .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
        })
    };
    if !lists("upgrade", b"h2c")
        || !lists("connection", b"upgrade")
        || !lists("connection", b"http2-settings")
    {
        return None;
    }
    let mut values = headers.get_all(b"http2-settings");
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    base64url_decode(value.trim_ascii())
}

/// The request of an upgrade as HTTP/2 sees it: version `HTTP/2`, without
/// the fields that only concerned the HTTP/1.1 hop.
pub(crate) fn upgraded_head(head: &RequestHead) -> RequestHead {
    let mut headers = Headers::with_capacity(head.headers().len(), head.headers().raw().len());
    for (name, value) in head.headers().iter() {
        let hop = [
            &b"connection"[..],
            b"upgrade",
            b"http2-settings",
            b"keep-alive",
            b"te",
        ]
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop));
        if !hop {
            headers.append(name, value);
        }
    }
    RequestHead::new(
        head.method().clone(),
        head.target(),
        Version::Http2,
        headers,
    )
}

/// Decodes unpadded (or padded) base64url; `None` on any other byte.
fn base64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64url_decode;

    /// base64url decodes with and without padding and refuses other alphabets.
    #[test]
    fn base64url() {
        assert_eq!(
            base64url_decode(b"AAMAAABkAAQAoAAAAAIAAAAA").map(|v| v.len()),
            Some(18)
        );
        assert_eq!(base64url_decode(b"aGk"), Some(b"hi".to_vec()));
        assert_eq!(base64url_decode(b"aGk="), Some(b"hi".to_vec()));
        assert_eq!(base64url_decode(b"a+k"), None);
    }
}

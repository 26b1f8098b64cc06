//! [`HttpDispatch`]: the protocol a [`Site`](super::Site) builds for each
//! connection. It picks HTTP/2 when TLS negotiated `h2` (ALPN) or when the
//! client opens with the HTTP/2 preface (prior knowledge), HTTP/1.1
//! otherwise — and switches an HTTP/1.1 connection to HTTP/2 when a request
//! asks for it with `Upgrade: h2c` (RFC 7540 §3.2).
//!
//! While the first bytes of a cleartext connection are still a prefix of the
//! preface, no channel has seen them; the dispatcher bounds that wait itself:
//! a connection still undecided once the HTTP/1.1 header timeout has passed
//! since its first byte is closed. Bytes that leave the preface within its
//! first 18 (`PRI * HTTP/2.0\r\n\r\n`, a complete HTTP/1.1-shaped request)
//! go to HTTP/1.1, which answers them as such (`PRI * HTTP/2.0` followed by
//! header fields gets 505); bytes that match those 18 and then differ come
//! from an HTTP/2 client with a broken preface, which gets HTTP/2's answer: a
//! GOAWAY with PROTOCOL_ERROR, then the connection closes (RFC 9113 §3.4).
//!
//! Tested by: reactor_tests/http2.rs

use std::fmt;
use std::rc::{Rc, Weak};

use super::channel::Http1Channel;
use super::h2_channel::Http2Channel;
use super::site::SiteShared;
use crate::http::{Headers, RequestHead, Version};
use crate::http1::BodyKind;
use crate::http2::{PREFACE, match_preface};
use crate::time::DelayedCall;
use crate::transport::{DisconnectReason, Protocol, Transport};

/// The part of the preface shaped like an HTTP/1.1 request without header
/// fields; past it, only an HTTP/2 client could have sent the bytes.
const PREFACE_REQUEST_LEN: usize = b"PRI * HTTP/2.0\r\n\r\n".len();

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
    /// Closes the connection if it is still undecided at the header timeout.
    undecided_timer: Option<DelayedCall>,
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
            undecided_timer: None,
        }
    }

    /// Starts the bound on an undecided connection at its first byte.
    fn bound_undecided(&mut self) {
        if self.undecided_timer.is_some() {
            return;
        }
        let Some(transport) = &self.transport else {
            return;
        };
        let transport: Weak<dyn Transport> = Rc::downgrade(transport);
        let timeout = self.site.config().http1.header_timeout;
        let call = self.site.clock().call_later(timeout, move || {
            if let Some(transport) = transport.upgrade() {
                transport.lose_connection();
            }
        });
        self.undecided_timer = Some(call);
    }

    /// The protocol is chosen (or the connection is gone): the bound is lifted.
    fn decided(&mut self) {
        if let Some(call) = self.undecided_timer.take() {
            let _ = call.cancel();
        }
    }

    /// Hands the undecided bytes to HTTP/2, which judges the preface.
    fn take_http2(&mut self) {
        self.decided();
        let buffered = std::mem::take(&mut self.undecided);
        self.start_http2(Http2Channel::new(self.site.clone()));
        if let Active::Http2(channel) = &mut self.active {
            channel.data_received(&buffered);
        }
    }

    /// Hands the undecided bytes to HTTP/1.1.
    fn take_http1(&mut self) {
        self.decided();
        let buffered = std::mem::take(&mut self.undecided);
        if let Active::Http1(http1) = &mut self.active {
            http1.data_received(&buffered);
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
                None => self.bound_undecided(),
                Some(true) => self.take_http2(),
                Some(false) if preface_request_matched(&self.undecided) => self.take_http2(),
                Some(false) => {
                    self.take_http1();
                    self.check_upgrade();
                }
            }
            return;
        }
        match &mut self.active {
            Active::Http1(http1) => http1.data_received(data),
            Active::Http2(http2) => http2.data_received(data),
        }
        self.check_upgrade();
    }

    fn eof_received(&mut self) -> bool {
        if preface_request_matched(&self.undecided) {
            self.take_http2();
        } else if !self.undecided.is_empty() {
            self.take_http1();
        }
        self.decided();
        self.undecided = Vec::new();
        match &mut self.active {
            Active::Http1(http1) => http1.eof_received(),
            Active::Http2(http2) => http2.eof_received(),
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.decided();
        match &mut self.active {
            Active::Http1(http1) => http1.connection_lost(reason),
            Active::Http2(http2) => http2.connection_lost(reason),
        }
    }
}

/// Whether `bytes` begin with the HTTP/1.1-shaped part of the preface.
fn preface_request_matched(bytes: &[u8]) -> bool {
    bytes.len() >= PREFACE_REQUEST_LEN
        && bytes[..PREFACE_REQUEST_LEN] == PREFACE[..PREFACE_REQUEST_LEN]
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

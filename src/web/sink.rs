//! The interfaces between a request and the protocol under it: [`ResponseSink`], where a
//! response goes (HTTP/1.1 or an HTTP/2 stream), and [`BodyEncoder`], a content coding applied
//! to a response body on its way out.
//!
//! Tested by: reactor_tests/web.rs

use std::fs::File;
use std::rc::Rc;

use crate::http::{Method, ResponseHead};
use crate::payload::Payload;
use crate::transport::Producer;

/// The protocol side of one request: where its response goes.
///
/// The web layer calls these in order: `send_head` once, `send_body` any
/// number of times, then `finish` or `abort`. Calls after `finish` or
/// `abort` do not happen. Implementations must accept calls made from
/// inside their own event dispatch (queue the work if needed).
pub trait ResponseSink {
    /// Sends the status line and header fields.
    fn send_head(&self, head: ResponseHead);
    /// Sends body bytes.
    fn send_body(&self, data: &[u8]);
    /// Sends body bytes the caller gives up (which spares a copy where the sink can keep them).
    fn send_body_owned(&self, data: Payload) {
        self.send_body(&data);
    }
    /// Sends `len` bytes of `file` from `offset` as body bytes without reading them into
    /// memory (`sendfile(2)`), if this sink can; `false` (the default) means nothing was sent
    /// and the caller must write the bytes itself.
    fn send_file(&self, file: &Rc<File>, offset: u64, len: u64) -> bool {
        let _ = (file, offset, len);
        false
    }
    /// Ends the response.
    fn finish(&self);
    /// Sends the rest of a response at once: the head (unless it was sent already), the body
    /// the caller gives up, and the end. The same as [`send_head`](Self::send_head),
    /// [`send_body_owned`](Self::send_body_owned) (for a non-empty body) and
    /// [`finish`](Self::finish) in turn, which is what it does unless the sink can do better.
    fn send_rest(&self, head: Option<ResponseHead>, body: Payload) {
        if let Some(head) = head {
            self.send_head(head);
        }
        if !body.is_empty() {
            self.send_body_owned(body);
        }
        self.finish();
    }
    /// Gives up on the response: cut it off (or replace it with a 500 if
    /// nothing was sent) and close the stream.
    fn abort(&self);
    /// Lets `producer` be paused and resumed as the outgoing buffer fills and drains.
    fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool);
    /// Removes the producer registered with `register_producer`.
    fn unregister_producer(&self);
}

/// Transforms a response body on its way out: a content coding such as gzip, installed on a
/// request with [`Request::set_body_encoder`].
pub trait BodyEncoder {
    /// Sees the response head just before it is sent and may change it (add
    /// `Content-Encoding`, drop `Content-Length`); returns false to leave this response as it is.
    fn start(&mut self, head: &mut ResponseHead, method: &Method) -> bool;
    /// Encodes body bytes; may hold them back and return nothing yet.
    fn encode(&mut self, data: &[u8]) -> Vec<u8>;
    /// The last encoded bytes, once the body is complete.
    fn finish(&mut self) -> Vec<u8>;
}

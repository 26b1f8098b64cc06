//! Header blocks of [`ServerConn`]: HEADERS and CONTINUATION frames are
//! gathered into one block, decoded, and judged against the stream table (a
//! new request, trailers, a refused or oversized stream).
//!
//! Tested by: src/http2/tests/

use super::conn::{PendingBlock, ServerConn};
use super::error::{ErrorCode, H2Error, conn_err, stream_err};
use super::fields::BlockReader;
use super::{Event, StreamId};
use crate::hpack::DecodeError;
use crate::http::{Headers, Method, ResponseHead, StatusCode};

impl ServerConn {
    pub(super) fn on_headers(
        &mut self,
        stream: u32,
        fragment: &[u8],
        end_stream: bool,
        end_headers: bool,
        depends_on_self: bool,
    ) -> Result<(), H2Error> {
        if stream % 2 == 0 {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "even stream id from a client",
            ));
        }
        if fragment.len() > self.config.max_header_block_size {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "header block too large",
            ));
        }
        if end_headers {
            return self.on_block(stream, fragment, end_stream, depends_on_self);
        }
        self.block = Some(PendingBlock {
            stream,
            buf: fragment.to_vec(),
            end_stream,
            depends_on_self,
            continuations: 0,
        });
        Ok(())
    }

    pub(super) fn on_continuation(
        &mut self,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<(), H2Error> {
        let Some(block) = &mut self.block else {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "CONTINUATION without HEADERS",
            ));
        };
        block.continuations += 1;
        if block.continuations > self.config.max_continuation_frames {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many CONTINUATION frames",
            ));
        }
        if block.buf.len() + fragment.len() > self.config.max_header_block_size {
            return Err(conn_err(
                ErrorCode::ENHANCE_YOUR_CALM,
                "header block too large",
            ));
        }
        block.buf.extend_from_slice(fragment);
        if !end_headers {
            return Ok(());
        }
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        self.on_block(
            block.stream,
            &block.buf,
            block.end_stream,
            block.depends_on_self,
        )
    }

    /// A complete header block: decoded first (HPACK state must follow every
    /// block), then judged against the stream's state.
    pub(super) fn on_block(
        &mut self,
        id: u32,
        block: &[u8],
        end_stream: bool,
        depends_on_self: bool,
    ) -> Result<(), H2Error> {
        let mut reader = BlockReader::with_capacity(block.len());
        let limit = self.config.max_header_list_size as usize;
        match self
            .decoder
            .decode(block, limit, &mut |name, value| reader.field(name, value))
        {
            Ok(()) => {}
            Err(DecodeError::HeaderListTooLarge { .. }) => {
                return self.refuse_oversized(id, end_stream);
            }
            Err(_) => {
                return Err(conn_err(
                    ErrorCode::COMPRESSION_ERROR,
                    "header block cannot be decoded",
                ));
            }
        }
        if let Some(stream) = self.streams.get_mut(&id) {
            // A second block on an open stream: trailers.
            if !stream.recv_open {
                return Err(stream_err(
                    id,
                    ErrorCode::STREAM_CLOSED,
                    "HEADERS after END_STREAM",
                ));
            }
            if !end_stream {
                return Err(stream_err(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    "trailers without END_STREAM",
                ));
            }
            let trailers = reader
                .into_trailers()
                .map_err(|why| stream_err(id, ErrorCode::PROTOCOL_ERROR, why))?;
            return self.end_of_body(id, trailers);
        }
        if id <= self.highest_stream {
            if self.recently_reset.contains(&id) {
                return Ok(());
            }
            return Err(conn_err(
                ErrorCode::STREAM_CLOSED,
                "HEADERS on a closed stream",
            ));
        }
        self.highest_stream = id;
        if self.draining {
            self.reset_stream(id, ErrorCode::REFUSED_STREAM);
            return Ok(());
        }
        if depends_on_self {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "stream depends on itself",
            ));
        }
        if self.streams.len() >= self.config.max_concurrent_streams as usize {
            return Err(stream_err(
                id,
                ErrorCode::REFUSED_STREAM,
                "SETTINGS_MAX_CONCURRENT_STREAMS exceeded",
            ));
        }
        let (head, expected) = reader
            .into_request()
            .map_err(|why| stream_err(id, ErrorCode::PROTOCOL_ERROR, why))?;
        let stream = self.new_stream(expected, *head.method() == Method::Head);
        self.streams.insert(id, stream);
        self.idle_since = None;
        self.flush_data();
        self.events.push_back(Event::Request {
            id: StreamId(id),
            head,
            end_stream,
        });
        if end_stream {
            self.end_of_body(id, Headers::new())?;
        }
        Ok(())
    }

    /// A header list beyond SETTINGS_MAX_HEADER_LIST_SIZE (the decoder read
    /// the whole block, so HPACK stays in step): a new request is answered
    /// 431 by the connection itself; on an open stream it is a reset.
    pub(super) fn refuse_oversized(&mut self, id: u32, end_stream: bool) -> Result<(), H2Error> {
        if id > self.highest_stream && self.draining {
            // After GOAWAY a new stream is refused, whatever its size.
            self.highest_stream = id;
            self.reset_stream(id, ErrorCode::REFUSED_STREAM);
            return Ok(());
        }
        if id <= self.highest_stream
            || self.streams.len() >= self.config.max_concurrent_streams as usize
        {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "header list too large",
            ));
        }
        self.highest_stream = id;
        let mut stream = self.new_stream(None, false);
        stream.recv_open = !end_stream;
        self.streams.insert(id, stream);
        self.idle_since = None;
        let head = ResponseHead::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .with_header("content-length", "0");
        let id = StreamId(id);
        if self.send_response(id, head).is_ok() {
            let _ = self.finish(id);
        }
        self.note_reset();
        Ok(())
    }

    /// The request body of `id` ended (END_STREAM): checks its length.
    pub(super) fn end_of_body(&mut self, id: u32, trailers: Headers) -> Result<(), H2Error> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        if stream.expected_length.is_some_and(|n| n != stream.received) {
            return Err(stream_err(
                id,
                ErrorCode::PROTOCOL_ERROR,
                "body length differs from content-length",
            ));
        }
        stream.recv_open = false;
        self.flush_data();
        self.events.push_back(Event::EndOfMessage {
            id: StreamId(id),
            trailers,
        });
        self.close_if_done(id);
        Ok(())
    }
}

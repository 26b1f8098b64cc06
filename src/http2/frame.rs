//! The frame codec (RFC 9113 §4 and §6): a frame header, the payload of each
//! frame type parsed into a borrowed [`Frame`], and writers that append frames
//! to an output buffer.
//!
//! Parsing checks everything that can be checked from one frame alone
//! (sizes, stream-zero rules, padding, setting values); what depends on
//! connection or stream state is checked by the connection.
//!
//! Tested by: src/http2/tests/frames.rs

use super::error::{ErrorCode, H2Error, conn_err, stream_err};

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;
/// The smallest SETTINGS_MAX_FRAME_SIZE (and its initial value).
pub const MIN_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest flow-control window.
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Frame type codes.
pub(crate) mod kind {
    pub(crate) const DATA: u8 = 0x0;
    pub(crate) const HEADERS: u8 = 0x1;
    pub(crate) const PRIORITY: u8 = 0x2;
    pub(crate) const RST_STREAM: u8 = 0x3;
    pub(crate) const SETTINGS: u8 = 0x4;
    pub(crate) const PUSH_PROMISE: u8 = 0x5;
    pub(crate) const PING: u8 = 0x6;
    pub(crate) const GOAWAY: u8 = 0x7;
    pub(crate) const WINDOW_UPDATE: u8 = 0x8;
    pub(crate) const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub(crate) mod flag {
    pub(crate) const END_STREAM: u8 = 0x1;
    pub(crate) const ACK: u8 = 0x1;
    pub(crate) const END_HEADERS: u8 = 0x4;
    pub(crate) const PADDED: u8 = 0x8;
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// Setting identifiers (RFC 9113 §6.5.2).
pub(crate) mod setting {
    pub(crate) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(crate) const ENABLE_PUSH: u16 = 0x2;
    pub(crate) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(crate) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(crate) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(crate) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// The fixed 9-byte frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    /// Payload length.
    pub len: u32,
    /// Frame type.
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl FrameHead {
    /// Reads a header from the first nine bytes of `buf`, if there are nine.
    pub fn parse(buf: &[u8]) -> Option<FrameHead> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHead {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        })
    }

    fn has(self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One setting from a SETTINGS frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The identifier.
    pub id: u16,
    /// The value.
    pub value: u32,
}

/// A parsed frame, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA: body bytes; `flow_len` is the whole payload (padding included),
    /// which is what flow control counts.
    Data {
        /// Stream.
        stream: u32,
        /// The data, padding removed.
        data: &'a [u8],
        /// Payload length counted by flow control.
        flow_len: u32,
        /// Last frame of the stream.
        end_stream: bool,
    },
    /// HEADERS: the first fragment of a header block (priority fields dropped).
    Headers {
        /// Stream.
        stream: u32,
        /// The header block fragment, padding and priority removed.
        fragment: &'a [u8],
        /// Last frame of the stream.
        end_stream: bool,
        /// The block is complete (no CONTINUATION follows).
        end_headers: bool,
        /// The priority fields name the stream itself (a stream error,
        /// reported once the block is decoded so HPACK stays in step).
        depends_on_self: bool,
    },
    /// PRIORITY: parsed and ignored (RFC 9113 §5.3.2).
    Priority {
        /// Stream.
        stream: u32,
    },
    /// RST_STREAM.
    RstStream {
        /// Stream.
        stream: u32,
        /// Why.
        code: ErrorCode,
    },
    /// SETTINGS; `params` holds whole 6-byte entries (see [`settings`]).
    Settings {
        /// An acknowledgement.
        ack: bool,
        /// The raw entries.
        params: &'a [u8],
    },
    /// PING.
    Ping {
        /// An acknowledgement.
        ack: bool,
        /// Opaque data.
        data: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// Last stream the peer processed.
        last_stream: u32,
        /// Why.
        code: ErrorCode,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// Stream (0 for the connection).
        stream: u32,
        /// Increment (non-zero).
        increment: u32,
    },
    /// CONTINUATION: a further fragment of a header block.
    Continuation {
        /// Stream.
        stream: u32,
        /// The fragment.
        fragment: &'a [u8],
        /// The block is complete.
        end_headers: bool,
    },
    /// A frame of an unknown type: ignored (RFC 9113 §4.1).
    Unknown,
}

/// Iterates the entries of a SETTINGS payload (a multiple of six bytes).
pub fn settings(params: &[u8]) -> impl Iterator<Item = Setting> + '_ {
    params.chunks_exact(6).map(|e| Setting {
        id: u16::from_be_bytes([e[0], e[1]]),
        value: u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
    })
}

fn be32(b: &[u8]) -> u32 {
    b.get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Strips padding from a PADDED frame's payload.
fn unpad(head: FrameHead, payload: &[u8]) -> Result<&[u8], H2Error> {
    if !head.has(flag::PADDED) {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(conn_err(
        ErrorCode::FRAME_SIZE_ERROR,
        "padded frame without pad length",
    ))?;
    let keep = rest.len().checked_sub(usize::from(pad)).ok_or(conn_err(
        ErrorCode::PROTOCOL_ERROR,
        "padding exceeds the payload",
    ))?;
    Ok(&rest[..keep])
}

/// Parses a frame's payload; `payload` holds exactly `head.len` bytes.
pub(crate) fn parse(head: FrameHead, payload: &[u8]) -> Result<Frame<'_>, H2Error> {
    let on_stream = |what: &'static str| -> Result<(), H2Error> {
        if head.stream == 0 {
            Err(conn_err(ErrorCode::PROTOCOL_ERROR, what))
        } else {
            Ok(())
        }
    };
    let on_connection = |what: &'static str| -> Result<(), H2Error> {
        if head.stream != 0 {
            Err(conn_err(ErrorCode::PROTOCOL_ERROR, what))
        } else {
            Ok(())
        }
    };
    Ok(match head.kind {
        kind::DATA => {
            on_stream("DATA on stream 0")?;
            Frame::Data {
                stream: head.stream,
                data: unpad(head, payload)?,
                flow_len: head.len,
                end_stream: head.has(flag::END_STREAM),
            }
        }
        kind::HEADERS => {
            on_stream("HEADERS on stream 0")?;
            let mut fragment = unpad(head, payload)?;
            let mut depends_on_self = false;
            if head.has(flag::PRIORITY) {
                if fragment.len() < 5 {
                    return Err(conn_err(
                        ErrorCode::FRAME_SIZE_ERROR,
                        "HEADERS too short for its priority fields",
                    ));
                }
                depends_on_self = be32(fragment) & MAX_WINDOW == head.stream;
                fragment = &fragment[5..];
            }
            Frame::Headers {
                stream: head.stream,
                fragment,
                end_stream: head.has(flag::END_STREAM),
                end_headers: head.has(flag::END_HEADERS),
                depends_on_self,
            }
        }
        kind::PRIORITY => {
            on_stream("PRIORITY on stream 0")?;
            if payload.len() != 5 {
                return Err(stream_err(
                    head.stream,
                    ErrorCode::FRAME_SIZE_ERROR,
                    "PRIORITY is not 5 bytes",
                ));
            }
            if be32(payload) & MAX_WINDOW == head.stream {
                return Err(stream_err(
                    head.stream,
                    ErrorCode::PROTOCOL_ERROR,
                    "stream depends on itself",
                ));
            }
            Frame::Priority {
                stream: head.stream,
            }
        }
        kind::RST_STREAM => {
            on_stream("RST_STREAM on stream 0")?;
            if payload.len() != 4 {
                return Err(conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "RST_STREAM is not 4 bytes",
                ));
            }
            Frame::RstStream {
                stream: head.stream,
                code: ErrorCode(be32(payload)),
            }
        }
        kind::SETTINGS => {
            on_connection("SETTINGS on a stream")?;
            let ack = head.has(flag::ACK);
            if ack && !payload.is_empty() {
                return Err(conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "SETTINGS ack with a payload",
                ));
            }
            if payload.len() % 6 != 0 {
                return Err(conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "SETTINGS length not a multiple of 6",
                ));
            }
            for s in settings(payload) {
                check_setting(s)?;
            }
            Frame::Settings {
                ack,
                params: payload,
            }
        }
        kind::PUSH_PROMISE => {
            return Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "PUSH_PROMISE from a client",
            ));
        }
        kind::PING => {
            on_connection("PING on a stream")?;
            let data: [u8; 8] = payload
                .try_into()
                .map_err(|_| conn_err(ErrorCode::FRAME_SIZE_ERROR, "PING is not 8 bytes"))?;
            Frame::Ping {
                ack: head.has(flag::ACK),
                data,
            }
        }
        kind::GOAWAY => {
            on_connection("GOAWAY on a stream")?;
            if payload.len() < 8 {
                return Err(conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "GOAWAY shorter than 8 bytes",
                ));
            }
            Frame::GoAway {
                last_stream: be32(payload) & MAX_WINDOW,
                code: ErrorCode(be32(&payload[4..])),
            }
        }
        kind::WINDOW_UPDATE => {
            if payload.len() != 4 {
                return Err(conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "WINDOW_UPDATE is not 4 bytes",
                ));
            }
            let increment = be32(payload) & MAX_WINDOW;
            if increment == 0 {
                return Err(if head.stream == 0 {
                    conn_err(ErrorCode::PROTOCOL_ERROR, "WINDOW_UPDATE of zero")
                } else {
                    stream_err(
                        head.stream,
                        ErrorCode::PROTOCOL_ERROR,
                        "WINDOW_UPDATE of zero",
                    )
                });
            }
            Frame::WindowUpdate {
                stream: head.stream,
                increment,
            }
        }
        kind::CONTINUATION => {
            on_stream("CONTINUATION on stream 0")?;
            Frame::Continuation {
                stream: head.stream,
                fragment: payload,
                end_headers: head.has(flag::END_HEADERS),
            }
        }
        _ => Frame::Unknown,
    })
}

/// Rejects setting values RFC 9113 §6.5.2 forbids.
pub(crate) fn check_setting(s: Setting) -> Result<(), H2Error> {
    match s.id {
        setting::ENABLE_PUSH if s.value > 1 => Err(conn_err(
            ErrorCode::PROTOCOL_ERROR,
            "SETTINGS_ENABLE_PUSH not 0 or 1",
        )),
        setting::INITIAL_WINDOW_SIZE if s.value > MAX_WINDOW => Err(conn_err(
            ErrorCode::FLOW_CONTROL_ERROR,
            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
        )),
        setting::MAX_FRAME_SIZE
            if !(MIN_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&s.value) =>
        {
            Err(conn_err(
                ErrorCode::PROTOCOL_ERROR,
                "SETTINGS_MAX_FRAME_SIZE out of range",
            ))
        }
        _ => Ok(()),
    }
}

/// Appends a frame header.
pub fn write_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = u32::try_from(len)
        .unwrap_or(MAX_MAX_FRAME_SIZE)
        .min(MAX_MAX_FRAME_SIZE);
    let l = len.to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags]);
    out.extend_from_slice(&(stream & MAX_WINDOW).to_be_bytes());
}

/// Appends a SETTINGS frame with `params`.
pub fn write_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    write_head(out, params.len() * 6, kind::SETTINGS, 0, 0);
    for (id, value) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends a SETTINGS acknowledgement.
pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_head(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Appends a PING (or its acknowledgement).
pub fn write_ping(out: &mut Vec<u8>, ack: bool, data: [u8; 8]) {
    write_head(out, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

/// Appends a GOAWAY.
pub fn write_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode, debug: &[u8]) {
    write_head(out, 8 + debug.len(), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends an RST_STREAM.
pub fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    write_head(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.0.to_be_bytes());
}

/// Appends a WINDOW_UPDATE.
pub fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_head(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

/// Appends a DATA frame carrying `data`.
pub fn write_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    let flags = if end_stream { flag::END_STREAM } else { 0 };
    write_head(out, data.len(), kind::DATA, flags, stream);
    out.extend_from_slice(data);
}

/// Appends a header block as HEADERS plus CONTINUATION frames of at most
/// `max_frame` bytes each.
pub fn write_headers(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let max_frame = max_frame.max(1);
    let mut chunks = block.chunks(max_frame);
    let first = chunks.next().unwrap_or_default();
    let mut rest = chunks.peekable();
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if rest.peek().is_none() {
        flags |= flag::END_HEADERS;
    }
    write_head(out, first.len(), kind::HEADERS, flags, stream);
    out.extend_from_slice(first);
    while let Some(chunk) = rest.next() {
        let flags = if rest.peek().is_none() {
            flag::END_HEADERS
        } else {
            0
        };
        write_head(out, chunk.len(), kind::CONTINUATION, flags, stream);
        out.extend_from_slice(chunk);
    }
}

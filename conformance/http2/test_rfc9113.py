"""RFC 9113 conformance of `torsion web` over raw sockets, driven by the Python `h2` library
(frames built by hyperframe where h2 would refuse to send them). Each test pins one MUST that a
server's behaviour shows, named in its docstring. A WSGI app answers over HTTP/2, and httpx
checks the environ it sees.

Run through .ci/test, or: TORSION_BIN=target/debug/torsion .venv/bin/pytest conformance/http2
"""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BINARY = Path(os.environ.get("TORSION_BIN", REPO / "target" / "debug" / "torsion")).resolve()
APPS = REPO / "conformance" / "wsgi" / "apps"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED, FRAME_SIZE_ERROR = 0x1, 0x3, 0x5, 0x6
REFUSED_STREAM, COMPRESSION_ERROR = 0x7, 0x9


def start_torsion(application, cwd):
    """Starts `torsion web` serving the WSGI `application` found in `cwd`, on a free port of
    127.0.0.1 inside this virtual environment; returns the process and the port."""
    env = dict(os.environ, VIRTUAL_ENV=sys.prefix, PATH=f"{sys.prefix}/bin:{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen(
        [str(BINARY), "web", "--wsgi", application, "--listen",
         "tcp:0:interface=127.0.0.1", "--no-access-log"],
        cwd=cwd, env=env, stderr=subprocess.PIPE, text=True,
    )
    line = process.stderr.readline()
    match = re.search(r"on 127\.0\.0\.1:(\d+)", line)
    assert match, f"server did not start: {line}"
    return process, int(match.group(1))


@pytest.fixture(scope="module")
def server():
    process, port = start_torsion("environ_app:application", APPS)
    yield port
    process.terminate()
    process.wait(timeout=20)


class Peer:
    """A raw socket speaking HTTP/2 through an h2 client connection."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.buffer = b""

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def raw(self, *frames):
        self.sock.sendall(b"".join(f.serialize() if isinstance(f, Frame) else f for f in frames))

    def frames(self, until):
        """Reads raw frames until `until(frame)` is true or the connection closes."""
        seen = []
        while True:
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                frame, _ = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                frame.parse_body(memoryview(self.buffer[9:9 + length]))
                self.buffer = self.buffer[9 + length:]
                seen.append(frame)
                if until(frame):
                    return seen
            data = self.sock.recv(65536)
            if not data:
                return seen
            self.buffer += data

    def events(self, until):
        """Reads through h2 until an event satisfies `until`."""
        collected = []
        while True:
            data = self.sock.recv(65536)
            if not data:
                return collected
            for event in self.conn.receive_data(data):
                collected.append(event)
                if until(event):
                    self.flush()
                    return collected
            self.flush()


def headers(path="/", method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", "localhost"),
            (":path", path), *extra]


def goaway(peer):
    frames = peer.frames(lambda f: isinstance(f, GoAwayFrame))
    away = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert away, f"no GOAWAY in {frames}"
    return away[0].error_code


def rst(peer, stream):
    frames = peer.frames(lambda f: isinstance(f, (RstStreamFrame, GoAwayFrame)))
    resets = [f for f in frames if isinstance(f, RstStreamFrame) and f.stream_id == stream]
    assert resets, f"no RST_STREAM in {frames}"
    return resets[0].error_code


def hpack_block(fields):
    import hpack
    return hpack.Encoder().encode(fields)


def test_get_over_h2_prior_knowledge(server):
    """§3.3: a client with prior knowledge gets a response over HTTP/2 at once."""
    peer = Peer(server)
    peer.conn.send_headers(1, headers("/x?a=1"), end_stream=True)
    peer.flush()
    events = peer.events(lambda e: isinstance(e, h2.events.StreamEnded))
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert dict(response.headers)[b":status"] == b"200"
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    environ = json.loads(body)
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert (environ["PATH_INFO"], environ["QUERY_STRING"]) == ("/x", "a=1")


def test_server_preface_is_settings(server):
    """§3.4: the server connection preface is a SETTINGS frame, and the client's SETTINGS is acknowledged (§6.5.3)."""
    peer = Peer(server)
    frames = peer.frames(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags)
    assert isinstance(frames[0], SettingsFrame) and "ACK" not in frames[0].flags


def test_invalid_preface(server):
    """§3.4: an invalid connection preface is a connection error of type PROTOCOL_ERROR: a client
    whose bytes match `PRI * HTTP/2.0\\r\\n\\r\\n` and then differ gets GOAWAY and the connection
    closes."""
    sock = socket.create_connection(("127.0.0.1", server), timeout=5)
    sock.sendall(PREFACE[:-4] + b"XXXX")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    frames = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        frame, _ = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9:9 + length]))
        frames.append(frame)
        data = data[9 + length:]
    assert isinstance(frames[0], SettingsFrame)
    assert isinstance(frames[-1], GoAwayFrame) and frames[-1].error_code == PROTOCOL_ERROR


def test_preface_request_line_with_fields(server):
    """§3.4: `PRI * HTTP/2.0` followed by header fields is not the preface; the cleartext port
    answers it as HTTP/1.1 (505 for the unknown version) and closes."""
    sock = socket.create_connection(("127.0.0.1", server), timeout=5)
    sock.sendall(b"PRI * HTTP/2.0\r\nHost: x\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.1 505 ")


def test_frame_too_large(server):
    """§4.2: a frame larger than SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR."""
    peer = Peer(server)
    peer.conn.send_headers(1, headers(method="POST"))
    peer.flush()
    peer.raw(DataFrame(1, b"x" * 16385))
    assert goaway(peer) == FRAME_SIZE_ERROR


def test_stream_id_even(server):
    """§5.1.1: a stream opened with an even identifier is a connection error (PROTOCOL_ERROR)."""
    peer = Peer(server)
    peer.raw(HeadersFrame(2, hpack_block(headers()), flags=["END_HEADERS", "END_STREAM"]))
    assert goaway(peer) == PROTOCOL_ERROR


def test_data_on_idle_stream(server):
    """§5.1: DATA on an idle stream is a connection error of type PROTOCOL_ERROR."""
    peer = Peer(server)
    peer.raw(DataFrame(1, b"x"))
    assert goaway(peer) == PROTOCOL_ERROR


def test_data_after_end_stream(server):
    """§5.1: DATA on a half-closed (remote) stream is a stream error of type STREAM_CLOSED."""
    peer = Peer(server)
    peer.raw(HeadersFrame(1, hpack_block(headers()), flags=["END_HEADERS", "END_STREAM"]),
             DataFrame(1, b"x"))
    assert rst(peer, 1) == STREAM_CLOSED


def test_max_concurrent_streams(server):
    """§5.1.2: streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused (REFUSED_STREAM)."""
    peer = Peer(server)
    encoder_fields = headers(method="POST")
    import hpack
    encoder = hpack.Encoder()
    frames = [HeadersFrame(2 * i + 1, encoder.encode(encoder_fields), flags=["END_HEADERS"])
              for i in range(101)]
    peer.raw(*frames)
    assert rst(peer, 201) == REFUSED_STREAM


def test_continuation_interrupted(server):
    """§6.10: a header block interrupted by another frame is a PROTOCOL_ERROR."""
    peer = Peer(server)
    block = hpack_block(headers())
    peer.raw(HeadersFrame(1, block[:3], flags=["END_STREAM"]), PingFrame(0, b"12345678"),
             ContinuationFrame(1, block[3:], flags=["END_HEADERS"]))
    assert goaway(peer) == PROTOCOL_ERROR


def test_settings_ack_with_payload(server):
    """§6.5: a SETTINGS ack with a payload is a FRAME_SIZE_ERROR."""
    peer = Peer(server)
    peer.raw(b"\x00\x00\x06\x04\x01\x00\x00\x00\x00" + b"\x00\x01\x00\x00\x10\x00")
    assert goaway(peer) == FRAME_SIZE_ERROR


def test_settings_invalid_window(server):
    """§6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a FLOW_CONTROL_ERROR."""
    peer = Peer(server)
    peer.raw(SettingsFrame(0, settings={4: 2**31}))
    assert goaway(peer) == FLOW_CONTROL_ERROR


def test_ping_is_echoed(server):
    """§6.7: a PING is answered by a PING with the ACK flag and the same payload."""
    peer = Peer(server)
    peer.raw(PingFrame(0, b"abcdefgh"))
    frames = peer.frames(lambda f: isinstance(f, PingFrame))
    ping = frames[-1]
    assert "ACK" in ping.flags and ping.opaque_data == b"abcdefgh"


def test_ping_wrong_length(server):
    """§6.7: a PING whose length is not 8 is a FRAME_SIZE_ERROR."""
    peer = Peer(server)
    peer.raw(b"\x00\x00\x04\x06\x00\x00\x00\x00\x00abcd")
    assert goaway(peer) == FRAME_SIZE_ERROR


def test_window_update_zero(server):
    """§6.9: a WINDOW_UPDATE of 0 on the connection is a PROTOCOL_ERROR."""
    peer = Peer(server)
    peer.raw(b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert goaway(peer) == PROTOCOL_ERROR


def test_window_overflow(server):
    """§6.9.1: a window above 2^31-1 is a FLOW_CONTROL_ERROR."""
    peer = Peer(server)
    peer.raw(WindowUpdateFrame(0, 2**31 - 1))
    assert goaway(peer) == FLOW_CONTROL_ERROR


def test_uppercase_field_name(server):
    """§8.2.1: a field name with uppercase characters makes the request malformed (PROTOCOL_ERROR)."""
    peer = Peer(server)
    peer.raw(HeadersFrame(1, hpack_block(headers(extra=[("X-Upper", "1")])),
                          flags=["END_HEADERS", "END_STREAM"]))
    assert rst(peer, 1) == PROTOCOL_ERROR


def test_connection_specific_field(server):
    """§8.2.2: a connection-specific field makes the request malformed."""
    peer = Peer(server)
    peer.raw(HeadersFrame(1, hpack_block(headers(extra=[("connection", "keep-alive")])),
                          flags=["END_HEADERS", "END_STREAM"]))
    assert rst(peer, 1) == PROTOCOL_ERROR


def test_missing_pseudo_header(server):
    """§8.3.1: a request without :path is malformed."""
    peer = Peer(server)
    fields = [f for f in headers() if f[0] != ":path"]
    peer.raw(HeadersFrame(1, hpack_block(fields), flags=["END_HEADERS", "END_STREAM"]))
    assert rst(peer, 1) == PROTOCOL_ERROR


def test_content_length_mismatch(server):
    """§8.1.1: DATA that disagrees with content-length makes the request malformed."""
    peer = Peer(server)
    block = hpack_block(headers(method="POST", extra=[("content-length", "3")]))
    peer.raw(HeadersFrame(1, block, flags=["END_HEADERS"]), DataFrame(1, b"abcd", flags=["END_STREAM"]))
    assert rst(peer, 1) == PROTOCOL_ERROR


def test_bad_hpack(server):
    """§4.3: a header block that cannot be decoded is a COMPRESSION_ERROR."""
    peer = Peer(server)
    peer.raw(HeadersFrame(1, b"\xff\xff\xff\xff\xff\xff", flags=["END_HEADERS", "END_STREAM"]))
    assert goaway(peer) == COMPRESSION_ERROR


def test_httpx_wsgi_environ(server):
    """A WSGI app over HTTP/2 (httpx, prior knowledge) sees SERVER_PROTOCOL HTTP/2, Host from
    :authority and its body."""
    with httpx.Client(http1=False, http2=True) as client:
        response = client.post(f"http://127.0.0.1:{server}/env?x=1", content=b"hello",
                               headers={"cookie": "a=1"})
    assert response.http_version == "HTTP/2"
    environ = response.json()
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{server}"
    assert environ["HTTP_COOKIE"] == "a=1"
    assert (environ["QUERY_STRING"], environ["body"]) == ("x=1", "hello")

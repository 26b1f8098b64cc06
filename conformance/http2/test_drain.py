"""HTTP/2 graceful shutdown and back-pressure of `torsion web`, driven by the Python `h2` library
over raw sockets: a shut-down server sends GOAWAY and finishes the streams in flight, and a
client that keeps a stream's window shut holds the application back without the server
buffering the response.

Run through .ci/test, or: TORSION_BIN=target/debug/torsion .venv/bin/pytest conformance/http2
"""

import signal
import time
from pathlib import Path

import h2.events
import pytest
from hyperframe.frame import GoAwayFrame, HeadersFrame, RstStreamFrame

from test_rfc9113 import Peer, headers, start_torsion

HERE = Path(__file__).resolve().parent
REFUSED_STREAM = 0x7
CHUNK = 65536


@pytest.fixture
def server():
    process, port = start_torsion("flow_app:application", HERE / "apps")
    yield process, port
    if process.poll() is None:
        process.kill()
    process.wait(timeout=20)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_shutdown_sends_goaway_and_finishes_streams_in_flight(server):
    """On SIGTERM every HTTP/2 connection gets GOAWAY naming the last stream accepted; that
    stream's request body still arrives and its response completes, a newer stream is refused
    (REFUSED_STREAM), then the connection closes and the server exits cleanly."""
    process, port = server
    peer = Peer(port)
    peer.conn.send_headers(1, headers("/echo", method="POST"))
    peer.conn.send_data(1, b"first half, ")
    peer.flush()
    # The stream is accepted once the server has answered the client's SETTINGS after it.
    peer.conn.ping(b"accepted")
    peer.flush()
    peer.events(lambda e: isinstance(e, h2.events.PingAckReceived))

    process.send_signal(signal.SIGTERM)
    frames = peer.frames(lambda f: isinstance(f, GoAwayFrame))
    away = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert away, f"no GOAWAY in {frames}"
    assert (away[0].last_stream_id, away[0].error_code) == (1, 0)

    # A stream opened after GOAWAY is refused (sent raw: h2 would not open it); the one in
    # flight goes on.
    peer.raw(HeadersFrame(3, peer.conn.encoder.encode(headers("/late")),
                          flags=["END_HEADERS", "END_STREAM"]))
    frames = peer.frames(lambda f: isinstance(f, RstStreamFrame))
    assert [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)] == [
        (3, REFUSED_STREAM)]

    peer.conn.send_data(1, b"second half", end_stream=True)
    peer.flush()
    events = peer.events(lambda e: isinstance(e, h2.events.StreamEnded))
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert dict(response.headers)[b":status"] == b"200"
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    assert body == b"first half, second half"
    while peer.sock.recv(65536):  # the socket's timeout fails the test if it stays open
        pass
    assert process.wait(timeout=20) == 0


def test_slow_reader_holds_the_application_back(server):
    """A client that never opens a stream's window stops the application producing a large
    body soon after the window is used (flow control and transport back-pressure reach the
    worker's credit); the server's memory stays bounded, other streams on the same
    connection are still served, and once the window opens the whole body arrives."""
    process, port = server
    chunks = 512  # 32 MiB
    peer = Peer(port)
    # The connection window stays wide open; only stream 1's stays at the initial 65,535.
    peer.conn.increment_flow_control_window(2**30)
    peer.flush()
    baseline = rss_bytes(process.pid)
    peer.conn.send_headers(1, headers(f"/stream?chunks={chunks}"), end_stream=True)
    peer.flush()
    received = {1: 0}
    ended = set()

    def absorb(events):
        for event in events:
            if isinstance(event, h2.events.DataReceived):
                received[event.stream_id] = received.get(event.stream_id, 0) + len(event.data)
                if event.stream_id != 1:
                    peer.conn.acknowledge_received_data(event.flow_controlled_length,
                                                        event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                ended.add(event.stream_id)

    def produced(stream_id):
        peer.conn.send_headers(stream_id, headers("/produced"), end_stream=True)
        peer.flush()
        data = []

        def done(event):
            if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                data.append(event.data)
            return isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id

        absorb(peer.events(done))
        return int(b"".join(data))

    # Poll (each poll a request served on the same connection) until the count stops moving.
    deadline = time.monotonic() + 30
    stream_id, last, unchanged = 3, -1, 0
    while unchanged < 20:
        assert time.monotonic() < deadline, f"the application kept producing: {last} chunks"
        count = produced(stream_id)
        stream_id += 2
        unchanged = unchanged + 1 if count == last else 0
        last = count
    assert received[1] <= 65535, "data beyond the stream window"
    assert last < 32, f"{last} chunks of 64 KiB produced for a client reading none"
    growth = rss_bytes(process.pid) - baseline
    assert growth < 24 * 1024 * 1024, f"server memory grew by {growth} bytes"

    # The window opens: the rest of the body flows and the stream completes.
    peer.conn.increment_flow_control_window(2**30, stream_id=1)
    peer.flush()
    deadline = time.monotonic() + 60
    while 1 not in ended:
        assert time.monotonic() < deadline, f"stalled at {received[1]} bytes"
        data = peer.sock.recv(1 << 20)
        assert data, "the connection closed"
        absorb(peer.conn.receive_data(data))
        peer.flush()
    assert received[1] == chunks * CHUNK

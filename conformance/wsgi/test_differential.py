"""Differential check: the same raw requests sent to torsion and to Twisted's `twist web --wsgi`,
both serving an application that reports its environ. Where Twisted is right, the two must
agree; where Twisted is known to be wrong (documented in docs/wsgi.md), torsion's fix is
asserted instead.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BINARY = Path(os.environ.get("TORSION_BIN", HERE.parent.parent / "target" / "debug" / "torsion")).resolve()

# Keys whose values legitimately differ between two servers.
SERVER_SPECIFIC = {"SERVER_SOFTWARE", "REMOTE_PORT", "SERVER_PORT", "wsgi.errors", "wsgi.input",
                   "wsgi.file_wrapper", "wsgi.input_terminated"}
# Twisted's known faults that torsion fixes: it adds HTTP_CONTENT_* duplicates.
TWISTED_FAULTS = {"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"}

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
    b"GET /a/b/c HTTP/1.1\r\nHost: example.org:8080\r\n\r\n",
    b"GET /caf%C3%A9/x%20y?q=%2F&r=a+b HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /odd?%2F=%2F&empty=&flag HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /q?foo=?bar HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /multi HTTP/1.1\r\nHost: h\r\nX-Dup: one\r\nX-Dup: two\r\nFoo-Bar: dashed\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 7\r\n\r\na=1&b=2",
    b"PUT /thing HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /old HTTP/1.0\r\n\r\n",
    b"DELETE /thing/1 HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


@pytest.fixture(scope="module")
def servers():
    env = dict(os.environ, VIRTUAL_ENV=sys.prefix, PYTHONPATH=str(HERE / "apps"))
    torsion_port, twisted_port = free_port(), free_port()
    processes = [
        subprocess.Popen([str(BINARY), "web", "--wsgi", "environ_app:application", "--no-access-log",
                          "--listen", f"tcp:{torsion_port}:interface=127.0.0.1"],
                         cwd=HERE / "apps", env=env, stderr=subprocess.DEVNULL),
        subprocess.Popen([f"{sys.prefix}/bin/twist", "web", "--wsgi", "environ_app.application",
                          "--listen", f"tcp:{twisted_port}:interface=127.0.0.1"],
                         cwd=HERE / "apps", env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
    ]
    try:
        wait_for(torsion_port)
        wait_for(twisted_port)
        yield torsion_port, twisted_port
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def exchange(port, raw):
    """Sends one raw request and returns (status code, the environ the app reported)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"Transfer-Encoding: chunked" in head:
        decoded = b""
        while body:
            size_line, _, rest = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded += rest[:size]
            body = rest[size + 2:]
        body = decoded
    return status, json.loads(body)


@pytest.mark.parametrize("raw", REQUESTS, ids=lambda r: r.split(b"\r\n")[0].decode())
def test_environ_matches_twisted(servers, raw):
    """Both servers answer the request and give the application the same environ, except for
    server-specific keys and Twisted's documented faults."""
    torsion_port, twisted_port = servers
    ours_status, ours = exchange(torsion_port, raw)
    theirs_status, theirs = exchange(twisted_port, raw)
    assert ours_status == theirs_status == 200
    for key in TWISTED_FAULTS:
        assert key not in ours, f"torsion must not send {key}"
    compared = set(ours) | set(theirs)
    compared -= SERVER_SPECIFIC | TWISTED_FAULTS
    differences = {k: (ours.get(k), theirs.get(k)) for k in sorted(compared) if ours.get(k) != theirs.get(k)}
    assert not differences, f"torsion vs Twisted: {differences}"


def test_torsion_sets_what_twisted_omits(servers):
    """torsion adds REMOTE_PORT, SERVER_SOFTWARE and wsgi.input_terminated (PEP 3333 and
    common practice), which Twisted leaves out or gets wrong."""
    torsion_port, _ = servers
    _, ours = exchange(torsion_port, REQUESTS[0])
    assert re.fullmatch(r"\d+", ours["REMOTE_PORT"])
    assert ours["SERVER_SOFTWARE"].startswith("torsion/")
    assert ours["wsgi.input_terminated"] is True

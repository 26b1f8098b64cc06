"""An application for the HTTP/2 drain and back-pressure tests.

GET /stream?chunks=N answers N chunks of 64 KiB from a generator and counts, per process, how
many it has produced; GET /produced reports that count. Anything else echoes the request body.
"""
import threading

CHUNK = b"x" * 65536
_lock = threading.Lock()
_produced = 0


def _stream(chunks):
    global _produced
    for _ in range(chunks):
        with _lock:
            _produced += 1
        yield CHUNK


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        chunks = int(environ["QUERY_STRING"].partition("=")[2] or "1")
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(chunks * len(CHUNK)))])
        return _stream(chunks)
    if path == "/produced":
        with _lock:
            body = str(_produced).encode()
    else:
        body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

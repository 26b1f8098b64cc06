"""The smallest WSGI application: `torsion web --wsgi hello.application` from this directory."""


def application(environ, start_response):
    body = b"Hello from torsion!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

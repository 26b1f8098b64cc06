"""Reports the environ it was called with as JSON (values that are not plain data become their
type name), plus the request body."""
import json


def application(environ, start_response):
    report = {}
    for key, value in environ.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            report[key] = value
        elif isinstance(value, tuple):
            report[key] = list(value)
        else:
            report[key] = type(value).__name__
    report["body"] = environ["wsgi.input"].read().decode("latin-1")
    body = json.dumps(report, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

"""A page with many assets, for the browser test: `/` links ASSETS images and a script that
reports, once everything loaded, which protocol carried the page and each asset."""

ASSETS = 60

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>assets</title></head>
<body>
{images}
<pre id="result">pending</pre>
<script src="/report.js"></script>
</body></html>
"""

REPORT = b"""
window.addEventListener("load", function () {
  var navigation = performance.getEntriesByType("navigation")[0];
  var assets = performance.getEntriesByType("resource").map(function (entry) {
    return {name: entry.name, protocol: entry.nextHopProtocol};
  });
  var loaded = Array.prototype.filter.call(document.images, function (image) {
    return image.complete && image.naturalWidth > 0;
  }).length;
  document.getElementById("result").textContent = JSON.stringify({
    page: navigation.nextHopProtocol, assets: assets, images_loaded: loaded
  });
});
"""


def svg(number):
    hue = number * 360 // ASSETS
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">'
        f'<rect width="16" height="16" fill="hsl({hue},70%,50%)"/></svg>'
    ).encode()


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
        images = "\n".join(f'<img src="/asset/{n}.svg" alt="{n}">' for n in range(ASSETS))
        body = PAGE.format(images=images).encode()
        content_type = "text/html; charset=utf-8"
    elif path == "/report.js":
        body, content_type = REPORT, "application/javascript"
    elif path.startswith("/asset/") and path.endswith(".svg"):
        body, content_type = svg(int(path[len("/asset/"):-len(".svg")])), "image/svg+xml"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]

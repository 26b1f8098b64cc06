"""Headless Chromium (Debian's package) loads a page with many assets from the real
`torsion web` binary over https: ALPN picks HTTP/2, and every asset arrives over it.

Run through .ci/test, or: TORSION_BIN=target/debug/torsion .venv/bin/pytest conformance/browser
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BINARY = Path(os.environ.get("TORSION_BIN", REPO / "target" / "debug" / "torsion")).resolve()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sys.path.insert(0, str(HERE))
from assets_app import ASSETS  # noqa: E402


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1, key and chain in one PEM."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    both = tmp_path / "both.pem"
    both.write_bytes(key.read_bytes() + cert.read_bytes())
    return both


@pytest.fixture
def https_server(certificate):
    env = dict(os.environ, VIRTUAL_ENV=sys.prefix)
    process = subprocess.Popen(
        [str(BINARY), "web", "--wsgi", "assets_app:app",
         "--listen", f"ssl:0:privateKey={certificate}:interface=127.0.0.1",
         "--no-access-log"],
        cwd=HERE, env=env, stderr=subprocess.PIPE, text=True,
    )
    line = process.stderr.readline()
    match = re.search(r"on (127\.0\.0\.1:\d+)", line)
    assert match, f"server did not start: {line}{process.stderr.read()}"
    yield f"https://{match.group(1)}/"
    process.terminate()
    process.wait(timeout=20)


def load_in_chromium(url):
    """The page's DOM after load, as headless Chromium dumps it."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--ignore-certificate-errors", f"--user-data-dir={profile}",
             "--virtual-time-budget=15000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_page_with_many_assets_loads_over_http2(https_server):
    """Chromium negotiates h2 by ALPN and loads the page and all its assets over HTTP/2."""
    dom = load_in_chromium(https_server)
    match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    result = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["page"] == "h2"
    assert result["images_loaded"] == ASSETS
    protocols = {entry["name"]: entry["protocol"] for entry in result["assets"]}
    assert len(protocols) == ASSETS + 1, protocols
    assert set(protocols.values()) == {"h2"}, protocols

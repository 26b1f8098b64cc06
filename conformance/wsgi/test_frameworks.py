"""Real frameworks served by the real `torsion web --wsgi` binary on 127.0.0.1, driven by real
HTTP clients (requests, httpx). The server runs with this virtualenv activated, so these tests
also pin that torsion loads the packages of the venv the user activated.

Run through .ci/test, or: TORSION_BIN=target/debug/torsion .venv/bin/pytest conformance/wsgi
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BINARY = Path(os.environ.get("TORSION_BIN", REPO / "target" / "debug" / "torsion")).resolve()


class Server:
    """A torsion process serving one application; stopped with SIGTERM."""

    def __init__(self, app, cwd, extra_env=None):
        env = dict(os.environ)
        env["VIRTUAL_ENV"] = sys.prefix
        env["PATH"] = f"{sys.prefix}/bin:{env.get('PATH', '')}"
        env.pop("PYTHONPATH", None)
        env.update(extra_env or {})
        self.process = subprocess.Popen(
            [str(BINARY), "web", "--wsgi", app, "--listen", "tcp:0:interface=127.0.0.1",
             "--no-access-log", "--display-tracebacks"],
            cwd=cwd, env=env, stderr=subprocess.PIPE, text=True,
        )
        line = self.process.stderr.readline()
        match = re.search(r"on (127\.0\.0\.1:\d+)", line)
        assert match, f"server did not start: {line}{self.process.stderr.read()}"
        self.base = f"http://{match.group(1)}"

    def stop(self):
        self.process.terminate()
        code = self.process.wait(timeout=20)
        log = self.process.stderr.read()
        return code, log


@pytest.fixture
def serve():
    servers = []

    def start(app, cwd=HERE / "apps", extra_env=None):
        server = Server(app, cwd, extra_env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


# Flask


def test_flask_json(serve):
    """A Flask JSON view gets its query arguments and answers JSON."""
    server = serve("flask_app:app")
    response = requests.get(f"{server.base}/json", params={"q": "caf\u00e9"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"message": "hello", "args": {"q": "caf\u00e9"}}


def test_flask_form_post(serve):
    """A urlencoded form POST reaches request.form, repeated fields included."""
    server = serve("flask_app:app")
    response = requests.post(f"{server.base}/form", data={"name": "Ada", "tag": ["a", "b"]})
    assert response.json() == {"name": "Ada", "tags": ["a", "b"]}


def test_flask_redirect(serve):
    """A redirect is a 302 with a Location the client follows."""
    server = serve("flask_app:app")
    response = requests.get(f"{server.base}/redirect", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/json?from=redirect")
    assert requests.get(f"{server.base}/redirect").json()["args"] == {"from": "redirect"}


def test_flask_cookies(serve):
    """Several Set-Cookie headers reach the client and come back in one Cookie header."""
    server = serve("flask_app:app")
    with requests.Session() as session:
        first = session.get(f"{server.base}/cookie/set")
        assert first.headers["Set-Cookie"].count("flavour=oatmeal") == 1
        assert session.get(f"{server.base}/cookie/get").json() == {"flavour": "oatmeal", "size": "large"}


def test_flask_streaming(serve):
    """A streamed response arrives whole, chunk by chunk."""
    server = serve("flask_app:app")
    with httpx.stream("GET", f"{server.base}/stream") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        text = "".join(response.iter_text())
    assert text == "".join(f"line {n}\n" for n in range(1000))


def test_flask_multipart_upload(serve):
    """A 3 MB multipart upload arrives intact with its form fields."""
    server = serve("flask_app:app")
    data = os.urandom(3 * 1024 * 1024)
    response = requests.post(
        f"{server.base}/upload",
        files={"file": ("blob.bin", data, "application/octet-stream")},
        data={"note": "big one"},
    )
    assert response.json() == {
        "filename": "blob.bin", "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "note": "big one",
    }


def test_flask_view_error_is_500(serve):
    """An exception in a Flask view is Flask's own 500 page, and the server goes on."""
    server = serve("flask_app:app")
    assert requests.get(f"{server.base}/error").status_code == 500
    assert requests.get(f"{server.base}/json").status_code == 200


def test_flask_keep_alive_many_requests(serve):
    """One kept-alive session serves many requests in a row."""
    server = serve("flask_app:app")
    with requests.Session() as session:
        for n in range(50):
            assert session.get(f"{server.base}/json", params={"n": n}).json()["args"] == {"n": str(n)}


# Pyramid and Bottle


def test_pyramid_routes_and_json(serve):
    """Pyramid routes a GET and renders a JSON POST."""
    server = serve("pyramid_app:app")
    assert requests.get(f"{server.base}/hello/world").text == "Hello world from Pyramid"
    response = requests.post(f"{server.base}/total", json={"numbers": [1, 2, 3.5]})
    assert response.json() == {"total": 6.5, "script_name": "", "path_info": "/total"}


def test_bottle_routes_query_and_body(serve):
    """Bottle routes with a query argument, echoes a POST body, and 404s unknown paths."""
    server = serve("bottle_app:app")
    assert requests.get(f"{server.base}/hello/you?q=1").text == "Hello you from Bottle (q=1)"
    assert requests.post(f"{server.base}/echo", data="body text").json() == {"received": "body text"}
    assert requests.get(f"{server.base}/nope").status_code == 404


# Django


@pytest.fixture(scope="module")
def django_project(tmp_path_factory):
    """A project made by django-admin startproject, migrated, with a superuser."""
    root = tmp_path_factory.mktemp("django")
    admin = shutil.which("django-admin", path=f"{sys.prefix}/bin")
    subprocess.run([admin, "startproject", "mysite", str(root)], check=True)
    settings = root / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace(
        "ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']"))
    manage = [sys.executable, "manage.py"]
    subprocess.run(manage + ["migrate", "--noinput"], cwd=root, check=True, capture_output=True)
    create = ("from django.contrib.auth.models import User; "
              "User.objects.create_superuser('admin', 'admin@example.org', 'correct horse')")
    subprocess.run(manage + ["shell", "-c", create], cwd=root, check=True)
    return root


def test_django_admin_login(serve, django_project):
    """The Django admin login works: CSRF cookie and token, session, redirect, admin index."""
    server = serve("mysite.wsgi.application", cwd=django_project)
    with requests.Session() as session:
        page = session.get(f"{server.base}/admin/login/?next=/admin/")
        assert page.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        assert "csrftoken" in session.cookies
        login = session.post(
            f"{server.base}/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": "admin",
                  "password": "correct horse", "next": "/admin/"},
            headers={"Referer": f"{server.base}/admin/login/"},
            allow_redirects=False,
        )
        assert login.status_code == 302, login.text[:500]
        assert login.headers["Location"] == "/admin/"
        assert "sessionid" in session.cookies
        index = session.get(f"{server.base}/admin/")
        assert index.status_code == 200
        assert "Site administration" in index.text


def test_django_wrong_password_stays_on_login(serve, django_project):
    """A wrong password gets the login form again, not a session."""
    server = serve("mysite.wsgi.application", cwd=django_project)
    with requests.Session() as session:
        page = session.get(f"{server.base}/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = session.post(
            f"{server.base}/admin/login/",
            data={"csrfmiddlewaretoken": token, "username": "admin", "password": "wrong"},
            headers={"Referer": f"{server.base}/admin/login/"},
        )
        assert response.status_code == 200
        assert "sessionid" not in session.cookies


def test_django_csrf_rejects_missing_token(serve, django_project):
    """A POST without the CSRF token is refused with 403 by Django."""
    server = serve("mysite.wsgi.application", cwd=django_project)
    response = requests.post(f"{server.base}/admin/login/", data={"username": "admin"})
    assert response.status_code == 403


# The server itself


def test_sigterm_exits_cleanly(serve):
    """SIGTERM shuts the server down with status 0."""
    server = serve("flask_app:app")
    assert requests.get(f"{server.base}/json").status_code == 200
    code, _ = server.stop()
    assert code == 0


@pytest.fixture
def venv_only_module():
    """A module that exists only in this virtualenv's site-packages."""
    path = Path(sysconfig.get_paths()["purelib"]) / "torsion_venv_only.py"
    path.write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'served from the venv']\n"
    )
    yield "torsion_venv_only:app"
    path.unlink()


def test_activated_venv_packages_are_importable(serve, venv_only_module):
    """With the virtualenv activated, a module installed only there is served."""
    server = serve(venv_only_module)
    assert requests.get(f"{server.base}/").text == "served from the venv"


def test_without_the_venv_its_packages_are_missing(venv_only_module):
    """From a clean shell without the virtualenv, a module installed only there is not found,
    and the error says so in one line."""
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [str(BINARY), "web", "--wsgi", venv_only_module, "--listen", "tcp:0:interface=127.0.0.1"],
        cwd=HERE / "apps", env=env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    assert "torsion_venv_only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr

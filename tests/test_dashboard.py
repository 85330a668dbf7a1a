"""The example dashboard's files at /dashboard/ (devstack_client/dashboard/): served open, typed, revalidated,
nothing else of the package served, no API data without a key, linked from the Swagger page."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from devstack_client import create_app, dashboard
from devstack_client.apikeys import new_key
from tests.fakes import CREDENTIALS

DASHBOARD = Path(__file__).resolve().parent.parent / "devstack_client" / "dashboard"
OPERATOR, OPERATOR_LINE = new_key("operator", "dashboard")
FILES = {
    "/dashboard/": "text/html; charset=utf-8",
    "/dashboard/index.html": "text/html; charset=utf-8",
    "/dashboard/app.js": "text/javascript; charset=utf-8",
    "/dashboard/style.css": "text/css; charset=utf-8",
    "/dashboard/vendor/devstack-client.js": "text/javascript; charset=utf-8",
    "/dashboard/vendor/openapi-fetch.js": "text/javascript; charset=utf-8",
}


@pytest.fixture
def keyed(cloud):
    """A gateway where every /api/v1 call needs an API key."""
    return create_app({**CREDENTIALS, "API_KEYS": OPERATOR_LINE}).test_client()


@pytest.mark.parametrize(("path", "content_type"), FILES.items())
def test_the_page_and_its_files_are_served_without_a_key(keyed, cloud, path, content_type):
    with keyed.get(path) as response:  # a file's answer: closed, or its file stays open
        response.get_data()

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type  # a module script of another type is refused
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Upgrades change the files under the same URLs: always revalidate, cheaply (ETag).
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"]
    name = "index.html" if path == "/dashboard/" else path.removeprefix("/dashboard/")
    assert response.data == (DASHBOARD / name).read_bytes()
    assert cloud.history == []  # static files: nothing asked of OpenStack


def test_the_page_may_run_only_its_own_scripts(client):
    with client.get("/dashboard/") as response:
        policy = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
        html = response.get_data(as_text=True)

    # The import map, the page's one inline script, is allowed by its hash (the browser test runs the page).
    importmap = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert len(re.findall(r"<script\b", html)) == 2  # the import map and app.js: nothing else inline
    with client.get("/dashboard/app.js") as script:
        assert "Content-Security-Policy" not in script.headers


def test_a_revalidation_is_a_304_without_a_body(client):
    with client.get("/dashboard/app.js") as first:
        etag = first.headers["ETag"]

    with client.get("/dashboard/app.js", headers={"If-None-Match": etag}) as response:
        response.get_data()

    assert response.status_code == 304
    assert response.data == b""


def test_without_the_slash_it_redirects_relatively(client):
    # The page's URLs are relative: read from /dashboard, app.js would be /app.js.
    response = client.get("/dashboard")

    assert response.status_code == 308
    assert response.headers["Location"] == "dashboard/"
    assert response.data == b""


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/nothing.js",
        "/dashboard/__init__.py",  # the module beside the files
        "/dashboard/vendor/",
        "/dashboard/vendor/../__init__.py",
        "/dashboard/%2e%2e/config.py",
        "/dashboard/..%2fconfig.py",
        "/dashboard/vendor/openapi-fetch.js.map",
    ],
)
def test_anything_else_is_a_json_404(client, cloud, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert response.json["message"]
    assert cloud.history == []


def test_the_page_holds_no_data_and_the_api_still_wants_the_key(keyed, cloud):
    with keyed.get("/dashboard/") as served:
        page = served.get_data(as_text=True)
    refused = keyed.get("/api/v1/server")

    assert refused.status_code == 401 and refused.json["code"] == "unauthorized"
    assert cloud.history == []
    assert OPERATOR not in page and "project" not in page.lower()
    # The key the user types is kept in the tab and sent as a header, never put in a URL.
    app = (DASHBOARD / "app.js").read_text()
    assert "sessionStorage" in app and "localStorage" not in app
    assert not re.search(r"[?&](api_?key|token)=", app, re.I)


def test_the_swagger_page_links_the_dashboard(client):
    for document in ("/swagger.json", "/openapi.json"):
        description = client.get(document).json["info"]["description"]
        assert "](dashboard/)" in description, document  # relative: the Swagger UI is at /

    with client.get("/dashboard/") as page:
        assert page.status_code == 200


def test_every_import_resolves_without_a_build_step():
    # The browser resolves bare specifiers through index.html's import map only: one missing is a blank page.
    html = (DASHBOARD / "index.html").read_text()
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))["imports"]
    scripts = [DASHBOARD / "app.js", *sorted((DASHBOARD / "vendor").glob("*.js"))]
    specifiers = {
        s
        for script in scripts
        for s in re.findall(r'^(?:import|export)\b[^;]*?from\s*"([^"]+)"', script.read_text(), re.M)
    }

    assert {s for s in specifiers if not s.startswith(".")} == set(imports)
    for target in imports.values():
        assert (DASHBOARD / target).is_file(), target
    for referenced in re.findall(r'(?:src|href)="([^"]+)"', html):
        if not referenced.startswith("../"):  # the API reference, the gateway's own page
            assert (DASHBOARD / referenced).is_file(), referenced


def test_the_package_ships_every_file_it_serves():
    # A pip-installed gateway (the container image's) has only what setup.py's package_data lists.
    tree = ast.parse((DASHBOARD.parent.parent / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    package_data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    globs = package_data["devstack_client.dashboard"]
    served = {p for p in DASHBOARD.rglob("*") if p.suffix in dashboard.TYPES}
    shipped = {p for pattern in globs for p in DASHBOARD.glob(pattern)}  # setuptools' globs: no ** crossing

    assert len(served) == 5 and served <= shipped, sorted(str(p) for p in served - shipped)

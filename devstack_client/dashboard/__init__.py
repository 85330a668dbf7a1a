"""The example dashboard at ``/dashboard/``: static files only, one copy, shipped inside the package.

The page holds no data: it calls ``/api/v1`` from the browser with the key or token
its user types, so the files themselves are served without authentication (like the
Swagger UI at ``/``). ``vendor/`` holds the TypeScript client's build and openapi-fetch,
byte for byte what ``npm ci`` builds in clients/typescript (tests/test_typescript_client.py
compares them; ``npm run dashboard`` there refreshes them).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from flask import Flask, Response, send_from_directory
from werkzeug.exceptions import NotFound

HERE = Path(__file__).resolve().parent
# Only these are served: never this module's source or its __pycache__. The types are fixed here rather than
# guessed from /etc/mime.types: a module script with another type is refused by the browser.
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _policy() -> str:
    """The page's Content-Security-Policy: its own files and its own origin's API only, never framed."""
    # The import map is the one inline script: allowed by its hash, so an injected script would not run.
    importmap = re.search(r'<script type="importmap">(.*?)</script>', (HERE / "index.html").read_text(), re.S)
    digest = base64.b64encode(hashlib.sha256(importmap.group(1).encode()).digest()).decode() if importmap else ""
    return (
        f"default-src 'none'; script-src 'self' 'sha256-{digest}'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


POLICY = _policy()


def _asset(name: str = "index.html") -> Response:
    if Path(name).suffix not in TYPES:
        raise NotFound()
    # no-cache: the files change when the gateway is upgraded and their URLs do not, so the browser
    # revalidates each time (ETag / Last-Modified: a 304 without a body).
    response = send_from_directory(HERE, name, mimetype=TYPES[Path(name).suffix], max_age=None, conditional=True)
    response.cache_control.no_cache = True
    response.cache_control.public = None
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name.endswith(".html"):
        response.headers["Content-Security-Policy"] = POLICY
    return response


def _to_the_page() -> Response:
    # Relative, so that it holds behind a proxy's path prefix; no body (Werkzeug's would be an HTML page).
    return Response(status=308, headers={"Location": "dashboard/"})


def init_app(app: Flask) -> None:
    # The page's URLs are relative (it works under a proxy's path prefix too): it must be read from /dashboard/.
    app.add_url_rule("/dashboard", "dashboard_root", _to_the_page, strict_slashes=True)
    app.add_url_rule("/dashboard/", "dashboard", _asset, strict_slashes=True)
    app.add_url_rule("/dashboard/<path:name>", "dashboard_asset", _asset)

"""Cross-origin calls from browser dashboards, for the configured origins only (``CORS_ORIGINS``)."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from devstack_client.config import Settings

# What a dashboard reads from our answers and sends with its calls.
EXPOSED = ["Location", "X-Request-Id", "Idempotent-Replayed", "Retry-After", "ETag"]
ALLOWED = [
    "Content-Type", "Authorization", "X-Auth-Token", "Idempotency-Key", "X-Request-Id", "If-Match", "If-None-Match"
]  # fmt: skip
PREFLIGHT_CACHE_SECONDS = 600


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["settings"]
    origins = list(settings.cors_origins)
    if not origins:
        return  # no CORS headers at all: browsers keep other sites' pages out
    CORS(
        app,
        origins=origins,
        expose_headers=EXPOSED,
        allow_headers=ALLOWED,
        methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        max_age=PREFLIGHT_CACHE_SECONDS,
        supports_credentials=False,  # no cookies: callers authenticate with headers
        vary_header=True,
        always_send=False,  # not to curl or servers, which send no Origin
    )
    app.logger.info("CORS: browsers may call from %s", ", ".join(origins))

"""Conditional reads and writes (OpenStack API-SIG caching and ETag guidelines).

Every 200 answer to a GET under ``/api/`` carries a strong ``ETag`` computed over a stable serialisation of
its JSON (sorted keys), ``Cache-Control: private, no-cache`` (each caller's own view, to be revalidated), and
``Vary`` on the credentials. A GET whose ``If-None-Match`` holds that tag answers 304 without a body: the
gateway still asks OpenStack (it has no other way to know; a flavor list or image names may come from the
catalog cache, services/catalog.py), but the answer is not sent again. A ``PATCH`` or
an action on a server with ``If-Match`` answers 412 ``precondition_failed`` when the server's tag is another
one (someone changed it since the caller read it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
from flask import Flask, Response, request

from devstack_client.api.representation import document_of
from devstack_client.errors import PreconditionFailed

CACHE_CONTROL = "private, no-cache"
VARY = ("Authorization", "X-Auth-Token")


def etag(document: Any) -> str:
    """The strong entity tag of a JSON document: the same content always gives the same tag."""
    return '"' + hashlib.sha256(canonical(document)).hexdigest()[:32] + '"'


def canonical(document: Any) -> bytes:
    """``document`` as compact JSON with sorted keys and UTF-8 text: the same bytes in every process."""
    try:
        # Byte for byte what the standard library writes with these settings (tests/api/test_etag.py),
        # so that tags stay those of earlier releases, at a tenth of the cost.
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # What orjson refuses (integers beyond 64 bits, keys that are not strings): the standard
        # library's bytes, of the document as a client decodes it (keys as strings), as before.
        decoded = json.loads(json.dumps(document))
        return json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _listed(header: str | None) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in (header or "").split(",") if tag.strip()}


def check_if_match(current: Any) -> None:
    """Raise PreconditionFailed unless the request's ``If-Match`` (if any) holds the tag of ``current``."""
    wanted = _listed(request.headers.get("If-Match"))
    tag = etag(current)
    if wanted and "*" not in wanted and tag not in wanted:
        raise PreconditionFailed(tag)


def _conditional(response: Response) -> Response:
    if request.method not in ("GET", "HEAD") or response.status_code != 200 or not request.path.startswith("/api/"):
        return response
    if response.mimetype != "application/json":
        return response
    tag = etag(document_of(response))
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.vary.update(VARY)
    matches = _listed(request.headers.get("If-None-Match"))
    if tag in matches or "*" in matches:
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_conditional)

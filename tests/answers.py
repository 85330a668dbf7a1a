"""Every JSON answer the wire tests get, checked against the app's own OpenAPI document.

What a model says is always there (``required``) and never null (no ``nullable``) is a promise a
generated client builds its types on (openapi.py's mark_answers derives both from the models).
Each answer a test client gets goes through ``check``: a field missing or null where the document
says it cannot be fails the test that met it, on any namespace, new ones included.
"""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator

DOCUMENT: dict[str, Any] = {}  # the first app's /openapi.json: answers' shapes do not depend on settings
_validators: dict[tuple[str, str, str], OAS30Validator | None] = {}
_routes: list[tuple[re.Pattern[str], str]] = []


class CheckedClient(FlaskClient):
    """Flask's test client, checking each JSON answer against the document's schema for its status."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        if not DOCUMENT:
            DOCUMENT.update(self.application.extensions["openapi"])
        check(response.request.method, response.request.path, response)
        return response


def check(method: str, path: str, response: Any) -> None:
    if response.is_streamed or response.mimetype != "application/json" or method == "HEAD":
        return
    validator = _validator(method, path, str(response.status_code))
    if validator is None:
        return
    body = response.get_json()
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        where = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors[:5]]
        raise AssertionError(
            f"{method} {path} answered {response.status_code} outside /openapi.json's schema:\n  " + "\n  ".join(where)
        )


def _validator(method: str, path: str, status: str) -> OAS30Validator | None:
    """The validator of an operation's answer with this status; None when the document does not describe it."""
    template = _template(path)
    key = (template or path, method.lower(), status)
    if key not in _validators:
        operation = DOCUMENT["paths"].get(template, {}).get(method.lower(), {}) if template else {}
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        _validators[key] = (
            None if schema is None else OAS30Validator({"allOf": [schema], "components": DOCUMENT["components"]})
        )
    return _validators[key]


def _template(path: str) -> str | None:
    if not _routes:
        # Fixed segments first: /api/v1/server/events and /dry-run are not a server called so.
        templates = sorted(DOCUMENT["paths"], key=lambda t: (t.count("{"), -len(t)))
        for template in templates:
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
            _routes.append((re.compile(pattern + "/?"), template))
    return next((template for pattern, template in _routes if pattern.fullmatch(path)), None)

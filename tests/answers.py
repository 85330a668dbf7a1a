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
from openapi_schema_validator import OAS31Validator

DOCUMENT: dict[str, Any] = {}  # the first app's /openapi.json: answers' shapes do not depend on settings
_validators: dict[tuple[str, str, str], OAS31Validator | None] = {}
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
    # (The test client's answers all count as streamed: an event stream is told by its type.)
    if response.mimetype != "application/json" or method == "HEAD":
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


# The data of each event of the server stream (clients/typescript/src/index.ts types them so).
EVENT_DATA = {
    "added": {"$ref": "#/components/schemas/Server"},
    "modified": {"$ref": "#/components/schemas/Server"},
    "deleted": {"$ref": "#/components/schemas/Server"},
    "synced": {"type": "object", "required": ["servers"], "properties": {"servers": {"type": "integer"}}},
    "bookmark": {"type": "object", "maxProperties": 0},
    "expired": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
}


def check_event(kind: str, data: Any) -> None:
    """An event of the server stream: its data has the shape of its kind (a server: the Server schema)."""
    assert kind in EVENT_DATA, f"an event of an unknown kind: {kind}"
    if DOCUMENT:
        validator = OAS31Validator({"allOf": [EVENT_DATA[kind]], "components": DOCUMENT["components"]})
        errors = [
            f"{'/'.join(map(str, e.absolute_path)) or '(data)'}: {e.message}" for e in validator.iter_errors(data)
        ]
        assert not errors, f"a {kind} event outside /openapi.json's Server schema:\n  " + "\n  ".join(errors[:5])


def _validator(method: str, path: str, status: str) -> OAS31Validator | None:
    """The validator of an operation's answer with this status; None when the document does not describe it."""
    template = _template(path)
    key = (template or path, method.lower(), status)
    if key not in _validators:
        operation = DOCUMENT["paths"].get(template, {}).get(method.lower(), {}) if template else {}
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        _validators[key] = (
            None if schema is None else OAS31Validator({"allOf": [schema], "components": DOCUMENT["components"]})
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

"""What every namespace shares: the error model and its documented answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_restx import Model, Namespace, fields

error_model = Model(
    "Error",
    {
        "code": fields.String(required=True, description="Stable machine-readable code", example="not_found"),
        "message": fields.String(
            required=True, description="What went wrong, for a human", example="No image with the id or name 'cirros'."
        ),
        "upstream_status": fields.Integer(description="HTTP status OpenStack answered with", example=404),
        "request_id": fields.String(
            description="This request's id (also in the X-Request-Id header), sent to OpenStack as its global "
            "request id",
            example="req-0f3c3d5e-8d4b-4a57-9a0c-6f1e2b7d8c90",
        ),
        "upstream_request_id": fields.String(
            description="OpenStack's request id, for its logs", example="req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e"
        ),
    },
)

next_marker_field = fields.String(
    description="Pass as `marker` to get the next page; null on the last page",
    example="2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84",
)

ERRORS = {
    400: "A bad or unknown query parameter or body field (`invalid_request`, with `errors`), over quota "
    "(`quota_exceeded`) or refused by OpenStack (`bad_request`)",
    401: "No or unknown API key (`unauthorized`), or a Keystone token refused (`invalid_token`)",
    403: "A reader key writing (`forbidden_role`), the gateway's credentials missing (`credentials_missing`) "
    "or refused (`authentication_failed`), or forbidden",
    404: "No such resource (`not_found`)",
    409: "The name matches several resources (`ambiguous_name`, with `candidates`) or a conflict",
    413: "The body is over 64 KiB (`request_entity_too_large`)",
    414: "The URL is over 4 KiB (`uri_too_long`)",
    415: "The body's Content-Type is not JSON (`unsupported_media_type`, with `accepted`)",
    501: "The cloud has no service this needs, e.g. no Cinder for volumes (`not_supported`)",
    502: "OpenStack failed (`upstream_error`)",
    503: "OpenStack unreachable, unavailable or misconfigured",
    504: "OpenStack did not answer in time (`upstream_timeout`)",
}
# Every /api/v1 operation refuses unknown query parameters (400) and over-long URLs (414).
READ_ERRORS = (400, 401, 403, 414, 502, 503, 504)
# Every operation that reads a body.
BODY_ERRORS = (400, 413, 415)


def documents_errors(ns: Namespace, *codes: int) -> Callable[[Any], Any]:
    """Document the error answers an operation can give."""

    ns.add_model(error_model.name, error_model)

    def decorate(func: Any) -> Any:
        for code in sorted(set(codes), reverse=True):
            func = ns.response(code, ERRORS[code], error_model)(func)
        return func

    return decorate


def mark_nullable(spec: dict[str, Any]) -> dict[str, Any]:
    """Say in the spec which answer fields may be null: every one a model does not mark required.

    Swagger 2.0 has no ``null`` type and flask-restx emits none, yet most of
    what we answer is OpenStack's, where absent values are null (a server's
    ``key_name``, an image's ``name``, ``next_marker`` on the last page). The
    ``x-nullable`` extension says so (Swagger UI and schemathesis read it).
    Input models (``additionalProperties: false``) are left as they are: null
    is not a value a caller may send.
    """
    for model in spec.get("definitions", {}).values():
        if model.get("additionalProperties") is False:
            continue
        for part in [model, *model.get("allOf", [])]:
            required = set(part.get("required", []))
            properties = part.get("properties", {})
            for name, prop in properties.items():
                if name in required:
                    continue
                if "$ref" in prop:  # siblings of $ref are ignored: wrap it
                    ref = prop.pop("$ref")
                    prop["allOf"] = [{"$ref": ref}]
                prop["x-nullable"] = True
    return spec


NOT_MODIFIED = "Not modified: the `If-None-Match` header holds the answer's current `ETag` (no body)"


def mark_conditional(spec: dict[str, Any]) -> dict[str, Any]:
    """Say that every JSON read of the API may answer 304 (api/caching.py answers it, after any view)."""
    for path, operations in spec.get("paths", {}).items():
        get = operations.get("get")
        if path.startswith("/api/") and get and "text/event-stream" not in get.get("produces", []):
            get["responses"].setdefault("304", {"description": NOT_MODIFIED})
    return spec

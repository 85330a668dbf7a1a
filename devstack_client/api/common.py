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
        "upstream_status": fields.Integer(
            required=False, nullable=True, description="HTTP status OpenStack answered with", example=404
        ),
        "request_id": fields.String(
            required=False,
            description="This request's id (also in the X-Request-Id header), sent to OpenStack as its global "
            "request id",
            example="req-0f3c3d5e-8d4b-4a57-9a0c-6f1e2b7d8c90",
        ),
        "upstream_request_id": fields.String(
            required=False,
            nullable=True,
            description="OpenStack's request id, for its logs",
            example="req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e",
        ),
    },
)


class MapOf(fields.Nested):
    """A JSON object whose values are ``model`` (or lists of it): documented so, answered as it is.

    A Nested, so that restx documents ``model``; it answers the value unmarshalled (the service shapes it).
    """

    def __init__(self, model: Model, *, lists: bool = False, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.lists = lists

    def schema(self) -> dict[str, Any]:
        value: dict[str, Any] = {"$ref": f"#/definitions/{self.nested.name}"}
        if self.lists:
            value = {"type": "array", "items": value}
        return {**fields.Raw.schema(self), "type": "object", "additionalProperties": value}

    def output(self, key: Any, obj: Any, ordered: bool = False, **kwargs: Any) -> Any:
        return fields.Raw.output(self, key, obj, ordered=ordered)


next_marker_field = fields.String(
    nullable=True,
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


def may_be_null(field: Any) -> bool:
    """Whether an answer field may be null: ``nullable=True`` (``allow_null=True`` on a ``fields.Nested``)."""
    return bool(getattr(field, "nullable", None) or getattr(field, "allow_null", False))


def mark_answers(spec: dict[str, Any], models: dict[str, Model]) -> dict[str, Any]:
    """Say in the spec which answer fields are always there (``required``) and which may be null (``x-nullable``).

    Both come from the models, so a new namespace's come out right by themselves:

    - An answer field is always there unless its model declares it ``required=False``: restx's
      marshal writes every field of the model (None when the value is missing), and the services
      that skip marshal answer exactly their model's fields (tests/api/test_server_shape.py). The
      error model declares its optional fields so; the wire tests check every JSON answer against
      the OpenAPI document (tests/answers.py), so a field that is sometimes missing fails them.
    - It may be null only if it says so: ``nullable=True`` (or ``allow_null=True`` on a Nested).
      Swagger 2.0 has no ``null`` type: the ``x-nullable`` extension says it (Swagger UI,
      schemathesis and swagger2openapi read it; /openapi.json turns it into ``nullable``).

    Input models (``strict=True``, hence ``additionalProperties: false``) keep their own
    ``required``, and are never nullable: null is not a value a caller may send.
    """
    for name, definition in spec.get("definitions", {}).items():
        model = models.get(name)
        if model is None or definition.get("additionalProperties") is False:
            continue
        own = definition["allOf"][-1] if "allOf" in definition else definition  # an inherit()'s own fields
        required = sorted(key for key, field in model.items() if getattr(field, "required", None) is not False)
        if required:
            own["required"] = required
        else:
            own.pop("required", None)
        properties = own.get("properties", {})
        for key, field in model.items():
            prop = properties.get(key)
            if prop is None or not may_be_null(field):
                continue
            if "$ref" in prop:  # siblings of $ref are ignored: wrap it
                prop["allOf"] = [{"$ref": prop.pop("$ref")}]
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

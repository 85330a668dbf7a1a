"""Read a JSON request body and check it against an input model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_restx import Model
from jsonschema import Draft4Validator

from devstack_client.errors import InvalidRequest, UnsupportedMediaType
from devstack_client.services.rules import sendable

# The body is JSON whatever it is labelled, as long as the label does not say
# it is something else: curl -d sends application/x-www-form-urlencoded by
# default, and some clients send no Content-Type at all.
ACCEPTED_MEDIA_TYPES = ("application/json", "application/*+json", "application/x-www-form-urlencoded")


def parse_body(model: Model, check: Callable[[dict[str, Any]], list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """Return the request's JSON object, or raise InvalidRequest naming every bad field.

    ``check`` adds the errors a schema cannot express (one field or another).
    """
    media_type = request.mimetype  # "" without a Content-Type
    if media_type and not (
        media_type in ACCEPTED_MEDIA_TYPES or (media_type.startswith("application/") and media_type.endswith("+json"))
    ):
        raise UnsupportedMediaType(media_type, ACCEPTED_MEDIA_TYPES)
    if not request.get_data(cache=True):
        raise InvalidRequest(f"A JSON body is required: {_expected(model)}.")
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # not a ValueError, so `silent` lets it through: "[[[[…" a few KB deep
        raise InvalidRequest(f"The body is nested too deeply: expected {_expected(model)}.") from None
    if body is None:
        raise InvalidRequest(f"The body is not valid JSON: expected {_expected(model)}.")
    if not isinstance(body, dict):
        raise InvalidRequest(f"The body must be a JSON object: {_expected(model)}.")
    errors = []
    for error in sorted(Draft4Validator(model.__schema__).iter_errors(body), key=str):
        if error.validator == "required":
            name = error.message.split("'")[1]
            errors.append({"field": name, "message": f"{name} is required"})
        elif error.validator == "minProperties":
            errors.append({"field": "body", "message": f"send at least one of {', '.join(model)}"})
        elif error.validator == "additionalProperties":
            unknown = sorted(set(body) - set(model))
            errors.extend({"field": name, "message": f"{name} is not a known field"} for name in unknown)
        else:
            name = ".".join(str(p) for p in error.path) or "body"
            errors.append({"field": name, "message": f"{name}: {_plain(error)}"})
    errors.extend(
        {"field": name, "message": f"{name} must not contain a NUL character"} for name in _unsendable(body, "")
    )
    if check:
        errors.extend(check(body))
    if errors:
        raise InvalidRequest("Invalid request body: " + "; ".join(e["message"] for e in errors) + ".", errors)
    return body


def _unsendable(value: Any, path: str) -> list[str]:
    """The fields (dotted paths) whose text, or key, OpenStack could not take."""
    if isinstance(value, str):
        return [] if sendable(value) else [path or "body"]
    if isinstance(value, dict):
        inner = [f for key, item in value.items() for f in _unsendable(item, f"{path}.{key}" if path else str(key))]
        keys = [f"{path}.{key}" if path else str(key) for key in value if not sendable(str(key))]
        return keys + inner
    if isinstance(value, list):
        return [f for index, item in enumerate(value) for f in _unsendable(item, f"{path}.{index}")]
    return []


def _plain(error: Any) -> str:
    if error.validator == "type":
        return f"must be a {error.validator_value}"
    if error.validator == "minLength":
        return "must not be empty"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    return error.message


def _expected(model: Model) -> str:
    required = model.__schema__.get("required", [])
    return "an object with " + ", ".join(required)

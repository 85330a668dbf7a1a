"""Query-string parameters shared by the collection endpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from flask_restx import inputs, reqparse, swagger
from werkzeug.exceptions import HTTPException

from devstack_client import MAX_URI_BYTES
from devstack_client.config import MAX_WAIT_SECONDS
from devstack_client.errors import InvalidRequest, UriTooLong
from devstack_client.services.rules import MAX_PAGE, sendable

DEFAULT_LIMIT = 100


def whole_number(name: str, low: int, high: int) -> Callable[[str], int]:
    """A query type: ASCII digits only (int() also reads "１０" and "²", and chokes on 5,000 digits), low to high."""

    def parse(value: str) -> int:
        if not (value.isascii() and value.isdigit() and len(value) <= len(str(high)) and low <= int(value) <= high):
            raise ValueError(f"{name} must be a whole number from {low} to {high}")
        return int(value)

    parse.__schema__ = {"type": "integer", "minimum": low, "maximum": high}  # type: ignore[attr-defined]
    return parse


def moment(name: str) -> Callable[[str], str]:
    """A query type: an ISO 8601 date and time (UTC when it names no zone), answered as Nova's UTC form."""

    def parse(value: str) -> str:
        try:
            when = datetime.fromisoformat(value.strip().replace("z", "Z"))
            when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
            if not value.isascii() or when.year < 1970:
                raise ValueError(value)
        except (ValueError, OverflowError):
            raise ValueError(f"{name} must be an ISO 8601 date and time, e.g. 2026-11-30T08:00:00Z") from None
        # Whole seconds, rounded down: Nova's own timestamps have no fraction, so nothing at that second is lost.
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    parse.__schema__ = {"type": "string", "format": "date-time"}  # type: ignore[attr-defined]
    return parse


def paged_parser() -> reqparse.RequestParser:
    """A parser with ``limit`` and ``marker``; add a collection's own filters to it."""
    parser = reqparse.RequestParser(bundle_errors=True)
    parser.add_argument(
        "limit",
        type=whole_number("limit", 1, MAX_PAGE),
        default=DEFAULT_LIMIT,
        location="args",
        help=f"Page size, 1 to {MAX_PAGE} (default {DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "marker", type=str, location="args", help="Start after this id: the `next_marker` of the previous page"
    )
    return parser


def sort_argument(parser: reqparse.RequestParser, keys: Iterable[str]) -> None:
    keys = tuple(keys)
    choices = [f"{prefix}{key}" for key in keys for prefix in ("", "-")]
    parser.add_argument(
        "sort",
        type=str,
        choices=choices,
        location="args",
        help=f"Sort key, `-` first for descending: {', '.join(keys)}",
    )


def documented_parameters(spec: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """(Swagger path, method) → the query parameters the spec documents for that operation."""
    documented = {}
    for path, operations in spec["paths"].items():
        shared = [p["name"] for p in operations.get("parameters", []) if p["in"] == "query"]
        for method, operation in operations.items():
            if method == "parameters":
                continue
            own = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            documented[(path, method.upper())] = frozenset(shared + own)
    return documented


# (Swagger path, method) → query parameters the operation still accepts but no longer documents (older clients').
UNDOCUMENTED: dict[tuple[str, str], frozenset[str]] = {}


def still_accepts(path: str, method: str, *names: str) -> None:
    """Keep accepting ``names`` on an operation whose spec no longer documents them."""
    UNDOCUMENTED[(path, method)] = UNDOCUMENTED.get((path, method), frozenset()) | frozenset(names)


def reject_unknown_parameters() -> None:
    """Refuse (400) a query parameter the operation does not document, on every ``/api/`` operation.

    And (414) a URL over MAX_URI_BYTES: a JSON answer, where gunicorn's own would be HTML.

    One rule from one source, the spec: a misspelt filter (``?staus=ACTIVE``)
    or option (``?dryrun=true``) must not be ignored silently, least of all
    on a create or a delete.
    """
    if not request.path.startswith("/api/"):
        return
    uri = len(request.full_path.encode())
    if uri > MAX_URI_BYTES:
        raise UriTooLong(f"The URL is {uri} bytes long; the gateway reads at most {MAX_URI_BYTES}.")
    _refuse_nul([*(request.view_args or {}).items(), *request.args.items(multi=True)], "URL")
    if not request.args or request.url_rule is None:
        return
    method = "GET" if request.method == "HEAD" else request.method
    key = (swagger.extract_path(request.url_rule.rule), method)
    known = current_app.extensions["query_parameters"].get(key)
    if known is None:  # OPTIONS, or a method the route lacks: answered without reading the query
        return
    unknown = [name for name in request.args if name not in known and name not in UNDOCUMENTED.get(key, ())]
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        errors = [
            {"field": name, "message": f"{name} is not a known parameter (known: {accepted})"} for name in unknown
        ]
        raise InvalidRequest("Invalid query: " + "; ".join(e["message"] for e in errors) + ".", errors)


def _refuse_nul(values: list[tuple[str, Any]], where: str) -> None:
    bad = sorted({name for name, value in values if isinstance(value, str) and not sendable(value)})
    if bad:
        errors = [{"field": name, "message": f"{name} must not contain a NUL character"} for name in bad]
        raise InvalidRequest(f"Invalid {where}: " + "; ".join(e["message"] for e in errors) + ".", errors)


def parse_query(parser: reqparse.RequestParser) -> dict[str, Any]:
    """Parse the query string, or raise InvalidRequest naming every bad parameter.

    Unknown parameters never get here: reject_unknown_parameters refused them.
    """
    errors = []
    try:
        args = parser.parse_args()
    except HTTPException as exc:
        details = getattr(exc, "data", {}).get("errors", {})
        helps = {arg.name: arg.help or "" for arg in parser.args}
        for name, text in details.items():
            # restx prefixes the error with the argument's help text
            text = str(text).removeprefix(helps.get(name, "")).strip().rstrip(".")
            message = text if text.startswith(f"{name} ") else f"{name}: {text}"
            errors.append({"field": name, "message": message})
        args = {}
    if errors:
        raise InvalidRequest("Invalid query: " + "; ".join(e["message"] for e in errors) + ".", errors)
    return dict(args)


def fields_argument(parser: reqparse.RequestParser, example: str) -> None:
    parser.add_argument(
        "fields", location="args", help=f"Comma-separated fields to return (id always comes), e.g. `{example}`"
    )


def select_fields(value: str | None, model: Any) -> list[str] | None:
    """The fields asked for with ``?fields=``, in model order; None when all are wanted."""
    if not value:
        return None
    wanted = {name.strip() for name in value.split(",") if name.strip()}
    unknown = sorted(wanted - set(model))
    if unknown:
        message = f"fields: unknown {', '.join(unknown)} (known: {', '.join(model)})"
        raise InvalidRequest(f"Invalid query: {message}.", [{"field": "fields", "message": message}])
    return [name for name in model if name in wanted or name == "id"]


IDEMPOTENCY_KEY_MAX = 255  # ours: OpenStack sees only its digest (services/launch.py key_tag)


def idempotency_key_argument(parser: reqparse.RequestParser, what: str) -> None:
    parser.add_argument(
        "Idempotency-Key",
        location="headers",
        help=f"Retrying a POST with the same key (1-{IDEMPOTENCY_KEY_MAX} characters) and body returns the first "
        f"{what} instead of creating another",
    )


def wait_arguments(parser: reqparse.RequestParser, until: str) -> None:
    """``?wait`` and ``?timeout`` of a create that can answer once its resource is ``until``."""
    parser.add_argument("wait", type=inputs.boolean, default=False, location="args", help=f"Answer once {until}")
    parser.add_argument(
        "timeout",
        type=inputs.int_range(1, MAX_WAIT_SECONDS),
        default=120,
        location="args",
        help=f"With wait: seconds to wait at most (1 to {MAX_WAIT_SECONDS}, default 120)",
    )


def idempotency_key(value: str | None) -> str | None:
    """An ``Idempotency-Key`` header's value, checked (None: not sent)."""
    if value is not None and not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX:
        message = f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters"
        raise InvalidRequest(message + ".", [{"field": "Idempotency-Key", "message": message}])
    return value

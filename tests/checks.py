"""Schemathesis checks of our own, shared by the wire-level and the real-cloud fuzz runs."""

from __future__ import annotations

import json

import schemathesis
from schemathesis.specs.openapi.checks import allow_header_conformance

# A fixed path beside /api/v1/server/{ref}: its other methods are {ref}'s (a server may be called "dry-run"),
# so its Allow header rightly lists them, where the spec's path item has POST only.
OVERLAPPING = frozenset({"/api/v1/server/dry-run"})


def excluded(case, *checks):
    """``checks``, and for a path that overlaps {ref} also schemathesis's Allow-header check."""
    return [*checks, allow_header_conformance] if case.operation.path in OVERLAPPING else list(checks)


@schemathesis.check
def error_has_code_and_message(ctx, response, case):
    """Every 4xx and 5xx answer is a JSON object with string ``code`` and ``message``."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} answer is not JSON: {response.content[:200]!r}") from None
    if not isinstance(body, dict) or not all(isinstance(body.get(key), str) for key in ("code", "message")):
        raise AssertionError(f"{response.status_code} answer lacks a string code and message: {body!r}"[:500])
    return None


@schemathesis.check
def json_or_no_content(ctx, response, case):
    """An answer with a body is application/json; a 204 has no body (and needs no Content-Type).

    Stands in for schemathesis's content_type_conformance, which wants the
    documented type on a 204 too.
    """
    if response.status_code == 204:
        assert not response.content, f"a 204 with a body: {response.content[:200]!r}"
    if not response.content:  # a 204, or Flask's own answer to OPTIONS
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.split(";")[0].strip() == "application/json", f"Content-Type {content_type!r}"
    return None


@schemathesis.check
def no_upstream_500(ctx, response, case):
    """OpenStack never failed (500) on what the gateway forwarded: that is the gateway's bug, not OpenStack's.

    Real services answer 500 to what their database rejects (a NUL byte: PostgreSQL), and the permissive fake
    does the same, so a value the gateway should have refused shows up here instead of as a documented 502.
    """
    if response.status_code < 500 or not response.content:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None  # error_has_code_and_message reports it
    upstream = body.get("upstream_status") if isinstance(body, dict) else None
    assert upstream != 500, f"OpenStack answered 500 to what the gateway sent: {body!r}"[:500]
    return None


def authenticate(schema, key: str) -> None:
    """Send ``key`` with every case as schemathesis's own auth, not as a configured header.

    A configured header replaces a generated Authorization on the wire, and schemathesis then takes the 2xx
    for "generated, invalid auth accepted". As its auth, the key is known valid, and the ignored_auth check
    sends its own probes without it and with a wrong one (which must be refused).
    """

    @schema.auth()
    class Key:
        def get(self, case, ctx):
            return key

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def configure(schema) -> None:
    """What both fuzz runs share: invalid input may also be refused as too large (413) or too long (414)."""
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413", "414"]

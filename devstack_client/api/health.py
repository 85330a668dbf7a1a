"""Probes for load balancers and orchestrators: ``/healthz`` (alive) and ``/readyz`` (able to serve)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_restx import Namespace, Resource, fields

from devstack_client import readiness
from devstack_client.api.common import MapOf
from devstack_client.api.errors import describe
from devstack_client.appctx import cloud, settings

# path="/": restx treats an empty prefix as none and would use "/health".
ns = Namespace("health", path="/", description="Probes (outside /api/v1): is the gateway alive, is it ready")

# Each worker checks OpenStack at most once per this many seconds and answers
# probes in between from its last result: cheap to poll, never stale for long.
READY_TTL_SECONDS = 5.0

alive = ns.model("Alive", {"status": fields.String(example="alive")})
check = ns.model(
    "ReadinessCheck",
    {
        "ok": fields.Boolean(example=True),
        # Which of these a check has depends on the check and its outcome.
        "code": fields.String(
            required=False, description="When failed: the error code the API answers with", example=None
        ),
        "message": fields.String(required=False, description="When failed: why", example=None),
        "microversion": fields.String(required=False, description="compute: the pinned microversion", example="2.79"),
        "max_microversion": fields.String(
            required=False, description="compute: the newest Nova offers", example="2.100"
        ),
    },
)


ready = ns.model(
    "Readiness",
    {
        "ready": fields.Boolean(example=True),
        "reason": fields.String(
            nullable=True, description="When not ready: the first failed check; null when ready", example=None
        ),
        "code": fields.String(
            required=False, description="When not ready: `not_ready`, as every error has a code", example=None
        ),
        "message": fields.String(required=False, description="When not ready: the same as reason", example=None),
        "checks": MapOf(
            check,
            description="identity, compute, image, network → ReadinessCheck (the services only once the "
            "identity works)",
            example={
                "identity": {"ok": True},
                "compute": {"ok": True, "microversion": "2.79", "max_microversion": "2.100"},
                "image": {"ok": True},
                "network": {"ok": True},
            },
        ),
        "absent_services": fields.Raw(
            description="Optional services the cloud's catalog lacks → what that disables (they do not make the "
            "gateway unready)",
            example={},
        ),
        "checked_at": fields.String(
            description=f"When this worker last checked (it checks at most every {READY_TTL_SECONDS:g} s)",
            example="2026-11-26T20:41:07Z",
        ),
    },
)


# Probes are never guarded (auth.py guards /api/ only): say so, overriding the spec-wide security.
@ns.route("/healthz")
@ns.doc(security=[])
class Health(Resource):
    @ns.response(200, "The process is alive (always; it checks nothing upstream)", alive)
    def get(self):
        """Tell that the process is alive."""
        return {"status": "alive"}


@ns.route("/readyz")
@ns.doc(security=[])
class Ready(Resource):
    @ns.response(200, "Ready: Keystone accepts the identity; compute, image and network answer", ready)
    @ns.response(503, "Not ready: `reason` names the first failed check, `checks` has them all", ready)
    def get(self):
        """Tell whether the gateway can serve: checks Keystone, Nova (microversion), Glance and Neutron."""
        body = _cached_readiness()
        return body, 200 if body["ready"] else 503, {"Cache-Control": "no-store"}


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.body: dict[str, Any] | None = None
        self.at = 0.0


def _cached_readiness() -> dict[str, Any]:
    cache: _Cache = current_app.extensions.setdefault("readiness", _Cache())
    # One check at a time per worker: a burst of probes waits for it rather
    # than sending a burst upstream.
    with cache.lock:
        if cache.body is None or time.monotonic() - cache.at >= READY_TTL_SECONDS:
            cache.body = _readiness()
            cache.at = time.monotonic()
        return cache.body


def _readiness() -> dict[str, Any]:
    checks: dict[str, dict[str, Any]] = {}
    reason = None
    timeout = settings().ready_timeout
    for result in readiness.run(cloud(), timeout):
        if result.error is None:
            checks[result.name] = {"ok": True, **result.details}
            continue
        error = describe(result.error)
        message = error.message
        if error.code == "upstream_timeout":  # its own timeout, not the API's READ_TIMEOUT
            message = f"OpenStack did not answer within {timeout:g} s (READY_TIMEOUT)."
        checks[result.name] = {"ok": False, "code": error.code, "message": message}
        reason = reason or f"{result.name}: {message}"
    body = {
        "ready": reason is None,
        "reason": reason,
        "checks": checks,
        "absent_services": readiness.absent_services(cloud()),
        "checked_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if reason is not None:  # a 503: the same `code` and `message` as every other error answer
        body.update(code="not_ready", message=reason)
    return body

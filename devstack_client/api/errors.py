"""Every exception becomes an HTTP status and a JSON body, here and only here.

Bodies are ``{"code", "message", "request_id"}`` plus, where OpenStack
answered, ``upstream_status`` and ``upstream_request_id``. Messages come from
OpenStack's ``details`` (its own words), never ``str(exc)``: that one carries
internal URLs.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, g, json, request
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc
from werkzeug.exceptions import HTTPException

from devstack_client import appctx, tracing
from devstack_client.errors import (
    AmbiguousName,
    BuildFailed,
    ConsoleUnavailable,
    CreateUnconfirmed,
    CredentialsMissing,
    CursorExpired,
    CursorUnreadable,
    DiscoveryFailed,
    ForbiddenRole,
    IdempotencyConflict,
    InUse,
    InvalidRequest,
    InvalidState,
    InvalidToken,
    Misconfigured,
    NameInUse,
    NotFound,
    NotSupported,
    PreconditionFailed,
    QuotaExceeded,
    StreamUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UriTooLong,
    VolumeFailed,
    VolumeInUse,
    VolumeKeyReused,
)
from devstack_client.usertokens import REFUSED

log = logging.getLogger(__name__)

# Nova's words, then Cinder's (its 413 names the exception: "VolumeLimitExceeded: Maximum number of …").
QUOTA_MARKERS = ("Quota exceeded", "is over a limit for", "LimitExceeded: ", "ExceedsAvailableQuota: ")
# Every 401 says how to authenticate (RFC 9110); the realm names the gateway.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="devstack-client"'}


@dataclass
class ApiError:
    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        body = {"code": self.code, "message": self.message, **self.extra}
        trace = tracing.current()
        if trace is not None:
            # The id the answer's X-Request-Id header carries and OpenStack's logs show.
            body["request_id"] = trace.request_id
            trace.error_code = self.code
        resp = Response(json.dumps(body), status=self.status, mimetype="application/json")
        resp.headers.update(self.headers)
        return resp


def handle(exc: Exception) -> Response:
    """The one error handler, for flask-restx routes and plain Flask alike."""
    if isinstance(exc, os_exc.HttpException) and exc.status_code == 401 and g.get("user") is not None:
        # The caller's own token, refused by OpenStack after we validated it
        # (revoked since): validate it again next time.
        current_app.extensions["user_tokens"].forget(g.user.access.auth_token)
    error = describe(exc)
    upstream = error.extra.get("upstream_request_id")
    if error.status >= 500 and error.status != 501:  # 501: the cloud lacks a feature, nothing failed
        log.warning(
            "%s %s -> %s %s (%s) upstream_request_id=%s",
            request.method,
            request.path,
            error.status,
            error.code,
            type(exc).__name__,
            upstream,
        )
    return error.response()


def describe(exc: Exception) -> ApiError:
    """Map an exception to the error we answer with (its most specific class in ANSWERS); change nothing."""
    for cls in type(exc).__mro__:
        if cls in ANSWERS:
            return ANSWERS[cls](exc)
    log.exception("unexpected error on %s %s", request.method, request.path)
    return ApiError(500, "internal_error", "The gateway failed unexpectedly; the error is logged.")


def rule(
    status: int,
    code: str,
    extra: Callable[[Any], dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Callable[[Any], ApiError]:
    """One of our own errors: its message is ``exc.message``, plus ``extra(exc)`` and ``headers``."""
    return lambda exc: ApiError(status, code, exc.message, extra(exc) if extra else {}, dict(headers or {}))


def _upstream(exc: InvalidState | ConsoleUnavailable | InUse) -> dict[str, Any]:
    return {"upstream_status": exc.upstream_status, "upstream_request_id": exc.upstream_request_id}


def _authentication_failed(status: int | None, request_id: str | None) -> ApiError:
    identity = appctx.cloud().identity
    extra = {"upstream_status": status, "upstream_request_id": request_id}
    return ApiError(
        403,
        "authentication_failed",
        f"Keystone refused the gateway's credentials: {identity.describe()} "
        f"({identity.source}). Check the user name, password, domain and project.",
        extra,
    )


def plain(details: str | None) -> str | None:
    """An upstream message as plain text: Glance's (webob's) come HTML-escaped or with ``<br />`` tails."""
    if not details:
        return details
    return html.unescape(_BREAKS.sub(" ", details)).strip()


_BREAKS = re.compile(r"(\s*<br\s*/?>\s*)+", re.IGNORECASE)


def _from_openstack(exc: os_exc.HttpException) -> ApiError:
    status = exc.status_code or 502
    details = plain(exc.details) or "OpenStack refused the request."
    if status == 401 and g.get("user") is not None:  # the caller's own token (handle() forgets it)
        error = ApiError(401, "invalid_token", REFUSED, headers=dict(CHALLENGE))
        error.extra.update(upstream_status=status, upstream_request_id=exc.request_id)
        return error
    if status == 401:
        return _authentication_failed(status, exc.request_id)
    # Nova says 403 (413 before 2.1), Neutron 409 OverQuota: "Quota exceeded for resources: ['floatingip']."
    if status in (403, 409, 413) and any(marker in details for marker in QUOTA_MARKERS):
        error = ApiError(400, "quota_exceeded", details)
    else:
        error = _from_status(status, details, exc.request_id)
        if status in (429, 503) and exc.response is not None and exc.response.headers.get("Retry-After"):
            error.headers["Retry-After"] = exc.response.headers["Retry-After"]
    error.extra.update(upstream_status=status, upstream_request_id=exc.request_id)
    return error


_UPSTREAM = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict"}


def _from_status(status: int, details: str, request_id: str | None) -> ApiError:
    extra = {"upstream_status": status, "upstream_request_id": request_id}
    if status in _UPSTREAM:
        return ApiError(status, _UPSTREAM[status], details, extra)
    if status == 429:
        return ApiError(
            503, "upstream_unavailable", f"OpenStack is unavailable: {details}", extra, {"Retry-After": "5"}
        )
    # A 5xx message is OpenStack's internals (Nova's names its database layer's exception class): it goes to
    # the log, and the caller gets the request id to find it there.
    if status < 500:  # a 4xx we did not expect (406, 413, …): OpenStack's words say what it refused
        return ApiError(502, "upstream_error", f"OpenStack failed (HTTP {status}): {details}", extra)
    log.warning("OpenStack answered %s: %s (upstream_request_id=%s)", status, details, request_id)
    if status == 503:
        return ApiError(503, "upstream_unavailable", "OpenStack is unavailable.", extra, {"Retry-After": "5"})
    return ApiError(502, "upstream_error", f"OpenStack failed (HTTP {status}); see upstream_request_id.", extra)


def _from_http(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    headers = {}
    if status == 404:
        message = f"No such URL: {request.path}. The API is under /api/v1; its documentation is at /."
    elif status == 405:
        allowed = exc.get_response().headers.get("Allow", "")
        headers["Allow"] = allowed
        message = f"{request.method} is not allowed on {request.path}; allowed: {allowed}."
    else:
        message = exc.description or "Bad request."
    code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    return ApiError(status, code, message, headers=headers)


def _timeout(exc: ks_exc.ConnectTimeout) -> ApiError:
    settings = appctx.settings()
    return ApiError(
        504,
        "upstream_timeout",
        f"OpenStack did not answer in time (connect timeout {settings.connect_timeout:g} s, "
        f"read timeout {settings.read_timeout:g} s).",
    )


def _unreachable(exc: ks_exc.ConnectionError) -> ApiError:  # refused, DNS, TLS, reset
    return ApiError(
        503, "upstream_unreachable", "Could not connect to OpenStack; try again later.", headers={"Retry-After": "5"}
    )


def _misconfigured(exc: Exception) -> ApiError:
    log.error("OpenStack misconfigured: %s", type(exc).__name__)
    return ApiError(
        503,
        "misconfigured",
        "OpenStack's catalog or version discovery does not offer a service the gateway needs; see the gateway's log.",
    )


def _create_unconfirmed(exc: CreateUnconfirmed) -> ApiError:
    # The same code as any timeout, so clients handling it keep working;
    # the message and fields say how to find the server instead of duplicating it.
    status, code = (504, "upstream_timeout") if exc.timed_out else (503, "upstream_unreachable")
    return ApiError(status, code, exc.message, {"server_name": exc.name, "idempotency_key": exc.idempotency_key})


def _reused(exc: IdempotencyConflict) -> dict[str, Any]:
    # A server's key names its server_id (as it always has); a network resource's, its id.
    return {"server_id": exc.server_id} if exc.kind == "server" else {"id": exc.server_id}


def _invalid_state(exc: InvalidState) -> dict[str, Any]:
    return {"status": exc.status, "task_state": exc.task_state, "locked": exc.locked, **_upstream(exc)}


# Exception class → our answer; an exception takes the entry of its most specific class.
ANSWERS: dict[type[Exception], Callable[[Any], ApiError]] = {
    Unauthorized: rule(401, "unauthorized", headers=CHALLENGE),
    InvalidToken: rule(401, "invalid_token", headers=CHALLENGE),
    ForbiddenRole: rule(403, "forbidden_role", lambda exc: {"role": exc.role}),
    CredentialsMissing: rule(403, "credentials_missing", lambda exc: {"missing": exc.missing}),
    NotFound: rule(404, "not_found"),
    AmbiguousName: rule(409, "ambiguous_name", lambda exc: {"candidates": exc.candidates}),
    InvalidRequest: rule(400, "invalid_request", lambda exc: {"errors": exc.errors}),
    UriTooLong: rule(414, "uri_too_long"),
    UnsupportedMediaType: rule(415, "unsupported_media_type", lambda exc: {"accepted": exc.accepted}),
    QuotaExceeded: rule(400, "quota_exceeded"),
    NameInUse: rule(409, "name_in_use", lambda exc: {"candidates": exc.servers}),
    IdempotencyConflict: rule(409, "idempotency_key_reused", _reused),
    InUse: rule(409, "in_use", lambda exc: {"servers": exc.servers, "ports": exc.ports, **_upstream(exc)}),
    CreateUnconfirmed: _create_unconfirmed,
    BuildFailed: rule(502, "build_failed", lambda exc: {"server": exc.server}),
    Misconfigured: rule(503, "misconfigured"),
    InvalidState: rule(409, "invalid_state", _invalid_state),
    ConsoleUnavailable: rule(501, "console_unavailable", _upstream),
    PreconditionFailed: rule(412, "precondition_failed", lambda exc: {"etag": exc.etag}),
    CursorExpired: rule(410, "cursor_expired", lambda exc: {"max_age": exc.max_age}),
    CursorUnreadable: rule(410, "cursor_expired", lambda exc: {"upstream_request_id": exc.upstream_request_id}),
    StreamUnavailable: rule(503, "stream_unavailable", headers={"Retry-After": "5"}),
    DiscoveryFailed: rule(503, "upstream_unreachable", headers={"Retry-After": "5"}),
    NotSupported: rule(501, "not_supported", lambda exc: {"service_type": exc.service_type}),
    VolumeInUse: rule(409, "in_use", lambda exc: {"volume_id": exc.volume_id, "servers": exc.servers}),
    VolumeKeyReused: rule(409, "idempotency_key_reused", lambda exc: {"volume_id": exc.volume_id}),
    VolumeFailed: rule(502, "build_failed", lambda exc: {"volume": exc.volume}),
    os_exc.HttpException: lambda exc: _from_openstack(exc),
    ks_exc.Unauthorized: lambda exc: _authentication_failed(exc.http_status, getattr(exc, "request_id", None)),
    ks_exc.ConnectTimeout: _timeout,
    ks_exc.ConnectionError: _unreachable,
    ks_exc.HttpError: lambda exc: _from_status(  # Keystone itself failing
        exc.http_status or 502, plain(exc.details) or exc.message, getattr(exc, "request_id", None)
    ),
    ks_exc.CatalogException: _misconfigured,
    ks_exc.DiscoveryFailure: _misconfigured,
    os_exc.ServiceDisabledException: _misconfigured,
    HTTPException: lambda exc: _from_http(exc),
}

"""Who may call the API, and as whom: gateway API keys and callers' own Keystone tokens.

Only ``/api/`` is guarded: the Swagger UI and ``/swagger.json`` stay open.
With neither keys nor user tokens configured, every caller acts as the
gateway's identity (and ``main.py`` keeps it on a loopback address).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request

from devstack_client import apikeys, appctx
from devstack_client.config import Settings, authentication_enabled
from devstack_client.errors import ForbiddenRole, InvalidToken, Unauthorized
from devstack_client.usertokens import UserTokens

log = logging.getLogger(__name__)

# Swagger 2.0 has no bearer scheme: "Authorize" takes the whole header value.
AUTHORIZATIONS = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A gateway API key, typed as `Bearer <key>`",
    },
    "keystoneToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
        "description": "Your own Keystone token, to act as yourself in your project (when the gateway allows it)",
    },
}


def security(settings: Settings) -> tuple[dict[str, Any] | None, list[dict[str, list]] | None]:
    """The spec's schemes and requirement for this configuration: only what ``authenticate`` enforces.

    A spec-driven client (Swagger UI, schemathesis, a generated SDK) takes it at
    its word: a scheme declared but not enforced makes it expect 401s that never come.
    """
    keys = bool(settings.api_keys_file or settings.api_keys)
    tokens = settings.allow_user_tokens  # REQUIRE_USER_TOKENS implies it (config.load)
    if settings.require_user_tokens or (tokens and not keys):
        schemes = ["keystoneToken"]  # a key alone is refused then
    else:
        schemes = (["apiKey"] if keys else []) + (["keystoneToken"] if tokens else [])
    if not schemes:
        return None, None  # every caller acts as the gateway's identity
    return {name: AUTHORIZATIONS[name] for name in schemes}, [{name: []} for name in schemes]  # any one of them


@dataclass(frozen=True)
class Caller:
    """Who is calling, for logs: never a secret."""

    kind: str  # "anonymous", "key" or "user"
    name: str = ""
    role: str | None = None

    def __str__(self) -> str:
        return {"anonymous": "anonymous", "key": f"key {self.name!r} ({self.role})", "user": self.name}[self.kind]


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["settings"]
    app.extensions["api_keys"] = keys = apikeys.load(settings)
    if settings.allow_user_tokens:
        app.extensions["user_tokens"] = UserTokens(
            app.extensions["openstack"], ttl=settings.token_cache_ttl, size=settings.token_cache_size
        )
    app.before_request(authenticate)
    modes = [f"{len(keys)} API key(s)"] if keys else []
    if settings.allow_user_tokens:
        modes.append("Keystone tokens in X-Auth-Token" + (" (required)" if settings.require_user_tokens else ""))
    app.logger.info("callers authenticate with: %s", ", ".join(modes) or "nothing (open to whoever can connect)")


def authenticate() -> None:
    """Refuse the request, or record who makes it (``g.caller``, and ``g.user`` for a token)."""
    rule = request.url_rule.rule if request.url_rule else ""
    if not (request.path.startswith("/api/") or rule.startswith("/api/")) or request.method == "OPTIONS":
        # OPTIONS reaches no upstream, and browsers send CORS preflights without credentials.
        return
    settings = appctx.settings()
    key = _api_key(current_app.extensions["api_keys"])
    token = request.headers.get("X-Auth-Token")
    if token is not None and not settings.allow_user_tokens:
        raise InvalidToken("This gateway does not accept Keystone tokens (ALLOW_USER_TOKENS is off).")
    if key is not None and not key.may(request.method):
        log.info("refused %s %s: key %r is a %s", request.method, request.path, key.label, key.role)
        raise ForbiddenRole(key.role, request.method)
    if token is not None:
        try:
            g.user = current_app.extensions["user_tokens"].get(token)
        except InvalidToken:
            log.info("refused %s %s from %s: token not accepted", request.method, request.path, request.remote_addr)
            raise
        g.caller = Caller("user", g.user.describe(), key.role if key else None)
    elif settings.require_user_tokens or (key is None and authentication_enabled(settings)):
        raise Unauthorized(_what_to_send(settings))
    else:
        g.caller = Caller("key", key.label, key.role) if key else Caller("anonymous")
    if request.method not in apikeys.READ_METHODS:
        log.info("%s %s by %s", request.method, request.path, g.caller)  # who changed what


def _api_key(keys: apikeys.KeyRing) -> apikeys.ApiKey | None:
    """The caller's key: None if it sent none; Unauthorized if it is not one of ours."""
    header = request.headers.get("Authorization")
    if not keys or header is None:
        return None  # without keys of ours, an Authorization header is someone else's business
    scheme, _, presented = header.partition(" ")
    key = keys.match(presented.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        log.info("refused %s %s from %s: unknown API key", request.method, request.path, request.remote_addr)
        raise Unauthorized("This API key is not valid here. Send `Authorization: Bearer <key>` with a valid key.")
    return key


def _what_to_send(settings: Settings) -> str:
    if settings.require_user_tokens:
        return "Authentication required: send your Keystone token in `X-Auth-Token`."
    ways = ["a gateway API key as `Authorization: Bearer <key>`"] if current_app.extensions["api_keys"] else []
    if settings.allow_user_tokens:
        ways.append("your Keystone token in `X-Auth-Token`")
    return f"Authentication required: send {' or '.join(ways)}."

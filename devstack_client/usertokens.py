"""Callers' own Keystone tokens: validated once, then cached with a connection acting as their user.

A token is validated by ``GET /v3/auth/tokens`` with itself as both the
authenticating and the subject token: Keystone's default policy lets a token
validate itself (``rule:token_subject``), whereas validating someone else's
token needs the ``service`` role or a system reader, which a plain project
identity such as devstack's ``demo`` lacks (Keystone answers it 403). So user
tokens need no privileged service account, nor any service account at all.

The cache is keyed by the token's SHA-256 and trusts an entry until the
token expires or ``TOKEN_CACHE_TTL`` passes, whichever comes first (a token
revoked in Keystone stops working here within that time). It is only a
cache: a miss validates again, so workers and instances need not share it.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import TLRUCache
from keystoneauth1 import access as ks_access
from openstack import connection as os_connection
from openstack import exceptions as os_exc

from devstack_client.errors import InvalidToken, Misconfigured

if TYPE_CHECKING:
    from devstack_client.connection import CloudConnection

# Fernet tokens are ~200 characters, JWS ones ~800; anything else is not a
# token and is refused without asking Keystone.
_TOKEN = re.compile(r"[\x21-\x7e]{1,8192}")
REFUSED = "Keystone does not accept this token: it is invalid, expired or revoked. Get a new one."


@dataclass
class UserSession:
    """A validated token: who it is, and the connection acting as them."""

    access: ks_access.AccessInfoV3
    connection: os_connection.Connection
    valid_until: float

    def describe(self) -> str:
        return f"user {self.access.username!r} ({self.access.user_id}) in project {self.access.project_id}"


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class UserTokens:
    def __init__(
        self, cloud: CloudConnection, *, ttl: float, size: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._cloud = cloud
        self._ttl = ttl
        self.clock = clock  # wall-clock seconds, comparable with a token's expiry
        self._lock = threading.Lock()
        self._cache: TLRUCache[bytes, UserSession] = TLRUCache(
            maxsize=size, ttu=lambda _key, entry, _now: entry.valid_until, timer=lambda: self.clock()
        )
        self._pending: dict[bytes, threading.Lock] = {}

    def get(self, token: str) -> UserSession:
        """The session of a token, validating it first unless a valid entry is cached."""
        if not _TOKEN.fullmatch(token):
            raise InvalidToken(REFUSED)
        key = token_digest(token)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                return entry
            # A dashboard's first page fires several calls with a fresh token at
            # once: one validates it while the others wait for its result, and
            # other tokens are never held up behind Keystone.
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            try:
                with self._lock:
                    entry = self._cache.get(key)
                return entry if entry is not None else self._admit(key, token)
            finally:
                with self._lock:
                    if self._pending.get(key) is pending:
                        del self._pending[key]

    def _admit(self, key: bytes, token: str) -> UserSession:
        access = self._validate(token)
        now = self.clock()
        lifetime = access.expires.timestamp() - now
        if lifetime <= 0:
            raise InvalidToken(REFUSED)
        entry = UserSession(access, self._cloud.for_user(access), now + min(lifetime, self._ttl))
        with self._lock:
            self._cache[key] = entry
        return entry

    def forget(self, token: str) -> None:
        """Drop a token OpenStack refused, so that its next use is validated again."""
        with self._lock:
            self._cache.pop(token_digest(token), None)

    def _validate(self, token: str) -> ks_access.AccessInfoV3:
        url = self._cloud.identity.keystone_url
        if not url:
            raise Misconfigured("User tokens need Keystone's URL: set AUTH_URL (or OS_AUTH_URL, or OS_CLOUD).")
        response = self._cloud.session().get(
            f"{url}/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
            authenticated=False,
            raise_exc=False,
        )
        # 401: the token cannot authenticate; 404: "Could not find token"
        # (whose message quotes the token: never pass it on).
        if response.status_code in (401, 404):
            raise InvalidToken(REFUSED)
        os_exc.raise_from_response(response)
        access = ks_access.AccessInfoV3(response.json(), auth_token=token)
        if not access.project_scoped:
            raise InvalidToken(
                "This token is not scoped to a project: ask Keystone for a project-scoped token "
                "(for example `openstack token issue` with OS_PROJECT_NAME set)."
            )
        return access

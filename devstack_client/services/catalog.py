"""Near-static catalog answers (pages of flavors, image names) reused for ``CATALOG_CACHE_SECONDS``.

A dashboard lists flavors and shows each server's image name on every refresh, and both change only when an
operator acts. Asked once per lifetime per caller instead of on every call, they cost Nova and Glance almost
nothing and the gateway less than a direct call (bench/README.md); an answer is then up to a lifetime old.

What one project sees is not what another sees (private flavors, shared images): entries are kept per
endpoint, user and project. With ``REDIS_URL`` every worker and gateway instance shares them (dogpile.cache's
Redis backend, values as JSON, never pickles); without, each worker keeps its own, bounded. A cache that fails
(Redis down, an entry that does not decode) costs only the upstream call it would have saved.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import cachetools
import orjson
import redis
from dogpile.cache import CacheRegion, make_region
from dogpile.cache.api import NO_VALUE
from openstack import proxy

from devstack_client.metrics import CATALOG_CACHE
from devstack_client.services._wire import endpoint

log = logging.getLogger(__name__)

PREFIX = "devstack-client:catalog:"
# Without Redis, per worker: each entry is one page of flavors or one image's name.
MAX_ENTRIES = 10_000
# Redis unreachable: the cache is left alone this long, so that no call waits for Redis's timeout on every try.
PAUSE_SECONDS = 10.0
REDIS_TIMEOUT = 0.5
# What a failing cache raises: Redis's errors, and orjson's for an entry or a value that is not plain JSON.
FAILURES = (redis.RedisError, ValueError, TypeError)


class LockedTTLCache(cachetools.TTLCache):
    """cachetools' TTLCache, safe for threads (gthread workers): dogpile's memory backend takes no lock, and a
    TTLCache changed by two threads at once raises KeyError and loses its order (tests/api/test_catalog_cache.py)."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        super().__init__(maxsize, ttl)
        self._lock = threading.RLock()

    def __getitem__(self, key: Any) -> Any:
        with self._lock:
            return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        with self._lock:
            super().__delitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            return super().get(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        with self._lock:
            return super().pop(key, *default)


class Catalog:
    """Answers of Nova and Glance reused, per caller, for ``seconds`` (0: never)."""

    def __init__(self, seconds: float, redis_url: str | None = None) -> None:
        self._paused_until = 0.0
        self._region: CacheRegion | None = None
        if seconds <= 0:
            return
        # Values are stored as JSON bytes in both backends: a hit is a copy no caller can change for the next.
        region = make_region(serializer=orjson.dumps, deserializer=orjson.loads)
        if redis_url:
            region.configure(
                "dogpile.cache.redis",
                expiration_time=seconds,
                arguments={
                    "url": redis_url,
                    "redis_expiration_time": math.ceil(seconds) + 1,  # Redis forgets what dogpile would refuse
                    "socket_timeout": REDIS_TIMEOUT,
                    "socket_connect_timeout": REDIS_TIMEOUT,
                },
            )
        else:
            region.configure(
                "dogpile.cache.memory",
                expiration_time=seconds,
                arguments={"cache_dict": LockedTTLCache(MAX_ENTRIES, ttl=seconds)},
            )
        self._region = region

    def answer(self, api: proxy.Proxy, path: str, params: dict[str, Any], ask: Callable[[], Any]) -> Any:
        """``ask()`` (one upstream GET of ``path`` with ``params``), or its answer to this caller less than
        ``seconds`` ago. Its errors are never kept: the next call asks again.

        Concurrent misses each ask (no lock, unlike dogpile's get_or_create): with a hung service, calls
        queued behind one lock would each wait out its read timeout in turn.
        """
        region = self._ready()
        if region is None:
            return ask()
        key = _key(_scope(api), path, urlencode(sorted(params.items()), doseq=True))
        try:
            kept = region.get(key)
        except FAILURES as exc:
            self._failed(exc)
            return ask()
        if kept is not NO_VALUE:
            CATALOG_CACHE.labels("hit").inc()
            return kept
        CATALOG_CACHE.labels("miss").inc()
        value = ask()
        self._keep(region, {key: value})
        return value

    def each(
        self, api: proxy.Proxy, kind: str, ids: Iterable[str], ask: Callable[[list[str]], dict[str, Any]]
    ) -> dict[str, Any]:
        """The value of each of ``ids``: those kept for this caller, and ``ask(the others)`` in one call.

        An id ``ask`` does not answer is kept as None (an image deleted or not visible to the caller), so that
        it is not asked for on every call either.
        """
        ids = list(ids)
        region = self._ready()
        if region is None:
            return ask(ids)
        scope = _scope(api)
        keys = {item: _key(scope, kind, item) for item in ids}
        try:
            kept = region.get_multi(list(keys.values()))
        except FAILURES as exc:
            self._failed(exc)
            return ask(ids)
        values = {item: value for item, value in zip(ids, kept, strict=True) if value is not NO_VALUE}
        missing = [item for item in ids if item not in values]
        CATALOG_CACHE.labels("hit").inc(len(values))
        CATALOG_CACHE.labels("miss").inc(len(missing))
        if missing:
            answered = ask(missing)
            fresh = {item: answered.get(item) for item in missing}
            self._keep(region, {keys[item]: value for item, value in fresh.items()})
            values.update(fresh)
        return values

    def _keep(self, region: CacheRegion, entries: dict[str, Any]) -> None:
        try:
            region.set_multi(entries)
        except FAILURES as exc:
            self._failed(exc)

    def _ready(self) -> CacheRegion | None:
        if self._region is None or time.monotonic() < self._paused_until:
            return None
        return self._region

    def _failed(self, exc: Exception) -> None:
        CATALOG_CACHE.labels("error").inc()
        if isinstance(exc, redis.RedisError):
            self._paused_until = time.monotonic() + PAUSE_SECONDS
            log.warning(
                "catalog cache: Redis unreachable (%s), asking OpenStack for %.0f s", type(exc).__name__, PAUSE_SECONDS
            )
        else:
            log.warning("catalog cache: an entry could not be kept or read (%s)", type(exc).__name__)


def _scope(api: proxy.Proxy) -> tuple[str, ...]:
    """Whose view an answer of ``api`` is: the service's endpoint, and the user and project of its token."""
    where = endpoint(api)  # authenticates first when it must, so the token below is set
    access = api.session.auth.auth_ref
    return where, access.user_id or "", access.project_id or ""


def _key(scope: tuple[str, ...], *parts: str) -> str:
    return PREFIX + hashlib.sha256("\0".join((*scope, *parts)).encode()).hexdigest()

"""The HTTP pool a worker process sends every upstream call through."""

from __future__ import annotations

import os
import socket
from http import cookiejar as http_cookiejar
from typing import Any
from urllib.parse import urlsplit

import requests
from gevent import monkey
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
from urllib3 import connection, connectionpool

# The operating system's poll, also in a gevent worker (whose `select` is patched).
_os_poll = monkey.get_original("select", "poll")
_POLLIN = monkey.get_original("select", "POLLIN")


class Pool(requests.Session):
    """A requests session that reads the environment's proxy settings once per host, not on every call.

    requests walks the whole environment twice per call to find the proxy
    variables (os.environ decodes every entry each time): 10 % of a show's
    CPU in the gateway (bench/README.md). A process's environment does not
    change while it serves, so the answer for a scheme and host is kept.
    Everything else is requests' own ``merge_environment_settings``.

    ``~/.netrc`` is never read (requests' ``trust_env`` is off, ``environment``
    stands for it): requests looks it up on every call, and a Basic
    ``Authorization`` from it has no place beside a Keystone token.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        # The proxy and CA bundle variables apply, as requests applies them with trust_env.
        self.environment = True
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    def merge_environment_settings(  # type: ignore[override]
        self, url: str, proxies: dict[str, str] | None, stream: bool | None, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if self.environment:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            if proxies is not None:
                for key, value in self._proxies_for(url, no_proxy).items():
                    proxies.setdefault(key, value)
            if verify is True or verify is None:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }

    def _proxies_for(self, url: str, no_proxy: str | None) -> dict[str, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._environ_proxies.get(key)
        if found is None:
            found = self._environ_proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
        return found


class _Checked:
    """A urllib3 connection whose idle check before reuse asks the operating system's poll.

    urllib3 checks that a pooled connection was not closed by the server
    (readable at once means closed, or an answer nobody asked for) with a
    poll of timeout 0. In a gevent worker that poll is gevent's: it builds
    watchers and yields to the hub, letting other greenlets run in the
    middle of a request's upstream call (bench/README.md, "Upstream calls
    made cheaper"). A poll of timeout 0 never blocks, so the original one is
    safe in a greenlet, and answers the same.
    """

    sock: socket.socket | None

    @property
    def is_connected(self) -> bool:
        if self.sock is None:
            return False
        poll = _os_poll()
        poll.register(self.sock, _POLLIN)
        return not poll.poll(0)


class _HTTPConnection(_Checked, connection.HTTPConnection):
    pass


class _HTTPSConnection(_Checked, connection.HTTPSConnection):
    pass


class _HTTPConnectionPool(connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections checked by ``_Checked`` (direct ones: a proxy's keep urllib3's own)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


def http_pool(size: int) -> requests.Session:
    """The worker's pool: ``size`` idle connections kept per service (connection.upstream_pool_size says why)."""
    http = Pool()
    # pool_connections: one pool per service host (Keystone, Nova, Glance, Neutron); a call beyond ``size``
    # opens an extra connection (the pool never blocks), closed after use.
    adapter = _Adapter(pool_connections=4, pool_maxsize=size)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    # Callers share this session: a cookie one upstream answer sets must
    # never ride along on another caller's request.
    http.cookies.set_policy(http_cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return http

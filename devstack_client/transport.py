"""The HTTP pool a worker process sends every upstream call through."""

from __future__ import annotations

import os
from http import cookiejar as http_cookiejar
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies


class Pool(requests.Session):
    """A requests session that reads the environment's proxy settings once per host, not on every call.

    requests walks the whole environment twice per call to find the proxy
    variables (os.environ decodes every entry each time): 10 % of a show's
    CPU in the gateway (bench/README.md). A process's environment does not
    change while it serves, so the answer for a scheme and host is kept.
    Everything else is requests' own ``merge_environment_settings``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    def merge_environment_settings(  # type: ignore[override]
        self, url: str, proxies: dict[str, str] | None, stream: bool | None, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if self.trust_env:
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


def http_pool(size: int) -> requests.Session:
    """The worker's pool: ``size`` idle connections kept per service (connection.upstream_pool_size says why)."""
    http = Pool()
    # pool_connections: one pool per service host (Keystone, Nova, Glance, Neutron); a call beyond ``size``
    # opens an extra connection (the pool never blocks), closed after use.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=size)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    # Callers share this session: a cookie one upstream answer sets must
    # never ride along on another caller's request.
    http.cookies.set_policy(http_cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return http

"""Walk an OpenStack collection page by page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openstack import proxy

from devstack_client.services._wire import call

# Nova's and Glance's largest page (their max_limit / api_limit_max defaults).
PAGE = 1000


def walk(api: proxy.Proxy, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield every item of a collection, following the service's next-page hint.

    The next marker is our last item's id: the services' own next links carry
    their internal URLs, which we must not follow blindly or echo.
    """
    query = dict(params or {}, limit=PAGE)
    while True:
        body = call(api, "GET", path, params=query)
        items = body.get(key, [])
        yield from items
        links = body.get(f"{key}_links", [])
        has_next = body.get("next") or any(link.get("rel") == "next" for link in links)
        if not items or not has_next:
            return
        query["marker"] = items[-1]["id"]

"""Read OpenStack collections one page per upstream call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openstack import proxy

from devstack_client.services._wire import call

# Nova's and Glance's largest page (their max_limit / api_limit_max defaults).
PAGE = 1000


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_marker: str | None


def page(
    api: proxy.Proxy,
    path: str,
    key: str,
    *,
    limit: int,
    marker: str | None = None,
    params: dict[str, Any] | None = None,
) -> Page:
    """Fetch one page in one call; ``next_marker`` is set only when more items exist.

    We ask for one item more than the page: whether it came tells if there is
    a next page, so a dashboard never fetches an empty last page. Where the
    service capped our request below that, its own next-link decides.
    """
    query = {**(params or {}), "limit": limit + 1}
    if marker:
        query["marker"] = marker
    body = call(api, "GET", path, params=query)
    items = body.get(key, [])
    if len(items) > limit:
        return Page(items[:limit], items[limit - 1]["id"])
    links = body.get(f"{key}_links", [])
    # The next marker is our last item's id: the services' own next links
    # carry their internal URLs, which we must not follow blindly or echo.
    has_next = bool(body.get("next")) or any(link.get("rel") == "next" for link in links)
    return Page(items, items[-1]["id"] if items and has_next else None)


def split_sort(sort: str) -> tuple[str, str]:
    """``"-name"`` → ``("name", "desc")``."""
    return (sort[1:], "desc") if sort.startswith("-") else (sort, "asc")


def walk(api: proxy.Proxy, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield every item of a collection, page after page (for small ones: flavors by name)."""
    marker = None
    while True:
        result = page(api, path, key, limit=PAGE - 1, marker=marker, params=params)
        yield from result.items
        if not result.next_marker:
            return
        marker = result.next_marker

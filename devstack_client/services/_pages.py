"""Read OpenStack collections one page per upstream call."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openstack import exceptions as os_exc
from openstack import proxy

from devstack_client.errors import InvalidRequest
from devstack_client.services._wire import call
from devstack_client.services.catalog import Catalog
from devstack_client.services.rules import MAX_PAGE


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_marker: str | None


@dataclass(frozen=True)
class Listing:
    """How one upstream collection is listed, declared as data (as openstacksdk's ``_query_mapping``).

    ``sort`` maps our sort keys to the service's; ``filters`` maps our filter
    names to its query parameters (a filter not named there keeps its name).
    Glance takes ``sort=key:dir``; Nova and Neutron ``sort_key`` and ``sort_dir``.
    """

    path: str
    key: str
    sort: Mapping[str, str]
    filters: Mapping[str, str] = field(default_factory=dict)
    glance_sort: bool = False
    kind: str = "item"  # what an error names: "no volume '…' to start after"

    def params(self, *, sort: str | None = None, **filters: Any) -> dict[str, Any]:
        """The upstream query for our filters (None: not given) and sort key (``-`` first: descending)."""
        given = {name: value for name, value in filters.items() if value is not None and value != ""}
        params = {self.filters.get(name, name): _value(value) for name, value in given.items()}
        if sort:
            key, direction = (sort[1:], "desc") if sort.startswith("-") else (sort, "asc")
            if self.glance_sort:
                params["sort"] = f"{self.sort[key]}:{direction}"
            else:
                params.update(sort_key=self.sort[key], sort_dir=direction)
        return params


def _value(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value  # the services' "true"/"false"


def page(
    api: proxy.Proxy,
    listing: Listing,
    *,
    limit: int,
    marker: str | None = None,
    params: dict[str, Any] | None = None,
    microversion: str | None = None,
    catalog: Catalog | None = None,
) -> Page:
    """Fetch one page in one call; ``next_marker`` is set only when more items exist.

    We ask for one item more than the page: whether it came tells if there is
    a next page, so a dashboard never fetches an empty last page. Where the
    service capped our request below that, its own next-link decides.
    With ``catalog``, the same caller's same page may be answered from it.
    """
    query = {**(params or {}), "limit": limit + 1}
    if marker:
        query["marker"] = marker
    extra = {"microversion": microversion} if microversion else {}  # Cinder's: openstacksdk sends none

    def ask() -> Any:
        return call(api, "GET", listing.path, params=query, **extra)

    try:
        body = catalog.answer(api, listing.path, {**query, **extra}, ask) if catalog is not None else ask()
    except os_exc.NotFoundException as exc:
        if not marker:
            raise
        # Neutron and Cinder answer an unknown marker with 404 (Nova and Glance with 400): it is the query that is wrong
        message = f"marker: no {listing.kind} {marker!r} to start after ({exc.details})"
        raise InvalidRequest(f"Invalid query: {message}.", [{"field": "marker", "message": message}]) from exc
    items = body.get(listing.key, [])
    if len(items) > limit:
        return Page(items[:limit], items[limit - 1]["id"])
    links = body.get(f"{listing.key}_links", [])
    # The next marker is our last item's id: the services' own next links
    # carry their internal URLs, which we must not follow blindly or echo.
    has_next = bool(body.get("next")) or any(link.get("rel") == "next" for link in links)
    return Page(items, items[-1]["id"] if items and has_next else None)


def walk(api: proxy.Proxy, listing: Listing, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield every item of a collection, page after page (for small ones: flavors by name)."""
    marker = None
    while True:
        result = page(api, listing, limit=MAX_PAGE - 1, marker=marker, params=params)
        yield from result.items
        if not result.next_marker:
            return
        marker = result.next_marker

"""Networks, from Neutron's JSON."""

from __future__ import annotations

from typing import Any

from openstack import connection
from openstack import exceptions as os_exc

from devstack_client.errors import InvalidRequest
from devstack_client.services._pages import Listing, Page, page
from devstack_client.services._wire import call, find, is_uuid, service

NETWORKS = Listing("/networks", "networks", sort={"name": "name", "status": "status"}, filters={"is_shared": "shared"})


def shape_network(network: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": network["id"],
        "name": network.get("name"),
        "status": network.get("status"),
        "subnets": network.get("subnets", []),
        "is_shared": network.get("shared"),
        "is_router_external": network.get("router:external"),
        "is_admin_state_up": network.get("admin_state_up"),
        "mtu": network.get("mtu"),
        "project_id": network.get("project_id"),
        "description": network.get("description"),
        "created_at": network.get("created_at"),
    }


def neutron_page(
    api: Any, listing: Listing, kind: str, *, limit: int, marker: str | None, params: dict[str, Any]
) -> Page:
    """One page of a Neutron collection; an unknown marker is a 400 naming it."""
    try:
        return page(api, listing, limit=limit, marker=marker, params=params)
    except os_exc.NotFoundException as exc:
        if not marker:
            raise
        # Neutron answers an unknown marker with 404 (NetworkNotFound, …); Nova and Glance with 400.
        message = f"marker: no {kind} {marker!r} to start after ({exc.details})"
        raise InvalidRequest(f"Invalid query: {message}.", [{"field": "marker", "message": message}]) from exc


class NetworkService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = service(conn, "network")

    def list_networks(
        self,
        *,
        limit: int,
        marker: str | None = None,
        name: str | None = None,
        status: str | None = None,
        is_shared: bool | None = None,
        sort: str | None = None,
    ) -> Page:
        params = NETWORKS.params(sort=sort, name=name, status=status, is_shared=is_shared)
        result = neutron_page(self._api, NETWORKS, "network", limit=limit, marker=marker, params=params)
        return Page([shape_network(n) for n in result.items], result.next_marker)

    def get_network(self, ref: str) -> dict[str, Any]:
        network = find(
            "network",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/networks/{value}")["network"],
            by_name=lambda name: call(self._api, "GET", "/networks", params={"name": name})["networks"],
            try_id=is_uuid(ref),
        )
        return shape_network(network)

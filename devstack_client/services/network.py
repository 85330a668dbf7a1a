"""Networks, from Neutron's JSON."""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.services._pages import Listing, Page, page
from devstack_client.services._wire import call, find, is_uuid, service

NETWORKS = Listing(
    "/networks", "networks", sort={"name": "name", "status": "status"}, filters={"is_shared": "shared"}, kind="network"
)


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
        result = page(self._api, NETWORKS, limit=limit, marker=marker, params=params)
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

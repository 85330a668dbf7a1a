"""Servers and flavors, from Nova's JSON."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from openstack import connection

from devstack_client.services._pages import walk
from devstack_client.services._wire import call, exact_name_regex, find, is_uuid

log = logging.getLogger(__name__)


def shape_flavor(flavor: dict[str, Any]) -> dict[str, Any]:
    swap = flavor.get("swap") or 0  # "" before microversion 2.75
    return {
        "id": flavor["id"],
        "name": flavor.get("name"),
        "vcpus": flavor.get("vcpus"),
        "ram": flavor.get("ram"),
        "disk": flavor.get("disk"),
        "ephemeral": flavor.get("OS-FLV-EXT-DATA:ephemeral", 0),
        "swap": swap,
        "is_public": flavor.get("os-flavor-access:is_public", True),
        "description": flavor.get("description"),
    }


def _shape_address(address: dict[str, Any]) -> dict[str, Any]:
    return {
        "addr": address.get("addr"),
        "version": address.get("version"),
        "type": address.get("OS-EXT-IPS:type"),
        "mac_addr": address.get("OS-EXT-IPS-MAC:mac_addr"),
    }


def shape_server(server: dict[str, Any]) -> dict[str, Any]:
    image = server.get("image")  # "" for a server booted from a volume
    flavor = server.get("flavor") or {}  # embedded since microversion 2.47
    fault = server.get("fault")
    return {
        "id": server["id"],
        "name": server.get("name"),
        "status": server.get("status"),
        "task_state": server.get("OS-EXT-STS:task_state"),
        "power_state": server.get("OS-EXT-STS:power_state"),
        "image": {"id": image["id"]} if isinstance(image, dict) and image.get("id") else None,
        "flavor": {
            "name": flavor.get("original_name"),
            "vcpus": flavor.get("vcpus"),
            "ram": flavor.get("ram"),
            "disk": flavor.get("disk"),
        },
        "addresses": {
            network: [_shape_address(a) for a in addresses]
            for network, addresses in (server.get("addresses") or {}).items()
        },
        "key_name": server.get("key_name"),
        "availability_zone": server.get("OS-EXT-AZ:availability_zone"),
        "project_id": server.get("tenant_id"),
        "metadata": server.get("metadata") or {},
        "tags": server.get("tags") or [],
        "description": server.get("description"),
        "created_at": server.get("created"),
        "updated_at": server.get("updated"),
        "fault": {"code": fault.get("code"), "message": fault.get("message")} if fault else None,
    }


class ComputeService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = conn.compute

    # -- flavors ---------------------------------------------------------------

    def list_flavors(self) -> list[dict[str, Any]]:
        return [shape_flavor(f) for f in walk(self._api, "/flavors/detail", "flavors")]

    def get_flavor(self, ref: str) -> dict[str, Any]:
        # Flavor ids are free-form strings ("1", "m1.tiny"), so always try the
        # id first; Nova cannot filter flavors by name, so the fallback lists.
        flavor = find(
            "flavor",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/flavors/{quote(value, safe='')}")["flavor"],
            by_name=lambda _: list(walk(self._api, "/flavors/detail", "flavors")),
        )
        return shape_flavor(flavor)

    # -- servers ---------------------------------------------------------------

    def list_servers(self) -> list[dict[str, Any]]:
        return [shape_server(s) for s in walk(self._api, "/servers/detail", "servers")]

    def _find_server(self, ref: str) -> dict[str, Any]:
        return find(
            "server",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/servers/{value}")["server"],
            by_name=lambda name: call(self._api, "GET", "/servers/detail", params={"name": exact_name_regex(name)})[
                "servers"
            ],
            try_id=is_uuid(ref),  # Nova server ids are UUIDs: save a call
        )

    def find_server(self, ref: str) -> dict[str, Any]:
        """Return Nova's JSON for the one server whose id, else exact name, is ``ref``."""
        return self._find_server(ref)

    def get_server(self, ref: str) -> dict[str, Any]:
        return shape_server(self._find_server(ref))

    def create_server(self, *, name: str, image_id: str, flavor_id: str, network_id: str) -> dict[str, Any]:
        body = {
            "server": {
                "name": name,
                "imageRef": image_id,
                "flavorRef": flavor_id,
                "networks": [{"uuid": network_id}],
            }
        }
        # Not retried on any failure: a lost answer to a POST may still have
        # created the server, and a second POST would create a second one.
        server_id = call(self._api, "POST", "/servers", json=body)["server"]["id"]
        try:
            return self.get_server(server_id)
        except Exception:  # the server exists: report it rather than an error
            log.warning("server %s created, but reading it back failed", server_id, exc_info=True)
            return {"id": server_id, "name": name, "status": "BUILD", "image": {"id": image_id}}

    def delete_server(self, ref: str) -> None:
        server_id = ref if is_uuid(ref) else self._find_server(ref)["id"]
        call(self._api, "DELETE", f"/servers/{server_id}")

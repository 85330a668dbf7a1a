"""Servers and flavors, from Nova's JSON."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from keystoneauth1 import exceptions as ks_exc
from openstack import connection
from openstack import exceptions as os_exc

from devstack_client.errors import DiscoveryFailed, GatewayError, InvalidRequest, NotFound
from devstack_client.services._beside import Beside
from devstack_client.services._pages import Listing, Page, page, walk
from devstack_client.services._wire import call, exact_name_regex, find, is_uuid, service
from devstack_client.services.catalog import Catalog
from devstack_client.services.cursor import Cursor, scheduling
from devstack_client.services.image import ImageService
from devstack_client.services.rules import MAX_PAGE

log = logging.getLogger(__name__)

UPSTREAM_FAILURES = (os_exc.HttpException, ks_exc.ConnectionError, DiscoveryFailed)


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
        "image": {"id": image["id"], "name": None} if isinstance(image, dict) and image.get("id") else None,
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
        "tags": sorted(server.get("tags") or []),  # Nova keeps a set: answer one order
        "description": server.get("description"),
        "created_at": server.get("created"),
        "updated_at": server.get("updated"),
        "fault": {"code": fault.get("code"), "message": fault.get("message")} if fault else None,
        # Nova lists a group once per port: once here. Names only (Nova's); a show adds the ids from Neutron.
        "security_groups": [
            {"id": None, "name": name}
            for name in dict.fromkeys(g.get("name") for g in server.get("security_groups") or [])
        ],
        # Nova lists only the ids; a show adds each volume's name, device and size from Cinder (get_server).
        "volumes": [
            {"id": v["id"], "name": None, "device": None, "size": None}
            for v in server.get("os-extended-volumes:volumes_attached") or []
        ],
    }


# Asks for one page of servers while short pages keep growing (servers scheduling at that instant).
SHORT_PAGE_TRIES = 3
SERVERS = Listing(
    "/servers/detail", "servers", sort={"name": "display_name", "created_at": "created_at", "status": "vm_state"}
)
FLAVORS = Listing(
    "/flavors/detail",
    "flavors",
    sort={"name": "name", "ram": "memory_mb", "vcpus": "vcpus", "disk": "root_gb"},
    filters={"min_ram": "minRam", "min_disk": "minDisk"},
)


class ComputeService:
    """Nova's servers and flavors; with ``catalog``, flavor pages and image names may come from it."""

    def __init__(self, conn: connection.Connection, catalog: Catalog | None = None) -> None:
        self._conn = conn
        self._api = conn.compute
        self._catalog = catalog

    # -- flavors ---------------------------------------------------------------

    def list_flavors(
        self,
        *,
        limit: int,
        marker: str | None = None,
        min_ram: int | None = None,
        min_disk: int | None = None,
        sort: str | None = None,
    ) -> Page:
        params = FLAVORS.params(sort=sort, min_ram=min_ram, min_disk=min_disk)
        result = page(self._api, FLAVORS, limit=limit, marker=marker, params=params, catalog=self._catalog)
        return Page([shape_flavor(f) for f in result.items], result.next_marker)

    def get_flavor(self, ref: str) -> dict[str, Any]:
        # Flavor ids are free-form strings ("1", "m1.tiny"), so always try the
        # id first; Nova cannot filter flavors by name, so the fallback lists.
        flavor = find(
            "flavor",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/flavors/{quote(value, safe='')}")["flavor"],
            by_name=lambda _: list(walk(self._api, FLAVORS)),
        )
        return shape_flavor(flavor)

    # -- servers ---------------------------------------------------------------

    def list_servers(
        self,
        *,
        limit: int,
        marker: str | None = None,
        status: str | None = None,
        name: str | None = None,
        name_like: str | None = None,
        image: str | None = None,
        flavor: str | None = None,
        sort: str | None = None,
        changes_since: str | None = None,
        image_names: bool = True,
    ) -> Page:
        """One page of servers: one Nova call (up to SHORT_PAGE_TRIES while servers are being scheduled), plus one
        Glance call for the image names."""
        params = SERVERS.params(sort=sort)
        if status:
            params["status"] = status.upper()
        # Nova filters names by regular expression, so escape what we are given
        if name:
            params["name"] = exact_name_regex(name)
        elif name_like:
            params["name"] = re.escape(name_like)
        if image:
            params["image"] = self._filter_ref("image", image)
        if flavor:
            params["flavor"] = self._filter_ref("flavor", flavor)
        if changes_since:
            params["changes-since"] = changes_since  # Nova then lists deleted servers too
        cursor = Cursor.parse(marker)
        # Enough to fill the page once what the walk already answered is left out, and one more: whether it
        # comes tells if there is a next page.
        wanted = min(limit + 1 + len(cursor.carried), MAX_PAGE)
        body, listed, wanted = self._nova_page(params, cursor.marker, wanted)
        fresh = cursor.unseen(listed)
        consumed = fresh[:limit]
        capped = len(listed) < wanted and any(link.get("rel") == "next" for link in body.get("servers_links", []))
        more = len(fresh) > limit or len(listed) >= wanted or capped
        # Nova's own page was smaller than ours and held only servers already answered: go on after it.
        resume_at = listed[-1]["id"] if capped and not consumed else None
        servers = [shape_server(s) for s in consumed if not name or s.get("name") == name]
        if image_names:
            self._add_image_names(servers)
        return Page(servers, cursor.after(consumed, resume_at=resume_at) if more else None)

    def _nova_page(
        self, params: dict[str, Any], marker: str | None, wanted: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """Nova's answer to a server list of up to ``wanted``; the answer, its servers and the limit asked for.

        Nova lists a server that is both a build request and placed (for an instant while it is scheduled)
        once, and then short of the limit: a short page holding a scheduling server may not be the end.
        Asking again for as many more as were scheduling tells: at the end the answer does not grow.
        """
        previous = -1
        for _ in range(SHORT_PAGE_TRIES):
            query = {**params, "limit": wanted, **({"marker": marker} if marker else {})}
            body = call(self._api, "GET", SERVERS.path, params=query)
            listed = body.get("servers", [])
            busy = sum(1 for server in listed if scheduling(server))
            if len(listed) >= wanted or wanted >= MAX_PAGE or not busy or len(listed) <= previous:
                break
            previous, wanted = len(listed), min(wanted + busy, MAX_PAGE)
        return body, listed, wanted

    def _filter_ref(self, kind: str, ref: str) -> str:
        # An id is used as it is: servers may still reference a deleted image.
        if kind == "image" and is_uuid(ref):
            return ref
        try:
            if kind == "image":
                return ImageService(self._conn).get_image(ref)["id"]
            return self.get_flavor(ref)["id"]
        except NotFound as exc:
            raise InvalidRequest(f"{kind}: {exc.message}", [{"field": kind, "message": exc.message}]) from exc

    def _add_image_names(self, servers: list[dict[str, Any]]) -> None:
        """Join image names in one Glance call for the whole page, never one per server."""
        ids = sorted({s["image"]["id"] for s in servers if s["image"]})
        if not ids:
            return
        try:
            names = ImageService(self._conn).image_names(ids, self._catalog)
        except UPSTREAM_FAILURES:
            # Names are a convenience: a Glance outage must not fail the list.
            log.warning("image names unavailable for the server list", exc_info=False)
            names = {}
        for server in servers:
            if server["image"]:
                server["image"]["name"] = names.get(server["image"]["id"])

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
        """The server, with its groups' ids (one Neutron call) and its volumes' names, devices and sizes (one
        Cinder call per attached volume).

        Given an id, the Neutron call goes out beside Nova's: a show then takes the longer of the two, not both.
        """
        groups = Beside(lambda: self._port_groups(ref)) if is_uuid(ref) else None
        try:
            server = shape_server(self._find_server(ref))
            if server["volumes"]:
                self._add_volume_details(server)
        finally:
            if groups is not None:
                groups.join()
        if server["security_groups"]:
            # Nova finds an id in another spelling (upper case), or a server named like an id: ask for its own.
            self._add_security_group_ids(server, groups if groups is not None and server["id"] == ref else None)
        return server

    def _port_groups(self, server_id: str) -> list[str]:
        """The ids of the groups of the server's ports (one Neutron call)."""
        neutron = service(self._conn, "network")
        ports = call(neutron, "GET", "/ports", params={"device_id": server_id, "fields": "security_groups"})
        return list(dict.fromkeys(i for port in ports["ports"] for i in port.get("security_groups") or []))

    def _add_security_group_ids(self, server: dict[str, Any], groups: Beside[list[str]] | None) -> None:
        """The ids of the server's groups: its ports' (``groups`` if already asked), and their names (one more
        call if several)."""
        # Imported here: the security group service's idempotency keys come from launch, which imports this one.
        from devstack_client.services.security_group import SecurityGroupService

        try:
            ids = groups.result() if groups is not None else self._port_groups(server["id"])
            if len(ids) == 1 and len(server["security_groups"]) == 1:
                names = {ids[0]: server["security_groups"][0]["name"]}
            elif ids:
                names = SecurityGroupService(self._conn).names(ids)  # the interfaces' lookup, one call
            else:
                return
        except (*UPSTREAM_FAILURES, GatewayError):
            # The ids are a convenience (Nova names the groups): Neutron down must not fail the show.
            log.warning("security group ids unavailable for server %s", server["id"], exc_info=False)
            return
        # Several groups may share a name: each of the ports' groups is listed, with its id.
        server["security_groups"] = [{"id": group_id, "name": name or ""} for group_id, name in names.items()]

    def _add_volume_details(self, server: dict[str, Any]) -> None:
        # Imported here: the volume service resolves servers through this one.
        from devstack_client.services.volume import VolumeService

        try:
            details = VolumeService(self._conn).volume_details([v["id"] for v in server["volumes"]])
        except (*UPSTREAM_FAILURES, GatewayError):
            # Details are a convenience: Cinder down (or gone from the catalog) must not fail the show.
            log.warning("volume details unavailable for server %s", server["id"], exc_info=False)
            return
        for volume in server["volumes"]:
            found = details[volume["id"]]
            attachments = found.get("attachments") or []
            device = next((a.get("device") for a in attachments if a.get("server_id") == server["id"]), None)
            volume.update(name=found.get("name"), size=found.get("size"), device=device)

    def server_name(self, server_id: str) -> str | None:
        """A server's name, or None if it is gone (or cannot be read now)."""
        try:
            return call(self._api, "GET", f"/servers/{server_id}")["server"].get("name")
        except UPSTREAM_FAILURES:
            return None

    def delete_server(self, ref: str) -> None:
        server_id = ref if is_uuid(ref) else self._find_server(ref)["id"]
        call(self._api, "DELETE", f"/servers/{server_id}")

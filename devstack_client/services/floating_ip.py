"""Floating IPs, from Neutron's JSON, and a server's ports.

A floating IP's ``status`` says whether an L3 agent has set up its NAT: on a
cloud without one (the test cloud) it stays ``DOWN`` forever even though the
association is made and Nova lists the address. Nothing here waits for
``ACTIVE`` (openstacksdk's ``create_floating_ip(wait=True)`` would time out).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from openstack import connection
from openstack import exceptions as os_exc

from devstack_client.errors import InvalidRequest, NotFound
from devstack_client.services._pages import Listing, Page, page
from devstack_client.services._wire import call, is_uuid, service
from devstack_client.services.network import NetworkService
from devstack_client.services.neutron_keys import NeutronKeys

log = logging.getLogger(__name__)

FLOATING_IPS = Listing(
    "/floatingips",
    "floatingips",
    sort={"address": "floating_ip_address", "status": "status", "created_at": "created_at"},
    kind="floating IP",
)


def shape_floating_ip(fip: dict[str, Any]) -> dict[str, Any]:
    # port_details (Neutron's fip-port-details extension) names the port's device: the server, at no extra call.
    details = fip.get("port_details") or {}
    owner = details.get("device_owner") or ""
    return {
        "id": fip["id"],
        "address": fip.get("floating_ip_address"),
        "status": fip.get("status"),
        "network_id": fip.get("floating_network_id"),
        "fixed_address": fip.get("fixed_ip_address"),
        "port_id": fip.get("port_id"),
        "server_id": details.get("device_id") if fip.get("port_id") and owner.startswith("compute:") else None,
        "router_id": fip.get("router_id"),
        "description": fip.get("description"),
        "project_id": fip.get("project_id") or fip.get("tenant_id"),
        "created_at": fip.get("created_at"),
    }


def is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def first_ipv4(port: dict[str, Any]) -> str | None:
    for fixed in port.get("fixed_ips") or []:
        if ipaddress.ip_address(fixed["ip_address"]).version == 4:
            return fixed["ip_address"]
    return None


class FloatingIpService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = service(conn, "network")
        self._networks = NetworkService(conn)
        self._conn = conn
        self._keys = NeutronKeys(self._api, "/floatingips", "floatingip", lambda: self._project_id)

    @property
    def _project_id(self) -> str | None:
        # Read when first needed, from the token: a body refused before any call needs no token.
        return self._conn.current_project_id

    def list_floating_ips(
        self,
        *,
        limit: int,
        marker: str | None = None,
        status: str | None = None,
        port_ids: list[str] | None = None,
        sort: str | None = None,
    ) -> Page:
        """One page of the project's floating IPs (``port_ids``: attached to these ports; [] matches none)."""
        if port_ids is not None and not port_ids:
            return Page([], None)  # a server without ports has no floating IP: Neutron need not be asked
        params = FLOATING_IPS.params(sort=sort, status=status, project_id=self._project_id)
        if port_ids:
            params["port_id"] = port_ids
        result = page(self._api, FLOATING_IPS, limit=limit, marker=marker, params=params)
        return Page([shape_floating_ip(f) for f in result.items], result.next_marker)

    def find_floating_ip(self, ref: str) -> dict[str, Any]:
        """Neutron's JSON for the floating IP whose id or address is ``ref``."""
        if is_uuid(ref):
            return call(self._api, "GET", f"/floatingips/{ref}")["floatingip"]
        if not is_address(ref):
            raise NotFound("floating IP", ref)  # neither an id nor an address: nothing to ask Neutron
        params = {"floating_ip_address": str(ipaddress.ip_address(ref)), "project_id": self._project_id}
        found = call(self._api, "GET", "/floatingips", params=params)["floatingips"]
        if not found:
            raise NotFound("floating IP", ref)
        return found[0]  # an address is unique on its network, and the project's addresses on one cloud

    def get_floating_ip(self, ref: str) -> dict[str, Any]:
        return shape_floating_ip(self.find_floating_ip(ref))

    def create_floating_ip(
        self, *, network: str | None = None, description: str | None = None, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Allocate an address from ``network`` (or the only/default external one); return it and if a replay."""
        body: dict[str, Any] = {"floating_network_id": self.external_network(network)}
        if description is not None:
            body["description"] = description
        created, replayed = self._keys.create(body, idempotency_key)
        return shape_floating_ip(created), replayed

    def delete_floating_ip(self, ref: str) -> None:
        # An id is deleted at once (Neutron answers 404 for one it does not know); an address is looked up.
        fip_id = ref if is_uuid(ref) else self.find_floating_ip(ref)["id"]
        call(self._api, "DELETE", f"/floatingips/{fip_id}")

    def external_network(self, ref: str | None) -> str:
        """The id of the external network ``ref``, or of the only (else the default) one; 400 naming ``network``."""
        if ref is not None:
            try:
                found = self._networks.get_network(ref)
            except NotFound as exc:
                raise _bad_network(exc.message) from exc
            if not found["is_router_external"]:
                raise _bad_network(f"network {found['name']!r} is not external: floating IPs come from one that is")
            return found["id"]
        external = call(self._api, "GET", "/networks", params={"router:external": "true"})["networks"]
        defaults = [n for n in external if n.get("is_default")]
        chosen = external if len(external) == 1 else defaults
        if len(chosen) == 1:
            return chosen[0]["id"]
        if not external:
            raise _bad_network("this cloud has no external network to allocate floating IPs from")
        names = ", ".join(f"{n.get('name')} ({n['id']})" for n in sorted(external, key=lambda n: n.get("name") or ""))
        raise _bad_network(f"several external networks and none is the default: choose one of {names}")

    # -- associating (server actions) --------------------------------------------

    def attach(self, server_id: str, ports: list[dict[str, Any]], address: str | None) -> dict[str, Any]:
        """Attach the floating IP ``address``, or a new one, to the server's first port with an IPv4 address.

        A new one is allocated and then attached; if the attach fails it is
        released again, so that a failed call leaves nothing behind.
        """
        port = next((p for p in ports if first_ipv4(p)), None)
        if port is None:
            raise InvalidRequest(
                f"Server {server_id} has no port with an IPv4 address to attach a floating IP to.",
                [{"field": "action", "message": "the server has no IPv4 port"}],
            )
        association = {"port_id": port["id"], "fixed_ip_address": first_ipv4(port)}
        if address is not None:
            fip = self._by_address(address)
            body = call(self._api, "PUT", f"/floatingips/{fip['id']}", json={"floatingip": association})
            return shape_floating_ip(body["floatingip"])
        network_id = self.external_network(None)
        created = call(self._api, "POST", "/floatingips", json={"floatingip": {"floating_network_id": network_id}})
        fip_id = created["floatingip"]["id"]
        try:
            body = call(self._api, "PUT", f"/floatingips/{fip_id}", json={"floatingip": association})
        except Exception:
            try:
                call(self._api, "DELETE", f"/floatingips/{fip_id}")
            except Exception:  # the attach's error is the one to answer; this one goes to the log
                log.warning("floating IP %s allocated, its attach failed, and releasing it failed", fip_id)
            raise
        return shape_floating_ip(body["floatingip"])

    def detach(self, server_id: str, port_ids: list[str], address: str, *, release: bool) -> dict[str, Any]:
        """Detach the floating IP ``address`` from the server (``release``: give it back to the pool too)."""
        fip = self._by_address(address)
        if fip.get("port_id") not in port_ids:
            message = f"floating IP {address} is not attached to server {server_id}"
            raise InvalidRequest(message + ".", [{"field": "address", "message": message}])
        if release:
            call(self._api, "DELETE", f"/floatingips/{fip['id']}")  # which detaches it too
            gone = {"port_id": None, "server_id": None, "fixed_address": None, "router_id": None, "status": "DOWN"}
            return {**shape_floating_ip(fip), **gone}
        body = call(self._api, "PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}})
        return shape_floating_ip(body["floatingip"])

    def _by_address(self, address: str) -> dict[str, Any]:
        try:
            return self.find_floating_ip(address)
        except (NotFound, os_exc.NotFoundException) as exc:
            message = f"no floating IP {address!r} in this project"
            raise InvalidRequest(message + ".", [{"field": "address", "message": message}]) from exc


def _bad_network(message: str) -> InvalidRequest:
    return InvalidRequest(message + ".", [{"field": "network", "message": message}])

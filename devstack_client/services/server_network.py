"""A server's place on the network: its ports, security groups and floating IPs.

Security groups are added and removed through Nova (its ``addSecurityGroup``
action takes a group's id as well as its name, and Nova then lists the group
on the server); floating IPs are Neutron's alone: Nova's own floating-IP
actions were removed at microversion 2.44.
"""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.errors import InvalidRequest, NotFound
from devstack_client.services._wire import call, is_uuid, service
from devstack_client.services.compute import ComputeService
from devstack_client.services.floating_ip import FloatingIpService
from devstack_client.services.security_group import SecurityGroupService

# action → (fields it requires, fields it may take besides "action")
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "add_security_group": (("security_group",), ("security_group",)),
    "remove_security_group": (("security_group",), ("security_group",)),
    "add_floating_ip": ((), ("address",)),
    "remove_floating_ip": (("address",), ("address", "release")),
}
NOVA_ACTIONS = {"add_security_group": "addSecurityGroup", "remove_security_group": "removeSecurityGroup"}
FIELDS = ("security_group", "address", "release")


def field_errors(action: str, body: dict[str, Any]) -> list[dict[str, str]]:
    """The network fields an action needs but lacks, or was given but does not take (any action)."""
    # Called on any body, before its types are known good: an action that is no string has its own error.
    required, allowed = ACTIONS.get(action, ((), ())) if isinstance(action, str) else ((), FIELDS)
    errors = [{"field": f, "message": f"{f} is required for {action}"} for f in required if f not in body]
    errors += [
        {"field": f, "message": f"{f} applies to {_takers(f)} only"} for f in FIELDS if f in body and f not in allowed
    ]
    return errors


def _takers(field: str) -> str:
    return " and ".join(action for action, (_, allowed) in ACTIONS.items() if field in allowed)


def shape_port(port: dict[str, Any], groups: dict[str, str | None], networks: dict[str, str | None]) -> dict[str, Any]:
    return {
        "id": port["id"],
        "network": {"id": port.get("network_id"), "name": networks.get(port.get("network_id") or "")},
        "mac_address": port.get("mac_address"),
        "fixed_ips": [
            {"address": f["ip_address"], "subnet_id": f.get("subnet_id")} for f in port.get("fixed_ips") or []
        ],
        "status": port.get("status"),
        "security_groups": [{"id": g, "name": groups.get(g)} for g in port.get("security_groups") or []],
        "is_port_security_enabled": port.get("port_security_enabled"),
    }


class ServerNetworkService:
    def __init__(self, conn: connection.Connection) -> None:
        self._nova = conn.compute
        self._neutron = service(conn, "network")
        self._compute = ComputeService(conn)
        self._groups = SecurityGroupService(conn)
        self._floating = FloatingIpService(conn)

    def act(
        self,
        ref: str,
        *,
        action: str,
        security_group: str | None = None,
        address: str | None = None,
        release: bool = False,
    ) -> dict[str, Any]:
        """Do a network action on a server; what was done, in the shape of the other server actions."""
        server_id = self._server_id(ref)
        answer: dict[str, Any] = {"id": server_id, "action": action, "type": None, "target_status": None}
        if action in NOVA_ACTIONS:
            group = self._group(security_group or "")
            body = {NOVA_ACTIONS[action]: {"name": group["id"]}}  # Nova looks ids up as well as names
            call(self._nova, "POST", f"/servers/{server_id}/action", json=body)
            return {**answer, "security_group": {"id": group["id"], "name": group.get("name")}}
        ports = self._ports(server_id)
        if action == "add_floating_ip":
            fip = self._floating.attach(server_id, ports, address)
        else:
            fip = self._floating.detach(server_id, [p["id"] for p in ports], address or "", release=release)
        return {**answer, "floating_ip": fip}

    def list_interfaces(self, ref: str) -> list[dict[str, Any]]:
        """The server's ports, with their groups' and networks' names: up to three Neutron calls."""
        ports = self._ports(self._server_id(ref))
        group_ids = [g for p in ports for g in p.get("security_groups") or []]
        groups = self._groups.names(group_ids)
        network_ids = sorted({p["network_id"] for p in ports if p.get("network_id")})
        networks = {}
        if network_ids:
            params = {"id": network_ids, "fields": ["id", "name"]}
            networks = {
                n["id"]: n.get("name") for n in call(self._neutron, "GET", "/networks", params=params)["networks"]
            }
        return [shape_port(p, groups, networks) for p in ports]

    def port_ids(self, ref: str) -> list[str]:
        return [p["id"] for p in self._ports(self._server_id(ref))]

    # -- helpers -------------------------------------------------------------------

    def _server_id(self, ref: str) -> str:
        return ref if is_uuid(ref) else self._compute.find_server(ref)["id"]

    def _ports(self, server_id: str) -> list[dict[str, Any]]:
        """The server's ports; a server id Nova does not know is a 404 (asked only when there are none)."""
        ports = call(self._neutron, "GET", "/ports", params={"device_id": server_id})["ports"]
        # device_id is free-form: a router's id would list its ports. Servers' ports are owned by compute:<zone>.
        ports = [p for p in ports if (p.get("device_owner") or "").startswith("compute:")]
        if not ports:
            call(self._nova, "GET", f"/servers/{server_id}")  # 404 if there is no such server
        return ports

    def _group(self, ref: str) -> dict[str, Any]:
        try:
            return self._groups.find_security_group(ref)
        except NotFound as exc:  # the server exists; the group named in the body does not
            raise InvalidRequest(
                f"security_group: {exc.message}", [{"field": "security_group", "message": exc.message}]
            ) from exc

"""Security groups and their rules, from Neutron's JSON.

Lists and name lookups are scoped to the caller's project (``project_id``): an
admin token would otherwise see every project's groups, and every project has
one named ``default``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from openstack import connection
from openstack import exceptions as os_exc

from devstack_client.errors import AmbiguousName, InUse, InvalidRequest, NotFound
from devstack_client.services._pages import Listing, Page, page
from devstack_client.services._wire import call, find, is_uuid, service
from devstack_client.services.neutron_keys import NeutronKeys

SECURITY_GROUPS = Listing(
    "/security-groups", "security_groups", sort={"name": "name", "created_at": "created_at"}, kind="security group"
)

DIRECTIONS = ("ingress", "egress")
ETHERTYPES = ("IPv4", "IPv6")
# Our protocol names; "any" is Neutron's null. Ports apply to these (and their numbers); ICMP's "ports" are its
# type and code (Neutron's own reading of port_range_min/max for ICMP).
NAMED_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}
PORT_PROTOCOLS = {"tcp", "udp", "6", "17"}
ICMP_PROTOCOLS = {"icmp", "1"}


def shape_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rule["id"],
        "direction": rule.get("direction"),
        "ethertype": rule.get("ethertype"),
        "protocol": rule.get("protocol") or "any",
        "port_min": rule.get("port_range_min"),
        "port_max": rule.get("port_range_max"),
        "remote_cidr": rule.get("remote_ip_prefix"),
        "remote_group_id": rule.get("remote_group_id"),
        "description": rule.get("description"),
    }


def shape_security_group(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": group["id"],
        "name": group.get("name"),
        "description": group.get("description"),
        "is_stateful": group.get("stateful", True),
        "project_id": group.get("project_id") or group.get("tenant_id"),
        "rules": [shape_rule(r) for r in group.get("security_group_rules") or []],
        "created_at": group.get("created_at"),
        "updated_at": group.get("updated_at"),
    }


def rule_body(
    *,
    direction: str,
    protocol: str = "any",
    port: int | None = None,
    port_min: int | None = None,
    port_max: int | None = None,
    remote_cidr: str | None = None,
    ethertype: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Neutron's rule body for ours (remote_group_id is added by the caller), or InvalidRequest naming each field.

    Neutron checks the same, but only after it has been asked: a bad range or CIDR must not leave the gateway.
    """
    errors: list[tuple[str, str]] = []
    protocol = protocol.lower()
    numbered = protocol.isascii() and protocol.isdigit() and len(protocol) <= 3 and int(protocol) <= 255
    if protocol != "any" and protocol not in NAMED_PROTOCOLS and not numbered:
        errors.append(("protocol", "protocol must be tcp, udp, icmp, any or a number from 0 to 255"))
    if port is not None and (port_min is not None or port_max is not None):
        errors.append(("port", "give port, or port_min and port_max, not both"))
    low, high = (port, port) if port is not None else (port_min, port_max)
    if low is not None or high is not None:
        if protocol in ICMP_PROTOCOLS:
            errors.extend(_icmp_errors(low, high, port is not None))
        elif protocol in PORT_PROTOCOLS:
            errors.extend(_port_errors(low, high, "port" if port is not None else None))
        else:
            errors.append(
                ("port" if port is not None else "port_min", f"ports apply to tcp, udp and icmp, not {protocol}")
            )
    network = None
    if remote_cidr is not None:
        try:
            network = ipaddress.ip_network(remote_cidr, strict=False)
        except ValueError:
            errors.append(
                ("remote_cidr", f"remote_cidr {remote_cidr!r} is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/24)")
            )
    if network is not None:
        family = f"IPv{network.version}"
        if ethertype is not None and ethertype != family:
            errors.append(("ethertype", f"ethertype {ethertype} does not match remote_cidr {remote_cidr} ({family})"))
        ethertype = family
    if errors:
        raise InvalidRequest(
            "Invalid request body: " + "; ".join(m for _, m in errors) + ".",
            [{"field": f, "message": m} for f, m in errors],
        )
    body: dict[str, Any] = {
        "direction": direction,
        "ethertype": ethertype or "IPv4",
        "protocol": None if protocol == "any" else protocol,
    }
    if low is not None or high is not None:
        body["port_range_min"], body["port_range_max"] = low, high
    if network is not None:
        body["remote_ip_prefix"] = str(network)  # normalised: 10.0.0.5/24 is 10.0.0.0/24, as Neutron stores it
    if description is not None:
        body["description"] = description
    return body


def _port_errors(low: int | None, high: int | None, single: str | None) -> list[tuple[str, str]]:
    if single:
        return [] if low is not None and 1 <= low <= 65535 else [(single, "port must be from 1 to 65535")]
    errors = [
        (name, f"{name} must be from 1 to 65535")
        for name, value in (("port_min", low), ("port_max", high))
        if value is None or not 1 <= value <= 65535
    ]
    if not errors and low is not None and high is not None and low > high:
        errors.append(("port_max", f"port_max ({high}) must not be below port_min ({low})"))
    return errors


def _icmp_errors(low: int | None, high: int | None, single: bool) -> list[tuple[str, str]]:
    # For ICMP, port_min is the type and port_max the code (Neutron's convention); a code needs a type.
    name = "port" if single else "port_min"
    errors = [(name, f"{name}: the ICMP type must be from 0 to 255")] if low is not None and not 0 <= low <= 255 else []
    if not single and high is not None:
        if not 0 <= high <= 255:
            errors.append(("port_max", "port_max: the ICMP code must be from 0 to 255"))
        elif low is None:
            errors.append(("port_min", "port_min (the ICMP type) is required with port_max (the code)"))
    return errors


class SecurityGroupService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = service(conn, "network")
        self._conn = conn
        self._keys = NeutronKeys(self._api, "/security-groups", "security_group", lambda: self._project_id)

    @property
    def _project_id(self) -> str | None:
        # Read when first needed, from the token: a body refused before any call needs no token.
        return self._conn.current_project_id

    # -- groups ------------------------------------------------------------------

    def list_security_groups(
        self, *, limit: int, marker: str | None = None, name: str | None = None, sort: str | None = None
    ) -> Page:
        params = SECURITY_GROUPS.params(sort=sort, name=name, project_id=self._project_id)
        result = page(self._api, SECURITY_GROUPS, limit=limit, marker=marker, params=params)
        return Page([shape_security_group(g) for g in result.items], result.next_marker)

    def find_security_group(self, ref: str) -> dict[str, Any]:
        """Neutron's JSON for the project's one group whose id, else exact name, is ``ref``."""
        return find(
            "security group",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/security-groups/{value}")["security_group"],
            by_name=lambda name: call(
                self._api, "GET", "/security-groups", params={"name": name, "project_id": self._project_id}
            )["security_groups"],
            try_id=is_uuid(ref),
        )

    def get_security_group(self, ref: str) -> dict[str, Any]:
        return shape_security_group(self.find_security_group(ref))

    def create_security_group(
        self, *, name: str, description: str | None = None, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Create a group (Neutron gives it its two egress rules); return it and whether it is a replay."""
        body = {"name": name, **({"description": description} if description is not None else {})}
        group, replayed = self._keys.create(body, idempotency_key)
        return shape_security_group(group), replayed

    def update_security_group(
        self, ref: str, *, name: str | None = None, description: str | None = None
    ) -> dict[str, Any]:
        fields = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        if not fields:
            raise InvalidRequest(
                "Nothing to change: send name or description.",
                [{"field": "body", "message": "at least one of name, description is required"}],
            )
        group_id = self._id(ref)
        body = call(self._api, "PUT", f"/security-groups/{group_id}", json={"security_group": fields})
        return shape_security_group(body["security_group"])

    def delete_security_group(self, ref: str) -> None:
        group_id = self._id(ref)
        try:
            call(self._api, "DELETE", f"/security-groups/{group_id}")
        except os_exc.ConflictException as exc:
            if "in use" not in (exc.details or ""):
                raise  # the project's default group, for one: Neutron's words say why
            raise self._in_use(group_id, exc) from exc

    def _in_use(self, group_id: str, exc: os_exc.HttpException) -> InUse:
        """Neutron says a group is in use, not by what: its ports (and their servers) say."""
        try:
            params = {"security_groups": group_id, "fields": ["id", "device_id", "device_owner"]}
            ports = call(self._api, "GET", "/ports", params=params)["ports"]
        except os_exc.HttpException:  # the refusal stands even if the ports cannot be listed
            ports = []
        servers = sorted({p["device_id"] for p in ports if (p.get("device_owner") or "").startswith("compute:")})
        return InUse(
            "security group",
            group_id,
            exc.details or "",
            servers=servers,
            ports=sorted(p["id"] for p in ports),
            upstream_status=exc.status_code,
            upstream_request_id=exc.request_id,
        )

    def _id(self, ref: str) -> str:
        return ref if is_uuid(ref) else self.find_security_group(ref)["id"]

    # -- rules ---------------------------------------------------------------------

    def create_rule(self, ref: str, *, remote_group: str | None = None, **rule: Any) -> dict[str, Any]:
        """Add a rule; a duplicate is Neutron's 409, with its words (they name the existing rule)."""
        body = rule_body(**rule)  # checked before any lookup: a bad rule costs no call
        group_id = self._id(ref)
        if remote_group is not None:
            try:
                body["remote_group_id"] = group_id if remote_group in (ref, group_id) else self._id(remote_group)
            except (NotFound, AmbiguousName) as exc:
                message = exc.message
                raise InvalidRequest(
                    f"remote_group: {message}", [{"field": "remote_group", "message": message}]
                ) from exc
        body["security_group_id"] = group_id
        created = call(self._api, "POST", "/security-group-rules", json={"security_group_rule": body})
        return shape_rule(created["security_group_rule"])

    def delete_rule(self, ref: str, rule_id: str) -> None:
        group_id = self._id(ref)
        if not is_uuid(rule_id):
            raise NotFound("security group rule", rule_id)
        rule = call(self._api, "GET", f"/security-group-rules/{rule_id}")["security_group_rule"]
        if rule.get("security_group_id") != group_id:
            raise NotFound("security group rule", rule_id)  # another group's: not under this URL
        call(self._api, "DELETE", f"/security-group-rules/{rule_id}")

    # -- for a server's interfaces -------------------------------------------------

    def names(self, ids: list[str]) -> dict[str, str | None]:
        """Group id → name for ``ids``, in one call."""
        if not ids:
            return {}
        params = {"id": sorted(set(ids)), "fields": ["id", "name"]}
        return {
            g["id"]: g.get("name") for g in call(self._api, "GET", "/security-groups", params=params)["security_groups"]
        }

"""Neutron's security groups, rules, floating IPs, ports and quotas for ANY id, name or address a fuzzer invents.

The part of ``PermissiveCloud`` (tests/permissive_cloud.py) that answers them, in the same way: an id, name or
address "exists" by checksum (``invent``), what the gateway creates is kept, and an unknown one is Neutron's own
404 (``NeutronError``). Rules are checked as Neutron checks them (a port range, a CIDR), so that whatever the
gateway lets through that Neutron would refuse shows as Neutron's 400, not as a silent success.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from tests.fakes import NETWORK, make_fake_network, neutron_error
from tests.neutron_fakes import (
    PUBLIC_ID,
    make_fake_floating_ip,
    make_fake_neutron_quota,
    make_fake_port,
    make_fake_rule,
    make_fake_security_group,
)

PUBLIC = make_fake_network(PUBLIC_ID, "public", **{"router:external": True})


class PermissiveNeutron:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud  # the PermissiveCloud: its _exists, matches and Nova servers
        self.groups: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.fips: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()

    def answer(self, parts: list[str], query: dict[str, list[str]], request: Any, context: Any) -> Any:
        head, rest = parts[0], parts[1:]
        handler = {
            "security-groups": self._groups,
            "security-group-rules": self._rules,
            "floatingips": self._fips,
            "ports": self._ports,
            "quotas": lambda *_: make_fake_neutron_quota(),
        }.get(head)
        if handler is None:
            return _missing(context, "HTTPNotFound", "The resource could not be found.")
        return handler(request.method, rest, query, request, context)

    def external(self) -> list[dict[str, Any]]:
        return [PUBLIC]

    def network(self, network_id: str) -> dict[str, Any] | None:
        return PUBLIC if network_id == PUBLIC_ID else NETWORK if network_id == NETWORK["id"] else None

    # -- security groups and rules ---------------------------------------------------

    def _group(self, group_id: str) -> dict[str, Any] | None:
        if group_id not in self.groups and group_id not in self.deleted and self.cloud._exists(group_id):
            self.groups[group_id] = make_fake_security_group(group_id, name=f"sg-{group_id[:8]}")
        return self.groups.get(group_id)

    def _groups(self, method: str, rest: list[str], query: dict[str, list[str]], request: Any, context: Any) -> Any:
        if not rest and method == "GET":
            groups = list(self.groups.values())
            if "name" in query:
                name = query["name"][0]
                groups = [g for g in groups if g["name"] == name] or [
                    self._group(_uuid(name, n)) or make_fake_security_group(_uuid(name, n), name)
                    for n in range(self.cloud.matches(name))
                ]
                for group in groups:
                    group["name"] = name
                    self.groups[group["id"]] = group
            if "id" in query:
                groups = [g for g in map(self._group, query["id"]) if g]
            if "tags" in query:
                groups = [g for g in self.groups.values() if query["tags"][0] in g["tags"]]
            return {"security_groups": groups[: int(query.get("limit", ["1000"])[0])]}
        if not rest and method == "POST":
            body = request.json()["security_group"]
            group = make_fake_security_group(_uuid(str(len(self.groups)), "created-sg"), **body)
            self.groups[group["id"]] = group
            context.status_code = 201
            return {"security_group": group}
        group = self._group(rest[0])
        if group is None:
            return _missing(context, "SecurityGroupNotFound", f"Security group {rest[0]} does not exist")
        if rest[1:] == ["tags"] and method == "PUT":
            group["tags"] = request.json()["tags"]
            return {"tags": group["tags"]}
        if method == "PUT":
            group.update(request.json()["security_group"])
        if method == "DELETE":
            del self.groups[group["id"]]
            self.deleted.add(group["id"])
            context.status_code = 204
            return None
        return {"security_group": group}

    def _rules(self, method: str, rest: list[str], query: dict[str, list[str]], request: Any, context: Any) -> Any:
        if not rest and method == "POST":
            body = request.json()["security_group_rule"]
            refusal = _rule_refusal(body)
            if refusal:
                context.status_code = 400
                return neutron_error("InvalidInput", refusal)
            if self._group(body["security_group_id"]) is None:
                return _missing(
                    context, "SecurityGroupNotFound", f"Security group {body['security_group_id']} does not exist"
                )
            rule = make_fake_rule(body["security_group_id"], **body)
            self.rules[rule["id"]] = rule
            context.status_code = 201
            return {"security_group_rule": rule}
        rule_id = rest[0]
        if rule_id not in self.rules and rule_id not in self.deleted and self.cloud._exists(rule_id):
            self.rules[rule_id] = make_fake_rule(_uuid(rule_id, "group-of"), id=rule_id)
        rule = self.rules.get(rule_id)
        if rule is None:
            return _missing(context, "SecurityGroupRuleNotFound", f"Security group rule {rule_id} does not exist")
        if method == "DELETE":
            del self.rules[rule_id]
            self.deleted.add(rule_id)
            context.status_code = 204
            return None
        return {"security_group_rule": rule}

    # -- floating IPs and ports ---------------------------------------------------------

    def _fips(self, method: str, rest: list[str], query: dict[str, list[str]], request: Any, context: Any) -> Any:
        if not rest and method == "GET":
            fips = list(self.fips.values())
            if "floating_ip_address" in query:
                address = query["floating_ip_address"][0]
                fips = [f for f in fips if f["floating_ip_address"] == address]
                if not fips and self.cloud._exists(address):
                    fip = make_fake_floating_ip(_uuid(address, "fip"), address=address)
                    self.fips[fip["id"]] = fip
                    fips = [fip]
            if "port_id" in query:
                fips = [f for f in fips if f["port_id"] in query["port_id"]]
            if "tags" in query:
                fips = [f for f in fips if query["tags"][0] in f["tags"]]
            return {"floatingips": fips[: int(query.get("limit", ["1000"])[0])]}
        if not rest and method == "POST":
            body = request.json()["floatingip"]
            if self.network(body["floating_network_id"]) is not PUBLIC:
                context.status_code = 400
                return neutron_error(
                    "BadRequest", f"Network {body['floating_network_id']} is not a valid external network"
                )
            n = len(self.fips)
            fip = make_fake_floating_ip(_uuid(str(n), "created-fip"), address=f"172.24.4.{10 + n % 240}", **body)
            self.fips[fip["id"]] = fip
            context.status_code = 201
            return {"floatingip": fip}
        fip_id = rest[0]
        if fip_id not in self.fips and fip_id not in self.deleted and self.cloud._exists(fip_id):
            self.fips[fip_id] = make_fake_floating_ip(fip_id)
        fip = self.fips.get(fip_id)
        if fip is None:
            return _missing(context, "FloatingIPNotFound", f"Floating IP {fip_id} could not be found")
        if rest[1:] == ["tags"] and method == "PUT":
            fip["tags"] = request.json()["tags"]
            return {"tags": fip["tags"]}
        if method == "DELETE":
            del self.fips[fip_id]
            self.deleted.add(fip_id)
            context.status_code = 204
            return None
        if method == "PUT":
            port_id = request.json()["floatingip"].get("port_id")
            port = make_fake_port(port_id, device_id=_uuid(port_id, "device")) if port_id else None
            fip.update(make_fake_floating_ip(fip_id, address=fip["floating_ip_address"], port=port))
        return {"floatingip": fip}

    def _ports(self, method: str, rest: list[str], query: dict[str, list[str]], request: Any, context: Any) -> Any:
        device = query.get("device_id", [""])[0]
        if device and self.cloud.server(device) is not None:
            return {"ports": [make_fake_port(_uuid(device, "port"), device_id=device)]}
        return {"ports": []}


def _uuid(value: str, salt: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}:{value}"))


def _missing(context: Any, kind: str, message: str) -> dict[str, Any]:
    context.status_code = 404
    return neutron_error(kind, message)


def _rule_refusal(body: dict[str, Any]) -> str | None:
    """Neutron's own checks of a rule (neutron/db/securitygroups_db.py), worded as it words them."""
    low, high = body.get("port_range_min"), body.get("port_range_max")
    ranged = body.get("protocol") in ("tcp", "udp", "6", "17") and low is not None
    if ranged and not (1 <= low <= 65535 and high is not None and low <= high <= 65535):
        return "For TCP/UDP protocols, port_range_min must be <= port_range_max"
    if body.get("remote_ip_prefix"):
        try:
            ipaddress.ip_network(body["remote_ip_prefix"])
        except ValueError:
            return f"'{body['remote_ip_prefix']}' is not a valid IP subnet."
    return None

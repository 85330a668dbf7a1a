"""Neutron's security groups, rules, floating IPs, ports and quotas as its v2.0 API sends them (Neutron 29).

Wire-format JSON only, like tests/fakes.py (whose ids and project they share): the shapes were read off the
test cloud's Neutron (tests/cloud) and neutron-lib's API definitions.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import NETWORK_ID, PROJECT_ID, SERVER_ID, new_id

PUBLIC_ID = "376da547-b977-4cfe-9cba-275c80debf57"
SUBNET_ID = "0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"
ROUTER_ID = "d23abc8d-2991-4a55-ba98-2aaea84cc72f"
STAMP = {"created_at": "2026-11-30T11:02:03Z", "updated_at": "2026-11-30T11:02:03Z", "revision_number": 1}


def make_fake_rule(group_id: str, direction: str = "ingress", **overrides: Any) -> dict[str, Any]:
    rule = {
        "id": new_id(),
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
        "security_group_id": group_id,
        "direction": direction,
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_address_group_id": None,
        "normalized_cidr": None,
        "remote_group_id": None,
        "standard_attr_id": 42,
        "description": "",
        "tags": [],
        "belongs_to_default_sg": False,
        **STAMP,
    }
    rule.update(overrides)
    return rule


def make_fake_security_group(
    group_id: str | None = None, name: str = "web", rules: list[dict[str, Any]] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A group as Neutron shows it; by default with the two egress rules Neutron gives every new group."""
    group_id = group_id or new_id()
    if rules is None:
        rules = [make_fake_rule(group_id, "egress"), make_fake_rule(group_id, "egress", ethertype="IPv6")]
    group = {
        "id": group_id,
        "name": name,
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
        "description": "",
        "stateful": True,
        "shared": False,
        "security_group_rules": rules,
        "tags": [],
        **STAMP,
    }
    group.update(overrides)
    return group


def make_fake_port(
    port_id: str | None = None,
    device_id: str = SERVER_ID,
    address: str = "10.0.0.12",
    groups: list[str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    port = {
        "id": port_id or new_id(),
        "name": "",
        "network_id": NETWORK_ID,
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
        "mac_address": "fa:16:3e:4c:2c:30",
        "admin_state_up": True,
        "status": "ACTIVE",
        "device_id": device_id,
        "device_owner": "compute:nova",
        "fixed_ips": [{"subnet_id": SUBNET_ID, "ip_address": address}],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "security_groups": groups if groups is not None else [],
        "description": "",
        "binding:vnic_type": "normal",
        "port_security_enabled": True,
        "dns_name": "",
        "dns_assignment": [],
        "qos_policy_id": None,
        "qos_network_policy_id": None,
        "ip_allocation": "immediate",
        "propagate_uplink_status": False,
        "tags": [],
        **STAMP,
    }
    port.update(overrides)
    return port


def make_fake_floating_ip(
    fip_id: str | None = None, address: str = "172.24.4.228", port: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A floating IP; attached to ``port`` if given (with Neutron's fip-port-details). DOWN: no L3 agent."""
    fip = {
        "id": fip_id or new_id(),
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
        "floating_ip_address": address,
        "floating_network_id": PUBLIC_ID,
        "router_id": ROUTER_ID if port else None,
        "port_id": port["id"] if port else None,
        "fixed_ip_address": port["fixed_ips"][0]["ip_address"] if port else None,
        "status": "DOWN",
        "description": "",
        "qos_policy_id": None,
        "qos_network_policy_id": None,
        "port_details": None,
        "dns_domain": "",
        "dns_name": "",
        "port_forwardings": [],
        "tags": [],
        **STAMP,
    }
    if port:
        fip["port_details"] = {
            "name": port["name"],
            "network_id": port["network_id"],
            "mac_address": port["mac_address"],
            "admin_state_up": True,
            "status": port["status"],
            "device_id": port["device_id"],
            "device_owner": port["device_owner"],
        }
    fip.update(overrides)
    return fip


def make_fake_neutron_quota(**used: int) -> dict[str, Any]:
    """GET /v2.0/quotas/{project}/details: Neutron's defaults, with ``used`` counts."""
    limits = {
        "network": 100,
        "subnet": 100,
        "port": 500,
        "router": 10,
        "floatingip": 50,
        "security_group": 10,
        "security_group_rule": 100,
        "rbac_policy": 10,
        "subnetpool": -1,
    }
    return {
        "quota": {name: {"limit": limit, "used": used.get(name, 0), "reserved": 0} for name, limit in limits.items()}
    }

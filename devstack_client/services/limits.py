"""The project's Nova limits and usage, and how many more servers of each flavor fit."""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.services._pages import walk
from devstack_client.services._wire import call, service
from devstack_client.services.compute import FLAVORS
from devstack_client.services.keypair import KeypairService
from devstack_client.services.volume import VolumeService, has_block_storage

# Our name → Nova's absolute limit, Nova's usage (None: Nova does not count
# it project-wide), unit. The keys are those of GET /limits at 2.79 (2.36
# dropped the network ones, 2.57 personality).
LIMITS: dict[str, tuple[str, str | None, str]] = {
    "instances": ("maxTotalInstances", "totalInstancesUsed", "servers"),
    "cores": ("maxTotalCores", "totalCoresUsed", "vCPUs"),
    "ram": ("maxTotalRAMSize", "totalRAMUsed", "MiB"),
    # Per user, not per project; /limits has no usage for it: counted below.
    "keypairs": ("maxTotalKeypairs", None, "keypairs"),
    "server_groups": ("maxServerGroups", "totalServerGroupsUsed", "server groups"),
    "server_group_members": ("maxServerGroupMembers", None, "servers per group"),
    "server_metadata_items": ("maxServerMeta", None, "items per server"),
}

# Our name → Neutron's quota resource, unit (GET /v2.0/quotas/{project}/details: limit, used, reserved).
NEUTRON_LIMITS: dict[str, tuple[str, str]] = {
    "floating_ips": ("floatingip", "floating IPs"),
    "security_groups": ("security_group", "security groups"),
    "security_group_rules": ("security_group_rule", "rules"),
    "ports": ("port", "ports"),
    "networks": ("network", "networks"),
}

# Cinder's, in the same shape: our name → its absolute limit, its usage, unit (Cinder's GET /limits).
VOLUME_LIMITS: dict[str, tuple[str, str | None, str]] = {
    "volumes": ("maxTotalVolumes", "totalVolumesUsed", "volumes"),
    "gigabytes": ("maxTotalVolumeGigabytes", "totalGigabytesUsed", "GiB"),
    "snapshots": ("maxTotalSnapshots", "totalSnapshotsUsed", "snapshots"),
}

# What one more server of a flavor consumes, per limit.
PER_SERVER = (("instances", lambda f: 1), ("cores", lambda f: f.get("vcpus")), ("ram", lambda f: f.get("ram")))


def _max(value: int | None) -> int | None:
    return None if value is None or value < 0 else value  # Nova's -1: unlimited


def shape_limit(absolute: dict[str, Any], max_key: str, used_key: str | None, unit: str) -> dict[str, Any]:
    maximum = _max(absolute.get(max_key))
    used = absolute.get(used_key) if used_key else None
    # Usage can exceed a limit lowered after the fact: nothing remains then.
    remaining = max(maximum - used, 0) if maximum is not None and used is not None else None
    return {"max": maximum, "used": used, "remaining": remaining, "unit": unit}


def volume_limits(absolute: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Cinder's limits and usage in Nova's shape."""
    return {name: shape_limit(absolute, *spec) for name, spec in VOLUME_LIMITS.items()}


def headroom(limits: dict[str, dict[str, Any]], flavor: dict[str, Any]) -> dict[str, Any]:
    """How many more servers of ``flavor`` the quota allows now, and which limit binds first."""
    bounds = []
    for resource, cost in PER_SERVER:
        remaining, per_server = limits[resource]["remaining"], cost(flavor)
        if remaining is not None and per_server:
            bounds.append((remaining // per_server, resource))
    fits, limited_by = min(bounds, key=lambda bound: bound[0]) if bounds else (None, None)
    return {
        "flavor_id": flavor["id"],
        "flavor_name": flavor.get("name"),
        "vcpus": flavor.get("vcpus"),
        "ram": flavor.get("ram"),
        "fits": fits,
        "limited_by": limited_by,
    }


def shape_neutron_limit(quota: dict[str, Any] | None, unit: str) -> dict[str, Any]:
    """Neutron's ``{"limit", "used", "reserved"}`` in Nova's shape; what is reserved is as good as used."""
    quota = quota or {}
    maximum = _max(quota.get("limit"))
    used = None if quota.get("used") is None else quota["used"] + (quota.get("reserved") or 0)
    remaining = max(maximum - used, 0) if maximum is not None and used is not None else None
    return {"max": maximum, "used": used, "remaining": remaining, "unit": unit}


class LimitsService:
    def __init__(self, conn: connection.Connection) -> None:
        self._conn = conn
        self._api = conn.compute
        self._keypairs = KeypairService(conn)

    def neutron_limits(self) -> dict[str, dict[str, Any]]:
        """The project's Neutron quotas and usage: one call."""
        path = f"/quotas/{self._conn.current_project_id}/details"
        quota = call(service(self._conn, "network"), "GET", path)["quota"]
        return {name: shape_neutron_limit(quota.get(key), unit) for name, (key, unit) in NEUTRON_LIMITS.items()}

    def get_limits(self) -> dict[str, Any]:
        """Limits, usage and per-flavor headroom: three Nova calls whatever the number of flavors, one Neutron
        (+1 Cinder)."""
        absolute = call(self._api, "GET", "/limits")["limits"]["absolute"]
        limits = {name: shape_limit(absolute, *spec) for name, spec in LIMITS.items()}
        keypairs = limits["keypairs"]
        keypairs["used"] = self._keypairs.count_keypairs()
        if keypairs["max"] is not None:
            keypairs["remaining"] = max(keypairs["max"] - keypairs["used"], 0)
        limits.update(self.neutron_limits())
        flavors = walk(self._api, FLAVORS)
        room = [headroom(limits, f) for f in flavors]
        # Cinder's (one more call), or null on a cloud without Cinder.
        cinder = volume_limits(VolumeService(self._conn).get_limits()) if has_block_storage(self._conn) else {}
        limits.update({name: cinder.get(name) for name in VOLUME_LIMITS})
        return {"limits": limits, "headroom": room}

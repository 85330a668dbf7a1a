"""Wire-format OpenStack bodies, shaped exactly as the services send them.

Servers and flavors are Nova's at microversion 2.79, images Glance v2's,
networks Neutron v2.0's.
"""

from __future__ import annotations

import uuid
from typing import Any

PROJECT_ID = "5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"
USER_ID = "a1c3d7a4f4b24c0c8f1f0a1e6f2d9b33"
NOVA = "http://nova.test/v2.1"


def new_id() -> str:
    return str(uuid.uuid4())


def make_fake_flavor(flavor_id: str = "1", name: str = "m1.tiny", **overrides: Any) -> dict[str, Any]:
    flavor = {
        "id": flavor_id,
        "name": name,
        "ram": 512,
        "disk": 1,
        "swap": 0,
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "vcpus": 1,
        "os-flavor-access:is_public": True,
        "rxtx_factor": 1.0,
        "description": None,
        "extra_specs": {},
        "links": [
            {"rel": "self", "href": f"{NOVA}/flavors/{flavor_id}"},
            {"rel": "bookmark", "href": f"http://nova.test/flavors/{flavor_id}"},
        ],
    }
    flavor.update(overrides)
    return flavor


def make_fake_server(
    server_id: str | None = None,
    name: str = "vm-1",
    status: str = "ACTIVE",
    image_id: str | None = "8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21",
    **overrides: Any,
) -> dict[str, Any]:
    server_id = server_id or new_id()
    vm_state = {"ACTIVE": "active", "BUILD": "building", "ERROR": "error", "SHUTOFF": "stopped"}[status]
    server = {
        "id": server_id,
        "name": name,
        "status": status,
        "tenant_id": PROJECT_ID,
        "user_id": USER_ID,
        "metadata": {},
        "hostId": "0e3fcd6a1a7a2c4f5d5e7a3a1cbe1f6d8d7c2a8e0f9b4c1e2d3a4b5c",
        "image": {
            "id": image_id,
            "links": [{"rel": "bookmark", "href": f"http://nova.test/images/{image_id}"}],
        }
        if image_id
        else "",
        "flavor": {
            "vcpus": 1,
            "ram": 512,
            "disk": 1,
            "ephemeral": 0,
            "swap": 0,
            "original_name": "m1.tiny",
            "extra_specs": {},
        },
        "created": "2026-11-02T09:14:03Z",
        "updated": "2026-11-02T09:14:09Z",
        "addresses": {
            "private": [
                {
                    "version": 4,
                    "addr": "10.0.0.12",
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:4c:2c:30",
                }
            ]
        }
        if status != "BUILD"
        else {},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": [
            {"rel": "self", "href": f"{NOVA}/servers/{server_id}"},
            {"rel": "bookmark", "href": f"http://nova.test/servers/{server_id}"},
        ],
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "",
        "key_name": None,
        "OS-SRV-USG:launched_at": "2026-11-02T09:14:09.000000" if status == "ACTIVE" else None,
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": "spawning" if status == "BUILD" else None,
        "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": 1 if status == "ACTIVE" else 0,
        "os-extended-volumes:volumes_attached": [],
        "locked": False,
        "locked_reason": None,
        "description": None,
        "tags": [],
        "trusted_image_certificates": None,
        "server_groups": [],
        "security_groups": [{"name": "default"}],
    }
    if status == "ERROR":
        server["fault"] = {
            "code": 500,
            "created": "2026-11-02T09:14:08Z",
            "message": "No valid host was found. There are not enough hosts available.",
        }
    server.update(overrides)
    return server


def make_create_response(server_id: str) -> dict[str, Any]:
    """Nova's 202 body for POST /servers: only the id and a few extras."""
    return {
        "server": {
            "id": server_id,
            "links": [
                {"rel": "self", "href": f"{NOVA}/servers/{server_id}"},
                {"rel": "bookmark", "href": f"http://nova.test/servers/{server_id}"},
            ],
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}],
            "adminPass": "kB8xQvR3pLm2",
        }
    }


def make_fake_image(image_id: str | None = None, name: str = "cirros", **overrides: Any) -> dict[str, Any]:
    image_id = image_id or new_id()
    image = {
        "id": image_id,
        "name": name,
        "status": "active",
        "visibility": "public",
        "protected": False,
        "os_hidden": False,
        "checksum": "c8fc807773e5354afe61636071771906",
        "os_hash_algo": "sha512",
        "os_hash_value": "1103b92ce8ad966e41235a4de260deb791ff571670c0342666c8582fbb9caefe" * 2,
        "owner": PROJECT_ID,
        "size": 21430272,
        "virtual_size": 117440512,
        "min_ram": 0,
        "min_disk": 0,
        "disk_format": "qcow2",
        "container_format": "bare",
        "created_at": "2026-11-02T09:14:03Z",
        "updated_at": "2026-11-02T09:14:05Z",
        "tags": [],
        "self": f"/v2/images/{image_id}",
        "file": f"/v2/images/{image_id}/file",
        "schema": "/v2/schemas/image",
    }
    image.update(overrides)
    return image


def make_fake_network(network_id: str | None = None, name: str = "private", **overrides: Any) -> dict[str, Any]:
    network = {
        "id": network_id or new_id(),
        "name": name,
        "tenant_id": PROJECT_ID,
        "project_id": PROJECT_ID,
        "admin_state_up": True,
        "mtu": 1450,
        "status": "ACTIVE",
        "subnets": ["0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"],
        "shared": False,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "router:external": False,
        "description": "",
        "port_security_enabled": True,
        "l2_adjacency": True,
        "qos_policy_id": None,
        "tags": [],
        "created_at": "2026-11-02T09:10:00Z",
        "updated_at": "2026-11-02T09:10:02Z",
        "revision_number": 2,
    }
    network.update(overrides)
    return network


def nova_error(status: int, message: str) -> dict[str, Any]:
    """Nova's error body: {"badRequest": {"code": 400, "message": ...}} and the like."""
    key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}.get(
        status, "computeFault"
    )
    return {key: {"code": status, "message": message}}


def neutron_error(kind: str, message: str) -> dict[str, Any]:
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHbwnJGKFge/ncqP+GJHVqLWG55l0FPj5VhXA52n1P6 me@laptop"
SSH_FINGERPRINT = "3f:56:ec:2e:77:12:81:a1:ee:7b:77:2d:22:05:2a:1c"
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAyOnXzExXqHz/6ffAN500o29qPNF8\n-----END RSA PRIVATE KEY-----\n"
)


def make_fake_keypair(
    name: str = "my-key", view: str = "list", key_type: str = "ssh", private_key: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """One keypair as Nova 2.79 shows it in a list item, GET /os-keypairs/{name} or a create answer.

    The list has no created_at or user_id; the create answer has user_id (and
    private_key when Nova generated the key) but no created_at.
    """
    keypair: dict[str, Any] = {
        "name": name,
        "public_key": SSH_PUBLIC_KEY,
        "fingerprint": SSH_FINGERPRINT,
        "type": key_type,
    }
    if view == "show":
        keypair.update(
            user_id=USER_ID,
            created_at="2026-11-26T20:45:10.254838",
            deleted=False,
            deleted_at=None,
            id=1,
            updated_at=None,
        )
    elif view == "create":
        keypair["user_id"] = USER_ID
        if private_key is not None:
            keypair = {"private_key": private_key, **keypair}
    keypair.update(overrides)
    return keypair


def make_fake_limits(**absolute: Any) -> dict[str, Any]:
    """GET /limits at 2.79: Nova's defaults (10 instances, 20 cores, 50 GiB RAM), nothing used."""
    limits = {
        "maxTotalCores": 20,
        "maxTotalInstances": 10,
        "maxTotalKeypairs": 100,
        "maxServerMeta": 128,
        "maxTotalRAMSize": 51200,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalRAMUsed": 0,
        "totalCoresUsed": 0,
        "totalInstancesUsed": 0,
        "totalServerGroupsUsed": 0,
    }
    limits.update(absolute)
    return {"limits": {"rate": [], "absolute": limits}}


# -- acting on servers ---------------------------------------------------------

# Nova's vm_state and power_state behind each status (nova/compute/vm_states.py, power_state.py).
SERVER_STATES = {
    "ACTIVE": ("active", 1),
    "SHUTOFF": ("stopped", 4),
    "PAUSED": ("paused", 3),
    "SUSPENDED": ("suspended", 7),
    "BUILD": ("building", 0),
}


def make_fake_server_in(status: str, task_state: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A server in any of SERVER_STATES, optionally with Nova busy on it (task_state)."""
    vm_state, power_state = SERVER_STATES[status]
    server = make_fake_server(**overrides)
    server.update(
        {
            "status": status,
            "OS-EXT-STS:vm_state": vm_state,
            "OS-EXT-STS:power_state": power_state,
            "OS-EXT-STS:task_state": task_state,
        }
    )
    return server


def invalid_state_error(action: str, server_id: str, attr: str, state: str) -> dict[str, Any]:
    """Nova's 409 for an action the server's state forbids (common.raise_http_conflict_for_instance_invalid_state)."""
    return nova_error(409, f"Cannot '{action}' instance {server_id} while it is in {attr} {state}")


def nova_not_implemented(message: str = "The requested functionality is not supported.") -> dict[str, Any]:
    """Nova's 501 (common.raise_feature_not_supported)."""
    return {"notImplemented": {"code": 501, "message": message}}


def make_remote_console(protocol: str = "vnc", kind: str = "novnc", url: str | None = None) -> dict[str, Any]:
    """Nova's answer to POST /servers/{id}/remote-consoles (microversion 2.8+)."""
    url = url or "http://nova.test:6080/vnc_auto.html?path=%3Ftoken%3Dd5b1c3c4-2e5f-4f3a-9d0b-5c1e2f3a4b5c"
    return {"remote_console": {"protocol": protocol, "type": kind, "url": url}}

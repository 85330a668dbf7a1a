"""The fake OpenStack of the wire tests: its addresses and credentials, wire-format bodies, ``FakeCloud``.

Servers and flavors are Nova's at microversion 2.79, images Glance v2's,
networks Neutron v2.0's. The body builders take what differs between fakes
(the Nova endpoint, a server's addresses) as parameters: the permissive fake
(tests/permissive_cloud.py) and the benchmark's fake cloud (bench/fakecloud.py)
build their bodies here too. Plain Python (no pytest, no requests-mock at
import): the benchmark imports this module.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keystoneauth1 import fixture as ks_fixture

if TYPE_CHECKING:
    import requests_mock

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT_ID = "5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"
USER_ID = "a1c3d7a4f4b24c0c8f1f0a1e6f2d9b33"
DEFAULT_GROUP_ID = "5c1ab3f4-7d2e-4b6a-9c8d-0e1f2a3b4c5d"  # the project's `default` security group
KEYSTONE = "http://keystone.test/v3"
NOVA = "http://nova.test/v2.1"
GLANCE = "http://glance.test"
NEUTRON = "http://neutron.test"
# Cinder's catalog URL carries the project id, as devstack registers it (block-storage / volumev3).
CINDER_ROOT = "http://cinder.test"
CINDER = f"{CINDER_ROOT}/v3/{PROJECT_ID}"
# The catalog of the gateway's token: service type -> (service name, public endpoint).
CATALOG = {
    "compute": ("nova", NOVA),
    "image": ("glance", GLANCE),
    "network": ("neutron", NEUTRON),
    "identity": ("keystone", KEYSTONE),
    "block-storage": ("cinder", CINDER),
}
# A cloud without Cinder: the volume endpoints answer 501 there.
CATALOG_WITHOUT_CINDER = {kind: entry for kind, entry in CATALOG.items() if kind != "block-storage"}
TOKEN = "gAAAAABtesttoken"
# The image and network most tests boot from; IMAGE, NETWORK and CREATE (below) are built on them.
IMAGE_ID = "8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"
NETWORK_ID = "f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10"
# The server most tests act on by id.
SERVER_ID = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
CREDENTIALS = {
    "AUTH_URL": KEYSTONE,
    "USERNAME": "gateway",
    "PASSWORD": "s3cret-pw",
    "PROJECT_ID": PROJECT_ID,
    "USER_DOMAIN_NAME": "Default",
    "APP_SECRET_KEY": "test-secret",
}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_token(
    catalog: Mapping[str, tuple[str, str]] = CATALOG,
    interfaces: tuple[str, ...] = ("public",),
    user_id: str = USER_ID,
    user_name: str = "gateway",
    project_id: str = PROJECT_ID,
    **kwargs: Any,
) -> ks_fixture.V3Token:
    """Keystone's token body, with ``catalog``'s endpoints in RegionOne on each of ``interfaces``."""
    kwargs.setdefault("project_name", "demo")
    token = ks_fixture.V3Token(user_id=user_id, user_name=user_name, project_id=project_id, **kwargs)
    for kind, (name, url) in catalog.items():
        token.add_service(kind, name=name).add_standard_endpoints(region="RegionOne", **dict.fromkeys(interfaces, url))
    return token


def new_id() -> str:
    return str(uuid.uuid4())


def nova_bookmark(nova: str, path: str) -> dict[str, str]:
    """Nova's bookmark link: ``path`` under the unversioned form of the endpoint ``nova``."""
    return {"rel": "bookmark", "href": f"{nova.removesuffix('/v2.1')}/{path}"}


def nova_links(nova: str, path: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{nova}/{path}"}, nova_bookmark(nova, path)]


def make_fake_flavor(flavor_id: str = "1", name: str = "m1.tiny", nova: str = NOVA, **overrides: Any) -> dict[str, Any]:
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
        "links": nova_links(nova, f"flavors/{flavor_id}"),
    }
    flavor.update(overrides)
    return flavor


def make_fake_server(
    server_id: str | None = None,
    name: str = "vm-1",
    status: str = "ACTIVE",
    image_id: str | None = IMAGE_ID,
    nova: str = NOVA,
    addresses: dict[str, list[dict[str, Any]]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A server as Nova shows it; ``addresses`` defaults to one fixed IPv4 on "private" (none while BUILD)."""
    server_id = server_id or new_id()
    if addresses is None:
        addresses = {"private": [fixed_address("10.0.0.12")]} if status != "BUILD" else {}
    vm_state = {"ACTIVE": "active", "BUILD": "building", "ERROR": "error", "SHUTOFF": "stopped"}[status]
    server = {
        "id": server_id,
        "name": name,
        "status": status,
        "tenant_id": PROJECT_ID,
        "user_id": USER_ID,
        "metadata": {},
        "hostId": "0e3fcd6a1a7a2c4f5d5e7a3a1cbe1f6d8d7c2a8e0f9b4c1e2d3a4b5c",
        "image": {"id": image_id, "links": [nova_bookmark(nova, f"images/{image_id}")]} if image_id else "",
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
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": nova_links(nova, f"servers/{server_id}"),
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


def fixed_address(addr: str, mac: str = "fa:16:3e:4c:2c:30") -> dict[str, Any]:
    """One fixed IPv4 address of a server, as in its ``addresses``."""
    return {"version": 4, "addr": addr, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}


def make_create_response(server_id: str) -> dict[str, Any]:
    """Nova's 202 body for POST /servers: only the id and a few extras."""
    return {
        "server": {
            "id": server_id,
            "links": nova_links(NOVA, f"servers/{server_id}"),
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


IMAGE = make_fake_image(IMAGE_ID, "cirros")
NETWORK = make_fake_network(NETWORK_ID, "private")
# POST /api/v1/server's body by ids: web-1 of IMAGE, flavor 1 (m1.tiny) and NETWORK.
CREATE = {"name": "web-1", "image_id": IMAGE_ID, "flavor_id": "1", "network_id": NETWORK_ID}


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


# -- the fake cloud of the wire tests -------------------------------------------------


# The ports call of a show (its groups' ids): what FakeCloud answers by default and api_calls_by_show places.
SHOW_PORTS = re.compile(rf"^{re.escape(NEUTRON)}/v2\.0/ports\?device_id=(?P<server>[^&]+)&fields=security_groups$")


class FakeCloud:
    """Keystone, Nova, Glance and Neutron as requests-mock answers.

    Discovery and the token are registered up front; each test registers
    the calls it expects and then reads what was sent from ``history``.
    """

    def __init__(self, mocker: requests_mock.Mocker) -> None:
        self.mocker = mocker
        self.token_request = mocker.post(
            f"{KEYSTONE}/auth/tokens", status_code=201, json=self.make_token(), headers={"X-Subject-Token": TOKEN}
        )
        # Read only by clouds.yaml's generic "password" plugin; v3password skips it.
        mocker.get(KEYSTONE, json=load_fixture("keystone_v3.json"))
        mocker.get(NOVA, json=load_fixture("nova_version_v2.1.json"))
        mocker.get(f"{GLANCE}/", status_code=300, json=load_fixture("glance_versions.json"))
        # openstacksdk appends /v2.0 to Neutron's catalog URL and reads that.
        mocker.get(f"{NEUTRON}/v2.0", json=load_fixture("neutron_v2.0.json"))
        # No Cinder discovery: openstacksdk asks for block-storage v3 and keystoneauth reads the version from
        # the catalog URL (/v3/{project_id}) without a call.
        # Every server's port is in the project's `default` group (make_fake_server's security_groups), as a
        # fresh server's is: a show asks Neutron for the ids. A test registering its own ports answer wins.
        self.server_ports = self.on(
            "GET",
            SHOW_PORTS,
            body={"ports": [{"security_groups": [DEFAULT_GROUP_ID]}]},
        )

    make_token = staticmethod(make_token)

    # -- registering answers ---------------------------------------------------

    def on(self, method: str, url: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        if "exc" in kwargs:
            return self.mocker.register_uri(method, url, **kwargs)
        headers = {"x-openstack-request-id": "req-upstream-1"}
        if body is not None:
            kwargs["json"] = body
            headers["Content-Type"] = "application/json"
        return self.mocker.register_uri(method, url, status_code=status, headers=headers, **kwargs)

    def nova(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{NOVA}{path}", status, body, **kwargs)

    def glance(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{GLANCE}/v2{path}", status, body, **kwargs)

    def neutron(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{NEUTRON}/v2.0{path}", status, body, **kwargs)

    def cinder(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{CINDER}{path}", status, body, **kwargs)

    def without_cinder(self) -> None:
        """The gateway's token carries a catalog without block-storage (a cloud without Cinder)."""
        self.token_request = self.mocker.post(
            f"{KEYSTONE}/auth/tokens",
            status_code=201,
            json=self.make_token(CATALOG_WITHOUT_CINDER),
            headers={"X-Subject-Token": TOKEN},
        )

    def user_token(
        self, token: str, user_name: str, project_id: str, lifetime: timedelta | None = None, **kwargs: Any
    ) -> Any:
        """Keystone validating a caller's ``token`` (GET /v3/auth/tokens, the token authenticating itself).

        With ``lifetime``, the token expires that long after each validation, not after this call: a test
        timing an expiry does not race the app's set-up on a busy machine.
        """

        def body(*_: Any) -> Any:
            expiry = {"expires": datetime.now(UTC) + lifetime} if lifetime is not None else {}
            return self.make_token(
                user_id=f"{user_name}-id", user_name=user_name, project_id=project_id, **kwargs, **expiry
            )

        return self.mocker.get(
            f"{KEYSTONE}/auth/tokens",
            request_headers={"X-Auth-Token": token, "X-Subject-Token": token},
            json=body if lifetime is not None else body(),
            headers={"X-Subject-Token": token, "x-openstack-request-id": "req-keystone-validate"},
        )

    def keystone_refuses_tokens(self, status: int = 401) -> Any:
        """Keystone's answer to any token it does not know (its 404 message quotes the token)."""
        messages = {
            401: lambda _: "The request you have made requires authentication.",
            404: lambda request: f"Could not find token: {request.headers['X-Subject-Token']}",
        }
        return self.mocker.get(
            f"{KEYSTONE}/auth/tokens",
            status_code=status,
            json=lambda request, _: {"error": {"code": status, "message": messages[status](request), "title": "x"}},
            headers={"x-openstack-request-id": "req-keystone-refused"},
        )

    def validations(self) -> int:
        return len([r for r in self.history if r.method == "GET" and r.url == f"{KEYSTONE}/auth/tokens"])

    def glance_missing(self, image_id: str) -> Any:
        html = (
            "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n"
            f"  No image found with ID {image_id}<br /><br />\n\n\n </body>\n</html>"
        )
        return self.mocker.get(
            f"{GLANCE}/v2/images/{image_id}",
            status_code=404,
            text=html,
            headers={"Content-Type": "text/html; charset=UTF-8", "x-openstack-request-id": "req-glance-404"},
        )

    # -- reading what we sent ----------------------------------------------------

    @property
    def history(self) -> list[Any]:
        return self.mocker.request_history

    def sent(self, method: str | None = None, host: str | None = None) -> list[str]:
        """The requests sent, as "METHOD url" strings, optionally filtered."""
        return [
            f"{r.method} {r.url}"
            for r in self.history
            if (method is None or r.method == method) and (host is None or r.hostname == host)
        ]

    def api_calls(self) -> list[str]:
        """What was sent apart from the token and version discovery."""
        discovery = {NOVA, f"{GLANCE}/", f"{NEUTRON}/v2.0"}
        return [
            f"{r.method} {r.url}"
            for r in self.history
            if r.url not in discovery and not r.url.startswith(f"{KEYSTONE}/auth/tokens")
        ]

    def api_calls_by_show(self) -> list[str]:
        """``api_calls()`` with each show's ports call (its groups' ids) right after its Nova read.

        A server shown by id has Neutron asked beside Nova (services/_beside.py): that call may be sent
        before, between or after the show's other calls. Everything else keeps the order it was sent in.
        """
        calls = self.api_calls()
        for call in list(calls):
            method, _, url = call.partition(" ")
            found = method == "GET" and SHOW_PORTS.fullmatch(url)
            read = found and f"GET {NOVA}/servers/{found['server']}"
            if read in calls:
                calls.remove(call)
                calls.insert(calls.index(read) + 1, call)
        return calls


# -- Cinder (block-storage v3, microversion 3.60) -----------------------------------------


def make_fake_volume(
    volume_id: str | None = None,
    name: str = "data-1",
    status: str = "available",
    size: int = 1,
    attached_to: tuple[str, ...] = (),
    device: str = "/dev/vdb",
    **overrides: Any,
) -> dict[str, Any]:
    """A volume as Cinder 3.60 shows it to its owner (no admin-only os-vol-host-attr fields)."""
    volume_id = volume_id or new_id()
    volume = {
        "id": volume_id,
        "name": name,
        "status": "in-use" if attached_to and status == "available" else status,
        "size": size,
        "availability_zone": "nova",
        "created_at": "2026-11-30T10:02:11.000000",
        "updated_at": "2026-11-30T10:02:12.000000",
        "attachments": [
            {
                "id": volume_id,
                "attachment_id": new_id(),
                "volume_id": volume_id,
                "server_id": server_id,
                "host_name": "compute1",
                "device": device,
                "attached_at": "2026-11-30T10:05:00.000000",
            }
            for server_id in attached_to
        ],
        "description": None,
        "volume_type": "__DEFAULT__",
        "snapshot_id": None,
        "source_volid": None,
        "metadata": {},
        "links": [
            {"rel": "self", "href": f"{CINDER}/volumes/{volume_id}"},
            {"rel": "bookmark", "href": f"{CINDER_ROOT}/{PROJECT_ID}/volumes/{volume_id}"},
        ],
        "user_id": USER_ID,
        "bootable": "false",
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "multiattach": False,
        "os-vol-tenant-attr:tenant_id": PROJECT_ID,
        "group_id": None,
        "provider_id": None,
        "service_uuid": "b2a0f1c4-3e5d-4f6a-8b7c-9d0e1f2a3b4c",
        "shared_targets": True,
        "cluster_name": None,
    }
    volume.update(overrides)
    return volume


def cinder_error(status: int, message: str) -> dict[str, Any]:
    """Cinder's error body (cinder/api/openstack/wsgi.py Fault): {"badRequest": {"message", "code"}} and the like."""
    key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest", 413: "overLimit"}.get(
        status, "computeFault"
    )
    return {key: {"message": message, "code": status}}


def make_fake_volume_limits(**absolute: Any) -> dict[str, Any]:
    """Cinder's GET /limits: its defaults (10 volumes, 1000 GiB, 10 snapshots), nothing used."""
    limits = {
        "totalSnapshotsUsed": 0,
        "maxTotalBackups": 10,
        "maxTotalVolumeGigabytes": 1000,
        "maxTotalSnapshots": 10,
        "maxTotalBackupGigabytes": 1000,
        "totalBackupGigabytesUsed": 0,
        "maxTotalVolumes": 10,
        "totalVolumesUsed": 0,
        "totalBackupsUsed": 0,
        "totalGigabytesUsed": 0,
    }
    limits.update(absolute)
    return {"limits": {"rate": [], "absolute": limits}}

"""Nova, Glance and Neutron on the wire for ANY id or name a fuzzer invents.

``FakeCloud`` answers only the calls a test registers; a fuzzer sends ids and
names nobody can foresee. ``PermissiveCloud`` answers every one the way the
real services do: a realistic object, or their own 404 (Nova's JSON, Glance's
HTML, Neutron's ``NeutronError``). Whether a name or id "exists" is decided
by a checksum of it, so a run is reproducible and a name can also match two
servers (409 ``ambiguous_name``). What the gateway creates, edits or deletes
is kept, so a later call sees it. The bodies come from ``tests.fakes``, the
same wire-format JSON the other wire tests use.
"""

from __future__ import annotations

import ast
import html
import re
import uuid
import zlib
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import requests_mock

from tests.fakes import (
    CINDER,
    GLANCE,
    IMAGE,
    KEYSTONE,
    NETWORK,
    NEUTRON,
    NOVA,
    TOKEN,
    FakeCloud,
    cinder_error,
    invalid_state_error,
    load_fixture,
    make_create_response,
    make_fake_flavor,
    make_fake_image,
    make_fake_keypair,
    make_fake_limits,
    make_fake_network,
    make_fake_server_in,
    make_fake_volume,
    make_fake_volume_limits,
    make_remote_console,
    neutron_error,
    nova_error,
)
from tests.permissive_neutron import PermissiveNeutron

FLAVORS = [make_fake_flavor("1", "m1.tiny"), make_fake_flavor("2", "m1.small", ram=2048, disk=20)]

# What each action needs the server to be in, and leaves it in (Nova's state checks, simplified).
ACTIONS = {
    "os-start": ({"SHUTOFF"}, "ACTIVE"),
    "os-stop": ({"ACTIVE", "PAUSED", "SUSPENDED"}, "SHUTOFF"),
    "reboot": ({"ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED"}, "ACTIVE"),
    "pause": ({"ACTIVE"}, "PAUSED"),
    "unpause": ({"PAUSED"}, "ACTIVE"),
    "suspend": ({"ACTIVE"}, "SUSPENDED"),
    "resume": ({"SUSPENDED"}, "ACTIVE"),
}


# What each service answers when its PostgreSQL refuses a value (a NUL byte, "A string literal cannot contain
# NUL (0x00) characters"): a 500, Nova's naming its database layer. Measured on the test cloud (tests/cloud).
DATABASE_FAILURES = {
    "nova": nova_error(500, "Unexpected API Error. Please contact the administrator\n"
                            "<class 'oslo_db.exception.DBError'>"),
    "glance": {"message": "The server has either erred or is incapable of performing the requested operation.<br />"
               "<br />\n\n\n", "code": "500 Internal Server Error", "title": "Internal Server Error"},
    "neutron": {"NeutronError": {"type": "HTTPInternalServerError", "detail": "",
                                 "message": "Request Failed: internal server error while processing your request."}},
    "cinder": cinder_error(500, "The server has either erred or is incapable of performing the requested "
                                "operation."),
}  # fmt: skip


def _on_postgresql(service: str, answer: Any) -> Any:
    """``answer``, unless the request carries what PostgreSQL rejects: then the service's own 500."""

    def respond(request: Any, context: Any) -> Any:
        if "\x00" in unquote(request.url) or "\\u0000" in (request.text or ""):
            context.status_code = 500
            context.headers["Content-Type"] = "application/json"
            return DATABASE_FAILURES[service]
        return answer(request, context)

    return respond


def glance_filter(value: str) -> list[str]:
    """The values Glance's ``name=``/``status=`` filter matches (glance/common/utils.py split_filter_op).

    Glance splits at the first ":" and reads what comes before as the operator unless the whole value is an
    ISO 8601 time: ``a:b`` is operator ``a`` (400), ``in:x,y`` a list, ``eq:v`` exactly ``v``.
    """
    op, sep, rest = value.partition(":")
    if not sep or re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?", value):
        return [value]
    if op == "eq":
        return [rest]
    if op == "in":
        return [item.strip('"') for item in rest.split(",")]
    raise ValueError(f"Unable to filter by unknown operator '{op}'.")


def _bucket(value: str, n: int) -> int:
    return zlib.crc32(value.encode("utf-8", "surrogatepass")) % n


def _uuid_for(value: str, salt: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}:{value}"))


def _unescape_exact(pattern: str) -> str | None:
    """The name in the gateway's exact-name filter ``^<re.escape(name)>$``."""
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return re.sub(r"\\(.)", r"\1", pattern[1:-1], flags=re.S)
    return None


class PermissiveCloud:
    """Register catch-all answers on a ``FakeCloud``'s mocker (after its discovery documents)."""

    def __init__(self, cloud: FakeCloud, *, invent: bool = True) -> None:
        """``invent=False``: no id or name exists but the seeded image, flavors, network and keypair."""
        self.cloud = cloud
        self.invent = invent
        self.servers: dict[str, dict[str, Any]] = {}
        self.keypairs: dict[str, dict[str, Any]] = {"my-key": make_fake_keypair("my-key", view="show")}
        self.deleted_keypairs: set[str] = set()
        self.images = {IMAGE["id"]: IMAGE}
        self.neutron = PermissiveNeutron(self)  # security groups, floating IPs, ports, quotas
        self.volumes: dict[str, dict[str, Any]] = {}
        # /readyz validates the gateway's own token with Keystone
        cloud.mocker.get(f"{KEYSTONE}/auth/tokens", json=cloud.make_token(), headers={"X-Subject-Token": TOKEN})
        roots = (("nova", NOVA), ("glance", f"{GLANCE}/v2"), ("neutron", f"{NEUTRON}/v2.0"), ("cinder", CINDER))
        for service, root in roots:
            cloud.mocker.register_uri(
                requests_mock.ANY,
                re.compile(re.escape(root) + "/.*"),
                json=_on_postgresql(service, getattr(self, f"_{service}")),
                headers={"x-openstack-request-id": "req-permissive"},
            )

    # -- plumbing ----------------------------------------------------------------

    def _exists(self, ref: str) -> bool:
        """Whether an id nobody created exists: half of them do."""
        return self.invent and _bucket(ref, 2) == 0

    def matches(self, name: str) -> int:
        """How many resources have a name nobody created: 0, 1 or 2 (ambiguous)."""
        return _bucket(name, 3) if self.invent else 0

    @staticmethod
    def _route(request: Any, root: str) -> tuple[list[str], dict[str, list[str]]]:
        url = urlparse(request.url)
        path = url.path[len(urlparse(root).path) :]
        return [unquote(part) for part in path.strip("/").split("/")], parse_qs(url.query, keep_blank_values=True)

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, list[str]], key: str, context: Any) -> Any:
        if "marker" in query:
            ids = [item["id"] for item in items]
            marker = query["marker"][0]
            if marker not in ids:
                context.status_code = 400
                return nova_error(400, f"marker [{marker}] not found")
            items = items[ids.index(marker) + 1 :]
        limit = int(query.get("limit", ["1000"])[0])
        return {key: items[:limit]}

    # -- Nova --------------------------------------------------------------------

    def server(self, server_id: str) -> dict[str, Any] | None:
        """The server with this id: one the gateway created, or one that "exists" by checksum."""
        if server_id not in self.servers and self._exists(server_id):
            self.servers[server_id] = make_fake_server_in("ACTIVE", server_id=server_id, name=f"vm-{server_id[:8]}")
        return self.servers.get(server_id)

    def servers_named(self, name: str) -> list[dict[str, Any]]:
        known = [s for s in self.servers.values() if s["name"] == name]
        if known:
            return known
        # 0: none, 1: one, 2: two (an ambiguous name)
        for n in range(self.matches(name)):
            server_id = _uuid_for(name, f"server{n}")
            self.servers.setdefault(server_id, make_fake_server_in("ACTIVE", server_id=server_id, name=name))
        return [s for s in self.servers.values() if s["name"] == name]

    def _nova(self, request: Any, context: Any) -> Any:
        parts, query = self._route(request, NOVA)
        method = request.method
        context.headers["Content-Type"] = "application/json"
        head = parts[0]
        if head == "":  # GET / (the version document, read by /readyz)
            return load_fixture("nova_version_v2.1.json")
        if head == "limits":
            return make_fake_limits(totalInstancesUsed=len(self.servers) % 10)
        if head == "flavors":
            if parts[1:] == ["detail"]:
                return self._page(FLAVORS, query, "flavors", context)
            flavor = next((f for f in FLAVORS if f["id"] == parts[1]), None)
            if flavor is None:
                context.status_code = 404
                return nova_error(404, f"Flavor {parts[1]} could not be found.")
            return {"flavor": flavor}
        if head == "os-keypairs":
            return self._keypairs(method, parts[1:], request, context)
        if head == "servers":
            return self._servers(method, parts[1:], query, request, context)
        context.status_code = 404
        return nova_error(404, "The resource could not be found.")

    def _servers(self, method: str, rest: list[str], query: dict[str, list[str]], request: Any, context: Any) -> Any:
        if rest == ["detail"]:
            name = _unescape_exact(query["name"][0]) if "name" in query else None
            if name is not None:
                servers = self.servers_named(name)
            elif "tags" in query:
                servers = [s for s in self.servers.values() if query["tags"][0] in s["tags"]]
            else:
                servers = list(self.servers.values())
            return self._page(servers, query, "servers", context)
        if rest == [] and method == "POST":
            return self._create(request.json()["server"], context)
        server = self.server(rest[0])
        if server is None:
            context.status_code = 404
            return nova_error(404, f"Instance {rest[0]} could not be found.")
        sub = rest[1:]
        if method == "GET" and not sub:
            return {"server": server}
        if method == "DELETE" and not sub:
            context.status_code = 204
            server["OS-EXT-STS:task_state"] = "deleting"  # Nova deletes asynchronously
            return None
        if method == "PUT" and not sub:
            server.update(request.json()["server"])
            return {"server": server}
        if method == "PUT" and sub == ["metadata"]:
            server["metadata"] = request.json()["metadata"]
            return {"metadata": server["metadata"]}
        if method == "PUT" and sub[:1] == ["metadata"]:
            server["metadata"].update(request.json()["meta"])
            return {"meta": request.json()["meta"]}
        if method == "PUT" and sub == ["tags"]:
            server["tags"] = request.json()["tags"]
            return {"tags": server["tags"]}
        if method == "POST" and sub == ["remote-consoles"]:
            return make_remote_console()
        if method == "POST" and sub == ["action"]:
            return self._action(server, request.json(), context)
        if sub[:1] == ["os-volume_attachments"]:
            return self._attachments(server, method, sub[1:], request, context)
        context.status_code = 404
        return nova_error(404, "The resource could not be found.")

    def _attachments(self, server: dict[str, Any], method: str, rest: list[str], request: Any, context: Any) -> Any:
        volume_id = request.json()["volumeAttachment"]["volumeId"] if method == "POST" else rest[0]
        volume = self.volume(volume_id)
        if volume is None:
            context.status_code = 404
            return nova_error(404, f"Volume {volume_id} could not be found.")
        attached = [a["server_id"] for a in volume["attachments"]]
        if method == "POST":
            if attached:
                context.status_code = 400
                return nova_error(400, f"Invalid volume: volume {volume_id} already attached")
            volume.update(make_fake_volume(volume_id, volume["name"], attached_to=(server["id"],)))
            server["os-extended-volumes:volumes_attached"].append({"id": volume_id, "delete_on_termination": False})
            return {
                "volumeAttachment": {
                    "device": "/dev/vdb",
                    "id": volume_id,
                    "serverId": server["id"],
                    "volumeId": volume_id,
                    "tag": None,
                    "delete_on_termination": False,
                }
            }
        if server["id"] not in attached:
            context.status_code = 404
            return nova_error(404, f"volume_id not found: {volume_id}")
        volume.update(make_fake_volume(volume_id, volume["name"]))
        server["os-extended-volumes:volumes_attached"] = [
            v for v in server["os-extended-volumes:volumes_attached"] if v["id"] != volume_id
        ]
        context.status_code = 202
        return None

    def _create(self, body: dict[str, Any], context: Any) -> Any:
        if "block_device_mapping_v2" in body:  # boot from volume: no imageRef
            pass
        elif body["imageRef"] not in self.images:
            context.status_code = 400
            return nova_error(400, "Can not find requested image")
        if body["flavorRef"] not in {f["id"] for f in FLAVORS}:
            context.status_code = 400
            return nova_error(400, f"Flavor {body['flavorRef']} could not be found.")
        if body["networks"][0]["uuid"] != NETWORK["id"]:
            context.status_code = 400
            return nova_error(400, f"Network {body['networks'][0]['uuid']} could not be found.")
        server_id = _uuid_for(str(len(self.servers)), "created")  # not uuid4: the same ids every run
        self.servers[server_id] = make_fake_server_in(
            "ACTIVE",
            server_id=server_id,
            name=body["name"],
            metadata=body.get("metadata", {}),
            tags=body.get("tags", []),
            key_name=body.get("key_name"),
            description=body.get("description"),
        )
        context.status_code = 202
        return make_create_response(server_id)

    def _action(self, server: dict[str, Any], body: dict[str, Any], context: Any) -> Any:
        (key, value), *_ = body.items()
        context.status_code = 202
        if key == "os-getConsoleOutput":
            context.status_code = 200
            lines = ["login:"] * 3
            return {"output": "\n".join(lines[-value["length"] :] if value["length"] else lines)}
        if key == "createImage":
            image = make_fake_image(_uuid_for(str(len(self.images)), "snapshot"), value["name"], status="queued")
            self.images[image["id"]] = image
            context.headers["Location"] = f"{GLANCE}/v2/images/{image['id']}"
            return {"image_id": image["id"]}
        allowed, target = ACTIONS[key]
        if server["status"] not in allowed:
            context.status_code = 409
            return invalid_state_error(key, server["id"], "vm_state", server["OS-EXT-STS:vm_state"])
        server.update(make_fake_server_in(target, server_id=server["id"], name=server["name"]))
        return None

    def _keypairs(self, method: str, rest: list[str], request: Any, context: Any) -> Any:
        if not rest and method == "GET":
            return {"keypairs": [{"keypair": make_fake_keypair(k["name"])} for k in self.keypairs.values()]}
        if not rest and method == "POST":
            asked = request.json()["keypair"]
            if asked["name"] in self.keypairs:
                context.status_code = 409
                return nova_error(409, f"Key pair '{asked['name']}' already exists.")
            private = None if "public_key" in asked else "-----BEGIN RSA PRIVATE KEY-----\n…\n"
            created = make_fake_keypair(asked["name"], view="create", key_type=asked["type"], private_key=private)
            self.keypairs[asked["name"]] = make_fake_keypair(asked["name"], view="show", key_type=asked["type"])
            return {"keypair": created}
        name = rest[0]
        if name not in self.keypairs and name not in self.deleted_keypairs and self._exists(name):
            self.keypairs[name] = make_fake_keypair(name, view="show")
        if name not in self.keypairs:
            context.status_code = 404
            return nova_error(404, f"Keypair {name} not found for user {make_fake_keypair(view='show')['user_id']}")
        if method == "DELETE":
            del self.keypairs[name]
            self.deleted_keypairs.add(name)
            context.status_code = 202
            return None
        return {"keypair": self.keypairs[name]}

    # -- Glance and Neutron ----------------------------------------------------------

    def _glance(self, request: Any, context: Any) -> Any:
        parts, query = self._route(request, f"{GLANCE}/v2")
        context.headers["Content-Type"] = "application/json"
        images = list(self.images.values())
        if parts == ["images"]:
            if "name" in query:
                try:
                    names = glance_filter(query["name"][0])
                except ValueError as exc:
                    context.status_code = 400  # webob's JSON error, HTML-escaped with a "<br />" tail
                    message = html.escape(str(exc), quote=True) + "<br /><br />\n\n\n"
                    return {"message": message, "code": "400 Bad Request", "title": "Bad Request"}
                images = [i for i in images if i["name"] in names] or [
                    make_fake_image(_uuid_for(name, f"image{n}"), name)
                    for name in names
                    for n in range(self.matches(name))
                ]
            if "id" in query:
                wanted = query["id"][0].removeprefix("in:").split(",")
                images = [i for i in images if i["id"] in wanted]
            page = self._page(images, query, "images", context)
            return (
                page if context.status_code != 200 else {**page, "first": "/v2/images", "schema": "/v2/schemas/images"}
            )
        image = self.images.get(parts[1])
        if image is None and self._exists(parts[1]):
            image = self.images.setdefault(parts[1], make_fake_image(parts[1], f"image-{parts[1][:8]}"))
        if image is None:
            context.status_code = 404
            context.headers["Content-Type"] = "text/html; charset=UTF-8"
            return None  # Glance's 404 is HTML; requests-mock sends an empty body for None, which the SDK handles
        return image

    def _neutron(self, request: Any, context: Any) -> Any:
        parts, query = self._route(request, f"{NEUTRON}/v2.0")
        context.headers["Content-Type"] = "application/json"
        if parts[0] != "networks":
            return self.neutron.answer(parts, query, request, context)
        if parts == ["networks"] and "router:external" in query:
            return {"networks": self.neutron.external()}
        if parts == ["networks"] and "id" in query:
            return {"networks": [n for n in (NETWORK, *self.neutron.external()) if n["id"] in query["id"]]}
        if parts == ["networks"]:
            networks = [NETWORK]
            if "name" in query:
                name = query["name"][0]
                networks = [n for n in networks if n["name"] == name] or [
                    make_fake_network(_uuid_for(name, f"net{n}"), name) for n in range(self.matches(name))
                ]
            if "marker" in query and query["marker"][0] not in {n["id"] for n in networks}:
                context.status_code = 404  # Neutron's answer to an unknown marker (Nova and Glance: 400)
                return neutron_error("NetworkNotFound", f"Network {query['marker'][0]} could not be found.")
            return self._page(networks, query, "networks", context)
        if parts[1] == NETWORK["id"] or self._exists(parts[1]):
            return {
                "network": make_fake_network(parts[1], f"net-{parts[1][:8]}")
                | ({} if parts[1] != NETWORK["id"] else NETWORK)
            }
        context.status_code = 404
        return neutron_error("NetworkNotFound", f"Network {parts[1]} could not be found.")

    # -- Cinder ----------------------------------------------------------------------

    def volume(self, volume_id: str) -> dict[str, Any] | None:
        if volume_id not in self.volumes and self._exists(volume_id):
            self.volumes[volume_id] = make_fake_volume(volume_id, f"vol-{volume_id[:8]}")
        return self.volumes.get(volume_id)

    def _cinder(self, request: Any, context: Any) -> Any:
        parts, query = self._route(request, CINDER)
        method = request.method
        context.headers["Content-Type"] = "application/json"
        if parts == ["limits"]:
            return make_fake_volume_limits(totalVolumesUsed=len(self.volumes) % 10)
        if parts == ["volumes", "detail"]:
            volumes = list(self.volumes.values())
            if "name" in query:
                name = query["name"][0]
                volumes = [v for v in volumes if v["name"] == name] or [
                    self.volumes.setdefault(
                        _uuid_for(name, f"vol{n}"), make_fake_volume(_uuid_for(name, f"vol{n}"), name)
                    )
                    for n in range(self.matches(name))
                ]
            if "status" in query:
                volumes = [v for v in volumes if v["status"] == query["status"][0]]
            if "metadata" in query:
                wanted = ast.literal_eval(query["metadata"][0])  # as Cinder reads it
                volumes = [v for v in volumes if wanted.items() <= v["metadata"].items()]
            return self._page(volumes, query, "volumes", context)
        if parts == ["volumes"] and method == "POST":
            asked = request.json()["volume"]
            if asked.get("imageRef") and asked["imageRef"] not in self.images:
                context.status_code = 400
                return cinder_error(400, "Invalid image identifier or unable to access requested image.")
            volume_id = _uuid_for(str(len(self.volumes)), "volume")  # not uuid4: the same ids every run
            volume = make_fake_volume(
                volume_id,
                asked.get("name"),
                size=asked["size"],
                description=asked.get("description"),
                metadata=asked.get("metadata", {}),
            )
            self.volumes[volume_id] = volume
            context.status_code = 202
            return {"volume": {**volume, "status": "creating"}}
        volume = self.volume(parts[1]) if len(parts) > 1 else None
        if volume is None:
            context.status_code = 404
            return cinder_error(404, f"Volume {parts[1] if len(parts) > 1 else ''} could not be found.")
        if method == "GET" and len(parts) == 2:
            return {"volume": volume}
        if method == "PUT" and len(parts) == 2:
            volume.update(request.json()["volume"])
            return {"volume": volume}
        if method == "DELETE" and len(parts) == 2:
            if volume["attachments"]:
                context.status_code = 400
                return cinder_error(
                    400,
                    "Invalid volume: Volume status must be available or error or "
                    "error_restoring or error_extending or error_managing and must not be "
                    "migrating, attached, belong to a group, have snapshots, awaiting a "
                    "transfer, or be disassociated from snapshots after volume transfer.",
                )
            del self.volumes[volume["id"]]
            context.status_code = 202
            return None
        if method == "POST" and parts[2:] == ["metadata"]:
            volume["metadata"].update(request.json()["metadata"])
            return {"metadata": volume["metadata"]}
        context.status_code = 404
        return cinder_error(404, "The resource could not be found.")

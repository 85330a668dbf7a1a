"""The server namespace's models: what a server looks like, and what a caller may send."""

from flask_restx import Model, Namespace, fields

from devstack_client.api.common import MapOf, error_model
from devstack_client.services import server_actions, server_network, volume_actions
from devstack_client.services.rules import MAX_TAGS, METADATA_VALUE_MAX, NAME_MAX, TAG_MAX, TAG_PATTERN

server_image = Model(
    "ServerImage",
    {
        "id": fields.String(example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "name": fields.String(nullable=True, description="In lists only; null if the image is gone", example="cirros"),
    },
)
# A server in a Nova cell that is down comes partial (microversion 2.69): id, status UNKNOWN and project, the
# rest missing. A create whose server Nova does not show (launch.pending) knows only what it sent. Hence the
# fields marked DOWN_CELL below may be null, and only then.
DOWN_CELL = "null only for a server in a Nova cell that is down, or in a create's answer when Nova did not show it"
server_flavor = Model(
    "ServerFlavor",
    {
        "name": fields.String(nullable=True, description=DOWN_CELL, example="m1.tiny"),
        "vcpus": fields.Integer(nullable=True, description=DOWN_CELL, example=1),
        "ram": fields.Integer(nullable=True, description=f"MiB; {DOWN_CELL}", example=512),
        "disk": fields.Integer(nullable=True, description=f"GB; {DOWN_CELL}", example=1),
    },
)
fault = Model(
    "Fault",
    {
        "code": fields.Integer(example=500),
        "message": fields.String(example="No valid host was found. There are not enough hosts available."),
    },
)
server_security_group = Model(
    "ServerSecurityGroup",
    {
        "id": fields.String(
            nullable=True,
            description="In a show only, from Neutron (null in lists, events and when Neutron cannot be read)",
            example="0b7f4a1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b",
        ),
        "name": fields.String(example="default"),
    },
)
server_volume = Model(
    "ServerVolume",
    {
        "id": fields.String(example="6c1e4b7a-2f3d-4e5a-9b8c-0d1e2f3a4b5c"),
        "name": fields.String(nullable=True, description="In a show only (null in lists)", example="data-1"),
        "device": fields.String(nullable=True, description="In a show only (null in lists)", example="/dev/vdb"),
        "size": fields.Integer(nullable=True, description="GiB; in a show only (null in lists)", example=1),
    },
)


class StringMap(fields.Raw):
    """A JSON object of strings (documented and validated as one)."""

    def schema(self) -> dict:
        return {**super().schema(), "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX}}


address = Model(
    "Address",
    {
        "addr": fields.String(example="10.0.0.12"),
        "version": fields.Integer(example=4),
        "type": fields.String(nullable=True, description="fixed or floating", example="fixed"),
        "mac_addr": fields.String(nullable=True, example="fa:16:3e:4c:2c:30"),
    },
)


server = Model(
    "Server",
    {
        "id": fields.String(example="2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"),
        "name": fields.String(nullable=True, description=DOWN_CELL, example="web-1"),
        "status": fields.String(
            description="BUILD, ACTIVE, SHUTOFF, ERROR, … (UNKNOWN: its cell is down)", example="ACTIVE"
        ),
        "task_state": fields.String(nullable=True, example=None),
        "power_state": fields.Integer(nullable=True, description=DOWN_CELL, example=1),
        "image": fields.Nested(
            server_image,
            allow_null=True,
            description="null for a server booted from a volume",
        ),
        "flavor": fields.Nested(server_flavor),
        "addresses": MapOf(
            address,
            lists=True,
            description="Network name → list of Address",
            example={
                "private": [{"addr": "10.0.0.12", "version": 4, "type": "fixed", "mac_addr": "fa:16:3e:4c:2c:30"}]
            },
        ),
        "key_name": fields.String(nullable=True, example="my-key"),
        "availability_zone": fields.String(nullable=True, example="nova"),
        "project_id": fields.String(example="5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"),
        "metadata": StringMap(description="Key → value strings", example={"role": "web"}),
        "tags": fields.List(
            fields.String, description="In alphabetical order (Nova keeps them as a set)", example=["prod"]
        ),
        "description": fields.String(nullable=True, example="Front-end web server"),
        "created_at": fields.String(nullable=True, description=DOWN_CELL, example="2026-11-02T09:14:03Z"),
        "updated_at": fields.String(nullable=True, description=DOWN_CELL, example="2026-11-02T09:14:09Z"),
        "fault": fields.Nested(
            fault,
            allow_null=True,
            description="Why the server is in ERROR; null otherwise",
        ),
        "security_groups": fields.List(
            fields.Nested(server_security_group),
            description="Its ports' security groups: names (as Nova lists them), and ids in a show",
        ),
        "volumes": fields.List(
            fields.Nested(server_volume),
            description="The volumes attached to it (its boot volume too); name, device and size in a show only",
        ),
    },
)


def _ref(kind: str, example: str) -> fields.String:
    return fields.String(min_length=1, description=f"{kind.capitalize()} id or exact name", example=example)


server_create = Model(
    "ServerCreate",
    {
        "name": fields.String(required=True, min_length=1, max_length=NAME_MAX, example="web-1"),
        "image": _ref("image", "cirros"),
        "image_id": fields.String(min_length=1, example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "flavor": _ref("flavor", "m1.tiny"),
        "flavor_id": fields.String(min_length=1, example="1"),
        "network": _ref("network", "private"),
        "network_id": fields.String(min_length=1, example="f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10"),
        "key_name": fields.String(min_length=1, max_length=NAME_MAX, example="my-key"),
        "user_data": fields.String(
            max_length=49152,
            description="Plain text (cloud-init); the gateway base64-encodes it",
            example="#!/bin/sh\necho hi",
        ),
        "security_groups": fields.List(fields.String(min_length=1), description="Names or ids", example=["default"]),
        "metadata": StringMap(description="Key → value strings", example={"role": "web"}),
        "availability_zone": fields.String(min_length=1, max_length=NAME_MAX, example="nova"),
        "description": fields.String(max_length=NAME_MAX, example="Front-end web server"),
        "boot_volume_size": fields.Integer(
            min=1,
            max=2**31 - 1,
            description="Boot from a new volume of this many GiB, made from the image (needs Cinder)",
            example=1,
        ),
        "boot_volume": fields.String(
            min_length=1,
            max_length=NAME_MAX,
            description="Boot from this existing bootable volume (id or exact name) instead of an image",
            example="boot-disk",
        ),
        "delete_on_termination": fields.Boolean(
            description="With boot_volume_size or boot_volume: delete the volume with the server (default: true "
            "for a new volume, false for an existing one)",
            example=True,
        ),
    },
    strict=True,
)
named = Model(
    "NamedRef",
    {
        "id": fields.String(example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "name": fields.String(nullable=True, description="null if it has none (Glance allows that)", example="cirros"),
    },
)
plan_flavor = Model(
    "ServerPlanFlavor",
    {
        "id": fields.String(example="1"),
        "name": fields.String(example="m1.tiny"),
        "vcpus": fields.Integer(example=1),
        "ram": fields.Integer(description="MiB", example=512),
        "disk": fields.Integer(description="GB", example=1),
    },
)
server_plan = Model(
    "ServerPlan",
    {
        "name": fields.String(example="web-1"),
        "image": fields.Nested(named),
        "flavor": fields.Nested(plan_flavor),
        "network": fields.Nested(named),
        "key_name": fields.String(nullable=True, example="my-key"),
        "availability_zone": fields.String(nullable=True, example="nova"),
        "description": fields.String(nullable=True, example=None),
        "security_groups": fields.List(fields.String, nullable=True, description="As sent", example=["default"]),
        "metadata": StringMap(nullable=True, description="As sent", example={"role": "web"}),
    },
)
dry_run_model = Model(
    "ServerDryRun",
    {
        "dry_run": fields.Boolean(example=True),
        "server": fields.Nested(server_plan, description="What would be created, image, flavor and network resolved"),
    },
)


server_action = Model(
    "ServerAction",
    {
        "action": fields.String(
            required=True,
            enum=[*server_actions.ACTIONS, *server_network.ACTIONS, *volume_actions.ACTIONS],
            example="reboot",
        ),
        "type": fields.String(
            enum=list(server_actions.REBOOT_TYPES), description="reboot only; default soft", example="hard"
        ),
        "name": fields.String(
            min_length=1, max_length=NAME_MAX, description="snapshot only, required: the image's name"
        ),
        "security_group": fields.String(
            min_length=1, description="add/remove_security_group only, required: the group's id or name"
        ),
        "address": fields.String(
            min_length=1,
            max_length=45,
            description="add_floating_ip: attach this floating IP (default: allocate one); "
            "remove_floating_ip, required: the floating IP to detach",
            example="172.24.4.228",
        ),
        "release": fields.Boolean(
            description="remove_floating_ip only: also release the address (default false)", example=False
        ),
        "volume": fields.String(
            min_length=1,
            max_length=NAME_MAX,
            description="attach_volume and detach_volume only, required: the volume's id or exact name",
            example="data-1",
        ),
        "device": fields.String(
            min_length=1,
            max_length=NAME_MAX,
            description="attach_volume only: the device path to ask for (the hypervisor may choose another)",
            example="/dev/vdb",
        ),
    },
    strict=True,
)
server_action_group = Model(
    "ServerActionSecurityGroup",
    {"id": fields.String(example="85cc3048-abc3-43cc-89b3-377341426ac5"), "name": fields.String(example="web")},
)
action_accepted = Model(
    "ServerActionAccepted",
    {
        "id": fields.String(description="The server's id", example="2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"),
        "action": fields.String(example="reboot"),
        "type": fields.String(nullable=True, description="reboot: soft or hard; null otherwise", example="hard"),
        "target_status": fields.String(
            nullable=True,
            description="The status the server reaches when Nova is done (task_state null again); "
            "null for a snapshot, which leaves the status alone; for attach_volume and detach_volume, the "
            "status the volume reaches (in-use, available): poll the volume (Location)",
            example="ACTIVE",
        ),
        "image_id": fields.String(
            nullable=True, description="snapshot: the new image's id; null otherwise", example=None
        ),
        "security_group": fields.Nested(
            server_action_group, allow_null=True, description="add/remove_security_group: the group; null otherwise"
        ),
        "floating_ip": fields.Raw(
            nullable=True,
            description="add/remove_floating_ip: the floating IP as GET /api/v1/floating-ip/{ref} shows it, "
            "after the change; null otherwise",
            example=None,
        ),
    },
)


class NonEmptyModel(Model):
    """An input model that needs at least one field (``minProperties: 1``): an empty edit changes nothing."""

    @property
    def _schema(self) -> dict:
        return {**super()._schema, "minProperties": 1}


server_update = NonEmptyModel(
    "ServerUpdate",
    {
        "name": fields.String(min_length=1, max_length=NAME_MAX, example="web-2"),
        "description": fields.String(
            max_length=NAME_MAX, description='"" removes the description', example="Front-end web server"
        ),
        "metadata": StringMap(
            description="Replaces the whole set: send every key to keep; {} removes them all",
            example={"role": "web", "owner": "team-a"},
        ),
        "tags": fields.List(
            fields.String(min_length=1, max_length=TAG_MAX, pattern=TAG_PATTERN),
            max_items=MAX_TAGS,
            description=f"Replaces the whole set; at most {MAX_TAGS}, each 1-{TAG_MAX} characters without '/' or ','",
            example=["prod", "web"],
        ),
    },
    strict=True,
)
console_log = Model(
    "ServerConsoleLog",
    {
        "output": fields.String(example="login: \ncirros login: "),
        "lines": fields.Integer(description="How many last lines were asked for; output may hold fewer", example=50),
    },
)
console = Model(
    "ServerConsole",
    {
        "type": fields.String(description="novnc or serial", example="novnc"),
        "protocol": fields.String(description="vnc or serial", example="vnc"),
        "url": fields.String(
            description="Open it in a browser (novnc) or a websocket client (serial); it embeds a short-lived token",
            example="http://cloud.example:6080/vnc_auto.html?path=%3Ftoken%3D5c1e…",
        ),
    },
)
interface_network = Model(
    "InterfaceNetwork",
    {
        "id": fields.String(example="f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10"),
        "name": fields.String(
            nullable=True, description="null if the network is not visible to you", example="private"
        ),
    },
)
interface_fixed_ip = Model(
    "InterfaceFixedIp",
    {
        "address": fields.String(example="10.0.0.12"),
        "subnet_id": fields.String(example="0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"),
    },
)
server_interface = Model(
    "ServerInterface",
    {
        "id": fields.String(description="The port's id", example="ce705c24-c1ef-408a-bda3-7bbd946164ab"),
        "network": fields.Nested(interface_network),
        "mac_address": fields.String(example="fa:16:3e:4c:2c:30"),
        "fixed_ips": fields.List(fields.Nested(interface_fixed_ip)),
        "status": fields.String(description="ACTIVE, DOWN or BUILD", example="ACTIVE"),
        "security_groups": fields.List(fields.Nested(server_action_group)),
        "is_port_security_enabled": fields.Boolean(example=True),
    },
)
server_interfaces = Model("ServerInterfaces", {"interfaces": fields.List(fields.Nested(server_interface))})
# The 409 of an action is this or an ambiguous name's (which has none of these fields).
invalid_state_error = error_model.inherit(
    "InvalidStateError",
    {
        "status": fields.String(
            required=False, nullable=True, description="The server's status now; null if it is gone", example="ACTIVE"
        ),
        "task_state": fields.String(
            required=False, nullable=True, description="What Nova is doing to it now, if anything", example=None
        ),
        "locked": fields.Boolean(
            required=False,
            nullable=True,
            description="A locked server refuses every action; null if Nova did not say",
            example=False,
        ),
    },
)


def register(ns: Namespace) -> None:
    """Add every model here to ``ns``: restx documents only the models its namespaces know."""
    for model in (
        server_image,
        server_flavor,
        fault,
        address,
        server_security_group,
        server_volume,
        server,
        server_create,
        named,
        plan_flavor,
        server_plan,
        dry_run_model,
        server_action,
        server_action_group,
        action_accepted,
        server_update,
        console_log,
        console,
        interface_network,
        interface_fixed_ip,
        server_interface,
        server_interfaces,
        invalid_state_error,
    ):
        ns.add_model(model.name, model)

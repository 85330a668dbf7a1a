from flask import current_app, url_for
from flask_restx import Namespace, Resource, fields, inputs, marshal, reqparse

from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors, error_model, next_marker_field
from devstack_client.api.query import fields_argument, paged_parser, parse_query, select_fields, sort_argument
from devstack_client.api.validation import parse_body
from devstack_client.config import MAX_WAIT_SECONDS
from devstack_client.connection import get_connection
from devstack_client.errors import InvalidRequest
from devstack_client.metrics import CREATES_IN_FLIGHT
from devstack_client.services import ComputeService
from devstack_client.services.launch import LaunchService
from devstack_client.services.server_actions import text_errors

ns = Namespace("server", description="Nova servers (virtual machines)")

address = ns.model(
    "Address",
    {
        "addr": fields.String(example="10.0.0.12"),
        "version": fields.Integer(example=4),
        "type": fields.String(description="fixed or floating", example="fixed"),
        "mac_addr": fields.String(example="fa:16:3e:4c:2c:30"),
    },
)
server = ns.model(
    "Server",
    {
        "id": fields.String(example="2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"),
        "name": fields.String(example="web-1"),
        "status": fields.String(description="BUILD, ACTIVE, SHUTOFF, ERROR, …", example="ACTIVE"),
        "task_state": fields.String(example=None),
        "power_state": fields.Integer(example=1),
        "image": fields.Nested(
            ns.model(
                "ServerImage",
                {
                    "id": fields.String(example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
                    "name": fields.String(description="In lists only; null if the image is gone", example="cirros"),
                },
            ),
            allow_null=True,
            description="null for a server booted from a volume",
        ),
        "flavor": fields.Nested(
            ns.model(
                "ServerFlavor",
                {
                    "name": fields.String(example="m1.tiny"),
                    "vcpus": fields.Integer(example=1),
                    "ram": fields.Integer(description="MiB", example=512),
                    "disk": fields.Integer(description="GB", example=1),
                },
            )
        ),
        "addresses": fields.Raw(
            description="Network name → list of Address",
            example={
                "private": [{"addr": "10.0.0.12", "version": 4, "type": "fixed", "mac_addr": "fa:16:3e:4c:2c:30"}]
            },
        ),
        "key_name": fields.String(example="my-key"),
        "availability_zone": fields.String(example="nova"),
        "project_id": fields.String(example="5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"),
        "metadata": fields.Raw(description="Key → value strings", example={"role": "web"}),
        "tags": fields.List(
            fields.String, description="In alphabetical order (Nova keeps them as a set)", example=["prod"]
        ),
        "description": fields.String(example="Front-end web server"),
        "created_at": fields.String(example="2026-11-02T09:14:03Z"),
        "updated_at": fields.String(example="2026-11-02T09:14:09Z"),
        "fault": fields.Nested(
            ns.model(
                "Fault",
                {
                    "code": fields.Integer(example=500),
                    "message": fields.String(example="No valid host was found. There are not enough hosts available."),
                },
            ),
            allow_null=True,
            description="Why the server is in ERROR; null otherwise",
        ),
    },
)
server_list = ns.model("ServerList", {"servers": fields.List(fields.Nested(server)), "next_marker": next_marker_field})

STATUSES = (
    "ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING", "PASSWORD", "PAUSED", "REBOOT", "REBUILD",
    "RESCUE", "RESIZE", "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SHUTOFF", "SOFT_DELETED", "SUSPENDED",
    "UNKNOWN", "VERIFY_RESIZE",
)  # fmt: skip
list_query = paged_parser()
list_query.add_argument("status", type=str.upper, choices=STATUSES, location="args", help="Only servers in this status")
list_query.add_argument("name", location="args", help="Exact name")
list_query.add_argument("name_like", location="args", help="Name contains this text")
list_query.add_argument("image", location="args", help="Booted from this image (id or name)")
list_query.add_argument("flavor", location="args", help="Of this flavor (id or name)")
sort_argument(list_query, ("name", "created_at", "status"))
fields_argument(list_query, "id,name,status")


class StringMap(fields.Raw):
    """A JSON object of strings (documented and validated as one)."""

    __schema_type__ = "object"

    def schema(self):
        return {**super().schema(), "additionalProperties": {"type": "string", "maxLength": 255}}


def _ref(kind: str, example: str) -> fields.String:
    return fields.String(min_length=1, description=f"{kind.capitalize()} id or exact name", example=example)


server_create = ns.model(
    "ServerCreate",
    {
        "name": fields.String(required=True, min_length=1, max_length=255, example="web-1"),
        "image": _ref("image", "cirros"),
        "image_id": fields.String(min_length=1, example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "flavor": _ref("flavor", "m1.tiny"),
        "flavor_id": fields.String(min_length=1, example="1"),
        "network": _ref("network", "private"),
        "network_id": fields.String(min_length=1, example="f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10"),
        "key_name": fields.String(min_length=1, max_length=255, example="my-key"),
        "user_data": fields.String(
            max_length=49152,
            description="Plain text (cloud-init); the gateway base64-encodes it",
            example="#!/bin/sh\necho hi",
        ),
        "security_groups": fields.List(fields.String(min_length=1), description="Names or ids", example=["default"]),
        "metadata": StringMap(description="Key → value strings", example={"role": "web"}),
        "availability_zone": fields.String(min_length=1, max_length=255, example="nova"),
        "description": fields.String(max_length=255, example="Front-end web server"),
    },
    strict=True,
)
dry_run_model = ns.model(
    "ServerDryRun",
    {
        "dry_run": fields.Boolean(example=True),
        "server": fields.Raw(
            description="What would be created, with image, flavor and network resolved",
            example={
                "name": "web-1",
                "image": {"id": "8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21", "name": "cirros"},
                "flavor": {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
                "network": {"id": "f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10", "name": "private"},
            },
        ),
    },
)

create_query = reqparse.RequestParser(bundle_errors=True)
create_query.add_argument("wait", type=inputs.boolean, default=False, location="args", help="Answer once ACTIVE")
create_query.add_argument(
    "timeout",
    type=inputs.int_range(1, MAX_WAIT_SECONDS),
    default=120,
    location="args",
    help=f"With wait: seconds to wait at most (1 to {MAX_WAIT_SECONDS}, default 120)",
)
create_query.add_argument("dry_run", type=inputs.boolean, default=False, location="args", help="Check, create nothing")
create_query.add_argument(
    "Idempotency-Key",
    location="headers",
    help="Retrying a POST with the same key (and body) returns the first server instead of creating another",
)


@ns.route("")
class ServerList(Resource):
    @ns.expect(list_query)
    @documents_errors(ns, 409, *READ_ERRORS)  # 409: the image or flavor filter names several
    @ns.response(200, "One page of the project's servers, with image and flavor names", server_list)
    def get(self):
        """List the servers, a page at a time."""
        args = parse_query(list_query)
        wanted = select_fields(args.pop("fields"), server)
        result = ComputeService(get_connection()).list_servers(**args, image_names=wanted is None or "image" in wanted)
        # Not restx's marshal: shape_server already returns exactly the Server
        # model's fields (tests/api/test_server_shape.py), and marshalling every
        # field of every server again took 60% of a 100-server list's CPU (bench/).
        servers = result.items
        if wanted:
            servers = [{name: item[name] for name in wanted} for item in servers]
        return {"servers": servers, "next_marker": result.next_marker}

    @ns.expect(server_create, create_query)
    @documents_errors(ns, 409, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(
        201,
        "Created: BUILD until Nova makes it ACTIVE (ACTIVE with ?wait=true)",
        server,
        headers={"Location": "URL of the server", "Idempotent-Replayed": "true when an earlier request's server"},
    )
    @ns.response(202, "With ?wait=true: still BUILD when the timeout passed; poll Location", server)
    @ns.response(200, "With ?dry_run=true: every check passed; nothing was created", dry_run_model)
    @ns.response(502, "With ?wait=true: the server went to ERROR (`build_failed`, with its fault)", error_model)
    def post(self):
        """Create a server, by image, flavor and network names or ids."""
        query = parse_query(create_query)
        body = parse_body(server_create, check=_check_create)
        launch = LaunchService(
            get_connection(),
            idempotency_ttl=current_app.config["IDEMPOTENCY_TTL"],
            settle_seconds=current_app.config["IDEMPOTENCY_SETTLE_SECONDS"],
        )
        if query["dry_run"]:
            return {"dry_run": True, "server": launch.dry_run(body)}, 200
        with CREATES_IN_FLIGHT.track_inprogress():
            created, replayed = launch.create_server(body, idempotency_key=_idempotency_key(query["Idempotency-Key"]))
            status = 201
            if query["wait"] and created["status"] != "ACTIVE":
                created = launch.wait_for_server(created["id"], timeout=query["timeout"])
                status = 201 if created["status"] == "ACTIVE" else 202
        headers = {"Location": url_for("server_server", ref=created["id"])}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return marshal(created, server), status, headers


def _check_create(body: dict) -> list[dict[str, str]]:
    errors = [
        {"field": kind, "message": f"give one of {kind} (id or name) and {kind}_id"}
        for kind in ("image", "flavor", "network")
        if len([name for name in (kind, f"{kind}_id") if body.get(name)]) != 1
    ]
    # Nova's own name rules, checked here so that nothing is sent that Nova would refuse.
    name, description = body.get("name"), body.get("description")
    texts = text_errors(name if isinstance(name, str) else None, description if isinstance(description, str) else None)
    return errors + [{"field": field, "message": message} for field, message in texts]


def _idempotency_key(value: str | None) -> str | None:
    if value is not None and not 1 <= len(value) <= 255:
        message = "Idempotency-Key must be 1 to 255 characters"
        raise InvalidRequest(message + ".", [{"field": "Idempotency-Key", "message": message}])
    return value


@ns.route("/<string:ref>")
@ns.param("ref", "Server id or exact name")
class Server(Resource):
    @documents_errors(ns, 404, 409, *READ_ERRORS)
    @ns.marshal_with(server, description="The server")
    def get(self, ref):
        """Show one server, by id or name."""
        return ComputeService(get_connection()).get_server(ref)

    @documents_errors(ns, 404, 409, *READ_ERRORS)
    @ns.response(204, "Deletion started; the server disappears a few seconds later")
    def delete(self, ref):
        """Delete a server, by id or name."""
        ComputeService(get_connection()).delete_server(ref)
        return "", 204

from flask import url_for
from flask_restx import Namespace, Resource, fields, marshal

from devstack_client.api.common import READ_ERRORS, documents_errors, next_marker_field
from devstack_client.api.query import fields_argument, paged_parser, parse_query, select_fields, sort_argument
from devstack_client.api.validation import parse_body
from devstack_client.connection import get_connection
from devstack_client.services import ComputeService

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
        "tags": fields.List(fields.String, example=["prod"]),
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
server_create = ns.model(
    "ServerCreate",
    {
        "name": fields.String(required=True, min_length=1, max_length=255, example="web-1"),
        "image_id": fields.String(required=True, min_length=1, example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "flavor_id": fields.String(required=True, min_length=1, example="1"),
        "network_id": fields.String(required=True, min_length=1, example="f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10"),
    },
    strict=True,
)


@ns.route("")
class ServerList(Resource):
    @ns.expect(list_query)
    @documents_errors(ns, 400, *READ_ERRORS)
    @ns.response(200, "One page of the project's servers, with image and flavor names", server_list)
    def get(self):
        """List the servers, a page at a time."""
        args = parse_query(list_query)
        wanted = select_fields(args.pop("fields"), server)
        result = ComputeService(get_connection()).list_servers(**args, image_names=wanted is None or "image" in wanted)
        body = marshal({"servers": result.items, "next_marker": result.next_marker}, server_list)
        if wanted:
            body["servers"] = [{name: item[name] for name in wanted} for item in body["servers"]]
        return body

    @ns.expect(server_create)
    @documents_errors(ns, 400, *READ_ERRORS)
    @ns.header("Location", "URL of the new server")
    @ns.marshal_with(server, code=201, description="Accepted; the server is BUILD until Nova makes it ACTIVE")
    def post(self):
        """Create a server; poll it until its status is ACTIVE."""
        body = parse_body(server_create)
        created = ComputeService(get_connection()).create_server(**body)
        return created, 201, {"Location": url_for("server_server", ref=created["id"])}


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

from flask_restx import Namespace, Resource, fields, inputs

from devstack_client.api.common import READ_ERRORS, documents_errors, next_marker_field
from devstack_client.api.query import paged_parser, parse_query, sort_argument
from devstack_client.connection import get_connection
from devstack_client.services import ComputeService

ns = Namespace("flavor", description="Nova flavors: the sizes a server can have")

flavor = ns.model(
    "Flavor",
    {
        "id": fields.String(example="1"),
        "name": fields.String(example="m1.tiny"),
        "vcpus": fields.Integer(example=1),
        "ram": fields.Integer(description="MiB", example=512),
        "disk": fields.Integer(description="Root disk, GB", example=1),
        "ephemeral": fields.Integer(description="GB", example=0),
        "swap": fields.Integer(description="MiB", example=0),
        "is_public": fields.Boolean(example=True),
        "description": fields.String(example=None),
    },
)
flavor_list = ns.model("FlavorList", {"flavors": fields.List(fields.Nested(flavor)), "next_marker": next_marker_field})

list_query = paged_parser()
list_query.add_argument("min_ram", type=inputs.natural, location="args", help="At least this much RAM, MiB")
list_query.add_argument("min_disk", type=inputs.natural, location="args", help="At least this much root disk, GB")
sort_argument(list_query, ("name", "ram", "vcpus", "disk"))


@ns.route("")
class FlavorList(Resource):
    @ns.expect(list_query)
    @documents_errors(ns, 400, *READ_ERRORS)
    @ns.marshal_with(flavor_list, description="One page of flavors")
    def get(self):
        """List the flavors, a page at a time."""
        query = parse_query(list_query)  # before connecting: a bad query is a 400 even when OpenStack is down
        result = ComputeService(get_connection()).list_flavors(**query)
        return {"flavors": result.items, "next_marker": result.next_marker}


@ns.route("/<string:ref>")
@ns.param("ref", "Flavor id or exact name")
class Flavor(Resource):
    @documents_errors(ns, 404, 409, *READ_ERRORS)
    @ns.marshal_with(flavor, description="The flavor")
    def get(self, ref):
        """Show one flavor, by id or name."""
        return ComputeService(get_connection()).get_flavor(ref)

from flask_restx import Namespace, Resource, fields, inputs

from devstack_client.api.listing import lists, shows
from devstack_client.api.query import paged_parser, sort_argument
from devstack_client.appctx import catalog, get_connection
from devstack_client.services import ComputeService
from devstack_client.services.compute import FLAVORS

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
        "description": fields.String(nullable=True, example=None),
    },
)

list_query = paged_parser()
list_query.add_argument("min_ram", type=inputs.natural, location="args", help="At least this much RAM, MiB")
list_query.add_argument("min_disk", type=inputs.natural, location="args", help="At least this much root disk, GB")
sort_argument(list_query, FLAVORS.sort)


@ns.route("")
class FlavorList(Resource):
    @lists(
        ns,
        "flavors",
        flavor,
        list_query,
        "One page of flavors (the same page is reused for CATALOG_CACHE_SECONDS per user and project)",
        shaped=True,
    )
    def get(self, **query):
        """List the flavors, a page at a time."""
        return ComputeService(get_connection(), catalog()).list_flavors(**query)


@ns.route("/<string:ref>")
@ns.param("ref", "Flavor id or exact name")
class Flavor(Resource):
    @shows(ns, flavor, "The flavor", shaped=True)
    def get(self, ref):
        """Show one flavor, by id or name."""
        return ComputeService(get_connection()).get_flavor(ref)

from flask_restx import Namespace, Resource, fields, inputs

from devstack_client.api.listing import lists, shows
from devstack_client.api.query import paged_parser, sort_argument
from devstack_client.appctx import get_connection
from devstack_client.services import NetworkService
from devstack_client.services.network import NETWORKS

ns = Namespace("network", description="Neutron networks a server can be attached to")

network = ns.model(
    "Network",
    {
        "id": fields.String(example="f3a8c2de-5d41-4b8a-9a0e-7e4f1c2b9d10"),
        "name": fields.String(example="private"),
        "status": fields.String(example="ACTIVE"),
        "subnets": fields.List(fields.String, example=["0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"]),
        "is_shared": fields.Boolean(example=False),
        "is_router_external": fields.Boolean(example=False),
        "is_admin_state_up": fields.Boolean(example=True),
        "mtu": fields.Integer(example=1450),
        "project_id": fields.String(example="5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"),
        "description": fields.String(example=""),
        "created_at": fields.String(example="2026-11-02T09:14:03Z"),
    },
)

list_query = paged_parser()
list_query.add_argument("name", location="args", help="Exact name")
list_query.add_argument("status", location="args", help="ACTIVE, DOWN, BUILD or ERROR")
list_query.add_argument("is_shared", type=inputs.boolean, location="args", help="Only shared (or unshared) networks")
sort_argument(list_query, NETWORKS.sort)


@ns.route("")
class NetworkList(Resource):
    @lists(ns, "networks", network, list_query, "One page of networks")
    def get(self, **query):
        """List the networks, a page at a time."""
        return NetworkService(get_connection()).list_networks(**query)


@ns.route("/<string:ref>")
@ns.param("ref", "Network id or exact name")
class Network(Resource):
    @shows(ns, network, "The network")
    def get(self, ref):
        """Show one network, by id or name."""
        return NetworkService(get_connection()).get_network(ref)

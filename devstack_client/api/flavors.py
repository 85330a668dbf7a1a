from flask_restx import Namespace, Resource, fields

from devstack_client.api.common import READ_ERRORS, documents_errors
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
flavor_list = ns.model("FlavorList", {"flavors": fields.List(fields.Nested(flavor))})


@ns.route("")
class FlavorList(Resource):
    @documents_errors(ns, *READ_ERRORS)
    @ns.marshal_with(flavor_list, description="The flavors")
    def get(self):
        """List the flavors."""
        return {"flavors": ComputeService(get_connection()).list_flavors()}


@ns.route("/<string:ref>")
@ns.param("ref", "Flavor id or exact name")
class Flavor(Resource):
    @documents_errors(ns, 404, 409, *READ_ERRORS)
    @ns.marshal_with(flavor, description="The flavor")
    def get(self, ref):
        """Show one flavor, by id or name."""
        return ComputeService(get_connection()).get_flavor(ref)

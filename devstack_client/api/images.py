from flask_restx import Namespace, Resource, fields

from devstack_client.api.listing import lists, shows
from devstack_client.api.query import paged_parser, sort_argument
from devstack_client.appctx import get_connection
from devstack_client.services import ImageService
from devstack_client.services.image import IMAGES

ns = Namespace("image", description="Glance images the project can use")

image = ns.model(
    "Image",
    {
        "id": fields.String(example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "name": fields.String(example="cirros-0.6.2-x86_64-disk"),
        "status": fields.String(example="active"),
        "size": fields.Integer(description="Bytes", example=21430272),
        "disk_format": fields.String(example="qcow2"),
        "container_format": fields.String(example="bare"),
        "visibility": fields.String(example="public"),
        "min_disk": fields.Integer(description="GB", example=0),
        "min_ram": fields.Integer(description="MiB", example=0),
        "checksum": fields.String(example="c8fc807773e5354afe61636071771906"),
        "owner": fields.String(example="5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"),
        "protected": fields.Boolean(example=False),
        "created_at": fields.String(example="2026-11-02T09:14:03Z"),
        "updated_at": fields.String(example="2026-11-02T09:14:05Z"),
    },
)

list_query = paged_parser()
list_query.add_argument("name", location="args", help="Exact name")
list_query.add_argument("status", location="args", help="queued, saving, active, killed, deleted, …")
list_query.add_argument("visibility", location="args", choices=("public", "private", "shared", "community", "all"))
sort_argument(list_query, IMAGES.sort)


@ns.route("")
class ImageList(Resource):
    @lists(ns, "images", image, list_query, "One page of images")
    def get(self, **query):
        """List the images, a page at a time."""
        return ImageService(get_connection()).list_images(**query)


@ns.route("/<string:ref>")
@ns.param("ref", "Image id or exact name")
class Image(Resource):
    @shows(ns, image, "The image")
    def get(self, ref):
        """Show one image, by id or name."""
        return ImageService(get_connection()).get_image(ref)

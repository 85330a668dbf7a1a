"""The volume namespace: list, create, show, edit and delete Cinder volumes (501 where the cloud has no Cinder)."""

from flask import url_for
from flask_restx import Namespace, Resource, fields, marshal, reqparse

from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors, error_model
from devstack_client.api.listing import lists, shows
from devstack_client.api.query import (
    fields_argument,
    idempotency_key,
    idempotency_key_argument,
    paged_parser,
    parse_query,
    sort_argument,
    wait_arguments,
)
from devstack_client.api.server_models import NonEmptyModel
from devstack_client.api.validation import parse_body
from devstack_client.appctx import get_connection, keywatch, settings
from devstack_client.services.rules import NAME_MAX
from devstack_client.services.server_actions import text_errors
from devstack_client.services.volume import VOLUMES, VolumeService

ns = Namespace("volume", description="Cinder volumes (block storage): 501 `not_supported` on a cloud without Cinder")

VOLUME_ID = "6c1e4b7a-2f3d-4e5a-9b8c-0d1e2f3a4b5c"
attachment = ns.model(
    "VolumeAttachment",
    {
        "server_id": fields.String(example="2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"),
        "server_name": fields.String(nullable=True, description="In a show only (null in lists)", example="web-1"),
        "device": fields.String(nullable=True, description="null while attaching", example="/dev/vdb"),
    },
)
volume_image = ns.model(
    "VolumeImage",
    {
        "id": fields.String(example="8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"),
        "name": fields.String(nullable=True, example="cirros"),
    },
)
volume = ns.model(
    "Volume",
    {
        "id": fields.String(example=VOLUME_ID),
        "name": fields.String(nullable=True, description="null if it has none (Nova's boot volumes)", example="data-1"),
        "status": fields.String(
            description="creating, available, attaching, in-use, detaching, deleting, error, …", example="available"
        ),
        "size": fields.Integer(description="GiB", example=1),
        "volume_type": fields.String(example="__DEFAULT__"),
        "bootable": fields.Boolean(description="Made from an image: a server can boot from it", example=False),
        "image": fields.Nested(volume_image, allow_null=True, description="The image it was made from, if any"),
        "description": fields.String(nullable=True, example="Database files"),
        "availability_zone": fields.String(example="nova"),
        "attachments": fields.List(fields.Nested(attachment), description="The servers it is attached to"),
        "metadata": fields.Raw(description="Key → value strings", example={}),
        "created_at": fields.String(example="2026-11-30T10:02:11.000000"),
        "updated_at": fields.String(
            nullable=True, description="null until first changed", example="2026-11-30T10:02:12.000000"
        ),
    },
)
volume_create = ns.model(
    "VolumeCreate",
    {
        "name": fields.String(required=True, min_length=1, max_length=NAME_MAX, example="data-1"),
        "size": fields.Integer(required=True, min=1, max=2**31 - 1, description="GiB", example=1),
        "image": fields.String(
            min_length=1, description="Image id or exact name: the volume is made from it (bootable)", example="cirros"
        ),
        "description": fields.String(max_length=NAME_MAX, example="Database files"),
        "volume_type": fields.String(min_length=1, max_length=NAME_MAX, example="__DEFAULT__"),
    },
    strict=True,
)
volume_update = NonEmptyModel(
    "VolumeUpdate",
    {
        "name": fields.String(min_length=1, max_length=NAME_MAX, example="data-2"),
        "description": fields.String(max_length=NAME_MAX, example="Database files"),
    },
    strict=True,
)
ns.add_model(volume_update.name, volume_update)

STATUSES = (
    "available", "attaching", "awaiting-transfer", "backing-up", "creating", "deleting", "detaching", "downloading",
    "error", "error_backing-up", "error_deleting", "error_extending", "error_restoring", "extending", "in-use",
    "maintenance", "reserved", "restoring-backup", "retyping", "uploading",
)  # fmt: skip
list_query = paged_parser()
list_query.add_argument("status", type=str.lower, choices=STATUSES, location="args", help="Only volumes in this status")
list_query.add_argument("name", location="args", help="Exact name")
list_query.add_argument("server", location="args", help="Attached to this server (id or exact name)")
sort_argument(list_query, VOLUMES.sort)
fields_argument(list_query, "id,name,status,size")

create_query = reqparse.RequestParser(bundle_errors=True)
wait_arguments(create_query, "available")
idempotency_key_argument(create_query, "volume")


def _service() -> VolumeService:
    return VolumeService(
        get_connection(),
        idempotency_ttl=settings().idempotency_ttl,
        settle_seconds=settings().idempotency_settle_seconds,
        watch=keywatch(),
    )


def _check_text(body: dict) -> list[dict[str, str]]:
    # Nova's rules for names and descriptions, applied to volumes too: what a server takes, a volume takes.
    name, description = body.get("name"), body.get("description")
    texts = text_errors(name if isinstance(name, str) else None, description if isinstance(description, str) else None)
    return [{"field": field, "message": message} for field, message in texts]


@ns.route("")
class VolumeList(Resource):
    # 409: the server filter names several servers.
    @lists(ns, "volumes", volume, list_query, "One page of the project's volumes", errors=(400, 409, 501))
    def get(self, fields=None, **query):
        """List the volumes, a page at a time."""
        return _service().list_volumes(**query)

    @ns.expect(volume_create, create_query)
    @documents_errors(ns, 409, 501, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(
        201,
        "Created: creating until Cinder makes it available (available with ?wait=true)",
        volume,
        headers={"Location": "URL of the volume", "Idempotent-Replayed": "true when an earlier request's volume"},
    )
    @ns.response(202, "With ?wait=true: still creating when the timeout passed; poll Location", volume)
    @ns.response(502, "With ?wait=true: the volume went to error (`build_failed`, with the volume)", error_model)
    def post(self):
        """Create a volume, empty or from an image."""
        query = parse_query(create_query)
        body = parse_body(volume_create, check=_check_text)
        key = idempotency_key(query["Idempotency-Key"])
        service = _service()
        created, replayed = service.create_volume(body, idempotency_key=key)
        status = 201
        if query["wait"] and created["status"] != "available":
            created = service.wait_for_volume(created["id"], timeout=query["timeout"])
            status = 201 if created["status"] == "available" else 202
        headers = {"Location": url_for("volume_volume", ref=created["id"])}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return marshal(created, volume), status, headers


@ns.route("/<string:ref>")
@ns.param("ref", "Volume id or exact name")
class Volume(Resource):
    @shows(ns, volume, "The volume, with the servers it is attached to", errors=(404, 409, 501))
    def get(self, ref):
        """Show one volume, by id or name."""
        return _service().get_volume(ref)

    @ns.expect(volume_update)
    @documents_errors(ns, 404, 409, 501, *BODY_ERRORS, *READ_ERRORS)
    @ns.marshal_with(volume, description="The updated volume")
    def patch(self, ref):
        """Rename a volume or change its description."""
        body = parse_body(volume_update, check=_check_text)
        return _service().update_volume(ref, name=body.get("name"), description=body.get("description"))

    @documents_errors(ns, 404, 501, *READ_ERRORS)
    @ns.response(409, "Attached to a server (`in_use`, with `servers`), or the name is ambiguous", error_model)
    @ns.response(204, "Deletion started; the volume disappears a few seconds later")
    def delete(self, ref):
        """Delete a volume that is attached to no server."""
        _service().delete_volume(ref)
        return "", 204

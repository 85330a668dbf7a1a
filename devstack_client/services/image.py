"""Images, from Glance's JSON."""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.services._pages import walk
from devstack_client.services._wire import call, find, is_uuid

FIELDS = (
    "id",
    "name",
    "status",
    "size",
    "disk_format",
    "container_format",
    "visibility",
    "min_disk",
    "min_ram",
    "checksum",
    "owner",
    "protected",
    "created_at",
    "updated_at",
)


def shape_image(image: dict[str, Any]) -> dict[str, Any]:
    return {field: image.get(field) for field in FIELDS}


class ImageService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = conn.image

    def list_images(self) -> list[dict[str, Any]]:
        return [shape_image(i) for i in walk(self._api, "/images", "images")]

    def get_image(self, ref: str) -> dict[str, Any]:
        image = find(
            "image",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/images/{value}"),
            by_name=lambda name: call(self._api, "GET", "/images", params={"name": name})["images"],
            try_id=is_uuid(ref),
        )
        return shape_image(image)

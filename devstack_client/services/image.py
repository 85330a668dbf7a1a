"""Images, from Glance's JSON."""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.services._pages import Listing, Page, page
from devstack_client.services._wire import call, find, is_uuid, service
from devstack_client.services.catalog import Catalog

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


IMAGES = Listing(
    "/images", "images", sort={key: key for key in ("name", "created_at", "size", "status")}, glance_sort=True
)


def exact(value: str) -> str:
    """Glance's filter for exactly ``value``: a bare ``a:b`` is read as operator ``a`` (400), ``in:x`` as a list.

    After ``eq:`` nothing is parsed again (no quoting, no second operator), so every name Glance stores matches.
    """
    return "eq:" + value


def shape_image(image: dict[str, Any]) -> dict[str, Any]:
    return {field: image.get(field) for field in FIELDS}


class ImageService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = service(conn, "image")

    def list_images(
        self,
        *,
        limit: int,
        marker: str | None = None,
        name: str | None = None,
        status: str | None = None,
        visibility: str | None = None,
        sort: str | None = None,
    ) -> Page:
        params = IMAGES.params(
            sort=sort, name=name and exact(name), status=status and exact(status), visibility=visibility
        )
        result = page(self._api, IMAGES, limit=limit, marker=marker, params=params)
        return Page([shape_image(i) for i in result.items], result.next_marker)

    def image_names(self, ids: list[str], catalog: Catalog | None = None) -> dict[str, str | None]:
        """Names of these images, in one call (Glance's ``id=in:`` filter) for those ``catalog`` does not hold."""

        def ask(wanted: list[str]) -> dict[str, str | None]:
            body = call(self._api, "GET", "/images", params={"id": "in:" + ",".join(wanted), "limit": len(wanted)})
            return {image["id"]: image.get("name") for image in body.get("images", [])}

        return catalog.each(self._api, "image-name", ids, ask) if catalog is not None else ask(ids)

    def get_image(self, ref: str) -> dict[str, Any]:
        image = find(
            "image",
            ref,
            by_id=lambda value: call(self._api, "GET", f"/images/{value}"),
            by_name=lambda name: call(self._api, "GET", "/images", params={"name": exact(name)})["images"],
            try_id=is_uuid(ref),
        )
        return shape_image(image)

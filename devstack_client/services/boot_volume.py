"""Booting a server from a volume: a new one made from the image, or an existing bootable one.

Nova makes the new volume itself (through Cinder) while it builds the server: over Cinder's quota, the server
would only go to ERROR seconds later. So a create checks Cinder's quota first (one call) and answers 400
``quota_exceeded`` in Cinder's words, with nothing created.
"""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.errors import InvalidRequest, NotFound, QuotaExceeded
from devstack_client.services.limits import volume_limits
from devstack_client.services.volume import VolumeService, shape_volume


def field_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """The rules across the boot volume fields that a schema cannot express."""
    errors = []
    new, existing = body.get("boot_volume_size") is not None, body.get("boot_volume") is not None
    if new and existing:
        errors.append({"field": "boot_volume", "message": "give boot_volume or boot_volume_size, not both"})
    if existing:
        errors += [
            {"field": name, "message": f"{name} does not apply when booting from an existing boot_volume"}
            for name in ("image", "image_id")
            if body.get(name)
        ]
    if body.get("delete_on_termination") is not None and not (new or existing):
        message = "delete_on_termination applies with boot_volume_size or boot_volume only"
        errors.append({"field": "delete_on_termination", "message": message})
    return errors


class BootVolumes:
    def __init__(self, conn: connection.Connection) -> None:
        self._volumes = VolumeService(conn)  # NotSupported (501) without Cinder, before anything is sent

    def block_devices(self, request: dict[str, Any], image_id: str | None) -> list[dict[str, Any]]:
        """Nova's block_device_mapping_v2 for the request's boot volume (checked against Cinder first)."""
        if request.get("boot_volume"):
            volume = self.find_bootable(request["boot_volume"])
            return [
                {
                    "boot_index": 0,
                    "uuid": volume["id"],
                    "source_type": "volume",
                    "destination_type": "volume",
                    "delete_on_termination": bool(request.get("delete_on_termination", False)),
                }
            ]
        self.check_quota(request["boot_volume_size"])
        return [
            {
                "boot_index": 0,
                "uuid": image_id,
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": request["boot_volume_size"],
                "delete_on_termination": bool(request.get("delete_on_termination", True)),
            }
        ]

    def find_bootable(self, ref: str) -> dict[str, Any]:
        """The existing volume to boot from: it must exist, be bootable and be available."""
        try:
            volume = shape_volume(self._volumes.find_volume(ref))
        except NotFound as exc:
            raise InvalidRequest(
                f"boot_volume: {exc.message}", [{"field": "boot_volume", "message": exc.message}]
            ) from exc
        problem = None
        if not volume["bootable"]:
            problem = "is not bootable (make it from an image)"
        elif volume["status"] != "available":
            problem = f"is {volume['status']}, not available"
        if problem:
            message = f"Volume {volume['name'] or volume['id']!r} {problem}."
            raise InvalidRequest(message, [{"field": "boot_volume", "message": message}])
        return volume

    def check_quota(self, size: int) -> None:
        """QuotaExceeded, in Cinder's words, if one more volume of ``size`` GiB does not fit."""
        room = volume_limits(self._volumes.get_limits())
        volumes, gigabytes = room["volumes"], room["gigabytes"]
        if volumes["remaining"] is not None and volumes["remaining"] < 1:
            raise QuotaExceeded(
                f"VolumeLimitExceeded: Maximum number of volumes allowed ({volumes['max']}) exceeded for quota "
                "'volumes'."
            )
        if gigabytes["remaining"] is not None and gigabytes["remaining"] < size:
            raise QuotaExceeded(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "
                f"Requested {size}G, quota is {gigabytes['max']}G and {gigabytes['used']}G has been consumed."
            )

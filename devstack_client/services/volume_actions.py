"""Attaching volumes to servers and detaching them: server actions that Nova does through Cinder.

Both are asynchronous: Nova answers at once and the volume goes ``attaching`` → ``in-use`` (or ``detaching`` →
``available``) over the next seconds. Cinder is checked to be in the catalog first (501 otherwise).
"""

from __future__ import annotations

from typing import Any

from openstack import connection

from devstack_client.errors import InvalidRequest, NotFound
from devstack_client.services._wire import is_uuid
from devstack_client.services.server_actions import ServerActionService
from devstack_client.services.volume import VolumeService

# action → the volume's status once Nova is done
ACTIONS = {"attach_volume": "in-use", "detach_volume": "available"}
FIELDS = ("volume", "device")


def check_fields(action: str, body: dict[str, Any]) -> None:
    """400 for a volume field on another action, or a volume action without its volume."""
    errors = []
    if action in ACTIONS:
        owners = {"type": "reboot", "name": "snapshot"}
        errors += [(f, f"{f} applies to the {owners[f]} action only") for f in owners if body.get(f) is not None]
        if not body.get("volume"):
            errors.append(("volume", f"volume is required for {action}"))
        if action == "detach_volume" and body.get("device") is not None:
            errors.append(("device", "device applies to the attach_volume action only"))
    else:
        errors += [
            (f, f"{f} applies to the attach_volume and detach_volume actions only")
            for f in FIELDS
            if body.get(f) is not None
        ]
    if errors:
        raise InvalidRequest(
            "Invalid request: " + "; ".join(message for _, message in errors) + ".",
            [{"field": field, "message": message} for field, message in errors],
        )


class VolumeActionService(ServerActionService):
    def __init__(self, conn: connection.Connection) -> None:
        super().__init__(conn)
        self._volumes = VolumeService(conn)  # NotSupported (501) without Cinder, before anything is sent

    def act_on_volume(self, ref: str, *, action: str, volume: str, device: str | None = None) -> dict[str, Any]:
        """Ask Nova to attach or detach a volume; return what was accepted."""
        volume_id = self._volume_id(volume)
        server_id = self._server_id(ref)
        if action == "attach_volume":
            attachment: dict[str, Any] = {"volumeId": volume_id}
            if device:
                attachment["device"] = device
            self._post(server_id, f"/servers/{server_id}/os-volume_attachments", {"volumeAttachment": attachment})
        else:
            self._send(server_id, "DELETE", f"/servers/{server_id}/os-volume_attachments/{volume_id}", None)
        return {
            "id": server_id,
            "action": action,
            "type": None,
            "target_status": ACTIONS[action],
            "image_id": None,
            "volume_id": volume_id,
        }

    def _volume_id(self, ref: str) -> str:
        # A UUID goes to Nova as it is (Nova asks Cinder and says 404 in its words); a name is looked up.
        if is_uuid(ref):
            return ref
        try:
            return self._volumes.find_volume(ref)["id"]
        except NotFound as exc:
            raise InvalidRequest(f"volume: {exc.message}", [{"field": "volume", "message": exc.message}]) from exc

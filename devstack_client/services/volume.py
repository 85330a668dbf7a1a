"""Volumes, from Cinder's JSON (block-storage v3): list, create (idempotent, waitable), show, edit, delete.

Cinder is optional: a cloud whose catalog has no block-storage service gets
``NotSupported`` (501) from every volume operation, and nothing else changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from openstack import connection, proxy
from openstack import exceptions as os_exc

from devstack_client.errors import (
    InvalidRequest,
    NotFound,
    NotSupported,
    VolumeFailed,
    VolumeInUse,
    VolumeKeyReused,
)
from devstack_client.services._pages import Listing, Page, page
from devstack_client.services._wire import call, find, is_uuid, service
from devstack_client.services.compute import ComputeService
from devstack_client.services.image import ImageService
from devstack_client.services.keywatch import KeyWatch

log = logging.getLogger(__name__)

# The Cinder API microversion every call is sent with (Wallaby, 2021, on): the shapes below are written
# against it. openstacksdk sends none on a raw call, and Cinder's 3.0 answers lack fields we show.
CINDER_MICROVERSION = "3.60"
SERVICE_TYPE = "block-storage"
NO_CINDER = (
    "This cloud has no block-storage (Cinder) service in its catalog: volumes are not available here. "
    "Everything else works."
)
# The idempotency key lives in the volume's own metadata, as a server's does on the server (services/launch.py):
# every worker and gateway instance sees it, and Cinder filters volumes by metadata.
KEY_METADATA = "devstack-client-idem"
DIGEST_METADATA = "devstack-client-request"
SETTLED_METADATA = "devstack-client-settled"
POLL_SECONDS = 1.0
# Statuses a volume being created ends in: the waiting stops there.
READY, FAILED = ("available",), ("error",)

VOLUMES = Listing(
    "/volumes/detail",
    "volumes",
    sort={key: key for key in ("name", "created_at", "size", "status")},
    glance_sort=True,  # Cinder takes sort=key:dir too
    kind="volume",
)

# openstacksdk builds a proxy (with its version discovery) on first use, without a lock: racing threads would
# each discover Cinder. Compute, image and network are built at warm-up; Cinder, optional, here, once.
_PROXY_LOCK = threading.Lock()


def block_storage(conn: connection.Connection) -> proxy.Proxy:
    """The connection's Cinder proxy; NotSupported (501) when the catalog has no block-storage service."""
    with _PROXY_LOCK:
        api = service(conn, "block_storage")
        try:
            # openstacksdk answers a stand-in for a service missing from the catalog, which raises on any use.
            api.get_endpoint()
        except (os_exc.ServiceDisabledException, ks_exc.EndpointNotFound) as exc:
            raise NotSupported(NO_CINDER, service_type=SERVICE_TYPE) from exc
    return api


def has_block_storage(conn: connection.Connection) -> bool:
    """Whether the connection's catalog offers Cinder (from the token's catalog: no upstream call)."""
    try:
        block_storage(conn)
    except NotSupported:
        return False
    return True


def _bootable(value: Any) -> bool:
    return value is True or str(value).lower() == "true"  # Cinder answers the string "true"


def shape_volume(volume: dict[str, Any]) -> dict[str, Any]:
    image = volume.get("volume_image_metadata") or {}
    return {
        "id": volume["id"],
        "name": volume.get("name"),
        "status": volume.get("status"),
        "size": volume.get("size"),
        "volume_type": volume.get("volume_type"),
        "bootable": _bootable(volume.get("bootable")),
        "image": {"id": image["image_id"], "name": image.get("image_name")} if image.get("image_id") else None,
        "description": volume.get("description"),
        "availability_zone": volume.get("availability_zone"),
        "attachments": [
            {"server_id": a.get("server_id"), "server_name": None, "device": a.get("device")}
            for a in volume.get("attachments") or []
        ],
        "metadata": volume.get("metadata") or {},
        "created_at": volume.get("created_at"),
        "updated_at": volume.get("updated_at"),
    }


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _created(volume: dict[str, Any]) -> datetime:
    # Cinder answers UTC without a zone ("2026-11-30T10:00:00.000000").
    when = datetime.fromisoformat(volume["created_at"].replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class VolumeService:
    def __init__(
        self,
        conn: connection.Connection,
        *,
        idempotency_ttl: float = 86400,
        settle_seconds: float = 2.0,
        watch: KeyWatch | None = None,
    ) -> None:
        self._conn = conn
        self._watch = watch
        self._api = block_storage(conn)
        self._ttl = timedelta(seconds=idempotency_ttl)
        self._settle_seconds = settle_seconds

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return call(self._api, method, path, microversion=CINDER_MICROVERSION, **kwargs)

    # -- reading ---------------------------------------------------------------

    def list_volumes(
        self,
        *,
        limit: int,
        marker: str | None = None,
        status: str | None = None,
        name: str | None = None,
        server: str | None = None,
        sort: str | None = None,
    ) -> Page:
        """One page of volumes: one Cinder call; with ``server``, that server's volumes (one call per volume)."""
        if server:
            return self._server_volumes(server, limit=limit, marker=marker, status=status, name=name, sort=sort)
        params = VOLUMES.params(sort=sort, status=status, name=name)
        result = page(self._api, VOLUMES, limit=limit, marker=marker, params=params, microversion=CINDER_MICROVERSION)
        return Page([shape_volume(v) for v in result.items], result.next_marker)

    def _server_volumes(
        self, server: str, *, limit: int, marker: str | None, status: str | None, name: str | None, sort: str | None
    ) -> Page:
        # Cinder cannot filter volumes by server: Nova's server lists its volumes' ids, read one by one.
        try:
            found = ComputeService(self._conn).find_server(server)
        except NotFound as exc:
            raise InvalidRequest(f"server: {exc.message}", [{"field": "server", "message": exc.message}]) from exc
        ids = [v["id"] for v in found.get("os-extended-volumes:volumes_attached") or []]
        volumes = [shape_volume(self._call("GET", f"/volumes/{volume_id}")["volume"]) for volume_id in ids]
        volumes = [v for v in volumes if (not status or v["status"] == status) and (not name or v["name"] == name)]
        if sort:
            key = sort.lstrip("-")
            volumes.sort(key=lambda v: (v[key] is None, v[key]), reverse=sort.startswith("-"))
        if marker:
            at = next((i for i, v in enumerate(volumes) if v["id"] == marker), None)
            volumes = volumes[at + 1 :] if at is not None else []
        return Page(volumes[:limit], volumes[limit - 1]["id"] if len(volumes) > limit else None)

    def _find(self, ref: str) -> dict[str, Any]:
        return find(
            "volume",
            ref,
            by_id=lambda value: self._call("GET", f"/volumes/{value}")["volume"],
            # Cinder's name filter is exact (not a pattern, unlike Nova's)
            by_name=lambda value: self._call("GET", VOLUMES.path, params={"name": value})["volumes"],
            try_id=is_uuid(ref),  # Cinder volume ids are UUIDs: a name is not tried as one
        )

    def find_volume(self, ref: str) -> dict[str, Any]:
        """Cinder's JSON for the one volume whose id, else exact name, is ``ref``."""
        return self._find(ref)

    def get_volume(self, ref: str) -> dict[str, Any]:
        """The volume, with the names of the servers it is attached to (one Nova call per attachment)."""
        return self._with_server_names(shape_volume(self._find(ref)))

    def volume_details(self, volume_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Cinder's JSON for each of ``volume_ids`` (one call each), by id."""
        return {volume_id: self._call("GET", f"/volumes/{volume_id}")["volume"] for volume_id in volume_ids}

    def _with_server_names(self, volume: dict[str, Any]) -> dict[str, Any]:
        for attachment in volume["attachments"]:
            if attachment["server_id"]:
                attachment["server_name"] = ComputeService(self._conn).server_name(attachment["server_id"])
        return volume

    # -- creating --------------------------------------------------------------

    def create_volume(self, request: dict[str, Any], *, idempotency_key: str | None = None) -> tuple[dict, bool]:
        """Create a volume (Cinder answers at once, status ``creating``); return it and whether it is a replay."""
        body: dict[str, Any] = {"name": request["name"], "size": request["size"]}
        for name in ("description", "volume_type"):
            if request.get(name) is not None:
                body[name] = request[name]
        if request.get("image"):
            try:
                body["imageRef"] = ImageService(self._conn).get_image(request["image"])["id"]
            except NotFound as exc:
                raise InvalidRequest(f"image: {exc.message}", [{"field": "image", "message": exc.message}]) from exc
        if idempotency_key:
            tag, digest = key_digest(idempotency_key), _request_digest(request)
            earlier = self._keyed(tag)
            if earlier:
                return self._replay(_winner(earlier), digest), True
            body["metadata"] = {KEY_METADATA: tag, DIGEST_METADATA: digest}
        # Never retried (_wire.fetch resends only GETs): a second POST could make a second volume.
        volume = self._call("POST", "/volumes", json={"volume": body})["volume"]
        if idempotency_key:
            winner = self._settle(tag, volume["id"])
            if winner["id"] != volume["id"]:
                return shape_volume(winner), True
            if self._watch is not None:
                volume_id = volume["id"]
                self._watch.watch(f"volume {volume_id}", lambda: self._remove_late_twins(tag, volume_id))
        return shape_volume(volume), False

    def _remove_late_twins(self, tag: str, volume_id: str) -> bool:
        """As for servers (LaunchService._remove_late_twins): delete newer volumes with this key while ours exists."""
        keyed = self._keyed(tag)
        if volume_id not in {v["id"] for v in keyed}:
            return False
        if _winner(keyed)["id"] != volume_id:
            log.warning("idempotency watch: volume %s is not the one its key stands for", volume_id)
            return False
        for twin in keyed:
            if twin["id"] != volume_id and twin["status"] != "deleting":
                log.warning("idempotency watch: deleting late duplicate volume %s, keeping %s", twin["id"], volume_id)
                self._call("DELETE", f"/volumes/{twin['id']}")  # refused while "creating": the next look retries
        return True

    def _keyed(self, tag: str) -> list[dict[str, Any]]:
        """Volumes carrying this key, created within the key's lifetime, oldest first."""
        params = {"metadata": _metadata_filter({KEY_METADATA: tag})}
        volumes = self._call("GET", VOLUMES.path, params=params)["volumes"]
        cutoff = datetime.now(UTC) - self._ttl
        return sorted((v for v in volumes if _created(v) > cutoff), key=lambda v: (_created(v), v["id"]))

    def _replay(self, volume: dict[str, Any], digest: str) -> dict[str, Any]:
        if (volume.get("metadata") or {}).get(DIGEST_METADATA) != digest:
            raise VolumeKeyReused(volume["id"])
        return shape_volume(volume)

    def _settle(self, tag: str, volume_id: str) -> dict[str, Any]:
        """Requests with one key that raced past the check agree on the oldest volume; the others are deleted.

        As for servers (services/launch.py): wait for same-instant POSTs to answer, keep the oldest (or the one
        a race already settled on), delete our own if it is not that one.
        """
        time.sleep(self._settle_seconds)
        keyed = self._keyed(tag)
        if not keyed:
            return self._call("GET", f"/volumes/{volume_id}")["volume"]
        winner = _winner(keyed)
        if winner["id"] != volume_id:
            log.info("idempotency race: deleting duplicate volume %s, keeping %s", volume_id, winner["id"])
            try:
                self._call("DELETE", f"/volumes/{volume_id}")
            except os_exc.HttpException:  # still "creating": Cinder refuses; the key stays with the winner
                log.warning("could not delete duplicate volume %s", volume_id, exc_info=True)
        elif SETTLED_METADATA not in (winner.get("metadata") or {}):
            try:
                self._call("POST", f"/volumes/{volume_id}/metadata", json={"metadata": {SETTLED_METADATA: "true"}})
            except os_exc.HttpException:
                log.warning("could not mark volume %s settled", volume_id, exc_info=True)
        return winner

    def wait_for_volume(self, volume_id: str, *, timeout: float) -> dict[str, Any]:
        """Poll until available (returned), error (raises VolumeFailed) or the timeout (returned as it is)."""
        deadline = time.monotonic() + timeout
        while True:
            volume = shape_volume(self._call("GET", f"/volumes/{volume_id}")["volume"])
            if volume["status"] in READY:
                return volume
            if volume["status"] in FAILED:
                raise VolumeFailed(volume)
            if time.monotonic() + POLL_SECONDS > deadline:
                return volume
            time.sleep(POLL_SECONDS)

    # -- editing and deleting --------------------------------------------------

    def update_volume(self, ref: str, *, name: str | None = None, description: str | None = None) -> dict[str, Any]:
        """Rename a volume or change its description; return it."""
        volume_id = ref if is_uuid(ref) else self._find(ref)["id"]
        fields = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        updated = self._call("PUT", f"/volumes/{volume_id}", json={"volume": fields})["volume"]
        return self._with_server_names(shape_volume(updated))

    def delete_volume(self, ref: str) -> None:
        """Delete a volume; VolumeInUse (409) naming its servers while it is attached."""
        volume = shape_volume(self._find(ref))
        if volume["attachments"]:
            self._with_server_names(volume)
            servers = [{"id": a["server_id"], "name": a["server_name"]} for a in volume["attachments"]]
            raise VolumeInUse(volume, servers)
        self._call("DELETE", f"/volumes/{volume['id']}")

    # -- quota -----------------------------------------------------------------

    def get_limits(self) -> dict[str, Any]:
        """Cinder's absolute limits and usage (GET /limits), as Cinder names them."""
        return self._call("GET", "/limits")["limits"]["absolute"]


def _request_digest(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _metadata_filter(metadata: dict[str, str]) -> str:
    # Cinder reads the metadata filter with ast.literal_eval: a JSON object of strings is such a literal.
    return json.dumps(metadata, sort_keys=True)


def _winner(keyed: list[dict[str, Any]]) -> dict[str, Any]:
    return next((v for v in keyed if SETTLED_METADATA in (v.get("metadata") or {})), keyed[0])

"""Creating servers: references by name, options, idempotency keys, waiting, dry runs."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from openstack import connection
from urllib3.exceptions import NewConnectionError

from devstack_client.errors import (
    BuildFailed,
    CreateUnconfirmed,
    IdempotencyConflict,
    InvalidRequest,
    NameInUse,
    NotFound,
    QuotaExceeded,
)
from devstack_client.services._wire import call, exact_name_regex
from devstack_client.services.boot_volume import BootVolumes
from devstack_client.services.compute import ComputeService, shape_server
from devstack_client.services.image import ImageService
from devstack_client.services.keywatch import KeyWatch
from devstack_client.services.limits import LIMITS, PER_SERVER, shape_limit
from devstack_client.services.network import NetworkService

log = logging.getLogger(__name__)

# The key lives on the server itself (a tag, which Nova can filter on, and
# the request's digest in its metadata), so every worker and every gateway
# instance sees it: no state in one process.
KEY_TAG_PREFIX = "idem-"
DIGEST_METADATA = "devstack-client-request"
# Set on the server a keyed race settled on, so that a request whose POST
# answered late (after the others had settled) defers to it.
SETTLED_METADATA = "devstack-client-settled"
POLL_SECONDS = 1.0
READ_BACK_ATTEMPTS = 2
OPTIONAL = ("key_name", "availability_zone", "description")


def key_tag(key: str) -> str:
    # Nova tags: at most 60 characters, no "/" or ","; a digest fits any key.
    return KEY_TAG_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:40]


def request_digest(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def pending(server_id: str, sent: dict[str, Any], project_id: str | None) -> dict[str, Any]:
    """The server as this create sent it to Nova, shaped as a show: for when Nova accepted it but did not show it.

    What only Nova knows stays empty or null: times, power and task state, addresses, the flavor's name and sizes.
    One shape for every 201 (a generated client types all of them as Server; tests/test_openapi.py).
    """
    return shape_server(
        {
            "id": server_id,
            "status": "BUILD",
            "tenant_id": project_id,
            "image": {"id": sent["imageRef"]} if "imageRef" in sent else "",
            # Nova puts a server in the project's "default" group when the request names none.
            "security_groups": sent.get("security_groups") or [{"name": "default"}],
            "OS-EXT-AZ:availability_zone": sent.get("availability_zone"),
            **{key: sent.get(key) for key in ("name", "key_name", "description", "metadata", "tags")},
        }
    )


def _created(server: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(server["created"].replace("Z", "+00:00"))


def _refused(exc: BaseException) -> bool:
    """Whether a connection failure happened before anything was sent (urllib3 could not connect)."""
    seen: BaseException | None = exc
    while seen is not None:
        reason = getattr(seen.args[0], "reason", None) if seen.args else None
        if isinstance(seen, NewConnectionError) or isinstance(reason, NewConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _settled(server: dict[str, Any]) -> bool:
    return SETTLED_METADATA in server.get("metadata", {})


def _winner(keyed: list[dict[str, Any]]) -> dict[str, Any]:
    """The server a key stands for: the one a race settled on, else the oldest (``keyed`` is oldest first)."""
    return next((s for s in keyed if _settled(s)), keyed[0])


# Create POSTs a worker sends Nova at once. nova-api serves a few requests
# at a time (4 in the test cloud) and a create costs it seconds: with gevent
# workers, 50 concurrent creates all queued at Nova and 12 waited there past
# READ_TIMEOUT (504, tests/cloud/test_cloud_load.py), where gthread's 8
# threads per worker had kept the rest waiting here. A wait here sends
# nothing and does not count against READ_TIMEOUT. Created at import, in the
# worker, after gevent's patching: a gevent-aware semaphore.
_POSTS_AT_ONCE = threading.BoundedSemaphore(8)


class LaunchService:
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
        self._api = conn.compute
        self._compute = ComputeService(conn)
        self._images = ImageService(conn)
        self._networks = NetworkService(conn)
        self._ttl = timedelta(seconds=idempotency_ttl)
        self._settle_seconds = settle_seconds

    # -- create ----------------------------------------------------------------

    def create_server(self, request: dict[str, Any], *, idempotency_key: str | None = None) -> tuple[dict, bool]:
        """Create a server; return it and whether it is a replay of an earlier request with the same key."""
        server = self._nova_body(request)
        if idempotency_key:
            tag, digest = key_tag(idempotency_key), request_digest(request)
            earlier = self._keyed(tag)
            if earlier:
                return self._replay(_winner(earlier), digest), True
            server["tags"] = [*server.get("tags", []), tag]
            server["metadata"] = {**server.get("metadata", {}), DIGEST_METADATA: digest}
        # Never retried: a lost answer to a POST may still have created the
        # server, and a second POST would create a second one.
        try:
            with _POSTS_AT_ONCE:
                server_id = call(self._api, "POST", "/servers", json={"server": server})["server"]["id"]
        except ks_exc.ConnectTimeout as exc:  # keystoneauth's name for a read timeout too
            raise CreateUnconfirmed(request["name"], idempotency_key) from exc
        except ks_exc.ConnectFailure as exc:
            if _refused(exc):
                raise  # no connection was made: nothing reached Nova
            raise CreateUnconfirmed(request["name"], idempotency_key, timed_out=False) from exc
        replayed = False
        if idempotency_key:
            server_id, replayed = self._settle(tag, server_id)
            if not replayed and self._watch is not None:
                self._watch.watch(f"server {server_id}", lambda: self._remove_late_twins(tag, server_id))
        return self._read_back(server_id, server), replayed

    def _read_back(self, server_id: str, sent: dict[str, Any]) -> dict[str, Any]:
        """The server just made, as a show shapes it; if Nova fails twice to show it, as it was sent (``pending``):
        the server exists, so the create must not answer an error (a client would make another)."""
        for attempt in range(READ_BACK_ATTEMPTS):
            try:
                return self._compute.get_server(server_id)
            except Exception:  # a GET may be sent again; any failure here is Nova's
                log.warning("server %s created, but reading it back failed", server_id, exc_info=True)
            if attempt + 1 < READ_BACK_ATTEMPTS:
                time.sleep(POLL_SECONDS)
        return pending(server_id, sent, self._conn.current_project_id)

    def _nova_body(self, request: dict[str, Any]) -> dict[str, Any]:
        refs = self._refs(request, lookup_ids=False)
        server: dict[str, Any] = {
            "name": request["name"],
            "flavorRef": refs["flavor"]["id"],
            "networks": [{"uuid": refs["network"]["id"]}],
        }
        if _boots_from_volume(request):
            # No imageRef: the boot volume (made from the image, or an existing one) is the server's disk.
            image_id = refs["image"]["id"] if "image" in refs else None
            server["block_device_mapping_v2"] = BootVolumes(self._conn).block_devices(request, image_id)
        else:
            server["imageRef"] = refs["image"]["id"]
        server.update({name: request[name] for name in OPTIONAL if request.get(name)})
        if request.get("user_data"):
            server["user_data"] = base64.b64encode(request["user_data"].encode()).decode()
        if request.get("security_groups"):
            server["security_groups"] = [{"name": group} for group in request["security_groups"]]
        if request.get("metadata"):
            server["metadata"] = dict(request["metadata"])
        return server

    def _refs(self, request: dict[str, Any], *, lookup_ids: bool) -> dict[str, dict[str, Any]]:
        """Resolve image, flavor and network, each given as a name or id (``image``) or an id (``image_id``)."""
        getters = {
            "image": self._images.get_image,
            "flavor": self._compute.get_flavor,
            "network": self._networks.get_network,
        }
        refs = {}
        for kind, get in getters.items():
            if kind == "image" and request.get("boot_volume"):
                continue  # an existing boot volume replaces the image
            field = kind if request.get(kind) else f"{kind}_id"
            ref = request[field]
            if field.endswith("_id") and not lookup_ids:
                refs[kind] = {"id": ref}  # Nova checks ids itself, and says so in its own words
                continue
            try:
                refs[kind] = get(ref)
            except NotFound as exc:
                raise InvalidRequest(f"{field}: {exc.message}", [{"field": field, "message": exc.message}]) from exc
        return refs

    # -- idempotency -----------------------------------------------------------

    def _keyed(self, tag: str) -> list[dict[str, Any]]:
        """Servers carrying this key's tag, created within the key's lifetime, oldest first."""
        servers = call(self._api, "GET", "/servers/detail", params={"tags": tag})["servers"]
        cutoff = datetime.now(UTC) - self._ttl
        return sorted((s for s in servers if _created(s) > cutoff), key=lambda s: (_created(s), s["id"]))

    def _replay(self, server: dict[str, Any], digest: str) -> dict[str, Any]:
        if server.get("metadata", {}).get(DIGEST_METADATA) != digest:
            raise IdempotencyConflict(server["id"])
        return shape_server(server)

    def _settle(self, tag: str, server_id: str) -> tuple[str, bool]:
        """Requests with one key that raced past the check agree on one server; the others are deleted.

        Nova lists a server once its POST has answered, so a request whose POST
        is still running is invisible: waiting `settle_seconds` before looking
        lets the POSTs of same-instant requests answer, and they then all see
        the same servers and keep the same one (the oldest). A POST slower than
        that finds the winner already marked settled, and defers to it.
        """
        time.sleep(self._settle_seconds)
        keyed = self._keyed(tag)
        winner = _winner(keyed)["id"] if keyed else server_id
        if winner != server_id:
            log.info("idempotency race: deleting duplicate server %s, keeping %s", server_id, winner)
            call(self._api, "DELETE", f"/servers/{server_id}")
        elif not any(_settled(s) for s in keyed):
            self._mark_settled(server_id)
        return winner, winner != server_id

    def _remove_late_twins(self, tag: str, server_id: str) -> bool:
        """Delete servers with this key that Nova made after ours settled; whether to keep watching.

        A twin listed only now was not listed at our settle, so it is newer:
        the oldest wins, as the settle decides. Once ours is gone (deleted by
        its owner), the key may legitimately make a new server: stop.
        """
        keyed = self._keyed(tag)
        if server_id not in {s["id"] for s in keyed}:
            return False
        winner = _winner(keyed)
        if winner["id"] != server_id:  # another request settled on another: its own checks decide, not ours
            log.warning("idempotency watch: server %s is not the one its key stands for (%s)", server_id, winner["id"])
            return False
        for twin in keyed:
            if twin["id"] != server_id and twin.get("OS-EXT-STS:task_state") != "deleting":
                log.warning("idempotency watch: deleting late duplicate server %s, keeping %s", twin["id"], server_id)
                call(self._api, "DELETE", f"/servers/{twin['id']}")
        if not _settled(winner) and winner["status"] == "ACTIVE":
            self._mark_settled(server_id)  # a create without ?wait: marked once its build is over
        return True

    def _mark_settled(self, server_id: str) -> bool:
        try:
            meta = {"meta": {SETTLED_METADATA: "true"}}
            call(self._api, "PUT", f"/servers/{server_id}/metadata/{SETTLED_METADATA}", json=meta)
            return True
        except Exception:  # the server exists and won: a missing mark only weakens a later, slower twin
            # Nova refuses metadata while a server builds (409 "in vm_state building"): a busy cloud's
            # server often is, 2 s after its POST. settled() marks it again once it is ACTIVE.
            log.warning("could not mark server %s settled (yet)", server_id, exc_info=False)
            return False

    def settled(self, server: dict[str, Any]) -> dict[str, Any]:
        """The keyed server this request made (and kept), marked settled if it is ACTIVE and not marked yet."""
        if server.get("status") != "ACTIVE" or _settled(server) or not self._mark_settled(server["id"]):
            return server
        return {**server, "metadata": {**server.get("metadata", {}), SETTLED_METADATA: "true"}}

    # -- wait ------------------------------------------------------------------

    def wait_for_server(self, server_id: str, *, timeout: float) -> dict[str, Any]:
        """Poll until ACTIVE (returned), ERROR (raises BuildFailed) or the timeout (returned as it is)."""
        deadline = time.monotonic() + timeout
        while True:
            server = self._compute.get_server(server_id)
            if server["status"] == "ACTIVE":
                return server
            if server["status"] == "ERROR":
                raise BuildFailed(server)
            if time.monotonic() + POLL_SECONDS > deadline:
                return server
            time.sleep(POLL_SECONDS)

    # -- dry run ---------------------------------------------------------------

    def dry_run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Check what a create would check, and more; create nothing."""
        refs = self._refs(request, lookup_ids=True)
        image, flavor, network = refs.get("image"), refs["flavor"], refs["network"]
        boot_volume = None
        if request.get("boot_volume"):
            found = BootVolumes(self._conn).find_bootable(request["boot_volume"])
            boot_volume = {"id": found["id"], "name": found["name"], "size": found["size"], "new": False}
        elif request.get("boot_volume_size"):
            size = request["boot_volume_size"]
            BootVolumes(self._conn).check_quota(size)  # Cinder's quota, before Nova's below
            boot_volume = {"id": None, "name": None, "size": size, "new": True}
        else:
            _check_fit(image, flavor)  # a boot volume, not the flavor's disk, holds the image
        twins = call(self._api, "GET", "/servers/detail", params={"name": exact_name_regex(request["name"])})
        taken = [{"id": s["id"], "name": s["name"]} for s in twins["servers"] if s["name"] == request["name"]]
        if taken:
            raise NameInUse(request["name"], taken)
        self._check_quota(flavor)
        return {
            "name": request["name"],
            "image": {"id": image["id"], "name": image["name"]} if image else None,
            "flavor": {k: flavor[k] for k in ("id", "name", "vcpus", "ram", "disk")},
            "network": {"id": network["id"], "name": network["name"]},
            **{name: request.get(name) for name in (*OPTIONAL, "security_groups", "metadata")},
            **({"boot_volume": boot_volume} if boot_volume else {}),
        }

    def _check_quota(self, flavor: dict[str, Any]) -> None:
        absolute = call(self._api, "GET", "/limits")["limits"]["absolute"]
        over = {}
        for name, cost in sorted(PER_SERVER):  # Nova names them alphabetically
            limit = shape_limit(absolute, *LIMITS[name])
            need, used = cost(flavor), limit["used"] or 0
            if limit["max"] is not None and used + need > limit["max"]:
                over[name] = (need, used, limit["max"])
        if over:
            # Worded as Nova words it, so a dashboard can show either the same way.
            names = ", ".join(over)
            requested, used, limits = (", ".join(str(v[i]) for v in over.values()) for i in range(3))
            raise QuotaExceeded(
                f"Quota exceeded for {names}: Requested {requested}, but already used {used} of {limits} {names}"
            )


def _boots_from_volume(request: dict[str, Any]) -> bool:
    return bool(request.get("boot_volume") or request.get("boot_volume_size"))


def _check_fit(image: dict[str, Any], flavor: dict[str, Any]) -> None:
    """Nova's own checks of a flavor against an image, with Nova's wording."""
    if flavor["ram"] < (image.get("min_ram") or 0):
        raise InvalidRequest(
            "Flavor's memory is too small for requested image.",
            [{"field": "flavor", "message": "less memory than the image's min_ram"}],
        )
    if not flavor["disk"]:
        return  # a zero-disk flavor takes the image's size
    disk_bytes = flavor["disk"] * 1024**3
    if (image.get("size") or 0) > disk_bytes:
        raise InvalidRequest(
            f"Flavor's disk is too small for requested image. Flavor disk is {disk_bytes} bytes, "
            f"image is {image['size']} bytes.",
            [{"field": "flavor", "message": "disk smaller than the image"}],
        )
    if (image.get("min_disk") or 0) > flavor["disk"]:
        raise InvalidRequest(
            "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is "
            f"{disk_bytes} bytes, minimum size is {image['min_disk'] * 1024**3} bytes.",
            [{"field": "flavor", "message": "disk smaller than the image's min_disk"}],
        )

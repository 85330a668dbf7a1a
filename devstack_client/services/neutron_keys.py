"""Idempotency keys for what the gateway creates in Neutron (security groups, floating IPs).

As for servers (services/launch.py), the key lives on the resource itself, so
every worker and every gateway instance sees it: two Neutron tags, the key's
digest and the request's, looked up with Neutron's ``tags`` filter. They are
set right after the create (``PUT …/tags``): Neutron 29 lists ``tag-creation``
but still refuses ``tags`` in the POST of a security group or floating IP
("Attribute 'tags' not allowed in POST", measured on the test cloud). If
tagging fails the new resource is deleted again, so none is left unkeyed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from openstack import proxy

from devstack_client.errors import IdempotencyConflict
from devstack_client.services._wire import call
from devstack_client.services.launch import key_tag, request_digest

log = logging.getLogger(__name__)

DIGEST_TAG_PREFIX = "req-"


def _digest_tag(request: dict[str, Any]) -> str:
    return DIGEST_TAG_PREFIX + request_digest(request)[:40]


def _age(item: dict[str, Any]) -> tuple[str, str]:
    return (item.get("created_at") or "", item["id"])


class NeutronKeys:
    """Create ``kind`` at ``path`` at most once per idempotency key."""

    def __init__(self, api: proxy.Proxy, path: str, kind: str, project_id: Callable[[], str | None]) -> None:
        self._api = api
        self._path = path
        self._kind = kind  # Neutron's singular key: "security_group", "floatingip"
        self._project_id = project_id

    def create(self, body: dict[str, Any], key: str | None) -> tuple[dict[str, Any], bool]:
        """POST ``body``; with a key, answer the earlier resource instead (and whether it is a replay)."""
        if not key:
            return call(self._api, "POST", self._path, json={self._kind: body})[self._kind], False
        tag, digest = key_tag(key), _digest_tag(body)
        earlier = self._keyed(tag)
        if earlier:
            return self._replay(earlier[0], digest), True
        created = call(self._api, "POST", self._path, json={self._kind: body})[self._kind]
        try:
            call(self._api, "PUT", f"{self._path}/{created['id']}/tags", json={"tags": [tag, digest]})
        except Exception:
            self._delete(created["id"])
            raise
        created["tags"] = [tag, digest]
        # Two requests with one key that both found nothing: the older resource wins, the other is deleted.
        keyed = self._keyed(tag)
        winner = keyed[0] if keyed else created
        if winner["id"] != created["id"]:
            log.info("idempotency race: deleting duplicate %s %s, keeping %s", self._kind, created["id"], winner["id"])
            self._delete(created["id"])
            return self._replay(winner, digest), True
        return created, False

    def _delete(self, resource_id: str) -> None:
        try:
            call(self._api, "DELETE", f"{self._path}/{resource_id}")
        except Exception:  # the error being answered matters more; this one goes to the log
            log.warning("could not delete %s %s, created for an idempotency key", self._kind, resource_id)

    def _keyed(self, tag: str) -> list[dict[str, Any]]:
        project_id = self._project_id()
        params = {"tags": tag, **({"project_id": project_id} if project_id else {})}
        return sorted(call(self._api, "GET", self._path, params=params)[f"{self._kind}s"], key=_age)

    def _replay(self, earlier: dict[str, Any], digest: str) -> dict[str, Any]:
        if digest not in (earlier.get("tags") or []):
            raise IdempotencyConflict(
                earlier["id"], kind=self._kind.replace("_", " ").replace("floatingip", "floating IP")
            )
        return earlier

"""Keypairs, from Nova's JSON (``/os-keypairs`` at microversion 2.79).

Nova keeps keypairs per *user*, not per project: these are the gateway
identity's own keypairs, and Nova's keypair quota counts them per user.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from openstack import connection

from devstack_client.errors import NotFound
from devstack_client.services._wire import DOT_SEGMENTS, call, is_printable
from devstack_client.services.rules import MAX_PAGE, NAME_MAX


def shape_keypair(keypair: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": keypair["name"],
        "type": keypair.get("type"),
        "fingerprint": keypair.get("fingerprint"),
        "public_key": keypair.get("public_key"),
        # Only GET /os-keypairs/{name} carries it: Nova's list and create omit it.
        "created_at": keypair.get("created_at"),
    }


def _path(name: str) -> str:
    # Names from other microversions may hold "." or "@" (2.92+) or any
    # printable character (2.0-2.9): quote them, never let one change the
    # upstream path. Names no microversion allows are not asked about at all:
    # "." and ".." (HTTP clients resolve them: DELETE /os-keypairs/.. would
    # go out as DELETE /), control characters, over 255 characters.
    if name in DOT_SEGMENTS or len(name) > NAME_MAX or not is_printable(name):
        raise NotFound("keypair", name)
    return f"/os-keypairs/{quote(name, safe='')}"


class KeypairService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = conn.compute

    def _walk(self) -> Iterator[dict[str, Any]]:
        # Not _pages.walk: a keypair page wraps each item ({"keypair": {...}})
        # and its marker is the last name, keypairs having no id (2.35+).
        query: dict[str, Any] = {"limit": MAX_PAGE}  # the keypair quota defaults to 100: one page in practice
        while True:
            body = call(self._api, "GET", "/os-keypairs", params=query)
            items = [item["keypair"] for item in body.get("keypairs", [])]
            yield from items
            links = body.get("keypairs_links", [])
            if not items or not any(link.get("rel") == "next" for link in links):
                return
            query["marker"] = items[-1]["name"]

    def list_keypairs(self) -> list[dict[str, Any]]:
        return [shape_keypair(k) for k in self._walk()]

    def count_keypairs(self) -> int:
        return sum(1 for _ in self._walk())

    def get_keypair(self, name: str) -> dict[str, Any]:
        return shape_keypair(call(self._api, "GET", _path(name))["keypair"])

    def create_keypair(self, *, name: str, key_type: str = "ssh", public_key: str | None = None) -> dict[str, Any]:
        """Import ``public_key``, or let Nova generate a key and return its private half once.

        Nova generates keys only below microversion 2.92; we speak 2.79. The
        private key is in this answer and nowhere else: Nova does not keep it.
        """
        keypair: dict[str, Any] = {"name": name, "type": key_type}
        if public_key is not None:
            keypair["public_key"] = public_key
        # Never retried: a lost answer may still have created the keypair, and
        # its private key cannot be fetched again.
        created = call(self._api, "POST", "/os-keypairs", json={"keypair": keypair})["keypair"]
        return {**shape_keypair(created), "private_key": created.get("private_key")}

    def delete_keypair(self, name: str) -> None:
        call(self._api, "DELETE", _path(name))

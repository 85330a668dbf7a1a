"""The server list's ``next_marker``: where Nova should go on, and what the walk answered while scheduling.

Nova lists the servers it is still scheduling (its build requests) ahead of the sorted rest, and a marker
only finds a build request while it is one: once placed, the build requests after it are no longer listed
(skipped), and a marker found among build requests makes Nova list the placed servers from the start again
(repeated). So while a walk is among scheduling servers, the cursor sends no marker at all, and carries a
short digest of every scheduling server it answered; each page leaves those out. Once the walk reaches a
placed server, that server is the marker, as before. A walk answers every server exactly once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devstack_client.errors import InvalidRequest

SEPARATOR = "~"  # unreserved in URLs, and in no Nova server id (a UUID)
DIGEST_BYTES = 4  # a false match needs a 32-bit collision among the few servers scheduling during one walk
# Scheduling servers one walk remembers: 256 take 1.4 KB of URL, well inside the 4 KiB the gateway reads.
# Beyond that the oldest are forgotten, and one of them could come twice.
MAX_CARRIED = 256


def _digest(server_id: str) -> bytes:
    return hashlib.blake2b(server_id.encode(), digest_size=DIGEST_BYTES).digest()


def scheduling(server: dict[str, Any]) -> bool:
    """Whether Nova still lists this server (Nova's JSON) among its build requests."""
    return server.get("OS-EXT-STS:task_state") == "scheduling"


@dataclass(frozen=True)
class Cursor:
    marker: str | None  # Nova's marker: a placed server's id, or None
    carried: tuple[bytes, ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> Cursor:
        """Read a ``marker`` query value: a server id, or a ``next_marker`` this gateway answered."""
        if not value or SEPARATOR not in value:
            return cls(value or None)
        marker, _, blob = value.partition(SEPARATOR)
        try:
            # Validating: a character outside the URL-safe alphabet is an error, not silently dropped.
            raw = base64.b64decode((blob + "=" * (-len(blob) % 4)).encode(), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raw = b"x"  # not a whole number of digests: refused below
        if not raw or len(raw) % DIGEST_BYTES:
            message = "marker: not a next_marker this gateway answered (pass it back unchanged)"
            raise InvalidRequest(f"Invalid query: {message}.", [{"field": "marker", "message": message}])
        return cls(marker or None, tuple(raw[i : i + DIGEST_BYTES] for i in range(0, len(raw), DIGEST_BYTES)))

    def unseen(self, servers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The servers (Nova's JSON) not answered on an earlier page of this walk."""
        carried = set(self.carried)
        return [server for server in servers if _digest(server["id"]) not in carried]

    def after(self, consumed: list[dict[str, Any]], *, resume_at: str | None = None) -> str:
        """The ``next_marker`` once this page consumed ``consumed`` (Nova's JSON, in Nova's order).

        ``resume_at``: go on after this server whatever it is (Nova's own page ended before ours).
        """
        carried = (*self.carried, *(_digest(s["id"]) for s in consumed if scheduling(s)))[-MAX_CARRIED:]
        last = consumed[-1] if consumed else None
        if resume_at:
            marker = resume_at
        elif last is not None:
            # Among build requests: no marker (Nova lists them all again; the carried ones are left out).
            marker = "" if scheduling(last) else last["id"]
        else:
            marker = self.marker or ""
        if not carried:
            return marker
        return f"{marker}{SEPARATOR}{base64.urlsafe_b64encode(b''.join(carried)).decode().rstrip('=')}"

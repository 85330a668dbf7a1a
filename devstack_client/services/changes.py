"""What changed among a project's servers, read from Nova's ``changes-since``, and the cursors of a change stream.

Nova answers ``GET /servers/detail?changes-since=T`` with every server whose ``updated`` is at or after T,
deleted ones included (status ``DELETED``), for as long as it keeps their rows. ``updated`` has one-second
resolution and a change commits a moment after its timestamp is taken, so every read starts ``OVERLAP``
seconds before the last one and drops what was already sent.

An event's ``id`` is a cursor that any gateway process can resume from, because it holds only Nova's own
clock: ``<T>`` or ``<T>.<digests>``, T the newest ``updated`` sent (epoch seconds), and a 4-byte digest
(with its age under T) of every server state already sent in the last ``OVERLAP`` seconds before T.
Resuming reads ``changes-since=T-OVERLAP`` and leaves out the digests it carries: nothing missed, nothing
sent twice (unless two states of 4 bytes collide, or more than MAX_CARRIED changes share one window).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from openstack import connection
from openstack import exceptions as os_exc

from devstack_client.errors import CursorUnreadable, InvalidRequest
from devstack_client.services._wire import decode, fetch
from devstack_client.services.compute import SERVERS, shape_server
from devstack_client.services.rules import MAX_PAGE

OVERLAP = 2  # seconds each read reaches back: Nova's one-second timestamps, and commits landing late
FUTURE = 3600  # seconds an event id may be ahead of the gateway's clock (Nova's and ours differ a little)
MAX_CARRIED = 256  # digests one cursor holds: ~1.7 KB of Last-Event-ID
DIGEST_BYTES = 4
# Statuses in which Nova is still at work on a server (with a task_state, too, it is).
TRANSIENT = frozenset({"BUILD", "REBOOT", "HARD_REBOOT", "MIGRATING", "RESIZE", "REVERT_RESIZE", "REBUILD", "PASSWORD"})


def seconds(timestamp: str | None) -> int:
    """Epoch seconds of one of Nova's ISO 8601 times (UTC when it names no zone); 0 if absent."""
    if not timestamp:
        return 0
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_transition(server: dict[str, Any]) -> bool:
    """Whether Nova is still changing this (shaped) server: it is then polled for more often."""
    return server.get("task_state") is not None or server.get("status") in TRANSIENT


@dataclass(frozen=True)
class Change:
    """One server state to announce: ``kind`` added, modified or deleted; ``server`` shaped as a show."""

    kind: str
    server: dict[str, Any]
    updated: int
    digest: bytes
    previous: dict[str, Any] | None = None  # the state it replaces, when known (for the stream's filters)

    @property
    def id(self) -> str:
        return self.server["id"]

    @functools.cached_property
    def encoded(self) -> str:
        """The server as JSON, made once however many streams send it."""
        return orjson.dumps(self.server).decode()


def content(server: dict[str, Any]) -> bytes:
    """A fingerprint of what a client sees of a server: ``updated_at`` alone changing is no change."""
    seen = {name: value for name, value in server.items() if name != "updated_at"}
    return hashlib.blake2b(json.dumps(seen, sort_keys=True).encode(), digest_size=16).digest()


def change(kind: str, server: dict[str, Any], previous: dict[str, Any] | None = None) -> Change:
    # A cursor's digest covers the time too: a server back in an earlier state (stopped, then started again
    # within the window) is another state, and must not pass for one the client already has.
    state = hashlib.blake2b(content(server) + str(server.get("updated_at")).encode(), digest_size=DIGEST_BYTES)
    return Change(kind, server, seconds(server.get("updated_at")), state.digest(), previous)


@dataclass(frozen=True)
class EventCursor:
    time: int  # Nova's clock: the newest ``updated`` sent
    carried: tuple[tuple[bytes, int], ...] = ()  # (digest, updated) of the states sent in [time-OVERLAP, time]

    @classmethod
    def parse(cls, value: str, field: str, now: float) -> EventCursor:
        """Read an event id this gateway sent, or raise InvalidRequest naming ``field``.

        ``now``: the gateway's clock. An id more than FUTURE seconds ahead of it was not made from Nova's.
        """
        stamp, _, blob = value.strip().partition(".")
        try:
            padded = (blob + "=" * (-len(blob) % 4)).encode()
            raw = base64.b64decode(padded, altchars=b"-_", validate=True) if blob else b""
            time = int(stamp)
            valid = stamp.isascii() and stamp.isdigit() and len(raw) % (DIGEST_BYTES + 1) == 0 and time <= now + FUTURE
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            message = f"{field}: not an event id this gateway sent (pass the last one you received)"
            raise InvalidRequest(f"Invalid request: {message}.", [{"field": field, "message": message}])
        step = DIGEST_BYTES + 1
        carried = tuple((raw[i : i + DIGEST_BYTES], time - raw[i + DIGEST_BYTES]) for i in range(0, len(raw), step))
        return cls(time, carried)

    def __str__(self) -> str:
        if not self.carried:
            return str(self.time)
        raw = b"".join(d + bytes([self.time - updated]) for d, updated in self.carried)
        return f"{self.time}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"

    def admits(self, item: Change) -> bool:
        """Whether ``item`` is news to a client at this cursor."""
        return all(item.digest != d for d, _ in self.carried)

    def after(self, item: Change) -> EventCursor:
        """The cursor once ``item`` was sent."""
        return self._carry(max(self.time, item.updated), (*self.carried, (item.digest, item.updated)))

    def advanced(self, time: int) -> EventCursor:
        """The cursor of a client that has every change up to ``time`` (a bookmark)."""
        return self._carry(max(self.time, time), self.carried)

    @staticmethod
    def _carry(time: int, carried: tuple[tuple[bytes, int], ...]) -> EventCursor:
        window = tuple((d, updated) for d, updated in carried if time - OVERLAP <= updated <= time)
        return EventCursor(time, window[-MAX_CARRIED:])


@dataclass(frozen=True)
class Read:
    """Servers read from Nova (shaped), and Nova's clock when it answered (its ``Date``), epoch seconds."""

    servers: list[dict[str, Any]]
    time: int


def read_servers(conn: connection.Connection, since: int | None = None) -> Read:
    """Every server of the project (``since`` None), or every one changed at or after ``since``, deleted ones too."""
    params: dict[str, Any] = {"changes-since": iso(since)} if since is not None else {}
    found: dict[str, dict[str, Any]] = {}
    marker, time = None, None
    while True:
        query = {**params, "limit": MAX_PAGE, **({"marker": marker} if marker else {})}
        response = fetch(conn.compute, "GET", SERVERS.path, params=query)
        if time is None:
            time = _date(response.headers.get("Date"))
        body = decode(response)
        batch = body.get("servers", [])
        found.update((server["id"], shape_server(server)) for server in batch)
        if not batch or not any(link.get("rel") == "next" for link in body.get("servers_links", [])):
            break
        marker = batch[-1]["id"]
    servers = sorted(found.values(), key=lambda s: (seconds(s.get("updated_at")), s["id"]))
    newest = max((seconds(s.get("updated_at")) for s in servers), default=since or 0)
    # Without a Date header (never from Nova's WSGI server), the newest change seen stands for "now".
    return Read(servers, time if time is not None else newest)


def _date(header: str | None) -> int | None:
    try:
        return int(parsedate_to_datetime(header).timestamp()) if header else None
    except (TypeError, ValueError):
        return None


def catch_up(conn: connection.Connection, cursor: EventCursor) -> tuple[list[Change], int]:
    """What a client at ``cursor`` missed, oldest first, and Nova's clock when read."""
    try:
        read = read_servers(conn, since=cursor.time - OVERLAP)
    except os_exc.HttpException as exc:
        if (exc.status_code or 0) < 500:
            raise
        # Nova cannot list what changed since then (feeds.py says when it fails so): the gateway cannot
        # vouch for the cursor, and the client lists again, which works.
        raise CursorUnreadable(exc.request_id) from exc
    missed = []
    for server in read.servers:
        if server.get("status") == "DELETED":
            kind = "deleted"
        else:
            # It cannot have been sent before the cursor if Nova made it after: otherwise the client may hold it.
            kind = "added" if seconds(server.get("created_at")) > cursor.time else "modified"
        item = change(kind, server)
        if cursor.admits(item):
            missed.append(item)
    return missed, read.time

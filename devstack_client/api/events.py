"""The server change stream as Server-Sent Events: the request's side of services/feeds.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from flask import Response, g, request
from flask_restx import inputs, reqparse

from devstack_client.api.query import parse_query
from devstack_client.appctx import feeds, get_connection, identity_key, settings
from devstack_client.errors import CursorExpired
from devstack_client.metrics import EVENT_STREAMS
from devstack_client.services.changes import EventCursor
from devstack_client.services.feeds import Event, Stream

RETRY_MS = 3000  # how long a browser's EventSource waits before it reconnects
EVENTS = ("added", "modified", "deleted", "synced", "bookmark", "expired")


def query_parser(statuses: tuple[str, ...]) -> reqparse.RequestParser:
    parser = reqparse.RequestParser(bundle_errors=True)
    parser.add_argument(
        "initial", type=inputs.boolean, default=False, location="args",
        help="First every current server as `added`, then `synced`, then the changes",
    )  # fmt: skip
    parser.add_argument(
        "status", type=str.upper, choices=statuses, location="args", help="Only servers in (or leaving) this status"
    )
    parser.add_argument("name", location="args", help="Exact name")
    parser.add_argument("name_like", location="args", help="Name contains this text")
    parser.add_argument(
        "last_event_id", location="args",
        help="Resume after this event id (as the `Last-Event-ID` header, which wins; for clients that cannot set it)",
    )  # fmt: skip
    return parser


def _matcher(status: str | None, name: str | None, name_like: str | None) -> Callable[[dict[str, Any]], bool]:
    def matches(server: dict[str, Any]) -> bool:
        return (
            (status is None or server.get("status") == status)
            and (name is None or server.get("name") == name)
            and (name_like is None or name_like.lower() in (server.get("name") or "").lower())
        )

    return matches


def _cursor(value: str | None, field: str) -> EventCursor | None:
    if not value:
        return None
    now = time.time()
    cursor = EventCursor.parse(value, field, now)
    age = int(now) - cursor.time
    if age > settings().events_cursor_max_age:
        raise CursorExpired(age, settings().events_cursor_max_age)
    return cursor


def frame(event: Event) -> str:
    """One event in the text/event-stream format (a heartbeat is a comment line)."""
    if not event.kind:
        return ": heartbeat\n\n"
    head = f"id: {event.id}\n" if event.id else ""
    # JSON escapes line breaks, so the data is one line.
    data = event.encoded if event.encoded is not None else orjson.dumps(event.data).decode()
    return f"{head}event: {event.kind}\ndata: {data}\n\n"


def open_stream(parser: reqparse.RequestParser) -> Response:
    """Answer the stream: what the client missed (or every server), then changes, heartbeats in between."""
    query = parse_query(parser)
    header = request.headers.get("Last-Event-ID")
    cursor = _cursor(header, "Last-Event-ID") if header else _cursor(query["last_event_id"], "last_event_id")
    user = g.get("user")
    config = settings()
    stream = Stream(
        feeds(),
        identity_key(),
        get_connection(),
        cursor=cursor,
        initial=query["initial"],
        matches=_matcher(query["status"], query["name"], query["name_like"]),
        expires_at=user.access.expires.timestamp() if user is not None else None,
        ready_timeout=config.connect_timeout + config.read_timeout,
    )

    def body() -> Iterator[str]:
        # The first chunk goes out at once: a client (and any proxy) sees the stream open before a change.
        EVENT_STREAMS.inc()
        try:
            yield f"retry: {RETRY_MS}\n\n"
            for event in stream.events():
                yield frame(event)
        finally:  # also when the client went before the first event (events() never started)
            stream.close()
            EVENT_STREAMS.dec()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx would buffer the stream
    return Response(body(), mimetype="text/event-stream", headers=headers)


def poke() -> None:
    """This request changed a server: the caller's feed reads Nova at once rather than at its next tick."""
    feeds().poke(identity_key())

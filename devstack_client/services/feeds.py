"""One poller of Nova per OpenStack identity in a worker, shared by all that identity's open streams.

A feed reads ``changes-since`` every ``poll`` seconds while one of its servers is in transition and every
``idle`` seconds otherwise, and a full list every ``resync`` seconds (Nova does not touch ``updated`` when
only a server's tags change). What changed goes into a short in-memory log that every stream of the
identity reads: the upstream calls per minute depend on the identities watched, not on the streams.

Nothing here must outlive the process or be shared with another: a stream's position across processes is
its cursor (changes.py), which holds Nova's clock only. A stream that falls behind the log ends; its client
reconnects with its last event id and catches up from Nova.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from openstack import connection
from openstack import exceptions as os_exc

from devstack_client import siblings
from devstack_client.errors import StreamUnavailable
from devstack_client.metrics import FEED_READS
from devstack_client.services.changes import (
    OVERLAP,
    Change,
    EventCursor,
    catch_up,
    change,
    content,
    in_transition,
    read_servers,
    seconds,
)
from devstack_client.services.feedbus import FeedBus

log = logging.getLogger(__name__)

LOG_SIZE = 4096  # changes a feed remembers for its streams
LINGER = 30.0  # seconds a feed without streams lives on: a reconnecting client finds it warm
SIBLING_LOOK = 0.2  # seconds between two looks at the sibling workers' count while a feed waits
BOOKMARK_AFTER = 300  # seconds of quiet after which a stream is sent a bookmark (its cursor moves on)


@dataclass(frozen=True)
class Timing:
    poll: float = 2.0
    idle: float = 4.0
    resync: float = 60.0
    heartbeat: float = 15.0


class Lagged(Exception):
    """A stream read too slowly: the changes it had not read yet left the feed's log."""


@dataclass
class _Source:
    """The connection a feed polls through: the most lasting of its streams' (a user's token expires)."""

    conn: connection.Connection
    valid_until: float | None  # None: the gateway's own identity, renewed by keystoneauth


class ChangeFeed:
    def __init__(self, key: Hashable, source: _Source, timing: Timing, registry: Feeds) -> None:
        self.key = key
        self.timing = timing
        self._source = source
        self._registry = registry
        self._cond = threading.Condition()
        self._log: deque[tuple[int, Change]] = deque(maxlen=LOG_SIZE)
        self._seq = 0
        self._known: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self.watermark = 0  # Nova's clock at the last read
        self._primed = threading.Event()
        self._tried = threading.Event()  # a first read was attempted
        self.failure: Exception | None = None
        self.subscribers = 0
        self.idle_since = time.monotonic()
        self._wake = threading.Event()
        self._last_full = 0.0
        self.polls = 0  # reads of Nova
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._bus_name = FeedBus.name(key)
        self._after: str | None = "0-0"  # the last shared-log entry applied; None: unknown (Redis was down)
        self._bus_down = False
        self._mark: int | None = None  # the siblings' count for this feed before its last read

    # -- for streams ---------------------------------------------------------------------------------------

    def use(self, conn: connection.Connection, valid_until: float | None) -> None:
        """Poll through ``conn`` if it outlasts the current one."""
        current = self._source.valid_until
        if current is not None and (valid_until is None or valid_until > current):
            self._source = _Source(conn, valid_until)

    def ready(self, timeout: float) -> None:
        """Wait for the feed's first read; raise what it failed with unless the feed knows every server."""
        self._tried.wait(timeout)
        if not self._primed.is_set():
            raise self.failure or StreamUnavailable()

    def position(self) -> tuple[int, int]:
        """The log's end and Nova's clock at the last read, taken together."""
        with self._cond:
            return self._seq, self.watermark

    def wait(self, position: int, timeout: float) -> tuple[list[Change], int, int]:
        """Changes logged after ``position`` (waiting up to ``timeout`` for one), the new position, the watermark."""
        with self._cond:
            if self._seq == position and not self._registry.stopping.is_set():
                self._cond.wait(timeout)
            if self._log and position < self._log[0][0] - 1:
                raise Lagged()
            items = [item for seq, item in self._log if seq > position]
            return items, self._seq, self.watermark

    def poke(self) -> None:
        """Read Nova now (this gateway just changed a server)."""
        self._wake.set()
        self._registry.poke_shared(self.key)

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- the poller ----------------------------------------------------------------------------------------

    def run(self) -> None:
        bus = self._registry.bus
        while not self._registry.stopping.is_set() and not self._registry.retire(self):
            interval = self.timing.poll if self.failure or self._busy() else self.timing.idle
            self._mark = siblings.value(self.key)  # before the read: a bump during it calls for another read
            try:
                if bus is None or not self._primed.is_set() or self._after is None:
                    self._first_or_own_read(bus)
                else:
                    self._shared_or_own_read(bus, interval)
                if self.failure is not None:
                    log.info("change feed %s: reads again", self.key)
                self.failure = None
            except Exception as exc:  # an outage (Nova, or Redis): streams stay open and the feed tries again
                if self.failure is None:  # once per outage, not once per read
                    log.warning("change feed %s: reading failed: %s", self.key, type(exc).__name__)
                self.failure = exc
            self._tried.set()
            if bus is None or self.failure is not None or self._after is None:
                self._sleep(interval)
        if bus is not None:
            with contextlib.suppress(redis.RedisError):  # Redis gone: the lease lapses by itself
                bus.resign(self._bus_name, self._owner)
        self.notify()

    def _busy(self) -> bool:
        return any(in_transition(server) for _, server in self._known.values())

    def _first_or_own_read(self, bus: FeedBus | None) -> None:
        if bus is not None:  # a follower starts after what is in the shared log now, then reads once itself
            try:
                self._after = bus.last_id(self._bus_name)
                self._bus_up()
            except redis.RedisError as exc:
                # Where the shared log stands is unknown: this feed reads Nova alone, and learns it (with one
                # more read of its own) once Redis answers. A stream opened now is served, not refused.
                self._bus_lost(exc)
                self._after = None
        servers, read_time = self._fetch()
        self._absorb(servers, read_time)

    def _shared_or_own_read(self, bus: FeedBus, interval: float) -> None:
        try:
            self._shared_read(bus, interval)
            self._bus_up()
        except redis.RedisError as exc:
            # Without Redis this feed reads Nova itself, as it would unshared: streams lose nothing.
            self._bus_lost(exc)
            self._absorb(*self._fetch())
            self._sleep(interval)

    def _sleep(self, interval: float) -> None:
        """Wait ``interval`` for the next read, or less if a server changed through this worker or a sibling."""
        if self._mark is None:  # no siblings to hear from
            self._wake.wait(interval)
        else:
            deadline = time.monotonic() + interval
            while (left := deadline - time.monotonic()) > 0:
                if self._wake.wait(min(SIBLING_LOOK, left)) or siblings.value(self.key) != self._mark:
                    break
        self._wake.clear()

    def _bus_lost(self, exc: redis.RedisError) -> None:
        if not self._bus_down:  # once per outage
            log.warning("change feed %s: Redis unreachable (%s), reading Nova alone", self.key, type(exc).__name__)
        self._bus_down = True

    def _bus_up(self) -> None:
        if self._bus_down:
            log.info("change feed %s: Redis answers again, sharing reads", self.key)
        self._bus_down = False

    def _shared_read(self, bus: FeedBus, interval: float) -> None:
        """Lead (read Nova, publish) if the lease is free or ours; in any case apply what the leader published."""
        leading = bus.lead(self._bus_name, self._owner, ttl=3 * max(self.timing.poll, self.timing.idle) + 5)
        if leading:
            servers, read_time = self._fetch()
            bus.publish(self._bus_name, servers, read_time)
        reads, self._after = bus.follow(self._bus_name, self._after, block=0 if leading else interval)
        for servers, read_time in reads:
            self._absorb(servers, read_time)
        if leading:
            bus.wait_poke(self._bus_name, interval)  # a write through any gateway instance wakes the leader

    def _fetch(self) -> tuple[list[dict[str, Any]], int]:
        """Read Nova: the server states this feed does not know yet, and Nova's clock."""
        full = not self._primed.is_set() or time.monotonic() - self._last_full >= self.timing.resync
        self.polls += 1
        FEED_READS.labels("full" if full else "changes").inc()
        try:
            read = read_servers(self._source.conn, since=None if full else self.watermark - OVERLAP)
        except os_exc.HttpException as exc:
            if full or (exc.status_code or 0) < 500:
                raise
            # Nova fails some changes-since lists for good (an OrphanedObjectError on a deleted server whose
            # flavor it cannot load, seen on the test cloud in every microversion): a full list still shows
            # every change but tags' and deletions (as servers gone), and the feed moves on.
            log.warning("change feed %s: Nova failed its changes-since list (%s): a full list instead",
                        self.key, exc.status_code)  # fmt: skip
            full = True
            self.polls += 1
            FEED_READS.labels("full").inc()
            read = read_servers(self._source.conn)
        found = [s for s in read.servers if (known := self._known.get(s["id"])) is None or known[0] != content(s)]
        if full:
            listed = {server["id"] for server in read.servers}
            # Gone from a full list without a DELETED row seen (archived, or deleted between two reads).
            for sid, (_, server) in self._known.items():
                if sid not in listed and server["status"] != "DELETED":
                    found.append({**server, "status": "DELETED", "task_state": None})
            self._last_full = time.monotonic()
        return found, read.time

    def _absorb(self, servers: list[dict[str, Any]], read_time: int) -> None:
        """Log each state that is news to this feed (the first read only learns them), and wake the streams."""
        found = []
        for server in servers:
            before = self._known.get(server["id"])
            if before is not None and before[0] == content(server):
                continue  # already known (published by the leader, and read by this feed itself too)
            previous = before[1] if before else None
            if server.get("status") == "DELETED":
                found.append(change("deleted", server, previous))
            else:
                found.append(change("modified" if before else "added", server, previous))
        with self._cond:
            if self._primed.is_set():
                for item in found:
                    self._seq += 1
                    self._log.append((self._seq, item))
            for item in found:
                self._known[item.id] = (content(item.server), item.server)
            self.watermark = max(self.watermark, read_time)
            # A deleted server stays known while Nova may list it again in a read's overlap.
            for sid in [sid for sid, (_, s) in self._known.items() if _forgettable(s, self.watermark)]:
                del self._known[sid]
            if found or not self._primed.is_set():
                self._cond.notify_all()
            self._primed.set()


def _forgettable(server: dict[str, Any], now: int) -> bool:
    return server.get("status") == "DELETED" and seconds(server.get("updated_at")) < now - 4 * OVERLAP


class Feeds:
    """A worker's feeds, one per identity, started on a stream's first subscription (after the fork)."""

    def __init__(self, timing: Timing, bus: FeedBus | None = None) -> None:
        self.timing = timing
        self.bus = bus
        self._lock = threading.Lock()
        self._feeds: dict[Hashable, ChangeFeed] = {}
        self._pid = os.getpid()
        self.stopping = threading.Event()

    def subscribe(self, key: Hashable, conn: connection.Connection, valid_until: float | None) -> ChangeFeed:
        with self._lock:
            if self._pid != os.getpid():  # a fork: the parent's threads did not come along
                self._feeds, self._pid = {}, os.getpid()
            feed = self._feeds.get(key)
            if feed is None:
                feed = self._feeds[key] = ChangeFeed(key, _Source(conn, valid_until), self.timing, self)
                threading.Thread(target=feed.run, name=f"change-feed-{len(self._feeds)}", daemon=True).start()
            feed.subscribers += 1
            feed.use(conn, valid_until)
            return feed

    def release(self, feed: ChangeFeed) -> None:
        with self._lock:
            feed.subscribers -= 1
            if feed.subscribers == 0:
                feed.idle_since = time.monotonic()

    def retire(self, feed: ChangeFeed) -> bool:
        """Forget ``feed`` if no stream has used it for LINGER seconds; whether it was."""
        with self._lock:
            if feed.subscribers or time.monotonic() - feed.idle_since < LINGER:
                return False
            self._feeds.pop(feed.key, None)
            return True

    def poke(self, key: Hashable) -> None:
        siblings.bump(key)  # the feed of this identity may run in another worker of this instance
        feed = self._feeds.get(key)
        if feed is not None:
            feed.poke()
        else:
            # No stream of this identity here, but the feed reading Nova for it may be in another worker or
            # instance (behind a load balancer, writes land anywhere).
            self.poke_shared(key)

    def poke_shared(self, key: Hashable) -> None:
        """Wake the feed that reads Nova for ``key`` wherever it runs (with REDIS_URL)."""
        if self.bus is None:
            return
        try:
            self.bus.poke(FeedBus.name(key))
        except redis.RedisError:  # Redis down: each feed reads Nova itself at its next tick anyway
            log.warning("change feed %s: could not poke the shared feed", key)

    def stop(self) -> None:
        """End every stream (the worker is stopping: their clients reconnect elsewhere)."""
        self.stopping.set()
        for feed in list(self._feeds.values()):
            feed.poke()
            feed.notify()


@dataclass(frozen=True)
class Event:
    kind: str  # added, modified, deleted, synced, bookmark, expired; "" for a heartbeat comment
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    encoded: str | None = None  # ``data`` as JSON already (a change's, shared by every stream)


class Stream:
    """One client's stream: what it missed (or every server, with ``initial``), then the feed's changes."""

    def __init__(
        self,
        feeds: Feeds,
        key: Hashable,
        conn: connection.Connection,
        *,
        cursor: EventCursor | None,
        initial: bool,
        matches: Callable[[dict[str, Any]], bool],
        expires_at: float | None,
        ready_timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._matches = matches
        self._expires_at = expires_at
        self._clock = clock
        self._feeds = feeds
        if feeds.stopping.is_set():
            # The worker is stopping: a stream opened now ends at once, as the open ones did, and its client
            # reconnects elsewhere. A feed started now would never read, and waiting for it held the worker's
            # graceful stop for ready_timeout (125 s in the multi-instance suite's rolling restart).
            self._closed, self._first, self.cursor = True, [], cursor
            return
        self._feed = feeds.subscribe(key, conn, expires_at)
        self._closed = False
        try:
            # The feed must know every server before the position is taken: a change between a catch-up and
            # the feed's first read would otherwise reach neither.
            self._feed.ready(ready_timeout)
            self._position, watermark = self._feed.position()
            self._first: list[Event] = []
            # The states the opening read sent: the feed's log may hold the same or older ones of these servers.
            self._latest: dict[str, tuple[int, bytes]] = {}
            if cursor is not None:
                missed, _ = catch_up(conn, cursor)
                for item in missed:
                    cursor = self._send(item, cursor)
                    self._latest[item.id] = (item.updated, item.digest)
            elif initial:
                read = read_servers(conn)
                cursor = EventCursor(read.time - OVERLAP)
                for server in read.servers:
                    if server.get("status") == "DELETED":
                        continue
                    item = change("added", server)
                    self._latest[item.id] = (item.updated, item.digest)
                    cursor = cursor.after(item)
                    if matches(server):
                        self._first.append(Event("added", server))
                self._first.append(Event("synced", {"servers": len(self._first)}, str(cursor)))
            else:
                cursor = EventCursor(watermark)
            self.cursor = cursor
            # Past this position the log holds only what the feed read after the opening read: _latest can go.
            self._settled = self._feed.position()[0]
        except BaseException:
            feeds.release(self._feed)
            raise

    def _send(self, item: Change, cursor: EventCursor) -> EventCursor:
        """Queue ``item`` if the client lacks it and it passes the filters; the cursor after it."""
        if not cursor.admits(item):
            return cursor
        latest = self._latest.get(item.id)
        if latest is not None and (item.updated < latest[0] or item.digest == latest[1]):
            return cursor  # the opening read sent this state, or a newer one
        cursor = cursor.after(item)
        if self._matches(item.server) or (item.previous is not None and self._matches(item.previous)):
            self._first.append(Event(item.kind, item.server, str(cursor), item.encoded))
        return cursor

    def close(self) -> None:
        """The client went (or the stream ended): the feed may stop once no stream uses it."""
        if not self._closed:
            self._closed = True
            self._feeds.release(self._feed)

    def events(self) -> Iterator[Event]:
        """Every event to send, then heartbeats between changes, until the client goes or the token expires."""
        try:
            yield from self._first
            self._first = []
            quiet_since = written = self._clock()
            while not self._feeds.stopping.is_set():
                wait = max(0.0, written + self._feed.timing.heartbeat - self._clock())
                if self._expires_at is not None:
                    left = self._expires_at - self._clock()
                    if left <= 0:
                        yield Event("expired", {"message": "Your token expired: reconnect with a new one."})
                        return
                    wait = min(wait, left)
                try:
                    items, self._position, watermark = self._feed.wait(self._position, wait)
                except Lagged:
                    return  # the client reconnects with its last event id and catches up from Nova
                for item in items:
                    self.cursor = self._send(item, self.cursor)
                if self._latest and self._position >= self._settled:
                    self._latest = {}  # a stream holds no per-server state once open (memory per stream)
                now = self._clock()
                if self._first:
                    yield from self._first
                    self._first, quiet_since, written = [], now, now
                elif now - quiet_since >= BOOKMARK_AFTER and watermark - OVERLAP > self.cursor.time:
                    self.cursor = self.cursor.advanced(watermark - OVERLAP)
                    yield Event("bookmark", {}, str(self.cursor))
                    quiet_since = written = now
                elif now - written >= self._feed.timing.heartbeat:
                    yield Event("")
                    written = now
        finally:
            self.close()

"""Share a change feed's reads of Nova among every worker and gateway instance, through Redis (``REDIS_URL``).

Per identity, one feed holds a short lease (a Redis key) and reads Nova; it appends what changed to a
Redis stream, and every feed of that identity, its own included, reads its log from there. The others
read nothing from Nova after their first full list. When the leader goes, its lease lapses and another
feed takes it. A write through any gateway pushes a poke onto a Redis list that the leader waits on.

Without Redis each feed reads Nova itself (services/feeds.py): correct, only more calls.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import redis

STREAM_LENGTH = 1000  # reads (each a batch of changes) kept in a Redis stream, approximately
PREFIX = "devstack-client:feed:"

# Take the lease if free, or extend it if ours; 1 if we hold it now.
_LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class FeedBus:
    def __init__(self, url: str, socket_timeout: float = 10.0) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=5)
        self._lead = self.redis.register_script(_LEAD)
        # A blocking read (XREAD, BLPOP) waits at most this long at a time: redis-py's socket timeout also
        # bounds it, and a longer wait (EVENTS_IDLE_POLL_SECONDS of 10 s or more) failed as Redis unreachable.
        self._block_limit = socket_timeout / 2

    @staticmethod
    def name(key: Any) -> str:
        """The Redis name of an identity's feed: a digest, so that no user or project id is spelled out."""
        return PREFIX + hashlib.sha256(repr(key).encode()).hexdigest()[:24]

    def lead(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._lead(keys=[name + ":leader"], args=[owner, int(ttl * 1000)]))

    def resign(self, name: str, owner: str) -> None:
        if self.redis.get(name + ":leader") == owner.encode():
            self.redis.delete(name + ":leader")

    def last_id(self, name: str) -> str:
        """Where a new follower starts: after the last entry there is now."""
        entries = self.redis.xrevrange(name + ":log", count=1)
        return entries[0][0].decode() if entries else "0-0"

    def publish(self, name: str, servers: list[dict[str, Any]], time: int) -> None:
        payload = json.dumps({"servers": servers, "time": time}, separators=(",", ":"))
        self.redis.xadd(name + ":log", {"read": payload}, maxlen=STREAM_LENGTH, approximate=True)

    def follow(self, name: str, after: str, block: float) -> tuple[list[tuple[list[dict[str, Any]], int]], str]:
        """The reads published after ``after`` (waiting up to ``block`` seconds for one), and the last id."""
        block = min(block, self._block_limit)  # returning early with nothing is harmless: the caller asks again
        answer = self.redis.xread({name + ":log": after}, block=max(1, int(block * 1000)) if block else None)
        reads = []
        for _, entries in answer or []:
            for entry_id, fields in entries:
                read = json.loads(fields[b"read"])
                reads.append((read["servers"], read["time"]))
                after = entry_id.decode()
        return reads, after

    def poke(self, name: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.rpush(name + ":poke", 1).expire(name + ":poke", 60).execute()

    def wait_poke(self, name: str, timeout: float) -> None:
        """Wait until poked or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self.redis.blpop([name + ":poke"], timeout=max(0.05, min(left, self._block_limit))):
                self.redis.delete(name + ":poke")  # several pokes: one read
                return
            if left <= self._block_limit:
                return

"""Late twins of keyed creates: checks run again after the answer, in the background.

A create with an ``Idempotency-Key`` settles races among the requests that
are alive (launch.py's settle). One case escapes it: the gateway instance
that sent a keyed POST dies (``kill -9``, a crash) while Nova still works
on it; the balancer or the client retries on another instance, which finds
no server with the key yet and makes its own. When Nova finishes the dead
instance's POST, a second server carries the key and nobody is left to
delete it. So the request that made the server keeps looking at its key
for a while after answering (``IDEMPOTENCY_WATCH_SECONDS``): a later twin is
newer than the server it answered (it was not listed at the settle), so by
the settle's own rule (the oldest wins) it is the duplicate, and is deleted.

Only a clean-up: the checks live in this process and die with it. What
answers a key is still decided in Nova (the tag, the settled mark, the
oldest), the same on every instance.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# When to look again, as fractions of the watch: ~5, 15, 35, 75 and 120 s for the default 120 s. Early looks
# catch the usual late POST (seconds), later ones a Nova that queued it; five list calls per keyed create.
_SCHEDULE = (1 / 24, 3 / 24, 7 / 24, 15 / 24, 1.0)


def check_times(seconds: float) -> tuple[float, ...]:
    """The offsets after the answer at which a key is looked at again (none when the watch is off)."""
    return tuple(seconds * f for f in _SCHEDULE) if seconds > 0 else ()


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    check: Callable[[], bool] = field(compare=False)
    rest: tuple[float, ...] = field(compare=False)  # later offsets, from ``start``
    start: float = field(compare=False)
    what: str = field(compare=False)


class KeyWatch:
    """One thread per process running every watched key's checks when they fall due."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.times = check_times(seconds)
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._running = 0  # checks being run right now
        self._thread: threading.Thread | None = None

    def watch(self, what: str, check: Callable[[], bool]) -> None:
        """Run ``check`` at each check time from now, until it returns False (nothing more to watch)."""
        if not self.times:
            return
        now = self._clock()
        with self._cond:
            self._push(_Due(now + self.times[0], next(self._seq), check, self.times[1:], now, what))
            if self._thread is None:  # started in the worker that needs it (after a fork, after gevent's patch)
                self._thread = threading.Thread(target=self._run, name="key-watch", daemon=True)
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        """Checks still to run (scheduled or running)."""
        with self._cond:
            return len(self._heap) + self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no check is left; whether that happened within ``timeout`` (for tests and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and not self._running, timeout)

    def _push(self, due: _Due) -> None:
        heapq.heappush(self._heap, due)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0].at > self._clock():
                    self._cond.wait(None if not self._heap else max(0.0, self._heap[0].at - self._clock()))
                due = heapq.heappop(self._heap)
                self._running += 1
            again = True
            try:
                again = due.check()
            except Exception as exc:  # Nova down, a token expired: try again at the next time, if any
                log.warning("idempotency watch: checking %s failed: %s", due.what, type(exc).__name__)
            with self._cond:
                self._running -= 1
                if again and due.rest:
                    self._push(
                        _Due(due.start + due.rest[0], next(self._seq), due.check, due.rest[1:], due.start, due.what)
                    )
                self._cond.notify_all()

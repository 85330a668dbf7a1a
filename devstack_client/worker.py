"""gunicorn's gevent worker, made to close idle keep-alive connections at once on a graceful stop.

On SIGTERM gunicorn's gevent worker stops accepting and waits until every
connection's greenlet has ended. A greenlet waiting for a kept-alive
connection's next request ends only when KEEPALIVE (75 s) runs out, so one
idle browser held every stop for that long (gunicorn's threaded worker
closes them within 2 s since 27.0.1). This worker ends those waits when the
stop begins; requests in flight still finish.

gunicorn loads this class in its master, as it does its own gevent worker:
it imports gevent but patches nothing there (the worker patches after the fork).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import FrameType
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker as _GunicornGeventWorker

# A waiting connection left when the stop began still gets this long to send its request.
STOPPING_WAIT_SECONDS = 0.1


class GeventWorker(_GunicornGeventWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: dict[gevent.Greenlet, gevent.Timeout] = {}

    @contextlib.contextmanager
    def timeout_ctx(self) -> Iterator[None]:
        # gunicorn wraps exactly one wait in this: a connection's wait for its
        # next request (its first included). gunicorn's own is a silent
        # Timeout of KEEPALIVE seconds; firing that same Timeout early ends the
        # wait the way an expired keep-alive does: the connection closes cleanly.
        timeout = gevent.Timeout(self.cfg.keepalive if self.alive else STOPPING_WAIT_SECONDS, False)
        greenlet = gevent.getcurrent()
        self._waiting[greenlet] = timeout
        try:
            with timeout:
                yield
        finally:
            self._waiting.pop(greenlet, None)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)  # no longer alive: each request in flight closes its connection when done
        for greenlet, timeout in list(self._waiting.items()):
            greenlet.kill(timeout, block=False)

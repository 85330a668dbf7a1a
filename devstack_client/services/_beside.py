"""Run an upstream call beside the request's own, when neither needs the other's answer.

A server shown by id needs Nova's server and Neutron's ports (its groups'
ids); asked one after the other they cost the sum of both services' times,
side by side the longer of the two. The call runs in a thread of its own (a
greenlet under the gevent workers: their ``threading`` is patched), in a
copy of the request's context, so it is sent with the request's id; it
counts its calls in a trace of its own, added to the request's when joined,
so two threads never add to one counter.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from devstack_client import tracing

T = TypeVar("T")


class Beside(Generic[T]):
    """``work()`` started now; ``result()`` waits for it and answers what it returned, or raises what it raised."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._parent = tracing.current()
        self._trace: tracing.Trace | None = None
        self._value: T | None = None
        self._error: BaseException | None = None
        self._joined = False
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run, work), name="devstack-client-beside", daemon=True
        )
        self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        if self._parent is not None:
            self._trace, _ = tracing.begin(self._parent.request_id)  # in the copied context only
        try:
            self._value = work()
        except Exception as exc:  # handed to whoever asks for the result
            self._error = exc
        except BaseException as exc:  # the thread is being stopped (GreenletExit): so is the caller's result
            self._error = exc
            raise

    def join(self) -> None:
        """Wait for the work (and count its upstream calls in the request's trace), whatever it did."""
        if self._joined:
            return
        self._thread.join()
        self._joined = True
        if self._parent is not None and self._trace is not None:
            self._parent.upstream_calls += self._trace.upstream_calls
            self._parent.upstream_seconds += self._trace.upstream_seconds

    def result(self) -> T:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

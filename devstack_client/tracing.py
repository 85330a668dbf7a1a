"""One id per request, sent to OpenStack as its global request id, and the upstream calls a request made.

The request's trace lives in a context variable: the web layer opens it,
our keystoneauth session (session.py: every call to Keystone, Nova, Glance
and Neutron goes through it) and the log formatters read it. A context
variable, not a thread-local: under gevent each request is a greenlet, and
each greenlet has its own context. Nothing here imports Flask, requests or
openstacksdk: gunicorn's master imports this (for the log formatters)
before a gevent worker monkey-patches, so it must not import ssl users.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# The form oslo.middleware accepts as a global request id (any other value
# is dropped by Nova, Glance and Neutron): "req-" and a lowercase UUID.
REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Trace:
    """What one gateway request did upstream."""

    request_id: str
    upstream_calls: int = 0
    upstream_seconds: float = 0.0
    error_code: str | None = None


_current: ContextVar[Trace | None] = ContextVar("devstack_client_trace", default=None)


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def accept_request_id(value: str | None) -> str:
    """The caller's id if it has the OpenStack form, else a new one."""
    return value if value and REQUEST_ID.fullmatch(value) else new_request_id()


def current() -> Trace | None:
    return _current.get()


def begin(request_id: str) -> tuple[Trace, Any]:
    """Open a trace; hand the returned token to ``end``."""
    trace = Trace(request_id)
    return trace, _current.set(trace)


def end(token: Any) -> None:
    _current.reset(token)

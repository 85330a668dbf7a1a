"""Every request gets an id (``X-Request-Id``), one log line and its metrics; ``/metrics`` serves them.

The log line replaces gunicorn's access log: it also names the route, the
request id and the upstream calls. It never holds a header, a body or a
query string, so no token, password or key can reach the log.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from devstack_client import metrics, tracing

access_log = logging.getLogger("devstack_client.access")

REQUEST_ID_HEADER = "X-Request-Id"
# Polled every few seconds by load balancers and Prometheus: their successes
# are logged at DEBUG only, so they do not drown the calls that matter.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED = "<unmatched>"  # 404 and 405: one label, whatever the caller typed


def init_app(app: Flask) -> None:
    # Registered before any other hook, so that every later hook (and any
    # error it raises) already has the request id.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.add_url_rule("/metrics", "metrics", _scrape, methods=["GET"])


def _scrape() -> Response:
    return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def _begin() -> None:
    request_id = tracing.accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.trace, g.trace_token = tracing.begin(request_id)
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    trace: tracing.Trace | None = g.get("trace")
    if trace is None:  # a hook registered before ours failed: still give the answer an id
        trace = tracing.Trace(tracing.new_request_id())
    response.headers[REQUEST_ID_HEADER] = trace.request_id
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = route_of_request()
    metrics.request_answered(request.method, route, response.status_code, seconds)
    quiet = route in PROBES and response.status_code < 400
    access_log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s %s in %.1f ms, %d upstream calls",
        request.method,
        request.path,
        response.status_code,
        seconds * 1000,
        trace.upstream_calls,
        extra={
            "fields": {
                "request_id": trace.request_id,
                "method": request.method,
                "route": route,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "upstream_calls": trace.upstream_calls,
                "upstream_ms": round(trace.upstream_seconds * 1000, 1),
                "error": trace.error_code,
                "remote_addr": request.remote_addr,
            }
        },
    )
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("trace_token", None)
    if token is not None:
        tracing.end(token)


def route_of_request() -> str:
    """The URL rule that matched, without converters ("/api/v1/server/<ref>"): a bounded set of labels."""
    rule = request.url_rule
    if rule is None:
        return UNMATCHED
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"<\1>", rule.rule)

"""Prometheus metrics, served at ``/metrics``.

gunicorn runs several worker processes and any one of them answers a scrape,
so under gunicorn the counts live in files that every worker writes and the
answering one sums (prometheus-client's multiprocess mode, chosen when
``PROMETHEUS_MULTIPROC_DIR`` is set before prometheus-client is imported:
main.py does that). Without it (the development server, the tests) they
live in this process.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROCESS = MULTIPROCESS_DIR in os.environ  # prometheus-client decides at import, so do we

# From a cached read (a few ms) to a create that waits for ACTIVE (minutes).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter(
    "devstack_client_http_requests", "Requests answered, by route and status", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "devstack_client_http_request_duration_seconds",
    "Time to answer a request, by route",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)
UPSTREAM_CALLS = Counter(
    "devstack_client_upstream_requests", "Calls to OpenStack, by service type (identity, compute, …)", ["service"]
)
UPSTREAM_ERRORS = Counter(
    "devstack_client_upstream_errors",
    "Calls to OpenStack that failed, by service and reason (timeout, unreachable, or the 5xx/429 status)",
    ["service", "reason"],
)
UPSTREAM_SECONDS = Histogram(
    "devstack_client_upstream_request_duration_seconds",
    "Time OpenStack took to answer, by service",
    ["service"],
    buckets=UPSTREAM_BUCKETS,
)
CREATES_IN_FLIGHT = Gauge(
    "devstack_client_server_creates_in_flight",
    "Server creates being sent or waited for right now",
    multiprocess_mode="livesum",
)
EVENT_STREAMS = Gauge(
    "devstack_client_event_streams_open", "Server event streams open right now", multiprocess_mode="livesum"
)
CATALOG_CACHE = Counter(
    "devstack_client_catalog_cache_lookups",
    "Flavor pages and image names looked up in the catalog cache, by result (hit, miss, error)",
    ["result"],
)
FEED_READS = Counter(
    "devstack_client_event_feed_reads",
    "Reads of Nova by the event streams' feeds (one per identity, shared by its streams), by kind (full, changes)",
    ["kind"],
)


def request_answered(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def upstream_call(service: str, seconds: float, failure: str | None) -> None:
    UPSTREAM_CALLS.labels(service).inc()
    UPSTREAM_SECONDS.labels(service).observe(seconds)
    if failure:
        UPSTREAM_ERRORS.labels(service, failure).inc()


def exposition() -> bytes:
    """Every metric in Prometheus's text format: summed over all workers under gunicorn."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's in-flight gauge (its counters stay: totals never go down)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)

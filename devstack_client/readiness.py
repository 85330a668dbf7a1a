"""Is the gateway ready to serve: does Keystone accept its identity, do compute, image and network answer?

Each check makes one cheap live call (after the connection's one-time
discovery): validating our own token, Nova's version document (which also
says whether our pinned microversion is still offered), and a one-item list
of images and of networks. A check raises what the API would raise, so the
one error mapper names the failure.

Each call waits READY_TIMEOUT (2 s), not READ_TIMEOUT (60 s): a frozen Nova
must make the probe say "not ready" before the prober gives up on it.

Our token is validated at most once a minute per worker (IDENTITY_TTL_SECONDS),
not at every check (5 s): validating a token is Keystone's costliest common
call (it rebuilds the token: roles, catalog). On the uncached test cloud it took 1-4 s,
and three instances of two workers validating every 5 s made over half of
Keystone's requests during the multi-instance suite: every validation slowed
to 7-12 s, the probes' own and the services' validations of a restarted
instance's new tokens alike, and the instances fell out of the balancer in
turn. In between, the other checks still use the token (Glance and Neutron
refuse a revoked one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openstack import connection as os_connection
from openstack import exceptions as os_exc

from devstack_client.config import COMPUTE_MICROVERSION
from devstack_client.connection import SERVICES, CloudConnection
from devstack_client.errors import CredentialsMissing, Misconfigured
from devstack_client.services.volume import has_block_storage

log = logging.getLogger(__name__)


@dataclass
class Check:
    name: str
    error: Exception | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


# Seconds a successful validation of our own token stands for (see the module's docstring).
IDENTITY_TTL_SECONDS = 60.0


def check_identity(conn: os_connection.Connection, timeout: float, cloud: CloudConnection | None) -> dict[str, Any]:
    """Keystone still accepts our identity: validate our own token (a revoked one is replaced once), unless
    ``cloud`` saw this very token validated within IDENTITY_TTL_SECONDS."""
    if cloud is not None and cloud.identity_validated is not None:
        token, at = cloud.identity_validated
        if token == conn.session.get_token() and time.monotonic() - at < IDENTITY_TTL_SECONDS:
            return {}
    for attempt in (1, 2):
        token = conn.session.get_token()
        response = conn.identity.get(
            "/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False, timeout=timeout
        )
        if response.status_code in (401, 404) and attempt == 1:
            conn.session.invalidate()  # revoked or expired early: authenticate again
            continue
        os_exc.raise_from_response(response)
        break
    if cloud is not None:
        cloud.identity_validated = (token, time.monotonic())
    return {}


def check_compute(conn: os_connection.Connection, timeout: float) -> dict[str, Any]:
    """Nova answers, and still offers the microversion we pin."""
    response = conn.compute.get("/", raise_exc=False, timeout=timeout)
    os_exc.raise_from_response(response)
    version = response.json().get("version") or {}
    newest, oldest = version.get("version") or "2.0", version.get("min_version") or "2.1"
    if not _version(oldest) <= _version(COMPUTE_MICROVERSION) <= _version(newest):
        raise Misconfigured(
            f"The compute service offers API microversions {oldest} to {newest}; the gateway needs "
            f"{COMPUTE_MICROVERSION} (Nova from the Train release on)."
        )
    return {"microversion": COMPUTE_MICROVERSION, "max_microversion": newest}


def check_listing(conn: os_connection.Connection, service_type: str, timeout: float) -> dict[str, Any]:
    """Glance or Neutron answers a one-item list."""
    path = {"image": "/images", "network": "/networks"}[service_type]
    proxy = getattr(conn, service_type)
    os_exc.raise_from_response(proxy.get(path, params={"limit": 1}, raise_exc=False, timeout=timeout))
    return {}


def run(cloud: CloudConnection, timeout: float) -> list[Check]:
    """Every check, in order, each call waiting at most ``timeout`` s; the services only once the identity works."""
    if cloud.identity.problem:
        return [Check("identity", CredentialsMissing(cloud.identity.problem, cloud.identity.missing))]
    try:
        conn, scratch = cloud.get(), False
    except Exception:
        # The shared connection failed to start (its warm-up stops at the
        # first failure): check step by step on a scratch one instead, so
        # each failure is named by its own check.
        conn, scratch = cloud.build(), True
    try:
        # A scratch connection's token is its own: validate it every time.
        identity = _attempt("identity", lambda: check_identity(conn, timeout, None if scratch else cloud))
        if identity.error is not None:
            return [identity]
        checks: dict[str, Callable[[], dict[str, Any]]] = {
            "compute": lambda: check_compute(conn, timeout),
            "image": lambda: check_listing(conn, "image", timeout),
            "network": lambda: check_listing(conn, "network", timeout),
        }
        results = [identity]
        for name in SERVICES:

            def step(name: str = name) -> dict[str, Any]:
                # The shared connection discovered every service when it
                # started, but for those that were down then.
                if scratch or name in cloud.undiscovered:
                    cloud.discover(conn, name)
                return checks[name]()

            results.append(_attempt(name, step))
        return results
    finally:
        if scratch:
            conn.session.session.close()  # its own pool of HTTP connections


# Optional services: the catalog may lack them, and the gateway then answers 501 for what needs them.
OPTIONAL = {"block-storage": "the volume endpoints and boot from volume answer 501 (`not_supported`)"}


def absent_services(cloud: CloudConnection) -> dict[str, str]:
    """The optional services the gateway's catalog lacks, each with what that disables (no upstream call)."""
    if cloud.identity.problem:
        return {}
    try:
        return {} if has_block_storage(cloud.get()) else dict(OPTIONAL)
    except Exception:  # no catalog without a token: the checks say why
        return {}


def _attempt(name: str, check: Callable[[], dict[str, Any]]) -> Check:
    try:
        return Check(name, details=check())
    except Exception as exc:  # each is reported, by the same mapper as the API's errors
        log.info("readiness: %s check failed: %s", name, type(exc).__name__)
        return Check(name, error=exc)

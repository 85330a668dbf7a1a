"""The openstacksdk connections of a worker process: the gateway's own, shared by its threads, and callers'."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import requests
from keystoneauth1 import access as ks_access
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import plugin as ks_plugin
from keystoneauth1 import session as ks_session
from keystoneauth1.identity.access import AccessInfoPlugin
from openstack import connection as os_connection
from openstack import exceptions as os_exc

from devstack_client import __version__
from devstack_client.config import COMPUTE_MICROVERSION, Settings
from devstack_client.errors import DiscoveryFailed, Misconfigured
from devstack_client.identity import Identity
from devstack_client.session import TracingSession
from devstack_client.transport import http_pool

log = logging.getLogger(__name__)

SERVICES = ("compute", "image", "network")
OPTIONAL_SERVICES = ("image", "network")


class CloudConnection:
    """Build the connection lazily, once per process, and warm it up.

    Lazily, because gunicorn forks workers after the app is created and a
    requests session must not cross a fork. Warmed up under a lock, because
    openstacksdk builds its service proxies without one and racing threads
    would each repeat version discovery.

    Callers' own connections (``for_user``) share the process's HTTP pool and
    version discovery with it, so a user costs no extra discovery calls.
    """

    def __init__(self, settings: Settings, identity: Identity) -> None:
        self.settings = settings
        self.identity = identity
        self._lock = threading.Lock()
        self._conn: os_connection.Connection | None = None
        self._pid: int | None = None
        self._pool_lock = threading.Lock()
        self._http: requests.Session | None = None
        self._http_pid: int | None = None
        self._discovery: dict[str, Any] = {}
        # Services whose discovery failed when this process's connection
        # started; their proxies are built (and discovered) on first use.
        self.undiscovered: set[str] = set()
        # The process's token that Keystone last validated for /readyz, and when (readiness.py).
        self.identity_validated: tuple[str, float] | None = None

    def get(self) -> os_connection.Connection:
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            return conn
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = self._connect()
                self._pid = os.getpid()
            return self._conn

    def session(self, auth: ks_plugin.BaseAuthPlugin | None = None) -> ks_session.Session:
        """A keystoneauth session over this process's one HTTP pool and discovery cache.

        It tags every upstream call with the request's id, and counts and times it.
        """
        session = TracingSession(
            auth=auth,
            session=self._transport(),
            verify=self.identity.verify,
            app_name="devstack-client",
            app_version=__version__,
            discovery_cache=self._discovery,
        )
        # openstacksdk sets no timeout at all; keystoneauth only takes one
        # number, but hands its value to requests, which takes (connect, read).
        session.timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        return session

    def for_user(self, access: ks_access.AccessInfo) -> os_connection.Connection:
        """A connection acting as the user of a validated token, with the catalog it came with."""
        conn = self._open(self.session(AccessInfoPlugin(access)))
        # The proxies are built now, before the connection is shared among
        # the user's concurrent calls; from the shared discovery cache, so
        # without an upstream call once the process is warm. (Neutron's
        # proxy reads no version document: touching it is enough.)
        self.discover(conn, "compute")
        _ = conn.image, conn.network
        return conn

    def _transport(self) -> requests.Session:
        with self._pool_lock:
            if self._http is None or self._http_pid != os.getpid():
                self._http = http_pool(upstream_pool_size(self.settings))
                self._discovery = {}
                self._http_pid = os.getpid()
            return self._http

    def build(self) -> os_connection.Connection:
        """A new connection as the gateway's identity, not yet authenticated (no upstream call)."""
        return self._open(self.session(self.identity.auth_plugin()))

    def _connect(self) -> os_connection.Connection:
        conn = self.build()
        self._warm_up(conn)
        log.info("connected to OpenStack as %s", self.identity.describe())
        return conn

    def _open(self, session: ks_session.Session) -> os_connection.Connection:
        return os_connection.Connection(
            session=session,
            region_name=self.identity.region_name,
            interface=self.identity.interface,
            compute_api_version=COMPUTE_MICROVERSION,
            # A read timeout surfaces as ConnectTimeout and would be re-sent,
            # POSTs included (a duplicate VM): never retry automatically.
            connect_retries=0,
            status_code_retries=0,
            image_status_code_retries=0,
        )

    def _warm_up(self, conn: os_connection.Connection) -> None:
        conn.session.get_token()
        self.discover(conn, "compute")  # required: it checks the pinned microversion
        for service_type in OPTIONAL_SERVICES:
            try:
                self.discover(conn, service_type)
            except DiscoveryFailed:
                # Glance or Neutron down must not take Nova's endpoints down
                # with it: their own calls fail (503) until it is back.
                self.undiscovered.add(service_type)
                log.warning("%s service unreachable at start; its endpoints answer 503 until it is back", service_type)

    def discover(self, conn: os_connection.Connection, service_type: str) -> None:
        """Build a service's proxy (its version discovery); raise Misconfigured or DiscoveryFailed if it fails."""
        try:
            # For compute, this reads Nova's version document and checks that
            # it offers our pinned microversion.
            getattr(conn, service_type).get_endpoint_data()
            self.undiscovered.discard(service_type)
        except (os_exc.ServiceDisabledException, ks_exc.EndpointNotFound) as exc:
            where = f"{self.identity.interface} interface" + (
                f", region {self.identity.region_name}" if self.identity.region_name else ""
            )
            raise Misconfigured(f"OpenStack's catalog has no {service_type} service ({where}).") from exc
        except os_exc.NotSupported as exc:
            # openstacksdk's words when keystoneauth's discovery found nothing,
            # which it also says when the service could not be reached at all.
            raise DiscoveryFailed(service_type) from exc
        except os_exc.ConfigException as exc:  # only compute pins a version
            offered = str(exc).split(". ")[0]
            raise Misconfigured(
                f"The compute service cannot speak API microversion {COMPUTE_MICROVERSION}, which the "
                f"gateway needs (Nova from the Train release on): {offered}."
            ) from exc


def upstream_pool_size(settings: Settings) -> int:
    """Idle connections kept per OpenStack service: UPSTREAM_POOL_SIZE, and one per thread under gthread."""
    # A gthread worker makes at most THREADS calls at once: with one pooled
    # connection per thread it never reconnects. A gevent worker may make up
    # to WORKER_CONNECTIONS (1000) at once, and a pool that size would keep
    # hundreds of idle sockets open to each service after a burst: the pool
    # keeps UPSTREAM_POOL_SIZE, enough for ordinary concurrency, and a burst
    # beyond it opens extra connections (never waits for one: the pool does
    # not block) that close after use.
    if settings.worker_class == "gthread":
        return max(settings.threads, settings.upstream_pool_size)
    return settings.upstream_pool_size

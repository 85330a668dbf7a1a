"""The one openstacksdk connection a worker process shares among its threads."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import requests
from flask import Flask, current_app
from keystoneauth1 import exceptions as ks_exc
from openstack import connection as os_connection
from openstack import exceptions as os_exc

from devstack_client import __version__
from devstack_client.config import COMPUTE_MICROVERSION
from devstack_client.errors import DiscoveryFailed, Misconfigured
from devstack_client.identity import Identity, resolve
from devstack_client.tracing import TracingSession

log = logging.getLogger(__name__)

SERVICES = ("compute", "image", "network")


class CloudConnection:
    """Build the connection lazily, once per process, and warm it up.

    Lazily, because gunicorn forks workers after the app is created and a
    requests session must not cross a fork. Warmed up under a lock, because
    openstacksdk builds its service proxies without one and racing threads
    would each repeat version discovery.
    """

    def __init__(self, settings: dict[str, Any], identity: Identity) -> None:
        self.settings = settings
        self.identity = identity
        self._lock = threading.Lock()
        self._conn: os_connection.Connection | None = None
        self._pid: int | None = None

    def get(self) -> os_connection.Connection:
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            return conn
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = self._connect()
                self._pid = os.getpid()
            return self._conn

    def _connect(self) -> os_connection.Connection:
        conn = self.build()
        self._warm_up(conn)
        log.info("connected to OpenStack as %s", self.identity.describe())
        return conn

    def build(self) -> os_connection.Connection:
        """A new connection, not yet authenticated (no upstream call)."""
        auth = self.identity.auth_plugin()
        threads = int(self.settings["THREADS"])
        http = requests.Session()
        # One pooled connection per thread: requests' default pool of 10
        # overflows (and reconnects) under more threads.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(threads, 10))
        http.mount("https://", adapter)
        http.mount("http://", adapter)
        # Tags every upstream call with the request's id, counts and times it.
        session = TracingSession(
            auth=auth,
            session=http,
            verify=self.identity.verify,
            app_name="devstack-client",
            app_version=__version__,
        )
        # openstacksdk sets no timeout at all; keystoneauth only takes one
        # number, but hands its value to requests, which takes (connect, read).
        session.timeout = (float(self.settings["CONNECT_TIMEOUT"]), float(self.settings["READ_TIMEOUT"]))
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
        for service_type in SERVICES:
            self.discover(conn, service_type)

    def discover(self, conn: os_connection.Connection, service_type: str) -> None:
        """Build a service's proxy (its version discovery); raise Misconfigured or DiscoveryFailed if it fails."""
        try:
            # For compute, this reads Nova's version document and checks that
            # it offers our pinned microversion.
            getattr(conn, service_type).get_endpoint_data()
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


def init_app(app: Flask) -> None:
    identity = resolve(app.config)
    app.extensions["openstack"] = CloudConnection(app.config, identity)
    if identity.problem:
        app.logger.warning("credentials: %s; every API call will answer 403", identity.problem)
    else:
        app.logger.info(
            "credentials from %s: %s (precedence: OS_CLOUD > AUTH_URL, USERNAME, … > OS_*)",
            identity.source,
            identity.describe(),
        )


def cloud() -> CloudConnection:
    return current_app.extensions["openstack"]


def get_connection() -> os_connection.Connection:
    return cloud().get()

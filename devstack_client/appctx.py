"""The Flask side of the OpenStack connections: what the current app and request act with.

connection.py (the SDK and HTTP-pool layer) and the services know nothing of
Flask; the API modules reach the app's settings and connections through here.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from openstack import connection as os_connection

from devstack_client.config import Settings
from devstack_client.connection import CloudConnection
from devstack_client.identity import resolve
from devstack_client.services.catalog import Catalog
from devstack_client.services.feedbus import FeedBus
from devstack_client.services.feeds import Feeds, Timing
from devstack_client.services.keywatch import KeyWatch


def init_app(app: Flask) -> None:
    """Give the app its gateway connection (``app.extensions["openstack"]``), built from its settings."""
    config: Settings = app.extensions["settings"]
    identity = resolve(config)
    app.extensions["openstack"] = CloudConnection(config, identity)
    timing = Timing(
        poll=config.events_poll_seconds,
        idle=config.events_idle_poll_seconds,
        resync=config.events_resync_seconds,
        heartbeat=config.events_heartbeat_seconds,
    )
    app.extensions["keywatch"] = KeyWatch(config.idempotency_watch_seconds)
    app.extensions["catalog"] = Catalog(config.catalog_cache_seconds, config.redis_url)
    app.extensions["feeds"] = Feeds(timing, FeedBus(config.redis_url) if config.redis_url else None)
    if config.require_user_tokens:
        app.logger.info("every call acts as the Keystone user whose token it carries (REQUIRE_USER_TOKENS)")
    elif identity.problem:
        app.logger.warning("credentials: %s; every API call will answer 403", identity.problem)
    else:
        app.logger.info(
            "credentials from %s: %s (precedence: OS_CLOUD > AUTH_URL, USERNAME, … > OS_*)",
            identity.source,
            identity.describe(),
        )


def settings() -> Settings:
    """The current app's settings."""
    return current_app.extensions["settings"]


def cloud() -> CloudConnection:
    """The current app's gateway connection (its own identity)."""
    return current_app.extensions["openstack"]


def get_connection() -> os_connection.Connection:
    """The connection this request acts through: its caller's own if it sent a token, else the gateway's."""
    user = g.get("user")
    return user.connection if user is not None else cloud().get()


def catalog() -> Catalog:
    """The current app's cache of flavor pages and image names (shared through Redis when configured)."""
    return current_app.extensions["catalog"]


def feeds() -> Feeds:
    """The current app's server change feeds (one per identity, in this process)."""
    return current_app.extensions["feeds"]


def keywatch() -> KeyWatch:
    """The current app's background checks of keyed creates (late duplicates)."""
    return current_app.extensions["keywatch"]


def identity_key() -> tuple[str, ...]:
    """Who this request acts as in OpenStack: the caller's own user and project, or the gateway's identity."""
    user = g.get("user")
    return ("user", user.access.user_id, user.access.project_id) if user is not None else ("gateway",)

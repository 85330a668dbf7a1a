"""Calls on an openstacksdk service proxy that return Nova/Glance/Neutron JSON.

We go through the proxies (auth, catalog, microversion, typed errors) but
skip the SDK's Resource objects: building them costs ~100x the CPU of the
JSON they come from (design notes, section 6).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import requests
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from openstack import connection, proxy
from openstack import exceptions as os_exc

from devstack_client.errors import AmbiguousName, DiscoveryFailed, NotFound


def service(conn: connection.Connection, service_type: str) -> proxy.Proxy:
    """The connection's proxy for a service; DiscoveryFailed if the service does not answer its discovery.

    The connection discovers every service when it starts, but one that was down then is discovered on
    first use, and openstacksdk says NotSupported when it cannot be reached.
    """
    try:
        return getattr(conn, service_type)
    except os_exc.NotSupported as exc:
        raise DiscoveryFailed(service_type) from exc


def call(api: proxy.Proxy, method: str, path: str, **kwargs: Any) -> Any:
    """Send one request and return its JSON body; raise the SDK's typed error on failure."""
    response = fetch(api, method, path, **kwargs)
    if response.status_code == 204 or not response.content:
        return None
    return decode(response)


def fetch(api: proxy.Proxy, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Send one request and return its successful response; raise the SDK's typed error on failure."""
    # Without it Glance answers errors as HTML (its messages then arrive escaped, `&#x27;`).
    kwargs["headers"] = {"Accept": "application/json", **kwargs.get("headers", {})}
    try:
        response = _send(api, method, path, kwargs)
    except ks_exc.ConnectFailure:
        if method != "GET":
            raise  # the request may have arrived: never resend what changes something
        # A pooled keep-alive connection that the server closed while idle
        # fails at once, before anything was read; a GET is safe to send again.
        # (Timeouts are not connect failures: a hung service is not waited for twice.)
        response = _send(api, method, path, kwargs)
    if response.status_code == 401 and getattr(api.session.auth, "reauthenticate", True):
        # keystoneauth re-authenticates on a 401 itself, but under concurrent
        # load only the first thread's retry wins after a token is revoked.
        # (A caller's own token cannot be renewed: a retry would only repeat it.)
        response = _send(api, method, path, kwargs)
    os_exc.raise_from_response(response)
    return response


def _send(api: proxy.Proxy, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
    """One request through the proxy's keystoneauth adapter (its auth, endpoint, microversion and timeouts).

    Not through ``Proxy.request``: that builds a key for openstacksdk's
    response cache on every call, asking keystoneauth for the project id
    (which re-reads the token's expiry), even with the cache off, as ours
    is; and its statsd and Prometheus reporting is not configured here
    (metrics.py counts every call). 3.6 % of a show's samples (bench/README.md).
    """
    return ks_adapter.Adapter.request(api, _url(api, path), method, raise_exc=False, **kwargs)


# On a proxy: (the token's AccessInfo, the endpoint found in its catalog).
ENDPOINT = "_devstack_client_endpoint"


def endpoint(api: proxy.Proxy) -> str:
    """The proxy's endpoint URL (authenticating first if it has no token yet)."""
    return _url(api, "")


def _url(api: proxy.Proxy, path: str) -> str:
    """``path`` on the proxy's endpoint, looked up once per token.

    keystoneauth looks a relative path's endpoint up on every call: a deep
    copy of the whole catalog and a walk of its discovery data, 0.3 ms of
    CPU per upstream call (bench/README.md). An absolute URL skips that; a
    new token (a new catalog) looks it up again.
    """
    cached = getattr(api, ENDPOINT, None)
    auth_ref = getattr(api.session.auth, "auth_ref", None)
    if cached is None or auth_ref is None or cached[0] is not auth_ref:
        endpoint = api.get_endpoint()
        if endpoint is None:
            return path  # keystoneauth then says why, as before
        cached = (getattr(api.session.auth, "auth_ref", None), endpoint)
        setattr(api, ENDPOINT, cached)
    return cached[1].rstrip("/") + "/" + path.lstrip("/")


UTF8 = ("utf-8", "utf8")
# orjson parses through a document tree of its own: a transient ~15x the body (22 MiB for a page of 1,000
# Nova servers, where the standard library peaks at 6). Pages up to Nova's default of 100 servers (~150 KiB)
# take orjson's speed (half the standard library's time); larger bodies keep the standard library's memory.
ORJSON_MAX_BYTES = 256 * 1024


def decode(response: requests.Response) -> Any:
    """The JSON body of an answer, decoded exactly as requests' ``json()`` decodes it; small ones by orjson."""
    content = response.content
    if len(content) <= ORJSON_MAX_BYTES and (response.encoding or "utf-8").lower() in UTF8:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    # Large, another charset, or JSON orjson refuses (a byte-order mark, NaN, lone surrogates,
    # integers beyond 64 bits): requests' own decoding, and its error, as before.
    return response.json()


# RFC 3986 dot segments: HTTP clients resolve them before sending, so
# ``/os-keypairs/..`` would go out as ``/`` (another resource), whatever the quoting.
DOT_SEGMENTS = (".", "..")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def find(
    kind: str,
    ref: str,
    *,
    by_id: Callable[[str], dict[str, Any]],
    by_name: Callable[[str], list[dict[str, Any]]],
    try_id: bool = True,
) -> dict[str, Any]:
    """Return the one resource whose id, else exact name, is ``ref``."""
    if try_id and ref not in DOT_SEGMENTS:  # such an id cannot be put in a URL
        try:
            return by_id(ref)
        except os_exc.NotFoundException:
            pass
    matches = [item for item in by_name(ref) if item.get("name") == ref]
    if not matches:
        raise NotFound(kind, ref)
    if len(matches) > 1:
        raise AmbiguousName(kind, ref, [{"id": m["id"], "name": m["name"]} for m in matches])
    return matches[0]


def exact_name_regex(name: str) -> str:
    """Nova filters server names by regular expression: match ``name`` exactly."""
    return "^" + re.escape(name) + "$"


def is_printable(text: str) -> bool:
    # Nova's rule (parameter_types._is_printable): no control or format
    # characters, no line or paragraph separators, and, because it builds its
    # regex from U+0000-U+FFFE only, nothing beyond the Basic Multilingual Plane.
    return all(_printable_char(c) for c in text)


def _printable_char(char: str) -> bool:
    category = unicodedata.category(char)
    return ord(char) < 0xFFFF and not category.startswith("C") and category not in ("Zl", "Zp")

"""A fast fake of Keystone, Nova, Glance and Neutron on loopback, for the benchmark.

It speaks the wire the gateway, openstacksdk and the ``openstack`` CLI speak
(bodies built by tests/fakes.py, as in the wire tests: Nova at microversion 2.79,
Glance v2, Neutron v2.0), waits a fixed ``latency`` before each answer (a real service's
own cost), and counts every request by service, method and path template,
so the benchmark can say how many upstream calls one API call cost.

One port, one prefix per service (``/identity``, ``/compute``, ``/image``,
``/network``); the token's catalog points at them. ``/_bench/...`` is the
benchmark's own control: read or reset the counts, change the number of
servers, stall the requests whose path matches a pattern (a frozen service,
for bench/longlived.py) and release them. Run it as ``python -m bench.fakecloud --servers N``: it prints its
URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import (
    DEFAULT_GROUP_ID,
    TOKEN,
    fixed_address,
    make_fake_flavor,
    make_fake_image,
    make_fake_network,
    make_fake_server,
    make_token,
)

MAX_LIMIT = 1000  # Nova's and Glance's max_limit
IMAGES = [  # a few images, so that the gateway's image-name join has something to join
    (str(uuid.UUID(int=0x8C6B7D4E0F5E4A8E9A552D1B1F0F3A21 + i)), f"image-{i}") for i in range(3)
]
FLAVORS = [("1", "m1.tiny", 512, 1), ("2", "m1.small", 2048, 20), ("42", "m1.nano", 64, 0)]
BULK_NET_ID = "0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def template(path: str) -> str:
    """The path with ids as ``{id}``, for counting: ``/compute/v2.1/servers/{id}``."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if _UUID.fullmatch(part) or (i and parts[i - 1] == "flavors" and part != "detail"):
            parts[i] = "{id}"
    return "/".join(parts)


def is_discovery(method: str, path: str) -> bool:
    """A version document: what a client reads once to learn a service's versions."""
    return method == "GET" and path.rstrip("/") in (
        "/identity",
        "/identity/v3",
        "/compute",
        "/compute/v2.1",
        "/image",
        "/network",
        "/network/v2.0",
    )


def is_token(method: str, path: str) -> bool:
    return method == "POST" and path == "/identity/v3/auth/tokens"


def server_id(index: int) -> str:
    return str(uuid.UUID(int=index + 1, version=4))


def _server(index: int, base: str) -> dict[str, Any]:
    """Server ``index``: ACTIVE, m1.nano, one of IMAGES, an address of its own on bulk-net."""
    return make_fake_server(
        server_id(index),
        name=f"bench-{index:05d}",
        image_id=IMAGES[index % len(IMAGES)][0],
        nova=f"{base}/compute/v2.1",
        addresses={"bulk-net": [fixed_address(f"10.96.{index // 250 % 256}.{index % 250 + 2}")]},
        flavor={
            "vcpus": 1,
            "ram": 64,
            "disk": 0,
            "ephemeral": 0,
            "swap": 0,
            "original_name": "m1.nano",
            "extra_specs": {},
        },
    )


class Cloud:
    """The fake's state: servers (pre-serialized, so a page costs the fake little), counts."""

    def __init__(self, base: str, servers: int, latency: float) -> None:
        self.base = base
        self.latency = latency
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        nova = f"{base}/compute/v2.1"
        self.flavors = [make_fake_flavor(i, name, nova, ram=ram, disk=disk) for i, name, ram, disk in FLAVORS]
        self.images = [make_fake_image(i, name, size=4096, virtual_size=4096, disk_format="raw") for i, name in IMAGES]
        self.network = make_fake_network(BULK_NET_ID, "bulk-net", subnets=["53877221-3661-4fb3-bcf5-197bfe6a3bea"])
        self.resize(servers)
        self.stalled: re.Pattern[str] | None = None
        self.released = threading.Event()
        self.stall_seconds = 0.0

    def stall(self, pattern: str | None, seconds: float) -> None:
        """Hold the requests whose path matches ``pattern`` (up to ``seconds``); None releases every held one."""
        with self.lock:
            self.released.set()
            self.released = threading.Event()
            self.stalled = re.compile(pattern) if pattern else None
            self.stall_seconds = seconds

    def hold(self, path: str) -> None:
        stalled, released = self.stalled, self.released
        if stalled is not None and stalled.search(path):
            released.wait(self.stall_seconds)

    def resize(self, n: int) -> None:
        servers = [_server(i, self.base) for i in range(n)]
        self.servers = servers
        self.server_json = [json.dumps(s) for s in servers]
        self.index = {s["id"]: i for i, s in enumerate(servers)}

    def touch(self, i: int, name: str) -> None:
        """Server ``i`` changes now (renamed): Nova's ``changes-since`` lists it (bench/streams.py)."""
        with self.lock:
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.servers[i] = {**self.servers[i], "name": name, "updated": now}
            self.server_json[i] = json.dumps(self.servers[i])

    def count(self, method: str, path: str) -> None:
        with self.lock:
            self.counts[f"{method} {template(path)}"] += 1

    def token(self) -> dict[str, Any]:
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        catalog = {
            "compute": ("nova", f"{self.base}/compute/v2.1"),
            "image": ("glance", f"{self.base}/image"),
            "network": ("neutron", f"{self.base}/network"),
            "identity": ("keystone", f"{self.base}/identity/v3"),
        }
        return make_token(catalog, ("public", "internal"), user_name="bench", project_name="bench", expires=expires)


def _page(items: list[Any], ids: list[str] | None, query: dict[str, str], index: dict[str, int]) -> list[Any]:
    """Nova's and Glance's marker/limit: the items after ``marker``, at most ``limit`` (capped at 1000)."""
    start = 0
    if "marker" in query:
        start = index[query["marker"]] + 1
    limit = min(int(query.get("limit", MAX_LIMIT)), MAX_LIMIT)
    return items[start : start + limit]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services answer
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall
    cloud: Cloud

    def log_message(self, *args: Any) -> None:  # no access log on stderr
        pass

    def _send(self, status: int, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-openstack-request-id", "req-" + str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        cloud = self.cloud
        if path.startswith("/_bench/"):
            return self._control(method, path, query)
        cloud.count(method, path)
        cloud.hold(path)
        time.sleep(cloud.latency)
        service = path.split("/")[1]
        handler = getattr(self, f"_{service}", None)
        if handler is None or not handler(method, path, query):
            self._send(404, {"itemNotFound": {"code": 404, "message": f"fake: no {method} {path}"}})

    def _control(self, method: str, path: str, query: dict[str, str]) -> None:
        cloud = self.cloud
        if path == "/_bench/counts":
            with cloud.lock:
                counts = dict(cloud.counts)
                if method == "POST":
                    cloud.counts.clear()
            return self._send(200, counts)
        if path == "/_bench/servers" and method == "POST":
            cloud.resize(int(query["n"]))
            return self._send(200, {"servers": len(cloud.servers)})
        if path == "/_bench/touch" and method == "POST":
            cloud.touch(int(query["i"]), query["name"])
            return self._send(200, {"touched": int(query["i"])})
        if path == "/_bench/stall" and method == "POST":
            cloud.stall(query.get("path"), float(query.get("seconds", 0)))
            return self._send(200, {"stalled": query.get("path")})
        self._send(404, {})

    # -- Keystone ------------------------------------------------------------------

    def _identity(self, method: str, path: str, query: dict[str, str]) -> bool:
        base = self.cloud.base + "/identity"
        if method == "GET" and path.rstrip("/") == "/identity/v3":
            version = {
                "id": "v3.14",
                "status": "stable",
                "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": base + "/v3/"}],
                "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
            }
            self._send(200, {"version": version})
        elif method == "GET" and path.rstrip("/") == "/identity":
            versions = {
                "values": [{"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": base + "/v3/"}]}]
            }
            self._send(300, {"versions": versions})
        elif method == "POST" and path == "/identity/v3/auth/tokens":
            self._send(201, self.cloud.token(), headers={"X-Subject-Token": TOKEN})
        else:
            return False
        return True

    # -- Nova ----------------------------------------------------------------------

    def _compute(self, method: str, path: str, query: dict[str, str]) -> bool:
        cloud = self.cloud
        if method != "GET":
            return False
        rest = path.removeprefix("/compute/v2.1").rstrip("/")
        headers = {"OpenStack-API-Version": "compute 2.79", "X-OpenStack-Nova-API-Version": "2.79"}
        if rest == "" or path.rstrip("/") == "/compute":
            version = {
                "id": "v2.1",
                "status": "CURRENT",
                "version": "2.100",
                "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": cloud.base + "/compute/v2.1/"}],
                "media-types": [
                    {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
                ],
            }
            body = {"version": version} if rest == "" and path.startswith("/compute/v2.1") else {"versions": [version]}
            self._send(200, body, headers=headers)
        elif rest == "/servers/detail" or rest == "/servers":
            items, index = cloud.server_json, cloud.index
            if "changes-since" in query:  # ISO 8601 in UTC, as both sides write it: compared as text
                chosen = [i for i, server in enumerate(cloud.servers) if server["updated"] >= query["changes-since"]]
                items = [cloud.server_json[i] for i in chosen]
                index = {cloud.servers[i]["id"]: n for n, i in enumerate(chosen)}
            page = _page(items, None, query, index)
            if "name" in query:  # Nova's name filter is a regular expression
                pattern = re.compile(query["name"])
                page = [s for s in page if pattern.search(json.loads(s)["name"])]
            body = b'{"servers": [' + ", ".join(page).encode() + b"]"
            limit = min(int(query.get("limit", MAX_LIMIT)), MAX_LIMIT)
            if page and len(page) == limit:  # as Nova: a full page links to the next, even when it is empty
                last = json.loads(page[-1])["id"]
                link = {"rel": "next", "href": f"{cloud.base}/compute/v2.1/servers/detail?limit={limit}&marker={last}"}
                body += b', "servers_links": [' + json.dumps(link).encode() + b"]"
            raw = body + b"}"
            self._send(200, raw=raw, headers=headers)
        elif rest.startswith("/servers/"):
            i = cloud.index.get(rest.removeprefix("/servers/"))
            if i is None:
                return False
            self._send(200, raw=b'{"server": ' + cloud.server_json[i].encode() + b"}", headers=headers)
        elif rest == "/flavors/detail" or rest == "/flavors":
            self._send(200, {"flavors": cloud.flavors[: int(query.get("limit", MAX_LIMIT))]}, headers=headers)
        elif rest.startswith("/flavors/"):
            flavor = [f for f in cloud.flavors if f["id"] == rest.removeprefix("/flavors/")]
            if not flavor:
                return False
            self._send(200, {"flavor": flavor[0]}, headers=headers)
        else:
            return False
        return True

    # -- Glance --------------------------------------------------------------------

    def _image(self, method: str, path: str, query: dict[str, str]) -> bool:
        cloud = self.cloud
        if method != "GET":
            return False
        if path.rstrip("/") == "/image":
            href = cloud.base + "/image/v2/"
            versions = [{"id": v, "status": s, "links": [{"rel": "self", "href": href}]} for v, s in
                        (("v2.17", "CURRENT"), ("v2.0", "SUPPORTED"))]  # fmt: skip
            self._send(300, {"versions": versions})
        elif path == "/image/v2/images":
            images = cloud.images
            if query.get("id", "").startswith("in:"):
                wanted = set(query["id"][3:].split(","))
                images = [i for i in images if i["id"] in wanted]
            if "name" in query:
                images = [i for i in images if i["name"] == query["name"]]
            if "marker" in query:
                ids = [i["id"] for i in images]
                images = images[ids.index(query["marker"]) + 1 :] if query["marker"] in ids else []
            limit = min(int(query.get("limit", 25)), MAX_LIMIT)
            self._send(200, {"images": images[:limit], "first": "/v2/images", "schema": "/v2/schemas/images"})
        elif path.startswith("/image/v2/images/"):
            image = [i for i in cloud.images if i["id"] == path.rsplit("/", 1)[1]]
            if not image:
                return False
            self._send(200, image[0])
        else:
            return False
        return True

    # -- Neutron -------------------------------------------------------------------

    def _network(self, method: str, path: str, query: dict[str, str]) -> bool:
        cloud = self.cloud
        if method != "GET":
            return False
        if path.rstrip("/") == "/network":
            href = cloud.base + "/network/v2.0/"
            self._send(
                200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]}
            )
        elif path.rstrip("/") == "/network/v2.0":
            resources = [
                {"links": [{"href": f"{cloud.base}/network/v2.0/{c}", "rel": "self"}], "name": c[:-1], "collection": c}
                for c in ("subnets", "networks", "ports")
            ]
            self._send(200, {"resources": resources})
        elif path == "/network/v2.0/networks":
            self._send(200, {"networks": [cloud.network]})
        elif path == "/network/v2.0/ports" and query.get("fields") == "security_groups":
            # A show's groups' ids: every server has one port, in the project's default group (make_fake_server's).
            known = query.get("device_id") in cloud.index
            self._send(200, {"ports": [{"security_groups": [DEFAULT_GROUP_ID]}] if known else []})
        else:
            return False
        return True


class Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a thousand arrive at once (bench/longlived.py).
    request_queue_size = 1024


def serve(servers: int, latency: float, port: int = 0) -> tuple[ThreadingHTTPServer, Cloud]:
    """Start the fake in a thread of this process; return the server and its state."""
    httpd = Server(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    cloud = Cloud(f"http://127.0.0.1:{httpd.server_address[1]}", servers, latency)
    httpd.RequestHandlerClass = type("BoundHandler", (Handler,), {"cloud": cloud})
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, cloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.002, help="seconds added to every answer")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    httpd, cloud = serve(args.servers, args.latency, args.port)
    print(cloud.base, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

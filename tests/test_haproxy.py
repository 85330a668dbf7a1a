"""The HAProxy configuration we ship (deploy/haproxy.cfg) on loopback, in front of three plain HTTP
servers that break connections on demand: which requests it retries on another instance, which it never
re-sends, what it answers when no instance is ready, and that its timeouts fit the gateway's.

The rules themselves, exactly (the multi-instance suite on the real cloud, branch `multi`, runs gateways behind it).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from devstack_client.config import load
from devstack_client.main import gunicorn_options
from tests.cloud.multi import CONFIG, HAPROXY
from tests.loopback import free_port, serving, stop_group

# A request with this header (server names): those servers close the connection without answering.
BREAK = "X-Test-Break"
EVERY = "gateway-1,gateway-2,gateway-3"


def haproxy_available() -> None:
    if not os.path.exists(HAPROXY):
        if os.environ.get("DEVSTACK_CLIENT_REQUIRE_CLOUD") == "1":
            pytest.fail(f"{HAPROXY} is missing (apt-get install haproxy)")
        pytest.skip(f"{HAPROXY} is missing (apt-get install haproxy)")


class Backends:
    """Three servers; every request each one saw (broken or answered), and whether /readyz answers 200."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []  # (server, method, path)
        self.ready = dict.fromkeys(EVERY.split(","), True)

    def handler(self, name: str) -> type[BaseHTTPRequestHandler]:
        backends = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/readyz":
                    self.answer(200 if backends.ready[name] else 503, b"{}")
                    return
                backends.seen.append((name, self.command, self.path))
                if name in (self.headers.get(BREAK) or "").split(","):
                    # Like an instance killed while it worked on the request: no answer at all.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.answer(200, name.encode())

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextlib.contextmanager
def balancer(tmp_path, ports: list[int]) -> Iterator[str]:
    port, stats = free_port(), free_port()
    env = {
        **os.environ,
        "HAPROXY_BIND": f"127.0.0.1:{port}",
        "STATS_BIND": f"127.0.0.1:{stats}",
        **{f"GATEWAY_{n}": f"127.0.0.1:{p}" for n, p in enumerate(ports, 1)},
    }
    with open(tmp_path / "haproxy.log", "wb") as log:
        proc = subprocess.Popen(
            [HAPROXY, "-f", str(CONFIG), "-db"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats}/stats;csv"
        finally:
            stop_group(proc, timeout=5)


def wait_servers_up(stats: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(stats, timeout=2).text.count(",UP,") >= count:
                return
        time.sleep(0.2)
    raise AssertionError("HAProxy did not see the servers up")


@pytest.fixture(scope="module")
def lb(tmp_path_factory) -> Iterator[tuple[str, str, Backends, list[contextlib.ExitStack]]]:
    haproxy_available()
    backends = Backends()
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(serving(backends.handler(name))) for name in backends.ready]
        ports = [int(base.rsplit(":", 1)[1]) for base in bases]
        base, stats = stack.enter_context(balancer(tmp_path_factory.mktemp("haproxy"), ports))
        wait_servers_up(stats, 3)
        yield base, stats, backends


# (method, path, Idempotency-Key?) -> sent how many times when every instance breaks it: 1 + `retries 3`,
# each time to another instance, or once only.
RETRIES = [
    ("GET", "/api/v1/server", False, 4),
    ("HEAD", "/api/v1/flavor", False, 4),
    ("DELETE", "/api/v1/server/x", False, 4),
    ("PUT", "/api/v1/server/x", False, 1),  # the API has no PUT: one would not be sent twice
    ("POST", "/api/v1/server", True, 4),  # a create with a key: replayed or settled on one server
    ("POST", "/api/v1/server", False, 1),  # without: a second create
    ("POST", "/api/v1/server/x/action", True, 1),  # an action: the key means nothing there
    ("PATCH", "/api/v1/server/x", False, 1),
    ("PATCH", "/api/v1/server/x", True, 1),
]


def send_in_two_parts(base: str, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    """Send the headers, then the body a moment later (as over a real network, and as urllib3 does: two
    writes); the answer's status."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        time.sleep(0.05)
        conn.sendall(body)
        return int(conn.makefile("rb").readline().split()[1])


@pytest.mark.parametrize(("method", "path", "keyed", "sent"), RETRIES)
def test_only_idempotent_requests_are_sent_again_to_another_instance(lb, method, path, keyed, sent):
    base, _, backends = lb
    backends.seen.clear()
    headers = {BREAK: EVERY, **({"Idempotency-Key": "k1"} if keyed else {})}

    if method in ("GET", "HEAD"):
        status = requests.request(method, base + path, headers=headers, timeout=30).status_code
    else:  # with a body that comes after its headers
        status = send_in_two_parts(base, method, path, headers, b"{}")

    assert status == 502
    assert [(m, p) for _, m, p in backends.seen] == [(method, path)] * sent
    servers = [server for server, _, _ in backends.seen]
    assert all(a != b for a, b in itertools.pairwise(servers)), servers  # each retry elsewhere


def test_with_one_instance_breaking_idempotent_requests_all_succeed_and_others_do_not(lb):
    base, _, backends = lb
    backends.seen.clear()
    broken = {BREAK: "gateway-1"}  # as if gateway-1 died under every request it took
    # A new connection each: HAProxy closes the client's connection after a 502.
    reads = [requests.get(base + "/api/v1/server", headers=broken, timeout=30).status_code for _ in range(6)]
    keyed = [
        requests.post(base + "/api/v1/server", headers={**broken, "Idempotency-Key": f"k{n}"}, timeout=30).status_code
        for n in range(6)
    ]
    plain = [requests.post(base + "/api/v1/server", headers=broken, timeout=30).status_code for _ in range(6)]

    assert reads == keyed == [200] * 6
    assert 502 in plain and 200 in plain  # those that went to gateway-1 are not sent again
    assert ("gateway-1", "GET", "/api/v1/server") in backends.seen  # gateway-1 did take some: retried elsewhere


def test_an_instance_not_ready_gets_no_requests_and_with_none_ready_all_take_them(lb):
    base, stats, backends = lb
    backends.ready["gateway-1"] = False
    try:
        deadline = time.monotonic() + 30
        while ",DOWN" not in requests.get(stats, timeout=2).text:
            assert time.monotonic() < deadline, "gateway-1 was never marked down"
            time.sleep(0.2)
        backends.seen.clear()
        for _ in range(6):
            assert requests.get(base + "/api/v1/flavor", timeout=10).status_code == 200
        assert {server for server, _, _ in backends.seen} == {"gateway-2", "gateway-3"}

        # None ready (OpenStack slow or down fails them all at once): fail open, every instance takes requests.
        backends.ready.update({"gateway-2": False, "gateway-3": False})
        deadline = time.monotonic() + 30
        while requests.get(stats, timeout=2).text.count(",DOWN") < 3:
            assert time.monotonic() < deadline, "the instances were never marked down"
            time.sleep(0.2)
        backends.seen.clear()
        for _ in range(6):
            assert requests.get(base + "/api/v1/flavor", timeout=10).status_code == 200
        assert {server for server, _, _ in backends.seen} == set(EVERY.split(","))
    finally:
        backends.ready.update(dict.fromkeys(EVERY.split(","), True))
        wait_servers_up(stats, 3)


def _seconds(name: str) -> float:
    value = re.search(rf"^\s*timeout {name} (\d+)(s?)\s*$", CONFIG.read_text(), re.M)
    assert value, name
    return float(value[1]) / (1 if value[2] else 1000)


def test_the_timeouts_fit_the_gateways():
    settings = load({})
    # No answer is cut short: the slowest (a create with ?wait=true) starts its answer within gunicorn's timeout.
    assert _seconds("server") > gunicorn_options(settings)["timeout"]
    # An event stream is never idle that long: it sends a heartbeat every EVENTS_HEARTBEAT_SECONDS.
    assert min(_seconds("server"), _seconds("client")) > 2 * settings.events_heartbeat_seconds
    # A /readyz answer takes at most one READY_TIMEOUT per check (identity, compute, image, network).
    assert _seconds("check") >= 4 * settings.ready_timeout
    # HAProxy closes its idle connections to an instance (half of them every pool-purge-delay, 5 s by default)
    # long before the gateway would (KEEPALIVE): never one the gateway is closing at the instant it is reused.
    settings_lines = [line.split("#", 1)[0] for line in CONFIG.read_text().splitlines()]
    assert not [line for line in settings_lines if "pool-purge-delay" in line] and settings.keepalive > 4 * 5

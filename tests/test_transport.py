"""The upstream HTTP pool: the environment's proxy and CA settings apply exactly as requests applies them,
~/.netrc never does, and a pooled connection's check before reuse never yields to gevent's hub."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from devstack_client import transport
from devstack_client.transport import Pool, http_pool
from tests.loopback import serving

CASES = {
    "proxied": ("http://nova.test/v2.1/servers", {}, True),
    "https, proxied": ("https://glance.test/v2/images", {}, None),
    "in NO_PROXY": ("http://keystone.internal:5000/v3", {}, True),
    "the caller's own proxy wins": ("http://nova.test/v2.1", {"http": "http://mine:3128"}, True),
    "the caller's no_proxy": ("http://nova.test/v2.1", {"no_proxy": "nova.test"}, True),
    "verify given": ("https://glance.test/v2", {}, "/etc/ssl/other.pem"),
}


@pytest.fixture
def proxied_environment(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "keystone.internal,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")


@pytest.mark.parametrize(("url", "proxies", "verify"), CASES.values(), ids=CASES.keys())
def test_settings_are_requests_own(proxied_environment, url, proxies, verify):
    ours = Pool().merge_environment_settings(url, dict(proxies), None, verify, None)
    theirs = requests.Session().merge_environment_settings(url, dict(proxies), None, verify, None)

    assert ours == theirs


def test_the_environment_is_read_once_per_host(proxied_environment, monkeypatch):
    reads = []
    monkeypatch.setattr(transport, "get_environ_proxies", lambda url, no_proxy: reads.append(url) or {})
    pool = Pool()

    for path in ("/servers", "/flavors", "/servers/1"):
        pool.merge_environment_settings("http://nova.test/v2.1" + path, {}, None, True, None)
    pool.merge_environment_settings("http://glance.test/v2/images", {}, None, True, None)

    assert reads == ["http://nova.test/v2.1/servers", "http://glance.test/v2/images"]


def test_without_the_environment_nothing_is_read(proxied_environment):
    pool = Pool()
    pool.environment = False

    settings = pool.merge_environment_settings("http://nova.test/v2.1", {}, None, True, None)

    assert settings["proxies"] == {} and settings["verify"] is True


def test_netrc_is_never_sent_upstream(tmp_path, monkeypatch, requests_mock):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine nova.test login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.get("http://nova.test/v2.1/servers", json={"servers": []})

    requests.Session().get("http://nova.test/v2.1/servers")  # requests' own session: it does read it
    http_pool(2).get("http://nova.test/v2.1/servers", headers={"X-Auth-Token": "t"})

    theirs, ours = requests_mock.request_history
    assert theirs.headers["Authorization"].startswith("Basic ")
    assert "Authorization" not in ours.headers and ours.headers["X-Auth-Token"] == "t"


class KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/last":
            self.send_header("Connection", "close")  # then closes, as a server closing an idle connection
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_connection_the_server_closed_is_not_reused():
    pool = http_pool(2)
    with serving(KeepAlive) as base:
        pool.get(base + "/")
        conn_pool = only_pool(pool, base)
        assert isinstance(conn_pool, transport._HTTPConnectionPool)
        conn = conn_pool.pool.queue[-1]
        assert isinstance(conn, transport._HTTPConnection) and conn.is_connected
        first = conn.sock

        closed_by_server(conn)
        assert not conn.is_connected
        assert pool.get(base + "/").status_code == 200
        assert conn_pool.pool.queue[-1].sock is not first


def only_pool(http, base):
    """The one connection pool ``http`` has opened (requests keys it by more than the URL)."""
    pools = http.get_adapter(base).poolmanager.pools
    (key,) = pools.keys()
    return pools[key]


def closed_by_server(conn):
    """Asks, on the connection's own socket, for an answer after which the server closes it; reads it.

    Up to the end of the stream, not of the body: the server closes its end a moment after writing the
    body, and the check must see the close, not the moment before it.
    """
    conn.sock.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.sock.settimeout(10)
    received = b""
    while chunk := conn.sock.recv(4096):
        received += chunk
    assert received.endswith(b"{}"), received


def test_the_check_before_reuse_does_not_yield_to_gevents_hub():
    # In a process gevent has patched, as a worker is: urllib3's own check would run the other greenlet.
    script = textwrap.dedent("""
        from gevent import monkey; monkey.patch_all()
        import gevent, requests, urllib3
        from devstack_client.transport import http_pool
        from tests.loopback import serving
        from tests.test_transport import KeepAlive, only_pool

        def others_ran(conn):
            ran = []
            gevent.spawn(ran.append, 1)
            conn.is_connected
            return bool(ran)

        with serving(KeepAlive) as base:
            for name, pool in (("ours", http_pool(2)), ("urllib3's", requests.Session())):
                pool.get(base + "/")
                conn = only_pool(pool, base).pool.queue[-1]
                print(name, others_ran(conn))
                gevent.sleep(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    assert out.stdout.split("\n")[:2] == ["ours False", "urllib3's True"], out.stderr

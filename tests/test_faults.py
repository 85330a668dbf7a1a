"""Faults on the wire, one test each: what the gateway answers when a piece of OpenStack fails.

The same faults run against the real cloud in tests/cloud/test_cloud_faults_outage.py; these are the cheap,
exact versions (Keystone down and recovering, Nova timing out and answering 5xx are in tests/api/test_errors.py).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import requests_mock

from devstack_client import create_app
from tests.fakes import (
    CREATE,
    CREDENTIALS,
    FIXTURES,
    GLANCE,
    IMAGE,
    NETWORK,
    NEUTRON,
    NOVA,
    FakeCloud,
    make_fake_flavor,
    make_fake_server,
    make_token,
    nova_error,
)

# -- Glance or Neutron down while Nova is up ------------------------------------------------------------


def down(cloud: FakeCloud, base: str) -> None:
    """A service whose host refuses every connection (registered last, so it wins over FakeCloud's)."""
    cloud.mocker.register_uri(
        requests_mock.ANY, re.compile(f"^{re.escape(base)}/"), exc=requests.exceptions.ConnectionError
    )


def glance_down(cloud: FakeCloud) -> None:
    down(cloud, GLANCE)


def neutron_down(cloud: FakeCloud) -> None:
    down(cloud, NEUTRON)


@pytest.mark.parametrize("path", ["/api/v1/image", f"/api/v1/image/{IMAGE['id']}"])
def test_glance_down_makes_image_endpoints_503(client, cloud, path):
    glance_down(cloud)

    response = client.get(path)

    assert response.status_code == 503
    assert response.json["code"] == "upstream_unreachable"
    assert response.headers["Retry-After"] == "5"
    assert "glance.test" not in response.get_data(as_text=True)


@pytest.mark.parametrize("warm", [True, False], ids=["down-since-warm-up", "down-at-start"])
def test_glance_down_leaves_the_server_list_with_null_image_names(client, cloud, warm):
    """A dashboard would rather have the list without image names than no list."""
    flavors = cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    if warm:
        assert client.get("/api/v1/flavor").status_code == 200
    glance_down(cloud)
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server(image_id=IMAGE["id"])]})

    servers = client.get("/api/v1/server")

    assert servers.status_code == 200
    assert servers.json["servers"][0]["image"] == {"id": IMAGE["id"], "name": None}
    if warm:  # Glance was asked (and refused the connection); cold, its discovery already failed
        asked = [r.qs["id"] for r in cloud.history if r.path == "/v2/images"]
        assert asked and all(ids == [f"in:{IMAGE['id']}"] for ids in asked)
    assert client.get("/api/v1/flavor").status_code == 200
    assert flavors.call_count == 1  # warm, the second list comes from the catalog cache


def test_neutron_down_makes_network_endpoints_503_and_the_others_work(client, cloud):
    neutron_down(cloud)
    cloud.nova("GET", "/servers/detail", body={"servers": []})
    cloud.glance("GET", "/images", body={"images": [IMAGE], "first": "/v2/images"})

    networks = client.get("/api/v1/network")

    assert networks.status_code == 503
    assert networks.json["code"] == "upstream_unreachable"
    assert client.get("/api/v1/server").status_code == 200
    assert client.get("/api/v1/image").status_code == 200


@pytest.mark.parametrize("service", ["image", "network"])
def test_a_gateway_started_while_glance_or_neutron_is_down_serves_nova_and_recovers(cloud, service):
    """The first request warms the connection up (every service's discovery): one service down must not
    keep Nova's endpoints from working, and once it is back, its own work again, in the same process."""
    down(cloud, {"image": GLANCE, "network": NEUTRON}[service])
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    client = create_app(CREDENTIALS).test_client()
    path = {"image": "/api/v1/image", "network": "/api/v1/network"}[service]

    assert client.get("/api/v1/flavor").status_code == 200
    assert client.get(path).status_code == 503

    FakeCloud(cloud.mocker)  # the service is back: its discovery answers again
    cloud.glance("GET", "/images", body={"images": [IMAGE], "first": "/v2/images"})
    cloud.neutron("GET", "/networks", body={"networks": [NETWORK]})
    assert client.get(path).status_code == 200
    assert client.get("/api/v1/flavor").status_code == 200


def test_nova_500_on_create_is_502_with_nova_request_id(client, cloud):
    """What real Nova answers to a create while Neutron is down (tests/cloud/test_cloud_neutron_outage.py)."""
    message = (
        "Unexpected API Error. Please contact the administrator\n"
        "<class 'keystoneauth1.exceptions.connection.ConnectFailure'>"
    )
    post = cloud.nova("POST", "/servers", status=500, body=nova_error(500, message))

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 502
    assert response.json["code"] == "upstream_error"
    assert response.json["upstream_status"] == 500
    assert response.json["upstream_request_id"] == "req-upstream-1"
    assert "Unexpected API Error" not in response.json["message"]  # Nova's internals stay in the logs
    assert "keystoneauth1" not in response.get_data(as_text=True)
    assert post.call_count == 1


# -- a create whose answer is lost ------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout])
def test_a_create_without_answer_is_504_naming_the_server_and_never_resent(client, cloud, timeout):
    post = cloud.nova("POST", "/servers", exc=timeout)

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 504
    assert response.json["code"] == "upstream_timeout"
    assert response.json["server_name"] == "web-1"
    assert response.json["idempotency_key"] is None
    assert "may have been created" in response.json["message"]
    assert "GET /api/v1/server?name=web-1" in response.json["message"]
    assert post.call_count == 1  # no blind retry
    assert cloud.sent("POST", "nova.test") == [f"POST {NOVA}/servers"]


def test_a_keyed_create_without_answer_says_to_retry_with_the_key(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": []})
    post = cloud.nova("POST", "/servers", exc=requests.exceptions.ReadTimeout)

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": "order-1"})

    assert response.status_code == 504
    assert response.json["idempotency_key"] == "order-1"
    assert "same Idempotency-Key" in response.json["message"]
    assert post.call_count == 1


# -- the service token revoked under concurrent load -----------------------------------------------------
#
# requests-mock sends one request at a time (a global lock), so these requests cannot be in flight together
# there: a small threaded HTTP server plays Keystone and Nova instead, with the same wire-format JSON.


class RevokingCloud(ThreadingHTTPServer):
    """Keystone issuing a new token per authentication, and Nova refusing the revoked ones."""

    daemon_threads = True

    def __init__(self, concurrent: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_port}"
        self.lock = threading.Lock()
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.refused = 0  # Nova's 401s
        self.in_flight = threading.Barrier(concurrent, timeout=20)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def document(self, name: str) -> bytes:
        text = (FIXTURES / name).read_text()
        for host in ("http://nova.test", "http://glance.test", "http://neutron.test", "http://keystone.test"):
            text = text.replace(host, self.url)
        return text.encode()

    def token(self) -> dict:
        catalog = {
            "compute": ("nova", f"{self.url}/v2.1"),
            "image": ("glance", self.url),
            "network": ("neutron", self.url),
        }
        return make_token(catalog, user_id="u", project_id="p")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RevokingCloud

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v3/auth/tokens"
        with self.server.lock:
            self.server.issued.append(f"token-{len(self.server.issued) + 1}")
            token = self.server.issued[-1]
        self.answer(201, json.dumps(self.server.token()).encode(), {"X-Subject-Token": token})

    def do_GET(self) -> None:
        documents = {"/v2.1": "nova_version_v2.1.json", "/": "glance_versions.json", "/v2.0": "neutron_v2.0.json"}
        path = self.path.split("?", 1)[0]
        if path in documents:
            self.answer(300 if path == "/" else 200, self.server.document(documents[path]))
        elif path == "/v2.1/flavors/detail":
            if self.headers["X-Auth-Token"] in self.server.revoked:
                self.server.in_flight.wait()  # every request is now in flight with the revoked token
                with self.server.lock:
                    self.server.refused += 1
                error = {"error": {"code": 401, "message": "The request you have made requires authentication."}}
                self.answer(401, json.dumps(error).encode())
            else:
                self.answer(200, json.dumps({"flavors": [make_fake_flavor()]}).encode())
        else:
            self.answer(404, b"{}")


@pytest.fixture
def revoking_cloud() -> Iterator[RevokingCloud]:
    server = RevokingCloud(concurrent=32)
    yield server
    server.shutdown()
    server.server_close()


def test_the_service_token_revoked_under_32_concurrent_requests_fails_none(revoking_cloud):
    """All 32 requests reach Nova with the revoked token and get 401 together: keystoneauth's own
    re-authentication lets only some through, the gateway's one retry the rest."""
    settings = {"AUTH_URL": f"{revoking_cloud.url}/v3", "THREADS": "32", "CATALOG_CACHE_SECONDS": "0"}
    client = create_app({**CREDENTIALS, **settings}).test_client()  # each flavor list asks Nova: no catalog cache
    assert client.get("/api/v1/flavor").status_code == 200  # warm: one token
    revoking_cloud.revoked.add(revoking_cloud.issued[-1])

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: client.get("/api/v1/flavor"), range(32)))

    assert [a.status_code for a in answers] == [200] * 32, [a.json for a in answers if a.status_code != 200]
    assert revoking_cloud.refused == 32  # each request once with the revoked token, never again
    assert len(revoking_cloud.issued) >= 2

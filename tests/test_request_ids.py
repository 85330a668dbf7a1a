"""One request id per call: in our answer, in our error bodies, and on every request we send OpenStack."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack_client import create_app
from tests.fakes import (
    KEYSTONE,
    make_create_response,
    make_fake_flavor,
    make_fake_image,
    make_fake_network,
    make_fake_server,
)

FORM = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CALLER_ID = "req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e"
UPSTREAM_HEADER = "X-OpenStack-Request-ID"


def upstream_ids(cloud):
    return [r.headers.get(UPSTREAM_HEADER) for r in cloud.history]


def test_every_answer_has_a_generated_id(client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    first, second = client.get("/api/v1/flavor"), client.get("/api/v1/flavor")

    assert FORM.match(first.headers["X-Request-Id"])
    assert FORM.match(second.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert FORM.match(client.get("/").headers["X-Request-Id"])  # the Swagger UI too


def test_the_callers_id_is_kept_and_sent_on_every_upstream_call(client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    response = client.get("/api/v1/flavor", headers={"X-Request-Id": CALLER_ID})

    assert response.headers["X-Request-Id"] == CALLER_ID
    # The token, each service's version discovery, then the list itself.
    assert cloud.history[0].url == f"{KEYSTONE}/auth/tokens"
    assert len(cloud.history) == 5
    assert upstream_ids(cloud) == [CALLER_ID] * 5


def test_nova_glance_and_neutron_each_receive_it(client, cloud):
    server = make_fake_server(name="web-1", status="BUILD")
    image, network = make_fake_image(name="cirros"), make_fake_network(name="private")
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [image], "first": "/v2/images"})
    cloud.glance("GET", "/images/cirros", status=404, body={})
    cloud.nova("GET", "/flavors/m1.tiny", body={"flavor": make_fake_flavor(name="m1.tiny")})
    cloud.neutron("GET", "/networks?name=private", body={"networks": [network]})
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server["id"]))
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    warm_up = 4

    response = client.post(
        "/api/v1/server",
        json={"name": "web-1", "image": "cirros", "flavor": "m1.tiny", "network": "private"},
        headers={"X-Request-Id": CALLER_ID},
    )

    assert response.status_code == 201, response.json
    hosts = {r.hostname for r in cloud.history[warm_up:]}
    assert hosts == {"nova.test", "glance.test", "neutron.test"}
    assert upstream_ids(cloud) == [CALLER_ID] * len(cloud.history)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "req-not-a-uuid",
        "6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e",  # no "req-"
        "req-6B0A2A53-3B7E-4B58-9C44-6D4A0D3C3F0E",  # oslo.middleware only takes lowercase
        CALLER_ID + ";x",
        "req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e-and-more",
        "x" * 5000,
    ],
)
def test_an_id_of_another_form_is_replaced(client, cloud, value):
    cloud.nova("GET", "/flavors/detail", body={"flavors": []})

    response = client.get("/api/v1/flavor", headers={"X-Request-Id": value})

    ours = response.headers["X-Request-Id"]
    assert FORM.match(ours)
    assert ours != value
    assert upstream_ids(cloud) == [ours] * len(cloud.history)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("PUT", "/api/v1/flavor", 405),
        ("POST", "/api/v1/server", 400),  # no body
    ],
)
def test_error_bodies_carry_the_id(client, cloud, method, path, status):
    response = client.open(path, method=method, headers={"X-Request-Id": CALLER_ID})

    assert response.status_code == status
    assert response.json["request_id"] == CALLER_ID == response.headers["X-Request-Id"]


def test_upstream_errors_carry_ours_and_theirs(client, cloud):
    cloud.nova("GET", "/flavors/detail", status=500, body={"computeFault": {"code": 500, "message": "boom"}})

    response = client.get("/api/v1/flavor", headers={"X-Request-Id": CALLER_ID})

    assert response.status_code == 502
    assert response.json["request_id"] == CALLER_ID
    assert response.json["upstream_request_id"] == "req-upstream-1"


def test_credentials_missing_carries_the_id_without_any_upstream_call(cloud):
    response = create_app({}).test_client().get("/api/v1/server")

    assert response.status_code == 403
    assert FORM.match(response.json["request_id"])
    assert response.json["request_id"] == response.headers["X-Request-Id"]
    assert cloud.history == []


def test_concurrent_requests_each_send_their_own(app, cloud):
    servers = [make_fake_server(name=f"vm-{i}") for i in range(24)]
    for server in servers:
        cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    app.test_client().get(f"/api/v1/server/{servers[0]['id']}")  # warm up: one token, one discovery
    warm = len(cloud.history)
    ids = {server["id"]: f"req-00000000-0000-4000-8000-{i:012d}" for i, server in enumerate(servers)}

    def show(server):
        response = app.test_client().get(f"/api/v1/server/{server['id']}", headers={"X-Request-Id": ids[server["id"]]})
        return response.headers["X-Request-Id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = list(pool.map(show, servers))

    assert answered == [ids[s["id"]] for s in servers]
    for sent in cloud.history[warm:]:  # the server, then its ports (for its groups' ids)
        server_id = sent.qs["device_id"][0] if sent.path.endswith("/ports") else sent.path.rsplit("/", 1)[-1]
        assert sent.headers[UPSTREAM_HEADER] == ids[server_id]


def test_a_trailing_newline_is_not_the_openstack_form():
    from devstack_client.tracing import accept_request_id

    assert accept_request_id(CALLER_ID) == CALLER_ID
    assert accept_request_id(CALLER_ID + "\n") != CALLER_ID + "\n"

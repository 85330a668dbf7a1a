"""A server shown by id asks Nova for it and Neutron for its ports' groups at once (services/_beside.py)."""

import logging
import threading
import time

from bench import fakecloud
from bench.__main__ import fake_credentials
from devstack_client import create_app
from tests.fakes import DEFAULT_GROUP_ID, NEUTRON, NOVA, SERVER_ID, make_fake_server, neutron_error
from tests.neutron_fakes import make_fake_security_group

PORTS = f"GET {NEUTRON}/v2.0/ports?device_id={{}}&fields=security_groups"
OTHER_ID = "0b2f4e1c-5d6a-4b7c-8d9e-0f1a2b3c4d5e"


def test_a_show_by_id_has_nova_and_neutron_answer_at_once():
    """Over real HTTP (requests-mock answers one request at a time): Nova holds the show until released, and
    Neutron's ports call arrives meanwhile. Asked one after the other, it would come only after the release."""
    httpd, fake = fakecloud.serve(servers=3, latency=0)
    server_id = fakecloud.server_id(1)
    try:
        client = create_app(fake_credentials(fake.base)).test_client()
        assert client.get("/api/v1/flavor").status_code == 200  # the token and Nova's discovery, before the hold
        fake.stall(rf"/servers/{server_id}$", seconds=10)
        answers = []
        show = threading.Thread(target=lambda: answers.append(client.get(f"/api/v1/server/{server_id}")))
        show.start()
        deadline = time.monotonic() + 10
        while not fake.counts["GET /network/v2.0/ports"] and time.monotonic() < deadline:
            time.sleep(0.01)
        ports_while_nova_held = fake.counts["GET /network/v2.0/ports"]
        fake.stall(None, 0)  # Nova answers now
        show.join(timeout=10)
    finally:
        fake.stall(None, 0)
        httpd.shutdown()
        httpd.server_close()

    assert ports_while_nova_held == 1
    assert answers[0].status_code == 200
    assert answers[0].json["security_groups"] == [{"id": DEFAULT_GROUP_ID, "name": "default"}]
    assert fake.counts["GET /compute/v2.1/servers/{id}"] == 1


def test_the_calls_beside_carry_the_request_id_and_count_in_the_access_log(client, cloud, caplog):
    caplog.set_level(logging.INFO, logger="devstack_client.access")
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})
    request_id = "req-2b6e4c1a-9d3f-4e5a-8b7c-6d5e4f3a2b1c"
    client.get(f"/api/v1/server/{SERVER_ID}")  # the token and the services' discovery, counted in its log line
    caplog.clear()
    cloud.mocker.reset_mock()

    response = client.get(f"/api/v1/server/{SERVER_ID}", headers={"X-Request-Id": request_id})

    assert response.status_code == 200
    sent = {f"GET {r.url}": r.headers.get("X-OpenStack-Request-ID") for r in cloud.history}
    assert sent[PORTS.format(SERVER_ID)] == sent[f"GET {NOVA}/servers/{SERVER_ID}"] == request_id
    assert f"GET /api/v1/server/{SERVER_ID} 200 in" in caplog.text
    assert "ms, 2 upstream calls" in caplog.text


def test_a_show_by_name_asks_for_the_ports_of_the_server_found(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server(SERVER_ID, name="web-1")]})

    response = client.get("/api/v1/server/web-1")

    assert response.status_code == 200
    assert response.json["security_groups"] == [{"id": DEFAULT_GROUP_ID, "name": "default"}]
    assert cloud.api_calls() == [f"GET {NOVA}/servers/detail?name=%5Eweb%5C-1%24", PORTS.format(SERVER_ID)]


def test_a_server_named_like_an_id_gets_its_own_ports_groups(client, cloud):
    """No server has the id SERVER_ID, but one is named so: the groups are its own ports', not SERVER_ID's."""
    web = make_fake_security_group(name="web")
    named = make_fake_server(OTHER_ID, name=SERVER_ID, security_groups=[{"name": "web"}])
    cloud.nova("GET", f"/servers/{SERVER_ID}", status=404, body={"itemNotFound": {"code": 404, "message": "x"}})
    cloud.nova("GET", "/servers/detail", body={"servers": [named]})
    cloud.neutron("GET", f"/ports?device_id={SERVER_ID}", body={"ports": []})
    cloud.neutron("GET", f"/ports?device_id={OTHER_ID}", body={"ports": [{"security_groups": [web["id"]]}]})

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.status_code == 200
    assert response.json["id"] == OTHER_ID
    assert response.json["security_groups"] == [{"id": web["id"], "name": "web"}]
    assert cloud.api_calls()[-1] == PORTS.format(OTHER_ID)


def test_a_missing_server_answers_404_once_the_call_beside_has_ended(client, cloud):
    ended = threading.Event()

    def slow_ports(request, context):
        time.sleep(0.2)
        ended.set()
        return {"ports": []}

    cloud.nova("GET", f"/servers/{SERVER_ID}", status=404, body={"itemNotFound": {"code": 404, "message": "x"}})
    cloud.nova("GET", "/servers/detail", body={"servers": []})
    cloud.neutron("GET", f"/ports?device_id={SERVER_ID}", json=slow_ports)

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert ended.is_set()  # nothing of this request still runs after its answer


def test_a_server_without_groups_is_shown_whatever_neutron_says(client, cloud):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, security_groups=[])})
    cloud.neutron("GET", "/ports", status=500, body=neutron_error("HTTPInternalServerError", "boom"))

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.status_code == 200
    assert response.json["security_groups"] == []

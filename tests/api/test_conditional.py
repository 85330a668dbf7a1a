"""Conditional reads and writes: ETag, Cache-Control and Vary on every GET; 304; If-Match and 412."""

from __future__ import annotations

import pytest

from devstack_client import create_app
from tests.fakes import CREDENTIALS, NEUTRON, NOVA, SERVER_ID, make_fake_flavor, make_fake_server


@pytest.fixture
def app(cloud):
    # A flavor list stands for any GET here: without the catalog cache, each one asks Nova.
    return create_app({**CREDENTIALS, "CATALOG_CACHE_SECONDS": "0"})


@pytest.fixture
def flavors(cloud):
    return cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})


def test_a_get_carries_an_etag_cache_control_and_vary(client, cloud, flavors):
    response = client.get("/api/v1/flavor")

    assert response.status_code == 200
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) == 34
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert {"Authorization", "X-Auth-Token"} <= set(response.vary)


def test_the_same_content_has_the_same_etag_and_other_content_another(client, cloud):
    pages = [{"flavors": [make_fake_flavor()]}, {"flavors": [make_fake_flavor()]}, {"flavors": []}]
    cloud.mocker.get(f"{NOVA}/flavors/detail", [{"json": page} for page in pages])

    tags = [client.get("/api/v1/flavor").headers["ETag"] for _ in pages]

    assert tags[0] == tags[1] != tags[2]


def test_if_none_match_with_the_etag_is_304_without_a_body(client, cloud, flavors):
    tag = client.get("/api/v1/flavor").headers["ETag"]

    response = client.get("/api/v1/flavor", headers={"If-None-Match": f'"other", {tag}'})

    assert response.status_code == 304
    assert response.get_data() == b"" and "Content-Type" not in response.headers
    assert response.headers["ETag"] == tag and response.headers["Cache-Control"] == "private, no-cache"
    assert flavors.call_count == 2  # OpenStack is asked each time: only the answer is saved


def test_if_none_match_with_another_etag_is_the_full_answer(client, cloud, flavors):
    response = client.get("/api/v1/flavor", headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200 and response.json["flavors"]


def test_errors_carry_no_etag(client, cloud):
    cloud.nova("GET", "/flavors/detail", status=400, body={"badRequest": {"code": 400, "message": "marker not found"}})

    response = client.get("/api/v1/flavor")

    assert response.status_code == 400 and "ETag" not in response.headers


def test_the_vary_of_cors_is_kept(cloud, flavors):
    # flask-cors varies on Origin when the answer depends on it: with several origins allowed
    client = create_app({**CREDENTIALS, "CORS_ORIGINS": "https://a.example,https://dash.example"}).test_client()

    response = client.get("/api/v1/flavor", headers={"Origin": "https://dash.example"})

    # flask-cors adds its own Vary line; HTTP reads several lines of a list header as one list
    varied = {name.strip() for line in response.headers.getlist("Vary") for name in line.split(",")}
    assert {"Origin", "Authorization", "X-Auth-Token"} <= varied


# -- If-Match: a change to the version the caller read, or 412 ---------------------------------------------------


def shown(client, cloud, server):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    return client.get(f"/api/v1/server/{SERVER_ID}").headers["ETag"]


def test_an_edit_with_the_etag_it_read_goes_through(client, cloud):
    server = make_fake_server(SERVER_ID, name="web-1")
    tag = shown(client, cloud, server)
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": {**server, "name": "web-2"}})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"name": "web-2"}, headers={"If-Match": tag})

    assert response.status_code == 200 and response.json["name"] == "web-2"
    assert put.call_count == 1


def test_an_edit_of_a_server_changed_since_it_was_read_is_412_and_changes_nothing(client, cloud):
    server = make_fake_server(SERVER_ID, name="web-1")
    tag = shown(client, cloud, server)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": {**server, "name": "renamed-by-someone"}})
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": server})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"name": "web-2"}, headers={"If-Match": tag})

    assert response.status_code == 412
    assert response.json["code"] == "precondition_failed"
    assert response.json["etag"] != tag and response.json["etag"].startswith('"')
    assert put.call_count == 0


def test_an_action_on_a_server_changed_since_it_was_read_is_412_and_sends_nothing(client, cloud):
    server = make_fake_server(SERVER_ID)
    tag = shown(client, cloud, server)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": {**server, "status": "SHUTOFF"}})
    action = cloud.nova("POST", f"/servers/{SERVER_ID}/action", status=202)

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "stop"}, headers={"If-Match": tag})

    assert response.status_code == 412 and action.call_count == 0


def test_without_if_match_an_edit_reads_nothing_first(client, cloud):
    server = make_fake_server(SERVER_ID, name="web-2")
    cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": server})

    client.patch(f"/api/v1/server/{SERVER_ID}", json={"name": "web-2"})

    assert cloud.api_calls() == [f"PUT {NOVA}/servers/{SERVER_ID}"]


def test_an_edit_by_name_with_if_match_looks_the_name_up_once(client, cloud):
    server = make_fake_server(SERVER_ID, name="web-1")
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    tag = client.get("/api/v1/server/web-1").headers["ETag"]
    cloud.mocker.reset_mock()
    cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": {**server, "name": "web-2"}})

    response = client.patch("/api/v1/server/web-1", json={"name": "web-2"}, headers={"If-Match": tag})

    assert response.status_code == 200
    assert cloud.api_calls() == [
        f"GET {NOVA}/servers/detail?name=%5Eweb%5C-1%24",
        f"GET {NEUTRON}/v2.0/ports?device_id={SERVER_ID}&fields=security_groups",  # the groups' ids: in the ETag
        f"PUT {NOVA}/servers/{SERVER_ID}",
    ]


def test_if_match_star_matches_any_version(client, cloud):
    server = make_fake_server(SERVER_ID)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    action = cloud.nova("POST", f"/servers/{SERVER_ID}/action", status=202)

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "stop"}, headers={"If-Match": "*"})

    assert response.status_code == 202 and action.call_count == 1


def test_the_spec_documents_304_on_every_json_read(client):
    paths = client.get("/swagger.json").json["paths"]

    reads = {path: ops["get"] for path, ops in paths.items() if path.startswith("/api/") and "get" in ops}
    assert reads and all("304" in op["responses"] for path, op in reads.items() if not path.endswith("/events"))
    assert "304" not in paths["/api/v1/server/events"]["get"]["responses"]  # a stream is never 304

"""What the fuzzer (test_fuzz.py) and the bad-input corpus found, each kept as a plain regression test."""

from __future__ import annotations

import requests

from devstack_client import create_app
from tests.fakes import KEYSTONE, make_fake_flavor, neutron_error


def spec(client):
    return client.get("/swagger.json").json


def test_a_ref_of_dot_segments_never_leaves_its_upstream_path(client, cloud):
    # HTTP clients resolve "." and ".." in a URL: DELETE /api/v1/keypair/.. went out as DELETE /v2.1/.
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    deleted = client.delete("/api/v1/keypair/..")
    shown = client.get("/api/v1/flavor/.")

    assert (deleted.status_code, deleted.json["code"]) == (404, "not_found")
    assert (shown.status_code, shown.json["code"]) == (404, "not_found")
    assert cloud.api_calls() == ["GET http://nova.test/v2.1/flavors/detail?limit=1000"]  # by name only


def test_a_bad_query_is_a_400_even_when_openstack_is_unreachable(client, cloud):
    # The list endpoints connected to OpenStack (first call of a worker) before reading their query: a 503.
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", exc=requests.exceptions.ConnectionError)

    for path in ("/api/v1/flavor", "/api/v1/image", "/api/v1/network", "/api/v1/server"):
        response = client.get(f"{path}?limit=0")

        assert response.status_code == 400, (path, response.json)
        assert response.json["errors"][0]["field"] == "limit"
    assert cloud.history == []


def test_answer_fields_that_may_be_null_say_so(client):
    definitions = spec(client)["definitions"]

    assert definitions["ServerList"]["properties"]["next_marker"]["x-nullable"] is True
    assert definitions["Server"]["properties"]["key_name"]["x-nullable"] is True
    assert definitions["Server"]["properties"]["fault"] == {
        "allOf": [{"$ref": "#/definitions/Fault"}],
        "description": "Why the server is in ERROR; null otherwise",
        "x-nullable": True,
    }
    assert definitions["Limit"]["properties"]["max"]["x-nullable"] is True
    # what an error always has, and what a caller sends, is never null
    assert "x-nullable" not in definitions["Error"]["properties"]["code"]
    assert "x-nullable" not in definitions["ServerCreate"]["properties"]["name"]


def test_the_spec_documents_every_answer_the_fuzzer_met(client):
    paths = spec(client)["paths"]

    # the probes are open (auth guards /api/ only)
    assert paths["/healthz"]["get"]["security"] == [] and paths["/readyz"]["get"]["security"] == []
    # a server list filtered by an ambiguous image or flavor name
    assert "409" in paths["/api/v1/server"]["get"]["responses"]
    # unknown query parameters, everywhere; bodies too large or not JSON, wherever a body is read
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path.startswith("/api/") and method != "parameters":
                assert "400" in operation["responses"], (method, path)
                has_body = any(p["in"] == "body" for p in operation.get("parameters", []))
                assert has_body == ("415" in operation["responses"]) == ("413" in operation["responses"])
    lines = next(p for p in paths["/api/v1/server/{ref}/console-log"]["parameters"] if p["name"] == "lines")
    assert (lines["minimum"], lines["maximum"], lines["default"]) == (1, 10000, 50)


def test_a_not_ready_answer_has_a_code_and_message_like_every_error(cloud):
    client = create_app({"APP_SECRET_KEY": "x"}).test_client()  # no credentials: not ready

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json["code"] == "not_ready"
    assert response.json["message"] == response.json["reason"]
    assert client.get("/readyz").json["ready"] is False


def test_an_unknown_network_marker_is_a_400_like_the_other_lists(client, cloud):
    # Found on the real cloud: Neutron answers an unknown marker with 404 NetworkNotFound, which the
    # gateway passed on as an undocumented 404 (Nova and Glance answer 400).
    cloud.neutron(
        "GET",
        "/networks?marker=nope",
        status=404,
        body=neutron_error("NetworkNotFound", "Network nope could not be found."),
    )

    response = client.get("/api/v1/network?marker=nope")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert response.json["errors"][0]["field"] == "marker"
    assert "Network nope could not be found." in response.json["message"]

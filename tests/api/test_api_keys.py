"""Gateway API keys: every /api/v1 call needs one; readers only read."""

import logging

import pytest

from devstack_client import create_app
from devstack_client.apikeys import new_key
from tests.fakes import (
    CREATE,
    CREDENTIALS,
    NEUTRON,
    NOVA,
    SERVER_ID,
    make_create_response,
    make_fake_flavor,
    make_fake_server,
)

READER, READER_LINE = new_key("reader", "dashboard")
OPERATOR, OPERATOR_LINE = new_key("operator", "ci bot")
CHALLENGE = 'Bearer realm="devstack-client"'


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(cloud, tmp_path):
    """A gateway with a reader key in API_KEYS_FILE and an operator key in API_KEYS."""
    keys = tmp_path / "keys"
    keys.write_text(f"# who may call\n{READER_LINE}\n\n")
    return create_app({**CREDENTIALS, "API_KEYS_FILE": str(keys), "API_KEYS": OPERATOR_LINE}).test_client()


@pytest.fixture
def flavors(cloud):
    return cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("dsk_not-a-key-of-ours"),
        {"Authorization": f"Basic {READER}"},  # a key, but not as a bearer token
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {READER[:-1]}"},
    ],
    ids=["missing", "unknown", "wrong-scheme", "empty", "truncated"],
)
def test_no_valid_key_is_401_with_a_challenge(keyed, cloud, flavors, headers):
    response = keyed.get("/api/v1/flavor", headers=headers)

    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert "Authorization: Bearer <key>" in response.json["message"]
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert cloud.history == []  # refused before any upstream call


def test_unknown_urls_under_the_api_are_401_too(keyed):
    assert keyed.get("/api/v1/nothing-here").status_code == 401


@pytest.mark.parametrize(
    "path", ["/api//v1/flavor", "/%61pi/v1/flavor", "/api/v1/./flavor", "/x/../api/v1/flavor", "/API/v1/flavor"]
)
def test_odd_spellings_of_an_api_url_get_no_further_without_a_key(keyed, cloud, flavors, path):
    assert keyed.get(path).status_code in (401, 404)
    assert cloud.history == []


@pytest.mark.parametrize("key", [READER, OPERATOR], ids=["reader", "operator"])
def test_any_key_may_read(keyed, cloud, flavors, key):
    response = keyed.get("/api/v1/flavor", headers=bearer(key))

    assert response.status_code == 200
    assert response.json["flavors"][0]["name"] == "m1.tiny"
    assert flavors.call_count == 1
    # The gateway's own identity acts upstream, never the key.
    assert flavors.last_request.headers["X-Auth-Token"] != key
    assert "Authorization" not in flavors.last_request.headers


def test_reader_may_head_and_options(keyed, cloud, flavors):
    assert keyed.head("/api/v1/flavor", headers=bearer(READER)).status_code == 200
    assert keyed.options("/api/v1/server").status_code == 200  # CORS preflights carry no credentials


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/v1/server"), ("DELETE", f"/api/v1/server/{SERVER_ID}")], ids=["post", "delete"]
)
def test_reader_may_not_write(keyed, cloud, method, path):
    response = keyed.open(path, method=method, headers=bearer(READER), json=CREATE)

    assert response.status_code == 403
    assert response.json == {
        "code": "forbidden_role",
        "message": f"This API key has the role 'reader', which may only read (GET); {method} needs 'operator'.",
        "role": "reader",
        "request_id": response.headers["X-Request-Id"],
    }
    assert cloud.history == []


def test_operator_may_create_and_delete(keyed, cloud):
    server = make_fake_server(SERVER_ID, name="web-1", status="BUILD")
    post = cloud.nova("POST", "/servers", status=202, body=make_create_response(SERVER_ID))
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    delete = cloud.nova("DELETE", f"/servers/{SERVER_ID}", status=204)

    created = keyed.post("/api/v1/server", headers=bearer(OPERATOR), json=CREATE)
    deleted = keyed.delete(f"/api/v1/server/{SERVER_ID}", headers=bearer(OPERATOR))

    assert (created.status_code, created.json["id"]) == (201, SERVER_ID)
    assert post.last_request.json()["server"]["name"] == "web-1"
    assert deleted.status_code == 204
    assert delete.call_count == 1
    assert cloud.api_calls_by_show() == [
        f"POST {NOVA}/servers",
        f"GET {NOVA}/servers/{SERVER_ID}",
        f"GET {NEUTRON}/v2.0/ports?device_id={SERVER_ID}&fields=security_groups",  # its groups' ids
        f"DELETE {NOVA}/servers/{SERVER_ID}",
    ]


def test_swagger_ui_and_spec_stay_open(keyed, cloud):
    assert keyed.get("/").status_code == 200
    spec = keyed.get("/swagger.json")

    assert spec.status_code == 200
    assert spec.json["securityDefinitions"] == {
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A gateway API key, typed as `Bearer <key>`",
        },
    }
    # Keys only: the spec declares no Keystone token, which this gateway would refuse.
    assert spec.json["security"] == [{"apiKey": []}]
    assert "401" in spec.json["paths"]["/api/v1/server"]["get"]["responses"]
    assert cloud.history == []


def test_without_keys_the_api_stays_open(client, cloud, flavors):
    # No keys configured: an Authorization header is someone else's business.
    assert client.get("/api/v1/flavor").status_code == 200
    assert client.get("/api/v1/flavor", headers=bearer("anything")).status_code == 200


def test_keys_never_reach_the_logs(keyed, cloud, flavors, caplog):
    caplog.set_level(logging.DEBUG)
    cloud.nova("DELETE", f"/servers/{SERVER_ID}", status=204)
    keyed.get("/api/v1/flavor", headers=bearer(READER))
    keyed.post("/api/v1/server", headers=bearer(READER), json=CREATE)
    keyed.get("/api/v1/flavor", headers=bearer(OPERATOR + "x"))
    keyed.delete(f"/api/v1/server/{SERVER_ID}", headers=bearer(OPERATOR))

    # Refusals and writes are logged by the key's label, never the key.
    assert "refused GET /api/v1/flavor from 127.0.0.1: unknown API key" in caplog.text
    assert "refused POST /api/v1/server: key 'dashboard' is a reader" in caplog.text
    assert f"DELETE /api/v1/server/{SERVER_ID} by key 'ci bot' (operator)" in caplog.text
    for secret in (READER, OPERATOR, READER_LINE.split()[0], OPERATOR_LINE.split()[0][7:]):
        assert secret not in caplog.text

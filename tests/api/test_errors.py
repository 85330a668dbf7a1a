"""Every error answer: credentials, upstream failures, bad URLs."""

import logging

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from devstack_client import create_app
from tests.fakes import CREATE, CREDENTIALS, KEYSTONE, NOVA, make_fake_flavor, nova_error


def test_no_credentials_is_403_naming_the_variables(cloud):
    client = create_app({"APP_SECRET_KEY": "x"}).test_client()

    response = client.get("/api/v1/flavor")

    assert response.status_code == 403
    assert response.json["code"] == "credentials_missing"
    assert response.json["missing"] == ["AUTH_URL", "USERNAME", "PASSWORD", "PROJECT_ID"]
    for name in ("AUTH_URL", "USERNAME", "PASSWORD", "PROJECT_ID", "OS_CLOUD"):
        assert name in response.json["message"]
    assert cloud.history == []


def test_incomplete_credentials_name_what_is_missing(cloud):
    client = create_app({"AUTH_URL": KEYSTONE, "USERNAME": "gateway"}).test_client()

    response = client.get("/api/v1/server")

    assert response.status_code == 403
    assert response.json["missing"] == ["PASSWORD", "PROJECT_ID"]
    assert "PASSWORD, PROJECT_ID" in response.json["message"]


def test_swagger_works_without_credentials(cloud):
    client = create_app({}).test_client()

    assert client.get("/").status_code == 200
    assert client.get("/swagger.json").status_code == 200


def test_wrong_password_is_403_naming_user_and_keystone(client, cloud, caplog):
    caplog.set_level(logging.DEBUG)
    cloud.mocker.post(
        f"{KEYSTONE}/auth/tokens",
        status_code=401,
        json={
            "error": {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }
        },
        headers={"x-openstack-request-id": "req-keystone-401"},
    )

    response = client.get("/api/v1/flavor")

    assert response.status_code == 403
    assert response.json["code"] == "authentication_failed"
    assert "user 'gateway' at Keystone http://keystone.test/v3" in response.json["message"]
    assert CREDENTIALS["PASSWORD"] not in response.get_data(as_text=True)
    assert CREDENTIALS["PASSWORD"] not in caplog.text
    sent = cloud.history[0].json()["auth"]["identity"]["password"]["user"]
    assert sent["name"] == "gateway"
    assert sent["domain"] == {"name": "Default"}


def test_keystone_unreachable_is_503_and_the_gateway_recovers(client, cloud):
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", exc=requests.exceptions.ConnectionError)

    response = client.get("/api/v1/flavor")

    assert response.status_code == 503
    assert response.json["code"] == "upstream_unreachable"
    assert response.headers["Retry-After"] == "5"
    assert "keystone.test" not in response.get_data(as_text=True)

    FakeCloudAgain = type(cloud)  # Keystone is back: the same app connects by itself
    FakeCloudAgain(cloud.mocker)
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    assert client.get("/api/v1/flavor").status_code == 200


@pytest.mark.parametrize("exc", [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout])
def test_timeouts_are_504(client, cloud, exc):
    cloud.nova("GET", "/flavors/detail", exc=exc)

    response = client.get("/api/v1/flavor")

    assert response.status_code == 504
    assert response.json == {
        "code": "upstream_timeout",
        "message": "OpenStack did not answer in time (connect timeout 5 s, read timeout 60 s).",
        "request_id": response.headers["X-Request-Id"],
    }


def test_a_get_on_a_connection_closed_while_idle_is_sent_again(client, cloud):
    # what urllib3 raises when a pooled keep-alive connection was closed by the server
    dropped = requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())")
    flavors = cloud.mocker.get(
        f"{NOVA}/flavors/detail", [{"exc": dropped}, {"json": {"flavors": [make_fake_flavor()]}}]
    )

    response = client.get("/api/v1/flavor")

    assert response.status_code == 200
    assert flavors.call_count == 2


def test_a_get_is_sent_again_only_once(client, cloud):
    flavors = cloud.nova("GET", "/flavors/detail", exc=requests.exceptions.ConnectionError)

    response = client.get("/api/v1/flavor")

    assert (response.status_code, response.json["code"]) == (503, "upstream_unreachable")
    assert flavors.call_count == 2


def test_a_create_on_a_dropped_connection_is_never_sent_again_and_may_exist(client, cloud):
    dropped = requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())")
    create = cloud.nova("POST", "/servers", exc=dropped)

    response = client.post("/api/v1/server", json=CREATE)

    assert (response.status_code, response.json["code"]) == (503, "upstream_unreachable")
    assert create.call_count == 1  # it may have arrived: a second POST could make a second server
    assert response.json["server_name"] == "web-1"
    assert "it may have been created" in response.json["message"]
    assert "GET /api/v1/server?name=web-1" in response.json["message"]


def test_a_create_whose_connection_was_refused_is_plainly_unreachable(client, cloud):
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    create = cloud.nova(
        "POST", "/servers", exc=requests.exceptions.ConnectionError(MaxRetryError(None, "/servers", refused))
    )

    response = client.post("/api/v1/server", json=CREATE)

    assert (response.status_code, response.json["code"]) == (503, "upstream_unreachable")
    assert create.call_count == 1
    assert "server_name" not in response.json  # nothing reached Nova: nothing to look for


@pytest.mark.parametrize("exc", [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout])
def test_a_timed_out_get_is_not_sent_again(client, cloud, exc):
    flavors = cloud.nova("GET", "/flavors/detail", exc=exc)

    assert client.get("/api/v1/flavor").status_code == 504
    assert flavors.call_count == 1


def test_every_upstream_call_has_the_configured_timeouts(cloud):
    client = create_app({**CREDENTIALS, "CONNECT_TIMEOUT": "2", "READ_TIMEOUT": "7.5"}).test_client()
    cloud.nova("GET", "/flavors/detail", body={"flavors": []})

    client.get("/api/v1/flavor")

    assert {r.timeout for r in cloud.history} == {(2.0, 7.5)}


@pytest.mark.parametrize(
    ("upstream", "status", "code"),
    [
        (500, 502, "upstream_error"),
        (502, 502, "upstream_error"),
        (503, 503, "upstream_unavailable"),
        (429, 503, "upstream_unavailable"),
        (403, 403, "forbidden"),
        (409, 409, "conflict"),
        (406, 502, "upstream_error"),
    ],
)
def test_upstream_errors(client, cloud, upstream, status, code):
    cloud.nova("GET", "/flavors/detail", status=upstream, body=nova_error(upstream, "Something upstream."))

    response = client.get("/api/v1/flavor")

    assert response.status_code == status
    assert response.json["code"] == code
    # A 5xx message is OpenStack's internals: it stays in our log (the request id finds it in theirs).
    assert ("Something upstream." in response.json["message"]) == (upstream < 500)
    assert response.json["upstream_status"] == upstream
    assert response.json["upstream_request_id"] == "req-upstream-1"
    assert "nova.test" not in response.get_data(as_text=True)


def test_upstream_retry_after_is_passed_on(client, cloud):
    cloud.mocker.get(f"{NOVA}/flavors/detail", status_code=503, headers={"Retry-After": "30"}, text="busy")

    response = client.get("/api/v1/flavor")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


def test_a_401_from_nova_is_retried_once(client, cloud):
    flavors = cloud.mocker.get(
        f"{NOVA}/flavors/detail",
        [
            {"status_code": 401, "json": {"error": {"code": 401, "message": "Unauthorized"}}},
            {"status_code": 401, "json": {"error": {"code": 401, "message": "Unauthorized"}}},
            {"json": {"flavors": [make_fake_flavor()]}},
        ],
    )

    response = client.get("/api/v1/flavor")

    assert response.status_code == 200
    assert flavors.call_count == 3  # keystoneauth's own re-auth, then ours
    assert cloud.token_request.call_count >= 2


def test_a_persistent_401_from_nova_is_authentication_failed(client, cloud):
    cloud.nova("GET", "/flavors/detail", status=401, body={"error": {"code": 401, "message": "Unauthorized"}})

    response = client.get("/api/v1/flavor")

    assert response.status_code == 403
    assert response.json["code"] == "authentication_failed"


def test_old_nova_is_misconfigured(client, cloud):
    cloud.mocker.get(
        NOVA,
        json={
            "version": {
                "id": "v2.1",
                "status": "CURRENT",
                "version": "2.60",
                "min_version": "2.1",
                "links": [{"rel": "self", "href": f"{NOVA}/"}],
            }
        },
    )

    response = client.get("/api/v1/flavor")

    assert response.status_code == 503
    assert response.json["code"] == "misconfigured"
    assert "2.60" in response.json["message"]
    assert "2.79" in response.json["message"]


def test_service_missing_from_catalog_is_misconfigured(client, cloud):
    token = cloud.make_token()
    token["token"]["catalog"] = [s for s in token["token"]["catalog"] if s["type"] != "network"]
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", status_code=201, json=token, headers={"X-Subject-Token": "t"})

    response = client.get("/api/v1/network")

    assert response.status_code == 503
    assert response.json["code"] == "misconfigured"


def test_unknown_url_is_json_404(client):
    response = client.get("/api/v1/volumes")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert "/api/v1" in response.json["message"]


def test_wrong_method_is_json_405(client):
    response = client.put("/api/v1/server")

    assert response.status_code == 405
    assert response.json["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unexpected_failure_is_500_without_details(client, cloud, caplog):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [{"name": "no id"}]})

    response = client.get("/api/v1/flavor")

    assert response.status_code == 500
    assert response.json == {
        "code": "internal_error",
        "message": "The gateway failed unexpectedly; the error is logged.",
        "request_id": response.headers["X-Request-Id"],
    }
    assert "unexpected error on GET /api/v1/flavor" in caplog.text

"""Browsers on the configured origins may call the API; others get no CORS headers."""

import pytest

from devstack_client import create_app
from devstack_client.config import load
from tests.fakes import CREDENTIALS, make_create_response, make_fake_flavor, make_fake_server

DASHBOARD = "https://dash.example.org"
OTHER = "https://evil.example.net"


@pytest.fixture
def cors_client(cloud):
    return create_app({**CREDENTIALS, "CORS_ORIGINS": f"{DASHBOARD}, http://localhost:3000/"}).test_client()


def preflight(client, path, method, headers="Content-Type, Idempotency-Key, Authorization", origin=DASHBOARD):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_preflight_for_a_create_from_the_dashboard(cors_client, cloud):
    response = preflight(
        cors_client,
        "/api/v1/server",
        "POST",
        "Content-Type, Authorization, X-Auth-Token, Idempotency-Key, X-Request-Id",
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "authorization", "x-auth-token", "idempotency-key", "x-request-id"}
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]
    assert cloud.history == []  # a preflight never reaches OpenStack


def test_preflight_for_a_delete_by_name(cors_client, cloud):
    response = preflight(cors_client, "/api/v1/server/web-1", "DELETE", "X-Request-Id")

    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "DELETE" in response.headers["Access-Control-Allow-Methods"]


def test_preflight_for_a_conditional_edit(cors_client, cloud):
    # A dashboard's PATCH with If-Match, and its conditional GETs: PATCH was missing from the allowed methods.
    response = preflight(cors_client, "/api/v1/server/web-1", "PATCH", "Content-Type, If-Match, If-None-Match")

    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "if-match", "if-none-match"}


def test_preflight_refuses_other_headers(cors_client, cloud):
    response = preflight(cors_client, "/api/v1/server", "POST", "X-Something-Else")

    assert "Access-Control-Allow-Headers" not in response.headers


def test_simple_request_exposes_what_a_dashboard_reads(cors_client, cloud):
    server = make_fake_server(name="web-1", status="BUILD")
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server["id"]))
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    body = {"name": "web-1", "image_id": "i", "flavor_id": "1", "network_id": "n"}

    response = cors_client.post("/api/v1/server", json=body, headers={"Origin": DASHBOARD})

    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Location", "X-Request-Id", "Idempotent-Replayed", "Retry-After", "ETag"} <= exposed


def test_errors_carry_cors_headers_too(cors_client, cloud):
    cloud.nova("GET", "/flavors/detail", status=503, body={"message": "down"})

    response = cors_client.get("/api/v1/flavor", headers={"Origin": DASHBOARD})

    assert response.status_code == 503
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


def test_a_trailing_slash_in_the_setting_is_ignored(cors_client, cloud):
    response = cors_client.get("/healthz", headers={"Origin": "http://localhost:3000"})

    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_other_origins_get_no_cors_headers(cors_client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    simple = cors_client.get("/api/v1/flavor", headers={"Origin": OTHER})
    before = preflight(cors_client, "/api/v1/server", "POST", origin=OTHER)

    assert simple.status_code == 200  # the browser, not us, withholds the answer
    for response in (simple, before):
        assert not [h for h in response.headers if h[0].startswith("Access-Control-")]


def test_no_origin_no_cors_headers(cors_client, cloud):
    response = cors_client.get("/healthz")

    assert not [h for h in response.headers if h[0].startswith("Access-Control-")]


def test_cors_is_off_by_default(client, cloud):
    response = preflight(client, "/api/v1/server", "POST")

    assert not [h for h in response.headers if h[0].startswith("Access-Control-")]
    assert client.application.extensions["settings"].cors_origins == ()


def test_any_origin_when_asked(cloud):
    client = create_app({**CREDENTIALS, "CORS_ORIGINS": "*"}).test_client()

    response = client.get("/healthz", headers={"Origin": OTHER})

    assert response.headers["Access-Control-Allow-Origin"] == OTHER  # echoed, with Vary: Origin
    assert "Origin" in response.headers["Vary"]


def test_origins_setting_is_parsed():
    assert load({"CORS_ORIGINS": " https://a.example/ ,, https://b.example:8443"}, environ={}).cors_origins == (
        "https://a.example",
        "https://b.example:8443",
    )

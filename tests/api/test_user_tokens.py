"""Per-user identity: a caller's own Keystone token, validated once, cached until it expires."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from keystoneauth1 import fixture as ks_fixture

from devstack_client import create_app
from devstack_client.apikeys import new_key
from tests.fakes import CREDENTIALS, GLANCE, KEYSTONE, NEUTRON, NOVA, make_fake_flavor, make_fake_network

ALICE = "gAAAAABalice-token-0123456789"
BOB = "gAAAAABbob-token-9876543210"
ALICE_PROJECT = "a11ce0000000000000000000000000aa"
BOB_PROJECT = "b0b00000000000000000000000000bbb"
VALIDATE = f"GET {KEYSTONE}/auth/tokens"
FLAVORS = f"GET {NOVA}/flavors/detail?limit=101"
CHALLENGE = 'Bearer realm="devstack-client"'


def as_user(token):
    return {"X-Auth-Token": token}


def gateway(**settings):
    # A flavor list stands for any upstream call here: the catalog cache would answer the repeats
    # (tests/api/test_catalog_cache.py has its own tests with user tokens).
    return create_app({**CREDENTIALS, "ALLOW_USER_TOKENS": "true", "CATALOG_CACHE_SECONDS": "0", **settings})


@pytest.fixture
def users(cloud):
    """Keystone knows Alice's and Bob's tokens and refuses any other."""
    cloud.keystone_refuses_tokens()
    cloud.user_token(ALICE, "alice", ALICE_PROJECT)
    cloud.user_token(BOB, "bob", BOB_PROJECT)


@pytest.fixture
def flavors(cloud):
    return cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})


def test_a_user_call_acts_as_that_user(users, cloud, flavors):
    client = gateway().test_client()

    response = client.get("/api/v1/flavor", headers=as_user(ALICE))

    assert response.status_code == 200
    # The token authenticates its own validation; discovery is read once per
    # process, then the call goes out with the user's token.
    assert cloud.sent() == [VALIDATE, f"GET {NOVA}", f"GET {GLANCE}/", FLAVORS]
    validation = cloud.history[0]
    assert (validation.headers["X-Auth-Token"], validation.headers["X-Subject-Token"]) == (ALICE, ALICE)
    assert flavors.last_request.headers["X-Auth-Token"] == ALICE
    assert flavors.last_request.headers["OpenStack-API-Version"] == "compute 2.79"
    assert cloud.token_request.call_count == 0  # the gateway's own identity never logged in


def test_a_token_is_validated_once_then_each_call_costs_one_upstream_call(users, cloud, flavors):
    client = gateway().test_client()
    client.get("/api/v1/flavor", headers=as_user(ALICE))
    warm = len(cloud.history)

    for _ in range(5):
        assert client.get("/api/v1/flavor", headers=as_user(ALICE)).status_code == 200

    assert cloud.validations() == 1
    assert cloud.sent()[warm:] == [FLAVORS] * 5
    assert [r.headers["X-Auth-Token"] for r in cloud.history[warm:]] == [ALICE] * 5


def test_a_warm_user_call_costs_what_a_service_call_costs(users, cloud, flavors):
    key, line = new_key("reader")
    service = {"Authorization": f"Bearer {key}"}  # a key caller acts as the gateway's identity
    client = gateway(API_KEYS=line).test_client()
    client.get("/api/v1/flavor", headers=service)  # the gateway's identity warms up
    client.get("/api/v1/flavor", headers=as_user(ALICE))  # Alice's token is validated
    before = len(cloud.history)

    assert client.get("/api/v1/flavor", headers=service).status_code == 200
    assert client.get("/api/v1/flavor", headers=as_user(ALICE)).status_code == 200

    assert cloud.sent()[before:] == [FLAVORS, FLAVORS]
    service_token = cloud.history[before].headers["X-Auth-Token"]
    assert service_token != ALICE
    assert cloud.history[before + 1].headers["X-Auth-Token"] == ALICE


def test_another_user_shares_the_discovery_and_the_pool(users, cloud, flavors):
    cloud.neutron("GET", "/networks", body={"networks": [make_fake_network()]})
    client = gateway().test_client()
    client.get("/api/v1/flavor", headers=as_user(ALICE))
    before = len(cloud.history)

    assert client.get("/api/v1/flavor", headers=as_user(BOB)).status_code == 200
    assert client.get("/api/v1/network", headers=as_user(BOB)).status_code == 200

    # No version discovery again, for any service.
    assert cloud.sent()[before:] == [VALIDATE, FLAVORS, f"GET {NEUTRON}/v2.0/networks?limit=101"]
    assert cloud.history[-1].headers["X-Auth-Token"] == BOB


@pytest.mark.parametrize("keystone_status", [401, 404])
def test_an_invalid_token_is_401_and_never_echoed(cloud, flavors, keystone_status, caplog):
    caplog.set_level(logging.DEBUG)
    cloud.keystone_refuses_tokens(keystone_status)
    client = gateway().test_client()

    first = client.get("/api/v1/flavor", headers=as_user("gAAAAABforged"))
    second = client.get("/api/v1/flavor", headers=as_user("gAAAAABforged"))

    assert first.status_code == second.status_code == 401
    assert first.json == {
        "code": "invalid_token",
        "message": "Keystone does not accept this token: it is invalid, expired or revoked. Get a new one.",
        "request_id": first.headers["X-Request-Id"],
    }
    assert first.headers["WWW-Authenticate"] == CHALLENGE
    assert cloud.sent() == [VALIDATE, VALIDATE]  # a refusal is not cached; nothing else is sent
    assert "gAAAAABforged" not in first.get_data(as_text=True)
    assert "refused GET /api/v1/flavor from 127.0.0.1: token not accepted" in caplog.text
    assert "gAAAAABforged" not in caplog.text


@pytest.mark.parametrize("token", ["has space", "x" * 8193, "caf\u00e9"], ids=["space", "huge", "non-ascii"])
def test_a_malformed_token_is_refused_without_asking_keystone(cloud, token):
    response = gateway().test_client().get("/api/v1/flavor", headers={"X-Auth-Token": token.encode().decode("latin-1")})

    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"
    assert cloud.history == []


def test_an_expired_token_is_validated_again_and_refused(cloud, flavors):
    issued = datetime.now(UTC)
    cloud.user_token(ALICE, "alice", ALICE_PROJECT, expires=issued + timedelta(seconds=30))
    app = gateway()
    client = app.test_client()
    assert client.get("/api/v1/flavor", headers=as_user(ALICE)).status_code == 200

    app.extensions["user_tokens"].clock = lambda: (issued + timedelta(seconds=31)).timestamp()
    response = client.get("/api/v1/flavor", headers=as_user(ALICE))

    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"
    assert cloud.validations() == 2
    assert flavors.call_count == 1


def test_a_token_already_expired_when_validated_is_refused(cloud, flavors):
    cloud.user_token(ALICE, "alice", ALICE_PROJECT, expires=datetime.now(UTC) - timedelta(seconds=5))

    response = gateway().test_client().get("/api/v1/flavor", headers=as_user(ALICE))

    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"
    assert flavors.call_count == 0


def test_keystone_is_asked_again_after_the_cache_ttl(cloud, flavors):
    now = datetime.now(UTC)
    cloud.user_token(ALICE, "alice", ALICE_PROJECT, expires=now + timedelta(hours=1))
    app = gateway(TOKEN_CACHE_TTL="300")
    client = app.test_client()
    # the clock is frozen from the start: building the app took over a second on a loaded CI machine
    app.extensions["user_tokens"].clock = lambda: now.timestamp()
    client.get("/api/v1/flavor", headers=as_user(ALICE))

    app.extensions["user_tokens"].clock = lambda: (now + timedelta(seconds=299)).timestamp()
    client.get("/api/v1/flavor", headers=as_user(ALICE))
    assert cloud.validations() == 1
    app.extensions["user_tokens"].clock = lambda: (now + timedelta(seconds=301)).timestamp()
    assert client.get("/api/v1/flavor", headers=as_user(ALICE)).status_code == 200

    assert cloud.validations() == 2  # still valid: re-validated, not refused


def test_the_cache_is_bounded(users, cloud, flavors):
    carol = "gAAAAABcarol-token"
    cloud.user_token(carol, "carol", ALICE_PROJECT)
    client = gateway(TOKEN_CACHE_SIZE="2").test_client()

    for token in (ALICE, BOB, carol, ALICE):  # Alice was the least recently used: evicted
        assert client.get("/api/v1/flavor", headers=as_user(token)).status_code == 200

    assert cloud.validations() == 4


def test_an_unscoped_token_is_refused(cloud, flavors):
    unscoped = ks_fixture.V3Token(user_id="alice-id", user_name="alice")
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", json=unscoped, headers={"X-Subject-Token": ALICE})

    response = gateway().test_client().get("/api/v1/flavor", headers=as_user(ALICE))

    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"
    assert "not scoped to a project" in response.json["message"]
    assert flavors.call_count == 0


def test_a_token_revoked_after_validation_is_401_and_forgotten(users, cloud, flavors):
    client = gateway().test_client()
    client.get("/api/v1/flavor", headers=as_user(ALICE))
    cloud.nova("GET", "/flavors/detail", status=401, body={"error": {"code": 401, "message": "Unauthorized"}})
    before = len(cloud.history)

    response = client.get("/api/v1/flavor", headers=as_user(ALICE))

    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"
    assert (response.json["upstream_status"], response.json["upstream_request_id"]) == (401, "req-upstream-1")
    assert cloud.sent()[before:] == [FLAVORS]  # a user's token is not retried: it cannot be renewed
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})  # a new token would work
    assert client.get("/api/v1/flavor", headers=as_user(ALICE)).status_code == 200
    assert cloud.validations() == 2  # forgotten, so validated again


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"status_code": 503, "json": {"error": {"code": 503, "message": "down"}}}, 503, "upstream_unavailable"),
        ({"exc": requests.exceptions.ConnectionError}, 503, "upstream_unreachable"),
    ],
    ids=["keystone-503", "keystone-unreachable"],
)
def test_keystone_failing_to_validate_is_an_upstream_error(cloud, answer, status, code):
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", **answer)

    response = gateway().test_client().get("/api/v1/flavor", headers=as_user(ALICE))

    assert (response.status_code, response.json["code"]) == (status, code)


def test_tokens_are_refused_unless_allowed(client, cloud, flavors):
    response = client.get("/api/v1/flavor", headers=as_user(ALICE))

    # Never silently ignored: the caller would act as someone else.
    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"
    assert "ALLOW_USER_TOKENS" in response.json["message"]
    assert cloud.history == []


def test_with_tokens_allowed_a_caller_without_one_is_401(cloud, flavors):
    response = gateway().test_client().get("/api/v1/flavor")

    assert response.status_code == 401
    assert response.json == {
        "code": "unauthorized",
        "message": "Authentication required: send your Keystone token in `X-Auth-Token`.",
        "request_id": response.headers["X-Request-Id"],
    }
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_required_tokens_need_no_service_identity(users, cloud, flavors):
    client = create_app({"AUTH_URL": KEYSTONE, "REQUIRE_USER_TOKENS": "true"}).test_client()

    assert client.get("/api/v1/flavor").status_code == 401
    assert client.get("/api/v1/flavor", headers=as_user(BOB)).status_code == 200
    assert cloud.sent() == [VALIDATE, f"GET {NOVA}", f"GET {GLANCE}/", FLAVORS]


def test_required_tokens_refuse_an_api_key_alone(users, cloud, flavors):
    key, line = new_key("operator")
    client = gateway(API_KEYS=line, REQUIRE_USER_TOKENS="true").test_client()

    alone = client.get("/api/v1/flavor", headers={"Authorization": f"Bearer {key}"})
    both = client.get("/api/v1/flavor", headers={"Authorization": f"Bearer {key}", **as_user(ALICE)})

    assert (alone.status_code, alone.json["code"]) == (401, "unauthorized")
    assert both.status_code == 200


def test_with_api_keys_a_token_alone_is_enough(users, cloud, flavors):
    _, line = new_key("operator")
    client = gateway(API_KEYS=line).test_client()

    assert client.get("/api/v1/flavor", headers=as_user(ALICE)).status_code == 200
    assert flavors.last_request.headers["X-Auth-Token"] == ALICE
    missing = client.get("/api/v1/flavor")
    assert "Authorization: Bearer <key>` or your Keystone token in `X-Auth-Token`" in missing.json["message"]


def test_a_reader_key_limits_a_token_too(users, cloud):
    key, line = new_key("reader")
    client = gateway(API_KEYS=line).test_client()

    response = client.post("/api/v1/server", headers={"Authorization": f"Bearer {key}", **as_user(ALICE)}, json={})

    assert (response.status_code, response.json["code"]) == (403, "forbidden_role")
    assert cloud.history == []  # refused before validating anything


def test_a_bad_key_with_a_good_token_is_refused(users, cloud):
    _, line = new_key("operator")
    client = gateway(API_KEYS=line).test_client()

    response = client.get("/api/v1/flavor", headers={"Authorization": "Bearer dsk_wrong", **as_user(ALICE)})

    assert (response.status_code, response.json["code"]) == (401, "unauthorized")


def test_user_tokens_need_keystones_url(cloud):
    client = create_app({"REQUIRE_USER_TOKENS": "true"}).test_client()

    response = client.get("/api/v1/flavor", headers=as_user(ALICE))

    assert (response.status_code, response.json["code"]) == (503, "misconfigured")
    assert "AUTH_URL" in response.json["message"]


def test_user_tokens_never_reach_the_logs(users, cloud, caplog):
    caplog.set_level(logging.DEBUG)
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.nova("DELETE", f"/servers/{server_id}", status=204)

    assert gateway().test_client().delete(f"/api/v1/server/{server_id}", headers=as_user(ALICE)).status_code == 204

    assert f"DELETE /api/v1/server/{server_id} by user 'alice' (alice-id) in project {ALICE_PROJECT}" in caplog.text
    assert ALICE not in caplog.text

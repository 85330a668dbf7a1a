"""Per-user identity on the real cloud: each caller's own Keystone token, and tenant isolation.

One gateway (its own identity: demo) accepts user tokens. Users demo and lowquota, in two projects, call it
with their own tokens: each sees and touches only their own project's servers, and Nova receives each user's
token (the access logs record the project of the token behind each call).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.cloud.harness import RUN, Cloud, Gateway, Verbs, password_auth, server_name, wait_active

KEYSTONE_LOG_WAIT = 0.5  # s: gunicorn writes the access-log line just after the response
QUOTA_WAIT = 60  # s


class As(Verbs):
    """A gateway seen by one caller: every request carries that caller's headers (stands in for a Gateway)."""

    def __init__(self, gw: Gateway, headers: dict[str, str]) -> None:
        self.gw, self.headers = gw, headers
        self.base = gw.base

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.gw.request(method, path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)


def keystone_token(cloud: Cloud, user: str) -> str:
    """A new project-scoped token for `user`, straight from Keystone."""
    with requests.post(f"{cloud.auth_url}/auth/tokens", json=password_auth(cloud, user), timeout=30) as resp:
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]


@pytest.fixture(scope="module")
def users_gateway(cloud_info: Cloud, start_gateway) -> Gateway:
    settings = {**cloud_info.credentials("demo"), "ALLOW_USER_TOKENS": "true", "WORKERS": "1"}
    return start_gateway(settings, "user-tokens")


@pytest.fixture(scope="module")
def demo(cloud_info: Cloud, users_gateway: Gateway) -> As:
    return As(users_gateway, {"X-Auth-Token": keystone_token(cloud_info, "demo")})


@pytest.fixture(scope="module")
def lowquota(cloud_info: Cloud, users_gateway: Gateway) -> As:
    return As(users_gateway, {"X-Auth-Token": keystone_token(cloud_info, "lowquota")})


def create_when_quota_allows(servers, caller: As, cloud: Cloud, label: str, network: str) -> requests.Response:
    """lowquota may run one server; another session's quota test may hold it for a few seconds."""
    deadline = time.monotonic() + QUOTA_WAIT
    while True:
        resp = servers.create(caller, cloud, label, network=network)
        if resp.status_code != 400 or resp.json()["code"] != "quota_exceeded" or time.monotonic() > deadline:
            return resp
        time.sleep(3)


def test_users_never_see_or_touch_each_others_servers(cloud_info, demo, lowquota, upstream, servers):
    created = create_when_quota_allows(servers, lowquota, cloud_info, "iso-lq", network="lowquota")
    assert created.status_code == 201, created.text
    theirs = created.json()
    assert theirs["project_id"] == cloud_info.users["lowquota"]["project_id"]
    mine = servers.create(demo, cloud_info, "iso-demo")
    assert mine.status_code == 201, mine.text
    assert mine.json()["project_id"] == cloud_info.users["demo"]["project_id"]
    # While Nova still schedules a server (a build request, not yet in a cell), it finds it by id for any
    # project and refuses another project's call by policy: 403, not 404. Refused either way.
    early = lowquota.delete(f"/api/v1/server/{mine.json()['id']}")
    assert (early.status_code, early.json()["upstream_status"]) in ((403, 403), (404, 404)), early.text
    assert early.json()["code"] == ("forbidden" if early.status_code == 403 else "not_found")
    # Once both are in their cell, Nova answers as for a missing server.
    wait_active(lowquota, theirs["id"])
    wait_active(demo, mine.json()["id"])

    # Lists: each user's own project only.
    demo_names = [s["name"] for s in demo.get("/api/v1/server?fields=name&limit=1000").json()["servers"]]
    lowquota_names = [s["name"] for s in lowquota.get("/api/v1/server?fields=name&limit=1000").json()["servers"]]
    assert server_name("iso-demo") in demo_names and server_name("iso-lq") not in demo_names
    assert server_name("iso-lq") in lowquota_names and server_name("iso-demo") not in lowquota_names

    # demo can neither see nor delete lowquota's server, by id or by name: 404, as for a missing one.
    for ref in (theirs["id"], theirs["name"]):
        shown = demo.get(f"/api/v1/server/{ref}")
        assert shown.status_code == 404, shown.text
        assert shown.json()["code"] == "not_found"
    by_name = demo.delete(f"/api/v1/server/{theirs['name']}")
    assert by_name.status_code == 404, by_name.text  # not found in demo's project: no DELETE sent
    by_id = demo.delete(f"/api/v1/server/{theirs['id']}")
    assert by_id.status_code == 404, by_id.text
    assert by_id.json()["upstream_status"] == 404  # Nova itself refused demo's token
    # lowquota cannot touch demo's either, and demo's server is still there, as Nova itself says. (lowquota's
    # own server is not checked that way: another session's quota test may sweep that project at any time.)
    refused = lowquota.delete(f"/api/v1/server/{mine.json()['id']}")
    assert (refused.status_code, refused.json()["upstream_status"]) == (404, 404)
    assert upstream("demo").get("compute", f"/servers/{mine.json()['id']}")["server"]["name"] == server_name("iso-demo")


def test_a_user_call_sends_that_users_token_and_costs_one_call_once_validated(cloud_info, users_gateway):
    """Counted in the access logs, which record the project of the token behind each call."""
    caller = As(users_gateway, {"X-Auth-Token": keystone_token(cloud_info, "lowquota")})
    project = cloud_info.users["lowquota"]["project_id"]
    marker = f"isocount{RUN}"  # a name nobody has (and no regex escapes): its list calls are ours alone
    logs = {name: cloud_info.access_log(name) for name in ("keystone", "nova-api")}

    def calls() -> tuple[list[Any], list[Any]]:
        marks = {name: log.mark() for name, log in logs.items()}
        resp = caller.get(f"/api/v1/server?name={marker}&fields=id")
        assert resp.status_code == 200, resp.text
        assert resp.json()["servers"] == []
        time.sleep(KEYSTONE_LOG_WAIT)
        keystone = [
            h for h in logs["keystone"].since(marks["keystone"]) if h.path == "/v3/auth/tokens" and h.project == project
        ]
        nova = [h for h in logs["nova-api"].since(marks["nova-api"]) if marker in requests.utils.unquote(h.target)]
        return keystone, nova

    keystone, nova = calls()  # first: the token is validated, by itself
    assert [(h.method, h.status) for h in keystone] == [("GET", 200)]
    assert [(h.project, h.status) for h in nova] == [(project, 200)]  # lowquota's token, not demo's

    for _ in range(3):  # then: exactly the one Nova call, no Keystone
        keystone, nova = calls()
        assert keystone == []
        assert [(h.project, h.status) for h in nova] == [(project, 200)]


def test_invalid_and_revoked_tokens_are_401(cloud_info, start_gateway):
    settings = {**cloud_info.credentials("demo"), "REQUIRE_USER_TOKENS": "true", "TOKEN_CACHE_TTL": "2"}
    users_gateway = start_gateway(settings, "short-token-cache")
    bogus = As(users_gateway, {"X-Auth-Token": "gAAAAABnot-a-token"}).get("/api/v1/server")
    assert bogus.status_code == 401, bogus.text
    assert bogus.json()["code"] == "invalid_token"
    assert bogus.headers["WWW-Authenticate"] == 'Bearer realm="devstack-client"'

    token = keystone_token(cloud_info, "demo")
    caller = As(users_gateway, {"X-Auth-Token": token})
    assert caller.get("/api/v1/flavor").status_code == 200
    revoked = requests.delete(
        f"{cloud_info.auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}, timeout=30
    )
    assert revoked.status_code == 204, revoked.text
    time.sleep(2.5)  # TOKEN_CACHE_TTL=2: the gateway asks Keystone again

    refused = caller.get("/api/v1/flavor")
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "invalid_token"


def test_without_a_token_the_gateway_asks_for_one(users_gateway):
    resp = users_gateway.get("/api/v1/server")

    assert resp.status_code == 401
    assert resp.json()["code"] == "unauthorized"
    assert users_gateway.get("/swagger.json").status_code == 200

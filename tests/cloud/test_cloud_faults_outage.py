"""Faults in the real cloud, one test each: what the gateway answers, and that it recovers without a restart.

Services are stopped with service.sh and always started again; Nova is made to hang with SIGSTOP of its
process group and always continued (SIGCONT); a lost answer to a create goes through `faultproxy.FaultProxy`,
in front of the real Nova. Runs with the other `*_outage` modules, last. Keystone's own outage is in
test_cloud_keystone_outage.py; the wire-level versions of these faults are in tests/test_faults.py.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.cloud.faultproxy import FaultProxy
from tests.cloud.harness import (
    GATEWAY_UA,
    RUN,
    Cloud,
    Gateway,
    Upstream,
    assert_ok,
    assert_unreachable,
    create_body,
    frozen,
    server_name,
    servers_named,
    service_stopped,
    wait_for,
)

# Flavor lists stand for calls that wait on Nova: without the catalog cache, which would answer the repeats.
UNCACHED = {"CATALOG_CACHE_SECONDS": "0"}

# -- Nova hangs ------------------------------------------------------------------------------------------


def test_nova_hanging_is_504_after_the_read_timeout_and_frees_the_threads(cloud_info, start_gateway):
    """Twice as many requests as the gateway has threads, all to a Nova that never answers: each one gets
    504 (the later ones only once the first have freed their threads), and then Glance is still served."""
    settings = {
        **cloud_info.credentials("demo"),
        "WORKER_CLASS": "gthread",
        "WORKERS": "1",
        "THREADS": "2",
        "READ_TIMEOUT": "5",
        **UNCACHED,
    }
    gw = start_gateway(settings, "nova-hangs")
    # connected, every service discovered, and the token known to each (no Keystone call while Nova hangs)
    assert_ok(gw, "/api/v1/flavor", "/api/v1/image", "/api/v1/network")

    with frozen(cloud_info, "nova-api"), ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: gw.get("/api/v1/flavor"), range(4)))
        for resp in answers:
            assert resp.status_code == 504, resp.text
            assert resp.json()["code"] == "upstream_timeout"
            assert "read timeout 5 s" in resp.json()["message"]
        assert_ok(gw, "/api/v1/image", "/api/v1/network")  # while Nova is still stopped

    assert_ok(gw, "/api/v1/flavor")  # Nova is back: the same gateway process


STUCK = 100  # calls held by a frozen service at once: more than gthread's 2 × 8 threads, as in the issue


def stuck_calls(pool: ThreadPoolExecutor, gw: Gateway, path: str) -> list[Future[requests.Response]]:
    """STUCK calls of `path`, each on its own connection, all in flight at once (none is answered yet)."""
    return [pool.submit(requests.get, gw.base + path, timeout=120) for _ in range(STUCK)]


def every_worker_connected(gw: Gateway, workers: int = 2) -> None:
    """Each worker has its connection (token, every service discovered). A worker's first call makes it, under
    a lock, and needs Nova's version document: in a worker still without one, every call waits on a frozen Nova."""

    def connected() -> bool | None:
        with requests.get(gw.base + "/api/v1/flavor", timeout=90) as resp:  # a new connection: either worker
            assert resp.status_code == 200, resp.text
        return True if gw.log_path.read_text().count("connected to OpenStack as") >= workers else None

    wait_for(connected, 60, "every worker to connect to OpenStack", interval=0.1)


def timed_get(gw: Gateway, path: str) -> tuple[requests.Response, float]:
    """One call on a new connection (as a prober makes), and the seconds it took."""
    started = time.monotonic()
    resp = requests.get(gw.base + path, timeout=90)
    return resp, time.monotonic() - started


def test_with_100_calls_stuck_on_a_frozen_nova_the_probes_answer_at_once(cloud_info, start_gateway):
    """The default gevent workers: 100 flavor lists wait on a frozen Nova (under gthread they held all 16
    threads and /healthz took 37 s). /healthz answers at once, Glance reads are served, and
    /readyz says not ready within its own READY_TIMEOUT (2 s), not READ_TIMEOUT."""
    gw = start_gateway({**cloud_info.credentials("demo"), "READ_TIMEOUT": "40", **UNCACHED}, "frozen-nova-100")
    every_worker_connected(gw)

    with ThreadPoolExecutor(STUCK) as pool:
        with frozen(cloud_info, "nova-api"):
            stuck = stuck_calls(pool, gw, "/api/v1/flavor")
            time.sleep(2)  # every one sent and waiting on Nova
            assert not any(call.done() for call in stuck)
            for _ in range(5):
                alive, took = timed_get(gw, "/healthz")
                # 100 ms measured (bench/longlived.py); the bound here only tells "at once" from "stuck".
                assert (alive.status_code, took < 1.0) == (200, True), took
            # Not Neutron: the test cloud's own Neutron queued a list behind workers waiting on the frozen
            # Nova (its notifications, Nova's port bindings) for 95 s, in its own access log.
            for _ in range(3):
                read, took = timed_get(gw, "/api/v1/image")
                assert (read.status_code, took < 10) == (200, True), took
            # Each worker answers from its last check for 5 s: poll until one checks while Nova is frozen.
            not_ready = wait_for(lambda: none_unless(timed_get(gw, "/readyz"), 503), 20, "/readyz to say 503")
            resp, took = not_ready
            assert took < 10, took  # READY_TIMEOUT is 2 s; READ_TIMEOUT (40 s) would be far over
            body = resp.json()
            assert (body["ready"], body["checks"]["compute"]["code"]) == (False, "upstream_timeout"), body
            assert "READY_TIMEOUT" in body["reason"]
        answers = [call.result() for call in stuck]  # Nova woke: each answered or timed out, none lost

    assert {resp.status_code for resp in answers} <= {200, 504}
    assert_ok(gw, "/api/v1/flavor")


def none_unless(answer: tuple[requests.Response, float], status: int) -> tuple[requests.Response, float] | None:
    return answer if answer[0].status_code == status else None


def test_100_calls_stuck_on_a_frozen_glance_do_not_block_nova_reads(cloud_info, start_gateway):
    gw = start_gateway(cloud_info.credentials("demo"), "frozen-glance-100")
    every_worker_connected(gw)

    with ThreadPoolExecutor(STUCK) as pool:
        with frozen(cloud_info, "glance"):
            stuck = stuck_calls(pool, gw, "/api/v1/image")
            time.sleep(2)
            for _ in range(10):
                assert_ok(gw, "/api/v1/flavor", f"/api/v1/flavor/{cloud_info.flavor['id']}")
            assert not any(call.done() for call in stuck)
        answers = [call.result() for call in stuck]

    assert {resp.status_code for resp in answers} <= {200, 504}


def test_sigterm_lets_a_call_waiting_on_nova_finish(cloud_info, start_gateway):
    """Graceful stop under gevent: a call in flight when SIGTERM comes is answered, then the gateway exits 0."""
    gw = start_gateway({**cloud_info.credentials("demo"), "WORKERS": "1", **UNCACHED}, "graceful-stop")
    assert_ok(gw, "/api/v1/flavor")

    with ThreadPoolExecutor(1) as pool:
        with frozen(cloud_info, "nova-api"):
            in_flight = pool.submit(requests.get, gw.base + "/api/v1/flavor", timeout=60)
            time.sleep(1)
            gw.proc.send_signal(signal.SIGTERM)
            time.sleep(2)
            assert not in_flight.done() and gw.proc.poll() is None  # the stop waits for it
        assert in_flight.result().status_code == 200

    assert gw.proc.wait(timeout=30) == 0


# -- Glance down -----------------------------------------------------------------------------------------


@pytest.fixture
def demo_server(cloud_info, gateway, servers) -> dict[str, Any]:
    """A server of the demo project (in BUILD or ACTIVE), so that server lists have an image to name."""
    resp = servers.create(gateway, cloud_info, "glance-down")
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_glance_down_fails_image_endpoints_only(cloud_info, start_gateway, demo_server):
    """Image endpoints answer 503; server lists keep working with null image names (a dashboard would rather
    have the list); a gateway *started* while Glance is down serves Nova and Neutron, and images once Glance
    is back, without a restart."""
    warm = start_gateway(cloud_info.credentials("demo"), "glance-down-warm")
    assert_ok(warm, "/api/v1/flavor")
    with service_stopped("glance") as start_glance:
        cold = start_gateway(cloud_info.credentials("demo"), "glance-down-cold")
        for gw in (warm, cold):
            assert_unreachable(gw, "/api/v1/image", f"/api/v1/image/{cloud_info.image['id']}")
            assert_ok(gw, "/api/v1/flavor", "/api/v1/network", f"/api/v1/server/{demo_server['id']}")
            listed = gw.get("/api/v1/server", params={"name": demo_server["name"]})
            assert listed.status_code == 200, listed.text
            assert [s["image"] for s in listed.json()["servers"]] == [{"id": cloud_info.image["id"], "name": None}]
        start_glance()
        for gw in (warm, cold):
            listed = gw.get("/api/v1/server", params={"name": demo_server["name"]}).json()["servers"]
            assert listed[0]["image"] == {"id": cloud_info.image["id"], "name": cloud_info.image["name"]}
            assert_ok(gw, "/api/v1/image")


# -- a create whose answer is lost -----------------------------------------------------------------------


@pytest.fixture
def nova_behind_proxy(cloud_info, start_gateway) -> Iterator[tuple[Gateway, FaultProxy]]:
    """A gateway that reaches the real Nova through a FaultProxy (and the real Keystone through another,
    which points the catalog's compute endpoint at the first)."""
    nova_url = urlsplit(cloud_info.endpoints["compute"])
    keystone_url = urlsplit(cloud_info.auth_url)
    nova = FaultProxy(f"{nova_url.scheme}://{nova_url.netloc}")
    keystone = FaultProxy(f"{keystone_url.scheme}://{keystone_url.netloc}", rewrite={nova.upstream: nova.url})
    try:
        settings = {
            **cloud_info.credentials("demo"),
            "AUTH_URL": keystone.url + keystone_url.path,
            "WORKERS": "1",
            "READ_TIMEOUT": "10",
        }
        gw = start_gateway(settings, "lost-answer")
        assert_ok(gw, "/api/v1/flavor")
        assert nova.requests_to("GET", r"^/v2\.1/flavors"), "the gateway did not reach Nova through the proxy"
        yield gw, nova
    finally:
        nova.close()
        keystone.close()


def test_a_create_whose_answer_is_lost_leaves_one_server_that_the_client_finds(
    cloud_info, nova_behind_proxy, servers, upstream
):
    gw, nova = nova_behind_proxy
    body, key = create_body(cloud_info, "lost-answer"), f"{RUN}-lost-answer"
    nova.lose_answer("POST", r"^/v2\.1/servers$")

    lost = gw.post("/api/v1/server", json=body, headers={"Idempotency-Key": key})

    assert lost.status_code == 504, lost.text
    error = lost.json()
    assert (error["code"], error["server_name"], error["idempotency_key"]) == ("upstream_timeout", body["name"], key)
    assert "same Idempotency-Key" in error["message"]
    (post,) = nova.requests_to("POST", r"^/v2\.1/servers$")  # sent once, never re-sent
    assert (nova.service_answer(post), post.answered) == (202, False)  # Nova accepted it; the answer was lost
    nova.heal()

    found = gw.get("/api/v1/server", params={"name": body["name"]})  # the client finds it by name
    assert found.status_code == 200, found.text
    (server,) = found.json()["servers"]
    servers.created.append((gw, server["id"]))
    retry = gw.post("/api/v1/server", json=body, headers={"Idempotency-Key": key})  # or by retrying
    assert retry.status_code == 201, retry.text
    assert (retry.json()["id"], retry.headers["Idempotent-Replayed"]) == (server["id"], "true")

    assert len(nova.requests_to("POST", r"^/v2\.1/servers$")) == 1
    assert [s["id"] for s in servers_named(upstream("demo"), body["name"])] == [server["id"]]


# -- the service token revoked while 32 requests are in flight -------------------------------------------


@pytest.fixture
def own_user(cloud_info: Cloud, upstream: Callable[[str], Upstream]) -> Iterator[dict[str, str]]:
    """A Keystone user of its own (member of project demo), whose tokens the test may revoke; deleted after."""
    admin = upstream("admin")
    project_id = cloud_info.users["demo"]["project_id"]
    user = {"name": server_name("revoked"), "password": f"pw-{RUN}", "domain_id": "default"}
    resp = admin.request("identity", "POST", "/users", json={"user": {**user, "default_project_id": project_id}})
    assert resp.status_code == 201, resp.text
    user_id = resp.json()["user"]["id"]
    try:
        (role,) = admin.get("identity", "/roles", name="member")["roles"]
        resp = admin.request("identity", "PUT", f"/projects/{project_id}/users/{user_id}/roles/{role['id']}")
        assert resp.status_code == 204, resp.text
        yield {**user, "id": user_id, "project_id": project_id}
    finally:
        admin.request("identity", "DELETE", f"/users/{user_id}").close()


def issue_token(cloud: Cloud, user: dict[str, str]) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user["id"], "password": user["password"]}},
            },
            "scope": {"project": {"id": user["project_id"]}},
        }
    }
    resp = requests.post(cloud.auth_url + "/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def token_valid(cloud: Cloud, admin: Upstream, token: str) -> bool:
    resp = admin.request("identity", "GET", "/auth/tokens", headers={"X-Subject-Token": token})
    assert resp.status_code in (200, 404), resp.text
    return resp.status_code == 200


def test_the_service_token_revoked_while_32_requests_are_in_flight_fails_none(
    cloud_info, start_gateway, own_user, upstream
):
    """32 requests wait at a stopped Nova with the gateway's token when Keystone revokes it. Nova has never
    validated that token (the gateway only used it with Neutron), so its keystonemiddleware cannot answer
    from its cache (300 s): it asks Keystone, and refuses all 32 with 401 once woken. The gateway
    re-authenticates and retries each once: every one of the 32 answers 200."""
    admin = upstream("admin")
    settings = {
        "AUTH_URL": cloud_info.auth_url,
        "USERNAME": own_user["name"],
        "PASSWORD": own_user["password"],
        "PROJECT_ID": own_user["project_id"],
        "USER_DOMAIN_NAME": "Default",
        "WORKERS": "1",
        "THREADS": "32",
        # Woken, Nova (4 threads) asks Keystone about each of the 32 in turn, 1-3 s each: the last ones
        # wait long, and a 504 is not what this test is about.
        "READ_TIMEOUT": "180",
        **UNCACHED,
    }
    gw = start_gateway(settings, "token-revoked")
    assert_ok(gw, "/api/v1/network")  # a token, every discovery (Nova's is anonymous), no Nova call
    before = issue_token(cloud_info, own_user)  # issued with the gateway's: revoked with it
    nova_log, keystone_log = cloud_info.access_log("nova-api"), cloud_info.access_log("keystone")
    nova_mark = nova_log.mark()

    paths = ["/api/v1/flavor", "/api/v1/server"] * 16
    with ThreadPoolExecutor(32) as pool:
        with frozen(cloud_info, "nova-api"):
            # each on its own connection, all in flight at once: Nova answers none while stopped
            in_flight = [pool.submit(requests.get, gw.base + path, timeout=400) for path in paths]
            keystone_mark = keystone_log.mark()
            # The same as a password change: Keystone revokes every token the user holds.
            resp = admin.request(
                "identity", "PATCH", f"/users/{own_user['id']}", json={"user": {"password": own_user["password"]}}
            )
            assert resp.status_code == 200, resp.text
            assert not token_valid(cloud_info, admin, before)
            # Keystone compares whole seconds: a token issued in the second of the revocation is revoked too.
            # Wake Nova once a new token is valid, as the gateway's new one will be.
            wait_for(
                lambda: token_valid(cloud_info, admin, issue_token(cloud_info, own_user)) or None,
                30,
                "a valid new token",
            )
        answers = [future.result() for future in in_flight]

    failures = [(a.status_code, a.text) for a in answers if a.status_code != 200]
    assert failures == []
    refused = [h for h in nova_log.since(nova_mark) if h.status == 401 and h.user_agent.startswith(GATEWAY_UA)]
    assert len(refused) >= 32, "Nova did not refuse the revoked token: the test tested nothing"
    logins = [h for h in keystone_log.since(keystone_mark) if h.method == "POST" and h.auth_user == own_user["name"]]
    assert logins, "the gateway did not authenticate again"

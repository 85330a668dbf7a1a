"""The catalog cache on the real cloud: a repeated flavor list costs Nova nothing, a flavor an admin creates
shows within CATALOG_CACHE_SECONDS, and a project's private flavor is never answered to another project."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cloud.harness import PREFIX, RUN, wait_for
from tests.cloud.test_cloud_isolation import As, keystone_token

LIST = "/api/v1/flavor?limit=1000"


def names(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [f["name"] for f in resp.json()["flavors"]]


@pytest.fixture
def new_flavor(upstream) -> Iterator[Any]:
    """new_flavor(private=...) -> an admin-made flavor of this run; all are deleted at the end."""
    admin, made = upstream("admin"), []

    def make(private: bool = False) -> dict[str, Any]:
        body = {"name": f"{PREFIX}{RUN}-flavor-{len(made)}", "ram": 64, "vcpus": 1, "disk": 0}
        if private:
            body["os-flavor-access:is_public"] = False
        resp = admin.request("compute", "POST", "/flavors", json={"flavor": body})
        assert resp.status_code == 200, resp.text
        made.append(resp.json()["flavor"])
        return made[-1]

    yield make
    for flavor in made:
        admin.request("compute", "DELETE", f"/flavors/{flavor['id']}")


def test_repeats_cost_nova_nothing_and_a_new_flavor_shows_within_the_lifetime(cloud_info, start_gateway, new_flavor):
    lifetime = 60
    gw = start_gateway({**cloud_info.credentials("demo"), "CATALOG_CACHE_SECONDS": str(lifetime), "WORKERS": "1"})
    nova = cloud_info.access_log("nova-api")
    first = names(gw.get(LIST))  # one worker: this call fills its cache
    cached_at = time.monotonic()
    mark = nova.mark()

    repeats = [names(gw.get(LIST)) for _ in range(5)]
    time.sleep(0.5)  # gunicorn writes the access-log line just after the answer

    assert time.monotonic() - cached_at < lifetime  # (else the last repeats may have asked Nova again)
    assert repeats == [first] * 5
    assert [h.target for h in nova.since(mark) if h.path.endswith("/flavors/detail")] == []

    short = start_gateway({**cloud_info.credentials("demo"), "CATALOG_CACHE_SECONDS": "3", "WORKERS": "1"})
    names(short.get(LIST))
    flavor = new_flavor()
    created = time.monotonic()

    wait_for(lambda: flavor["name"] in names(short.get(LIST)) or None, 20, "the new flavor in the list", 0.2)
    assert time.monotonic() - created < 3 + 5  # its lifetime, and a generous margin for a list call


def test_a_private_flavor_is_never_answered_to_another_project(cloud_info, start_gateway, upstream, new_flavor):
    """One gateway, one cache, two callers with their own tokens: the cache keeps each project's view apart."""
    flavor = new_flavor(private=True)
    demo_project = cloud_info.users["demo"]["project_id"]
    granted = upstream("admin").request(
        "compute", "POST", f"/flavors/{flavor['id']}/action", json={"addTenantAccess": {"tenant": demo_project}}
    )
    assert granted.status_code == 200, granted.text
    gw = start_gateway({**cloud_info.credentials("demo"), "REQUIRE_USER_TOKENS": "true", "WORKERS": "1"})
    demo = As(gw, {"X-Auth-Token": keystone_token(cloud_info, "demo")})
    bulk = As(gw, {"X-Auth-Token": keystone_token(cloud_info, "bulk")})

    for _ in range(2):  # the second round from the cache
        assert flavor["name"] in names(demo.get(LIST))
        assert flavor["name"] not in names(bulk.get(LIST))

"""Steady state: after a warm-up, N gateway calls cost exactly N upstream calls and no Keystone request (the
flavor list and image names: at most one per worker, from the catalog cache).

Counted in the services' gunicorn access logs (tests/cloud/lib.sh logs the User-Agent, the token's project and,
for Keystone's token requests, the user name). Nova itself calls Neutron, Glance and Keystone, with its own
User-Agent, and other clients of the cloud may use the gateway's User-Agent too; so only lines with the gateway's
User-Agent (learnt from its first call) and the project (or, asking for a token, the user) `steady`, used by this
test alone, count. Calls go over fresh connections, several at a time, so that
every gateway worker process serves some of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.cloud.harness import Cloud, Gateway, Hit, Servers, server_name, wait_active

N = 12
WORKERS = 2  # the gateway's worker processes: each authenticates once, on its first call
LOGS = ("keystone", "nova-api", "glance", "neutron")
USER = "steady"


def call_many(gw: Gateway, paths: list[str], threads: int = 4) -> None:
    def one(path: str) -> tuple[str, int]:
        with requests.get(gw.base + path, headers={"Connection": "close"}, timeout=60) as resp:
            return path, resp.status_code

    with ThreadPoolExecutor(threads) as pool:
        failed = [r for r in pool.map(one, paths) if r[1] != 200]
    assert not failed, failed


class Counter:
    """The calls each service logged while a block of code ran."""

    def __init__(self, cloud: Cloud) -> None:
        self.logs = {name: cloud.access_log(name) for name in LOGS}
        self.marks: dict[str, int] = {}
        self.hits: dict[str, list[Hit]] = {}

    def __enter__(self) -> Counter:
        self.marks = {name: log.mark() for name, log in self.logs.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # gunicorn writes the access-log line just after the response
        self.hits = {name: log.since(self.marks[name]) for name, log in self.logs.items()}

    def of(self, user_agent: str, project: str) -> dict[str, list[Hit]]:
        """The gateway's calls: its User-Agent, and its project (token requests: its user name)."""
        return {
            name: [h for h in hits if h.user_agent == user_agent and (h.project == project or h.auth_user == USER)]
            for name, hits in self.hits.items()
        }

    def token_requests(self, user_agent: str) -> list[Hit]:
        return [
            h
            for h in self.hits["keystone"]
            if h.user_agent == user_agent and h.auth_user == USER and h.method == "POST" and h.path == "/v3/auth/tokens"
        ]


@dataclass
class Steady:
    gateway: Gateway
    user_agent: str
    project: str
    server: dict[str, Any]


@pytest.fixture(scope="module")
def steady(cloud_info: Cloud, start_gateway: Callable[..., Gateway]):
    """A gateway of its own (user `steady`) with one ACTIVE server, warmed up; and its User-Agent."""
    project = cloud_info.users[USER]["project_id"]
    gw = start_gateway({**cloud_info.credentials(USER), "WORKERS": str(WORKERS)}, "steady-state")
    with Counter(cloud_info) as first:
        call_many(gw, ["/api/v1/flavor"], threads=1)
    flavor_lists = [h for h in first.hits["nova-api"] if h.path == "/v2.1/flavors/detail" and h.project == project]
    assert len(flavor_lists) == 1, f"expected one GET /v2.1/flavors/detail, Nova logged {first.hits['nova-api']}"
    user_agent = flavor_lists[0].user_agent
    tokens = first.token_requests(user_agent)
    assert len(tokens) == 1, (
        f"the gateway's first call should authenticate once with its User-Agent {user_agent!r}; "
        f"Keystone logged {first.hits['keystone']}"
    )

    servers = Servers()
    try:
        with Counter(cloud_info) as creating:  # a worker may authenticate here too
            resp = servers.create(gw, cloud_info, "steady", network="shared")
            assert resp.status_code == 201, resp.text
            server = wait_active(gw, resp.json()["id"])
        # warm-up: until every worker has authenticated once (bounded)
        paths = ["/api/v1/flavor", "/api/v1/image", "/api/v1/network", "/api/v1/server"]
        authenticated = len(tokens) + len(creating.token_requests(user_agent))
        for _ in range(10):
            if authenticated >= WORKERS:
                break
            with Counter(cloud_info) as round_:
                call_many(gw, paths * 4)
            authenticated += len(round_.token_requests(user_agent))
        assert authenticated == WORKERS, f"{authenticated} token requests from {WORKERS} gateway workers"
        yield Steady(gw, user_agent, project, server)
    finally:
        servers.cleanup()


# path template -> {upstream service: calls per gateway call}
CASES = {
    "/api/v1/image": {"glance": 1},
    "/api/v1/image/{image_id}": {"glance": 1},
    "/api/v1/image/{image_name}": {"glance": 1},
    "/api/v1/flavor": {"nova-api": 1},
    "/api/v1/flavor/{flavor_id}": {"nova-api": 1},
    # Nova cannot filter flavors by name and flavor ids are free-form: GET /flavors/{ref} (404), then list
    "/api/v1/flavor/{flavor_name}": {"nova-api": 2},
    "/api/v1/network": {"neutron": 1},
    "/api/v1/network/{network_id}": {"neutron": 1},
    "/api/v1/network/{network_name}": {"neutron": 1},
    # a page of servers, and one Glance call for the whole page's image names (see CACHED)
    "/api/v1/server": {"nova-api": 1, "glance": 1},
    "/api/v1/server?fields=id,name,status": {"nova-api": 1},
    # a show, and its security group's id from its ports (one group: its name is Nova's)
    "/api/v1/server/{server_id}": {"nova-api": 1, "neutron": 1},
    "/api/v1/server/{server_name}": {"nova-api": 1, "neutron": 1},
}
# The catalog cache (CATALOG_CACHE_SECONDS, 30 s by default): the flavor list and a page's image names cost each
# worker at most one call per lifetime (none while the warm-up's answers last), not one per gateway call.
CACHED = {"/api/v1/flavor": "nova-api", "/api/v1/server": "glance"}


@pytest.mark.parametrize("template", list(CASES))
def test_n_calls_cost_n_upstream_calls(cloud_info, steady, template):
    expected = CASES[template]
    path = template.format(
        image_id=cloud_info.image["id"],
        image_name=cloud_info.image["name"],
        flavor_id=cloud_info.flavor["id"],
        flavor_name=cloud_info.flavor["name"],
        network_id=cloud_info.networks["shared"]["id"],
        network_name=cloud_info.networks["shared"]["name"],
        server_id=steady.server["id"],
        server_name=server_name("steady"),
    )
    with Counter(cloud_info) as count:
        call_many(steady.gateway, [path] * N)
    hits = count.of(steady.user_agent, steady.project)
    assert hits["keystone"] == [], "the gateway called Keystone in steady state"
    others = {name: found for name, found in hits.items() if name not in expected and name != "keystone" and found}
    assert not others, f"unexpected upstream calls: {others}"
    for service, per_call in expected.items():
        if CACHED.get(template) == service:
            assert len(hits[service]) <= WORKERS, f"{N} calls of {path}: {[h.target for h in hits[service]]}"
            continue
        assert len(hits[service]) == N * per_call, (
            f"{N} calls of {path} cost {len(hits[service])} {service} calls: {[h.target for h in hits[service]]}"
        )

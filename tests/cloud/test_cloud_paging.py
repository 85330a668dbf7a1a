"""Walking the server list page by page while servers are being scheduled, on the real Nova.

Nova lists servers it is still scheduling ahead of the rest, and its marker misbehaves around them (a server
came twice in a walk of three new servers by two). Every walk here must answer every server exactly once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.cloud.harness import ACTIVE_TIMEOUT, Gateway, server_name

N_SERVERS = 5


def walk(gw: Gateway, stem: str, limit: int) -> list[dict[str, Any]]:
    """Every server named stem*, page after page, as a dashboard walks them."""
    servers: list[dict[str, Any]] = []
    marker = None
    for _ in range(2 * N_SERVERS + 2):  # bounded: pages that answer nothing new still end
        params = {"name_like": stem, "limit": limit, "fields": "id,name,status,task_state"}
        resp = gw.get("/api/v1/server", params={**params, **({"marker": marker} if marker else {})})
        assert resp.status_code == 200, resp.text
        servers += resp.json()["servers"]
        marker = resp.json()["next_marker"]
        if marker is None:
            return servers
    pytest.fail(f"the walk by {limit} did not end: {[s['name'] for s in servers]}", pytrace=False)


def test_every_walk_answers_each_server_once_while_they_schedule(gateway, cloud_info, servers):
    stem = server_name("walk-")
    with ThreadPoolExecutor(N_SERVERS) as pool:
        created = list(pool.map(lambda n: servers.create(gateway, cloud_info, f"walk-{n}"), range(N_SERVERS)))
    assert [r.status_code for r in created] == [201] * N_SERVERS, [r.text for r in created]
    ids = sorted(r.json()["id"] for r in created)

    walks, scheduling_seen, deadline = 0, 0, time.monotonic() + ACTIVE_TIMEOUT
    while True:
        for limit in (1, 2, 3):
            answered = walk(gateway, stem, limit)
            walks += 1
            scheduling_seen += sum(1 for s in answered if s["task_state"] == "scheduling")
            assert sorted(s["id"] for s in answered) == ids, (limit, [(s["name"], s["task_state"]) for s in answered])
        if all(s["status"] == "ACTIVE" for s in answered) or time.monotonic() > deadline:
            break
    print(f"\n{walks} walks, each server exactly once; {scheduling_seen} answers of a server still scheduling")
    assert all(s["status"] == "ACTIVE" for s in answered), "the servers did not become ACTIVE in time"

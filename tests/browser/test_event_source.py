"""The server change stream in headless Chromium: the browser's own EventSource, against the real cloud, sees a
server created through the gateway go `added` -> `modified` (ACTIVE) -> `deleted`."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.cloud.harness import RUN, Cloud, Gateway, server_name, wait_for

pytestmark = pytest.mark.browser

LISTEN = """(url) => {
    window.seen = [];
    window.opened = 0;
    const source = new EventSource(url);
    source.onopen = () => { window.opened += 1; };
    for (const kind of ["added", "modified", "deleted", "synced"]) {
        source.addEventListener(kind, (e) => window.seen.push({kind, id: e.lastEventId, server: JSON.parse(e.data)}));
    }
    window.source = source;
}"""


def seen(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.seen")


def test_an_event_source_follows_a_server_from_added_to_deleted(
    browser: Any, open_gateway: Gateway, browser_cloud: Cloud
) -> None:
    page = browser.new_page()
    page.goto(open_gateway.base + "/healthz")  # any page of the gateway's origin
    page.evaluate(LISTEN, f"/api/v1/server/events?initial=true&name_like={RUN}-browser-ev")
    wait_for(lambda: [e for e in seen(page) if e["kind"] == "synced"] or None, 30, "the synced event", 0.2)
    body = {
        "name": server_name("browser-ev"),
        "image_id": browser_cloud.image["id"],
        "flavor_id": browser_cloud.flavor["id"],
        "network_id": browser_cloud.networks["demo"]["id"],
    }
    created = open_gateway.post("/api/v1/server", json=body)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    try:

        def of_server() -> list[dict[str, Any]]:
            return [e for e in seen(page) if e["server"].get("id") == sid]

        wait_for(lambda: [e for e in of_server() if e["server"]["status"] == "ACTIVE"] or None, 120, "ACTIVE", 0.5)
    finally:
        assert open_gateway.delete(f"/api/v1/server/{sid}").status_code == 204
    wait_for(lambda: [e for e in of_server() if e["kind"] == "deleted"] or None, 60, "the deleted event", 0.5)
    time.sleep(1)

    kinds = [e["kind"] for e in of_server()]
    assert kinds[0] == "added" and kinds[-1] == "deleted" and set(kinds[1:-1]) <= {"modified"}
    assert of_server()[0]["server"]["status"] == "BUILD"  # the create wakes the gateway's poller at once
    active = next(i for i, e in enumerate(of_server()) if e["server"]["status"] == "ACTIVE")
    assert kinds[active] == "modified"
    assert all(e["id"] for e in of_server())  # each carries the cursor the browser would resume from
    assert page.evaluate("window.opened") == 1  # one connection: the stream never dropped
    page.evaluate("window.source.close()")
    page.close()

"""The late-duplicate watch of keyed creates (IDEMPOTENCY_WATCH_SECONDS): on the wire, with its thread running.

The case it exists for: a gateway instance dies while Nova still works on its keyed POST; the retry on another
instance makes its own server and answers it; Nova then finishes the dead one's POST, and a second server carries
the key. The instance that answered deletes it at its next look.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from devstack_client import create_app
from devstack_client.services.keywatch import check_times
from devstack_client.services.launch import SETTLED_METADATA, key_tag
from tests.api.test_server_create import KEY, keyed_server
from tests.api.test_volumes import CREATE as VOLUME_CREATE
from tests.api.test_volumes import KEY as VOLUME_KEY
from tests.api.test_volumes import keyed_volume
from tests.fakes import (
    CINDER,
    CREATE,
    CREDENTIALS,
    NOVA,
    cinder_error,
    make_create_response,
    nova_error,
)

OURS = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
TWIN = "9d3c1b2a-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
WATCH = 0.24  # s: looks at 0.01, 0.03, 0.07, 0.15 and 0.24 s after the answer
VOLUME = "6c1e4b7a-2f3d-4e5a-9b8c-0d1e2f3a4b5c"
VOLUME_TWIN = "7d2f5c8b-3a4e-4f6b-8c9d-1e2f3a4b5c6d"


@pytest.fixture
def app(cloud):
    return create_app({**CREDENTIALS, "IDEMPOTENCY_WATCH_SECONDS": str(WATCH), "IDEMPOTENCY_SETTLE_SECONDS": "0"})


@pytest.fixture
def nova_creates(cloud):
    """Nova accepts the POST with OURS; the server then reads back in BUILD."""
    cloud.nova("GET", f"/servers/{OURS}", body={"server": keyed_server(OURS, status="BUILD")})
    return cloud.nova("POST", "/servers", status=202, body=make_create_response(OURS))


@pytest.fixture
def watch(app):
    yield app.extensions["keywatch"]
    assert app.extensions["keywatch"].wait_idle(5), "the watch's checks did not finish"


def keyed_list(cloud, *answers):
    """Nova's answers to the key's tag list, in turn (the last one repeats)."""
    return cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}", [{"json": {"servers": list(a)}} for a in answers]
    )


def test_the_default_watch_looks_five_times_in_two_minutes():
    assert check_times(120) == pytest.approx((5, 15, 35, 75, 120))
    assert check_times(0) == ()


def test_a_late_twin_is_deleted_and_ours_marked_once_active(client, cloud, nova_creates, watch, caplog):
    caplog.set_level(logging.INFO, "devstack_client")
    ours_building, ours_active = (keyed_server(OURS, status=s) for s in ("BUILD", "ACTIVE"))
    # Not there before; alone at the settle; then a newer twin (the dead instance's POST, finished late), gone once
    # deleted while ours builds on, then ours ACTIVE, then marked.
    twin = keyed_server(TWIN, age=timedelta(0), status="BUILD")
    marked = {**ours_active, "metadata": {**ours_active["metadata"], SETTLED_METADATA: "true"}}
    tagged = keyed_list(cloud, [], [ours_building], [ours_building, twin], [ours_building], [ours_active], [marked])
    deleted = cloud.nova("DELETE", f"/servers/{TWIN}", status=204)
    refused = nova_error(409, f"Cannot 'update metadata' instance {OURS} while it is in vm_state building")
    mark = cloud.mocker.put(
        f"{NOVA}/servers/{OURS}/metadata/{SETTLED_METADATA}",
        [{"status_code": 409, "json": refused}, {"json": {"meta": {SETTLED_METADATA: "true"}}}],
    )

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201, response.json
    assert response.json["id"] == OURS
    assert watch.wait_idle(5)
    assert deleted.call_count == 1  # the twin, once; never ours
    assert [c for c in cloud.api_calls() if c.startswith("DELETE")] == [f"DELETE {NOVA}/servers/{TWIN}"]
    assert mark.call_count == 2  # refused at the settle (building), written by the watch once ACTIVE
    assert mark.last_request.json() == {"meta": {SETTLED_METADATA: "true"}}
    assert tagged.call_count == 2 + len(check_times(WATCH))  # before, at the settle, then every look
    assert f"idempotency watch: deleting late duplicate server {TWIN}, keeping {OURS}" in caplog.text


def test_the_watch_stops_once_ours_is_deleted_and_leaves_a_new_server_alone(client, cloud, nova_creates, watch):
    # Ours deleted by its owner; the same key then legitimately made a new server (another request, later).
    new = keyed_server(TWIN, age=timedelta(0))
    tagged = keyed_list(cloud, [], [keyed_server(OURS)], [new])
    cloud.nova("PUT", f"/servers/{OURS}/metadata/{SETTLED_METADATA}", body={"meta": {SETTLED_METADATA: "true"}})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert watch.wait_idle(5)
    assert tagged.call_count == 3  # one look, which found ours gone: no more
    assert not [c for c in cloud.api_calls() if c.startswith("DELETE")]


def test_a_failed_look_is_logged_and_the_next_one_still_runs(client, cloud, nova_creates, watch, caplog):
    twin = keyed_server(TWIN, age=timedelta(0))
    ours = keyed_server(OURS)
    ours["metadata"][SETTLED_METADATA] = "true"
    outage = {"status_code": 503, "json": nova_error(503, "Service Unavailable")}
    tagged = cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [
            {"json": {"servers": []}},
            {"json": {"servers": [ours]}},
            outage,
            {"json": {"servers": [ours, twin]}},
            {"json": {"servers": [ours]}},
        ],
    )
    cloud.nova("PUT", f"/servers/{OURS}/metadata/{SETTLED_METADATA}", body={"meta": {SETTLED_METADATA: "true"}})
    deleted = cloud.nova("DELETE", f"/servers/{TWIN}", status=204)

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert watch.wait_idle(5)
    assert "idempotency watch: checking server " + OURS + " failed" in caplog.text
    assert deleted.call_count == 1  # the look after the failed one found the twin
    assert tagged.call_count == 2 + len(check_times(WATCH))


def test_a_replay_starts_no_watch(client, cloud, nova_creates, watch):
    tagged = keyed_list(cloud, [keyed_server(OURS)])

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.headers["Idempotent-Replayed"] == "true"
    assert watch.pending() == 0
    assert tagged.call_count == 1


def test_a_create_without_a_key_starts_no_watch(client, cloud, nova_creates, watch):
    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 201
    assert watch.pending() == 0


# -- volumes: the same watch, through Cinder ---------------------------------------------------------------------


def test_a_late_volume_twin_is_deleted_once_cinder_lets_it_go(client, cloud, watch):
    ours = keyed_volume(VOLUME, age=timedelta(seconds=10), status="creating")
    cloud.cinder("POST", "/volumes", 202, {"volume": ours})
    cloud.cinder("POST", f"/volumes/{VOLUME}/metadata", body={"metadata": {}})
    twin = keyed_volume(VOLUME_TWIN, age=timedelta(0), status="creating")
    lookups = cloud.mocker.get(
        f"{CINDER}/volumes/detail",
        [{"json": {"volumes": v}} for v in ([], [ours], [ours, twin], [ours, {**twin, "status": "available"}], [ours])],
    )
    refused = cinder_error(400, "Invalid volume: Volume status must be available or error ...")
    deleted = cloud.mocker.delete(
        f"{CINDER}/volumes/{VOLUME_TWIN}", [{"status_code": 400, "json": refused}, {"status_code": 202}]
    )

    response = client.post("/api/v1/volume", json=VOLUME_CREATE, headers={"Idempotency-Key": VOLUME_KEY})

    assert response.status_code == 201, response.json
    assert response.json["id"] == VOLUME
    assert watch.wait_idle(5)
    assert deleted.call_count == 2  # refused while creating, accepted at the next look
    assert [c for c in cloud.api_calls() if c.startswith("DELETE")] == [f"DELETE {CINDER}/volumes/{VOLUME_TWIN}"] * 2
    assert lookups.call_count == 2 + len(check_times(WATCH))

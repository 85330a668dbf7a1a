"""Conditional reads and writes on the real cloud: 304 for an unchanged server, 412 for an edit of a stale one."""

from __future__ import annotations

from tests.cloud.harness import wait_active


def test_etags_follow_the_server_and_guard_its_edits(gateway, cloud_info, servers):
    created = servers.create(gateway, cloud_info, "etag")
    assert created.status_code == 201, created.text
    server_id = created.json()["id"]
    wait_active(gateway, server_id)
    path = f"/api/v1/server/{server_id}"

    read = gateway.get(path)
    tag = read.headers["ETag"]
    assert read.headers["Cache-Control"] == "private, no-cache"
    unchanged = gateway.get(path, headers={"If-None-Match": tag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")

    # Someone else renames it: the caller's tag is stale now.
    assert gateway.request("PATCH", path, json={"description": "changed by another"}).status_code == 200
    stale = gateway.request("PATCH", path, json={"name": "etag-lost-update"}, headers={"If-Match": tag})
    assert stale.status_code == 412, stale.text
    assert stale.json()["code"] == "precondition_failed"
    assert gateway.get(path).json()["name"] == created.json()["name"]  # nothing was changed

    fresh = gateway.get(path)
    assert fresh.headers["ETag"] == stale.json()["etag"] != tag
    assert gateway.get(path, headers={"If-None-Match": tag}).status_code == 200
    updated = gateway.request("PATCH", path, json={"description": "mine"}, headers={"If-Match": fresh.headers["ETag"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "mine"

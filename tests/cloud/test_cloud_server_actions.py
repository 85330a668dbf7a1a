"""Acting on servers against the real cloud: power actions, invalid states, edits, console log, console, snapshot.

Nova runs the fake virt driver: every state change is real Nova bookkeeping (vm_state, task_state, instance
actions), its console log is a fixed text, it has no console ([vnc] and [serial_console] are disabled) and its
snapshots stay `queued` in Glance (it uploads nothing).
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.cloud.harness import ACTIVE_TIMEOUT, RUN, Gateway, wait_active, wait_for

# Not the harness's PREFIX: other test sessions sharing this cloud sweep every server named PREFIX* when
# they start, ours included, mid-test.
PREFIX = "dcga-"
FAKE_CONSOLE = "FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE"  # nova/virt/fake.py get_console_output


def server_name(label: str) -> str:
    return f"{PREFIX}{RUN}-{label}"


def wait_settled(gw: Gateway, server_id: str, status: str) -> dict[str, Any]:
    """Poll through the gateway until the server has `status` and Nova is done with it (task_state null)."""

    def settled() -> dict[str, Any] | None:
        resp = gw.get(f"/api/v1/server/{server_id}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] != "ERROR", body
        return body if body["status"] == status and body["task_state"] is None else None

    return wait_for(settled, ACTIVE_TIMEOUT, f"server {server_id} to be {status}", interval=0.5)


def act(gw: Gateway, ref: str, **body: str) -> dict[str, Any]:
    resp = gw.post(f"/api/v1/server/{ref}/action", json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()


def boot(gw: Gateway, cloud_info, servers, label: str) -> str:
    resp = servers.create(gw, cloud_info, label, name=server_name(label))
    assert resp.status_code == 201, resp.text
    server_id = resp.json()["id"]
    wait_active(gw, server_id)
    wait_settled(gw, server_id, "ACTIVE")
    return server_id


def test_power_and_state_actions(gateway, upstream, cloud_info, servers):
    server_id = boot(gateway, cloud_info, servers, "power")

    # start while ACTIVE: Nova's 409, with the state it is in
    resp = gateway.post(f"/api/v1/server/{server_id}/action", json={"action": "start"})
    assert resp.status_code == 409, resp.text
    assert resp.json() == {
        "code": "invalid_state",
        "message": f"Cannot 'start' instance {server_id} while it is in vm_state active",
        "status": "ACTIVE",
        "task_state": None,
        "locked": False,
        "upstream_status": 409,
        "upstream_request_id": resp.json()["upstream_request_id"],
        "request_id": resp.headers["X-Request-Id"],
    }
    assert resp.json()["upstream_request_id"].startswith("req-")

    accepted = act(gateway, server_id, action="stop")
    assert accepted == {
        "id": server_id,
        "action": "stop",
        "type": None,
        "target_status": "SHUTOFF",
        "image_id": None,
        "security_group": None,
        "floating_ip": None,
    }
    assert wait_settled(gateway, server_id, "SHUTOFF")["power_state"] == 4  # SHUTDOWN

    # a soft reboot of a stopped server is refused too
    resp = gateway.post(f"/api/v1/server/{server_id}/action", json={"action": "reboot"})
    assert resp.status_code == 409, resp.text
    assert (resp.json()["code"], resp.json()["status"]) == ("invalid_state", "SHUTOFF")

    assert act(gateway, server_id, action="start")["target_status"] == "ACTIVE"
    assert wait_settled(gateway, server_id, "ACTIVE")["power_state"] == 1  # RUNNING

    assert act(gateway, server_id, action="reboot")["type"] == "soft"
    wait_settled(gateway, server_id, "ACTIVE")
    assert act(gateway, server_id, action="reboot", type="hard")["type"] == "hard"
    wait_settled(gateway, server_id, "ACTIVE")

    # by name, as everywhere
    assert act(gateway, server_name("power"), action="pause")["id"] == server_id
    wait_settled(gateway, server_id, "PAUSED")
    resp = gateway.post(f"/api/v1/server/{server_id}/action", json={"action": "suspend"})
    assert resp.status_code == 409, resp.text
    assert resp.json()["message"] == f"Cannot 'suspend' instance {server_id} while it is in vm_state paused"
    assert resp.json()["status"] == "PAUSED"
    act(gateway, server_id, action="unpause")
    wait_settled(gateway, server_id, "ACTIVE")

    act(gateway, server_id, action="suspend")
    wait_settled(gateway, server_id, "SUSPENDED")
    act(gateway, server_id, action="resume")
    wait_settled(gateway, server_id, "ACTIVE")

    # Nova's own record of what it was asked to do, oldest first
    actions = upstream("demo").get("compute", f"/servers/{server_id}/os-instance-actions")["instanceActions"]
    done = [a["action"] for a in sorted(actions, key=lambda a: a["start_time"])]
    assert done == ["create", "stop", "start", "reboot", "reboot", "pause", "unpause", "suspend", "resume"]


def test_bad_actions_send_nothing(gateway):
    missing = str(uuid.uuid4())
    resp = gateway.post(f"/api/v1/server/{missing}/action", json={"action": "stop"})
    assert resp.status_code == 404, resp.text
    assert resp.json()["code"] == "not_found"
    assert missing in resp.json()["message"]  # Nova 34: "Instance … has no mapping to a cell."

    resp = gateway.post(f"/api/v1/server/{missing}/action", json={"action": "explode", "type": "hard"})
    assert resp.status_code == 400, resp.text
    assert {e["field"] for e in resp.json()["errors"]} == {"action"}


def test_edit_name_description_metadata_tags(gateway, upstream, cloud_info, servers):
    server_id = boot(gateway, cloud_info, servers, "edit")
    nova = upstream("demo")
    new_name = server_name("edited")
    change = {
        "name": new_name,
        "description": "Front-end web server",
        "metadata": {"role": "web", "owner": "team-a"},
        "tags": ["prod", "web"],
    }

    resp = gateway.request("PATCH", f"/api/v1/server/{server_id}", json=change)
    assert resp.status_code == 200, resp.text
    assert {key: resp.json()[key] for key in change} == change

    # read back through the gateway, by the new name, and from Nova itself
    resp = gateway.get(f"/api/v1/server/{new_name}")
    assert resp.status_code == 200, resp.text
    assert {key: resp.json()[key] for key in change} == change
    server = nova.get("compute", f"/servers/{server_id}")["server"]
    assert (server["name"], server["description"], server["metadata"]) == (
        new_name,
        change["description"],
        change["metadata"],
    )
    assert sorted(server["tags"]) == ["prod", "web"]

    # metadata and tags replace the whole set; "" removes the description
    resp = gateway.request(
        "PATCH", f"/api/v1/server/{server_id}", json={"metadata": {"role": "db"}, "tags": [], "description": ""}
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["metadata"], resp.json()["tags"], resp.json()["description"]) == ({"role": "db"}, [], None)
    server = nova.get("compute", f"/servers/{server_id}")["server"]
    assert (server["metadata"], server["tags"], server["description"]) == ({"role": "db"}, [], None)

    # what Nova would refuse is refused up front, naming the field, and nothing changes
    for body, field in (
        ({"tags": ["a/b"]}, "tags.0"),
        ({"tags": ["t" * 61]}, "tags.0"),
        ({"metadata": {"k/x": "v"}}, "metadata.k/x"),
        ({"name": " padded"}, "name"),
        ({}, "body"),
    ):
        resp = gateway.request("PATCH", f"/api/v1/server/{server_id}", json=body)
        assert resp.status_code == 400, resp.text
        assert [e["field"] for e in resp.json()["errors"]] == [field], resp.text
    server = nova.get("compute", f"/servers/{server_id}")["server"]
    assert (server["name"], server["metadata"], server["tags"]) == (new_name, {"role": "db"}, [])


def test_console_log_and_console(gateway, upstream, cloud_info, servers):
    server_id = boot(gateway, cloud_info, servers, "console")

    resp = gateway.get(f"/api/v1/server/{server_id}/console-log")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"output": FAKE_CONSOLE, "lines": 50}

    resp = gateway.get(f"/api/v1/server/{server_id}/console-log", params={"lines": 2})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"output": "ANOTHER\nLAST LINE", "lines": 2}  # Nova keeps the last lines

    resp = gateway.get(f"/api/v1/server/{server_id}/console-log", params={"lines": 0})
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == "lines"

    # this cloud has [vnc] and [serial_console] disabled: Nova refuses both, we say so
    resp = gateway.get(f"/api/v1/server/{server_id}/console")
    assert resp.status_code == 501, resp.text
    body = resp.json()
    assert body["code"] == "console_unavailable"
    assert body["message"] == (
        "This cloud offers no console for this server "
        "(vnc: Unavailable console type novnc. serial: Unavailable console type serial.)"
    )
    assert body["upstream_status"] == 400


def test_snapshot_makes_an_image(gateway, upstream, cloud_info, servers):
    server_id = boot(gateway, cloud_info, servers, "snap")
    glance = upstream("demo")
    image_name = f"{PREFIX}{RUN}-snapshot"

    resp = gateway.post(f"/api/v1/server/{server_id}/action", json={"action": "snapshot", "name": image_name})
    assert resp.status_code == 202, resp.text
    image_id = resp.json()["image_id"]
    try:
        assert resp.json() == {
            "id": server_id,
            "action": "snapshot",
            "type": None,
            "target_status": None,
            "image_id": image_id,
            "security_group": None,
            "floating_ip": None,
        }
        assert resp.headers["Location"].endswith(f"/api/v1/image/{image_id}")

        resp = gateway.get(f"/api/v1/image/{image_id}")
        assert resp.status_code == 200, resp.text
        assert resp.json()["name"] == image_name
        assert resp.json()["visibility"] == "private"
        listed = gateway.get("/api/v1/image").json()["images"]
        assert image_id in {image["id"] for image in listed}
        # the server stays ACTIVE; Nova is done when its task_state is null again
        wait_settled(gateway, server_id, "ACTIVE")
    finally:
        # we have no image delete endpoint: clean up as the user, upstream
        glance.request("image", "DELETE", f"/v2/images/{image_id}").close()
    assert gateway.get(f"/api/v1/image/{image_id}").status_code == 404

    # a snapshot needs a name
    resp = gateway.post(f"/api/v1/server/{server_id}/action", json={"action": "snapshot"})
    assert resp.status_code == 400, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == ["name"]

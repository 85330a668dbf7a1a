"""Volumes against the real cloud's Cinder: create, attach, see on both sides, detach, delete; boot from volume;
Cinder's quota; an attached volume's delete; hostile names; and a catalog without Cinder (501).

Volumes are named PREFIX + RUN + "-…" and deleted at the end of each test (detached first), even on failure;
those an interrupted run left are swept at the start of this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cloud.harness import (
    ACTIVE_TIMEOUT,
    DELETE_TIMEOUT,
    PREFIX,
    Gateway,
    Upstream,
    server_name,
    wait_active,
    wait_for,
    wait_gone,
)

# Cinder without a project id in its URL (cloud.json's block-storage endpoint) needs microversion 3.67.
CINDER = {"OpenStack-API-Version": "volume 3.67"}
VOLUME_TIMEOUT = 60  # s: the fake driver creates, attaches and deletes in about a second


def cinder_volumes(client: Upstream) -> list[dict[str, Any]]:
    """The user's volumes, as Cinder itself lists them (block-storage's URL without a project id: 3.67+)."""
    resp = client.request("block-storage", "GET", "/volumes/detail", headers=CINDER)
    resp.raise_for_status()
    return resp.json()["volumes"]


def volume_status(gw: Gateway, volume_id: str) -> str | None:
    resp = gw.get(f"/api/v1/volume/{volume_id}")
    assert resp.status_code in (200, 404), resp.text
    return resp.json()["status"] if resp.status_code == 200 else None


def wait_status(gw: Gateway, volume_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        resp = gw.get(f"/api/v1/volume/{volume_id}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert not body["status"].startswith("error"), body
        return body if body["status"] == status else None

    return wait_for(reached, VOLUME_TIMEOUT, f"volume {volume_id} to be {status}")


def wait_volume_gone(gw: Gateway, volume_id: str, timeout: float = VOLUME_TIMEOUT) -> None:
    wait_for(lambda: True if volume_status(gw, volume_id) is None else None, timeout, f"volume {volume_id} gone")


class Volumes:
    """Volumes a test made through a gateway: detached from their servers, deleted and awaited at the end."""

    def __init__(self) -> None:
        self.created: list[tuple[Gateway, str]] = []

    def create(self, gw: Gateway, label: str, **fields: Any):
        resp = gw.post("/api/v1/volume?wait=true&timeout=60", json={"name": server_name(label), "size": 1, **fields})
        if resp.status_code in (201, 202):
            self.created.append((gw, resp.json()["id"]))
        return resp

    def track(self, gw: Gateway, volume_id: str) -> None:
        self.created.append((gw, volume_id))

    def cleanup(self) -> None:
        for gw, volume_id in self.created:
            with contextlib.suppress(Exception):  # one failure must not keep the others
                resp = gw.get(f"/api/v1/volume/{volume_id}")
                if resp.status_code == 404:
                    continue
                for attachment in resp.json()["attachments"]:  # a server the test did not delete
                    action = {"action": "detach_volume", "volume": volume_id}
                    gw.post(f"/api/v1/server/{attachment['server_id']}/action", json=action)
                if resp.json()["status"] != "available":
                    wait_status(gw, volume_id, "available")
                gw.delete(f"/api/v1/volume/{volume_id}")
        for gw, volume_id in self.created:
            with contextlib.suppress(Exception):
                wait_volume_gone(gw, volume_id)


@pytest.fixture
def volumes() -> Iterator[Volumes]:
    """Request it before `servers`: the servers are deleted first (which detaches their volumes), then these."""
    tracker = Volumes()
    yield tracker
    tracker.cleanup()


@pytest.fixture(scope="module", autouse=True)
def _sweep_volumes(upstream: Callable[[str], Upstream]) -> None:
    """Delete the volumes named PREFIX* an interrupted earlier run left (detached ones; their servers are swept)."""
    for user in ("demo", "lowquota"):
        client = upstream(user)
        for volume in cinder_volumes(client):
            if (volume.get("name") or "").startswith(PREFIX) and not volume["attachments"]:
                client.request("block-storage", "DELETE", f"/volumes/{volume['id']}", headers=CINDER).close()


@pytest.fixture(scope="module")
def lowquota_gateway(cloud_info, start_gateway) -> Gateway:
    return start_gateway(cloud_info.credentials("lowquota"), "lowquota-volumes")


def test_create_attach_see_both_sides_detach_delete(gateway, cloud_info, volumes, servers):
    created = volumes.create(gateway, "data")
    assert created.status_code == 201, created.text
    volume = created.json()
    assert (volume["status"], volume["size"], volume["attachments"]) == ("available", 1, [])
    assert created.headers["Location"] == f"/api/v1/volume/{volume['id']}"
    server = servers.create(gateway, cloud_info, "vol-host")
    assert server.status_code == 201, server.text
    server = wait_active(gateway, server.json()["id"])

    attach = {"action": "attach_volume", "volume": volume["name"]}
    accepted = gateway.post(f"/api/v1/server/{server['name']}/action", json=attach)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["target_status"] == "in-use"
    assert accepted.headers["Location"] == f"/api/v1/volume/{volume['id']}"
    shown = wait_status(gateway, volume["id"], "in-use")

    # the volume names its server, the server lists its volume
    assert [(a["server_id"], a["server_name"]) for a in shown["attachments"]] == [(server["id"], server["name"])]
    device = shown["attachments"][0]["device"]
    assert device and device.startswith("/dev/"), shown
    seen = gateway.get(f"/api/v1/server/{server['id']}").json()["volumes"]
    assert seen == [{"id": volume["id"], "name": volume["name"], "device": device, "size": 1}]
    by_server = gateway.get("/api/v1/volume", params={"server": server["name"]})
    assert [v["id"] for v in by_server.json()["volumes"]] == [volume["id"]]

    # attached: the delete is refused, naming the server, and the volume stays
    refused = gateway.delete(f"/api/v1/volume/{volume['id']}")
    assert (refused.status_code, refused.json()["code"]) == (409, "in_use"), refused.text
    assert refused.json()["servers"] == [{"id": server["id"], "name": server["name"]}]
    assert server["name"] in refused.json()["message"]
    assert volume_status(gateway, volume["id"]) == "in-use"

    detach = {"action": "detach_volume", "volume": volume["id"]}
    accepted = gateway.post(f"/api/v1/server/{server['id']}/action", json=detach)
    assert (accepted.status_code, accepted.json()["target_status"]) == (202, "available"), accepted.text
    wait_status(gateway, volume["id"], "available")
    assert gateway.get(f"/api/v1/server/{server['id']}").json()["volumes"] == []

    deleted = gateway.delete(f"/api/v1/volume/{volume['id']}")
    assert deleted.status_code == 204, deleted.text
    wait_volume_gone(gateway, volume["id"])


def test_list_show_edit_and_a_retried_create(gateway, volumes):
    key = {"Idempotency-Key": f"{server_name('key')}"}
    body = {"name": server_name("keyed"), "size": 1, "description": "first"}
    first = gateway.post("/api/v1/volume?wait=true", json=body, headers=key)
    assert first.status_code == 201, first.text
    volumes.track(gateway, first.json()["id"])
    again = gateway.post("/api/v1/volume?wait=true", json=body, headers=key)
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (201, "true"), again.text
    assert again.json()["id"] == first.json()["id"]
    other = gateway.post("/api/v1/volume", json={**body, "size": 2}, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused"), other.text
    named = gateway.get("/api/v1/volume", params={"name": body["name"]}).json()["volumes"]
    assert [v["id"] for v in named] == [first.json()["id"]]  # one volume, whatever the retries

    edited = gateway.request("PATCH", f"/api/v1/volume/{body['name']}", json={"description": "second"})
    assert (edited.status_code, edited.json()["description"]) == (200, "second"), edited.text
    page = gateway.get("/api/v1/volume", params={"limit": 1, "sort": "-created_at", "fields": "name,status"})
    assert page.status_code == 200 and set(page.json()["volumes"][0]) == {"id", "name", "status"}, page.text


def test_boot_from_a_new_volume_and_the_volume_goes_with_the_server(gateway, cloud_info, volumes, servers):
    resp = servers.create(gateway, cloud_info, "bfv", boot_volume_size=1)
    assert resp.status_code == 201, resp.text
    server = wait_active(gateway, resp.json()["id"], ACTIVE_TIMEOUT)
    assert server["image"] is None  # booted from a volume
    (boot,) = server["volumes"]
    volumes.track(gateway, boot["id"])  # deleted with the server; cleaned up if not
    assert boot["size"] == 1 and boot["device"], server
    volume = gateway.get(f"/api/v1/volume/{boot['id']}").json()
    assert (volume["bootable"], volume["status"]) == (True, "in-use"), volume
    assert volume["image"]["id"] == cloud_info.image["id"]

    assert gateway.delete(f"/api/v1/server/{server['id']}").status_code == 204
    wait_gone(gateway, server["id"])
    wait_volume_gone(gateway, boot["id"], DELETE_TIMEOUT)  # delete_on_termination: true by default


def test_boot_from_an_existing_bootable_volume(gateway, cloud_info, volumes, servers):
    made = volumes.create(gateway, "boot-disk", image=cloud_info.image["id"])
    assert made.status_code == 201 and made.json()["bootable"] is True, made.text
    body = {"image_id": None, "boot_volume": made.json()["name"]}

    resp = servers.create(gateway, cloud_info, "from-disk", **body)

    assert resp.status_code == 201, resp.text
    server = wait_active(gateway, resp.json()["id"])
    assert [v["id"] for v in server["volumes"]] == [made.json()["id"]]


def test_over_cinders_quota_is_400_and_leaves_nothing(lowquota_gateway, cloud_info, upstream, volumes):
    gw, cinder = lowquota_gateway, upstream("lowquota")
    quota = cloud_info.data["quotas"]["lowquota"]["volume"]  # 2 volumes, 3 GiB
    limits = gw.get("/api/v1/limits").json()["limits"]
    assert limits["volumes"]["max"] == quota["volumes"] and limits["gigabytes"]["max"] == quota["gigabytes"]
    before = {v["id"] for v in cinder_volumes(cinder)}

    too_big = gw.post("/api/v1/volume", json={"name": server_name("too-big"), "size": quota["gigabytes"] + 1})

    assert (too_big.status_code, too_big.json()["code"]) == (400, "quota_exceeded"), too_big.text
    assert "gigabytes" in too_big.json()["message"]
    assert {v["id"] for v in cinder_volumes(cinder)} == before

    room = quota["volumes"] - len(before)
    for n in range(room):
        assert volumes.create(gw, f"fill-{n}").status_code == 201
    one_more = gw.post("/api/v1/volume", json={"name": server_name("one-more"), "size": 1})
    assert (one_more.status_code, one_more.json()["code"]) == (400, "quota_exceeded"), one_more.text
    assert "VolumeLimitExceeded" in one_more.json()["message"]
    assert len(cinder_volumes(cinder)) == quota["volumes"]

    # a boot from a new volume is refused before Nova is asked: no server in ERROR is left behind
    body = {
        "name": server_name("bfv-over"),
        "image_id": cloud_info.image["id"],
        "flavor_id": cloud_info.flavor["id"],
        "network_id": cloud_info.networks["lowquota"]["id"],
        "boot_volume_size": 1,
    }
    for query in ("?dry_run=true", ""):
        refused = gw.post(f"/api/v1/server{query}", json=body)
        assert (refused.status_code, refused.json()["code"]) == (400, "quota_exceeded"), refused.text
    assert gw.get("/api/v1/server", params={"name": body["name"]}).json()["servers"] == []


HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "a/b",
    "%2e%2e",
    "..",
    "Robert'); DROP TABLE volumes;--",
    "${jndi:ldap://x/a}",
    "名前のボリューム",
    "a\u00a0b",
    "x" * 255,
]
REFUSED_NAMES = ["nul\x00byte", "rocket-\U0001f680", " leading", "tab\tin", "x" * 256]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_hostile_name_is_stored_and_found_without_an_upstream_500(gateway, volumes, name):
    resp = gateway.post("/api/v1/volume", json={"name": name, "size": 1})
    assert resp.status_code == 201, resp.text
    volumes.track(gateway, resp.json()["id"])
    assert resp.json()["name"] == name

    found = gateway.get("/api/v1/volume", params={"name": name})
    assert [v["id"] for v in found.json()["volumes"]] == [resp.json()["id"]], found.text
    shown = gateway.get(f"/api/v1/volume/{resp.json()['id']}")
    assert shown.status_code == 200 and shown.json()["name"] == name


@pytest.mark.parametrize("name", REFUSED_NAMES, ids=range(len(REFUSED_NAMES)))
def test_a_name_openstack_would_choke_on_is_400(gateway, name):
    resp = gateway.post("/api/v1/volume", json={"name": name, "size": 1})

    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_request"), resp.text
    assert gateway.get("/api/v1/volume", params={"name": name}).status_code in (200, 400)


# Not ".": HTTP clients resolve /api/v1/volume/. to /api/v1/volume/ (the list) before sending it.
@pytest.mark.parametrize("ref", ["..", "%2e%2e", "a%2Fb", "x%00y", "%F0%9F%9A%80", "' OR '1'='1"])
def test_a_hostile_ref_finds_nothing(gateway, ref):
    for method in ("GET", "DELETE"):
        resp = gateway.request(method, f"/api/v1/volume/{ref}")
        assert resp.status_code in (400, 404), (method, ref, resp.status_code, resp.text)


@contextlib.contextmanager
def catalog_without_cinder(admin: Upstream, project_id: str) -> Iterator[None]:
    """The project's tokens carry no Cinder for a while: Keystone's endpoint filter (OS-EP-FILTER) gives a
    project with endpoints associated to it only those. Every other project's catalog is untouched, and the
    associations are removed in any case (a project with none gets the whole catalog again)."""
    types = {s["id"]: s["type"] for s in admin.get("identity", "/services")["services"]}
    keep = [e["id"] for e in admin.get("identity", "/endpoints")["endpoints"]
            if types.get(e["service_id"]) not in ("block-storage", "volumev3", "volume", "volumev2")]  # fmt: skip
    associated = []
    try:
        for endpoint_id in keep:
            resp = admin.request("identity", "PUT", f"/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}")
            assert resp.status_code == 204, resp.text
            associated.append(endpoint_id)
        yield
    finally:
        for endpoint_id in associated:
            admin.request("identity", "DELETE", f"/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}").close()


def test_a_cloud_without_cinder_answers_501_for_volumes_only(cloud_info, upstream, start_gateway):
    project_id = cloud_info.users["lowquota"]["project_id"]
    with catalog_without_cinder(upstream("admin"), project_id):
        catalog = Upstream(cloud_info, "lowquota")  # a token issued now: its catalog is the filtered one
        try:
            token = catalog.http.get(
                cloud_info.auth_url + "/auth/tokens", headers={"X-Subject-Token": catalog.http.headers["X-Auth-Token"]}
            ).json()["token"]
        finally:
            catalog.close()
        types = {service["type"] for service in token["catalog"]}
        assert "block-storage" not in types and "volumev3" not in types and "compute" in types, types
        gw = start_gateway(cloud_info.credentials("lowquota"), "lowquota-without-cinder")

        for method, path, body in [
            ("GET", "/api/v1/volume", None),
            ("POST", "/api/v1/volume", {"name": server_name("nowhere"), "size": 1}),
            ("GET", "/api/v1/volume/anything", None),
            ("DELETE", "/api/v1/volume/anything", None),
        ]:
            resp = gw.request(method, path, json=body)
            assert (resp.status_code, resp.json()["code"]) == (501, "not_supported"), (path, resp.text)
            assert "no block-storage (Cinder) service" in resp.json()["message"]
        # everything else keeps working, and readiness says what is missing
        for path in ("/api/v1/server", "/api/v1/flavor", "/api/v1/image", "/api/v1/network", "/api/v1/limits"):
            assert gw.get(path).status_code == 200, path
        assert gw.get("/api/v1/limits").json()["limits"]["volumes"] is None
        ready = gw.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert list(ready.json()["absent_services"]) == ["block-storage"]

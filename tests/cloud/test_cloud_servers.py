"""Servers: the whole lifecycle, list/show by name and id, ambiguous names, create refused by Nova."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import pytest

from tests.cloud.harness import ACTIVE_TIMEOUT, RUN, same_time, server_name, wait_active, wait_for, wait_gone


def nova_server_view(server: dict[str, Any]) -> dict[str, Any]:
    """Nova's server (compute microversion 2.79) reduced to the gateway's contract."""
    flavor = server["flavor"]
    fault = server.get("fault")
    return {
        "id": server["id"],
        "name": server["name"],
        "status": server["status"],
        "image": {"id": server["image"]["id"]},
        "flavor": {
            "name": flavor["original_name"],
            "vcpus": flavor["vcpus"],
            "ram": flavor["ram"],
            "disk": flavor["disk"],
        },
        "addresses": {
            net: [{"addr": a["addr"], "version": a["version"], "type": a["OS-EXT-IPS:type"]} for a in addrs]
            for net, addrs in server["addresses"].items()
        },
        "key_name": server["key_name"],
        "fault": {"code": fault["code"], "message": fault["message"]} if fault else None,
    }


def gateway_server_view(server: dict[str, Any]) -> dict[str, Any]:
    view = {key: server[key] for key in ("id", "name", "status", "image", "flavor", "key_name")}
    view["addresses"] = {
        net: [{k: a[k] for k in ("addr", "version", "type")} for a in addrs]
        for net, addrs in server["addresses"].items()
    }
    view["fault"] = server.get("fault")
    return view


def assert_same_server(mine: dict[str, Any], nova: dict[str, Any]) -> None:
    assert gateway_server_view(mine) == nova_server_view(nova)
    assert same_time(mine["created_at"], nova["created"])
    assert same_time(mine["updated_at"], nova["updated"])


def test_server_lifecycle(gateway, upstream, cloud_info, servers):
    nova = upstream("demo")
    net = cloud_info.networks["demo"]

    # create: 201, Location, BUILD
    resp = servers.create(gateway, cloud_info, "life")
    assert resp.status_code == 201, resp.text
    created = resp.json()
    server_id = created["id"]
    assert uuid.UUID(server_id)
    assert created["name"] == server_name("life")
    assert created["status"] == "BUILD"
    assert created["image"] == {"id": cloud_info.image["id"]}
    assert resp.headers["Location"].endswith(f"/api/v1/server/{server_id}"), resp.headers["Location"]
    # the Location answers
    assert gateway.get("/api/v1/server/" + resp.headers["Location"].rsplit("/", 1)[1]).status_code == 200

    # BUILD -> ACTIVE, polled through the gateway
    active = wait_active(gateway, server_id)

    # show by id: as Nova reports it, with an address on demo-net
    resp = gateway.get(f"/api/v1/server/{server_id}")
    assert resp.status_code == 200, resp.text
    shown = resp.json()
    assert_same_server(shown, nova.get("compute", f"/servers/{server_id}")["server"])
    assert shown["status"] == "ACTIVE"
    flavor = cloud_info.flavor
    assert shown["flavor"] == {
        "name": flavor["name"],
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
    }
    assert shown["fault"] is None
    assert list(shown["addresses"]) == [net["name"]], shown["addresses"]
    (address,) = shown["addresses"][net["name"]]
    assert address["version"] == 4 and address["type"] == "fixed"
    assert ipaddress.ip_address(address["addr"]) in ipaddress.ip_network(net["cidr"])
    assert active["addresses"] == shown["addresses"]

    # show by name
    resp = gateway.get(f"/api/v1/server/{server_name('life')}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == server_id

    # list: what Nova lists, this server included
    resp = gateway.get("/api/v1/server")
    assert resp.status_code == 200, resp.text
    listed = {s["id"]: s for s in resp.json()["servers"]}
    nova_listed = {s["id"]: s for s in nova.get("compute", "/servers/detail")["servers"]}
    assert sorted(listed) == sorted(nova_listed)
    assert server_id in listed
    assert_same_server(listed[server_id], nova_listed[server_id])

    # delete: 204 and no body, then 404 (polled)
    resp = gateway.delete(f"/api/v1/server/{server_id}")
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    gone = wait_gone(gateway, server_id)
    body = gone.json()
    assert body["code"] == "not_found", body
    assert server_id not in {s["id"] for s in gateway.get("/api/v1/server").json()["servers"]}
    resp = gateway.get(f"/api/v1/server/{server_name('life')}")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found", resp.text
    # a second delete: the server is gone
    resp = gateway.delete(f"/api/v1/server/{server_id}")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found", resp.text


def test_server_not_found(gateway):
    for ref in (str(uuid.uuid4()), f"no-such-server-{RUN}"):
        resp = gateway.get(f"/api/v1/server/{ref}")
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == "not_found"


def test_name_shared_by_two_servers_is_ambiguous(gateway, cloud_info, servers):
    first = servers.create(gateway, cloud_info, "twin")
    second = servers.create(gateway, cloud_info, "twin")
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    ids = sorted([first.json()["id"], second.json()["id"]])
    name = server_name("twin")

    resp = gateway.get(f"/api/v1/server/{name}")
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["code"] == "ambiguous_name", body
    assert sorted(body["candidates"], key=lambda c: c["id"]) == [{"id": i, "name": name} for i in ids]

    # deleting by that name is just as ambiguous, and deletes nothing
    resp = gateway.delete(f"/api/v1/server/{name}")
    assert resp.status_code == 409, resp.text
    assert resp.json()["code"] == "ambiguous_name"
    for server_id in ids:
        assert gateway.get(f"/api/v1/server/{server_id}").status_code == 200

    # each one is still reachable by id
    for server_id in ids:
        assert gateway.get(f"/api/v1/server/{server_id}").json()["name"] == name


BAD_CREATES = {
    "image": lambda: {"image_id": str(uuid.uuid4())},
    "flavor": lambda: {"flavor_id": f"no-such-flavor-{RUN}"},
    "network": lambda: {"network_id": str(uuid.uuid4())},
}


@pytest.mark.parametrize("what", sorted(BAD_CREATES))
def test_create_with_unknown_reference_is_refused_with_novas_text(gateway, upstream, cloud_info, servers, what):
    override = BAD_CREATES[what]()
    label = f"bad-{what}"
    resp = servers.create(gateway, cloud_info, label, **override)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == "bad_request", body
    assert body["upstream_status"] == 400, body
    assert body["upstream_request_id"].startswith("req-"), body

    # Nova's own answer to the same request, sent directly
    direct = {
        "name": server_name(label),
        "imageRef": override.get("image_id", cloud_info.image["id"]),
        "flavorRef": override.get("flavor_id", cloud_info.flavor["id"]),
        "networks": [{"uuid": override.get("network_id", cloud_info.networks["demo"]["id"])}],
    }
    nova = upstream("demo").request("compute", "POST", "/servers", json={"server": direct})
    assert nova.status_code == 400, nova.text
    assert body["message"] == nova.json()["badRequest"]["message"]
    value = next(iter(override.values()))
    expected = {
        "image": "Can not find requested image",
        "flavor": f"Flavor {value} could not be found.",
        "network": f"Network {value} could not be found.",
    }[what]
    assert body["message"] == expected

    # nothing was created
    names = [s["name"] for s in gateway.get("/api/v1/server").json()["servers"]]
    assert server_name(label) not in names


def test_server_in_error_shows_novas_fault(gateway, upstream, cloud_info, servers):
    """m1.toobig fits no host: the server ends in ERROR, and the gateway shows Nova's fault."""
    resp = servers.create(gateway, cloud_info, "fault", flavor_id=cloud_info.flavors["m1.toobig"]["id"])
    assert resp.status_code == 201, resp.text
    server_id = resp.json()["id"]

    def errored():
        r = gateway.get(f"/api/v1/server/{server_id}")
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] == "ERROR" else None

    shown = wait_for(errored, ACTIVE_TIMEOUT, f"server {server_id} to go to ERROR")
    nova = upstream("demo").get("compute", f"/servers/{server_id}")["server"]
    assert shown["fault"] == {"code": nova["fault"]["code"], "message": nova["fault"]["message"]}
    assert shown["fault"]["code"] == 500
    assert shown["fault"]["message"].startswith("No valid host was found"), shown["fault"]
    assert_same_server(shown, nova)

    resp = gateway.delete(f"/api/v1/server/{server_id}")
    assert resp.status_code == 204, resp.text
    wait_gone(gateway, server_id)

"""Images, flavors and networks: every list and show endpoint, by name and by id, as the cloud reports them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.cloud.harness import RUN, same_time


def assert_not_found(resp, ref: str) -> None:
    assert resp.status_code == 404, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == "not_found", body
    assert ref in body["message"], body


# -------------------------------------------------------------------------------------------------- images

IMAGE_FIELDS = ("id", "name", "status", "size", "disk_format", "container_format", "visibility", "min_disk", "min_ram")


def assert_image(mine: dict[str, Any], glance: dict[str, Any]) -> None:
    assert {f: mine[f] for f in IMAGE_FIELDS} == {f: glance[f] for f in IMAGE_FIELDS}
    assert same_time(mine["created_at"], glance["created_at"]), (mine["created_at"], glance["created_at"])


def test_image_list_is_what_glance_lists(gateway, upstream, cloud_info):
    resp = gateway.get("/api/v1/image")
    assert resp.status_code == 200, resp.text
    mine = resp.json()["images"]
    glance = {i["id"]: i for i in upstream("demo").get("image", "/v2/images")["images"]}
    assert sorted(i["id"] for i in mine) == sorted(glance)
    assert cloud_info.image["id"] in glance
    for image in mine:
        assert_image(image, glance[image["id"]])


@pytest.mark.parametrize("by", ["name", "id"])
def test_image_show(gateway, upstream, cloud_info, by):
    resp = gateway.get(f"/api/v1/image/{cloud_info.image[by]}")
    assert resp.status_code == 200, resp.text
    mine = resp.json()
    assert mine["id"] == cloud_info.image["id"]
    assert mine["name"] == "tiny-raw" and mine["status"] == "active" and mine["size"] == 4096
    assert_image(mine, upstream("demo").get("image", f"/v2/images/{cloud_info.image['id']}"))


@pytest.mark.parametrize("ref", [f"no-such-image-{RUN}", str(uuid.uuid4())], ids=["name", "uuid"])
def test_image_not_found(gateway, ref):
    assert_not_found(gateway.get(f"/api/v1/image/{ref}"), ref)


# ------------------------------------------------------------------------------------------------- flavors


def nova_flavor_view(flavor: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": flavor["id"],
        "name": flavor["name"],
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "ephemeral": flavor["OS-FLV-EXT-DATA:ephemeral"],
        "swap": flavor["swap"] or 0,  # "" for none before compute microversion 2.75
        "is_public": flavor["os-flavor-access:is_public"],
    }


def gateway_flavor_view(flavor: dict[str, Any]) -> dict[str, Any]:
    return {key: flavor[key] for key in ("id", "name", "vcpus", "ram", "disk", "ephemeral", "swap", "is_public")}


def test_flavor_list_is_what_nova_lists(gateway, upstream, cloud_info):
    resp = gateway.get("/api/v1/flavor")
    assert resp.status_code == 200, resp.text
    mine = sorted((gateway_flavor_view(f) for f in resp.json()["flavors"]), key=lambda f: f["id"])
    nova = sorted(
        (nova_flavor_view(f) for f in upstream("demo").get("compute", "/flavors/detail")["flavors"]),
        key=lambda f: f["id"],
    )
    assert mine == nova
    assert {"m1.nano", "m1.tiny", "m1.small"} <= {f["name"] for f in mine}


@pytest.mark.parametrize("flavor", ["m1.nano", "m1.tiny", "m1.small"])
@pytest.mark.parametrize("by", ["name", "id"])
def test_flavor_show(gateway, upstream, cloud_info, flavor, by):
    expected = cloud_info.flavors[flavor]
    resp = gateway.get(f"/api/v1/flavor/{expected[by]}")
    assert resp.status_code == 200, resp.text
    mine = gateway_flavor_view(resp.json())
    assert mine == nova_flavor_view(upstream("demo").get("compute", f"/flavors/{expected['id']}")["flavor"])
    assert (mine["name"], mine["ram"], mine["vcpus"], mine["disk"]) == (
        flavor,
        expected["ram"],
        expected["vcpus"],
        expected["disk"],
    )


@pytest.mark.parametrize("ref", [f"no-such-flavor-{RUN}", "424242"], ids=["name", "id"])
def test_flavor_not_found(gateway, ref):
    assert_not_found(gateway.get(f"/api/v1/flavor/{ref}"), ref)


# ------------------------------------------------------------------------------------------------ networks


def neutron_network_view(net: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": net["id"],
        "name": net["name"],
        "status": net["status"],
        "subnets": sorted(net["subnets"]),
        "is_shared": net["shared"],
        "is_router_external": net["router:external"],
        "mtu": net["mtu"],
    }


def gateway_network_view(net: dict[str, Any]) -> dict[str, Any]:
    view = {key: net[key] for key in ("id", "name", "status", "subnets", "is_shared", "is_router_external", "mtu")}
    view["subnets"] = sorted(view["subnets"])
    return view


def test_network_list_is_what_neutron_lists(gateway, upstream, cloud_info):
    resp = gateway.get("/api/v1/network")
    assert resp.status_code == 200, resp.text
    mine = sorted((gateway_network_view(n) for n in resp.json()["networks"]), key=lambda n: n["id"])
    neutron = sorted(
        (neutron_network_view(n) for n in upstream("demo").get("network", "/v2.0/networks")["networks"]),
        key=lambda n: n["id"],
    )
    assert mine == neutron
    ids = {n["id"] for n in mine}
    assert cloud_info.networks["demo"]["id"] in ids and cloud_info.networks["shared"]["id"] in ids
    assert cloud_info.networks["lowquota"]["id"] not in ids  # another project's private network


@pytest.mark.parametrize("network", ["demo", "shared"])
@pytest.mark.parametrize("by", ["name", "id"])
def test_network_show(gateway, upstream, cloud_info, network, by):
    expected = cloud_info.networks[network]
    resp = gateway.get(f"/api/v1/network/{expected[by]}")
    assert resp.status_code == 200, resp.text
    mine = gateway_network_view(resp.json())
    assert mine == neutron_network_view(upstream("demo").get("network", f"/v2.0/networks/{expected['id']}")["network"])
    assert mine["subnets"] == [expected["subnet_id"]]
    assert mine["is_shared"] is expected["shared"]
    assert mine["is_router_external"] is False


@pytest.mark.parametrize("ref", [f"no-such-network-{RUN}", str(uuid.uuid4())], ids=["name", "uuid"])
def test_network_not_found(gateway, ref):
    assert_not_found(gateway.get(f"/api/v1/network/{ref}"), ref)


def test_other_projects_network_is_not_found(gateway, cloud_info):
    """lowquota-net belongs to another project: the demo user must not see it, by name or by id."""
    for ref in (cloud_info.networks["lowquota"]["name"], cloud_info.networks["lowquota"]["id"]):
        assert_not_found(gateway.get(f"/api/v1/network/{ref}"), ref)

"""Floating IPs, with Neutron on the wire."""

import pytest

from devstack_client.services.launch import key_tag, request_digest
from tests.fakes import (
    NEUTRON,
    PROJECT_ID,
    SERVER_ID,
    make_fake_network,
    make_fake_server,
    neutron_error,
)
from tests.neutron_fakes import PUBLIC_ID, make_fake_floating_ip, make_fake_port

FIPS = f"{NEUTRON}/v2.0/floatingips"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
FIP_ID = "61cea855-49cb-4846-997d-801b70c71bdd"
PUBLIC = make_fake_network(PUBLIC_ID, "public", **{"router:external": True, "is_default": False})


def changes(cloud):
    return [f"{r.method} {r.url}" for r in cloud.history if r.method in MUTATING and r.hostname != "keystone.test"]


def test_list_shows_the_server_each_is_attached_to(client, cloud):
    port = make_fake_port()
    attached, free = make_fake_floating_ip(port=port), make_fake_floating_ip(address="172.24.4.10")
    cloud.neutron("GET", "/floatingips", body={"floatingips": [attached, free]})

    response = client.get("/api/v1/floating-ip")

    assert response.status_code == 200
    assert response.json == {
        "floating_ips": [
            {
                "id": attached["id"],
                "address": "172.24.4.228",
                "status": "DOWN",
                "network_id": PUBLIC_ID,
                "fixed_address": "10.0.0.12",
                "port_id": port["id"],
                "server_id": SERVER_ID,
                "router_id": attached["router_id"],
                "description": "",
                "project_id": PROJECT_ID,
                "created_at": "2026-11-30T11:02:03Z",
            },
            {
                "id": free["id"],
                "address": "172.24.4.10",
                "status": "DOWN",
                "network_id": PUBLIC_ID,
                "fixed_address": None,
                "port_id": None,
                "server_id": None,
                "router_id": None,
                "description": "",
                "project_id": PROJECT_ID,
                "created_at": "2026-11-30T11:02:03Z",
            },
        ],
        "next_marker": None,
    }
    assert cloud.api_calls() == [f"GET {FIPS}?project_id={PROJECT_ID}&limit=101"]


def test_list_filtered_by_status_and_server_name(client, cloud):
    server = make_fake_server(name="web-1")
    port = make_fake_port(device_id=server["id"])
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    cloud.neutron("GET", "/ports", body={"ports": [port]})
    cloud.neutron("GET", "/floatingips", body={"floatingips": [make_fake_floating_ip(port=port)]})

    response = client.get("/api/v1/floating-ip?server=web-1&status=down&fields=address,server_id")

    assert response.json["floating_ips"] == [
        {"id": response.json["floating_ips"][0]["id"], "address": "172.24.4.228", "server_id": server["id"]}
    ]
    assert cloud.history[-2].qs == {"device_id": [server["id"]]}
    assert cloud.history[-1].qs == {
        "status": ["down"],
        "project_id": [PROJECT_ID.lower()],
        "port_id": [port["id"]],
        "limit": ["101"],
    }


def test_a_server_filter_naming_no_server_is_400(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get("/api/v1/floating-ip?server=nope")

    assert response.status_code == 400 and response.json["errors"][0]["field"] == "server"


def test_show_by_address_and_by_id(client, cloud):
    fip = make_fake_floating_ip(FIP_ID)
    cloud.neutron("GET", "/floatingips", body={"floatingips": [fip]})
    cloud.neutron("GET", f"/floatingips/{FIP_ID}", body={"floatingip": fip})

    by_address = client.get("/api/v1/floating-ip/172.24.4.228")
    by_id = client.get(f"/api/v1/floating-ip/{FIP_ID}")

    assert by_address.json == by_id.json and by_id.json["address"] == "172.24.4.228"
    assert cloud.api_calls() == [
        f"GET {FIPS}?floating_ip_address=172.24.4.228&project_id={PROJECT_ID}",
        f"GET {FIPS}/{FIP_ID}",
    ]


@pytest.mark.parametrize("ref", ["172.24.4.1", "not-an-address", "..", "1.2.3.4.5"])
def test_an_unknown_floating_ip_is_404(client, cloud, ref):
    cloud.neutron("GET", "/floatingips", body={"floatingips": []})

    response = client.get(f"/api/v1/floating-ip/{ref}")

    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_allocate_from_the_only_external_network(client, cloud):
    fip = make_fake_floating_ip(FIP_ID)
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": fip})

    response = client.post("/api/v1/floating-ip")

    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/floating-ip/{FIP_ID}")
    assert response.json["status"] == "DOWN"  # answered at once: no waiting for ACTIVE
    assert cloud.api_calls() == [f"GET {NEUTRON}/v2.0/networks?router%3Aexternal=true", f"POST {FIPS}"]
    assert cloud.history[-1].json() == {"floatingip": {"floating_network_id": PUBLIC_ID}}


def test_allocate_from_a_named_network_with_a_description(client, cloud):
    cloud.neutron("GET", "/networks?name=public", body={"networks": [PUBLIC]})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": make_fake_floating_ip()})

    response = client.post("/api/v1/floating-ip", json={"network": "public", "description": "web"})

    assert response.status_code == 201
    assert cloud.history[-1].json() == {"floatingip": {"floating_network_id": PUBLIC_ID, "description": "web"}}


@pytest.mark.parametrize(
    ("networks", "body", "words"),
    [
        ([], {}, "no external network"),
        (
            [PUBLIC, make_fake_network(name="public-2", **{"router:external": True})],
            {},
            "choose one of public (376da547",
        ),
        ([make_fake_network(name="private")], {"network": "private"}, "not external"),
        ([], {"network": "nope"}, "No network"),
    ],
    ids=["none", "several, no default", "not external", "unknown"],
)
def test_no_network_to_allocate_from_is_400_naming_network(client, cloud, networks, body, words):
    cloud.neutron("GET", "/networks", body={"networks": networks})

    response = client.post("/api/v1/floating-ip", json=body)

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "network"
    assert words in response.json["message"]
    assert changes(cloud) == []


def test_several_external_networks_take_the_default(client, cloud):
    default = make_fake_network(name="ext", **{"router:external": True, "is_default": True})
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC, default]})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": make_fake_floating_ip()})

    assert client.post("/api/v1/floating-ip", json={}).status_code == 201
    assert cloud.history[-1].json()["floatingip"]["floating_network_id"] == default["id"]


def test_over_quota_is_400_quota_exceeded(client, cloud):
    message = "Quota exceeded for resources: ['floatingip']."
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    cloud.neutron("POST", "/floatingips", status=409, body=neutron_error("OverQuota", message))

    response = client.post("/api/v1/floating-ip")

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "quota_exceeded", message)
    assert response.json["upstream_request_id"] == "req-upstream-1"


def test_an_idempotency_key_replays_the_first_floating_ip(client, cloud):
    earlier = make_fake_floating_ip(FIP_ID)
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    cloud.neutron("GET", "/floatingips", body={"floatingips": [earlier]})
    # The earlier request's tags: its key's, and the digest of the same body.
    earlier["tags"] = [key_tag("k"), "req-" + request_digest({"floating_network_id": PUBLIC_ID})[:40]]

    response = client.post("/api/v1/floating-ip", headers={"Idempotency-Key": "k"})

    assert response.status_code == 201 and response.headers["Idempotent-Replayed"] == "true"
    assert response.json["id"] == FIP_ID
    assert changes(cloud) == []


def test_release_by_address(client, cloud):
    fip = make_fake_floating_ip(FIP_ID)
    cloud.neutron("GET", "/floatingips", body={"floatingips": [fip]})
    cloud.neutron("DELETE", f"/floatingips/{FIP_ID}", status=204)

    response = client.delete("/api/v1/floating-ip/172.24.4.228")

    assert response.status_code == 204
    assert changes(cloud) == [f"DELETE {FIPS}/{FIP_ID}"]


def test_release_of_an_unknown_id_is_neutrons_404(client, cloud):
    message = f"Floating IP {FIP_ID} could not be found"
    cloud.neutron("DELETE", f"/floatingips/{FIP_ID}", status=404, body=neutron_error("FloatingIPNotFound", message))

    response = client.delete(f"/api/v1/floating-ip/{FIP_ID}")

    assert (response.status_code, response.json["code"], response.json["message"]) == (404, "not_found", message)
    assert response.json["upstream_request_id"] == "req-upstream-1"
    assert cloud.api_calls() == [f"DELETE {FIPS}/{FIP_ID}"]  # an id needs no lookup


def test_a_bad_body_is_400_before_any_call(client, cloud):
    response = client.post("/api/v1/floating-ip", json={"network": "", "pool": "x"})

    assert response.status_code == 400
    assert sorted(e["field"] for e in response.json["errors"]) == ["network", "pool"]
    assert cloud.api_calls() == []

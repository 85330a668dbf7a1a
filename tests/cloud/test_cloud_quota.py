"""Over quota: the lowquota project may run one instance; the second create is refused with Nova's text."""

from __future__ import annotations

import pytest

from tests.cloud.harness import PREFIX, delete_servers, server_name


@pytest.fixture(scope="module")
def lowquota_gateway(cloud_info, start_gateway):
    return start_gateway(cloud_info.credentials("lowquota"), "lowquota")


def test_second_server_over_instance_quota(lowquota_gateway, upstream, cloud_info, servers):
    gw = lowquota_gateway
    nova = upstream("lowquota")
    assert cloud_info.data["quotas"]["lowquota"]["instances"] == 1
    delete_servers(nova)  # the project is this test's alone: whatever else is there must go
    assert nova.get("compute", "/servers")["servers"] == [], "lowquota's project must start without servers"

    first = servers.create(gw, cloud_info, "quota-1", network="lowquota")
    assert first.status_code == 201, first.text

    resp = servers.create(gw, cloud_info, "quota-2", network="lowquota")
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == "quota_exceeded", body
    assert body["message"].startswith("Quota exceeded for instances"), body
    assert body["upstream_status"] == 403, body

    # Nova's own words for the same request
    direct = nova.request(
        "compute",
        "POST",
        "/servers",
        json={
            "server": {
                "name": server_name("quota-direct"),
                "imageRef": cloud_info.image["id"],
                "flavorRef": cloud_info.flavor["id"],
                "networks": [{"uuid": cloud_info.networks["lowquota"]["id"]}],
            }
        },
    )
    if direct.status_code == 202:  # would be a cloud misconfiguration: do not leave it behind
        nova.request("compute", "DELETE", f"/servers/{direct.json()['server']['id']}").close()
    assert direct.status_code == 403, direct.text
    assert body["message"] == direct.json()["forbidden"]["message"]
    assert body["message"] == "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"

    # nothing left behind: only the first server exists, as the gateway and Nova both say
    listed = [s for s in gw.get("/api/v1/server").json()["servers"] if s["name"].startswith(PREFIX)]
    assert [s["id"] for s in listed] == [first.json()["id"]]
    assert [s["id"] for s in nova.get("compute", "/servers")["servers"]] == [first.json()["id"]]

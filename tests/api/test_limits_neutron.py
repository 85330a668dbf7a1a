"""Neutron's quotas in /api/v1/limits: the shape of Nova's, one Neutron call."""

import pytest

from tests.fakes import (
    NEUTRON,
    NOVA,
    PROJECT_ID,
    make_fake_flavor,
    make_fake_keypair,
    make_fake_limits,
    make_fake_volume_limits,
    neutron_error,
)
from tests.neutron_fakes import make_fake_neutron_quota

QUOTA_PATH = f"/quotas/{PROJECT_ID}/details"


@pytest.fixture
def nova(cloud):
    cloud.nova("GET", "/limits", body=make_fake_limits())
    cloud.nova("GET", "/os-keypairs", body={"keypairs": [{"keypair": make_fake_keypair("k")}]})
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    cloud.cinder("GET", "/limits", body=make_fake_volume_limits())  # the fake cloud has Cinder


def test_neutron_quotas_with_usage_and_headroom(client, cloud, nova):
    quota = make_fake_neutron_quota(floatingip=3, security_group=2, security_group_rule=9, port=4, network=1)
    quota["quota"]["port"]["reserved"] = 1  # a port being created: as good as used
    quota["quota"]["network"]["limit"] = -1
    cloud.neutron("GET", QUOTA_PATH, body=quota)

    response = client.get("/api/v1/limits")

    assert response.status_code == 200
    limits = response.json["limits"]
    assert {
        name: limits[name] for name in ("floating_ips", "security_groups", "security_group_rules", "ports", "networks")
    } == {
        "floating_ips": {"max": 50, "used": 3, "remaining": 47, "unit": "floating IPs"},
        "security_groups": {"max": 10, "used": 2, "remaining": 8, "unit": "security groups"},
        "security_group_rules": {"max": 100, "used": 9, "remaining": 91, "unit": "rules"},
        "ports": {"max": 500, "used": 5, "remaining": 495, "unit": "ports"},
        "networks": {"max": None, "used": 1, "remaining": None, "unit": "networks"},
    }
    neutron = [r for r in cloud.history if r.hostname == "neutron.test" and r.path != "/v2.0"]
    assert [f"{r.method} {r.url}" for r in neutron] == [f"GET {NEUTRON}/v2.0{QUOTA_PATH}"]
    assert [f"{r.method} {r.url}" for r in cloud.history if r.url.startswith(f"{NOVA}/")] == [
        f"GET {NOVA}/limits",
        f"GET {NOVA}/os-keypairs?limit=1000",
        f"GET {NOVA}/flavors/detail?limit=1000",
    ]


def test_a_lowered_neutron_quota_leaves_nothing(client, cloud, nova):
    quota = make_fake_neutron_quota(floatingip=4)
    quota["quota"]["floatingip"]["limit"] = 2
    cloud.neutron("GET", QUOTA_PATH, body=quota)

    response = client.get("/api/v1/limits")

    assert response.json["limits"]["floating_ips"] == {"max": 2, "used": 4, "remaining": 0, "unit": "floating IPs"}


@pytest.mark.parametrize(("upstream", "status", "code"), [(500, 502, "upstream_error"), (403, 403, "forbidden")])
def test_neutron_failing_fails_the_answer_with_its_request_id(client, cloud, nova, upstream, status, code):
    cloud.neutron("GET", QUOTA_PATH, status=upstream, body=neutron_error("HTTPInternalServerError", "boom"))

    response = client.get("/api/v1/limits")

    assert (response.status_code, response.json["code"]) == (status, code)
    assert response.json["upstream_request_id"] == "req-upstream-1"

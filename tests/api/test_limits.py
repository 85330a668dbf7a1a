import pytest

from tests.fakes import (
    CINDER,
    NEUTRON,
    NOVA,
    PROJECT_ID,
    make_fake_flavor,
    make_fake_keypair,
    make_fake_limits,
    make_fake_volume_limits,
    nova_error,
)
from tests.neutron_fakes import make_fake_neutron_quota

FLAVORS = [
    make_fake_flavor("1", "m1.tiny", vcpus=1, ram=512),
    make_fake_flavor("2", "m1.small", vcpus=1, ram=2048),
    make_fake_flavor("3", "m1.medium", vcpus=2, ram=4096),
    make_fake_flavor("5", "m1.xlarge", vcpus=8, ram=16384),
]
# What one GET /api/v1/limits sends, whatever the number of flavors.
CALLS = [
    f"GET {NOVA}/limits",
    f"GET {NOVA}/os-keypairs?limit=1000",
    f"GET {NEUTRON}/v2.0/quotas/{PROJECT_ID}/details",
    f"GET {NOVA}/flavors/detail?limit=1000",
    f"GET {CINDER}/limits",  # the cloud has Cinder (tests/api/test_volume_limits.py)
]


@pytest.fixture
def nova(cloud):
    def answer(limits=None, flavors=FLAVORS, keypairs=1):
        cloud.nova("GET", "/limits", body=limits or make_fake_limits())
        items = [{"keypair": make_fake_keypair(f"key-{i}")} for i in range(keypairs)]
        cloud.nova("GET", "/os-keypairs", body={"keypairs": items})
        cloud.nova("GET", "/flavors/detail", body={"flavors": flavors})
        cloud.neutron("GET", f"/quotas/{PROJECT_ID}/details", body=make_fake_neutron_quota())
        cloud.cinder("GET", "/limits", body=make_fake_volume_limits())

    return answer


def fits(response):
    return {h["flavor_name"]: (h["fits"], h["limited_by"]) for h in response.json["headroom"]}


def test_limits_usage_and_headroom(client, cloud, nova):
    nova(make_fake_limits(totalInstancesUsed=2, totalCoresUsed=3, totalRAMUsed=2560, totalServerGroupsUsed=1))

    response = client.get("/api/v1/limits")

    assert response.status_code == 200
    nova_limits = {
        "instances": {"max": 10, "used": 2, "remaining": 8, "unit": "servers"},
        "cores": {"max": 20, "used": 3, "remaining": 17, "unit": "vCPUs"},
        "ram": {"max": 51200, "used": 2560, "remaining": 48640, "unit": "MiB"},
        "keypairs": {"max": 100, "used": 1, "remaining": 99, "unit": "keypairs"},
        "server_groups": {"max": 10, "used": 1, "remaining": 9, "unit": "server groups"},
        "server_group_members": {"max": 10, "used": None, "remaining": None, "unit": "servers per group"},
        "server_metadata_items": {"max": 128, "used": None, "remaining": None, "unit": "items per server"},
        "volumes": {"max": 10, "used": 0, "remaining": 10, "unit": "volumes"},
        "gigabytes": {"max": 1000, "used": 0, "remaining": 1000, "unit": "GiB"},
        "snapshots": {"max": 10, "used": 0, "remaining": 10, "unit": "snapshots"},
    }
    assert {
        name: response.json["limits"][name] for name in nova_limits
    } == nova_limits  # Neutron's: test_limits_neutron
    assert response.json["headroom"] == [
        {"flavor_id": "1", "flavor_name": "m1.tiny", "vcpus": 1, "ram": 512, "fits": 8, "limited_by": "instances"},
        {"flavor_id": "2", "flavor_name": "m1.small", "vcpus": 1, "ram": 2048, "fits": 8, "limited_by": "instances"},
        # 17 cores left ÷ 2 = 8 (rounded down), as many as instances: instances named first
        {"flavor_id": "3", "flavor_name": "m1.medium", "vcpus": 2, "ram": 4096, "fits": 8, "limited_by": "instances"},
        {"flavor_id": "5", "flavor_name": "m1.xlarge", "vcpus": 8, "ram": 16384, "fits": 2, "limited_by": "cores"},
    ]
    assert cloud.api_calls() == CALLS
    api = [r for r in cloud.history if r.url.startswith(f"{NOVA}/")]  # not the version document (nor Cinder)
    assert [r.headers["OpenStack-API-Version"] for r in api] == ["compute 2.79"] * 3


def test_ram_can_bind_first(client, nova):
    nova(make_fake_limits(maxTotalRAMSize=8192, totalRAMUsed=1024))

    response = client.get("/api/v1/limits")

    assert fits(response) == {
        "m1.tiny": (10, "instances"),  # 7168 MiB ÷ 512 = 14
        "m1.small": (3, "ram"),
        "m1.medium": (1, "ram"),
        "m1.xlarge": (0, "ram"),
    }


def test_unlimited_is_null(client, nova):
    nova(make_fake_limits(maxTotalInstances=-1, maxTotalCores=-1, maxTotalRAMSize=-1, maxTotalKeypairs=-1))

    response = client.get("/api/v1/limits")

    limits = response.json["limits"]
    assert limits["instances"] == {"max": None, "used": 0, "remaining": None, "unit": "servers"}
    assert limits["keypairs"] == {"max": None, "used": 1, "remaining": None, "unit": "keypairs"}
    assert {h["fits"] for h in response.json["headroom"]} == {None}
    assert {h["limited_by"] for h in response.json["headroom"]} == {None}


def test_only_the_limited_resources_count(client, nova):
    nova(make_fake_limits(maxTotalInstances=-1, maxTotalRAMSize=-1, totalCoresUsed=4))

    response = client.get("/api/v1/limits")

    assert fits(response) == {
        "m1.tiny": (16, "cores"),
        "m1.small": (16, "cores"),
        "m1.medium": (8, "cores"),
        "m1.xlarge": (2, "cores"),
    }


def test_usage_over_a_lowered_limit_leaves_nothing(client, nova):
    # A quota lowered below what already runs: Nova reports used > max.
    nova(make_fake_limits(maxTotalInstances=1, totalInstancesUsed=3, totalCoresUsed=3, totalRAMUsed=1536))

    response = client.get("/api/v1/limits")

    assert response.json["limits"]["instances"] == {"max": 1, "used": 3, "remaining": 0, "unit": "servers"}
    assert {h["fits"] for h in response.json["headroom"]} == {0}


def test_zero_quota_fits_nothing(client, nova):
    nova(make_fake_limits(maxTotalInstances=0, maxTotalKeypairs=0), keypairs=0)

    response = client.get("/api/v1/limits")

    assert response.json["limits"]["keypairs"] == {"max": 0, "used": 0, "remaining": 0, "unit": "keypairs"}
    assert fits(response)["m1.tiny"] == (0, "instances")


def test_keypairs_used_is_counted_from_the_users_keypairs(client, nova):
    nova(keypairs=7)

    response = client.get("/api/v1/limits")

    assert response.json["limits"]["keypairs"] == {"max": 100, "used": 7, "remaining": 93, "unit": "keypairs"}


def test_upstream_calls_do_not_grow_with_flavors(client, cloud, nova):
    many = [make_fake_flavor(str(i), f"f{i}", vcpus=1 + i % 4, ram=256 * (1 + i)) for i in range(60)]
    nova(flavors=many, keypairs=3)

    response = client.get("/api/v1/limits")

    assert len(response.json["headroom"]) == 60
    assert cloud.api_calls() == CALLS


def test_no_flavors_no_headroom(client, nova):
    nova(flavors=[])

    response = client.get("/api/v1/limits")

    assert response.status_code == 200
    assert response.json["headroom"] == []


@pytest.mark.parametrize(
    ("failing", "upstream_status", "status", "code"),
    [
        ("/limits", 500, 502, "upstream_error"),
        ("/limits", 403, 403, "forbidden"),
        ("/os-keypairs", 503, 503, "upstream_unavailable"),
        ("/flavors/detail", 500, 502, "upstream_error"),
    ],
)
def test_any_failing_call_fails_the_answer(client, cloud, nova, failing, upstream_status, status, code):
    nova()
    cloud.nova("GET", failing, status=upstream_status, body=nova_error(upstream_status, "Unexpected API Error."))

    response = client.get("/api/v1/limits")

    assert (response.status_code, response.json["code"]) == (status, code)
    assert response.json["upstream_status"] == upstream_status

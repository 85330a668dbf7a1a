"""Volumes and servers on the wire: attach and detach, a server's volumes, boot from volume, Cinder's quota in
/api/v1/limits, and a cloud without Cinder (501 for volumes, everything else as before, readyz naming it)."""

from __future__ import annotations

import pytest

from devstack_client import create_app
from tests.api.test_health import openstack_answers
from tests.fakes import (
    CATALOG,
    CINDER,
    CREATE,
    CREDENTIALS,
    IMAGE,
    IMAGE_ID,
    KEYSTONE,
    NETWORK,
    NEUTRON,
    NOVA,
    PROJECT_ID,
    SERVER_ID,
    TOKEN,
    make_create_response,
    make_fake_flavor,
    make_fake_keypair,
    make_fake_limits,
    make_fake_server,
    make_fake_volume,
    make_fake_volume_limits,
    nova_error,
)
from tests.neutron_fakes import make_fake_neutron_quota

VOLUME_ID = "6c1e4b7a-2f3d-4e5a-9b8c-0d1e2f3a4b5c"
ACTION = f"/api/v1/server/{SERVER_ID}/action"


def attached(*volume_ids: str) -> dict:
    return {"os-extended-volumes:volumes_attached": [{"id": v, "delete_on_termination": False} for v in volume_ids]}


# -- attach and detach -------------------------------------------------------------------


def test_attach_by_volume_name_posts_novas_attachment(client, cloud):
    cloud.cinder("GET", "/volumes/detail?name=data-1", body={"volumes": [make_fake_volume(VOLUME_ID)]})
    answer = {"volumeAttachment": {"device": "/dev/vdb", "id": VOLUME_ID, "serverId": SERVER_ID, "volumeId": VOLUME_ID}}
    post = cloud.nova("POST", f"/servers/{SERVER_ID}/os-volume_attachments", body=answer)

    response = client.post(ACTION, json={"action": "attach_volume", "volume": "data-1", "device": "/dev/vdb"})

    assert response.status_code == 202
    assert response.json == {
        "id": SERVER_ID,
        "action": "attach_volume",
        "type": None,
        "target_status": "in-use",
        "image_id": None,
        "security_group": None,
        "floating_ip": None,
    }
    assert response.headers["Location"] == f"/api/v1/volume/{VOLUME_ID}"
    assert post.last_request.json() == {"volumeAttachment": {"volumeId": VOLUME_ID, "device": "/dev/vdb"}}
    assert post.last_request.headers["OpenStack-API-Version"] == "compute 2.79"
    assert cloud.api_calls() == [
        f"GET {CINDER}/volumes/detail?name=data-1",
        f"POST {NOVA}/servers/{SERVER_ID}/os-volume_attachments",
    ]


def test_detach_by_id_is_one_nova_call(client, cloud):
    delete = cloud.nova("DELETE", f"/servers/{SERVER_ID}/os-volume_attachments/{VOLUME_ID}", status=202)

    response = client.post(ACTION, json={"action": "detach_volume", "volume": VOLUME_ID})

    assert (response.status_code, response.json["target_status"]) == (202, "available")
    assert delete.call_count == 1
    assert cloud.api_calls() == [f"DELETE {NOVA}/servers/{SERVER_ID}/os-volume_attachments/{VOLUME_ID}"]


def test_attach_an_already_attached_volume_is_novas_400(client, cloud):
    message = f"Invalid volume: volume {VOLUME_ID} already attached"
    cloud.nova("POST", f"/servers/{SERVER_ID}/os-volume_attachments", status=400, body=nova_error(400, message))

    response = client.post(ACTION, json={"action": "attach_volume", "volume": VOLUME_ID})

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "bad_request", message)


def test_attach_in_a_state_nova_refuses_is_409_invalid_state(client, cloud):
    message = f"Cannot 'attach_volume' instance {SERVER_ID} while it is in task_state spawning"
    cloud.nova("POST", f"/servers/{SERVER_ID}/os-volume_attachments", status=409, body=nova_error(409, message))
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, status="BUILD")})

    response = client.post(ACTION, json={"action": "attach_volume", "volume": VOLUME_ID})

    assert (response.status_code, response.json["code"], response.json["status"]) == (409, "invalid_state", "BUILD")


def test_detach_a_volume_not_attached_is_404(client, cloud):
    path = f"/servers/{SERVER_ID}/os-volume_attachments/{VOLUME_ID}"
    cloud.nova("DELETE", path, status=404, body=nova_error(404, f"volume_id not found: {VOLUME_ID}"))

    response = client.post(ACTION, json={"action": "detach_volume", "volume": VOLUME_ID})

    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_attach_an_unknown_volume_name_is_400_naming_it(client, cloud):
    cloud.cinder("GET", "/volumes/detail?name=nope", body={"volumes": []})

    response = client.post(ACTION, json={"action": "attach_volume", "volume": "nope"})

    assert response.status_code == 400
    assert response.json["errors"] == [{"field": "volume", "message": "No volume with the id or name 'nope'."}]
    assert not cloud.sent("POST", "nova.test")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "attach_volume"}, "volume"),
        ({"action": "detach_volume", "volume": ""}, "volume"),
        ({"action": "detach_volume", "volume": VOLUME_ID, "device": "/dev/vdb"}, "device"),
        ({"action": "attach_volume", "volume": VOLUME_ID, "type": "hard"}, "type"),
        ({"action": "attach_volume", "volume": VOLUME_ID, "name": "x"}, "name"),
        ({"action": "stop", "volume": VOLUME_ID}, "volume"),
        ({"action": "reboot", "device": "/dev/vdb"}, "device"),
        ({"action": "attach_volume", "volume": 1}, "volume"),
    ],
)
def test_a_volume_field_where_it_does_not_belong_is_400(client, cloud, body, field):
    response = client.post(ACTION, json=body)

    assert response.status_code == 400
    assert field in [e["field"] for e in response.json["errors"]]
    assert cloud.api_calls() == []


# -- a server's volumes ------------------------------------------------------------------------


def test_a_servers_show_lists_its_volumes_from_cinder(client, cloud):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, **attached(VOLUME_ID))})
    volume = make_fake_volume(VOLUME_ID, size=3, attached_to=(SERVER_ID,), device="/dev/vdc")
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": volume})

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.json["volumes"] == [{"id": VOLUME_ID, "name": "data-1", "device": "/dev/vdc", "size": 3}]
    assert cloud.api_calls_by_show() == [
        f"GET {NOVA}/servers/{SERVER_ID}",
        f"GET {NEUTRON}/v2.0/ports?device_id={SERVER_ID}&fields=security_groups",
        f"GET {CINDER}/volumes/{VOLUME_ID}",
    ]


def test_a_server_list_gives_volume_ids_only_without_asking_cinder(client, cloud):
    server = make_fake_server(SERVER_ID, image_id=None, **attached(VOLUME_ID))
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})

    response = client.get("/api/v1/server")

    assert response.json["servers"][0]["volumes"] == [{"id": VOLUME_ID, "name": None, "device": None, "size": None}]
    assert not [c for c in cloud.api_calls() if "cinder.test" in c]


def test_cinder_failing_does_not_fail_the_servers_show(client, cloud):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, **attached(VOLUME_ID))})
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", status=503, body={"computeFault": {"message": "x", "code": 503}})

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.status_code == 200
    assert response.json["volumes"] == [{"id": VOLUME_ID, "name": None, "device": None, "size": None}]


# -- boot from volume ------------------------------------------------------------------------


@pytest.fixture
def nova_creates(cloud):
    server = make_fake_server(SERVER_ID, name="web-1", status="BUILD", image_id=None)
    post = cloud.nova("POST", "/servers", status=202, body=make_create_response(SERVER_ID))
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    return post


def test_boot_from_a_new_volume_checks_cinders_quota_then_sends_the_mapping(client, cloud, nova_creates):
    limits = cloud.cinder("GET", "/limits", body=make_fake_volume_limits())

    response = client.post("/api/v1/server", json={**CREATE, "boot_volume_size": 2})

    assert response.status_code == 201
    sent = nova_creates.last_request.json()["server"]
    assert "imageRef" not in sent
    assert sent["block_device_mapping_v2"] == [
        {
            "boot_index": 0,
            "uuid": IMAGE_ID,
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": 2,
            "delete_on_termination": True,
        }
    ]
    assert limits.last_request.headers["OpenStack-API-Version"] == "volume 3.60"
    assert cloud.api_calls()[:2] == [f"GET {CINDER}/limits", f"POST {NOVA}/servers"]


def test_boot_from_a_new_volume_can_keep_it(client, cloud, nova_creates):
    cloud.cinder("GET", "/limits", body=make_fake_volume_limits())

    client.post("/api/v1/server", json={**CREATE, "boot_volume_size": 1, "delete_on_termination": False})

    assert nova_creates.last_request.json()["server"]["block_device_mapping_v2"][0]["delete_on_termination"] is False


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            {"maxTotalVolumes": 2, "totalVolumesUsed": 2},
            "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota 'volumes'.",
        ),
        (
            {"maxTotalVolumeGigabytes": 3, "totalGigabytesUsed": 2},
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "
            "Requested 2G, quota is 3G and 2G has been consumed.",
        ),
    ],
)
def test_boot_from_a_volume_over_cinders_quota_is_400_and_creates_nothing(client, cloud, nova_creates, limits, message):
    cloud.cinder("GET", "/limits", body=make_fake_volume_limits(**limits))

    response = client.post("/api/v1/server", json={**CREATE, "boot_volume_size": 2})

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "quota_exceeded", message)
    assert nova_creates.call_count == 0


def test_boot_from_an_existing_volume_by_name(client, cloud, nova_creates):
    bootable = make_fake_volume(VOLUME_ID, name="boot-disk", bootable="true")
    cloud.cinder("GET", "/volumes/detail?name=boot-disk", body={"volumes": [bootable]})
    body = {key: value for key, value in CREATE.items() if key != "image_id"}

    response = client.post("/api/v1/server", json={**body, "boot_volume": "boot-disk"})

    assert response.status_code == 201
    sent = nova_creates.last_request.json()["server"]
    assert "imageRef" not in sent
    assert sent["block_device_mapping_v2"] == [
        {
            "boot_index": 0,
            "uuid": VOLUME_ID,
            "source_type": "volume",
            "destination_type": "volume",
            "delete_on_termination": False,
        }
    ]


@pytest.mark.parametrize(
    ("volume", "problem"),
    [({"bootable": "false"}, "is not bootable"), ({"bootable": "true", "status": "in-use"}, "is in-use")],
)
def test_boot_from_a_volume_that_cannot_boot_is_400(client, cloud, nova_creates, volume, problem):
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID, **volume)})
    body = {key: value for key, value in CREATE.items() if key != "image_id"}

    response = client.post("/api/v1/server", json={**body, "boot_volume": VOLUME_ID})

    assert response.status_code == 400
    assert problem in response.json["message"]
    assert response.json["errors"][0]["field"] == "boot_volume"
    assert nova_creates.call_count == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CREATE, "boot_volume_size": 0}, "boot_volume_size"),
        ({**CREATE, "boot_volume_size": "1"}, "boot_volume_size"),
        ({**CREATE, "boot_volume": "x"}, "image_id"),
        ({**CREATE, "boot_volume": "x", "boot_volume_size": 1}, "boot_volume"),
        ({**CREATE, "delete_on_termination": True}, "delete_on_termination"),
        ({**CREATE, "boot_volume_size": 1, "delete_on_termination": "yes"}, "delete_on_termination"),
        ({"name": "web-1", "flavor_id": "1", "network_id": NETWORK["id"], "boot_volume_size": 1}, "image"),
    ],
)
def test_bad_boot_volume_fields_are_400_before_anything_is_sent(client, cloud, body, field):
    response = client.post("/api/v1/server", json=body)

    assert response.status_code == 400
    assert field in [e["field"] for e in response.json["errors"]]
    assert cloud.api_calls() == []


def test_dry_run_of_a_boot_from_volume_checks_cinders_quota_too(client, cloud):
    cloud.glance("GET", f"/images/{IMAGE_ID}", body=IMAGE)
    cloud.nova("GET", "/flavors/1", body={"flavor": make_fake_flavor("1", disk=0)})
    cloud.neutron("GET", f"/networks/{NETWORK['id']}", body={"network": NETWORK})
    cloud.nova("GET", "/servers/detail", body={"servers": []})
    cloud.nova("GET", "/limits", body=make_fake_limits())
    limits = cloud.cinder("GET", "/limits", body=make_fake_volume_limits(maxTotalVolumes=1, totalVolumesUsed=1))

    response = client.post("/api/v1/server?dry_run=true", json={**CREATE, "boot_volume_size": 1})

    assert (response.status_code, response.json["code"]) == (400, "quota_exceeded")
    assert limits.call_count == 1
    assert not cloud.sent("POST", "nova.test")


def test_dry_run_of_a_boot_from_volume_says_what_it_would_boot(client, cloud):
    cloud.glance("GET", f"/images/{IMAGE_ID}", body=IMAGE)
    cloud.nova("GET", "/flavors/1", body={"flavor": make_fake_flavor("1", disk=0)})
    cloud.neutron("GET", f"/networks/{NETWORK['id']}", body={"network": NETWORK})
    cloud.nova("GET", "/servers/detail", body={"servers": []})
    cloud.nova("GET", "/limits", body=make_fake_limits())
    cloud.cinder("GET", "/limits", body=make_fake_volume_limits())

    response = client.post("/api/v1/server?dry_run=true", json={**CREATE, "boot_volume_size": 1})

    assert response.status_code == 200
    assert response.json["server"]["boot_volume"] == {"id": None, "name": None, "size": 1, "new": True}


# -- Cinder's quota in /api/v1/limits ------------------------------------------------------------


def nova_limits(cloud):
    """What /api/v1/limits asks besides Cinder: Nova's three calls and Neutron's quotas."""
    cloud.nova("GET", "/limits", body=make_fake_limits())
    cloud.nova("GET", "/os-keypairs", body={"keypairs": [{"keypair": make_fake_keypair()}]})
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    cloud.neutron("GET", f"/quotas/{PROJECT_ID}/details", body=make_fake_neutron_quota())


def test_limits_show_cinders_quota_and_usage_in_novas_shape(client, cloud):
    nova_limits(cloud)
    cloud.cinder(
        "GET",
        "/limits",
        body=make_fake_volume_limits(
            maxTotalVolumes=2, totalVolumesUsed=1, maxTotalVolumeGigabytes=3, totalGigabytesUsed=4, maxTotalSnapshots=-1
        ),
    )

    limits = client.get("/api/v1/limits").json["limits"]

    assert limits["volumes"] == {"max": 2, "used": 1, "remaining": 1, "unit": "volumes"}
    assert limits["gigabytes"] == {"max": 3, "used": 4, "remaining": 0, "unit": "GiB"}
    assert limits["snapshots"] == {"max": None, "used": 0, "remaining": None, "unit": "snapshots"}


def test_cinder_failing_fails_the_limits(client, cloud):
    nova_limits(cloud)
    cloud.cinder("GET", "/limits", status=500, body={"computeFault": {"message": "boom", "code": 500}})

    response = client.get("/api/v1/limits")

    assert (response.status_code, response.json["code"]) == (502, "upstream_error")


# -- a cloud without Cinder ----------------------------------------------------------------------


@pytest.fixture
def no_cinder(cloud):
    cloud.without_cinder()
    return cloud


VOLUME_OPERATIONS = [
    ("GET", "/api/v1/volume", None),
    ("POST", "/api/v1/volume", {"name": "data-1", "size": 1}),
    ("GET", f"/api/v1/volume/{VOLUME_ID}", None),
    ("GET", "/api/v1/volume/data-1", None),
    ("PATCH", f"/api/v1/volume/{VOLUME_ID}", {"name": "data-2"}),
    ("DELETE", f"/api/v1/volume/{VOLUME_ID}", None),
    ("POST", ACTION, {"action": "attach_volume", "volume": VOLUME_ID}),
    ("POST", ACTION, {"action": "detach_volume", "volume": "data-1"}),
    ("POST", "/api/v1/server", {**CREATE, "boot_volume_size": 1}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), VOLUME_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in VOLUME_OPERATIONS]
)
def test_without_cinder_the_volume_operations_are_501(client, no_cinder, method, path, body):
    response = client.open(path, method=method, json=body)

    assert response.status_code == 501
    assert response.json["code"] == "not_supported"
    assert response.json["service_type"] == "block-storage"
    assert "no block-storage (Cinder) service" in response.json["message"]
    assert no_cinder.api_calls() == []  # nothing was sent anywhere


def test_without_cinder_everything_else_works(client, no_cinder):
    no_cinder.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, **attached(VOLUME_ID))})
    nova_limits(no_cinder)

    server = client.get(f"/api/v1/server/{SERVER_ID}")
    limits = client.get("/api/v1/limits")

    assert server.status_code == 200
    assert server.json["volumes"] == [{"id": VOLUME_ID, "name": None, "device": None, "size": None}]
    assert limits.status_code == 200
    assert [limits.json["limits"][name] for name in ("volumes", "gigabytes", "snapshots")] == [None, None, None]
    assert not [c for c in no_cinder.api_calls() if "cinder" in c]


def test_readyz_names_cinder_absent_and_stays_ready(client, no_cinder):
    openstack_answers(no_cinder)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert list(response.json["absent_services"]) == ["block-storage"]
    assert "501" in response.json["absent_services"]["block-storage"]


def test_readyz_names_nothing_absent_with_cinder(client, cloud):
    openstack_answers(cloud)

    assert client.get("/readyz").json["absent_services"] == {}


def test_cinder_registered_as_volumev3_is_found(cloud):
    catalog = {**{k: v for k, v in CATALOG.items() if k != "block-storage"}, "volumev3": ("cinder", CINDER)}
    cloud.mocker.post(
        f"{KEYSTONE}/auth/tokens", status_code=201, json=cloud.make_token(catalog), headers={"X-Subject-Token": TOKEN}
    )
    listed = cloud.cinder("GET", "/volumes/detail", body={"volumes": []})

    response = create_app(CREDENTIALS).test_client().get("/api/v1/volume")

    assert response.status_code == 200
    assert listed.call_count == 1

"""Creating servers: names for references, options, ?wait, Idempotency-Key, ?dry_run."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack_client import create_app
from devstack_client.services import launch
from devstack_client.services.launch import DIGEST_METADATA, SETTLED_METADATA, key_tag, request_digest
from tests.fakes import (
    CREATE,
    CREDENTIALS,
    IMAGE_ID,
    NETWORK,
    NOVA,
    make_create_response,
    make_fake_flavor,
    make_fake_image,
    make_fake_server,
    nova_error,
)

# cirros as the tests of its size checks see it: it needs 256 MB of RAM (m1.tiny has 512)
IMAGE_MIN_RAM_256 = make_fake_image(IMAGE_ID, name="cirros", min_ram=256)
FLAVOR = make_fake_flavor("1", "m1.tiny")
BY_NAME = {"name": "web-1", "image": "cirros", "flavor": "m1.tiny", "network": "private"}


def nova_limits(instances=(0, 10), cores=(0, 20), ram=(0, 51200)):
    """Nova's GET /limits at 2.79: (used, max) per resource."""
    return {
        "limits": {
            "rate": [],
            "absolute": {
                "maxServerMeta": 128,
                "maxTotalInstances": instances[1],
                "maxTotalKeypairs": 100,
                "maxServerGroups": 10,
                "maxServerGroupMembers": 10,
                "maxTotalCores": cores[1],
                "maxTotalRAMSize": ram[1],
                "totalInstancesUsed": instances[0],
                "totalCoresUsed": cores[0],
                "totalRAMUsed": ram[0],
                "totalServerGroupsUsed": 0,
            },
        }
    }


@pytest.fixture
def names(cloud):
    """Image, flavor and network, findable by name."""
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [IMAGE_MIN_RAM_256]}, complete_qs=True)
    cloud.nova("GET", "/flavors/m1.tiny", status=404, body=nova_error(404, "Flavor m1.tiny could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": [FLAVOR]})
    cloud.neutron("GET", "/networks?name=private", body={"networks": [NETWORK]}, complete_qs=True)


@pytest.fixture
def nova_creates(cloud):
    """Nova accepts the POST; the server then reads back in BUILD."""
    server = make_fake_server("2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84", name="web-1", status="BUILD")
    post = cloud.nova("POST", "/servers", status=202, body=make_create_response(server["id"]))
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    return post


@pytest.fixture
def fast_polls(monkeypatch):
    monkeypatch.setattr(launch, "POLL_SECONDS", 0.01)


def test_create_by_names_resolves_them(client, cloud, names, nova_creates):
    response = client.post("/api/v1/server", json=BY_NAME)

    assert response.status_code == 201
    assert nova_creates.last_request.json() == {
        "server": {"name": "web-1", "imageRef": IMAGE_ID, "flavorRef": "1", "networks": [{"uuid": NETWORK["id"]}]}
    }


def test_create_with_every_option(client, cloud, nova_creates):
    response = client.post(
        "/api/v1/server",
        json={
            **CREATE,
            "key_name": "my-key",
            "user_data": "#!/bin/sh\necho hé\n",
            "security_groups": ["default", "web"],
            "metadata": {"role": "web"},
            "availability_zone": "nova",
            "description": "front end",
        },
    )

    assert response.status_code == 201
    sent = nova_creates.last_request.json()["server"]
    assert sent["key_name"] == "my-key"
    assert base64.b64decode(sent["user_data"]).decode() == "#!/bin/sh\necho hé\n"
    assert sent["security_groups"] == [{"name": "default"}, {"name": "web"}]
    assert sent["metadata"] == {"role": "web"}
    assert (sent["availability_zone"], sent["description"]) == ("nova", "front end")


def test_create_by_unknown_name_is_400_naming_the_field(client, cloud):
    cloud.glance("GET", "/images?name=eq:nope", body={"images": []}, complete_qs=True)

    response = client.post("/api/v1/server", json={**BY_NAME, "image": "nope"})

    assert response.status_code == 400
    assert response.json["errors"] == [{"field": "image", "message": "No image with the id or name 'nope'."}]
    assert cloud.sent("POST", "nova.test") == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"metadata": {"a": 1}}, "metadata.a"), ({"security_groups": "default"}, "security_groups")],
)
def test_create_option_types_are_checked(client, cloud, extra, field):
    response = client.post("/api/v1/server", json={**CREATE, **extra})

    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == [field]


# -- ?wait ---------------------------------------------------------------------


def test_wait_answers_once_active(client, cloud, fast_polls):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server_id))
    reads = cloud.mocker.get(
        f"{NOVA}/servers/{server_id}",
        [
            {"json": {"server": make_fake_server(server_id, status="BUILD")}},
            {"json": {"server": make_fake_server(server_id, status="BUILD")}},
            {"json": {"server": make_fake_server(server_id, status="ACTIVE")}},
        ],
    )

    response = client.post("/api/v1/server?wait=true&timeout=30", json=CREATE)

    assert response.status_code == 201
    assert response.json["status"] == "ACTIVE"
    assert reads.call_count == 3


def test_wait_answers_the_fault_when_the_build_fails(client, cloud, fast_polls):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server_id))
    cloud.nova("GET", f"/servers/{server_id}", body={"server": make_fake_server(server_id, status="ERROR")})

    response = client.post("/api/v1/server?wait=1", json=CREATE)

    assert response.status_code == 502
    assert response.json["code"] == "build_failed"
    assert "No valid host was found" in response.json["message"]
    assert response.json["server"]["id"] == server_id
    assert response.json["server"]["fault"]["code"] == 500


def test_wait_gives_up_after_the_timeout_with_202(client, cloud, nova_creates, fast_polls):
    response = client.post("/api/v1/server?wait=true&timeout=1", json=CREATE)

    assert response.status_code == 202
    assert response.json["status"] == "BUILD"
    assert response.headers["Location"].endswith(f"/api/v1/server/{response.json['id']}")


@pytest.mark.parametrize("query", ["wait=maybe", "timeout=0", "timeout=301", "dry_run=2", "force=true"])
def test_bad_create_queries_are_400(client, cloud, query):
    response = client.post(f"/api/v1/server?{query}", json=CREATE)

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert cloud.api_calls() == []


# -- Idempotency-Key -------------------------------------------------------------

KEY = "order-7f3c"


def keyed_server(server_id, body=CREATE, age=timedelta(minutes=1), **overrides):
    created = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return make_fake_server(
        server_id,
        name=body["name"],
        created=created,
        tags=[key_tag(KEY)],
        metadata={DIGEST_METADATA: request_digest(body)},
        **overrides,
    )


@pytest.fixture
def settle_waits(monkeypatch):
    """The seconds each settle slept (instead of sleeping them)."""
    waits = []
    monkeypatch.setattr(launch.time, "sleep", waits.append)
    return waits


def test_first_request_with_a_key_tags_the_server(client, cloud, nova_creates, settle_waits):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"  # what nova_creates answers
    tagged = cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(server_id)]}}],
    )
    settled = cloud.nova("PUT", f"/servers/{server_id}/metadata/{SETTLED_METADATA}", body={"meta": {}})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    sent = nova_creates.last_request.json()["server"]
    assert sent["tags"] == [key_tag(KEY)]
    assert sent["metadata"] == {DIGEST_METADATA: request_digest(CREATE)}
    assert tagged.call_count == 2  # before, and after to settle a race
    assert settle_waits == [2.0]  # IDEMPOTENCY_SETTLE_SECONDS, before looking for twins
    assert settled.last_request.json() == {"meta": {SETTLED_METADATA: "true"}}


def test_the_settle_wait_is_a_setting(cloud, nova_creates, settle_waits):
    client = create_app({**CREDENTIALS, "IDEMPOTENCY_SETTLE_SECONDS": "0"}).test_client()
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(server_id)]}}],
    )
    cloud.nova("PUT", f"/servers/{server_id}/metadata/{SETTLED_METADATA}", body={"meta": {}})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert settle_waits == [0.0]


def test_a_retry_with_the_same_key_returns_the_first_server(client, cloud, nova_creates):
    first = keyed_server("6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55")
    cloud.nova("GET", f"/servers/detail?tags={key_tag(KEY)}", body={"servers": [first]})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.json["id"] == first["id"]
    assert nova_creates.call_count == 0


def test_the_same_key_with_another_body_is_409(client, cloud, nova_creates):
    first = keyed_server("6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55", body={**CREATE, "name": "other"})
    cloud.nova("GET", f"/servers/detail?tags={key_tag(KEY)}", body={"servers": [first]})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 409
    assert response.json["code"] == "idempotency_key_reused"
    assert response.json["server_id"] == first["id"]
    assert nova_creates.call_count == 0


def test_an_expired_key_creates_anew(client, cloud, nova_creates, settle_waits):
    old = keyed_server("6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55", age=timedelta(days=2))
    cloud.nova("GET", f"/servers/detail?tags={key_tag(KEY)}", body={"servers": [old]})
    settled = cloud.nova(
        "PUT", f"/servers/2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84/metadata/{SETTLED_METADATA}", body={"meta": {}}
    )

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert nova_creates.call_count == 1
    assert settled.call_count == 1


def test_a_mark_refused_while_building_is_written_once_active(client, cloud, settle_waits, fast_polls):
    # Nova refuses metadata while a server builds (409), as on a busy cloud 2 s after the POST
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server_id))
    building, active = (keyed_server(server_id, status=status) for status in ("BUILD", "ACTIVE"))
    cloud.mocker.get(f"{NOVA}/servers/{server_id}", [{"json": {"server": building}}, {"json": {"server": active}}])
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [building]}}],
    )
    refused = nova_error(409, f"Cannot 'update metadata' instance {server_id} while it is in vm_state building")
    mark = cloud.mocker.put(
        f"{NOVA}/servers/{server_id}/metadata/{SETTLED_METADATA}",
        [{"status_code": 409, "json": refused}, {"json": {"meta": {SETTLED_METADATA: "true"}}}],
    )

    response = client.post("/api/v1/server?wait=true", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert response.json["status"] == "ACTIVE"
    assert response.json["metadata"][SETTLED_METADATA] == "true"
    assert mark.call_count == 2  # refused while building, written once ACTIVE
    assert [m for m in cloud.api_calls() if m.startswith("PUT")] == [
        f"PUT {NOVA}/servers/{server_id}/metadata/{SETTLED_METADATA}"
    ] * 2


def test_a_mark_already_written_is_not_written_again(client, cloud, settle_waits):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server_id))
    marked = keyed_server(server_id)
    marked["metadata"] = {**marked["metadata"], SETTLED_METADATA: "true"}
    cloud.nova("GET", f"/servers/{server_id}", body={"server": marked})
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(server_id)]}}],
    )
    mark = cloud.nova("PUT", f"/servers/{server_id}/metadata/{SETTLED_METADATA}", body={"meta": {}})

    response = client.post("/api/v1/server?wait=true", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.json["metadata"][SETTLED_METADATA] == "true"
    assert mark.call_count == 1  # at the settle; the server read back has it


def test_a_failed_settled_mark_still_answers_the_server(client, cloud, nova_creates, settle_waits):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(server_id)]}}],
    )
    cloud.nova("PUT", f"/servers/{server_id}/metadata/{SETTLED_METADATA}", status=500, body=nova_error(500, "boom"))

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert (response.status_code, response.json["id"]) == (201, server_id)


def test_a_race_between_two_requests_with_one_key_keeps_the_oldest(client, cloud, nova_creates, settle_waits):
    ours = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    theirs = keyed_server("0a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55", age=timedelta(seconds=5))
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(ours, age=timedelta(0)), theirs]}}],
    )
    delete = cloud.nova("DELETE", f"/servers/{ours}", status=204)
    cloud.nova("GET", f"/servers/{theirs['id']}", body={"server": theirs})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert response.json["id"] == theirs["id"]
    assert response.headers["Idempotent-Replayed"] == "true"
    assert delete.call_count == 1
    assert cloud.sent("PUT") == []  # the winner's own request marks it settled, not ours


def test_a_late_post_defers_to_the_settled_server_even_if_older(client, cloud, nova_creates, settle_waits):
    ours = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    # ours was created first, but its POST answered after the other request had settled on its own server
    theirs = keyed_server("0a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55", age=timedelta(seconds=1))
    theirs["metadata"][SETTLED_METADATA] = "true"
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(ours, age=timedelta(seconds=30)), theirs]}}],
    )
    delete = cloud.nova("DELETE", f"/servers/{ours}", status=204)
    cloud.nova("GET", f"/servers/{theirs['id']}", body={"server": theirs})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert (response.status_code, response.json["id"]) == (201, theirs["id"])
    assert response.headers["Idempotent-Replayed"] == "true"
    assert delete.call_count == 1


def test_a_retry_returns_the_settled_server_not_an_older_twin(client, cloud, nova_creates):
    older = keyed_server("0a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55", age=timedelta(minutes=2))
    settled = keyed_server("6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55", age=timedelta(minutes=1))
    settled["metadata"][SETTLED_METADATA] = "true"
    cloud.nova("GET", f"/servers/detail?tags={key_tag(KEY)}", body={"servers": [settled, older]})

    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert (response.status_code, response.json["id"]) == (201, settled["id"])
    assert response.headers["Idempotent-Replayed"] == "true"
    assert nova_creates.call_count == 0


def test_a_lost_answer_is_found_by_the_retry(client, cloud, settle_waits):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.mocker.get(
        f"{NOVA}/servers/detail?tags={key_tag(KEY)}",
        [{"json": {"servers": []}}, {"json": {"servers": [keyed_server(server_id)]}}],
    )
    post = cloud.nova("POST", "/servers", exc=requests.exceptions.ReadTimeout)

    lost = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})
    retry = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": KEY})

    assert lost.status_code == 504
    assert (retry.status_code, retry.json["id"]) == (201, server_id)
    assert post.call_count == 1


def test_an_overlong_key_is_400(client, cloud):
    response = client.post("/api/v1/server", json=CREATE, headers={"Idempotency-Key": "k" * 256})

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "Idempotency-Key"


# -- ?dry_run --------------------------------------------------------------------


@pytest.fixture
def free_name(cloud):
    return cloud.nova("GET", "/servers/detail?name=%5Eweb%5C-1%24", body={"servers": []}, complete_qs=True)


# The dry run's own operation, and ?dry_run=true on the create, which it replaced in the spec (still accepted).
DRY_RUNS = ["/api/v1/server/dry-run", "/api/v1/server?dry_run=true"]


@pytest.mark.parametrize("url", DRY_RUNS)
def test_dry_run_checks_everything_and_creates_nothing(client, cloud, names, free_name, url):
    cloud.nova("GET", "/limits", body=nova_limits())
    post = cloud.nova("POST", "/servers", status=202, body=make_create_response("x"))

    response = client.post(url, json={**BY_NAME, "key_name": "k"})

    assert response.status_code == 200
    assert response.json == {
        "dry_run": True,
        "server": {
            "name": "web-1",
            "image": {"id": IMAGE_ID, "name": "cirros"},
            "flavor": {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
            "network": {"id": NETWORK["id"], "name": "private"},
            "key_name": "k",
            "availability_zone": None,
            "description": None,
            "security_groups": None,
            "metadata": None,
        },
    }
    assert post.call_count == 0
    assert free_name.call_count == 1


def test_the_dry_run_operation_takes_no_create_options(client, cloud):
    response = client.post("/api/v1/server/dry-run?wait=true", json=BY_NAME)

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "wait"
    assert cloud.api_calls() == []


def test_a_server_called_dry_run_is_still_shown_and_deleted(client, cloud):
    # /dry-run takes POST only: the other methods of that path are still the server's of that name.
    server = make_fake_server(name="dry-run")
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    delete = cloud.nova("DELETE", f"/servers/{server['id']}", status=204)

    shown, deleted = client.get("/api/v1/server/dry-run"), client.delete("/api/v1/server/dry-run")

    assert shown.status_code == 200, shown.json
    assert shown.json["id"] == server["id"]
    assert {"name": ["^dry\\-run$"]} in [sent.qs for sent in cloud.history]  # looked up by name
    assert deleted.status_code == 204 and delete.call_count == 1


def test_dry_run_by_ids_looks_them_up(client, cloud, free_name):
    cloud.glance("GET", f"/images/{IMAGE_ID}", body=IMAGE_MIN_RAM_256)
    cloud.nova("GET", "/flavors/1", body={"flavor": FLAVOR})
    cloud.neutron("GET", f"/networks/{NETWORK['id']}", body={"network": NETWORK})
    cloud.nova("GET", "/limits", body=nova_limits())

    response = client.post("/api/v1/server/dry-run", json=CREATE)

    assert response.status_code == 200
    assert response.json["server"]["image"]["name"] == "cirros"


def test_dry_run_over_quota_is_400_in_novas_words(client, cloud, names, free_name):
    cloud.nova("GET", "/limits", body=nova_limits(instances=(2, 2), cores=(2, 2)))

    response = client.post("/api/v1/server?dry_run=true", json=BY_NAME)

    assert response.status_code == 400
    assert response.json == {
        "code": "quota_exceeded",
        "message": "Quota exceeded for cores, instances: Requested 1, 1, but already used 2, 2 of 2, 2 cores, "
        "instances",
        "request_id": response.headers["X-Request-Id"],
    }


def test_dry_run_with_a_taken_name_is_409(client, cloud, names):
    twin = make_fake_server(name="web-1")
    cloud.nova("GET", "/servers/detail", body={"servers": [twin]})

    response = client.post("/api/v1/server?dry_run=true", json=BY_NAME)

    assert response.status_code == 409
    assert response.json["code"] == "name_in_use"
    assert response.json["candidates"] == [{"id": twin["id"], "name": "web-1"}]


@pytest.mark.parametrize(
    ("flavor", "message"),
    [
        ({"ram": 128}, "Flavor's memory is too small for requested image."),
        ({"disk": 0, "ram": 512}, None),
    ],
)
def test_dry_run_checks_the_flavor_fits_the_image(client, cloud, free_name, flavor, message):
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [IMAGE_MIN_RAM_256]}, complete_qs=True)
    cloud.nova("GET", "/flavors/small", body={"flavor": make_fake_flavor("small", "small", **flavor)})
    cloud.neutron("GET", "/networks?name=private", body={"networks": [NETWORK]}, complete_qs=True)
    cloud.nova("GET", "/limits", body=nova_limits())

    response = client.post("/api/v1/server?dry_run=true", json={**BY_NAME, "flavor": "small"})

    if message:
        assert (response.status_code, response.json["message"]) == (400, message)
    else:
        assert response.status_code == 200


def test_dry_run_checks_the_disk_against_image_size_and_min_disk(client, cloud, free_name):
    big = {**IMAGE_MIN_RAM_256, "size": 3 * 1024**3, "min_disk": 0}
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [big]}, complete_qs=True)
    cloud.nova("GET", "/flavors/m1.tiny", body={"flavor": FLAVOR})
    cloud.neutron("GET", "/networks?name=private", body={"networks": [NETWORK]}, complete_qs=True)

    response = client.post("/api/v1/server?dry_run=true", json=BY_NAME)

    assert response.status_code == 400
    assert response.json["message"].startswith("Flavor's disk is too small for requested image.")


def test_dry_run_checks_min_disk(client, cloud, free_name):
    demanding = {**IMAGE_MIN_RAM_256, "min_disk": 10}
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [demanding]}, complete_qs=True)
    cloud.nova("GET", "/flavors/m1.tiny", body={"flavor": FLAVOR})
    cloud.neutron("GET", "/networks?name=private", body={"networks": [NETWORK]}, complete_qs=True)

    response = client.post("/api/v1/server?dry_run=true", json=BY_NAME)

    assert response.status_code == 400
    assert "minimum size specified in image metadata" in response.json["message"]

"""/api/v1/volume on the wire: Cinder v3 (microversion 3.60) played by requests-mock, with Cinder's own JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from devstack_client.services import volume as volume_module
from devstack_client.services.volume import DIGEST_METADATA, KEY_METADATA, SETTLED_METADATA, key_digest
from tests.fakes import (
    CINDER,
    GLANCE,
    IMAGE,
    IMAGE_ID,
    NOVA,
    SERVER_ID,
    cinder_error,
    make_fake_server,
    make_fake_volume,
)

VOLUME_ID = "6c1e4b7a-2f3d-4e5a-9b8c-0d1e2f3a4b5c"
CREATE = {"name": "data-1", "size": 1}
KEY = "9d3c1e2b-data-1"


def cinder_calls(cloud) -> list[str]:
    return [s for s in cloud.api_calls() if "cinder.test" in s]


def query_of(request) -> dict[str, list[str]]:
    return parse_qs(urlparse(request.url).query)


@pytest.fixture
def no_sleep(monkeypatch):
    waits = []
    monkeypatch.setattr(volume_module.time, "sleep", waits.append)
    return waits


# -- list ------------------------------------------------------------------------------


def test_list_is_one_cinder_call_at_the_pinned_microversion(client, cloud):
    volumes = [make_fake_volume(VOLUME_ID), make_fake_volume(name="data-2", attached_to=(SERVER_ID,))]
    listed = cloud.cinder("GET", "/volumes/detail", body={"volumes": volumes})

    response = client.get("/api/v1/volume")

    assert response.status_code == 200
    assert response.json["next_marker"] is None
    assert response.json["volumes"][0] == {
        "id": VOLUME_ID,
        "name": "data-1",
        "status": "available",
        "size": 1,
        "volume_type": "__DEFAULT__",
        "bootable": False,
        "image": None,
        "description": None,
        "availability_zone": "nova",
        "attachments": [],
        "metadata": {},
        "created_at": "2026-11-30T10:02:11.000000",
        "updated_at": "2026-11-30T10:02:12.000000",
    }
    assert response.json["volumes"][1]["status"] == "in-use"
    assert response.json["volumes"][1]["attachments"] == [
        {"server_id": SERVER_ID, "server_name": None, "device": "/dev/vdb"}
    ]
    assert cinder_calls(cloud) == [f"GET {CINDER}/volumes/detail?limit=101"]
    assert listed.last_request.headers["OpenStack-API-Version"] == "volume 3.60"


def test_list_filters_sorts_and_pages_in_cinders_terms(client, cloud):
    volumes = [make_fake_volume(name="db") for _ in range(3)]
    listed = cloud.cinder("GET", "/volumes/detail", body={"volumes": volumes})

    response = client.get("/api/v1/volume?status=IN-USE&name=db&sort=-size&limit=2&marker=abc")

    assert response.status_code == 200
    assert len(response.json["volumes"]) == 2
    assert response.json["next_marker"] == volumes[1]["id"]
    assert query_of(listed.last_request) == {
        "status": ["in-use"],
        "name": ["db"],
        "sort": ["size:desc"],
        "limit": ["3"],
        "marker": ["abc"],
    }


def test_an_unknown_marker_is_a_400_naming_it(client, cloud):
    # Cinder answers an unknown marker 404, as if the list were missing (found by the real-cloud fuzz)
    cloud.cinder("GET", "/volumes/detail", status=404, body=cinder_error(404, "Volume nope could not be found."))

    response = client.get("/api/v1/volume?marker=nope")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert response.json["errors"] == [
        {"field": "marker", "message": "marker: no volume 'nope' to start after (Volume nope could not be found.)"}
    ]
    assert cinder_calls(cloud) == [f"GET {CINDER}/volumes/detail?limit=101&marker=nope"]


def test_list_fields_answers_only_those(client, cloud):
    cloud.cinder("GET", "/volumes/detail", body={"volumes": [make_fake_volume(VOLUME_ID)]})

    response = client.get("/api/v1/volume?fields=name,size")

    assert response.json["volumes"] == [{"id": VOLUME_ID, "name": "data-1", "size": 1}]


def test_list_by_server_reads_that_servers_volumes(client, cloud):
    attached = [{"id": VOLUME_ID, "delete_on_termination": False}, {"id": SERVER_ID, "delete_on_termination": True}]
    server = make_fake_server(SERVER_ID, name="web-1", **{"os-extended-volumes:volumes_attached": attached})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID, attached_to=(SERVER_ID,))})
    boot = make_fake_volume(SERVER_ID, name="", size=2, attached_to=(SERVER_ID,), device="/dev/vda")
    cloud.cinder("GET", f"/volumes/{SERVER_ID}", body={"volume": boot})

    response = client.get(f"/api/v1/volume?server={SERVER_ID}&sort=-size")

    assert response.status_code == 200
    assert [v["size"] for v in response.json["volumes"]] == [2, 1]
    assert cloud.api_calls() == [
        f"GET {NOVA}/servers/{SERVER_ID}",
        f"GET {CINDER}/volumes/{VOLUME_ID}",
        f"GET {CINDER}/volumes/{SERVER_ID}",
    ]


def test_list_by_an_unknown_server_is_400_naming_the_filter(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get("/api/v1/volume?server=nope")

    assert response.status_code == 400
    assert response.json["errors"] == [{"field": "server", "message": "No server with the id or name 'nope'."}]
    assert cinder_calls(cloud) == []


def test_list_by_a_server_name_two_servers_share_is_a_documented_409(client, cloud):
    # regression (the fuzz run): an ambiguous server filter answered an undocumented 409
    twins = [make_fake_server(name="web"), make_fake_server(name="web")]
    cloud.nova("GET", "/servers/detail", body={"servers": twins})

    response = client.get("/api/v1/volume?server=web")
    responses = client.get("/swagger.json").json["paths"]["/api/v1/volume"]["get"]["responses"]

    assert (response.status_code, response.json["code"]) == (409, "ambiguous_name")
    assert "409" in responses
    assert cinder_calls(cloud) == []


@pytest.mark.parametrize("query", ["status=gone", "sort=password", "limit=0", "fields=password", "status=%00"])
def test_a_bad_list_query_is_400_before_cinder(client, cloud, query):
    response = client.get(f"/api/v1/volume?{query}")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert cloud.api_calls() == []


# -- show ------------------------------------------------------------------------------


def test_show_by_id_names_the_server_it_is_attached_to(client, cloud):
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID, attached_to=(SERVER_ID,))})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, name="web-1")})

    response = client.get(f"/api/v1/volume/{VOLUME_ID}")

    assert response.status_code == 200
    assert response.json["status"] == "in-use"
    assert response.json["attachments"] == [{"server_id": SERVER_ID, "server_name": "web-1", "device": "/dev/vdb"}]
    assert cloud.api_calls() == [f"GET {CINDER}/volumes/{VOLUME_ID}", f"GET {NOVA}/servers/{SERVER_ID}"]


def test_show_by_name_asks_cinder_for_exactly_that_name(client, cloud):
    listed = cloud.cinder("GET", "/volumes/detail", body={"volumes": [make_fake_volume(VOLUME_ID, name="a b")]})

    response = client.get("/api/v1/volume/a b")

    assert response.json["id"] == VOLUME_ID
    assert query_of(listed.last_request) == {"name": ["a b"]}
    assert cinder_calls(cloud) == [f"GET {CINDER}/volumes/detail?name=a+b"]  # a name is not tried as an id


def test_a_made_from_image_volume_is_bootable_and_names_its_image(client, cloud):
    volume = make_fake_volume(
        VOLUME_ID, bootable="true", volume_image_metadata={"image_id": IMAGE_ID, "image_name": "cirros"}
    )
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": volume})

    response = client.get(f"/api/v1/volume/{VOLUME_ID}")

    assert (response.json["bootable"], response.json["image"]) == (True, {"id": IMAGE_ID, "name": "cirros"})


def test_a_name_two_volumes_share_is_409_ambiguous(client, cloud):
    twins = [make_fake_volume(name="db"), make_fake_volume(name="db")]
    cloud.cinder("GET", "/volumes/detail", body={"volumes": twins})

    response = client.get("/api/v1/volume/db")

    assert response.status_code == 409
    assert response.json["code"] == "ambiguous_name"
    assert {c["id"] for c in response.json["candidates"]} == {v["id"] for v in twins}


def test_an_unknown_id_is_cinders_404(client, cloud):
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", 404, cinder_error(404, f"Volume {VOLUME_ID} could not be found."))
    cloud.cinder("GET", "/volumes/detail", body={"volumes": []})

    response = client.get(f"/api/v1/volume/{VOLUME_ID}")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


# -- create ----------------------------------------------------------------------------


@pytest.fixture
def cinder_creates(cloud):
    """Cinder accepts the POST (202) and answers the volume in status creating."""
    return cloud.cinder("POST", "/volumes", 202, {"volume": make_fake_volume(VOLUME_ID, status="creating")})


def test_create_answers_201_with_location(client, cloud, cinder_creates):
    body = {**CREATE, "description": "db files", "volume_type": "__DEFAULT__"}
    response = client.post("/api/v1/volume", json=body)

    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/volume/{VOLUME_ID}"
    assert response.json["status"] == "creating"
    assert cinder_creates.last_request.json() == {"volume": body}
    assert cinder_creates.last_request.headers["OpenStack-API-Version"] == "volume 3.60"
    assert cinder_calls(cloud) == [f"POST {CINDER}/volumes"]


def test_create_from_an_image_by_name_sends_its_id(client, cloud, cinder_creates):
    cloud.glance("GET", "/images?name=eq%3Acirros", body={"images": [IMAGE]})

    response = client.post("/api/v1/volume", json={**CREATE, "image": "cirros"})

    assert response.status_code == 201
    assert cinder_creates.last_request.json()["volume"]["imageRef"] == IMAGE_ID


def test_create_from_an_unknown_image_is_400_and_creates_nothing(client, cloud, cinder_creates):
    cloud.glance("GET", "/images?name=eq%3Anope", body={"images": []})

    response = client.post("/api/v1/volume", json={**CREATE, "image": "nope"})

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "image"
    assert cinder_creates.call_count == 0
    assert cloud.api_calls() == [f"GET {GLANCE}/v2/images?name=eq%3Anope"]


def test_over_cinders_quota_is_400_in_its_words_and_nothing_is_left(client, cloud):
    message = "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    post = cloud.cinder("POST", "/volumes", 413, cinder_error(413, message))

    response = client.post("/api/v1/volume", json=CREATE)

    assert response.status_code == 400
    assert (response.json["code"], response.json["message"]) == ("quota_exceeded", message)
    assert response.json["upstream_status"] == 413
    assert post.call_count == 1
    assert [r.method for r in cloud.history if "cinder.test" in r.url] == ["POST"]  # no retry, nothing to undo


def test_over_the_gigabytes_quota_is_400_too(client, cloud):
    message = (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "
        "Requested 5G, quota is 2G and 0G has been consumed."
    )
    cloud.cinder("POST", "/volumes", 413, cinder_error(413, message))

    response = client.post("/api/v1/volume", json={**CREATE, "size": 5})

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "quota_exceeded", message)


def test_cinder_refusing_the_body_is_its_400(client, cloud):
    message = "Volume type with name nope could not be found."
    cloud.cinder("POST", "/volumes", 404, cinder_error(404, message))

    response = client.post("/api/v1/volume", json={**CREATE, "volume_type": "nope"})

    assert (response.status_code, response.json["message"]) == (404, message)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": 1}, "name"),
        ({"name": "x"}, "size"),
        ({"name": "x", "size": 0}, "size"),
        ({"name": "x", "size": "1"}, "size"),
        ({"name": "x", "size": 1.5}, "size"),
        ({"name": "x", "size": 2**31}, "size"),
        ({"name": "", "size": 1}, "name"),
        ({"name": " x", "size": 1}, "name"),
        ({"name": "x\ty", "size": 1}, "name"),
        ({"name": "x", "size": 1, "description": "a\x07"}, "description"),
        ({"name": "x", "size": 1, "image": ""}, "image"),
        ({"name": "x", "size": 1, "metadata": {}}, "metadata"),
    ],
)
def test_a_bad_create_body_is_400_naming_the_field(client, cloud, body, field):
    response = client.post("/api/v1/volume", json=body)

    assert response.status_code == 400
    assert field in [e["field"] for e in response.json["errors"]]
    assert cloud.api_calls() == []


def test_wait_polls_until_available(client, cloud, cinder_creates, no_sleep):
    cloud.mocker.get(
        f"{CINDER}/volumes/{VOLUME_ID}",
        [{"json": {"volume": make_fake_volume(VOLUME_ID, status=s)}} for s in ("creating", "available")],
    )

    response = client.post("/api/v1/volume?wait=true&timeout=10", json=CREATE)

    assert (response.status_code, response.json["status"]) == (201, "available")
    assert no_sleep == [volume_module.POLL_SECONDS]


def test_wait_for_a_volume_that_fails_is_502_build_failed(client, cloud, cinder_creates, no_sleep):
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID, status="error")})

    response = client.post("/api/v1/volume?wait=true", json=CREATE)

    assert (response.status_code, response.json["code"]) == (502, "build_failed")
    assert response.json["volume"]["status"] == "error"


def test_wait_that_times_out_is_202_still_creating(client, cloud, cinder_creates, monkeypatch):
    monkeypatch.setattr(volume_module, "POLL_SECONDS", 5.0)  # more than the timeout: one poll only
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID, status="creating")})

    response = client.post("/api/v1/volume?wait=true&timeout=1", json=CREATE)

    assert (response.status_code, response.json["status"]) == (202, "creating")
    assert response.headers["Location"] == f"/api/v1/volume/{VOLUME_ID}"


# -- idempotency: the key lives in the volume's metadata ------------------------------------


def keyed_volume(volume_id: str, body: dict = CREATE, age: timedelta = timedelta(minutes=1), **overrides) -> dict:
    """A volume made with KEY ``age`` ago (a key lasts IDEMPOTENCY_TTL: a fixed date would expire the next day)."""
    metadata = {KEY_METADATA: key_digest(KEY), DIGEST_METADATA: volume_module._request_digest(body)}
    created = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%S.%f")
    overrides.setdefault("created_at", created)
    return make_fake_volume(volume_id, metadata={**metadata, **overrides.pop("metadata", {})}, **overrides)


def keyed_lookup(cloud, *answers):
    return cloud.mocker.get(f"{CINDER}/volumes/detail", [{"json": {"volumes": a}} for a in answers])


def test_a_keyed_create_stores_the_key_in_metadata_and_settles(client, cloud, cinder_creates, no_sleep):
    lookups = keyed_lookup(cloud, [], [keyed_volume(VOLUME_ID)])
    settled = cloud.cinder("POST", f"/volumes/{VOLUME_ID}/metadata", body={"metadata": {}})

    response = client.post("/api/v1/volume", json=CREATE, headers={"Idempotency-Key": KEY})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert cinder_creates.last_request.json()["volume"]["metadata"] == {
        KEY_METADATA: key_digest(KEY),
        DIGEST_METADATA: volume_module._request_digest(CREATE),
    }
    # Cinder filters by metadata, read with ast.literal_eval: a JSON object of strings
    assert json.loads(query_of(lookups.last_request)["metadata"][0]) == {KEY_METADATA: key_digest(KEY)}
    assert lookups.call_count == 2 and no_sleep == [2.0]
    assert settled.last_request.json() == {"metadata": {SETTLED_METADATA: "true"}}


def test_a_retry_with_the_same_key_answers_the_first_volume(client, cloud, cinder_creates):
    keyed_lookup(cloud, [keyed_volume(VOLUME_ID)])

    response = client.post("/api/v1/volume", json=CREATE, headers={"Idempotency-Key": KEY})

    assert (response.status_code, response.headers["Idempotent-Replayed"]) == (201, "true")
    assert response.json["id"] == VOLUME_ID
    assert cinder_creates.call_count == 0


def test_the_same_key_with_another_body_is_409(client, cloud, cinder_creates):
    keyed_lookup(cloud, [keyed_volume(VOLUME_ID, body={**CREATE, "size": 9})])

    response = client.post("/api/v1/volume", json=CREATE, headers={"Idempotency-Key": KEY})

    assert (response.status_code, response.json["code"]) == (409, "idempotency_key_reused")
    assert response.json["volume_id"] == VOLUME_ID
    assert cinder_creates.call_count == 0


def test_a_race_keeps_the_oldest_volume_and_deletes_its_own(client, cloud, no_sleep):
    mine = "0f0f0f0f-1111-4222-8333-444444444444"
    cloud.cinder("POST", "/volumes", 202, {"volume": make_fake_volume(mine, status="creating")})
    older = keyed_volume(VOLUME_ID, age=timedelta(minutes=5))  # mine: 1 minute ago
    keyed_lookup(cloud, [], [keyed_volume(mine), older])
    deleted = cloud.cinder("DELETE", f"/volumes/{mine}", 202)

    response = client.post("/api/v1/volume", json=CREATE, headers={"Idempotency-Key": KEY})

    assert (response.status_code, response.json["id"]) == (201, VOLUME_ID)
    assert response.headers["Idempotent-Replayed"] == "true"
    assert deleted.call_count == 1


def test_an_over_long_key_is_400_before_cinder(client, cloud):
    response = client.post("/api/v1/volume", json=CREATE, headers={"Idempotency-Key": "k" * 256})

    assert response.status_code == 400
    assert cloud.api_calls() == []


# -- edit and delete -------------------------------------------------------------------


def test_patch_renames_through_cinders_put(client, cloud):
    put = cloud.cinder("PUT", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID, name="data-2")})

    response = client.patch(f"/api/v1/volume/{VOLUME_ID}", json={"name": "data-2", "description": ""})

    assert (response.status_code, response.json["name"]) == (200, "data-2")
    assert put.last_request.json() == {"volume": {"name": "data-2", "description": ""}}
    assert cinder_calls(cloud) == [f"PUT {CINDER}/volumes/{VOLUME_ID}"]


@pytest.mark.parametrize("body", [{}, {"size": 2}, {"name": None}, {"name": "a\nb"}])
def test_a_bad_patch_is_400_before_cinder(client, cloud, body):
    response = client.patch(f"/api/v1/volume/{VOLUME_ID}", json=body)

    assert (response.status_code, response.json["code"]) == (400, "invalid_request")
    assert cloud.api_calls() == []


def test_delete_a_detached_volume(client, cloud):
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID)})
    deleted = cloud.cinder("DELETE", f"/volumes/{VOLUME_ID}", 202)

    response = client.delete(f"/api/v1/volume/{VOLUME_ID}")

    assert response.status_code == 204
    assert deleted.call_count == 1


def test_delete_an_attached_volume_is_409_in_use_naming_the_server(client, cloud):
    volume = make_fake_volume(VOLUME_ID, attached_to=(SERVER_ID,))
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": volume})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, name="web-1")})

    response = client.delete(f"/api/v1/volume/{VOLUME_ID}")

    assert (response.status_code, response.json["code"]) == (409, "in_use")
    assert response.json["servers"] == [{"id": SERVER_ID, "name": "web-1"}]
    assert "web-1" in response.json["message"] and "detach it first" in response.json["message"]
    assert not cloud.sent("DELETE")


def test_cinder_refusing_a_delete_is_its_400(client, cloud):
    # A volume attached between our read and the DELETE: Cinder's own refusal stands.
    cloud.cinder("GET", f"/volumes/{VOLUME_ID}", body={"volume": make_fake_volume(VOLUME_ID)})
    message = "Invalid volume: Volume status must be available or error or error_restoring or error_extending."
    cloud.cinder("DELETE", f"/volumes/{VOLUME_ID}", 400, cinder_error(400, message))

    response = client.delete(f"/api/v1/volume/{VOLUME_ID}")

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "bad_request", message)

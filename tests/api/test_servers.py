import pytest

from tests.fakes import (
    CREATE,
    DEFAULT_GROUP_ID,
    GLANCE,
    IMAGE,
    IMAGE_ID,
    NETWORK_ID,
    NEUTRON,
    NOVA,
    PROJECT_ID,
    make_create_response,
    make_fake_flavor,
    make_fake_image,
    make_fake_server,
    nova_error,
)


def images_named(cloud, *images):
    return cloud.glance("GET", "/images", body={"images": list(images), "first": "/v2/images"})


def test_list_servers(client, cloud):
    servers = [make_fake_server(name="web-1"), make_fake_server(name="web-2", status="ERROR")]
    cloud.nova("GET", "/servers/detail", body={"servers": servers})
    images_named(cloud, IMAGE)

    response = client.get("/api/v1/server")

    assert response.status_code == 200
    assert [s["name"] for s in response.json["servers"]] == ["web-1", "web-2"]
    assert response.json["next_marker"] is None
    assert response.json["servers"][0] == {
        "id": servers[0]["id"],
        "name": "web-1",
        "status": "ACTIVE",
        "task_state": None,
        "power_state": 1,
        "image": {"id": IMAGE_ID, "name": "cirros"},
        "flavor": {"name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
        "addresses": {
            "private": [{"addr": "10.0.0.12", "version": 4, "type": "fixed", "mac_addr": "fa:16:3e:4c:2c:30"}]
        },
        "key_name": None,
        "availability_zone": "nova",
        "project_id": servers[0]["tenant_id"],
        "metadata": {},
        "tags": [],
        "description": None,
        "created_at": "2026-11-02T09:14:03Z",
        "updated_at": "2026-11-02T09:14:09Z",
        "fault": None,
        "security_groups": [{"id": None, "name": "default"}],  # the ids: in a show
        "volumes": [],
    }
    assert response.json["servers"][1]["fault"] == {
        "code": 500,
        "message": "No valid host was found. There are not enough hosts available.",
    }
    assert cloud.api_calls() == [
        f"GET {NOVA}/servers/detail?limit=101",
        f"GET {GLANCE}/v2/images?id=in%3A{IMAGE_ID}&limit=1",
    ]
    assert cloud.history[-2].headers["OpenStack-API-Version"] == "compute 2.79"


@pytest.mark.parametrize("count", [10, 100])
def test_a_page_costs_two_upstream_calls_whatever_its_size(client, cloud, count):
    images = [make_fake_image(name=f"img-{n}") for n in range(count)]
    servers = [make_fake_server(name=f"vm-{n}", image_id=images[n]["id"]) for n in range(count)]
    cloud.nova("GET", "/servers/detail", body={"servers": servers})
    glance = images_named(cloud, *images)

    response = client.get(f"/api/v1/server?limit={count}")

    assert [s["image"]["name"] for s in response.json["servers"]] == [f"img-{n}" for n in range(count)]
    assert len(cloud.api_calls()) == 2
    assert sorted(glance.last_request.qs["id"][0].removeprefix("in:").split(",")) == sorted(i["id"] for i in images)


def test_list_servers_pages_by_marker_without_novas_links(client, cloud):
    servers = [make_fake_server(name=n) for n in "abc"]
    internal = {"rel": "next", "href": "http://nova.internal:8774/v2.1/servers/detail?marker=x"}
    cloud.nova("GET", "/servers/detail", body={"servers": servers, "servers_links": [internal]})
    images_named(cloud)

    response = client.get(f"/api/v1/server?limit=2&marker={servers[0]['id']}")

    assert [s["name"] for s in response.json["servers"]] == ["a", "b"]
    assert response.json["next_marker"] == servers[1]["id"]
    assert cloud.api_calls()[0] == f"GET {NOVA}/servers/detail?limit=3&marker={servers[0]['id']}"
    assert "nova.internal" not in response.get_data(as_text=True)


def test_list_servers_filters_and_sorts_upstream(client, cloud):
    flavor = make_fake_flavor("2", "m1.small")
    cloud.nova("GET", "/flavors/m1.small", status=404, body=nova_error(404, "Flavor m1.small could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": [flavor]})
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get(f"/api/v1/server?status=shutoff&name_like=web.&image={IMAGE_ID}&flavor=m1.small&sort=-name")

    assert response.status_code == 200
    assert response.json == {"servers": [], "next_marker": None}
    assert cloud.history[-1].qs == {
        "status": ["shutoff"],
        "name": ["web\\."],
        "image": [IMAGE_ID],
        "flavor": ["2"],
        "sort_key": ["display_name"],
        "sort_dir": ["desc"],
        "limit": ["101"],
    }


def test_list_servers_by_image_name_resolves_it_once(client, cloud):
    image = make_fake_image(name="cirros")
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [image]}, complete_qs=True)
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get("/api/v1/server?image=cirros&name=web-1")

    assert response.status_code == 200
    assert cloud.history[-1].qs["image"] == [image["id"]]
    assert cloud.history[-1].qs["name"] == ["^web\\-1$"]  # re.escape: valid in PostgreSQL and MySQL regexes


def test_list_servers_by_unknown_image_name_is_400(client, cloud):
    cloud.glance("GET", "/images?name=eq:nope", body={"images": []}, complete_qs=True)

    response = client.get("/api/v1/server?image=nope")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert response.json["errors"][0]["field"] == "image"


def test_list_servers_chooses_fields_and_skips_the_image_join(client, cloud):
    server = make_fake_server(name="web-1")
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})

    response = client.get("/api/v1/server?fields=name,status")

    assert response.json["servers"] == [{"id": server["id"], "name": "web-1", "status": "ACTIVE"}]
    assert len(cloud.api_calls()) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [("fields=name,secret", "fields"), ("status=sleeping", "status"), ("limit=1001", "limit"), ("sort=id", "sort")],
)
def test_list_servers_refuses_bad_queries(client, cloud, query, field):
    response = client.get(f"/api/v1/server?{query}")

    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == [field]
    assert cloud.api_calls() == []


def test_list_servers_survives_a_glance_outage_without_names(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server()]})
    cloud.glance("GET", "/images", status=503, body={"message": "down"})

    response = client.get("/api/v1/server")

    assert response.status_code == 200
    assert response.json["servers"][0]["image"] == {"id": IMAGE_ID, "name": None}


def test_server_booted_from_volume_has_no_image(client, cloud):
    server = make_fake_server(image_id=None)
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    response = client.get(f"/api/v1/server/{server['id']}")

    assert response.json["image"] is None


def test_show_server_by_id(client, cloud):
    server = make_fake_server(name="web-1")
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    response = client.get(f"/api/v1/server/{server['id']}/")

    assert response.status_code == 200
    assert response.json["name"] == "web-1"
    assert response.json["security_groups"] == [{"id": DEFAULT_GROUP_ID, "name": "default"}]
    assert cloud.api_calls_by_show() == [
        f"GET {NOVA}/servers/{server['id']}",
        f"GET {NEUTRON}/v2.0/ports?device_id={server['id']}&fields=security_groups",
    ]


def test_tags_are_answered_in_one_order_whatever_nova_s(client, cloud):
    server = make_fake_server(tags=["web", "prod", "eu"])  # Nova keeps tags as a set: any order
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    response = client.get(f"/api/v1/server/{server['id']}")

    assert response.json["tags"] == ["eu", "prod", "web"]


def test_show_server_in_error_says_why(client, cloud):
    server = make_fake_server(status="ERROR")
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    response = client.get(f"/api/v1/server/{server['id']}")

    assert response.json["status"] == "ERROR"
    assert response.json["fault"]["message"].startswith("No valid host was found")


def test_show_server_by_name_matches_exactly(client, cloud):
    # Nova's name filter is a regular expression: "vm1" would match "vm10"
    wanted, similar = make_fake_server(name="vm1.a"), make_fake_server(name="vm1.ab")
    cloud.nova("GET", "/servers/detail", body={"servers": [wanted, similar]})

    response = client.get("/api/v1/server/vm1.a")

    assert response.status_code == 200
    assert response.json["id"] == wanted["id"]
    assert cloud.history[-2].qs == {"name": ["^vm1\\.a$"]}  # then Neutron, for the groups' ids


def test_show_server_by_shared_name_is_409_with_both(client, cloud):
    twins = [make_fake_server(name="twin"), make_fake_server(name="twin")]
    cloud.nova("GET", "/servers/detail", body={"servers": twins})

    response = client.get("/api/v1/server/twin")

    assert response.status_code == 409
    assert response.json["code"] == "ambiguous_name"
    assert response.json["candidates"] == [{"id": s["id"], "name": "twin"} for s in twins]


def test_show_missing_server_is_404(client, cloud):
    ref = "6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55"
    cloud.nova("GET", f"/servers/{ref}", status=404, body=nova_error(404, f"Instance {ref} could not be found."))
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get(f"/api/v1/server/{ref}")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_create_server(client, cloud):
    server = make_fake_server(name="web-1", status="BUILD")
    post = cloud.nova("POST", "/servers", status=202, body=make_create_response(server["id"]))
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/server/{server['id']}")
    assert response.json["status"] == "BUILD"
    assert response.json["id"] == server["id"]
    assert "adminPass" not in response.get_data(as_text=True)
    assert post.call_count == 1
    assert post.last_request.json() == {
        "server": {"name": "web-1", "imageRef": IMAGE_ID, "flavorRef": "1", "networks": [{"uuid": NETWORK_ID}]}
    }
    assert post.last_request.headers["OpenStack-API-Version"] == "compute 2.79"


def test_create_answers_the_server_as_sent_when_nova_does_not_show_it(client, cloud):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    post = cloud.nova("POST", "/servers", status=202, body=make_create_response(server_id))
    show = cloud.nova("GET", f"/servers/{server_id}", status=500, body=nova_error(500, "Unexpected API Error."))
    body = {**CREATE, "metadata": {"role": "web"}, "description": "front", "key_name": "my-key"}

    response = client.post("/api/v1/server", json=body)

    # The server exists: not an error (a client would create another). The answer is the Server shape (the
    # document's, checked by tests/answers.py) with what was sent, and null where only Nova knows.
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/server/{server_id}")
    assert response.json == {
        "id": server_id,
        "name": "web-1",
        "status": "BUILD",
        "task_state": None,
        "power_state": None,
        "image": {"id": IMAGE_ID, "name": None},
        "flavor": {"name": None, "vcpus": None, "ram": None, "disk": None},
        "addresses": {},
        "key_name": "my-key",
        "availability_zone": None,
        "project_id": PROJECT_ID,
        "metadata": {"role": "web"},
        "tags": [],
        "description": "front",
        "created_at": None,
        "updated_at": None,
        "fault": None,
        "security_groups": [{"id": None, "name": "default"}],
        "volumes": [],
    }
    assert post.call_count == 1  # a POST is never sent again
    assert show.call_count == 2  # a show is: once more, a second later


def test_create_answers_201_when_the_second_read_back_works(client, cloud):
    server = make_fake_server(name="web-1", status="BUILD")
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server["id"]))
    show = cloud.mocker.get(
        f"{NOVA}/servers/{server['id']}",
        [{"status_code": 503, "json": nova_error(503, "Service Unavailable")}, {"json": {"server": server}}],
    )

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 201
    assert response.json["id"] == server["id"]
    assert response.json["flavor"]["name"] == server["flavor"]["original_name"]
    assert show.call_count == 2


def test_create_over_quota_is_400_with_novas_text(client, cloud):
    text = "Quota exceeded for cores, instances: Requested 1, 1, but already used 2, 2 of 2, 2 cores, instances"
    cloud.nova("POST", "/servers", status=403, body=nova_error(403, text))

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 400
    assert response.json == {
        "code": "quota_exceeded",
        "message": text,
        "upstream_status": 403,
        "upstream_request_id": "req-upstream-1",
        "request_id": response.headers["X-Request-Id"],
    }


def test_create_over_unified_limit_is_quota_exceeded(client, cloud):
    text = "Resource servers is over a limit for project 5d1e: requested 1, limit 1"
    cloud.nova("POST", "/servers", status=403, body=nova_error(403, text))

    response = client.post("/api/v1/server", json=CREATE)

    assert (response.status_code, response.json["code"]) == (400, "quota_exceeded")


@pytest.mark.parametrize(
    "text",
    [
        "Can not find requested image",
        "Flavor nope could not be found.",
        "Network 11111111-2222-3333-4444-555555555555 could not be found.",
    ],
)
def test_create_with_unknown_reference_is_400_with_novas_text(client, cloud, text):
    cloud.nova("POST", "/servers", status=400, body=nova_error(400, text))

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 400
    assert response.json["code"] == "bad_request"
    assert response.json["message"] == text
    assert response.json["upstream_status"] == 400


def test_create_read_timeout_is_not_retried(client, cloud):
    import requests

    post = cloud.nova("POST", "/servers", exc=requests.exceptions.ReadTimeout)

    response = client.post("/api/v1/server", json=CREATE)

    assert response.status_code == 504
    assert response.json["code"] == "upstream_timeout"
    assert post.call_count == 1  # a second POST could create a second server


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["flavor", "image", "name", "network"]),
        ({**CREATE, "image": "cirros"}, ["image"]),
        ({**CREATE, "name": ""}, ["name"]),
        ({**CREATE, "flavor_id": 1}, ["flavor_id"]),
        ({**CREATE, "image_id": None}, ["image", "image_id"]),
        ({**CREATE, "color": "blue"}, ["color"]),
        ({**CREATE, "name": "x" * 256}, ["name"]),
    ],
)
def test_create_with_bad_fields_is_400_naming_them(client, cloud, body, fields):
    response = client.post("/api/v1/server", json=body)

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert sorted(e["field"] for e in response.json["errors"]) == fields
    for field in fields:
        assert field in response.json["message"]
    assert cloud.sent("POST", "nova.test") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "A JSON body is required"),
        ("{not json", "The body is not valid JSON"),
        ("[1, 2]", "The body must be a JSON object"),
    ],
)
def test_create_with_bad_body_is_400(client, cloud, data, message):
    response = client.post("/api/v1/server", data=data, content_type="application/json")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert response.json["message"].startswith(message)
    assert cloud.sent("POST", "nova.test") == []


def test_create_accepts_curls_default_content_type(client, cloud):
    server = make_fake_server(status="BUILD")
    cloud.nova("POST", "/servers", status=202, body=make_create_response(server["id"]))
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    import json

    response = client.post("/api/v1/server/", data=json.dumps(CREATE), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201


def test_delete_server(client, cloud):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    delete = cloud.nova("DELETE", f"/servers/{server_id}", status=204)

    response = client.delete(f"/api/v1/server/{server_id}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert delete.call_count == 1
    assert cloud.api_calls() == [f"DELETE {NOVA}/servers/{server_id}"]


def test_delete_server_by_name(client, cloud):
    server = make_fake_server(name="web-1")
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    delete = cloud.nova("DELETE", f"/servers/{server['id']}", status=204)

    response = client.delete("/api/v1/server/web-1")

    assert response.status_code == 204
    assert delete.call_count == 1


def test_delete_missing_server_is_404(client, cloud):
    server_id = "2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"
    cloud.nova("DELETE", f"/servers/{server_id}", status=404, body=nova_error(404, "Instance could not be found."))

    response = client.delete(f"/api/v1/server/{server_id}")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert response.json["upstream_request_id"] == "req-upstream-1"


def test_create_with_a_huge_body_is_413(client, cloud):
    response = client.post("/api/v1/server", json={**CREATE, "name": "x" * 70_000})

    assert response.status_code == 413
    assert response.json["code"] == "request_entity_too_large"
    assert cloud.sent("POST", "nova.test") == []


@pytest.mark.parametrize("ref", ["..", "%2e%2e", "a%00b", "ü" * 300, "(unclosed[", "*"])
def test_odd_server_refs_never_500(client, cloud, ref):
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get(f"/api/v1/server/{ref}")

    # A NUL byte is refused before anything is sent: OpenStack's database would fail on it (500).
    assert (response.status_code, response.json["code"]) == (
        (400, "invalid_request") if "%00" in ref else (404, "not_found")
    )

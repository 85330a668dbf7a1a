"""Acting on servers: actions, edits, console log and console, down to Nova's wire."""

import pytest

from tests.fakes import (
    NOVA,
    SERVER_ID,
    invalid_state_error,
    make_fake_server,
    make_fake_server_in,
    make_remote_console,
    nova_error,
    nova_not_implemented,
)

SNAPSHOT_ID = "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09"  # the image Nova makes of SERVER_ID
ACTION = f"/servers/{SERVER_ID}/action"


def sent_json(cloud, method="POST", host="nova.test"):
    """The JSON bodies we sent upstream with this method, in order."""
    return [r.json() for r in cloud.history if r.method == method and r.hostname == host]


# -- power and state actions -----------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "nova_body", "target_status"),
    [
        ({"action": "start"}, {"os-start": None}, "ACTIVE"),
        ({"action": "stop"}, {"os-stop": None}, "SHUTOFF"),
        ({"action": "reboot"}, {"reboot": {"type": "SOFT"}}, "ACTIVE"),
        ({"action": "reboot", "type": "soft"}, {"reboot": {"type": "SOFT"}}, "ACTIVE"),
        ({"action": "reboot", "type": "hard"}, {"reboot": {"type": "HARD"}}, "ACTIVE"),
        ({"action": "pause"}, {"pause": None}, "PAUSED"),
        ({"action": "unpause"}, {"unpause": None}, "ACTIVE"),
        ({"action": "suspend"}, {"suspend": None}, "SUSPENDED"),
        ({"action": "resume"}, {"resume": None}, "ACTIVE"),
    ],
)
def test_action_sends_novas_body_and_answers_202(client, cloud, request_body, nova_body, target_status):
    post = cloud.nova("POST", ACTION, status=202)

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json=request_body)

    assert response.status_code == 202
    assert response.json == {
        "id": SERVER_ID,
        "action": request_body["action"],
        "type": request_body.get("type", "soft") if request_body["action"] == "reboot" else None,
        "target_status": target_status,
        "image_id": None,
        "security_group": None,
        "floating_ip": None,
    }
    assert response.headers["Location"] == f"/api/v1/server/{SERVER_ID}"
    assert cloud.api_calls() == [f"POST {NOVA}{ACTION}"]  # an id needs no lookup
    assert post.last_request.json() == nova_body
    assert post.last_request.headers["OpenStack-API-Version"] == "compute 2.79"


def test_snapshot_answers_the_image_and_its_location(client, cloud):
    post = cloud.nova("POST", ACTION, status=202, body={"image_id": SNAPSHOT_ID})

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "snapshot", "name": "web-1-snap"})

    assert response.status_code == 202
    assert response.json == {
        "id": SERVER_ID,
        "action": "snapshot",
        "type": None,
        "target_status": None,
        "image_id": SNAPSHOT_ID,
        "security_group": None,
        "floating_ip": None,
    }
    assert response.headers["Location"] == f"/api/v1/image/{SNAPSHOT_ID}"
    assert post.last_request.json() == {"createImage": {"name": "web-1-snap", "metadata": {}}}


def test_snapshot_without_an_image_id_points_at_the_server(client, cloud):
    # Nova's 2.45+ schema allows "image_id": null
    cloud.nova("POST", ACTION, status=202, body={"image_id": None})

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "snapshot", "name": "s"})

    assert response.status_code == 202
    assert response.json["image_id"] is None
    assert response.headers["Location"] == f"/api/v1/server/{SERVER_ID}"


def test_action_by_name_looks_the_server_up_first(client, cloud):
    server = make_fake_server(SERVER_ID, name="web-1")
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    cloud.nova("POST", ACTION, status=202)

    response = client.post("/api/v1/server/web-1/action", json={"action": "stop"})

    assert response.status_code == 202
    assert response.json["id"] == SERVER_ID
    assert [f"{r.method} {r.path}" for r in cloud.history[-2:]] == ["GET /v2.1/servers/detail", f"POST /v2.1{ACTION}"]
    assert cloud.history[-2].qs == {"name": ["^web\\-1$"]}


def test_action_on_an_ambiguous_name_is_409_and_sends_nothing(client, cloud):
    twins = [make_fake_server(name="twin"), make_fake_server(name="twin")]
    cloud.nova("GET", "/servers/detail", body={"servers": twins})

    response = client.post("/api/v1/server/twin/action", json={"action": "stop"})

    assert response.status_code == 409
    assert response.json["code"] == "ambiguous_name"
    assert cloud.sent("POST", "nova.test") == []


def test_action_on_an_unknown_name_is_404(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.post("/api/v1/server/ghost/action", json={"action": "stop"})

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert cloud.sent("POST", "nova.test") == []


def test_action_on_a_missing_id_is_404_with_novas_text(client, cloud):
    text = f"Instance {SERVER_ID} could not be found."
    cloud.nova("POST", ACTION, status=404, body=nova_error(404, text))

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "stop"})

    assert response.status_code == 404
    assert response.json == {
        "code": "not_found",
        "message": text,
        "upstream_status": 404,
        "upstream_request_id": "req-upstream-1",
        "request_id": response.headers["X-Request-Id"],
    }


def test_action_in_the_wrong_state_is_409_with_the_current_state(client, cloud):
    text = f"Cannot 'start' instance {SERVER_ID} while it is in vm_state active"
    cloud.nova("POST", ACTION, status=409, body=invalid_state_error("start", SERVER_ID, "vm_state", "active"))
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server_in("ACTIVE", server_id=SERVER_ID)})

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "start"})

    assert response.status_code == 409
    assert response.json == {
        "code": "invalid_state",
        "message": text,
        "status": "ACTIVE",
        "task_state": None,
        "locked": False,
        "upstream_status": 409,
        "upstream_request_id": "req-upstream-1",
        "request_id": response.headers["X-Request-Id"],
    }
    assert cloud.api_calls() == [f"POST {NOVA}{ACTION}", f"GET {NOVA}/servers/{SERVER_ID}"]


def test_action_while_nova_is_busy_shows_the_task_state(client, cloud):
    body = invalid_state_error("reboot", SERVER_ID, "task_state", "powering-off")
    cloud.nova("POST", ACTION, status=409, body=body)
    server = make_fake_server_in("ACTIVE", task_state="powering-off", server_id=SERVER_ID)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "reboot", "type": "hard"})

    assert (response.status_code, response.json["code"]) == (409, "invalid_state")
    assert (response.json["status"], response.json["task_state"]) == ("ACTIVE", "powering-off")


def test_action_on_a_locked_server_is_409_saying_so(client, cloud):
    cloud.nova("POST", ACTION, status=409, body=nova_error(409, f"Instance {SERVER_ID} is locked"))
    server = make_fake_server_in("SHUTOFF", server_id=SERVER_ID, locked=True)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "start"})

    assert response.status_code == 409
    assert response.json["locked"] is True
    assert response.json["status"] == "SHUTOFF"
    assert response.json["message"] == f"Instance {SERVER_ID} is locked"


def test_action_refused_and_server_gone_is_still_409(client, cloud):
    cloud.nova("POST", ACTION, status=409, body=invalid_state_error("stop", SERVER_ID, "task_state", "deleting"))
    cloud.nova("GET", f"/servers/{SERVER_ID}", status=404, body=nova_error(404, "Instance could not be found."))

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "stop"})

    assert response.status_code == 409
    assert response.json["code"] == "invalid_state"
    assert response.json["status"] is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["action"]),
        ({"action": "explode"}, ["action"]),
        ({"action": "START"}, ["action"]),
        ({"action": 1}, ["action"]),
        ({"action": "stop", "force": True}, ["force"]),
        ({"action": "stop", "type": "hard"}, ["type"]),
        ({"action": "reboot", "type": "HARD"}, ["type"]),
        ({"action": "reboot", "type": "warm"}, ["type"]),
        ({"action": "snapshot"}, ["name"]),
        ({"action": "snapshot", "name": ""}, ["name"]),
        ({"action": "snapshot", "name": " padded "}, ["name"]),
        ({"action": "snapshot", "name": "a\nb"}, ["name"]),
        ({"action": "snapshot", "name": "x" * 256}, ["name"]),
        ({"action": "start", "name": "x"}, ["name"]),
    ],
)
def test_bad_action_is_400_naming_the_fields(client, cloud, body, fields):
    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json=body)

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert sorted({e["field"] for e in response.json["errors"]}) == fields
    for field in fields:
        assert field in response.json["message"]
    assert cloud.api_calls() == []


@pytest.mark.parametrize("data", ["", "{not json", '["stop"]'])
def test_action_without_a_json_object_is_400(client, cloud, data):
    response = client.post(f"/api/v1/server/{SERVER_ID}/action", data=data, content_type="application/json")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert cloud.api_calls() == []


def test_snapshot_refused_by_nova_passes_its_reason_on(client, cloud):
    text = "Image metadata limit exceeded"  # an `Invalid` from nova's compute API becomes its 400
    cloud.nova("POST", ACTION, status=400, body=nova_error(400, text))

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "snapshot", "name": "s"})

    assert response.status_code == 400
    assert response.json["code"] == "bad_request"
    assert response.json["message"] == text


def test_action_on_an_unavailable_nova_is_503(client, cloud):
    cloud.nova("POST", ACTION, status=503, body=nova_error(503, "Service Unavailable"))

    response = client.post(f"/api/v1/server/{SERVER_ID}/action", json={"action": "stop"})

    assert response.status_code == 503
    assert response.json["code"] == "upstream_unavailable"


# -- editing ---------------------------------------------------------------------------


def test_rename_and_describe_is_one_put_answering_the_whole_server(client, cloud):
    updated = make_fake_server(SERVER_ID, name="web-2", description="Front end", tags=["prod"])
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": updated})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"name": "web-2", "description": "Front end"})

    assert response.status_code == 200
    assert response.json["name"] == "web-2"
    assert response.json["description"] == "Front end"
    assert response.json["tags"] == ["prod"]
    assert put.last_request.json() == {"server": {"name": "web-2", "description": "Front end"}}
    assert put.last_request.headers["OpenStack-API-Version"] == "compute 2.79"
    assert cloud.api_calls() == [f"PUT {NOVA}/servers/{SERVER_ID}"]


def test_names_may_hold_any_printable_character_nova_takes(client, cloud):
    name = "caf\u00e9 \N{HOT BEVERAGE} \u6771\u4eac"
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, name=name)})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"name": name})

    assert response.status_code == 200
    assert put.last_request.json() == {"server": {"name": name}}


def test_empty_description_removes_it(client, cloud):
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"description": ""})

    assert response.status_code == 200
    assert response.json["description"] is None
    assert put.last_request.json() == {"server": {"description": None}}


def test_metadata_replaces_the_set_then_reads_the_server(client, cloud):
    metadata = {"role": "web", "owner": "team-a"}
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}/metadata", body={"metadata": metadata})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, metadata=metadata)})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"metadata": metadata})

    assert response.status_code == 200
    assert response.json["metadata"] == metadata
    assert put.last_request.json() == {"metadata": metadata}
    assert cloud.api_calls() == [f"PUT {NOVA}/servers/{SERVER_ID}/metadata", f"GET {NOVA}/servers/{SERVER_ID}"]


def test_tags_replace_the_set(client, cloud):
    put = cloud.nova("PUT", f"/servers/{SERVER_ID}/tags", body={"tags": ["prod", "web"]})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, tags=["prod", "web"])})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"tags": ["prod", "web"]})

    assert response.status_code == 200
    assert response.json["tags"] == ["prod", "web"]
    assert put.last_request.json() == {"tags": ["prod", "web"]}


def test_empty_metadata_and_tags_clear_them(client, cloud):
    metadata = cloud.nova("PUT", f"/servers/{SERVER_ID}/metadata", body={"metadata": {}})
    tags = cloud.nova("PUT", f"/servers/{SERVER_ID}/tags", body={"tags": []})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"metadata": {}, "tags": []})

    assert response.status_code == 200
    assert (metadata.last_request.json(), tags.last_request.json()) == ({"metadata": {}}, {"tags": []})


def test_everything_at_once_ends_with_the_server_put(client, cloud):
    server = make_fake_server(SERVER_ID, name="web-2", description="d", metadata={"a": "1"}, tags=["t"])
    cloud.nova("PUT", f"/servers/{SERVER_ID}/metadata", body={"metadata": {"a": "1"}})
    cloud.nova("PUT", f"/servers/{SERVER_ID}/tags", body={"tags": ["t"]})
    cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": server})
    body = {"name": "web-2", "description": "d", "metadata": {"a": "1"}, "tags": ["t"]}

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json=body)

    assert response.status_code == 200
    assert {k: response.json[k] for k in body} == body
    assert cloud.api_calls() == [
        f"PUT {NOVA}/servers/{SERVER_ID}/metadata",
        f"PUT {NOVA}/servers/{SERVER_ID}/tags",
        f"PUT {NOVA}/servers/{SERVER_ID}",
    ]
    assert sent_json(cloud, "PUT") == [
        {"metadata": {"a": "1"}},
        {"tags": ["t"]},
        {"server": {"name": "web-2", "description": "d"}},
    ]


def test_patch_by_name(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server(SERVER_ID, name="web-1")]})
    cloud.nova("PUT", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, name="web-2")})

    response = client.patch("/api/v1/server/web-1", json={"name": "web-2"})

    assert response.status_code == 200
    assert response.json["name"] == "web-2"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body"]),
        ({"color": "blue"}, ["color"]),
        ({"name": ""}, ["name"]),
        ({"name": 7}, ["name"]),
        ({"name": "trailing "}, ["name"]),
        ({"name": None}, ["name"]),
        ({"description": "x" * 256}, ["description"]),
        ({"description": "tab\there"}, ["description"]),
        ({"description": "party \N{PARTY POPPER}"}, ["description"]),
        ({"metadata": ["a"]}, ["metadata"]),
        ({"metadata": {"k": 1}}, ["metadata.k"]),
        ({"metadata": {"k": "v" * 256}}, ["metadata.k"]),
        ({"metadata": {"k/1": "v"}}, ["metadata.k/1"]),
        ({"metadata": {"": "v"}}, ["metadata."]),
        ({"tags": "prod"}, ["tags"]),
        ({"tags": ["a/b"]}, ["tags.0"]),
        ({"tags": ["ok", "a,b"]}, ["tags.1"]),
        ({"tags": [""]}, ["tags.0"]),
        ({"tags": ["t" * 61]}, ["tags.0"]),
        ({"tags": [1]}, ["tags.0"]),
        ({"tags": [f"t{i}" for i in range(51)]}, ["tags"]),
    ],
)
def test_bad_patch_is_400_naming_the_fields(client, cloud, body, fields):
    response = client.patch(f"/api/v1/server/{SERVER_ID}", json=body)

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert sorted({e["field"] for e in response.json["errors"]}) == fields
    assert cloud.api_calls() == []


def test_patch_without_a_body_is_400(client, cloud):
    response = client.patch(f"/api/v1/server/{SERVER_ID}")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"


def test_tags_on_a_building_server_are_409_invalid_state(client, cloud):
    body = invalid_state_error("update tags", SERVER_ID, "vm_state", "building")
    cloud.nova("PUT", f"/servers/{SERVER_ID}/tags", status=409, body=body)
    server = make_fake_server_in("BUILD", task_state="spawning", server_id=SERVER_ID)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"tags": ["prod"]})

    assert response.status_code == 409
    assert response.json["code"] == "invalid_state"
    assert (response.json["status"], response.json["task_state"]) == ("BUILD", "spawning")


def test_too_much_metadata_is_quota_exceeded(client, cloud):
    text = "Quota exceeded for metadata_items: Requested 129, but already used 0 of 128 metadata_items"
    cloud.nova("PUT", f"/servers/{SERVER_ID}/metadata", status=403, body=nova_error(403, text))

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"metadata": {"k": "v"}})

    assert response.status_code == 400
    assert response.json["code"] == "quota_exceeded"
    assert response.json["message"] == text


def test_patch_on_a_missing_server_is_404(client, cloud):
    cloud.nova("PUT", f"/servers/{SERVER_ID}", status=404, body=nova_error(404, "Instance could not be found"))

    response = client.patch(f"/api/v1/server/{SERVER_ID}", json={"name": "x"})

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


# -- console log -------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "lines"), [("", 50), ("?lines=5", 5), ("?lines=10000", 10000)])
def test_console_log_asks_nova_for_the_last_lines(client, cloud, query, lines):
    post = cloud.nova("POST", ACTION, body={"output": "FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE"})

    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log{query}")

    assert response.status_code == 200
    assert response.json == {"output": "FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE", "lines": lines}
    assert post.last_request.json() == {"os-getConsoleOutput": {"length": lines}}
    assert post.last_request.headers["OpenStack-API-Version"] == "compute 2.79"


@pytest.mark.parametrize("lines", ["0", "-1", "abc", "1.5", "10001", "²", "1" * 4000, ""])
def test_console_log_with_bad_lines_is_400(client, cloud, lines):
    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log", query_string={"lines": lines})

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert response.json["errors"] == [{"field": "lines", "message": "lines must be a whole number from 1 to 10000"}]
    assert cloud.api_calls() == []


def test_console_log_when_the_guest_has_none_is_501(client, cloud):
    cloud.nova("POST", ACTION, status=404, body=nova_error(404, "Guest does not have a console available."))
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})

    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log")

    assert response.status_code == 501
    assert response.json == {
        "code": "console_unavailable",
        "message": "Nova has no console log for this server: Guest does not have a console available.",
        "upstream_status": 404,
        "upstream_request_id": "req-upstream-1",
        "request_id": response.headers["X-Request-Id"],
    }


def test_console_log_of_a_missing_server_is_404(client, cloud):
    text = f"Instance {SERVER_ID} could not be found."
    cloud.nova("POST", ACTION, status=404, body=nova_error(404, text))
    cloud.nova("GET", f"/servers/{SERVER_ID}", status=404, body=nova_error(404, text))

    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_console_log_unsupported_by_the_driver_is_501(client, cloud):
    cloud.nova("POST", ACTION, status=501, body=nova_not_implemented())

    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log")

    assert response.status_code == 501
    assert response.json["code"] == "console_unavailable"


def test_console_log_of_a_server_not_ready_is_409(client, cloud):
    cloud.nova("POST", ACTION, status=409, body=nova_error(409, f"Instance {SERVER_ID} is not ready"))
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server_in("BUILD", server_id=SERVER_ID)})

    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log")

    assert response.status_code == 409
    assert response.json["code"] == "invalid_state"
    assert response.json["status"] == "BUILD"


def test_console_log_upstream_failure_is_502(client, cloud):
    cloud.nova("POST", ACTION, status=500, body=nova_error(500, "Unexpected API Error."))

    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log")

    assert response.status_code == 502
    assert response.json["code"] == "upstream_error"


# -- console -----------------------------------------------------------------------


CONSOLES = f"/servers/{SERVER_ID}/remote-consoles"
NOVNC = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
SERIAL = {"remote_console": {"protocol": "serial", "type": "serial"}}
JSON = {"Content-Type": "application/json"}  # as Nova sends it: openstacksdk reads error details only then


def test_console_prefers_novnc(client, cloud):
    post = cloud.nova("POST", CONSOLES, body=make_remote_console())

    response = client.get(f"/api/v1/server/{SERVER_ID}/console")

    assert response.status_code == 200
    assert response.json == {
        "type": "novnc",
        "protocol": "vnc",
        "url": make_remote_console()["remote_console"]["url"],
    }
    assert post.call_count == 1
    assert post.last_request.json() == NOVNC
    assert post.last_request.headers["OpenStack-API-Version"] == "compute 2.79"


def test_console_falls_back_to_serial(client, cloud):
    url = "ws://nova.test:6083/?token=3f1e2d3c"
    cloud.mocker.post(
        f"{NOVA}{CONSOLES}",
        [
            {"status_code": 400, "json": nova_error(400, "Unavailable console type novnc."), "headers": JSON},
            {"status_code": 200, "json": make_remote_console("serial", "serial", url)},
        ],
    )

    response = client.get(f"/api/v1/server/{SERVER_ID}/console")

    assert response.status_code == 200
    assert response.json == {"type": "serial", "protocol": "serial", "url": url}
    assert sent_json(cloud) == [NOVNC, SERIAL]


@pytest.mark.parametrize(
    ("answers", "reasons"),
    [
        (
            [
                (400, nova_error(400, "Unavailable console type novnc.")),
                (400, nova_error(400, "Unavailable console type serial.")),
            ],
            "vnc: Unavailable console type novnc. serial: Unavailable console type serial.",
        ),
        (
            [(501, nova_not_implemented()), (501, nova_not_implemented())],
            "vnc: The requested functionality is not supported. serial: The requested functionality is not supported.",
        ),
    ],
)
def test_console_when_the_cloud_has_none_is_501(client, cloud, answers, reasons):
    cloud.mocker.post(
        f"{NOVA}{CONSOLES}",
        [
            {
                "status_code": status,
                "json": body,
                "headers": {"x-openstack-request-id": "req-c", "Content-Type": "application/json"},
            }
            for status, body in answers
        ],
    )

    response = client.get(f"/api/v1/server/{SERVER_ID}/console")

    assert response.status_code == 501
    assert response.json == {
        "code": "console_unavailable",
        "message": f"This cloud offers no console for this server ({reasons})",
        "upstream_status": answers[-1][0],
        "upstream_request_id": "req-c",
        "request_id": response.headers["X-Request-Id"],
    }
    assert sent_json(cloud) == [NOVNC, SERIAL]


def test_console_of_a_server_not_ready_is_409_and_tries_nothing_else(client, cloud):
    cloud.nova("POST", CONSOLES, status=409, body=nova_error(409, f"Instance {SERVER_ID} is not ready"))
    server = make_fake_server_in("BUILD", task_state="spawning", server_id=SERVER_ID)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})

    response = client.get(f"/api/v1/server/{SERVER_ID}/console")

    assert response.status_code == 409
    assert response.json["code"] == "invalid_state"
    assert response.json["status"] == "BUILD"
    assert sent_json(cloud) == [NOVNC]


@pytest.mark.parametrize(("status", "ours", "code"), [(404, 404, "not_found"), (403, 403, "forbidden")])
def test_console_other_refusals_pass_through(client, cloud, status, ours, code):
    cloud.nova("POST", CONSOLES, status=status, body=nova_error(status, "no"))

    response = client.get(f"/api/v1/server/{SERVER_ID}/console")

    assert (response.status_code, response.json["code"]) == (ours, code)
    assert sent_json(cloud) == [NOVNC]


def test_console_by_name(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server(SERVER_ID, name="web-1")]})
    cloud.nova("POST", CONSOLES, body=make_remote_console())

    response = client.get("/api/v1/server/web-1/console")

    assert response.status_code == 200
    assert cloud.api_calls()[-1] == f"POST {NOVA}{CONSOLES}"


# -- documentation -------------------------------------------------------------------


def test_swagger_documents_every_answer(client, cloud):
    paths = client.get("/swagger.json").json["paths"]

    def codes(path, method):
        return sorted(paths[path][method]["responses"])

    assert codes("/api/v1/server/{ref}/action", "post") == [
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "413",
        "414",
        "415",
        "501",  # attach_volume, detach_volume without Cinder
        "502",
        "503",
        "504",
    ]
    body_codes = ["200", "400", "401", "403", "404", "409", "412", "413", "414", "415", "502", "503", "504"]
    assert codes("/api/v1/server/{ref}", "patch") == body_codes
    # PATCH joined the servers module's resource: its GET and DELETE are still documented
    assert {"get", "delete", "patch"} <= set(paths["/api/v1/server/{ref}"])
    assert "501" in codes("/api/v1/server/{ref}/console-log", "get")
    assert "501" in codes("/api/v1/server/{ref}/console", "get")
    assert paths["/api/v1/server/{ref}/action"]["post"]["summary"].startswith("Start, stop, reboot")

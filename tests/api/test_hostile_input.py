"""Inputs a real cloud chokes on, found by trying the gateway on one (its PostgreSQL, Glance's filter parser).

A NUL byte is refused before anything is sent, naming the field; a name with
Glance's filter syntax is found by exactly that name; upstream messages arrive
as plain text; an upstream 5xx passes no internals to the caller.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

import pytest

from devstack_client import create_app
from tests.api.test_bad_input import BODIES, ID_BODIES, ID_OPERATIONS, assert_refused
from tests.fakes import (
    CREDENTIALS,
    GLANCE,
    make_fake_flavor,
    make_fake_image,
    make_fake_limits,
    make_fake_network,
    make_fake_server,
    nova_error,
)
from tests.permissive_cloud import PermissiveCloud

NUL = "\x00"


@pytest.fixture
def nothing_exists(cloud):
    return PermissiveCloud(cloud, invent=False)


@pytest.mark.parametrize(("method", "template"), ID_OPERATIONS, ids=[f"{m} {t}" for m, t in ID_OPERATIONS])
def test_a_nul_byte_in_a_path_is_400_naming_it_before_anything_is_sent(client, cloud, method, template):
    response = client.open(template.format("a%00b"), method=method, json=ID_BODIES.get(method))

    body = assert_refused(response, 400, "invalid_request", cloud)
    field = "name" if "keypair" in template else "ref"
    assert body["errors"] == [{"field": field, "message": f"{field} must not contain a NUL character"}]
    assert cloud.history == []  # not even a token: decided before any connection


def _query_parameters() -> list[tuple[str, str, str]]:
    app = create_app(CREDENTIALS)
    cases = []
    for (path, method), names in sorted(app.extensions["query_parameters"].items()):
        if path.startswith("/api/v1/") and "{" not in path:
            cases.extend((method, path, name) for name in sorted(names))
    return cases


QUERY_CASES = _query_parameters()


@pytest.mark.parametrize(("method", "path", "name"), QUERY_CASES, ids=[f"{m} {p}?{n}" for m, p, n in QUERY_CASES])
def test_a_nul_byte_in_any_query_parameter_is_400_naming_it(client, cloud, method, path, name):
    body = BODIES["create server"][2] if (method, path) == ("POST", "/api/v1/server") else None

    response = client.open(path, method=method, query_string={name: "a\x00b"}, json=body)

    answer = assert_refused(response, 400, "invalid_request", cloud)
    assert answer["errors"] == [{"field": name, "message": f"{name} must not contain a NUL character"}]
    assert cloud.history == []


def test_every_list_filter_is_covered():
    # The corpus above reaches every documented query parameter of every collection.
    assert {name for _, path, name in QUERY_CASES if path == "/api/v1/server"} >= {"name", "image", "flavor", "marker"}
    assert {path for _, path, _ in QUERY_CASES} >= {"/api/v1/image", "/api/v1/flavor", "/api/v1/network"}


NUL_BODIES = [
    ("create server", {"name": f"web{NUL}1"}, "name"),
    ("create server", {"image": f"cir{NUL}ros"}, "image"),
    ("create server", {"flavor": NUL}, "flavor"),
    ("create server", {"network": f"priv{NUL}"}, "network"),
    ("create server", {"key_name": f"k{NUL}"}, "key_name"),
    ("create server", {"metadata": {"role": f"w{NUL}b"}}, "metadata.role"),
    ("create server", {"metadata": {f"r{NUL}le": "web"}}, f"metadata.r{NUL}le"),
    ("create server", {"security_groups": ["default", f"w{NUL}b"]}, "security_groups.1"),
    ("create server", {"user_data": f"#!/bin/sh{NUL}"}, "user_data"),
    ("create server", {"description": f"d{NUL}"}, "description"),
    ("edit server", {"metadata": {"role": f"w{NUL}b"}}, "metadata.role"),
    ("edit server", {"tags": [f"t{NUL}"]}, "tags.0"),
    ("snapshot server", {"name": f"snap{NUL}"}, "name"),
]


@pytest.mark.parametrize(("operation", "change", "field"), NUL_BODIES, ids=[f"{o}: {f}" for o, _, f in NUL_BODIES])
def test_a_nul_byte_in_a_body_field_is_400_naming_it(client, cloud, nothing_exists, operation, change, field):
    method, path, valid = BODIES[operation]

    response = client.open(path, method=method, json={**valid, **change})

    answer = assert_refused(response, 400, "invalid_request", cloud)
    assert {"field": field, "message": f"{field} must not contain a NUL character"} in answer["errors"]
    assert cloud.api_calls() == []


# -- Glance's filter syntax: a name is matched exactly, whatever it holds ----------------------------------------

FILTER_SYNTAX_NAMES = ["ubuntu:22.04", "in:x", "eq:y", "gt:5", "a,b", 'a"b', "a\\", "2026-01-01T00:00:00", " x "]


@pytest.mark.parametrize("name", FILTER_SYNTAX_NAMES)
def test_an_image_is_found_by_a_name_with_filter_syntax(client, cloud, name):
    image = make_fake_image(name=name)
    cloud.glance("GET", "/images", body={"images": [image]})

    response = client.get("/api/v1/image/" + name.replace("\\", "%5C").replace('"', "%22"))

    assert response.status_code == 200, response.json
    assert response.json["id"] == image["id"]
    sent = cloud.history[-1]
    assert sent.url.startswith(f"{GLANCE}/v2/images?")
    assert _raw_query(sent) == {"name": "eq:" + name}


def _raw_query(request) -> dict[str, str]:
    # requests-mock's own `qs` lower-cases values
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def test_the_image_list_filters_names_and_statuses_exactly(client, cloud):
    cloud.glance("GET", "/images", body={"images": []})

    response = client.get("/api/v1/image", query_string={"name": "ubuntu:22.04", "status": "in:active"})

    assert response.status_code == 200
    assert _raw_query(cloud.history[-1]) == {"name": "eq:ubuntu:22.04", "status": "eq:in:active", "limit": "101"}


def test_a_create_finds_its_image_by_a_name_with_filter_syntax(client, cloud):
    image, flavor, network = make_fake_image(name="ubuntu:22.04"), make_fake_flavor(), make_fake_network()
    cloud.glance("GET", "/images", body={"images": [image]})
    cloud.nova("GET", "/flavors/m1.tiny", status=404, body=nova_error(404, "Flavor m1.tiny could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": [flavor]})
    cloud.neutron("GET", "/networks", body={"networks": [network]})
    cloud.nova("GET", "/servers/detail", body={"servers": []})
    cloud.nova("GET", "/limits", body=make_fake_limits())

    response = client.post("/api/v1/server?dry_run=true", json={**BODIES["create server"][2], "image": "ubuntu:22.04"})

    assert response.status_code == 200, response.json
    assert response.json["server"]["image"] == {"id": image["id"], "name": "ubuntu:22.04"}
    glance = [r for r in cloud.history if r.url.startswith(f"{GLANCE}/v2/images?")]
    assert _raw_query(glance[0]) == {"name": "eq:ubuntu:22.04"}


# -- upstream messages: plain text, and no internals from a 5xx ------------------------------------------------


def test_every_upstream_call_asks_for_json(client, cloud):
    cloud.glance("GET", "/images", body={"images": []})

    client.get("/api/v1/image")

    assert cloud.history[-1].headers["Accept"] == "application/json"


def test_a_glance_message_arrives_as_plain_text(client, cloud):
    # What Glance (webob) sends: HTML-escaped quotes and a "<br /><br />" tail, even in JSON.
    message = "Unable to filter by unknown operator &#x27;ubuntu&#x27;.<br /><br />\n\n\n"
    cloud.glance("GET", "/images", status=400, body={"message": message, "code": "400 Bad Request", "title": "x"})

    response = client.get("/api/v1/image")

    assert response.status_code == 400
    assert response.json["message"] == "Unable to filter by unknown operator 'ubuntu'."


def test_an_upstream_500_passes_no_internals_and_logs_them(client, cloud, caplog):
    internals = "Unexpected API Error. Please contact the administrator\n<class 'oslo_db.exception.DBError'>"
    cloud.nova("GET", "/servers/detail", status=500, body=nova_error(500, internals))

    with caplog.at_level(logging.WARNING, logger="devstack_client"):
        response = client.get("/api/v1/server")

    assert response.status_code == 502
    assert response.json["code"] == "upstream_error"
    assert response.json["upstream_status"] == 500 and response.json["upstream_request_id"] == "req-upstream-1"
    assert "oslo_db" not in response.get_data(as_text=True) and "administrator" not in response.json["message"]
    assert any("oslo_db" in record.getMessage() for record in caplog.records)


def test_an_upstream_503_message_stays_in_the_log(client, cloud):
    cloud.nova("GET", "/servers/detail", status=503, body=nova_error(503, "nova-conductor at 10.0.0.4 is down"))

    response = client.get("/api/v1/server")

    assert response.status_code == 503 and response.json["code"] == "upstream_unavailable"
    assert "10.0.0.4" not in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"


def test_a_server_list_after_these_fixes_still_joins_image_names(client, cloud):
    server = make_fake_server()
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    cloud.glance("GET", "/images", body={"images": [make_fake_image(image_id=server["image"]["id"], name="a:b")]})

    response = client.get("/api/v1/server")

    assert response.json["servers"][0]["image"]["name"] == "a:b"
    assert cloud.history[-1].qs["id"] == [f"in:{server['image']['id']}"]


# -- the served spec is true for the configuration that serves it --------------------------------------------------

KEY_LINE = "sha256:" + "0" * 64 + " operator"


@pytest.mark.parametrize(
    ("config", "schemes"),
    [
        ({}, []),
        ({"API_KEYS": KEY_LINE}, ["apiKey"]),
        ({"ALLOW_USER_TOKENS": "true"}, ["keystoneToken"]),
        ({"REQUIRE_USER_TOKENS": "true", "API_KEYS": KEY_LINE}, ["keystoneToken"]),
        ({"ALLOW_USER_TOKENS": "true", "API_KEYS": KEY_LINE}, ["apiKey", "keystoneToken"]),
    ],
    ids=["open", "keys", "tokens", "tokens required", "keys or tokens"],
)
def test_the_spec_declares_only_the_security_the_gateway_enforces(cloud, config, schemes):
    spec = create_app({**CREDENTIALS, **config}).test_client().get("/swagger.json").json

    assert sorted(spec.get("securityDefinitions", {})) == schemes
    assert spec.get("security", []) == [{name: []} for name in schemes]


def test_an_open_gateway_answers_without_credentials_as_its_spec_says(client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": []})
    spec = client.get("/swagger.json").json

    assert "security" not in spec
    assert client.get("/api/v1/flavor").status_code == 200


def test_the_checked_in_spec_documents_the_fully_configured_gateway():
    from devstack_client import openapi

    spec = openapi.spec()
    assert spec["security"] == [{"apiKey": []}, {"keystoneToken": []}]


def test_an_empty_edit_is_refused_as_the_spec_says(client, cloud):
    spec = client.get("/swagger.json").json
    assert spec["definitions"]["ServerUpdate"]["minProperties"] == 1

    response = client.patch(f"/api/v1/server/{make_fake_server()['id']}", json={})

    assert response.status_code == 400
    assert response.json["errors"] == [
        {"field": "body", "message": "send at least one of name, description, metadata, tags"}
    ]
    assert cloud.api_calls() == []

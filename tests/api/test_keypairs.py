import json
import logging

import pytest
import requests

from tests.fakes import NOVA, PRIVATE_KEY, SSH_FINGERPRINT, SSH_PUBLIC_KEY, make_fake_keypair, nova_error

# Nova 34's own words, captured from the test cloud at microversion 2.79.
DUPLICATE = "Key pair 'my-key' already exists."
BAD_KEY = "Keypair data is invalid: failed to generate fingerprint"
MISSING = "Keypair nope not found for user a1c3d7a4f4b24c0c8f1f0a1e6f2d9b33"
OVER_QUOTA = "Quota exceeded, too many key pairs."


def listing(*keypairs, **extra):
    return {"keypairs": [{"keypair": k} for k in keypairs], **extra}


def test_list_keypairs(client, cloud):
    cloud.nova("GET", "/os-keypairs", body=listing(make_fake_keypair("a"), make_fake_keypair("b", key_type="x509")))

    response = client.get("/api/v1/keypair")

    assert response.status_code == 200
    assert response.json == {
        "keypairs": [
            {
                "name": "a",
                "type": "ssh",
                "fingerprint": SSH_FINGERPRINT,
                "public_key": SSH_PUBLIC_KEY,
                "created_at": None,  # not in Nova's list
            },
            {
                "name": "b",
                "type": "x509",
                "fingerprint": SSH_FINGERPRINT,
                "public_key": SSH_PUBLIC_KEY,
                "created_at": None,
            },
        ]
    }
    assert cloud.api_calls() == [f"GET {NOVA}/os-keypairs?limit=1000"]
    assert cloud.history[-1].headers["OpenStack-API-Version"] == "compute 2.79"


def test_list_no_keypairs(client, cloud):
    cloud.nova("GET", "/os-keypairs", body={"keypairs": []})

    response = client.get("/api/v1/keypair")

    assert response.json == {"keypairs": []}


def test_list_follows_nova_pages_by_name(client, cloud):
    internal = {"rel": "next", "href": "http://nova.internal:8774/v2.1/os-keypairs?limit=1000&marker=a"}
    cloud.mocker.get(
        f"{NOVA}/os-keypairs",
        [
            {"json": listing(make_fake_keypair("a"), keypairs_links=[internal])},
            {"json": listing(make_fake_keypair("b"))},
        ],
    )

    response = client.get("/api/v1/keypair")

    assert [k["name"] for k in response.json["keypairs"]] == ["a", "b"]
    assert cloud.api_calls() == [f"GET {NOVA}/os-keypairs?limit=1000", f"GET {NOVA}/os-keypairs?limit=1000&marker=a"]
    assert "nova.internal" not in response.get_data(as_text=True)


def test_show_keypair(client, cloud):
    cloud.nova("GET", "/os-keypairs/my-key", body={"keypair": make_fake_keypair("my-key", view="show")})

    response = client.get("/api/v1/keypair/my-key")

    assert response.status_code == 200
    assert response.json == {
        "name": "my-key",
        "type": "ssh",
        "fingerprint": SSH_FINGERPRINT,
        "public_key": SSH_PUBLIC_KEY,
        "created_at": "2026-11-26T20:45:10.254838",
    }
    assert cloud.api_calls() == [f"GET {NOVA}/os-keypairs/my-key"]
    assert cloud.history[-1].headers["OpenStack-API-Version"] == "compute 2.79"


def test_keypair_name_is_escaped_in_the_upstream_path(client, cloud):
    cloud.nova("GET", "/os-keypairs/my%20key%3F.x", body={"keypair": make_fake_keypair("my key?.x", view="show")})

    response = client.get("/api/v1/keypair/my%20key%3F.x")

    assert response.status_code == 200
    assert response.json["name"] == "my key?.x"
    assert cloud.api_calls() == [f"GET {NOVA}/os-keypairs/my%20key%3F.x"]


def test_show_missing_keypair_is_404_with_novas_text(client, cloud):
    cloud.nova("GET", "/os-keypairs/nope", status=404, body=nova_error(404, MISSING))

    response = client.get("/api/v1/keypair/nope")

    assert response.status_code == 404
    assert response.json == {
        "code": "not_found",
        "message": MISSING,
        "upstream_status": 404,
        "upstream_request_id": "req-upstream-1",
        "request_id": response.headers["X-Request-Id"],
    }


def test_generate_keypair_returns_the_private_key_once(client, cloud):
    created = make_fake_keypair("my-key", view="create", private_key=PRIVATE_KEY)
    post = cloud.nova("POST", "/os-keypairs", status=201, body={"keypair": created})

    response = client.post("/api/v1/keypair", json={"name": "my-key"})

    assert response.status_code == 201
    assert response.headers["Location"].endswith("/api/v1/keypair/my-key")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "name": "my-key",
        "type": "ssh",
        "fingerprint": SSH_FINGERPRINT,
        "public_key": SSH_PUBLIC_KEY,
        "created_at": None,
        "private_key": PRIVATE_KEY,
    }
    assert post.last_request.json() == {"keypair": {"name": "my-key", "type": "ssh"}}
    assert post.last_request.headers["OpenStack-API-Version"] == "compute 2.79"
    assert cloud.api_calls() == [f"POST {NOVA}/os-keypairs"]  # no read-back that could lose the key


def test_import_public_key(client, cloud):
    created = make_fake_keypair("my key", view="create")
    post = cloud.nova("POST", "/os-keypairs", status=201, body={"keypair": created})

    response = client.post("/api/v1/keypair", json={"name": "my key", "public_key": SSH_PUBLIC_KEY})

    assert response.status_code == 201
    assert response.headers["Location"].endswith("/api/v1/keypair/my%20key")
    assert response.json["private_key"] is None
    assert response.json["fingerprint"] == SSH_FINGERPRINT
    assert post.last_request.json() == {"keypair": {"name": "my key", "type": "ssh", "public_key": SSH_PUBLIC_KEY}}


def test_create_x509_keypair_sends_the_type(client, cloud):
    created = make_fake_keypair("cert", view="create", key_type="x509", private_key="MIIKLwIBAzCCCeUGCSqGSIb3")
    post = cloud.nova("POST", "/os-keypairs", status=201, body={"keypair": created})

    response = client.post("/api/v1/keypair", json={"name": "cert", "type": "x509"})

    assert response.status_code == 201
    assert response.json["type"] == "x509"
    assert response.json["private_key"] == "MIIKLwIBAzCCCeUGCSqGSIb3"
    assert post.last_request.json() == {"keypair": {"name": "cert", "type": "x509"}}


@pytest.mark.parametrize(
    ("upstream_status", "text", "status", "code"),
    [
        (409, DUPLICATE, 409, "conflict"),
        (400, BAD_KEY, 400, "bad_request"),
        (403, OVER_QUOTA, 400, "quota_exceeded"),
    ],
)
def test_create_refused_by_nova_gives_novas_text(client, cloud, upstream_status, text, status, code):
    cloud.nova("POST", "/os-keypairs", status=upstream_status, body=nova_error(upstream_status, text))

    response = client.post("/api/v1/keypair", json={"name": "my-key", "public_key": "not a key"})

    assert response.status_code == status
    assert response.json == {
        "code": code,
        "message": text,
        "upstream_status": upstream_status,
        "upstream_request_id": "req-upstream-1",
        "request_id": response.headers["X-Request-Id"],
    }


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["name"]),
        ({"name": ""}, ["name"]),
        ({"name": None}, ["name"]),
        ({"name": "a/b"}, ["name"]),
        ({"name": "me@host.example"}, ["name"]),  # allowed by Nova only from 2.92
        ({"name": "k" * 256}, ["name"]),
        ({"name": "k", "type": "rsa"}, ["type"]),
        ({"name": "k", "public_key": ""}, ["public_key"]),
        ({"name": "k", "public_key": 5}, ["public_key"]),
        ({"name": "k", "private_key": "x"}, ["private_key"]),
        ({"name": 1, "colour": "blue"}, ["colour", "name"]),
    ],
)
def test_create_with_bad_fields_is_400_naming_them(client, cloud, body, fields):
    response = client.post("/api/v1/keypair", json=body)

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert sorted(e["field"] for e in response.json["errors"]) == fields
    for field in fields:
        assert field in response.json["message"]
    assert cloud.sent("POST", "nova.test") == []


@pytest.mark.parametrize("data", ["", "{not json", '["my-key"]'])
def test_create_with_bad_body_is_400(client, cloud, data):
    response = client.post("/api/v1/keypair", data=data, content_type="application/json")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert "name" in response.json["message"]
    assert cloud.sent("POST", "nova.test") == []


def test_create_accepts_curls_default_content_type(client, cloud):
    cloud.nova("POST", "/os-keypairs", status=201, body={"keypair": make_fake_keypair("k", view="create")})

    response = client.post(
        "/api/v1/keypair", data=json.dumps({"name": "k"}), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 201


def test_create_read_timeout_is_not_retried(client, cloud):
    post = cloud.nova("POST", "/os-keypairs", exc=requests.exceptions.ReadTimeout)

    response = client.post("/api/v1/keypair", json={"name": "my-key"})

    assert response.status_code == 504
    assert response.json["code"] == "upstream_timeout"
    assert post.call_count == 1


def test_private_key_is_not_logged(client, cloud, caplog):
    # As LOG_LEVEL=DEBUG runs the gateway: our loggers at DEBUG, the root (and
    # keystoneauth's, which would print response bodies) at main()'s INFO.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="devstack_client")
    created = make_fake_keypair("my-key", view="create", private_key=PRIVATE_KEY)
    cloud.nova("POST", "/os-keypairs", status=201, body={"keypair": created})

    response = client.post("/api/v1/keypair", json={"name": "my-key"})

    assert response.status_code == 201
    assert "PRIVATE KEY" not in caplog.text


def test_delete_keypair(client, cloud):
    delete = cloud.nova("DELETE", "/os-keypairs/my-key", status=202)

    response = client.delete("/api/v1/keypair/my-key")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert delete.call_count == 1
    assert cloud.api_calls() == [f"DELETE {NOVA}/os-keypairs/my-key"]
    assert delete.last_request.headers["OpenStack-API-Version"] == "compute 2.79"


def test_delete_missing_keypair_is_404(client, cloud):
    cloud.nova("DELETE", "/os-keypairs/nope", status=404, body=nova_error(404, MISSING))

    response = client.delete("/api/v1/keypair/nope")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert response.json["message"] == MISSING
    assert response.json["upstream_request_id"] == "req-upstream-1"


@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [(403, 403, "forbidden"), (500, 502, "upstream_error"), (503, 503, "upstream_unavailable")],
)
def test_list_upstream_failures(client, cloud, upstream_status, status, code):
    cloud.nova("GET", "/os-keypairs", status=upstream_status, body=nova_error(upstream_status, "Policy says no."))

    response = client.get("/api/v1/keypair")

    assert (response.status_code, response.json["code"]) == (status, code)
    assert response.json["upstream_status"] == upstream_status


def test_keypair_routes_reject_other_methods(client, cloud):
    response = client.put("/api/v1/keypair/my-key", json={"name": "x"})

    assert response.status_code == 405
    assert cloud.api_calls() == []


def test_swagger_documents_every_answer(client):
    spec = client.get("/swagger.json").json
    expected = {
        # 400 everywhere: an unknown query parameter; 413 and 415 wherever a body is read; 304 on every read
        ("/api/v1/keypair", "get"): {"200", "304", "400", "401", "403", "414", "502", "503", "504"},
        ("/api/v1/keypair", "post"): {"201", "400", "401", "403", "409", "413", "414", "415", "502", "503", "504"},
        ("/api/v1/keypair/{name}", "get"): {"200", "304", "400", "401", "403", "404", "414", "502", "503", "504"},
        ("/api/v1/keypair/{name}", "delete"): {"204", "400", "401", "403", "404", "414", "502", "503", "504"},
        ("/api/v1/limits", "get"): {"200", "304", "400", "401", "403", "414", "502", "503", "504"},
    }
    for (path, method), codes in expected.items():
        operation = spec["paths"][path][method]
        assert set(operation["responses"]) == codes, (path, method)
        assert operation["summary"] and "\n" not in operation["summary"]
    created = spec["paths"]["/api/v1/keypair"]["post"]["responses"]
    assert set(created["201"]["headers"]) == {"Location", "Cache-Control"}
    assert "headers" not in created["409"]
    assert spec["definitions"]["KeypairCreate"]["additionalProperties"] is False
    assert "ONCE" in spec["definitions"]["KeypairCreated"]["allOf"][1]["properties"]["private_key"]["description"]


def test_bad_name_message_shows_the_allowed_characters(client, cloud):
    response = client.post("/api/v1/keypair", json={"name": "me@laptop"})

    assert response.json["message"] == "Invalid request body: name: 'me@laptop' does not match '^[-_ a-zA-Z0-9]*$'."

"""The gateway without credentials, or with a wrong password: 403 with a code that says which."""

from __future__ import annotations

import pytest

PATHS = ["/api/v1/image", "/api/v1/flavor", "/api/v1/network", "/api/v1/server", "/api/v1/server/any-name"]


def test_no_credentials(cloud_info, start_gateway, monkeypatch):
    # the harness must not hand the gateway a developer's OS_* / OS_CLOUD variables: working admin ones here
    admin = cloud_info.users["admin"]
    for name, value in {
        "OS_AUTH_URL": cloud_info.auth_url,
        "OS_USERNAME": admin["username"],
        "OS_PASSWORD": admin["password"],
        "OS_PROJECT_ID": admin["project_id"],
        "OS_USER_DOMAIN_NAME": admin["user_domain_name"],
        "OS_CLOUD": "devstack",
    }.items():
        monkeypatch.setenv(name, value)
    gw = start_gateway({}, "no-credentials")
    for path in PATHS:
        resp = gw.get(path)
        assert resp.status_code == 403, (path, resp.text)
        body = resp.json()
        assert body["code"] == "credentials_missing", body
        for name in ("AUTH_URL", "USERNAME", "PASSWORD", "PROJECT_ID"):
            assert name in body["message"], body
    resp = gw.post("/api/v1/server", json={"name": "x", "image_id": "i", "flavor_id": "f", "network_id": "n"})
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "credentials_missing"


@pytest.mark.parametrize("missing", ["PASSWORD", "PROJECT_ID"])
def test_one_credential_missing_is_named(cloud_info, start_gateway, missing):
    settings = cloud_info.credentials("demo")
    del settings[missing]
    gw = start_gateway(settings, f"no-{missing.lower()}")
    resp = gw.get("/api/v1/flavor")
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["code"] == "credentials_missing", body
    assert missing in body["message"], body


def test_wrong_password(cloud_info, start_gateway):
    wrong = "not-the-password-7c1f"
    gw = start_gateway({**cloud_info.credentials("demo"), "PASSWORD": wrong}, "wrong-password")
    for path in PATHS[:4]:
        resp = gw.get(path)
        assert resp.status_code == 403, (path, resp.text)
        body = resp.json()
        assert body["code"] == "authentication_failed", body
        assert body["upstream_status"] == 401, body
        assert wrong not in resp.text  # never echo the password

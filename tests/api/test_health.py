"""/healthz (alive) and /readyz (Keystone, Nova with our microversion, Glance and Neutron answer), on the wire."""

import copy
import re

import pytest
import requests
import requests_mock

from devstack_client import create_app, readiness
from devstack_client.api import health
from tests.fakes import (
    CATALOG,
    CREDENTIALS,
    GLANCE,
    KEYSTONE,
    NEUTRON,
    NOVA,
    TOKEN,
    load_fixture,
    make_token,
)

# Past the token and discovery (cloud.api_calls() leaves those out), and the
# validation of our own token (GET /v3/auth/tokens, also left out).
READY_CALLS = [
    f"GET {NOVA}/",
    f"GET {GLANCE}/v2/images?limit=1",
    f"GET {NEUTRON}/v2.0/networks?limit=1",
]


def nova_version(newest="2.100", oldest="2.1"):
    document = copy.deepcopy(load_fixture("nova_version_v2.1.json"))
    document["version"].update(version=newest, min_version=oldest)
    return document


def openstack_answers(cloud, nova=None):
    """What the readiness checks ask: our token's validation, Nova's version, one image, one network."""
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", json=cloud.make_token(), headers={"X-Subject-Token": TOKEN})
    cloud.nova("GET", "/", body=nova or nova_version())
    cloud.glance("GET", "/images?limit=1", body={"images": [], "first": "/v2/images"})
    cloud.neutron("GET", "/networks?limit=1", body={"networks": []})


def expire(client):
    """Make the next /readyz check again, our token's validation included (as once a minute)."""
    client.application.extensions["readiness"].at -= health.READY_TTL_SECONDS
    client.application.extensions["openstack"].identity_validated = None


def checks_of(response):
    return {name: (check["ok"], check.get("code")) for name, check in response.json["checks"].items()}


def test_healthz_is_always_200_and_calls_nothing(cloud):
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", exc=requests.exceptions.ConnectionError)
    for client in (create_app({}).test_client(), create_app(CREDENTIALS).test_client()):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json == {"status": "alive"}
    assert cloud.history == []


def test_ready(client, cloud):
    openstack_answers(cloud)

    response = client.get("/readyz", headers={"X-Request-Id": "req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e"})

    assert response.status_code == 200
    assert response.json["ready"] is True
    assert response.json["reason"] is None
    assert response.json["checks"] == {
        "identity": {"ok": True},
        "compute": {"ok": True, "microversion": "2.79", "max_microversion": "2.100"},
        "image": {"ok": True},
        "network": {"ok": True},
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert cloud.api_calls() == READY_CALLS
    assert cloud.sent("GET", "keystone.test") == [f"GET {KEYSTONE}/auth/tokens"]
    validate = cloud.history[-4]
    assert validate.headers["X-Subject-Token"] == validate.headers["X-Auth-Token"] == TOKEN
    assert cloud.history[-3].headers["OpenStack-API-Version"] == "compute 2.79"
    assert {r.headers["X-OpenStack-Request-ID"] for r in cloud.history} == {"req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e"}


def test_answers_are_cached_a_few_seconds_per_worker(client, cloud, monkeypatch):
    openstack_answers(cloud)
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])

    first = client.get("/readyz").json
    for _ in range(10):
        assert client.get("/readyz").json == first
    assert cloud.api_calls() == READY_CALLS

    clock[0] += health.READY_TTL_SECONDS
    assert client.get("/readyz").status_code == 200
    assert cloud.api_calls() == READY_CALLS * 2
    # Our token was validated by the first check only: it stands for IDENTITY_TTL_SECONDS.
    assert cloud.sent("GET", "keystone.test") == [f"GET {KEYSTONE}/auth/tokens"]


def test_our_token_is_validated_once_a_minute_not_at_every_check(client, cloud, monkeypatch):
    openstack_answers(cloud)
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(readiness.time, "monotonic", lambda: clock[0])

    for _ in range(int(readiness.IDENTITY_TTL_SECONDS / health.READY_TTL_SECONDS)):  # 12 checks in 60 s
        assert client.get("/readyz").status_code == 200
        clock[0] += health.READY_TTL_SECONDS
    assert cloud.api_calls() == READY_CALLS * 12
    assert len(cloud.sent("GET", "keystone.test")) == 1

    # A minute on, Keystone is asked again; gone, it makes the gateway unready.
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", exc=requests.exceptions.ConnectTimeout)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks_of(response) == {"identity": (False, "upstream_timeout")}
    assert len(cloud.sent("GET", "keystone.test")) == 2


def test_not_ready_without_credentials(cloud):
    response = create_app({}).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["ready"] is False
    assert checks_of(response) == {"identity": (False, "credentials_missing")}
    assert response.json["reason"].startswith("identity: No OpenStack credentials are configured: set AUTH_URL")
    assert cloud.history == []


def test_not_ready_with_a_wrong_password(client, cloud):
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", status_code=401, json={"error": {"code": 401, "title": "x"}})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response) == {"identity": (False, "authentication_failed")}
    assert "user 'gateway' at Keystone http://keystone.test/v3" in response.json["reason"]
    assert CREDENTIALS["PASSWORD"] not in response.get_data(as_text=True)


def test_not_ready_when_keystone_is_down(client, cloud):
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", exc=requests.exceptions.ConnectionError)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response) == {"identity": (False, "upstream_unreachable")}
    assert "keystone.test" not in response.get_data(as_text=True)


def test_not_ready_when_keystone_goes_down_after_start(client, cloud):
    openstack_answers(cloud)
    assert client.get("/readyz").status_code == 200
    expire(client)
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", exc=requests.exceptions.ConnectTimeout)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response) == {"identity": (False, "upstream_timeout")}


def test_a_revoked_token_is_replaced_and_still_ready(client, cloud):
    openstack_answers(cloud)
    assert client.get("/readyz").status_code == 200
    expire(client)
    cloud.mocker.get(
        f"{KEYSTONE}/auth/tokens",
        [{"status_code": 404, "json": {"error": {"code": 404}}}, {"json": cloud.make_token()}],
    )
    tokens_before = cloud.token_request.call_count

    response = client.get("/readyz")

    assert response.status_code == 200
    assert cloud.token_request.call_count == tokens_before + 1


def test_not_ready_when_the_password_changed_and_the_token_was_revoked(client, cloud):
    openstack_answers(cloud)
    assert client.get("/readyz").status_code == 200
    expire(client)
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", status_code=404, json={"error": {"code": 404}})
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", status_code=401, json={"error": {"code": 401}})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response) == {"identity": (False, "authentication_failed")}


@pytest.mark.parametrize("missing", ["compute", "image", "network"])
def test_not_ready_when_a_service_is_missing_from_the_catalog(client, cloud, missing):
    token = make_token({kind: service for kind, service in CATALOG.items() if kind != missing})
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", status_code=201, json=token, headers={"X-Subject-Token": TOKEN})
    openstack_answers(cloud)
    cloud.mocker.get(f"{KEYSTONE}/auth/tokens", json=token, headers={"X-Subject-Token": TOKEN})

    response = client.get("/readyz")

    assert response.status_code == 503
    expected = {"identity": (True, None), "compute": (True, None), "image": (True, None), "network": (True, None)}
    expected[missing] = (False, "misconfigured")
    assert checks_of(response) == expected
    assert response.json["reason"] == f"{missing}: OpenStack's catalog has no {missing} service (public interface)."


def test_an_api_call_names_the_missing_service_too(client, cloud):
    token = make_token({kind: service for kind, service in CATALOG.items() if kind != "image"})
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", status_code=201, json=token, headers={"X-Subject-Token": TOKEN})

    response = client.get("/api/v1/flavor")

    assert response.status_code == 503
    assert response.json["code"] == "misconfigured"
    assert response.json["message"] == "OpenStack's catalog has no image service (public interface)."


def test_not_ready_with_a_nova_older_than_our_microversion(client, cloud):
    cloud.mocker.get(NOVA, json=nova_version(newest="2.60"))
    openstack_answers(cloud, nova=nova_version(newest="2.60"))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response)["compute"] == (False, "misconfigured")
    assert "cannot speak API microversion 2.79" in response.json["reason"]
    assert checks_of(response)["image"] == (True, None)


def test_not_ready_when_a_running_nova_is_downgraded(client, cloud):
    openstack_answers(cloud)
    assert client.get("/readyz").status_code == 200
    client.application.extensions["readiness"].at -= health.READY_TTL_SECONDS
    cloud.nova("GET", "/", body=nova_version(newest="2.60"))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["compute"] == {
        "ok": False,
        "code": "misconfigured",
        "message": "The compute service offers API microversions 2.1 to 2.60; the gateway needs 2.79 "
        "(Nova from the Train release on).",
    }


def test_not_ready_when_glance_is_down(client, cloud):
    openstack_answers(cloud)
    cloud.glance("GET", "/images?limit=1", exc=requests.exceptions.ConnectionError)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response) == {
        "identity": (True, None),
        "compute": (True, None),
        "image": (False, "upstream_unreachable"),
        "network": (True, None),
    }
    assert response.json["reason"] == "image: Could not connect to OpenStack; try again later."


def test_not_ready_when_glance_is_down_at_start(client, cloud):
    openstack_answers(cloud)
    cloud.mocker.get(f"{GLANCE}/", exc=requests.exceptions.ConnectionError)  # its version discovery

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response)["image"] == (False, "upstream_unreachable")
    assert checks_of(response)["network"] == (True, None)
    assert response.json["reason"].startswith("image: The image service did not answer its version discovery")


def test_glance_down_at_start_fails_image_calls_only(client, cloud):
    cloud.mocker.register_uri(requests_mock.ANY, re.compile(f"^{GLANCE}/"), exc=requests.exceptions.ConnectionError)
    cloud.nova("GET", "/flavors/detail", body={"flavors": []})

    images = client.get("/api/v1/image")

    assert images.status_code == 503
    assert images.json["code"] == "upstream_unreachable"
    assert images.headers["Retry-After"] == "5"
    assert "glance.test" not in images.get_data(as_text=True)
    assert client.get("/api/v1/flavor").status_code == 200  # Nova's endpoints keep working


@pytest.mark.parametrize(
    ("service", "status", "code"), [("nova", 500, "upstream_error"), ("neutron", 503, "upstream_unavailable")]
)
def test_not_ready_when_a_service_fails(client, cloud, service, status, code):
    openstack_answers(cloud)
    if service == "nova":
        cloud.nova("GET", "/", status=status, body={"computeFault": {"code": status, "message": "x"}})
    else:
        cloud.neutron("GET", "/networks?limit=1", status=status, body={"NeutronError": {"message": "x"}})

    response = client.get("/readyz")

    assert response.status_code == 503
    name = {"nova": "compute", "neutron": "network"}[service]
    assert checks_of(response)[name] == (False, code)


def test_probes_are_documented_outside_the_api(client, cloud):
    paths = client.get("/swagger.json").json["paths"]

    assert set(paths["/healthz"]) == {"get"}
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}
    assert not [path for path in paths if path.startswith("/api/v1") and "z" in path.rsplit("/", 1)[-1][-1:]]

"""Where the credentials come from: OS_CLOUD > AUTH_URL, USERNAME, … > OS_*."""

import pytest

from devstack_client import create_app
from devstack_client.config import load
from devstack_client.errors import CredentialsMissing
from devstack_client.identity import resolve
from tests.fakes import KEYSTONE, PROJECT_ID, make_fake_flavor

OWN = {"AUTH_URL": KEYSTONE, "USERNAME": "own-user", "PASSWORD": "pw", "PROJECT_ID": PROJECT_ID}
OPENRC = {
    "OS_AUTH_URL": KEYSTONE,
    "OS_USERNAME": "rc-user",
    "OS_PASSWORD": "pw",
    "OS_PROJECT_NAME": "demo",
    "OS_USER_DOMAIN_ID": "default",
    "OS_PROJECT_DOMAIN_ID": "default",
    "OS_REGION_NAME": "RegionOne",
}
CLOUDS_YAML = f"""
clouds:
  yaml-cloud:
    auth:
      auth_url: {KEYSTONE}
      username: yaml-user
      password: pw
      project_id: {PROJECT_ID}
      user_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
"""


@pytest.fixture
def clouds_yaml(tmp_path, monkeypatch):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS_YAML)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


def token_user(cloud):
    return cloud.token_request.last_request.json()["auth"]["identity"]["password"]["user"]


def list_flavors(settings, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    response = create_app({**settings, "APP_SECRET_KEY": "x"}).test_client().get("/api/v1/flavor")
    assert response.status_code == 200


def test_own_variables_beat_openrc(cloud):
    list_flavors({**OPENRC, **OWN}, cloud)
    assert token_user(cloud)["name"] == "own-user"


def test_os_cloud_beats_everything(cloud, clouds_yaml):
    list_flavors({**OPENRC, **OWN, "OS_CLOUD": "yaml-cloud"}, cloud)
    assert token_user(cloud)["name"] == "yaml-user"
    assert cloud.token_request.last_request.json()["auth"]["scope"] == {"project": {"id": PROJECT_ID}}


def test_openrc_as_devstack_writes_it(cloud):
    list_flavors(OPENRC, cloud)
    body = cloud.token_request.last_request.json()["auth"]
    assert body["identity"]["password"]["user"] == {"name": "rc-user", "password": "pw", "domain": {"id": "default"}}
    assert body["scope"] == {"project": {"name": "demo", "domain": {"id": "default"}}}


def test_openrc_with_domain_names():
    identity = resolve(
        load({**OPENRC, "OS_USER_DOMAIN_NAME": "Users", "OS_PROJECT_DOMAIN_NAME": "Projects"}, environ={})
    )
    plugin = identity.auth_plugin()
    assert plugin.auth_methods[0].user_domain_name == "Users"
    assert plugin.project_domain_name == "Projects"


def test_openrc_missing_project_is_named():
    identity = resolve(load({"OS_AUTH_URL": KEYSTONE, "OS_USERNAME": "u", "OS_PASSWORD": "p"}, environ={}))
    assert identity.missing == ["OS_PROJECT_ID (or OS_PROJECT_NAME)"]
    with pytest.raises(CredentialsMissing):
        identity.auth_plugin()


def test_unknown_os_cloud_is_a_credentials_problem(cloud, clouds_yaml):
    response = create_app({"OS_CLOUD": "nope"}).test_client().get("/api/v1/image")

    assert response.status_code == 403
    assert response.json["code"] == "credentials_missing"
    assert "OS_CLOUD=nope" in response.json["message"]


def test_identity_describes_itself_without_the_password():
    identity = resolve(load(OWN, environ={}))
    assert identity.describe() == f"user 'own-user' at Keystone {KEYSTONE}"
    assert "pw" not in repr(identity)

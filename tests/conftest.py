"""Fixtures: an app with test credentials, and a `cloud` that plays OpenStack on the wire."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests_mock
from keystoneauth1 import fixture as ks_fixture

from devstack_client import create_app
from devstack_client.config import SETTINGS
from tests.fakes import PROJECT_ID, USER_ID

FIXTURES = Path(__file__).parent / "fixtures"
KEYSTONE = "http://keystone.test/v3"
NOVA = "http://nova.test/v2.1"
GLANCE = "http://glance.test"
NEUTRON = "http://neutron.test"
TOKEN = "gAAAAABtesttoken"
CREDENTIALS = {
    "AUTH_URL": KEYSTONE,
    "USERNAME": "gateway",
    "PASSWORD": "s3cret-pw",
    "PROJECT_ID": PROJECT_ID,
    "USER_DOMAIN_NAME": "Default",
    "APP_SECRET_KEY": "test-secret",
}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class FakeCloud:
    """Keystone, Nova, Glance and Neutron as requests-mock answers.

    Discovery and the token are registered up front; each test registers
    the calls it expects and then reads what was sent from ``history``.
    """

    def __init__(self, mocker: requests_mock.Mocker) -> None:
        self.mocker = mocker
        self.token_request = mocker.post(
            f"{KEYSTONE}/auth/tokens", status_code=201, json=self.make_token(), headers={"X-Subject-Token": TOKEN}
        )
        # Read only by clouds.yaml's generic "password" plugin; v3password skips it.
        mocker.get(KEYSTONE, json=load_fixture("keystone_v3.json"))
        mocker.get(NOVA, json=load_fixture("nova_version_v2.1.json"))
        mocker.get(f"{GLANCE}/", status_code=300, json=load_fixture("glance_versions.json"))
        # openstacksdk appends /v2.0 to Neutron's catalog URL and reads that.
        mocker.get(f"{NEUTRON}/v2.0", json=load_fixture("neutron_v2.0.json"))

    @staticmethod
    def make_token(
        user_id: str = USER_ID, user_name: str = "gateway", project_id: str = PROJECT_ID, **kwargs: Any
    ) -> dict[str, Any]:
        kwargs.setdefault("project_name", "demo")
        token = ks_fixture.V3Token(user_id=user_id, user_name=user_name, project_id=project_id, **kwargs)
        for kind, name, url in (
            ("compute", "nova", NOVA),
            ("image", "glance", GLANCE),
            ("network", "neutron", NEUTRON),
            ("identity", "keystone", KEYSTONE),
        ):
            token.add_service(kind, name=name).add_standard_endpoints(public=url, region="RegionOne")
        return token

    # -- registering answers ---------------------------------------------------

    def on(self, method: str, url: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        if "exc" in kwargs:
            return self.mocker.register_uri(method, url, **kwargs)
        headers = {"x-openstack-request-id": "req-upstream-1"}
        if body is not None:
            kwargs["json"] = body
            headers["Content-Type"] = "application/json"
        return self.mocker.register_uri(method, url, status_code=status, headers=headers, **kwargs)

    def nova(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{NOVA}{path}", status, body, **kwargs)

    def glance(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{GLANCE}/v2{path}", status, body, **kwargs)

    def neutron(self, method: str, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> Any:
        return self.on(method, f"{NEUTRON}/v2.0{path}", status, body, **kwargs)

    def user_token(self, token: str, user_name: str, project_id: str, **kwargs: Any) -> Any:
        """Keystone validating a caller's ``token`` (GET /v3/auth/tokens, the token authenticating itself)."""
        body = self.make_token(user_id=f"{user_name}-id", user_name=user_name, project_id=project_id, **kwargs)
        return self.mocker.get(
            f"{KEYSTONE}/auth/tokens",
            request_headers={"X-Auth-Token": token, "X-Subject-Token": token},
            json=body,
            headers={"X-Subject-Token": token, "x-openstack-request-id": "req-keystone-validate"},
        )

    def keystone_refuses_tokens(self, status: int = 401) -> Any:
        """Keystone's answer to any token it does not know (its 404 message quotes the token)."""
        messages = {
            401: lambda _: "The request you have made requires authentication.",
            404: lambda request: f"Could not find token: {request.headers['X-Subject-Token']}",
        }
        return self.mocker.get(
            f"{KEYSTONE}/auth/tokens",
            status_code=status,
            json=lambda request, _: {"error": {"code": status, "message": messages[status](request), "title": "x"}},
            headers={"x-openstack-request-id": "req-keystone-refused"},
        )

    def validations(self) -> int:
        return len([r for r in self.history if r.method == "GET" and r.url == f"{KEYSTONE}/auth/tokens"])

    def glance_missing(self, image_id: str) -> Any:
        html = (
            "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n"
            f"  No image found with ID {image_id}<br /><br />\n\n\n </body>\n</html>"
        )
        return self.mocker.get(
            f"{GLANCE}/v2/images/{image_id}",
            status_code=404,
            text=html,
            headers={"Content-Type": "text/html; charset=UTF-8", "x-openstack-request-id": "req-glance-404"},
        )

    # -- reading what we sent ----------------------------------------------------

    @property
    def history(self) -> list[Any]:
        return self.mocker.request_history

    def sent(self, method: str | None = None, host: str | None = None) -> list[str]:
        """The requests sent, as "METHOD url" strings, optionally filtered."""
        return [
            f"{r.method} {r.url}"
            for r in self.history
            if (method is None or r.method == method) and (host is None or r.hostname == host)
        ]

    def api_calls(self) -> list[str]:
        """What was sent apart from the token and version discovery."""
        discovery = {NOVA, f"{GLANCE}/", f"{NEUTRON}/v2.0"}
        return [
            f"{r.method} {r.url}"
            for r in self.history
            if r.url not in discovery and not r.url.startswith(f"{KEYSTONE}/auth/tokens")
        ]


@pytest.fixture(autouse=True)
def sealed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own cloud settings (OS_*, clouds.yaml) out of every test."""
    for name in list(os.environ):
        if name.startswith("OS_") or name in {s.name for s in SETTINGS}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml")


@pytest.fixture
def cloud():
    with requests_mock.Mocker() as mocker:
        yield FakeCloud(mocker)


@pytest.fixture
def app(cloud):
    return create_app(CREDENTIALS)


@pytest.fixture
def client(app):
    return app.test_client()

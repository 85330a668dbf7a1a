"""Fixtures: an app with test credentials, and a `cloud` that plays OpenStack on the wire."""

from __future__ import annotations

import os

import pytest
import requests_mock
from flask import Flask

from devstack_client import create_app
from devstack_client.config import SETTINGS
from tests.answers import CheckedClient
from tests.fakes import CREDENTIALS, FakeCloud

# The late-duplicate watch of keyed creates calls upstream in the background, minutes after a test has its answer,
# through whatever mocker is active then: off for every app the tests make (tests/api/test_key_watch.py turns it
# on), module-scoped ones too, which are made before the function fixtures below run.
WATCH_OFF = "0"
os.environ["IDEMPOTENCY_WATCH_SECONDS"] = WATCH_OFF


@pytest.fixture(autouse=True)
def sealed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own cloud settings (OS_*, clouds.yaml) out of every test."""
    for name in list(os.environ):
        if name.startswith("OS_") or name in {s.name for s in SETTINGS}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml")
    monkeypatch.setenv("IDEMPOTENCY_WATCH_SECONDS", WATCH_OFF)


@pytest.fixture(autouse=True)
def answers_match_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app's test client checks its JSON answers against /openapi.json (tests/answers.py)."""
    monkeypatch.setattr(Flask, "test_client_class", CheckedClient)


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

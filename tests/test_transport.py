"""The upstream HTTP pool: the environment's proxy and CA settings apply exactly as requests applies them."""

from __future__ import annotations

import pytest
import requests

from devstack_client import transport
from devstack_client.transport import Pool

CASES = {
    "proxied": ("http://nova.test/v2.1/servers", {}, True),
    "https, proxied": ("https://glance.test/v2/images", {}, None),
    "in NO_PROXY": ("http://keystone.internal:5000/v3", {}, True),
    "the caller's own proxy wins": ("http://nova.test/v2.1", {"http": "http://mine:3128"}, True),
    "the caller's no_proxy": ("http://nova.test/v2.1", {"no_proxy": "nova.test"}, True),
    "verify given": ("https://glance.test/v2", {}, "/etc/ssl/other.pem"),
}


@pytest.fixture
def proxied_environment(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "keystone.internal,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")


@pytest.mark.parametrize(("url", "proxies", "verify"), CASES.values(), ids=CASES.keys())
def test_settings_are_requests_own(proxied_environment, url, proxies, verify):
    ours = Pool().merge_environment_settings(url, dict(proxies), None, verify, None)
    theirs = requests.Session().merge_environment_settings(url, dict(proxies), None, verify, None)

    assert ours == theirs


def test_the_environment_is_read_once_per_host(proxied_environment, monkeypatch):
    reads = []
    monkeypatch.setattr(transport, "get_environ_proxies", lambda url, no_proxy: reads.append(url) or {})
    pool = Pool()

    for path in ("/servers", "/flavors", "/servers/1"):
        pool.merge_environment_settings("http://nova.test/v2.1" + path, {}, None, True, None)
    pool.merge_environment_settings("http://glance.test/v2/images", {}, None, True, None)

    assert reads == ["http://nova.test/v2.1/servers", "http://glance.test/v2/images"]


def test_without_trust_env_nothing_is_read(proxied_environment):
    pool = Pool()
    pool.trust_env = False

    settings = pool.merge_environment_settings("http://nova.test/v2.1", {}, None, True, None)

    assert settings["proxies"] == {} and settings["verify"] is True

"""Fixtures for the `browser` tests: headless Chromium (Debian's, driven by Playwright) and the gateway as a
real process in front of the real test cloud (tests/cloud/up.sh).

Without Playwright, /usr/bin/chromium or the cloud every test here is skipped, with the reason; with
DEVSTACK_CLIENT_REQUIRE_CLOUD=1 (CI, tests/run.sh) they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack_client import apikeys
from tests.cloud.harness import REQUIRE_CLOUD, Cloud, Gateway, find_cloud

CHROMIUM = Path("/usr/bin/chromium")
# We run as root (no sandbox) on a machine without outside network: no background traffic to Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def no_browser(reason: str) -> None:
    reason = f"no browser: {reason} (apt-get install chromium; pip install -e '.[test]')"
    if REQUIRE_CLOUD:
        pytest.fail(reason + "; DEVSTACK_CLIENT_REQUIRE_CLOUD=1 makes this an error", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser("the playwright package is not installed")
    if not CHROMIUM.is_file():
        no_browser(f"{CHROMIUM} does not exist")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser_cloud() -> Cloud:
    """The test cloud, found as tests/cloud's `cloud_info` finds it."""
    return find_cloud()


@pytest.fixture(scope="session")
def operator_key() -> tuple[str, str]:
    """A gateway API key with the operator role: (key, its configuration line)."""
    return apikeys.new_key("operator", "browser")


@pytest.fixture(scope="session")
def keyed_gateway(
    browser_cloud: Cloud, operator_key: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The gateway acting as the demo user, every /api/v1 call needing the operator key."""
    settings = {**browser_cloud.credentials("demo"), "WORKERS": "1", "API_KEYS": operator_key[1]}
    gw = Gateway(settings, tmp_path_factory.mktemp("gateway-logs") / "browser.log")
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def open_gateway(browser_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway acting as the demo user, with no API keys (a browser's EventSource cannot send one)."""
    gw = Gateway(
        {**browser_cloud.credentials("demo"), "WORKERS": "1"},
        tmp_path_factory.mktemp("gateway-logs") / "browser-open.log",
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def token_gateway(browser_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway with no identity of its own: every call acts as the user whose Keystone token it carries."""
    gw = Gateway(
        {"AUTH_URL": browser_cloud.auth_url, "REQUIRE_USER_TOKENS": "true", "WORKERS": "1"},
        tmp_path_factory.mktemp("gateway-logs") / "browser-tokens.log",
    )
    yield gw
    gw.stop()

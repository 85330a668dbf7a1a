"""Fixtures for the `cloud` tests: the gateway, run as a real process, against the real test cloud.

The cloud is started by `bash tests/cloud/up.sh` and described by $DEVSTACK_CLOUD_DIR/cloud.json
(default /tmp/devstack-client-cloud). Without it, or when Keystone does not answer, every test here is
skipped, or fails when DEVSTACK_CLIENT_REQUIRE_CLOUD=1 (CI).

The tests talk to the gateway over HTTP only. `Upstream` (plain HTTP to Keystone, Nova, Glance, Neutron, with
its own User-Agent) is used only to learn what the cloud itself reports, and to sweep servers left behind by an
interrupted earlier run. `AccessLog` reads the services' gunicorn access logs to count the gateway's calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cloud import lock as cloud_lock
from tests.cloud.harness import (
    HERE,
    LOCK_TIMEOUT,
    MEASURED,
    Cloud,
    Gateway,
    Servers,
    Upstream,
    delete_servers,
    find_cloud,
)


def pytest_configure(config: pytest.Config) -> None:
    if not any(line.split(":")[0].strip() == "cloud" for line in config.getini("markers")):
        config.addinivalue_line("markers", "cloud: runs against a real OpenStack (tests/cloud/up.sh)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this directory `cloud`; run the Keystone outage tests last."""
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    for item in ours:
        item.add_marker(pytest.mark.cloud)
    last = [item for item in ours if Path(str(item.path)).stem.endswith("_outage")]
    if last:
        items[:] = [item for item in items if item not in last] + last


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The counts tests measured (harness.report), where CI's log shows them: no -s needed."""
    if MEASURED:
        terminalreporter.section("measured on the cloud")
        for line in MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def cloud_info() -> Cloud:
    return find_cloud()


@pytest.fixture(autouse=True)
def _needs_cloud(cloud_info: Cloud) -> None:
    """Every test here needs the cloud: skip (or fail) them all without it."""


@pytest.fixture(scope="session")
def upstream(cloud_info: Cloud) -> Iterator[Callable[[str], Upstream]]:
    """upstream("demo") -> an Upstream client for that user (one per user, reused)."""
    clients: dict[str, Upstream] = {}

    def get(user: str) -> Upstream:
        if user not in clients:
            clients[user] = Upstream(cloud_info, user)
        return clients[user]

    yield get
    for client in clients.values():
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _one_run_at_a_time(cloud_info: Cloud) -> Iterator[None]:
    """Hold an exclusive lock on the cloud for the whole session: two runs at once would disturb each other
    (the quota test's project, the leftover sweep). A second run waits, at most LOCK_TIMEOUT seconds."""
    try:
        lock = cloud_lock.acquire(cloud_info.state_dir, LOCK_TIMEOUT)
    except TimeoutError as exc:
        pytest.fail(f"another test run holds the cloud: {exc}", pytrace=False)
    try:
        yield
    finally:
        cloud_lock.release(lock)


@pytest.fixture(scope="session", autouse=True)
def _sweep_leftover_servers(_one_run_at_a_time: None, upstream: Callable[[str], Upstream]) -> None:
    """Delete the servers an interrupted earlier run left behind (named PREFIX*, in every project)."""
    delete_servers(upstream("admin"), all_projects=True)


@pytest.fixture(scope="session")
def start_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Gateway]]:
    """start_gateway(settings, name) -> a running Gateway; all are stopped at the end of the session."""
    started: list[Gateway] = []
    logs = tmp_path_factory.mktemp("gateway-logs")

    def start(settings: dict[str, str], name: str = "gateway") -> Gateway:
        gw = Gateway(settings, logs / f"{name}-{len(started)}.log")
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


@pytest.fixture(scope="session")
def gateway(cloud_info: Cloud, start_gateway: Callable[..., Gateway]) -> Gateway:
    """The gateway acting as the demo user, shared by the tests that do not need one of their own."""
    return start_gateway(cloud_info.credentials("demo"), "demo")


@pytest.fixture
def servers() -> Iterator[Servers]:
    """Create servers through a gateway; they are deleted (and awaited) at the end of the test."""
    tracker = Servers()
    yield tracker
    tracker.cleanup()

"""The `cloud` tests' machinery: the test cloud's description, the gateway as a process, access logs.

Used by conftest.py (fixtures) and the test modules. See conftest.py for how the pieces are used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack_client.config import SETTINGS
from tests.loopback import free_port, stop_group

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STATE_DIR = Path(os.environ.get("DEVSTACK_CLOUD_DIR") or "/tmp/devstack-client-cloud")
REQUIRE_CLOUD = os.environ.get("DEVSTACK_CLIENT_REQUIRE_CLOUD") == "1"
SERVICE_SH = HERE / "service.sh"

# Every server these tests create is named PREFIX + RUN + "-..."; leftovers named PREFIX* are swept at start.
PREFIX = "dcgt-"
RUN = uuid.uuid4().hex[:6]
TESTS_USER_AGENT = "devstack-client-cloud-tests"

# The gateway's own settings (every one it reads, API keys and tokens included): never inherited from the
# developer's environment (nor OS_*, OS_CLOUD).
GATEWAY_SETTINGS = {setting.name for setting in SETTINGS}

ACTIVE_TIMEOUT = 120  # s, a boot to ACTIVE (a first boot after the cloud started takes ~15 s, later ones ~3 s)
DELETE_TIMEOUT = 60  # s, a delete until the server is gone
LOCK_TIMEOUT = 900  # s, waiting for another run of these tests against the same cloud to finish

# ------------------------------------------------------------------------------------------------- the cloud


def no_cloud(reason: str) -> None:
    reason = f"no cloud running: run bash tests/cloud/up.sh ({reason})"
    if REQUIRE_CLOUD:
        pytest.fail(reason + "; DEVSTACK_CLIENT_REQUIRE_CLOUD=1 makes this an error", pytrace=False)
    pytest.skip(reason)


def find_cloud() -> Cloud:
    """The running test cloud, from $DEVSTACK_CLOUD_DIR/cloud.json; skip (or fail) when none answers."""
    path = STATE_DIR / "cloud.json"
    if not path.is_file():
        no_cloud(f"{path} does not exist")
    data = json.loads(path.read_text())
    # A Keystone busy with other clients can miss one 5 s deadline (seen on a loaded machine): retry timeouts for a
    # minute; a refused connection (no cloud) is final at once.
    deadline = time.monotonic() + 60
    while True:
        try:
            with requests.get(data["auth_url"], timeout=5) as resp:
                resp.raise_for_status()
            return Cloud(data)
        except requests.Timeout as exc:
            if time.monotonic() > deadline:
                no_cloud(f"Keystone at {data['auth_url']} does not answer: {type(exc).__name__}")
        except requests.RequestException as exc:
            no_cloud(f"Keystone at {data['auth_url']} does not answer: {type(exc).__name__}")


class Cloud:
    """What cloud.json says about the test cloud."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.auth_url: str = data["auth_url"]
        self.endpoints: dict[str, str] = data["endpoints"]
        self.users: dict[str, dict[str, str]] = data["users"]
        self.image: dict[str, Any] = data["image"]
        self.flavors: dict[str, dict[str, Any]] = data["flavors"]
        self.flavor: dict[str, Any] = data["flavor"]
        self.networks: dict[str, dict[str, Any]] = data["networks"]
        self.state_dir = Path(data["state_dir"])

    def credentials(self, user: str) -> dict[str, str]:
        """The gateway's variables for this user."""
        u = self.users[user]
        return {
            "AUTH_URL": self.auth_url,
            "USERNAME": u["username"],
            "PASSWORD": u["password"],
            "PROJECT_ID": u["project_id"],
            "USER_DOMAIN_NAME": u["user_domain_name"],
        }

    def access_log(self, service: str) -> AccessLog:
        return AccessLog(Path(self.data["access_logs"][service]))


def password_auth(cloud: Cloud, user: str) -> dict[str, Any]:
    """Keystone's POST /v3/auth/tokens body for `user`'s password, scoped to the user's project."""
    u = cloud.users[user]
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": u["username"],
                        "domain": {"name": u["user_domain_name"]},
                        "password": u["password"],
                    }
                },
            },
            "scope": {"project": {"id": u["project_id"]}},
        }
    }


class Upstream:
    """Plain HTTP to the cloud as one user, to learn what the cloud itself reports."""

    def __init__(self, cloud: Cloud, user: str) -> None:
        self.cloud = cloud
        self.http = requests.Session()
        self.http.headers["User-Agent"] = TESTS_USER_AGENT
        with self.http.post(cloud.auth_url + "/auth/tokens", json=password_auth(cloud, user), timeout=30) as resp:
            resp.raise_for_status()
            self.http.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
        # the microversion the gateway speaks: flavor embedded in servers (2.47+), integer swap (2.75+)
        self.http.headers["OpenStack-API-Version"] = "compute 2.79"

    def request(self, service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.http.request(method, self.cloud.endpoints[service] + path, **kwargs)

    def get(self, service: str, path: str, **params: Any) -> Any:
        resp = self.request(service, "GET", path, params=params or None)
        resp.raise_for_status()
        return resp.json()

    def close(self) -> None:
        self.http.close()


def delete_servers(client: Upstream, all_projects: bool = False) -> None:
    """Delete the servers named PREFIX* that `client` sees (all projects': admin only), and wait until gone."""

    def leftovers() -> list[dict[str, Any]]:
        params = {"name": "^" + PREFIX, **({"all_tenants": "1"} if all_projects else {})}
        return client.get("compute", "/servers", **params)["servers"]

    servers = leftovers()
    for server in servers:
        client.request("compute", "DELETE", f"/servers/{server['id']}").close()
    deadline = time.monotonic() + DELETE_TIMEOUT
    while servers and time.monotonic() < deadline:
        time.sleep(1)
        servers = leftovers()
    assert not servers, f"could not delete leftover test servers: {[(s['id'], s['name']) for s in servers]}"


# ---------------------------------------------------------------------------------------- faults in the cloud


def service(action: str, name: str) -> None:
    """service.sh stop|start NAME: one of the cloud's services (start returns once it answers)."""
    subprocess.run(
        ["bash", str(SERVICE_SH), action, name],
        check=True,
        timeout=240,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextlib.contextmanager
def service_stopped(name: str) -> Iterator[Callable[[], None]]:
    """Stop a service for the block; yields start(), to bring it back early; always started again at the end."""
    running = [False]

    def start() -> None:
        if not running[0]:
            service("start", name)
            running[0] = True

    service("stop", name)
    try:
        yield start
    finally:
        start()


@contextlib.contextmanager
def frozen(cloud: Cloud, name: str) -> Iterator[None]:
    """SIGSTOP a service's process group for the block (it accepts connections and never answers), SIGCONT after.

    Keep the block well under the service's gunicorn --timeout (120 s): past it, gunicorn would kill the worker
    on waking up.
    """
    pgid = int((cloud.state_dir / "run" / f"{name}.pid").read_text())
    os.killpg(pgid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pgid, signal.SIGCONT)


GATEWAY_UA = "devstack-client/"  # the start of the gateway's User-Agent in the services' access logs


def create_body(cloud: Cloud, label: str) -> dict[str, str]:
    return {
        "name": server_name(label),
        "image_id": cloud.image["id"],
        "flavor_id": cloud.flavor["id"],
        "network_id": cloud.networks["demo"]["id"],
    }


def servers_named(client: Upstream, name: str) -> list[dict[str, Any]]:
    """What Nova itself lists under exactly this name."""
    return [s for s in client.get("compute", "/servers", name=f"^{name}$")["servers"] if s["name"] == name]


def assert_ok(gw: Gateway, *paths: str) -> None:
    for path in paths:
        resp = gw.get(path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)


def assert_unreachable(gw: Gateway, *paths: str) -> None:
    for path in paths:
        resp = gw.get(path)
        assert resp.status_code == 503, (path, resp.status_code, resp.text)
        assert resp.json()["code"] == "upstream_unreachable", (path, resp.json())
        assert resp.headers["Retry-After"] == "5"


# --------------------------------------------------------------------------------------------- access logs

# combined log format + duration + the token's project + the user asking Keystone for a token
# (tests/cloud/lib.sh ACCESS_LOG_FORMAT)
_LOG_LINE = re.compile(
    r'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<target>\S+)[^"]*" (?P<status>\d{3}) \S+ "[^"]*" "(?P<ua>[^"]*)"'
    r"(?: \S+ms project=(?P<project>\S+))?(?: user=(?P<user>\S+))?"
)


@dataclass(frozen=True)
class Hit:
    method: str
    target: str  # path and query
    status: int
    user_agent: str
    project: str | None  # project id of the request's token ("-": none)
    auth_user: str | None  # Keystone's POST /v3/auth/tokens: the user name authenticating ("-": other requests)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class AccessLog:
    """One service's gunicorn access log, read from an offset (mark) on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, offset: int) -> list[Hit]:
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read()
        hits = []
        for line in data.decode("utf-8", "replace").splitlines():
            m = _LOG_LINE.match(line)
            if m:
                hits.append(Hit(m["method"], m["target"], int(m["status"]), m["ua"], m["project"], m["user"]))
        return hits


# ------------------------------------------------------------------------------------------------ gateway


def gateway_environment(settings: dict[str, str]) -> dict[str, str]:
    """The process environment without OS_*, OS_CLOUD or gateway settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_") and k not in GATEWAY_SETTINGS}
    env.update(settings)
    return env


class Verbs:
    """get, post and delete on top of a class's ``request(method, path, **kwargs)``."""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        raise NotImplementedError

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


class Gateway(Verbs):
    """`python devstack_client/main.py` as a subprocess on a free port, and a requests session to it."""

    def __init__(self, settings: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = gateway_environment({**settings, "HOST": "127.0.0.1", "PORT": str(self.port)})
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "devstack_client/main.py"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the workers too
        )
        self.http = requests.Session()
        self._wait_until_serving(timeout=60)

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                log = self.log_tail()
                self.stop()
                pytest.fail(f"gateway exited with {self.proc.returncode} at start:\n{log}", pytrace=False)
            try:
                with self.http.get(self.base + "/swagger.json", timeout=2):
                    return  # any HTTP answer: it is serving
            # Timeout: gunicorn's master listens at once, but each worker creates the app (after gevent's
            # patching) before it answers: seconds on busy cores.
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                log = self.log_tail()
                self.stop()
                pytest.fail(f"gateway did not answer within {timeout}s:\n{log}", pytrace=False)
            time.sleep(0.2)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 90)
        return self.http.request(method, self.base + path, **kwargs)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_group(self.proc, timeout=20)
        self.http.close()
        self._log.close()


# ------------------------------------------------------------------------------------------------ servers


def same_time(a: str | None, b: str | None) -> bool:
    """Two ISO 8601 timestamps denote the same instant."""
    if a is None or b is None:
        return a == b
    return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))


def server_name(label: str) -> str:
    return f"{PREFIX}{RUN}-{label}"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """Poll until predicate() returns something else than None, at most `timeout` seconds; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}", pytrace=False)
        time.sleep(interval)


def wait_active(gw: Gateway, server_id: str, timeout: float = ACTIVE_TIMEOUT) -> dict[str, Any]:
    def active() -> dict[str, Any] | None:
        resp = gw.get(f"/api/v1/server/{server_id}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] in ("BUILD", "ACTIVE"), body
        return body if body["status"] == "ACTIVE" else None

    return wait_for(active, timeout, f"server {server_id} to become ACTIVE")


def wait_gone(gw: Gateway, server_id: str, timeout: float = DELETE_TIMEOUT) -> requests.Response:
    def gone() -> requests.Response | None:
        resp = gw.get(f"/api/v1/server/{server_id}")
        assert resp.status_code in (200, 404), resp.text
        return resp if resp.status_code == 404 else None

    return wait_for(gone, timeout, f"server {server_id} to disappear")


class Servers:
    """Servers a test created through a gateway; deleted (and awaited) at the end of the test."""

    def __init__(self) -> None:
        self.created: list[tuple[Gateway, str]] = []

    def create(self, gw: Gateway, cloud: Cloud, label: str, network: str = "demo", **overrides: str | None):
        body = {
            "name": server_name(label),
            "image_id": cloud.image["id"],
            "flavor_id": cloud.flavor["id"],
            "network_id": cloud.networks[network]["id"],
            **overrides,
        }
        body = {field: value for field, value in body.items() if value is not None}  # None: leave it out
        resp = gw.post("/api/v1/server", json=body)
        if resp.status_code == 201:
            self.created.append((gw, resp.json()["id"]))
        return resp

    def cleanup(self) -> None:
        pending = []
        for gw, server_id in self.created:
            resp = gw.delete(f"/api/v1/server/{server_id}")
            if resp.status_code == 204:
                pending.append((gw, server_id))
        for gw, server_id in pending:
            wait_gone(gw, server_id)

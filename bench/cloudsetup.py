"""The real test cloud for the benchmark: its lock, and the servers it boots as the `bulk` user (and deletes)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud import lock as cloud_lock

STATE_DIR = Path("/tmp/devstack-client-cloud")
PREFIX = "bench-"
USER = "bulk"
HEADERS = {"OpenStack-API-Version": "compute 2.79"}


def describe() -> dict[str, Any]:
    path = STATE_DIR / "cloud.json"
    if not path.is_file():
        raise SystemExit(f"no test cloud: {path} does not exist (run bash tests/cloud/up.sh)")
    return json.loads(path.read_text())


@contextlib.contextmanager
def locked(state_dir: Path, timeout: float = 1800) -> Iterator[None]:
    """Hold the cloud tests' exclusive lock: nothing else uses the cloud meanwhile."""
    try:
        lock = cloud_lock.acquire(state_dir, timeout)
    except TimeoutError as exc:
        raise SystemExit(f"the cloud is taken: {exc}") from None
    try:
        yield
    finally:
        cloud_lock.release(lock)


def credentials(cloud: dict[str, Any]) -> dict[str, str]:
    u = cloud["users"][USER]
    return {
        "AUTH_URL": cloud["auth_url"],
        "USERNAME": u["username"],
        "PASSWORD": u["password"],
        "PROJECT_ID": u["project_id"],
        "USER_DOMAIN_NAME": u["user_domain_name"],
    }


class Servers:
    """Boots ``count`` servers in one Nova call (min_count = max_count) and deletes them."""

    def __init__(self, cloud: dict[str, Any]) -> None:
        creds = credentials(cloud)
        auth = v3.Password(
            auth_url=creds["AUTH_URL"],
            username=creds["USERNAME"],
            password=creds["PASSWORD"],
            project_id=creds["PROJECT_ID"],
            user_domain_name=creds["USER_DOMAIN_NAME"],
        )
        self.session = ks_session.Session(auth=auth, session=requests.Session(), user_agent="devstack-client-bench")
        self.nova = self.session.get_endpoint(service_type="compute", interface="public")
        self.cloud = cloud
        self.name = f"{PREFIX}{uuid.uuid4().hex[:6]}"

    def _get(self, path: str, **params: Any) -> Any:
        return self.session.get(self.nova + path, params=params, headers=HEADERS).json()

    def mine(self, prefix: str) -> list[dict[str, Any]]:
        return self._get("/servers/detail", name="^" + prefix, limit=1000)["servers"]

    def sweep(self) -> None:
        """Delete servers named PREFIX* an interrupted earlier run left behind."""
        self.delete(PREFIX)

    def boot(self, count: int, timeout: float = 900) -> list[dict[str, Any]]:
        body = {
            "server": {
                "name": self.name,
                "imageRef": self.cloud["image"]["id"],
                "flavorRef": self.cloud["flavors"]["m1.nano"]["id"],
                "networks": [{"uuid": self.cloud["networks"]["bulk"]["id"]}],
                "min_count": count,
                "max_count": count,
            }
        }
        self.session.post(self.nova + "/servers", json=body, headers=HEADERS)
        deadline = time.monotonic() + timeout
        while True:
            servers = self.mine(self.name)
            statuses = [s["status"] for s in servers]
            if len(servers) == count and all(s == "ACTIVE" for s in statuses):
                return servers
            if "ERROR" in statuses:
                raise RuntimeError(f"{statuses.count('ERROR')} of the benchmark's servers went to ERROR")
            if time.monotonic() > deadline:
                raise RuntimeError(f"servers not ACTIVE after {timeout} s: {sorted(set(statuses))}")
            time.sleep(3)

    def delete(self, prefix: str | None = None, timeout: float = 300) -> None:
        prefix = prefix or self.name
        for server in self.mine(prefix):
            self.session.delete(f"{self.nova}/servers/{server['id']}", headers=HEADERS, raise_exc=False)
        deadline = time.monotonic() + timeout
        while self.mine(prefix) and time.monotonic() < deadline:
            time.sleep(2)

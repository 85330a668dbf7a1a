"""The four ways to get the same answers, each as a client the benchmark can time.

Each case answers three operations: ``list`` (a page of ``PAGE`` servers,
with their image names), ``show`` (one server, with its security groups'
ids: Nova's server and Neutron's ports) and ``flavors`` (the flavor list).
``call(op)`` does one and returns the CPU seconds it cost where the work
happened (the gateway's worker processes, this thread, or the CLI process),
or None when unknown.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any

import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from bench import procs

PAGE = 100  # servers per listed page
OPS = ("list", "show", "flavors")
DIRECT_USER_AGENT = "devstack-client-bench-direct"


class Case:
    name = ""
    max_concurrency = 32  # the most clients the throughput test runs it with

    def __init__(self, show_id: str) -> None:
        self.show_id = show_id

    def call(self, op: str) -> float | None:
        raise NotImplementedError

    def peak_memory_kb(self) -> int | None:
        return None

    def stop(self) -> None:
        pass


class HttpGateway(Case):
    """A gateway process (ours, or the naive one) called over HTTP with keep-alive, one session per thread."""

    def __init__(self, name: str, server: procs.Server, show_id: str) -> None:
        super().__init__(show_id)
        self.name = name
        self.server = server
        self.workers = server.workers()
        self._local = threading.local()
        self.paths = {
            "list": f"/api/v1/server?limit={PAGE}",
            "show": f"/api/v1/server/{show_id}",
            "flavors": "/api/v1/flavor",
        }

    def _http(self) -> requests.Session:
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
        return http

    def get(self, path: str) -> Any:
        with self._http().get(self.server.base + path, timeout=120) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"{self.name}: GET {path} answered {resp.status_code}: {resp.text[:300]}")
            return resp.json()

    def call(self, op: str) -> float | None:
        before = procs.cpu_seconds(self.workers)
        self.get(self.paths[op])
        return procs.cpu_seconds(self.workers) - before

    def cpu(self) -> float:
        return procs.cpu_seconds(self.workers)

    def peak_memory_kb(self) -> int | None:
        return max(procs.memory_kb(pid)["VmHWM"] for pid in self.workers)

    def stop(self) -> None:
        self.server.stop()


class Direct(Case):
    """The floor: the same upstream calls from a warm keystoneauth session, JSON decoded, nothing else."""

    name = "direct"

    def __init__(self, credentials: dict[str, str], show_id: str) -> None:
        super().__init__(show_id)
        http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        auth = v3.Password(
            auth_url=credentials["AUTH_URL"],
            username=credentials["USERNAME"],
            password=credentials["PASSWORD"],
            project_id=credentials["PROJECT_ID"],
            user_domain_name=credentials.get("USER_DOMAIN_NAME", "Default"),
        )
        self.session = ks_session.Session(auth=auth, session=http, user_agent=DIRECT_USER_AGENT)
        self.nova = self.session.get_endpoint(service_type="compute", interface="public")
        self.glance = self.session.get_endpoint(service_type="image", interface="public").rstrip("/") + "/v2"
        self.neutron = self.session.get_endpoint(service_type="network", interface="public").rstrip("/") + "/v2.0"
        self.headers = {"OpenStack-API-Version": "compute 2.79", "X-OpenStack-Nova-API-Version": "2.79"}

    def _get(self, url: str, **params: Any) -> Any:
        return self.session.get(url, params=params or None, headers=self.headers).json()

    def call(self, op: str) -> float | None:
        before = time.thread_time()
        if op == "list":
            servers = self._get(self.nova + "/servers/detail", limit=PAGE)["servers"]
            ids = sorted({s["image"]["id"] for s in servers if s.get("image")})
            if ids:
                self._get(self.glance + "/images", id="in:" + ",".join(ids), limit=len(ids))
        elif op == "show":
            # The gateway's show names its groups with their ids, which Nova does not give: its ports' do.
            self._get(f"{self.nova}/servers/{self.show_id}")
            self._get(self.neutron + "/ports", device_id=self.show_id, fields="security_groups")
        else:
            self._get(self.nova + "/flavors/detail", limit=PAGE)
        return time.thread_time() - before


class Cli(Case):
    """``openstack server list``: what a user would otherwise run (it authenticates every time)."""

    name = "cli"
    max_concurrency = 0  # a process per call: its latency says it all

    def __init__(self, credentials: dict[str, str], show_id: str, openstack: str) -> None:
        super().__init__(show_id)
        self.env = procs.clean_environment(
            {
                "OS_AUTH_URL": credentials["AUTH_URL"],
                "OS_USERNAME": credentials["USERNAME"],
                "OS_PASSWORD": credentials["PASSWORD"],
                "OS_PROJECT_ID": credentials["PROJECT_ID"],
                "OS_USER_DOMAIN_NAME": credentials.get("USER_DOMAIN_NAME", "Default"),
                "OS_IDENTITY_API_VERSION": "3",
                "OS_CLIENT_CONFIG_FILE": "/nonexistent/clouds.yaml",
            }
        )
        self.argv = {
            "list": [openstack, "server", "list", "--limit", str(PAGE)],
            "show": [openstack, "server", "show", show_id],
            "flavors": [openstack, "flavor", "list"],
        }
        self.peak_kb = 0

    def call(self, op: str) -> float | None:
        proc = subprocess.Popen(
            self.argv[op], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stderr.close()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(self.argv[op])} failed ({proc.returncode}): {err.decode()[-500:]}")
        self.peak_kb = max(self.peak_kb, usage.ru_maxrss)
        return usage.ru_utime + usage.ru_stime

    def peak_memory_kb(self) -> int | None:
        return self.peak_kb or None

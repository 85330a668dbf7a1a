"""Several gateway instances behind HAProxy (deploy/haproxy.cfg), and the load test_cloud_multi.py runs
through them: readers, creates with an Idempotency-Key, and event streams that resume as a browser's
EventSource does (with their Last-Event-ID, through the balancer, so on whichever instance it picks).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cloud.harness import HERE, REQUIRE_CLOUD, Gateway, Verbs
from tests.loopback import free_port, stop_group

HAPROXY = "/usr/sbin/haproxy"
CONFIG = HERE.parents[1] / "deploy" / "haproxy.cfg"  # the one we ship
EVENTS = "/api/v1/server/events"


def need_haproxy() -> None:
    if not os.path.exists(HAPROXY):
        reason = f"{HAPROXY} is missing (apt-get install haproxy; tests/run.sh does)"
        if REQUIRE_CLOUD:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


class Client(Verbs):
    """Requests to one base URL (an instance or the balancer) over a session of its own."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 300)
        return self.http.request(method, self.base + path, **kwargs)


class Balancer:
    """HAProxy from Debian on loopback, running deploy/haproxy.cfg in front of three ports."""

    def __init__(self, ports: list[int], log_path: Path) -> None:
        self.port, self.stats_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {
            **os.environ,
            "HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "STATS_BIND": f"127.0.0.1:{self.stats_port}",
            **{f"GATEWAY_{n}": f"127.0.0.1:{port}" for n, port in enumerate(ports, 1)},
        }
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [HAPROXY, "-f", str(CONFIG), "-db"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stats(self) -> dict[str, dict[str, str]]:
        """The stats page's rows of the gateways backend: gateway-1..3 (-open: backups), BACKEND (status, wretr…)."""
        text = requests.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text
        rows = csv.DictReader(io.StringIO(text.removeprefix("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] == "gateways"}

    def wait_status(self, server: str, status: str, timeout: float = 90) -> float:
        """Wait until HAProxy's health checks say `server` is UP (or DOWN); the seconds it took."""
        started = deadline = time.monotonic()
        deadline += timeout
        while (seen := self._status(server)) != status:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"HAProxy says {server} is {seen}, not {status}:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.2)
        return time.monotonic() - started

    def _status(self, server: str) -> str | None:
        try:
            return self.stats()[server]["status"].split()[0]
        except (requests.RequestException, KeyError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of HAProxy's log but its stats page's (polled by wait_status): what the checks said."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join([line for line in text if "stats/<STATS>" not in line][-lines:])

    def stop(self) -> None:
        stop_group(self.proc, timeout=10)
        self._log.close()


class Cluster:
    """Three gateway instances on fixed ports (a restarted one takes its old port) behind a Balancer."""

    SIZE = 3

    def __init__(self, settings: dict[str, str], logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.ports = [free_port() for _ in range(self.SIZE)]
        self.instances: list[Gateway | None] = [None] * self.SIZE
        self.extras: list[dict[str, str]] = [{} for _ in range(self.SIZE)]  # each instance's own settings
        self.retired: list[Gateway] = []  # stopped instances: their logs still count
        self.balancer: Balancer | None = None
        self._starts = 0

    def start(self) -> None:
        with ThreadPoolExecutor(self.SIZE) as pool:
            list(pool.map(self.start_instance, range(self.SIZE)))
        self.balancer = Balancer(self.ports, self.logs / "haproxy.log")
        for n in range(self.SIZE):
            self.balancer.wait_status(self.name(n), "UP")
        self.lb = Client(self.balancer.base)

    @staticmethod
    def name(n: int) -> str:
        return f"gateway-{n + 1}"  # as haproxy.cfg names it

    def start_instance(self, n: int, **extra: str) -> Gateway:
        self._starts += 1
        log = self.logs / f"{self.name(n)}-{self._starts}.log"
        self.instances[n] = Gateway({**self.settings, **extra}, log, port=self.ports[n])
        self.extras[n] = dict(extra)
        return self.instances[n]

    def settings_of(self, n: int) -> dict[str, str]:
        """The settings instance n runs with."""
        return {**self.settings, **self.extras[n]}

    def instance(self, n: int) -> Gateway:
        gw = self.instances[n]
        assert gw is not None, f"{self.name(n)} is not running"
        return gw

    def kill(self, n: int) -> None:
        """kill -9 the instance's every process (master and workers): a crash, nothing finishes."""
        gw = self.instance(n)
        os.killpg(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait(timeout=10)
        self._retire(n)

    def terminate(self, n: int) -> float:
        """SIGTERM to the instance's master, as an orchestrator stops it; the seconds until it exited."""
        gw = self.instance(n)
        started = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        gw.proc.wait(timeout=120)
        self._retire(n)
        return time.monotonic() - started

    def _retire(self, n: int) -> None:
        gw = self.instance(n)
        gw.stop()
        self.retired.append(gw)
        self.instances[n] = None

    def log_count(self, text: str) -> int:
        """How many lines of every instance's log (running or stopped) hold ``text``."""
        count = 0
        for gw in [*self.retired, *(gw for gw in self.instances if gw is not None)]:
            count += sum(text in line for line in gw.log_path.read_text(errors="replace").splitlines())
        return count

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for n, gw in enumerate(self.instances):
            if gw is not None:
                gw.stop()
                self.instances[n] = None


# ------------------------------------------------------------------------------------------------- streams


class ResumingStream:
    """An event stream read in a thread that reconnects, with its Last-Event-ID, whenever the stream ends."""

    def __init__(self, base: str, path: str, headers: dict[str, str] | None = None, resume: bool = True) -> None:
        self.base, self.path, self.resume = base, path, resume
        self.headers = dict(headers or {})
        self.events: list[dict[str, Any]] = []
        self.opens = 0  # answered 200
        self.refused: list[str] = []  # opening attempts that failed (status or exception)
        self.last_id: str | None = self.headers.pop("Last-Event-ID", None)
        self.opened = threading.Event()
        self.ended = threading.Event()
        self._closing = threading.Event()
        self._response: requests.Response | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.opened.wait(60), f"the stream did not open: {self.refused}"

    def _run(self) -> None:
        while not self._closing.is_set():
            headers = {**self.headers, **({"Last-Event-ID": self.last_id} if self.last_id else {})}
            try:
                resp = requests.get(self.base + self.path, headers=headers, stream=True, timeout=(5, 60))
            except requests.RequestException as exc:
                self.refused.append(type(exc).__name__)
                time.sleep(0.5)
                continue
            if resp.status_code != 200:
                self.refused.append(f"{resp.status_code} {resp.text[:200]}")
                resp.close()
                time.sleep(0.5)
                continue
            self._response = resp
            self.opens += 1
            self.opened.set()
            self._read(resp)
            if not self.resume:
                break
            time.sleep(0.2)  # the stream's `retry:` is 3 s; a test need not wait that long
        self.ended.set()

    def _read(self, resp: requests.Response) -> None:
        frame: dict[str, str] = {}
        try:
            for line in resp.iter_lines(decode_unicode=True):
                if line:
                    name, _, value = line.partition(":")
                    frame[name or "comment"] = value.removeprefix(" ")
                    continue
                if self._closing.is_set():
                    break  # closed: nothing read from now on counts
                if "event" in frame:
                    event = {**frame, "data": json.loads(frame["data"]), "arrived": time.monotonic()}
                    self.events.append(event)
                    if frame.get("id"):
                        self.last_id = frame["id"]
                frame = {}
        except (requests.RequestException, AttributeError, ValueError):
            pass  # the connection broke (the instance died) or was closed under us
        finally:
            resp.close()

    @property
    def reconnects(self) -> int:
        return max(0, self.opens - 1)

    def of(self, server_id: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["data"].get("id") == server_id]

    def wait(self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if predicate(event):
                    return event
            time.sleep(0.1)
        seen = [(e["event"], e["data"].get("name")) for e in self.events]
        raise AssertionError(f"no event {what} within {timeout}s on {self.base}; got {seen}")

    def close(self) -> None:
        """Stop reading: no event counts from now on. The thread ends at its next line (a heartbeat at the
        latest): not waited for, as closing a response under a blocked read does not wake it, and waiting
        made each close cost 10 s."""
        self._closing.set()
        if self._response is not None:
            self._response.close()
        self._thread.join(0.5)


def state(event: dict[str, Any]) -> str:
    """An event's server state, comparable between streams (its id is the stream's own cursor)."""
    return json.dumps([event["event"], event["data"]], sort_keys=True)


# ---------------------------------------------------------------------------------------------------- load


@dataclass
class Outcome:
    what: str  # "GET /api/v1/flavor", "create <name>"
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


class Load:
    """Reads and keyed creates through the balancer, from threads, until stop(), with every outcome kept.

    Readers go back to back, each over its own keep-alive session (as a dashboard's would); creators each
    create one server after the other, each with an Idempotency-Key of its own (at most ``max_creates``).
    Nothing is retried here: any failure the balancer lets through is counted.
    """

    def __init__(
        self,
        base: str,
        read_paths: list[str],
        create_body: Callable[[str], dict[str, Any]],
        *,
        label: str,
        readers: int = 3,
        creators: int = 2,
        max_creates: int = 15,
    ) -> None:
        self.base, self.read_paths, self.create_body, self.label = base, read_paths, create_body, label
        self.max_creates = max_creates
        self.outcomes: list[Outcome] = []
        self.created: dict[str, str] = {}  # name -> the id the answer named
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._reader, args=(n,), daemon=True) for n in range(readers)]
        self._threads += [threading.Thread(target=self._creator, args=(n,), daemon=True) for n in range(creators)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _reader(self, n: int) -> None:
        http = requests.Session()
        i = n
        while not self._stop.is_set():
            path = self.read_paths[i % len(self.read_paths)]
            i += 1
            try:
                with http.get(self.base + path, timeout=60) as resp:
                    self.outcomes.append(Outcome(f"GET {path}", resp.status_code, None if resp.ok else resp.text))
            except requests.RequestException as exc:
                self.outcomes.append(Outcome(f"GET {path}", None, type(exc).__name__))
        http.close()

    def _creator(self, n: int) -> None:
        http = requests.Session()
        i = 0
        while not self._stop.is_set() and i < self.max_creates:
            body = self.create_body(f"{self.label}-{n}-{i}")
            i += 1
            headers = {"Idempotency-Key": str(uuid.uuid4())}
            try:
                resp = http.post(self.base + "/api/v1/server", json=body, headers=headers, timeout=300)
                self.outcomes.append(
                    Outcome(f"create {body['name']}", resp.status_code, None if resp.ok else resp.text)
                )
                if resp.status_code == 201:
                    self.created[body["name"]] = resp.json()["id"]
            except requests.RequestException as exc:
                self.outcomes.append(Outcome(f"create {body['name']}", None, type(exc).__name__))
        http.close()

    def stop(self) -> None:
        """Stop, letting each request in flight finish."""
        self._stop.set()
        for thread in self._threads:
            thread.join(300)
            assert not thread.is_alive(), "a request of the load did not finish"

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def counts(self) -> str:
        reads = [o for o in self.outcomes if o.what.startswith("GET")]
        creates = [o for o in self.outcomes if o.what.startswith("create")]
        return (
            f"{sum(o.ok for o in reads)}/{len(reads)} reads and {sum(o.ok for o in creates)}/{len(creates)} keyed "
            "creates succeeded"
        )

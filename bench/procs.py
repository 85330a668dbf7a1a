"""Processes the benchmark starts (the fake cloud, the gateways), and what /proc says of their cost."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.loopback import free_port, stop_group

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# Settings of the gateway and of the naive one: the production defaults (2 workers of 8 threads).
SERVE = {"WORKERS": "2", "THREADS": "8", "LOG_LEVEL": "INFO"}


def clean_environment(settings: dict[str, str]) -> dict[str, str]:
    """This environment without OS_* (the CLI case sets its own) and with ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(settings)
    return env


class Process:
    """A child process in its own process group, stopped with its children."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        stop_group(self.proc, timeout=30)
        self._log.close()
        if self.proc.stdout:
            self.proc.stdout.close()

    def workers(self) -> list[int]:
        """The pids of this process's children (gunicorn's workers)."""
        return children(self.proc.pid)


class FakeCloudProcess(Process):
    def __init__(self, servers: int, latency: float, log: Path) -> None:
        argv = [sys.executable, "-m", "bench.fakecloud", "--servers", str(servers), "--latency", str(latency)]
        super().__init__(argv, clean_environment({}), log)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"the fake cloud did not start: {log.read_text()[-2000:]}")
        self.http = requests.Session()

    def counts(self, reset: bool = False) -> dict[str, int]:
        with self.http.request("POST" if reset else "GET", self.url + "/_bench/counts", timeout=10) as resp:
            return resp.json()

    def resize(self, servers: int) -> None:
        self.http.post(self.url + "/_bench/servers", params={"n": servers}, timeout=120).raise_for_status()

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        super().stop()


class Server(Process):
    """A gateway served by gunicorn on a free loopback port."""

    def __init__(self, argv: list[str], settings: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = clean_environment({**SERVE, **settings, "HOST": "127.0.0.1", "PORT": str(self.port)})
        super().__init__([a.replace("{port}", str(self.port)) for a in argv], env, log)
        try:
            self._wait_until_serving(argv, log)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise

    def _wait_until_serving(self, argv: list[str], log: Path) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv} exited at start: {log.read_text()[-2000:]}")
            try:
                requests.get(self.base + "/api/v1/nothing", timeout=2).close()
                if len(self.workers()) >= int(SERVE["WORKERS"]):
                    return
            except requests.RequestException:  # not listening yet, or its workers still booting
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not answer within 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)


def gateway(settings: dict[str, str], log: Path, checkout: Path = REPO) -> Server:
    """devstack-client as it serves in production: ``python devstack_client/main.py`` (gunicorn).

    ``checkout``: another copy of the repository (a ``git worktree`` of an older commit), whose
    package then runs instead of this one's.
    """
    if checkout != REPO:
        settings = {**settings, "PYTHONPATH": str(checkout)}
    return Server([sys.executable, str(checkout / "devstack_client" / "main.py")], settings, log)


def naive(settings: dict[str, str], log: Path) -> Server:
    argv = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--worker-class", "gthread",
            "--workers", SERVE["WORKERS"], "--threads", SERVE["THREADS"], "--no-control-socket",
            "bench.naive:app"]  # fmt: skip
    return Server(argv, settings, log)


# -- /proc -------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    except OSError:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if int(proc_stat(int(entry.name))[1]) == pid:
                        found.append(int(entry.name))
        return found


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name: [state, ppid, ...]."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes used so far."""
    total = 0
    for pid in pids:
        fields = proc_stat(pid)
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def memory_kb(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+: write 5 to clear_refs); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False

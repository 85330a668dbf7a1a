"""``python -m bench.longlived``: N open long-lived requests under gthread and gevent workers, in one run.

On the loopback fake cloud, the gateway with its default settings (2 workers; 8 threads each under gthread,
1,000 connections each under gevent). A long-lived request is a server list whose Nova call the fake holds
without answering, as a frozen Nova would: it exists today and holds a request as long as we like, as the
coming SSE stream will (a ``?wait=true`` create would too, but the fake has no create). With N of them open,
it measures the p50 of ``GET /api/v1/flavor`` (Nova's flavors are not held) against the idle p50, the
latency of ``GET /healthz`` on a new connection each time (as a prober calls), and the workers' RSS growth
per open request. A call that takes over CALL_TIMEOUT counts as timed out. The catalog cache is off
(``CATALOG_CACHE_SECONDS=0``, the one setting changed), so that the flavor list asks Nova each time, as an
ordinary call does.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import procs
from bench.__main__ import fake_credentials

CALL_TIMEOUT = 5.0
HOLD_SECONDS = 50.0  # under READ_TIMEOUT (60 s): held lists end with the fake's answer, never a 504
HELD = "/servers/detail"  # the server list's Nova call; flavors are /flavors/detail


def timed(get: Any, url: str) -> float | None:
    """Seconds one GET took, or None when it timed out or failed."""
    start = time.perf_counter()
    try:
        with get(url, timeout=CALL_TIMEOUT) as resp:
            ok = resp.status_code == 200
    except requests.RequestException:
        return None
    return time.perf_counter() - start if ok else None


def sample(get: Any, url: str, n: int) -> list[float | None]:
    """n calls in a row; three timeouts in a row end it (a starved gateway would take minutes)."""
    found: list[float | None] = []
    for _ in range(n):
        found.append(timed(get, url))
        if found[-3:] == [None, None, None]:
            break
    return found


def p50_ms(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    return statistics.median(done) * 1000 if done and len(done) == len(values) else None


def open_requests(port: int, n: int) -> list[socket.socket]:
    """n connections, each with one server list sent and its answer not read."""
    opened = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /api/v1/server?limit=1 HTTP/1.1\r\nHost: bench\r\n\r\n")
        opened.append(sock)
    return opened


def held(fake: procs.FakeCloudProcess) -> int:
    return sum(count for key, count in fake.counts().items() if HELD in key)


def rss_kb(gateway: procs.Server) -> int:
    return sum(procs.memory_kb(pid)["VmRSS"] for pid in gateway.workers())


def measure(worker_class: str, n: int, fake: procs.FakeCloudProcess, logs: Path, samples: int) -> dict[str, Any]:
    settings = {**fake_credentials(fake.url), "WORKER_CLASS": worker_class, "CATALOG_CACHE_SECONDS": "0"}
    gateway = procs.gateway(settings, logs / f"gateway-{worker_class}-{n}.log")
    flavor, healthz = gateway.base + "/api/v1/flavor", gateway.base + "/healthz"
    opened: list[socket.socket] = []
    try:
        for _ in range(20):  # both workers connected and warm (a new connection may go to either)
            requests.get(gateway.base + "/api/v1/server?limit=1", timeout=30).close()
        with requests.Session() as dashboard:
            idle = sample(dashboard.get, flavor, samples)
            idle_health = sample(requests.get, healthz, 10)
            before = rss_kb(gateway)
            fake.counts(reset=True)
            fake.http.post(fake.url + "/_bench/stall", params={"path": HELD, "seconds": HOLD_SECONDS}).close()
            opened = open_requests(gateway.port, n)
            deadline = time.monotonic() + 20
            while held(fake) < n and time.monotonic() < deadline:
                time.sleep(0.2)
            stuck = held(fake)
            busy = sample(dashboard.get, flavor, samples)
            busy_health = sample(requests.get, healthz, 10)
            grown = rss_kb(gateway) - before
    finally:
        fake.http.post(fake.url + "/_bench/stall").close()  # release every held list
        for sock in opened:
            sock.close()
        gateway.stop()
    return {
        "worker_class": worker_class,
        "open": n,
        "held_upstream": stuck,
        "idle_flavor_p50_ms": p50_ms(idle),
        "busy_flavor_p50_ms": p50_ms(busy),
        "flavor_timeouts": busy.count(None),
        "idle_healthz_max_ms": max(v or CALL_TIMEOUT for v in idle_health) * 1000,
        "busy_healthz_max_ms": max(v or CALL_TIMEOUT for v in busy_health) * 1000 if busy_health else None,
        "healthz_timeouts": busy_health.count(None),
        "rss_growth_kib_per_request": grown / stuck if stuck else None,
    }


def row(r: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "timed out" if value is None else f"{value:.1f}"

    ratio = (
        f"{r['busy_flavor_p50_ms'] / r['idle_flavor_p50_ms']:.2f}×"
        if r["busy_flavor_p50_ms"] and r["idle_flavor_p50_ms"]
        else f"— ({r['flavor_timeouts']} timed out)"
    )
    health = ms(r["busy_healthz_max_ms"]) if not r["healthz_timeouts"] else f"{r['healthz_timeouts']}/10 timed out"
    per = r["rss_growth_kib_per_request"]
    return (
        f"| {r['worker_class']} | {r['open']} | {r['held_upstream']} | {ms(r['idle_flavor_p50_ms'])} | "
        f"{ms(r['busy_flavor_p50_ms'])} | {ratio} | {ms(r['idle_healthz_max_ms'])} | {health} | "
        f"{'—' if per is None else f'{per:.1f}'} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, nargs="+", default=[100, 1000], help="open long-lived requests")
    parser.add_argument("--samples", type=int, default=40, help="flavor calls per measurement")
    args = parser.parse_args(argv)
    logs = Path(tempfile.mkdtemp(prefix="bench-longlived-"))
    fake = procs.FakeCloudProcess(servers=10, latency=0.002, log=logs / "fakecloud.log")
    try:
        results = [measure(wc, n, fake, logs, args.samples) for n in args.open for wc in ("gthread", "gevent")]
    finally:
        fake.stop()
    print(
        "| workers | open requests | held at Nova | idle flavor p50 ms | flavor p50 ms | ratio | "
        "idle /healthz max ms | /healthz max ms | RSS KiB per held request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(row(r))
    print(f"(logs in {logs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

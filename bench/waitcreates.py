"""100 concurrent ``?wait=true`` creates on the real test cloud, and the reads meanwhile:
``python -m bench.waitcreates [--count N]`` (bash tests/cloud/up.sh first; it takes the cloud tests' lock).

The gateway with its production defaults (2 gevent workers) as the `bulk` user; N clients each POST a
server with ``?wait=true`` at once (each request held until its server is ACTIVE), while one client reads
``GET /api/v1/flavor`` and ``GET /healthz`` in a loop. It prints the creates' statuses and how long they
took, and the reads' p50 and worst against the same reads before the creates; then deletes the servers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.cloudsetup import STATE_DIR, Servers, credentials, describe, locked
from bench.procs import gateway


def reads(base: str, stop: threading.Event, seconds: float | None = None) -> dict[str, list[float]]:
    """Time flavor lists and /healthz, one after the other, until ``stop`` (or for ``seconds``)."""
    times: dict[str, list[float]] = {"/api/v1/flavor": [], "/healthz": []}
    end = time.monotonic() + seconds if seconds else None
    with requests.Session() as http:
        while not stop.is_set() and (end is None or time.monotonic() < end):
            for path, taken in times.items():
                start = time.perf_counter()
                http.get(base + path, timeout=60).raise_for_status()
                taken.append(time.perf_counter() - start)
            time.sleep(0.2)
    return times


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        path: {"n": len(t), "p50_ms": round(statistics.median(t) * 1000, 1), "max_ms": round(max(t) * 1000, 1)}
        for path, t in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waitcreates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args(argv)
    cloud = describe()
    servers = Servers(cloud)
    with locked(STATE_DIR), tempfile.TemporaryDirectory(prefix="bench-wait-") as tmp:
        servers.sweep()
        gw = gateway({**credentials(cloud), "LOG_LEVEL": "WARNING"}, Path(tmp) / "gateway.log")
        try:
            idle = summary(reads(gw.base, threading.Event(), seconds=20))
            body = {
                "image_id": cloud["image"]["id"],
                "flavor_id": cloud["flavors"]["m1.nano"]["id"],
                "network_id": cloud["networks"]["bulk"]["id"],
            }

            def create(n: int) -> tuple[int, float]:
                start = time.monotonic()
                resp = requests.post(
                    gw.base + "/api/v1/server",
                    params={"wait": "true", "timeout": "300"},
                    json={**body, "name": f"{servers.name}-{n:03d}"},
                    timeout=900,
                )
                return resp.status_code, time.monotonic() - start

            stop = threading.Event()
            with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(args.count) as pool:
                during = reader.submit(reads, gw.base, stop)
                time.sleep(1)
                started = time.monotonic()
                answers = list(pool.map(create, range(args.count)))
                took = time.monotonic() - started
                stop.set()
                busy = summary(during.result())
            statuses: dict[int, int] = {}
            for status, _ in answers:
                statuses[status] = statuses.get(status, 0) + 1
            report = {
                "creates": args.count,
                "statuses": statuses,
                "all_answered_after_s": round(took, 1),
                "create_p50_s": round(statistics.median(t for _, t in answers), 1),
                "reads_idle": idle,
                "reads_during_creates": busy,
                "flavor_p50_vs_idle": round(busy["/api/v1/flavor"]["p50_ms"] / idle["/api/v1/flavor"]["p50_ms"], 2),
            }
            print(json.dumps(report, indent=2))
        finally:
            gw.stop()
            servers.delete(servers.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

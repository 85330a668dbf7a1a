"""The server change stream under load, on the fake cloud: ``python -m bench.streams [--short]``.

For 1, 10, 100 and 1,000 open streams (``GET /api/v1/server/events``) on one gateway with the production
defaults (its own process, gunicorn), with and without a shared Redis:

- Nova reads per minute by the feeds (the fake counts them): flat, whatever the number of streams;
- event latency, p50 and p95: from the fake's change of a server (its clock) to each stream's receipt;
- worker memory per open stream (RSS of the workers, before and after opening them, divided);
- ``GET /api/v1/flavor`` p50 with the streams open, against its p50 with none (the ratio); the catalog
  cache is off (``CATALOG_CACHE_SECONDS=0``, the one setting changed): an ordinary call that asks Nova,
  not one the gateway answers from memory;

and, once, a 304 against a full ``GET /api/v1/server?limit=100`` (the same call with ``If-None-Match``).
It prints a table and writes it (and the numbers, as JSON) to ``--out`` (default bench/results/streams.*).
"""

from __future__ import annotations

import argparse
import json
import random
import selectors
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.procs import FakeCloudProcess, gateway, memory_kb
from tests.loopback import redis_server

COUNTS = (1, 10, 100, 1000)
WINDOW = 30.0  # s over which the feeds' reads are counted
TOUCHES = 5  # changes timed per count
WARM = 8  # streams open throughout, spread over the workers


class Streams:
    """``n`` event streams on raw sockets, read by one selector thread: each event with when it came."""

    def __init__(self, base: str, path: str, n: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.selector = selectors.DefaultSelector()
        self.arrivals: dict[str, list[float]] = {}  # a server's name -> when each stream got it
        self.lock = threading.Lock()
        self.buffers: dict[socket.socket, bytes] = {}
        self.open: set[socket.socket] = set()
        for _ in range(n):
            sock = socket.create_connection((host, int(port)), timeout=30)
            # HTTP/1.0: the body comes as it is, with no chunk framing to strip.
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
            sock.setblocking(False)
            self.buffers[sock] = b""
            self.selector.register(sock, selectors.EVENT_READ)
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.opened = self._wait_open(n)

    def _wait_open(self, n: int) -> int:
        deadline = time.monotonic() + 120
        while len(self.open) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        return len(self.open)

    def _read(self) -> None:
        while self.running:
            for key, _ in self.selector.select(timeout=0.5):
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                now = time.monotonic()
                if not data:
                    self.selector.unregister(sock)
                    self.open.discard(sock)
                    continue
                *frames, self.buffers[sock] = (self.buffers[sock] + data).split(b"\n\n")
                for frame in frames:
                    if b"retry: " in frame:  # the stream's first frame: it is open
                        self.open.add(sock)
                    for line in frame.split(b"\n"):
                        if line.startswith(b"data: {"):
                            name = json.loads(line[6:]).get("name")
                            with self.lock:
                                self.arrivals.setdefault(name, []).append(now)

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        for sock in list(self.buffers):
            sock.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def flavor_p50(base: str, n: int = 60) -> float:
    times = []
    with requests.Session() as http:
        http.get(base + "/api/v1/flavor").raise_for_status()
        for _ in range(n):
            start = time.perf_counter()
            http.get(base + "/api/v1/flavor").raise_for_status()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def workers_rss_kb(gw: Any) -> int:
    return sum(memory_kb(pid).get("VmRSS", 0) for pid in gw.workers())


def feed_reads(cloud: FakeCloudProcess) -> int:
    return sum(v for k, v in cloud.counts().items() if k.startswith("GET /compute/v2.1/servers/detail"))


def measure(
    cloud: FakeCloudProcess, settings: dict[str, str], counts: tuple[int, ...], window: float, logs: Path, touches: int
):
    gw = gateway({**settings, "AUTH_URL": cloud.url + "/identity/v3", "USERNAME": "bench", "PASSWORD": "x",
                  "PROJECT_ID": "bench", "CATALOG_CACHE_SECONDS": "0"},
                 logs / f"gateway-{len(settings)}.log")  # fmt: skip
    rows = []
    warm = None
    try:
        idle = flavor_p50(gw.base)
        # A few streams first, open throughout: every worker has its feed (one full list of the servers, held
        # once per worker and identity), so that what is measured per stream is the stream's own cost.
        warm = Streams(gw.base, "/api/v1/server/events", WARM)
        time.sleep(5)
        for n in counts:
            before_kb = workers_rss_kb(gw)
            streams = Streams(gw.base, "/api/v1/server/events", n)
            time.sleep(5)
            opened_kb = workers_rss_kb(gw)
            start = feed_reads(cloud)
            time.sleep(window)
            per_minute = (feed_reads(cloud) - start) * 60 / window
            latencies = []
            for touch in range(touches):
                time.sleep(random.uniform(0, 4))  # any moment of the feeds' 4 s read cycle
                name = f"touched-{n}-{touch}"
                changed = time.monotonic()
                requests.post(f"{cloud.url}/_bench/touch", params={"i": 0, "name": name}).raise_for_status()
                deadline = changed + 30
                while time.monotonic() < deadline and len(streams.arrivals.get(name, [])) < streams.opened:
                    time.sleep(0.05)
                latencies += [arrived - changed for arrived in streams.arrivals.get(name, [])]
            busy = flavor_p50(gw.base)
            rows.append(
                {
                    "streams": n,
                    "opened": streams.opened,
                    "nova_reads_per_minute": round(per_minute, 1),
                    "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
                    "latency_p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
                    "events_received": len(latencies),
                    "events_expected": touches * n,
                    "kib_per_stream": round((opened_kb - before_kb) / n, 1),  # both workers, over the warm ones
                    "flavor_p50_ms": round(busy * 1000, 2),
                    "flavor_p50_vs_idle": round(busy / idle, 2),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            streams.close()
            time.sleep(2)
        return rows, revalidation(gw.base)
    finally:
        if warm is not None:
            warm.close()
        gw.stop()


def revalidation(base: str, n: int = 40) -> dict[str, Any]:
    """A 100-server page: a full GET against a GET with the ETag it had (304, no body)."""
    with requests.Session() as http:
        first = http.get(base + "/api/v1/server?limit=100")
        tag, size = first.headers["ETag"], len(first.content)
        full, revalidated = [], []
        for _ in range(n):
            for headers, times in (({}, full), ({"If-None-Match": tag}, revalidated)):
                start = time.perf_counter()
                resp = http.get(base + "/api/v1/server?limit=100", headers=headers)
                times.append(time.perf_counter() - start)
        assert resp.status_code == 304
    return {
        "full_p50_ms": round(statistics.median(full) * 1000, 2),
        "not_modified_p50_ms": round(statistics.median(revalidated) * 1000, 2),
        "body_bytes_full": size,
        "body_bytes_304": 0,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        "# The server change stream under load (fake cloud)",
        "",
        f"`python -m bench.streams{' --short' if results['short'] else ''}`, {results['when']}; the gateway with "
        "its production defaults (2 workers) but the catalog cache off (each flavor list asks Nova), "
        "the fake cloud with 1,000 servers and 2 ms per answer.",
        "",
        "| Redis | streams | open | Nova reads / min | event latency p50 / p95 | KiB per stream "
        "| flavor p50 (× idle) |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, rows in results["modes"].items():
        for r in rows:
            lines.append(
                f"| {mode} | {r['streams']} | {r['opened']} | {r['nova_reads_per_minute']} "
                f"| {r['latency_p50_s']} s / {r['latency_p95_s']} s ({r['events_received']}/{r['events_expected']}) "
                f"| {r['kib_per_stream']} | {r['flavor_p50_ms']} ms ({r['flavor_p50_vs_idle']}×) |"
            )
    reval = results["revalidation"]
    lines += [
        "",
        f"A 100-server page: full GET p50 {reval['full_p50_ms']} ms ({reval['body_bytes_full']} bytes), "
        f"with its ETag in If-None-Match p50 {reval['not_modified_p50_ms']} ms (304, no body).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="1 and 10 streams, 10 s windows, 2 changes each, no Redis")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    counts, window, touches = ((1, 10), 10.0, 2) if args.short else (COUNTS, WINDOW, TOUCHES)
    results: dict[str, Any] = {"short": args.short, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        logs = Path(tmp)
        cloud = FakeCloudProcess(1000, 0.002, logs / "fake.log")
        try:
            results["modes"] = {}
            rows, results["revalidation"] = measure(cloud, {}, counts, window, logs, touches)
            results["modes"]["no"] = rows
            if not args.short:
                with redis_server() as (url, _):
                    results["modes"]["yes"], _ = measure(cloud, {"REDIS_URL": url}, counts, window, logs, touches)
        finally:
            cloud.stop()
    text = report(results)
    print(text)
    if not args.short:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "streams.md").write_text(text)
        (args.out / "streams.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

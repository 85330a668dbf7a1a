"""``python -m bench.profile [--op list|show|flavors] [--calls N] [--top N]``: where a gateway call's time goes.

The app runs in this process (Flask's test client, no gunicorn and no HTTP
hop), configured as main.py configures a gunicorn worker (JSON log lines,
multiprocess metrics), against the benchmark's fake cloud in its own
process. It warms up, then runs ``--calls`` calls under cProfile and prints
the top functions by own time and by cumulative time, and each call's mean
wall and CPU time without the profiler, the best of 10 batches (the CPU is
the gateway's alone: the fake runs in another process). bench/README.md quotes its output.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging.config
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench import fakecloud, procs
from bench.__main__ import fake_credentials
from bench.cases import PAGE

PATHS = {
    "list": f"/api/v1/server?limit={PAGE}",
    "show": "/api/v1/server/" + fakecloud.server_id(0),
    "flavors": "/api/v1/flavor",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--op", choices=tuple(PATHS), default="list")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--servers", type=int, default=1000, help="servers in the fake cloud")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.002, help="seconds the fake adds to each answer")
    args = parser.parse_args(argv)

    # As main.py does for gunicorn: prometheus-client picks its mode when first imported.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-profile-metrics-")
    from devstack_client import create_app
    from devstack_client import logs as gateway_logs
    from devstack_client.config import load

    logs = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    fake = procs.FakeCloudProcess(servers=args.servers, latency=args.latency, log=logs / "fakecloud.log")
    try:
        credentials = {**fake_credentials(fake.url), "LOG_LEVEL": "INFO"}
        logging.config.dictConfig(gateway_logs.logging_config(load(environ=credentials)))
        # The access log goes to a file, as gunicorn's stderr does in the benchmark.
        for handler in logging.getLogger().handlers:
            handler.setStream(open(logs / "gateway.log", "a"))  # noqa: SIM115 - for the process's life
        client = create_app(credentials).test_client()
        path = PATHS[args.op]
        for _ in range(30):
            _get(client, path)
        plain, cpu = _timed(client, path, args.calls)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.calls):
            _get(client, path)
        profiler.disable()
    finally:
        fake.stop()
    print(
        f"GET {path}: {plain * 1000:.2f} ms a call in-process ({cpu * 1000:.2f} ms of CPU), without the profiler "
        f"({args.calls} calls; the fake's {args.latency * 1000:g} ms per upstream answer included)"
    )
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order)
        stats.print_stats(args.top)
        print(out.getvalue())
    return 0


def _timed(client, path: str, calls: int, batches: int = 10) -> tuple[float, float]:
    """Wall and CPU seconds a call, each the best of ``batches`` batches: on shared cores, the least disturbed."""
    walls, cpus = [], []
    for _ in range(batches):
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(max(1, calls // batches)):
            _get(client, path)
        walls.append((time.perf_counter() - start) / max(1, calls // batches))
        cpus.append((time.process_time() - cpu_start) / max(1, calls // batches))
    return min(walls), min(cpus)


def _get(client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.floor [--rounds N] [--against DIR]``: what a gateway under gunicorn costs before its code runs.

Interleaved, on the fake cloud, p50 of: the direct calls (the floor of
bench/README.md), a WSGI app that answers ``{}`` at once under gunicorn
with the gateway's worker class (gevent, the default) and with gthread (the
HTTP hop alone: the client's requests, gunicorn's parsing, its greenlets or
threads), the gateway's ``/healthz`` (the hop and Flask with our hooks, no
upstream call) and the gateway's operations, as it serves by default and
with its catalog cache off (``CATALOG_CACHE_SECONDS=0``: the same upstream
calls as direct). A gateway making direct's calls cannot be below (direct +
hop) / direct, the hop being its worker class's; the cache takes a flavor
list's Nova call and a server list's Glance call off a repeated call.

The benchmark calls the gateway with requests, as the direct case calls
OpenStack. The hop and the gateway are also timed with a client that costs
little (http.client on a keep-alive connection, the body JSON-decoded, as
curl or a browser would): the difference is the requests library's own
time in the client, not the gateway's.

``--against DIR`` also times the gateway of another checkout (``git worktree
add DIR <commit>``), interleaved with this one's: a change's effect, measured
in one run, whatever the hour does to these cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench import cases, fakecloud, procs
from bench.__main__ import fake_credentials
from devstack_client.main import GEVENT_WORKER

HOP = "hop alone (gunicorn gevent, WSGI {})"
HOP_LIGHT = "hop alone, light client"


class LightClient:
    """One keep-alive connection with http.client: a client whose own time is small beside requests'."""

    def __init__(self, base: str) -> None:
        url = urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)

    def get(self, path: str) -> Any:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path} answered {resp.status}: {body[:300]!r}")
        return json.loads(body)


def hello(environ: dict, start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.002, help="seconds the fake adds to each answer")
    parser.add_argument(
        "--against", type=Path, default=None, metavar="DIR", help="also time another checkout's gateway"
    )
    args = parser.parse_args(argv)
    if args.against is not None and not (args.against / "devstack_client" / "main.py").is_file():
        parser.error(f"--against {args.against}: no devstack_client/main.py there")
    logs = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    fake = procs.FakeCloudProcess(servers=1000, latency=args.latency, log=logs / "fakecloud.log")
    started: list[procs.Server] = []
    try:
        credentials = fake_credentials(fake.url)
        gateway = cases.HttpGateway("gateway", procs.gateway(credentials, logs / "gateway.log"), fakecloud.server_id(0))
        started.append(gateway.server)
        uncached = cases.HttpGateway(
            "gateway, catalog cache off",
            procs.gateway({**credentials, "CATALOG_CACHE_SECONDS": "0"}, logs / "gateway-uncached.log"),
            fakecloud.server_id(0),
        )
        started.append(uncached.server)
        hello = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", procs.SERVE["WORKERS"],
                 "--keep-alive", "75", "--no-control-socket", "bench.floor:hello"]  # fmt: skip
        bare = procs.Server([*hello, "--worker-class", GEVENT_WORKER], {}, logs / "hello-gevent.log")
        started.append(bare)
        threaded = procs.Server(
            [*hello, "--worker-class", "gthread", "--threads", procs.SERVE["THREADS"]], {}, logs / "hello-gthread.log"
        )
        started.append(threaded)
        against: cases.HttpGateway | None = None
        if args.against is not None:
            against = cases.HttpGateway(
                f"gateway of {args.against}",
                procs.gateway(credentials, logs / "gateway-against.log", checkout=args.against.resolve()),
                fakecloud.server_id(0),
            )
            started.append(against.server)
        direct = cases.Direct(credentials, fakecloud.server_id(0))
        http = requests.Session()
        light, light_hop = LightClient(gateway.server.base), LightClient(bare.base)
        calls = {
            **{f"direct {op}": (lambda op=op: direct.call(op)) for op in cases.OPS},
            HOP: lambda: http.get(bare.base + "/").content,
            "hop alone under gthread": lambda: http.get(threaded.base + "/").content,
            "gateway /healthz": lambda: gateway.get("/healthz"),
            **{f"gateway {op}": (lambda op=op: gateway.get(gateway.paths[op])) for op in cases.OPS},
            **{f"gateway {op}, cache off": (lambda op=op: uncached.get(uncached.paths[op])) for op in cases.OPS},
            HOP_LIGHT: lambda: light_hop.get("/"),
            **{f"gateway {op}, light client": (lambda op=op: light.get(gateway.paths[op])) for op in cases.OPS},
        }
        if against is not None:
            calls.update({f"gateway {op}, against": (lambda op=op: against.get(against.paths[op])) for op in cases.OPS})
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(30):
            for call in calls.values():
                call()
        for _ in range(args.rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    finally:
        for server in started:
            server.stop()
        fake.stop()
    p50 = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, value in p50.items():
        print(f"{name:42} p50 {value:6.2f} ms")
    runs = [("", HOP, ""), ("catalog cache off: ", HOP, ", cache off"), ("light client: ", HOP_LIGHT, ", light client")]
    if args.against is not None:
        runs.append((f"{args.against}: ", HOP, ", against"))
    for client, hop_name, suffix in runs:
        hop = p50[hop_name]
        for op in cases.OPS:
            direct_ms, gateway_ms = p50[f"direct {op}"], p50[f"gateway {op}{suffix}"]
            floor = (direct_ms + hop) / direct_ms
            own = gateway_ms - direct_ms - hop
            print(
                f"{op:8} {client}gateway {gateway_ms / direct_ms:.2f}x direct; floor with the hop {floor:.2f}x; "
                f"own {own:.2f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark's short mode, on its loopback fake cloud, so that it cannot rot.

It runs `python -m bench --short` as CI would (the gateway under gunicorn, the
direct and naive cases; not the CLI), and checks what it counted: the exact
upstream requests of each API call in steady state. Never its times. About a
minute of wall time on 2 cores.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

DIRECT_CALLS = {
    "list": {"GET /compute/v2.1/servers/detail": 1, "GET /image/v2/images": 1},
    "show": {"GET /compute/v2.1/servers/{id}": 1, "GET /network/v2.0/ports": 1},  # + the security groups' ids
    "flavors": {"GET /compute/v2.1/flavors/detail": 1},
}
# Repeated within CATALOG_CACHE_SECONDS, the image names and the flavor list come from the catalog cache.
GATEWAY_CALLS = {
    "list": {"GET /compute/v2.1/servers/detail": 1},
    "show": DIRECT_CALLS["show"],
    "flavors": {},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--backend", "fake", "--short", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (out / "bench.png").stat().st_size > 10_000
    assert "## Targets" in (out / "results.md").read_text()
    return json.loads((out / "results.json").read_text())["backends"]["fake"]


@pytest.mark.parametrize(("case", "expected"), [("gateway", GATEWAY_CALLS), ("direct", DIRECT_CALLS)])
@pytest.mark.parametrize("op", DIRECT_CALLS)
def test_steady_state_costs_exactly_the_calls_needed(results, case, expected, op):
    counted = results["upstream"][case][op]
    assert counted["requests"] == expected[op]  # direct makes its calls one after the other
    assert counted["token"] == 0
    assert counted["discovery"] == 0


@pytest.mark.parametrize("op", DIRECT_CALLS)
def test_the_naive_gateway_pays_a_token_and_discovery_every_call(results, op):
    counted = results["upstream"]["naive"][op]
    assert counted["token"] == 1
    assert counted["discovery"] >= 1
    for request, n in DIRECT_CALLS[op].items():
        if request != "GET /network/v2.0/ports":  # openstacksdk's get_server reads the server only
            assert counted["requests"][request] >= n


def test_every_case_was_measured_at_every_size_and_concurrency(results):
    for size in results["sizes"].values():
        for case in ("gateway", "direct", "naive"):
            for op in DIRECT_CALLS:
                assert size["latency"][case][op]["n"] >= 1
    for case in ("gateway", "direct", "naive"):
        assert set(results["throughput"][case]) == {"1", "8"}
        assert all(level["calls"] >= 1 for level in results["throughput"][case].values())


def test_listing_every_server_walks_every_page_once(results):
    for walk in results["walk"]:
        assert walk["servers"] == walk["expected"]
        assert walk["pages"] == math.ceil(walk["expected"] / walk["limit"])


def test_the_stream_benchmarks_short_mode_runs_and_every_stream_gets_every_event():
    """`python -m bench.streams --short`: 1 and 10 streams; what it counted, never its times."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.streams", "--short"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"streams"')]
    assert [(r["streams"], r["opened"]) for r in rows] == [(1, 1), (10, 10)]
    assert all(r["events_received"] == r["events_expected"] for r in rows), rows
    # One feed per worker whatever the number of streams: reads do not grow tenfold with them.
    assert rows[1]["nova_reads_per_minute"] <= 2 * rows[0]["nova_reads_per_minute"], rows
    assert "304, no body" in run.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["bench.floor", "--rounds", "3", "--against", str(REPO)],
            [
                "list     gateway",
                "flavors  catalog cache off: gateway",
                "show     light client: gateway",
                f"show     {REPO}: gateway",
            ],
        ),
        (["bench.profile", "--op", "list", "--calls", "10", "--servers", "20"], ["GET /api/v1/server?limit=100: "]),
    ],
    ids=["floor", "profile"],
)
def test_the_tools_the_readme_quotes_still_run(argv, expected):
    # bench.profile once broke unnoticed (an import moved): nothing else runs these.
    run = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for line in expected:
        assert line in run.stdout, run.stdout[-3000:]

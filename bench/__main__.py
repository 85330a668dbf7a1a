"""``python -m bench [--backend fake|cloud|both] [--short]``: the gateway's speed and cost, side by side.

See bench/README.md for what each case and number means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cases, cloudsetup, fakecloud, procs, report
from bench.counting import AccessLogCounter, FakeCounter
from bench.run import CLOUD, FULL, SHORT, Backend, Plan, log, run_backend
from tests.fakes import PROJECT_ID

HERE = Path(__file__).resolve().parent
CLOUD_SERVERS = 100


def start_cases(credentials: dict[str, str], show_id: str, logs: Path, cli: str | None) -> list[cases.Case]:
    started: list[cases.Case] = []
    try:
        started.append(cases.HttpGateway("gateway", procs.gateway(credentials, logs / "gateway.log"), show_id))
        started.append(cases.Direct(credentials, show_id))
        started.append(cases.HttpGateway("naive", procs.naive(credentials, logs / "naive.log"), show_id))
        if cli:
            started.append(cases.Cli(credentials, show_id, cli))
    except BaseException:
        for case in started:
            case.stop()
        raise
    return started


def fake_credentials(url: str) -> dict[str, str]:
    return {
        "AUTH_URL": url + "/identity/v3",
        "USERNAME": "bench",
        "PASSWORD": "bench-pw",
        "PROJECT_ID": PROJECT_ID,
        "USER_DOMAIN_NAME": "Default",
    }


def run_fake(plan: Plan, logs: Path, cli: str | None, latency: float, out: dict[str, Any]) -> dict[str, Any]:
    fake = procs.FakeCloudProcess(servers=max(plan.sizes), latency=latency, log=logs / "fakecloud.log")
    started: list[cases.Case] = []
    try:
        started = start_cases(fake_credentials(fake.url), fakecloud.server_id(0), logs, cli)
        backend = Backend(
            "fake", started, FakeCounter(fake), resize=fake.resize, sizes=plan.sizes,
            notes=[f"loopback fake of Keystone, Nova, Glance and Neutron, {latency * 1000:g} ms added to each answer"],
        )  # fmt: skip
        return run_backend(backend, plan, out)
    finally:
        for case in started:
            case.stop()
        fake.stop()


def run_cloud(plan: Plan, logs: Path, cli: str | None, keep: bool, out: dict[str, Any]) -> dict[str, Any]:
    cloud = cloudsetup.describe()
    with cloudsetup.locked(Path(cloud["state_dir"])):
        servers = cloudsetup.Servers(cloud)
        servers.sweep()
        count = min(CLOUD_SERVERS, max(plan.sizes))
        log(f"cloud: booting {count} servers as {cloudsetup.USER} ({servers.name}-*)")
        start = time.monotonic()
        booted = servers.boot(count)
        log(f"cloud: {count} servers ACTIVE in {time.monotonic() - start:.0f} s")
        started: list[cases.Case] = []
        try:
            creds = cloudsetup.credentials(cloud)
            started = start_cases(creds, booted[0]["id"], logs, cli)
            for case in started:
                if case.name == "naive":
                    # at 32 clients its calls outlast any sane client timeout (> 120 s) on this cloud
                    case.max_concurrency = 8
            counter = AccessLogCounter(cloud["access_logs"], creds["PROJECT_ID"], creds["USERNAME"])
            backend = Backend(
                "cloud", started, counter,
                notes=[f"the real mini cloud of tests/cloud (Nova with its fake virt driver), {count} servers "
                       f"of the `{cloudsetup.USER}` project"],
            )  # fmt: skip
            return run_backend(backend, plan, out)
        finally:
            for case in started:
                case.stop()
            if not keep:
                log("cloud: deleting the servers")
                servers.delete()


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backend", choices=("fake", "cloud", "both", "none"), default="fake", help="none: only report --merge's"
    )
    parser.add_argument("--short", action="store_true", help="small sizes, few rounds, no CLI (CI's mode)")
    parser.add_argument("--no-cli", action="store_true", help="leave out the `openstack` CLI case")
    parser.add_argument("--latency", type=float, default=0.002, help="seconds the fake adds to each answer")
    parser.add_argument("--keep", action="store_true", help="keep the real cloud's servers at the end")
    parser.add_argument("--out", type=Path, default=None, help="directory for results.json, results.md, bench.png")
    parser.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        metavar="RESULTS_JSON",
        help="also report the backends of an earlier run's results.json (repeatable)",
    )
    args = parser.parse_args(argv)

    plan = SHORT if args.short else FULL
    cli = None if args.short or args.no_cli else shutil.which("openstack") or _venv_openstack()
    if args.backend != "none" and not args.short and not args.no_cli and not cli:
        parser.error("the CLI case needs python-openstackclient: pip install -e '.[bench]' (or pass --no-cli)")
    out = args.out or (HERE / "results" if not args.short else Path(tempfile.mkdtemp(prefix="bench-")))
    out.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    results: dict[str, Any] = {"machine": machine(), "mode": "short" if args.short else "full", "backends": {}}
    log(f"results in {out}, process logs in {logs}")
    try:
        if args.backend in ("fake", "both"):
            run_fake(plan, logs, cli, args.latency, results["backends"].setdefault("fake", {}))
        if args.backend in ("cloud", "both"):
            run_cloud(plan if args.short else CLOUD, logs, cli, args.keep, results["backends"].setdefault("cloud", {}))
    except BaseException:
        (out / "results.partial.json").write_text(json.dumps(results, indent=1) + "\n")
        log(f"failed; what was measured is in {out / 'results.partial.json'}")
        raise
    for path in args.merge:
        earlier = json.loads(path.read_text())
        if args.backend == "none" and not results["backends"]:
            results["machine"], results["mode"] = earlier["machine"], earlier["mode"]
        for name, backend in earlier["backends"].items():
            if earlier["machine"] != results["machine"]:
                backend["notes"].append(f"measured in a run of {earlier['machine']['date']}")
            results["backends"].setdefault(name, backend)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    report.plot(results, out / "bench.png")
    print(report.markdown(results))
    log(f"wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'bench.png'}")
    return 0


def _venv_openstack() -> str | None:
    candidate = Path(sys.executable).parent / "openstack"
    return str(candidate) if candidate.exists() else None


if __name__ == "__main__":
    sys.exit(main())

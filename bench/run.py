"""Run the cases side by side on one backend: upstream counts, latency, throughput, CPU, memory."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import procs
from bench.cases import OPS, PAGE, Case, HttpGateway

CONCURRENCY = (1, 8, 32)


@dataclass
class Plan:
    """How much to measure (the full run, or CI's short mode)."""

    sizes: tuple[int, ...]  # numbers of servers (the fake only)
    rounds: int  # interleaved latency rounds per size
    cli_rounds: int  # of which the CLI takes part in this many (it takes ~1-2 s a call)
    count_calls: int  # calls per case and operation while counting upstream calls
    concurrency: tuple[int, ...]
    duration: float  # seconds per throughput measurement
    walk: bool  # page through all servers of the largest size and watch the workers' memory


FULL = Plan(sizes=(10, 1000, 10000), rounds=25, cli_rounds=5, count_calls=5, concurrency=CONCURRENCY, duration=4.0,
            walk=True)  # fmt: skip
# The real cloud: fewer rounds (Nova takes ~1 s a page there), so the cloud's lock is held ~10 minutes.
CLOUD = Plan(sizes=(100,), rounds=10, cli_rounds=3, count_calls=3, concurrency=CONCURRENCY, duration=3.0, walk=False)
SHORT = Plan(sizes=(10, 300), rounds=5, cli_rounds=1, count_calls=3, concurrency=(1, 8), duration=0.5, walk=True)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass
class Backend:
    """What a run needs of a cloud: the cases, a counter of upstream calls, and how to change its size."""

    name: str
    cases: list[Case]
    counter: Any
    resize: Callable[[int], None] | None = None
    sizes: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def count_upstream(backend: Backend, plan: Plan) -> dict[str, dict[str, Any]]:
    """Per case and operation: the upstream requests of one API call, in steady state (after a warm-up)."""
    from bench.counting import summarize

    result: dict[str, dict[str, Any]] = {}
    for case in backend.cases:
        result[case.name] = {}
        for op in OPS:
            case.call(op)  # warm (the naive and the CLI cases never are: that is their point)
            calls = 1 if case.name == "cli" else plan.count_calls
            backend.counter.start()
            for _ in range(calls):
                case.call(op)
            result[case.name][op] = summarize(backend.counter.stop(), calls)
    return result


def warm_up(backend: Backend) -> None:
    """Every case answers every operation once; every gateway worker gets its connection."""
    for case in backend.cases:
        if case.name == "gateway":
            run_concurrently(case, "flavors", threads=8, calls=32)
        for op in OPS:
            case.call(op)


def run_concurrently(case: Case, op: str, threads: int, calls: int | None = None, duration: float | None = None):
    """``threads`` clients calling ``op`` in a loop; return (calls done, seconds, CPU seconds reported)."""
    done = [0] * threads
    cpu = [0.0] * threads
    errors: list[BaseException] = []
    start_barrier = threading.Barrier(threads + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        start_barrier.wait()
        try:
            while (calls is None or sum(done) < calls) and (duration is None or time.perf_counter() < deadline[0]):
                used = case.call(op)
                done[i] += 1
                cpu[i] += used or 0.0
        except BaseException as exc:  # reported below, in the caller's thread
            errors.append(exc)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    gateway_cpu = case.cpu() if isinstance(case, HttpGateway) else None
    start = time.perf_counter()
    deadline[0] = start + (duration or 1e9)
    start_barrier.wait()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    if gateway_cpu is not None:  # concurrent calls overlap: only the workers' total is meaningful
        return sum(done), elapsed, case.cpu() - gateway_cpu
    return sum(done), elapsed, sum(cpu)


def latency(backend: Backend, plan: Plan) -> dict[str, Any]:
    """Interleaved rounds: each round calls every case once per operation, the order rotating."""
    times: dict[str, dict[str, list[float]]] = {c.name: {op: [] for op in OPS} for c in backend.cases}
    cpus: dict[str, dict[str, list[float]]] = {c.name: {op: [] for op in OPS} for c in backend.cases}
    cases = list(backend.cases)
    for r in range(plan.rounds):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for case in order:
            if case.name == "cli" and r >= plan.cli_rounds:
                continue
            for op in OPS:
                start = time.perf_counter()
                used = case.call(op)
                times[case.name][op].append(time.perf_counter() - start)
                if used is not None:
                    cpus[case.name][op].append(used)
    return {
        name: {
            op: {
                "n": len(values),
                "p50_ms": statistics.median(values) * 1000,
                "p95_ms": percentile(values, 95) * 1000,
                # a mean: /proc counts CPU in 10 ms ticks, too coarse for one call
                "cpu_ms": statistics.fmean(cpus[name][op]) * 1000 if cpus[name][op] else None,
            }
            for op, values in ops.items()
            if values
        }
        for name, ops in times.items()
    }


def throughput(backend: Backend, plan: Plan) -> dict[str, Any]:
    """Requests per second listing a page, at each concurrency, the cases interleaved."""
    result: dict[str, dict[str, Any]] = {}
    for threads in plan.concurrency:
        for case in backend.cases:
            if threads > case.max_concurrency:
                continue
            try:
                done, elapsed, cpu = run_concurrently(case, "list", threads, duration=plan.duration)
            except Exception as exc:  # e.g. a client's read timeout: that is a result too
                result.setdefault(case.name, {})[str(threads)] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                log(f"  {case.name:8} list x{threads:<2}: failed: {type(exc).__name__}")
                continue
            result.setdefault(case.name, {})[str(threads)] = {
                "rps": done / elapsed,
                "calls": done,
                "cpu_ms_per_call": cpu / done * 1000 if done else None,
            }
            log(f"  {case.name:8} list x{threads:<2}: {done / elapsed:7.1f} req/s")
    return result


def memory(backend: Backend) -> dict[str, Any]:
    return {case.name: case.peak_memory_kb() for case in backend.cases}


def reset_peaks(backend: Backend) -> bool:
    ok = True
    for case in backend.cases:
        if isinstance(case, HttpGateway):
            ok = all(procs.reset_peak(pid) for pid in case.workers) and ok
    return ok


def walk(gateway: HttpGateway, total: int, limit: int) -> dict[str, Any]:
    """List every server through the gateway, page by page; the workers' memory before and after."""
    before = {pid: procs.memory_kb(pid) for pid in gateway.workers}
    peaks_reset = all(procs.reset_peak(pid) for pid in gateway.workers)
    marker, pages, seen = None, 0, 0
    start = time.perf_counter()
    while True:
        body = gateway.get(
            f"/api/v1/server?limit={limit}&fields=id,name,image" + (f"&marker={marker}" if marker else "")
        )
        pages += 1
        seen += len(body["servers"])
        marker = body["next_marker"]
        if not marker:
            break
    elapsed = time.perf_counter() - start
    after = {pid: procs.memory_kb(pid) for pid in gateway.workers}
    return {
        "servers": seen,
        "expected": total,
        "limit": limit,
        "pages": pages,
        "seconds": elapsed,
        "rss_before_kb": max(m["VmRSS"] for m in before.values()),
        "hwm_before_kb": max(m["VmHWM"] for m in before.values()),
        "rss_after_kb": max(m["VmRSS"] for m in after.values()),
        "hwm_after_kb": max(m["VmHWM"] for m in after.values()),
        "peaks_reset": peaks_reset,
    }


def run_backend(backend: Backend, plan: Plan, out: dict[str, Any]) -> dict[str, Any]:
    """Measure; fill ``out`` as it goes, so that a failure keeps what was measured."""
    out.update({"cases": [c.name for c in backend.cases], "notes": backend.notes, "sizes": {}})
    sizes = backend.sizes or (None,)
    page_size = next((s for s in sizes if s is None or s >= PAGE), sizes[-1])
    if backend.resize and page_size is not None:
        backend.resize(page_size)
    log(f"{backend.name}: warming up")
    warm_up(backend)
    log(f"{backend.name}: counting upstream calls per API call")
    out["upstream"] = count_upstream(backend, plan)
    for size in sizes:
        if backend.resize and size is not None:
            backend.resize(size)
            for case in backend.cases:
                if case.name != "cli":
                    case.call("list")
        reset_peaks(backend)
        log(f"{backend.name}: latency, {size or 'all'} servers, {plan.rounds} rounds")
        result = latency(backend, plan)
        result_memory = memory(backend)
        out["sizes"][str(size or PAGE)] = {"latency": result, "peak_memory_kb": result_memory}
        for name, ops in result.items():
            summary = ", ".join(f"{op} p50 {v['p50_ms']:.1f} ms" for op, v in ops.items())
            log(f"  {name:8} {summary}")
    if backend.resize and page_size is not None:
        backend.resize(page_size)
    log(f"{backend.name}: throughput at {page_size or PAGE} servers")
    out["throughput_servers"] = page_size or PAGE
    out["throughput"] = {}
    out["throughput"] = throughput(backend, plan)
    gateway = next(c for c in backend.cases if c.name == "gateway")
    if plan.walk and backend.resize:
        largest = max(sizes)
        backend.resize(largest)
        log(f"{backend.name}: walking all {largest} servers through the gateway")
        out["walk"] = [walk(gateway, largest, limit) for limit in (1000, 100)]
    return out

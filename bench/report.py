"""The benchmark's results as a Markdown table (results.md) and a plot (bench.png)."""

from __future__ import annotations

from typing import Any

from bench.cases import OPS, PAGE


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _mib(kb: int | None) -> str:
    return "—" if not kb else f"{kb / 1024:.0f}"


def _requests(summary: dict[str, Any]) -> str:
    return ", ".join(f"{n:g}× `{key}`" for key, n in summary["requests"].items()) or "none"


def page_latency(backend: dict[str, Any], case: str, op: str = "list") -> float | None:
    """The p50 of an operation at the size of a full page (the first size of at least PAGE servers)."""
    sizes = sorted(backend["sizes"], key=int)
    size = next((s for s in sizes if int(s) >= PAGE), sizes[-1])
    return backend["sizes"][size]["latency"].get(case, {}).get(op, {}).get("p50_ms")


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, met?) for each performance target this run measured (the rows of "## Targets")."""
    rows: list[tuple[str, str, str]] = []
    for name, backend in results["backends"].items():
        up = backend["upstream"]["gateway"]
        # A show: the server, and its ports' groups (their ids). Repeated within CATALOG_CACHE_SECONDS, a list's
        # image names and the flavor list come from the catalog cache (1 and 2 calls without it, as direct).
        expected = {"list": 1, "show": 2, "flavors": 0}
        for op in OPS:
            s = up[op]
            ok = s["total"] == expected[op] and s["token"] == 0 and s["discovery"] == 0
            rows.append(
                (f"{name}: `{op}` costs exactly {expected[op]} upstream call(s), 0 token, 0 discovery",
                 f"{_requests(s)}; token {s['token']:g}, discovery {s['discovery']:g}", "yes" if ok else "**no**")
            )  # fmt: skip
        gw, direct, cli = (page_latency(backend, c) for c in ("gateway", "direct", "cli"))
        if gw and direct:
            ratio = gw / direct
            # the target is the real cloud's; on the fake (2 ms answers) the ratio shows the gateway's own cost
            met = ("yes" if ratio <= 1.2 else "**no**") if name == "cloud" else "(the target is the cloud's)"
            rows.append((f"{name}: gateway p50 ≤ 1.2× direct ({PAGE}-server page)", f"{ratio:.2f}×", met))
        if name == "fake":  # issue #12, item 7: the gateway's own cost, where the upstream answers are fast
            for op in OPS:
                g, d = page_latency(backend, "gateway", op), page_latency(backend, "direct", op)
                if g and d:
                    met = "yes" if g / d <= 1.3 else "**no**"
                    rows.append((f"fake: `{op}` p50 ≤ 1.3× direct (the gateway's own cost)", f"{g / d:.2f}×", met))
        if gw and cli:
            ratio = cli / gw
            rows.append((f"{name}: gateway ≥ 20× faster than the CLI (same listing)", f"{ratio:.0f}×",
                         "yes" if ratio >= 20 else "**no**"))  # fmt: skip
        sizes = sorted((int(s) for s in backend["sizes"]), reverse=True)
        if len(sizes) >= 2 and sizes[1] >= PAGE:
            big, small = backend["sizes"][str(sizes[0])], backend["sizes"][str(sizes[1])]
            t = big["latency"]["gateway"]["list"]["p50_ms"] / small["latency"]["gateway"]["list"]["p50_ms"]
            m = big["peak_memory_kb"]["gateway"] / small["peak_memory_kb"]["gateway"]
            met = "yes" if t < 1.3 and m < 1.1 else "**no**"
            what = f"{name}: {sizes[0] // sizes[1]}× more servers, same page time and memory"
            rows.append((what, f"time {t:.2f}×, worker peak memory {m:.2f}×", met))
        for w in backend.get("walk", []):
            grown = (w["hwm_after_kb"] - w["rss_before_kb"]) / 1024
            met = "yes" if w["servers"] == w["expected"] and grown < 5 * w["limit"] / 100 else "**no**"
            rows.append(
                (
                    f"{name}: listing all {w['expected']} servers, pages of {w['limit']}, keeps memory flat",
                    f"{w['servers']} listed in {w['pages']} pages, {w['seconds']:.1f} s; worker peak "
                    f"{_mib(w['rss_before_kb'])} → {_mib(w['hwm_after_kb'])} MiB (+{grown:.1f})",
                    met,
                )
            )
        cpu, naive = page_latency_cpu(backend, "gateway"), page_latency_cpu(backend, "naive")
        if cpu is not None:
            versus = f" (naive, with SDK objects: {naive * 1000 / PAGE:.0f} µs)" if naive else ""
            rows.append((f"{name}: CPU per listed server", f"gateway {cpu * 1000 / PAGE:.0f} µs{versus}", "measured"))
    return rows


def page_latency_cpu(backend: dict[str, Any], case: str) -> float | None:
    """CPU ms of a list call at the size of a full page."""
    sizes = sorted(backend["sizes"], key=int)
    size = next((s for s in sizes if int(s) >= PAGE), sizes[-1])
    return backend["sizes"][size]["latency"].get(case, {}).get("list", {}).get("cpu_ms")


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Benchmark results ({results['mode']} run, {m['date']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, Linux {m['kernel']}; "
        f"load average at start {', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}. The fake cloud, both "
        "gateways (2 gunicorn workers each: ours gevent, the production default; the naive one 8 threads each) and "
        "the clients share these cores.",
        "",
        "Cases: **gateway** = devstack-client under gunicorn, as configured by default (its catalog cache answers "
        "repeated flavor lists and image names); **direct** = each answer's upstream calls from a warm keystoneauth "
        "session (the gateway's calls without the cache); **naive** = a gateway opening a new openstacksdk "
        "connection per request; "
        "**cli** = `openstack server list --limit 100` (and `server show`, `flavor list`), a new process each time.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *[f"| {t} | {v} | {ok} |" for t, v, ok in targets(results)],
    ]
    for name, backend in results["backends"].items():
        lines += ["", f"## Backend: {name}", "", *[f"- {note}" for note in backend["notes"]], ""]
        lines += ["### Upstream calls per API call (steady state, after one warm-up call)", ""]
        lines += ["| case | operation | upstream requests per call | token | discovery |", "|---|---|---|---|---|"]
        for case, ops in backend["upstream"].items():
            for op, s in ops.items():
                lines.append(f"| {case} | {op} | {_requests(s)} | {s['token']:g} | {s['discovery']:g} |")
        for size, data in sorted(backend["sizes"].items(), key=lambda kv: int(kv[0])):
            lines += ["", f"### Latency and cost, {size} servers (page of up to {PAGE})", ""]
            head = " | ".join(f"{op} p50 / p95 ms" for op in OPS)
            lines += [f"| case | {head} | CPU ms per call ({', '.join(OPS)}) | peak MiB per worker |",
                      "|---|" + "---|" * (len(OPS) + 2)]  # fmt: skip
            for case, ops in data["latency"].items():
                cells = " | ".join(
                    f"{_ms(ops[op]['p50_ms'])} / {_ms(ops[op]['p95_ms'])}" if op in ops else "—" for op in OPS
                )
                cpu = ", ".join(_ms(ops[op]["cpu_ms"]) if op in ops else "—" for op in OPS)
                n = max(v["n"] for v in ops.values())
                lines.append(f"| {case} (n={n}) | {cells} | {cpu} | {_mib(data['peak_memory_kb'].get(case))} |")
        thr = backend["throughput"]
        levels = sorted({int(c) for v in thr.values() for c in v})
        lines += ["", f"### Throughput listing a page, {backend['throughput_servers']} servers", ""]
        lines += ["| case | " + " | ".join(f"{c} client(s): req/s (CPU ms/call)" for c in levels) + " |",
                  "|---|" + "---|" * len(levels)]  # fmt: skip
        for case, per in thr.items():
            cells = " | ".join(_throughput_cell(per.get(str(c))) for c in levels)
            lines.append(f"| {case} | {cells} |")
    return "\n".join(lines) + "\n"


def _throughput_cell(level: dict[str, Any] | None) -> str:
    if level is None:
        return "not run"
    if "error" in level:
        return f"failed: {level['error'].split(':')[0]}"
    return f"{level['rps']:.2f} ({_ms(level['cpu_ms_per_call'])})"


def plot(results: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    styles = {"fake": "-o", "cloud": "--s"}  # one line style per backend, one colour per case
    colours = {"gateway": "C0", "direct": "C1", "naive": "C2", "cli": "C3"}
    for name, backend in results["backends"].items():
        sizes = sorted(backend["sizes"], key=int)
        for case in backend["cases"]:
            points = [(int(s), backend["sizes"][s]["latency"].get(case, {}).get("list", {}).get("p50_ms"))
                      for s in sizes]  # fmt: skip
            points = [(x, y) for x, y in points if y]
            if points:
                left.plot(*zip(*points, strict=True), styles[name], color=colours[case], label=f"{case} ({name})")
        for case, per in backend["throughput"].items():
            xs = sorted(int(c) for c in per if "rps" in per[c])
            rps = [per[str(x)]["rps"] for x in xs]
            right.plot(xs, rps, styles[name], color=colours[case], label=f"{case} ({name})")
    left.set(xscale="log", yscale="log", xlabel="servers in the project", ylabel="ms (p50)",
             title=f"Listing a page of up to {PAGE} servers")  # fmt: skip
    right.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent clients",
        ylabel="requests per second",
        title="Throughput, page list",
    )
    right.set_xticks([1, 8, 32], labels=["1", "8", "32"])
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"devstack-client benchmark ({results['machine']['date']}, {results['machine']['cores']} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

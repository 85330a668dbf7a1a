"""Load on the real cloud, through the gateway as a real process (gunicorn, WORKERS=2, default worker class), as `bulk`.

- 50 concurrent creates, each with its own name and Idempotency-Key, then the same 50 requests again (a client
  retrying them all at once), then 50 concurrent deletes: every request answered, every server accounted for
  (through the gateway's paged list and in Nova itself), none duplicated, none left behind.
- A sustained mixed read load (server list pages, shows, image/flavor/network lists) at a fixed rate for a
  bounded time: every response 200, and the gateway's workers neither grow in memory nor leak file descriptors.

Resource assertions only: nothing here depends on how fast the cloud or the gateway answers, except the bounded
waits for ACTIVE and for deletions. DEVSTACK_CLIENT_LOAD_SERVERS and DEVSTACK_CLIENT_LOAD_SECONDS make it
bigger or longer locally.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from devstack_client.config import load
from devstack_client.connection import upstream_pool_size
from tests.cloud.harness import Cloud, Gateway, Servers, Upstream, server_name, wait_active, wait_for

USER = "bulk"  # no instance, core or RAM quota; network bulk-net is a /22
WORKERS = 2
THREADS = 8
N_SERVERS = int(os.environ.get("DEVSTACK_CLIENT_LOAD_SERVERS", "50"))
# Measured on 2 cores shared with other jobs: the 50 creates all answered after 115 s (nova-api serves 4 at a
# time), the retries after 23 s more, all were ACTIVE by then; 50 deletes answered in 10 s, all gone 29 s later.
LOAD_ACTIVE_TIMEOUT = 300  # s, for all of them, after the retries
LOAD_DELETE_TIMEOUT = 300  # s, for all of them, after the deletes answered
CLIENT_TIMEOUT = 300  # s, one request: 50 creates queue behind the gateway's 16 threads and nova-api's 4

READ_RATE = 20  # requests per second at most: see run_at_rate
READ_SECONDS = float(os.environ.get("DEVSTACK_CLIENT_LOAD_SECONDS", "45"))
WARMUP_SECONDS = 10
READ_CLIENTS = 2 * THREADS  # enough to keep every gateway thread busy, warm-up included


@pytest.fixture(scope="module")
def bulk_gateway(cloud_info: Cloud, start_gateway: Callable[..., Gateway]) -> Gateway:
    settings = {**cloud_info.credentials(USER), "WORKERS": str(WORKERS), "THREADS": str(THREADS)}
    return start_gateway(settings, "load")


def create_body(cloud: Cloud, name: str) -> dict[str, str]:
    return {
        "name": name,
        "image_id": cloud.image["id"],
        "flavor_id": cloud.flavor["id"],
        "network_id": cloud.networks[USER]["id"],
    }


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def send(method: str, url: str, **kwargs: Any) -> Answer:
    """One request as its own client (its own connection): the answer, or the client-side failure as status 0."""
    try:
        with requests.request(method, url, timeout=CLIENT_TIMEOUT, **kwargs) as resp:
            try:
                body = resp.json()
            except ValueError:
                body = resp.text
            return Answer(resp.status_code, body, dict(resp.headers))
    except requests.RequestException as exc:
        return Answer(0, f"{type(exc).__name__}: {exc}", {})


def listed(gw: Gateway, name_like: str, limit: int) -> list[dict[str, Any]]:
    """Every server whose name contains `name_like`, page after page through the gateway."""
    servers: list[dict[str, Any]] = []
    marker = None
    for _ in range(N_SERVERS // limit + 2):  # bounded: one page more than needed, then stop
        params = {"name_like": name_like, "limit": limit, "fields": "id,name,status"}
        if marker:
            params["marker"] = marker
        resp = gw.get("/api/v1/server", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        servers += page["servers"]
        marker = page["next_marker"]
        if marker is None:
            return servers
    pytest.fail(f"listing {name_like!r} by {limit} did not end after {len(servers)} servers", pytrace=False)


def nova_servers(nova: Upstream, name_like: str) -> list[dict[str, Any]]:
    """What Nova itself lists for this project, names containing `name_like`."""
    return nova.get("compute", "/servers", name=name_like)["servers"]


def delete_leftovers(gw: Gateway, nova: Upstream, name_like: str) -> None:
    """Delete (through Nova directly) whatever this test left behind, and wait until gone."""
    for server in nova_servers(nova, name_like):
        nova.request("compute", "DELETE", f"/servers/{server['id']}").close()
    wait_for(lambda: None if nova_servers(nova, name_like) else True, LOAD_DELETE_TIMEOUT, "leftovers to go")


def test_concurrent_creates_then_deletes_account_for_every_server(bulk_gateway, cloud_info, upstream):
    gw, nova = bulk_gateway, upstream(USER)
    stem = server_name("load-")  # dcgt-<run>-load-NN: the session sweep finds them if all else fails
    names = [f"{stem}{n:02d}" for n in range(N_SERVERS)]
    keys = {name: str(uuid.uuid4()) for name in names}  # one Idempotency-Key per create, as a client would
    url = gw.base + "/api/v1/server"
    started = time.monotonic()

    def phase(what: str) -> None:  # for the log only: what each phase costs on this machine
        print(f"\n{what}: {time.monotonic() - started:.0f} s", end="")

    def create(name: str) -> Answer:
        return send("POST", url, json=create_body(cloud_info, name), headers={"Idempotency-Key": keys[name]})

    try:
        with ThreadPoolExecutor(N_SERVERS) as pool:
            created = dict(zip(names, pool.map(create, names), strict=True))

        phase(f"{N_SERVERS} creates answered")
        failed = {name: (a.status, a.body) for name, a in created.items() if a.status != 201}
        assert not failed, f"{len(failed)} of {N_SERVERS} creates did not answer 201: {failed}"
        ids = {name: a.body["id"] for name, a in created.items()}
        assert {a.body["name"] for a in created.values()} == set(names)
        assert len(set(ids.values())) == N_SERVERS, "two creates answered with the same server"
        assert not [a for a in created.values() if a.headers.get("Idempotent-Replayed")]

        # The same 50 requests again, all at once: a client retrying after lost answers gets the same servers.
        with ThreadPoolExecutor(N_SERVERS) as pool:
            retried = dict(zip(names, pool.map(create, names), strict=True))
        phase(f"{N_SERVERS} retries answered")
        wrong = {
            name: (a.status, a.body, a.headers.get("Idempotent-Replayed"))
            for name, a in retried.items()
            if (a.status, a.headers.get("Idempotent-Replayed")) != (201, "true")
            or not isinstance(a.body, dict)
            or a.body.get("id") != ids[name]
        }
        assert not wrong, f"{len(wrong)} retries did not replay their first server: {wrong}"

        # All ACTIVE (bounded), seen in one page; then paged by 20: exactly our servers, each once.
        def all_active() -> bool | None:
            page = gw.get("/api/v1/server", params={"name_like": stem, "limit": 1000, "fields": "id,status"})
            assert page.status_code == 200, page.text
            statuses = {s["id"]: s["status"] for s in page.json()["servers"]}
            assert not [i for i, status in statuses.items() if status == "ERROR"], statuses
            return True if statuses == dict.fromkeys(ids.values(), "ACTIVE") else None

        wait_for(all_active, LOAD_ACTIVE_TIMEOUT, f"{N_SERVERS} servers to become ACTIVE", interval=2)
        phase("all ACTIVE")
        paged = listed(gw, stem, limit=20)
        assert sorted(s["name"] for s in paged) == names, "the paged list lost or repeated a server"
        assert {s["name"]: s["id"] for s in paged} == ids
        in_nova = nova_servers(nova, stem)
        assert sorted((s["name"], s["id"]) for s in in_nova) == sorted(ids.items()), "Nova has other servers"

        def delete(server_id: str) -> Answer:
            return send("DELETE", f"{url}/{server_id}")

        with ThreadPoolExecutor(N_SERVERS) as pool:
            deleted = dict(zip(ids.values(), pool.map(delete, ids.values()), strict=True))
        phase(f"{N_SERVERS} deletes answered")
        failed = {server_id: (a.status, a.body) for server_id, a in deleted.items() if a.status != 204}
        assert not failed, f"{len(failed)} of {N_SERVERS} deletes did not answer 204: {failed}"

        def none_left() -> bool | None:
            return None if listed(gw, stem, limit=20) else True

        wait_for(none_left, LOAD_DELETE_TIMEOUT, f"{N_SERVERS} servers to disappear", interval=2)
        phase("all gone")
        assert nova_servers(nova, stem) == [], "Nova still lists servers the gateway no longer shows"
    finally:
        delete_leftovers(gw, nova, stem)


# ------------------------------------------------------------------------------------------- sustained reads


def workers_of(master: int) -> list[int]:
    """The pids whose parent is `master` (gunicorn's workers), from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        if int(text.rsplit(")", 1)[1].split()[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)


@dataclass(frozen=True)
class Usage:
    rss_kib: int
    fds: dict[str, int]  # what each descriptor is (see descriptors()) -> how many
    cpu_ticks: int  # user + system time


TCP_LISTEN = "0A"


def tcp_sockets() -> dict[str, tuple[int, int, str]]:
    """Socket inode -> (local port, remote port, state) for every TCP socket of this network namespace."""
    table = {}
    for name in ("tcp", "tcp6"):
        lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            table[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state)
    return table


def descriptors(pid: int, gateway_port: int, upstream_ports: dict[int, str]) -> dict[str, int]:
    """A worker's open descriptors by kind: "listener", "caller" (a connection accepted from a client),
    "upstream <service>" (a connection to the cloud), "socket" (any other), "pipe", or the file's path."""
    tcp = tcp_sockets()
    kinds: dict[str, int] = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        kind = target
        if target.startswith("socket:["):
            local, remote, state = tcp.get(target[8:-1], (0, 0, ""))
            if local == gateway_port:
                kind = "listener" if state == TCP_LISTEN else "caller"
            elif remote in upstream_ports:
                kind = f"upstream {upstream_ports[remote]}"
            else:
                kind = "socket"
        elif target.startswith("pipe:"):
            kind = "pipe"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def usage(pid: int, gateway_port: int, upstream_ports: dict[int, str]) -> Usage:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of /proc/<pid>/stat
    return Usage(rss, descriptors(pid, gateway_port, upstream_ports), cpu)


def describe(before: Usage, after: Usage) -> str:
    """RSS and descriptors before -> after, for failure messages and the log."""
    changed = {k: (before.fds.get(k, 0), after.fds.get(k, 0)) for k in before.fds.keys() | after.fds.keys()}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    return (
        f"RSS {before.rss_kib} -> {after.rss_kib} KiB, {sum(before.fds.values())} -> {sum(after.fds.values())}"
        f" descriptors (changed: {changed or 'none'}; after: {after.fds})"
    )


def run_at_rate(gw: Gateway, paths: list[str], seconds: float) -> list[tuple[str, Answer]]:
    """GET `paths` round robin, READ_RATE a second for `seconds`, each on a fresh connection; all answers.

    Request n is due at start + n / READ_RATE and none is sent after the deadline: when the cloud answers
    slower than that, the READ_CLIENTS clients send back to back (a closed loop), so the run stays bounded.
    """
    start = time.monotonic()
    deadline = start + seconds
    due = itertools.count()
    lock = threading.Lock()

    def client() -> list[tuple[str, Answer]]:
        answers = []
        while True:
            with lock:
                n = next(due)
            at = start + n / READ_RATE
            if at >= deadline or time.monotonic() >= deadline:
                return answers
            time.sleep(max(0.0, at - time.monotonic()))
            path = paths[n % len(paths)]
            answers.append((path, send("GET", gw.base + path, headers={"Connection": "close"})))

    with ThreadPoolExecutor(READ_CLIENTS) as pool:
        return [answer for answers in pool.map(lambda _: client(), range(READ_CLIENTS)) for answer in answers]


@pytest.fixture
def read_targets(bulk_gateway: Gateway, cloud_info: Cloud) -> Iterator[list[str]]:
    """The mixed read load's paths, over three ACTIVE servers of the test's own."""
    servers = Servers()
    try:
        made = [servers.create(bulk_gateway, cloud_info, f"read-{n}", network=USER) for n in range(3)]
        assert [r.status_code for r in made] == [201] * 3, [r.text for r in made]
        ids = [wait_active(bulk_gateway, r.json()["id"])["id"] for r in made]
        stem = server_name("read-")
        yield [
            f"/api/v1/server?name_like={stem}&limit=2",
            f"/api/v1/server/{ids[0]}",
            "/api/v1/image",
            f"/api/v1/server?name_like={stem}&limit=2&marker={sorted(ids)[0]}",
            f"/api/v1/server/{server_name('read-1')}",
            "/api/v1/flavor",
            "/api/v1/server?limit=10",
            f"/api/v1/server/{ids[2]}",
            "/api/v1/network",
            f"/api/v1/image/{cloud_info.image['name']}",
            f"/api/v1/flavor/{cloud_info.flavor['id']}",
            f"/api/v1/network/{cloud_info.networks[USER]['id']}",
        ]
    finally:
        servers.cleanup()


def test_sustained_reads_answer_200_without_growing_the_workers(bulk_gateway, cloud_info, read_targets):
    gw = bulk_gateway
    ports = {urlsplit(url).port: service for service, url in cloud_info.endpoints.items()}
    workers = workers_of(gw.proc.pid)
    assert len(workers) == WORKERS, f"gateway {gw.proc.pid} has workers {workers}"
    # The descriptor count can see a leak: a connection a client holds open shows as a worker's "caller".
    with socket.create_connection(("127.0.0.1", gw.port)):

        def held() -> bool | None:
            return True if any("caller" in usage(pid, gw.port, ports).fds for pid in workers) else None

        wait_for(held, 10, "a worker to show the connection held open", interval=0.2)

    warmup = run_at_rate(gw, read_targets, WARMUP_SECONDS)
    time.sleep(1)  # let the last answers' connections close
    before = {pid: usage(pid, gw.port, ports) for pid in workers}
    load = run_at_rate(gw, read_targets, READ_SECONDS)
    time.sleep(1)
    after = {pid: usage(pid, gw.port, ports) for pid in workers_of(gw.proc.pid)}

    errors = [(path, a.status, a.body) for path, a in warmup + load if a.status != 200]
    assert not errors, f"{len(errors)} of {len(warmup) + len(load)} reads failed, e.g. {errors[:5]}"
    assert sorted(after) == workers, f"workers changed from {workers} to {sorted(after)}: one died or was recycled"
    report = "\n".join(f"  worker {pid}: {describe(before[pid], after[pid])}" for pid in workers)
    print(f"\n{len(load)} reads in {READ_SECONDS:.0f} s after {len(warmup)} of warm-up; per worker:\n{report}")
    for pid in workers:
        b, a = before[pid], after[pid]
        assert a.cpu_ticks > b.cpu_ticks, f"worker {pid} served nothing: the load missed it\n{report}"
        assert a.rss_kib - b.rss_kib <= RSS_GROWTH_KIB, f"worker {pid} grew {a.rss_kib - b.rss_kib} KiB\n{report}"
        # Every read closed its connection; the harness's own kept-alive one (KEEPALIVE, 75 s) may still be
        # open, or may have timed out meanwhile: no more callers than before.
        assert a.fds.get("caller", 0) <= b.fds.get("caller", 0), (
            f"worker {pid} kept callers' connections open\n{report}"
        )
        pooled = {kind: n for kind, n in a.fds.items() if kind.startswith("upstream ")}
        assert max(pooled.values(), default=0) <= POOL_SIZE, f"worker {pid} holds more than its pools\n{report}"
        rest_before = {kind: n for kind, n in b.fds.items() if not kind.startswith("upstream ") and kind != "caller"}
        rest_after = {kind: n for kind, n in a.fds.items() if not kind.startswith("upstream ") and kind != "caller"}
        assert rest_after == rest_before, f"worker {pid}'s other descriptors changed\n{report}"


# Measured: a worker's RSS grew 0.05-0.4 MiB over 250-450 reads after the warm-up. 8 MiB leaves room for the
# allocator (a thread's first use of a new malloc arena) and still catches a leak of ~20 KiB per request
# (an openstacksdk Connection, or a requests Session, per request costs far more).
RSS_GROWTH_KIB = 8 * 1024
# Connections to one service a worker may keep: connection.py's pool (UPSTREAM_POOL_SIZE); more are closed on
# return. Anything else (callers' connections, files, pipes) must be back to where it was.
POOL_SIZE = upstream_pool_size(load({"WORKERS": str(WORKERS), "THREADS": str(THREADS)}, environ={}))

"""What the tests and the benchmark run on loopback: an HTTP server in a thread, child processes.

A child process runs in a process group of its own (``start_new_session=True``) so that stopping it stops
its children too (gunicorn's workers). Plain Python, no pytest: tests/test_main.py, tests/test_connection.py,
the cloud tests (tests/cloud/harness.py) and the benchmark (bench/procs.py) use it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port in a daemon thread for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def stop_group(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to the process group `proc` leads, SIGKILL if it still runs after `timeout` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


REDIS_SERVER = "/usr/bin/redis-server"


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen]]:
    """A throwaway Redis (Debian's redis-server) on a free loopback port, keeping nothing on disk."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            threading.Event().wait(0.05)
        client.close()
        yield url, proc
    finally:
        stop_group(proc, timeout=5)

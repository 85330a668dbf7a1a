"""Run the gateway: ``python devstack_client/main.py`` or ``devstack-client``.

``devstack-client`` serves with gunicorn: WORKERS processes, each serving
up to WORKER_CONNECTIONS requests as greenlets (gevent, the default) or
THREADS requests in threads (gthread); each worker opens its own OpenStack
connection after the fork (see connection.py). ``--dev`` runs Flask's
reloading development server instead. ``devstack-client openapi [--version 3] [FILE]``
writes the Swagger 2.0 spec (or the OpenAPI 3 document).

The app is created in each worker, never in the master. A gevent worker
monkey-patches socket, ssl and threading when it starts, and that only
works for what is imported afterwards: a lock created before it stays a
real lock, which blocks the whole worker when a greenlet waits on it, and
gevent warns (MonkeyPatchWarning) about modules that imported from ssl
first, as urllib3 does. So the master imports only what this module
imports (settings, API keys, log formatting, gunicorn): no Flask, requests,
openstacksdk or prometheus-client (tests/test_main.py checks the list).

Graceful stop: on SIGTERM gunicorn stops accepting, lets the requests in
flight finish (for up to the worst upstream case, see gunicorn_options) and
exits. gunicorn 24.0 to 27.0.0's threaded worker also waited for idle
keep-alive connections, which a client may hold for minutes: a stop then
took the whole graceful_timeout. 27.0.1 closes them within 2 s, hence the
pin (tests/test_main.py checks it).
"""

from __future__ import annotations

import argparse
import glob
import logging
import logging.config
import os
import shutil
import signal
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from devstack_client import apikeys, logs, rawerrors, siblings
from devstack_client.config import MAX_WAIT_SECONDS, ConfigError, Settings, bind_problem, load

if TYPE_CHECKING:
    from flask import Flask

# The gevent worker: gunicorn's own, but closing idle keep-alive connections on a graceful stop (worker.py).
GEVENT_WORKER = "devstack_client.worker.GeventWorker"


class Server(BaseApplication):
    """gunicorn serving the app, which each worker creates for itself (after a gevent worker's patching)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        rawerrors.install()  # what gunicorn answers itself, in JSON too (the workers inherit it)
        siblings.install()  # a write through one worker wakes the change feeds of the others
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from devstack_client import create_app

        return create_app()


def worker_exited(_server: Any, worker: Any) -> None:
    """In the master, when a worker dies: drop its in-flight gauge."""
    # Imported here, in the master only once a worker is gone: prometheus-client
    # must not be imported before the workers fork (see the module's docstring).
    from devstack_client import metrics

    metrics.worker_exited(worker.pid)


class GatewayLogger(glogging.Logger):
    """gunicorn's logger without its access log, which our own line per request replaces (observe.py).

    With ``accesslog`` off but a ``logconfig_dict`` given, gunicorn still
    builds every request's access-log fields (each header and each variable
    of the environment) and hands them to a logger that drops them: 3 % of a
    worker's CPU (bench/README.md).
    """

    @property
    def access_log_enabled(self) -> bool:
        return False


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    # The slowest request: a create that waits for ACTIVE, after its POST and
    # before its last read each hit both upstream timeouts. Let it finish
    # before gunicorn kills the worker, and on a graceful stop.
    worst = MAX_WAIT_SECONDS + 2 * (settings.connect_timeout + settings.read_timeout) + 10
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        **worker_model(settings),
        # gunicorn's default of 2 s closes a connection that a client polling
        # every 2 s is about to reuse: it then gets RemoteDisconnected.
        "keepalive": settings.keepalive,
        "timeout": int(worst),
        "graceful_timeout": int(worst),
        # Our own log line per request (observe.py) replaces gunicorn's
        # access log: it has the route, the request id and upstream calls.
        "accesslog": None,
        "logger_class": GatewayLogger,
        "logconfig_dict": logs.logging_config(settings),
        "loglevel": settings.log_level.lower(),
        "control_socket_disable": True,
        # gunicorn's largest request line (its default is 4094): up to it the
        # app answers an over-long URL itself, in JSON (414 uri_too_long).
        "limit_request_line": 8190,
        "child_exit": worker_exited,
        "post_worker_init": end_streams_on_stop,
    }


def end_streams_on_stop(worker: Any) -> None:
    """On SIGTERM, end the worker's open event streams at once, then stop as gunicorn does.

    A stream never ends by itself: without this a graceful stop would wait its whole graceful_timeout for
    them. Their clients reconnect (EventSource does it itself) to another worker, with their last event id.
    """
    import gevent  # in the worker, after its patching (if any)
    from gevent import monkey

    feeds = worker.wsgi.extensions["feeds"]
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        # Out of the handler: it must not wait for a lock a request holds (under gevent the handler runs in
        # the event loop, where nothing may block, not even a thread's start).
        if monkey.is_module_patched("threading"):
            gevent.spawn(feeds.stop)
        else:
            threading.Thread(target=feeds.stop, daemon=True).start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)


def worker_model(settings: Settings) -> dict[str, Any]:
    """How a worker serves requests at once: greenlets (gevent) or threads (gthread)."""
    if settings.worker_class == "gthread":
        # Every active request holds a thread, a stream or a ?wait=true create
        # for its whole life (idle keep-alive connections wait in a poller).
        return {"worker_class": "gthread", "threads": settings.threads}
    # A request waiting on OpenStack costs a greenlet (kilobytes), not a
    # thread: long requests cannot take every slot from /healthz or reads.
    return {"worker_class": GEVENT_WORKER, "worker_connections": settings.worker_connections}


def metrics_directory(settings: Settings) -> tuple[str, bool]:
    """Make the directory gunicorn's workers share metrics in; return it and whether it is ours to remove."""
    configured = settings.prometheus_multiproc_dir
    if configured:
        os.makedirs(configured, exist_ok=True)
        for stale in glob.glob(os.path.join(configured, "*.db")):  # a previous run's counts
            os.remove(stale)
        return configured, False
    return tempfile.mkdtemp(prefix="devstack-client-metrics-"), True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="devstack-client",
        description="A REST gateway to an OpenStack cloud. Settings come from the environment (see README).",
    )
    parser.add_argument("--dev", action="store_true", help="run Flask's reloading development server, not gunicorn")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    spec = commands.add_parser(
        "openapi", help="write the Swagger 2.0 spec or the OpenAPI 3 document (sorted, stable) to FILE or stdout"
    )
    spec.add_argument("--version", type=int, choices=(2, 3), default=2, help="2: Swagger 2.0 (default); 3: OpenAPI 3.1")
    spec.add_argument("file", nargs="?", default="-", metavar="FILE", help="where to write it (default: stdout)")
    hash_key = commands.add_parser("hash-key", help="print a new random API key and its line for API_KEYS_FILE")
    hash_key.add_argument("role", nargs="?", choices=apikeys.ROLES, default="reader")
    hash_key.add_argument("label", nargs="?", default="", help="a name for the key's holder, for you")
    return parser.parse_args(argv)


def print_new_key(role: str, label: str) -> int:
    key, line = apikeys.new_key(role, label)
    print(f"# The key, for the caller (shown once, stored nowhere; send it as `Authorization: Bearer <key>`):\n{key}")
    print(f"# Its line, for API_KEYS_FILE or API_KEYS:\n{line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "hash-key":
        return print_new_key(args.role, " ".join(args.label.split()))
    try:
        settings = load()
    except ConfigError as exc:
        print(f"devstack-client: {exc}", file=sys.stderr)
        return 2
    if args.command == "openapi":
        from devstack_client.openapi import write

        write(args.file, args.version)
        return 0
    problem = bind_problem(settings)
    if problem:
        print(f"devstack-client: {problem}", file=sys.stderr)
        return 2
    try:
        apikeys.load(settings)  # what create_app reads in each worker: refuse a bad file here, at once
    except ConfigError as exc:  # e.g. an unreadable API_KEYS_FILE
        print(f"devstack-client: {exc}", file=sys.stderr)
        return 2
    remove_dir = None
    if not args.dev:
        directory, ours = metrics_directory(settings)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        remove_dir = directory if ours else None

    logging.config.dictConfig(logs.logging_config(settings))
    if args.dev:
        from devstack_client import create_app

        # No debugger: it would run code for anyone who can reach the port.
        create_app().run(host=settings.host, port=settings.port, use_reloader=True, use_debugger=False, threaded=True)
        return 0
    options = gunicorn_options(settings)
    if remove_dir:
        options["on_exit"] = lambda _server: shutil.rmtree(remove_dir, ignore_errors=True)
    sys.argv = sys.argv[:1]  # gunicorn parses the command line too
    Server(options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

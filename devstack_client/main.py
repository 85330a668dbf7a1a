"""Run the gateway: ``python devstack_client/main.py`` or ``devstack-client``.

It serves with gunicorn: WORKERS processes of THREADS threads each. Each
worker opens its own OpenStack connection after the fork (see connection.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from devstack_client import apikeys, create_app
from devstack_client.config import MAX_WAIT_SECONDS, ConfigError, bind_problem


class Server(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def gunicorn_options(settings: dict[str, Any]) -> dict[str, Any]:
    # The slowest request: a create that waits for ACTIVE, after its POST and
    # before its last read each hit both upstream timeouts. Let it finish
    # before gunicorn kills the worker.
    worst = MAX_WAIT_SECONDS + 2 * (settings["CONNECT_TIMEOUT"] + settings["READ_TIMEOUT"]) + 10
    return {
        "bind": f"{settings['HOST']}:{settings['PORT']}",
        "workers": settings["WORKERS"],
        "threads": settings["THREADS"],
        "worker_class": "gthread",
        "timeout": int(worst),
        "graceful_timeout": int(worst),
        "accesslog": "-",
        "loglevel": settings["LOG_LEVEL"].lower(),
        "control_socket_disable": True,
    }


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devstack-client", description="Run the gateway (settings: README).")
    commands = parser.add_subparsers(dest="command")
    hash_key = commands.add_parser("hash-key", help="print a new random API key and its line for API_KEYS_FILE")
    hash_key.add_argument("role", nargs="?", choices=apikeys.ROLES, default="reader")
    hash_key.add_argument("label", nargs="?", default="", help="a name for the key's holder, for you")
    return parser


def print_new_key(role: str, label: str) -> int:
    key, line = apikeys.new_key(role, label)
    print(f"# The key, for the caller (shown once, stored nowhere; send it as `Authorization: Bearer <key>`):\n{key}")
    print(f"# Its line, for API_KEYS_FILE or API_KEYS:\n{line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "hash-key":
        return print_new_key(args.role, " ".join(args.label.split()))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"devstack-client: {exc}", file=sys.stderr)
        return 2
    problem = bind_problem(app.config)
    if problem:
        print(f"devstack-client: {problem}", file=sys.stderr)
        return 2
    options = gunicorn_options(app.config)
    sys.argv = sys.argv[:1]  # gunicorn parses the command line too
    Server(app, options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

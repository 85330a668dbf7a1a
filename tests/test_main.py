import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack_client.apikeys import new_key
from devstack_client.config import bind_problem, load
from devstack_client.main import Server, gunicorn_options, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def never_serve_inside_pytest(monkeypatch):
    """A main() that fails to refuse would otherwise serve forever inside the test run."""

    def serve(self):
        raise AssertionError("main() started serving")

    monkeypatch.setattr(Server, "run", serve)


def test_gunicorn_options_outlast_the_worst_upstream_wait():
    options = gunicorn_options(load({"HOST": "0.0.0.0", "PORT": "9000", "WORKERS": "3", "THREADS": "16"}, environ={}))

    assert options["bind"] == "0.0.0.0:9000"
    assert (options["workers"], options["threads"], options["worker_class"]) == (3, 16, "gthread")
    assert options["timeout"] > 2 * (5 + 60)


def test_bad_setting_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")

    assert main([]) == 2
    assert "PORT must be a number" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "gateway.example"])
def test_an_exposed_bind_without_authentication_exits_2(monkeypatch, capsys, host):
    monkeypatch.setenv("HOST", host)

    assert main([]) == 2
    error = capsys.readouterr().err
    assert f"refusing to listen on {host}" in error
    for setting in ("API_KEYS_FILE", "ALLOW_USER_TOKENS=true", "ALLOW_INSECURE_BIND=true"):
        assert setting in error


@pytest.mark.parametrize(
    "settings",
    [
        {"HOST": "127.0.0.1"},
        {"HOST": "127.0.0.2"},
        {"HOST": "::1"},
        {"HOST": "[::1]"},
        {"HOST": "localhost"},
        {"HOST": "0.0.0.0", "API_KEYS": new_key("reader")[1]},
        {"HOST": "0.0.0.0", "ALLOW_USER_TOKENS": "true"},
        {"HOST": "0.0.0.0", "REQUIRE_USER_TOKENS": "yes"},
        {"HOST": "0.0.0.0", "ALLOW_INSECURE_BIND": "true"},
        {"HOST": "0.0.0.0", "ALLOW_USER_TOKENS": True},
    ],
)
def test_binds_that_are_allowed(settings):
    assert bind_problem(load(settings, environ={})) is None


def test_a_bad_boolean_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("ALLOW_USER_TOKENS", "maybe")

    assert main([]) == 2
    assert "ALLOW_USER_TOKENS must be true or false, not 'maybe'" in capsys.readouterr().err


def test_a_bad_key_file_exits_2(monkeypatch, capsys, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("not a key line\n")
    monkeypatch.setenv("API_KEYS_FILE", str(keys))

    assert main([]) == 2
    assert f"API_KEYS_FILE {keys}, line 1: expected" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_documented_command_refuses_an_exposed_bind():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOST="0.0.0.0", PORT=str(free_port()), APP_SECRET_KEY="x")

    done = subprocess.run(
        [sys.executable, "devstack_client/main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert "devstack-client: refusing to listen on 0.0.0.0" in done.stderr


def test_the_documented_command_serves_the_swagger_ui(tmp_path):
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(PORT=str(port), WORKERS="1", THREADS="2", APP_SECRET_KEY="x")
    proc = subprocess.Popen(
        [sys.executable, "devstack_client/main.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                index = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert index.status_code == 200
        assert "swagger" in index.text.lower()
        missing = requests.get(f"http://127.0.0.1:{port}/api/v1/server", timeout=5)
        assert missing.status_code == 403
        assert missing.json()["code"] == "credentials_missing"
    finally:
        # SIGINT: gunicorn's quick stop. Its graceful SIGTERM waits up to
        # graceful_timeout for a connection accepted while the worker booted.
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        log.close()

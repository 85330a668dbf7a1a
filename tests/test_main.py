import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from gunicorn import glogging
from gunicorn.config import Config
from gunicorn.workers.gthread import ThreadWorker

from devstack_client import metrics
from devstack_client.apikeys import new_key
from devstack_client.config import bind_problem, load
from devstack_client.connection import upstream_pool_size
from devstack_client.main import GEVENT_WORKER, Server, gunicorn_options, main, metrics_directory, parse_args
from devstack_client.worker import GeventWorker
from tests.loopback import free_port, serving

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def never_serve_inside_pytest(monkeypatch):
    """A main() that fails to refuse would otherwise serve forever inside the test run."""

    def serve(self):
        raise AssertionError("main() started serving")

    monkeypatch.setattr(Server, "run", serve)


def test_gunicorn_options_outlast_the_worst_upstream_wait():
    options = gunicorn_options(load({"HOST": "0.0.0.0", "PORT": "9000", "WORKERS": "3"}, environ={}))

    assert (options["bind"], options["workers"]) == ("0.0.0.0:9000", 3)
    assert options["timeout"] > 2 * (5 + 60)
    assert options["graceful_timeout"] == options["timeout"]
    assert "preload_app" not in options  # each worker creates the app, after gevent's patching


def test_gevent_workers_by_default():
    options = gunicorn_options(load({}, environ={}))

    assert options["worker_class"] == GEVENT_WORKER == "devstack_client.worker.GeventWorker"
    assert options["worker_connections"] == 1000
    assert "threads" not in options
    assert gunicorn_options(load({"WORKER_CONNECTIONS": "5000"}, environ={}))["worker_connections"] == 5000


def test_gthread_workers_on_request():
    options = gunicorn_options(load({"WORKER_CLASS": "gthread", "THREADS": "16"}, environ={}))

    assert (options["worker_class"], options["threads"]) == ("gthread", 16)
    assert "worker_connections" not in options


def test_gunicorn_accepts_every_option_and_loads_our_worker():
    for worker_class in ("gevent", "gthread"):
        config = Config()
        for key, value in gunicorn_options(load({"WORKER_CLASS": worker_class}, environ={})).items():
            config.set(key, value)
        expected = GeventWorker if worker_class == "gevent" else ThreadWorker
        assert config.worker_class is expected


def test_an_unknown_worker_class_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("WORKER_CLASS", "sync")

    assert main([]) == 2
    assert "WORKER_CLASS must be gevent or gthread, not 'sync'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "size"),
    [
        ({}, 32),  # gevent: UPSTREAM_POOL_SIZE, not WORKER_CONNECTIONS (1000 idle sockets per service)
        ({"UPSTREAM_POOL_SIZE": "64"}, 64),
        ({"WORKER_CLASS": "gthread", "THREADS": "8"}, 32),
        ({"WORKER_CLASS": "gthread", "THREADS": "50"}, 50),  # one per thread: a thread never reconnects
    ],
)
def test_upstream_pool_size(settings, size):
    assert upstream_pool_size(load(settings, environ={})) == size


def test_idle_connections_outlast_a_load_balancers_idle_timeout():
    # A balancer (AWS ALB: 60 s) must close an idle connection before its backend does.
    assert gunicorn_options(load({}, environ={}))["keepalive"] == 75
    assert gunicorn_options(load({"KEEPALIVE": "300"}, environ={}))["keepalive"] == 300


def test_gunicorn_builds_no_access_log_of_its_own():
    logger_class = gunicorn_options(load({}, environ={}))["logger_class"]
    built = []

    class Counting(logger_class):
        def atoms(self, *args):
            built.append(args)
            return {}

    logger = Counting.__new__(Counting)
    # As main.py configures gunicorn: no access log, but a logging configuration (gunicorn's cue to build one).
    logger.cfg = SimpleNamespace(accesslog=None, logconfig=None, logconfig_dict={"version": 1}, logconfig_json=None,
                                 syslog=False, disable_redirect_access_to_syslog=False)  # fmt: skip
    logger.access_log = SimpleNamespace(info=lambda *args: None)
    logger.access(None, None, {}, None)

    assert issubclass(logger_class, glogging.Logger) and built == []


def test_bad_setting_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")

    assert main([]) == 2
    assert "PORT must be a number" in capsys.readouterr().err


def test_command_line():
    assert (parse_args([]).dev, parse_args([]).command) == (False, None)
    assert parse_args(["--dev"]).dev is True
    assert (parse_args(["openapi"]).command, parse_args(["openapi"]).file) == ("openapi", "-")
    assert parse_args(["openapi", "docs/swagger.json"]).file == "docs/swagger.json"
    with pytest.raises(SystemExit) as exit_:
        parse_args(["serve"])
    assert exit_.value.code == 2


def test_a_dead_workers_gauge_is_dropped_by_the_child_exit_hook(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(metrics, "MULTIPROCESS", True)
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    hook = gunicorn_options(load({}, environ={}))["child_exit"]

    hook(None, SimpleNamespace(pid=4242))

    assert list(tmp_path.iterdir()) == []


def test_a_configured_metrics_directory_is_emptied_of_old_counts(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"old")
    (directory / "keep.txt").write_text("not ours")

    assert metrics_directory(load({"PROMETHEUS_MULTIPROC_DIR": str(directory)}, environ={})) == (str(directory), False)
    assert [p.name for p in directory.iterdir()] == ["keep.txt"]

    made, ours = metrics_directory(load({}, environ={}))
    assert ours and Path(made).is_dir() and not list(Path(made).iterdir())
    os.rmdir(made)


# -- the real server, as a process ------------------------------------------------


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


class Gateway:
    """The gateway as its own process (and process group), on a free port."""

    def __init__(self, tmp_path: Path, *args: str, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"gateway-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({"PORT": str(self.port), "WORKERS": "1", "THREADS": "2", "APP_SECRET_KEY": "x", **settings})
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "devstack_client/main.py", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> requests.Response:
        deadline = time.monotonic() + 30
        while True:
            try:
                return requests.get(f"{self.url}/healthz", timeout=5)
            except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
                assert self.proc.poll() is None, self.log_path.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def start(tmp_path):
    started = []

    def start_gateway(*args, **settings):
        gateway = Gateway(tmp_path, *args, **settings)
        started.append(gateway)
        return gateway

    yield start_gateway
    for gateway in started:
        gateway.stop()


def test_the_documented_command_serves_the_swagger_ui(start):
    gateway = start()
    assert gateway.wait_ready().status_code == 200

    index = requests.get(f"{gateway.url}/", timeout=5)
    assert index.status_code == 200
    assert "swagger" in index.text.lower()
    assert index.headers["Server"].startswith("gunicorn")
    missing = requests.get(f"{gateway.url}/api/v1/server", timeout=5)
    assert missing.status_code == 403
    assert missing.json()["code"] == "credentials_missing"
    assert missing.json()["request_id"] == missing.headers["X-Request-Id"]

    gateway.proc.send_signal(signal.SIGTERM)
    assert gateway.proc.wait(timeout=30) == 0
    lines = [json.loads(line) for line in gateway.log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "devstack_client.access"]
    assert [(line["route"], line["status"]) for line in access] == [("/", 200), ("/api/v1/server", 403)]
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # gunicorn's own lines are JSON too
    assert any(line["message"] == f"Using worker: {GEVENT_WORKER}" for line in lines)
    # A worker that patched after ssl's users were imported says so on stderr (into this log).
    assert "MonkeyPatchWarning" not in gateway.log_path.read_text()


def raw_request(url: str, head: str) -> tuple[int, str, dict]:
    """Send ``head`` (a request gunicorn cannot parse) as is; the status, Content-Type and JSON answered."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    content_type = next(
        (
            line.split(b":", 1)[1].strip().decode()
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-type:")
        ),
        "",
    )
    return int(status_line.split()[1]), content_type, json.loads(body)


@pytest.mark.parametrize("workers", ["gevent", "gthread"])
def test_a_request_gunicorn_cannot_read_gets_a_json_error(start, workers):
    # found by the real-cloud fuzz: Content-Length: # was answered by gunicorn in HTML
    gateway = start(WORKER_CLASS=workers)
    gateway.wait_ready()

    bad_length = "GET /api/v1/flavor HTTP/1.1\r\nHost: x\r\nContent-Length: #\r\n\r\n"
    too_long = f"GET /api/v1/flavor?name={'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n"  # over limit_request_line

    assert raw_request(gateway.url, bad_length) == (
        400,
        "application/json",
        {
            "code": "bad_request",
            "message": "The HTTP request could not be read: Invalid HTTP Header: 'CONTENT-LENGTH'.",
        },
    )
    status, content_type, body = raw_request(gateway.url, too_long)
    assert (status, content_type, body["code"]) == (414, "application/json", "uri_too_long")
    assert body["message"].startswith("The HTTP request could not be read: ")


MASTER_PROBE = """
import sys
from devstack_client import main

def run(self):
    self.cfg.worker_class  # gunicorn loads the worker class in the master, as here
    import gevent.monkey
    print(sorted(m for m in sys.argv[1:] if m in sys.modules), gevent.monkey.is_anything_patched())

main.Server.run = run
sys.exit(main.main([]))
"""


def test_the_master_imports_nothing_a_gevent_worker_must_patch_first(tmp_path):
    # What the master imports, each forked worker has imported before it
    # patches: a lock made then stays a real lock (a greenlet waiting on it
    # blocks the whole worker), and urllib3 holds ssl's classes unpatched.
    late = ["flask", "werkzeug", "requests", "urllib3", "openstack", "keystoneauth1", "prometheus_client"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(APP_SECRET_KEY="x", PROMETHEUS_MULTIPROC_DIR=str(tmp_path), PORT=str(free_port()))

    probe = subprocess.run(
        [sys.executable, "-c", MASTER_PROBE, *late], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[-2] == "[] False"  # none of them, and nothing patched in the master


class SlowKeystone(BaseHTTPRequestHandler):
    """Takes two seconds to refuse a token: a request in flight for that long."""

    def do_POST(self):
        time.sleep(2)
        body = json.dumps({"error": {"code": 401, "title": "Unauthorized", "message": "no"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_keystone():
    with serving(SlowKeystone) as url:
        yield f"{url}/v3"


def test_sigterm_lets_the_request_in_flight_finish(start, slow_keystone):
    gateway = start(AUTH_URL=slow_keystone, USERNAME="u", PASSWORD="p", PROJECT_ID="x")
    gateway.wait_ready()
    answers = []
    in_flight = threading.Thread(
        target=lambda: answers.append(requests.get(f"{gateway.url}/api/v1/flavor", timeout=30)), daemon=True
    )
    in_flight.start()
    time.sleep(0.5)  # the request now waits on Keystone

    stopped_at = time.monotonic()
    gateway.proc.send_signal(signal.SIGTERM)
    in_flight.join(timeout=30)

    assert [a.status_code for a in answers] == [403]  # finished, with Keystone's refusal
    assert answers[0].json()["code"] == "authentication_failed"
    assert gateway.proc.wait(timeout=15) == 0
    assert time.monotonic() - stopped_at < 10


def test_an_idle_keep_alive_connection_does_not_hold_a_graceful_stop(start):
    gateway = start()
    gateway.wait_ready()
    with requests.Session() as idle:  # left open and idle after one request, as browsers do
        assert idle.get(f"{gateway.url}/healthz", timeout=5).status_code == 200
        time.sleep(0.5)  # the worker has put the connection among its kept-alive ones

        stopped_at = time.monotonic()
        gateway.proc.send_signal(signal.SIGTERM)

        # gunicorn 24.0 to 27.0.0 waited here for the whole graceful_timeout
        # (minutes); 27.0.1 closes idle connections within 2 s.
        assert gateway.proc.wait(timeout=15) == 0
        assert time.monotonic() - stopped_at < 10


def healthz_count(text: str) -> float:
    match = re.search(
        r'^devstack_client_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', text, re.M
    )
    return float(match.group(1)) if match else 0.0


def test_metrics_are_the_same_whichever_worker_answers(start, tmp_path):
    directory = tmp_path / "metrics"
    gateway = start(WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(directory))
    gateway.wait_ready()  # may have sent more than one /healthz: a request it gave up on can still be counted
    sent = 1

    def workers_counted():
        return {p.name for p in directory.glob("counter_*.db")}

    def healthz():
        with requests.Session() as fresh:  # a new connection each time: either worker may take it
            assert fresh.get(f"{gateway.url}/healthz", timeout=60).status_code == 200

    def scrape():
        with requests.Session() as fresh:
            return healthz_count(fresh.get(f"{gateway.url}/metrics", timeout=60).text)

    while len(workers_counted()) < 2 and sent < 400:  # until both workers have answered some
        healthz()
        sent += 1
    assert len(workers_counted()) == 2, "one worker answered everything"
    before = scrape()
    assert before >= sent
    for _ in range(10):
        healthz()

    scrapes = [scrape() for _ in range(8)]
    assert scrapes == [before + 10] * 8

    gateway.proc.send_signal(signal.SIGTERM)
    assert gateway.proc.wait(timeout=30) == 0


def test_dev_runs_the_reloading_development_server(start):
    gateway = start("--dev", LOG_FORMAT="text")

    response = gateway.wait_ready()

    assert response.status_code == 200
    assert response.headers["Server"].startswith("Werkzeug")
    assert "Restarting with" in gateway.log_path.read_text()  # the reloader watches the code
    os.killpg(gateway.proc.pid, signal.SIGTERM)
    gateway.proc.wait(timeout=10)


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "devstack-client"
    assert script.exists()

    result = subprocess.run([str(script), "openapi"], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout == (ROOT / "docs" / "swagger.json").read_text()


def test_the_documented_command_refuses_an_exposed_bind():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOST="0.0.0.0", PORT=str(free_port()), APP_SECRET_KEY="x")

    done = subprocess.run(
        [sys.executable, "devstack_client/main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert "devstack-client: refusing to listen on 0.0.0.0" in done.stderr


def test_sigterm_ends_the_workers_event_streams_then_stops_as_gunicorn_does(cloud):
    import signal
    import threading

    from devstack_client import create_app
    from tests.fakes import CREDENTIALS

    app = create_app(CREDENTIALS)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # stands in for gunicorn's handle_exit
    try:
        gunicorn_options(load({}, environ={}))["post_worker_init"](SimpleNamespace(wsgi=app))
        signal.raise_signal(signal.SIGTERM)

        assert stopped.is_set()
        assert app.extensions["feeds"].stopping.wait(5)
    finally:
        signal.signal(signal.SIGTERM, previous)

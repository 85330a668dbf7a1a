"""One structured log line per request, and nothing secret in any log line."""

import io
import json
import logging
import logging.config
import sys

import pytest

from devstack_client import create_app, logs
from devstack_client.config import load
from tests.fakes import CREDENTIALS, TOKEN, make_fake_flavor, make_fake_server

CALLER_ID = "req-6b0a2a53-3b7e-4b58-9c44-6d4a0d3c3f0e"


@pytest.fixture
def json_log():
    """Every log line of the process, formatted as in production, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def access_lines(lines):
    return [line for line in lines if line["logger"] == "devstack_client.access"]


def test_one_line_per_request_with_route_status_and_upstream_calls(client, cloud, json_log):
    server = make_fake_server()
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})

    client.get(f"/api/v1/server/{server['id']}", headers={"X-Request-Id": CALLER_ID})

    [line] = access_lines(json_log())
    assert line["level"] == "INFO"
    assert line["request_id"] == CALLER_ID
    assert (line["method"], line["route"], line["path"]) == (
        "GET",
        "/api/v1/server/<ref>",
        f"/api/v1/server/{server['id']}",
    )
    assert line["status"] == 200
    assert line["upstream_calls"] == len(cloud.history) == 6  # token, 3 discoveries, the server, its ports
    assert 0 <= line["upstream_ms"] <= line["duration_ms"]
    assert line["error"] is None
    assert line["time"].endswith("+00:00")


def test_a_warm_call_logs_one_upstream_call(client, cloud, json_log):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    client.get("/api/v1/flavor")

    client.get("/api/v1/flavor?limit=5")  # another page: the same one would come from the catalog cache

    assert [line["upstream_calls"] for line in access_lines(json_log())] == [5, 1]


def test_errors_log_their_code_and_every_line_of_the_request_has_its_id(client, cloud, json_log):
    cloud.nova("GET", "/flavors/detail", status=503, body={"message": "down"})

    client.get("/api/v1/flavor", headers={"X-Request-Id": CALLER_ID})

    lines = json_log()
    [line] = access_lines(lines)
    assert (line["status"], line["error"]) == (503, "upstream_unavailable")
    warning = next(entry for entry in lines if entry["logger"] == "devstack_client.api.errors")
    assert warning["request_id"] == CALLER_ID


def test_unknown_urls_share_one_route(client, cloud, json_log):
    client.get("/wp-admin/setup.php")

    [line] = access_lines(json_log())
    assert (line["route"], line["path"], line["status"]) == ("<unmatched>", "/wp-admin/setup.php", 404)


def test_probes_log_at_debug_when_they_succeed(client, cloud, json_log):
    client.get("/healthz")
    client.get("/metrics")
    assert access_lines(json_log()) == []  # at the default INFO

    debugging = create_app({**CREDENTIALS, "LOG_LEVEL": "DEBUG"}).test_client()
    debugging.get("/healthz")
    debugging.get("/metrics")
    assert [(line["route"], line["level"]) for line in access_lines(json_log())] == [
        ("/healthz", "DEBUG"),
        ("/metrics", "DEBUG"),
    ]


def test_nothing_secret_reaches_the_log(cloud, json_log):
    client = create_app(CREDENTIALS).test_client()
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    key, user_token = "gw-key-0123456789abcdef", "gAAAAABcallertoken"
    secrets = {
        "password": CREDENTIALS["PASSWORD"],
        "OpenStack token": TOKEN,
        "caller's bearer key": key,
        "caller's Keystone token": user_token,
    }

    client.get(
        "/api/v1/flavor",
        headers={"Authorization": f"Bearer {key}", "X-Auth-Token": user_token},
    )
    client.post("/api/v1/server", data="{not json " + CREDENTIALS["PASSWORD"])

    text = json.dumps(json_log())
    assert "devstack_client.access" in text
    for what, value in secrets.items():
        assert value not in text, what


def test_json_lines_hold_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "failed here"
    assert "ValueError: boom" in line["exception"]
    assert "request_id" not in line  # outside a request


def test_text_format_is_for_people(client, cloud):
    stream = io.StringIO()
    config = logs.logging_config(load({"LOG_FORMAT": "text", "LOG_LEVEL": "INFO"}, environ={}))
    config["handlers"]["console"]["stream"] = stream
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        logging.config.dictConfig(config)
        client.get("/api/v1/nope", headers={"X-Request-Id": CALLER_ID})
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.setLevel(saved[0])
        for handler in saved[1]:
            root.addHandler(handler)
    assert "INFO devstack_client.access: GET /api/v1/nope 404 in" in stream.getvalue()
    assert f"[{CALLER_ID}]" in stream.getvalue()


def test_log_format_is_checked():
    from devstack_client.config import ConfigError

    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load({"LOG_FORMAT": "xml"}, environ={})


def test_gunicorn_logs_through_ours_and_its_access_log_is_off():
    from devstack_client.main import gunicorn_options

    options = gunicorn_options(load({}, environ={}))

    assert options["accesslog"] is None
    config = options["logconfig_dict"]
    assert config["formatters"]["gateway"]["()"] == "devstack_client.logs.JsonFormatter"
    assert config["loggers"]["gunicorn.error"] == {"level": "INFO", "handlers": [], "propagate": True}


def test_urllib3s_pool_full_warnings_are_dropped_and_its_other_lines_kept():
    # Under gevent, calls beyond UPSTREAM_POOL_SIZE at once are expected: one warning each would flood the log.
    config = logs.logging_config(load({}, environ={}))
    assert config["loggers"]["urllib3.connectionpool"] == {"filters": ["without_pool_full"]}

    def record(message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("urllib3.connectionpool", logging.WARNING, __file__, 1, message, args, None)

    keep = logs.WithoutPoolFull().filter
    assert not keep(record("Connection pool is full, discarding connection: %s. Connection pool size: %s", "n", 32))
    assert keep(record("Failed to parse headers (url=%s): %s", "http://nova", "bad"))

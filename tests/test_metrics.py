"""Prometheus metrics: requests by route and status, latency, upstream calls and errors, creates in flight.

The metrics are process-wide (as in production), so each test counts the
change it causes.
"""

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from devstack_client import metrics
from tests.fakes import CREATE, make_create_response, make_fake_flavor, make_fake_server


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """The change of some samples between now and later."""

    def __init__(self, *samples):
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self):
        return [
            value(name, **labels) - before for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


def requests_total(route, status, method="GET"):
    return ("devstack_client_http_requests_total", {"method": method, "route": route, "status": str(status)})


def upstream(service):
    return ("devstack_client_upstream_requests_total", {"service": service})


def upstream_errors(service, reason):
    return ("devstack_client_upstream_errors_total", {"service": service, "reason": reason})


def test_requests_are_counted_by_route_and_status(client, cloud):
    server = make_fake_server()
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    cloud.nova("GET", "/servers/nope", status=404, body={"itemNotFound": {"code": 404, "message": "nope"}})
    cloud.nova("GET", "/servers/detail?name=%5Enope%24", body={"servers": []})
    delta = Delta(
        requests_total("/api/v1/server/<ref>", 200),
        requests_total("/api/v1/server/<ref>", 404),
        requests_total("<unmatched>", 404),
        ("devstack_client_http_request_duration_seconds_count", {"method": "GET", "route": "/api/v1/server/<ref>"}),
    )

    client.get(f"/api/v1/server/{server['id']}")
    client.get(f"/api/v1/server/{server['id']}")
    client.get("/api/v1/server/nope")
    client.get("/no/such/url")
    client.get("/another/one")

    assert delta() == [2, 1, 2, 3]


def test_latency_lands_in_a_bucket(client, cloud):
    labels = {"method": "GET", "route": "/healthz"}
    delta = Delta(
        ("devstack_client_http_request_duration_seconds_bucket", {**labels, "le": "300.0"}),
        ("devstack_client_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"}),
    )
    client.get("/healthz")
    assert delta() == [1, 1]


def test_upstream_calls_are_counted_by_service(client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    services = ("identity", "compute", "image", "network")
    first = Delta(*(upstream(s) for s in services))

    client.get("/api/v1/flavor")  # token, three discoveries, the list

    assert first() == [1, 2, 1, 1]
    warm = Delta(*(upstream(s) for s in services))
    client.get("/api/v1/flavor?limit=5")  # another page: the same one would come from the catalog cache
    assert warm() == [0, 1, 0, 0]


@pytest.mark.parametrize(
    ("answer", "reason", "status", "calls"),
    [
        ({"exc": requests.exceptions.ConnectTimeout}, "timeout", 504, 1),
        ({"exc": requests.exceptions.ReadTimeout}, "timeout", 504, 1),
        ({"exc": requests.exceptions.ConnectionError}, "unreachable", 503, 2),  # a GET is sent again once
        ({"status": 503, "body": {"message": "down"}}, "503", 503, 1),
        ({"status": 500, "body": {"computeFault": {"code": 500, "message": "x"}}}, "500", 502, 1),
        ({"status": 429, "body": {"message": "slow down"}}, "429", 503, 1),
    ],
)
def test_upstream_errors_are_counted_by_service_and_reason(client, cloud, answer, reason, status, calls):
    client.get("/healthz")
    cloud.nova("GET", "/flavors/detail", **answer)
    delta = Delta(upstream_errors("compute", reason), upstream("compute"))

    assert client.get("/api/v1/flavor").status_code == status

    assert delta() == [calls, 1 + calls]  # version discovery, then the failed list


def test_a_refusal_is_not_an_upstream_error(client, cloud):
    cloud.nova("GET", "/servers/nope", status=404, body={"itemNotFound": {"code": 404, "message": "nope"}})
    cloud.nova("GET", "/servers/detail?name=%5Enope%24", body={"servers": []})
    before = sum(value(name, **labels) for name, labels in _all_error_samples())

    client.get("/api/v1/server/nope")

    assert sum(value(name, **labels) for name, labels in _all_error_samples()) == before


def _all_error_samples():
    return [
        (sample.name, sample.labels)
        for family in REGISTRY.collect()
        if family.name == "devstack_client_upstream_errors"
        for sample in family.samples
        if sample.name.endswith("_total")
    ]


def test_keystone_refusing_the_token_is_not_an_upstream_error(client, cloud):
    cloud.mocker.post("http://keystone.test/v3/auth/tokens", status_code=401, json={"error": {"code": 401}})
    delta = Delta(upstream("identity"), upstream_errors("identity", "401"))

    assert client.get("/api/v1/flavor").status_code == 403
    assert delta() == [1, 0]


def test_keystone_down_is_an_identity_error(client, cloud):
    cloud.mocker.post("http://keystone.test/v3/auth/tokens", exc=requests.exceptions.ConnectionError)
    delta = Delta(upstream_errors("identity", "unreachable"))

    assert client.get("/api/v1/flavor").status_code == 503
    assert delta() == [1]


def test_creates_in_flight(client, cloud):
    server = make_fake_server(name="web-1", status="BUILD")
    seen = []

    def accept(request, context):
        seen.append(value("devstack_client_server_creates_in_flight"))
        context.status_code = 202
        return make_create_response(server["id"])

    cloud.mocker.post("http://nova.test/v2.1/servers", json=accept)
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    before = value("devstack_client_server_creates_in_flight")

    assert client.post("/api/v1/server", json=CREATE).status_code == 201

    assert seen == [before + 1]
    assert value("devstack_client_server_creates_in_flight") == before


def test_a_failed_create_leaves_the_flight(client, cloud):
    cloud.nova("POST", "/servers", status=500, body={"computeFault": {"code": 500, "message": "x"}})
    before = value("devstack_client_server_creates_in_flight")

    assert client.post("/api/v1/server", json=CREATE).status_code == 502
    assert value("devstack_client_server_creates_in_flight") == before


def test_dry_runs_and_lists_are_not_creates(client, cloud):
    cloud.nova("GET", "/servers/detail?limit=101", body={"servers": []})
    delta = Delta(requests_total("/api/v1/server", 200))
    before = value("devstack_client_server_creates_in_flight")

    client.get("/api/v1/server")

    assert delta() == [1]
    assert value("devstack_client_server_creates_in_flight") == before


def test_metrics_endpoint_serves_prometheus_text(client, cloud):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    families = {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}
    for name in (
        "devstack_client_http_requests",
        "devstack_client_http_request_duration_seconds",
        "devstack_client_upstream_requests",
        "devstack_client_upstream_errors",
        "devstack_client_upstream_request_duration_seconds",
        "devstack_client_server_creates_in_flight",
    ):
        assert name in families, name
    healthz = [
        s
        for s in families["devstack_client_http_requests"].samples
        if s.name.endswith("_total") and s.labels["route"] == "/healthz"
    ]
    assert healthz and healthz[0].value >= 1


def test_metrics_is_outside_the_api_and_its_spec(client, cloud):
    assert "/metrics" not in client.get("/swagger.json").json["paths"]


def test_a_dead_workers_in_flight_gauge_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(metrics, "MULTIPROCESS", True)
    for name in ("gauge_livesum_4242.db", "counter_4242.db", "gauge_livesum_4243.db"):
        (tmp_path / name).write_bytes(b"")

    metrics.worker_exited(4242)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_livesum_4243.db"]

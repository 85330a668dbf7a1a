"""Neutron stopped: network endpoints (and the limits, which hold Neutron's quotas) answer 503, the others
keep working, and Nova's real 500 is a 502.

Its own module: Neutron stays stopped for both tests (a module fixture), and is always started again. Runs
with the other `*_outage` modules, last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.cloud.harness import (
    Cloud,
    Gateway,
    assert_ok,
    assert_unreachable,
    create_body,
    servers_named,
    service_stopped,
)


@pytest.fixture(scope="module")
def neutron_down(cloud_info: Cloud, start_gateway: Callable[..., Gateway]) -> Iterator[Gateway]:
    """Neutron stopped for the module's Neutron tests; a gateway that connected before."""
    gw = start_gateway(cloud_info.credentials("demo"), "neutron-down")
    assert_ok(gw, "/api/v1/flavor")
    with service_stopped("neutron"):
        yield gw


def test_neutron_down_fails_network_endpoints_only(cloud_info, neutron_down):
    gw = neutron_down
    # the limits hold Neutron's quotas: half a quota panel would mislead (docs/api/limits.md)
    network = f"/api/v1/network/{cloud_info.networks['demo']['id']}"
    assert_unreachable(gw, "/api/v1/network", network, "/api/v1/security-group", "/api/v1/limits")
    assert_ok(gw, "/api/v1/flavor", "/api/v1/image", "/api/v1/server", "/api/v1/volume")


def test_nova_500_is_502_with_novas_request_id(cloud_info, neutron_down, upstream):
    """Real Nova answers a create with 500 while Neutron is down ("Unexpected API Error")."""
    gw = neutron_down
    body = create_body(cloud_info, "nova-500")

    resp = gw.post("/api/v1/server", json=body)

    assert resp.status_code == 502, resp.text
    error = resp.json()
    assert (error["code"], error["upstream_status"]) == ("upstream_error", 500)
    # Nova's message ("Unexpected API Error … <class 'keystoneauth1…ConnectFailure'>") is its internals: it
    # stays in the logs, the request id finds it there
    assert "Unexpected API Error" not in error["message"] and "keystoneauth1" not in resp.text
    # the id Nova logged the failure under, and not ours
    assert error["upstream_request_id"].startswith("req-")
    assert error["upstream_request_id"] != error["request_id"]
    nova_log = (cloud_info.state_dir / "logs" / "nova-api.log").read_text(errors="replace")
    assert error["upstream_request_id"] in nova_log
    assert servers_named(upstream("demo"), body["name"]) == []

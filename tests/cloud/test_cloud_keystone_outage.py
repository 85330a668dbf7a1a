"""Keystone stopped: the gateway answers 503, and the same process recovers once Keystone is back.

Runs last (conftest orders *_outage modules at the end); Keystone is always restarted.
"""

from __future__ import annotations

from tests.cloud.harness import service_stopped, wait_for


def test_keystone_down_then_back(cloud_info, start_gateway):
    gw = start_gateway(cloud_info.credentials("demo"), "keystone-outage")
    with service_stopped("keystone"):
        for path in ("/api/v1/flavor", "/api/v1/server", "/api/v1/image/tiny-raw"):
            resp = gw.get(path)
            assert resp.status_code == 503, (path, resp.text)
            body = resp.json()
            assert body["code"] in ("upstream_unreachable", "upstream_unavailable"), body

    # the same gateway process, without a restart
    def recovered():
        resp = gw.get("/api/v1/flavor")
        return resp if resp.status_code == 200 else None

    resp = wait_for(recovered, 60, "the gateway to answer 200 again after Keystone came back")
    assert cloud_info.flavor["id"] in {f["id"] for f in resp.json()["flavors"]}
    for path in ("/api/v1/server", "/api/v1/image/tiny-raw", "/api/v1/network"):
        assert gw.get(path).status_code == 200, path
    assert gw.proc.poll() is None, "the gateway's process exited"

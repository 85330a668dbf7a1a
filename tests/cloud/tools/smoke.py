"""Smoke test of the test cloud itself (no gateway involved), with the cloud venv's openstacksdk:

    $DEVSTACK_CLOUD_DIR/venv/bin/python tests/cloud/tools/smoke.py

As demo: boot a server on demo-net, wait for ACTIVE, check its address and its port binding (our ML2 driver:
host compute1, vif_type ovs), delete it and wait until it is gone. As lowquota (instances=1): the second create
must be refused with 403 "Quota exceeded for instances ...", and no second server may be left behind.
"""

import json
import os
import sys
import time

import openstack

D = os.environ.get("DEVSTACK_CLOUD_DIR", "/tmp/devstack-client-cloud")
with open(os.path.join(D, "cloud.json")) as f:
    cloud = json.load(f)


def connect(user):
    u = cloud["users"][user]
    return openstack.connect(
        auth_url=cloud["auth_url"],
        region_name=cloud["region"],
        username=u["username"],
        password=u["password"],
        project_id=u["project_id"],
        user_domain_name=u["user_domain_name"],
        project_domain_name=u["project_domain_name"],
    )


def boot(conn, name, network):
    return conn.compute.create_server(
        name=name, image_id=cloud["image"]["id"], flavor_id=cloud["flavor"]["id"], networks=[{"uuid": network["id"]}]
    )


def delete_and_wait(conn, server):
    t0 = time.time()
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=1, wait=60)
    return time.time() - t0


tag = f"smoke-{os.getpid()}"
demo = connect("demo")
admin = connect("admin")
net = cloud["networks"]["demo"]
t0 = time.time()
srv = boot(demo, tag, net)
srv = demo.compute.wait_for_server(srv, status="ACTIVE", failures=["ERROR"], interval=1, wait=120)
addrs = srv.addresses.get(net["name"]) or []
print(f"demo: server {srv.id} ACTIVE in {time.time() - t0:.1f}s, addresses {srv.addresses}")
assert addrs and addrs[0]["addr"].startswith(net["cidr"].rsplit(".", 1)[0] + "."), srv.addresses
ports = list(admin.network.ports(device_id=srv.id))
assert len(ports) == 1, ports
p = ports[0]
print(f"port {p.id}: binding host {p.binding_host_id}, vif_type {p.binding_vif_type}, status {p.status}")
assert p.binding_host_id == "compute1" and p.binding_vif_type == "ovs", p
print(f"demo: deleted in {delete_and_wait(demo, srv):.1f}s")
assert not list(admin.network.ports(device_id=srv.id)), "port left behind"

low = connect("lowquota")
lnet = cloud["networks"]["lowquota"]
first = boot(low, tag + "-1", lnet)
try:
    resp = low.compute.post(
        "/servers",
        json={
            "server": {
                "name": tag + "-2",
                "imageRef": cloud["image"]["id"],
                "flavorRef": cloud["flavor"]["id"],
                "networks": [{"uuid": lnet["id"]}],
            }
        },
        raise_exc=False,
    )
    print(f"lowquota: second create -> {resp.status_code} {resp.text}")
    assert resp.status_code == 403, resp.status_code
    assert resp.json()["forbidden"]["message"].startswith("Quota exceeded for instances"), resp.text
    names = sorted(s.name for s in low.compute.servers())
    assert names == [tag + "-1"], names
finally:
    low.compute.wait_for_server(first, status="ACTIVE", failures=["ERROR"], interval=1, wait=120)
    print(f"lowquota: first server deleted in {delete_and_wait(low, first):.1f}s")
print("SMOKE OK")
sys.exit(0)

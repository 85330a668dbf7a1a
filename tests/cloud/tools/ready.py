"""Wait (bounded) until nova-compute can take boots and cinder-volume volumes (run by up.sh with the cloud's venv).

Ready = the compute host is mapped to cell1 (runs `nova-manage cell_v2 discover_hosts` until it is), its
nova-compute service reports "up" with a heartbeat newer than argv[1] (UTC, the time up.sh launched it), its
resource provider in placement has a VCPU inventory; cinder-scheduler and cinder-volume report "up" with a
heartbeat newer than argv[2] (the time up.sh launched them) and the scheduler knows the `fake` backend's pool.
Without the fresh heartbeats, the first boot after a warm start fails with "No valid host" (the last heartbeat
is from before down.sh), and the first volume with "No valid backend" (no capabilities reported yet).
"""

import datetime
import os
import subprocess
import sys
import time

import openstack
import sqlalchemy as sa

D = os.environ.get("DEVSTACK_CLOUD_DIR", "/tmp/devstack-client-cloud")
PW = os.environ.get("DEVSTACK_CLOUD_PASSWORD", "secret")
HOST = "compute1"
EPOCH = datetime.datetime(1970, 1, 1)
started = datetime.datetime.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else EPOCH
cinder_started = datetime.datetime.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else EPOCH
deadline = time.monotonic() + float(os.environ.get("DEVSTACK_CLOUD_COMPUTE_TIMEOUT", "180"))

conn = openstack.connect(
    auth_url="http://127.0.0.1:5000/v3",
    username="admin",
    password=PW,
    project_name="admin",
    user_domain_name="Default",
    project_domain_name="Default",
    region_name="RegionOne",
)
engine = sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/nova_api")


def mapped():
    with engine.connect() as c:
        return bool(c.execute(sa.text("SELECT count(*) FROM host_mappings WHERE host = :h"), {"h": HOST}).scalar())


def fresh(service, since):
    if service["state"] != "up" or not service["updated_at"]:
        return False
    return datetime.datetime.fromisoformat(service["updated_at"].rstrip("Z").split("+")[0]) >= since


def service_up():
    services = conn.compute.get("/os-services?binary=nova-compute").json()["services"]
    return any(s["host"] == HOST and fresh(s, started) for s in services)


def cinder_up():
    services = conn.block_storage.get("/os-services").json()["services"]
    reported = {s["binary"] for s in services if fresh(s, cinder_started)}
    pools = conn.block_storage.get("/scheduler-stats/get_pools").json()["pools"]
    return {"cinder-scheduler", "cinder-volume"} <= reported and any(p["name"].endswith("#fake") for p in pools)


def provider_ready():
    rps = conn.placement.get("/resource_providers", params={"name": HOST}).json()["resource_providers"]
    if not rps:
        return False
    inv = conn.placement.get("/resource_providers/{}/inventories".format(rps[0]["uuid"])).json()["inventories"]
    return "VCPU" in inv


def discover_hosts():
    subprocess.run(
        [
            os.path.join(D, "venv", "bin", "nova-manage"),
            "--config-file",
            os.path.join(D, "etc", "nova", "nova.conf"),
            "cell_v2",
            "discover_hosts",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


state = "nothing yet"
while True:
    try:
        if not mapped():
            state = "host not mapped to a cell"
            discover_hosts()
        elif not service_up():
            state = f"nova-compute service not reported up since {started}"
        elif not provider_ready():
            state = f"no VCPU inventory in placement for {HOST}"
        elif not cinder_up():
            state = f"cinder-scheduler/cinder-volume not reported up since {cinder_started}, or no fake pool"
        else:
            print(f"nova-compute on host {HOST} and cinder-volume ready")
            break
    except Exception as exc:  # a service still starting, a keep-alive connection closed under us, ...
        state = f"{type(exc).__name__}: {exc}"
        print(state, flush=True)
    if time.monotonic() > deadline:
        sys.exit(f"timed out waiting for nova-compute: {state}")
    time.sleep(2)
engine.dispose()

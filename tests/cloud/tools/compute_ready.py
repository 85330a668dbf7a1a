"""Wait (bounded) until nova-compute can take boots (run by up.sh with the cloud's venv).

Ready = the compute host is mapped to cell1 (runs `nova-manage cell_v2 discover_hosts` until it is), its
nova-compute service reports "up" with a heartbeat newer than argv[1] (UTC, the time up.sh launched it), and
its resource provider in placement has a VCPU inventory.
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
started = datetime.datetime.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else datetime.datetime(1970, 1, 1)
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


def service_up():
    for s in conn.compute.get("/os-services?binary=nova-compute").json()["services"]:
        if s["host"] == HOST and s["state"] == "up" and s["updated_at"]:
            updated = datetime.datetime.fromisoformat(s["updated_at"].rstrip("Z").split("+")[0])
            return updated >= started
    return False


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
        else:
            print(f"nova-compute on host {HOST} ready")
            break
    except Exception as exc:  # a service still starting, a keep-alive connection closed under us, ...
        state = f"{type(exc).__name__}: {exc}"
        print(state, flush=True)
    if time.monotonic() > deadline:
        sys.exit(f"timed out waiting for nova-compute: {state}")
    time.sleep(2)
engine.dispose()

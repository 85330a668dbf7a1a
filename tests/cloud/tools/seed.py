"""Idempotently seed the test cloud and describe it for the tests (run by up.sh with the cloud's venv).

For the projects made by keystone_setup.py: the Nova quota instances=1 of lowquota and no instance/core/RAM limit
for bulk; lowquota's Neutron quotas (1 floating IP, 2 security groups) and Cinder quotas (2 volumes, 3 GiB,
1 snapshot); networks demo-net (owned by demo), lowquota-net (owned by lowquota), bulk-net (owned by bulk, a /22)
and the shared network `private`, each with one IPv4 subnet without DHCP; the external network `public`
(172.24.4.0/24) and the router `router1` (admin's) from it to the subnets of demo-net, lowquota-net and private,
so that their ports can have floating IPs; the public raw image tiny-raw (4 KiB); flavors m1.nano, m1.tiny,
m1.small, m1.toobig.
Writes $DEVSTACK_CLOUD_DIR/cloud.json, demo.env, lowquota.env and bulk.env.
"""

import json
import os

import openstack

D = os.environ.get("DEVSTACK_CLOUD_DIR", "/tmp/devstack-client-cloud")
PW = os.environ.get("DEVSTACK_CLOUD_PASSWORD", "secret")
AUTH = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"

conn = openstack.connect(
    auth_url=AUTH,
    username="admin",
    password=PW,
    project_name="admin",
    user_domain_name="Default",
    project_domain_name="Default",
    region_name=REGION,
)
# one list per kind of object: this runs on the critical path of a cold up.sh
projects = {p.name: p for p in conn.identity.projects(domain_id="default")}
demo_project, low_project, admin_project = projects["demo"], projects["lowquota"], projects["admin"]
steady_project, bulk_project = projects["steady"], projects["bulk"]

# Nova quota of the lowquota project: enforced by nova-api when the POST arrives (see [quota] in nova.conf)
conn.compute.put(f"/os-quota-sets/{low_project.id}", json={"quota_set": {"instances": 1}}).raise_for_status()
quota = conn.compute.get(f"/os-quota-sets/{low_project.id}").json()["quota_set"]
assert quota["instances"] == 1, quota
# lowquota's Neutron and Cinder quotas, low enough for the tests to reach them (its default security group
# counts as one of the two groups)
LOW_NETWORK_QUOTA = {"floatingip": 1, "security_group": 2}
conn.network.put(f"/quotas/{low_project.id}", json={"quota": LOW_NETWORK_QUOTA}).raise_for_status()
LOW_VOLUME_QUOTA = {"volumes": 2, "gigabytes": 3, "snapshots": 1}
conn.block_storage.put(f"/os-quota-sets/{low_project.id}", json={"quota_set": LOW_VOLUME_QUOTA}).raise_for_status()
# the bulk project boots tens of servers at once (load tests, benchmark): no instance, core or RAM limit
BULK_QUOTA = {"instances": -1, "cores": -1, "ram": -1}
conn.compute.put(f"/os-quota-sets/{bulk_project.id}", json={"quota_set": BULK_QUOTA}).raise_for_status()

# m1.toobig: a root disk no host has (the fake driver offers 600000 GB, and disk is not a quota): a boot with it
# is scheduled nowhere and ends in ERROR with a fault ("No valid host was found. ...")
FLAVORS = [
    ("m1.nano", "42", 64, 1, 0),
    ("m1.tiny", "1", 512, 1, 1),
    ("m1.small", "2", 2048, 1, 20),
    ("m1.toobig", "666", 64, 1, 2_000_000_000),
]
existing = {f.name: f for f in conn.compute.flavors(is_public=None)}
flavors = {}
for name, fid, ram, vcpus, disk in FLAVORS:
    flavor = existing.get(name) or conn.compute.create_flavor(
        name=name, id=fid, ram=ram, vcpus=vcpus, disk=disk, is_public=True
    )
    flavors[name] = {"id": flavor.id, "name": name, "ram": ram, "vcpus": vcpus, "disk": disk}

image = next(iter(conn.image.images(name="tiny-raw")), None)
if image is None:
    image = conn.image.create_image(
        name="tiny-raw",
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="public",
        allow_duplicates=False,
    )
image = conn.image.get_image(image.id)
assert image.status == "active", image.status


all_networks = list(conn.network.networks())
all_subnets = list(conn.network.subnets())


def network(name, cidr, project_id, shared=False):
    net = next((n for n in all_networks if n.name == name and n.project_id == project_id), None)
    if net is None:
        net = conn.network.create_network(name=name, project_id=project_id, is_shared=shared)
    subnets = [s for s in all_subnets if s.network_id == net.id]
    if not subnets:
        subnets = [
            conn.network.create_subnet(
                network_id=net.id,
                project_id=project_id,
                name=name + "-subnet",
                ip_version=4,
                cidr=cidr,
                enable_dhcp=False,
            )
        ]
    return {
        "id": net.id,
        "name": name,
        "subnet_id": subnets[0].id,
        "cidr": subnets[0].cidr,
        "project_id": project_id,
        "shared": shared,
    }


networks = {
    "demo": network("demo-net", "10.98.0.0/24", demo_project.id),
    "lowquota": network("lowquota-net", "10.97.0.0/24", low_project.id),
    "shared": network("private", "10.99.0.0/24", admin_project.id, shared=True),
    "bulk": network("bulk-net", "10.96.0.0/22", bulk_project.id),  # room for ~1000 ports
}


# The external network and router: floating IPs exist as API objects (the router service plugin; no L3 agent, so
# no NAT happens and a floating IP stays DOWN), and associating one with a port needs a router from `public` to
# the port's subnet.
public = next((n for n in all_networks if n.name == "public" and n.is_router_external), None)
if public is None:
    public = conn.network.create_network(
        name="public", is_router_external=True, provider_network_type="flat", provider_physical_network="public"
    )
public_subnet = next((s for s in all_subnets if s.network_id == public.id), None)
if public_subnet is None:
    public_subnet = conn.network.create_subnet(
        network_id=public.id,
        name="public-subnet",
        ip_version=4,
        cidr="172.24.4.0/24",
        gateway_ip="172.24.4.1",
        enable_dhcp=False,
        allocation_pools=[{"start": "172.24.4.10", "end": "172.24.4.250"}],
    )
router = next(iter(conn.network.routers(name="router1")), None)
if router is None:
    router = conn.network.create_router(name="router1", external_gateway_info={"network_id": public.id})
joined = {
    ip["subnet_id"]
    for port in conn.network.ports(device_id=router.id, device_owner="network:router_interface")
    for ip in port.fixed_ips
}
for key in ("demo", "lowquota", "shared"):
    if networks[key]["subnet_id"] not in joined:
        conn.network.add_interface_to_router(router, subnet_id=networks[key]["subnet_id"])
external = {"id": public.id, "name": "public", "subnet_id": public_subnet.id, "cidr": "172.24.4.0/24"}


def user(name, project):
    return {
        "username": name,
        "password": PW,
        "project_id": project.id,
        "project_name": project.name,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }


logs = os.path.join(D, "logs")
cloud = {
    "auth_url": AUTH,
    "region": REGION,
    "state_dir": D,
    "python": os.path.join(D, "venv", "bin", "python"),
    "endpoints": {
        "identity": AUTH,
        "compute": "http://127.0.0.1:8774/v2.1",
        "image": "http://127.0.0.1:9292",
        "network": "http://127.0.0.1:9696",
        "placement": "http://127.0.0.1:8778",
        "block-storage": "http://127.0.0.1:8776/v3",
    },
    "users": {
        "admin": user("admin", admin_project),
        "demo": user("demo", demo_project),
        "lowquota": user("lowquota", low_project),
        "steady": user("steady", steady_project),
        "bulk": user("bulk", bulk_project),
    },
    "quotas": {
        "lowquota": {"instances": 1, "network": LOW_NETWORK_QUOTA, "volume": LOW_VOLUME_QUOTA},
        "bulk": BULK_QUOTA,
    },
    "image": {"id": image.id, "name": image.name, "size": image.size},
    "flavors": flavors,
    "flavor": flavors["m1.nano"],
    "networks": networks,
    "external_network": external,
    "router": {"id": router.id, "name": "router1", "joins": ["demo", "lowquota", "shared"]},
    "access_logs": {
        name: os.path.join(logs, name + "-access.log")
        for name in ("keystone", "glance", "placement", "neutron", "cinder-api", "nova-api")
    },
    "logs_dir": logs,
}


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


write(os.path.join(D, "cloud.json"), json.dumps(cloud, indent=2, sort_keys=True) + "\n")
for name in ("demo", "lowquota", "bulk"):
    u = cloud["users"][name]
    write(
        os.path.join(D, name + ".env"),
        "AUTH_URL={}\nUSERNAME={}\nPASSWORD={}\nPROJECT_ID={}\nUSER_DOMAIN_NAME={}\n".format(
            AUTH, u["username"], u["password"], u["project_id"], u["user_domain_name"]
        ),
    )
print(f"seeded; demo project {demo_project.id}, lowquota project {low_project.id}, image {image.id}")

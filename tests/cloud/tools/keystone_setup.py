"""Idempotent Keystone setup (run by up.sh with the cloud's venv, as soon as keystone answers).

The catalog: project `service`, the service users glance/placement/nova/neutron/cinder (roles admin + service),
the services image/placement/compute/network/block-storage (also as volumev3, which Nova looks up) with public
endpoints. The test identities: projects `demo`,
`lowquota`, `steady` and `bulk`, each with a user of the same name and role member.
Few calls on purpose (one list per kind of object): this is on the critical path of a cold up.sh.
"""

import os

import openstack
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

PW = os.environ.get("DEVSTACK_CLOUD_PASSWORD", "secret")
AUTH = "http://127.0.0.1:5000/v3"
SERVICES = [  # user, service name, service type, public URL
    ("glance", "glance", "image", "http://127.0.0.1:9292"),
    ("placement", "placement", "placement", "http://127.0.0.1:8778"),
    ("nova", "nova", "compute", "http://127.0.0.1:8774/v2.1"),
    ("neutron", "neutron", "network", "http://127.0.0.1:9696"),
    # one cinder user, two service types: openstacksdk looks up block-storage, Nova's [cinder] volumev3
    ("cinder", "cinder", "block-storage", "http://127.0.0.1:8776/v3/%(project_id)s"),
    ("cinder", "cinderv3", "volumev3", "http://127.0.0.1:8776/v3/%(project_id)s"),
]
# project and user of the same name, role member; `steady` is for the steady-state test alone (it tells the
# gateway's calls from those of other clients by project); `bulk` (no Nova quota) for the load tests and the
# benchmark, which boot tens of servers at once
TEST_USERS = ("demo", "lowquota", "steady", "bulk")

conn = openstack.connect(
    auth_url=AUTH,
    username="admin",
    password=PW,
    project_name="admin",
    user_domain_name="Default",
    project_domain_name="Default",
    region_name="RegionOne",
)
idc = conn.identity
roles = {r.name: r for r in idc.roles()}
for name in ("admin", "service", "member", "reader"):
    if name not in roles:
        roles[name] = idc.create_role(name=name)
projects = {p.name: p for p in idc.projects(domain_id="default")}
users = {u.name: u for u in idc.users(domain_id="default")}


def project(name, description):
    if name not in projects:
        projects[name] = idc.create_project(name=name, domain_id="default", description=description)
    return projects[name]


def user(name, default_project):
    if name not in users:
        users[name] = idc.create_user(
            name=name, password=PW, domain_id="default", default_project_id=default_project.id
        )
    elif not password_works(name):  # a rerun with another DEVSTACK_CLOUD_PASSWORD
        # Setting a password revokes the user's tokens, even when it is the same one: the running services'
        # tokens would then fail their next calls (placement answered nova-scheduler 401: boots in ERROR).
        idc.update_user(users[name], password=PW)
    return users[name]


def password_works(name):
    auth = v3.Password(auth_url=AUTH, username=name, password=PW, user_domain_name="Default", unscoped=True)
    try:
        ks_session.Session(auth=auth).get_token()
    except ks_exc.Unauthorized:
        return False
    return True


service_project = project("service", "service users")
services = {s.type: s for s in idc.services()}
endpoints = {e.service_id: e for e in idc.endpoints(interface="public")}
for user_name, svc_name, svc_type, url in SERVICES:
    u = user(user_name, service_project)
    for role in ("admin", "service"):
        idc.assign_project_role_to_user(service_project, u, roles[role])
    svc = services.get(svc_type) or idc.create_service(name=svc_name, type=svc_type, is_enabled=True)
    ep = endpoints.get(svc.id)
    if ep is None:
        idc.create_endpoint(service_id=svc.id, interface="public", url=url, region_id="RegionOne")
    elif ep.url != url:
        idc.update_endpoint(ep, url=url)

for name in TEST_USERS:
    p = project(name, "devstack-client tests")
    idc.assign_project_role_to_user(p, user(name, p), roles["member"])
print("catalog:", sorted((svc_type, svc_name) for _, svc_name, svc_type, _ in SERVICES), "users:", TEST_USERS)

"""Tenant isolation: two users in two projects never see or touch each other's servers."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack_client import create_app
from tests.api.test_user_tokens import ALICE, ALICE_PROJECT, BOB, BOB_PROJECT, as_user
from tests.fakes import CREDENTIALS, make_fake_server, nova_error

ALICE_VM = make_fake_server(name="alice-vm", tenant_id=ALICE_PROJECT)
BOB_VM = make_fake_server(name="bob-vm", tenant_id=BOB_PROJECT)


@pytest.fixture
def nova_per_project(cloud):
    """Keystone knows both users; Nova answers each token with its own project's servers only."""
    cloud.keystone_refuses_tokens()
    cloud.user_token(ALICE, "alice", ALICE_PROJECT)
    cloud.user_token(BOB, "bob", BOB_PROJECT)
    # Nova answers a server of another project exactly as a missing one.
    cloud.nova("GET", f"/servers/{BOB_VM['id']}", status=404, body=nova_error(404, "Instance could not be found."))
    for token, server in ((ALICE, ALICE_VM), (BOB, BOB_VM)):
        headers = {"X-Auth-Token": token}
        cloud.nova("GET", "/servers/detail", body={"servers": [server]}, request_headers=headers)
        cloud.nova("GET", f"/servers/{server['id']}", body={"server": server}, request_headers=headers)
    return cloud.nova(
        "DELETE", f"/servers/{BOB_VM['id']}", status=404, body=nova_error(404, "Instance could not be found.")
    )


@pytest.fixture
def client(nova_per_project):
    return create_app({**CREDENTIALS, "ALLOW_USER_TOKENS": "true"}).test_client()


def test_each_user_lists_only_their_own_servers(client):
    alice = client.get("/api/v1/server?fields=id,name", headers=as_user(ALICE))
    bob = client.get("/api/v1/server?fields=id,name", headers=as_user(BOB))

    assert alice.json["servers"] == [{"id": ALICE_VM["id"], "name": "alice-vm"}]
    assert bob.json["servers"] == [{"id": BOB_VM["id"], "name": "bob-vm"}]


@pytest.mark.parametrize("ref", [BOB_VM["id"], "bob-vm"], ids=["by-id", "by-name"])
def test_a_user_cannot_see_another_projects_server(client, cloud, ref):
    response = client.get(f"/api/v1/server/{ref}", headers=as_user(ALICE))

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    nova = [r for r in cloud.history if r.hostname == "nova.test" and r.path != "/v2.1"]
    assert nova and all(r.headers["X-Auth-Token"] == ALICE for r in nova)


def test_a_user_cannot_delete_another_projects_server(client, cloud, nova_per_project):
    response = client.delete(f"/api/v1/server/{BOB_VM['id']}", headers=as_user(ALICE))

    assert response.status_code == 404
    assert nova_per_project.last_request.headers["X-Auth-Token"] == ALICE
    # Bob still has it.
    assert client.get(f"/api/v1/server/{BOB_VM['id']}", headers=as_user(BOB)).json["name"] == "bob-vm"


def test_concurrent_users_never_get_each_others_answers(nova_per_project, cloud):
    app = create_app({**CREDENTIALS, "ALLOW_USER_TOKENS": "true"})

    def list_as(token):
        response = app.test_client().get("/api/v1/server?fields=id,name", headers=as_user(token))
        return token, [server["name"] for server in response.json["servers"]]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(list_as, [ALICE, BOB] * 100))

    assert answers == [(ALICE, ["alice-vm"]), (BOB, ["bob-vm"])] * 100
    assert cloud.validations() == 2  # concurrent first calls wait for one validation
    assert cloud.token_request.call_count == 0

"""Dashboard features on the real cloud: paging, names in lists, ?wait, Idempotency-Key, ?dry_run."""

import threading
from concurrent.futures import ThreadPoolExecutor

from devstack_client.services.launch import key_tag
from tests.cloud.harness import server_name, wait_active, wait_for

SAME_INSTANT = 4  # requests sent with one key at once, per round
ROUNDS = 3


def by_name(cloud_info, label):
    return {"name": server_name(label), "image": cloud_info.image["name"], "flavor": cloud_info.flavor["name"],
            "network": cloud_info.networks["demo"]["name"]}  # fmt: skip


def test_create_by_names_and_wait_until_active(gateway, cloud_info, servers):
    resp = gateway.post("/api/v1/server?wait=true&timeout=120", json=by_name(cloud_info, "wait"))
    assert resp.status_code == 201, resp.text
    servers.created.append((gateway, resp.json()["id"]))

    body = resp.json()
    assert body["status"] == "ACTIVE"
    assert body["image"]["id"] == cloud_info.image["id"]
    assert body["flavor"]["name"] == cloud_info.flavor["name"]
    assert cloud_info.networks["demo"]["name"] in body["addresses"]


def test_lists_page_one_call_at_a_time_and_carry_image_names(gateway, cloud_info, servers):
    made = [servers.create(gateway, cloud_info, f"page-{n}") for n in range(3)]
    assert [r.status_code for r in made] == [201] * 3
    # Nova lists servers still being scheduled (build requests) ahead of the
    # sorted ones, whatever the sort: page once they all exist as instances.
    for resp in made:
        wait_active(gateway, resp.json()["id"])
    prefix = server_name("page-")

    first = gateway.get(f"/api/v1/server?name_like={prefix}&limit=2&sort=name").json()
    second = gateway.get(f"/api/v1/server?name_like={prefix}&limit=2&sort=name&marker={first['next_marker']}").json()

    names = [s["name"] for s in first["servers"] + second["servers"]]
    assert names == [server_name(f"page-{n}") for n in range(3)]
    assert first["next_marker"] == first["servers"][-1]["id"]
    assert second["next_marker"] is None
    assert {s["image"]["name"] for s in first["servers"]} == {cloud_info.image["name"]}

    picked = gateway.get(f"/api/v1/server?name={server_name('page-1')}&fields=id,name").json()["servers"]
    assert picked == [{"id": made[1].json()["id"], "name": server_name("page-1")}]


def test_retries_with_an_idempotency_key_never_make_a_second_server(gateway, cloud_info, servers):
    body = by_name(cloud_info, "idem")
    key = {"Idempotency-Key": server_name("idem-key")}

    # A retrying client: each retry after the previous attempt answered.
    answers = [gateway.post("/api/v1/server", json=body, headers=key) for _ in range(3)]
    for resp in answers:
        if resp.status_code == 201:
            servers.created.append((gateway, resp.json()["id"]))

    assert [r.status_code for r in answers] == [201] * 3, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    wait_active(gateway, answers[0].json()["id"])
    listed = gateway.get(f"/api/v1/server?name={body['name']}").json()["servers"]
    assert [s["id"] for s in listed] == [answers[0].json()["id"]]

    retry = gateway.post("/api/v1/server", json=body, headers=key)
    assert (retry.status_code, retry.json()["id"]) == (201, answers[0].json()["id"])
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = gateway.post("/api/v1/server", json={**body, "name": body["name"] + "-other"}, headers=key)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


def test_dry_run_checks_and_creates_nothing(gateway, cloud_info, servers):
    body = by_name(cloud_info, "dry")

    resp = gateway.post("/api/v1/server?dry_run=true", json=body)

    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["image"] == {"id": cloud_info.image["id"], "name": cloud_info.image["name"]}
    assert gateway.get(f"/api/v1/server?name={body['name']}").json()["servers"] == []

    missing = gateway.post("/api/v1/server?dry_run=true", json={**body, "flavor": "no-such-flavor"})
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (400, "flavor")

    assert servers.create(gateway, cloud_info, "dry").status_code == 201
    taken = gateway.post("/api/v1/server?dry_run=true", json=body)
    assert (taken.status_code, taken.json()["code"]) == (409, "name_in_use")


def test_dry_run_over_quota_says_what_nova_would(cloud_info, start_gateway, servers):
    low = start_gateway(cloud_info.credentials("lowquota"), "lowquota-dry")
    body = {**by_name(cloud_info, "dry-quota"), "network": cloud_info.networks["lowquota"]["name"]}
    assert servers.create(low, cloud_info, "dry-quota-1", network="lowquota").status_code == 201

    dry = low.post("/api/v1/server?dry_run=true", json=body)
    real = low.post("/api/v1/server", json=body)

    assert dry.status_code == real.status_code == 400
    assert dry.json()["code"] == real.json()["code"] == "quota_exceeded"
    assert dry.json()["message"].startswith("Quota exceeded for instances: Requested 1, but already used 1 of 1")


def test_requests_sent_at_once_with_one_key_make_one_server(cloud_info, start_gateway, upstream, servers):
    """A client retrying before its first attempt answered: every answer names one server, and one exists."""
    bulk = start_gateway(cloud_info.credentials("bulk"), "bulk-idem")  # no quota: twins may exist for a moment
    for round_ in range(ROUNDS):
        body = {**by_name(cloud_info, f"idem-at-once-{round_}"), "network": cloud_info.networks["bulk"]["name"]}
        key = {"Idempotency-Key": server_name(f"idem-at-once-key-{round_}")}
        start = threading.Barrier(SAME_INSTANT)

        def create(_: int, body=body, key=key, start=start):
            start.wait()
            return bulk.post("/api/v1/server", json=body, headers=key)

        with ThreadPoolExecutor(SAME_INSTANT) as pool:
            answers = list(pool.map(create, range(SAME_INSTANT)))
        ids = {r.json()["id"] for r in answers if r.status_code == 201}
        servers.created.extend((bulk, server_id) for server_id in ids)

        assert [r.status_code for r in answers] == [201] * SAME_INSTANT, [r.text for r in answers]
        assert len(ids) == 1, f"round {round_}: {len(ids)} servers for one key"
        assert sum("Idempotent-Replayed" not in r.headers for r in answers) == 1

        def only_one_left(name=body["name"]):
            found = upstream("bulk").get("compute", "/servers", name=f"^{name}$")["servers"]
            return found if len(found) == 1 else None

        assert [s["id"] for s in wait_for(only_one_left, 60, "the twins to be deleted")] == list(ids)


def test_a_late_twin_from_a_dead_gateway_is_deleted_by_the_one_that_answered(cloud_info, start_gateway, upstream):
    """A keyed POST whose gateway died, finished by Nova after another gateway answered the key's retry: here
    that POST is sent straight to Nova (with the key's tag, as the dead gateway sent it) once the answer came."""
    watch = 24  # s: IDEMPOTENCY_WATCH_SECONDS, looks at about 1, 3, 7, 15 and 24 s
    gw = start_gateway({**cloud_info.credentials("bulk"), "IDEMPOTENCY_WATCH_SECONDS": str(watch)}, "bulk-watch")
    nova = upstream("bulk")
    body = {**by_name(cloud_info, "late-twin"), "network": cloud_info.networks["bulk"]["name"]}
    key = server_name("late-twin-key")
    answered = gw.post("/api/v1/server", json=body, headers={"Idempotency-Key": key})
    assert answered.status_code == 201, answered.text
    ours = answered.json()["id"]
    try:
        late = nova.request(
            "compute",
            "POST",
            "/servers",
            json={
                "server": {
                    "name": body["name"],
                    "imageRef": cloud_info.image["id"],
                    "flavorRef": cloud_info.flavor["id"],
                    "networks": [{"uuid": cloud_info.networks["bulk"]["id"]}],
                    "tags": [key_tag(key)],
                }
            },
        )
        assert late.status_code == 202, late.text
        twin = late.json()["server"]["id"]

        def only_ours() -> list[str] | None:
            found = [s["id"] for s in nova.get("compute", "/servers", name=f"^{body['name']}$")["servers"]]
            return found if found == [ours] else None

        assert wait_for(only_ours, watch + 30, "the late twin to be deleted") == [ours]
        assert f"idempotency watch: deleting late duplicate server {twin}, keeping {ours}" in gw.log_path.read_text()
        again = gw.post("/api/v1/server", json=body, headers={"Idempotency-Key": key})  # the key still names ours
        assert (again.status_code, again.json()["id"], again.headers["Idempotent-Replayed"]) == (201, ours, "true")
    finally:
        for server in nova.get("compute", "/servers", name=f"^{body['name']}$")["servers"]:
            nova.request("compute", "DELETE", f"/servers/{server['id']}").close()

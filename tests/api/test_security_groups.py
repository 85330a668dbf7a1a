"""Security groups and their rules, with Neutron on the wire."""

import pytest

from devstack_client.services.launch import key_tag
from tests.api.test_user_tokens import ALICE, ALICE_PROJECT, BOB, BOB_PROJECT, gateway
from tests.fakes import (
    CINDER,
    CINDER_ROOT,
    NEUTRON,
    PROJECT_ID,
    SERVER_ID,
    load_fixture,
    make_fake_limits,
    make_fake_volume_limits,
    neutron_error,
)
from tests.neutron_fakes import make_fake_neutron_quota, make_fake_port, make_fake_rule, make_fake_security_group

SG = f"{NEUTRON}/v2.0/security-groups"
RULES = f"{NEUTRON}/v2.0/security-group-rules"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def neutron_sent(cloud, method=None):
    return [
        r for r in cloud.history if r.hostname == "neutron.test" and r.path != "/v2.0" and method in (None, r.method)
    ]


def changes(cloud):
    return [f"{r.method} {r.url}" for r in cloud.history if r.method in MUTATING and r.hostname != "keystone.test"]


# -- list and show ---------------------------------------------------------------------


def test_list_groups_of_the_project_with_their_rules(client, cloud):
    group = make_fake_security_group(name="web", description="HTTP")
    cloud.neutron("GET", "/security-groups", body={"security_groups": [group]})

    response = client.get("/api/v1/security-group")

    assert response.status_code == 200
    egress = group["security_group_rules"][0]
    assert response.json == {
        "security_groups": [
            {
                "id": group["id"],
                "name": "web",
                "description": "HTTP",
                "is_stateful": True,
                "project_id": PROJECT_ID,
                "rules": [
                    {
                        "id": egress["id"],
                        "direction": "egress",
                        "ethertype": "IPv4",
                        "protocol": "any",
                        "port_min": None,
                        "port_max": None,
                        "remote_cidr": None,
                        "remote_group_id": None,
                        "description": "",
                    },
                    response.json["security_groups"][0]["rules"][1],
                ],
                "created_at": "2026-11-30T11:02:03Z",
                "updated_at": "2026-11-30T11:02:03Z",
            }
        ],
        "next_marker": None,
    }
    assert response.json["security_groups"][0]["rules"][1]["ethertype"] == "IPv6"
    # Scoped to the caller's project: an admin's token would list every project's "default".
    assert cloud.api_calls() == [f"GET {SG}?project_id={PROJECT_ID}&limit=101"]


def test_list_filters_sorts_pages_and_selects_fields(client, cloud):
    groups = [make_fake_security_group(name="web") for _ in range(3)]
    cloud.neutron("GET", "/security-groups", body={"security_groups": groups})

    response = client.get("/api/v1/security-group?limit=2&marker=m&name=web&sort=-name&fields=name")

    assert response.json == {
        "security_groups": [{"id": g["id"], "name": "web"} for g in groups[:2]],
        "next_marker": groups[1]["id"],
    }
    assert cloud.history[-1].qs == {
        "name": ["web"],
        "project_id": [PROJECT_ID.lower()],
        "sort_key": ["name"],
        "sort_dir": ["desc"],
        "limit": ["3"],
        "marker": ["m"],
    }


def test_an_unknown_marker_is_400_naming_it(client, cloud):
    message = "Security group m could not be found."
    cloud.neutron("GET", "/security-groups", status=404, body=neutron_error("SecurityGroupNotFound", message))

    response = client.get("/api/v1/security-group?marker=m")

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "marker"


def test_show_by_id_is_one_call(client, cloud):
    group = make_fake_security_group()
    cloud.neutron("GET", f"/security-groups/{group['id']}", body={"security_group": group})

    response = client.get(f"/api/v1/security-group/{group['id']}")

    assert response.status_code == 200
    assert response.json["id"] == group["id"] and len(response.json["rules"]) == 2
    assert cloud.api_calls() == [f"GET {SG}/{group['id']}"]


def test_show_by_name_looks_in_the_project_only(client, cloud):
    group = make_fake_security_group(name="web")
    other = make_fake_security_group(name="web-2")  # Neutron's name filter is exact; ours checks it too
    cloud.neutron("GET", "/security-groups", body={"security_groups": [group, other]})

    response = client.get("/api/v1/security-group/web")

    assert response.json["id"] == group["id"]
    assert cloud.api_calls() == [f"GET {SG}?name=web&project_id={PROJECT_ID}"]


def test_an_ambiguous_name_is_409_with_candidates(client, cloud):
    twins = [make_fake_security_group(name="web"), make_fake_security_group(name="web")]
    cloud.neutron("GET", "/security-groups", body={"security_groups": twins})

    response = client.get("/api/v1/security-group/web")

    assert response.status_code == 409
    assert response.json["code"] == "ambiguous_name"
    assert response.json["candidates"] == [{"id": g["id"], "name": "web"} for g in twins]


def test_an_unknown_group_is_404(client, cloud):
    group_id = "85cc3048-abc3-43cc-89b3-377341426ac5"
    message = f"Security group {group_id} does not exist"
    cloud.neutron(
        "GET", f"/security-groups/{group_id}", status=404, body=neutron_error("SecurityGroupNotFound", message)
    )
    cloud.neutron("GET", "/security-groups", body={"security_groups": []})

    response = client.get(f"/api/v1/security-group/{group_id}")

    assert (response.status_code, response.json["code"]) == (404, "not_found")


# -- create, edit, delete ----------------------------------------------------------------


def test_create_answers_201_with_location_and_neutrons_egress_rules(client, cloud):
    group = make_fake_security_group(name="web", description="HTTP")
    cloud.neutron("POST", "/security-groups", status=201, body={"security_group": group})

    response = client.post("/api/v1/security-group", json={"name": "web", "description": "HTTP"})

    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/security-group/{group['id']}")
    assert response.json["name"] == "web" and [r["direction"] for r in response.json["rules"]] == ["egress"] * 2
    assert cloud.api_calls() == [f"POST {SG}"]
    assert cloud.history[-1].json() == {"security_group": {"name": "web", "description": "HTTP"}}


def test_over_quota_is_400_quota_exceeded_with_neutrons_text(client, cloud):
    message = "Quota exceeded for resources: ['security_group']."
    cloud.neutron("POST", "/security-groups", status=409, body=neutron_error("OverQuota", message))

    response = client.post("/api/v1/security-group", json={"name": "web"})

    assert response.status_code == 400
    assert response.json["code"] == "quota_exceeded"
    assert response.json["message"] == message
    assert response.json["upstream_status"] == 409
    assert response.json["upstream_request_id"] == "req-upstream-1"


def tags_answer(*groups):
    """Neutron's PUT .../tags: the tags it now holds (copied onto ``groups``, as Neutron would list them)."""

    def answer(request, context):
        for group in groups:
            group["tags"] = request.json()["tags"]
        return {"tags": request.json()["tags"]}

    return answer


JSON = {"Content-Type": "application/json"}


def test_an_idempotency_key_creates_once_then_tags(client, cloud):
    tag = key_tag("k-1")
    created = make_fake_security_group(name="web")
    listed = cloud.mocker.get(
        SG,
        response_list=[
            {"json": {"security_groups": []}, "headers": JSON},
            {"json": {"security_groups": [created]}, "headers": JSON},
        ],
    )
    cloud.neutron("POST", "/security-groups", status=201, body={"security_group": created})
    tagged = cloud.mocker.put(f"{SG}/{created['id']}/tags", json=tags_answer(created), headers=JSON)

    response = client.post("/api/v1/security-group", json={"name": "web"}, headers={"Idempotency-Key": "k-1"})

    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert listed.call_count == 2
    # Neutron 29 refuses tags in the POST: set right after it.
    assert changes(cloud) == [f"POST {SG}", f"PUT {SG}/{created['id']}/tags"]
    assert cloud.history[-3].json() == {"security_group": {"name": "web"}}
    sent = tagged.last_request.json()["tags"]
    assert sent[0] == tag and sent[1].startswith("req-") and len(sent) == 2
    assert listed.last_request.qs == {"tags": [tag], "project_id": [PROJECT_ID.lower()]}


def test_a_failed_tagging_deletes_the_new_group(client, cloud):
    created = make_fake_security_group(name="web")
    cloud.neutron("GET", "/security-groups", body={"security_groups": []})
    cloud.neutron("POST", "/security-groups", status=201, body={"security_group": created})
    cloud.neutron(
        "PUT", f"/security-groups/{created['id']}/tags", status=500, body=neutron_error("HTTPInternalServerError", "x")
    )
    deleted = cloud.neutron("DELETE", f"/security-groups/{created['id']}", status=204)

    response = client.post("/api/v1/security-group", json={"name": "web"}, headers={"Idempotency-Key": "k-9"})

    assert (response.status_code, response.json["code"]) == (502, "upstream_error")
    assert deleted.call_count == 1


def test_the_same_key_and_body_replay_the_first_group(client, cloud):
    first = {"name": "web"}
    created = make_fake_security_group(name="web")
    cloud.neutron("GET", "/security-groups", body={"security_groups": []})
    cloud.neutron("POST", "/security-groups", status=201, body={"security_group": created})
    cloud.mocker.put(f"{SG}/{created['id']}/tags", json=tags_answer(created), headers=JSON)
    client.post("/api/v1/security-group", json=first, headers={"Idempotency-Key": "k-2"})
    cloud.neutron("GET", "/security-groups", body={"security_groups": [created]})

    again = client.post("/api/v1/security-group", json=first, headers={"Idempotency-Key": "k-2"})
    other = client.post("/api/v1/security-group", json={"name": "db"}, headers={"Idempotency-Key": "k-2"})

    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == created["id"]
    assert (other.status_code, other.json["code"], other.json["id"]) == (409, "idempotency_key_reused", created["id"])
    assert [c.split()[0] for c in changes(cloud)] == ["POST", "PUT"]


def test_a_race_keeps_the_older_group_and_deletes_ours(client, cloud):
    # A twin request with the same key and body created `older` meanwhile: both carry the same tags.
    older = make_fake_security_group(name="web", created_at="2026-11-30T11:00:00Z")
    ours = make_fake_security_group(name="web", created_at="2026-11-30T11:00:01Z")
    cloud.neutron("POST", "/security-groups", status=201, body={"security_group": ours})
    cloud.mocker.put(f"{SG}/{ours['id']}/tags", json=tags_answer(ours, older), headers=JSON)
    cloud.mocker.get(
        SG,
        response_list=[
            {"json": {"security_groups": []}, "headers": JSON},
            {"json": lambda *_: {"security_groups": [ours, older]}, "headers": JSON},
        ],
    )
    cloud.neutron("DELETE", f"/security-groups/{ours['id']}", status=204)

    response = client.post("/api/v1/security-group", json={"name": "web"}, headers={"Idempotency-Key": "k-3"})

    assert response.status_code == 201 and response.headers["Idempotent-Replayed"] == "true"
    assert response.json["id"] == older["id"]
    assert changes(cloud) == [f"POST {SG}", f"PUT {SG}/{ours['id']}/tags", f"DELETE {SG}/{ours['id']}"]


def test_patch_renames(client, cloud):
    group = make_fake_security_group(name="web-2")
    cloud.neutron("PUT", f"/security-groups/{group['id']}", body={"security_group": group})

    response = client.patch(f"/api/v1/security-group/{group['id']}", json={"name": "web-2"})

    assert response.status_code == 200 and response.json["name"] == "web-2"
    assert cloud.history[-1].json() == {"security_group": {"name": "web-2"}}


def test_patch_with_nothing_to_change_is_400_before_any_call(client, cloud):
    response = client.patch("/api/v1/security-group/web", json={})

    assert response.status_code == 400
    assert cloud.api_calls() == []


def test_delete_by_name(client, cloud):
    group = make_fake_security_group(name="web")
    cloud.neutron("GET", "/security-groups", body={"security_groups": [group]})
    cloud.neutron("DELETE", f"/security-groups/{group['id']}", status=204)

    response = client.delete("/api/v1/security-group/web")

    assert response.status_code == 204 and response.data == b""
    assert changes(cloud) == [f"DELETE {SG}/{group['id']}"]


def test_deleting_a_group_in_use_is_409_naming_servers_and_ports(client, cloud):
    group = make_fake_security_group()
    port = make_fake_port(groups=[group["id"]])
    dhcp = make_fake_port(device_id="dhcp-x", device_owner="network:dhcp")
    message = f"Security Group {group['id']} in use."
    cloud.neutron(
        "DELETE", f"/security-groups/{group['id']}", status=409, body=neutron_error("SecurityGroupInUse", message)
    )
    cloud.neutron("GET", "/ports", body={"ports": [port, dhcp]})

    response = client.delete(f"/api/v1/security-group/{group['id']}")

    assert response.status_code == 409
    assert response.json["code"] == "in_use"
    assert response.json["servers"] == [SERVER_ID]
    assert response.json["ports"] == sorted([port["id"], dhcp["id"]])
    assert SERVER_ID in response.json["message"] and message in response.json["message"]
    assert response.json["upstream_request_id"] == "req-upstream-1"
    assert cloud.history[-1].qs == {
        "security_groups": [group["id"]],
        "fields": ["id", "device_id", "device_owner"],
    }


def test_deleting_the_default_group_is_neutrons_409_conflict(client, cloud):
    group = make_fake_security_group(name="default")
    message = "Insufficient rights for removing default security group."
    cloud.neutron(
        "DELETE",
        f"/security-groups/{group['id']}",
        status=409,
        body=neutron_error("SecurityGroupCannotRemoveDefault", message),
    )

    response = client.delete(f"/api/v1/security-group/{group['id']}")

    assert (response.status_code, response.json["code"], response.json["message"]) == (409, "conflict", message)


# -- rules ---------------------------------------------------------------------------------

GROUP_ID = "85cc3048-abc3-43cc-89b3-377341426ac5"


def rule_answer(request, context):
    body = request.json()["security_group_rule"]
    context.status_code = 201
    return {"security_group_rule": make_fake_rule(body["security_group_id"], **body)}


@pytest.fixture
def rules(cloud):
    return cloud.mocker.post(RULES, json=rule_answer, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("ours", "neutrons"),
    [
        (
            {"direction": "ingress", "protocol": "tcp", "port": 22},
            {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "ethertype": "IPv4"},
        ),
        (
            {
                "direction": "ingress",
                "protocol": "udp",
                "port_min": 5000,
                "port_max": 5100,
                "remote_cidr": "10.1.2.3/16",
            },
            {
                "protocol": "udp",
                "port_range_min": 5000,
                "port_range_max": 5100,
                "remote_ip_prefix": "10.1.0.0/16",
                "ethertype": "IPv4",
            },
        ),
        (
            {"direction": "ingress", "protocol": "icmp", "port_min": 8, "port_max": 0},
            {"protocol": "icmp", "port_range_min": 8, "port_range_max": 0, "ethertype": "IPv4"},
        ),
        (
            {"direction": "egress", "remote_cidr": "2001:db8::/32"},
            {"protocol": None, "remote_ip_prefix": "2001:db8::/32", "ethertype": "IPv6"},
        ),
        ({"direction": "ingress", "protocol": "112"}, {"protocol": "112", "ethertype": "IPv4"}),
    ],
    ids=["tcp 22", "udp range from a cidr", "icmp echo", "any to IPv6", "vrrp by number"],
)
def test_add_a_rule(client, cloud, rules, ours, neutrons):
    response = client.post(f"/api/v1/security-group/{GROUP_ID}/rule", json=ours)

    assert response.status_code == 201, response.json
    sent = rules.last_request.json()["security_group_rule"]
    assert sent == {"security_group_id": GROUP_ID, "direction": ours["direction"], **neutrons}
    assert response.json["direction"] == ours["direction"]
    assert response.json["protocol"] == (neutrons["protocol"] or "any")
    assert cloud.api_calls() == [f"POST {RULES}"]  # a group id needs no lookup


def test_a_rule_from_another_group_by_name(client, cloud, rules):
    web, db = make_fake_security_group(name="web"), make_fake_security_group(name="db")
    cloud.neutron("GET", "/security-groups?name=web", body={"security_groups": [web]})
    cloud.neutron("GET", "/security-groups?name=db", body={"security_groups": [db]})

    response = client.post("/api/v1/security-group/db/rule", json={"direction": "ingress", "remote_group": "web"})

    assert response.status_code == 201
    assert response.json["remote_group_id"] == web["id"]
    assert rules.last_request.json()["security_group_rule"]["security_group_id"] == db["id"]


def test_an_unknown_remote_group_is_400_naming_it(client, cloud):
    cloud.neutron("GET", "/security-groups", body={"security_groups": []})

    response = client.post(
        f"/api/v1/security-group/{GROUP_ID}/rule", json={"direction": "ingress", "remote_group": "x"}
    )

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "remote_group"
    assert changes(cloud) == []


def test_a_duplicate_rule_is_409_conflict_with_neutrons_text(client, cloud):
    message = "Security group rule already exists. Rule id is 2a1b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d."
    cloud.neutron("POST", "/security-group-rules", status=409, body=neutron_error("SecurityGroupRuleExists", message))

    response = client.post(
        f"/api/v1/security-group/{GROUP_ID}/rule", json={"direction": "ingress", "port": 22, "protocol": "tcp"}
    )

    assert (response.status_code, response.json["code"], response.json["message"]) == (409, "conflict", message)
    assert response.json["upstream_request_id"] == "req-upstream-1"


def test_too_many_rules_is_quota_exceeded(client, cloud):
    message = "Quota exceeded for resources: ['security_group_rule']."
    cloud.neutron("POST", "/security-group-rules", status=409, body=neutron_error("OverQuota", message))

    response = client.post(f"/api/v1/security-group/{GROUP_ID}/rule", json={"direction": "ingress"})

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "quota_exceeded", message)


BAD_RULES = {
    "port 0": ({"protocol": "tcp", "port": 0}, "port"),
    "port 65536": ({"protocol": "tcp", "port": 65536}, "port"),
    "reversed range": ({"protocol": "tcp", "port_min": 100, "port_max": 99}, "port_max"),
    "half a range": ({"protocol": "tcp", "port_min": 100}, "port_max"),
    "port and range": ({"protocol": "tcp", "port": 22, "port_min": 22, "port_max": 23}, "port"),
    "ports without a protocol": ({"port": 22}, "port"),
    "ports on gre": ({"protocol": "47", "port": 22}, "port"),
    "icmp type 256": ({"protocol": "icmp", "port_min": 256}, "port_min"),
    "icmp code without type": ({"protocol": "icmp", "port_max": 0}, "port_min"),
    "bad protocol": ({"protocol": "tpc"}, "protocol"),
    "protocol 256": ({"protocol": "256"}, "protocol"),
    "protocol in other digits": ({"protocol": "٦"}, "protocol"),
    "bad cidr": ({"remote_cidr": "10.0.0.0/33"}, "remote_cidr"),
    "a name as cidr": ({"remote_cidr": "anywhere"}, "remote_cidr"),
    "cidr of the other family": ({"remote_cidr": "::/0", "ethertype": "IPv4"}, "ethertype"),
    "bad direction": ({"direction": "inbound"}, "direction"),
    "port as text": ({"protocol": "tcp", "port": "22"}, "port"),
    "unknown field": ({"to_port": 22}, "to_port"),
}


@pytest.mark.parametrize("case", BAD_RULES)
def test_a_bad_rule_is_400_naming_the_field_before_anything_is_sent(client, cloud, case):
    spoiled, field = BAD_RULES[case]

    response = client.post("/api/v1/security-group/web/rule", json={"direction": "ingress", **spoiled})

    assert response.status_code == 400, response.json
    assert response.json["code"] == "invalid_request"
    assert field in [e["field"] for e in response.json["errors"]]
    assert cloud.api_calls() == []


def test_delete_a_rule_of_the_group(client, cloud):
    rule = make_fake_rule(GROUP_ID)
    cloud.neutron("GET", f"/security-group-rules/{rule['id']}", body={"security_group_rule": rule})
    cloud.neutron("DELETE", f"/security-group-rules/{rule['id']}", status=204)

    response = client.delete(f"/api/v1/security-group/{GROUP_ID}/rule/{rule['id']}")

    assert response.status_code == 204
    assert changes(cloud) == [f"DELETE {RULES}/{rule['id']}"]


def test_a_rule_of_another_group_is_404_and_not_deleted(client, cloud):
    rule = make_fake_rule("0b2f4e1c-5d6a-4b7c-8d9e-0f1a2b3c4d5e")
    cloud.neutron("GET", f"/security-group-rules/{rule['id']}", body={"security_group_rule": rule})

    response = client.delete(f"/api/v1/security-group/{GROUP_ID}/rule/{rule['id']}")

    assert (response.status_code, response.json["code"]) == (404, "not_found")
    assert changes(cloud) == []


def test_a_rule_id_that_is_no_uuid_is_404_without_a_call(client, cloud):
    response = client.delete(f"/api/v1/security-group/{GROUP_ID}/rule/..%2F..")

    assert response.status_code == 404
    assert changes(cloud) == []


# -- per-user tokens ---------------------------------------------------------------------------


def test_each_users_token_lists_and_counts_only_that_users_project(cloud):
    cloud.keystone_refuses_tokens()
    cloud.user_token(ALICE, "alice", ALICE_PROJECT)
    cloud.user_token(BOB, "bob", BOB_PROJECT)
    listed = cloud.neutron("GET", "/security-groups", body={"security_groups": []})
    cloud.nova("GET", "/limits", body=make_fake_limits())
    cloud.nova("GET", "/os-keypairs", body={"keypairs": []})
    cloud.nova("GET", "/flavors/detail", body={"flavors": []})
    cloud.cinder("GET", "/limits", body=make_fake_volume_limits())
    # A user's token gets a session of its own, whose first Cinder call discovers the version as keystoneauth does
    # on the real cloud: Cinder answers 404 at the catalog's /v3/{project_id}, its version list at the root.
    cloud.on("GET", CINDER, status=404, text="<html><body>404 Not Found</body></html>")
    cloud.on("GET", f"{CINDER_ROOT}/", body=load_fixture("cinder_versions.json"))
    quotas = {
        project: cloud.neutron("GET", f"/quotas/{project}/details", body=make_fake_neutron_quota())
        for project in (ALICE_PROJECT, BOB_PROJECT)
    }
    client = gateway().test_client()

    for token, project in ((ALICE, ALICE_PROJECT), (BOB, BOB_PROJECT)):
        assert client.get("/api/v1/security-group", headers={"X-Auth-Token": token}).status_code == 200
        sent = listed.last_request
        assert (sent.headers["X-Auth-Token"], sent.qs["project_id"]) == (token, [project])
        assert client.get("/api/v1/limits", headers={"X-Auth-Token": token}).status_code == 200
        assert quotas[project].last_request.headers["X-Auth-Token"] == token

    assert [q.call_count for q in quotas.values()] == [1, 1]

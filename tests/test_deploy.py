"""The deployment files (Containerfile, deploy/): valid for their tools, and agreeing with the gateway and each other.

Kubernetes manifests are checked against the Kubernetes API's JSON schemas (kubernetes-validate, offline),
compose.yaml against the Compose specification's schema (Debian's docker-compose ships it), haproxy.cfg by
`haproxy -c`. The image itself is built and started by deploy/prove-rootfs.sh (README "Deploying").
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from devstack_client import config
from devstack_client.main import gunicorn_options
from tests.cloud.harness import REQUIRE_CLOUD

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
# The Compose specification's schema as Debian's docker-compose 1.29 ships it (tests/run.sh installs it).
COMPOSE_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
# The oldest Kubernetes still maintained upstream when these files were written, and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())


def missing(reason: str) -> None:
    if REQUIRE_CLOUD:
        pytest.fail(reason + "; DEVSTACK_CLIENT_REQUIRE_CLOUD=1 makes this an error", pytrace=False)
    pytest.skip(reason)


# --- reading the files -----------------------------------------------------------------


def containerfile() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Containerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split()[0].upper(), line.split(None, 1)[1]) for line in lines if line and not line.startswith("#")]


def container_env() -> dict[str, str]:
    env = {}
    for keyword, args in containerfile():
        if keyword == "ENV":
            env.update(dict(word.split("=", 1) for word in shlex.split(args)))
    return env


def instruction(keyword: str) -> str:
    (args,) = [a for k, a in containerfile() if k == keyword]
    return args


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, by kind."""
    docs = [doc for path in sorted(KUBERNETES.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return {doc["kind"]: doc for doc in docs}


def container() -> dict[str, Any]:
    (gateway,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return gateway


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def gateways() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items() if name.startswith("gateway-")}


def env_file(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def haproxy_cfg() -> list[list[str]]:
    lines = [line.split("#", 1)[0].split() for line in (DEPLOY / "haproxy.cfg").read_text().splitlines()]
    return [words for words in lines if words]


def haproxy_seconds(*keys: str) -> int:
    (value,) = [words[len(keys)] for words in haproxy_cfg() if tuple(words[: len(keys)]) == keys]
    assert value.endswith("s"), value
    return int(value[:-1])


def deployed_settings() -> config.Settings:
    """The settings a pod runs with: the image's environment, then the ConfigMap, then the Secret."""
    objects = manifests()
    environ = {**container_env(), **objects["ConfigMap"]["data"], **objects["Secret"]["stringData"]}
    return config.load(environ=environ)


# --- Kubernetes --------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", sorted(KUBERNETES.glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifest_is_valid(path: Path, version: str) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        # strict: an unknown field (a typo) is an error, not silently dropped by the API server
        kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_schema_refuses_a_typo() -> None:
    deployment = copy.deepcopy(manifests()["Deployment"])
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["paht"] = probe["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_kubernetes_objects_select_the_deployments_pods() -> None:
    objects = manifests()
    assert set(objects) == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", objects["Deployment"]["metadata"]["name"])
    sources = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container()["envFrom"]}
    assert sources == {objects["ConfigMap"]["metadata"]["name"], objects["Secret"]["metadata"]["name"]}
    assert (
        objects["HorizontalPodAutoscaler"]["spec"]["minReplicas"]
        > objects["PodDisruptionBudget"]["spec"]["maxUnavailable"]
    )


def test_kubernetes_probes_and_ports_match_the_image() -> None:
    gateway = container()
    (port,) = gateway["ports"]
    assert port["containerPort"] == int(container_env()["PORT"]) == int(instruction("EXPOSE"))
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert gateway["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    # /readyz runs four checks, each allowed READY_TIMEOUT: the probe must wait for all of them
    assert gateway["readinessProbe"]["timeoutSeconds"] >= 4 * deployed_settings().ready_timeout
    assert gateway["resources"]["requests"].keys() >= {"cpu", "memory"}
    assert "memory" in gateway["resources"]["limits"]


def test_kubernetes_pods_run_as_the_images_user_on_a_read_only_root() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    uid, gid = instruction("USER").split(":")
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (int(uid), int(gid))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    # the gateway's only writes (gunicorn's worker heartbeats, the metrics files) go to /tmp
    mounts = {m["mountPath"] for m in container()["volumeMounts"]}
    assert "/tmp" in mounts
    assert deployed_settings().prometheus_multiproc_dir.startswith("/tmp/")


def test_kubernetes_grace_period_outlasts_the_slowest_request() -> None:
    """preStop, then gunicorn's whole graceful stop (computed from the ConfigMap's timeouts) fit in the grace period."""
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    graceful = gunicorn_options(deployed_settings())["graceful_timeout"]
    assert graceful == config.MAX_WAIT_SECONDS + 2 * (5 + 60) + 10  # the README's 440 s, with these timeouts
    command = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(command[1]) + graceful


# --- every setting the files set is one of ours, and the examples start ----------------


def test_settings_in_the_files_are_settings() -> None:
    objects = manifests()
    named = {
        "Containerfile ENV": set(container_env()) - {"PATH"},
        "ConfigMap": set(objects["ConfigMap"]["data"]),
        "Secret": set(objects["Secret"]["stringData"]),
        "compose environment": {k for service in gateways().values() for k in service["environment"]},
        "gateway.env.example": set(env_file(DEPLOY / "gateway.env.example")),
    }
    for where, names in named.items():
        assert names, where
        assert not {name for name in names if not config.is_setting(name)}, f"{where} sets what is no setting"
    # secrets stay out of the image, the ConfigMap and the compose file
    secret = {"PASSWORD", "APP_SECRET_KEY", "API_KEYS", "REDIS_URL", "OS_PASSWORD"}
    assert not secret & (named["Containerfile ENV"] | named["ConfigMap"])
    assert not {"PASSWORD", "APP_SECRET_KEY", "API_KEYS"} & named["compose environment"]


@pytest.mark.parametrize("where", ["kubernetes", "compose"])
def test_example_settings_load_and_may_listen(where: str) -> None:
    if where == "kubernetes":
        settings = deployed_settings()
    else:
        (service, *_) = gateways().values()
        environ = {**container_env(), **env_file(DEPLOY / "gateway.env.example"), **service["environment"]}
        settings = config.load(environ=environ)
    assert settings.host == "0.0.0.0"
    assert not settings.secret_key_generated
    # the image listens on every address: the example's API keys are what lets it
    assert config.bind_problem(settings) is None
    assert config.bind_problem(config.load(environ=container_env())) is not None


def test_example_credentials_are_not_committed() -> None:
    """compose.yaml's env file (real credentials) is ignored by git; only its example is in the repository."""
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/gateway.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
    assert all(service["env_file"] == "gateway.env" for service in gateways().values())


# --- the image ---------------------------------------------------------------------------


def test_image_runs_the_gateway_as_a_non_root_user_with_a_health_check() -> None:
    uid, gid = instruction("USER").split(":")
    assert int(uid) != 0 and int(gid) != 0
    (create_user,) = [a for k, a in containerfile() if k == "RUN" and "useradd" in a]
    assert f"--uid {uid}" in create_user and f"--gid {gid}" in create_user
    assert json.loads(instruction("CMD")) == ["devstack-client"]
    check = instruction("HEALTHCHECK")
    assert "/healthz" in check and "os.environ.get('PORT', '8080')" in check
    assert container_env()["PORT"] == "8080" == instruction("EXPOSE")
    # two stages: the runtime one copies only the virtualenv from the build
    stages = [a for k, a in containerfile() if k == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    assert [a for k, a in containerfile() if k == "COPY" and "--from" in a] == [
        "--from=build /opt/devstack-client /opt/devstack-client"
    ]


def test_build_context_holds_only_what_the_image_copies() -> None:
    ignore = (ROOT / ".containerignore").read_text()
    assert (ROOT / ".dockerignore").read_text() == ignore  # Podman reads one, Docker the other
    rules = [line for line in ignore.splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then only these back in
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = set()
    for args in [a for k, a in containerfile() if k == "COPY" and "--from" not in a]:
        copied.update(args.split()[:-1])
    assert allowed == copied == {"setup.py", "requirements.txt", "devstack_client"}


def test_package_installs_gunicorns_gevent_worker_dependencies() -> None:
    # gunicorn's gevent worker imports `packaging`, which only gunicorn's [gevent] extra declares: without it a
    # clean install (the image) could not start a worker. deploy/prove-rootfs.sh found it.
    requires = metadata.requires("devstack-client") or []
    assert any(re.match(r"gunicorn\[gevent\]", r) for r in requires), requires


# --- compose -----------------------------------------------------------------------------


def compose_validator() -> jsonschema.Draft201909Validator:
    if not COMPOSE_SCHEMA.exists():
        missing(f"no Compose specification schema at {COMPOSE_SCHEMA} (apt-get install docker-compose)")
    return jsonschema.Draft201909Validator(json.loads(COMPOSE_SCHEMA.read_text()))


def test_compose_file_is_valid() -> None:
    compose_validator().validate(compose())


def test_compose_schema_refuses_a_typo() -> None:
    broken = compose()
    broken["services"]["gateway-1"]["stop_grace_periode"] = "450s"
    assert list(compose_validator().iter_errors(broken))


def test_compose_runs_three_gateways_as_haproxy_names_them() -> None:
    services = gateways()
    assert sorted(services) == ["gateway-1", "gateway-2", "gateway-3"]
    servers = [words for words in haproxy_cfg() if words[0] == "server" and "backup" not in words]
    assert [s[1] for s in servers] == sorted(services)
    # the fail-open backups are the same instances, unchecked
    backups = [words for words in haproxy_cfg() if words[0] == "server" and "backup" in words]
    assert [(b[1], b[2]) for b in backups] == [(f"{s[1]}-open", s[2]) for s in servers]
    port = container_env()["PORT"]
    for (_, name, address, *_), service in zip(servers, services.values(), strict=True):
        assert address.endswith(f'-{name}:{port}}}"'), address  # "${GATEWAY_n-gateway-n:8080}"
        assert service["expose"] == [port]
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert service["env_file"] == "gateway.env"
    graceful = gunicorn_options(config.load(environ=container_env()))["graceful_timeout"]
    (service, *_) = services.values()
    assert int(service["stop_grace_period"].removesuffix("s")) > graceful


# --- HAProxy -----------------------------------------------------------------------------


def test_haproxy_config_is_valid() -> None:
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if not haproxy:
        missing("no haproxy (apt-get install haproxy)")
    env = {**os.environ, "HAPROXY_BIND": "127.0.0.1:18080"}
    env.update({f"GATEWAY_{n}": f"127.0.0.1:{18080 + n}" for n in (1, 2, 3)})
    run = subprocess.run([haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Configuration file is valid" in run.stdout + run.stderr
    assert "WARNING" not in run.stdout + run.stderr, run.stdout + run.stderr


def test_haproxy_timeouts_fit_the_gateway() -> None:
    settings = config.load(environ=container_env())
    gunicorn = gunicorn_options(settings)
    # the gateway answers every request (a ?wait=true create included) before HAProxy gives up on it
    assert haproxy_seconds("timeout", "server") > gunicorn["timeout"]
    assert haproxy_seconds("timeout", "client") == haproxy_seconds("timeout", "server")
    # a quiet event stream's heartbeats keep it alive through the inactivity timeouts
    assert haproxy_seconds("timeout", "server") > 2 * settings.events_heartbeat_seconds
    # HAProxy closes idle client connections before a client could meet the gateway's own closing
    assert haproxy_seconds("timeout", "http-keep-alive") < settings.keepalive
    words = [" ".join(w) for w in haproxy_cfg()]
    assert "http-check send meth GET uri /readyz" in words
    assert "retry-on conn-failure empty-response" in words  # never response-timeout: the gateway answers first
    assert "option redispatch 1" in words  # every retry goes to another instance
    (rule,) = [w for w in words if w.startswith("http-request disable-l7-retry unless ")]
    assert "METH_POST { path /api/v1/server } { req.hdr(Idempotency-Key) -m found }" in rule
    assert "METH_PATCH" not in rule and "METH_PUT" not in rule

"""clients/typescript: installed with npm ci, type-checked, its helpers run, its types a fresh generation.

Also checks openapi3.py's converter against swagger2openapi (npm), which the package installs.
Needs Node and npm: without them these tests skip, except in CI (``CI=true``) or with
``DEVSTACK_CLIENT_REQUIRE_NODE=1``, where they fail (tests/run.sh installs Debian's nodejs and npm).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from devstack_client import openapi, openapi3

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "clients" / "typescript"
# What the package's checks read; node_modules/ and dist/ are made, never committed.
COMMITTED = (
    "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "tsconfig.dashboard.json", "src",
    "examples", "test",
)  # fmt: skip
# The example dashboard (served at /dashboard/): its JavaScript is checked against src/, its vendor/ is our build.
DASHBOARD = ROOT / "devstack_client" / "dashboard"
VENDORED = {"dist/index.js": "devstack-client.js", "node_modules/openapi-fetch/dist/index.mjs": "openapi-fetch.js"}
REQUIRE_NODE = os.environ.get("CI") == "true" or os.environ.get("DEVSTACK_CLIENT_REQUIRE_NODE") == "1"
EVENTS = "/api/v1/server/events"
STALE = (
    "clients/typescript/src/schema.ts is not generated from docs/openapi.json: "
    "regenerate everything with `bash clients/typescript/generate.sh`"
)


def run(*command: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed package, copied beside a copy of docs/openapi.json (as in the repository) and installed."""
    if not (shutil.which("node") and shutil.which("npm")):
        reason = "Node.js and npm are not installed (tests/run.sh installs Debian's)"
        if REQUIRE_NODE:
            pytest.fail(reason + "; CI=true or DEVSTACK_CLIENT_REQUIRE_NODE=1 makes this an error", pytrace=False)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("repo")
    (root / "docs").mkdir()
    shutil.copy(ROOT / openapi.CHECKED_IN_3, root / openapi.CHECKED_IN_3)
    shutil.copytree(
        DASHBOARD, root / "devstack_client" / "dashboard", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    copy = root / "clients" / "typescript"
    copy.mkdir(parents=True)
    for name in COMMITTED:
        source = PACKAGE / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
    # npm ci: exactly the lock file's versions; its `prepare` builds dist/. The cache makes a rerun offline.
    run("npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", cwd=copy)
    return copy


def test_the_committed_types_are_a_fresh_generation(package):
    committed = (package / "src" / "schema.ts").read_text()

    run("npm", "run", "--silent", "generate", cwd=package)

    assert (package / "src" / "schema.ts").read_text() == committed, STALE


def test_the_package_and_its_example_type_check_strictly(package):
    config = json.loads((package / "tsconfig.json").read_text())["compilerOptions"]
    assert config["strict"] is True

    run("npx", "--no-install", "tsc", "--noEmit", "-p", ".", cwd=package)


def test_the_dashboard_type_checks_against_the_client(package):
    # Plain JavaScript, no build step: its JSDoc types are checked against src/ and the generated schema.
    config = json.loads((package / "tsconfig.dashboard.json").read_text())["compilerOptions"]
    assert config["checkJs"] is True
    for script in (package.parent.parent / "devstack_client" / "dashboard").glob("*.js"):
        assert script.read_text().startswith("// @ts-check\n"), script.name

    run("npx", "--no-install", "tsc", "-p", "tsconfig.dashboard.json", cwd=package)


@pytest.mark.parametrize(("built", "served"), VENDORED.items())
def test_the_dashboard_serves_this_build_of_the_client(package, built, served):
    # What `npm ci` built from the committed src/ and lock file, byte for byte: nothing built drifts unnoticed.
    fresh = (package / built).read_bytes()

    assert (DASHBOARD / "vendor" / served).read_bytes() == fresh, (
        f"devstack_client/dashboard/vendor/{served} is not {built}: run `npm run dashboard` in clients/typescript"
    )


def test_the_helpers_work_at_run_time(package):
    done = run("node", "--test", "test/helpers.test.mjs", cwd=package)

    assert re.search(r"^# fail 0$", done.stdout, re.M), done.stdout


def test_the_converter_gives_what_swagger2openapi_gives(package, tmp_path):
    # On our whole spec: the well-kept converter is the reference; ours only runs where Node does not.
    converted = tmp_path / "openapi.json"
    run("npx", "--no-install", "swagger2openapi", str(ROOT / openapi.CHECKED_IN), "-o", str(converted), cwd=package)
    theirs = json.loads(converted.read_text())

    ours = openapi3.convert(json.loads((ROOT / openapi.CHECKED_IN).read_text()))

    assert theirs.pop("openapi") == "3.0.0"  # ours says 3.0.3, the same specification with its errata
    assert ours.pop("openapi") == openapi3.CONVERTED
    assert ours == theirs


def test_the_example_calls_every_operation_without_casts():
    example = (PACKAGE / "examples" / "usage.ts").read_text()
    document = json.loads((ROOT / openapi.CHECKED_IN_3).read_text())

    missing = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in openapi3.METHODS
        and f'client.{method.upper()}("{path}"' not in example
        and not (path == EVENTS and "serverEvents(" in example)
    ]
    assert missing == [], f"examples/usage.ts has no typed call of {missing}: add one"
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", example, flags=re.S)  # comments may say anything
    assert not re.search(r"\bas\s+(?!const\b)[\w{(\[]", code), "a cast (`as T`) in examples/usage.ts"
    assert not re.search(r"(?<![\w.])<[A-Z]\w*>\s*[\w(]", code), "a cast (`<T>x`) in examples/usage.ts"
    assert not re.search(r"[\w)\]]!(?!=)", code), "a non-null assertion (`x!`) in examples/usage.ts"


CONSUMER = """\
import { createClient, pages } from "@devstack-client/client";

const client = createClient({ baseUrl: "http://127.0.0.1:8080", apiKey: "k" });

export async function run(): Promise<string> {
  const { data, error } = await client.POST("/api/v1/server", {
    body: { name: "web-1", image: "cirros", flavor: "m1.tiny", network: "private" },
  });
  if (error) return `${error.code}: ${error.message}`;
  const names: string[] = [];
  for await (const s of pages("servers", (marker) => client.GET("/api/v1/server", { params: { query: { marker } } }))) {
    names.push(s.name ?? "(fields left it out)");  // a list may carry only the ?fields asked for
  }
  const status: STATUS_TYPE = data.status;
  return `${data.id} ${status} ${names.length}`;
}
"""


@pytest.fixture(scope="module")
def my_dashboard(package, tmp_path_factory) -> Path:
    """A dashboard project of one's own that ran `npm install <repo>/clients/typescript` (a link to it)."""
    project = tmp_path_factory.mktemp("my-dashboard")
    (project / "package.json").write_text(json.dumps({"name": "my-dashboard", "private": True, "type": "module"}))
    run("npm", "install", "--prefer-offline", "--no-audit", "--no-fund", str(package), cwd=project)
    options = {"strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext"}
    (project / "tsconfig.json").write_text(
        json.dumps({"compilerOptions": {**options, "target": "es2022", "lib": ["es2022", "dom"]}})
    )
    return project


@pytest.mark.parametrize(("status_type", "compiles"), [("string", True), ("number", False)])
def test_a_dashboard_project_installs_the_package_and_gets_typed_calls(package, my_dashboard, status_type, compiles):
    """The issue's 'done when': `npm install ./clients/typescript` in a project of one's own gives typed calls (a
    server's status is a string, so assigning it to a number does not compile)."""
    (my_dashboard / "dashboard.ts").write_text(CONSUMER.replace("STATUS_TYPE", status_type))

    tsc = str(package / "node_modules" / ".bin" / "tsc")
    checked = subprocess.run([tsc, "-p", "."], cwd=my_dashboard, capture_output=True, text=True, timeout=300)

    assert (checked.returncode == 0) is compiles, checked.stdout
    if not compiles:
        assert "Type 'string' is not assignable to type 'number'" in checked.stdout

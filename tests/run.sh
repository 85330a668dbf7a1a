#!/usr/bin/env bash
# The whole test run, as CI does it: lint, a real local OpenStack, every test
# (the `cloud` ones included, which may then not be skipped) and the
# coverage gate. Extra arguments go to pytest. The `browser` tests drive Debian's
# Chromium (installed here when missing), never a browser Playwright downloads;
# Debian's redis-server is installed too (the tests start their own, on loopback), and Node.js and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${VENV:-.venv}"
# Debian's packages first, before the cloud starts: up.sh installs its own with apt too, and two apt-gets at once
# fail on dpkg's lock. Chromium for the browser tests, Redis for the shared event feeds' tests (each test starts
# its own).
missing=""
command -v chromium >/dev/null || missing="$missing chromium"
[ -x /usr/bin/redis-server ] || missing="$missing redis-server"
[ -x /usr/sbin/haproxy ] || missing="$missing haproxy"  # haproxy -c deploy/haproxy.cfg; tests/test_haproxy.py
command -v npm >/dev/null || missing="$missing nodejs npm"  # the TypeScript client's tests (npm ci, tsc)
[ -z "$missing" ] || { apt-get update -qq && apt-get install -y -qq $missing; }
# The Compose specification's schema, which Debian's docker-compose ships (tests/test_deploy.py); not Docker itself.
[ -f /usr/lib/python3/dist-packages/compose/config/compose_spec.json ] ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose; }
# The cloud starts now, in the background (from nothing about 5 minutes, most of it pip), while the package is
# installed and linted. In its own process group: a failing install or lint stops it (the services it already
# started stay up, as after any run: tests/cloud/down.sh stops them).
mkdir -p test-artifacts
cloud_log=test-artifacts/cloud-up.log
setsid bash tests/cloud/up.sh >"$cloud_log" 2>&1 &
cloud=$!
trap 'kill -- "-$cloud" 2>/dev/null || true' EXIT
cloud_up() {  # wait for the cloud's start, then show its output
    local rc=0
    wait "$cloud" || rc=$?
    cat "$cloud_log"
    return "$rc"
}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]'
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
export DEVSTACK_CLIENT_REQUIRE_CLOUD=1
if [ $# -gt 0 ]; then  # a chosen part: one run, after the cloud is up
    cloud_up
    trap - EXIT
    # Coverage is reported, not gated: the 90 % gate is the whole run's, which no part reaches alone.
    exec "$VENV/bin/python" -m pytest --cov=devstack_client --cov-report=term-missing "$@"
fi
# The whole run. The wire tests need no cloud: they start now, at the lowest CPU priority (nice 19), and run
# while the cloud starts and then beside the cloud and browser tests, which mostly wait on OpenStack and keep
# the machine's CPU first: their ~7.5 minutes are off CI's critical path. Each part keeps its own coverage data;
# the 90 % gate is on both together. The wire tests' output is printed once both are done (and kept in
# test-artifacts/wire-tests.log).
rm -f .coverage .coverage.wire .coverage.cloud
wire_log=test-artifacts/wire-tests.log
COVERAGE_FILE=.coverage.wire nice -n 19 "$VENV/bin/python" -m pytest -m "not cloud and not browser" --durations=25 \
    --cov=devstack_client --cov-report= >"$wire_log" 2>&1 &
wire=$!
trap 'kill "$wire" 2>/dev/null || true; kill -- "-$cloud" 2>/dev/null || true' EXIT
status=0
if cloud_up; then
    # --durations (here and in the wire tests): where the time goes (the CI budget is 45 minutes).
    COVERAGE_FILE=.coverage.cloud "$VENV/bin/python" -m pytest -m "cloud or browser" --durations=25 \
        --cov=devstack_client --cov-report= || status=$?
else
    status=$?
    echo "the test cloud did not start (exit $status)"
fi
wire_status=0
wait "$wire" || wire_status=$?
trap - EXIT
echo "---- the wire tests (run beside the cloud's; also in $wire_log)"
cat "$wire_log"
[ "$wire_status" -eq 0 ] || { echo "the wire tests failed (pytest exit $wire_status): see above"; status=1; }
[ "$status" -eq 0 ] || exit "$status"
"$VENV/bin/coverage" combine .coverage.wire .coverage.cloud
"$VENV/bin/coverage" report --show-missing --fail-under=90

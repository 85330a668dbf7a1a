#!/usr/bin/env bash
# The whole test run, as CI does it: lint, a real local OpenStack, every test
# (the `cloud` ones included, which may then not be skipped) and the
# coverage gate. Extra arguments go to pytest. The `browser` tests drive Debian's
# Chromium (installed here when missing), never a browser Playwright downloads;
# Debian's redis-server is installed too (the tests start their own, on loopback), and Node.js and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]'
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# Debian's Chromium for the browser tests, Redis for the shared event feeds' tests (each test starts its own).
missing=""
command -v chromium >/dev/null || missing="$missing chromium"
[ -x /usr/bin/redis-server ] || missing="$missing redis-server"
[ -x /usr/sbin/haproxy ] || missing="$missing haproxy"  # haproxy -c deploy/haproxy.cfg; tests/test_haproxy.py
command -v npm >/dev/null || missing="$missing nodejs npm"  # the TypeScript client's tests (npm ci, tsc)
[ -z "$missing" ] || { apt-get update -qq && apt-get install -y -qq $missing; }
# The Compose specification's schema, which Debian's docker-compose ships (tests/test_deploy.py); not Docker itself.
[ -f /usr/lib/python3/dist-packages/compose/config/compose_spec.json ] ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose; }
export DEVSTACK_CLIENT_REQUIRE_CLOUD=1
if [ $# -gt 0 ]; then  # a chosen part: one run, after the cloud is up
    bash tests/cloud/up.sh
    exec "$VENV/bin/python" -m pytest --cov=devstack_client --cov-report=term-missing --cov-fail-under=90 "$@"
fi
# The whole run. The wire tests need no cloud: they run while it starts (pip and its database schemas keep one
# core busy, the wire tests the other), which takes minutes off CI; then the cloud and browser tests, alone on
# the machine, with the coverage of both parts together.
mkdir -p test-artifacts
wire_log=test-artifacts/wire-tests.log
"$VENV/bin/python" -m pytest -m "not cloud and not browser" --cov=devstack_client --cov-report= >"$wire_log" 2>&1 &
wire=$!
up=0
bash tests/cloud/up.sh || up=$?
wire_status=0
wait "$wire" || wire_status=$?
echo "---- the wire tests (run while the cloud started; also in $wire_log)"
cat "$wire_log"
[ "$up" -eq 0 ] || { echo "the test cloud did not start (exit $up)"; exit "$up"; }
cloud_status=0
"$VENV/bin/python" -m pytest -m "cloud or browser" \
    --cov=devstack_client --cov-append --cov-report=term-missing --cov-fail-under=90 || cloud_status=$?
[ "$wire_status" -eq 0 ] || { echo "the wire tests failed (pytest exit $wire_status): see above"; exit "$wire_status"; }
exit "$cloud_status"

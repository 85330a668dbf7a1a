#!/usr/bin/env bash
# The whole test run, as CI does it: lint, a real local OpenStack, every test
# (the `cloud` ones included, which may then not be skipped) and the
# coverage gate. Extra arguments go to pytest. The `browser` tests drive Debian's
# Chromium (installed here when missing), never a browser Playwright downloads;
# Debian's redis-server is installed too (the tests start their own, on loopback).
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
[ -x /usr/sbin/haproxy ] || missing="$missing haproxy"  # tests/test_deploy.py: haproxy -c deploy/haproxy.cfg
[ -z "$missing" ] || { apt-get update -qq && apt-get install -y -qq $missing; }
# The Compose specification's schema, which Debian's docker-compose ships (tests/test_deploy.py); not Docker itself.
[ -f /usr/lib/python3/dist-packages/compose/config/compose_spec.json ] ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose; }
bash tests/cloud/up.sh
DEVSTACK_CLIENT_REQUIRE_CLOUD=1 "$VENV/bin/python" -m pytest \
    --cov=devstack_client --cov-report=term-missing --cov-fail-under=90 "$@"

#!/usr/bin/env bash
# Regenerate everything made from the API's models, after changing an endpoint or a model:
# docs/swagger.json (Swagger 2.0), docs/openapi.json (OpenAPI 3) and this package's src/schema.ts;
# then the example dashboard's copy of this package's build (devstack_client/dashboard/vendor/), type-checked.
# Tests fail while any of them is stale (tests/test_openapi.py, tests/test_typescript_client.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PYTHON="${PYTHON:-.venv/bin/python}"
"$PYTHON" -m devstack_client.main openapi docs/swagger.json
"$PYTHON" -m devstack_client.main openapi --version 3 docs/openapi.json
cd clients/typescript
[ -d node_modules ] || npm ci --prefer-offline --no-audit --no-fund
npm run --silent generate
npm run --silent dashboard

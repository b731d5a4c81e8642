#!/usr/bin/env bash
# The whole test suite on a fresh machine: setup, then unit and integration
# tests against a real Temporal dev server, PostgreSQL and versitygw that the
# tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --for-tests
exec npx jest --ci "$@"

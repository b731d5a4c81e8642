#!/usr/bin/env bash
# The main job: install what is missing, then start the factory and take the
# first credit-default candidate to its approval gate. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/scripts/factory.js up "$@"

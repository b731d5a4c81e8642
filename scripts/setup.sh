#!/usr/bin/env bash
# Installs what the factory needs on a fresh machine: npm packages, the build,
# the Temporal CLI and versitygw (built with Go into .factory/tools/bin), and,
# with --for-tests, the Temporal cluster's server, schema tool and UI server and
# Debian's Chromium, which the test suite also uses. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is required: $2" >&2; exit 1; }; }
need node "install Node.js 20 or later (https://nodejs.org)"
need npm "it comes with Node.js"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "setup: Node.js 20 or later is required (found $(node --version))" >&2; exit 1; }

# onnxruntime-node would otherwise download CUDA libraries at install time.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npm run --silent build

# Go from its standard place even when it is not on PATH.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
for_tests=false
[ "${1:-}" = "--for-tests" ] && for_tests=true
if $for_tests; then
  node dist/scripts/factory.js install-tools --cluster
else
  node dist/scripts/factory.js install-tools
fi

if $for_tests && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: the browser tests need Chromium at /usr/bin/chromium (Debian: apt-get install chromium)" >&2
    exit 1
  fi
fi

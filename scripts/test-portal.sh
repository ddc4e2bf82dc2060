#!/usr/bin/env bash
# Tests the portal example (examples/portal): its JSON API and pages over HTTP, then end to end in
# headless Chromium (Debian's `chromium` package, driven by playwright-core). Screenshots go to
# examples/portal/test-artifacts/. Needs node >= 18, npm, cargo and /usr/bin/chromium (or
# CHROMIUM_PATH); a missing Chromium fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudoptim-target}"

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
    echo "test-portal: Chromium not found at $chromium; install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH" >&2
    exit 1
fi
"$chromium" --version 2>/dev/null || true

# the portal uses the package from this tree (built already when run after test-node.sh: then
# this build finds nothing to do)
(
    cd cloudoptim-node
    [[ -d node_modules ]] || npm ci --no-audit --no-fund
    npm run build
)

cd examples/portal
npm ci --no-audit --no-fund
# resolved by name, as a user's project would, like examples/node
ln -sfn ../../../cloudoptim-node node_modules/cloudoptim
rm -rf test-artifacts
npm test
echo "examples/portal: ok (screenshots in examples/portal/test-artifacts/)"

#!/usr/bin/env bash
# Builds the Node.js package (cloudoptim-node, npm `cloudoptim`) in debug and runs its tests:
# type check of the generated index.d.ts, then `node --test`. Needs node >= 18, npm and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudoptim-target}"

# The tests compare with the CLI's output: build it from the same tree.
cargo build -p cloudoptim-cli

cd cloudoptim-node
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
else
    npm install --no-audit --no-fund
fi
npm run build
npm test

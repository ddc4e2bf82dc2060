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

# the example scripts resolve the package by name, as a user's project would
cd ..
mkdir -p examples/node/node_modules
ln -sfn ../../../cloudoptim-node examples/node/node_modules/cloudoptim
node examples/node/analyze-demo.mjs > /dev/null
echo "examples/node: ok"

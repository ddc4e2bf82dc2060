#!/usr/bin/env bash
# Builds the Node.js package (cloudoptim-node, npm `cloudoptim`) in debug and runs its tests:
# type check of the generated index.d.ts, then `node --test` (the live tests run against the
# tests crate's fake Kubernetes API server, moto's server and Debian's Prometheus), then packs it
# and installs the tarball into a fresh project outside the repository
# (scripts/node-pack-check.sh), and builds the API reference (docs/node-api). Needs node >= 18,
# npm, cargo, moto_server ($MOTO_SERVER_BIN) and prometheus/promtool.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudoptim-target}"

# The tests compare with the CLI's output: build it from the same tree.
cargo build -p cloudoptim-cli
# The live tests' fake Kubernetes API server, copied so that other builds sharing the target
# folder cannot replace it during the run.
cargo build -p cloudoptim-tests --bin fake-kube
mkdir -p cloudoptim-node/target
cp "$CARGO_TARGET_DIR/debug/fake-kube" cloudoptim-node/target/fake-kube
export CLOUDOPTIM_FAKE_KUBE="$PWD/cloudoptim-node/target/fake-kube"
if [[ -z "${MOTO_SERVER_BIN:-}" && -x "$HOME/.cache/cloudoptim-venv/bin/moto_server" ]]; then
    export MOTO_SERVER_BIN="$HOME/.cache/cloudoptim-venv/bin/moto_server"
fi

cd cloudoptim-node
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
else
    npm install --no-audit --no-fund
fi
npm run build
npm test
# the API reference is generated from index.d.ts and committed: it must be up to date
node ../scripts/node-api-doc.mjs --check

# the packed tarball, installed into a fresh project outside the repository
../scripts/node-pack-check.sh

# the example scripts resolve the package by name, as a user's project would
cd ..
mkdir -p examples/node/node_modules
ln -sfn ../../../cloudoptim-node examples/node/node_modules/cloudoptim
node examples/node/analyze-demo.mjs > /dev/null
echo "examples/node: ok"

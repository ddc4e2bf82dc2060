#!/usr/bin/env bash
# Runs every test of the project: Rust (unit, integration, doc, examples), lints, Python, Node,
# and the portal example in headless Chromium.
# The cargo build cache lives outside the tree so repeated runs are warm.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudoptim-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "test servers"
# moto's server is the real AWS API the SQS and EC2 tests talk to; the tests start it themselves
venv="${CLOUDOPTIM_VENV:-$HOME/.cache/cloudoptim-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating virtualenv $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]>=5,<6"
export MOTO_SERVER_BIN="$venv/bin/moto_server"

step "rustfmt"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Rust tests"
cargo test --workspace --exclude cloudoptim-py --exclude cloudoptim-node

step "Rust API reference (rustdoc, warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p cloudoptim-core --all-features

step "Python tests"
./scripts/test-python.sh

step "Node tests"
./scripts/test-node.sh

step "portal example (headless Chromium)"
./scripts/test-portal.sh

step "all tests passed"

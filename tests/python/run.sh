#!/usr/bin/env bash
# Runs the official Genesys Cloud Python SDK against gcsim.
# Builds gcsim, creates tests/python/.venv if missing, installs the pinned
# requirements quietly, then runs pytest. Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
cargo build -q -p gcsim
target_dir="$(cargo metadata -q --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export GCSIM_BIN="${GCSIM_BIN:-$target_dir/debug/gcsim}"
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
cd "$here"
exec "$here/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"

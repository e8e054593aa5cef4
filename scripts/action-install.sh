#!/usr/bin/env bash
# The GitHub Action's install step: sc-audit in a virtual environment of its own, so it neither
# needs nor changes the job's Python packages. Writes `sc-audit=<command>` to GITHUB_OUTPUT.
#
#   SC_AUDIT_PYTHON  the Python to build the environment with (default: python3)
#   INPUT_VERSION    a version (0.1.0), any pip requirement, or empty: the action's own checkout
set -euo pipefail

python=${SC_AUDIT_PYTHON:-python3}
spec=${INPUT_VERSION:-}
if [ -z "$spec" ]; then
  spec=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: give a version to install}
elif [[ $spec =~ ^[0-9][0-9A-Za-z.+!-]*$ ]]; then
  spec="sc-audit==$spec"
fi

venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/sc-audit-venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
"$venv/bin/sc-audit" --version
echo "sc-audit=$venv/bin/sc-audit" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"

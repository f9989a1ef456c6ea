#!/usr/bin/env bash
# Creates (or refreshes) a Python virtual environment and prints the path of its python. Without
# arguments: the checks' tests' venv, .tools/venv, with the packages of test/python-requirements.txt.
# With arguments `<venv name> <requirements file> <what>`: .tools/<venv name> with that file's
# packages (scripts/mlflow-env.sh uses it for the MLflow server's own venv).
# It installs only when the venv is missing or the requirements file changed since the last
# install (a stamp file holds the requirements' digest), so calling it again is cheap.
# Set MODELGATE_PYTHON_BASE to choose the interpreter the venv is made from (default python3.11,
# else python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/${1:-venv}"
REQUIREMENTS="$ROOT/${2:-test/python-requirements.txt}"
WHAT="${3:-Python test}"
STAMP="$VENV/.requirements.sha256"

base="${MODELGATE_PYTHON_BASE:-}"
if [ -z "$base" ]; then
  if command -v python3.11 >/dev/null 2>&1; then base=python3.11; else base=python3; fi
fi

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
  printf '[modelgate] preparing the %s environment in %s\n' "$WHAT" "$VENV" >&2
  mkdir -p "$ROOT/.tools"
  [ -x "$VENV/bin/python" ] || "$base" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
  printf '%s\n' "$wanted" >"$STAMP"
fi
printf '%s\n' "$VENV/bin/python"

#!/usr/bin/env bash
# Creates (or refreshes) the Python virtual environment of the test MLflow tracking server and
# client, at .tools/mlflow-venv, with the packages of test/mlflow-requirements.txt, and prints the
# path of its python (`mlflow` is beside it).
# It installs only when the venv is missing or the requirements file changed since the last
# install (a stamp file holds the requirements' digest), so calling it again is cheap.
# Set MODELGATE_PYTHON_BASE to choose the interpreter the venv is made from (default python3.11,
# else python3).
# The same steps as the checks' venv: scripts/python-env.sh with this venv's name and requirements.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/python-env.sh" mlflow-venv test/mlflow-requirements.txt "MLflow test"

#!/usr/bin/env bash
# Installs what is missing, starts a throwaway Temporal dev server (in memory) and PostgreSQL
# cluster on free ports, runs the type check, the linter and every test, and stops both
# services afterwards, also when a test fails or the run is interrupted.
# Extra arguments go to jest (e.g. ./scripts/test.sh test/stack.test.ts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"

ensure_stack_tools
log "the test MLflow tracking server and client (mlflow, scikit-learn)"
"$MODELGATE_ROOT/scripts/mlflow-env.sh" >/dev/null

use_throwaway_services test-run
export MODELGATE_TEST_RUN_DIR="$RUN_DIR"

log "type check, lint, build"
npm run --silent typecheck
npm run --silent lint
npm run --silent build

log "Python reference tools for the checks' tests (scikit-learn, Fairlearn, picklescan)"
MODELGATE_PYTHON="$("$MODELGATE_ROOT/scripts/python-env.sh")"
export MODELGATE_PYTHON

log "Chromium for the dashboard's browser tests"
MODELGATE_CHROMIUM="$("$MODELGATE_ROOT/scripts/chromium.sh")"
export MODELGATE_CHROMIUM

log "the Kubernetes manifest validator (deploy/validate, built with Go)"
MODELGATE_VALIDATE_MANIFESTS="$("$MODELGATE_ROOT/scripts/manifest-validator.sh")"
export MODELGATE_VALIDATE_MANIFESTS

log "running the tests"
status=0
npx jest --json --outputFile "$RUN_DIR/jest-results.json" "$@" || status=$?
# One plain closing line with the counts, whatever happened.
node -e '
  const r = require(process.argv[1]);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$RUN_DIR/jest-results.json" 2>/dev/null || echo "tests: 0 passed, 1 failed (jest did not report results)"
exit "$status"

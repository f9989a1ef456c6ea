#!/usr/bin/env bash
# Installs what is missing, starts a throwaway Temporal dev server (in memory) and PostgreSQL
# cluster on free ports, runs the type check, the linter and every test, and stops both
# services afterwards, also when a test fails or the run is interrupted.
# Extra arguments go to jest (e.g. ./scripts/test.sh test/stack.test.ts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"

ensure_node_modules
"$MODELGATE_ROOT/scripts/postgres.sh" install
"$MODELGATE_ROOT/temporal/install.sh" >/dev/null

mkdir -p "$MODELGATE_ROOT/.data"
RUN_DIR="$(mktemp -d "$MODELGATE_ROOT/.data/test-run.XXXXXX")"
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_pidfile "$RUN_DIR/temporal.pid" 10
  "$MODELGATE_ROOT/scripts/postgres.sh" stop "$RUN_DIR/postgres" || true
  if [ "$status" -ne 0 ] && [ -f "$RUN_DIR/temporal.log" ]; then
    cp "$RUN_DIR/temporal.log" "$MODELGATE_ROOT/.data/last-test-temporal.log" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port="$(free_port)"
temporal_port="$(free_port)"
log "starting throwaway PostgreSQL on 127.0.0.1:$pg_port and Temporal on 127.0.0.1:$temporal_port"
MODELGATE_PG_FSYNC=off "$MODELGATE_ROOT/scripts/postgres.sh" start "$RUN_DIR/postgres" "$pg_port"
"$MODELGATE_ROOT/temporal/start-dev.sh" --port "$temporal_port" --headless --namespace modelgate \
  --pidfile "$RUN_DIR/temporal.pid" --log "$RUN_DIR/temporal.log"

export TEMPORAL_ADDRESS="127.0.0.1:$temporal_port"
export TEMPORAL_NAMESPACE=modelgate
export DATABASE_URL="$("$MODELGATE_ROOT/scripts/postgres.sh" url "$pg_port")"
export MODELGATE_TEST_RUN_DIR="$RUN_DIR"

log "type check, lint, build"
npm run --silent typecheck
npm run --silent lint
npm run --silent build

log "running the tests"
npx jest "$@"

#!/usr/bin/env bash
# Installs what is missing and runs the whole Modelgate stack in the foreground:
# PostgreSQL (a private cluster in .data/postgres, unless DATABASE_URL is set), the Temporal dev
# server with its Web UI (state in .data/temporal/temporal.db), the worker and the API.
# Ctrl-C stops all of them; running it again keeps the data.
#
# Ports (override with the variables): TEMPORAL_PORT=7233, TEMPORAL_UI_PORT=8233,
# MODELGATE_PG_PORT=54329, PORT=8080.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"

TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
MODELGATE_PG_PORT="${MODELGATE_PG_PORT:-54329}"
export PORT="${PORT:-8080}"
DATA_DIR="$MODELGATE_ROOT/.data"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
mkdir -p "$RUN_DIR" "$LOG_DIR"

for p in "$TEMPORAL_PORT:TEMPORAL_PORT" "$TEMPORAL_UI_PORT:TEMPORAL_UI_PORT" "$PORT:PORT"; do
  if port_in_use "${p%%:*}"; then
    die "port ${p%%:*} is already in use (is the stack already running?). Stop what listens there, or set ${p##*:} to a free port."
  fi
done

ensure_node_modules
[ -n "${DATABASE_URL:-}" ] || "$MODELGATE_ROOT/scripts/postgres.sh" install
"$MODELGATE_ROOT/temporal/install.sh" >/dev/null

own_postgres=0
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  log "stopping the stack"
  stop_pidfile "$RUN_DIR/api.pid" 15
  stop_pidfile "$RUN_DIR/worker.pid" 30
  stop_pidfile "$RUN_DIR/temporal.pid" 15
  if [ "$own_postgres" = 1 ]; then "$MODELGATE_ROOT/scripts/postgres.sh" stop "$DATA_DIR/postgres"; fi
  log "stopped; data kept in $DATA_DIR"
}
trap 'stop_all' EXIT
trap 'exit 130' INT TERM

# Database roles (docs/security.md#database-roles): the migrations run as the owner
# (DATABASE_OWNER_URL); the worker and the API connect as the service role (DATABASE_URL), which may
# only SELECT and INSERT the audit tables. With DATABASE_URL alone (an existing PostgreSQL), the
# processes migrate with it and warn that their role may rewrite the audit record.
if [ -z "${DATABASE_URL:-}" ]; then
  "$MODELGATE_ROOT/scripts/postgres.sh" start "$DATA_DIR/postgres" "$MODELGATE_PG_PORT"
  own_postgres=1
  export DATABASE_OWNER_URL="$("$MODELGATE_ROOT/scripts/postgres.sh" url "$MODELGATE_PG_PORT")"
  export DATABASE_URL="$("$MODELGATE_ROOT/scripts/postgres.sh" service-url "$MODELGATE_PG_PORT")"
fi
if [ -n "${DATABASE_OWNER_URL:-}" ]; then
  node "$MODELGATE_ROOT/bin/modelgate.js" migrate --database-url "$DATABASE_OWNER_URL" >/dev/null || die "the database migrations failed (as DATABASE_OWNER_URL)"
fi
owner_url="${DATABASE_OWNER_URL:-}"
unset DATABASE_OWNER_URL

# The audit seal (docs/operations.md#the-audit-archive): the worker and the API each sign the heads
# of the audit chains they append to with their own ed25519 key, made once in .data/audit/, and
# append the signed heads to their own checkpoint file there. Each process gets only its own key;
# `modelgate audit --verify` needs only the public keys and the checkpoint files.
AUDIT_DIR="$DATA_DIR/audit"
mkdir -p "$AUDIT_DIR" && chmod 700 "$AUDIT_DIR"
for p in worker api; do
  if [ ! -s "$AUDIT_DIR/$p.key" ]; then
    node "$MODELGATE_ROOT/bin/modelgate.js" audit-keygen --private-key "$AUDIT_DIR/$p.key" --public-key "$AUDIT_DIR/$p.pub" >/dev/null \
      || die "could not make the $p's audit signing key in $AUDIT_DIR"
  fi
done
unset AUDIT_SIGNING_KEY_FILE AUDIT_CHECKPOINT_FILE

log "starting the Temporal dev server (state in $DATA_DIR/temporal/temporal.db)"
"$MODELGATE_ROOT/temporal/start-dev.sh" --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
  --namespace "${TEMPORAL_NAMESPACE:-modelgate}" --db-file "$DATA_DIR/temporal/temporal.db" \
  --pidfile "$RUN_DIR/temporal.pid" --log "$LOG_DIR/temporal.log"

# Local tokens: without AUTH_JWT_SECRET or AUTH_JWKS_URL, the dev sign-in is on: the dashboard's
# sign-in page offers the dev users, and `modelgate dev-token` signs dev tokens (claim mg_dev) with
# the dev sign-in's own random key, kept in .data/ (so tokens stay valid across restarts). The API
# then listens on 127.0.0.1 only (unless HOST is set) with NODE_ENV=development; it refuses the dev
# sign-in on any other address or NODE_ENV. The keys are the API's alone: given to the API
# process, never exported to the worker.
api_secret="${AUTH_JWT_SECRET:-}"
api_dev_sign_in="${DASHBOARD_DEV_SIGN_IN:-}"
api_dev_secret="${DEV_SIGN_IN_SECRET:-}"
if [ -z "$api_secret" ] && [ -z "${AUTH_JWKS_URL:-}" ]; then
  api_dev_sign_in="${api_dev_sign_in:-true}"
fi
api_node_env="${NODE_ENV:-}"
if [ "$api_dev_sign_in" = true ] || [ "$api_dev_sign_in" = 1 ]; then
  if [ -z "$api_dev_secret" ]; then
    if [ ! -s "$DATA_DIR/dev-sign-in-secret" ]; then
      (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DATA_DIR/dev-sign-in-secret")
    fi
    api_dev_secret="$(cat "$DATA_DIR/dev-sign-in-secret")"
  fi
  api_node_env="${api_node_env:-development}"
fi
unset AUTH_JWT_SECRET DASHBOARD_DEV_SIGN_IN DEV_SIGN_IN_SECRET
export HOST="${HOST:-127.0.0.1}"

# Where manifests' sources may be read from (docs/security.md): artifacts, evaluation files and
# model cards in .data/artifacts (or ARTIFACT_ROOTS), HTTP sources only from ARTIFACT_HOSTS.
export ARTIFACT_ROOTS="${ARTIFACT_ROOTS:-$DATA_DIR/artifacts,$MODELGATE_ROOT/examples}"
export ARTIFACT_HOSTS="${ARTIFACT_HOSTS:-}"
export ARTIFACT_STORE_DIR="${ARTIFACT_STORE_DIR:-$DATA_DIR/artifact-store}"
mkdir -p "$DATA_DIR/artifacts"

export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-modelgate}"
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://localhost:$TEMPORAL_UI_PORT}"

# Each process logs to its own file and to this terminal.
start_process() {
  local name="$1"
  shift
  node "$@" > >(tee -a "$LOG_DIR/$name.log") 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}
# Fewer malloc arenas and bounded heaps keep the worker's resident set small (see README, Benchmarks;
# the node flags are src/worker-node-flags.ts).
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" AUDIT_SIGNING_KEY_FILE="$AUDIT_DIR/worker.key" AUDIT_CHECKPOINT_FILE="$AUDIT_DIR/worker.checkpoints.jsonl" \
  start_process worker --max-old-space-size=256 --max-semi-space-size=2 dist/worker.js
# Evidence packs get their PDF report from a Chromium on PATH, when there is one.
AUTH_JWT_SECRET="$api_secret" DASHBOARD_DEV_SIGN_IN="$api_dev_sign_in" DEV_SIGN_IN_SECRET="$api_dev_secret" NODE_ENV="$api_node_env" \
  AUDIT_SIGNING_KEY_FILE="$AUDIT_DIR/api.key" AUDIT_CHECKPOINT_FILE="$AUDIT_DIR/api.checkpoints.jsonl" \
  EVIDENCE_CHROMIUM="${EVIDENCE_CHROMIUM:-$(command -v chromium || true)}" start_process api dist/api/server.js

if ! wait_for_port "$PORT" 60 "API" "$(cat "$RUN_DIR/api.pid")"; then
  die "the API did not start (see $LOG_DIR/api.log)"
fi

cat <<TXT

  Modelgate is running.
    Dashboard      http://localhost:$PORT/ui/
    API            http://localhost:$PORT          (health: /healthz, readiness: /readyz)
    Temporal UI    http://localhost:$TEMPORAL_UI_PORT/namespaces/$TEMPORAL_NAMESPACE/workflows
    Temporal gRPC  127.0.0.1:$TEMPORAL_PORT  namespace $TEMPORAL_NAMESPACE
    PostgreSQL     $DATABASE_URL
    Logs           $LOG_DIR
  A dev token for the API (local users; the dev sign-in key is in $DATA_DIR/dev-sign-in-secret):
    export MODELGATE_TOKEN="\$(DEV_SIGN_IN_SECRET=\$(cat $DATA_DIR/dev-sign-in-secret) npx modelgate dev-token --user alice --roles ml-reviewer)"
  Verify the audit record (read access, checkpoints, public keys; no secret):
    npx modelgate audit --verify --database-url ${owner_url:-\$DATABASE_URL} --checkpoints $AUDIT_DIR/worker.checkpoints.jsonl,$AUDIT_DIR/api.checkpoints.jsonl --public-keys $AUDIT_DIR/worker.pub,$AUDIT_DIR/api.pub
  Press Ctrl-C to stop everything (data is kept in $DATA_DIR).

TXT

# Run until Ctrl-C, or until the worker or the API exits on its own.
while true; do
  for name in worker api temporal; do
    pid="$(cat "$RUN_DIR/$name.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      code=0
      wait "$pid" 2>/dev/null || code=$?
      if [ "$code" = 0 ] || [ "$code" = 130 ] || [ "$code" = 143 ]; then
        log "$name stopped"
        exit 0
      fi
      if [ "$code" = 127 ]; then warn "$name exited unexpectedly; see $LOG_DIR/$name.log"
      else warn "$name exited with status $code; see $LOG_DIR/$name.log"; fi
      exit 1
    fi
  done
  sleep 1
done

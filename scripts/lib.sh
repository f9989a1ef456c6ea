#!/usr/bin/env bash
# Shared helpers for Modelgate's shell scripts. Source it; do not run it.

MODELGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MODELGATE_ROOT

log() { printf '\033[1;34m[modelgate]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[modelgate] warning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[modelgate] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();});"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  node -e "const c=require('net').connect($1,'127.0.0.1');c.on('connect',()=>{c.destroy();process.exit(0)});c.on('error',()=>process.exit(1));"
}

# Waits until 127.0.0.1:$1 accepts connections; $2 = seconds (default 60), $3 = what, $4 = pid to watch.
wait_for_port() {
  local port="$1" seconds="${2:-60}" what="${3:-service}" pid="${4:-}"
  local deadline=$((SECONDS + seconds))
  until port_in_use "$port"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "$what did not open port $port within ${seconds}s"
      return 1
    fi
    sleep 0.2
  done
}

# Runs apt-get install for the given packages, with one 'apt-get update' first.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get is not available: install $* by hand, or set DATABASE_URL to an existing PostgreSQL"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  log "installing $* from apt (once)"
  $sudo apt-get update -qq >/dev/null || die "apt-get update failed; check the package mirror, then run again"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# Installs the npm dependencies when node_modules is missing or older than package.json or
# package-lock.json. It uses `npm install`, which follows the lock file: `npm ci` refuses a lock
# file that lacks other platforms' optional packages, which registry mirrors may not serve.
ensure_node_modules() {
  command -v node >/dev/null 2>&1 || die "Node.js 20 is required (node was not found on PATH)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is required (found $(node --version))"
  local stamp="$MODELGATE_ROOT/node_modules/.modelgate-installed"
  if [ ! -f "$stamp" ] || [ "$MODELGATE_ROOT/package-lock.json" -nt "$stamp" ] \
    || [ "$MODELGATE_ROOT/package.json" -nt "$stamp" ] || [ ! -d "$MODELGATE_ROOT/dist" ]; then
    log "installing npm dependencies (npm install, following package-lock.json)"
    (cd "$MODELGATE_ROOT" && npm install --no-audit --no-fund --loglevel=error) || die "npm install failed"
    touch "$stamp"
  fi
}

# What the test, benchmark and fault commands need, installed once: npm dependencies,
# PostgreSQL from apt, the Temporal CLI, openssl (temporal/make-certs.sh) from apt when missing.
ensure_stack_tools() {
  ensure_node_modules
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  "$MODELGATE_ROOT/scripts/postgres.sh" install
  "$MODELGATE_ROOT/temporal/install.sh" >/dev/null
}

# Stops the process whose pid is in file $1 (TERM, then KILL after $2 seconds, default 10).
stop_pidfile() {
  local pidfile="$1" grace="${2:-10}" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Stops the process group led by the pid in file $1 (TERM, then KILL after $2 seconds, default 10):
# for servers that start helpers of their own (mlflow server's job consumers outlive a TERM to it).
stop_process_group() {
  local pidfile="$1" grace="${2:-10}" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 -- "-$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Starts a throwaway PostgreSQL cluster and a Temporal server on free ports in folder $1, and
# exports TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL (the owner), DATABASE_OWNER_URL and
# MODELGATE_TEST_SERVICE_DATABASE_URL (the service role) for them. The Temporal server is
# the in-memory dev server, or with MODELGATE_TEST_TEMPORAL=postgres the real server on the same
# PostgreSQL cluster (temporal/start-postgres-server.sh, as docker-compose runs it).
# Stop them with stop_throwaway_services $1. Used by the test and benchmark commands.
start_throwaway_services() {
  start_temporal_and_postgres "$1"
  start_test_oidc_provider "$1"
  start_test_mlflow "$1"
}

# The PostgreSQL cluster and the Temporal server of start_throwaway_services alone, in folder $1
# (the load benchmark starts them afresh for each phase); exports the same variables. Stop them
# with stop_temporal_and_postgres $1.
start_temporal_and_postgres() {
  local dir="$1" pg_port temporal_port kind="${MODELGATE_TEST_TEMPORAL:-dev}"
  pg_port="$(free_port)"
  temporal_port="$(free_port)"
  log "starting throwaway PostgreSQL on 127.0.0.1:$pg_port and Temporal ($kind server) on 127.0.0.1:$temporal_port"
  MODELGATE_PG_FSYNC=off "$MODELGATE_ROOT/scripts/postgres.sh" start "$dir/postgres" "$pg_port"
  case "$kind" in
    dev)
      "$MODELGATE_ROOT/temporal/start-dev.sh" --port "$temporal_port" --headless --namespace modelgate \
        --pidfile "$dir/temporal.pid" --log "$dir/temporal.log" ;;
    postgres)
      "$MODELGATE_ROOT/temporal/start-postgres-server.sh" --port "$temporal_port" --pg-port "$pg_port" \
        --namespace modelgate --dir "$dir/temporal" --pidfile "$dir/temporal.pid" --log "$dir/temporal.log" ;;
    *) die "MODELGATE_TEST_TEMPORAL must be dev or postgres (got: $kind)" ;;
  esac
  export TEMPORAL_ADDRESS="127.0.0.1:$temporal_port"
  export TEMPORAL_NAMESPACE=modelgate
  # The tests create their databases as the owner (DATABASE_URL) and connect their workers and
  # APIs as the service role (test/support/stack.ts: serviceRoleUrl), whose URL is exported too.
  DATABASE_URL="$("$MODELGATE_ROOT/scripts/postgres.sh" url "$pg_port")"
  DATABASE_OWNER_URL="$DATABASE_URL"
  MODELGATE_TEST_SERVICE_DATABASE_URL="$("$MODELGATE_ROOT/scripts/postgres.sh" service-url "$pg_port")"
  export DATABASE_URL DATABASE_OWNER_URL MODELGATE_TEST_SERVICE_DATABASE_URL
}

# Starts an MLflow tracking server (from .tools/mlflow-venv, made by scripts/mlflow-env.sh) on a free
# port in folder $1, in a process group of its own (stopped as a group): a SQLite backend store and the artifact proxy (--serve-artifacts) in that
# folder. Its webhooks may call plain-http loopback receivers (MLFLOW_WEBHOOK_ALLOWED_SCHEMES,
# MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS: the test API listens on 127.0.0.1) and are looked up afresh
# every second (MLFLOW_WEBHOOK_CACHE_TTL). Exports MODELGATE_TEST_MLFLOW_URI. Skipped, with a
# warning, when the venv is missing (the MLflow tests then fail, naming scripts/mlflow-env.sh).
start_test_mlflow() {
  local dir="$1" port mlflow="$MODELGATE_ROOT/.tools/mlflow-venv/bin/mlflow"
  if [ ! -x "$mlflow" ]; then
    warn "no MLflow at $mlflow (run scripts/mlflow-env.sh): the MLflow tests cannot run"
    return 0
  fi
  port="$(free_port)"
  log "starting the test MLflow tracking server on 127.0.0.1:$port"
  mkdir -p "$dir/mlflow/artifacts"
  (cd "$dir/mlflow" && MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true MLFLOW_WEBHOOK_CACHE_TTL=1 \
    MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY="$(node -e "console.log(require('crypto').randomBytes(32).toString('base64').replace(/[+]/g,'-').replace(/[/]/g,'_'))")" \
    exec setsid "$mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
      --backend-store-uri "sqlite:///$dir/mlflow/mlflow.db" --serve-artifacts --artifacts-destination "$dir/mlflow/artifacts" \
      >"$dir/mlflow.log" 2>&1) &
  echo $! >"$dir/mlflow.pid"
  wait_for_port "$port" 180 "the test MLflow server" "$!" || die "the test MLflow server did not start (see $dir/mlflow.log)"
  export MODELGATE_TEST_MLFLOW_URI="http://127.0.0.1:$port"
}

# Starts the test OpenID Connect provider (scripts/oidc-provider.mjs: oidc-provider with the test
# realm's users, groups and clients) on a free port in folder $1 and exports its issuer URL as
# MODELGATE_TEST_OIDC_ISSUER.
start_test_oidc_provider() {
  local dir="$1" port
  port="$(free_port)"
  log "starting the test OpenID provider on 127.0.0.1:$port"
  node "$MODELGATE_ROOT/scripts/oidc-provider.mjs" --port "$port" >"$dir/oidc-provider.log" 2>&1 &
  echo $! >"$dir/oidc-provider.pid"
  wait_for_port "$port" 30 "the test OpenID provider" "$!" || die "the test OpenID provider did not start (see $dir/oidc-provider.log)"
  export MODELGATE_TEST_OIDC_ISSUER="http://127.0.0.1:$port"
}

# Stops what start_throwaway_services started in folder $1.
stop_throwaway_services() {
  local dir="$1"
  stop_pidfile "$dir/oidc-provider.pid" 5
  stop_process_group "$dir/mlflow.pid" 10
  stop_temporal_and_postgres "$dir"
}

# Stops what start_temporal_and_postgres started in folder $1.
stop_temporal_and_postgres() {
  stop_pidfile "$1/temporal.pid" 10
  "$MODELGATE_ROOT/scripts/postgres.sh" stop "$1/postgres" || true
}

# Makes a run folder .data/$1.XXXXXX, starts throwaway services there (see
# start_throwaway_services) and stops them and removes the folder when the script exits,
# however it exits. Sets RUN_DIR.
use_throwaway_services() {
  mkdir -p "$MODELGATE_ROOT/.data"
  RUN_DIR="$(mktemp -d "$MODELGATE_ROOT/.data/$1.XXXXXX")"
  trap '_throwaway_cleanup' EXIT
  trap 'exit 130' INT TERM
  start_throwaway_services "$RUN_DIR"
}

_throwaway_cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_throwaway_services "$RUN_DIR"
  if [ "$status" -ne 0 ] && [ -f "$RUN_DIR/temporal.log" ]; then
    cp "$RUN_DIR/temporal.log" "$MODELGATE_ROOT/.data/last-failed-run-temporal.log" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  exit "$status"
}

# What marks a logged error in a benchmark's output: the Temporal SDK's logger, pino's error and
# fatal levels, Node's unhandled errors.
BENCH_ERROR_PATTERN='\[ERROR\]|"level":(50|60)[,}]|UnhandledPromiseRejection|Uncaught '

# Fails (status 1) when the output file $1 holds a logged error, printing how many and the first
# few (cut to 300 characters).
fail_on_logged_errors() {
  local errors
  if errors="$(grep -E -c "$BENCH_ERROR_PATTERN" "$1")"; then
    printf '%s error lines logged, the first:\n' "$errors" >&2
    grep -E "$BENCH_ERROR_PATTERN" "$1" | head -5 | cut -c1-300 >&2
    return 1
  fi
  return 0
}

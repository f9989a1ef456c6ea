#!/usr/bin/env bash
# Starts a real Temporal server (not the dev server) on PostgreSQL in the background, set up the
# way docker-compose's temporalio/auto-setup sets up its server, and waits until it serves:
#   start-postgres-server.sh --port P --pg-port Q --namespace N --dir D --pidfile F --log F [--pg-user U]
#     [--db-prefix X] [--secure CERTS --jwks-url URL --audience AUD [--server-name NAME]]
#  1. creates the databases `temporal` and `temporal_visibility` in the PostgreSQL on 127.0.0.1:Q
#     (a private cluster of scripts/postgres.sh; trust authentication, user U, default modelgate);
#  2. runs temporal-sql-tool setup-schema -v 0.0 and update-schema on both, from the schema folder
#     of the same server release (safe to run again: an up-to-date schema is left as it is);
#  3. writes the server config to D/config/development.yaml: persistence postgres12, advanced
#     visibility on PostgreSQL (custom Keyword and KeywordList search attributes), 4 history
#     shards as auto-setup's default, the dynamic config temporal/dynamicconfig/modelgate.yaml;
#  4. starts `temporal-server start` with the frontend on 127.0.0.1:P (the other services on free
#     ports), then creates namespace N and registers the search attributes
#     (temporal/register-search-attributes.sh), as docker-compose's setup job does.
# Stop it by the pid in F (stop_pidfile in scripts/lib.sh); the databases stay for the next start.
# --db-prefix X names the databases X_temporal and X_temporal_visibility (a second server on one cluster).
# --secure runs the production trust boundary: temporal/config/secure.yaml laid over the config
# (frontend mTLS with the certificates of temporal/make-certs.sh in CERTS, the JWT authorizer with
# the keys at URL and audience AUD, an internal frontend for the server's system workers). Its own
# calls (health, namespace, search attributes) then present CERTS/clients/admin.pem and the token in
# TEMPORAL_API_KEY, which must hold `temporal-system:admin`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

port="" pg_port="" pg_user="modelgate" namespace="" dir="" pidfile="" logfile=""
db_prefix="" certs="" jwks_url="" audience="" server_name="temporal"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --pg-port) pg_port="$2"; shift 2 ;;
    --pg-user) pg_user="$2"; shift 2 ;;
    --namespace) namespace="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --pidfile) pidfile="$2"; shift 2 ;;
    --log) logfile="$2"; shift 2 ;;
    --db-prefix) db_prefix="$2"; shift 2 ;;
    --secure) certs="$2"; shift 2 ;;
    --jwks-url) jwks_url="$2"; shift 2 ;;
    --audience) audience="$2"; shift 2 ;;
    --server-name) server_name="$2"; shift 2 ;;
    *) die "start-postgres-server.sh: unknown option $1" ;;
  esac
done
[ -n "$port" ] && [ -n "$pg_port" ] && [ -n "$namespace" ] && [ -n "$dir" ] && [ -n "$pidfile" ] && [ -n "$logfile" ] \
  || die "usage: start-postgres-server.sh --port P --pg-port Q --namespace N --dir D --pidfile F --log F [--pg-user U]"

[ -z "$db_prefix" ] || [[ "$db_prefix" =~ ^[a-z][a-z0-9_]{0,30}$ ]] || die "--db-prefix must be lower-case letters, digits and underscores"
temporal_db="${db_prefix:+${db_prefix}_}temporal"
# The CLI calls of this script: plain, or over mTLS with the admin certificate and token.
cli_connection=()
if [ -n "$certs" ]; then
  [ -n "$jwks_url" ] && [ -n "$audience" ] || die "--secure needs --jwks-url and --audience"
  for file in ca.pem frontend.pem frontend.key internode-ca.pem internode.pem internode.key clients/admin.pem clients/admin.key; do
    [ -f "$certs/$file" ] || die "--secure: $certs/$file is missing (make it with temporal/make-certs.sh --dir $certs --client admin)"
  done
  [ -n "${TEMPORAL_API_KEY:-}" ] || die "--secure: TEMPORAL_API_KEY must hold a token with temporal-system:admin for the namespace and search-attribute setup"
  cli_connection=(--tls-ca-path "$certs/ca.pem" --tls-cert-path "$certs/clients/admin.pem" --tls-key-path "$certs/clients/admin.key" --tls-server-name "$server_name")
fi
port_in_use "$port" && die "port $port is already in use (another Temporal server?). Stop it, or choose another port."
port_in_use "$pg_port" || die "no PostgreSQL listens on 127.0.0.1:$pg_port (start one with scripts/postgres.sh start DIR $pg_port)"
server_home="$("$MODELGATE_ROOT/temporal/install-server.sh")"
temporal_cli="$("$MODELGATE_ROOT/temporal/install.sh")"
mkdir -p "$dir/config" "$(dirname "$logfile")" "$(dirname "$pidfile")"

# 1-2. Databases and schemas, as auto-setup does for DB=postgres12.
sql_tool() {
  "$server_home/bin/temporal-sql-tool" --plugin postgres12 --ep 127.0.0.1 -p "$pg_port" -u "$pg_user" "$@"
}
schema_log="$dir/schema-setup.log"
: >"$schema_log"
for database in "$temporal_db:temporal" "${temporal_db}_visibility:visibility"; do
  name="${database%%:*}" schema="${database##*:}"
  if ! sql_tool --db "$name" create >>"$schema_log" 2>&1; then
    grep -q 'already exists' "$schema_log" || { tail -n 20 "$schema_log" >&2; die "could not create database $name (log: $schema_log)"; }
  fi
  sql_tool --db "$name" setup-schema -v 0.0 >>"$schema_log" 2>&1 \
    && sql_tool --db "$name" update-schema -d "$server_home/schema/postgresql/v12/$schema/versioned" >>"$schema_log" 2>&1 \
    || { tail -n 20 "$schema_log" >&2; die "could not set up the $schema schema in database $name (log: $schema_log)"; }
done

# 3. Server config. Every port but the frontend's is chosen free now; pprof and metrics are off.
# Membership ports go into a SMALLINT column of the cluster_membership table, so they must be
# below 32768 (free_port answers from the kernel's ephemeral range, usually above it).
free_membership_port() {
  node -e '
    const net = require("net");
    const attempt = (n) => {
      const port = 20000 + Math.floor(Math.random() * 12000);
      const s = net.createServer();
      s.once("error", () => (n > 0 ? attempt(n - 1) : process.exit(1)));
      s.listen(port, "127.0.0.1", () => { console.log(port); s.close(); });
    };
    attempt(50);'
}
history_port="$(free_port)" matching_port="$(free_port)" worker_port="$(free_port)" http_port="$(free_port)"
frontend_member="$(free_membership_port)" history_member="$(free_membership_port)"
matching_member="$(free_membership_port)" worker_member="$(free_membership_port)"
datastore() {
  cat <<YAML
      sql:
        pluginName: postgres12
        databaseName: $1
        connectAddr: "127.0.0.1:$pg_port"
        connectProtocol: tcp
        user: "$pg_user"
        password: ""
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
YAML
}
cat >"$dir/config/development.yaml" <<YAML
# Written by temporal/start-postgres-server.sh; rewritten at every start.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
$(datastore "$temporal_db" 20)
    postgres-visibility:
$(datastore "${temporal_db}_visibility" 10)
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: { grpcPort: $port, membershipPort: $frontend_member, bindOnLocalHost: true, httpPort: $http_port }
  history:
    rpc: { grpcPort: $history_port, membershipPort: $history_member, bindOnLocalHost: true }
  matching:
    rpc: { grpcPort: $matching_port, membershipPort: $matching_member, bindOnLocalHost: true }
  worker:
    rpc: { grpcPort: $worker_port, membershipPort: $worker_member, bindOnLocalHost: true }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$port"
      httpAddress: "127.0.0.1:$http_port"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$MODELGATE_ROOT/temporal/dynamicconfig/modelgate.yaml"
  pollInterval: 10s
YAML

# 4. Start, wait for the frontend, then the namespace and the search attributes.
server_args=(--root "$dir" --config config --env development)
if [ -n "$certs" ]; then
  cp "$MODELGATE_ROOT/temporal/config/secure.yaml" "$dir/config/development_secure.yaml"
  internal_port="$(free_port)" internal_http_port="$(free_port)" internal_member="$(free_membership_port)"
  export TEMPORAL_AVAILABILITY_ZONE=secure MODELGATE_TEMPORAL_CERTS="$(cd "$certs" && pwd)" \
    MODELGATE_TEMPORAL_JWKS_URL="$jwks_url" MODELGATE_TEMPORAL_AUDIENCE="$audience" \
    MODELGATE_TEMPORAL_INTERNAL_FRONTEND_PORT="$internal_port" MODELGATE_TEMPORAL_INTERNAL_FRONTEND_HTTP_PORT="$internal_http_port" \
    MODELGATE_TEMPORAL_INTERNAL_FRONTEND_MEMBERSHIP_PORT="$internal_member"
  server_args+=(start --service frontend --service internal-frontend --service history --service matching --service worker)
else
  server_args+=(--allow-no-auth start)
fi
"$server_home/bin/temporal-server" "${server_args[@]}" >"$logfile" 2>&1 &
echo $! >"$pidfile"
server_failed() {
  tail -n 20 "$logfile" >&2 || true
  stop_pidfile "$pidfile" 5
  die "$1 (full log: $logfile)"
}
wait_for_port "$port" 90 "Temporal" "$(cat "$pidfile")" || server_failed "the Temporal server did not start"
address="127.0.0.1:$port"
deadline=$((SECONDS + 90))
until "$temporal_cli" operator cluster health --address "$address" "${cli_connection[@]}" 2>/dev/null | grep -q SERVING; do
  kill -0 "$(cat "$pidfile")" 2>/dev/null || server_failed "the Temporal server exited"
  [ "$SECONDS" -lt "$deadline" ] || server_failed "the Temporal server did not report SERVING within 90s"
  sleep 0.5
done
if ! "$temporal_cli" operator namespace describe --address "$address" --namespace "$namespace" "${cli_connection[@]}" >/dev/null 2>&1; then
  # Like auto-setup's default namespace: 24 hours of retention after a promotion closes.
  until "$temporal_cli" operator namespace create --address "$address" --namespace "$namespace" --retention 24h "${cli_connection[@]}" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || server_failed "could not create namespace $namespace"
    sleep 1
  done
fi
# A new namespace reaches the frontend's namespace cache after its next refresh (up to 10 s).
until "$temporal_cli" operator search-attribute list --address "$address" --namespace "$namespace" "${cli_connection[@]}" >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || server_failed "namespace $namespace did not become usable within 90s"
  sleep 0.5
done
"$MODELGATE_ROOT/temporal/register-search-attributes.sh" "$address" "$namespace" "${cli_connection[@]}"

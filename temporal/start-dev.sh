#!/usr/bin/env bash
# Starts `temporal server start-dev` in the background and waits until it serves.
#   start-dev.sh --port P --ui-port U|--headless --namespace N --pidfile F --log F [--db-file F]
# Without --db-file the server keeps its state in memory (throwaway test servers).
# The dynamic config comes from temporal/dynamicconfig/modelgate.yaml; the search attributes
# are registered afterwards, because start-dev ignores --search-attribute for an existing file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

port="" ui_port="" headless=0 namespace="" pidfile="" logfile="" db_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --ui-port) ui_port="$2"; shift 2 ;;
    --headless) headless=1; shift ;;
    --namespace) namespace="$2"; shift 2 ;;
    --pidfile) pidfile="$2"; shift 2 ;;
    --log) logfile="$2"; shift 2 ;;
    --db-file) db_file="$2"; shift 2 ;;
    *) die "start-dev.sh: unknown option $1" ;;
  esac
done
[ -n "$port" ] && [ -n "$namespace" ] && [ -n "$pidfile" ] && [ -n "$logfile" ] \
  || die "usage: start-dev.sh --port P (--ui-port U | --headless) --namespace N --pidfile F --log F [--db-file F]"

temporal_cli="$("$MODELGATE_ROOT/temporal/install.sh")"

if port_in_use "$port"; then
  die "port $port is already in use (another Temporal server?). Stop it, or choose another port (TEMPORAL_PORT)."
fi
if [ "$headless" = 0 ] && [ -n "$ui_port" ] && port_in_use "$ui_port"; then
  die "port $ui_port for the Temporal Web UI is already in use. Stop what listens there, or choose another port (TEMPORAL_UI_PORT)."
fi

args=(server start-dev --ip 127.0.0.1 --port "$port" --namespace "$namespace" --log-level warn)
if [ "$headless" = 1 ]; then args+=(--headless); else args+=(--ui-port "$ui_port"); fi
if [ -n "$db_file" ]; then mkdir -p "$(dirname "$db_file")"; args+=(--db-filename "$db_file"); fi
while IFS= read -r flag; do
  [ -n "$flag" ] && args+=(--dynamic-config-value "$flag")
done < <(node "$MODELGATE_ROOT/temporal/dynamic-config-flags.js" "$MODELGATE_ROOT/temporal/dynamicconfig/modelgate.yaml")
while read -r name type; do
  case "$name" in ''|'#'*) continue ;; esac
  args+=(--search-attribute "$name=$type")
done <"$MODELGATE_ROOT/temporal/search-attributes.txt"

mkdir -p "$(dirname "$logfile")" "$(dirname "$pidfile")"
"$temporal_cli" "${args[@]}" >"$logfile" 2>&1 &
echo $! >"$pidfile"
if ! wait_for_port "$port" 90 "Temporal" "$(cat "$pidfile")"; then
  tail -n 20 "$logfile" >&2 || true
  stop_pidfile "$pidfile" 5
  die "the Temporal dev server did not start (log above, full log: $logfile)"
fi
"$MODELGATE_ROOT/temporal/register-search-attributes.sh" "127.0.0.1:$port" "$namespace"

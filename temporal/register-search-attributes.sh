#!/usr/bin/env bash
# Registers Modelgate's search attributes (temporal/search-attributes.txt) in a namespace.
# Safe to run again: an attribute that exists with the same type is left as it is.
#   register-search-attributes.sh ADDRESS NAMESPACE [temporal CLI connection flags, e.g. --tls-cert-path F ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
[ $# -ge 2 ] || die "usage: register-search-attributes.sh ADDRESS NAMESPACE [temporal CLI connection flags]"
address="$1" namespace="$2"
shift 2
temporal_cli="$("$MODELGATE_ROOT/temporal/install.sh")"
err_file="$(mktemp)"
trap 'rm -f "$err_file"' EXIT

# Registers each attribute and builds a query naming every one (used below).
probe_query=""
while read -r name type; do
  case "$name" in ''|'#'*) continue ;; esac
  case "$type" in
    Int|Double) value="0" ;;
    Bool) value="false" ;;
    Datetime) value="'1970-01-01T00:00:00Z'" ;;
    *) value="'registration-probe'" ;;
  esac
  probe_query="${probe_query:+$probe_query AND }$name = $value"
  "$temporal_cli" operator search-attribute create --address "$address" --namespace "$namespace" \
    --name "$name" --type "$type" "$@" >/dev/null 2>"$err_file" \
    || die "could not register search attribute $name ($type) in namespace $namespace: $(cat "$err_file")"
done <"$MODELGATE_ROOT/temporal/search-attributes.txt"

# The server reads search attributes from its caches (its namespace cache refreshes every 2 s; the
# test-only `system.forceSearchAttributesCacheRefreshOnRead`, which would bypass them, costs two
# database reads per listed promotion and is not set). Wait until the frontend accepts a query
# naming every attribute, then one more refresh interval for the history service's own cache, so
# that a worker or API started next can use them at once. Bounded: 60 s.
for _ in $(seq 1 120); do
  if "$temporal_cli" workflow count --address "$address" --namespace "$namespace" --query "$probe_query" "$@" >/dev/null 2>"$err_file"; then
    sleep 3
    exit 0
  fi
  sleep 0.5
done
die "the search attributes of namespace $namespace were registered but are not usable after 60 s: $(cat "$err_file")"

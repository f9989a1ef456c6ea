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

while read -r name type; do
  case "$name" in ''|'#'*) continue ;; esac
  "$temporal_cli" operator search-attribute create --address "$address" --namespace "$namespace" \
    --name "$name" --type "$type" "$@" >/dev/null 2>"$err_file" \
    || die "could not register search attribute $name ($type) in namespace $namespace: $(cat "$err_file")"
done <"$MODELGATE_ROOT/temporal/search-attributes.txt"

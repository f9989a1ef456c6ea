#!/usr/bin/env bash
# Prints the path of the Kubernetes manifest validator (deploy/validate), building it with Go into
# .tools/bin when it is missing or its sources changed. Its modules come from the Go module proxy
# on the first build (pinned by deploy/validate/go.sum); nothing is downloaded when it runs.
# MODELGATE_VALIDATE_MANIFESTS names a built validator to use as is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${MODELGATE_VALIDATE_MANIFESTS:-}" ]; then
  [ -x "$MODELGATE_VALIDATE_MANIFESTS" ] || die "MODELGATE_VALIDATE_MANIFESTS=$MODELGATE_VALIDATE_MANIFESTS is not an executable file"
  echo "$MODELGATE_VALIDATE_MANIFESTS"; exit 0
fi
src="$MODELGATE_ROOT/deploy/validate"
bin="$MODELGATE_ROOT/.tools/bin/validate-manifests"
stamp="$bin.sources"
sources_hash="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -d' ' -f1)"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sources_hash" ]; then
  echo "$bin"; exit 0
fi
command -v go >/dev/null 2>&1 || die "'go' was not found: it builds the Kubernetes manifest validator (deploy/validate). Install Go 1.24+ and run again."
log "building the Kubernetes manifest validator (deploy/validate; first time only, a few minutes on 2 cores)"
mkdir -p "$(dirname "$bin")"
build_log="$MODELGATE_ROOT/.tools/validate-manifests-build.log"
if ! (cd "$src" && GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath" go build -o "$bin" .) >"$build_log" 2>&1; then
  tail -n 20 "$build_log" >&2
  die "building the manifest validator failed (full log: $build_log); check that the Go module proxy is reachable"
fi
echo "$sources_hash" >"$stamp"
echo "$bin"

#!/usr/bin/env bash
# Prints the path of a Temporal CLI to use, installing the pinned one when there is none.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the project's .tools/bin/temporal, else
# `go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION` into .tools/bin.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
TOOLS_BIN="$MODELGATE_ROOT/.tools/bin"

if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || die "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file"
  echo "$TEMPORAL_CLI"; exit 0
fi
if command -v temporal >/dev/null 2>&1; then
  command -v temporal; exit 0
fi
if [ -x "$TOOLS_BIN/temporal" ] && [ "$(cat "$TOOLS_BIN/temporal.version" 2>/dev/null)" = "$TEMPORAL_CLI_VERSION" ]; then
  echo "$TOOLS_BIN/temporal"; exit 0
fi

command -v go >/dev/null 2>&1 || die "the Temporal CLI is not installed and 'go' was not found to build it.
  Install Go 1.23+ (https://go.dev/doc/install or 'apt-get install golang'), or put a 'temporal' binary on PATH, then run again."

log "building the Temporal CLI $TEMPORAL_CLI_VERSION with go install (first time only, about 3 minutes on 2 cores)"
mkdir -p "$TOOLS_BIN"
build_log="$MODELGATE_ROOT/.tools/temporal-build.log"
if ! GOBIN="$TOOLS_BIN" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >"$build_log" 2>&1; then
  tail -n 20 "$build_log" >&2
  die "building the Temporal CLI failed (full log: $build_log). Check that the Go module proxy is reachable, or set TEMPORAL_CLI_VERSION=v1.4.1 and run again."
fi
echo "$TEMPORAL_CLI_VERSION" >"$TOOLS_BIN/temporal.version"
echo "$TOOLS_BIN/temporal"

#!/usr/bin/env bash
# Prints the folder of a Temporal Server installation on PostgreSQL, building it when missing:
#   <folder>/bin/temporal-server      go.temporal.io/server/cmd/server
#   <folder>/bin/temporal-sql-tool    go.temporal.io/server/cmd/tools/sql (schema setup and updates)
#   <folder>/schema/postgresql/v12/   the SQL schema of the same release (temporal, visibility)
# The version is the server line the pinned Temporal CLI embeds (CLI v1.5.1 = server 1.29.1), so
# the dev server and this server run the same code. Built once with `go install` into
# .tools/temporal-server-<version>/ (about 3 minutes on 2 cores); a finished build leaves a stamp
# file and is reused. Used by temporal/start-postgres-server.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
HOME_DIR="$MODELGATE_ROOT/.tools/temporal-server-$TEMPORAL_SERVER_VERSION"
STAMP="$HOME_DIR/.installed"

if [ -f "$STAMP" ] && [ -x "$HOME_DIR/bin/temporal-server" ] && [ -x "$HOME_DIR/bin/temporal-sql-tool" ]; then
  echo "$HOME_DIR"; exit 0
fi

command -v go >/dev/null 2>&1 || die "the Temporal server is not built and 'go' was not found to build it.
  Install Go 1.23+ (https://go.dev/doc/install or 'apt-get install golang'), then run again."

log "building Temporal Server $TEMPORAL_SERVER_VERSION and its SQL schema tool with go install (first time only, about 3 minutes on 2 cores)"
rm -rf "$HOME_DIR"
mkdir -p "$HOME_DIR/bin"
build_log="$MODELGATE_ROOT/.tools/temporal-server-build.log"
module="go.temporal.io/server"
if ! GOBIN="$HOME_DIR/bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install \
  "$module/cmd/server@$TEMPORAL_SERVER_VERSION" "$module/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" >"$build_log" 2>&1; then
  tail -n 20 "$build_log" >&2
  die "building Temporal Server failed (full log: $build_log). Check that the Go module proxy is reachable."
fi
mv "$HOME_DIR/bin/server" "$HOME_DIR/bin/temporal-server"
mv "$HOME_DIR/bin/sql" "$HOME_DIR/bin/temporal-sql-tool"

# The schema files ship in the module itself; `go install` has just put it in the module cache.
module_dir="$(go mod download -json "$module@$TEMPORAL_SERVER_VERSION" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).Dir));
')"
[ -d "$module_dir/schema/postgresql/v12" ] || die "the $module@$TEMPORAL_SERVER_VERSION module has no schema/postgresql/v12 folder"
mkdir -p "$HOME_DIR/schema/postgresql"
cp -R "$module_dir/schema/postgresql/v12" "$HOME_DIR/schema/postgresql/"
chmod -R u+w "$HOME_DIR/schema"

echo "$TEMPORAL_SERVER_VERSION" >"$STAMP"
echo "$HOME_DIR"
